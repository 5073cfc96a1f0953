# SPDX-License-Identifier: MIT
"""The fault-run kit: the whole pipeline as real processes (redis-server with AOF and
appendfsync always, tw-ingress, tw-worker replicas, tw-sender replicas, the Twilio stand-in), a
driver that sends signed inbound webhooks the way Twilio does, a fault injector that kills and
restarts processes by PID, and readers that check the end state against what was acknowledged.
Standard library only."""
import json
import os
import random
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "sender"))
import twtest as t  # noqa: E402
import sendlib  # noqa: E402

PREFIX = "tw:"
LONG = os.environ.get("TW_CHAOS_LONG") == "1"


def participant(c):
    return "+1555100%04d" % c


def conv_key(c):
    return sendlib.conv_key(participant(c))


# ------------------------------------------------------------------ the pipeline

class Pipeline:
    """Every process of the pipeline, each started and stopped by PID."""

    def __init__(self, workers=3, senders=2, agent="echo", agent_url=None, standin=True,
                 worker_env=None, log_level="info"):
        self.log_level = log_level
        self.redis = t.RedisServer(aof=True)  # appendfsync always: acknowledged is durable
        self.standin = sendlib.StandIn(extra=["--latency-ms", "10"]) if standin else None
        self.port = t.free_port()
        self.ingress = t.Proc("tw-ingress", t.run_env(
            REDIS_URL=self.redis.url, TW_LISTEN="127.0.0.1:%d" % self.port,
            TW_API_LISTEN="127.0.0.1:%d" % t.free_port(), LOG_LEVEL="warn"), port=self.port)
        self.worker_env = t.run_env(REDIS_URL=self.redis.url, TW_AGENT=agent,
                                    TW_AGENT_URL=agent_url, TW_CLAIM_IDLE_MS="1000",
                                    TW_WORKER_CONCURRENCY="8", LOG_LEVEL=log_level)
        self.worker_env.pop("TWILIO_WEBHOOK_URL", None)
        self.worker_env.update(worker_env or {})
        self.workers = [self.start_worker() for _ in range(workers)]
        self.senders = [self.start_sender() for _ in range(senders)] if standin else []
        self.retired = []  # processes killed on purpose (their logs are kept)
        self.faults = {"worker kill -9": 0, "sender kill -9": 0, "redis kill -9": 0,
                       "twilio faults": 0}

    def start_worker(self):
        return t.Proc("tw-worker", {k: v for k, v in self.worker_env.items() if v is not None})

    def start_sender(self):
        env = sendlib.sender_env(self.redis, self.standin, LOG_LEVEL=self.log_level)
        return t.Proc("tw-sender", env)

    def client(self):
        return self.redis.client()

    def kill_restart(self, kind):
        """kill -9 one random replica of kind ('worker' or 'sender'), then start a new one."""
        group = self.workers if kind == "worker" else self.senders
        i = random.randrange(len(group))
        victim = group[i]
        victim.kill9()
        self.retired.append(victim)
        self.faults[kind + " kill -9"] += 1
        time.sleep(random.uniform(0, 0.5))
        group[i] = self.start_worker() if kind == "worker" else self.start_sender()

    def restart_redis(self, down_s=2.0):
        self.redis.stop(signal.SIGKILL)
        self.faults["redis kill -9"] += 1
        time.sleep(down_s)
        self.redis.start()

    def twilio_fault(self):
        """One scripted Twilio misbehaviour for the next create: the message created and the
        answer lost (connection closed, or 500), a 500 without a message, or a 429."""
        action = random.choice([{"create": True, "close": True}, {"create": True, "status": 500},
                                {"status": 500, "code": 20500}, {"status": 429, "code": 20429}])
        self.standin.script(action)
        self.faults["twilio faults"] += 1

    def events(self, wanted):
        """How often each log message in wanted was logged by any worker or sender, killed ones
        included (a message with a "count" field adds that count)."""
        out = dict.fromkeys(wanted, 0)
        for p in self.workers + self.senders + self.retired:
            for line in p.output().splitlines():
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                if e.get("msg") in out:
                    out[e["msg"]] += int(e.get("count", 1))
        return out

    def processes(self):
        out = [("tw-ingress", self.ingress)]
        out += [("tw-worker", w) for w in self.workers]
        out += [("tw-sender", s) for s in self.senders]
        return out

    def stop(self):
        """SIGTERM to every live process; returns [(name, exit code, log tail)] of the ones that
        did not exit 0 or printed a sanitizer report."""
        bad = []
        for name, p in self.processes():
            code = p.stop()
            out = p.output()
            if code != 0 or "Sanitizer" in out or "runtime error:" in out:
                bad.append((name, code, out[-3000:]))
        for p in self.retired:
            out = p.output()
            if "Sanitizer" in out or "runtime error:" in out:
                bad.append(("killed " + p.name, None, out[-3000:]))
        if self.standin:
            self.standin.stop()
        self.redis.stop()
        return bad


