/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the outbound API's request validation (ingress/api_post.c), with Redis out of
 * reach so that a request passing every check is answered 503 instead of being enqueued.
 * Input: the JSON body, sent as application/json without an Idempotency-Key; or, when it starts
 * with '#', "#<content type>\n<idempotency key>\n<body>".
 * Invariants: every answer is 400, 403, 415 or 503 with {"error":{"code","message"}}; and 503
 * (every check passed) exactly when an independent reading of the documented rules accepts the
 * request. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/convkey.h"
#include "common/log.h"
#include "ingress/api_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ACCOUNT "AC0123456789abcdef0123456789abcdef"
#define NUMBER "+15557007007"

static void check(int ok)
{
    if (!ok)
        abort();
}

static const char *env(const char *name, void *ctx)
{
    (void)ctx;
    static const char *const vars[][2] = {
        {"TWILIO_ACCOUNT_SID", ACCOUNT},
        {"TWILIO_AUTH_TOKEN", "fuzz-auth-token"},
        {"TWILIO_WEBHOOK_URL", "https://example.com/channels/twilio/webhook"},
        {"TWILIO_PHONE_NUMBER", NUMBER},
        {"TW_API_TOKEN", "fuzz-api-token"},
        {"REDIS_URL", "unix:///nonexistent/tw-fuzz-api.sock"}, /* never reachable */
        {"LOG_LEVEL", "error"},
    };
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (strcmp(vars[i][0], name) == 0)
            return vars[i][1];
    return NULL;
}

static struct tw_config cfg;
static struct ing_api api;

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    tw_log_init("fuzz", TW_LOG_ERROR_L);
    check(tw_cfg_load(&cfg, TW_P_INGRESS, env, NULL) == TW_OK);
    api.cfg = &cfg;
    for (int i = 0; i < API_THREADS; i++)
        pthread_mutex_init(&api.redis[i].lock, NULL);
    atomic_init(&api.next_conn, 0);
}

/* ---------------------------------------------------------------- the rules, read again */

static bool ctype_ok(const char *ct)
{
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    ct += 16;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static bool idem_valid(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 255 || k[0] == ' ' || k[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x20 || k[i] > 0x7e)
            return false;
    return true;
}

static bool key_ours(json_t *key)
{
    if (!json_is_string(key) || strlen(json_string_value(key)) != json_string_length(key))
        return false;
    struct tw_conv c;
    const char *why = NULL;
    if (tw_conv_key_decode(json_string_value(key), &c, &why) != TW_OK)
        return false;
    bool ok = c.type == TW_CONV_ADDRESS && strcmp(c.account_sid, ACCOUNT) == 0 &&
              strcmp(c.address, NUMBER) == 0;
    tw_conv_cleanup(&c);
    return ok;
}

static size_t chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static bool acceptable(const char *ct, const char *idem, const char *body, size_t len)
{
    if (!ctype_ok(ct) || (idem && !idem_valid(idem)))
        return false;
    json_error_t err;
    json_t *in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    bool ok = json_is_object(in);
    const char *name;
    json_t *v;
    if (ok) {
        json_object_foreach(in, name, v)
        {
            ok = ok && (strcmp(name, "conversation_key") == 0 || strcmp(name, "body") == 0 ||
                        strcmp(name, "media_url") == 0);
        }
    }
    ok = ok && key_ours(json_object_get(in, "conversation_key"));
    json_t *b = ok ? json_object_get(in, "body") : NULL;
    ok = ok && (!b || json_is_null(b) || json_is_string(b));
    size_t text = json_is_string(b) ? json_string_length(b) : 0;
    ok = ok && (!text || chars(json_string_value(b), text) <= 1600);
    json_t *m = ok ? json_object_get(in, "media_url") : NULL;
    ok = ok && (!m || json_is_null(m) || (json_is_array(m) && json_array_size(m) <= 10));
    size_t i;
    if (ok && json_is_array(m)) {
        json_array_foreach(m, i, v)
        {
            ok = ok && json_is_string(v) && json_string_length(v) <= 2048 &&
                 strlen(json_string_value(v)) == json_string_length(v) &&
                 tw_cfg_url_ok(json_string_value(v));
        }
    }
    ok = ok && (text > 0 || (json_is_array(m) && json_array_size(m) > 0));
    json_decref(in);
    return ok;
}

/* ---------------------------------------------------------------- the target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    const char *ct = "application/json", *idem = NULL, *body = in;
    size_t len = size;
    if (size && in[0] == '#') {
        char *nl1 = memchr(in, '\n', size);
        char *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - in)) : NULL;
        if (!nl2 || memchr(in, '\0', (size_t)(nl2 - in))) {
            free(in);
            return 0; /* header lines are C strings */
        }
        *nl1 = *nl2 = '\0';
        ct = in + 1;
        idem = nl1[1] ? nl1 + 1 : NULL;
        body = nl2 + 1;
        len = size - (size_t)(body - in);
    }
    /* the body as MHD hands it over: an exact-size buffer, no terminator */
    char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(in);
        return 0;
    }
    memcpy(exact, body, len);

    struct api_answer a = {0};
    api_post_message(&api, exact, len, ct, idem, &a);
    check(a.status == 400 || a.status == 403 || a.status == 415 || a.status == 503);
    json_t *e = json_object_get(a.body, "error");
    check(json_is_string(json_object_get(e, "code")));
    check(json_is_string(json_object_get(e, "message")));
    check((a.status == 503) == acceptable(ct, idem, exact, len));
    json_decref(a.body);
    free(exact);
    free(in);
    return 0;
}
