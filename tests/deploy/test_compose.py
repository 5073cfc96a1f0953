# SPDX-License-Identifier: MIT
"""deploy/docker-compose.yml: validated by `docker-compose config` (no Docker engine needed), then
checked for what operators rely on: Redis 7 with AOF everysec on a volume, health checks,
depends_on a healthy Redis, restart policies, configuration from .env, only the webhook port
published, and a worker service that `--scale worker=4` can replicate."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import twtest  # noqa: E402
import yamlsubset  # noqa: E402

DEPLOY = os.path.join(twtest.SOURCE, "deploy")
PROGRAMS = {"ingress": "tw-ingress", "worker": "tw-worker", "sender": "tw-sender"}


def compose_config(env_text=None, edit=None):
    """Lays out <tmp>/deploy/docker-compose.yml and <tmp>/.env (env.example unless given), runs
    `docker-compose config`, returns (exit status, stdout, stderr)."""
    tmp = tempfile.mkdtemp(prefix="tw-compose-")
    try:
        os.mkdir(os.path.join(tmp, "deploy"))
        with open(os.path.join(DEPLOY, "docker-compose.yml")) as f:
            text = f.read()
        if edit:
            text = edit(text)
        with open(os.path.join(tmp, "deploy", "docker-compose.yml"), "w") as f:
            f.write(text)
        if env_text is None:
            with open(os.path.join(DEPLOY, "env.example")) as f:
                env_text = f.read()
        with open(os.path.join(tmp, ".env"), "w") as f:
            f.write(env_text)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
        p = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "config"],
                           cwd=os.path.join(tmp, "deploy"), env=env, capture_output=True,
                           text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def config():
    rc, out, err = compose_config()
    assert rc == 0, "docker-compose config failed: %s" % err
    return yamlsubset.load(out)


def test_compose_config_is_valid():
    doc = config()
    assert set(doc["services"]) == {"redis", "ingress", "worker", "sender"}, doc["services"].keys()


def test_schema_errors_are_caught():
    # The validation is real: an unknown option is refused.
    rc, _, err = compose_config(edit=lambda t: t.replace("  worker:\n", "  worker:\n    bogus: 1\n", 1))
    assert rc != 0 and "bogus" in err, err


def test_redis_aof_everysec_on_a_volume():
    doc = config()
    r = doc["services"]["redis"]
    assert str(r["image"]).startswith("redis:7"), r["image"]
    cmd = r["command"]
    assert cmd[0] == "redis-server"
    pairs = dict(zip(cmd[1::2], cmd[2::2]))
    assert pairs.get("--appendonly") == "yes", cmd
    assert pairs.get("--appendfsync") == "everysec", cmd
    mounts = [v for v in r["volumes"] if isinstance(v, str) and ":/data" in v]
    assert mounts, r["volumes"]
    volume = mounts[0].split(":")[0]
    assert volume in (doc.get("volumes") or {}), "the Redis data is not on a named volume"
    assert "redis-cli" in r["healthcheck"]["test"]
    assert r["restart"] in ("always", "unless-stopped")
    assert "ports" not in r, "Redis must not be published"


def test_programs_wait_for_healthy_redis_and_restart():
    doc = config()
    for name, binary in PROGRAMS.items():
        s = doc["services"][name]
        assert s["command"][0] == binary, (name, s["command"])
        assert s["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert s["restart"] in ("always", "unless-stopped", "on-failure"), name
        test = s["healthcheck"]["test"]
        assert test[:3] == ["CMD", "tw-admin", "health"], (name, test)
        assert s["environment"]["REDIS_URL"].startswith("redis://redis:"), name


def health_port(service):
    test = service["healthcheck"]["test"]
    url = test[test.index("--url") + 1]
    return url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]


def test_health_checks_ask_the_listener_each_program_opens():
    doc = config()
    sv = doc["services"]
    assert health_port(sv["ingress"]) == sv["ingress"]["environment"]["TW_LISTEN"].rsplit(":", 1)[1]
    for name in ("worker", "sender"):
        listen = sv[name]["environment"]["TW_METRICS_LISTEN"]
        assert health_port(sv[name]) == listen.rsplit(":", 1)[1], name


def test_configuration_comes_from_dotenv():
    env = ("TWILIO_ACCOUNT_SID=AC1111111111111111111111111111111a\nTWILIO_AUTH_TOKEN=tok\n"
           "TWILIO_PHONE_NUMBER=+15550001111\nTWILIO_WEBHOOK_URL=https://h.example/w\n"
           "TW_AGENT_URL=http://agent:3000/a\n")
    rc, out, err = compose_config(env_text=env)
    assert rc == 0, err
    doc = yamlsubset.load(out)
    for name in PROGRAMS:
        e = doc["services"][name]["environment"]
        assert e["TWILIO_ACCOUNT_SID"] == "AC1111111111111111111111111111111a", name
        assert e["TW_AGENT_URL"] == "http://agent:3000/a", name


def test_only_the_webhook_port_is_published():
    doc = config()
    sv = doc["services"]
    ports = sv["ingress"]["ports"]
    targets = {int(p["target"]) if isinstance(p, dict) else int(str(p).rsplit(":", 1)[1])
               for p in ports}
    webhook = int(sv["ingress"]["environment"]["TW_LISTEN"].rsplit(":", 1)[1])
    api = int(sv["ingress"]["environment"]["TW_API_LISTEN"].rsplit(":", 1)[1])
    assert targets == {webhook}, targets
    assert api not in targets
    for name in ("redis", "worker", "sender"):
        assert "ports" not in sv[name], name


def test_worker_can_be_scaled():
    # `up --scale worker=4` refuses services with a container_name or a fixed host port.
    doc = config()
    w = doc["services"]["worker"]
    assert "container_name" not in w
    assert "ports" not in w
    assert "TW_WORKER_ID" not in w.get("environment", {}), "replicas would share a consumer name"


def test_image_is_built_from_the_dockerfile():
    doc = config()
    for name in PROGRAMS:
        b = doc["services"][name]["build"]
        assert b["dockerfile"] == "deploy/Dockerfile", b
        assert os.path.isfile(os.path.join(twtest.SOURCE, b["dockerfile"]))


if __name__ == "__main__":
    if not shutil.which("docker-compose"):
        print("docker-compose is not installed (deploy/install-deps.sh --test installs it)")
        sys.exit(1)
    twtest.run([test_compose_config_is_valid, test_schema_errors_are_caught,
                test_redis_aof_everysec_on_a_volume, test_programs_wait_for_healthy_redis_and_restart,
                test_health_checks_ask_the_listener_each_program_opens,
                test_configuration_comes_from_dotenv, test_only_the_webhook_port_is_published,
                test_worker_can_be_scaled, test_image_is_built_from_the_dockerfile])
