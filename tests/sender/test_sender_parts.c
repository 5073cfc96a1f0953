/* SPDX-License-Identifier: MIT */
/* The sender's pure parts: Twilio's JSON answers, RFC 2822 dates, and reconciliation matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sender/reconcile.h"
#include "sender/twilio_resp.h"

#define SID1 "SM0123456789abcdef0123456789abcdef"
#define SID2 "SMfedcba9876543210fedcba9876543210"
#define MG "MGfedcba9876543210fedcba9876543210"

static void test_rfc2822(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        long long ms; /* -1: must not parse */
    } cases[] = {
        {"Thu, 24 Aug 2023 05:01:45 +0000", 1692853305000LL},
        {"24 Aug 2023 05:01:45 +0000", 1692853305000LL},
        {"Thu, 24 Aug 2023 07:01:45 +0200", 1692853305000LL},
        {"Thu, 24 Aug 2023 00:01:45 -0500", 1692853305000LL},
        {"Thu, 24 Aug 2023 05:01:45 GMT", 1692853305000LL},
        {"Thu, 01 Jan 1970 00:00:00 +0000", 0},
        {"Thu, 24 Foo 2023 05:01:45 +0000", -1},
        {"Thu, 24 Aug 2023 25:01:45 +0000", -1},
        {"Thu, 24 Aug 2023 05:01:45", -1},
        {"Thu, 24 Aug 2023 05:01:45 +00", -1},
        {"2023-08-24T05:01:45Z", -1},
        {"", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 0;
        int rc = snd_rfc2822_parse(cases[i].in, &ms);
        if (cases[i].ms < 0) {
            if (rc == TW_OK)
                fail_msg("parsed %s", cases[i].in);
        } else {
            if (rc != TW_OK || ms != cases[i].ms)
                fail_msg("%s: rc %d ms %lld", cases[i].in, rc, (long long)ms);
        }
    }
}

static void test_message(void **state)
{
    (void)state;
    const char *ok = "{\"sid\":\"" SID1 "\",\"status\":\"queued\",\"to\":\"+15551230001\","
                     "\"from\":\"+15557007007\",\"body\":\"hi\",\"num_media\":\"2\","
                     "\"messaging_service_sid\":null,"
                     "\"date_created\":\"Thu, 24 Aug 2023 05:01:45 +0000\"}";
    struct snd_msg m;
    assert_int_equal(snd_resp_message(ok, strlen(ok), &m), TW_OK);
    assert_string_equal(m.sid, SID1);
    assert_string_equal(m.status, "queued");
    assert_string_equal(m.to, "+15551230001");
    assert_string_equal(m.from, "+15557007007");
    assert_string_equal(m.body, "hi");
    assert_null(m.messaging_service_sid);
    assert_int_equal(m.num_media, 2);
    assert_int_equal(m.created_ms, 1692853305000LL);
    snd_msg_cleanup(&m);

    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "{\"status\":\"queued\"}",
        "{\"sid\":\"SM123\",\"status\":\"queued\"}",
        "{\"sid\":\"XX0123456789abcdef0123456789abcdef\",\"status\":\"queued\"}",
        "{\"sid\":\"" SID1 "\"}",
        "{\"sid\":\"" SID1 "\",\"sid\":\"" SID2 "\",\"status\":\"queued\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (snd_resp_message(bad[i], strlen(bad[i]), &m) != TW_EPARSE)
            fail_msg("accepted %s", bad[i]);
        assert_null(m.sid);
    }
}

static void test_error(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *code, *message, *more;
        int rc;
    } cases[] = {
        {"{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\",\"more_info\":"
         "\"https://www.twilio.com/docs/errors/21211\",\"status\":400}",
         "21211", "Invalid 'To' Phone Number", "https://www.twilio.com/docs/errors/21211", TW_OK},
        {"{\"code\":\"20429\",\"message\":\"Too Many Requests\"}", "20429", "Too Many Requests",
         NULL, TW_OK},
        {"{\"message\":\"no code\"}", NULL, "no code", NULL, TW_OK},
        {"{\"code\":\"abc\"}", NULL, NULL, NULL, TW_EPARSE},
        {"{}", NULL, NULL, NULL, TW_EPARSE},
        {"<html>", NULL, NULL, NULL, TW_EPARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *code, *msg, *more;
        int rc = snd_resp_error(cases[i].in, strlen(cases[i].in), &code, &msg, &more);
        assert_int_equal(rc, cases[i].rc);
#define CHECK(got, want)                                                                           \
    do {                                                                                           \
        if (want)                                                                                  \
            assert_string_equal(got, want);                                                        \
        else                                                                                       \
            assert_null(got);                                                                      \
    } while (0)
        CHECK(code, cases[i].code);
        CHECK(msg, cases[i].message);
        CHECK(more, cases[i].more);
        free(code);
        free(msg);
        free(more);
    }
}

