/* SPDX-License-Identifier: MIT */
/* Redis replies turned into JSON, so no redisReply leaves this file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

#define MAX_ARGS 64

json_t *adm_json_string(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    /* Not valid UTF-8: keep the valid runs, one U+FFFD per bad byte (jansson checks). */
    char *copy = malloc(n * 3 + 1);
    if (!copy)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t run = 1;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0xf0)
            run = 4;
        else if (c >= 0xe0)
            run = 3;
        else if (c >= 0xc0)
            run = 2;
        json_t *probe = (c >= 0x80 && i + run <= n) ? json_stringn(s + i, run) : NULL;
        if (c < 0x80 && c != 0) {
            copy[o++] = (char)c;
            i++;
        } else if (probe) {
            memcpy(copy + o, s + i, run);
            o += run;
            i += run;
        } else {
            memcpy(copy + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
        json_decref(probe);
    }
    j = json_stringn(copy, o);
    free(copy);
    return j;
}

static json_t *to_json(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return adm_json_string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
        return json_integer(r->integer);
    case REDIS_REPLY_NIL:
        return json_null();
    case REDIS_REPLY_ARRAY: {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < r->elements; i++) {
            json_t *e = to_json(r->element[i]);
            if (!e || json_array_append_new(arr, e) < 0) {
                json_decref(arr);
                return NULL;
            }
        }
        return arr;
    }
    default:
        return NULL;
    }
}

/* Converts and frees the reply. */
static int finish(struct adm *a, redisReply *r, json_t **out)
{
    *out = NULL;
    if (!r) {
        snprintf(a->errstr, sizeof a->errstr, "%s", a->rc->errstr[0] ? a->rc->errstr : "no reply");
        return TW_EIO;
    }
    int rc = TW_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(a->errstr, sizeof a->errstr, "%.*s", (int)r->len, r->str);
        rc = TW_EREDIS;
    } else {
        *out = to_json(r);
        if (!*out) {
            snprintf(a->errstr, sizeof a->errstr, "out of memory");
            rc = TW_ENOMEM;
        }
    }
    freeReplyObject(r);
    return rc;
}

int adm_call(struct adm *a, json_t **out, int argc, const char **argv, const size_t *lens)
{
    return finish(a, redisCommandArgv(a->rc, argc, argv, lens), out);
}

int adm_callv(struct adm *a, json_t **out, ...)
{
    const char *argv[MAX_ARGS];
    int argc = 0;
    va_list ap;
    va_start(ap, out);
    for (const char *s = va_arg(ap, const char *); s && argc < MAX_ARGS;
         s = va_arg(ap, const char *))
        argv[argc++] = s;
    va_end(ap);
    return adm_call(a, out, argc, argv, NULL);
}

int adm_eval(struct adm *a, json_t **out, const struct tw_rs_script *s, int nkeys, int argc,
             const char **argv, const size_t *lens)
{
    return finish(a, tw_rs_eval(a->rc, s, nkeys, argc, argv, lens), out);
}

json_t *adm_pairs(const json_t *flat)
{
    if (!json_is_array(flat) || json_array_size(flat) % 2)
        return NULL;
    json_t *obj = json_object();
    for (size_t i = 0; obj && i < json_array_size(flat); i += 2) {
        const char *k = json_string_value(json_array_get(flat, i));
        if (!k || json_object_set(obj, k, json_array_get(flat, i + 1)) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}
