/* SPDX-License-Identifier: MIT */
/* Conversation keys: encodeURIComponent, round trips, canonical-only decoding, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/convkey.h"

#define AC "AC0123456789abcdef0123456789abcdef"
#define MG "MGfedcba9876543210fedcba9876543210"

/* ---------------------------------------------------------------- encodeURIComponent */

struct uri_case {
    const char *in;
    const char *out; /* NULL: TW_EUTF8 */
};

/* Expected outputs are what node's encodeURIComponent prints for the same input. */
static const struct uri_case uri_cases[] = {
    {"", ""},
    {"AZaz09-_.!~*'()", "AZaz09-_.!~*'()"},
    {"+15557007007", "%2B15557007007"},
    {"whatsapp:+15557007007", "whatsapp%3A%2B15557007007"},
    {" ", "%20"},
    {"#$&+,/:;=?@[]%\"<>\\^`{|}", "%23%24%26%2B%2C%2F%3A%3B%3D%3F%40%5B%5D%25%22%3C%3E%5C%5E%60%7B%7C%7D"},
    {"\x01\x7f", "%01%7F"},
    {"caf\xc3\xa9", "caf%C3%A9"},
    {"\xe2\x82\xac", "%E2%82%AC"},
    {"\xf0\x9f\x98\x80", "%F0%9F%98%80"},
    {"\xc3", NULL},             /* a lone lead byte: encodeURIComponent throws URIError */
    {"\xed\xa0\x80", NULL},     /* a lone surrogate, likewise */
    {"\xc0\xaf", NULL},         /* not a UTF-16 string at all */
};

static void test_uri_encode_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof uri_cases / sizeof uri_cases[0]; i++) {
        struct tw_buf b;
        tw_buf_init(&b, 1024);
        int rc = tw_conv_uri_encode(&b, uri_cases[i].in, strlen(uri_cases[i].in));
        if (uri_cases[i].out) {
            assert_int_equal(rc, TW_OK);
            assert_string_equal(b.data ? b.data : "", uri_cases[i].out);
        } else {
            assert_int_equal(rc, TW_EUTF8);
        }
        tw_buf_cleanup(&b);
    }
}

/* Every byte value below 0x80: kept exactly when it is in the unreserved set. */
static void test_uri_encode_every_ascii(void **state)
{
    (void)state;
    const char *keep = "-_.!~*'()";
    for (int c = 1; c < 0x80; c++) {
        struct tw_buf b;
        tw_buf_init(&b, 16);
        char in = (char)c;
        assert_int_equal(tw_conv_uri_encode(&b, &in, 1), TW_OK);
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum || strchr(keep, c)) {
            assert_int_equal(b.len, 1);
        } else {
            char want[4];
            snprintf(want, sizeof want, "%%%02X", c);
            assert_string_equal(b.data, want);
        }
        tw_buf_cleanup(&b);
    }
}

static void test_uri_encode_cap(void **state)
{
    (void)state;
    struct tw_buf b;
    tw_buf_init(&b, 3);
    assert_int_equal(tw_conv_uri_encode(&b, "+1", 2), TW_ETOOBIG); /* "%2B" fits, "1" not */
    tw_buf_cleanup(&b);
}

/* ---------------------------------------------------------------- round trips */

struct trip_case {
    enum tw_conv_type type;
    const char *account, *mg, *address, *participant;
    const char *key;
};

static const struct trip_case trips[] = {
    {TW_CONV_ADDRESS, AC, NULL, "+15557007007", "+15551234567",
     "twilio:v1:account:" AC ":address:%2B15557007007:participant:%2B15551234567"},
    {TW_CONV_ADDRESS, AC, NULL, "whatsapp:+15557007007", "whatsapp:+447700900123",
     "twilio:v1:account:" AC
     ":address:whatsapp%3A%2B15557007007:participant:whatsapp%3A%2B447700900123"},
    {TW_CONV_SERVICE, AC, MG, "+15557007007", "+15551234567",
     "twilio:v1:account:" AC ":messaging-service:" MG
     ":address:%2B15557007007:participant:%2B15551234567"},
    {TW_CONV_ADDRESS, AC, NULL, "caf\xc3\xa9 \xf0\x9f\x98\x80", "a(b)*c'!~",
     "twilio:v1:account:" AC ":address:caf%C3%A9%20%F0%9F%98%80:participant:a(b)*c'!~"},
    {TW_CONV_ADDRESS, "a:b", NULL, "%41", "x/y?z#w",
     "twilio:v1:account:a%3Ab:address:%2541:participant:x%2Fy%3Fz%23w"},
    {TW_CONV_SERVICE, "address", "participant", "messaging-service", "account",
     "twilio:v1:account:address:messaging-service:participant:address:messaging-service"
     ":participant:account"},
    {TW_CONV_ADDRESS, AC, NULL, "a b", "in\tside",
     "twilio:v1:account:" AC ":address:a%20b:participant:in%09side"},
};

