# SPDX-License-Identifier: MIT
"""Found by the agent-outage run: a message waiting out its retry delay, reclaimed from a worker
killed with SIGKILL, must keep waiting until its recorded next_attempt_at. Otherwise every crash
or restart of a replica during an agent outage costs an immediate extra attempt, and the attempt
budget (TW_MAX_ATTEMPTS) runs out long before the outage ends: the message is dead-lettered."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "worker"))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402

RETRY_AFTER_S = 8


def test_reclaimed_entry_keeps_its_retry_time():
    redis = t.RedisServer()
    agent = w.AgentStandIn()
    first = second = None
    try:
        r = redis.client()
        sid = "SM" + "e" * 32
        agent.push(dict(status=503, retry_after=str(RETRY_AFTER_S)), sid=sid)
        first = w.start_worker(redis, agent.url)
        w.xadd_inbound(r, sid)
        agent.wait_requests(1, sid=sid)
        next_at = t.wait_until(lambda: w.outcome(r, sid).get("next_attempt_at"), 5,
                               what="the retry to be recorded")
        first.kill9()
        second = w.start_worker(redis, agent.url)
        got = agent.wait_requests(2, timeout=RETRY_AFTER_S + 10, sid=sid)
        took = got[1]["t"] - got[0]["t"]
        assert got[1]["t"] * 1000 >= int(next_at) - 200, (
            "retried %.1f s after the first attempt, %d s were asked for" % (took, RETRY_AFTER_S))
        done = t.wait_until(lambda: w.outcome(r, sid).get("outcome"), 10, what="the outcome")
        assert done == "dispatched", w.outcome(r, sid)
        assert w.outcome(r, sid)["attempts"] == "2", w.outcome(r, sid)
    finally:
        for p in (first, second):
            if p:
                p.stop()
        agent.stop()
        redis.stop()


if __name__ == "__main__":
    t.run([test_reclaimed_entry_keeps_its_retry_time])
