/* SPDX-License-Identifier: MIT */
/* The echo agent, for the local demo and tests: answers "Echo: <Body>" to the same conversation
 * through the outbound queue. The idempotency key echo:<MessageSid> makes a re-dispatch find the
 * reply it already enqueued instead of enqueueing a second one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/outbound.h"
#include "worker/agent.h"

#define ECHO_PREFIX "Echo: "
#define BODY_MAX_CHARS 1600 /* Twilio's limit for one message body */

struct echo {
    struct wrk_env env;
};

static int echo_create(const struct wrk_env *env, void **state, const char **why)
{
    (void)why;
    struct echo *e = calloc(1, sizeof *e);
    if (!e)
        return TW_ENOMEM;
    e->env = *env;
    *state = e;
    return TW_OK;
}

static void echo_destroy(void *state)
{
    free(state);
}

/* "Echo: " + body, cut at BODY_MAX_CHARS characters (never inside a UTF-8 sequence). */
static char *reply_text(const char *body)
{
    size_t n = strlen(ECHO_PREFIX) + strlen(body);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0, chars = 0;
    for (const char *p = ECHO_PREFIX; *p; p++, chars++)
        out[o++] = *p;
    for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
        if ((*p & 0xC0) != 0x80 && chars++ == BODY_MAX_CHARS)
            break;
        out[o++] = (char)*p;
    }
    out[o] = '\0';
    return out;
}

static int echo_start(void *state, const struct wrk_msg *msg, wrk_done_fn done, void *job)
{
    struct echo *e = state;
    struct wrk_result res = {0};
    const char *body = json_string_value(json_object_get(msg->payload, "Body"));
    char *text = reply_text(body ? body : "");
    char idem[256];
    snprintf(idem, sizeof idem, "echo:%s", msg->message_sid);
    redisContext *c = e->env.redis(e->env.redis_ctx);
    if (!text) {
        wrk_result_set(&res, WRK_RETRY, "echo: out of memory");
    } else if (!c) {
        wrk_result_set(&res, WRK_RETRY, "echo: redis unavailable");
    } else {
        struct tw_outbound_req req = {.conversation_key = msg->conversation_key,
                                      .body = text,
                                      .idempotency_key = idem,
                                      .source = "echo"};
        char job_id[TW_JOB_ID_MAX];
        int rc = tw_outbound_enqueue(c, e->env.cfg->redis_prefix, &req, job_id);
        if (rc == TW_OUTBOUND_CREATED || rc == TW_OUTBOUND_EXISTING) {
            res.verdict = WRK_ADMITTED;
            snprintf(res.receipt, sizeof res.receipt, "%s", job_id);
        } else if (rc == TW_OUTBOUND_CONFLICT) {
            wrk_result_set(&res, WRK_PERMANENT, "echo: idempotency key %s names another reply",
                           idem);
        } else {
            wrk_result_set(&res, WRK_RETRY, "echo: enqueue failed: %s", tw_strerror(rc));
        }
    }
    free(text);
    done(job, &res);
    return TW_OK;
}

const struct wrk_agent_vtable wrk_agent_echo = {
    .name = "echo",
    .create = echo_create,
    .destroy = echo_destroy,
    .start = echo_start,
};
