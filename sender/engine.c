/* SPDX-License-Identifier: MIT */
/* The event loop: conversations in memory, reading and reclaiming entries, lease and claim
 * upkeep, the curl multi handle, and the drain on SIGTERM. The per-task steps are in steps.c. */
#include "sender/engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stop.h"
#include "sender/smetrics.h"

#define READ_COUNT 200
#define READ_BLOCK_MS 250
#define REDIS_TIMEOUT_MS 2000

/* ------------------------------------------------------------------ conversations */

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % SND_CONV_BUCKETS;
}

static struct snd_conv *conv_get(struct snd_engine *e, const char *key, bool create)
{
    unsigned h = hash_key(key);
    for (struct snd_conv *c = e->buckets[h]; c; c = c->hnext)
        if (strcmp(c->key, key) == 0)
            return c;
    if (!create)
        return NULL;
    struct snd_conv *c = calloc(1, sizeof *c);
    if (!c || !(c->key = strdup(key))) {
        free(c);
        return NULL;
    }
    c->hnext = e->buckets[h];
    e->buckets[h] = c;
    c->prev = e->last;
    if (e->last)
        e->last->next = c;
    else
        e->first = c;
    e->last = c;
    return c;
}

static void conv_unlink(struct snd_engine *e, struct snd_conv *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        e->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        e->last = c->prev;
    c->prev = c->next = NULL;
}

/* Moves c to the end of the round-robin order, so busy conversations take turns. */
static void conv_rotate(struct snd_engine *e, struct snd_conv *c)
{
    if (e->last == c)
        return;
    conv_unlink(e, c);
    c->prev = e->last;
    e->last->next = c;
    e->last = c;
}

static void conv_free_if_empty(struct snd_engine *e, struct snd_conv *c)
{
    if (c->head)
        return;
    unsigned h = hash_key(c->key);
    for (struct snd_conv **p = &e->buckets[h]; *p; p = &(*p)->hnext) {
        if (*p == c) {
            *p = c->hnext;
            break;
        }
    }
    conv_unlink(e, c);
    free(c->key);
    free(c);
}

/* Stream ids "ms-seq" in numeric order. */
static int id_cmp(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    if (am != bm)
        return am < bm ? -1 : 1;
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0;
    unsigned long long bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    return as < bs ? -1 : as > bs;
}

/* Adds a task for entry en unless one for its job is already held. Returns true when added. */
static bool task_add(struct snd_engine *e, const struct snd_entry *en)
{
    struct snd_conv *c = conv_get(e, en->conv_key, true);
    if (!c)
        return false;
    for (struct snd_task *t = c->head; t; t = t->next)
        if (strcmp(t->job_id, en->job_id) == 0)
            return false;
    if (e->ntasks >= SND_MAX_TASKS) {
        conv_free_if_empty(e, c);
        return false;
    }
    struct snd_task *t = calloc(1, sizeof *t);
    if (!t) {
        conv_free_if_empty(e, c);
        return false;
    }
    snprintf(t->entry_id, sizeof t->entry_id, "%s", en->id);
    snprintf(t->job_id, sizeof t->job_id, "%s", en->job_id);
    t->phase = PH_CLAIM;
    t->wake = tw_mono_ms();
    t->cq = c;
    /* entry order; never ahead of a task that already owns its job */
    struct snd_task **p = &c->head;
    while (*p && ((*p)->phase != PH_CLAIM || id_cmp((*p)->entry_id, t->entry_id) < 0))
        p = &(*p)->next;
    t->next = *p;
    *p = t;
    if (!t->next)
        c->tail = t;
    e->ntasks++;
    return true;
}

void snd_task_follow(struct snd_engine *e, const char *conv_key, const char *job_id,
                     const char *entry_id)
{
    if (e->draining || !*job_id || !*entry_id)
        return;
    struct snd_entry en = {.job_id = (char *)job_id, .conv_key = (char *)conv_key};
    snprintf(en.id, sizeof en.id, "%s", entry_id);
    task_add(e, &en);
}

