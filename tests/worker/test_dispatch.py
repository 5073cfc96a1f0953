# SPDX-License-Identifier: MIT
"""tw-worker against a real redis-server and the agent stand-in: the Flue request, outcomes,
retries, dead letters, age limit, malformed entries, effects once, the echo agent, metrics,
configuration errors, lost consumer groups, and the SIGTERM drain."""
import email.utils
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wkit as w  # noqa: E402
from wkit import t  # noqa: E402

redis = None
agent = None


def setup():
    global redis, agent
    redis = t.RedisServer()
    agent = w.AgentStandIn()


def teardown():
    if agent:
        agent.stop()
    if redis:
        redis.stop()


def fresh():
    redis.client()("FLUSHALL")
    agent.reset()


def wait_outcome(r, sid, timeout=15):
    return t.wait_until(lambda: w.outcome(r, sid).get("outcome") and w.outcome(r, sid), timeout,
                        what="outcome of " + sid)


# ------------------------------------------------------------------ the request

def test_flue_request_shape():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url, TW_AGENT_TOKEN="agent-secret-1")
    try:
        sid = "SM" + "a" * 32
        media = [("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME"),
                 ("MediaContentType0", "image/jpeg"),
                 ("MediaUrl1", "https://api.twilio.com/x/ME2"), ("MediaContentType1", "audio/ogg")]
        eid = w.xadd_inbound(r, sid, body="héllo + wörld", frm="+15551230001",
                             extra=media + [("NumMedia", "2")])
        o = wait_outcome(r, sid)
        req = agent.snapshot()[0]
        key = w.conv_key("+15551230001")
        assert req["path"] == "/agents/" + w.uri(key), req["path"]
        assert req["key"] == key
        h = req["headers"]
        assert h["content-type"] == "application/json"
        assert h["authorization"] == "Bearer agent-secret-1"
        assert h["idempotency-key"] == sid
        b = req["body"]
        assert b["kind"] == "signal" and b["type"] == "twilio.message"
        assert b["body"] == "héllo + wörld"
        assert b["initialData"] == {"type": "address", "address": t.NUMBER,
                                    "participant": "+15551230001"}
        a = b["attributes"]
        assert a["messageSid"] == sid and a["from"] == "+15551230001" and a["to"] == t.NUMBER
        assert a["mediaContentType0"] == "image/jpeg" and a["mediaContentType1"] == "audio/ogg"
        # NumMedia is repeated in this form (inbound_pairs has one too): a repeated name is an
        # array in the payload, not one string, so it is left out
        assert "numMedia" not in a
        raw = req["raw"].decode()
        assert "api.twilio.com" not in raw and "MediaUrl" not in raw, raw
        assert t.TOKEN not in raw
        assert o["outcome"] == "dispatched" and o["receipt"] == "sub-1", o
        assert o["attempts"] == "1" and o["stream_id"] == eid
        assert w.pending(r) == 0
        assert r("LLEN", "tw:inq:" + key) == 0
        assert len(agent.snapshot()) == 1
        logs = w.log_lines(wk)
        assert any(l.get("msg") == "dispatched" and l.get("message_sid") == sid for l in logs)
        assert "héllo" not in wk.output()  # message bodies never reach the log at info
        assert "agent-secret-1" not in wk.output()
    finally:
        w.stop_clean(wk)


def test_messaging_service_initial_data_and_num_media():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url)
    try:
        sid = "SM" + "b" * 32
        pairs = [("MessageSid", sid), ("AccountSid", t.ACCOUNT), ("From", "+15551230002"),
                 ("To", t.NUMBER), ("Body", "hi"), ("NumMedia", "0"),
                 ("MessagingServiceSid", t.SERVICE)]
        conv = {"type": "messaging-service", "accountSid": t.ACCOUNT, "address": t.NUMBER,
                "participant": "+15551230002", "messagingServiceSid": t.SERVICE}
        w.xadd_inbound(r, sid, fields={
            "payload": w.payload_json(pairs), "conversation": json.dumps(conv),
            "conversation_key": w.conv_key("+15551230002", service=t.SERVICE),
            "received_at": str(int(time.time() * 1000))})
        wait_outcome(r, sid)
        req = agent.snapshot()[0]
        assert req["body"]["initialData"] == {"type": "messaging-service",
                                              "messagingServiceSid": t.SERVICE,
                                              "participant": "+15551230002"}
        assert req["body"]["attributes"]["numMedia"] == "0"
        assert "authorization" not in req["headers"]  # no TW_AGENT_TOKEN, no header
        assert req["key"] == w.conv_key("+15551230002", service=t.SERVICE)
    finally:
        w.stop_clean(wk)


