/* SPDX-License-Identifier: MIT */
/* The worker's Lua scripts against a real redis-server, step by step: registration in the
 * conversation list, turns, the fence, effects once, hand-over, heartbeats, orphan repair,
 * dead letters, and trimming that never drops what a group still needs. TW_TEST_NEEDS_REDIS */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/keys.h"
#include "common/redis.h"
#include "worker/scripts.h"
#include "tests/lib/redis_fixture.h"

static redisContext *rc_;
static char pfx[64], k_in[96], k_dead[96], inq_pfx[96], out_pfx[96];

#define CKEY "twilio:v1:account:AC1:address:%2B1:participant:%2B2"
#define GROUP "workers"

static int setup(void **state)
{
    (void)state;
    rc_ = tw_test_redis_connect();
    wrk_scripts_init();
    return rc_ ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    redisFree(rc_);
    return 0;
}

static redisReply *cmdv(int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(rc_, argc, argv, NULL);
    assert_non_null(r);
    return r;
}

#define CMD(...)                                                                                   \
    cmdv((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),                      \
         (const char *[]){__VA_ARGS__})

static long long cmd_int(redisReply *r)
{
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static int fresh(void **state)
{
    static int n;
    (void)state;
    snprintf(pfx, sizeof pfx, "tws%d-%d:", (int)getpid(), ++n);
    snprintf(k_in, sizeof k_in, "%s" TW_K_INBOUND, pfx);
    snprintf(k_dead, sizeof k_dead, "%s" TW_K_INBOUND_DEAD, pfx);
    snprintf(inq_pfx, sizeof inq_pfx, "%s" TW_K_INQ, pfx);
    snprintf(out_pfx, sizeof out_pfx, "%s" TW_K_OUTCOME, pfx);
    freeReplyObject(CMD("XGROUP", "CREATE", k_in, GROUP, "0", "MKSTREAM"));
    return 0;
}

static void xadd(const char *sid, char *id_out)
{
    char payload[128];
    snprintf(payload, sizeof payload, "{\"MessageSid\":\"%s\"}", sid);
    redisReply *r = CMD("XADD", k_in, "*", "payload", payload, "conversation_key", CKEY);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    snprintf(id_out, 48, "%s", r->str);
    freeReplyObject(r);
}

static redisReply *eval(const struct tw_rs_script *s, int nkeys, int argc, const char **argv)
{
    redisReply *r = tw_rs_eval(rc_, s, nkeys, argc, argv, NULL);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR)
        fail_msg("script error: %s", r->str);
    return r;
}

/* READ for consumer; returns how many entries it got. */
static size_t read_as(const char *consumer)
{
    const char *argv[] = {k_in, GROUP, consumer, "100", inq_pfx, TW_F_CONVERSATION_KEY};
    redisReply *r = eval(&wrk_script_read, 1, 6, argv);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    size_t n = r->element[1]->elements;
    freeReplyObject(r);
    return n;
}

/* BEGIN; returns "lost"/"wait"/"done"/"go" and the attempt in *n. */
static const char *begin_as(const char *consumer, const char *id, const char *sid, long long *n)
{
    static char what[16];
    char inq[160], out[160];
    snprintf(inq, sizeof inq, "%s%s", inq_pfx, CKEY);
    snprintf(out, sizeof out, "%s%s", out_pfx, sid);
    const char *argv[] = {k_in, inq, out, GROUP, consumer, id, "1000", CKEY, "60"};
    redisReply *r = eval(&wrk_script_begin, 3, 9, argv);
    snprintf(what, sizeof what, "%s", r->element[0]->str);
    if (n)
        *n = r->elements > 1 && r->element[1]->type == REDIS_REPLY_INTEGER ? r->element[1]->integer
                                                                           : 0;
    freeReplyObject(r);
    return what;
}

/* FINISH; returns "lost"/"stale"/"ok"; *claimed = entries handed over. */
static const char *finish_as(const char *consumer, const char *id, const char *sid,
                             const char *token, const char *outcome, bool dead, bool carry,
                             size_t *claimed)
{
    static char what[16];
    char inq[160], out[160];
    snprintf(inq, sizeof inq, "%s%s", inq_pfx, CKEY);
    snprintf(out, sizeof out, "%s%s", out_pfx, sid);
    const char *argv[] = {
        k_in,  inq,     out,   k_dead, GROUP, consumer,         id,
        token, outcome, "why", "2000", "60",  dead ? "1" : "0", carry ? "1" : "0"};
    redisReply *r = eval(&wrk_script_finish, 4, 14, argv);
    snprintf(what, sizeof what, "%s", r->element[0]->str);
    if (claimed)
        *claimed = r->elements == 3 ? r->element[2]->elements : 0;
    freeReplyObject(r);
    return what;
}