void snd_task_drop(struct snd_engine *e, struct snd_task *t)
{
    struct snd_conv *c = t->cq;
    for (struct snd_task **p = &c->head; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    if (c->tail == t) {
        c->tail = NULL;
        for (struct snd_task *x = c->head; x; x = x->next)
            c->tail = x;
    }
    if (t->req_active) {
        curl_multi_remove_handle(e->multi, t->req.easy);
        e->inflight--;
    }
    snd_req_cleanup(&t->req);
    snd_job_cleanup(&t->job);
    tw_conv_cleanup(&t->conv);
    for (size_t i = 0; i < t->nmedia; i++)
        free(t->media[i]);
    free(t->media);
    snd_msg_cleanup(&t->found);
    free(t);
    e->ntasks--;
    /* the next task of the conversation may go at once */
    if (c->head)
        c->head->wake = tw_mono_ms();
    conv_free_if_empty(e, c);
}

/* ------------------------------------------------------------------ redis */

static int redis_ensure(struct snd_engine *e)
{
    if (e->rc)
        return TW_OK;
    int64_t now = tw_mono_ms();
    if (now < e->reconnect_at)
        return TW_EREDIS;
    char err[256];
    e->rc = tw_rs_connect(&e->rurl, REDIS_TIMEOUT_MS, err, sizeof err);
    if (!e->rc || snd_queue_ensure_group(e->rc, e->cfg->redis_prefix) < 0) {
        if (e->rc) {
            snprintf(err, sizeof err, "XGROUP CREATE: %s", e->rc->errstr);
            redisFree(e->rc);
            e->rc = NULL;
        }
        e->reconnect_tries++;
        e->reconnect_at = now + tw_backoff_ms(e->reconnect_tries, 200, 5000, 0);
        TW_LOG_WARN("redis unavailable", TW_F_STR("error", err),
                    TW_F_INT("retry_in_ms", e->reconnect_at - now));
        return TW_EREDIS;
    }
    if (e->reconnect_tries)
        TW_LOG_INFO("redis reconnected");
    e->reconnect_tries = 0;
    return TW_OK;
}

/* Drops a broken connection so the next use reconnects. */
static void redis_check(struct snd_engine *e, const char *what)
{
    tw_metrics_inc(SM_REDIS_ERRORS, "", 1);
    if (e->rc && e->rc->err) {
        TW_LOG_WARN("redis connection lost", TW_F_STR("during", what),
                    TW_F_STR("error", e->rc->errstr));
        redisFree(e->rc);
        e->rc = NULL;
        e->reconnect_at = tw_mono_ms() + 200;
    } else {
        TW_LOG_WARN("redis command failed", TW_F_STR("during", what));
    }
}

void snd_redis_failed(struct snd_engine *e, struct snd_task *t, const char *what)
{
    redis_check(e, what);
    if (t)
        t->wake = tw_mono_ms() + 500;
}

/* ------------------------------------------------------------------ upkeep */

static void add_entries(struct snd_engine *e, struct snd_entry *en, size_t n, bool reclaimed)
{
    for (size_t i = 0; i < n; i++) {
        if (!en[i].job_id || !en[i].conv_key) {
            /* not a job this program enqueued: nothing can be sent for it */
            TW_LOG_ERROR("malformed outbound entry acknowledged", TW_F_STR("stream_id", en[i].id));
            if (snd_queue_ack(e->rc, e->cfg->redis_prefix, en[i].id) < 0)
                redis_check(e, "XACK");
            if (!e->rc)
                return;
            continue;
        }
        if (!task_add(e, &en[i]))
            continue;
        if (reclaimed) {
            tw_metrics_inc(SM_RECLAIMED, "", 1);
            TW_LOG_INFO("entry reclaimed", TW_F_STR("job_id", en[i].job_id),
                        TW_F_STR("stream_id", en[i].id));
        } else {
            TW_LOG_DEBUG("entry read", TW_F_STR("job_id", en[i].job_id),
                         TW_F_STR("stream_id", en[i].id));
        }
    }
}

static void do_read(struct snd_engine *e, long block_ms)
{
    struct snd_entry *en;
    size_t n;
    if (snd_queue_read(e->rc, e->cfg->redis_prefix, e->me, READ_COUNT, block_ms, &en, &n) < 0) {
        redis_check(e, "XREADGROUP");
        return;
    }
    add_entries(e, en, n, false);
    snd_entries_free(en, n);
    /* A full batch: more may be waiting. After a blocking read, read again as soon as the loop
     * is idle again; while busy, poll the stream without blocking at most every 20 ms. */
    e->next_read = tw_mono_ms() + (n == READ_COUNT || block_ms >= 0 ? 0 : 20);
}

static void do_reclaim(struct snd_engine *e)
{
    for (int page = 0; page < 10 && e->rc && e->ntasks < SND_MAX_TASKS; page++) {
        struct snd_entry *en;
        size_t n;
        if (snd_queue_autoclaim(e->rc, e->cfg->redis_prefix, e->me, e->cfg->claim_idle_ms,
                                e->reclaim_cursor, 100, &en, &n) < 0) {
            redis_check(e, "XAUTOCLAIM");
            return;
        }
        add_entries(e, en, n, true);
        snd_entries_free(en, n);
        if (strcmp(e->reclaim_cursor, "0-0") == 0)
            break;
    }
}

/* Every task (or every owned one); new array (free()), NULL when there are none or no memory. */
static struct snd_task **collect(struct snd_engine *e, bool owned_only, size_t *n)
{
    *n = 0;
    if (e->ntasks <= 0)
        return NULL;
    struct snd_task **out = malloc(sizeof *out * (size_t)e->ntasks);
    if (!out)
        return NULL;
    for (struct snd_conv *c = e->first; c; c = c->next)
        for (struct snd_task *t = c->head; t && *n < (size_t)e->ntasks; t = t->next)
            if (!owned_only || (t->owned && !t->lost))
                out[(*n)++] = t;
    return out;
}

/* Renews the leases of every job this process owns, 256 per round trip. */
static void do_renew(struct snd_engine *e)
{
    size_t n;
    struct snd_task **ts = collect(e, true, &n);
    enum { CHUNK = 256 };
    const char *ids[CHUNK];
    bool alive[CHUNK];
    for (size_t off = 0; off < n && e->rc; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < m; i++)
            ids[i] = ts[off + i]->job_id;
        if (snd_job_renew(e->rc, e->cfg->redis_prefix, ids, m, e->me, e->cfg->claim_idle_ms,
                          alive) < 0) {
            redis_check(e, "renew");
            break;
        }
        for (size_t i = 0; i < m; i++) {
            if (alive[i])
                continue;
            struct snd_task *t = ts[off + i];
            TW_LOG_WARN("job lease lost to another sender", TW_F_STR("job_id", t->job_id));
            t->lost = true;
            t->owned = false;
            if (!t->req_active)
                snd_task_drop(e, t); /* frees only t: the other pointers stay valid */
        }
    }
    free(ts);
}

