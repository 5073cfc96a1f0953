# SPDX-License-Identifier: MIT
"""The fault run: signed inbound messages over many conversations through tw-ingress, three
tw-worker (echo agent) and two tw-sender against the Twilio stand-in, while a random worker or
sender is killed with SIGKILL every few seconds and restarted, Redis is killed once and restarted
(AOF, appendfsync always), and Twilio now and then creates a message but loses the answer, fails
with 500, or answers 429. At the end: every acknowledged message was dispatched exactly once in
effect and in per-conversation order, every reply was created at most once and in order, every
job not created is in a recorded state; a summary table is printed.

CI runs a short form; TW_CHAOS_LONG=1 runs the long one (2,000 messages over 50 conversations)."""
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaoslib as c  # noqa: E402
from chaoslib import t  # noqa: E402

if c.LONG:
    N_CONV, PER_CONV, DURATION, KILL_EVERY = 50, 40, 90.0, (2.0, 4.0)
else:
    N_CONV, PER_CONV, DURATION, KILL_EVERY = 20, 20, 20.0, (1.5, 3.0)
SETTLE_S = 150.0  # after the last message: reclaim, retries and reconciliation finish


def settled(r, acked):
    """True when every acknowledged message has an outcome (or a dead letter) and every job is
    finished (sent, failed or unknown)."""
    dead = c.dead_inbound(r)
    for sid in acked:
        if sid not in dead and not r("HGET", c.PREFIX + "outcome:" + sid, "outcome"):
            return False
    return all(j.get("state") in ("sent", "failed", "unknown") for j in c.jobs(r).values())


def seq_of(body):
    """The message number in 'chaos <tag> cNN mMMM' (or its echo)."""
    return int(body.rsplit(" m", 1)[1])


def check(pipe, drv):
    r = pipe.client()
    acked = drv.acked()
    try:
        t.wait_until(lambda: settled(r, acked), SETTLE_S, step=1.0, what="the pipeline to settle")
    except AssertionError:
        pass  # what is still open is counted below as lost or stuck
    dead = c.dead_inbound(r)
    jobs = c.jobs(r)
    out_dead = {e["job_id"]: e for e in c.stream(r, "outbound:dead")}
    created = pipe.standin.created()
    posted = pipe.standin.creates()
    created_n = collections.Counter(m["body"] for m in created)
    posted_n = collections.Counter(dict(p["params"]).get("Body") for p in posted)
    echo_jobs = collections.defaultdict(list)
    for jid, j in jobs.items():
        if j.get("source") == "echo":
            echo_jobs[j["body"]].append((jid, j))

    problems = []
    n = collections.Counter()
    per_conv = collections.defaultdict(list)  # conv -> [(seq, outbound stream id)]
    for sid, m in drv.messages.items():
        o = c.hgetall(r, c.PREFIX + "outcome:" + sid)
        if not m["acked"]:
            if o or sid in dead:
                n["stored, not acknowledged"] += 1
            continue
        n["acknowledged"] += 1
        if int(o.get("attempts", "0")) > 1:
            n["dispatch attempts > 1"] += 1
        if o.get("outcome") == "dispatched":
            n["dispatched"] += 1
            mine = echo_jobs.get("Echo: " + m["body"], [])
            if len(mine) != 1:
                problems.append("%s: %d echo jobs" % (sid, len(mine)))
                n["duplicates" if mine else "lost"] += 1
                continue
            jid, j = mine[0]
            if o.get("receipt") != jid:
                problems.append("%s: receipt %s, job %s" % (sid, o.get("receipt"), jid))
            per_conv[m["conv"]].append((m["seq"], j["stream_id"]))
        elif sid in dead:
            n["inbound dead letters"] += 1
        else:
            problems.append("%s: acknowledged, outcome %r, no dead letter" % (sid, o))
            n["lost"] += 1

    # dispatch order: the echo jobs of one conversation were enqueued in message order
    def sid_key(s):
        ms, _, q = s.partition("-")
        return int(ms), int(q)
    for conv, items in per_conv.items():
        items.sort()
        ids = [sid_key(s) for _, s in items]
        if ids != sorted(ids):
            problems.append("conversation %d dispatched out of order" % conv)
            n["order violations"] += 1

    # replies: created at most once; each job sent, or recorded as failed / unknown
    for body, k in created_n.items():
        if k > 1:
            detail = [{f: j.get(f) for f in ("state", "attempts", "reconciled", "sid")}
                      for _, j in echo_jobs.get(body, [])]
            answers = [(p["seq"], p["status"], p.get("sid")) for p in posted
                       if dict(p["params"]).get("Body") == body]
            problems.append("reply %r created %d times: jobs %s, creates %s"
                            % (body, k, detail, answers))
            n["duplicates"] += k - 1
    n["replies created"] = sum(created_n.values())
    for body, mine in echo_jobs.items():
        for jid, j in mine:
            state = j.get("state")
            n["jobs " + str(state)] += 1
            if state == "sent":
                if created_n[body] != 1 or j.get("sid") not in {x["sid"] for x in created
                                                                if x["body"] == body}:
                    problems.append("job %s sent, but its message is not at Twilio once" % jid)
            elif state in ("failed", "unknown"):
                if jid not in out_dead:
                    problems.append("job %s %s without a dead letter" % (jid, state))
                if state == "failed" and created_n[body]:
                    problems.append("job %s failed, but its message was created" % jid)
            else:
                problems.append("job %s stuck in %r" % (jid, state))
                n["stuck jobs"] += 1
    n["creates posted"] = sum(posted_n.values())

    # reply order at Twilio, per conversation
    seen = collections.defaultdict(list)
    for m in created:
        seen[m["to"]].append(seq_of(m["body"]))
    for to, seqs in seen.items():
        if seqs != sorted(seqs):
            problems.append("replies to %s created out of order: %s" % (to, seqs))
            n["order violations"] += 1
    return n, problems