static void xclaim_to(const char *consumer, const char *id)
{
    freeReplyObject(CMD("XCLAIM", k_in, GROUP, consumer, "0", id, "JUSTID"));
}

static void owner_of(const char *id, char *out, size_t outsz)
{
    redisReply *r = CMD("XPENDING", k_in, GROUP, id, id, "1");
    out[0] = '\0';
    if (r->elements)
        snprintf(out, outsz, "%s", r->element[0]->element[1]->str);
    freeReplyObject(r);
}

static void hget_out(const char *sid, const char *field, char *out, size_t outsz)
{
    char key[160];
    snprintf(key, sizeof key, "%s%s", out_pfx, sid);
    redisReply *r = CMD("HGET", key, field);
    out[0] = '\0';
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, outsz, "%s", r->str);
    freeReplyObject(r);
}

static long long inq_len(void)
{
    char inq[160];
    snprintf(inq, sizeof inq, "%s%s", inq_pfx, CKEY);
    return cmd_int(CMD("LLEN", inq));
}

/* ------------------------------------------------------------------ tests */

static void test_turns_and_registration(void **state)
{
    (void)state;
    char e1[48], e2[48];
    xadd("SM1", e1);
    xadd("SM2", e2);
    assert_int_equal(read_as("A"), 2); /* A gets both in one read */
    assert_int_equal(read_as("B"), 0);
    assert_int_equal(inq_len(), 2);
    long long n;
    assert_string_equal(begin_as("A", e2, "SM2", &n), "wait"); /* not its turn */
    assert_string_equal(begin_as("A", e1, "SM1", &n), "go");
    assert_int_equal(n, 1);
    assert_string_equal(finish_as("A", e1, "SM1", "1", "dispatched", false, false, NULL), "ok");
    assert_int_equal(inq_len(), 1);
    assert_string_equal(begin_as("A", e2, "SM2", &n), "go");
    char v[64];
    hget_out("SM1", TW_O_OUTCOME, v, sizeof v);
    assert_string_equal(v, "dispatched");
    hget_out("SM1", TW_O_RECEIPT, v, sizeof v);
    assert_string_equal(v, "why");
    assert_int_equal(cmd_int(CMD("XLEN", k_dead)), 0);
}

static void test_fence_after_reclaim(void **state)
{
    (void)state;
    char e1[48];
    xadd("SMf", e1);
    read_as("A");
    long long n;
    assert_string_equal(begin_as("A", e1, "SMf", &n), "go");
    xclaim_to("B", e1); /* A stalled; B reclaimed it */
    assert_string_equal(begin_as("B", e1, "SMf", &n), "go");
    assert_int_equal(n, 2);
    /* A wakes with a late answer: not recorded */
    assert_string_equal(finish_as("A", e1, "SMf", "1", "dispatched", false, false, NULL), "lost");
    /* even if the entry came back to A, attempt 1 is not the latest any more */
    xclaim_to("A", e1);
    assert_string_equal(finish_as("A", e1, "SMf", "1", "dispatched", false, false, NULL), "stale");
    char v[32];
    hget_out("SMf", TW_O_OUTCOME, v, sizeof v);
    assert_string_equal(v, "");
    xclaim_to("B", e1);
    assert_string_equal(finish_as("B", e1, "SMf", "2", "dispatched", false, false, NULL), "ok");
    hget_out("SMf", TW_O_ATTEMPTS, v, sizeof v);
    assert_string_equal(v, "2");
    redisReply *r = CMD("XPENDING", k_in, GROUP);
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
}

