/* SPDX-License-Identifier: MIT */
/* The worker's pure parts: Retry-After parsing, the retry class of an answer, stream entry
 * decoding, control keywords, and the agent table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "worker/agent.h"
#include "worker/control.h"
#include "worker/entry.h"
#include "worker/http.h"

static void test_retry_after(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        long ms; /* -1: invalid */
    } cases[] = {
        {"0", 0},
        {"1", 1000},
        {" 120 ", 120000},
        {"3600", 3600000},
        {"999999999", 3600000}, /* capped at an hour */
        {"-1", -1},
        {"1.5", -1},
        {"", -1},
        {"soon", -1},
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0}, /* a date in the past: no wait */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long got = wrk_http_retry_after_ms(cases[i].in);
        if (got != cases[i].ms)
            fail_msg("'%s': got %ld, want %ld", cases[i].in, got, cases[i].ms);
    }
    /* an HTTP date 30 s ahead */
    char date[64];
    time_t t = time(NULL) + 30;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
    long ms = wrk_http_retry_after_ms(date);
    assert_in_range(ms, 28000, 30000);
}

static void test_classify(void **state)
{
    (void)state;
    static const struct {
        long status;
        enum wrk_verdict v;
    } cases[] = {
        {200, WRK_ADMITTED},  {202, WRK_ADMITTED},  {204, WRK_ADMITTED},  {0, WRK_RETRY},
        {408, WRK_RETRY},     {429, WRK_RETRY},     {500, WRK_RETRY},     {503, WRK_RETRY},
        {599, WRK_RETRY},     {400, WRK_PERMANENT}, {401, WRK_PERMANENT}, {404, WRK_PERMANENT},
        {409, WRK_PERMANENT}, {422, WRK_PERMANENT}, {301, WRK_PERMANENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wrk_http_resp resp = {.status = cases[i].status,
                                     .error = "connection refused",
                                     .retry_after_ms = 2000,
                                     .body = "{\"error\":\"x\"}\n\x01",
                                     .body_len = 15};
        struct wrk_result res;
        wrk_http_classify(&resp, "agent", &res);
        if (res.verdict != cases[i].v)
            fail_msg("status %ld: verdict %d, want %d", cases[i].status, res.verdict, cases[i].v);
        if (res.verdict == WRK_RETRY && cases[i].status)
            assert_int_equal(res.retry_after_ms, 2000);
        if (res.verdict == WRK_PERMANENT) {
            assert_non_null(strstr(res.reason, "{\"error\":\"x\"}"));
            for (const char *p = res.reason; *p; p++)
                assert_true(*p >= 0x20 && *p < 0x7f); /* control bytes never reach a reason */
        }
    }
}

/* Builds the reply hiredis would give for an entry: [id, [k, v, ...]]. */
static redisReply *entry(const char *id, const char *const *kv, size_t n)
{
    redisReply *e = calloc(1, sizeof *e), *f = calloc(1, sizeof *f), *idr = calloc(1, sizeof *idr);
    e->type = f->type = REDIS_REPLY_ARRAY;
    e->elements = 2;
    e->element = calloc(2, sizeof *e->element);
    idr->type = REDIS_REPLY_STRING;
    idr->str = strdup(id);
    idr->len = strlen(id);
    e->element[0] = idr;
    e->element[1] = f;
    f->elements = n;
    f->element = calloc(n ? n : 1, sizeof *f->element);
    for (size_t i = 0; i < n; i++) {
        redisReply *s = calloc(1, sizeof *s);
        s->type = REDIS_REPLY_STRING;
        s->str = strdup(kv[i]);
        s->len = strlen(kv[i]);
        f->element[i] = s;
    }
    return e;
}

static void test_entry_decode(void **state)
{
    (void)state;
    const char *good[] = {"payload",
                          "{\"MessageSid\":\"SM1\",\"Body\":\"hi\",\"MediaUrl\":[\"a\",\"b\"],"
                          "\"OptOutType\":\"stop\"}",
                          "conversation",
                          "{\"type\":\"address\",\"accountSid\":\"AC1\",\"address\":\"+1\","
                          "\"participant\":\"+2\"}",
                          "conversation_key",
                          "twilio:v1:k",
                          "received_at",
                          "1700000000123",
                          "idempotency_token",
                          "tok"};
    redisReply *r = entry("1-2", good, 10);
    struct wrk_entry e;
    assert_int_equal(wrk_entry_decode(r, &e), TW_OK);
    assert_string_equal(e.id, "1-2");
    assert_null(e.bad);
    assert_string_equal(e.sid, "SM1");
    assert_string_equal(wrk_entry_get(&e, "Body"), "hi");
    assert_null(wrk_entry_get(&e, "MediaUrl")); /* a repeated name is an array, not a string */
    assert_null(wrk_entry_get(&e, "Missing"));
    assert_string_equal(e.conversation_key, "twilio:v1:k");
    assert_true(e.received_at == 1700000000123LL);
    assert_non_null(e.conversation);
    assert_int_equal(wrk_control_of(&e), WRK_CTL_STOP);
    wrk_entry_cleanup(&e);
    freeReplyObject(r);

    static const struct {
        const char *kv[4];
        size_t n;
        const char *bad; /* substring of the reason, NULL: fine */
        long long received_at;
    } cases[] = {
        {{"payload", "{not json"}, 2, "payload", 0},
        {{"payload", "[1,2]"}, 2, "payload", 0},
        {{"payload", "{\"Body\":\"x\"}"}, 2, "MessageSid", 0},
        {{"payload", "{\"MessageSid\":\"\"}"}, 2, "MessageSid", 0},
        {{"payload", "{\"MessageSid\":7}"}, 2, "MessageSid", 0},
        {{"received_at", "12x"}, 2, "payload", 0},
        {{"payload", "{\"MessageSid\":\"SM2\"}", "received_at", "-5"}, 4, NULL, 0},
        {{"payload", "{\"MessageSid\":\"SM2\"}", "received_at", "99999999999999999999"},
         4,
         NULL,
         0},
        {{"payload", "{\"MessageSid\":\"SM2\"}", "received_at", "42"}, 4, NULL, 42},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = entry("3-4", cases[i].kv, cases[i].n);
        assert_int_equal(wrk_entry_decode(r, &e), TW_OK);
        if (cases[i].bad) {
            if (!e.bad || !strstr(e.bad, cases[i].bad))
                fail_msg("case %zu: bad '%s', want '%s'", i, e.bad ? e.bad : "(none)",
                         cases[i].bad);
        } else {
            assert_null(e.bad);
        }
        assert_true(e.received_at == cases[i].received_at);
        wrk_entry_cleanup(&e);
        freeReplyObject(r);
    }
    /* not an entry at all */
    redisReply nil = {.type = REDIS_REPLY_NIL};
    assert_int_equal(wrk_entry_decode(&nil, &e), TW_EPARSE);
}

static void test_control_keywords(void **state)
{
    (void)state;
    static const struct {
        const char *payload;
        enum wrk_control k;
    } cases[] = {
        {"{\"MessageSid\":\"SM\",\"OptOutType\":\"STOP\"}", WRK_CTL_STOP},
        {"{\"MessageSid\":\"SM\",\"OptOutType\":\"Start\"}", WRK_CTL_START},
        {"{\"MessageSid\":\"SM\",\"OptOutType\":\"help\"}", WRK_CTL_HELP},
        {"{\"MessageSid\":\"SM\",\"OptOutType\":\"UNSUBSCRIBE\"}", WRK_CTL_NONE},
        {"{\"MessageSid\":\"SM\",\"OptOutType\":[\"STOP\",\"STOP\"]}", WRK_CTL_NONE},
        {"{\"MessageSid\":\"SM\",\"Body\":\"STOP\"}", WRK_CTL_NONE}, /* only OptOutType counts */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *kv[] = {"payload", cases[i].payload};
        redisReply *r = entry("1-1", kv, 2);
        struct wrk_entry e;
        assert_int_equal(wrk_entry_decode(r, &e), TW_OK);
        assert_int_equal(wrk_control_of(&e), cases[i].k);
        wrk_entry_cleanup(&e);
        freeReplyObject(r);
    }
    assert_string_equal(wrk_control_name(WRK_CTL_STOP), "STOP");
    assert_string_equal(wrk_control_name(WRK_CTL_NONE), "");
}

static void test_agent_table(void **state)
{
    (void)state;
    assert_non_null(wrk_agent_find("http"));
    assert_non_null(wrk_agent_find("echo"));
    assert_string_equal(wrk_agent_find("echo")->name, "echo");
    assert_null(wrk_agent_find("HTTP"));
    assert_null(wrk_agent_find(""));
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after),  cmocka_unit_test(test_classify),
        cmocka_unit_test(test_entry_decode), cmocka_unit_test(test_control_keywords),
        cmocka_unit_test(test_agent_table),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
