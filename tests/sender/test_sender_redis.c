/* SPDX-License-Identifier: MIT */
/* The sender's Redis scripts against a real redis-server: claim order, leases and fencing,
 * finish, and pacing (identity schedule and the per-conversation 14107 guard). TW_TEST_NEEDS_REDIS
 */
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
#include "sender/job.h"
#include "sender/pacing.h"
#include "tests/lib/redis_fixture.h"

#define KEY                                                                                        \
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

static int fresh(void **state)
{
    static int n;
    (void)state;
    snprintf(prefix, sizeof prefix, "tsr%d-%d:", (int)getpid(), ++n);
    return 0;
}

static void enqueue(const char *key, const char *body, char id[TW_JOB_ID_MAX])
{
    struct tw_outbound_req req = {.conversation_key = key, .body = body, .source = "test"};
    assert_int_equal(tw_outbound_enqueue(rc_, prefix, &req, id), TW_OUTBOUND_CREATED);
}

static int claim(const char *id, const char *key, const char *me, struct snd_job *j)
{
    return snd_job_claim(rc_, prefix, id, key, me, 5000, NULL, j);
}

static void test_claim_order_lease_and_fencing(void **state)
{
    (void)state;
    char j1[TW_JOB_ID_MAX], j2[TW_JOB_ID_MAX], j3[TW_JOB_ID_MAX];
    enqueue(KEY, "one", j1);
    enqueue(KEY, "two", j2);
    enqueue(KEY2, "other conversation", j3);
    struct snd_job j;

    /* the second job waits for the first; another conversation does not */
    assert_int_equal(claim(j2, KEY, "A", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_WAIT);
    snd_job_cleanup(&j);
    assert_int_equal(claim(j3, KEY2, "B", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    snd_job_cleanup(&j);

    /* A holds j1; B is refused while the lease lives */
    assert_int_equal(claim(j1, KEY, "A", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    assert_string_equal(j.state, "queued");
    assert_string_equal(j.body, "one");
    assert_string_equal(j.conversation_key, KEY);
    assert_true(j.created_at > 0 && j.redis_now >= j.created_at);
    snd_job_cleanup(&j);
    assert_int_equal(claim(j1, KEY, "B", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_BUSY);
    snd_job_cleanup(&j);

    /* only the owner writes the marker, and only once per attempt */
    int64_t at = 0;
    long attempts = 0;
    assert_int_equal(snd_job_mark(rc_, prefix, j1, "B", "t", 5000, &at, &attempts), TW_ENOTFOUND);
    assert_int_equal(snd_job_mark(rc_, prefix, j1, "A", "t", 5000, &at, &attempts), TW_OK);
    assert_int_equal(attempts, 1);
    assert_true(at > 0);
    assert_int_equal(snd_job_mark(rc_, prefix, j1, "A", "t", 5000, &at, &attempts), TW_ENOTFOUND);

    /* renew: A's lease is alive, B has none */
    const char *ids[] = {j1, j1};
    bool alive[2];
    assert_int_equal(snd_job_renew(rc_, prefix, ids, 1, "A", 5000, alive), TW_OK);
    assert_true(alive[0]);
    assert_int_equal(snd_job_renew(rc_, prefix, ids, 2, "B", 5000, alive), TW_OK);
    assert_false(alive[0]);

    /* only the owner finishes; then the next job of the conversation may go */
    struct snd_outcome_rec sent = {.state = "sent", .sid = "SM0123456789abcdef0123456789abcdef"};
    assert_int_equal(snd_job_finish(rc_, prefix, j1, KEY, NULL, "B", &sent, NULL), TW_ENOTFOUND);
    struct snd_next next;
    assert_int_equal(snd_job_finish(rc_, prefix, j1, KEY, NULL, "A", &sent, &next), TW_OK);
    /* finish names the conversation's next job and its entry */
    assert_string_equal(next.job_id, j2);
    assert_true(next.entry_id[0] != '\0');
    assert_int_equal(claim(j1, KEY, "B", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_DONE);
    assert_string_equal(j.state, "sent");
    snd_job_cleanup(&j);
    assert_int_equal(claim(j2, KEY, "B", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    snd_job_cleanup(&j);

    bool taken = true;
    assert_int_equal(snd_job_sid_taken(rc_, prefix, sent.sid, j1, &taken), TW_OK);
    assert_false(taken);
    assert_int_equal(snd_job_sid_taken(rc_, prefix, sent.sid, j2, &taken), TW_OK);
    assert_true(taken);
}

static void test_expired_lease_is_taken_over_and_unresolved_attempt_shows(void **state)
{
    (void)state;
    char j1[TW_JOB_ID_MAX];
    enqueue(KEY, "one", j1);
    struct snd_job j;
    assert_int_equal(snd_job_claim(rc_, prefix, j1, KEY, "A", 100, NULL, &j), TW_OK);
    snd_job_cleanup(&j);
    int64_t at;
    long attempts;
    assert_int_equal(snd_job_mark(rc_, prefix, j1, "A", "t", 100, &at, &attempts), TW_OK);
    usleep(200 * 1000);
    /* A died after the marker: B takes over and sees the attempt without an end */
    assert_int_equal(claim(j1, KEY, "B", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    assert_string_equal(j.state, "sending");
    assert_int_equal(j.attempts, 1);
    assert_int_equal(j.attempt_at, at);
    snd_job_cleanup(&j);
    /* A cannot write anything any more */
    assert_int_equal(snd_job_retry(rc_, prefix, j1, "A", "429", 0, NULL), TW_ENOTFOUND);
    struct snd_outcome_rec o = {.state = "failed", .dead = true, .reason = "permanent"};
    assert_int_equal(snd_job_finish(rc_, prefix, j1, KEY, NULL, "A", &o, NULL), TW_ENOTFOUND);
    /* B decides: absent, queued again */
    assert_int_equal(snd_job_retry(rc_, prefix, j1, "B", "reconciled absent", 0, "absent"), TW_OK);
    assert_int_equal(snd_job_mark(rc_, prefix, j1, "B", "t2", 5000, &at, &attempts), TW_OK);
    assert_int_equal(attempts, 2);
    /* a release lets another sender claim at once */
    assert_int_equal(snd_job_release(rc_, prefix, j1, "B"), TW_OK);
    assert_int_equal(claim(j1, KEY, "C", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    snd_job_cleanup(&j);
}

static void test_finished_or_vanished_head_is_healed(void **state)
{
    (void)state;
    char j1[TW_JOB_ID_MAX], j2[TW_JOB_ID_MAX];
    enqueue(KEY, "one", j1);
    enqueue(KEY, "two", j2);
    char k[256];
    snprintf(k, sizeof k, "%sjob:%s", prefix, j1);
    const char *del[] = {"DEL", k};
    redisReply *r = redisCommandArgv(rc_, 2, del, NULL);
    freeReplyObject(r);
    struct snd_job j;
    assert_int_equal(claim(j2, KEY, "A", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_OK);
    snd_job_cleanup(&j);
    assert_int_equal(claim(j1, KEY, "A", &j), TW_OK);
    assert_int_equal(j.kind, SND_CLAIM_GONE);
    snd_job_cleanup(&j);
}

static void test_finish_failed_writes_a_dead_letter(void **state)
{
    (void)state;
    char j1[TW_JOB_ID_MAX];
    enqueue(KEY, "one", j1);
    struct snd_job j;
    assert_int_equal(claim(j1, KEY, "A", &j), TW_OK);
    snd_job_cleanup(&j);
    struct snd_outcome_rec o = {.state = "failed",
                                .error_code = "21211",
                                .error_message = "Invalid 'To' Phone Number",
                                .more_info = "https://www.twilio.com/docs/errors/21211",
                                .reason = "permanent",
                                .dead = true};
    struct snd_next next;
    assert_int_equal(snd_job_finish(rc_, prefix, j1, KEY, NULL, "A", &o, &next), TW_OK);
    assert_string_equal(next.job_id, ""); /* the conversation has nothing more */
    char k[128];
    snprintf(k, sizeof k, "%soutbound:dead", prefix);
    const char *xr[] = {"XRANGE", k, "-", "+"};
    redisReply *r = redisCommandArgv(rc_, 4, xr, NULL);
    assert_int_equal(r->elements, 1);
    redisReply *f = r->element[0]->element[1];
    const char *want[][2] = {{"job_id", j1},
                             {"reason", "permanent"},
                             {"state", "failed"},
                             {"error_code", "21211"},
                             {"conversation_key", KEY}};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        bool seen = false;
        for (size_t i = 0; i + 1 < f->elements; i += 2)
            if (!strcmp(f->element[i]->str, want[w][0])) {
                assert_string_equal(f->element[i + 1]->str, want[w][1]);
                seen = true;
            }
        if (!seen)
            fail_msg("dead letter lacks %s", want[w][0]);
    }
    freeReplyObject(r);
}

static void test_pacing_identity_schedule(void **state)
{
    (void)state;
    /* 5 per second: one slot every 200 ms, reserved at most 1 s ahead */
    long waits[8];
    bool granted[8];
    for (int i = 0; i < 8; i++) {
        char conv[32], tok[16];
        snprintf(conv, sizeof conv, "c%d", i);
        snprintf(tok, sizeof tok, "t%d", i);
        assert_int_equal(
            snd_pace_take(rc_, prefix, "+15557007007", conv, 5, tok, &granted[i], &waits[i]),
            TW_OK);
    }
    for (int i = 0; i <= 5; i++) {
        assert_true(granted[i]);
        /* slot i is i*200 ms after the first; a few ms pass between the calls */
        if (waits[i] > i * 200 || waits[i] < i * 200 - 50)
            fail_msg("slot %d: wait %ld", i, waits[i]);
    }
    assert_false(granted[6]);
    assert_true(waits[6] > 0 && waits[6] <= 200);
    /* another identity is not affected */
    bool g;
    long w;
    assert_int_equal(snd_pace_take(rc_, prefix, "+15557008008", "c9", 5, "x", &g, &w), TW_OK);
    assert_true(g);
    assert_int_equal(w, 0);
    /* 0 means no schedule at all */
    for (int i = 0; i < 20; i++) {
        char conv[32];
        snprintf(conv, sizeof conv, "d%d", i);
        assert_int_equal(snd_pace_take(rc_, prefix, "+15557009009", conv, 0, "y", &g, &w), TW_OK);
        assert_true(g);
        assert_int_equal(w, 0);
    }
}

static void test_pacing_conversation_guard(void **state)
{
    (void)state;
    bool g;
    long w;
    for (int i = 0; i < SND_CONV_LIMIT; i++) {
        char tok[16];
        snprintf(tok, sizeof tok, "t%d", i);
        assert_int_equal(snd_pace_take(rc_, prefix, "+15557007007", KEY, 0, tok, &g, &w), TW_OK);
        assert_true(g);
    }
    /* the 26th within 30 s waits until the oldest leaves the window */
    assert_int_equal(snd_pace_take(rc_, prefix, "+15557007007", KEY, 0, "late", &g, &w), TW_OK);
    assert_false(g);
    assert_true(w > SND_CONV_WINDOW_MS - 2000 && w <= SND_CONV_WINDOW_MS);
    /* another conversation of the same identity is free */
    assert_int_equal(snd_pace_take(rc_, prefix, "+15557007007", KEY2, 0, "o", &g, &w), TW_OK);
    assert_true(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_claim_order_lease_and_fencing, fresh),
        cmocka_unit_test_setup(test_expired_lease_is_taken_over_and_unresolved_attempt_shows,
                               fresh),
        cmocka_unit_test_setup(test_finished_or_vanished_head_is_healed, fresh),
        cmocka_unit_test_setup(test_finish_failed_writes_a_dead_letter, fresh),
        cmocka_unit_test_setup(test_pacing_identity_schedule, fresh),
        cmocka_unit_test_setup(test_pacing_conversation_guard, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
