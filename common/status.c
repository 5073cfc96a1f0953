/* SPDX-License-Identifier: MIT */
/* The one status script: dedup against the history, forward-only move, history append, in one
 * atomic step. The ranking table below is the only copy; it is rendered into the script. */
#include "common/status.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/keys.h"
#include "common/redis.h"

static const struct rank_row {
    const char *status;
    int rank;
    bool sticky;
} ranks[] = {
    {"scheduled", 1, false}, {"accepted", 2, false},    {"queued", 3, false},
    {"sending", 4, false},   {"sent", 5, false},        {"canceled", 6, true},
    {"failed", 6, true},     {"undelivered", 6, false}, {"partially_delivered", 7, false},
    {"delivered", 8, false}, {"read", 9, false},
};
#define NRANKS (sizeof ranks / sizeof ranks[0])

int tw_status_rank(const char *status)
{
    for (size_t i = 0; status && i < NRANKS; i++)
        if (strcmp(ranks[i].status, status) == 0)
            return ranks[i].rank;
    return 0;
}

bool tw_status_sticky(const char *status)
{
    for (size_t i = 0; status && i < NRANKS; i++)
        if (strcmp(ranks[i].status, status) == 0)
            return ranks[i].sticky;
    return false;
}

/* KEYS[1] msg hash, KEYS[2] history list.
 * ARGV: status, at_ms, error_code, error_message, from, to, conversation_key.
 * Returns 1 moved, 2 history only, 3 duplicate (enum tw_status_result). */
static const char script_body[] =
    "local st = ARGV[1]\n"
    "for _, h in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do\n"
    "  local ok, e = pcall(cjson.decode, h)\n"
    "  if ok and type(e) == 'table' and e.status == st then return 3 end\n"
    "end\n"
    "local cur = redis.call('HGET', KEYS[1], 'status')\n"
    "local rank = RANK[st] or 0\n"
    "local move = false\n"
    "if rank > 0 then\n"
    "  if not cur then move = true\n"
    "  elseif not STICKY[cur] then move = rank > (RANK[cur] or 0) end\n"
    "end\n"
    "local fill = {'from', ARGV[5], 'to', ARGV[6], 'conversation_key', ARGV[7]}\n"
    "for i = 1, #fill, 2 do\n"
    "  if fill[i + 1] ~= '' then\n"
    "    local old = redis.call('HGET', KEYS[1], fill[i])\n"
    "    if not old or old == '' then redis.call('HSET', KEYS[1], fill[i], fill[i + 1]) end\n"
    "  end\n"
    "end\n"
    "if move then\n"
    "  redis.call('HSET', KEYS[1], 'status', st, 'rank', rank, 'updated_at', ARGV[2],\n"
    "    'error_code', ARGV[3], 'error_message', ARGV[4])\n"
    "end\n"
    "local ev = {status = st, at = tonumber(ARGV[2]), moved = move}\n"
    "if ARGV[3] ~= '' then ev.error_code = ARGV[3] end\n"
    "if ARGV[4] ~= '' then ev.error_message = ARGV[4] end\n"
    "if redis.call('LLEN', KEYS[2]) < HISTORY_MAX then\n"
    "  redis.call('RPUSH', KEYS[2], cjson.encode(ev))\n"
    "end\n"
    "if move then return 1 end\n"
    "return 2\n";

static struct tw_rs_script script;
static char *script_source; /* owned, malloc; lives as long as the process */
static pthread_once_t script_once = PTHREAD_ONCE_INIT;

/* Renders the ranking table into Lua: local RANK = {...}; local STICKY = {...}. */
static void init_script(void)
{
    struct tw_buf b;
    tw_buf_init(&b, 16384);
    int rc = tw_buf_puts(&b, "local RANK = {");
    for (size_t i = 0; i < NRANKS && rc == TW_OK; i++)
        rc = tw_buf_printf(&b, "%s = %d, ", ranks[i].status, ranks[i].rank);
    if (rc == TW_OK)
        rc = tw_buf_puts(&b, "}\nlocal STICKY = {");
    for (size_t i = 0; i < NRANKS && rc == TW_OK; i++)
        if (ranks[i].sticky)
            rc = tw_buf_printf(&b, "%s = true, ", ranks[i].status);
    if (rc == TW_OK)
        rc = tw_buf_printf(&b, "}\nlocal HISTORY_MAX = %d\n", TW_STATUS_HISTORY_MAX);
    if (rc == TW_OK)
        rc = tw_buf_puts(&b, script_body);
    if (rc != TW_OK) {
        tw_buf_cleanup(&b);
        return;
    }
    script_source = b.data;
    tw_rs_script_init(&script, script_source);
}

static int keys(const char *prefix, const char *sid, char **msg, char **hist)
{
    size_t n = strlen(prefix) + strlen(TW_K_MSG) + strlen(sid) + strlen(TW_K_HISTORY) + 1;
    *msg = malloc(n);
    *hist = malloc(n);
    if (!*msg || !*hist) {
        free(*msg);
        free(*hist);
        *msg = *hist = NULL;
        return TW_ENOMEM;
    }
    snprintf(*msg, n, "%s" TW_K_MSG "%s", prefix, sid);
    snprintf(*hist, n, "%s" TW_K_MSG "%s" TW_K_HISTORY, prefix, sid);
    return TW_OK;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

int tw_status_apply(redisContext *c, const char *prefix, const struct tw_status_event *ev)
{
    if (!c || !prefix || !ev || !ev->message_sid || !*ev->message_sid || !ev->status ||
        !*ev->status)
        return TW_EINVAL;
    pthread_once(&script_once, init_script);
    if (!script_source)
        return TW_ENOMEM;
    char *k_msg = NULL, *k_hist = NULL;
    int rc = keys(prefix, ev->message_sid, &k_msg, &k_hist);
    if (rc < 0)
        return rc;
    char at[24];
    snprintf(at, sizeof at, "%" PRId64, ev->at_ms);
    const char *argv[] = {k_msg,
                          k_hist,
                          ev->status,
                          at,
                          or_empty(ev->error_code),
                          or_empty(ev->error_message),
                          or_empty(ev->from),
                          or_empty(ev->to),
                          or_empty(ev->conversation_key)};
    redisReply *r = tw_rs_eval(c, &script, 2, 9, argv, NULL);
    rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= TW_STATUS_MOVED &&
        r->integer <= TW_STATUS_DUPLICATE)
        rc = (int)r->integer;
    if (r)
        freeReplyObject(r);
    free(k_msg);
    free(k_hist);
    return rc;
}

int tw_status_moved_before(redisContext *c, const char *prefix, const char *sid, const char *status,
                           bool *moved)
{
    *moved = false;
    char *k_msg = NULL, *k_hist = NULL;
    int rc = keys(prefix, sid, &k_msg, &k_hist);
    if (rc < 0)
        return rc;
    const char *argv[] = {"LRANGE", k_hist, "0", "-1"};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        rc = TW_OK;
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            json_t *j = json_loadb(e->str, e->len, 0, NULL);
            const char *st = json_string_value(json_object_get(j, "status"));
            if (st && strcmp(st, status) == 0)
                *moved = json_is_true(json_object_get(j, "moved"));
            json_decref(j);
        }
    }
    if (r)
        freeReplyObject(r);
    free(k_msg);
    free(k_hist);
    return rc;
}
