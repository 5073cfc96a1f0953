# SPDX-License-Identifier: MIT
"""Found by the fault run: when Twilio creates a message and the connection then closes without
an answer, the create must be reconciled, never silently sent again. libcurl re-sends a request
by itself when a reused keep-alive connection dies before any answer byte; for a create that is
a second message. This pins the case down with one sender and the Twilio stand-in."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaoslib as c  # noqa: E402
from chaoslib import sendlib, t  # noqa: E402


def test_closed_after_create_on_a_reused_connection():
    redis = t.RedisServer()
    standin = sendlib.StandIn()
    sender = sendlib.start_sender(redis, standin)
    try:
        r = redis.client()
        key = c.conv_key(1)
        # a first job warms up the connection libcurl keeps for the next one
        [(_, first)] = sendlib.enqueue(redis.url, [(key, "warm-up")])
        sendlib.wait_state(r, first, ("sent",))
        # the next create is made, then the connection closes before the answer
        standin.script({"create": True, "close": True})
        [(_, job)] = sendlib.enqueue(redis.url, [(key, "only once")])
        j = sendlib.wait_state(r, job, ("sent", "unknown", "failed"), timeout=30)
        posted = [p for p in standin.creates() if dict(p["params"]).get("Body") == "only once"]
        made = [m for m in standin.created() if m["body"] == "only once"]
        assert len(made) == 1, "created %d times: %s" % (len(made), posted)
        assert j["state"] == "sent" and j["sid"] == made[0]["sid"], j
        assert j.get("reconciled") == "found", j
    finally:
        code = sender.stop()
        standin.stop()
        redis.stop()
    assert code == 0, sender.output()[-3000:]


if __name__ == "__main__":
    t.run([test_closed_after_create_on_a_reused_connection])
