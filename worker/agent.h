/* SPDX-License-Identifier: MIT */
/* The agent vtable: how tw-worker hands one verified message to an agent, and the table of
 * agent kinds that TW_AGENT selects from. */
#ifndef WRK_AGENT_H
#define WRK_AGENT_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "common/config.h"
#include "common/err.h"

struct wrk_http;

/* One message to dispatch. Everything is borrowed and valid until the done callback returns. */
struct wrk_msg {
    const char *stream_id;        /* the <prefix>inbound entry */
    const char *message_sid;      /* also the agent's Idempotency-Key */
    const char *conversation_key; /* canonical key (common/convkey.h) */
    const json_t *payload;        /* the signed form: name -> string or array of strings */
    const json_t *conversation;   /* {"type","accountSid","address","participant"[,...]} */
    int attempt;                  /* 1-based; also the fencing token of this dispatch */
};

enum wrk_verdict {
    WRK_ADMITTED = 0, /* the agent has it: record the receipt */
    WRK_RETRY,        /* try again later (408, 429, 5xx, network, Redis down) */
    WRK_PERMANENT,    /* never succeeds: dead letter */
};

struct wrk_result {
    enum wrk_verdict verdict;
    long retry_after_ms; /* WRK_RETRY: lower bound for the next attempt (Retry-After), or 0 */
    char receipt[256];   /* WRK_ADMITTED: the agent's receipt, e.g. Flue's submissionId */
    char reason[256];    /* WRK_RETRY, WRK_PERMANENT: why (no message bodies, no secrets) */
};

/* What an agent may use. All borrowed, valid for the agent's lifetime. */
struct wrk_env {
    const struct tw_config *cfg;
    struct wrk_http *http; /* the worker's shared asynchronous HTTP client */
    /* The current Redis connection, or NULL while Redis is down. */
    redisContext *(*redis)(void *ctx);
    void *redis_ctx;
};

/* Called exactly once per started dispatch, possibly before start() returns. job is the
 * pointer given to start(); res is borrowed for the duration of the call. */
typedef void (*wrk_done_fn)(void *job, const struct wrk_result *res);

struct wrk_agent_vtable {
    const char *name; /* the TW_AGENT value */
    /* Checks its configuration and builds its state. On TW_ECONFIG, why names the variable. */
    int (*create)(const struct wrk_env *env, void **state, const char **why);
    void (*destroy)(void *state);
    /* Starts one dispatch of msg. Returns TW_OK (done will be called) or a negative tw_err
     * (done will not be called; the caller retries later). */
    int (*start)(void *state, const struct wrk_msg *msg, wrk_done_fn done, void *job);
};

/* The table of agent kinds. Adding one: a file under worker/agents/ that defines
 * `const struct wrk_agent_vtable wrk_agent_<name>`, and one X(<name>) here. */
#define WRK_AGENTS(X)                                                                              \
    X(http)                                                                                        \
    X(echo)

#define WRK_AGENT_DECLARE(n) extern const struct wrk_agent_vtable wrk_agent_##n;
WRK_AGENTS(WRK_AGENT_DECLARE)
#undef WRK_AGENT_DECLARE

/* The agent named name, or NULL. */
const struct wrk_agent_vtable *wrk_agent_find(const char *name);

/* Fills res with a verdict and a printf-formatted reason. */
void wrk_result_set(struct wrk_result *res, enum wrk_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
