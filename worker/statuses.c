/* SPDX-License-Identifier: MIT */
/* Status callbacks: apply, optionally hook, acknowledge. No ordering is needed: the status
 * script itself makes the result independent of arrival order. */
#include "worker/statuses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "worker/entry.h"
#include "worker/scripts.h"
#include "worker/wmetrics.h"

enum state {
    S_NEW,    /* to apply */
    S_HOOK,   /* hook to post at not_before */
    S_FLIGHT, /* hook in flight */
    S_HDONE,  /* hook answered; res holds the verdict */
    S_ACK,    /* to acknowledge */
    S_DEAD,   /* to dead-letter (reason) and acknowledge */
};

struct sentry {
    struct wrk_entry e;
    enum state state;
    bool reclaimed, lost;
    int attempts; /* hook attempts */
    int64_t not_before;
    char *hook_body; /* owned, malloc */
    char idem[160];
    struct wrk_result res;
    char reason[sizeof(struct wrk_result) + 64];
    struct wrk_statuses *owner;
    struct sentry *next;
};

struct wrk_statuses {
    struct wrk_ctx *ctx;
    struct sentry *head;
    int count, in_flight, cap;
    char last_id[WRK_ID_MAX];
    char cursor[WRK_ID_MAX];
    int64_t next_keep, next_reclaim, next_trim, next_gauges;
    bool group_ok, reset;
};

static const char STREAM_LABEL[] = "stream=\"status\"";

struct wrk_statuses *wrk_statuses_new(struct wrk_ctx *ctx)
{
    struct wrk_statuses *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = ctx;
    s->cap = 2 * (int)ctx->cfg->worker_concurrency;
    snprintf(s->last_id, sizeof s->last_id, "0-0");
    snprintf(s->cursor, sizeof s->cursor, "0-0");
    return s;
}

static void sentry_free(struct sentry *e)
{
    wrk_entry_cleanup(&e->e);
    free(e->hook_body);
    free(e);
}

void wrk_statuses_free(struct wrk_statuses *s)
{
    if (!s)
        return;
    while (s->head) {
        struct sentry *e = s->head;
        s->head = e->next;
        sentry_free(e);
    }
    free(s);
}

static struct sentry *find(struct wrk_statuses *s, const char *id)
{
    for (struct sentry *e = s->head; e; e = e->next)
        if (strcmp(e->e.id, id) == 0)
            return e;
    return NULL;
}

static void drop(struct wrk_statuses *s, struct sentry *e)
{
    for (struct sentry **p = &s->head; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            s->count--;
            sentry_free(e);
            return;
        }
}

static void sweep(struct wrk_statuses *s)
{
    for (struct sentry *e = s->head, *next; e; e = next) {
        next = e->next;
        if (e->lost && e->state != S_FLIGHT)
            drop(s, e);
    }
    s->reset = false;
}

static int adopt(struct wrk_statuses *s, const redisReply *entries, bool reclaimed)
{
    int n = 0;
    struct sentry **tail = &s->head;
    while (*tail)
        tail = &(*tail)->next;
    for (size_t i = 0; entries && i < entries->elements; i++) {
        if (entries->element[i]->type != REDIS_REPLY_ARRAY)
            continue;
        struct sentry *e = calloc(1, sizeof *e);
        if (!e)
            break;
        if (wrk_entry_decode(entries->element[i], &e->e) != TW_OK) {
            free(e);
            continue;
        }
        if (find(s, e->e.id)) {
            sentry_free(e);
            continue;
        }
        e->owner = s;
        e->reclaimed = reclaimed;
        e->state = S_NEW;
        *tail = e;
        tail = &e->next;
        s->count++;
        n++;
    }
    return n;
}

static bool handle_nogroup(struct wrk_statuses *s, const redisReply *r)
{
    if (!wrk_reply_is_error(r, "NOGROUP"))
        return false;
    TW_LOG_WARN("consumer group missing; recreating it", TW_F_STR("stream", s->ctx->k_status));
    if (wrk_group_ensure(s->ctx, s->ctx->k_status, TW_G_STATUS, "status") == TW_OK) {
        for (struct sentry *e = s->head; e; e = e->next)
            e->lost = true;
        s->reset = true;
        snprintf(s->cursor, sizeof s->cursor, "0-0");
    }
    return true;
}

