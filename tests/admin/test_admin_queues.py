# SPDX-License-Identifier: MIT
"""tw-admin queues against a real redis-server: lengths, dead letters, and per group and consumer
the pending entries, lag and idle time, exactly as XINFO reports them; absent streams; prefix."""
from adminlib import admin, admin_json, twtest


def setup(r, prefix="tw:"):
    """inbound: 5 entries, group workers, w1 holds 2 pending, w2 holds 1, 2 never delivered.
    outbound: 3 entries, group senders, all delivered, 1 acknowledged. 2 inbound dead letters."""
    ids = [r("XADD", prefix + "inbound", "*", "payload", "{}", "n", str(i)) for i in range(5)]
    r("XGROUP", "CREATE", prefix + "inbound", "workers", "0")
    r("XREADGROUP", "GROUP", "workers", "w1", "COUNT", "2", "STREAMS", prefix + "inbound", ">")
    r("XREADGROUP", "GROUP", "workers", "w2", "COUNT", "1", "STREAMS", prefix + "inbound", ">")
    for i in range(3):
        r("XADD", prefix + "outbound", "*", "job_id", "ob%d" % i)
    r("XGROUP", "CREATE", prefix + "outbound", "senders", "0")
    got = r("XREADGROUP", "GROUP", "senders", "s1", "COUNT", "10", "STREAMS", prefix + "outbound", ">")
    r("XACK", prefix + "outbound", "senders", got[0][1][0][0])
    for i in range(2):
        r("XADD", prefix + "inbound:dead", "*", "reason", "agent answered 400", "attempts", "1")
    return ids


def by_stream(doc):
    return {s["stream"]: s for s in doc["streams"]}


def test_counts_match_redis():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        ids = setup(r)
        rc, doc, err = admin_json(["queues"], {"REDIS_URL": redis.url})
        assert rc == 0, err
        s = by_stream(doc)
        inbound = s["tw:inbound"]
        assert inbound["exists"] and inbound["length"] == 5 and inbound["dead_letters"] == 2
        assert inbound["last_id"] == ids[-1]
        (g,) = inbound["groups"]
        assert g["name"] == "workers" and g["consumers"] == 2 and g["pending"] == 3
        assert g["lag"] == 2, g
        assert g["last_delivered_id"] == ids[2]
        cons = {c["name"]: c for c in g["consumer_list"]}
        assert cons["w1"]["pending"] == 2 and cons["w2"]["pending"] == 1, cons
        assert all(c["idle_ms"] >= 0 for c in cons.values())
        out = s["tw:outbound"]
        assert out["length"] == 3 and out["dead_letters"] == 0
        (g,) = out["groups"]
        assert g["pending"] == 2 and g["lag"] == 0, g
        assert s["tw:status"]["exists"] is False and s["tw:status"]["length"] == 0
        assert s["tw:inbound:dead"]["length"] == 2
        assert s["tw:outbound:dead"]["exists"] is False
        r.close()
    finally:
        redis.stop()


def test_human_output():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        setup(r)
        rc, out, err = admin(["queues"], {"REDIS_URL": redis.url})
        assert rc == 0, err
        lines = out.splitlines()
        first = next(l for l in lines if l.startswith("tw:inbound "))
        assert "length 5" in first and "dead 2" in first, first
        assert any("group workers" in l and "pending 3" in l and "lag 2" in l for l in lines), out
        assert any("consumer w1" in l and "pending 2" in l for l in lines), out
        assert any(l.startswith("tw:status") and "absent" in l for l in lines), out
        r.close()
    finally:
        redis.stop()


def test_prefix_and_database():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        r("SELECT", "3")
        setup(r, prefix="acme:")
        env = {"REDIS_URL": "redis://127.0.0.1:%d/3" % redis.port, "TW_REDIS_PREFIX": "acme:"}
        rc, doc, err = admin_json(["queues"], env)
        assert rc == 0, err
        s = by_stream(doc)
        assert s["acme:inbound"]["length"] == 5 and s["acme:inbound"]["dead_letters"] == 2
        rc, doc, _ = admin_json(["queues"], {"REDIS_URL": redis.url})  # db 0, prefix tw:
        assert all(not x["exists"] for x in doc["streams"]), doc
        r.close()
    finally:
        redis.stop()


def test_wrong_type_is_an_error_not_absent():
    redis = twtest.RedisServer()
    try:
        r = redis.client()
        r("SET", "tw:inbound", "not a stream")
        rc, out, err = admin(["queues"], {"REDIS_URL": redis.url})
        assert rc == 1 and "WRONGTYPE" in err, (rc, out, err)
        r.close()
    finally:
        redis.stop()


if __name__ == "__main__":
    twtest.run([test_counts_match_redis, test_human_output, test_prefix_and_database,
                test_wrong_type_is_an_error_not_absent])
