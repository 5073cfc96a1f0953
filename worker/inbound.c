/* SPDX-License-Identifier: MIT */
/* The inbound consumer. Redis holds the truth (pending list, inq lists, outcome records); this
 * file only keeps what it holds right now, and every decision is re-checked by a script. */
#include "worker/inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "worker/control.h"
#include "worker/entry.h"
#include "worker/scripts.h"
#include "worker/wmetrics.h"

enum state {
    S_WAIT,   /* not yet the head of its conversation */
    S_READY,  /* may begin at not_before */
    S_FLIGHT, /* agent call in flight */
    S_DONE,   /* agent answered; res holds the verdict */
    S_FINISH, /* outcome to record (fin_*) */
};

struct held {
    struct wrk_entry e;
    enum state state;
    int token;          /* attempt number of the last BEGIN: the fencing token; 0 before */
    int64_t not_before; /* monotonic ms */
    bool lost;          /* the claim moved to another consumer while in flight */
    bool reclaimed;
    int64_t started_us;
    struct wrk_result res;
    /* S_FINISH */
    const char *fin_outcome; /* "dispatched", "skipped", "failed", or "" (acknowledge only) */
    char fin_detail[sizeof(struct wrk_result) + 64];
    bool fin_dead;
    bool fin_fenced;
    struct wrk_inbound *owner;
    struct held *next;
};

struct wrk_inbound {
    struct wrk_ctx *ctx;
    struct held *head; /* in stream order */
    int count, in_flight, cap;
    char last_id[WRK_ID_MAX];
    char cursor[WRK_ID_MAX]; /* XAUTOCLAIM */
    int64_t next_keep, next_reclaim, next_trim, next_gauges, next_heads;
    long heads_every; /* ms between HEADS polls: 5, doubling to 100 while nothing moves */
    bool heads_due;
    bool group_ok;
    bool reset;    /* the group was recreated during this pass: stop and sweep */
    bool draining; /* SIGTERM: finish what is in flight, take nothing new */
    char agent_label[64];
};

static const char STREAM_LABEL[] = "stream=\"inbound\"";

struct wrk_inbound *wrk_inbound_new(struct wrk_ctx *ctx)
{
    struct wrk_inbound *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->ctx = ctx;
    in->cap = 2 * (int)ctx->cfg->worker_concurrency;
    snprintf(in->last_id, sizeof in->last_id, "0-0");
    snprintf(in->cursor, sizeof in->cursor, "0-0");
    snprintf(in->agent_label, sizeof in->agent_label, "agent=\"%s\"", ctx->agent->name);
    return in;
}

static void held_free(struct held *h)
{
    wrk_entry_cleanup(&h->e);
    free(h);
}

void wrk_inbound_free(struct wrk_inbound *in)
{
    if (!in)
        return;
    while (in->head) {
        struct held *h = in->head;
        in->head = h->next;
        held_free(h);
    }
    free(in);
}

static void unlink_held(struct wrk_inbound *in, struct held *h)
{
    for (struct held **p = &in->head; *p; p = &(*p)->next)
        if (*p == h) {
            *p = h->next;
            in->count--;
            return;
        }
}

static void drop(struct wrk_inbound *in, struct held *h)
{
    unlink_held(in, h);
    held_free(h);
}

static struct held *find(struct wrk_inbound *in, const char *id)
{
    for (struct held *h = in->head; h; h = h->next)
        if (strcmp(h->e.id, id) == 0)
            return h;
    return NULL;
}