EVENTS = ["reclaimed idle entries", "already handled; acknowledged without dispatch",
          "claim lost before dispatch", "entry reclaimed", "unfinished attempt found; reconciling",
          "ambiguous end of a create; reconciling", "reconciled: the message exists",
          "reconciled: no such message; sending again", "not processed by Twilio; will retry"]


def print_summary(drv, n, faults, events, took):
    rows = [("sent (messages)", len(drv.messages)),
            ("webhook attempts", sum(m["attempts"] for m in drv.messages.values())),
            ("acknowledged (200)", n["acknowledged"]),
            ("stored, not acknowledged", n["stored, not acknowledged"]),
            ("dispatched", n["dispatched"]),
            ("inbound dead letters", n["inbound dead letters"]),
            ("dispatch attempts > 1", n["dispatch attempts > 1"]),
            ("creates posted to Twilio", n["creates posted"]),
            ("replies created", n["replies created"]),
            ("jobs sent", n["jobs sent"]),
            ("jobs failed (dead letter)", n["jobs failed"]),
            ("jobs unknown (dead letter)", n["jobs unknown"]),
            ("duplicates", n["duplicates"]),
            ("order violations", n["order violations"]),
            ("lost", n["lost"])]
    rows += [("fault: " + k, v) for k, v in faults.items()]
    rows += [("answers " + str(k), v) for k, v in sorted(drv.answers.items(), key=str)]
    rows += [("log: " + k[:40], v) for k, v in events.items()]
    rows.append(("seconds", int(took)))
    print("  %-46s %8s" % ("", "count"))
    for k, v in rows:
        print("  %-46s %8d" % (k, v))


def test_fault_run():
    start = time.time()
    pipe = c.Pipeline(workers=3, senders=2)
    bad = None
    try:
        drv = c.Driver(pipe.port, N_CONV, PER_CONV, DURATION)
        faults = c.Faults(pipe, every=KILL_EVERY, redis_at=DURATION * 0.4, twilio_every=2.0)
        faults.start()
        drv.start()
        drv.join()
        faults.stop()
        n, problems = check(pipe, drv)
        print_summary(drv, n, pipe.faults, pipe.events(EVENTS), time.time() - start)
    finally:
        bad = pipe.stop()
    assert not problems, "\n".join(problems[:40])
    assert n["lost"] == 0 and n["duplicates"] == 0 and n["order violations"] == 0
    assert n["acknowledged"] >= 0.9 * len(drv.messages), n  # Redis was down ~2 s, no more
    assert n["dispatched"] + n["inbound dead letters"] == n["acknowledged"], n
    assert pipe.faults["worker kill -9"] and pipe.faults["sender kill -9"], pipe.faults
    assert pipe.faults["redis kill -9"] == 1, pipe.faults
    assert not bad, bad


if __name__ == "__main__":
    t.run([test_fault_run])