static void test_list(void **state)
{
    (void)state;
    const char *in = "{\"messages\":[{\"sid\":\"" SID1 "\",\"status\":\"sent\",\"to\":\"+1\"},"
                     "{\"sid\":\"bad\"},\"x\",{\"sid\":\"" SID2 "\",\"status\":\"queued\"}],"
                     "\"next_page_uri\":\"/2010-04-01/...&Page=1\"}";
    struct snd_msg *l;
    size_t n;
    bool next;
    assert_int_equal(snd_resp_list(in, strlen(in), &l, &n, &next), TW_OK);
    assert_int_equal(n, 2);
    assert_true(next);
    assert_string_equal(l[0].sid, SID1);
    assert_string_equal(l[1].sid, SID2);
    snd_msg_list_free(l, n);
    const char *empty = "{\"messages\":[],\"next_page_uri\":null}";
    assert_int_equal(snd_resp_list(empty, strlen(empty), &l, &n, &next), TW_OK);
    assert_int_equal(n, 0);
    assert_false(next);
    snd_msg_list_free(l, n);
    assert_int_equal(snd_resp_list("{}", 2, &l, &n, &next), TW_EPARSE);
}

static bool taken_sid2(const char *sid, void *ctx)
{
    (void)ctx;
    return strcmp(sid, SID2) == 0;
}

static void test_reconcile_pick(void **state)
{
    (void)state;
    const int64_t at = 1692853305000LL;
    /* a base candidate and the one field each case changes */
    struct snd_msg base = {.sid = SID1,
                           .status = "queued",
                           .to = "+15551230001",
                           .from = "+15557007007",
                           .body = "hi",
                           .num_media = 0,
                           .created_ms = at};
    struct snd_match want = {.to = "+15551230001",
                             .from = "+15557007007",
                             .body = "hi",
                             .nmedia = 0,
                             .attempt_at_ms = at};
    struct {
        const char *name;
        struct snd_msg m;
        long expect;
    } cases[] = {
        {"exact", base, 0},
        {"other to", base, -1},
        {"other from", base, -1},
        {"other body", base, -1},
        {"more media", base, -1},
        {"created long before the marker", base, -1},
        {"created within the clock skew", base, 0},
        {"no date", base, -1},
        {"unknown media count", base, 0},
        {"taken by another job", base, -1},
    };
    cases[1].m.to = "+15551239999";
    cases[2].m.from = "+15550000000";
    cases[3].m.body = "hi!";
    cases[4].m.num_media = 1;
    cases[5].m.created_ms = at - SND_RECONCILE_SKEW_MS - 1000;
    cases[6].m.created_ms = at - SND_RECONCILE_SKEW_MS + 1000;
    cases[7].m.created_ms = -1;
    cases[8].m.num_media = -1;
    cases[9].m.sid = SID2;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = snd_reconcile_pick(&cases[i].m, 1, &want, taken_sid2, NULL);
        if (got != cases[i].expect)
            fail_msg("%s: got %ld", cases[i].name, got);
    }
    /* the earliest after the marker wins */
    struct snd_msg two[2] = {base, base};
    two[0].sid = "SM11111111111111111111111111111111";
    two[0].created_ms = at + 3000;
    two[1].created_ms = at + 1000;
    assert_int_equal(snd_reconcile_pick(two, 2, &want, NULL, NULL), 1);
    /* a Messaging Service matches on the service, whatever From it picked */
    struct snd_match svc = want;
    svc.from = NULL;
    svc.mg = MG;
    struct snd_msg s = base;
    s.from = "+15559998888";
    assert_int_equal(snd_reconcile_pick(&s, 1, &svc, NULL, NULL), -1);
    s.messaging_service_sid = MG;
    assert_int_equal(snd_reconcile_pick(&s, 1, &svc, NULL, NULL), 0);
    /* media only: an empty body matches a missing one */
    struct snd_match media = want;
    media.body = "";
    media.nmedia = 1;
    struct snd_msg mm = base;
    mm.body = NULL;
    mm.num_media = 1;
    assert_int_equal(snd_reconcile_pick(&mm, 1, &media, NULL, NULL), 0);
}

static void test_reconcile_page_and_day(void **state)
{
    (void)state;
    const int64_t at = 1692853305000LL;
    struct snd_msg m[2] = {{.created_ms = at + 10}, {.created_ms = at - 60000}};
    assert_false(snd_reconcile_page_covers(m, 1, at));
    assert_true(snd_reconcile_page_covers(m, 2, at));
    char day[11];
    snd_reconcile_day(at, day);
    assert_string_equal(day, "2023-08-24");
    /* just after midnight, the skew reaches back into the day before */
    snd_reconcile_day(1692835200000LL + 1000, day);
    assert_string_equal(day, "2023-08-23");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc2822),        cmocka_unit_test(test_message),
        cmocka_unit_test(test_error),          cmocka_unit_test(test_list),
        cmocka_unit_test(test_reconcile_pick), cmocka_unit_test(test_reconcile_page_and_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