/* Stream ids compare as (ms, seq) pairs. */
static void id_split(const char *id, unsigned long long *ms, unsigned long long *seq)
{
    char *end;
    *ms = strtoull(id, &end, 10);
    *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

static bool id_before(const char *a, const char *b)
{
    unsigned long long am, as, bm, bs;
    id_split(a, &am, &as);
    id_split(b, &bm, &bs);
    return am < bm || (am == bm && as < bs);
}

/* Inserts h in stream order, so the first held entry of a conversation is its earliest. */
static void insert(struct wrk_inbound *in, struct held *h)
{
    struct held **p = &in->head;
    while (*p && !id_before(h->e.id, (*p)->e.id))
        p = &(*p)->next;
    h->next = *p;
    *p = h;
    in->count++;
}

/* ------------------------------------------------------------------ keys */

static void key_of(char *out, size_t outsz, const char *prefix, const char *s)
{
    snprintf(out, outsz, "%s%s", prefix, s ? s : "");
}

/* ------------------------------------------------------------------ adopting entries */

/* Adopts the decoded entries of a read or a reclaim. Entries without a conversation_key were
 * never put in an inq list: they need no turn and go straight to READY (and to the dead letters,
 * since no agent can be addressed without one). */
static int adopt(struct wrk_inbound *in, const redisReply *entries, bool reclaimed)
{
    int n = 0;
    for (size_t i = 0; entries && i < entries->elements; i++) {
        const redisReply *er = entries->element[i];
        if (er->type != REDIS_REPLY_ARRAY)
            continue; /* a deleted entry (nil) */
        struct held *h = calloc(1, sizeof *h);
        if (!h)
            break; /* stays pending; reclaimed later */
        if (wrk_entry_decode(er, &h->e) != TW_OK) {
            free(h);
            continue;
        }
        if (find(in, h->e.id)) {
            held_free(h);
            continue;
        }
        h->owner = in;
        h->reclaimed = reclaimed;
        h->state = h->e.conversation_key ? S_WAIT : S_READY;
        insert(in, h);
        n++;
    }
    if (n) {
        in->heads_due = true;
        in->heads_every = WRK_HEADS_POLL_MS;
    }
    return n;
}

/* ------------------------------------------------------------------ group */

static bool handle_nogroup(struct wrk_inbound *in, const redisReply *r)
{
    if (!wrk_reply_is_error(r, "NOGROUP"))
        return false;
    TW_LOG_WARN("consumer group missing; recreating it", TW_F_STR("stream", in->ctx->k_inbound));
    if (wrk_group_ensure(in->ctx, in->ctx->k_inbound, TW_G_WORKERS, "inbound") == TW_OK) {
        /* The old pending list is gone: what we hold is no longer ours; it is delivered again. */
        for (struct held *h = in->head; h; h = h->next)
            h->lost = true;
        in->reset = true;
        snprintf(in->cursor, sizeof in->cursor, "0-0");
    }
    return true;
}

static void log_script_error(const char *what, const redisReply *r)
{
    TW_LOG_ERROR("redis script failed", TW_F_STR("script", what),
                 TW_F_STR("error", r && r->type == REDIS_REPLY_ERROR ? r->str : "bad reply"));
}

/* ------------------------------------------------------------------ read, heads */

static int read_new(struct wrk_inbound *in)
{
    char count[16];
    snprintf(count, sizeof count, "%d", in->cap - in->count);
    const char *argv[] = {in->ctx->k_inbound,  TW_G_WORKERS,         in->ctx->consumer, count,
                          in->ctx->inq_prefix, TW_F_CONVERSATION_KEY};
    redisReply *r = wrk_rconn_eval(in->ctx->redis, &wrk_script_read, 1, 6, argv, NULL);
    if (!r)
        return 0;
    int n = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!handle_nogroup(in, r))
            log_script_error("read", r);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
               r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_ARRAY) {
        if (r->element[1]->elements == 0 && r->element[0]->len < WRK_ID_MAX)
            snprintf(in->last_id, sizeof in->last_id, "%s", r->element[0]->str);
        n = adopt(in, r->element[1], false);
    }
    freeReplyObject(r);
    return n;
}

