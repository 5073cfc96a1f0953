# SPDX-License-Identifier: MIT
"""Helpers for the sender tests: the Twilio stand-in, conversation keys, jobs enqueued through the
real tw_outbound_enqueue (tw-test-enqueue), and reading jobs back from Redis."""
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import twtest as tw  # noqa: E402

PREFIX = "tw:"
NUMBER2 = "+15557008008"


def quote(s):
    """encodeURIComponent."""
    return urllib.parse.quote(s, safe="-_.!~*'()")


def conv_key(participant, address=tw.NUMBER, account=tw.ACCOUNT, service=None):
    if service:
        return "twilio:v1:account:%s:messaging-service:%s:address:%s:participant:%s" % (
            quote(account), quote(service), quote(address), quote(participant))
    return "twilio:v1:account:%s:address:%s:participant:%s" % (
        quote(account), quote(address), quote(participant))


class StandIn:
    """The Twilio stand-in binary on a free port."""

    def __init__(self, account=tw.ACCOUNT, token=tw.TOKEN, key_sid=None, key_secret=None,
                 extra=()):
        self.port = tw.free_port()
        args = ["--port", str(self.port), "--account", account, "--token", token]
        if key_sid:
            args += ["--api-key-sid", key_sid, "--api-key-secret", key_secret]
        args += list(extra)
        self.proc = tw.Proc("tw-twilio-standin", {}, port=self.port, args=args)
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        return self.proc.stop()

    def _get(self, path):
        st, _, body = tw.http(self.port, "GET", path)
        assert st == 200, (path, st, body)
        return json.loads(body)

    def script(self, *actions):
        st, _, body = tw.http(self.port, "POST", "/_control/script",
                              json.dumps({"actions": list(actions)}),
                              {"Content-Type": "application/json"})
        assert st == 200, body

    def requests(self):
        return self._get("/_control/log")["requests"]

    def creates(self):
        """Every POST to Messages.json, in arrival order."""
        return [r for r in self.requests() if r["method"] == "POST"]

    def created(self):
        """The messages the stand-in created, in creation order."""
        return self._get("/_control/messages")["messages"]

    def lists(self):
        return [r for r in self.requests() if r["method"] == "GET"]


def enqueue(redis_url, pairs, idem=None, media=None, prefix=PREFIX):
    """Enqueues (conversation_key, body) pairs; returns [(result, job_id)]."""
    args = [tw.binary("tw-test-enqueue"), redis_url, prefix]
    if idem:
        args += ["--idem", idem]
    if media is not None:
        args += ["--media", json.dumps(media)]
    for k, b in pairs:
        args += [k, b]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [tuple(line.split()) for line in out.splitlines()]


def job(r, job_id, prefix=PREFIX):
    flat = r("HGETALL", prefix + "job:" + job_id)
    return dict(zip(flat[0::2], flat[1::2]))


def stream(r, key):
    """A stream's entries as [(id, {field: value})]."""
    return [(e[0], dict(zip(e[1][0::2], e[1][1::2]))) for e in r("XRANGE", key, "-", "+")]


def sender_env(redis, standin, **over):
    env = tw.run_env(REDIS_URL=redis.url, TWILIO_API_BASE=standin.base, TW_SEND_MPS="0",
                     TW_CLAIM_IDLE_MS="1000", TW_SEND_TIMEOUT="3s")
    env.pop("TWILIO_WEBHOOK_URL", None)
    env.update({k: v for k, v in over.items()})
    return {k: v for k, v in env.items() if v is not None}


def start_sender(redis, standin, **over):
    return tw.Proc("tw-sender", sender_env(redis, standin, **over))


def wait_state(r, job_id, states, timeout=15.0):
    def done():
        j = job(r, job_id)
        return j if j.get("state") in states else None
    return tw.wait_until(done, timeout=timeout, what="job %s in %s" % (job_id, states))