/* Keeps every held entry from looking idle to other replicas, 512 per round trip. */
static void do_touch(struct snd_engine *e)
{
    size_t n;
    struct snd_task **ts = collect(e, false, &n);
    enum { CHUNK = 512 };
    const char *ids[CHUNK];
    for (size_t off = 0; off < n && e->rc; off += CHUNK) {
        size_t m = n - off < CHUNK ? n - off : CHUNK;
        for (size_t i = 0; i < m; i++)
            ids[i] = ts[off + i]->entry_id;
        if (snd_queue_touch(e->rc, e->cfg->redis_prefix, e->me, e->cfg->claim_idle_ms / 3, ids, m) <
            0) {
            redis_check(e, "XCLAIM");
            break;
        }
    }
    free(ts);
}

static void do_stats(struct snd_engine *e)
{
    long long lag, pending;
    if (snd_queue_stats(e->rc, e->cfg->redis_prefix, &lag, &pending) < 0) {
        redis_check(e, "XINFO");
        return;
    }
    if (lag >= 0)
        tw_metrics_set(SM_LAG, "", (double)lag);
    if (pending >= 0)
        tw_metrics_set(SM_PENDING, "", (double)pending);
}

/* ------------------------------------------------------------------ loop */

static void collect_done(struct snd_engine *e)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(e->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct snd_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(e->multi, m->easy_handle);
        e->inflight--;
        struct snd_task *t = r ? r->owner : NULL;
        if (!t)
            continue;
        t->req_active = false;
        snd_request_done(e, t, rc);
    }
}

/* Runs every head task that is due; returns the ms until the earliest future wake (capped).
 * Due tasks are collected first (a step may free its own task, never another one), and each
 * stepped conversation moves to the back, so conversations take turns for request slots. */
static long step_due(struct snd_engine *e, long cap)
{
    enum { BATCH = 1024 };
    struct snd_task *due[BATCH];
    size_t n = 0;
    int64_t now = tw_mono_ms();
    long sleep = cap;
    for (struct snd_conv *c = e->first; c; c = c->next) {
        struct snd_task *t = c->head;
        if (!t || t->phase == PH_INFLIGHT || t->phase == PH_LISTING)
            continue;
        if (t->wake <= now) {
            if (n < BATCH)
                due[n++] = t;
            else
                sleep = 0;
        } else if (t->wake - now < sleep) {
            sleep = (long)(t->wake - now);
        }
    }
    size_t stepped = 0;
    for (size_t i = 0; i < n && e->rc; i++) {
        struct snd_task *t = due[i];
        bool needs_slot = t->phase == PH_SEND || t->phase == PH_RECONCILE;
        if (needs_slot && e->inflight >= e->cfg->send_concurrency)
            continue; /* a finished request wakes curl_multi_poll, and the loop comes back */
        conv_rotate(e, t->cq);
        snd_step(e, t);
        stepped++;
    }
    return stepped ? 0 : sleep;
}

