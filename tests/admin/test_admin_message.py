# SPDX-License-Identifier: MIT
"""tw-admin message <MessageSid> against a real redis-server: the status record and its history,
the worker's outcome, the inbound entry (in the stream or among the dead letters), the send job
and the conversation; unknown sids exit 1. Records are laid out as the programs write them
(common/status.h, common/keys.h); with the real programs built, one message end to end."""
import json
import os
import time

from adminlib import Recorder, admin, admin_json, twtest

SID = "SM" + "1f" * 16
KEY = ("twilio:v1:account:%s:address:%%2B15557007007:participant:%%2B15551230001" % twtest.ACCOUNT)


def inbound_entry(r, sid=SID, stream="tw:inbound", extra=()):
    payload = json.dumps(dict(twtest.inbound_pairs(sid, body="where is my order?")))
    conv = json.dumps({"type": "address", "accountSid": twtest.ACCOUNT,
                       "address": twtest.NUMBER, "participant": "+15551230001"})
    return r("XADD", stream, "*", "payload", payload, "conversation", conv,
             "conversation_key", KEY, "received_at", "1767225600000", *extra)


def test_inbound_message_with_outcome():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        eid = inbound_entry(r)
        r("HSET", "tw:outcome:" + SID, "outcome", "dispatched", "receipt", "sub_42",
          "attempts", "2", "stream_id", eid, "conversation_key", KEY,
          "finished_at", "1767225601000")
        rc, doc, err = admin_json(["message", SID], {"REDIS_URL": redis.url})
        assert rc == 0 and doc["found"] is True, (doc, err)
        m = doc["message"]
        assert m["outcome"]["outcome"] == "dispatched" and m["outcome"]["receipt"] == "sub_42"
        assert m["entry"]["id"] == eid and m["entry"]["stream"] == "tw:inbound"
        assert m["entry"]["fields"]["payload"]["Body"] == "where is my order?"
        assert m["conversation"]["key"] == KEY
        assert m["conversation"]["parts"]["participant"] == "+15551230001"
        assert "status" not in m and m["history"] == []
        rc, out, err = admin(["message", SID], {"REDIS_URL": redis.url})
        assert rc == 0, err
        assert "outcome       dispatched, receipt sub_42 (attempts 2" in out, out
        assert "entry         %s in tw:inbound" % eid in out, out
        assert "participant +15551230001" in out, out
        r.close()
    finally:
        redis.stop()


def test_sent_message_status_history_and_job():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        sid = "SM" + "2e" * 16
        r("HSET", "tw:msg:" + sid, "status", "delivered", "rank", "8", "updated_at",
          "1767225605000", "error_code", "", "error_message", "", "from", twtest.NUMBER,
          "to", "+15551230001", "conversation_key", KEY, "job_id", "ob0001")
        for st, at, moved in (("queued", 1767225600000, True), ("sent", 1767225602000, True),
                              ("delivered", 1767225605000, True)):
            r("RPUSH", "tw:msg:%s:history" % sid, json.dumps({"status": st, "at": at,
                                                              "moved": moved}))
        r("HSET", "tw:job:ob0001", "id", "ob0001", "state", "sent", "sid", sid, "attempts", "1",
          "conversation_key", KEY, "body", "Echo: hi")
        rc, doc, err = admin_json(["message", sid], {"REDIS_URL": redis.url})
        assert rc == 0, err
        m = doc["message"]
        assert m["status"]["status"] == "delivered"
        assert [h["status"] for h in m["history"]] == ["queued", "sent", "delivered"]
        assert m["job"]["state"] == "sent" and m["job"]["sid"] == sid
        assert "outcome" not in m
        rc, out, _ = admin(["message", sid], {"REDIS_URL": redis.url})
        assert "status        delivered (updated 2026-01-01T00:00:05.000Z)" in out, out
        assert "send job      ob0001: sent" in out, out
        lines = [l for l in out.splitlines() if "2026-01-01T00:00:0" in l and "updated" not in l]
        assert len(lines) == 3 and lines[0].split()[-1] == "queued", out
        r.close()
    finally:
        redis.stop()


def test_failed_message_found_among_dead_letters():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        eid = inbound_entry(r)
        r("XADD", "tw:inbound:dead", "*", "payload", "{}", "reason", "agent answered 400",
          "attempts", "1", "stream_id", eid)
        r("XDEL", "tw:inbound", eid)  # trimmed from the stream once acknowledged
        r("HSET", "tw:outcome:" + SID, "outcome", "failed", "reason", "agent answered 400",
          "attempts", "1", "stream_id", eid)
        rc, doc, err = admin_json(["message", SID], {"REDIS_URL": redis.url})
        assert rc == 0, err
        e = doc["message"]["entry"]
        assert e["stream"] == "tw:inbound:dead" and e["fields"]["reason"] == "agent answered 400"
        r.close()
    finally:
        redis.stop()


def test_unknown_sid_exits_1():
    redis = twtest.RedisServer()
    try:
        rc, out, err = admin(["message", "SM" + "00" * 16], {"REDIS_URL": redis.url})
        assert rc == 1 and "no record" in err and out == "", (rc, out, err)
        rc, doc, _ = admin_json(["message", "SM" + "00" * 16], {"REDIS_URL": redis.url})
        assert rc == 1 and doc["found"] is False
        rc, _, _ = admin(["message"], {"REDIS_URL": redis.url})
        assert rc == 2
    finally:
        redis.stop()


def test_end_to_end_inbound_dispatched():
    redis = twtest.RedisServer()
    agent = Recorder(202, b'{"submissionId":"sub_e2e"}')
    port = twtest.free_port()
    env = twtest.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % twtest.free_port(), TW_AGENT="http",
                         TW_AGENT_URL="http://127.0.0.1:%d/agents/support" % agent.port,
                         TW_WORKER_ID="w1", TW_CLAIM_IDLE_MS="2000")
    ing = twtest.Proc("tw-ingress", env, port=port)
    wrk = twtest.Proc("tw-worker", env)
    try:
        rc, doc, err = admin_json(["simulate", "inbound", "--from", "+15551230009", "--body",
                                   "end to end"], env)
        assert rc == 0, (doc, err)
        sid = doc["message_sid"]

        def dispatched():
            rc, d, _ = admin_json(["message", sid], env)
            return d if rc == 0 and d["message"].get("outcome", {}).get("outcome") == "dispatched" else None
        d = twtest.wait_until(dispatched, timeout=20, what="dispatched")["message"]
        assert d["outcome"]["receipt"] == "sub_e2e", d
        assert d["conversation"]["parts"]["participant"] == "+15551230009"
        assert len(agent.requests) == 1
    finally:
        wrk.stop()
        ing.stop()
        agent.stop()
        redis.stop()


if __name__ == "__main__":
    twtest.run([test_inbound_message_with_outcome, test_sent_message_status_history_and_job,
                test_failed_message_found_among_dead_letters, test_unknown_sid_exits_1,
                test_end_to_end_inbound_dispatched])
