# SPDX-License-Identifier: MIT
"""Redis killed and restarted (AOF, appendfsync always) in the middle of a run: every message the
ingress acknowledged reaches the agent once in effect, in order per conversation, and the
workers ride out the outage (backoff, no exit) and leave nothing pending."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402


def test_redis_restart_loses_nothing_acknowledged():
    redis = t.RedisServer(aof=True)
    agent = w.AgentStandIn()
    agent.default = dict(jitter=0.01)
    port = t.free_port()
    ing = t.Proc("tw-ingress", t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                                         TW_API_LISTEN="127.0.0.1:%d" % t.free_port()), port=port)
    workers = [w.start_worker(redis, agent.url, TW_WORKER_ID="r%d" % i, TW_CLAIM_IDLE_MS="1000",
                              TW_WORKER_CONCURRENCY="4") for i in range(2)]
    acked = {}  # conversation key -> sids the ingress answered 200 for, in order
    lock = threading.Lock()
    progress = [0]

    def sender(c):
        frm = "+1555100%04d" % c
        for m in range(12):
            sid = "SM%016d%016d" % (c + 100, m)
            pairs = t.inbound_pairs(sid, body="c%d m%d" % (c, m), frm=frm)
            end = time.time() + 30
            while time.time() < end:  # like Twilio's fallback: until someone says 200
                try:
                    s, _, _ = t.post_signed(port, pairs)
                except OSError:
                    s = 0
                if s == 200:
                    break
                time.sleep(0.05)
            assert s == 200, s
            with lock:
                acked.setdefault(w.conv_key(frm), []).append(sid)
                progress[0] += 1
            time.sleep(0.02)

    try:
        threads = [threading.Thread(target=sender, args=(c,)) for c in range(8)]
        for th in threads:
            th.start()
        t.wait_until(lambda: progress[0] >= 30, 30, what="traffic before the crash")
        redis.stop(signal.SIGKILL)  # no shutdown save: only the AOF brings data back
        time.sleep(1.5)
        redis.start()
        for th in threads:
            th.join()
        total = sum(len(v) for v in acked.values())
        assert total == 96
        t.wait_until(lambda: len(agent.admitted) >= total, 60, step=0.1, what="all admitted")
        r = redis.client()
        t.wait_until(lambda: w.pending(r) == 0, 20, what="nothing pending")
        assert sorted(agent.admissions) == sorted(s for v in acked.values() for s in v)
        firsts = {}
        for q in agent.snapshot():
            firsts.setdefault(q["key"], [])
            if q["sid"] not in firsts[q["key"]]:
                firsts[q["key"]].append(q["sid"])
        for key, sids in acked.items():
            assert firsts[key] == sids, (key, firsts[key], sids)
        for sids in acked.values():
            for s in sids:
                assert w.outcome(r, s).get("outcome") == "dispatched", s
        for p in workers:
            assert p.alive(), p.output()[-3000:]
            # an idle replica reconnects on its own backoff schedule: wait for it, bounded
            t.wait_until(lambda: "redis reconnected" in [l.get("msg") for l in w.log_lines(p)],
                         20, step=0.2, what="the replica's reconnection")
    finally:
        for p in workers:
            if p.alive():
                w.stop_clean(p)
        ing.stop()
        agent.stop()
        redis.stop()


if __name__ == "__main__":
    t.run([test_redis_restart_loses_nothing_acknowledged])