# ------------------------------------------------------------------ status of a process

def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "VmSize", "Threads"):
                out[k] = int(v.split()[0])
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


# ------------------------------------------------------------------ the driver

class Driver:
    """Sends n_conv conversations of per_conv signed inbound messages, each conversation in
    order (the next one only after the previous one was acknowledged, or given up on), the
    conversations in parallel, spread over about duration_s seconds. A 503 or a connection
    error is retried with the same MessageSid, as Twilio's retry or fallback would be."""

    def __init__(self, port, n_conv, per_conv, duration_s, give_up_s=30.0):
        self.port = port
        self.n_conv, self.per_conv = n_conv, per_conv
        self.gap = duration_s / per_conv
        self.give_up_s = give_up_s
        self.lock = threading.Lock()
        self.messages = {}  # sid -> dict(conv, seq, body, acked, attempts, codes)
        self.answers = {}   # HTTP status (or 'error') -> count
        self.threads = []
        self.tag = "%06x" % random.randrange(1 << 24)

    def start(self):
        for c in range(self.n_conv):
            th = threading.Thread(target=self._conversation, args=(c,), daemon=True)
            th.start()
            self.threads.append(th)

    def join(self):
        for th in self.threads:
            th.join()

    def _conversation(self, c):
        time.sleep(random.uniform(0, self.gap))
        for seq in range(self.per_conv):
            sid = "SM%08x%04x%04x%016x" % (int(self.tag, 16), c, seq, random.getrandbits(64))
            body = "chaos %s c%02d m%03d" % (self.tag, c, seq)
            m = dict(conv=c, seq=seq, body=body, acked=False, attempts=0)
            with self.lock:
                self.messages[sid] = m
            pairs = t.inbound_pairs(sid, body=body, frm=participant(c))
            end = time.time() + self.give_up_s
            while time.time() < end:
                m["attempts"] += 1
                try:
                    code = t.post_signed(self.port, pairs)[0]
                except OSError:
                    code = "error"
                with self.lock:
                    self.answers[code] = self.answers.get(code, 0) + 1
                if code == 200:
                    m["acked"] = True
                    break
                time.sleep(0.2)
            time.sleep(self.gap * random.uniform(0.5, 1.5))

    def acked(self):
        return {s: m for s, m in self.messages.items() if m["acked"]}


class Faults:
    """Kills and restarts a random worker or sender every few seconds; restarts Redis once at
    redis_at seconds; scripts a Twilio misbehaviour now and then."""

    def __init__(self, pipe, every=(2.0, 4.0), redis_at=None, twilio_every=None):
        self.pipe, self.every, self.redis_at, self.twilio_every = pipe, every, redis_at, twilio_every
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.errors = []

    def start(self):
        self.started = time.time()
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join()
        assert not self.errors, self.errors

    def _run(self):
        redis_done = self.redis_at is None
        next_kill = time.time() + random.uniform(*self.every)
        next_twilio = time.time() + (self.twilio_every or 1e9)
        try:
            while not self.stop_ev.wait(0.1):
                now = time.time()
                if not redis_done and now - self.started >= self.redis_at:
                    self.pipe.restart_redis()
                    redis_done = True
                if now >= next_kill:
                    # workers and senders in turn (the replica is random), so both get killed
                    kinds = ["worker"] + (["sender"] if self.pipe.senders else [])
                    self.kills = getattr(self, "kills", 0) + 1
                    self.pipe.kill_restart(kinds[self.kills % len(kinds)])
                    next_kill = time.time() + random.uniform(*self.every)
                if self.twilio_every and now >= next_twilio:
                    self.pipe.twilio_fault()
                    next_twilio = now + random.uniform(0.5, 1.5) * self.twilio_every
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.errors.append(repr(e))


# ------------------------------------------------------------------ reading the end state

def hgetall(r, key):
    v = r("HGETALL", key) or []
    return dict(zip(v[0::2], v[1::2]))


def scan(r, pattern):
    cursor, out = "0", []
    while True:
        cursor, keys = r("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        out += keys
        if cursor == "0":
            return out


def stream(r, name):
    out = []
    for eid, fields in r("XRANGE", PREFIX + name, "-", "+"):
        d = dict(zip(fields[0::2], fields[1::2]))
        d["_id"] = eid
        out.append(d)
    return out


def jobs(r):
    """Every job hash, by id."""
    return {k[len(PREFIX + "job:"):]: hgetall(r, k) for k in scan(r, PREFIX + "job:*")}


def dead_inbound(r):
    out = {}
    for e in stream(r, "inbound:dead"):
        sid = json.loads(e.get("payload", "{}")).get("MessageSid")
        out[sid] = e
    return out