static void script_error(const char *what, const redisReply *r)
{
    TW_LOG_ERROR("redis command failed", TW_F_STR("command", what),
                 TW_F_STR("error", r && r->type == REDIS_REPLY_ERROR ? r->str : "bad reply"));
}

/* ------------------------------------------------------------------ apply */

static const char *pget(const struct sentry *e, const char *name)
{
    return wrk_entry_get(&e->e, name);
}

/* {"message_sid","status","rank","error_code","error_message","from","to","conversation_key",
 *  "at","stream_id"}: the transition as the hook receives it. */
static char *hook_body(const struct sentry *e, int64_t at)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    const char *ec = pget(e, "ErrorCode"), *em = pget(e, "ErrorMessage");
    json_object_set_new(o, "message_sid", json_string(e->e.sid));
    json_object_set_new(o, "status", json_string(pget(e, "MessageStatus")));
    json_object_set_new(o, "rank", json_integer(tw_status_rank(pget(e, "MessageStatus"))));
    json_object_set_new(o, "error_code", ec && *ec ? json_string(ec) : json_null());
    json_object_set_new(o, "error_message", em && *em ? json_string(em) : json_null());
    json_object_set_new(o, "from", pget(e, "From") ? json_string(pget(e, "From")) : json_null());
    json_object_set_new(o, "to", pget(e, "To") ? json_string(pget(e, "To")) : json_null());
    json_object_set_new(o, "conversation_key",
                        e->e.conversation_key ? json_string(e->e.conversation_key) : json_null());
    json_object_set_new(o, "at", json_integer(at));
    json_object_set_new(o, "stream_id", json_string(e->e.id));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Applies one callback. Returns 0 when Redis is down, else 1. */
static int apply_one(struct wrk_statuses *s, struct sentry *e, int64_t now)
{
    const char *status = pget(e, "MessageStatus");
    if (e->e.bad || !status || !*status) {
        snprintf(e->reason, sizeof e->reason, "%s",
                 e->e.bad ? e->e.bad : "payload has no MessageStatus");
        e->state = S_DEAD;
        return 1;
    }
    redisContext *c = wrk_rconn_get(s->ctx->redis);
    if (!c)
        return 0;
    int64_t at = e->e.received_at > 0 ? e->e.received_at : tw_now_ms();
    struct tw_status_event ev = {.message_sid = e->e.sid,
                                 .status = status,
                                 .at_ms = at,
                                 .error_code = pget(e, "ErrorCode"),
                                 .error_message = pget(e, "ErrorMessage"),
                                 .from = pget(e, "From"),
                                 .to = pget(e, "To"),
                                 .conversation_key = e->e.conversation_key};
    int rc = tw_status_apply(c, s->ctx->prefix, &ev);
    if (rc == TW_EREDIS) {
        if (c->err) {
            wrk_rconn_fail(s->ctx->redis, c->errstr);
            return 0;
        }
        TW_LOG_ERROR("status script failed", TW_F_STR("message_sid", e->e.sid),
                     TW_F_STR("stream_id", e->e.id));
        e->not_before = now + 1000;
        return 1;
    }
    if (rc < 0) {
        snprintf(e->reason, sizeof e->reason, "status not applicable: %s", tw_strerror(rc));
        e->state = S_DEAD;
        return 1;
    }
    static const char *const names[] = {"", "moved", "history", "duplicate"};
    char labels[48];
    snprintf(labels, sizeof labels, "result=\"%s\"", names[rc]);
    tw_metrics_inc(WM_STATUS_EVENTS, labels, 1);
    TW_LOG_DEBUG("status applied", TW_F_STR("message_sid", e->e.sid), TW_F_STR("status", status),
                 TW_F_STR("result", names[rc]));
    bool hook = false;
    if (s->ctx->cfg->status_hook_url) {
        if (rc == TW_STATUS_MOVED) {
            hook = true;
        } else if (rc == TW_STATUS_DUPLICATE && e->reclaimed) {
            /* a worker may have died between applying and hooking: redo the hook */
            bool moved = false;
            if (tw_status_moved_before(c, s->ctx->prefix, e->e.sid, status, &moved) != TW_OK) {
                if (c->err)
                    wrk_rconn_fail(s->ctx->redis, c->errstr);
                return 0;
            }
            hook = moved;
        }
    }
    if (!hook) {
        e->state = S_ACK;
        return 1;
    }
    e->hook_body = hook_body(e, at);
    if (!e->hook_body) {
        e->not_before = now + 1000;
        return 1;
    }
    snprintf(e->idem, sizeof e->idem, "Idempotency-Key: %s:%s", e->e.sid, status);
    e->state = S_HOOK;
    e->not_before = now;
    return 1;
}