/* Asks which waiting entries now head their conversation. */
static int poll_heads(struct wrk_inbound *in, int64_t now)
{
    enum { MAXQ = 256 };
    const char *argv[4 + 2 * MAXQ];
    struct held *asked[MAXQ];
    int nq = 0;
    argv[0] = in->ctx->k_inbound;
    argv[1] = TW_G_WORKERS;
    argv[2] = in->ctx->consumer;
    argv[3] = in->ctx->inq_prefix;
    for (struct held *h = in->head; h && nq < MAXQ; h = h->next) {
        if (h->state != S_WAIT)
            continue;
        /* one question per conversation: its earliest entry we hold (the list is in stream
         * order, and only that one can be the head) */
        bool seen = false;
        for (struct held *o = in->head; o != h && !seen; o = o->next)
            seen = !o->lost && o->e.conversation_key &&
                   strcmp(o->e.conversation_key, h->e.conversation_key) == 0;
        if (seen)
            continue;
        argv[4 + 2 * nq] = h->e.conversation_key;
        argv[5 + 2 * nq] = h->e.id;
        asked[nq++] = h;
    }
    in->heads_due = false;
    if (in->heads_every < WRK_HEADS_POLL_MS)
        in->heads_every = WRK_HEADS_POLL_MS;
    in->next_heads = now + in->heads_every;
    if (nq == 0)
        return 0;
    redisReply *r = wrk_rconn_eval(in->ctx->redis, &wrk_script_heads, 1, 4 + 2 * nq, argv, NULL);
    if (!r)
        return 0;
    int n = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)nq) {
        for (int i = 0; i < nq; i++) {
            if (r->element[i]->type != REDIS_REPLY_INTEGER)
                continue;
            if (r->element[i]->integer == 1) {
                asked[i]->state = S_READY;
                n++;
            } else if (r->element[i]->integer == 2) {
                asked[i]->lost = true; /* carried on by another consumer */
                n++;
            }
        }
    } else if (!handle_nogroup(in, r)) {
        log_script_error("heads", r);
    }
    freeReplyObject(r);
    /* Turns mostly come by hand-over (FINISH carries a conversation on); polling is the fallback,
     * so it slows down while nothing moves. */
    in->heads_every = n ? WRK_HEADS_POLL_MS
                        : (in->heads_every * 2 > WRK_HEADS_POLL_MAX_MS ? WRK_HEADS_POLL_MAX_MS
                                                                       : in->heads_every * 2);
    return n;
}

/* ------------------------------------------------------------------ finishing */

static void set_finish(struct held *h, const char *outcome, const char *detail, bool dead,
                       bool fenced)
{
    h->state = S_FINISH;
    h->fin_outcome = outcome;
    snprintf(h->fin_detail, sizeof h->fin_detail, "%s", detail ? detail : "");
    h->fin_dead = dead;
    h->fin_fenced = fenced;
}

static void log_outcome(struct wrk_inbound *in, const struct held *h)
{
    const char *o = h->fin_outcome;
    if (!strcmp(o, "dispatched")) {
        tw_metrics_inc(WM_DISPATCHED, in->agent_label, 1);
        if (h->e.received_at > 0)
            tw_metrics_observe(WM_ADMISSION_SECONDS, "",
                               (double)(tw_now_ms() - h->e.received_at) / 1000.0);
        TW_LOG_INFO("dispatched", TW_F_STR("message_sid", h->e.sid), TW_F_STR("stream_id", h->e.id),
                    TW_F_STR("agent", in->ctx->agent->name), TW_F_INT("attempt", h->token),
                    TW_F_STR("receipt", h->fin_detail));
    } else if (!strcmp(o, "skipped")) {
        char labels[64];
        snprintf(labels, sizeof labels, "type=\"%.16s\"", h->fin_detail);
        tw_metrics_inc(WM_SKIPPED, labels, 1);
        TW_LOG_INFO("control input recorded", TW_F_STR("message_sid", h->e.sid),
                    TW_F_STR("stream_id", h->e.id), TW_F_STR("type", h->fin_detail));
    } else if (!strcmp(o, "failed") || h->fin_dead) {
        tw_metrics_inc(WM_DEAD, STREAM_LABEL, 1);
        TW_LOG_ERROR("dead-lettered", TW_F_STR("message_sid", h->e.sid),
                     TW_F_STR("stream_id", h->e.id), TW_F_INT("attempts", h->token),
                     TW_F_STR("reason", h->fin_detail));
    } else {
        tw_metrics_inc(WM_DUPLICATES, "", 1);
        TW_LOG_INFO("already handled; acknowledged without dispatch",
                    TW_F_STR("message_sid", h->e.sid), TW_F_STR("stream_id", h->e.id));
    }
}

