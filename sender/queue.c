/* SPDX-License-Identifier: MIT */
/* Stream commands of the senders group. */
#include "sender/queue.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/redis.h"
#include "sender/util.h"

void snd_entries_free(struct snd_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].job_id);
        free(e[i].conv_key);
    }
    free(e);
}

static void stream_key(char *out, size_t n, const char *prefix)
{
    tw_rs_key(out, n, prefix, TW_K_OUTBOUND);
}

static int is_err(const redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

int snd_queue_ensure_group(redisContext *c, const char *prefix)
{
    char k[512];
    stream_key(k, sizeof k, prefix);
    const char *argv[] = {"XGROUP", "CREATE", k, TW_G_SENDERS, "0", "MKSTREAM"};
    redisReply *r = redisCommandArgv(c, 6, argv, NULL);
    int rc = (r && (r->type == REDIS_REPLY_STATUS || is_err(r, "BUSYGROUP"))) ? TW_OK : TW_EREDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

/* Copies [id, [field, value, ...]] entries; ones without fields (deleted) are skipped. */
static int take_entries(const redisReply *list, struct snd_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list || list->type != REDIS_REPLY_ARRAY || list->elements == 0)
        return TW_OK;
    struct snd_entry *e = calloc(list->elements, sizeof *e);
    if (!e)
        return TW_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *it = list->element[i];
        if (it->type != REDIS_REPLY_ARRAY || it->elements != 2 ||
            it->element[0]->type != REDIS_REPLY_STRING || it->element[0]->len >= SND_ENTRY_ID_MAX)
            continue;
        memcpy(e[k].id, it->element[0]->str, it->element[0]->len);
        e[k].id[it->element[0]->len] = '\0';
        const redisReply *f = it->element[1];
        for (size_t j = 0; f && f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
            const redisReply *name = f->element[j];
            if (name->type != REDIS_REPLY_STRING)
                continue;
            char **dst = strcmp(name->str, TW_F_JOB_ID) == 0             ? &e[k].job_id
                         : strcmp(name->str, TW_F_CONVERSATION_KEY) == 0 ? &e[k].conv_key
                                                                         : NULL;
            if (dst && !*dst) {
                *dst = snd_reply_str(f->element[j + 1]);
                if (!*dst && f->element[j + 1]->type == REDIS_REPLY_STRING) {
                    snd_entries_free(e, k + 1);
                    return TW_ENOMEM;
                }
            }
        }
        k++;
    }
    *out = e;
    *n = k;
    return TW_OK;
}