/* ------------------------------------------------------------------ hook */

static void on_hook(void *ctx, const struct wrk_http_resp *resp)
{
    struct sentry *e = ctx;
    e->owner->in_flight--;
    wrk_http_classify(resp, "status hook", &e->res);
    e->state = S_HDONE;
}

static void post_hook(struct wrk_statuses *s, struct sentry *e)
{
    const char *headers[] = {"Content-Type: application/json", e->idem};
    e->attempts++;
    int rc = wrk_http_post(s->ctx->http, s->ctx->cfg->status_hook_url, headers, 2, e->hook_body,
                           strlen(e->hook_body), WRK_AGENT_TIMEOUT_MS, on_hook, e);
    if (rc == TW_OK) {
        e->state = S_FLIGHT;
        s->in_flight++;
        return;
    }
    memset(&e->res, 0, sizeof e->res);
    wrk_result_set(&e->res, WRK_RETRY, "status hook could not start: %s", tw_strerror(rc));
    e->state = S_HDONE;
}

/* Hooks of one MessageSid go out one at a time, in stream order (within this process). */
static bool earlier_hook(const struct wrk_statuses *s, const struct sentry *e)
{
    for (const struct sentry *o = s->head; o && o != e; o = o->next)
        if (!o->lost && o->hook_body && strcmp(o->e.sid, e->e.sid) == 0 &&
            (o->state == S_HOOK || o->state == S_FLIGHT || o->state == S_HDONE))
            return true;
    return false;
}

static void judge(struct wrk_statuses *s, struct sentry *e, int64_t now)
{
    const struct tw_config *cfg = s->ctx->cfg;
    if (e->res.verdict == WRK_ADMITTED) {
        tw_metrics_inc(WM_HOOKS, "result=\"ok\"", 1);
        e->state = S_ACK;
        return;
    }
    bool old = e->e.received_at > 0 && tw_now_ms() - e->e.received_at > cfg->max_age_ms;
    if (e->res.verdict == WRK_PERMANENT || e->attempts >= cfg->max_attempts || old) {
        tw_metrics_inc(WM_HOOKS, "result=\"failed\"", 1);
        snprintf(e->reason, sizeof e->reason, "%s%s", e->res.reason,
                 e->res.verdict == WRK_PERMANENT ? ""
                 : old                           ? "; older than TW_MAX_AGE"
                                                 : "; gave up (TW_MAX_ATTEMPTS)");
        e->state = S_DEAD;
        return;
    }
    long delay =
        tw_backoff_ms(e->attempts, WRK_RETRY_BASE_MS, WRK_RETRY_CAP_MS, e->res.retry_after_ms);
    tw_metrics_inc(WM_HOOKS, "result=\"retry\"", 1);
    tw_metrics_inc(WM_RETRIED, STREAM_LABEL, 1);
    TW_LOG_WARN("status hook failed; will retry", TW_F_STR("message_sid", e->e.sid),
                TW_F_INT("attempt", e->attempts), TW_F_STR("reason", e->res.reason),
                TW_F_INT("retry_in_ms", delay));
    e->state = S_HOOK;
    e->not_before = now + delay;
}

/* ------------------------------------------------------------------ acknowledging */

static int ack_all(struct wrk_statuses *s)
{
    enum { MAXA = 512 };
    const char *argv[3 + MAXA] = {"XACK", s->ctx->k_status, TW_G_STATUS};
    int n = 0;
    for (struct sentry *e = s->head; e && n < MAXA; e = e->next)
        if (e->state == S_ACK && !e->lost)
            argv[3 + n++] = e->e.id;
    if (!n)
        return 0;
    redisReply *r = wrk_rconn_cmd(s->ctx->redis, 3 + n, argv, NULL);
    if (!r)
        return -1;
    freeReplyObject(r);
    int done = 0;
    for (struct sentry *e = s->head, *next; e && done < n; e = next) {
        next = e->next;
        if (e->state == S_ACK && !e->lost) {
            drop(s, e);
            done++;
        }
    }
    return done;
}