static void test_round_trips(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++) {
        const struct trip_case *t = &trips[i];
        struct tw_conv c, back;
        char *key = NULL;
        const char *why = "unset";
        assert_int_equal(tw_conv_set(&c, t->type, t->account, t->mg, t->address, t->participant),
                         TW_OK);
        assert_int_equal(tw_conv_key_encode(&c, &key), TW_OK);
        if (strcmp(key, t->key) != 0)
            fail_msg("case %zu: got %s want %s", i, key, t->key);
        if (tw_conv_key_decode(key, &back, &why) != TW_OK)
            fail_msg("case %zu: decode failed: %s", i, why);
        assert_null(why);
        assert_int_equal(back.type, t->type);
        assert_string_equal(back.account_sid, t->account);
        assert_string_equal(back.address, t->address);
        assert_string_equal(back.participant, t->participant);
        if (t->mg)
            assert_string_equal(back.messaging_service_sid, t->mg);
        else
            assert_null(back.messaging_service_sid);
        free(key);
        tw_conv_cleanup(&c);
        tw_conv_cleanup(&back);
    }
}

/* ---------------------------------------------------------------- rejections */

struct reject_case {
    const char *key;
    const char *why;
};

#define A "twilio:v1:account:" AC
static const struct reject_case rejects[] = {
    {"", "does not start with twilio:v1:account:"},
    {"twilio:v2:account:" AC ":address:a:participant:b", "does not start with twilio:v1:account:"},
    {"Twilio:v1:account:" AC ":address:a:participant:b", "does not start with twilio:v1:account:"},
    {" " A ":address:a:participant:b", "does not start with twilio:v1:account:"},
    {A ":address:%2b1555:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:+1555:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:%41:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:a b:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:a/b:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:%:participant:b", "malformed percent-escape"},
    {A ":address:%2:participant:b", "malformed percent-escape"},
    {A ":address:%zz:participant:b", "malformed percent-escape"},
    {A ":address:%C3:participant:b", "segment is not valid UTF-8 once decoded"},
    {A ":address:%ED%A0%80:participant:b", "segment is not valid UTF-8 once decoded"},
    {A ":address:\xc3\xa9:participant:b", "segment is not encoded as encodeURIComponent does"},
    {A ":address:%00:participant:b", "segment contains a NUL byte"},
    {A ":address:%20a:participant:b", "segment has surrounding white space"},
    {A ":address:a%0A:participant:b", "segment has surrounding white space"},
    {A ":address:a%E3%80%80:participant:b", "segment has surrounding white space"}, /* U+3000 */
    {A ":address:%EF%BB%BFa:participant:b", "segment has surrounding white space"}, /* BOM */
    {A ":address:a:participant", "wrong number of segments"},
    {A ":address:a", "wrong number of segments"},
    {A, "wrong number of segments"},
    {A ":address:a:participant:b:extra:c", "unexpected segment label"}, /* 7, like a service key */
    {A ":address:a:participant:b:x", "wrong number of segments"},
    {A ":messaging-service:" MG ":address:a:participant:b:x:y", "too many segments"},
    {A ":address::participant:b", "empty segment"},
    {A ":address:a:participant:", "empty segment"},
    {"twilio:v1:account::address:a:participant:b", "empty segment"},
    {A ":address:a:participant:b:", "empty segment"},
    {A ":Address:a:participant:b", "unexpected segment label"},
    {A ":addr:a:participant:b", "unexpected segment label"},
    {A ":address:a:customer:b", "unexpected segment label"},
    {A ":messaging_service:" MG ":address:a:participant:b", "unexpected segment label"},
    {A ":messaging-service:" MG ":participant:a:address:b", "unexpected segment label"},
    {A ":address:" MG ":address:a:participant:b", "unexpected segment label"},
};

static void test_rejections(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        struct tw_conv c;
        const char *why = NULL;
        int rc = tw_conv_key_decode(rejects[i].key, &c, &why);
        if (rc != TW_EKEY)
            fail_msg("case %zu (%s): rc %d", i, rejects[i].key, rc);
        if (!why || strcmp(why, rejects[i].why) != 0)
            fail_msg("case %zu (%s): why '%s', want '%s'", i, rejects[i].key, why ? why : "(null)",
                     rejects[i].why);
        assert_null(c.account_sid);
        assert_null(c.address);
        assert_null(c.participant);
        assert_null(c.messaging_service_sid);
        assert_int_equal(tw_conv_key_decode(rejects[i].key, &c, NULL), TW_EKEY); /* why optional */
    }
}

/* Length limits: a key up to TW_CONV_KEY_MAX round-trips; longer ones are refused both ways, and a
 * long non-canonical segment is refused as such (its re-encoding would pass the cap). */
