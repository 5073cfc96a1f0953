# SPDX-License-Identifier: MIT
"""A stand-in for a Flue agent's HTTP endpoint, for the worker tests (standard library only).

Every POST is recorded (arrival order, path, decoded conversation key, headers, JSON body). A 2xx
answer admits the message the way Flue does: once per Idempotency-Key, a repeat gets the same
submissionId back and is not a second admission. What to answer is scripted on command:

    agent = AgentStandIn()                  # listens on a free port, in a thread
    agent.push(dict(status=503))            # the next request gets 503 (a queue, in order)
    agent.push(dict(status=429, retry_after="1"), sid="SM...")  # only for that MessageSid
    agent.push(dict(status=400, body="nope"))
    agent.push(dict(stall=True))            # admit, then hold the answer until release()
    agent.push(dict(delay=2.0))             # admit, answer 202 after 2 s
    agent.push(dict(jitter=0.02))           # admit, answer 202 after a random 0-20 ms
    agent.default = dict(delay=0.05)        # what requests get when nothing is queued

Also runnable on its own (python3 agent.py PORT) for benchmarks and manual runs; then
GET /_requests and GET /_admitted return what was recorded as JSON.
"""
import json
import random
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH_PREFIX = "/agents/"


class AgentStandIn:
    def __init__(self, port=0):
        self.lock = threading.Condition()
        self.requests = []  # dicts: n, t, path, key, headers, body
        self.admitted = {}  # Idempotency-Key -> submissionId
        self.admissions = []  # Idempotency-Keys in admission order
        self.queue = []
        self.per_sid = {}
        self.default = dict(status=202)
        self.released = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body leave in one write (no Nagle / delayed-ACK stall)
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                with stand_in.lock:
                    if self.path == "/_requests":
                        data = stand_in.requests
                    elif self.path == "/_admitted":
                        data = stand_in.admitted
                    else:
                        data = None
                    body = json.dumps(data).encode()
                self.answer(200 if data is not None else 404, body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                stand_in.handle(self, raw)

            def answer(self, status, body=b"", headers=()):
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    pass  # the worker went away (killed, or timed out)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/agents" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # ---------------------------------------------------------------- control

    def reset(self):
        """Forgets what was recorded and scripted (between tests)."""
        with self.lock:
            self.requests, self.admitted, self.admissions = [], {}, []
            self.queue, self.per_sid = [], {}
            self.default = dict(status=202)
            self.released = threading.Event()

    def push(self, *actions, sid=None):
        with self.lock:
            (self.per_sid.setdefault(sid, []) if sid else self.queue).extend(actions)

    def release(self):
        self.released.set()

    def stop(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- queries

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def wait_requests(self, n, timeout=20.0, sid=None):
        end = time.time() + timeout
        with self.lock:
            while True:
                got = [r for r in self.requests if sid is None or r["sid"] == sid]
                if len(got) >= n:
                    return got
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("agent saw %d requests, wanted %d" % (len(got), n))
                self.lock.wait(left)

    # ---------------------------------------------------------------- serving

    def handle(self, h, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        key = None
        if h.path.startswith(PATH_PREFIX):
            key = urllib.parse.unquote(h.path[len(PATH_PREFIX):])
        idem = h.headers.get("Idempotency-Key")
        with self.lock:
            rec = dict(n=len(self.requests), t=time.time(), path=h.path, key=key, sid=idem,
                       headers={k.lower(): v for k, v in h.headers.items()}, body=body, raw=raw)
            self.requests.append(rec)
            self.lock.notify_all()
            todo = self.per_sid.get(idem) or self.queue
            action = todo.pop(0) if todo else dict(self.default)
        status = action.get("status", 202)
        if action.get("stall") or action.get("delay") or 200 <= status < 300:
            sub = self.admit(idem)
            if action.get("stall"):
                self.released.wait(60)
            if action.get("delay"):
                time.sleep(action["delay"])
            if action.get("jitter"):
                time.sleep(random.uniform(0, action["jitter"]))
            h.answer(202 if action.get("stall") or action.get("delay") else status,
                     json.dumps({"submissionId": sub}).encode())
            return
        headers = []
        if "retry_after" in action:
            headers.append(("Retry-After", action["retry_after"]))
        h.answer(status, action.get("body", "").encode(), headers)

    def admit(self, idem):
        with self.lock:
            if idem not in self.admitted:
                self.admitted[idem] = "sub-%d" % (len(self.admitted) + 1)
                self.admissions.append(idem)
            return self.admitted[idem]


if __name__ == "__main__":
    a = AgentStandIn(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(a.port, flush=True)
    try:
        a.thread.join()
    except KeyboardInterrupt:
        a.stop()
