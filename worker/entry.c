/* SPDX-License-Identifier: MIT */
/* Stream entry decoding: every field is checked, nothing is trusted to be well-formed. */
#include "worker/entry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"

void wrk_entry_cleanup(struct wrk_entry *e)
{
    json_decref(e->payload);
    json_decref(e->conversation);
    free(e->conversation_key);
    memset(e, 0, sizeof *e);
}

const char *wrk_entry_get(const struct wrk_entry *e, const char *name)
{
    return json_string_value(json_object_get(e->payload, name));
}

static bool field_is(const redisReply *f, const char *name)
{
    size_t n = strlen(name);
    return f->type == REDIS_REPLY_STRING && f->len == n && memcmp(f->str, name, n) == 0;
}

static int64_t parse_ms(const redisReply *v)
{
    if (v->len == 0 || v->len > 18)
        return 0;
    int64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->str[i] < '0' || v->str[i] > '9')
            return 0;
        x = x * 10 + (v->str[i] - '0');
    }
    return x;
}

int wrk_entry_decode(const redisReply *e, struct wrk_entry *out)
{
    memset(out, 0, sizeof *out);
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= WRK_ID_MAX)
        return TW_EPARSE;
    memcpy(out->id, e->element[0]->str, e->element[0]->len);
    out->id[e->element[0]->len] = '\0';
    const redisReply *f = e->elements > 1 ? e->element[1] : NULL;
    if (!f || f->type != REDIS_REPLY_ARRAY) {
        out->bad = "entry has no fields";
        return TW_OK;
    }
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        if (field_is(k, TW_F_PAYLOAD) && !out->payload) {
            out->payload = json_loadb(v->str, v->len, JSON_REJECT_DUPLICATES, NULL);
        } else if (field_is(k, TW_F_CONVERSATION) && !out->conversation) {
            out->conversation = json_loadb(v->str, v->len, JSON_REJECT_DUPLICATES, NULL);
        } else if (field_is(k, TW_F_CONVERSATION_KEY) && !out->conversation_key) {
            out->conversation_key = strndup(v->str, v->len);
            if (!out->conversation_key) {
                wrk_entry_cleanup(out);
                return TW_ENOMEM;
            }
        } else if (field_is(k, TW_F_RECEIVED_AT)) {
            out->received_at = parse_ms(v);
        }
    }
    if (out->payload && !json_is_object(out->payload)) {
        json_decref(out->payload);
        out->payload = NULL;
    }
    if (out->conversation && !json_is_object(out->conversation)) {
        json_decref(out->conversation);
        out->conversation = NULL;
    }
    out->sid = wrk_entry_get(out, "MessageSid");
    if (!out->payload)
        out->bad = "payload missing or not a JSON object";
    else if (!out->sid || !*out->sid) {
        out->sid = NULL;
        out->bad = "payload has no MessageSid";
    }
    return TW_OK;
}
