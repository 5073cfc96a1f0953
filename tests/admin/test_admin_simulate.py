# SPDX-License-Identifier: MIT
"""tw-admin simulate inbound|status: the request carries Twilio's fields and a signature that
Twilio's algorithm (twtest.sign, independent of the C code) accepts for the configured URL,
query string included and #fragment excluded; it goes to TW_LISTEN, --port or --url."""
import os
import urllib.parse

from adminlib import Recorder, admin, admin_json, twtest

URL = "https://example.com/channels/twilio/webhook?tenant=a&x=%C3%A9#rc=2&rp=all"


def env_for(port, **over):
    env = twtest.run_env(TWILIO_WEBHOOK_URL=URL, TW_LISTEN="0.0.0.0:%d" % port)
    env.update(over)
    return {k: v for k, v in env.items() if v is not None}


def pairs_of(req):
    return urllib.parse.parse_qsl(req["body"].decode(), keep_blank_values=True,
                                  strict_parsing=True)


def test_inbound_signed_as_twilio_does():
    rec = Recorder(200)
    try:
        body = "Hello + goodbye & ünïcode 👋 100%"
        rc, doc, err = admin_json(["simulate", "inbound", "--from", "+15551230001", "--body", body],
                                  env_for(rec.port))
        assert rc == 0 and doc["accepted"] is True, (doc, err)
        (req,) = rec.requests
        assert req["method"] == "POST" and req["path"] == "/channels/twilio/webhook"
        assert req["headers"]["content-type"] == "application/x-www-form-urlencoded"
        pairs = pairs_of(req)
        f = dict(pairs)
        assert f["Body"] == body and f["From"] == "+15551230001" and f["To"] == twtest.NUMBER
        assert f["AccountSid"] == twtest.ACCOUNT and f["MessageSid"] == doc["message_sid"]
        assert f["MessageSid"].startswith("SM") and len(f["MessageSid"]) == 34
        assert f["NumMedia"] == "0" and "MessagingServiceSid" not in f
        assert req["headers"]["x-twilio-signature"] == twtest.sign(twtest.TOKEN, URL, pairs)
        # The fragment is not signed, the query string is.
        assert req["headers"]["x-twilio-signature"] != twtest.sign(
            twtest.TOKEN, URL.replace("tenant=a", "tenant=b"), pairs)
        assert "i-twilio-idempotency-token" not in req["headers"]
    finally:
        rec.stop()


def test_inbound_options():
    rec = Recorder(200)
    try:
        sid = "SM" + "ab" * 16
        args = ["simulate", "inbound", "--from", "+15551230002", "--body", "", "--sid", sid,
                "--to", "+15550009999", "--media-url", "https://example.com/a.jpg",
                "--media-url", "https://example.com/b.jpg", "--idempotency-token", "tok-1",
                "--port", str(rec.port)]
        rc, out, err = admin(args, env_for(1, TWILIO_PHONE_NUMBER=None,
                                          TWILIO_MESSAGING_SERVICE_SID=twtest.SERVICE))
        assert rc == 0, (out, err)
        assert sid in out and "accepted" in out, out
        (req,) = rec.requests
        pairs = pairs_of(req)
        f = dict(pairs)
        assert f["MessageSid"] == sid and f["To"] == "+15550009999" and f["Body"] == ""
        assert f["MessagingServiceSid"] == twtest.SERVICE
        assert f["NumMedia"] == "2" and f["MediaUrl1"] == "https://example.com/b.jpg"
        assert req["headers"]["i-twilio-idempotency-token"] == "tok-1"
        assert req["headers"]["x-twilio-signature"] == twtest.sign(twtest.TOKEN, URL, pairs)
    finally:
        rec.stop()


def test_explicit_url_and_refusal():
    rec = Recorder(401)
    try:
        url = "http://127.0.0.1:%d/prefix/hook" % rec.port
        rc, doc, _ = admin_json(["simulate", "inbound", "--from", "+1555", "--body", "x",
                                 "--url", url], env_for(1))
        assert rc == 1 and doc["accepted"] is False and doc["status"] == 401, doc
        assert rec.requests[0]["path"] == "/prefix/hook"
    finally:
        rec.stop()
    port = twtest.free_port()
    rc, out, _ = admin(["simulate", "inbound", "--from", "+1555", "--body", "x"], env_for(port))
    assert rc == 1 and "not posted" in out, out


def test_status_callback():
    rec = Recorder(200)
    try:
        sid = "SM" + "cd" * 16
        rc, out, err = admin(["simulate", "status", "--sid", sid, "--status", "undelivered",
                              "--to", "+15551230003", "--error-code", "30003"], env_for(rec.port))
        assert rc == 0, (out, err)
        (req,) = rec.requests
        assert req["path"] == "/channels/twilio/status"
        pairs = pairs_of(req)
        f = dict(pairs)
        assert f["MessageStatus"] == "undelivered" and f["ErrorCode"] == "30003"
        assert f["From"] == twtest.NUMBER and f["To"] == "+15551230003" and f["MessageSid"] == sid
        assert req["headers"]["x-twilio-signature"] == twtest.sign(twtest.TOKEN, twtest.STATUS_URL,
                                                                   pairs)
        rc, _, err = admin(["simulate", "status", "--sid", sid, "--status", "sent", "--to", "+1"],
                           env_for(rec.port, TWILIO_STATUS_CALLBACK_URL=None))
        assert rc == 78 and "TWILIO_STATUS_CALLBACK_URL" in err, err
    finally:
        rec.stop()


def test_against_the_real_ingress():
    redis = twtest.RedisServer()
    port = twtest.free_port()
    env = twtest.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % twtest.free_port())
    ing = twtest.Proc("tw-ingress", env, port=port)
    try:
        rc, doc, err = admin_json(["simulate", "inbound", "--from", "+15551230004",
                                   "--body", "through the real ingress"], env)
        assert rc == 0 and doc["status"] == 200, (doc, err, ing.output())
        r = redis.client()
        entries = r("XRANGE", "tw:inbound", "-", "+")
        assert len(entries) == 1, entries
        fields = dict(zip(entries[0][1][::2], entries[0][1][1::2]))
        assert doc["message_sid"] in fields["payload"] and "through the real ingress" in fields["payload"]
        bad = dict(env, TWILIO_AUTH_TOKEN="wrong-token")
        rc, doc, _ = admin_json(["simulate", "inbound", "--from", "+1555", "--body", "x"], bad)
        assert rc == 1 and doc["status"] == 401, doc
        r.close()
    finally:
        ing.stop()
        redis.stop()


if __name__ == "__main__":
    twtest.run([test_inbound_signed_as_twilio_does, test_inbound_options,
                test_explicit_url_and_refusal, test_status_callback, test_against_the_real_ingress])
