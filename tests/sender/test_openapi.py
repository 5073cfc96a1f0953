# SPDX-License-Identifier: MIT
"""Checks, against Twilio's official OpenAPI description (twilio_api_v2010.json), that the requests
tw-sender really sends (creates and reconciliation lists) use only documented parameters with
valid values, and that the stand-in's answers have the documented shape, so the stand-in cannot
drift from Twilio without a test noticing."""
import email.utils
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import sendlib as sl  # noqa: E402
import twtest as tw  # noqa: E402

SPEC_PATHS = [os.environ.get("TW_TWILIO_OAI", ""),
              os.path.join(tw.SOURCE, "..", "shared", "twilio-oai", "twilio_api_v2010.json"),
              "/work/shared/twilio-oai/twilio_api_v2010.json"]
SUBSET = os.path.join(os.path.dirname(__file__), "twilio_oai_messages.json")
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FINAL = ("sent", "failed", "unknown")


def extract(full):
    """The part of Twilio's description these tests use: the Messages.json path and every schema
    it references (the same shape as the full file, so either can be used)."""
    schemas = full["components"]["schemas"]
    path = full["paths"][MESSAGES]
    keep = {}

    def walk(o):
        if isinstance(o, dict):
            ref = o.get("$ref")
            if ref and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in keep:
                    keep[name] = schemas[name]
                    walk(schemas[name])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(path)
    return {"info": full.get("info"), "paths": {MESSAGES: path},
            "components": {"schemas": keep}}


def load_spec():
    """Twilio's full description when it is there (and then the checked-in subset must match
    it), else the subset extracted from it (tests/sender/twilio_oai_messages.json)."""
    with open(SUBSET) as f:
        subset = json.load(f)
    for p in SPEC_PATHS:
        if p and os.path.exists(p):
            with open(p) as f:
                full = json.load(f)
            assert extract(full) == subset, \
                "twilio_oai_messages.json is out of date: python3 %s --extract" % __file__
            return full
    return subset