static void begin_drain(struct snd_engine *e)
{
    e->draining = true;
    e->drain_deadline = tw_mono_ms() + e->cfg->send_timeout_ms + 5000;
    TW_LOG_INFO("draining", TW_F_INT("tasks", e->ntasks), TW_F_INT("in_flight", e->inflight));
    /* everything not waiting on Twilio or on Redis goes back at once; hand_back frees only the
     * task it is given, so the other pointers stay valid */
    size_t n;
    struct snd_task **ts = collect(e, false, &n);
    for (size_t i = 0; i < n; i++)
        if (ts[i]->phase != PH_INFLIGHT && ts[i]->phase != PH_LISTING && ts[i]->phase != PH_RECORD)
            snd_task_hand_back(e, ts[i]);
    free(ts);
}

int snd_engine_run(struct snd_engine *e)
{
    for (;;) {
        int64_t now = tw_mono_ms();
        if (tw_stop_requested() && !e->draining)
            begin_drain(e);
        if (e->draining && (e->ntasks == 0 || now > e->drain_deadline))
            break;
        bool up = redis_ensure(e) == TW_OK;
        long sleep = 250;
        if (up && !e->draining) {
            if (now >= e->next_reclaim) {
                do_reclaim(e);
                long every = e->cfg->claim_idle_ms / 2;
                e->next_reclaim = now + (every < 200 ? 200 : every);
            }
            if (e->rc && now >= e->next_touch) {
                do_touch(e);
                e->next_touch = now + e->cfg->claim_idle_ms / 3;
            }
            if (e->rc && now >= e->next_stats) {
                do_stats(e);
                e->next_stats = now + 5000;
            }
        }
        if (e->rc && now >= e->next_renew) {
            do_renew(e);
            e->next_renew = now + e->cfg->claim_idle_ms / 3;
        }
        if (e->rc)
            sleep = step_due(e, 250);
        int running = 0;
        curl_multi_perform(e->multi, &running);
        collect_done(e);
        tw_metrics_set(SM_INFLIGHT, "", (double)e->inflight);
        tw_metrics_set(SM_TASKS, "", (double)e->ntasks);
        if (e->draining && e->ntasks == 0)
            continue;
        now = tw_mono_ms();
        if (e->rc && !e->draining && e->ntasks < SND_MAX_TASKS && now >= e->next_read) {
            /* nothing else to do soon: wait for new entries inside Redis instead of polling */
            bool idle = e->inflight == 0 && sleep >= 50;
            do_read(e, idle ? (sleep < READ_BLOCK_MS ? sleep : READ_BLOCK_MS) : -1);
            if (idle)
                continue;
        }
        if (e->rc && !e->draining && e->ntasks < SND_MAX_TASKS && e->next_read - now < sleep)
            sleep = (long)(e->next_read - now); /* come back in time to read new entries */
        if (sleep > 0) {
            int numfds = 0;
            curl_multi_poll(e->multi, NULL, 0, (int)(sleep > 250 ? 250 : sleep), &numfds);
        }
    }
    if (e->ntasks)
        TW_LOG_WARN("drain deadline passed", TW_F_INT("tasks", e->ntasks));
    return TW_OK;
}

int snd_engine_init(struct snd_engine *e, const struct tw_config *cfg)
{
    memset(e, 0, sizeof *e);
    e->cfg = cfg;
    if (tw_rs_url_parse(cfg->redis_url, &e->rurl) < 0)
        return TW_ECONFIG;
    if (cfg->worker_id) {
        snprintf(e->me, sizeof e->me, "%s", cfg->worker_id);
    } else {
        char host[64] = "sender";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(e->me, sizeof e->me, "%s-%ld", host, (long)getpid());
    }
    snprintf(e->reclaim_cursor, sizeof e->reclaim_cursor, "0-0");
    e->multi = curl_multi_init();
    if (!e->multi)
        return TW_ENOMEM;
    /* one connection per request slot, kept and reused */
    curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, e->cfg->send_concurrency);
    curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, e->cfg->send_concurrency);
    snd_job_scripts_init();
    return TW_OK;
}

void snd_engine_cleanup(struct snd_engine *e)
{
    while (e->first) {
        struct snd_conv *c = e->first;
        while (c->head && e->first == c)
            snd_task_drop(e, c->head);
        if (e->first == c)
            conv_free_if_empty(e, c);
    }
    if (e->multi)
        curl_multi_cleanup(e->multi);
    if (e->rc)
        redisFree(e->rc);
    memset(e, 0, sizeof *e);
}
