/* SPDX-License-Identifier: MIT */
/* What the parts of tw-worker share: configuration, names, the Redis connection, the HTTP
 * client and the agent. One per process, owned by main(). */
#ifndef WRK_WORKER_H
#define WRK_WORKER_H

#include "common/config.h"
#include "worker/agent.h"
#include "worker/http.h"
#include "worker/rconn.h"

#define WRK_KEY_MAX 512

struct wrk_ctx {
    const struct tw_config *cfg;
    const char *consumer; /* this process's consumer name in both groups */
    const char *prefix;   /* TW_REDIS_PREFIX */
    struct wrk_rconn *redis;
    struct wrk_http *http;
    const struct wrk_agent_vtable *agent;
    void *agent_state;
    char k_inbound[WRK_KEY_MAX], k_inbound_dead[WRK_KEY_MAX];
    char k_status[WRK_KEY_MAX], k_status_dead[WRK_KEY_MAX];
    char inq_prefix[WRK_KEY_MAX];     /* <prefix>inq: */
    char outcome_prefix[WRK_KEY_MAX]; /* <prefix>outcome: */
};

/* Retry policy of agent dispatch and status hooks (exponential backoff with full jitter, a
 * Retry-After as the lower bound, TW_MAX_ATTEMPTS and TW_MAX_AGE as the budget). */
#define WRK_RETRY_BASE_MS 1000L
#define WRK_RETRY_CAP_MS 300000L
#define WRK_AGENT_TIMEOUT_MS 30000L                 /* one agent call or hook, connect included */
#define WRK_DRAIN_MS (WRK_AGENT_TIMEOUT_MS + 5000L) /* SIGTERM: longest wait for in-flight work */
#define WRK_HEADS_POLL_MS 5        /* waiting entries look for their turn, at first this often */
#define WRK_HEADS_POLL_MAX_MS 100  /* ... and at least this often */
#define WRK_BLOCK_MAX_MS 1000      /* longest wait when nothing is due */
#define WRK_NOTIFY_DOWN_POLL_MS 50 /* without wake-ups, look for new entries this often */
#define WRK_TRIM_EVERY_MS 5000
#define WRK_GAUGES_EVERY_MS 2000

/* Creates the group (from the start of the stream, MKSTREAM) when missing; BUSYGROUP is fine.
 * Returns TW_OK or TW_EREDIS. */
int wrk_group_ensure(struct wrk_ctx *ctx, const char *stream, const char *group,
                     const char *label) TW_MUSTCHECK;

/* Counts of the group's pending and unread entries into the gauges (XINFO GROUPS). */
void wrk_group_gauges(struct wrk_ctx *ctx, const char *stream, const char *group,
                      const char *label);

#endif
