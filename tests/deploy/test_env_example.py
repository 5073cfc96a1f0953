# SPDX-License-Identifier: MIT
"""deploy/env.example lists every variable of common/config.c's table, each with a comment, and
nothing the programs do not read (beyond the compose-only names it marks); its values, and the
defaults it shows, are accepted by the programs that read them."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest  # noqa: E402

EXAMPLE = os.path.join(twtest.SOURCE, "deploy", "env.example")
COMPOSE_ONLY = {"TW_PUBLISH_PORT"}
VAR = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$")


def config_rows():
    with open(os.path.join(twtest.SOURCE, "common", "config.c")) as f:
        names = re.findall(r'^\s*\{"([A-Z][A-Z0-9_]+)",\s*T_', f.read(), re.M)
    assert len(names) > 20, names
    return names


def documented():
    """[(name, value, commented_out, comment above)]"""
    out, comment = [], []
    with open(EXAMPLE) as f:
        for line in f:
            line = line.rstrip("\n")
            m = VAR.match(line)
            if m:
                out.append((m.group(2), m.group(3), bool(m.group(1)), " ".join(comment)))
            elif line.startswith("#"):
                comment.append(line.lstrip("# "))
                continue
            comment = [] if not m else comment
    return out


def test_every_config_row_is_documented():
    names = {d[0] for d in documented()}
    missing = [n for n in config_rows() if n not in names]
    assert not missing, "not in env.example: %s" % missing


def test_nothing_unknown_and_each_commented():
    rows = set(config_rows())
    seen = set()
    for name, _, _, comment in documented():
        assert name in rows or name in COMPOSE_ONLY, "%s is not read by any program" % name
        assert name not in seen, "%s listed twice" % name
        seen.add(name)
        assert len(comment) > 15, "%s has no comment" % name
    with open(os.path.join(twtest.SOURCE, "deploy", "docker-compose.yml")) as f:
        compose = f.read()
    for name in COMPOSE_ONLY:
        assert "${%s" % name in compose, "%s is not used by docker-compose.yml" % name


def example_env(with_defaults):
    env = {}
    for name, value, commented, _ in documented():
        if name in COMPOSE_ONLY or (commented and not with_defaults) or value == "":
            continue
        env[name] = value
    return env


def check_program(program, env, redis, listen_port=None):
    """Starts program with env; it must not stop on its configuration (exit 78)."""
    env = dict(env, REDIS_URL=redis.url, LOG_LEVEL="info")
    p = twtest.Proc(program, env, port=listen_port)
    try:
        time.sleep(0.5)
        assert p.alive(), "%s exited %s: %s" % (program, p.proc.returncode, p.output())
    finally:
        rc = p.stop()
    assert rc == 0, "%s: exit %s after SIGTERM: %s" % (program, rc, p.output())


def programs():
    return ["tw-ingress", "tw-worker", "tw-sender"]


def test_values_are_accepted():
    progs = programs()
    redis = twtest.RedisServer()
    try:
        for with_defaults in (False, True):
            env = example_env(with_defaults)
            for program in progs:
                e = dict(env)
                port = None
                if program == "tw-ingress":
                    port = twtest.free_port()
                    e["TW_LISTEN"] = "127.0.0.1:%d" % port
                    e["TW_API_LISTEN"] = "127.0.0.1:%d" % twtest.free_port()
                if program == "tw-worker" and not with_defaults:
                    e["TW_AGENT"] = "echo"  # the shipped default (http) needs TW_AGENT_URL
                if "TW_METRICS_LISTEN" in e:
                    e["TW_METRICS_LISTEN"] = "127.0.0.1:%d" % twtest.free_port()
                check_program(program, e, redis, port)
        # tw-admin reads its rows too: the example must pass its checks.
        r = subprocess.run([twtest.binary("tw-admin"), "key", "encode", "--participant", "+1555"],
                           env=dict(example_env(True), PATH=os.environ.get("PATH", "/usr/bin")),
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    finally:
        redis.stop()
    print("programs checked: %s" % (progs + ["tw-admin"]))


if __name__ == "__main__":
    twtest.run([test_every_config_row_is_documented, test_nothing_unknown_and_each_commented,
                test_values_are_accepted])
