/* SPDX-License-Identifier: MIT */
/* tw_outbound_enqueue against a real redis-server: job hash, stream entry, conversation list,
 * and the Idempotency-Key cases. TW_TEST_NEEDS_REDIS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/outbound.h"
#include "common/redis.h"
#include "tests/lib/redis_fixture.h"

#define KEY1                                                                                       \
    "twilio:v1:account:AC0123456789abcdef0123456789abcdef:address:%2B15557007007:participant:%"    \
    "2B15551230001"
#define KEY2                                                                                       \
    "twilio:v1:account:AC0123456789abcdef0123456789abcdef:address:%2B15557007007:participant:%"    \
    "2B15551230002"

static redisContext *rc_;
static char prefix[64];

static int setup(void **state)
{
    (void)state;
    rc_ = tw_test_redis_connect();
    return rc_ ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    redisFree(rc_);
    return 0;
}

/* A fresh prefix per test, so tests do not see each other's keys. */
static int fresh(void **state)
{
    static int n;
    (void)state;
    snprintf(prefix, sizeof prefix, "tobt%d-%d:", (int)getpid(), ++n);
    return 0;
}

static redisReply *cmd(int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(rc_, argc, argv, NULL);
    assert_non_null(r);
    return r;
}

static long long xlen(void)
{
    char k[256];
    snprintf(k, sizeof k, "%soutbound", prefix);
    const char *argv[] = {"XLEN", k};
    redisReply *r = cmd(2, argv);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

static char *hget(const char *id, const char *field)
{
    char k[256];
    snprintf(k, sizeof k, "%sjob:%s", prefix, id);
    const char *argv[] = {"HGET", k, field};
    redisReply *r = cmd(3, argv);
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

static void test_created_job_entry_and_list(void **state)
{
    (void)state;
    char id[TW_JOB_ID_MAX];
    struct tw_outbound_req req = {.conversation_key = KEY1,
                                  .body = "hello",
                                  .media_json = "[\"https://example.com/a.png\"]",
                                  .source = "api"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, id), TW_OUTBOUND_CREATED);
    /* "ob" + 32 lower-case hex digits: URL-safe */
    assert_int_equal(strlen(id), 34);
    assert_memory_equal(id, "ob", 2);
    assert_int_equal(strspn(id + 2, "0123456789abcdef"), 32);

    const char *expect[][2] = {
        {"state", "queued"}, {"conversation_key", KEY1},
        {"body", "hello"},   {"media_url", "[\"https://example.com/a.png\"]"},
        {"source", "api"},   {"attempts", "0"},
        {"id", id}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        char *v = hget(id, expect[i][0]);
        assert_non_null(v);
        assert_string_equal(v, expect[i][1]);
        free(v);
    }
    assert_int_equal(xlen(), 1);

    /* the entry names the job and carries the conversation key; stream_id points back to it */
    char k[256];
    snprintf(k, sizeof k, "%soutbound", prefix);
    const char *xr[] = {"XRANGE", k, "-", "+"};
    redisReply *r = cmd(4, xr);
    assert_int_equal(r->elements, 1);
    redisReply *e = r->element[0];
    char *sid = hget(id, "stream_id");
    assert_string_equal(e->element[0]->str, sid);
    free(sid);
    assert_int_equal(e->element[1]->elements, 4);
    assert_string_equal(e->element[1]->element[0]->str, "job_id");
    assert_string_equal(e->element[1]->element[1]->str, id);
    assert_string_equal(e->element[1]->element[2]->str, "conversation_key");
    assert_string_equal(e->element[1]->element[3]->str, KEY1);
    freeReplyObject(r);

    snprintf(k, sizeof k, "%soutq:%s", prefix, KEY1);
    const char *lr[] = {"LRANGE", k, "0", "-1"};
    r = cmd(4, lr);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, id);
    freeReplyObject(r);
}

static void test_without_key_every_call_is_new(void **state)
{
    (void)state;
    char a[TW_JOB_ID_MAX], b[TW_JOB_ID_MAX];
    struct tw_outbound_req req = {.conversation_key = KEY1, .body = "same", .source = "echo"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, a), TW_OUTBOUND_CREATED);
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, b), TW_OUTBOUND_CREATED);
    assert_string_not_equal(a, b);
    assert_int_equal(xlen(), 2);
    /* the conversation list keeps enqueue order */
    char k[256];
    snprintf(k, sizeof k, "%soutq:%s", prefix, KEY1);
    const char *lr[] = {"LRANGE", k, "0", "-1"};
    redisReply *r = cmd(4, lr);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, a);
    assert_string_equal(r->element[1]->str, b);
    freeReplyObject(r);
    char *m = hget(a, "media_url");
    assert_null(m);
}