/* Runs FINISH for one entry. Returns 1 when done with it, 0 when Redis is down, -1 on a
 * script error (the entry is retried later). */
static int finish_one(struct wrk_inbound *in, struct held *h, int64_t now)
{
    struct wrk_ctx *ctx = in->ctx;
    char k_inq[WRK_KEY_MAX], k_out[WRK_KEY_MAX], token[16], now_ms[24], ttl[24];
    key_of(k_inq, sizeof k_inq, ctx->inq_prefix, h->e.conversation_key);
    key_of(k_out, sizeof k_out, ctx->outcome_prefix, h->e.sid);
    snprintf(token, sizeof token, "%d", h->token);
    snprintf(now_ms, sizeof now_ms, "%lld", (long long)tw_now_ms());
    snprintf(ttl, sizeof ttl, "%d", TW_OUTCOME_TTL_S);
    /* Without a MessageSid there is no outcome record, only the dead letter. */
    const char *outcome = h->e.sid ? h->fin_outcome : "";
    const char *argv[] = {ctx->k_inbound,
                          k_inq,
                          k_out,
                          ctx->k_inbound_dead,
                          TW_G_WORKERS,
                          ctx->consumer,
                          h->e.id,
                          h->fin_fenced ? token : "",
                          outcome,
                          h->fin_detail,
                          now_ms,
                          ttl,
                          h->fin_dead ? "1" : "0",
                          in->draining ? "0" : "1"};
    redisReply *r = wrk_rconn_eval(ctx->redis, &wrk_script_finish, 4, 14, argv, NULL);
    if (!r)
        return 0;
    int rc = 1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        const char *what = r->element[0]->str;
        if (!strcmp(what, "ok")) {
            log_outcome(in, h);
            /* the conversation's next entry: ours already, or just taken over; its turn has come */
            if (r->elements >= 2 && r->element[1]->type == REDIS_REPLY_STRING) {
                if (r->elements == 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
                    adopt(in, r->element[2], false);
                struct held *nx = find(in, r->element[1]->str);
                if (nx && nx->state == S_WAIT)
                    nx->state = S_READY;
            }
        } else {
            tw_metrics_inc(WM_CLAIMS_LOST, STREAM_LABEL, 1);
            TW_LOG_WARN(!strcmp(what, "stale") ? "a newer attempt exists; result dropped"
                                               : "claim lost; result dropped",
                        TW_F_STR("message_sid", h->e.sid), TW_F_STR("stream_id", h->e.id),
                        TW_F_INT("attempt", h->token));
        }
        drop(in, h);
    } else if (!handle_nogroup(in, r)) {
        log_script_error("finish", r);
        h->not_before = now + 1000;
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

/* ------------------------------------------------------------------ results */

static bool too_old(const struct wrk_inbound *in, const struct held *h)
{
    return h->e.received_at > 0 && tw_now_ms() - h->e.received_at > in->ctx->cfg->max_age_ms;
}

static void note_retry(struct wrk_inbound *in, struct held *h, long delay_ms)
{
    struct wrk_ctx *ctx = in->ctx;
    char k_out[WRK_KEY_MAX], token[16], next_at[24], now_ms[24];
    int64_t wall = tw_now_ms();
    key_of(k_out, sizeof k_out, ctx->outcome_prefix, h->e.sid);
    snprintf(token, sizeof token, "%d", h->token);
    snprintf(next_at, sizeof next_at, "%lld", (long long)(wall + delay_ms));
    snprintf(now_ms, sizeof now_ms, "%lld", (long long)wall);
    const char *argv[] = {k_out, token, h->res.reason, next_at, now_ms};
    redisReply *r = wrk_rconn_eval(ctx->redis, &wrk_script_note, 1, 5, argv, NULL);
    if (r)
        freeReplyObject(r);
}

/* Turns an agent's verdict into the next state. */
static void judge(struct wrk_inbound *in, struct held *h, int64_t now)
{
    switch (h->res.verdict) {
    case WRK_ADMITTED:
        set_finish(h, "dispatched", h->res.receipt, false, true);
        return;
    case WRK_PERMANENT:
        set_finish(h, "failed", h->res.reason, true, true);
        return;
    case WRK_RETRY:
        break;
    }
    char why[sizeof h->res.reason + 64];
    if (h->token >= in->ctx->cfg->max_attempts) {
        snprintf(why, sizeof why, "%s; gave up after %d attempts (TW_MAX_ATTEMPTS)", h->res.reason,
                 h->token);
        set_finish(h, "failed", why, true, true);
        return;
    }
    if (too_old(in, h)) {
        snprintf(why, sizeof why, "%s; older than TW_MAX_AGE", h->res.reason);
        set_finish(h, "failed", why, true, true);
        return;
    }
    long delay =
        tw_backoff_ms(h->token, WRK_RETRY_BASE_MS, WRK_RETRY_CAP_MS, h->res.retry_after_ms);
    tw_metrics_inc(WM_RETRIED, STREAM_LABEL, 1);
    TW_LOG_WARN("dispatch failed; will retry", TW_F_STR("message_sid", h->e.sid),
                TW_F_STR("stream_id", h->e.id), TW_F_INT("attempt", h->token),
                TW_F_STR("reason", h->res.reason), TW_F_INT("retry_in_ms", delay));
    note_retry(in, h, delay);
    h->state = S_READY;
    h->not_before = now + delay;
}

static void on_done(void *job, const struct wrk_result *res)
{
    struct held *h = job;
    struct wrk_inbound *in = h->owner;
    in->in_flight--;
    h->res = *res;
    h->state = S_DONE;
    tw_metrics_observe(WM_DISPATCH_SECONDS, in->agent_label,
                       (double)(tw_mono_us() - h->started_us) / 1e6);
}

/* ------------------------------------------------------------------ starting */

enum begun { BEGIN_DOWN, BEGIN_OTHER, BEGIN_GO };

/* BEGIN for one entry. BEGIN_GO: attempt h->token may run; BEGIN_OTHER: h changed state (wait,
 * finish, lost, error, or a retry not yet due); BEGIN_DOWN: Redis is down. */
static enum begun begin_one(struct wrk_inbound *in, struct held *h, int64_t now)
{
    struct wrk_ctx *ctx = in->ctx;
    char k_inq[WRK_KEY_MAX], k_out[WRK_KEY_MAX], now_ms[24], ttl[24];
    key_of(k_inq, sizeof k_inq, ctx->inq_prefix, h->e.conversation_key);
    key_of(k_out, sizeof k_out, ctx->outcome_prefix, h->e.sid);
    snprintf(now_ms, sizeof now_ms, "%lld", (long long)tw_now_ms());
    snprintf(ttl, sizeof ttl, "%d", TW_OUTCOME_TTL_S);
    const char *argv[] = {
        ctx->k_inbound,        k_inq, k_out, TW_G_WORKERS, ctx->consumer, h->e.id, now_ms,
        h->e.conversation_key, ttl};
    redisReply *r = wrk_rconn_eval(ctx->redis, &wrk_script_begin, 3, 9, argv, NULL);
    if (!r)
        return BEGIN_DOWN;
    enum begun b = BEGIN_OTHER;
    const char *what = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                               r->element[0]->type == REDIS_REPLY_STRING
                           ? r->element[0]->str
                           : "";
    if (!strcmp(what, "lost")) {
        /* usually the replica that finished its predecessor carried the conversation on */
        TW_LOG_DEBUG("entry taken over by another consumer", TW_F_STR("message_sid", h->e.sid),
                     TW_F_STR("stream_id", h->e.id));
        h->lost = true;
    } else if (!strcmp(what, "wait")) {
        h->state = S_WAIT;
    } else if (!strcmp(what, "later") && r->elements == 2 &&
               r->element[1]->type == REDIS_REPLY_INTEGER) {
        h->not_before = now + r->element[1]->integer; /* the recorded retry time */
    } else if (!strcmp(what, "done")) {
        set_finish(h, "", NULL, false, false);
    } else if (!strcmp(what, "go") && r->elements == 2 &&
               r->element[1]->type == REDIS_REPLY_INTEGER) {
        h->token = (int)r->element[1]->integer;
        b = BEGIN_GO;
    } else if (!handle_nogroup(in, r)) {
        log_script_error("begin", r);
        h->not_before = now + 1000;
    }
    freeReplyObject(r);
    return b;
}

/* What a begun attempt does: nothing (limits), control input, or the agent. */
static void run_attempt(struct wrk_inbound *in, struct held *h)
{
    struct wrk_ctx *ctx = in->ctx;
    char why[256];
    if (h->token > ctx->cfg->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts (TW_MAX_ATTEMPTS)", h->token - 1);
        set_finish(h, "failed", why, true, true);
        return;
    }
    if (too_old(in, h)) {
        snprintf(why, sizeof why, "older than TW_MAX_AGE (%lld s)",
                 (long long)((tw_now_ms() - h->e.received_at) / 1000));
        set_finish(h, "failed", why, true, true);
        return;
    }
    if (!h->e.conversation) {
        set_finish(h, "failed", "entry has no conversation", true, true);
        return;
    }
    enum wrk_control k = wrk_control_of(&h->e);
    if (k == WRK_CTL_STOP || k == WRK_CTL_START ||
        (k == WRK_CTL_HELP && !ctx->cfg->help_to_agent)) {
        redisContext *c = wrk_rconn_get(ctx->redis);
        int rc = c ? wrk_control_apply(c, ctx->prefix, &h->e, k) : TW_EREDIS;
        if (rc == TW_EREDIS) {
            if (c && c->err)
                wrk_rconn_fail(ctx->redis, c->errstr);
            h->state = S_READY; /* the next BEGIN starts a new attempt: fine for a retry */
            h->not_before = tw_mono_ms() + 1000;
            return;
        }
        if (rc == TW_EPARSE) {
            set_finish(h, "failed", "control input without a usable conversation", true, true);
            return;
        }
        set_finish(h, "skipped", wrk_control_name(k), false, true);
        return;
    }
    struct wrk_msg msg = {.stream_id = h->e.id,
                          .message_sid = h->e.sid,
                          .conversation_key = h->e.conversation_key,
                          .payload = h->e.payload,
                          .conversation = h->e.conversation,
                          .attempt = h->token};
    h->state = S_FLIGHT;
    h->started_us = tw_mono_us();
    in->in_flight++;
    TW_LOG_DEBUG("dispatching", TW_F_STR("message_sid", h->e.sid), TW_F_STR("stream_id", h->e.id),
                 TW_F_INT("attempt", h->token),
                 TW_F_STR("conversation_key", h->e.conversation_key));
    int rc = ctx->agent->start(ctx->agent_state, &msg, on_done, h);
    if (rc < 0) {
        in->in_flight--;
        h->state = S_DONE;
        memset(&h->res, 0, sizeof h->res);
        wrk_result_set(&h->res, WRK_RETRY, "agent could not start: %s", tw_strerror(rc));
    }
}

static int start_ready(struct wrk_inbound *in, int64_t now)
{
    int n = 0;
    long conc = in->ctx->cfg->worker_concurrency;
    for (struct held *h = in->head, *next; h && in->in_flight < conc; h = next) {
        next = h->next;
        if (h->state != S_READY || h->not_before > now)
            continue;
        if (!h->e.conversation_key || h->e.bad) {
            /* nothing to order or dispatch: straight to the dead letters */
            set_finish(h, "failed", h->e.bad ? h->e.bad : "entry has no conversation_key", true,
                       false);
            n++;
            continue;
        }
        if (h->lost)
            continue;
        enum begun b = begin_one(in, h, now);
        if (b == BEGIN_DOWN)
            break;
        n++;
        if (b == BEGIN_GO)
            run_attempt(in, h);
        if (in->reset)
            break;
    }
    return n;
}

/* ------------------------------------------------------------------ maintenance */

/* KEEP over ids: idle 0 renews our claims; idle = TW_CLAIM_IDLE_MS hands them back. */
static void keep(struct wrk_inbound *in, bool handback, bool all)
{
    struct wrk_ctx *ctx = in->ctx;
    const int MAXK = in->count;
    const char **argv = malloc(sizeof *argv * (size_t)(4 + MAXK));
    if (!argv)
        return;
    char idle[24];
    snprintf(idle, sizeof idle, "%ld", handback ? ctx->cfg->claim_idle_ms : 0L);
    argv[0] = ctx->k_inbound;
    argv[1] = TW_G_WORKERS;
    argv[2] = ctx->consumer;
    argv[3] = idle;
    int n = 0;
    for (struct held *h = in->head; h && n < MAXK; h = h->next)
        if (!h->lost && (!handback || all || h->state == S_WAIT || h->state == S_READY))
            argv[4 + n++] = h->e.id;
    if (n == 0) {
        free(argv);
        return;
    }
    redisReply *r = wrk_rconn_eval(ctx->redis, &wrk_script_keep, 1, 4 + n, argv, NULL);
    free(argv);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            if (r->element[i]->type != REDIS_REPLY_STRING)
                continue;
            struct held *h = find(in, r->element[i]->str);
            if (!h)
                continue;
            if (!handback && h->state == S_FLIGHT) {
                /* a second dispatch may happen elsewhere (the agent dedupes by MessageSid) */
                tw_metrics_inc(WM_CLAIMS_LOST, STREAM_LABEL, 1);
                TW_LOG_WARN("claim lost to another consumer", TW_F_STR("message_sid", h->e.sid),
                            TW_F_STR("stream_id", h->e.id));
            }
            h->lost = true;
        }
    } else if (!handle_nogroup(in, r)) {
        log_script_error("keep", r);
    }
    freeReplyObject(r);
}