# ------------------------------------------------------------------ retries and dead letters

def test_503_then_202_retried_and_admitted_once():
    fresh()
    r = redis.client()
    sid = "SM" + "c" * 32
    agent.push(dict(status=503), dict(status=503), sid=sid)
    wk = w.start_worker(redis, agent.url)
    try:
        w.xadd_inbound(r, sid)
        o = wait_outcome(r, sid, timeout=20)
        assert o["outcome"] == "dispatched", o
        assert o["attempts"] == "3"
        reqs = [q for q in agent.snapshot() if q["sid"] == sid]
        assert len(reqs) == 3
        assert agent.admissions == [sid]
        assert all(q["headers"]["idempotency-key"] == sid for q in reqs)
        assert reqs[1]["t"] - reqs[0]["t"] >= 0.45  # backoff, not a busy loop
        assert w.stream(r, "inbound:dead") == []
        assert w.pending(r) == 0
    finally:
        w.stop_clean(wk)


def test_429_honours_retry_after():
    fresh()
    r = redis.client()
    secs, date = "SM" + "d" * 32, "SM" + "d" * 31 + "e"
    agent.push(dict(status=429, retry_after="2"), sid=secs)
    # the HTTP-date form, 3 s ahead (whole seconds: at least 2 s from now)
    agent.push(dict(status=503, retry_after=email.utils.formatdate(time.time() + 3, usegmt=True)),
               sid=date)
    wk = w.start_worker(redis, agent.url)
    try:
        w.xadd_inbound(r, secs)
        w.xadd_inbound(r, date, frm="+15551230002")
        wait_outcome(r, secs)
        wait_outcome(r, date)
        for sid, least in ((secs, 1.9), (date, 1.9)):
            reqs = [q for q in agent.snapshot() if q["sid"] == sid]
            assert len(reqs) == 2
            assert reqs[1]["t"] - reqs[0]["t"] >= least, (sid, reqs[1]["t"] - reqs[0]["t"])
        o = w.outcome(r, secs)
        assert o["attempts"] == "2" and "429" in o["last_error"], o
    finally:
        w.stop_clean(wk)


def test_400_dead_letter_with_reason():
    fresh()
    r = redis.client()
    sid = "SM" + "e" * 32
    agent.push(dict(status=400, body='{"error":"bad signal"}'), sid=sid)
    wk = w.start_worker(redis, agent.url)
    try:
        eid = w.xadd_inbound(r, sid, body="will fail")
        o = wait_outcome(r, sid)
        assert o["outcome"] == "failed" and "400" in o["reason"], o
        dead = t.wait_until(lambda: w.stream(r, "inbound:dead"), 5, what="dead letter")
        assert len(dead) == 1
        d = dead[0]
        assert d["stream_id"] == eid and d["attempts"] == "1"
        assert "agent answered 400" in d["reason"] and "bad signal" in d["reason"]
        assert json.loads(d["payload"])["MessageSid"] == sid  # the original fields are kept
        assert d["conversation_key"] == w.conv_key("+15551230001") and d["received_at"]
        assert d["failed_at"].isdigit() and d["consumer"]
        assert len(agent.snapshot()) == 1  # never retried
        assert w.pending(r) == 0
    finally:
        w.stop_clean(wk)


def test_attempt_budget_dead_letter():
    fresh()
    r = redis.client()
    sid = "SM" + "f" * 32
    agent.push(*[dict(status=500)] * 5, sid=sid)
    wk = w.start_worker(redis, agent.url, TW_MAX_ATTEMPTS="2")
    try:
        w.xadd_inbound(r, sid)
        o = wait_outcome(r, sid, timeout=20)
        assert o["outcome"] == "failed" and "TW_MAX_ATTEMPTS" in o["reason"], o
        d = w.stream(r, "inbound:dead")[0]
        assert d["attempts"] == "2" and "500" in d["reason"]
        assert len([q for q in agent.snapshot() if q["sid"] == sid]) == 2
    finally:
        w.stop_clean(wk)


