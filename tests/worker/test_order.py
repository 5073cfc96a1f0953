# SPDX-License-Identifier: MIT
"""Per-conversation order across replicas and effects once through crashes, end to end: signed
webhooks into the real tw-ingress, several real tw-worker processes, the agent stand-in."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402

redis = None
agent = None


def setup():
    global redis, agent
    redis = t.RedisServer()
    agent = w.AgentStandIn()


def teardown():
    if agent:
        agent.stop()
    if redis:
        redis.stop()


def fresh():
    redis.client()("FLUSHALL")
    agent.reset()


def start_ingress():
    p = t.free_port()
    env = t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % p,
                    TW_API_LISTEN="127.0.0.1:%d" % t.free_port())
    return t.Proc("tw-ingress", env, port=p)


def post(port, sid, frm, body):
    s, _, _ = t.post_signed(port, t.inbound_pairs(sid, body=body, frm=frm))
    assert s == 200, s


def dispatched_by(proc):
    return [l["message_sid"] for l in w.log_lines(proc) if l.get("msg") == "dispatched"]


def test_order_200_messages_20_conversations_4_workers():
    fresh()
    agent.default = dict(jitter=0.02)  # answers take 0-20 ms: a wrong design would reorder
    ing = start_ingress()
    workers = [w.start_worker(redis, agent.url, TW_WORKER_ID="w%d" % i,
                              TW_WORKER_CONCURRENCY="4") for i in range(4)]
    try:
        expected = {}
        # 20 senders post concurrently, each its own conversation in its own order
        def sender(c):
            frm = "+1555000%04d" % c
            for m in range(10):
                sid = "SM%016d%016d" % (c, m)
                post(ing.port, sid, frm, "c%d m%d" % (c, m))
                expected.setdefault(w.conv_key(frm), []).append(sid)
        threads = [threading.Thread(target=sender, args=(c,)) for c in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        t.wait_until(lambda: len(agent.admitted) == 200, 60, step=0.1, what="200 admissions")
        time.sleep(0.3)  # anything extra would show up now
        reqs = agent.snapshot()
        assert len(reqs) == 200, "requests %d (a message went twice)" % len(reqs)
        seen = {}
        for q in reqs:
            seen.setdefault(q["key"], []).append(q["sid"])
        assert len(seen) == 20
        for key, sids in expected.items():
            assert seen[key] == sids, (key, seen[key], sids)
        r = redis.client()
        t.wait_until(lambda: w.pending(r) == 0, 10, what="all acknowledged")
        outs = [w.outcome(r, s) for sids in expected.values() for s in sids]
        assert all(o["outcome"] == "dispatched" and o["attempts"] == "1" for o in outs)
        counts = [len(dispatched_by(p)) for p in workers]
        assert sum(counts) == 200 and sum(1 for c in counts if c) >= 2, counts
        left = r("KEYS", "tw:inq:*")
        assert left == [], [(k, r("LRANGE", k, 0, -1)) for k in left]  # every list emptied, removed
    finally:
        for p in workers:
            w.stop_clean(p)
        ing.stop()


def holder(r, stream_id):
    for eid, consumer, _, _ in r("XPENDING", "tw:inbound", "workers", "-", "+", 100):
        if eid == stream_id:
            return consumer
    return None


def test_kill9_mid_dispatch_reclaimed_and_dispatched_once():
    fresh()
    r = redis.client()
    x, y = "SM" + "71" * 16, "SM" + "72" * 16
    agent.push(dict(stall=True), sid=x)  # admitted, but the answer never reaches the worker
    workers = {n: w.start_worker(redis, agent.url, TW_WORKER_ID=n, TW_CLAIM_IDLE_MS="1000")
               for n in ("wa", "wb")}
    try:
        ex = w.xadd_inbound(r, x, body="first")
        w.xadd_inbound(r, y, body="second")  # same conversation: must wait for x
        agent.wait_requests(1, sid=x)
        victim = holder(r, ex)
        assert victim in workers, victim
        workers[victim].kill9()
        survivor = workers["wb" if victim == "wa" else "wa"]
        o = t.wait_until(lambda: w.outcome(r, y).get("outcome") and w.outcome(r, x), 20,
                         what="both outcomes")
        assert o["outcome"] == "dispatched" and o["receipt"] == "sub-1", o
        reqs = agent.snapshot()
        xs = [q["n"] for q in reqs if q["sid"] == x]
        ys = [q["n"] for q in reqs if q["sid"] == y]
        assert len(xs) == 2, xs  # dispatched again after the reclaim ...
        assert agent.admissions == [x, y]  # ... and admitted once: same Idempotency-Key
        assert len(ys) == 1 and ys[0] > xs[1], (xs, ys)  # order held through the reclaim
        assert w.outcome(r, y)["outcome"] == "dispatched"
        assert any(l.get("msg") == "reclaimed idle entries" for l in w.log_lines(survivor))
        t.wait_until(lambda: w.pending(r) == 0, 10, what="all acknowledged")
    finally:
        agent.release()
        for p in workers.values():
            if p.alive():
                w.stop_clean(p)
            else:
                p.stop()


def test_slow_dispatch_keeps_its_claim():
    fresh()
    r = redis.client()
    sid = "SM" + "73" * 16
    agent.push(dict(delay=2.5), sid=sid)  # five times TW_CLAIM_IDLE_MS
    workers = [w.start_worker(redis, agent.url, TW_WORKER_ID="s%d" % i, TW_CLAIM_IDLE_MS="500")
               for i in range(2)]
    try:
        w.xadd_inbound(r, sid)
        o = t.wait_until(lambda: w.outcome(r, sid).get("outcome") and w.outcome(r, sid), 20,
                         what="outcome")
        assert o["outcome"] == "dispatched" and o["attempts"] == "1", o
        time.sleep(0.6)
        assert len(agent.snapshot()) == 1
        for p in workers:
            assert not any(l.get("msg", "").startswith("reclaimed") or
                           l.get("msg", "").startswith("claim lost") for l in w.log_lines(p))
    finally:
        for p in workers:
            w.stop_clean(p)


def test_stalled_worker_loses_claim_and_its_late_result_is_dropped():
    """A worker that stops answering (SIGSTOP) past TW_CLAIM_IDLE_MS: another one takes over;
    when the first wakes up its late result must not record a second outcome (the fence)."""
    fresh()
    r = redis.client()
    sid = "SM" + "74" * 16
    agent.push(dict(delay=1.5), dict(status=202), sid=sid)
    a = w.start_worker(redis, agent.url, TW_WORKER_ID="fa", TW_CLAIM_IDLE_MS="400")
    b = None
    try:
        eid = w.xadd_inbound(r, sid)
        agent.wait_requests(1, sid=sid)
        a.proc.send_signal(signal.SIGSTOP)  # SIGSTOP: alive, but silent
        b = w.start_worker(redis, agent.url, TW_WORKER_ID="fb", TW_CLAIM_IDLE_MS="400")
        o = t.wait_until(lambda: w.outcome(r, sid).get("outcome") and w.outcome(r, sid), 20,
                         what="outcome by fb")
        assert o["consumer"] == "fb" and o["attempts"] == "2", o
        a.proc.send_signal(signal.SIGCONT)  # SIGCONT: its answer (1.5 s) arrives late
        t.wait_until(lambda: any(l.get("msg", "") in ("claim lost; result dropped",
                                                      "a newer attempt exists; result dropped",
                                                      "claim lost to another consumer")
                                 for l in w.log_lines(a)), 10, what="fa notices")
        assert w.outcome(r, sid) == o
        assert holder(r, eid) is None
        assert agent.admissions == [sid]
    finally:
        for p in (a, b):
            if p:
                w.stop_clean(p)


def test_end_to_end_messaging_body_through_ingress():
    fresh()
    ing = start_ingress()
    wk = w.start_worker(redis, agent.url)
    try:
        sid = "SM" + "75" * 16
        post(ing.port, sid, "+15551230077", "über + 100% <ok> & more")
        q = agent.wait_requests(1, sid=sid)[0]
        assert q["body"]["body"] == "über + 100% <ok> & more"
        assert q["key"] == w.conv_key("+15551230077")
        assert q["body"]["attributes"]["numMedia"] == "0"
    finally:
        w.stop_clean(wk)
        ing.stop()


if __name__ == "__main__":
    setup()
    try:
        t.run([test_order_200_messages_20_conversations_4_workers,
               test_kill9_mid_dispatch_reclaimed_and_dispatched_once,
               test_slow_dispatch_keeps_its_claim,
               test_stalled_worker_loses_claim_and_its_late_result_is_dropped,
               test_end_to_end_messaging_body_through_ingress])
    finally:
        teardown()
