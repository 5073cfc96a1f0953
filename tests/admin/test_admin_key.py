# SPDX-License-Identifier: MIT
"""tw-admin key encode|decode: the canonical keys of the contract, both kinds, round trips,
defaults from the environment, and non-canonical keys refused with the reason (exit 1)."""
import urllib.parse

from adminlib import admin, admin_json, twtest

AC = twtest.ACCOUNT
MG = twtest.SERVICE


def js_encode(s):
    # encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is %-escaped (UTF-8).
    return urllib.parse.quote(s, safe="-_.!~*'()")


def test_encode_address_key():
    rc, out, err = admin(["key", "encode", "--account", AC, "--address", "+15557007007",
                          "--participant", "+1 (555) 123/4"])
    assert rc == 0, err
    expect = "twilio:v1:account:%s:address:%s:participant:%s" % (
        AC, js_encode("+15557007007"), js_encode("+1 (555) 123/4"))
    assert out.strip() == expect, out


def test_encode_service_key_and_json():
    rc, doc, err = admin_json(["key", "encode", "--account", AC, "--address", "whatsapp:+15557007007",
                               "--participant", "whatsapp:+447700900123", "--messaging-service", MG])
    assert rc == 0, err
    assert doc["key"] == "twilio:v1:account:%s:messaging-service:%s:address:%s:participant:%s" % (
        AC, MG, js_encode("whatsapp:+15557007007"), js_encode("whatsapp:+447700900123"))
    c = doc["conversation"]
    assert c["type"] == "messaging-service" and c["messagingServiceSid"] == MG, c
    assert c["participant"] == "whatsapp:+447700900123"


def test_encode_defaults_from_environment():
    env = {"TWILIO_ACCOUNT_SID": AC, "TWILIO_PHONE_NUMBER": "+15557007007"}
    rc, out, err = admin(["key", "encode", "--participant", "+15551230001"], env)
    assert rc == 0, err
    assert out.strip() == "twilio:v1:account:%s:address:%%2B15557007007:participant:%%2B15551230001" % AC
    rc, _, err = admin(["key", "encode", "--participant", "+15551230001"])
    assert rc == 2 and "--account" in err, err


def test_decode_round_trip_unicode():
    participant = "whatsapp:+4915112345678 ünï €"
    rc, out, _ = admin(["key", "encode", "--account", AC, "--address", "+15557007007",
                        "--participant", participant])
    key = out.strip()
    rc, doc, err = admin_json(["key", "decode", key])
    assert rc == 0, err
    assert doc["canonical"] is True and doc["key"] == key
    assert doc["conversation"] == {"type": "address", "accountSid": AC, "address": "+15557007007",
                                   "participant": participant}, doc
    rc, out, _ = admin(["key", "decode", key])
    assert rc == 0 and "participant" in out and participant in out, out


def test_decode_refuses_non_canonical_keys():
    good = "twilio:v1:account:%s:address:%%2B15557007007:participant:%%2B15551230001" % AC
    for bad in (good.replace("%2B1555700", "%2b1555700"),   # lower-case escape
                good.replace("%2B15551230001", "+15551230001"),  # unescaped '+'
                good.replace("twilio:v1", "twilio:v2"),
                good + ":extra", "", "nonsense"):
        rc, out, err = admin(["key", "decode", bad])
        assert rc == 1, (bad, rc, out)
        assert err.startswith("tw-admin: key decode: ") and len(err.strip()) > 22, err
        rc, doc, _ = admin_json(["key", "decode", bad])
        assert rc == 1 and doc["canonical"] is False and doc["error"], doc


if __name__ == "__main__":
    twtest.run([test_encode_address_key, test_encode_service_key_and_json,
                test_encode_defaults_from_environment, test_decode_round_trip_unicode,
                test_decode_refuses_non_canonical_keys])
