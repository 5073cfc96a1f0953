# SPDX-License-Identifier: MIT
"""tw-admin health (the image's HEALTHCHECK): 200 from /healthz exits 0, anything else 1; the URL
comes from --url, else TW_METRICS_LISTEN, else TW_LISTEN (wildcard reached on loopback)."""
from adminlib import Recorder, admin, admin_json, twtest


def test_url_given():
    rec = Recorder(200, b"ok\n")
    try:
        url = "http://127.0.0.1:%d/healthz" % rec.port
        rc, out, err = admin(["health", "--url", url])
        assert rc == 0 and "healthy" in out, (rc, out, err)
        assert rec.requests[-1]["method"] == "GET" and rec.requests[-1]["path"] == "/healthz"
        rec.status = 503
        rc, doc, _ = admin_json(["health", "--url", url])
        assert rc == 1 and doc["healthy"] is False and doc["status"] == 503, doc
    finally:
        rec.stop()


def test_listener_from_configuration():
    rec = Recorder(200)
    try:
        # The ingress: TW_LISTEN on the wildcard address.
        rc, doc, err = admin_json(["health"], {"TW_LISTEN": "0.0.0.0:%d" % rec.port})
        assert rc == 0, err
        assert doc["url"] == "http://127.0.0.1:%d/healthz" % rec.port, doc
        # Worker or sender: TW_METRICS_LISTEN wins over TW_LISTEN.
        rc, doc, err = admin_json(["health"], {"TW_LISTEN": "0.0.0.0:1",
                                               "TW_METRICS_LISTEN": "0.0.0.0:%d" % rec.port})
        assert rc == 0 and doc["url"].endswith(":%d/healthz" % rec.port), doc
        assert len(rec.requests) == 2
    finally:
        rec.stop()


def test_nothing_listening():
    port = twtest.free_port()
    rc, out, _ = admin(["health", "--url", "http://127.0.0.1:%d/healthz" % port,
                        "--timeout-ms", "500"])
    assert rc == 1 and "unhealthy" in out, out
    rc, _, err = admin(["health"], {"TW_LISTEN": "nonsense"})
    assert rc == 78 and "TW_LISTEN" in err, err


def test_real_ingress():
    redis = twtest.RedisServer()
    port = twtest.free_port()
    env = twtest.run_env(REDIS_URL=redis.url, TW_LISTEN="0.0.0.0:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % twtest.free_port())
    ing = twtest.Proc("tw-ingress", env, port=port)
    try:
        rc, out, err = admin(["health"], env)
        assert rc == 0, (out, err)
    finally:
        ing.stop()
        redis.stop()
    rc, out, _ = admin(["health", "--timeout-ms", "500"], env)
    assert rc == 1, out


if __name__ == "__main__":
    twtest.run([test_url_given, test_listener_from_configuration, test_nothing_listening,
                test_real_ingress])