def test_older_than_age_limit_dead_letter():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url, TW_MAX_AGE="1h")
    try:
        old, new = "SM" + "1" * 32, "SM" + "2" * 32
        w.xadd_inbound(r, old, received_at=int(time.time() * 1000) - 2 * 3600 * 1000)
        w.xadd_inbound(r, new)  # same conversation: it must not wait forever behind the old one
        o = wait_outcome(r, old)
        assert o["outcome"] == "failed" and "TW_MAX_AGE" in o["reason"], o
        assert wait_outcome(r, new)["outcome"] == "dispatched"
        assert [q["sid"] for q in agent.snapshot()] == [new]
        d = w.stream(r, "inbound:dead")
        assert len(d) == 1 and "TW_MAX_AGE" in d[0]["reason"]
    finally:
        w.stop_clean(wk)


def test_retries_stop_at_the_age_limit():
    fresh()
    r = redis.client()
    sid = "SM" + "3" * 32
    agent.push(*[dict(status=503)] * 20, sid=sid)
    wk = w.start_worker(redis, agent.url, TW_MAX_AGE="2s")
    try:
        w.xadd_inbound(r, sid)
        o = wait_outcome(r, sid, timeout=20)
        assert o["outcome"] == "failed" and "TW_MAX_AGE" in o["reason"], o
    finally:
        w.stop_clean(wk)


def test_malformed_entries_dead_lettered():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url)
    try:
        now = str(int(time.time() * 1000))
        bad = [
            {"payload": "{not json", "conversation_key": w.conv_key("+15550000001"),
             "received_at": now},
            {"payload": json.dumps({"Body": "no sid"}), "received_at": now},
            {"payload": json.dumps({"MessageSid": "SM" + "4" * 32}), "received_at": now},
        ]
        for f in bad:
            w.xadd_inbound(r, None, fields=f)
        good = "SM" + "5" * 32
        w.xadd_inbound(r, good, frm="+15550000001")
        t.wait_until(lambda: len(w.stream(r, "inbound:dead")) == 3, 10, what="3 dead letters")
        reasons = sorted(d["reason"] for d in w.stream(r, "inbound:dead"))
        assert any("payload" in x for x in reasons), reasons
        assert any("MessageSid" in x for x in reasons), reasons
        assert any("conversation_key" in x for x in reasons), reasons
        assert wait_outcome(r, good)["outcome"] == "dispatched"
        assert w.outcome(r, "SM" + "4" * 32)["outcome"] == "failed"
        t.wait_until(lambda: w.pending(r) == 0, 5, what="all acknowledged")
    finally:
        w.stop_clean(wk)


# ------------------------------------------------------------------ effects once

def test_replayed_sid_not_dispatched_again():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url)
    try:
        sid = "SM" + "6" * 32
        w.xadd_inbound(r, sid)
        wait_outcome(r, sid)
        first = w.outcome(r, sid)
        w.xadd_inbound(r, sid)  # the same message again (a replay, a second ingress)
        t.wait_until(lambda: w.pending(r) == 0 and r("XLEN", "tw:inbound") >= 0 and
                     any(l.get("msg", "").startswith("already handled") for l in w.log_lines(wk)),
                     10, what="replay acknowledged")
        assert len(agent.snapshot()) == 1
        assert w.outcome(r, sid) == first
    finally:
        w.stop_clean(wk)


def test_failed_sid_replayed_from_dead_letter_is_dispatched():
    fresh()
    r = redis.client()
    sid = "SM" + "7" * 32
    agent.push(dict(status=404), sid=sid)
    wk = w.start_worker(redis, agent.url)
    try:
        w.xadd_inbound(r, sid)
        assert wait_outcome(r, sid)["outcome"] == "failed"
        d = w.stream(r, "inbound:dead")[0]
        fields = {k: d[k] for k in ("payload", "conversation", "conversation_key", "received_at")}
        fields["received_at"] = str(int(time.time() * 1000))
        eid = w.xadd_inbound(r, None, fields=fields)  # what an operator's replay does
        o = t.wait_until(lambda: w.outcome(r, sid).get("outcome") == "dispatched" and
                         w.outcome(r, sid), 10, what="replayed")
        assert o["stream_id"] == eid and o["attempts"] == "1"
    finally:
        w.stop_clean(wk)


# ------------------------------------------------------------------ echo agent