static void test_effects_once_and_failed_replay(void **state)
{
    (void)state;
    char e1[48], e2[48], e3[48], e4[48];
    xadd("SMo", e1);
    read_as("A");
    assert_string_equal(begin_as("A", e1, "SMo", NULL), "go");
    assert_string_equal(finish_as("A", e1, "SMo", "1", "dispatched", false, false, NULL), "ok");
    xadd("SMo", e2); /* the same message again */
    read_as("A");
    assert_string_equal(begin_as("A", e2, "SMo", NULL), "done");
    assert_string_equal(finish_as("A", e2, "SMo", "", "", false, false, NULL), "ok");
    char v[32];
    hget_out("SMo", TW_O_STREAM_ID, v, sizeof v);
    assert_string_equal(v, e1); /* the outcome still names the first entry */

    xadd("SMx", e3);
    read_as("A");
    assert_string_equal(begin_as("A", e3, "SMx", NULL), "go");
    assert_string_equal(finish_as("A", e3, "SMx", "1", "failed", true, false, NULL), "ok");
    redisReply *r = CMD("XRANGE", k_dead, "-", "+");
    assert_int_equal(r->elements, 1);
    const redisReply *f = r->element[0]->element[1];
    int seen = 0;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (!strcmp(f->element[i]->str, TW_D_STREAM_ID))
            seen += !strcmp(f->element[i + 1]->str, e3);
        if (!strcmp(f->element[i]->str, TW_D_ATTEMPTS))
            seen += !strcmp(f->element[i + 1]->str, "1");
        if (!strcmp(f->element[i]->str, "payload"))
            seen += strstr(f->element[i + 1]->str, "SMx") != NULL;
        if (!strcmp(f->element[i]->str, TW_D_REASON))
            seen += !strcmp(f->element[i + 1]->str, "why");
    }
    assert_int_equal(seen, 4);
    freeReplyObject(r);
    /* a replay of the failed message (a new entry) starts over */
    xadd("SMx", e4);
    read_as("A");
    long long n;
    assert_string_equal(begin_as("A", e4, "SMx", &n), "go");
    assert_int_equal(n, 1);
}

static void test_hand_over_to_the_finisher(void **state)
{
    (void)state;
    char e1[48], e2[48], who[32];
    xadd("SMh1", e1);
    read_as("A");
    xadd("SMh2", e2);
    read_as("B"); /* the next message of the conversation waits in B */
    assert_string_equal(begin_as("A", e1, "SMh1", NULL), "go");
    size_t claimed = 0;
    assert_string_equal(finish_as("A", e1, "SMh1", "1", "dispatched", false, true, &claimed), "ok");
    assert_int_equal(claimed, 1);
    owner_of(e2, who, sizeof who);
    assert_string_equal(who, "A");
    assert_string_equal(begin_as("B", e2, "SMh2", NULL), "lost"); /* B forgets it */
    assert_string_equal(begin_as("A", e2, "SMh2", NULL), "go");
}

static void test_heads_repair_and_taken_over(void **state)
{
    (void)state;
    char e1[48], e2[48], inq[160];
    snprintf(inq, sizeof inq, "%s%s", inq_pfx, CKEY);
    xadd("SMr1", e1);
    xadd("SMr2", e2);
    read_as("A");
    /* e1 acknowledged behind the worker's back: e2 must not wait for it forever */
    freeReplyObject(CMD("XACK", k_in, GROUP, e1));
    const char *argv[] = {k_in, GROUP, "A", inq_pfx, CKEY, e2};
    redisReply *r = eval(&wrk_script_heads, 1, 6, argv);
    assert_int_equal(r->element[0]->integer, 1);
    freeReplyObject(r);
    assert_int_equal(inq_len(), 1);
    /* asked by a consumer that no longer holds it: 2, and the list is left alone */
    const char *argv2[] = {k_in, GROUP, "B", inq_pfx, CKEY, e2};
    r = eval(&wrk_script_heads, 1, 6, argv2);
    assert_int_equal(r->element[0]->integer, 2);
    freeReplyObject(r);
    /* its list lost: our pending entry is put back */
    freeReplyObject(CMD("DEL", inq));
    r = eval(&wrk_script_heads, 1, 6, argv);
    assert_int_equal(r->element[0]->integer, 1);
    freeReplyObject(r);
    assert_int_equal(inq_len(), 1);
}

static void test_keep_and_hand_back(void **state)
{
    (void)state;
    char e1[48], e2[48];
    xadd("SMk1", e1);
    xadd("SMk2", e2);
    read_as("A");
    xclaim_to("B", e2);
    const char *argv[] = {k_in, GROUP, "A", "0", e1, e2};
    redisReply *r = eval(&wrk_script_keep, 1, 6, argv);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->str, e2); /* not ours any more */
    freeReplyObject(r);
    /* hand back e1: idle set to 5000 ms, so XAUTOCLAIM with 5000 takes it at once */
    const char *argv2[] = {k_in, GROUP, "A", "5000", e1};
    freeReplyObject(eval(&wrk_script_keep, 1, 5, argv2));
    r = CMD("XAUTOCLAIM", k_in, GROUP, "C", "5000", "0-0", "COUNT", "10");
    assert_int_equal(r->element[1]->elements, 1);
    assert_string_equal(r->element[1]->element[0]->element[0]->str, e1);
    freeReplyObject(r);
}

