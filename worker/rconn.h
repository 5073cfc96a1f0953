/* SPDX-License-Identifier: MIT */
/* The worker's Redis connection: dropped on any connection error and re-made with backoff, so
 * a Redis outage costs a paced reconnect attempt, never a busy loop. */
#ifndef WRK_RCONN_H
#define WRK_RCONN_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/redis.h"

struct wrk_rconn {
    struct tw_redis_url url;
    redisContext *c;  /* owned; NULL while disconnected */
    int failures;     /* consecutive failures, for the backoff */
    int64_t next_try; /* monotonic ms of the next connect attempt */
    bool down;        /* an outage is in progress (logged once) */
};

/* Parses url. Returns TW_OK or TW_EINVAL. Does not connect. */
int wrk_rconn_init(struct wrk_rconn *r, const char *url) TW_MUSTCHECK;
void wrk_rconn_cleanup(struct wrk_rconn *r);

/* The connected context (borrowed, valid until the next wrk_rconn_* call that fails), or NULL
 * when Redis is down and the next attempt is not due yet or fails. */
redisContext *wrk_rconn_get(struct wrk_rconn *r);
/* Milliseconds until the next connect attempt (0 when connected or due). */
long wrk_rconn_wait_ms(const struct wrk_rconn *r);

/* Runs a command. Returns the reply (caller frees with freeReplyObject), or NULL when the
 * connection failed or Redis answered LOADING/BUSY/MASTERDOWN-like transient errors; the
 * connection is then dropped and re-made later. Other error replies are returned. */
redisReply *wrk_rconn_cmd(struct wrk_rconn *r, int argc, const char **argv, const size_t *lens);
/* Same for a script (EVALSHA, EVAL on NOSCRIPT). */
redisReply *wrk_rconn_eval(struct wrk_rconn *r, const struct tw_rs_script *s, int nkeys, int argc,
                           const char **argv, const size_t *lens);
/* Marks the connection broken (after a failed call made outside wrk_rconn_*). */
void wrk_rconn_fail(struct wrk_rconn *r, const char *why);

/* True when reply is an error whose first word is word (e.g. "NOGROUP"). */
bool wrk_reply_is_error(const redisReply *reply, const char *word);

#endif