static void reclaim(struct wrk_inbound *in)
{
    struct wrk_ctx *ctx = in->ctx;
    int n = in->cap - in->count;
    if (n < 1) {
        /* full: still take over idle entries when everything held is waiting for its turn, or
         * a conversation whose head belongs to a dead consumer would block us all */
        bool stuck = true;
        for (struct held *h = in->head; h && stuck; h = h->next)
            stuck = h->state == S_WAIT;
        if (!stuck)
            return;
        n = (int)ctx->cfg->worker_concurrency;
    }
    char idle[24], count[16];
    snprintf(idle, sizeof idle, "%ld", ctx->cfg->claim_idle_ms);
    snprintf(count, sizeof count, "%d", n);
    const char *argv[] = {"XAUTOCLAIM", ctx->k_inbound, TW_G_WORKERS, ctx->consumer,
                          idle,         in->cursor,     "COUNT",      count};
    redisReply *r = wrk_rconn_cmd(ctx->redis, 8, argv, NULL);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < WRK_ID_MAX) {
        snprintf(in->cursor, sizeof in->cursor, "%s", r->element[0]->str);
        int got = adopt(in, r->element[1], true);
        if (got) {
            tw_metrics_inc(WM_RECLAIMED, STREAM_LABEL, got);
            TW_LOG_INFO("reclaimed idle entries", TW_F_INT("count", got));
        }
        if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY && r->element[2]->elements)
            TW_LOG_WARN("pending entries were deleted from the stream",
                        TW_F_INT("count", r->element[2]->elements));
    } else if (!handle_nogroup(in, r)) {
        log_script_error("xautoclaim", r);
    }
    freeReplyObject(r);
}

