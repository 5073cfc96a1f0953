/* SPDX-License-Identifier: MIT */
/* Wake-ups for new entries: a second Redis connection keeps one XREAD BLOCK on both streams
 * outstanding, and its socket is polled together with the agent calls' sockets, so a new entry
 * is read at once even while dispatches are in flight. */
#ifndef WRK_NOTIFY_H
#define WRK_NOTIFY_H

#include <stdbool.h>

#include "worker/rconn.h"
#include "worker/worker.h"

struct wrk_notify {
    struct wrk_rconn rc;
    bool armed; /* an XREAD BLOCK was sent and its answer not read yet */
};

int wrk_notify_init(struct wrk_notify *n, const char *redis_url) TW_MUSTCHECK;
void wrk_notify_cleanup(struct wrk_notify *n);

/* Makes sure an XREAD BLOCK for entries after last_in / last_st is outstanding. Returns the
 * socket to poll for readability, or -1 when the connection is down (then wait on a timer). */
int wrk_notify_arm(struct wrk_notify *n, const struct wrk_ctx *ctx, const char *last_in,
                   const char *last_st);
/* The socket is readable: reads the answer (new entries or a timeout) and disarms. */
void wrk_notify_consume(struct wrk_notify *n);

#endif