static void test_long_keys(void **state)
{
    (void)state;
    size_t prefix = strlen(A ":address:x:participant:");
    char *big = malloc(TW_CONV_KEY_MAX + 2);
    assert_non_null(big);
    memcpy(big, A ":address:x:participant:", prefix);
    memset(big + prefix, 'p', TW_CONV_KEY_MAX - prefix);
    big[TW_CONV_KEY_MAX] = '\0';
    struct tw_conv c;
    const char *why = NULL;
    assert_int_equal(tw_conv_key_decode(big, &c, &why), TW_OK);
    assert_int_equal(strlen(c.participant), TW_CONV_KEY_MAX - prefix);
    char *key = NULL;
    assert_int_equal(tw_conv_key_encode(&c, &key), TW_OK);
    assert_string_equal(key, big);
    free(key);
    /* one more byte: too long to encode or decode */
    char *p = realloc(c.participant, TW_CONV_KEY_MAX - prefix + 2);
    assert_non_null(p);
    c.participant = p;
    memcpy(c.participant + TW_CONV_KEY_MAX - prefix, "p", 2);
    assert_int_equal(tw_conv_key_encode(&c, &key), TW_ETOOBIG);
    assert_null(key);
    tw_conv_cleanup(&c);
    big[TW_CONV_KEY_MAX] = 'p';
    big[TW_CONV_KEY_MAX + 1] = '\0';
    assert_int_equal(tw_conv_key_decode(big, &c, &why), TW_EKEY);
    assert_string_equal(why, "longer than TW_CONV_KEY_MAX");
    /* raw two-byte characters: 40000 bytes in, 120000 bytes re-encoded */
    for (size_t i = prefix; i + 1 < TW_CONV_KEY_MAX - 100; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[TW_CONV_KEY_MAX - 100] = '\0';
    assert_int_equal(tw_conv_key_decode(big, &c, &why), TW_EKEY);
    assert_string_equal(why, "segment is not encoded as encodeURIComponent does");
    free(big);
}

/* Encoding refuses what Flue's instanceId() refuses, so every encoded key decodes. */
static void test_encode_rejections(void **state)
{
    (void)state;
    struct {
        const char *address;
        int rc;
    } cases[] = {
        {"", TW_EINVAL},    {" +1", TW_EINVAL},     {"+1\n", TW_EINVAL},
        {"\xc2\xa0+1", TW_EINVAL}, {"\xc3", TW_EUTF8}, {"+1", TW_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tw_conv c;
        char *key = (char *)"untouched";
        assert_int_equal(tw_conv_set(&c, TW_CONV_ADDRESS, AC, NULL, cases[i].address, "+2"), TW_OK);
        assert_int_equal(tw_conv_key_encode(&c, &key), cases[i].rc);
        if (cases[i].rc == TW_OK)
            assert_non_null(key);
        else
            assert_null(key);
        free(key);
        tw_conv_cleanup(&c);
    }
    struct tw_conv c;
    assert_int_equal(tw_conv_set(&c, TW_CONV_SERVICE, AC, NULL, "+1", "+2"), TW_EINVAL);
    assert_int_equal(tw_conv_set(&c, TW_CONV_ADDRESS, AC, MG, "+1", "+2"), TW_EINVAL);
    assert_int_equal(tw_conv_set(&c, TW_CONV_ADDRESS, NULL, NULL, "+1", "+2"), TW_EINVAL);
    assert_null(c.account_sid);
}

/* ---------------------------------------------------------------- JSON */

static void test_json(void **state)
{
    (void)state;
    struct tw_conv c;
    char *json;
    assert_int_equal(tw_conv_set(&c, TW_CONV_ADDRESS, AC, NULL, "+15557007007", "+15551234567"),
                     TW_OK);
    json = tw_conv_to_json(&c);
    assert_string_equal(json, "{\"type\":\"address\",\"accountSid\":\"" AC
                              "\",\"address\":\"+15557007007\",\"participant\":\"+15551234567\"}");
    free(json);
    tw_conv_cleanup(&c);
    assert_int_equal(tw_conv_set(&c, TW_CONV_SERVICE, AC, MG, "whatsapp:+1", "\"q\""), TW_OK);
    json = tw_conv_to_json(&c);
    assert_string_equal(json, "{\"type\":\"messaging-service\",\"accountSid\":\"" AC
                              "\",\"address\":\"whatsapp:+1\",\"participant\":\"\\\"q\\\"\","
                              "\"messagingServiceSid\":\"" MG "\"}");
    free(json);
    tw_conv_cleanup(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode_table), cmocka_unit_test(test_uri_encode_every_ascii),
        cmocka_unit_test(test_uri_encode_cap),   cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_rejections),       cmocka_unit_test(test_encode_rejections),
        cmocka_unit_test(test_json),             cmocka_unit_test(test_long_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
