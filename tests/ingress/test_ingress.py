# SPDX-License-Identifier: MIT
"""tw-ingress over real HTTP with a real redis-server: every answer the contract fixes, what is
stored, deduplication, and Redis outages."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest as t  # noqa: E402

TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
redis = None
ing = None
port = None


def start_ingress(**env):
    p = t.free_port()
    base = t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % p,
                     TWILIO_AUTH_TOKEN_SECONDARY=t.TOKEN2, TW_API_LISTEN="127.0.0.1:%d" % t.free_port())
    base.update(env)
    return t.Proc("tw-ingress", {k: v for k, v in base.items() if v is not None}, port=p)


def entries(stream="tw:inbound"):
    out = []
    for sid, fields in redis.client()("XRANGE", stream, "-", "+"):
        out.append(dict(zip(fields[0::2], fields[1::2])))
    return out


def setup():
    global redis, ing, port
    redis = t.RedisServer()
    ing = start_ingress()
    port = ing.port


def teardown():
    if ing:
        ing.stop()
    if redis:
        redis.stop()


def flush():
    redis.client()("FLUSHALL")


# ------------------------------------------------------------------ routes

def test_routes_and_methods():
    assert t.http(port, "GET", "/nope")[0] == 404
    assert t.http(port, "POST", "/channels/twilio/webhook/extra")[0] == 404
    s, h, _ = t.http(port, "GET", "/channels/twilio/webhook")
    assert s == 405 and h["allow"] == "POST", (s, h)
    s, h, _ = t.http(port, "PUT", "/channels/twilio/status")
    assert s == 405 and h["allow"] == "POST"
    s, h, _ = t.http(port, "POST", "/healthz")
    assert s == 405 and "GET" in h["allow"]
    s, _, b = t.http(port, "GET", "/healthz")
    assert s == 200
    assert t.http(port, "GET", "/readyz")[0] == 200


def test_status_route_absent_without_url():
    other = start_ingress(TWILIO_STATUS_CALLBACK_URL=None)
    try:
        pairs = [("MessageSid", "SM1"), ("AccountSid", t.ACCOUNT), ("MessageStatus", "sent")]
        s, _, _ = t.post_signed(other.port, pairs, url=t.STATUS_URL, path="/channels/twilio/status")
        assert s == 404
    finally:
        assert other.stop() == 0


# ------------------------------------------------------------------ checks in order

def test_content_type():
    pairs = t.inbound_pairs("SM" + "1" * 32)
    body = t.encode_form(pairs)
    sig = t.sign(t.TOKEN, t.WEBHOOK_URL, pairs)
    for ct, want in [("application/json", 415), ("text/plain", 415), (None, 415),
                     ("application/x-www-form-urlencodedX", 415),
                     ("Application/X-WWW-Form-Urlencoded; charset=utf-8", 200),
                     ("application/x-www-form-urlencoded;charset=UTF-8", 200)]:
        h = {"X-Twilio-Signature": sig}
        if ct:
            h["Content-Type"] = ct
        s, _, _ = t.http(port, "POST", "/channels/twilio/webhook", body, h)
        assert s == want, (ct, s, want)
    # a wrong content type wins over a wrong signature (check 1 before check 4)
    s, _, _ = t.http(port, "POST", "/channels/twilio/webhook", body,
                     {"Content-Type": "text/plain", "X-Twilio-Signature": "bad"})
    assert s == 415


def raw_request(p, data, read_timeout=5.0):
    with socket.create_connection(("127.0.0.1", p), timeout=read_timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    head, _, rest = out.partition(b"\r\n\r\n")
                    if b"content-length: 0" in head.lower() or len(rest) > 0 and b"Content-Length" not in head:
                        break
        except socket.timeout:
            pass
    return out


def test_body_limit():
    small = start_ingress(TW_BODY_LIMIT="2048")
    try:
        pairs = t.inbound_pairs("SM" + "2" * 32, body="x" * 4000)
        # declared length over the limit: 413 before the body is read
        s, _, _ = t.post_signed(small.port, pairs)
        assert s == 413, s
        # chunked body that grows past the limit: 413 without buffering the rest
        head = (b"POST /channels/twilio/webhook HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"X-Twilio-Signature: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"a=" + b"b" * 1000
        data = head + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        out = raw_request(small.port, data)
        assert out.startswith(b"HTTP/1.1 413"), out[:80]
        # within the limit: accepted
        pairs = t.inbound_pairs("SM" + "3" * 32, body="y" * 100)
        assert t.post_signed(small.port, pairs)[0] == 200
    finally:
        assert small.stop() == 0, small.output()[-2000:]


def test_malformed_encoding():
    base = t.encode_form(t.inbound_pairs("SM" + "4" * 32))
    for bad in ["Extra=%zz", "Extra=%", "Extra=%4", "Extra=%ff", "Extra=%c0%af", "Extra=%ed%a0%80",
                "Extra=%f4%90%80%80", "Ex%00tra=1", "%zz=1"]:
        body = base + "&" + bad
        s, _, _ = t.http(port, "POST", "/channels/twilio/webhook", body,
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "X-Twilio-Signature": "irrelevant"})
        assert s == 400, (bad, s)


def test_signature():
    flush()
    pairs = t.inbound_pairs("SM" + "5" * 32)
    assert t.post_signed(port, pairs, sig="")[0] == 401
    s, _, _ = t.http(port, "POST", "/channels/twilio/webhook", t.encode_form(pairs),
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert s == 401
    assert t.post_signed(port, pairs, sig="AAAA")[0] == 401
    assert t.post_signed(port, pairs, token="wrong-token")[0] == 401
    # signed for another URL
    sig = t.sign(t.TOKEN, "https://example.com/channels/twilio/webhook?tenant=b", pairs)
    assert t.post_signed(port, pairs, sig=sig)[0] == 401
    # tampered body: signature of the original, one value changed
    sig = t.sign(t.TOKEN, t.WEBHOOK_URL, pairs)
    tampered = [(k, "goodbye" if k == "Body" else v) for k, v in pairs]
    assert t.post_signed(port, tampered, sig=sig)[0] == 401
    assert entries() == []
    # the secondary token (rotation) and the URL with its default port added
    assert t.post_signed(port, pairs, token=t.TOKEN2)[0] == 200
    pairs2 = t.inbound_pairs("SM" + "6" * 32)
    sig = t.sign(t.TOKEN, "https://example.com:443/channels/twilio/webhook?tenant=a", pairs2)
    assert t.post_signed(port, pairs2, sig=sig)[0] == 200
    # a proxy-added query and path are not re-checked: what is signed is the configured URL
    pairs3 = t.inbound_pairs("SM" + "7" * 32)
    s, _, _ = t.post_signed(port, pairs3, path="/channels/twilio/webhook?via=proxy")
    assert s == 200
    assert len(entries()) == 3
    m = t.http(port, "GET", "/metrics")[2].decode()
    assert 'tw_ingress_signature_failures_total{route="webhook"}' in m, m


def test_required_fields_and_account():
    flush()
    sid = "SM" + "8" * 32
    cases = [
        ([p for p in t.inbound_pairs(sid) if p[0] != "MessageSid"], 400),
        ([p for p in t.inbound_pairs(sid) if p[0] != "AccountSid"], 400),
        ([(k, "" if k == "From" else v) for k, v in t.inbound_pairs(sid)], 400),
        ([p for p in t.inbound_pairs(sid) if p[0] != "To"], 400),
        (t.inbound_pairs(sid) + [("To", t.NUMBER)], 400),
        (t.inbound_pairs(sid, account="AC" + "f" * 32), 403),
        (t.inbound_pairs(sid, to="+15550000000"), 403),
    ]
    for pairs, want in cases:
        s, _, b = t.post_signed(port, pairs)
        assert s == want, (pairs, s)
        assert b == b"", b  # no internal detail
    assert entries() == []


# ------------------------------------------------------------------ what is stored

def test_accepted_entry():
    flush()
    sid = "SM" + "9" * 32
    pairs = t.inbound_pairs(sid, body="Héllo + wörld & 🎉", frm="+15551239999")
    s, h, b = t.post_signed(port, pairs, headers={"I-Twilio-Idempotency-Token": "tok-accept-1"})
    assert s == 200 and b == TWIML and h["content-type"] == "text/xml; charset=UTF-8", (s, h, b)
    [e] = entries()
    assert json.loads(e["payload"]) == dict(pairs)
    conv = json.loads(e["conversation"])
    assert conv == {"type": "address", "accountSid": t.ACCOUNT, "address": t.NUMBER,
                    "participant": "+15551239999"}, conv
    assert list(conv) == ["type", "accountSid", "address", "participant"]
    assert e["conversation_key"] == ("twilio:v1:account:%s:address:%%2B15557007007:"
                                     "participant:%%2B15551239999" % t.ACCOUNT)
    assert e["idempotency_token"] == "tok-accept-1"
    assert abs(int(e["received_at"]) - time.time() * 1000) < 60000


def test_mms_and_repeated_unknown_field():
    flush()
    sid = "MM" + "a" * 32
    extra = [("NumMedia", "2"), ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/x/Media/ME1"),
             ("MediaContentType0", "image/jpeg"), ("MediaUrl1", "https://api.twilio.com/m/ME2"),
             ("MediaContentType1", "image/png"), ("FutureField", "one"), ("FutureField", "two"),
             ("Empty", "")]
    pairs = [p for p in t.inbound_pairs(sid) if p[0] != "NumMedia"] + extra
    assert t.post_signed(port, pairs)[0] == 200
    [e] = entries()
    payload = json.loads(e["payload"])
    assert payload["FutureField"] == ["one", "two"]
    assert payload["MediaUrl1"] == "https://api.twilio.com/m/ME2"
    assert payload["NumMedia"] == "2" and payload["Empty"] == ""
    assert "idempotency_token" not in e


def test_duplicates():
    flush()
    sid = "SM" + "b" * 32
    pairs = t.inbound_pairs(sid)
    tok = {"I-Twilio-Idempotency-Token": "tok-dup"}
    r1 = t.post_signed(port, pairs, headers=tok)
    r2 = t.post_signed(port, pairs, headers=tok)
    assert r1 == r2 and r1[0] == 200 and r1[2] == TWIML, (r1, r2)
    assert len(entries()) == 1
    # without a token, the MessageSid decides
    sid2 = "SM" + "c" * 32
    assert t.post_signed(port, t.inbound_pairs(sid2))[0] == 200
    assert t.post_signed(port, t.inbound_pairs(sid2))[0] == 200
    assert len(entries()) == 2
    # concurrent deliveries of one token: stored once
    sid3 = "SM" + "d" * 32
    results = []
    th = [threading.Thread(target=lambda: results.append(
        t.post_signed(port, t.inbound_pairs(sid3), headers={"I-Twilio-Idempotency-Token": "race"})[0]))
        for _ in range(8)]
    [x.start() for x in th]
    [x.join() for x in th]
    assert results == [200] * 8, results
    assert len(entries()) == 3
    m = t.http(port, "GET", "/metrics")[2].decode()
    assert 'tw_ingress_duplicates_total{route="webhook"}' in m


def test_status_callbacks():
    flush()
    path = "/channels/twilio/status"
    sid = "SM" + "e" * 32
    base = [("MessageSid", sid), ("AccountSid", t.ACCOUNT), ("From", t.NUMBER),
            ("To", "+15551230001"), ("SmsStatus", "sent")]
    s, h, b = t.post_signed(port, base + [("MessageStatus", "sent")], url=t.STATUS_URL, path=path)
    assert s == 200 and b == b"", (s, b)
    # same status again: duplicate; next status: stored
    assert t.post_signed(port, base + [("MessageStatus", "sent")], url=t.STATUS_URL, path=path)[0] == 200
    assert t.post_signed(port, base + [("MessageStatus", "delivered")], url=t.STATUS_URL, path=path)[0] == 200
    # another sender's message: stored without a conversation
    other = [("MessageSid", "SM" + "f" * 32), ("AccountSid", t.ACCOUNT), ("From", "+15550001111"),
             ("To", "+15551230001"), ("MessageStatus", "sent")]
    assert t.post_signed(port, other, url=t.STATUS_URL, path=path)[0] == 200
    es = entries("tw:status")
    assert len(es) == 3, es
    assert json.loads(es[0]["conversation"]) == {"type": "address", "accountSid": t.ACCOUNT,
                                                 "address": t.NUMBER, "participant": "+15551230001"}
    assert es[0]["conversation_key"].endswith(":participant:%2B15551230001")
    assert "conversation" not in es[2] and "conversation_key" not in es[2]
    # required fields and account
    assert t.post_signed(port, base, url=t.STATUS_URL, path=path)[0] == 400
    bad = [(k, "AC" + "9" * 32 if k == "AccountSid" else v) for k, v in base] + [("MessageStatus", "sent")]
    assert t.post_signed(port, bad, url=t.STATUS_URL, path=path)[0] == 403
    # signed for the webhook URL, not the status URL
    assert t.post_signed(port, base + [("MessageStatus", "read")], path=path)[0] == 401
    assert entries() == []


def test_messaging_service_destination():
    svc = start_ingress(TWILIO_PHONE_NUMBER=None, TWILIO_MESSAGING_SERVICE_SID=t.SERVICE)
    try:
        flush()
        sid = "SM" + "0" * 31 + "1"
        pairs = t.inbound_pairs(sid, to="+15557770000") + [("MessagingServiceSid", t.SERVICE)]
        assert t.post_signed(svc.port, pairs)[0] == 200
        wrong = t.inbound_pairs(sid, to="+15557770000") + [("MessagingServiceSid", "MG" + "1" * 32)]
        assert t.post_signed(svc.port, wrong)[0] == 403
        missing = t.inbound_pairs("SM" + "0" * 31 + "2")
        assert t.post_signed(svc.port, missing)[0] == 403
        [e] = entries()
        conv = json.loads(e["conversation"])
        assert conv == {"type": "messaging-service", "accountSid": t.ACCOUNT,
                        "address": "+15557770000", "participant": "+15551230001",
                        "messagingServiceSid": t.SERVICE}, conv
        assert e["conversation_key"] == ("twilio:v1:account:%s:messaging-service:%s:address:"
                                         "%%2B15557770000:participant:%%2B15551230001"
                                         % (t.ACCOUNT, t.SERVICE))
    finally:
        assert svc.stop() == 0, svc.output()[-2000:]


# ------------------------------------------------------------------ redis outages

def test_redis_down_then_back():
    flush()
    redis.stop()
    try:
        for i in range(5):
            s, _, _ = t.post_signed(port, t.inbound_pairs("SM%032d" % (100 + i)))
            assert s == 503, s
        assert t.http(port, "GET", "/readyz")[0] == 503
        assert t.http(port, "GET", "/healthz")[0] == 200
    finally:
        redis.start()
    t.wait_until(lambda: t.http(port, "GET", "/readyz")[0] == 200, 10, what="readyz")
    assert t.post_signed(port, t.inbound_pairs("SM%032d" % 200))[0] == 200
    assert len(entries()) == 1  # nothing answered 503 was stored


def test_redis_slow_is_bounded():
    flush()
    blocker = threading.Thread(target=lambda: redis.client()("DEBUG", "SLEEP", "3.5"))
    blocker.start()
    time.sleep(0.2)
    start = time.time()
    s, _, _ = t.post_signed(port, t.inbound_pairs("SM%032d" % 300))
    took = time.time() - start
    blocker.join()
    assert s == 503, s
    assert took < 3.4, took  # answered before Redis woke up
    t.wait_until(lambda: t.post_signed(port, t.inbound_pairs("SM%032d" % 301))[0] == 200, 10,
                 what="recovery")


def test_script_cache_flush():
    flush()
    redis.client()("SCRIPT", "FLUSH")
    assert t.post_signed(port, t.inbound_pairs("SM%032d" % 400))[0] == 200
    assert len(entries()) == 1


# ------------------------------------------------------------------ process

def test_config_error_exits_78():
    env = t.run_env(TWILIO_WEBHOOK_URL="ftp://nope", TW_LISTEN="127.0.0.1:%d" % t.free_port())
    p = subprocess.run([t.binary("tw-ingress")], env=env, capture_output=True, timeout=10)
    assert p.returncode == 78, p.returncode
    assert b"TWILIO_WEBHOOK_URL" in p.stderr, p.stderr
    env = t.run_env(TWILIO_AUTH_TOKEN=None)
    p = subprocess.run([t.binary("tw-ingress")], env=env, capture_output=True, timeout=10)
    assert p.returncode == 78 and b"TWILIO_AUTH_TOKEN" in p.stderr


def test_no_secrets_or_bodies_in_logs():
    out = ing.output()
    assert t.TOKEN not in out and t.TOKEN2 not in out
    assert "Héllo" not in out and "H\\u00e9llo" not in out
    assert "+15551239999" not in out
    for line in out.strip().splitlines():
        json.loads(line)


def test_clean_exit_no_leaks():
    global ing
    code = ing.stop(signal.SIGTERM)
    out = ing.output()
    ing = None
    assert code == 0, out[-3000:]
    assert "Sanitizer" not in out, out[-3000:]


def test_sigterm_drains_and_exits_0():
    """A request waiting on Redis when SIGTERM arrives still gets its answer."""
    flush()
    other = start_ingress()
    blocker = threading.Thread(target=lambda: redis.client()("DEBUG", "SLEEP", "1"))
    blocker.start()
    time.sleep(0.1)
    result = []
    req = threading.Thread(target=lambda: result.append(
        t.post_signed(other.port, t.inbound_pairs("SM%032d" % 500))[0]))
    req.start()
    time.sleep(0.3)
    other.proc.send_signal(signal.SIGTERM)
    req.join()
    blocker.join()
    assert result == [200], result
    assert other.stop() == 0
    assert '"stopped"' in other.output()
    assert len(entries()) == 1


if __name__ == "__main__":
    setup()
    try:
        t.run([test_routes_and_methods, test_status_route_absent_without_url, test_content_type,
               test_body_limit, test_malformed_encoding, test_signature,
               test_required_fields_and_account, test_accepted_entry,
               test_mms_and_repeated_unknown_field, test_duplicates, test_status_callbacks,
               test_messaging_service_destination, test_redis_down_then_back,
               test_redis_slow_is_bounded, test_script_cache_flush, test_config_error_exits_78,
               test_no_secrets_or_bodies_in_logs, test_clean_exit_no_leaks,
               test_sigterm_drains_and_exits_0])
    finally:
        teardown()
