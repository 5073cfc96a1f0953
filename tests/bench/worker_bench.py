# SPDX-License-Identifier: MIT
"""Worker benchmark (not a test): tw-worker against a fast local agent (fast_agent, C).

1. Throughput: N messages over C conversations are appended to <prefix>inbound in the queue
   contract's format (pipelined XADD, workers stopped), then 1, 2 or 4 workers start and drain
   them; messages/s = N / time until the agent has seen them all. Ratios against 1 worker.
2. Latency: with the workers running, signed webhooks are posted to the real tw-ingress at a
   steady rate; latency = the agent's arrival time - the moment the poster read the ingress's
   200. Baseline in the same run: a plain XREAD BLOCK reader on the stream (the floor any
   consumer pays for ingress -> Redis -> notification).

usage: worker_bench.py BUILD_DIR [N] [CONVERSATIONS] [LATENCY_MESSAGES] [RATE]
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "worker"))
import twtest as t  # noqa: E402
import wkit as w  # noqa: E402

build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "build"))
os.environ["TW_BUILD_DIR"] = build
t.BUILD = build
N = int(sys.argv[2]) if len(sys.argv) > 2 else 6000
CONVS = int(sys.argv[3]) if len(sys.argv) > 3 else 600
LAT_N = int(sys.argv[4]) if len(sys.argv) > 4 else 1500
RATE = float(sys.argv[5]) if len(sys.argv) > 5 else 300.0
work = tempfile.mkdtemp(prefix="tw-wbench-")
procs = []


def spawn(args, **kw):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class Agent:
    def __init__(self):
        self.port = t.free_port()
        self.out = os.path.join(work, "agent-%d.txt" % self.port)
        self.proc = spawn([os.path.join(build, "tests", "bench", "fast_agent"), str(self.port),
                           self.out])
        t.wait_port(self.port)
        self.url = "http://127.0.0.1:%d/agents" % self.port

    def count(self):
        return int(t.http(self.port, "GET", "/count")[2])

    def records(self):
        stop(self.proc)
        out = {}
        with open(self.out) as f:
            for line in f:
                k, us = line.split()
                out.setdefault(k, int(us))
        return out


def start_workers(redis, agent, k):
    ps = []
    for i in range(k):
        env = t.run_env(REDIS_URL=redis.url, TW_AGENT_URL=agent.url, TW_WORKER_ID="b%d" % i,
                        TW_WORKER_CONCURRENCY="16", LOG_LEVEL="warn")
        ps.append(spawn([os.path.join(build, "worker", "tw-worker")], env=env))
    return ps


def preload(redis, n, convs):
    sock = socket.create_connection(("127.0.0.1", redis.port))
    now = str(int(time.time() * 1000))
    buf = []
    for i in range(n):
        c, m = i % convs, i // convs
        frm = "+1555200%04d" % c
        sid = "SM%016d%016d" % (c, m)
        pairs = t.inbound_pairs(sid, body="bench %d" % i, frm=frm)
        conv = json.dumps({"type": "address", "accountSid": t.ACCOUNT, "address": t.NUMBER,
                           "participant": frm})
        args = ["XADD", "tw:inbound", "*", "payload", w.payload_json(pairs), "conversation", conv,
                "conversation_key", w.conv_key(frm), "received_at", now]
        cmd = "*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)
        buf.append(cmd.encode())
    sock.sendall(b"".join(buf))
    f = sock.makefile("rb")
    for _ in range(n):
        f.readline()
        f.readline()
    sock.close()


def throughput(redis, k):
    redis.client()("FLUSHALL")
    agent = Agent()
    preload(redis, N, CONVS)
    t0 = time.time()
    ws = start_workers(redis, agent, k)
    end = t0 + 300
    while agent.count() < N and time.time() < end:
        time.sleep(0.01)
    elapsed = time.time() - t0
    seen = agent.count()
    for p in ws:
        stop(p)
    recs = agent.records()
    assert seen >= N and len(recs) == N, (seen, len(recs))
    return N / elapsed


def latency(redis, k):
    redis.client()("FLUSHALL")
    agent = Agent()
    port = t.free_port()
    ing = spawn([os.path.join(build, "ingress", "tw-ingress")],
                env=t.run_env(REDIS_URL=redis.url, TW_LISTEN="127.0.0.1:%d" % port,
                              TW_API_LISTEN="127.0.0.1:%d" % t.free_port(), LOG_LEVEL="warn"))
    t.wait_port(port)
    ws = start_workers(redis, agent, k)
    time.sleep(0.5)
    ok_at = {}
    floor = {}
    lock = threading.Lock()
    done = threading.Event()

    def reader():  # the baseline: a bare blocking reader of the stream
        r = t.RedisClient(redis.port, timeout=30)
        last = "$"
        while not done.is_set():
            res = r("XREAD", "BLOCK", "200", "STREAMS", "tw:inbound", last)
            now = time.time()
            for _, entries in res or []:
                for eid, fields in entries:
                    last = eid
                    d = dict(zip(fields[0::2], fields[1::2]))
                    floor[json.loads(d["payload"])["MessageSid"]] = now
        r.close()

    threads = 6
    per = LAT_N // threads

    def poster(i):
        gap = threads / RATE
        nxt = time.time()
        for m in range(per):
            c = (i * per + m) % 100
            sid = "SM%016d%016d" % (i + 500, m)
            pairs = t.inbound_pairs(sid, body="lat %d" % m, frm="+1555300%04d" % c)
            s, _, _ = t.post_signed(port, pairs)
            now = time.time()
            assert s == 200, s
            with lock:
                ok_at[sid] = now
            nxt += gap
            time.sleep(max(0.0, nxt - time.time()))

    rd = threading.Thread(target=reader)
    rd.start()
    time.sleep(0.2)
    ps = [threading.Thread(target=poster, args=(i,)) for i in range(threads)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    end = time.time() + 60
    while agent.count() < len(ok_at) and time.time() < end:
        time.sleep(0.02)
    done.set()
    rd.join()
    for p in ws:
        stop(p)
    stop(ing)
    recs = agent.records()
    lat = [(recs[s] / 1e6 - ok_at[s]) * 1000 for s in ok_at]
    base = [(floor[s] - ok_at[s]) * 1000 for s in ok_at if s in floor]
    return lat, base


def main():
    redis = t.RedisServer()
    try:
        print("cores=%d  N=%d messages over %d conversations; latency: %d messages at %.0f/s"
              % (os.cpu_count(), N, CONVS, LAT_N, RATE))
        rates = {}
        for k in (1, 2, 4):
            rates[k] = throughput(redis, k)
            print("throughput  %d worker(s): %8.0f messages/s   (x%.2f of 1 worker)"
                  % (k, rates[k], rates[k] / rates[1]), flush=True)
        for k in (1, 2, 4):
            lat, base = latency(redis, k)
            print("latency     %d worker(s): 200 -> agent p50 %6.2f ms  p99 %6.2f ms   "
                  "(bare XREAD reader: p50 %5.2f ms  p99 %5.2f ms)"
                  % (k, pct(lat, 0.5), pct(lat, 0.99), pct(base, 0.5), pct(base, 0.99)),
                  flush=True)
    finally:
        for p in procs:
            stop(p)
        redis.stop()


if __name__ == "__main__":
    main()
