# SPDX-License-Identifier: MIT
"""Delivery-status callbacks through tw-worker's status consumer: duplicated and shuffled
callbacks end in the right current status and history, end to end through tw-ingress too, and
TW_STATUS_HOOK_URL receives each transition once in effect, with retries and dead letters."""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402

redis = None
hook = None


def setup():
    global redis, hook
    redis = t.RedisServer()
    hook = w.AgentStandIn()


def teardown():
    if hook:
        hook.stop()
    if redis:
        redis.stop()


def fresh():
    redis.client()("FLUSHALL")
    hook.reset()


def msg(r, sid):
    return w.hgetall(r, "tw:msg:" + sid)


def history(r, sid):
    return [json.loads(x) for x in r("LRANGE", "tw:msg:%s:history" % sid, 0, -1)]


def settled(r):
    """Every status entry read and acknowledged."""
    if r("XLEN", "tw:status") == 0:
        return False
    groups = r("XINFO", "GROUPS", "tw:status")
    if not groups:  # the worker has not created its group yet (slow under valgrind)
        return False
    info = dict(zip(groups[0][0::2], groups[0][1::2]))
    return info["pending"] == 0 and info["lag"] == 0


# (name, events in arrival order, shuffle?, final status, final error_code, distinct history)
CASES = [
    ("in order", ["queued", "sending", "sent", "delivered"], True, "delivered", "",
     ["queued", "sending", "sent", "delivered"]),
    ("read wins", ["sent", "delivered", "read"], True, "read", "", ["sent", "delivered", "read"]),
    ("failed then delivered", ["queued", "failed:30008", "delivered"], False, "failed", "30008",
     ["queued", "failed", "delivered"]),
    ("undelivered then delivered", ["sent", "undelivered:30003", "delivered"], False,
     "delivered", "", ["sent", "undelivered", "delivered"]),
    ("late sent after delivered", ["queued", "delivered", "sent"], False, "delivered", "",
     ["queued", "delivered", "sent"]),
    ("unknown status", ["queued", "teleported", "sent"], True, "sent", "",
     ["queued", "teleported", "sent"]),
    ("canceled is final", ["scheduled", "canceled", "queued"], False, "canceled", "",
     ["scheduled", "canceled", "queued"]),
]


def test_duplicated_and_shuffled_callbacks():
    fresh()
    r = redis.client()
    rnd = random.Random(7)
    wk = w.start_worker(redis, "http://127.0.0.1:9/agents", TW_WORKER_CONCURRENCY="4")
    try:
        for round_ in range(3):
            for i, (name, events, shuffle, final, code, hist) in enumerate(CASES):
                sid = "SM%030d%02d" % (round_, i)
                seq = []
                for e in events:  # every callback delivered twice, or three times
                    seq += [e] * rnd.choice((2, 3))
                if shuffle:
                    rnd.shuffle(seq)
                else:  # keep the order that matters, shuffle the copies around it
                    seq = sorted(seq, key=lambda e: events.index(e))
                for e in seq:
                    st, _, ec = e.partition(":")
                    w.xadd_status(r, sid, st, error_code=ec or None)
        t.wait_until(lambda: settled(r), 20, what="every callback applied")
        for round_ in range(3):
            for i, (name, events, shuffle, final, code, hist) in enumerate(CASES):
                sid = "SM%030d%02d" % (round_, i)
                m = msg(r, sid)
                assert m.get("status") == final, (name, m)
                assert m.get("error_code") == code, (name, m)
                h = history(r, sid)
                got = [x["status"] for x in h]
                if shuffle:
                    assert sorted(got) == sorted(hist), (name, got)
                else:
                    assert got == hist, (name, got)
                assert len(got) == len(set(got)), (name, got)  # one entry per distinct status
                assert m["from"] == t.NUMBER and m["to"] == "+15551230001"
                assert m["conversation_key"] == w.conv_key("+15551230001", t.NUMBER)
    finally:
        w.stop_clean(wk)


def test_status_callbacks_through_the_ingress():
    fresh()
    r = redis.client()
    port = t.free_port()
    ing = t.Proc("tw-ingress", t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                                         TW_API_LISTEN="127.0.0.1:%d" % t.free_port()), port=port)
    wk = w.start_worker(redis, "http://127.0.0.1:9/agents")
    try:
        sid = "SM" + "81" * 16
        def cb(status, token, code=None):
            pairs = [("MessageSid", sid), ("AccountSid", t.ACCOUNT), ("MessageStatus", status),
                     ("From", t.NUMBER), ("To", "+15551230001")]
            if code:
                pairs.append(("ErrorCode", code))
            s, _, _ = t.post_signed(port, pairs, url=t.STATUS_URL, path="/channels/twilio/status",
                                    headers={"I-Twilio-Idempotency-Token": token})
            assert s == 200
        # Twilio retried some callbacks (new tokens: the ingress stores them again)
        cb("sent", "t1")
        cb("undelivered", "t2", "30003")
        cb("sent", "t3")
        cb("delivered", "t4")
        cb("undelivered", "t5", "30003")
        t.wait_until(lambda: settled(r) and r("XLEN", "tw:status") == 5, 10, what="applied")
        m = msg(r, sid)
        assert m["status"] == "delivered" and m["error_code"] == "", m
        assert m["conversation_key"] == w.conv_key("+15551230001", t.NUMBER)
        assert [x["status"] for x in history(r, sid)] == ["sent", "undelivered", "delivered"]
        assert [x["moved"] for x in history(r, sid)] == [True, True, True]
    finally:
        w.stop_clean(wk)
        ing.stop()


