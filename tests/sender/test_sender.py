# SPDX-License-Identifier: MIT
"""tw-sender against the Twilio stand-in and a real redis-server: the happy path, Twilio's
answers (429, 4xx, 5xx, closed connections, timeouts), reconciliation, opt-outs, API keys,
order across replicas, pacing, crashes and SIGTERM."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import sendlib as sl  # noqa: E402
import twtest as tw  # noqa: E402

FINAL = ("sent", "failed", "unknown")
P1 = "+15551230001"
P2 = "+15551230002"


@contextlib.contextmanager
def pipeline(senders=1, standin=None, **env):
    """A redis-server, the stand-in and `senders` tw-sender processes; all stopped afterwards."""
    redis = tw.RedisServer()
    si = standin or sl.StandIn()
    procs = []
    try:
        for i in range(senders):
            procs.append(sl.start_sender(redis, si, TW_WORKER_ID="sender-%d" % i, **env))
        yield redis, si, procs
        for p in procs:
            if p.alive():
                assert p.stop() == 0, p.output()[-2000:]
    except BaseException:
        for p in procs:
            p.stop()
            print(p.output()[-4000:])
        raise
    finally:
        si.stop()
        redis.stop()


def wait_consumers(r, n):
    """Until n senders wait on the stream (slow starts, e.g. under valgrind, must not skew a
    test). Redis 7.0 creates a consumer only when it reads something, so the sign is a client
    whose last command is XREADGROUP."""
    def ready():
        clients = r("CLIENT", "LIST").splitlines()
        return sum("cmd=xreadgroup" in c for c in clients) >= n
    tw.wait_until(ready, timeout=60, what="%d senders reading" % n)


def send(redis, body="hello", participant=P1, **kw):
    return sl.enqueue(redis.url, [(sl.conv_key(participant, **kw), body)])[0][1]


def params(req):
    out = {}
    for k, v in req["params"]:
        out.setdefault(k, []).append(v)
    return out


def test_happy_path_records_sid_and_first_status():
    with pipeline() as (redis, si, _):
        r = redis.client()
        job_id = send(redis, "hello there")
        j = sl.wait_state(r, job_id, FINAL)
        assert j["state"] == "sent", j
        creates = si.creates()
        assert len(creates) == 1
        c = creates[0]
        assert c["auth_user"] == tw.ACCOUNT
        assert c["content_type"].startswith("application/x-www-form-urlencoded")
        assert params(c) == {"To": [P1], "From": [tw.NUMBER], "Body": ["hello there"],
                             "StatusCallback": [tw.STATUS_URL]}, c
        assert j["sid"] == c["sid"] and j["attempts"] == "1"
        # the first status, written with the shared status script, linked back to the job
        msg = dict(zip(*[iter(r("HGETALL", "tw:msg:" + j["sid"]))] * 2))
        assert msg["status"] == "queued" and msg["job_id"] == job_id, msg
        assert msg["to"] == P1 and msg["from"] == tw.NUMBER
        assert msg["conversation_key"] == j["conversation_key"]
        assert r("LLEN", "tw:msg:%s:history" % j["sid"]) == 1
        # acknowledged and removed; the conversation list is empty; the job expires later
        assert r("XLEN", "tw:outbound") == 0
        assert r("XPENDING", "tw:outbound", "senders")[0] == 0
        assert r("EXISTS", "tw:outq:" + j["conversation_key"]) == 0
        assert 0 < r("TTL", "tw:job:" + job_id) <= 7 * 86400


def test_messaging_service_and_media():
    with pipeline() as (redis, si, _):
        r = redis.client()
        media = ["https://example.com/a.png", "https://example.com/b.jpg"]
        key = sl.conv_key(P2, service=tw.SERVICE)
        job_id = sl.enqueue(redis.url, [(key, "")], media=media)[0][1]
        j = sl.wait_state(r, job_id, FINAL)
        assert j["state"] == "sent", j
        p = params(si.creates()[0])
        assert p["MessagingServiceSid"] == [tw.SERVICE] and "From" not in p
        assert p["MediaUrl"] == media and "Body" not in p, p
        # a service's first status is Twilio's "accepted"
        assert r("HGET", "tw:msg:" + j["sid"], "status") == "accepted"


def test_api_key_credentials():
    key_sid, secret = "SK" + "ab" * 16, "api-key-secret-1"
    si = sl.StandIn(key_sid=key_sid, key_secret=secret)
    with pipeline(standin=si, TWILIO_API_KEY_SID=key_sid, TWILIO_API_KEY_SECRET=secret) as (
            redis, si, _):
        j = sl.wait_state(redis.client(), send(redis), FINAL)
        assert j["state"] == "sent"
        assert [c["auth_user"] for c in si.creates()] == [key_sid]


def test_wrong_credentials_are_retried_not_dead_lettered():
    with pipeline(TWILIO_AUTH_TOKEN="wrong-token") as (redis, si, _):
        r = redis.client()
        job_id = send(redis)
        tw.wait_until(lambda: len(si.creates()) >= 2, timeout=10, what="a second attempt")
        assert all(c["status"] == 401 for c in si.creates())
        j = sl.job(r, job_id)
        assert j["state"] in ("queued", "sending") and j["last_error"] == "401", j
        assert r("XLEN", "tw:outbound:dead") == 0
        assert si.created() == []


def test_429_twice_then_201_honours_retry_after():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 429, "times": 2, "retry_after": 1})
        j = sl.wait_state(r, send(redis), FINAL, timeout=20)
        assert j["state"] == "sent" and j["attempts"] == "3", j
        creates = si.creates()
        assert [c["status"] for c in creates] == [429, 429, 201]
        # Retry-After is a lower bound on the wait
        for a, b in zip(creates, creates[1:]):
            assert b["at_ms"] - a["at_ms"] >= 1000, creates
        assert len(si.created()) == 1


def test_a_retry_past_the_age_budget_fails_instead():
    with pipeline(TW_MAX_AGE="5s") as (redis, si, _):
        r = redis.client()
        wait_consumers(r, 1)
        si.script({"status": 429, "retry_after": 30})
        j = sl.wait_state(r, send(redis), FINAL)
        assert j["state"] == "failed" and j["error_code"] == "20429", j
        d = sl.stream(r, "tw:outbound:dead")
        assert [x[1]["reason"] for x in d] == ["max_age"]
        assert len(si.creates()) == 1


def test_400_21211_goes_to_dead_letters_and_is_never_retried():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 400, "code": 21211, "message": "Invalid 'To' Phone Number"})
        job_id = send(redis)
        j = sl.wait_state(r, job_id, FINAL)
        assert j["state"] == "failed" and j["error_code"] == "21211", j
        assert j["more_info"] == "https://www.twilio.com/docs/errors/21211"
        dead = sl.stream(r, "tw:outbound:dead")
        assert len(dead) == 1
        d = dead[0][1]
        assert d["job_id"] == job_id and d["reason"] == "permanent" and d["error_code"] == "21211"
        assert d["error_message"] == "Invalid 'To' Phone Number" and d["attempts"] == "1"
        assert d["more_info"].endswith("/21211")
        # a later job of the same conversation is not blocked by it, and nothing is retried
        j2 = sl.wait_state(r, send(redis, "next"), FINAL)
        assert j2["state"] == "sent"
        time.sleep(1.5)
        assert len(si.creates()) == 2
        assert r("XLEN", "tw:outbound") == 0


def test_21610_records_the_opt_out_and_later_jobs_fail_without_a_call():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 400, "code": 21610, "message": "Attempt to send to unsubscribed "
                   "recipient"})
        j = sl.wait_state(r, send(redis), FINAL)
        assert j["state"] == "failed" and j["error_code"] == "21610"
        optout_key = "tw:optout:%s:%s" % (tw.ACCOUNT, tw.NUMBER)
        assert r("SISMEMBER", optout_key, P1) == 1
        j2 = sl.wait_state(r, send(redis, "again"), FINAL)
        assert j2["state"] == "failed" and j2["error_code"] == "21610", j2
        assert "refused locally" in j2["error_message"]
        assert len(si.creates()) == 1  # no second call
        reasons = [d["reason"] for _, d in sl.stream(r, "tw:outbound:dead")]
        assert reasons == ["permanent", "opted_out"]
        # another participant is unaffected
        assert sl.wait_state(r, send(redis, participant=P2), FINAL)["state"] == "sent"


def test_opted_out_participant_fails_without_a_call():
    with pipeline() as (redis, si, _):
        r = redis.client()
        r("SADD", "tw:optout:%s:%s" % (tw.ACCOUNT, tw.NUMBER), P1)
        # a Messaging Service conversation honours an opt-out recorded for the service
        r("SADD", "tw:optout:%s:%s" % (tw.ACCOUNT, tw.SERVICE), P2)
        j1 = sl.wait_state(r, send(redis), FINAL)
        j2 = sl.wait_state(r, send(redis, participant=P2, service=tw.SERVICE), FINAL)
        for j in (j1, j2):
            assert j["state"] == "failed" and j["error_code"] == "21610", j
        assert si.creates() == []


def test_500_without_a_message_is_reconciled_absent_and_sent_again():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 500, "create": False})
        j = sl.wait_state(r, send(redis), FINAL, timeout=20)
        assert j["state"] == "sent" and j["reconciled"] == "absent", j
        assert [c["status"] for c in si.creates()] == [500, 201]
        assert len(si.created()) == 1
        lists = si.lists()
        assert len(lists) == 2, lists  # with a DateSent filter, then without one
        q1 = dict(lists[0]["params"])
        assert q1["To"] == P1 and q1["From"] == tw.NUMBER and "DateSent>" in q1, q1
        assert "DateSent>" not in dict(lists[1]["params"])


def test_500_after_creating_is_reconciled_found_not_sent_twice():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 500, "create": True})
        j = sl.wait_state(r, send(redis), FINAL, timeout=20)
        assert j["state"] == "sent" and j["reconciled"] == "found", j
        created = si.created()
        assert len(created) == 1 and j["sid"] == created[0]["sid"]
        assert len(si.creates()) == 1
        assert r("HGET", "tw:msg:" + j["sid"], "job_id") == j["id"]


def test_connection_closed_after_create_is_reconciled():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"close": True, "create": True})
        j = sl.wait_state(r, send(redis), FINAL, timeout=20)
        assert j["state"] == "sent" and j["reconciled"] == "found", j
        assert len(si.creates()) == 1 and len(si.created()) == 1


def test_timeout_after_create_is_reconciled():
    with pipeline(TW_SEND_TIMEOUT="1s") as (redis, si, _):
        r = redis.client()
        si.script({"hang_ms": 3000, "create": True})
        j = sl.wait_state(r, send(redis), FINAL, timeout=20)
        assert j["state"] == "sent" and j["reconciled"] == "found", j
        assert len(si.created()) == 1


def test_same_body_twice_is_not_mistaken_for_the_lost_attempt():
    with pipeline() as (redis, si, _):
        r = redis.client()
        first = sl.wait_state(r, send(redis, "ok"), FINAL)
        assert first["state"] == "sent"
        si.script({"status": 500, "create": False})
        j = sl.wait_state(r, send(redis, "ok"), FINAL, timeout=20)
        # the earlier "ok" is linked to the first job, so the second is absent and sent again
        assert j["state"] == "sent" and j["reconciled"] == "absent", j
        assert j["sid"] != first["sid"] and len(si.created()) == 2


def test_unreadable_list_ends_unknown_in_at_most_once_mode():
    with pipeline() as (redis, si, _):
        r = redis.client()
        si.script({"status": 500, "create": False}, {"op": "list", "status": 500, "times": 20})
        j = sl.wait_state(r, send(redis), FINAL, timeout=60)
        assert j["state"] == "unknown", j
        d = sl.stream(r, "tw:outbound:dead")
        assert [x[1]["reason"] for x in d] == ["ambiguous"] and d[0][1]["state"] == "unknown"
        assert len(si.creates()) == 1  # never sent blindly again


def test_unreadable_list_sends_again_in_at_least_once_mode():
    with pipeline(TW_SEND_MODE="at-least-once") as (redis, si, _):
        r = redis.client()
        si.script({"status": 500, "create": False}, {"op": "list", "status": 500, "times": 20})
        j = sl.wait_state(r, send(redis), FINAL, timeout=60)
        assert j["state"] == "sent" and j["reconciled"] == "unverified", j
        assert [c["status"] for c in si.creates()] == [500, 201]


def test_sender_killed_after_create_before_ack_is_resolved_by_reconciliation():
    with pipeline(senders=0) as (redis, si, _):
        r = redis.client()
        si.script({"hang_ms": 10000, "create": True})
        a = sl.start_sender(redis, si, TW_WORKER_ID="doomed", TW_SEND_TIMEOUT="20s")
        job_id = send(redis)
        tw.wait_until(lambda: len(si.created()) == 1, what="the stand-in created the message")
        assert sl.job(r, job_id)["state"] == "sending"
        a.kill9()
        b = sl.start_sender(redis, si, TW_WORKER_ID="survivor", TW_SEND_TIMEOUT="1s")
        try:
            j = sl.wait_state(r, job_id, FINAL, timeout=30)
            assert j["state"] == "sent" and j["reconciled"] == "found", j
            assert j["sid"] == si.created()[0]["sid"]
            assert len(si.creates()) == 1  # no second create
            assert r("XPENDING", "tw:outbound", "senders")[0] == 0
            assert b.stop() == 0
        finally:
            b.stop()
            print(b.output()[-3000:]) if b.proc.returncode else None


def test_order_per_conversation_with_two_senders():
    with pipeline(senders=2, TW_SEND_CONCURRENCY="4", LOG_LEVEL="debug") as (redis, si, procs):
        r = redis.client()
        wait_consumers(r, 2)
        parts = ["+1555123%04d" % i for i in range(10)]
        conv_of = {}
        for n in range(10):
            # one at a time, rotating the order each round, so each conversation's entries
            # spread over both senders (idle senders take turns at new entries)
            for p in parts[n:] + parts[:n]:
                _, job_id = sl.enqueue(redis.url, [(sl.conv_key(p), "%s #%03d" % (p, n))])[0]
                conv_of[job_id] = p
        for job_id in conv_of:
            assert sl.wait_state(r, job_id, FINAL, timeout=60)["state"] == "sent"
        by_to = {}
        for c in si.creates():
            p = params(c)
            by_to.setdefault(p["To"][0], []).append(p["Body"][0])
        assert sorted(by_to) == sorted(parts)
        for p in parts:
            assert by_to[p] == ["%s #%03d" % (p, n) for n in range(10)], by_to[p]
        # the order held although each conversation's entries went to both replicas
        readers = {}
        for i, proc in enumerate(procs):
            for line in proc.output().splitlines():
                if '"entry read"' in line:
                    readers.setdefault(conv_of[json.loads(line)["job_id"]], set()).add(i)
        shared = [p for p, who in readers.items() if who == {0, 1}]
        assert len(shared) >= 3, readers


def test_pacing_per_identity_shared_by_replicas():
    with pipeline(senders=2, TW_SEND_MPS="5") as (redis, si, _):
        r = redis.client()
        wait_consumers(r, 2)
        slow = [(sl.conv_key("+1555200%04d" % i), "a%02d" % i) for i in range(20)]
        fast = [(sl.conv_key("+1555300%04d" % i, address=sl.NUMBER2), "b%02d" % i)
                for i in range(3)]
        start = time.time()
        jobs = sl.enqueue(redis.url, slow + fast)
        for _, job_id in jobs:
            assert sl.wait_state(r, job_id, FINAL, timeout=60)["state"] == "sent"
        creates = si.creates()
        a = [c["at_ms"] for c in creates if params(c)["From"] == [tw.NUMBER]]
        b = [c["at_ms"] for c in creates if params(c)["From"] == [sl.NUMBER2]]
        assert len(a) == 20 and len(b) == 3
        # 20 creates at 5 per second need at least 19 intervals of 200 ms
        assert a[-1] / 1000.0 - start >= 3.8, (a[-1] / 1000.0 - start)
        # the other identity did not queue behind the busy one
        assert max(b) < sorted(a)[9], (b, a)


def test_sigterm_finishes_the_request_in_flight():
    with pipeline(senders=1) as (redis, si, procs):
        r = redis.client()
        si.script({"hang_ms": 1500})
        job_id = send(redis)
        tw.wait_until(lambda: sl.job(r, job_id).get("state") == "sending", what="in flight")
        assert procs[0].stop(signal.SIGTERM) == 0
        j = sl.job(r, job_id)
        assert j["state"] == "sent", j
        assert '"draining"' in procs[0].output()


def test_sigterm_hands_back_waiting_jobs():
    with pipeline(senders=1, TW_SEND_MPS="1") as (redis, si, procs):
        r = redis.client()
        jobs = [j for _, j in sl.enqueue(redis.url, [(sl.conv_key("+1555400%04d" % i), "x")
                                                    for i in range(5)])]
        tw.wait_until(lambda: len(si.creates()) >= 1, what="first create")
        assert procs[0].stop(signal.SIGTERM) == 0
        states = [sl.job(r, j)["state"] for j in jobs]
        assert "sending" not in states, states
        for j in jobs:
            assert "owner" not in sl.job(r, j)  # released: the next sender may claim at once
        b = sl.start_sender(redis, si, TW_WORKER_ID="next", TW_SEND_MPS="0")
        try:
            for j in jobs:
                assert sl.wait_state(r, j, FINAL, timeout=30)["state"] == "sent"
            assert len(si.creates()) == 5
        finally:
            assert b.stop() == 0


def test_redis_restart_loses_nothing_and_sends_nothing_twice():
    redis = tw.RedisServer(aof=True)
    si = sl.StandIn(extra=["--latency-ms", "150"])
    s = sl.start_sender(redis, si, TW_SEND_CONCURRENCY="4")
    try:
        r = redis.client()
        jobs = [j for _, j in sl.enqueue(redis.url, [(sl.conv_key("+1555500%04d" % i), "m%02d" % i)
                                                    for i in range(20)])]
        tw.wait_until(lambda: len(si.creates()) >= 4, what="requests in flight")
        redis.stop()
        time.sleep(1.0)  # requests end while Redis is away: their outcomes wait
        redis.start()
        r = redis.client()
        for j in jobs:
            assert sl.wait_state(r, j, FINAL, timeout=60)["state"] == "sent", sl.job(r, j)
        bodies = [m["body"] for m in si.created()]
        assert sorted(bodies) == ["m%02d" % i for i in range(20)], bodies  # each exactly once
        assert r("XLEN", "tw:outbound") == 0
        assert s.stop() == 0
        out = s.output()
        # the scenario happened: Redis went away under the sender, which reconciled afterwards
        assert '"redis connection lost"' in out or '"redis unavailable"' in out, out[-3000:]
        if os.environ.get("TW_VERBOSE"):
            print(out)
    finally:
        s.stop()
        si.stop()
        redis.stop()


def test_connections_are_reused():
    with pipeline(TW_SEND_CONCURRENCY="2") as (redis, si, _):
        r = redis.client()
        # one conversation: its jobs go one at a time, so one kept-alive connection serves them
        jobs = [j for _, j in sl.enqueue(redis.url, [(sl.conv_key(P1), "n%d" % i)
                                                    for i in range(10)])]
        for j in jobs:
            assert sl.wait_state(r, j, FINAL)["state"] == "sent"
        ports = {c["client_port"] for c in si.creates()}
        assert len(si.creates()) == 10 and 0 not in ports
        assert len(ports) <= 2, ports


class TLSServer:
    """An HTTPS server with a self-signed certificate (which a verifying client must refuse)."""

    def __init__(self):
        import ssl
        import threading
        self.dir = tempfile.mkdtemp(prefix="tw-tls-")
        cert, key = os.path.join(self.dir, "c.pem"), os.path.join(self.dir, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handshakes_failed = 0
        self.requests = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        import ssl
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(2)
                    if tls.recv(65536):
                        self.requests += 1
            except (ssl.SSLError, OSError):
                self.handshakes_failed += 1

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_tls_is_verified():
    tls = TLSServer()
    redis = tw.RedisServer()
    s = tw.Proc("tw-sender", sl.sender_env(redis, type("S", (), {"base": ""})(),
                                           TWILIO_API_BASE="https://127.0.0.1:%d" % tls.port))
    try:
        r = redis.client()
        job_id = send(redis)
        tw.wait_until(lambda: tls.handshakes_failed >= 1, what="a refused handshake")
        # nothing was sent over an unverified connection, and nothing was given up
        tw.wait_until(lambda: sl.job(r, job_id).get("last_error") == "connect",
                      what="the job waiting to retry")
        assert tls.requests == 0
        assert sl.job(r, job_id)["state"] in ("queued", "sending")
        assert r("XLEN", "tw:outbound:dead") == 0
        assert s.stop() == 0
    finally:
        s.stop()
        redis.stop()
        tls.stop()


def test_bad_jobs_fail_without_a_call():
    with pipeline() as (redis, si, _):
        r = redis.client()
        other = sl.conv_key(P1, account="AC" + "f" * 32)
        j = sl.wait_state(r, sl.enqueue(redis.url, [(other, "hi")])[0][1], FINAL)
        assert j["state"] == "failed" and "another account" in j["error_message"], j
        assert si.creates() == []


def test_metrics():
    port = tw.free_port()
    with pipeline(TW_METRICS_LISTEN="127.0.0.1:%d" % port) as (redis, si, _):
        r = redis.client()
        si.script({"status": 429})
        assert sl.wait_state(r, send(redis), FINAL)["state"] == "sent"
        tw.wait_port(port)
        st, _, body = tw.http(port, "GET", "/metrics")
        text = body.decode()
        assert st == 200
        assert "tw_sender_sent_total 1" in text, text
        assert 'tw_sender_retried_total{reason="429"} 1' in text, text
        assert 'tw_sender_request_seconds_count{op="create"} 2' in text, text


def test_bad_configuration_exits_78():
    redis = tw.RedisServer()
    try:
        for over in ({"TW_SEND_MPS": "-1"}, {"TW_SEND_MODE": "twice"},
                     {"TWILIO_API_BASE": "ftp://x"}, {"TW_SEND_TIMEOUT": "0"}):
            env = sl.sender_env(redis, type("S", (), {"base": "http://127.0.0.1:1"})(), **over)
            p = tw.Proc("tw-sender", env)
            assert p.proc.wait(10) == 78, (over, p.output())
            assert list(over)[0] in p.output()
            p.stop()
    finally:
        redis.stop()


if __name__ == "__main__":
    tw.run([test_happy_path_records_sid_and_first_status,
            test_messaging_service_and_media,
            test_api_key_credentials,
            test_wrong_credentials_are_retried_not_dead_lettered,
            test_429_twice_then_201_honours_retry_after,
            test_a_retry_past_the_age_budget_fails_instead,
            test_400_21211_goes_to_dead_letters_and_is_never_retried,
            test_21610_records_the_opt_out_and_later_jobs_fail_without_a_call,
            test_opted_out_participant_fails_without_a_call,
            test_500_without_a_message_is_reconciled_absent_and_sent_again,
            test_500_after_creating_is_reconciled_found_not_sent_twice,
            test_connection_closed_after_create_is_reconciled,
            test_timeout_after_create_is_reconciled,
            test_same_body_twice_is_not_mistaken_for_the_lost_attempt,
            test_unreadable_list_ends_unknown_in_at_most_once_mode,
            test_unreadable_list_sends_again_in_at_least_once_mode,
            test_sender_killed_after_create_before_ack_is_resolved_by_reconciliation,
            test_order_per_conversation_with_two_senders,
            test_pacing_per_identity_shared_by_replicas,
            test_sigterm_finishes_the_request_in_flight,
            test_sigterm_hands_back_waiting_jobs,
            test_redis_restart_loses_nothing_and_sends_nothing_twice,
            test_connections_are_reused,
            test_tls_is_verified,
            test_bad_jobs_fail_without_a_call,
            test_metrics,
            test_bad_configuration_exits_78])
