# SPDX-License-Identifier: MIT
"""tw-admin dead list|show|replay|drop against a real redis-server, and the documented replay
rules: an inbound dead letter goes back to <prefix>inbound (age budget restarted, its earlier
failed outcome no obstacle) unless its MessageSid was dispatched or skipped; an outbound one is
queued again unless Twilio created it, and an ambiguous (unknown) one goes back to reconciliation.
With the real worker and sender built, both replays end to end."""
import json
import subprocess
import time

from adminlib import Recorder, admin, admin_json, twtest

KEY = ("twilio:v1:account:%s:address:%%2B15557007007:participant:%%2B15551230001" % twtest.ACCOUNT)


def fields(flat):
    return dict(zip(flat[::2], flat[1::2]))


def dead_inbound(r, sid, received="1767225600000", reason="agent answered 400"):
    payload = json.dumps(dict(twtest.inbound_pairs(sid, body="help me")))
    return r("XADD", "tw:inbound:dead", "*", "payload", payload, "conversation_key", KEY,
             "received_at", received, "reason", reason, "attempts", "1",
             "failed_at", "1767225601000", "stream_id", "1767225600000-0", "consumer", "w1")


def test_list_show_drop():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        env = {"REDIS_URL": redis.url}
        ids = [dead_inbound(r, "SM%032x" % i) for i in range(3)]
        rc, doc, err = admin_json(["dead", "list", "inbound"], env)
        assert rc == 0, err
        assert doc["length"] == 3 and [e["id"] for e in doc["entries"]] == ids
        assert doc["entries"][0]["fields"]["payload"]["MessageSid"] == "SM%032x" % 0
        rc, doc, _ = admin_json(["dead", "list", "tw:inbound:dead", "--count", "2"], env)
        assert len(doc["entries"]) == 2 and doc["length"] == 3
        rc, out, _ = admin(["dead", "list", "inbound"], env)
        assert out.splitlines()[0] == "tw:inbound:dead: 3 dead letter(s)", out
        assert "%s  SM%032x  attempts 1  agent answered 400" % (ids[1], 1) in out, out
        rc, doc, _ = admin_json(["dead", "show", "inbound", ids[2]], env)
        assert rc == 0 and doc["fields"]["reason"] == "agent answered 400"
        assert doc["fields"]["payload"]["Body"] == "help me"
        rc, out, _ = admin(["dead", "show", "inbound", ids[2]], env)
        assert rc == 0 and "reason" in out and '"Body": "help me"' in out, out
        rc, out, err = admin(["dead", "drop", "inbound", ids[0]], env)
        assert rc == 0 and "dropped" in out, err
        assert r("XLEN", "tw:inbound:dead") == 2
        rc, _, err = admin(["dead", "drop", "inbound", ids[0]], env)
        assert rc == 1 and "no dead letter" in err, err
        rc, _, err = admin(["dead", "show", "inbound", ids[0]], env)
        assert rc == 1, err
        rc, _, err = admin(["dead", "show", "inbound", "not-an-id"], env)
        assert rc == 2, err
        rc, _, err = admin(["dead", "list", "elsewhere"], env)
        assert rc == 2 and "unknown stream" in err, err
        r.close()
    finally:
        redis.stop()


def test_replay_inbound_rules():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        env = {"REDIS_URL": redis.url}
        # 1. Failed before: its failed outcome does not block the replay.
        sid = "SM" + "a1" * 16
        r("HSET", "tw:outcome:" + sid, "outcome", "failed", "reason", "agent answered 400",
          "stream_id", "1767225600000-0", "attempts", "1")
        did = dead_inbound(r, sid)
        before = int(r("TIME")[0]) * 1000
        rc, doc, err = admin_json(["dead", "replay", "inbound", did], env)
        assert rc == 0 and doc["replayed"] is True and doc["message_sid"] == sid, (doc, err)
        (entry,) = r("XRANGE", "tw:inbound", "-", "+")
        assert entry[0] == doc["new_id"]
        f = fields(entry[1])
        assert json.loads(f["payload"])["MessageSid"] == sid and f["conversation_key"] == KEY
        assert int(f["received_at"]) >= before, "the age budget must start again"
        assert f["original_received_at"] == "1767225600000" and f["replayed_from"] == did
        for k in ("reason", "attempts", "failed_at", "stream_id", "consumer"):
            assert k not in f, k
        assert r("XLEN", "tw:inbound:dead") == 0
        # Replaying the same dead letter again: it is gone.
        rc, _, err = admin(["dead", "replay", "inbound", did], env)
        assert rc == 1 and "no dead letter" in err, err
        # 2. Dispatched (or skipped) already: refused, nothing changes.
        for outcome in ("dispatched", "skipped"):
            sid2 = "SM" + ("b2" if outcome == "dispatched" else "c3") * 16
            r("HSET", "tw:outcome:" + sid2, "outcome", outcome)
            did2 = dead_inbound(r, sid2)
            rc, doc, err = admin_json(["dead", "replay", "inbound", did2], env)
            assert rc == 1 and doc["replayed"] is False and doc["result"] == "done", doc
            assert outcome in err and "not dispatched twice" in err, err
            assert r("XLEN", "tw:inbound") == 1 and r("XRANGE", "tw:inbound:dead", did2, did2)
        # 3. No original entry in the dead letter (it had been trimmed): refused.
        did3 = r("XADD", "tw:inbound:dead", "*", "reason", "x", "stream_id", "1-0")
        rc, _, err = admin(["dead", "replay", "inbound", did3], env)
        assert rc == 1 and "no original entry" in err, err
        # 4. A replayed message that fails again and is replayed again keeps the first time.
        did4 = r("XADD", "tw:inbound:dead", "*", *entry[1], "reason", "again")
        rc, doc, _ = admin_json(["dead", "replay", "inbound", did4], env)
        assert rc == 0, doc
        f = fields(r("XRANGE", "tw:inbound", doc["new_id"], doc["new_id"])[0][1])
        assert f["original_received_at"] == "1767225600000" and f["replayed_from"] == did4
        r.close()
    finally:
        redis.stop()


