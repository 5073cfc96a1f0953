# SPDX-License-Identifier: MIT
"""Control input end to end: STOP posted to tw-ingress, recorded by tw-worker, makes tw-sender
refuse a reply without calling Twilio; START lets the next reply through; HELP is recorded and
changes nothing. Real tw-ingress (webhook and outbound API), tw-worker, tw-sender, the agent and
Twilio stand-ins."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sender"))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402
import sendlib as sl  # noqa: E402

API_TOKEN = "api-token-for-control-test"


def test_stop_refuses_replies_start_allows_them_help_changes_nothing():
    redis = t.RedisServer()
    agent = w.AgentStandIn()
    twilio = sl.StandIn()
    port, api = t.free_port(), t.free_port()
    ing = t.Proc("tw-ingress", t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                                         TW_API_LISTEN="127.0.0.1:%d" % api,
                                         TW_API_TOKEN=API_TOKEN), port=port)
    wk = w.start_worker(redis, agent.url)
    snd = sl.start_sender(redis, twilio)
    r = redis.client()
    p = "+15551234567"
    key = w.conv_key(p)

    def inbound(sid, body, opt=None):
        extra = [("OptOutType", opt)] if opt else []
        s, _, _ = t.post_signed(port, t.inbound_pairs(sid, body=body, frm=p, extra=extra))
        assert s == 200
        return t.wait_until(lambda: w.outcome(r, sid).get("outcome") and w.outcome(r, sid), 10,
                            what="outcome of " + sid)

    def reply(body):
        h = {"Authorization": "Bearer " + API_TOKEN, "Content-Type": "application/json"}
        s, _, b = t.http(api, "POST", "/v1/messages",
                         json.dumps({"conversation_key": key, "body": body}), h)
        assert s == 202, (s, b)
        job = json.loads(b)["id"]
        def final():
            s, _, b = t.http(api, "GET", "/v1/messages/" + job, b"", h)
            j = json.loads(b)
            return j if j["state"] in ("sent", "failed", "unknown") else None
        return t.wait_until(final, 15, what="job " + job)

    try:
        o = inbound("SM" + "a1" * 16, "STOP", "STOP")
        assert (o["outcome"], o["reason"]) == ("skipped", "STOP")
        assert r("SISMEMBER", "tw:optout:%s:%s" % (t.ACCOUNT, t.NUMBER), p) == 1
        j = reply("are you there?")
        assert j["state"] == "failed" and str(j["error_code"]) == "21610", j
        assert twilio.creates() == []  # refused without a call to Twilio

        o = inbound("SM" + "a2" * 16, "HELP", "HELP")
        assert (o["outcome"], o["reason"]) == ("skipped", "HELP")
        assert r("SISMEMBER", "tw:optout:%s:%s" % (t.ACCOUNT, t.NUMBER), p) == 1

        o = inbound("SM" + "a3" * 16, "START", "START")
        assert (o["outcome"], o["reason"]) == ("skipped", "START")
        assert r("SISMEMBER", "tw:optout:%s:%s" % (t.ACCOUNT, t.NUMBER), p) == 0
        j = reply("welcome back")
        assert j["state"] == "sent", j
        creates = twilio.creates()
        assert len(creates) == 1
        assert dict(creates[0]["params"])["To"] == p

        assert agent.snapshot() == []  # no control keyword reached the agent
        o = inbound("SM" + "a4" * 16, "a real question")
        assert o["outcome"] == "dispatched"
        assert [q["sid"] for q in agent.snapshot()] == ["SM" + "a4" * 16]
    finally:
        w.stop_clean(wk)
        assert snd.stop() == 0
        ing.stop()
        twilio.stop()
        agent.stop()
        redis.stop()


if __name__ == "__main__":
    t.run([test_stop_refuses_replies_start_allows_them_help_changes_nothing])
