#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sender benchmark (not a test). Loopback only, bounded in count and time.

1. Baseline: wrk POSTs create requests straight at the Twilio stand-in (TW_SEND_CONCURRENCY
   connections, keep-alive): the most creates/s this machine's stand-in answers.
2. Drain: N jobs (over N/10 conversations, 10 each) are enqueued first, then 1 and then 2
   tw-sender processes (pacing off) drain them; jobs/s from the senders' start to the last job
   finished, and the ratio to the baseline.
3. End to end (when tw-worker is built): signed inbound webhooks to tw-ingress, the worker's echo
   agent, tw-sender, the stand-in: time from each webhook's 200 to the echo's create at the
   stand-in, p50 and p99.

usage: tests/bench/sender.py [build-dir] [jobs] [webhooks]"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "sender"))
if len(sys.argv) > 1:
    os.environ["TW_BUILD_DIR"] = os.path.abspath(sys.argv[1])
import twtest as tw  # noqa: E402
import sendlib as sl  # noqa: E402

JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
WEBHOOKS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
CONCURRENCY = 8


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def baseline(si, seconds=5):
    """wrk against the stand-in's create endpoint: its ceiling on this machine."""
    if not shutil.which("wrk"):
        return None
    work = tempfile.mkdtemp(prefix="tw-bench-")
    try:
        import base64
        auth = base64.b64encode(("%s:%s" % (tw.ACCOUNT, tw.TOKEN)).encode()).decode()
        body = tw.encode_form([("To", "+15551230001"), ("From", tw.NUMBER),
                               ("Body", "benchmark message")])
        script = os.path.join(work, "post.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.body = "%s"\n' % body)
            f.write('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n')
            f.write('wrk.headers["Authorization"] = "Basic %s"\n' % auth)
        out = subprocess.run(["wrk", "-t2", "-c%d" % CONCURRENCY, "-d%ds" % seconds, "-s", script,
                              "%s/2010-04-01/Accounts/%s/Messages.json" % (si.base, tw.ACCOUNT)],
                             capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                return float(line.split()[1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return None


def drain(senders):
    redis = tw.RedisServer(aof=True)
    si = sl.StandIn()
    procs = []
    try:
        r = redis.client()
        r("CONFIG", "SET", "appendfsync", "everysec")
        convs = max(1, JOBS // 10)
        pairs = [(sl.conv_key("+1555%07d" % (i % convs)), "job %d" % i) for i in range(JOBS)]
        for i in range(0, len(pairs), 500):
            sl.enqueue(redis.url, pairs[i:i + 500])
        assert r("XLEN", "tw:outbound") == JOBS
        start = time.time()
        for i in range(senders):
            procs.append(sl.start_sender(redis, si, TW_WORKER_ID="bench-%d" % i,
                                         TW_SEND_CONCURRENCY=str(CONCURRENCY), LOG_LEVEL="warn",
                                         TW_CLAIM_IDLE_MS="30000", TW_SEND_TIMEOUT="15s"))
        tw.wait_until(lambda: r("XLEN", "tw:outbound") == 0, timeout=600, step=0.01,
                      what="the queue drained")
        took = time.time() - start
        created = len(si.created())
        assert created == JOBS, (created, JOBS)
        for p in procs:
            assert p.stop() == 0
        return JOBS / took, took
    finally:
        for p in procs:
            p.stop()
        si.stop()
        redis.stop()


def end_to_end():
    if not os.path.exists(os.path.join(tw.BUILD, "worker", "tw-worker")):
        return None
    redis = tw.RedisServer(aof=True)
    si = sl.StandIn()
    procs = []
    try:
        r = redis.client()
        r("CONFIG", "SET", "appendfsync", "everysec")
        port = tw.free_port()
        env = tw.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                         TW_API_LISTEN="127.0.0.1:%d" % tw.free_port(), LOG_LEVEL="warn",
                         TWILIO_API_BASE=si.base, TW_SEND_MPS="0", TW_AGENT="echo")
        procs.append(tw.Proc("tw-ingress", env, port=port))
        procs.append(tw.Proc("tw-worker", env))
        procs.append(tw.Proc("tw-sender", env))
        sent = {}
        for i in range(WEBHOOKS):
            sid = "SM%032x" % (0xbe00 + i)
            body = "bench %d" % i
            st, _, _ = tw.post_signed(port, tw.inbound_pairs(sid, body=body,
                                                             frm="+1555%07d" % (i % 50)))
            assert st == 200
            sent["Echo: " + body] = time.time()
            time.sleep(0.01)  # a steady 100/s or less, not a flood
        tw.wait_until(lambda: len(si.created()) >= WEBHOOKS, timeout=120, what="all echoes")
        lat = []
        for m in si.created():
            t0 = sent.get(m["body"])
            if t0 is not None:
                c = [q for q in si.creates() if q["sid"] == m["sid"]][0]
                lat.append((c["at_ms"] / 1000.0 - t0) * 1000.0)
        for p in procs:
            p.stop()
        return pct(lat, 50), pct(lat, 99), len(lat)
    finally:
        for p in procs:
            p.stop()
        si.stop()
        redis.stop()


def main():
    print("cores=%d jobs=%d concurrency=%d (stand-in, redis and load share the cores)"
          % (os.cpu_count(), JOBS, CONCURRENCY))
    si = sl.StandIn()
    try:
        base = baseline(si)
    finally:
        si.stop()
    if base:
        print("baseline: stand-in answers %.0f creates/s (wrk, %d connections)" % (base, CONCURRENCY))
    for n in (1, 2):
        rate, took = drain(n)
        ratio = " = %.2f of the baseline" % (rate / base) if base else ""
        print("drain, %d sender%s, pacing off: %.0f jobs/s (%d jobs in %.2f s)%s"
              % (n, "s" if n > 1 else " ", rate, JOBS, took, ratio))
    e2e = end_to_end()
    if e2e:
        print("end to end, webhook 200 -> echo created at the stand-in (%d messages): "
              "p50 %.1f ms, p99 %.1f ms" % (e2e[2], e2e[0], e2e[1]))
    else:
        print("end to end: skipped (tw-worker is not built)")


if __name__ == "__main__":
    main()