def job(r, jid, state, **extra):
    r("HSET", "tw:job:" + jid, "id", jid, "state", state, "conversation_key", KEY, "body",
      "Echo: hi", "attempts", "3", "created_at", "1767225600000", "error_code", "21211",
      "error_message", "invalid To", "finished_at", "1767225609000",
      *[x for kv in extra.items() for x in kv])
    r("EXPIRE", "tw:job:" + jid, "604800")
    return r("XADD", "tw:outbound:dead", "*", "job_id", jid, "reason", "twilio_4xx",
             "state", state, "conversation_key", KEY, "attempts", "3")


def test_replay_outbound_rules():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        env = {"REDIS_URL": redis.url}
        # failed (a definite 4xx: nothing was created): queued again with a new budget
        did = job(r, "ob1", "failed")
        rc, doc, err = admin_json(["dead", "replay", "outbound", did], env)
        assert rc == 0 and doc["job_id"] == "ob1" and doc["state"] == "queued", (doc, err)
        j = fields(r("HGETALL", "tw:job:ob1"))
        assert j["state"] == "queued" and j["attempts"] == "0" and "error_code" not in j
        assert j["first_created_at"] == "1767225600000" and int(j["created_at"]) > 1767225600000
        assert j["stream_id"] == doc["new_id"] and r("TTL", "tw:job:ob1") == -1
        (entry,) = r("XRANGE", "tw:outbound", "-", "+")
        assert fields(entry[1]) == {"job_id": "ob1", "conversation_key": KEY}
        assert r("LRANGE", "tw:outq:" + KEY, "0", "-1") == ["ob1"]
        assert r("XLEN", "tw:outbound:dead") == 0
        # unknown (ambiguous): back to 'sending', attempt marker kept, so the sender reconciles
        did = job(r, "ob2", "unknown", attempt_at="1767225601000", attempt_token="t1")
        rc, doc, _ = admin_json(["dead", "replay", "outbound", did], env)
        assert rc == 0 and doc["state"] == "sending", doc
        j = fields(r("HGETALL", "tw:job:ob2"))
        assert j["state"] == "sending" and j["attempt_at"] == "1767225601000"
        assert r("LRANGE", "tw:outq:" + KEY, "0", "-1") == ["ob1", "ob2"]
        # created at Twilio: never twice
        did = job(r, "ob3", "sent", sid="SM" + "d4" * 16)
        rc, doc, err = admin_json(["dead", "replay", "outbound", did], env)
        assert rc == 1 and doc["result"] == "sent" and "not sent twice" in err, (doc, err)
        did = job(r, "ob4", "unknown", sid="SM" + "e5" * 16)
        rc, _, err = admin(["dead", "replay", "outbound", did], env)
        assert rc == 1 and "SM" + "e5" * 16 in err, err
        # already queued again (replayed twice through two dead letters): refused
        did = r("XADD", "tw:outbound:dead", "*", "job_id", "ob1", "reason", "x")
        rc, _, err = admin(["dead", "replay", "outbound", did], env)
        assert rc == 1 and "queued again already" in err, err
        # the job expired
        did = r("XADD", "tw:outbound:dead", "*", "job_id", "ob-gone", "reason", "x")
        rc, _, err = admin(["dead", "replay", "outbound", did], env)
        assert rc == 1 and "no longer exists" in err, err
        assert r("XLEN", "tw:outbound") == 2
        r.close()
    finally:
        redis.stop()


def test_status_replay_refused():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        did = r("XADD", "tw:status:dead", "*", "payload", "{}", "reason", "hook answered 500")
        rc, _, err = admin(["dead", "replay", "status", did], {"REDIS_URL": redis.url})
        assert rc == 1 and "hook" in err, err
        assert r("XLEN", "tw:status:dead") == 1
        rc, doc, _ = admin_json(["dead", "list", "status"], {"REDIS_URL": redis.url})
        assert rc == 0 and doc["length"] == 1
        r.close()
    finally:
        redis.stop()


