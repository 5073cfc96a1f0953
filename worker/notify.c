/* SPDX-License-Identifier: MIT */
/* The answer of the outstanding XREAD is only a signal: the entries themselves are read by the
 * consumer group scripts on the main connection. */
#include "worker/notify.h"

#include <stdio.h>
#include <string.h>

/* Shorter than the connection's 5 s read timeout, so a quiet stream never looks like a dead
 * connection. */
#define BLOCK_MS "3000"

int wrk_notify_init(struct wrk_notify *n, const char *redis_url)
{
    memset(n, 0, sizeof *n);
    return wrk_rconn_init(&n->rc, redis_url);
}

void wrk_notify_cleanup(struct wrk_notify *n)
{
    wrk_rconn_cleanup(&n->rc);
}

int wrk_notify_arm(struct wrk_notify *n, const struct wrk_ctx *ctx, const char *last_in,
                   const char *last_st)
{
    redisContext *c = wrk_rconn_get(&n->rc);
    if (!c) {
        n->armed = false;
        return -1;
    }
    if (!n->armed) {
        const char *argv[] = {"XREAD",        "BLOCK",       BLOCK_MS, "STREAMS",
                              ctx->k_inbound, ctx->k_status, last_in,  last_st};
        int done = 0;
        if (redisAppendCommandArgv(c, 8, argv, NULL) != REDIS_OK) {
            wrk_rconn_fail(&n->rc, c->errstr);
            return -1;
        }
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK) {
                wrk_rconn_fail(&n->rc, c->errstr);
                return -1;
            }
        n->armed = true;
    }
    return c->fd;
}

void wrk_notify_consume(struct wrk_notify *n)
{
    redisContext *c = n->rc.c;
    if (!c || !n->armed)
        return;
    n->armed = false;
    void *reply = NULL;
    if (redisGetReply(c, &reply) != REDIS_OK) {
        wrk_rconn_fail(&n->rc, c->errstr);
        return;
    }
    freeReplyObject(reply);
}
