# SPDX-License-Identifier: MIT
"""Helpers for the tw-worker tests: entries written exactly as the ingress writes them (the queue
contract), the worker started as a real process, and readers for its records."""
import json
import os
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "standins"))
import twtest as t  # noqa: E402
from agent import AgentStandIn  # noqa: E402,F401

PREFIX = "tw:"


def uri(s):
    """encodeURIComponent."""
    return urllib.parse.quote(s, safe="-_.!~*'()")


def conv_key(participant, address=t.NUMBER, account=t.ACCOUNT, service=None):
    if service:
        return "twilio:v1:account:%s:messaging-service:%s:address:%s:participant:%s" % (
            uri(account), uri(service), uri(address), uri(participant))
    return "twilio:v1:account:%s:address:%s:participant:%s" % (uri(account), uri(address),
                                                               uri(participant))


def payload_json(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            out[k] = out[k] if isinstance(out[k], list) else [out[k]]
            out[k].append(v)
        else:
            out[k] = v
    return json.dumps(out)


def xadd_inbound(r, sid, body="hello", frm="+15551230001", to=t.NUMBER, received_at=None,
                 extra=(), service=None, fields=None):
    """Appends an inbound entry the way tw-ingress does; returns its stream id."""
    pairs = t.inbound_pairs(sid, body=body, frm=frm, to=to, extra=extra)
    if service:
        pairs.append(("MessagingServiceSid", service))
    conv = {"type": "messaging-service" if service else "address", "accountSid": t.ACCOUNT,
            "address": to, "participant": frm}
    if service:
        conv["messagingServiceSid"] = service
    f = {"payload": payload_json(pairs), "conversation": json.dumps(conv),
         "conversation_key": conv_key(frm, to, service=service),
         "received_at": str(received_at if received_at is not None else int(time.time() * 1000))}
    if fields is not None:
        f = fields
    args = []
    for k, v in f.items():
        args += [k, v]
    return r("XADD", PREFIX + "inbound", "*", *args)


def xadd_status(r, sid, status, error_code=None, frm=t.NUMBER, to="+15551230001",
                received_at=None, with_conversation=True):
    pairs = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", t.ACCOUNT),
             ("MessageStatus", status), ("SmsStatus", status), ("From", frm), ("To", to),
             ("ApiVersion", "2010-04-01")]
    if error_code:
        pairs.append(("ErrorCode", error_code))
    f = ["payload", payload_json(pairs),
         "received_at", str(received_at if received_at is not None else int(time.time() * 1000))]
    if with_conversation:
        f += ["conversation", json.dumps({"type": "address", "accountSid": t.ACCOUNT,
                                          "address": frm, "participant": to}),
              "conversation_key", conv_key(to, frm)]
    return r("XADD", PREFIX + "status", "*", *f)


def start_worker(redis, agent_url=None, wait=True, **env):
    base = t.run_env(REDIS_URL=redis.url, TW_AGENT_URL=agent_url, TW_CLAIM_IDLE_MS="1000",
                     TW_WORKER_CONCURRENCY="8")
    base.update({k: v for k, v in env.items()})
    p = t.Proc("tw-worker", {k: v for k, v in base.items() if v is not None})
    if wait:
        t.wait_until(lambda: '"worker started"' in p.output() or not p.alive(), 10,
                     what="worker start")
        assert p.alive(), p.output()
    return p


def hgetall(r, key):
    v = r("HGETALL", key) or []
    return dict(zip(v[0::2], v[1::2]))


def outcome(r, sid):
    return hgetall(r, PREFIX + "outcome:" + sid)


def stream(r, name):
    out = []
    for eid, fields in r("XRANGE", PREFIX + name, "-", "+"):
        d = dict(zip(fields[0::2], fields[1::2]))
        d["_id"] = eid
        out.append(d)
    return out


def pending(r, stream_name="inbound", group="workers"):
    try:
        return r("XPENDING", PREFIX + stream_name, group)[0]
    except t.RedisError:
        return 0


def log_lines(proc):
    out = []
    for line in proc.output().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def stop_clean(proc):
    """SIGTERM; asserts exit 0 and no sanitizer report."""
    rc = proc.stop()
    out = proc.output()
    assert rc == 0, "exit %s\n%s" % (rc, out[-4000:])
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out[-4000:]
    assert "LeakSanitizer" not in out, out[-4000:]
