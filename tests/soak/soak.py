# SPDX-License-Identifier: MIT
"""Soak (by hand, not in CI: ten minutes of load). Measures the ingress's maximum with
tests/bench/ingress.sh, then runs the whole pipeline (redis-server with AOF everysec, tw-ingress,
2 tw-worker with the echo agent, 2 tw-sender, the Twilio stand-in) for ten minutes with the
ingress at half that rate, and samples the resident memory, descriptors and threads of every
process, and Redis's memory, every 30 s.

The load has two parts, both signed webhooks verified in full by the ingress:
- new messages (unique MessageSids over 1,000 conversations, default 100/s) that go all the way:
  stored, dispatched to the echo agent, its reply created at the stand-in;
- the rest of the rate (wrk) as Twilio's duplicate deliveries of 256 messages (each with a fixed
  I-Twilio-Idempotency-Token): parsed, verified and deduplicated by Redis, answered 200, not
  stored again. The worker and sender on two shared cores drain a few thousand messages per
  second at best (docs/PERFORMANCE.md), so new messages at the ingress's half-maximum would only
  measure a growing backlog.

    python3 tests/soak/soak.py [build-dir] [--minutes 10] [--max RPS] [--new-rate 100]

Prints a table per process (memory at the start, after a one-minute warm-up, and at the end;
descriptors; threads) and the message accounting; exits 1 if a message was lost or duplicated
or a process died. Load only to 127.0.0.1; every process is stopped by PID at the end."""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))
import chaoslib as c  # noqa: E402
from chaoslib import t, sendlib  # noqa: E402

SAMPLE_EVERY_S = 30
CONVERSATIONS = 1000


def measure_max(build, seconds=10):
    out = subprocess.run(["bash", os.path.join(HERE, "..", "bench", "ingress.sh"), build,
                          str(seconds), "64"], capture_output=True, text=True, check=True).stdout
    print(out.strip())
    m = re.search(r"^tw-ingress\s+(\d+) req/s", out, re.M)
    return int(m.group(1))


def dup_script(path, delay_ms):
    """A wrk script: 256 signed messages with fixed idempotency tokens, round-robin, each
    connection waiting delay_ms between its requests."""
    reqs = []
    for i in range(256):
        sid = "SM%032x" % (0x50a0000 + i)
        pairs = t.inbound_pairs(sid, body="Soak duplicate %d: is my order on its way?" % i,
                                frm="+1555%07d" % (9000000 + i % 50),
                                extra=[("FromCity", "SAN FRANCISCO"), ("FromState", "CA"),
                                       ("FromZip", "94105"), ("FromCountry", "US")])
        reqs.append('{"%s","%s","soak-dup-%d"}' % (t.encode_form(pairs),
                                                  t.sign(t.TOKEN, t.WEBHOOK_URL, pairs), i))
    with open(path, "w") as f:
        f.write("local reqs = {%s}\n" % ",\n".join(reqs))
        f.write("""
local counter = 0
function delay() return %d end
function request()
  counter = counter + 1
  local r = reqs[(counter %% #reqs) + 1]
  return wrk.format("POST", "/channels/twilio/webhook", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r[2], ["I-Twilio-Idempotency-Token"] = r[3]}, r[1])
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d errors_status=%%d errors_other=%%d p50_us=%%d "
    .. "p99_us=%%d duration_us=%%d\\n", summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
""" % delay_ms)


def run_wrk(script, port, conns, seconds):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s",
                          "-s", script, "http://127.0.0.1:%d" % port],
                         capture_output=True, text=True).stdout
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not m:
        raise RuntimeError("wrk failed:\n" + out)
    res = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    return res


class NewMessages:
    """New signed messages at rate per second over CONVERSATIONS conversations (each
    conversation's in order), from a few threads."""

    def __init__(self, port, rate, threads=8):
        self.port, self.rate, self.n_threads = port, rate, threads
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.sent = {}   # sid -> body
        self.acked = {}  # sid -> body
        self.codes = collections.Counter()
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def start(self):
        for th in self.threads:
            th.start()

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join()

    def _run(self, i):
        per_thread = self.rate / self.n_threads
        k = 0
        start = time.time()
        while not self.stop_ev.is_set():
            conv = (k * self.n_threads + i) % CONVERSATIONS
            sid = "SM%08x%04x%020x" % (0x50a1, i, k)
            body = "soak new %d %d" % (i, k)
            with self.lock:
                self.sent[sid] = body
            pairs = t.inbound_pairs(sid, body=body, frm="+1555%07d" % conv)
            for _ in range(50):  # a 503 is retried, as Twilio's fallback would
                try:
                    code = t.post_signed(self.port, pairs)[0]
                except OSError:
                    code = "error"
                with self.lock:
                    self.codes[code] += 1
                if code == 200:
                    with self.lock:
                        self.acked[sid] = body
                    break
                time.sleep(0.2)
            k += 1
            lag = start + k / per_thread - time.time()
            if lag > 0:
                self.stop_ev.wait(lag)