int snd_queue_read(redisContext *c, const char *prefix, const char *me, int count, long block_ms,
                   struct snd_entry **out, size_t *n)
{
    char k[512], cnt[16], blk[24];
    stream_key(k, sizeof k, prefix);
    snprintf(cnt, sizeof cnt, "%d", count);
    snprintf(blk, sizeof blk, "%ld", block_ms);
    const char *with_block[] = {"XREADGROUP", "GROUP", TW_G_SENDERS, me, "COUNT", cnt,
                                "BLOCK",      blk,     "STREAMS",    k,  ">"};
    const char *no_block[] = {"XREADGROUP", "GROUP", TW_G_SENDERS, me, "COUNT", cnt,
                              "STREAMS",    k,       ">"};
    redisReply *r = block_ms >= 0 ? redisCommandArgv(c, 11, with_block, NULL)
                                  : redisCommandArgv(c, 9, no_block, NULL);
    *out = NULL;
    *n = 0;
    int rc = TW_EREDIS;
    if (is_err(r, "NOGROUP")) {
        /* the group was lost (e.g. Redis lost its data): recreate it, do not spin on NOGROUP */
        rc = snd_queue_ensure_group(c, prefix);
    } else if (r && r->type == REDIS_REPLY_NIL) {
        rc = TW_OK;
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
               r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
        rc = take_entries(r->element[0]->element[1], out, n);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

int snd_queue_autoclaim(redisContext *c, const char *prefix, const char *me, long min_idle_ms,
                        char cursor[SND_ENTRY_ID_MAX], int count, struct snd_entry **out, size_t *n)
{
    char k[512], idle[24], cnt[16];
    stream_key(k, sizeof k, prefix);
    snprintf(idle, sizeof idle, "%ld", min_idle_ms);
    snprintf(cnt, sizeof cnt, "%d", count);
    const char *argv[] = {"XAUTOCLAIM", k, TW_G_SENDERS, me, idle, cursor, "COUNT", cnt};
    redisReply *r = redisCommandArgv(c, 8, argv, NULL);
    *out = NULL;
    *n = 0;
    int rc = TW_EREDIS;
    if (is_err(r, "NOGROUP")) {
        rc = snd_queue_ensure_group(c, prefix);
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
               r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len < SND_ENTRY_ID_MAX) {
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        rc = take_entries(r->element[1], out, n);
    }
    if (r)
        freeReplyObject(r);
    return rc;
}

int snd_queue_touch(redisContext *c, const char *prefix, const char *me, long min_idle_ms,
                    const char *const *ids, size_t n)
{
    if (n == 0)
        return TW_OK;
    char k[512], idle[24];
    stream_key(k, sizeof k, prefix);
    snprintf(idle, sizeof idle, "%ld", min_idle_ms);
    const char **argv = calloc(n + 6, sizeof *argv);
    if (!argv)
        return TW_ENOMEM;
    size_t a = 0;
    argv[a++] = "XCLAIM";
    argv[a++] = k;
    argv[a++] = TW_G_SENDERS;
    argv[a++] = me;
    argv[a++] = idle;
    for (size_t i = 0; i < n; i++)
        argv[a++] = ids[i];
    argv[a++] = "JUSTID";
    redisReply *r = redisCommandArgv(c, (int)a, argv, NULL);
    int rc = (r && r->type == REDIS_REPLY_ARRAY) || is_err(r, "NOGROUP") ? TW_OK : TW_EREDIS;
    if (r)
        freeReplyObject(r);
    free(argv);
    return rc;
}

int snd_queue_ack(redisContext *c, const char *prefix, const char *id)
{
    char k[512];
    stream_key(k, sizeof k, prefix);
    const char *ack[] = {"XACK", k, TW_G_SENDERS, id};
    const char *del[] = {"XDEL", k, id};
    int rc = TW_EREDIS;
    if (redisAppendCommandArgv(c, 4, ack, NULL) != REDIS_OK ||
        redisAppendCommandArgv(c, 3, del, NULL) != REDIS_OK)
        return TW_EREDIS;
    redisReply *r1 = NULL, *r2 = NULL;
    if (redisGetReply(c, (void **)&r1) == REDIS_OK && redisGetReply(c, (void **)&r2) == REDIS_OK &&
        r1->type == REDIS_REPLY_INTEGER && r2->type == REDIS_REPLY_INTEGER)
        rc = TW_OK;
    if (r1)
        freeReplyObject(r1);
    if (r2)
        freeReplyObject(r2);
    return rc;
}

int snd_queue_stats(redisContext *c, const char *prefix, long long *lag, long long *pending)
{
    char k[512];
    stream_key(k, sizeof k, prefix);
    *lag = *pending = -1;
    const char *argv[] = {"XINFO", "GROUPS", k};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    int rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        rc = TW_OK;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *g = r->element[i];
            bool ours = false;
            long long l = -1, p = -1;
            for (size_t j = 0; g->type == REDIS_REPLY_ARRAY && j + 1 < g->elements; j += 2) {
                const redisReply *name = g->element[j], *v = g->element[j + 1];
                if (name->type != REDIS_REPLY_STRING)
                    continue;
                if (!strcmp(name->str, "name"))
                    ours = v->type == REDIS_REPLY_STRING && !strcmp(v->str, TW_G_SENDERS);
                else if (!strcmp(name->str, "lag"))
                    l = snd_reply_int(v, -1);
                else if (!strcmp(name->str, "pending"))
                    p = snd_reply_int(v, -1);
            }
            if (ours) {
                *lag = l;
                *pending = p;
            }
        }
    } else if (is_err(r, "ERR no such key")) {
        rc = TW_OK;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}
