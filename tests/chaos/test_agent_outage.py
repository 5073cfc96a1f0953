# SPDX-License-Identifier: MIT
"""The agent endpoint (TW_AGENT=http, the Flue contract) down for 30 s in the middle of a run,
connections refused, while a worker is killed with SIGKILL every few seconds: the messages wait,
nothing is dead-lettered, and after the agent returns every acknowledged message is admitted
exactly once, each conversation's in the order it was acknowledged."""
import collections
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standins"))
import chaoslib as c  # noqa: E402
from agent import AgentStandIn  # noqa: E402
from chaoslib import t  # noqa: E402

N_CONV, PER_CONV, DURATION = (20, 20, 50.0) if c.LONG else (10, 15, 40.0)
DOWN_AT, DOWN_FOR = 5.0, 30.0
SETTLE_S = 150.0  # retries back off: the next one may come a minute after the agent is back


class Agent:
    """The agent stand-in, which can go away (its port refuses connections) and come back on
    the same port with its idempotency records, as a real agent's store would survive."""

    def __init__(self):
        self.old = []
        self.conns = []
        self.cur = self._track(AgentStandIn())
        self.cur.default = dict(jitter=0.05)  # admit, answer within 0-50 ms
        self.port, self.url = self.cur.port, self.cur.url

    def _track(self, a):
        """Keeps the accepted sockets, so that going down also cuts keep-alive connections."""
        orig = a.server.process_request

        def process_request(request, addr):
            self.conns.append(request)
            orig(request, addr)
        a.server.process_request = process_request
        return a

    def down(self):
        self.cur.stop()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []
        self.old.append(self.cur)
        self.cur = None

    def up(self):
        prev = self.old[-1]
        self.cur = self._track(AgentStandIn(self.port))
        self.cur.default = dict(prev.default)
        with prev.lock:
            self.cur.admitted = dict(prev.admitted)
            self.cur.admissions = list(prev.admissions)

    def requests(self):
        out = []
        for a in self.old + ([self.cur] if self.cur else []):
            out += a.snapshot()
        return out

    def stop(self):
        if self.cur:
            self.cur.stop()


def test_agent_down_30s():
    start = time.time()
    agent = Agent()
    pipe = c.Pipeline(workers=3, senders=0, agent="http", agent_url=agent.url, standin=False)
    bad = None
    timeline = {}
    try:
        drv = c.Driver(pipe.port, N_CONV, PER_CONV, DURATION)
        faults = c.Faults(pipe, every=(3.0, 5.0))

        def outage():
            time.sleep(DOWN_AT)
            timeline["down"] = time.time()
            agent.down()
            time.sleep(DOWN_FOR)
            agent.up()
            timeline["up"] = time.time()

        th = threading.Thread(target=outage)
        faults.start()
        drv.start()
        th.start()
        drv.join()
        th.join()
        faults.stop()
        r = pipe.client()
        acked = drv.acked()

        def settled():
            return all(r("HGET", c.PREFIX + "outcome:" + s, "outcome") for s in acked)
        try:
            t.wait_until(settled, SETTLE_S, step=1.0, what="every message to be dispatched")
        except AssertionError:
            pass  # counted below
        settled_at = time.time()

        reqs = agent.requests()
        admissions = agent.cur.admissions
        admitted = agent.cur.admitted
        during = [q for q in reqs if timeline["down"] + 0.5 < q["t"] < timeline["up"]]
        tries = collections.Counter(q["sid"] for q in reqs)
        problems, n = [], collections.Counter()
        order = {s: i for i, s in enumerate(admissions)}
        per_conv = collections.defaultdict(list)
        for sid, m in acked.items():
            o = c.hgetall(r, c.PREFIX + "outcome:" + sid)
            if o.get("outcome") != "dispatched":
                problems.append("%s: outcome %r" % (sid, o))
                n["lost"] += 1
                continue
            n["dispatched"] += 1
            if o.get("receipt") != admitted.get(sid):
                problems.append("%s: receipt %s, agent %s" % (sid, o.get("receipt"),
                                                             admitted.get(sid)))
            if int(o.get("attempts", "1")) > 1:
                n["dispatch attempts > 1"] += 1
            if int(o["finished_at"]) / 1000.0 >= timeline["up"]:
                n["dispatched after the agent returned"] += 1
            per_conv[m["conv"]].append((m["seq"], order[sid]))
        for conv, items in per_conv.items():
            items.sort()
            if [i for _, i in items] != sorted(i for _, i in items):
                problems.append("conversation %d admitted out of order: %s" % (conv, items))
                n["order violations"] += 1
        n["admissions"] = len(admissions)
        dups = len(admissions) - len(set(admissions))
        dead = c.stream(r, "inbound:dead")
        rows = [("sent (messages)", len(drv.messages)), ("acknowledged", len(acked)),
                ("dispatched", n["dispatched"]), ("agent requests", len(reqs)),
                ("agent admissions", n["admissions"]),
                ("requests for the same message > 1", sum(1 for v in tries.values() if v > 1)),
                ("dispatch attempts > 1 (outcome)", n["dispatch attempts > 1"]),
                ("dispatched after the agent returned", n["dispatched after the agent returned"]),
                ("inbound dead letters", len(dead)), ("duplicates", dups),
                ("order violations", n["order violations"]), ("lost", n["lost"]),
                ("fault: worker kill -9", pipe.faults["worker kill -9"]),
                ("agent down (s)", int(timeline["up"] - timeline["down"])),
                ("settled after the agent returned (s)", int(settled_at - timeline["up"])),
                ("seconds", int(time.time() - start))]
        print("  %-40s %8s" % ("", "count"))
        for k, v in rows:
            print("  %-40s %8d" % (k, v))
    finally:
        bad = pipe.stop()
        agent.stop()
    assert not problems, "\n".join(problems[:40])
    assert not during, "the agent got requests while it was down?"
    assert dups == 0 and not dead, (dups, dead[:3])
    assert len(acked) == len(drv.messages), "the ingress refused messages: Redis never went down"
    # something really waited: messages acknowledged during the outage went through after it
    assert n["dispatched after the agent returned"] >= N_CONV, n
    assert pipe.faults["worker kill -9"] >= 3, pipe.faults
    assert not bad, bad


if __name__ == "__main__":
    t.run([test_agent_down_30s])