static int dead_one(struct wrk_statuses *s, struct sentry *e)
{
    char attempts[16], now_ms[24];
    snprintf(attempts, sizeof attempts, "%d", e->attempts);
    snprintf(now_ms, sizeof now_ms, "%lld", (long long)tw_now_ms());
    const char *argv[] = {
        s->ctx->k_status, s->ctx->k_status_dead, TW_G_STATUS, e->e.id, e->reason, attempts,
        now_ms,           s->ctx->consumer};
    redisReply *r = wrk_rconn_eval(s->ctx->redis, &wrk_script_deadack, 2, 8, argv, NULL);
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_ERROR) {
        script_error("deadack", r);
        freeReplyObject(r);
        return 1;
    }
    freeReplyObject(r);
    tw_metrics_inc(WM_DEAD, STREAM_LABEL, 1);
    TW_LOG_ERROR("status entry dead-lettered", TW_F_STR("message_sid", e->e.sid),
                 TW_F_STR("stream_id", e->e.id), TW_F_STR("reason", e->reason));
    drop(s, e);
    return 1;
}

/* ------------------------------------------------------------------ maintenance */

static void keep(struct wrk_statuses *s, bool handback, bool all)
{
    struct wrk_ctx *ctx = s->ctx;
    const char **argv = malloc(sizeof *argv * (size_t)(4 + s->count));
    if (!argv)
        return;
    char idle[24];
    snprintf(idle, sizeof idle, "%ld", handback ? ctx->cfg->claim_idle_ms : 0L);
    argv[0] = ctx->k_status;
    argv[1] = TW_G_STATUS;
    argv[2] = ctx->consumer;
    argv[3] = idle;
    int n = 0;
    for (struct sentry *e = s->head; e; e = e->next)
        if (!e->lost && (!handback || all || e->state == S_NEW || e->state == S_HOOK))
            argv[4 + n++] = e->e.id;
    redisReply *r = n ? wrk_rconn_eval(ctx->redis, &wrk_script_keep, 1, 4 + n, argv, NULL) : NULL;
    free(argv);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            struct sentry *e =
                r->element[i]->type == REDIS_REPLY_STRING ? find(s, r->element[i]->str) : NULL;
            if (!e)
                continue;
            if (!handback)
                tw_metrics_inc(WM_CLAIMS_LOST, STREAM_LABEL, 1);
            e->lost = true;
        }
    } else if (!handle_nogroup(s, r)) {
        script_error("keep", r);
    }
    freeReplyObject(r);
}

static void reclaim(struct wrk_statuses *s)
{
    struct wrk_ctx *ctx = s->ctx;
    int n = s->cap - s->count;
    if (n < 1)
        return;
    char idle[24], count[16];
    snprintf(idle, sizeof idle, "%ld", ctx->cfg->claim_idle_ms);
    snprintf(count, sizeof count, "%d", n);
    const char *argv[] = {"XAUTOCLAIM", ctx->k_status, TW_G_STATUS, ctx->consumer,
                          idle,         s->cursor,     "COUNT",     count};
    redisReply *r = wrk_rconn_cmd(ctx->redis, 8, argv, NULL);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < WRK_ID_MAX) {
        snprintf(s->cursor, sizeof s->cursor, "%s", r->element[0]->str);
        int got = adopt(s, r->element[1], true);
        if (got) {
            tw_metrics_inc(WM_RECLAIMED, STREAM_LABEL, got);
            TW_LOG_INFO("reclaimed idle status entries", TW_F_INT("count", got));
        }
    } else if (!handle_nogroup(s, r)) {
        script_error("xautoclaim", r);
    }
    freeReplyObject(r);
}

static int read_new(struct wrk_statuses *s)
{
    char count[16];
    snprintf(count, sizeof count, "%d", s->cap - s->count);
    const char *argv[] = {s->ctx->k_status, TW_G_STATUS, s->ctx->consumer, count, "", ""};
    redisReply *r = wrk_rconn_eval(s->ctx->redis, &wrk_script_read, 1, 6, argv, NULL);
    if (!r)
        return 0;
    int n = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_ARRAY) {
        if (r->element[1]->elements == 0 && r->element[0]->len < WRK_ID_MAX)
            snprintf(s->last_id, sizeof s->last_id, "%s", r->element[0]->str);
        n = adopt(s, r->element[1], false);
    } else if (!handle_nogroup(s, r)) {
        script_error("read", r);
    }
    freeReplyObject(r);
    return n;
}

