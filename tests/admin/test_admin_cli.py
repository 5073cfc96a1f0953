# SPDX-License-Identifier: MIT
"""tw-admin's command line: --help on every command and sub-command (exit 0), usage errors
(exit 2), a bad configuration named on stderr (exit 78), Redis unreachable (exit 1)."""
from adminlib import admin, twtest

COMMANDS = [["queues"], ["message"], ["dead"], ["dead", "list"], ["dead", "show"],
            ["dead", "replay"], ["dead", "drop"], ["simulate"], ["simulate", "inbound"],
            ["simulate", "status"], ["key"], ["key", "encode"], ["key", "decode"], ["health"]]


def test_help_everywhere():
    rc, out, _ = admin(["--help"])
    assert rc == 0 and out.startswith("usage: tw-admin"), out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == {c[0] for c in COMMANDS}, listed
    for cmd in COMMANDS:
        rc, out, err = admin(cmd + ["--help"])
        assert rc == 0, (cmd, rc, err)
        assert out.startswith("usage: tw-admin " + cmd[0]), (cmd, out)
        assert err == "", (cmd, err)


def test_usage_errors_exit_2():
    rc, _, err = admin([])
    assert rc == 2 and "usage" in err
    rc, _, err = admin(["frobnicate"])
    assert rc == 2 and "unknown command" in err, err
    rc, _, err = admin(["queues", "--bogus"])
    assert rc == 2 and "--bogus" in err, err
    rc, _, err = admin(["queues", "extra"])
    assert rc == 2
    rc, _, err = admin(["key"])
    assert rc == 2 and "encode" in err
    rc, _, err = admin(["key", "encode"])  # no --participant
    assert rc == 2 and "--participant" in err, err
    rc, _, err = admin(["simulate", "inbound", "--from", "+15550001111"])  # no --body
    assert rc == 2, err


def test_bad_configuration_exits_78_naming_the_variable():
    rc, _, err = admin(["queues"], {"REDIS_URL": "http://nope"})
    assert rc == 78 and "REDIS_URL" in err, (rc, err)
    rc, _, err = admin(["queues"], {"LOG_LEVEL": "loud"})
    assert rc == 78 and "LOG_LEVEL" in err, (rc, err)
    rc, _, err = admin(["simulate", "inbound", "--from", "+1555", "--body", "x"],
                       {"TWILIO_ACCOUNT_SID": twtest.ACCOUNT, "TWILIO_PHONE_NUMBER": twtest.NUMBER})
    assert rc == 78 and "TWILIO_AUTH_TOKEN" in err, (rc, err)


def test_redis_unreachable_exits_1():
    port = twtest.free_port()
    rc, out, err = admin(["queues"], {"REDIS_URL": "redis://127.0.0.1:%d/0" % port})
    assert rc == 1 and "redis" in err, (rc, out, err)


if __name__ == "__main__":
    twtest.run([test_help_everywhere, test_usage_errors_exit_2,
                test_bad_configuration_exits_78_naming_the_variable, test_redis_unreachable_exits_1])