def sample(pipe):
    procs = [("redis-server", pipe.redis.proc.pid), ("tw-twilio-standin", pipe.standin.proc.pid)]
    procs += [(name, p.pid) for name, p in pipe.processes()]
    out = {}
    seen = collections.Counter()
    for name, pid in procs:
        seen[name] += 1
        out["%s#%d" % (name, seen[name])] = c.proc_status(pid)
    info = pipe.client()("INFO", "memory")
    out["redis used_memory"] = int(re.search(r"used_memory:(\d+)", info).group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--max", type=int, help="the ingress's maximum req/s (else measured)")
    ap.add_argument("--new-rate", type=int, default=100)
    args = ap.parse_args()
    os.environ["TW_BUILD_DIR"] = os.path.abspath(args.build)
    t.BUILD = os.environ["TW_BUILD_DIR"]
    seconds = int(args.minutes * 60)

    peak = args.max or measure_max(args.build)
    target = peak // 2
    print("maximum %d req/s; soak target %d req/s for %d s (%d/s new messages)"
          % (peak, target, seconds, args.new_rate))

    pipe = c.Pipeline(workers=2, senders=2, log_level="warn")  # info: a line per message
    work = tempfile.mkdtemp(prefix="tw-soak-")
    script = os.path.join(work, "dup.lua")
    ok = True
    try:
        # calibrate the duplicate load: wrk's delay is per connection, latency comes on top
        delay_ms, conns = 5, max(2, int((target - args.new_rate) * 5 / 1000))
        dup_script(script, delay_ms)
        cal = run_wrk(script, pipe.port, conns, 10)
        conns = max(2, int(round(conns * (target - args.new_rate) / max(cal["rps"], 1))))
        print("calibration: %.0f req/s with %d connections; soak with %d connections"
              % (cal["rps"], int((target - args.new_rate) * 5 / 1000), conns))

        samples = [(0, sample(pipe))]
        new = NewMessages(pipe.port, args.new_rate)
        new.start()
        wrk_res = {}
        wrk_th = threading.Thread(target=lambda: wrk_res.update(
            run_wrk(script, pipe.port, conns, seconds)))
        t0 = time.time()
        wrk_th.start()
        while wrk_th.is_alive():
            wrk_th.join(SAMPLE_EVERY_S)
            samples.append((int(time.time() - t0), sample(pipe)))
            print("  t=%4ds ingress VmRSS %d kB, new messages acked %d"
                  % (samples[-1][0], samples[-1][1]["tw-ingress#1"]["VmRSS"], len(new.acked)),
                  flush=True)
        new.stop()
        took = time.time() - t0

        # drain, then account for the new messages
        r = pipe.client()
        acked = dict(new.acked)

        def drained():
            done = sum(1 for s in acked if r("HGET", c.PREFIX + "outcome:" + s, "outcome"))
            return done == len(acked) and r("XLEN", c.PREFIX + "outbound") == 0
        try:
            t.wait_until(drained, 300, step=2.0, what="the pipeline to drain")
        except AssertionError:
            pass
        final = sample(pipe)
        dispatched = sum(1 for s in acked
                         if r("HGET", c.PREFIX + "outcome:" + s, "outcome") == "dispatched")
        created = collections.Counter(m["body"] for m in pipe.standin.created())
        replies = sum(1 for b in acked.values() if created.get("Echo: " + b))
        dups = sum(k - 1 for k in created.values() if k > 1)
        lost = len(acked) - dispatched

        print("\nload over %.0f s:" % took)
        print("  duplicate deliveries (wrk): %d requests, %.0f req/s, non-2xx %d, other errors "
              "%d, p50 %.2f ms, p99 %.2f ms" % (
                  wrk_res["requests"], wrk_res["rps"], wrk_res["errors_status"],
                  wrk_res["errors_other"], wrk_res["p50_us"] / 1000, wrk_res["p99_us"] / 1000))
        print("  new messages: sent %d, acknowledged %d, answers %s" % (
            len(new.sent), len(acked), dict(new.codes)))
        print("  total %.0f req/s (target %d)" % (
            wrk_res["rps"] + sum(new.codes.values()) / took, target))
        print("  dispatched %d, replies created %d, duplicates %d, lost %d"
              % (dispatched, replies, dups, lost))

        warm = min(samples, key=lambda s: abs(s[0] - 60))[1]
        print("\n  %-22s %9s %9s %9s %9s %9s %6s %6s %5s %5s" % (
            "process", "RSS start", "RSS 1min", "RSS end", "RSS max", "HWM end", "fd st", "fd end",
            "thr", "thr"))
        for name in sorted(k for k in final if "#" in k):
            st, end = samples[0][1][name], final[name]
            mx = max([s[1][name]["VmRSS"] for s in samples] + [end["VmRSS"]])
            print("  %-22s %9d %9d %9d %9d %9d %6d %6d %5d %5d" % (
                name, st["VmRSS"], warm[name]["VmRSS"], end["VmRSS"], mx, end["VmHWM"],
                st["fds"], end["fds"], st["Threads"], end["Threads"]))
        print("  %-22s %9d %9d %9d (bytes)" % (
            "redis used_memory", samples[0][1]["redis used_memory"], warm["redis used_memory"],
            final["redis used_memory"]))
        with open(os.path.join(work, "samples.json"), "w") as f:
            json.dump({"samples": samples, "final": final}, f)
        print("  samples: %s" % os.path.join(work, "samples.json"))
        ok = lost == 0 and dups == 0 and all(p.alive() for _, p in pipe.processes())
    finally:
        bad = pipe.stop()
    if bad:
        print("processes that did not stop cleanly:", [(n, code) for n, code, _ in bad])
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
