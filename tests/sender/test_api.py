# SPDX-License-Identifier: MIT
"""The outbound API inside tw-ingress (private listener TW_API_LISTEN): bearer auth, validation
with clear JSON errors, account and destination checks, Idempotency-Key, GET of a job, and the
whole path through tw-sender to the Twilio stand-in."""
import contextlib
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
import sendlib as sl  # noqa: E402
import twtest as tw  # noqa: E402

API_TOKEN = "api-token-0123456789abcdef0123456789"
AUTH = {"Authorization": "Bearer " + API_TOKEN, "Content-Type": "application/json"}
P1 = "+15551230001"
KEY = sl.conv_key(P1)
FINAL = ("sent", "failed", "unknown")


@contextlib.contextmanager
def ingress(redis=None, **env):
    own = redis is None
    redis = redis or tw.RedisServer()
    port, api_port = tw.free_port(), tw.free_port()
    full = tw.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                      TW_API_LISTEN="127.0.0.1:%d" % api_port, TW_API_TOKEN=API_TOKEN)
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    p = tw.Proc("tw-ingress", full, port=port)
    try:
        if full.get("TW_API_TOKEN"):
            tw.wait_port(api_port, proc=p.proc)
        yield redis, api_port, p
        assert p.stop() == 0, p.output()[-3000:]
    except BaseException:
        p.stop()
        print(p.output()[-3000:])
        raise
    finally:
        if own:
            redis.stop()


def post(port, obj, headers=None, raw=None):
    h = dict(AUTH)
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    body = raw if raw is not None else json.dumps(obj)
    st, hd, b = tw.http(port, "POST", "/v1/messages", body, h)
    return st, hd, (json.loads(b) if b else None)


def get(port, job_id, headers=None):
    h = {"Authorization": AUTH["Authorization"]}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    st, hd, b = tw.http(port, "GET", "/v1/messages/" + job_id, b"", h)
    return st, hd, (json.loads(b) if b else None)


def test_accepted_job_is_enqueued_and_readable():
    with ingress() as (redis, port, _):
        r = redis.client()
        st, hd, b = post(port, {"conversation_key": KEY, "body": "hello",
                                "media_url": ["https://example.com/a.png"]})
        assert st == 202 and hd["content-type"] == "application/json", (st, b)
        assert set(b) == {"id"} and "idempotent-replayed" not in hd
        j = sl.job(r, b["id"])
        assert j["state"] == "queued" and j["body"] == "hello" and j["source"] == "api"
        assert json.loads(j["media_url"]) == ["https://example.com/a.png"]
        entries = sl.stream(r, "tw:outbound")
        assert [e[1] for e in entries] == [{"job_id": b["id"], "conversation_key": KEY}]
        st, _, g = get(port, b["id"])
        assert st == 200
        assert g == {"id": b["id"], "state": "queued", "sid": None, "status": None,
                     "error_code": None, "error_message": None}, g


def test_auth():
    with ingress() as (redis, port, _):
        body = json.dumps({"conversation_key": KEY, "body": "x"})
        for h in ({}, {"Authorization": "Bearer wrong"},
                  {"Authorization": "Bearer " + API_TOKEN + "x"},
                  {"Authorization": "Bearer " + API_TOKEN[:-1]},
                  {"Authorization": "Basic " + API_TOKEN},
                  {"Authorization": API_TOKEN}):
            hh = {"Content-Type": "application/json"}
            hh.update(h)
            st, hd, b = tw.http(port, "POST", "/v1/messages", body, hh)
            assert st == 401, (h, st)
            assert hd.get("www-authenticate") == "Bearer"
            assert json.loads(b)["error"]["code"] == "unauthorized"
            st, _, _ = tw.http(port, "GET", "/v1/messages/ob0000", b"", h)
            assert st == 401, h
        assert redis.client()("XLEN", "tw:outbound") == 0


