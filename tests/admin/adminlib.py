# SPDX-License-Identifier: MIT
"""Runs tw-admin for the tests, and small fakes it talks to. Standard library only."""
import http.server
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest  # noqa: E402


def admin(args, env=None, timeout=60):
    """Runs tw-admin with exactly env (plus PATH and sanitizer options); returns
    (exit status, stdout, stderr)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            full[k] = os.environ[k]
    full.update({k: str(v) for k, v in (env or {}).items() if v is not None})
    p = subprocess.run([twtest.binary("tw-admin")] + list(args), env=full, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def admin_json(args, env=None):
    rc, out, err = admin(["--json"] + list(args), env)
    try:
        doc = json.loads(out) if out.strip() else None
    except ValueError:
        raise AssertionError("not JSON (rc %d): %r %r" % (rc, out, err))
    return rc, doc, err


class Recorder:
    """An HTTP server on a free loopback port that records each request and answers with the
    status set in .status (200 by default)."""

    def __init__(self, status=200, body=b""):
        self.requests = []
        self.status = status
        self.body = body
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else b""
                rec.requests.append({"method": self.command, "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": data})
                self.send_response(rec.status)
                self.send_header("Content-Length", str(len(rec.body)))
                self.end_headers()
                self.wfile.write(rec.body)

            do_GET = do_POST = _any

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
