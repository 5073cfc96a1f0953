/* SPDX-License-Identifier: MIT */
/* The shared status script against a real redis-server: ranking, stickiness, duplicates,
 * late and unknown statuses, history contents, and shuffled duplicated callbacks.
 * TW_TEST_NEEDS_REDIS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/keys.h"
#include "common/redis.h"
#include "common/status.h"
#include "tests/lib/redis_fixture.h"

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

static int fresh(void **state)
{
    static int n;
    (void)state;
    snprintf(prefix, sizeof prefix, "tst%d-%d:", (int)getpid(), ++n);
    return 0;
}

/* HGET <prefix>msg:<sid> field into out ("" when missing). */
static void hget(const char *sid, const char *field, char *out, size_t outsz)
{
    char key[256];
    snprintf(key, sizeof key, "%s" TW_K_MSG "%s", prefix, sid);
    const char *argv[] = {"HGET", key, field};
    redisReply *r = redisCommandArgv(rc_, 3, argv, NULL);
    assert_non_null(r);
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, outsz, "%s", r->str);
    freeReplyObject(r);
}

/* The history as "status[:error_code][*]" joined by spaces, '*' marking moved. */
static void history(const char *sid, char *out, size_t outsz)
{
    char key[256];
    snprintf(key, sizeof key, "%s" TW_K_MSG "%s" TW_K_HISTORY, prefix, sid);
    const char *argv[] = {"LRANGE", key, "0", "-1"};
    redisReply *r = redisCommandArgv(rc_, 4, argv, NULL);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->elements; i++) {
        json_error_t jerr;
        json_t *j = json_loadb(r->element[i]->str, r->element[i]->len, 0, &jerr);
        assert_non_null(j);
        assert_true(json_is_integer(json_object_get(j, "at")));
        const char *st = json_string_value(json_object_get(j, "status"));
        const char *ec = json_string_value(json_object_get(j, "error_code"));
        o += (size_t)snprintf(out + o, outsz - o, "%s%s%s%s%s", i ? " " : "", st, ec ? ":" : "",
                              ec ? ec : "", json_is_true(json_object_get(j, "moved")) ? "*" : "");
        json_decref(j);
    }
    freeReplyObject(r);
}

/* "status" or "status:code" into an event; at = 1000 + index. */
static int apply(const char *sid, const char *spec, int idx)
{
    char st[64], code[32] = "";
    snprintf(st, sizeof st, "%s", spec);
    char *colon = strchr(st, ':');
    if (colon) {
        snprintf(code, sizeof code, "%s", colon + 1);
        *colon = '\0';
    }
    struct tw_status_event ev = {.message_sid = sid,
                                 .status = st,
                                 .at_ms = 1000 + idx,
                                 .error_code = code,
                                 .error_message = *code ? "carrier said no" : NULL,
                                 .from = "+15557007007",
                                 .to = "+15551230001",
                                 .conversation_key = "twilio:v1:k"};
    return tw_status_apply(rc_, prefix, &ev);
}

#define M TW_STATUS_MOVED
#define H TW_STATUS_HISTORY
#define D TW_STATUS_DUPLICATE

struct seq_case {
    const char *name;
    const char *events[8]; /* "status" or "status:error_code" */
    int results[8];
    const char *final;
    const char *final_error; /* error_code of the current status */
    const char *history;     /* as history() renders it */
};

