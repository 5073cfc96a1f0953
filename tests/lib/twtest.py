# SPDX-License-Identifier: MIT
"""Helpers for the integration tests: a throw-away redis-server, the real binaries started by
PID, HTTP over loopback, Twilio signatures, and a tiny test runner. Standard library only."""
import base64
import hashlib
import atexit
import hmac
import http.client as httpclient
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

BUILD = os.environ.get("TW_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("TW_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token-0123456789abcdef"
TOKEN2 = "second-auth-token-fedcba9876543210"
NUMBER = "+15557007007"
SERVICE = "MG" + "fedcba9876543210" * 2
WEBHOOK_URL = "https://example.com/channels/twilio/webhook?tenant=a"
STATUS_URL = "https://example.com/channels/twilio/status"


def binary(name):
    for sub in (name.split("-")[1], "admin", "tests", ""):
        p = os.path.join(BUILD, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("port %d not listening" % port)


# ---------------------------------------------------------------- redis

# Every process a test starts through this module, so that a test that dies half-way still
# leaves nothing running: at exit, whatever is alive is killed (by its PID, and only ours).
_started = []


def _reap():
    for p in _started:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_reap)


def track(popen):
    _started.append(popen)
    return popen


class RedisError(Exception):
    pass


class RedisClient:
    """A minimal RESP2 client."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if isinstance(a, str):
                a = a.encode()
            elif not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RedisError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            try:
                return data.decode()
            except UnicodeDecodeError:
                return data
        if t == b"*":
            n = int(rest)
            if n < 0:
                return None
            return [self._read() for _ in range(n)]
        raise RedisError("bad reply %r" % line)


class RedisServer:
    """A redis-server of our own on a free port, in a temp dir, stopped by PID."""

    def __init__(self, aof=False, port=None):
        self.dir = tempfile.mkdtemp(prefix="tw-redis-")
        self.port = port or free_port()
        self.aof = aof
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.aof else "no",
                "--appendfsync", "always", "--enable-debug-command", "yes"]
        self.proc = track(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))
        end = time.time() + 10
        while time.time() < end:
            try:
                c = RedisClient(self.port)
                if c("PING") == "PONG":
                    c.close()
                    return
            except (OSError, RedisError, ConnectionError):
                time.sleep(0.02)
        raise TimeoutError("redis-server did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def client(self):
        return RedisClient(self.port)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


# ---------------------------------------------------------------- processes

class Proc:
    """One of our binaries, started with an explicit environment, output kept in a log file."""

    def __init__(self, name, env, port=None, args=(), wait=True):
        self.name = name
        self.log_path = tempfile.mktemp(prefix="tw-%s-" % name, suffix=".log")
        self.log = open(self.log_path, "wb")
        full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                full[k] = os.environ[k]
        full.update({k: str(v) for k, v in env.items() if v is not None})
        # TW_TEST_WRAPPER (e.g. "valgrind --leak-check=full ...") runs the binary under a tool
        wrapper = shlex.split(os.environ.get("TW_TEST_WRAPPER", ""))
        self.proc = track(subprocess.Popen(wrapper + [binary(name)] + list(args), env=full,
                                           stdout=self.log, stderr=subprocess.STDOUT))
        self.port = port
        if port and wait:
            wait_port(port, proc=self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def run_env(**over):
    """The base environment of a program in tests."""
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_WEBHOOK_URL": WEBHOOK_URL, "TWILIO_PHONE_NUMBER": NUMBER,
           "TWILIO_STATUS_CALLBACK_URL": STATUS_URL, "LOG_LEVEL": "info"}
    env.update(over)
    return {k: v for k, v in env.items() if v is not None}


# ---------------------------------------------------------------- http and twilio

def http(port, method, path, body=b"", headers=None, timeout=10.0):
    c = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def encode_form(pairs):
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote_plus)


def sign(token, url, pairs, sort_repeated=False):
    """Twilio's signature: URL (no fragment) + names sorted bytewise, each followed by its value;
    repeated names in delivery order (or sorted, like the helper libraries)."""
    url = url.split("#", 1)[0]
    by_name = {}
    for k, v in pairs:
        by_name.setdefault(k.encode(), []).append(v.encode())
    data = url.encode()
    for k in sorted(by_name):
        vals = sorted(by_name[k]) if sort_repeated else by_name[k]
        for v in vals:
            data += k + v
    return base64.b64encode(hmac.new(token.encode(), data, hashlib.sha1).digest()).decode()


def inbound_pairs(sid, body="hello", frm="+15551230001", to=NUMBER, account=ACCOUNT, extra=()):
    pairs = [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid),
             ("SmsStatus", "received"), ("Body", body), ("To", to), ("NumSegments", "1"),
             ("MessageSid", sid), ("AccountSid", account), ("From", frm), ("ApiVersion", "2010-04-01")]
    return pairs + list(extra)


def post_signed(port, pairs, url=WEBHOOK_URL, token=TOKEN, path="/channels/twilio/webhook",
                headers=None, sig=None):
    body = encode_form(pairs)
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "X-Twilio-Signature": sig if sig is not None else sign(token, url, pairs)}
    h.update(headers or {})
    return http(port, "POST", path, body, h)


def wait_until(pred, timeout=10.0, step=0.02, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("timed out waiting for " + what)


# ---------------------------------------------------------------- runner

def run(tests):
    """Runs test functions in order; prints one line each and the closing 'N passed, N failed'."""
    only = os.environ.get("TW_ONLY")
    passed = failed = 0
    for t in tests:
        if only and only not in t.__name__:
            continue
        start = time.time()
        try:
            t()
            passed += 1
            print("PASS %s (%.2fs)" % (t.__name__, time.time() - start), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    sys.exit(1 if failed or not passed else 0)
