/* SPDX-License-Identifier: MIT */
/* The admission thread: takes every queued item at once, pipelines their scripts, reads the
 * replies in order. Requests that arrive while Redis is away fail fast (503) instead of each
 * waiting for a connect timeout; the thread reconnects in the background with backoff. */
#include "ingress/admit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redis.h"
#include "ingress/admit_script.h"

#define MAX_BATCH 1024
#define REDIS_TIMEOUT_MS 2000 /* the bounded wait before a request is answered 503 */

struct ing_admit {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct ing_admit_item *head, *tail; /* queue, under lock */
    bool stopping;                      /* under lock */
    atomic_bool connected;

    /* admission thread only */
    struct tw_redis_url url;
    redisContext *redis;
    struct tw_rs_script script;
    int connect_failures;
    int64_t next_connect_ms; /* monotonic; no attempt before this */
};

static void finish(struct ing_admit_item *it, enum ing_admit_result r)
{
    it->result = r;
    if (r != ING_ADMIT_FAILED && it->kind == ING_ADMIT_ENTRY)
        tw_metrics_observe("tw_ingress_enqueue_seconds", "",
                           (double)(tw_mono_us() - it->queued_us) / 1e6);
    it->done(it, it->arg);
}

static void drop_connection(struct ing_admit *a, const char *why)
{
    if (a->redis) {
        TW_LOG_WARN("redis connection lost", TW_F_STR("error", why));
        redisFree(a->redis);
        a->redis = NULL;
    }
    atomic_store(&a->connected, false);
    tw_metrics_inc("tw_ingress_redis_errors_total", "", 1);
}

/* Connects when allowed by the backoff schedule. Returns whether a connection is up. */
static bool ensure_connected(struct ing_admit *a)
{
    if (a->redis)
        return true;
    int64_t now = tw_mono_ms();
    if (now < a->next_connect_ms)
        return false;
    char err[256];
    a->redis = tw_rs_connect(&a->url, REDIS_TIMEOUT_MS, err, sizeof err);
    if (!a->redis) {
        a->connect_failures++;
        a->next_connect_ms = now + tw_backoff_ms(a->connect_failures, 100, 2000, 0);
        if (a->connect_failures == 1 || a->connect_failures % 20 == 0)
            TW_LOG_WARN("redis unavailable", TW_F_STR("error", err),
                        TW_F_INT("attempts", a->connect_failures));
        tw_metrics_inc("tw_ingress_redis_errors_total", "", 1);
        return false;
    }
    if (a->connect_failures)
        TW_LOG_INFO("redis reconnected", TW_F_INT("after_attempts", a->connect_failures));
    a->connect_failures = 0;
    atomic_store(&a->connected, true);
    return true;
}

/* Reads one reply's meaning. NOSCRIPT is left to the caller: the script did not run. */
static enum ing_admit_result classify(const struct ing_admit_item *it, const redisReply *r)
{
    if (it->kind == ING_ADMIT_PING)
        return r->type == REDIS_REPLY_STATUS ? ING_ADMIT_STORED : ING_ADMIT_FAILED;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer == 1 ? ING_ADMIT_STORED : ING_ADMIT_DUPLICATE;
    if (r->type == REDIS_REPLY_ERROR)
        TW_LOG_WARN("redis refused admission", TW_F_STR("error", r->str));
    tw_metrics_inc("tw_ingress_redis_errors_total", "", 1);
    return ING_ADMIT_FAILED;
}

/* Redis lost its script cache (restart, SCRIPT FLUSH): run the script by source. Called only
 * once every pipelined reply has been read, so replies cannot be mismatched. */
static enum ing_admit_result rerun(struct ing_admit *a, struct ing_admit_item *it)
{
    if (!a->redis)
        return ING_ADMIT_FAILED;
    redisReply *r = tw_rs_eval(a->redis, &a->script, 2, it->argc, it->argv, it->lens);
    if (!r) {
        drop_connection(a, a->redis->errstr);
        return ING_ADMIT_FAILED;
    }
    enum ing_admit_result res = classify(it, r);
    freeReplyObject(r);
    return res;
}