static const struct seq_case seq_cases[] = {
    {"in order",
     {"queued", "sent", "delivered"},
     {M, M, M},
     "delivered",
     "",
     "queued* sent* delivered*"},
    {"duplicates change nothing",
     {"sent", "sent", "delivered", "delivered", "sent"},
     {M, D, M, D, D},
     "delivered",
     "",
     "sent* delivered*"},
    {"late sent after delivered",
     {"queued", "delivered", "sent"},
     {M, M, H},
     "delivered",
     "",
     "queued* delivered* sent"},
    {"failed then delivered",
     {"sent", "failed:30008", "delivered"},
     {M, M, H},
     "failed",
     "30008",
     "sent* failed:30008* delivered"},
    {"canceled is sticky",
     {"scheduled", "canceled", "queued", "read"},
     {M, M, H, H},
     "canceled",
     "",
     "scheduled* canceled* queued read"},
    {"undelivered then delivered",
     {"sent", "undelivered:30003", "delivered"},
     {M, M, M},
     "delivered",
     "",
     "sent* undelivered:30003* delivered*"},
    {"delivered then undelivered",
     {"delivered", "undelivered:30003"},
     {M, H},
     "delivered",
     "",
     "delivered* undelivered:30003"},
    {"unknown status",
     {"queued", "beamed-by-satellite", "sent"},
     {M, H, M},
     "sent",
     "",
     "queued* beamed-by-satellite sent*"},
    {"unknown first", {"weird"}, {H}, "", "", "weird"},
    {"read after delivered",
     {"delivered", "read", "delivered"},
     {M, M, D},
     "read",
     "",
     "delivered* read*"},
    {"failed after undelivered stays",
     {"undelivered:30005", "failed:30008"},
     {M, H},
     "undelivered",
     "30005",
     "undelivered:30005* failed:30008"},
    {"partially then delivered",
     {"partially_delivered", "delivered", "undelivered"},
     {M, M, H},
     "delivered",
     "",
     "partially_delivered* delivered* undelivered"},
    {"accepted from the create response",
     {"accepted", "queued", "accepted"},
     {M, M, D},
     "queued",
     "",
     "accepted* queued*"},
};

static void test_sequences(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof seq_cases / sizeof seq_cases[0]; c++) {
        const struct seq_case *k = &seq_cases[c];
        char sid[64];
        snprintf(sid, sizeof sid, "SMseq%zu", c);
        for (int i = 0; i < 8 && k->events[i]; i++) {
            int got = apply(sid, k->events[i], i);
            if (got != k->results[i])
                fail_msg("%s: event %d (%s): got %d, want %d", k->name, i, k->events[i], got,
                         k->results[i]);
        }
        char v[256];
        hget(sid, "status", v, sizeof v);
        if (strcmp(v, k->final) != 0)
            fail_msg("%s: status %s, want %s", k->name, v, k->final);
        hget(sid, "error_code", v, sizeof v);
        if (strcmp(v, k->final_error) != 0)
            fail_msg("%s: error_code %s, want %s", k->name, v, k->final_error);
        if (*k->final) {
            char rank[16];
            hget(sid, "rank", rank, sizeof rank);
            assert_int_equal(strtol(rank, NULL, 10), tw_status_rank(k->final));
        }
        char h[512];
        history(sid, h, sizeof h);
        if (strcmp(h, k->history) != 0)
            fail_msg("%s: history '%s', want '%s'", k->name, h, k->history);
    }
}

/* The fields of the current status come from the event that set it; identity fields are kept. */
static void test_fields(void **state)
{
    (void)state;
    char v[128];
    assert_int_equal(apply("SMf", "undelivered:30003", 5), M);
    hget("SMf", "updated_at", v, sizeof v);
    assert_string_equal(v, "1005");
    hget("SMf", "error_message", v, sizeof v);
    assert_string_equal(v, "carrier said no");
    assert_int_equal(apply("SMf", "delivered", 9), M);
    hget("SMf", "updated_at", v, sizeof v);
    assert_string_equal(v, "1009");
    hget("SMf", "error_message", v, sizeof v);
    assert_string_equal(v, "");
    hget("SMf", "from", v, sizeof v);
    assert_string_equal(v, "+15557007007");
    hget("SMf", "to", v, sizeof v);
    assert_string_equal(v, "+15551230001");
    hget("SMf", "conversation_key", v, sizeof v);
    assert_string_equal(v, "twilio:v1:k");

    /* A later event without identity fields does not erase them. */
    struct tw_status_event ev = {.message_sid = "SMf", .status = "read", .at_ms = 2000};
    assert_int_equal(tw_status_apply(rc_, prefix, &ev), M);
    hget("SMf", "from", v, sizeof v);
    assert_string_equal(v, "+15557007007");
    hget("SMf", "status", v, sizeof v);
    assert_string_equal(v, "read");
}