static void maintain(struct wrk_statuses *s, int64_t now, bool reading)
{
    long idle = s->ctx->cfg->claim_idle_ms;
    if (!s->group_ok) {
        if (wrk_group_ensure(s->ctx, s->ctx->k_status, TW_G_STATUS, "status") != TW_OK)
            return;
        s->group_ok = true;
    }
    if (now >= s->next_keep) {
        s->next_keep = now + (idle / 3 > 10 ? idle / 3 : 10);
        keep(s, false, false);
    }
    if (reading && now >= s->next_reclaim) {
        s->next_reclaim = now + (idle / 2 > 50 ? idle / 2 : 50);
        reclaim(s);
    }
    if (now >= s->next_trim) {
        s->next_trim = now + WRK_TRIM_EVERY_MS;
        const char *argv[] = {s->ctx->k_status};
        redisReply *r = wrk_rconn_eval(s->ctx->redis, &wrk_script_trim, 1, 1, argv, NULL);
        if (r && r->type == REDIS_REPLY_ERROR)
            script_error("trim", r);
        if (r)
            freeReplyObject(r);
    }
    if (now >= s->next_gauges) {
        s->next_gauges = now + WRK_GAUGES_EVERY_MS;
        wrk_group_gauges(s->ctx, s->ctx->k_status, TW_G_STATUS, "status");
    }
}

/* ------------------------------------------------------------------ the pass */

int wrk_statuses_step(struct wrk_statuses *s, int64_t now, bool draining)
{
    int work = 0;
    maintain(s, now, !draining);
    sweep(s);
    if (!s->group_ok)
        return 0;
    if (!draining && s->count < s->cap)
        work += read_new(s);
    if (s->reset)
        return work;
    long conc = s->ctx->cfg->worker_concurrency;
    for (struct sentry *e = s->head, *next; e; e = next) {
        next = e->next;
        if (e->lost || e->not_before > now)
            continue;
        switch (e->state) {
        case S_NEW:
            if (draining)
                break;
            if (apply_one(s, e, now) == 0)
                return work;
            work++;
            break;
        case S_HDONE:
            judge(s, e, now);
            work++;
            break;
        case S_HOOK:
            if (!draining && s->in_flight < conc && !earlier_hook(s, e)) {
                post_hook(s, e);
                work++;
            }
            break;
        case S_DEAD:
            if (dead_one(s, e) == 0)
                return work;
            work++;
            break;
        case S_FLIGHT:
        case S_ACK:
            break;
        }
        if (s->reset)
            return work;
    }
    int acked = ack_all(s);
    if (acked > 0)
        work += acked;
    return work;
}

long wrk_statuses_next_ms(const struct wrk_statuses *s, int64_t now, long max_ms)
{
    int64_t t = now + max_ms;
    int64_t timers[] = {s->next_keep, s->next_reclaim, s->next_trim, s->next_gauges};
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++)
        if (timers[i] < t)
            t = timers[i];
    for (const struct sentry *e = s->head; e; e = e->next)
        if (e->state != S_FLIGHT && e->not_before < t)
            t = e->not_before;
    return t > now ? (long)(t - now) : 0;
}

bool wrk_statuses_idle(const struct wrk_statuses *s)
{
    return s->count == 0;
}

const char *wrk_statuses_last_id(const struct wrk_statuses *s)
{
    return s->last_id;
}

int wrk_statuses_busy(const struct wrk_statuses *s)
{
    int n = 0;
    for (const struct sentry *e = s->head; e; e = e->next)
        n += !e->lost && (e->state == S_FLIGHT || e->state == S_HDONE || e->state == S_ACK ||
                          e->state == S_DEAD);
    return n;
}

void wrk_statuses_handback(struct wrk_statuses *s, bool all)
{
    if (!s->count || !wrk_rconn_get(s->ctx->redis))
        return;
    keep(s, true, all);
    for (struct sentry *e = s->head; e; e = e->next)
        if (all || e->state == S_NEW || e->state == S_HOOK)
            e->lost = true;
    sweep(s);
}