def test_hook_gets_each_transition():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, "http://127.0.0.1:9/agents", TW_STATUS_HOOK_URL=hook.url + "/hook")
    try:
        sid = "SM" + "82" * 16
        for st in ["queued", "sent", "queued", "delivered", "sent", "weird"]:
            w.xadd_status(r, sid, st)
        t.wait_until(lambda: settled(r), 10, what="applied")
        time.sleep(0.2)
        reqs = hook.snapshot()
        assert [q["body"]["status"] for q in reqs] == ["queued", "sent", "delivered"], reqs
        b = reqs[-1]["body"]
        assert b["message_sid"] == sid and b["from"] == t.NUMBER and b["to"] == "+15551230001"
        assert b["conversation_key"] == w.conv_key("+15551230001", t.NUMBER)
        assert b["error_code"] is None and isinstance(b["at"], int) and b["stream_id"]
        assert [q["body"]["rank"] for q in reqs] == [3, 5, 8]
        assert reqs[-1]["headers"]["idempotency-key"] == sid + ":delivered"
        assert reqs[-1]["headers"]["content-type"] == "application/json"
    finally:
        w.stop_clean(wk)


def test_hook_retried_then_dead_lettered():
    fresh()
    r = redis.client()
    ok_sid, bad_sid = "SM" + "83" * 16, "SM" + "84" * 16
    hook.push(dict(status=503), sid=ok_sid + ":sent")
    hook.push(dict(status=400, body="no"), sid=bad_sid + ":sent")
    wk = w.start_worker(redis, "http://127.0.0.1:9/agents", TW_STATUS_HOOK_URL=hook.url + "/hook")
    try:
        w.xadd_status(r, ok_sid, "sent")
        w.xadd_status(r, bad_sid, "sent", error_code=None)
        dead = t.wait_until(lambda: w.stream(r, "status:dead"), 10, what="dead letter")
        assert len(dead) == 1 and "400" in dead[0]["reason"], dead
        assert json.loads(dead[0]["payload"])["MessageSid"] == bad_sid
        assert dead[0]["stream_id"] and dead[0]["attempts"] == "1"
        t.wait_until(lambda: len([q for q in hook.snapshot() if q["sid"] == ok_sid + ":sent"])
                     == 2, 10, what="hook retried")
        t.wait_until(lambda: w.pending(r, "status", "status") == 0, 10, what="acknowledged")
        assert msg(r, bad_sid)["status"] == "sent"  # the status itself was applied
    finally:
        w.stop_clean(wk)


def test_hook_redone_after_a_crash_between_apply_and_hook():
    fresh()
    r = redis.client()
    sid = "SM" + "85" * 16
    hook.push(dict(stall=True), sid=sid + ":delivered")
    a = w.start_worker(redis, "http://127.0.0.1:9/agents", TW_STATUS_HOOK_URL=hook.url + "/hook",
                       TW_WORKER_ID="ha", TW_CLAIM_IDLE_MS="500")
    b = None
    try:
        w.xadd_status(r, sid, "delivered")
        hook.wait_requests(1, sid=sid + ":delivered")
        assert msg(r, sid)["status"] == "delivered"  # applied, hook in flight
        a.kill9()
        b = w.start_worker(redis, "http://127.0.0.1:9/agents",
                           TW_STATUS_HOOK_URL=hook.url + "/hook", TW_WORKER_ID="hb",
                           TW_CLAIM_IDLE_MS="500")
        hook.wait_requests(2, sid=sid + ":delivered")  # reclaimed: a duplicate, hooked again
        t.wait_until(lambda: w.pending(r, "status", "status") == 0, 10, what="acknowledged")
        assert [x["status"] for x in history(r, sid)] == ["delivered"]
    finally:
        hook.release()
        a.stop()
        if b:
            w.stop_clean(b)


if __name__ == "__main__":
    setup()
    try:
        t.run([test_duplicated_and_shuffled_callbacks, test_status_callbacks_through_the_ingress,
               test_hook_gets_each_transition, test_hook_retried_then_dead_lettered,
               test_hook_redone_after_a_crash_between_apply_and_hook])
    finally:
        teardown()