static void trim(struct wrk_inbound *in)
{
    const char *argv[] = {in->ctx->k_inbound};
    redisReply *r = wrk_rconn_eval(in->ctx->redis, &wrk_script_trim, 1, 1, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR)
        log_script_error("trim", r);
    if (r)
        freeReplyObject(r);
}

static void maintain(struct wrk_inbound *in, int64_t now, bool reading)
{
    long idle = in->ctx->cfg->claim_idle_ms;
    if (!in->group_ok) {
        if (wrk_group_ensure(in->ctx, in->ctx->k_inbound, TW_G_WORKERS, "inbound") != TW_OK)
            return;
        in->group_ok = true;
    }
    if (now >= in->next_keep) {
        in->next_keep = now + (idle / 3 > 10 ? idle / 3 : 10);
        keep(in, false, false);
    }
    if (reading && now >= in->next_reclaim) {
        in->next_reclaim = now + (idle / 2 > 50 ? idle / 2 : 50);
        reclaim(in);
    }
    if (now >= in->next_trim) {
        in->next_trim = now + WRK_TRIM_EVERY_MS;
        trim(in);
    }
    if (now >= in->next_gauges) {
        in->next_gauges = now + WRK_GAUGES_EVERY_MS;
        wrk_group_gauges(in->ctx, in->ctx->k_inbound, TW_G_WORKERS, "inbound");
    }
}

