/* SPDX-License-Identifier: MIT */
/* POST /v1/messages: validation with a clear JSON error for each bad input, the conversation's
 * account and destination checked against ours, then one atomic enqueue (tw_outbound_enqueue).
 *
 * Idempotency-Key: the same key with the same request (same conversation_key, body and media,
 * whatever the JSON's spacing or field order) answers 202 with the original job id, the header
 * Idempotent-Replayed: true, and enqueues nothing; the same key with another request is 409.
 * Keys are remembered for TW_OUTBOUND_IDEM_TTL_S (24 h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/convkey.h"
#include "common/log.h"
#include "common/outbound.h"
#include "ingress/api_internal.h"

static bool is_json(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* 1..255 visible ASCII characters, spaces allowed inside. */
static bool idem_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > API_IDEM_KEY_MAX || k[0] == ' ' || k[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
            return false;
    return true;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* An absolute http(s) URL with a host, no white space, no user:password, bounded. */
static bool media_url_ok(const char *u, size_t n)
{
    return n <= API_URL_MAX && strlen(u) == n && tw_cfg_url_ok(u);
}

/* NULL when the key may be used by this deployment, else why not (for a 403). */
static const char *not_ours(const struct tw_config *cfg, const struct tw_conv *c)
{
    if (strcmp(c->account_sid, cfg->account_sid) != 0)
        return "the conversation belongs to another account";
    if (cfg->messaging_service_sid) {
        if (c->type != TW_CONV_SERVICE ||
            strcmp(c->messaging_service_sid, cfg->messaging_service_sid) != 0)
            return "the conversation belongs to another destination";
    } else if (c->type != TW_CONV_ADDRESS || strcmp(c->address, cfg->phone_number) != 0) {
        return "the conversation belongs to another destination";
    }
    return NULL;
}

/* Checks the media list; *out is the compact JSON to store (new: free()) or NULL for none. */
static bool check_media(json_t *m, struct api_answer *a, char **out)
{
    *out = NULL;
    if (!m || json_is_null(m))
        return true;
    if (!json_is_array(m)) {
        api_error(a, 400, "invalid_media_url", "media_url must be an array of URLs");
        return false;
    }
    if (json_array_size(m) > API_MEDIA_MAX) {
        api_error(a, 400, "too_many_media", "at most 10 media URLs");
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
    {
        if (!json_is_string(v) || !media_url_ok(json_string_value(v), json_string_length(v))) {
            api_error(a, 400, "invalid_media_url",
                      "each media_url must be an absolute http(s) URL with a host");
            return false;
        }
    }
    if (json_array_size(m) == 0)
        return true;
    *out = json_dumps(m, JSON_COMPACT);
    if (!*out) {
        api_error(a, 500, "internal", "out of memory");
        return false;
    }
    return true;
}

void api_post_message(struct ing_api *api, const char *body, size_t len, const char *ctype,
                      const char *idem, struct api_answer *a)
{
    json_t *in = NULL;
    struct tw_conv conv = {0};
    char *media = NULL;
    const char *why = NULL;
    json_error_t jerr;

    if (!is_json(ctype)) {
        api_error(a, 415, "unsupported_media_type", "Content-Type must be application/json");
        goto out;
    }
    if (idem && !idem_ok(idem)) {
        api_error(a, 400, "invalid_idempotency_key",
                  "Idempotency-Key must be 1 to 255 visible ASCII characters");
        goto out;
    }
    in = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        api_error(a, 400, "invalid_json", msg);
        goto out;
    }
    if (!json_is_object(in)) {
        api_error(a, 400, "invalid_json", "the body must be a JSON object");
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach(in, name, v)
    {
        if (strcmp(name, "conversation_key") != 0 && strcmp(name, "body") != 0 &&
            strcmp(name, "media_url") != 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown field \"%.100s\"", name);
            api_error(a, 400, "unknown_field", msg);
            goto out;
        }
    }
    json_t *key = json_object_get(in, "conversation_key");
    if (!json_is_string(key)) {
        api_error(a, 400, "invalid_conversation_key", "conversation_key (a string) is required");
        goto out;
    }
    if (tw_conv_key_decode(json_string_value(key), &conv, &why) < 0 ||
        strlen(json_string_value(key)) != json_string_length(key)) {
        char msg[200];
        snprintf(msg, sizeof msg, "conversation_key is not a canonical key: %s",
                 why ? why : "malformed");
        api_error(a, 400, "invalid_conversation_key", msg);
        goto out;
    }
    why = not_ours(api->cfg, &conv);
    if (why) {
        api_error(a, 403, "forbidden", why);
        goto out;
    }
    json_t *b = json_object_get(in, "body");
    if (b && !json_is_null(b) && !json_is_string(b)) {
        api_error(a, 400, "invalid_body", "body must be a string");
        goto out;
    }
    const char *text = json_is_string(b) ? json_string_value(b) : "";
    size_t text_len = json_is_string(b) ? json_string_length(b) : 0;
    if (utf8_chars(text, text_len) > API_BODY_CHARS_MAX) {
        api_error(a, 400, "body_too_long", "body is longer than 1600 characters");
        goto out;
    }
    if (!check_media(json_object_get(in, "media_url"), a, &media))
        goto out;
    if (text_len == 0 && !media) {
        api_error(a, 400, "body_or_media_required", "a body or at least one media_url is needed");
        goto out;
    }

    struct tw_outbound_req req = {.conversation_key = json_string_value(key),
                                  .body = text,
                                  .media_json = media,
                                  .idempotency_key = idem,
                                  .source = "api"};
    char id[TW_JOB_ID_MAX];
    struct api_redis *slot;
    redisContext *c = api_redis_get(api, &slot);
    int rc = c ? tw_outbound_enqueue(c, api->cfg->redis_prefix, &req, id) : TW_EREDIS;
    if (c)
        api_redis_put(slot, rc < 0);
    if (rc == TW_OUTBOUND_CONFLICT) {
        api_error(a, 409, "idempotency_conflict",
                  "this Idempotency-Key was used for a different request");
    } else if (rc == TW_OUTBOUND_CREATED || rc == TW_OUTBOUND_EXISTING) {
        a->status = 202;
        a->body = json_pack("{s:s}", "id", id);
        a->replayed = rc == TW_OUTBOUND_EXISTING;
        TW_LOG_INFO("api: message accepted", TW_F_STR("job_id", id),
                    TW_F_STR("idempotent_replay", a->replayed ? "true" : "false"));
    } else {
        api_error(a, 503, "unavailable", "the queue is unavailable; try again");
    }
out:
    tw_conv_cleanup(&conv);
    free(media);
    json_decref(in);
}
