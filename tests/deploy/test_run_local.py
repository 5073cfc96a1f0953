# SPDX-License-Identifier: MIT
"""deploy/run-local.sh, the README's first command: started, one message through, stopped, nothing
left running. Uses the binaries of TW_BUILD_DIR (no install, no build), its own var directory and
free ports, and never the developer's .env."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest  # noqa: E402

SCRIPT = os.path.join(twtest.SOURCE, "deploy", "run-local.sh")


def script_env(var, envfile="/nonexistent/.env", **over):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": var,
           "TW_SKIP_DEPS": "1", "TW_SKIP_BUILD": "1", "TW_BUILD_DIR": twtest.BUILD,
           "TW_LOCAL_VAR": var, "TW_LOCAL_ENV_FILE": envfile,
           "TW_LISTEN": "127.0.0.1:%d" % twtest.free_port(),
           "TW_API_LISTEN": "127.0.0.1:%d" % twtest.free_port(),
           "TW_LOCAL_REDIS_PORT": str(twtest.free_port()),
           "TW_LOCAL_STANDIN_PORT": str(twtest.free_port())}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    env.update(over)
    return env


def started_pids(output):
    return {name: int(pid) for name, pid in re.findall(r"started (\S+) \(pid (\d+)\)", output)}


def running(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def stop_all(p, log):
    """After a failure: stop the script the way Ctrl-C does, then whatever it started by PID."""
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    log.seek(0)
    for pid in started_pids(log.read()).values():
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    log.close()


def cleanup(var):
    shutil.rmtree(var, ignore_errors=True)


def expected_programs(simulated=True):
    names = {"redis", "ingress", "worker", "sender"}
    return names | {"twilio-standin"} if simulated else names


def test_once_one_message_through_then_everything_stopped():
    var = tempfile.mkdtemp(prefix="tw-run-local-")
    log = open(os.path.join(var, "script.out"), "w+")
    p = subprocess.Popen(["bash", SCRIPT, "--once"], env=script_env(var), stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        rc = p.wait(300)
        log.seek(0)
        out = log.read()
        assert rc == 0, out
        assert "TWILIO IS SIMULATED" in out, out
        pids = started_pids(out)
        assert set(pids) == expected_programs(), (pids, out)
        assert re.search(r"inbound SM[0-9a-f]{32} posted to \S+: HTTP 200 \(accepted\)", out), out
        assert "the message went all the way through" in out, out
        assert re.search(r"outcome +dispatched, receipt ob[0-9a-f]+", out), out
        assert re.search(r'created SM[0-9a-f]{32} with the body "Echo: Hello from run-local', out), out
        for name, pid in pids.items():
            assert not running(pid), "%s (pid %d) is still running" % (name, pid)
        # Redis kept its data under the var directory, with AOF on.
        assert os.path.isdir(os.path.join(var, "redis", "appendonlydir")), os.listdir(
            os.path.join(var, "redis"))
    finally:
        stop_all(p, log)
        cleanup(var)


def test_ctrl_c_stops_everything():
    var = tempfile.mkdtemp(prefix="tw-run-local-")
    env = script_env(var)
    log = open(os.path.join(var, "script.out"), "w+")
    p = subprocess.Popen(["bash", SCRIPT], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        def ready():
            log.seek(0)
            return "logs:" in log.read()
        twtest.wait_until(lambda: ready() or p.poll() is not None, timeout=120, what="running")
        log.seek(0)
        out = log.read()
        assert p.poll() is None, out
        pids = started_pids(out)
        assert set(pids) == expected_programs(), out
        assert all(running(pid) for pid in pids.values()), out
        # Still serving after the demo.
        port = int(env["TW_LISTEN"].rsplit(":", 1)[1])
        status, _, _ = twtest.http(port, "GET", "/readyz")
        assert status == 200
        # The outbound API it prints works: an agent's reply reaches the (simulated) Twilio.
        token = re.search(r"Authorization: Bearer ([0-9a-f]+)", out).group(1)
        key = re.search(r'"conversation_key":"(twilio:v1:[^"]+)"', out).group(1)
        api = int(env["TW_API_LISTEN"].rsplit(":", 1)[1])
        status, _, body = twtest.http(api, "POST", "/v1/messages",
                                      json.dumps({"conversation_key": key,
                                                  "body": "from the outbound API"}),
                                      {"Authorization": "Bearer " + token,
                                       "Content-Type": "application/json"})
        assert status == 202, (status, body)
        standin = int(env["TW_LOCAL_STANDIN_PORT"])

        def arrived():
            _, _, b = twtest.http(standin, "GET", "/_control/messages")
            return any(m.get("body") == "from the outbound API"
                       for m in json.loads(b)["messages"])
        twtest.wait_until(arrived, timeout=30, what="the API's message at the stand-in")
        p.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the script
        rc = p.wait(60)
        log.seek(0)
        out = log.read()
        assert rc == 130, (rc, out)
        for name, pid in pids.items():
            assert not running(pid), "%s (pid %d) is still running" % (name, pid)
            assert "%s (pid %d) stopped" % (name, pid) in out, out
    finally:
        stop_all(p, log)
        cleanup(var)


def test_real_credentials_serve_real_traffic():
    # With credentials in the env file, nothing is simulated: the ingress verifies with the file's
    # token and URL. The REST base points at a closed local port so nothing leaves the machine.
    var = tempfile.mkdtemp(prefix="tw-run-local-")
    envfile = os.path.join(var, "env")
    listen = "127.0.0.1:%d" % twtest.free_port()
    with open(envfile, "w") as f:
        f.write("# real account\nTWILIO_ACCOUNT_SID=%s\nTWILIO_AUTH_TOKEN=%s\n"
                "TWILIO_PHONE_NUMBER=%s\nTWILIO_WEBHOOK_URL=%s\n"
                "TWILIO_API_BASE=http://127.0.0.1:%d\nTW_LISTEN=%s\n"
                % (twtest.ACCOUNT, twtest.TOKEN, twtest.NUMBER, twtest.WEBHOOK_URL,
                   twtest.free_port(), listen))
    env = script_env(var, envfile)
    del env["TW_LISTEN"]  # from the file
    log = open(os.path.join(var, "script.out"), "w+")
    p = subprocess.Popen(["bash", SCRIPT], env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        def ready():
            log.seek(0)
            return "logs:" in log.read()
        twtest.wait_until(lambda: ready() or p.poll() is not None, timeout=120, what="running")
        log.seek(0)
        out = log.read()
        assert p.poll() is None, out
        assert "SIMULATED" not in out and "serving real traffic" in out, out
        assert set(started_pids(out)) == expected_programs(simulated=False), out
        port = int(listen.rsplit(":", 1)[1])
        pairs = twtest.inbound_pairs("SM" + "ef" * 16)
        status, _, _ = twtest.post_signed(port, pairs)
        assert status == 200, out
        status, _, _ = twtest.post_signed(port, pairs, token="not-the-token")
        assert status == 401
        pids = started_pids(out)
        p.send_signal(signal.SIGINT)
        assert p.wait(60) == 130
        for name, pid in pids.items():
            assert not running(pid), "%s (pid %d) is still running" % (name, pid)
    finally:
        stop_all(p, log)
        cleanup(var)


if __name__ == "__main__":
    twtest.run([test_once_one_message_through_then_everything_stopped, test_ctrl_c_stops_everything,
                test_real_credentials_serve_real_traffic])