def test_end_to_end_inbound_replay_dispatches_once():
    redis = twtest.RedisServer()
    agent = Recorder(400, b'{"error":"bad"}')
    port = twtest.free_port()
    env = twtest.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % twtest.free_port(), TW_AGENT="http",
                         TW_AGENT_URL="http://127.0.0.1:%d/agents/support" % agent.port,
                         TW_WORKER_ID="w1", TW_CLAIM_IDLE_MS="2000")
    ing = twtest.Proc("tw-ingress", env, port=port)
    wrk = twtest.Proc("tw-worker", env)
    try:
        r = redis.client()
        rc, doc, err = admin_json(["simulate", "inbound", "--from", "+15551230010", "--body",
                                   "please help"], env)
        assert rc == 0, (doc, err)
        sid = doc["message_sid"]
        twtest.wait_until(lambda: r("XLEN", "tw:inbound:dead") == 1, timeout=20, what="dead letter")
        assert len(agent.requests) == 1
        (dead,) = r("XRANGE", "tw:inbound:dead", "-", "+")
        agent.status, agent.body = 202, b'{"submissionId":"sub_replayed"}'
        rc, out, err = admin(["dead", "replay", "inbound", dead[0]], env)
        assert rc == 0 and sid in out, (out, err)

        def outcome():
            return r("HGET", "tw:outcome:" + sid, "outcome")
        twtest.wait_until(lambda: outcome() == "dispatched", timeout=20, what="dispatched")
        assert len(agent.requests) == 2
        assert agent.requests[1]["headers"]["idempotency-key"] == sid
        # The same message dead-lettered again by mistake: replay refused, no third dispatch.
        did = r("XADD", "tw:inbound:dead", "*", *dead[1])
        rc, _, err = admin(["dead", "replay", "inbound", did], env)
        assert rc == 1 and "dispatched" in err, err
        # And even the original entry appended behind tw-admin's back is not dispatched twice.
        original = []
        for k, v in fields(dead[1]).items():
            if k not in ("reason", "attempts", "failed_at", "stream_id", "consumer"):
                original += [k, v]
        r("XADD", "tw:inbound", "*", *original)
        time.sleep(1.5)
        assert len(agent.requests) == 2, agent.requests
        r.close()
    finally:
        wrk.stop()
        ing.stop()
        agent.stop()
        redis.stop()


def test_end_to_end_outbound_replay():
    redis = twtest.RedisServer()
    sport = twtest.free_port()
    standin = subprocess.Popen([twtest.binary("tw-twilio-standin"), "--port", str(sport),
                                "--account", twtest.ACCOUNT, "--token", twtest.TOKEN],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    twtest.wait_port(sport)
    env = twtest.run_env(REDIS_URL=redis.url, TWILIO_API_BASE="http://127.0.0.1:%d" % sport,
                         TW_SEND_MPS="0", TW_WORKER_ID="s1")
    snd = None
    try:
        st, _, _ = twtest.http(sport, "POST", "/_control/script", json.dumps(
            {"actions": [{"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"}]}))
        assert st == 200
        snd = twtest.Proc("tw-sender", env)
        r = redis.client()
        out = subprocess.run([twtest.binary("tw-test-enqueue"), redis.url, "tw:", KEY,
                              "reply one"], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        twtest.wait_until(lambda: r("XLEN", "tw:outbound:dead") == 1, timeout=20,
                          what="dead letter")
        (dead,) = r("XRANGE", "tw:outbound:dead", "-", "+")
        jid = fields(dead[1])["job_id"]
        rc, doc, err = admin_json(["dead", "replay", "outbound", dead[0]], env)
        assert rc == 0 and doc["job_id"] == jid, (doc, err)
        twtest.wait_until(lambda: r("HGET", "tw:job:" + jid, "state") == "sent", timeout=20,
                          what="sent")
        sid = r("HGET", "tw:job:" + jid, "sid")
        rc, doc, _ = admin_json(["message", sid], env)
        assert rc == 0 and doc["message"]["job"]["state"] == "sent", doc
        st, _, body = twtest.http(sport, "GET", "/_control/messages")
        assert len(json.loads(body)["messages"]) == 1
        # Sent now: a second replay (a stale copy of the dead letter) is refused.
        did = r("XADD", "tw:outbound:dead", "*", *dead[1])
        rc, _, err = admin(["dead", "replay", "outbound", did], env)
        assert rc == 1 and "not sent twice" in err, err
        r.close()
    finally:
        if snd:
            snd.stop()
        standin.terminate()
        standin.wait()
        redis.stop()


if __name__ == "__main__":
    twtest.run([test_list_show_drop, test_replay_inbound_rules, test_replay_outbound_rules,
                test_status_replay_refused, test_end_to_end_inbound_replay_dispatches_once,
                test_end_to_end_outbound_replay])