def test_validation_errors():
    other_account = sl.conv_key(P1, account="AC" + "f" * 32)
    other_number = sl.conv_key(P1, address="+15550000000")
    service_key = sl.conv_key(P1, service=tw.SERVICE)
    cases = [
        # (name, body or raw, headers, status, error code)
        ("form content type", {"conversation_key": KEY, "body": "x"},
         {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ("malformed json", b'{"conversation_key": ', None, 400, "invalid_json"),
        ("array", [KEY, "x"], None, 400, "invalid_json"),
        ("duplicate field", b'{"conversation_key":"%s","body":"a","body":"b"}' % KEY.encode(),
         None, 400, "invalid_json"),
        ("unknown field", {"conversation_key": KEY, "text": "x"}, None, 400, "unknown_field"),
        ("no key", {"body": "x"}, None, 400, "invalid_conversation_key"),
        ("key not a string", {"conversation_key": 5, "body": "x"}, None, 400,
         "invalid_conversation_key"),
        ("non-canonical key", {"conversation_key": KEY.replace("%2B", "%2b"), "body": "x"}, None,
         400, "invalid_conversation_key"),
        ("garbage key", {"conversation_key": "hello", "body": "x"}, None, 400,
         "invalid_conversation_key"),
        ("another account", {"conversation_key": other_account, "body": "x"}, None, 403,
         "forbidden"),
        ("another destination", {"conversation_key": other_number, "body": "x"}, None, 403,
         "forbidden"),
        ("a service key for a number", {"conversation_key": service_key, "body": "x"}, None, 403,
         "forbidden"),
        ("body not a string", {"conversation_key": KEY, "body": 7}, None, 400, "invalid_body"),
        ("body too long", {"conversation_key": KEY, "body": "é" * 1601}, None, 400,
         "body_too_long"),
        ("nothing to send", {"conversation_key": KEY}, None, 400, "body_or_media_required"),
        ("empty body", {"conversation_key": KEY, "body": "", "media_url": []}, None, 400,
         "body_or_media_required"),
        ("media not a list", {"conversation_key": KEY, "media_url": "https://e.com/a.png"}, None,
         400, "invalid_media_url"),
        ("11 media", {"conversation_key": KEY, "media_url": ["https://e.com/%d" % i
                                                              for i in range(11)]},
         None, 400, "too_many_media"),
        ("ftp media", {"conversation_key": KEY, "media_url": ["ftp://e.com/a.png"]}, None, 400,
         "invalid_media_url"),
        ("relative media", {"conversation_key": KEY, "media_url": ["/a.png"]}, None, 400,
         "invalid_media_url"),
        ("media with credentials", {"conversation_key": KEY,
                                    "media_url": ["https://u:p@e.com/a.png"]}, None, 400,
         "invalid_media_url"),
        ("media with a space", {"conversation_key": KEY, "media_url": ["https://e.com/a b"]},
         None, 400, "invalid_media_url"),
        ("bad idempotency key", {"conversation_key": KEY, "body": "x"},
         {"Idempotency-Key": "x" * 256}, 400, "invalid_idempotency_key"),
        ("too large", b'{"conversation_key":"' + b"x" * 70000 + b'"}', None, 413, "too_large"),
    ]
    with ingress() as (redis, port, _):
        for name, obj, headers, status, code in cases:
            raw = obj if isinstance(obj, bytes) else None
            st, hd, b = post(port, obj, headers, raw=raw)
            assert st == status, (name, st, b)
            assert hd["content-type"] == "application/json", name
            assert b["error"]["code"] == code, (name, b)
            assert b["error"]["message"], name
        assert redis.client()("XLEN", "tw:outbound") == 0
        # the limits themselves are accepted
        ok = [{"conversation_key": KEY, "body": "é" * 1600},
              {"conversation_key": KEY, "media_url": ["https://e.com/%d" % i for i in range(10)]},
              {"conversation_key": KEY, "body": "x", "media_url": None}]
        for obj in ok:
            st, _, b = post(port, obj)
            assert st == 202, (obj, b)
        assert redis.client()("XLEN", "tw:outbound") == 3


def test_routes_and_methods():
    with ingress() as (redis, port, _):
        h = {"Authorization": AUTH["Authorization"]}
        st, hd, b = tw.http(port, "GET", "/v1/messages", b"", h)
        assert st == 405 and hd["allow"] == "POST"
        st, hd, b = tw.http(port, "DELETE", "/v1/messages/ob00", b"", h)
        assert st == 405 and hd["allow"] == "GET, HEAD"
        for path in ("/", "/v1/message", "/channels/twilio/webhook", "/metrics"):
            st, _, b = tw.http(port, "GET", path, b"", h)
            assert st == 404, path
            assert json.loads(b)["error"]["code"] == "not_found"
        for job_id in ("ob" + "0" * 32, "..%2F", "a" * 70, "x y"):
            st, _, b = get(port, job_id.replace(" ", "%20"))
            assert st == 404 and b["error"]["code"] == "not_found", job_id


def test_idempotency_key():
    with ingress() as (redis, port, _):
        r = redis.client()
        first = {"conversation_key": KEY, "body": "hi", "media_url": ["https://e.com/a.png"]}
        st, hd, a = post(port, first, {"Idempotency-Key": "reply-1"})
        assert st == 202 and "idempotent-replayed" not in hd
        # the same request, differently spelled JSON: the same job, nothing enqueued
        raw = json.dumps({"media_url": ["https://e.com/a.png"], "body": "hi",
                          "conversation_key": KEY}, indent=2)
        st, hd, b = post(port, None, {"Idempotency-Key": "reply-1"}, raw=raw)
        assert st == 202 and b == a and hd["idempotent-replayed"] == "true"
        assert r("XLEN", "tw:outbound") == 1
        # the same key with another request
        for other in ({"conversation_key": KEY, "body": "hi!", "media_url": first["media_url"]},
                      {"conversation_key": KEY, "body": "hi"}):
            st, _, c = post(port, other, {"Idempotency-Key": "reply-1"})
            assert st == 409 and c["error"]["code"] == "idempotency_conflict", c
        # another key, or none: new jobs
        st, _, d = post(port, first, {"Idempotency-Key": "reply-2"})
        st2, _, e = post(port, first)
        assert st == st2 == 202 and len({a["id"], d["id"], e["id"]}) == 3
        assert r("XLEN", "tw:outbound") == 3
        assert 0 < r("TTL", "tw:idem:reply-1") <= 86400


def test_messaging_service_deployment_accepts_only_its_service():
    with ingress(TWILIO_PHONE_NUMBER=None, TWILIO_MESSAGING_SERVICE_SID=tw.SERVICE) as (
            redis, port, _):
        st, _, b = post(port, {"conversation_key": sl.conv_key(P1, service=tw.SERVICE),
                               "body": "x"})
        assert st == 202, b
        st, _, b = post(port, {"conversation_key": KEY, "body": "x"})
        assert st == 403, b
        other = sl.conv_key(P1, service="MG" + "1" * 32)
        st, _, b = post(port, {"conversation_key": other, "body": "x"})
        assert st == 403, b


def test_off_without_a_token_and_never_on_the_public_port():
    api_port = tw.free_port()
    redis = tw.RedisServer()
    try:
        with ingress(redis, TW_API_TOKEN=None, TW_API_LISTEN="127.0.0.1:%d" % api_port) as (
                _, _, p):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", api_port)) != 0
            assert "outbound API off" in p.output()
            st, _, _ = tw.http(p.port, "GET", "/healthz")
            assert st == 200
        port = tw.free_port()
        env = tw.run_env(REDIS_URL=redis.url, TW_LISTEN="0.0.0.0:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % port, TW_API_TOKEN=API_TOKEN)
        p = tw.Proc("tw-ingress", env)
        assert p.proc.wait(10) == 78, p.output()
        assert "TW_API_LISTEN" in p.output()
        p.stop()
    finally:
        redis.stop()


def test_through_the_sender_to_twilio_and_back():
    redis = tw.RedisServer()
    si = sl.StandIn()
    try:
        with ingress(redis) as (_, port, _):
            sender = sl.start_sender(redis, si)
            try:
                r = redis.client()
                st, _, a = post(port, {"conversation_key": KEY, "body": "from the agent"})
                assert st == 202
                sl.wait_state(r, a["id"], FINAL)
                st, _, g = get(port, a["id"])
                sid = si.created()[0]["sid"]
                assert g == {"id": a["id"], "state": "sent", "sid": sid, "status": "queued",
                             "error_code": None, "error_message": None}, g
                # a later delivery status shows through, with its error
                r("HSET", "tw:msg:" + sid, "status", "undelivered", "error_code", "30007",
                  "error_message", "Carrier violation")
                st, _, g = get(port, a["id"])
                assert g["status"] == "undelivered" and g["error_code"] == 30007
                assert g["error_message"] == "Carrier violation"
                # a permanent failure: the job's own error
                si.script({"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"})
                st, _, b = post(port, {"conversation_key": sl.conv_key("+15551230002"),
                                       "body": "x"})
                sl.wait_state(r, b["id"], FINAL)
                st, _, g = get(port, b["id"])
                assert g == {"id": b["id"], "state": "failed", "sid": None, "status": None,
                             "error_code": 21211, "error_message": "Invalid 'To' Phone Number"}
                # an opted-out participant is refused without a call
                r("SADD", "tw:optout:%s:%s" % (tw.ACCOUNT, tw.NUMBER), "+15551230003")
                st, _, c = post(port, {"conversation_key": sl.conv_key("+15551230003"),
                                       "body": "x"})
                sl.wait_state(r, c["id"], FINAL)
                st, _, g = get(port, c["id"])
                assert g["state"] == "failed" and g["error_code"] == 21610, g
                assert len(si.creates()) == 2
                assert sender.stop() == 0
            finally:
                sender.stop()
    finally:
        si.stop()
        redis.stop()


def test_redis_down_is_503():
    redis = tw.RedisServer()
    with ingress(redis) as (_, port, _):
        redis.stop()
        st, _, b = post(port, {"conversation_key": KEY, "body": "x"})
        assert st == 503 and b["error"]["code"] == "unavailable", b
        st, _, b = get(port, "ob" + "0" * 32)
        assert st == 503, b
        redis.start()
        st, _, b = post(port, {"conversation_key": KEY, "body": "x"})
        assert st == 202, b


if __name__ == "__main__":
    tw.run([test_accepted_job_is_enqueued_and_readable,
            test_auth,
            test_validation_errors,
            test_routes_and_methods,
            test_idempotency_key,
            test_messaging_service_deployment_accepts_only_its_service,
            test_off_without_a_token_and_never_on_the_public_port,
            test_through_the_sender_to_twilio_and_back,
            test_redis_down_is_503])