/* ------------------------------------------------------------------ the pass */

/* Forgets entries whose claim is gone (not while their agent call is in flight). */
static void sweep(struct wrk_inbound *in)
{
    for (struct held *h = in->head, *next; h; h = next) {
        next = h->next;
        if (h->lost && h->state != S_FLIGHT)
            drop(in, h);
    }
    in->reset = false;
}

int wrk_inbound_step(struct wrk_inbound *in, int64_t now, bool draining)
{
    int work = 0;
    in->draining = draining;
    maintain(in, now, !draining);
    sweep(in);
    if (!in->group_ok)
        return 0;
    /* results first: they free capacity and hand turns on */
    for (struct held *h = in->head; h; h = h->next)
        if (h->state == S_DONE && !h->lost) {
            judge(in, h, now);
            work++;
        }
    for (struct held *h = in->head, *next; h; h = next) {
        next = h->next;
        if (h->state != S_FINISH || h->lost || h->not_before > now)
            continue;
        int rc = finish_one(in, h, now);
        if (rc == 0 || in->reset)
            return work;
        work += rc > 0;
    }
    if (draining)
        return work;
    if (in->count < in->cap)
        work += read_new(in);
    if (in->reset)
        return work;
    bool waiting = false;
    for (struct held *h = in->head; h && !waiting; h = h->next)
        waiting = h->state == S_WAIT && !h->lost;
    if (waiting && (in->heads_due || now >= in->next_heads))
        work += poll_heads(in, now);
    if (in->reset)
        return work;
    work += start_ready(in, now);
    return work;
}