/* Duplicated and shuffled deliveries of one message's callbacks end in the same record. */
static void test_shuffled_duplicates(void **state)
{
    (void)state;
    const char *base[] = {"queued", "sending", "sent", "delivered", "read"};
    enum { NB = 5, NE = 2 * NB };
    unsigned seed = 12345;
    for (int round = 0; round < 40; round++) {
        const char *ev[NE];
        for (int i = 0; i < NE; i++)
            ev[i] = base[i % NB];
        for (int i = NE - 1; i > 0; i--) {
            seed = seed * 1103515245u + 12345u;
            int j = (int)((seed >> 16) % (unsigned)(i + 1));
            const char *t = ev[i];
            ev[i] = ev[j];
            ev[j] = t;
        }
        char sid[32];
        snprintf(sid, sizeof sid, "SMshuf%d", round);
        int moved = 0, dups = 0;
        for (int i = 0; i < NE; i++) {
            int r = apply(sid, ev[i], i);
            assert_true(r == M || r == H || r == D);
            moved += r == M;
            dups += r == D;
        }
        assert_true(moved >= 1);
        assert_int_equal(dups, NB); /* every second copy is a duplicate */
        char v[64], h[512];
        hget(sid, "status", v, sizeof v);
        assert_string_equal(v, "read");
        history(sid, h, sizeof h);
        for (int i = 0; i < NB; i++) {
            char needle[32];
            snprintf(needle, sizeof needle, "%s", base[i]);
            assert_non_null(strstr(h, needle));
        }
        /* five distinct entries: four separators */
        int spaces = 0;
        for (const char *p = h; *p; p++)
            spaces += *p == ' ';
        assert_int_equal(spaces, NB - 1);
    }
}

static void test_ranking_table(void **state)
{
    (void)state;
    const char *order[] = {"scheduled", "accepted", "queued", "sending", "sent"};
    for (int i = 1; i < 5; i++)
        assert_true(tw_status_rank(order[i - 1]) < tw_status_rank(order[i]));
    const char *terminal[] = {"canceled", "failed", "undelivered", "partially_delivered",
                              "delivered"};
    for (int i = 0; i < 5; i++) {
        assert_true(tw_status_rank(terminal[i]) > tw_status_rank("sent"));
        assert_true(tw_status_rank(terminal[i]) < tw_status_rank("read"));
    }
    assert_true(tw_status_rank("delivered") > tw_status_rank("undelivered"));
    assert_int_equal(tw_status_rank("nope"), 0);
    assert_int_equal(tw_status_rank("Delivered"), 0); /* Twilio's exact strings only */
    assert_int_equal(tw_status_rank(NULL), 0);
    assert_true(tw_status_sticky("failed"));
    assert_true(tw_status_sticky("canceled"));
    assert_false(tw_status_sticky("undelivered"));
    assert_false(tw_status_sticky("delivered"));
}

static void test_moved_before(void **state)
{
    (void)state;
    bool moved = true;
    assert_int_equal(apply("SMmb", "delivered", 0), M);
    assert_int_equal(apply("SMmb", "sent", 1), H);
    assert_int_equal(tw_status_moved_before(rc_, prefix, "SMmb", "delivered", &moved), TW_OK);
    assert_true(moved);
    assert_int_equal(tw_status_moved_before(rc_, prefix, "SMmb", "sent", &moved), TW_OK);
    assert_false(moved);
    moved = true;
    assert_int_equal(tw_status_moved_before(rc_, prefix, "SMmb", "read", &moved), TW_OK);
    assert_false(moved);
}

static void test_invalid(void **state)
{
    (void)state;
    struct tw_status_event ev = {.message_sid = "SMx", .status = ""};
    assert_int_equal(tw_status_apply(rc_, prefix, &ev), TW_EINVAL);
    ev.status = "sent";
    ev.message_sid = NULL;
    assert_int_equal(tw_status_apply(rc_, prefix, &ev), TW_EINVAL);
}

/* Values that need escaping reach Redis and the history intact. */
static void test_binary_safe(void **state)
{
    (void)state;
    struct tw_status_event ev = {.message_sid = "SMbin",
                                 .status = "undelivered",
                                 .at_ms = 7,
                                 .error_code = "30003",
                                 .error_message = "quote \" backslash \\ unicode \xc3\xa9 %s"};
    assert_int_equal(tw_status_apply(rc_, prefix, &ev), M);
    char v[128];
    hget("SMbin", "error_message", v, sizeof v);
    assert_string_equal(v, ev.error_message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sequences, fresh),
        cmocka_unit_test_setup(test_fields, fresh),
        cmocka_unit_test_setup(test_shuffled_duplicates, fresh),
        cmocka_unit_test(test_ranking_table),
        cmocka_unit_test_setup(test_moved_before, fresh),
        cmocka_unit_test_setup(test_invalid, fresh),
        cmocka_unit_test_setup(test_binary_safe, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