def test_echo_agent_enqueues_one_reply():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, None, TW_AGENT="echo")
    try:
        sid = "SM" + "8" * 32
        w.xadd_inbound(r, sid, body="ping ✓")
        o = wait_outcome(r, sid)
        assert o["outcome"] == "dispatched" and o["receipt"].startswith("ob"), o
        jobs = w.stream(r, "outbound")
        assert len(jobs) == 1
        job = w.hgetall(r, "tw:job:" + o["receipt"])
        assert job["body"] == "Echo: ping ✓"
        assert job["conversation_key"] == w.conv_key("+15551230001")
        assert job["idempotency_key"] == "echo:" + sid
        # a re-dispatch of the same MessageSid (its outcome lost) finds the same reply
        r("DEL", "tw:outcome:" + sid)
        w.xadd_inbound(r, sid, body="ping ✓")
        t.wait_until(lambda: w.outcome(r, sid).get("outcome"), 10, what="second outcome")
        assert w.outcome(r, sid)["receipt"] == o["receipt"]
        assert len(w.stream(r, "outbound")) == 1
    finally:
        w.stop_clean(wk)


# ------------------------------------------------------------------ control input

def test_stop_start_help():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url)
    try:
        p = "+15551239999"
        key = "tw:optout:%s:%s" % (t.ACCOUNT, t.NUMBER)
        s1, s2, s3, s4 = ("SM%032d" % i for i in (11, 12, 13, 14))
        w.xadd_inbound(r, s1, body="STOP", frm=p, extra=[("OptOutType", "STOP")])
        assert wait_outcome(r, s1) == dict(wait_outcome(r, s1), outcome="skipped", reason="STOP")
        assert r("SISMEMBER", key, p) == 1
        w.xadd_inbound(r, s2, body="HELP", frm=p, extra=[("OptOutType", "HELP")])
        assert wait_outcome(r, s2)["reason"] == "HELP"
        assert r("SISMEMBER", key, p) == 1
        w.xadd_inbound(r, s3, body="START", frm=p, extra=[("OptOutType", "START")])
        assert wait_outcome(r, s3)["reason"] == "START"
        assert r("SISMEMBER", key, p) == 0
        w.xadd_inbound(r, s4, body="hello again", frm=p)
        assert wait_outcome(r, s4)["outcome"] == "dispatched"
        assert [q["sid"] for q in agent.snapshot()] == [s4]  # control input never reached it
    finally:
        w.stop_clean(wk)


def test_stop_for_messaging_service_and_help_to_agent():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url, TW_HELP_TO_AGENT="true")
    try:
        p = "+15551238888"
        s1, s2 = "SM%032d" % 21, "SM%032d" % 22
        w.xadd_inbound(r, s1, body="stop", frm=p, service=t.SERVICE,
                       extra=[("OptOutType", "STOP")])
        wait_outcome(r, s1)
        assert r("SISMEMBER", "tw:optout:%s:%s" % (t.ACCOUNT, t.SERVICE), p) == 1
        w.xadd_inbound(r, s2, body="help", frm=p, extra=[("OptOutType", "HELP")])
        assert wait_outcome(r, s2)["outcome"] == "dispatched"
        assert [q["sid"] for q in agent.snapshot()] == [s2]
    finally:
        w.stop_clean(wk)


# ------------------------------------------------------------------ operations

def test_bad_configuration_exits_78():
    cases = [dict(TW_AGENT="nosuch"), dict(TW_AGENT="http", TW_AGENT_URL=None),
             dict(TW_WORKER_CONCURRENCY="0"), dict(TW_CLAIM_IDLE_MS="abc"),
             dict(TW_METRICS_LISTEN="nope")]
    for over in cases:
        env = dict(TW_AGENT_URL=agent.url)
        env.update(over)
        p = w.start_worker(redis, wait=False, **env)
        p.proc.wait(10)
        out = p.output()
        assert p.proc.returncode == 78, (over, p.proc.returncode, out)
        name = [k for k in over][0]
        if over.get("TW_AGENT_URL", "") is None:
            name = "TW_AGENT_URL"
        assert name in out, (over, out)
        p.stop()


