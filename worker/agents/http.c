/* SPDX-License-Identifier: MIT */
/* The http agent: the Flue agent HTTP contract. One POST per message to
 * <TW_AGENT_URL>/<encodeURIComponent(conversation_key)> with the MessageSid as Idempotency-Key.
 * Only what the agent needs goes out: text, identities, media count and content types. Media
 * URLs need Twilio credentials to fetch and stay with trusted code. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/convkey.h"
#include "worker/agent.h"
#include "worker/http.h"
#include "worker/worker.h"

#define URL_MAX 8192
#define MEDIA_MAX 10 /* Twilio sends at most 10 media per message */

struct http_agent {
    struct wrk_env env;
    char *base;   /* owned: TW_AGENT_URL without a trailing '/' */
    char *bearer; /* owned: "Authorization: Bearer ..." or NULL */
};

/* One call in flight. */
struct call {
    wrk_done_fn done;
    void *job;
};

static int http_create(const struct wrk_env *env, void **state, const char **why)
{
    if (!env->cfg->agent_url) {
        *why = "TW_AGENT_URL is required when TW_AGENT=http";
        return TW_ECONFIG;
    }
    struct http_agent *a = calloc(1, sizeof *a);
    if (!a)
        return TW_ENOMEM;
    a->env = *env;
    a->base = strdup(env->cfg->agent_url);
    if (!a->base)
        goto oom;
    size_t n = strlen(a->base);
    if (n && a->base[n - 1] == '/')
        a->base[n - 1] = '\0';
    if (env->cfg->agent_token) {
        size_t len = strlen(env->cfg->agent_token) + 32;
        a->bearer = malloc(len);
        if (!a->bearer)
            goto oom;
        snprintf(a->bearer, len, "Authorization: Bearer %s", env->cfg->agent_token);
    }
    *state = a;
    return TW_OK;
oom:
    free(a->base);
    free(a);
    return TW_ENOMEM;
}

static void http_destroy(void *state)
{
    struct http_agent *a = state;
    if (!a)
        return;
    free(a->base);
    free(a->bearer);
    free(a);
}

static void set_str(json_t *o, const char *key, const json_t *payload, const char *name)
{
    const char *v = json_string_value(json_object_get(payload, name));
    if (v)
        json_object_set_new(o, key, json_string(v));
}

/* {"kind":"signal","type":"twilio.message","body":..,"attributes":{..},"initialData":{..}}.
 * *out is new: caller frees with free(). Returns TW_OK, TW_EPARSE (the conversation is
 * unusable) or TW_ENOMEM. */
static int build_body(const struct wrk_msg *msg, char **out)
{
    const json_t *p = msg->payload, *c = msg->conversation;
    json_t *root = json_object(), *attrs = json_object(), *init = json_object();
    int rc = TW_ENOMEM;
    *out = NULL;
    if (!root || !attrs || !init)
        goto out;
    const char *body = json_string_value(json_object_get(p, "Body"));
    json_object_set_new(root, "kind", json_string("signal"));
    json_object_set_new(root, "type", json_string("twilio.message"));
    json_object_set_new(root, "body", json_string(body ? body : ""));

    json_object_set_new(attrs, "messageSid", json_string(msg->message_sid));
    set_str(attrs, "from", p, "From");
    set_str(attrs, "to", p, "To");
    set_str(attrs, "numMedia", p, "NumMedia");
    for (int i = 0; i < MEDIA_MAX; i++) {
        char name[32], key[32];
        snprintf(name, sizeof name, "MediaContentType%d", i);
        snprintf(key, sizeof key, "mediaContentType%d", i);
        set_str(attrs, key, p, name);
    }

    rc = TW_EPARSE;
    const char *type = json_string_value(json_object_get(c, "type"));
    const char *participant = json_string_value(json_object_get(c, "participant"));
    if (!type || !participant)
        goto out;
    if (strcmp(type, "messaging-service") == 0) {
        const char *mg = json_string_value(json_object_get(c, "messagingServiceSid"));
        if (!mg)
            goto out;
        json_object_set_new(init, "type", json_string("messaging-service"));
        json_object_set_new(init, "messagingServiceSid", json_string(mg));
    } else {
        const char *address = json_string_value(json_object_get(c, "address"));
        if (!address)
            goto out;
        json_object_set_new(init, "type", json_string("address"));
        json_object_set_new(init, "address", json_string(address));
    }
    json_object_set_new(init, "participant", json_string(participant));
    json_object_set(root, "attributes", attrs);
    json_object_set(root, "initialData", init);
    *out = json_dumps(root, JSON_COMPACT);
    rc = *out ? TW_OK : TW_ENOMEM;
out:
    json_decref(root);
    json_decref(attrs);
    json_decref(init);
    return rc;
}

static void on_answer(void *ctx, const struct wrk_http_resp *resp)
{
    struct call *call = ctx;
    struct wrk_result res;
    wrk_http_classify(resp, "agent", &res);
    if (res.verdict == WRK_ADMITTED) {
        json_t *j = json_loadb(resp->body, resp->body_len, 0, NULL);
        const char *sub = json_string_value(json_object_get(j, "submissionId"));
        if (sub)
            snprintf(res.receipt, sizeof res.receipt, "%s", sub);
        else
            snprintf(res.receipt, sizeof res.receipt, "http %ld", resp->status);
        json_decref(j);
    }
    call->done(call->job, &res);
    free(call);
}

/* A MessageSid goes into a header line: letters and digits only. */
static bool header_safe(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s))
            return false;
    return true;
}

static int http_start(void *state, const struct wrk_msg *msg, wrk_done_fn done, void *job)
{
    struct http_agent *a = state;
    struct tw_buf url;
    tw_buf_init(&url, URL_MAX);
    char *body = NULL;
    struct call *call = NULL;
    struct wrk_result res = {0};
    if (!header_safe(msg->message_sid)) {
        wrk_result_set(&res, WRK_PERMANENT, "MessageSid is not a Twilio SID");
        done(job, &res);
        return TW_OK;
    }
    int rc = tw_buf_puts(&url, a->base);
    if (rc == TW_OK)
        rc = tw_buf_puts(&url, "/");
    if (rc == TW_OK)
        rc = tw_conv_uri_encode(&url, msg->conversation_key, strlen(msg->conversation_key));
    if (rc == TW_EUTF8 || rc == TW_ETOOBIG) {
        wrk_result_set(&res, WRK_PERMANENT, "conversation_key cannot be put in a URL");
        done(job, &res);
        rc = TW_OK;
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = build_body(msg, &body);
    if (rc == TW_EPARSE) {
        wrk_result_set(&res, WRK_PERMANENT, "entry has no usable conversation");
        done(job, &res);
        rc = TW_OK;
        goto out;
    }
    if (rc < 0)
        goto out; /* out of memory: the caller retries later */
    call = malloc(sizeof *call);
    if (!call) {
        rc = TW_ENOMEM;
        goto out;
    }
    call->done = done;
    call->job = job;
    char idem[256];
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", msg->message_sid);
    const char *headers[3] = {"Content-Type: application/json", idem, a->bearer};
    rc = wrk_http_post(a->env.http, url.data, headers, a->bearer ? 3 : 2, body, strlen(body),
                       WRK_AGENT_TIMEOUT_MS, on_answer, call);
    if (rc == TW_OK)
        call = NULL; /* owned by the request now */
out:
    free(call);
    free(body);
    tw_buf_cleanup(&url);
    return rc;
}

const struct wrk_agent_vtable wrk_agent_http = {
    .name = "http",
    .create = http_create,
    .destroy = http_destroy,
    .start = http_start,
};