struct idem_case {
    const char *name;
    struct tw_outbound_req second;
    int expect;
};

static void test_idempotency_cases(void **state)
{
    (void)state;
    const char *media = "[\"https://example.com/a.png\"]";
    const struct idem_case cases[] = {
        {"same request", {KEY1, "hi", media, "k", "api"}, TW_OUTBOUND_EXISTING},
        {"same request from another source",
         {KEY1, "hi", media, "k", "echo"},
         TW_OUTBOUND_EXISTING},
        {"other body", {KEY1, "hi!", media, "k", "api"}, TW_OUTBOUND_CONFLICT},
        {"other conversation", {KEY2, "hi", media, "k", "api"}, TW_OUTBOUND_CONFLICT},
        {"other media",
         {KEY1, "hi", "[\"https://example.com/b.png\"]", "k", "api"},
         TW_OUTBOUND_CONFLICT},
        {"no media", {KEY1, "hi", NULL, "k", "api"}, TW_OUTBOUND_CONFLICT},
        {"other key", {KEY1, "hi", media, "k2", "api"}, TW_OUTBOUND_CREATED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fresh(NULL);
        char first[TW_JOB_ID_MAX], second[TW_JOB_ID_MAX];
        struct tw_outbound_req req = {KEY1, "hi", media, "k", "api"};
        assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, first), TW_OUTBOUND_CREATED);
        int got = tw_outbound_enqueue(rc_, prefix, &cases[i].second, second);
        if (got != cases[i].expect)
            fail_msg("case %s: got %d, want %d", cases[i].name, got, cases[i].expect);
        if (got == TW_OUTBOUND_CREATED) {
            assert_string_not_equal(first, second);
            assert_int_equal(xlen(), 2);
        } else {
            /* the id of the job the key names; nothing appended */
            assert_string_equal(first, second);
            assert_int_equal(xlen(), 1);
        }
    }
}

static void test_empty_media_list_is_no_media(void **state)
{
    (void)state;
    char a[TW_JOB_ID_MAX], b[TW_JOB_ID_MAX];
    struct tw_outbound_req r1 = {KEY1, "x", NULL, "m", "api"};
    struct tw_outbound_req r2 = {KEY1, "x", "[]", "m", "api"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &r1, a), TW_OUTBOUND_CREATED);
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &r2, b), TW_OUTBOUND_EXISTING);
    assert_string_equal(a, b);
}

static void test_idempotency_record_expires(void **state)
{
    (void)state;
    char id[TW_JOB_ID_MAX];
    struct tw_outbound_req req = {KEY1, "x", NULL, "ttl-key", "api"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, id), TW_OUTBOUND_CREATED);
    char k[256];
    snprintf(k, sizeof k, "%sidem:ttl-key", prefix);
    const char *argv[] = {"TTL", k};
    redisReply *r = cmd(2, argv);
    assert_true(r->integer > TW_OUTBOUND_IDEM_TTL_S - 60 && r->integer <= TW_OUTBOUND_IDEM_TTL_S);
    freeReplyObject(r);
    const char *hg[] = {"HGET", k, "job_id"};
    r = cmd(3, hg);
    assert_string_equal(r->str, id);
    freeReplyObject(r);
    char *v = hget(id, "idempotency_key");
    assert_string_equal(v, "ttl-key");
    free(v);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char id[TW_JOB_ID_MAX];
    struct tw_outbound_req req = {NULL, "x", NULL, NULL, "api"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, id), TW_EINVAL);
    assert_int_equal(xlen(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_created_job_entry_and_list, fresh),
        cmocka_unit_test_setup(test_without_key_every_call_is_new, fresh),
        cmocka_unit_test_setup(test_idempotency_cases, fresh),
        cmocka_unit_test_setup(test_empty_media_list_is_no_media, fresh),
        cmocka_unit_test_setup(test_idempotency_record_expires, fresh),
        cmocka_unit_test_setup(test_bad_arguments, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