long wrk_inbound_next_ms(const struct wrk_inbound *in, int64_t now, long max_ms)
{
    int64_t t = now + max_ms;
    int64_t timers[] = {in->next_keep, in->next_reclaim, in->next_trim, in->next_gauges};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (timers[i] < t)
            t = timers[i];
    for (const struct held *h = in->head; h; h = h->next) {
        if (h->state == S_WAIT && in->next_heads < t)
            t = in->next_heads;
        if ((h->state == S_READY || h->state == S_FINISH) && h->not_before < t)
            t = h->not_before;
        if (h->state == S_DONE)
            t = now;
    }
    return t > now ? (long)(t - now) : 0;
}

bool wrk_inbound_idle(const struct wrk_inbound *in)
{
    return in->count == 0;
}

const char *wrk_inbound_last_id(const struct wrk_inbound *in)
{
    return in->last_id;
}

int wrk_inbound_busy(const struct wrk_inbound *in)
{
    int n = 0;
    for (const struct held *h = in->head; h; h = h->next)
        n += h->state == S_FLIGHT || h->state == S_DONE || h->state == S_FINISH;
    return n;
}

void wrk_inbound_handback(struct wrk_inbound *in, bool all)
{
    if (!in->count || !wrk_rconn_get(in->ctx->redis))
        return;
    keep(in, true, all);
    for (struct held *h = in->head; h; h = h->next)
        if (all || h->state == S_WAIT || h->state == S_READY)
            h->lost = true; /* given back: never ours again */
    sweep(in);
}
