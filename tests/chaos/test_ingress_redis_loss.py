# SPDX-License-Identifier: MIT
"""tw-ingress under Redis loss, with signed webhooks arriving all the time from several clients:
Redis killed with SIGKILL (AOF, appendfsync always) and restarted, then Redis frozen (SIGSTOP)
and thawed. Every request is answered, 200 or 503, within the bounded wait; every request
answered while Redis is gone gets 503, never 200; every 200 is stored; service resumes by itself
(no restart of the ingress)."""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaoslib as c  # noqa: E402
from chaoslib import t  # noqa: E402

CLIENTS = 12
# The ingress waits about 2 s for Redis per pipelined round trip; a request that arrives while
# one is in flight waits for it, then for its own: up to about 4 s while Redis is frozen.
ANSWER_BOUND_S = 5.0
RESUME_BOUND_S = 10.0  # after Redis is back, 200s come again within this without intervention


class Load:
    """CLIENTS threads posting signed inbound webhooks back to back, each with a new MessageSid;
    every answer recorded as (sent at, answered at, status, sid)."""

    def __init__(self, port):
        self.port = port
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.log = []
        self.n = 0
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(CLIENTS)]

    def start(self):
        for th in self.threads:
            th.start()

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join()

    def _run(self, i):
        k = 0
        while not self.stop_ev.is_set():
            k += 1
            sid = "SM%04x%028x" % (i, k)
            t0 = time.time()
            try:
                code = t.post_signed(self.port, t.inbound_pairs(sid, frm=c.participant(i)))[0]
            except OSError as e:
                code = "error: %s" % e
            with self.lock:
                self.log.append((t0, time.time(), code, sid))
            time.sleep(0.01)


def stored_sids(redis):
    r = redis.client()
    return {json.loads(dict(zip(f[0::2], f[1::2]))["payload"])["MessageSid"]
            for _, f in r("XRANGE", c.PREFIX + "inbound", "-", "+")}


def test_redis_killed_and_frozen():
    redis = t.RedisServer(aof=True)
    port = t.free_port()
    ing = t.Proc("tw-ingress", t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                                         TW_API_LISTEN="127.0.0.1:%d" % t.free_port(),
                                         LOG_LEVEL="warn"), port=port)
    load = Load(port)
    marks = {}
    ready = []
    try:
        load.start()
        time.sleep(3)
        marks["killed"] = time.time()
        redis.stop(signal.SIGKILL)
        time.sleep(1.0)
        ready.append(("down", t.http(port, "GET", "/readyz")[0]))
        time.sleep(3.0)
        marks["restarting"] = time.time()
        redis.start()
        marks["restarted"] = time.time()
        time.sleep(RESUME_BOUND_S)
        ready.append(("back", t.http(port, "GET", "/readyz")[0]))
        marks["frozen"] = time.time()
        redis.proc.send_signal(signal.SIGSTOP)
        time.sleep(8.0)
        marks["thawing"] = time.time()
        redis.proc.send_signal(signal.SIGCONT)
        time.sleep(RESUME_BOUND_S)
        marks["end"] = time.time()
        load.stop()
        alive = ing.alive()
        stored = stored_sids(redis)
    finally:
        load.stop_ev.set()
        if redis.proc:
            redis.proc.send_signal(signal.SIGCONT)
        code = ing.stop()
        out = ing.output()
        redis.stop()

    log = load.log
    codes = {}
    for _, _, st, _ in log:
        codes[st] = codes.get(st, 0) + 1
    gone = [x for x in log if marks["killed"] + 0.2 < x[0] and x[1] < marks["restarting"]]
    frozen = [x for x in log if marks["frozen"] + 0.2 < x[0] and x[1] < marks["thawing"]]
    ok = [x for x in log if x[2] == 200]
    first_back = min((x[1] for x in ok if x[0] > marks["restarted"]), default=None)
    first_thawed = min((x[1] for x in ok if x[0] > marks["thawing"]), default=None)
    slowest = max(x[1] - x[0] for x in log)
    print("  requests %d: %s; slowest answer %.2f s" % (len(log), codes, slowest))
    print("  while killed: %d requests, %s" % (len(gone), sorted({x[2] for x in gone}, key=str)))
    print("  while frozen: %d requests, %s" % (len(frozen), sorted({x[2] for x in frozen},
                                                                 key=str)))
    print("  first 200 after restart: %.2f s; after thaw: %.2f s" % (
        (first_back or 0) - marks["restarted"], (first_thawed or 0) - marks["thawing"]))
    assert alive and code == 0, out[-3000:]
    assert "Sanitizer" not in out, out[-3000:]
    assert set(codes) <= {200, 503}, codes
    assert gone and all(x[2] == 503 for x in gone), "a 200 while Redis was gone"
    assert frozen and all(x[2] == 503 for x in frozen), "a 200 while Redis was frozen"
    assert slowest < ANSWER_BOUND_S, slowest
    missing = [x[3] for x in ok if x[3] not in stored]
    assert not missing, "answered 200, not stored: %s" % missing[:5]
    assert first_back and first_back - marks["restarted"] < RESUME_BOUND_S
    assert first_thawed and first_thawed - marks["thawing"] < RESUME_BOUND_S
    # at the end every client is served again
    tail = [x for x in log if x[0] > marks["end"] - 2.0]
    assert tail and all(x[2] == 200 for x in tail), [x[2] for x in tail]
    assert ready == [("down", 503), ("back", 200)], ready


if __name__ == "__main__":
    t.run([test_redis_killed_and_frozen])