def test_metrics_and_nogroup_recreated():
    fresh()
    r = redis.client()
    mport = t.free_port()
    wk = w.start_worker(redis, agent.url, TW_METRICS_LISTEN="127.0.0.1:%d" % mport)
    try:
        sid = "SM" + "9" * 32
        w.xadd_inbound(r, sid)
        wait_outcome(r, sid)
        # Redis loses everything (e.g. restarted without persistence): the group comes back
        r("FLUSHALL")
        sid2 = "SM" + "0" * 31 + "1"
        w.xadd_inbound(r, sid2)
        wait_outcome(r, sid2)
        s, _, body = t.http(mport, "GET", "/metrics")
        text = body.decode()
        assert s == 200
        assert 'tw_worker_dispatched_total{agent="http"} 2' in text, text
        assert "tw_worker_dispatch_seconds_bucket" in text
        assert "tw_worker_group_created_total" in text
        t.wait_until(lambda: 'tw_worker_pending{stream="inbound"} 0' in
                     t.http(mport, "GET", "/metrics")[2].decode(), 5, what="pending gauge")
        assert any(l.get("msg") == "consumer group missing; recreating it" for l in
                   w.log_lines(wk))
    finally:
        w.stop_clean(wk)


def test_sigterm_finishes_in_flight_dispatch_and_exits_0():
    fresh()
    r = redis.client()
    sid = "SM" + "ab" * 16
    agent.push(dict(delay=1.5), sid=sid)
    wk = w.start_worker(redis, agent.url, TW_WORKER_ID="leaver")
    w.xadd_inbound(r, sid)
    agent.wait_requests(1, sid=sid)
    w.stop_clean(wk)  # SIGTERM while the agent still holds the request
    o = w.outcome(r, sid)
    assert o.get("outcome") == "dispatched", o
    assert w.pending(r) == 0
    # holding nothing, it left both groups: no dead names pile up as replicas come and go
    for stream, group in (("tw:inbound", "workers"), ("tw:status", "status")):
        names = [dict(zip(c[0::2], c[1::2]))["name"] for c in r("XINFO", "CONSUMERS", stream, group)]
        assert "leaver" not in names, names


def test_sigterm_hands_back_waiting_entries():
    fresh()
    r = redis.client()
    wk = w.start_worker(redis, agent.url, TW_CLAIM_IDLE_MS="60000")
    s1, s2 = "SM" + "ac" * 16, "SM" + "ad" * 16
    agent.push(dict(delay=1.0), sid=s1)
    w.xadd_inbound(r, s1)
    w.xadd_inbound(r, s2)  # same conversation: waits behind s1
    agent.wait_requests(1, sid=s1)
    w.stop_clean(wk)
    assert w.outcome(r, s1).get("outcome") == "dispatched"
    # s2 was given back with its idle time at TW_CLAIM_IDLE_MS: the next worker takes it at once
    wk2 = w.start_worker(redis, agent.url, TW_CLAIM_IDLE_MS="60000")
    try:
        assert wait_outcome(r, s2, timeout=10)["outcome"] == "dispatched"
    finally:
        w.stop_clean(wk2)


def test_redis_down_at_start_then_up():
    fresh()
    r = redis.client()
    sid = "SM" + "ae" * 16
    w.xadd_inbound(r, sid)
    redis.stop()
    wk = w.start_worker(redis, agent.url)
    try:
        time.sleep(1.5)
        assert wk.alive()
        warns = [l for l in w.log_lines(wk) if l.get("msg", "").startswith("redis unavailable")]
        assert len(warns) == 1, warns  # logged once, retried with backoff
        redis.start()
        r = redis.client()
        w.xadd_inbound(r, sid)  # the server had no persistence: write it again
        assert wait_outcome(r, sid)["outcome"] == "dispatched"
    finally:
        w.stop_clean(wk)


if __name__ == "__main__":
    setup()
    try:
        t.run([test_flue_request_shape, test_messaging_service_initial_data_and_num_media,
               test_503_then_202_retried_and_admitted_once, test_429_honours_retry_after,
               test_400_dead_letter_with_reason, test_attempt_budget_dead_letter,
               test_older_than_age_limit_dead_letter, test_retries_stop_at_the_age_limit,
               test_malformed_entries_dead_lettered, test_replayed_sid_not_dispatched_again,
               test_failed_sid_replayed_from_dead_letter_is_dispatched,
               test_echo_agent_enqueues_one_reply, test_stop_start_help,
               test_stop_for_messaging_service_and_help_to_agent, test_bad_configuration_exits_78,
               test_metrics_and_nogroup_recreated,
               test_sigterm_finishes_in_flight_dispatch_and_exits_0,
               test_sigterm_hands_back_waiting_entries, test_redis_down_at_start_then_up])
    finally:
        teardown()
