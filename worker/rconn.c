/* SPDX-License-Identifier: MIT */
/* Reconnects with exponential backoff; logs an outage once when it starts and once when it ends. */
#include "worker/rconn.h"

#include <stdio.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "worker/wmetrics.h"

#define CONNECT_TIMEOUT_MS 2000
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000

int wrk_rconn_init(struct wrk_rconn *r, const char *url)
{
    memset(r, 0, sizeof *r);
    return tw_rs_url_parse(url, &r->url);
}

void wrk_rconn_cleanup(struct wrk_rconn *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

void wrk_rconn_fail(struct wrk_rconn *r, const char *reason)
{
    char why[160]; /* reason may live in the context freed below */
    snprintf(why, sizeof why, "%s", reason);
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->failures++;
    r->next_try = tw_mono_ms() + tw_backoff_ms(r->failures, BACKOFF_BASE_MS, BACKOFF_CAP_MS, 0);
    tw_metrics_inc(WM_REDIS_ERRORS, "", 1);
    if (!r->down) {
        r->down = true;
        TW_LOG_WARN("redis unavailable; retrying with backoff", TW_F_STR("error", why));
    }
}

redisContext *wrk_rconn_get(struct wrk_rconn *r)
{
    if (r->c)
        return r->c;
    if (tw_mono_ms() < r->next_try)
        return NULL;
    char err[256];
    r->c = tw_rs_connect(&r->url, CONNECT_TIMEOUT_MS, err, sizeof err);
    if (!r->c) {
        wrk_rconn_fail(r, err);
        return NULL;
    }
    /* Blocking reads wait at most about a second; 5 s means Redis is stuck, not idle. */
    struct timeval tv = {5, 0};
    redisSetTimeout(r->c, tv);
    if (r->down)
        TW_LOG_INFO("redis reconnected", TW_F_INT("failures", r->failures));
    r->down = false;
    r->failures = 0;
    return r->c;
}

long wrk_rconn_wait_ms(const struct wrk_rconn *r)
{
    if (r->c)
        return 0;
    int64_t d = r->next_try - tw_mono_ms();
    return d > 0 ? (long)d : 0;
}

bool wrk_reply_is_error(const redisReply *reply, const char *word)
{
    size_t n = strlen(word);
    return reply && reply->type == REDIS_REPLY_ERROR && reply->len >= n &&
           strncmp(reply->str, word, n) == 0 && (reply->len == n || reply->str[n] == ' ');
}

/* Errors that mean "Redis is not ready", not "your command is wrong". */
static bool transient(const redisReply *reply)
{
    return wrk_reply_is_error(reply, "LOADING") || wrk_reply_is_error(reply, "BUSY") ||
           wrk_reply_is_error(reply, "MASTERDOWN") || wrk_reply_is_error(reply, "TRYAGAIN") ||
           wrk_reply_is_error(reply, "READONLY") || wrk_reply_is_error(reply, "MISCONF");
}

static redisReply *checked(struct wrk_rconn *r, redisReply *reply)
{
    if (!reply) {
        wrk_rconn_fail(r, r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
        return NULL;
    }
    if (transient(reply)) {
        char why[128];
        snprintf(why, sizeof why, "%.*s", (int)(reply->len < 100 ? reply->len : 100), reply->str);
        freeReplyObject(reply);
        wrk_rconn_fail(r, why);
        return NULL;
    }
    return reply;
}

redisReply *wrk_rconn_cmd(struct wrk_rconn *r, int argc, const char **argv, const size_t *lens)
{
    redisContext *c = wrk_rconn_get(r);
    if (!c)
        return NULL;
    return checked(r, redisCommandArgv(c, argc, argv, lens));
}

redisReply *wrk_rconn_eval(struct wrk_rconn *r, const struct tw_rs_script *s, int nkeys, int argc,
                           const char **argv, const size_t *lens)
{
    redisContext *c = wrk_rconn_get(r);
    if (!c)
        return NULL;
    return checked(r, tw_rs_eval(c, s, nkeys, argc, argv, lens));
}