if len(sys.argv) > 1 and sys.argv[1] == "--extract":
    with open(next(p for p in SPEC_PATHS if p and os.path.exists(p))) as f:
        sub = extract(json.load(f))
    with open(SUBSET, "w") as f:
        json.dump(sub, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    sys.exit(0)

SPEC = load_spec()


def resolve(schema):
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = SPEC["components"]["schemas"][name]
    return schema


def create_op():
    op = SPEC["paths"][MESSAGES]["post"]
    assert op["operationId"] == "CreateMessage"
    return op


def list_op():
    op = SPEC["paths"][MESSAGES]["get"]
    assert op["operationId"] == "ListMessage"
    return op


E164 = re.compile(r"^(?:[a-z]+:)?\+[1-9]\d{1,14}$")


def check_value(name, schema, value):
    """A form value against its property schema (phone-number, uri, pattern, enum)."""
    schema = resolve(schema)
    if schema.get("type") == "array":
        return check_value(name, schema["items"], value)
    fmt = schema.get("format")
    if fmt == "phone-number":
        assert E164.match(value), (name, value)
    if fmt == "uri":
        u = urllib.parse.urlsplit(value)
        assert u.scheme in ("http", "https") and u.netloc, (name, value)
    if "pattern" in schema:
        assert re.match(schema["pattern"], value), (name, value, schema["pattern"])
    if "enum" in schema:
        assert value in schema["enum"], (name, value)
    if "maxLength" in schema:
        assert len(value) <= schema["maxLength"], name


def check_create_request(req):
    op = create_op()
    body = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    props = body["properties"]
    names = [k for k, _ in req["params"]]
    assert req["content_type"].startswith("application/x-www-form-urlencoded")
    for n in body.get("required", []):
        assert n in names, ("required", n, names)
    for n in set(names):
        assert n in props, ("not a CreateMessage parameter", n)
        if resolve(props[n]).get("type") != "array":
            assert names.count(n) == 1, ("repeated scalar", n)
    for k, v in req["params"]:
        check_value(k, props[k], v)
    # Twilio's rules beyond the schema, as the issue states them
    assert ("From" in names) != ("MessagingServiceSid" in names), names
    assert "Body" in names or "MediaUrl" in names, names
    assert req["path"] == MESSAGES.replace("{AccountSid}", tw.ACCOUNT)


def check_list_request(req):
    params = {p["name"]: p for p in list_op()["parameters"] if p["in"] == "query"}
    for k, v in req["params"]:
        assert k in params, ("not a ListMessage parameter", k)
        sch = params[k]["schema"]
        if sch.get("type") == "integer":
            n = int(v)
            assert sch.get("minimum", n) <= n <= sch.get("maximum", n), (k, v)
        elif sch.get("format") == "phone-number":
            assert E164.match(v), (k, v)
        elif sch.get("format") == "date-time":
            assert re.match(r"^\d{4}-\d{2}-\d{2}$", v), (k, v)


def check_against(schema, obj, where):
    schema = resolve(schema)
    if obj is None:
        assert schema.get("nullable"), ("null not allowed", where)
        return
    t = schema.get("type")
    if t == "object":
        assert isinstance(obj, dict), where
        if "properties" in schema:
            assert set(obj) == set(schema["properties"]), (where, set(obj) ^ set(schema["properties"]))
            for k, v in obj.items():
                check_against(schema["properties"][k], v, where + "." + k)
    elif t == "array":
        assert isinstance(obj, list), where
        for i, v in enumerate(obj):
            check_against(schema["items"], v, "%s[%d]" % (where, i))
    elif t == "string":
        assert isinstance(obj, str), (where, obj)
        if "enum" in schema:
            assert obj in schema["enum"], (where, obj)
        if "pattern" in schema:
            assert re.match(schema["pattern"], obj), (where, obj)
        if schema.get("format") == "date-time-rfc-2822":
            assert email.utils.parsedate_to_datetime(obj).utcoffset().total_seconds() == 0, obj
    elif t == "integer":
        assert isinstance(obj, int) and not isinstance(obj, bool), (where, obj)


def test_spec_is_what_we_think():
    props = create_op()["requestBody"]["content"]["application/x-www-form-urlencoded"][
        "schema"]["properties"]
    for n in ("To", "From", "MessagingServiceSid", "Body", "MediaUrl", "StatusCallback"):
        assert n in props
    assert resolve(props["MediaUrl"])["type"] == "array"
    names = {p["name"] for p in list_op()["parameters"]}
    assert {"To", "From", "DateSent>", "PageSize"} <= names


def test_sent_requests_conform():
    redis = tw.RedisServer()
    si = sl.StandIn()
    sender = sl.start_sender(redis, si)
    try:
        r = redis.client()
        jobs = sl.enqueue(redis.url, [(sl.conv_key("+15551230001"), "plain text ✓")])
        jobs += sl.enqueue(redis.url, [(sl.conv_key("+15551230002", service=tw.SERVICE), "")],
                           media=["https://example.com/a.png", "https://example.com/b.gif"])
        jobs += sl.enqueue(redis.url, [(sl.conv_key("+447700900123"), "with media & text")],
                           media=["https://example.com/c.jpg?x=1&y=2"])
        # an ambiguous end, so the reconciliation's list requests are sent too
        si.script({"status": 500, "create": True, "to": "+15551230009"})
        jobs += sl.enqueue(redis.url, [(sl.conv_key("+15551230009"), "lost answer")])
        for _, j in jobs:
            assert sl.wait_state(r, j, FINAL, timeout=20)["state"] == "sent"
        creates = si.creates()
        assert len(creates) == 4
        for c in creates:
            check_create_request(c)
        lists = si.lists()
        assert lists
        for q in lists:
            check_list_request(q)
        assert sender.stop() == 0
    finally:
        sender.stop()
        si.stop()
        redis.stop()


def test_standin_answers_conform():
    si = sl.StandIn()
    try:
        import base64
        auth = "Basic " + base64.b64encode(("%s:%s" % (tw.ACCOUNT, tw.TOKEN)).encode()).decode()
        path = MESSAGES.replace("{AccountSid}", tw.ACCOUNT)
        h = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
        schema = create_op()["responses"]["201"]["content"]["application/json"]["schema"]
        bodies = [[("To", "+15551230001"), ("From", tw.NUMBER), ("Body", "hi")],
                  [("To", "+15551230001"), ("MessagingServiceSid", tw.SERVICE),
                   ("MediaUrl", "https://e.com/a.png")]]
        for pairs in bodies:
            st, _, b = tw.http(si.port, "POST", path, tw.encode_form(pairs), h)
            assert st == 201, b
            check_against(schema, json.loads(b), "create")
        lschema = list_op()["responses"]["200"]["content"]["application/json"]["schema"]
        q = "?" + urllib.parse.urlencode({"To": "+15551230001", "PageSize": "20"})
        st, _, b = tw.http(si.port, "GET", path + q, b"", {"Authorization": auth})
        assert st == 200
        page = json.loads(b)
        check_against(lschema, page, "list")
        assert len(page["messages"]) == 2
        # errors: Twilio's error object
        st, _, b = tw.http(si.port, "POST", path, tw.encode_form([("To", "+1555")]),
                           {"Authorization": "Basic eDp5", "Content-Type": h["Content-Type"]})
        assert st == 401
        e = json.loads(b)
        assert set(e) == {"code", "message", "more_info", "status"} and e["code"] == 20003
        st, _, b = tw.http(si.port, "POST", path, tw.encode_form([("From", tw.NUMBER)]), h)
        assert st == 400 and json.loads(b)["code"] == 21604
        st, _, b = tw.http(si.port, "POST", path,
                           tw.encode_form([("To", "+15551230001"), ("From", tw.NUMBER)]), h)
        assert st == 400 and json.loads(b)["code"] == 21602
    finally:
        si.stop()


if __name__ == "__main__":
    tw.run([test_spec_is_what_we_think, test_sent_requests_conform, test_standin_answers_conform])
