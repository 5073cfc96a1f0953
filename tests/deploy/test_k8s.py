# SPDX-License-Identifier: MIT
"""deploy/k8s: a Deployment per program with the probes each program serves, the worker under a
HorizontalPodAutoscaler, configuration from a ConfigMap and secrets from a Secret (each variable
a row of common/config.c, secret rows only in the Secret), the image's non-root uid, Services
that select their pods, and a trial Redis with AOF. `kubectl kustomize` builds both
kustomizations when kubectl is installed (optional)."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import twtest  # noqa: E402
import yamlsubset  # noqa: E402

K8S = os.path.join(twtest.SOURCE, "deploy", "k8s")
PROGRAMS = ("tw-ingress", "tw-worker", "tw-sender")


def docs_of(path):
    with open(path) as f:
        parts = re.split(r"^---\s*$", f.read(), flags=re.M)
    return [d for d in (yamlsubset.load(p) for p in parts if p.strip()) if d]


def all_docs():
    out = []
    for sub in ("base", "trial"):
        for name in sorted(os.listdir(os.path.join(K8S, sub))):
            if name.endswith(".yaml") and name != "kustomization.yaml":
                out += docs_of(os.path.join(K8S, sub, name))
    return out


def find(kind, name):
    for d in all_docs():
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    raise AssertionError("no %s %s" % (kind, name))


def config_rows():
    """{name: secret?} from the table in common/config.c."""
    with open(os.path.join(twtest.SOURCE, "common", "config.c")) as f:
        text = f.read()
    rows = {}
    for m in re.finditer(r'^\s*\{"([A-Z][A-Z0-9_]+)",\s*T_.*?\},\s*$', text, re.M | re.S):
        rows[m.group(1)] = m.group(0).rstrip().rstrip(",").rstrip("}").strip().endswith("true")
    assert len(rows) > 20, rows
    return rows


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def test_every_manifest_is_well_formed():
    docs = all_docs()
    assert len(docs) >= 10, len(docs)
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d
    for sub in ("base", "trial"):
        k = yamlsubset.load(open(os.path.join(K8S, sub, "kustomization.yaml")).read())
        for res in k["resources"]:
            assert os.path.exists(os.path.join(K8S, sub, res)), (sub, res)


def test_a_deployment_per_program_with_its_probes():
    for program in PROGRAMS:
        d = find("Deployment", program)
        spec = d["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        assert c["command"] == [program], c["command"]
        assert c["image"].startswith("twilio-channel"), c["image"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        env = env_of(c)
        listen = env["TW_LISTEN" if program == "tw-ingress" else "TW_METRICS_LISTEN"]["value"]
        live, ready = c["livenessProbe"]["httpGet"], c["readinessProbe"]["httpGet"]
        assert ports[live["port"]] == int(listen.rsplit(":", 1)[1]), (program, ports, listen)
        assert ports[ready["port"]] == ports[live["port"]]
        assert live["path"] == "/healthz"
        assert ready["path"] == ("/readyz" if program == "tw-ingress" else "/healthz")
        assert spec["terminationGracePeriodSeconds"] >= 30, program
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        for p in c["ports"]:
            assert "hostPort" not in p, program


def test_non_root_as_in_the_image():
    with open(os.path.join(twtest.SOURCE, "deploy", "Dockerfile")) as f:
        uid = re.search(r"useradd .*--uid (\d+)", f.read().replace("\\\n", " ")).group(1)
    for program in PROGRAMS:
        spec = find("Deployment", program)["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert str(spec["securityContext"]["runAsUser"]) == uid, program
        sc = spec["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False


def test_worker_autoscaled():
    hpa = find("HorizontalPodAutoscaler", "tw-worker")
    ref = hpa["spec"]["scaleTargetRef"]
    assert ref["kind"] == "Deployment" and ref["name"] == "tw-worker"
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    env = env_of(find("Deployment", "tw-worker")["spec"]["template"]["spec"]["containers"][0])
    # Replicas need distinct consumer names: the pod name, not a fixed value.
    assert env["TW_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_configuration_and_secrets():
    rows = config_rows()
    cm = find("ConfigMap", "twilio-channel")["data"]
    secret = docs_of(os.path.join(K8S, "secret.example.yaml"))[0]
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "twilio-channel"
    sec = secret["stringData"]
    for name in cm:
        assert name in rows, "%s is not a configuration variable" % name
        assert not rows[name], "%s is a secret but sits in the ConfigMap" % name
    for name in sec:
        assert name in rows, "%s is not a configuration variable" % name
    for name, is_secret in rows.items():
        if is_secret:
            assert name in sec, "secret %s is missing from secret.example.yaml" % name
    for program in PROGRAMS:
        c = find("Deployment", program)["spec"]["template"]["spec"]["containers"][0]
        refs = [e.get("configMapRef", e.get("secretRef"))["name"] for e in c["envFrom"]]
        kinds = [next(iter(e)) for e in c["envFrom"]]
        assert kinds == ["configMapRef", "secretRef"] and set(refs) == {"twilio-channel"}, program
        for name in env_of(c):
            assert name in rows, (program, name)


def test_services_reach_their_pods():
    ingress = find("Deployment", "tw-ingress")
    labels = ingress["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"] for p in ingress["spec"]["template"]["spec"]["containers"][0]["ports"]}
    for name, port in (("tw-ingress", "webhook"), ("tw-ingress-api", "api")):
        s = find("Service", name)
        assert s["spec"]["selector"].items() <= labels.items(), name
        assert [p["targetPort"] for p in s["spec"]["ports"]] == [port] and port in ports


def test_trial_redis_aof_on_a_volume():
    r = find("StatefulSet", "redis")
    c = r["spec"]["template"]["spec"]["containers"][0]
    assert c["image"].startswith("redis:7")
    args = dict(zip(c["args"][::2], c["args"][1::2]))
    assert args["--appendonly"] == "yes" and args["--appendfsync"] == "everysec", args
    mount = c["volumeMounts"][0]
    assert mount["mountPath"] == "/data"
    assert r["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == mount["name"]
    assert find("Service", "redis")["spec"]["selector"] == r["spec"]["template"]["metadata"]["labels"]


def test_kustomize_builds():
    if not shutil.which("kubectl"):
        print("kubectl not installed: kustomize build not checked")
        return
    for sub in ("base", "trial"):
        p = subprocess.run(["kubectl", "kustomize", os.path.join(K8S, sub)], capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "kind: Deployment" in p.stdout and "part-of: twilio-channel" in p.stdout


if __name__ == "__main__":
    twtest.run([test_every_manifest_is_well_formed, test_a_deployment_per_program_with_its_probes,
                test_non_root_as_in_the_image, test_worker_autoscaled, test_configuration_and_secrets,
                test_services_reach_their_pods, test_trial_redis_aof_on_a_volume,
                test_kustomize_builds])