static void test_trim_keeps_what_groups_need(void **state)
{
    (void)state;
    char ids[300][48];
    for (int i = 0; i < 300; i++) {
        redisReply *r = CMD("XADD", k_in, "*", "f", "v");
        snprintf(ids[i], sizeof ids[i], "%s", r->str);
        freeReplyObject(r);
    }
    freeReplyObject(CMD("XREADGROUP", "GROUP", GROUP, "A", "COUNT", "150", "STREAMS", k_in, ">"));
    for (int i = 0; i < 120; i++)
        freeReplyObject(CMD("XACK", k_in, GROUP, ids[i]));
    /* a second group that has read nothing: nothing may go */
    freeReplyObject(CMD("XGROUP", "CREATE", k_in, "other", "0"));
    const char *argv[] = {k_in};
    assert_int_equal(cmd_int(eval(&wrk_script_trim, 1, 1, argv)), 0);
    assert_int_equal(cmd_int(CMD("XLEN", k_in)), 300);
    freeReplyObject(CMD("XGROUP", "DESTROY", k_in, "other"));
    long long removed = cmd_int(eval(&wrk_script_trim, 1, 1, argv));
    assert_true(removed > 0 && removed <= 120);
    /* every pending (120..149) and unread (150..299) entry is still there */
    for (int i = 120; i < 300; i++) {
        redisReply *r = CMD("XRANGE", k_in, ids[i], ids[i]);
        if (r->elements != 1)
            fail_msg("entry %d (%s) was trimmed", i, ids[i]);
        freeReplyObject(r);
    }
    /* a stream without groups is never trimmed */
    freeReplyObject(CMD("XGROUP", "DESTROY", k_in, GROUP));
    assert_int_equal(cmd_int(eval(&wrk_script_trim, 1, 1, argv)), 0);
}

static void test_deadack(void **state)
{
    (void)state;
    char e1[48];
    xadd("SMd", e1);
    read_as("A");
    const char *argv[] = {k_in, k_dead, GROUP, e1, "hook answered 400", "3", "123", "A"};
    freeReplyObject(eval(&wrk_script_deadack, 2, 8, argv));
    redisReply *r = CMD("XPENDING", k_in, GROUP);
    assert_int_equal(r->element[0]->integer, 0);
    freeReplyObject(r);
    r = CMD("XRANGE", k_dead, "-", "+");
    assert_int_equal(r->elements, 1);
    assert_true(r->element[0]->element[1]->elements >= 14); /* 4 original + 5 dead-letter pairs */
    freeReplyObject(r);
}

static void test_leave_only_when_nothing_is_held(void **state)
{
    (void)state;
    char e1[48];
    xadd("SMl", e1);
    read_as("A");
    freeReplyObject(CMD("XGROUP", "CREATECONSUMER", k_in, GROUP, "B")); /* B holds nothing */
    const char *argv_a[] = {k_in, GROUP, "A"}, *argv_b[] = {k_in, GROUP, "B"};
    const char *argv_none[] = {k_in, "nogroup", "A"};
    assert_int_equal(cmd_int(eval(&wrk_script_leave, 1, 3, argv_a)), 0); /* A holds e1 */
    assert_int_equal(cmd_int(eval(&wrk_script_leave, 1, 3, argv_b)), 1);
    assert_int_equal(cmd_int(eval(&wrk_script_leave, 1, 3, argv_none)), 0);
    redisReply *r = CMD("XINFO", "CONSUMERS", k_in, GROUP);
    assert_int_equal(r->elements, 1); /* A stays, with its pending entry */
    freeReplyObject(r);
    char who[32];
    owner_of(e1, who, sizeof who);
    assert_string_equal(who, "A");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_turns_and_registration, fresh),
        cmocka_unit_test_setup(test_fence_after_reclaim, fresh),
        cmocka_unit_test_setup(test_effects_once_and_failed_replay, fresh),
        cmocka_unit_test_setup(test_hand_over_to_the_finisher, fresh),
        cmocka_unit_test_setup(test_heads_repair_and_taken_over, fresh),
        cmocka_unit_test_setup(test_keep_and_hand_back, fresh),
        cmocka_unit_test_setup(test_trim_keeps_what_groups_need, fresh),
        cmocka_unit_test_setup(test_deadack, fresh),
        cmocka_unit_test_setup(test_leave_only_when_nothing_is_held, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