static void run_batch(struct ing_admit *a, struct ing_admit_item *batch)
{
    if (!ensure_connected(a)) {
        for (struct ing_admit_item *it = batch, *next; it; it = next) {
            next = it->next;
            finish(it, ING_ADMIT_FAILED);
        }
        return;
    }
    /* Pipeline: append every command, then read the replies in order. */
    for (struct ing_admit_item *it = batch; it; it = it->next) {
        int rc;
        if (it->kind == ING_ADMIT_PING) {
            const char *argv[] = {"PING"};
            rc = redisAppendCommandArgv(a->redis, 1, argv, NULL) == REDIS_OK ? TW_OK : TW_EREDIS;
        } else {
            rc = tw_rs_eval_append(a->redis, &a->script, 2, it->argc, it->argv, it->lens);
        }
        it->result = rc == TW_OK ? ING_ADMIT_PENDING : ING_ADMIT_FAILED;
    }
    bool noscript = false;
    for (struct ing_admit_item *it = batch; it; it = it->next) {
        if (it->result == ING_ADMIT_FAILED || !a->redis)
            continue;
        redisReply *r = NULL;
        if (redisGetReply(a->redis, (void **)&r) != REDIS_OK || !r) {
            drop_connection(a, a->redis->errstr);
            it->result = ING_ADMIT_FAILED;
            continue;
        }
        if (tw_rs_is_noscript(r)) {
            noscript = true; /* it->result stays PENDING: rerun below */
        } else {
            it->result = classify(it, r);
        }
        freeReplyObject(r);
    }
    for (struct ing_admit_item *it = batch, *next; it; it = next) {
        next = it->next;
        enum ing_admit_result res = it->result;
        if (res == ING_ADMIT_PENDING)
            res = noscript ? rerun(a, it) : ING_ADMIT_FAILED;
        finish(it, res);
    }
}

static void *admit_main(void *arg)
{
    struct ing_admit *a = arg;
    for (;;) {
        pthread_mutex_lock(&a->lock);
        while (!a->head && !a->stopping) {
            if (!a->redis) {
                /* Reconnect in the background so the first request after an outage succeeds. */
                pthread_mutex_unlock(&a->lock);
                ensure_connected(a);
                pthread_mutex_lock(&a->lock);
                if (a->head || a->stopping)
                    break;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cond, &a->lock, &ts);
        }
        if (!a->head && a->stopping) {
            pthread_mutex_unlock(&a->lock);
            break;
        }
        struct ing_admit_item *batch = a->head, *last = batch;
        int n = 1;
        while (last->next && n < MAX_BATCH) {
            last = last->next;
            n++;
        }
        a->head = last->next;
        if (!a->head)
            a->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&a->lock);
        tw_metrics_observe("tw_ingress_batch_size", "", n);
        run_batch(a, batch);
    }
    return NULL;
}

int ing_admit_start(const struct tw_config *cfg, struct ing_admit **out)
{
    struct ing_admit *a = calloc(1, sizeof *a);
    if (!a)
        return TW_ENOMEM;
    if (tw_rs_url_parse(cfg->redis_url, &a->url) < 0) {
        free(a);
        return TW_EINVAL;
    }
    tw_rs_script_init(&a->script, ING_ADMIT_LUA);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    atomic_init(&a->connected, false);
    ensure_connected(a);
    if (pthread_create(&a->thread, NULL, admit_main, a) != 0) {
        if (a->redis)
            redisFree(a->redis);
        free(a);
        return TW_ENOMEM;
    }
    *out = a;
    return TW_OK;
}

void ing_admit_submit(struct ing_admit *a, struct ing_admit_item *item)
{
    item->next = NULL;
    item->result = ING_ADMIT_PENDING;
    item->queued_us = tw_mono_us();
    pthread_mutex_lock(&a->lock);
    if (a->tail)
        a->tail->next = item;
    else
        a->head = item;
    a->tail = item;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
}

bool ing_admit_connected(struct ing_admit *a)
{
    return atomic_load(&a->connected);
}

void ing_admit_stop(struct ing_admit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->cond);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    if (a->redis)
        redisFree(a->redis);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
}
