/* SPDX-License-Identifier: MIT */
/* The pacing script: a virtual schedule per identity (GCRA without burst) and a sliding-window
 * counter per conversation, on Redis's clock. */
#include "sender/pacing.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/redis.h"
#include "sender/util.h"

/* KEYS: identity schedule, conversation window.
 * ARGV: interval ms (0 = off), conversation limit, window ms, horizon ms, token.
 * -> {1, wait until the slot} or {0, wait before asking again} */
static const char pace_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local interval = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[3])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)\n"
    "if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then\n"
    "  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')\n"
    "  return {0, math.max(1, tonumber(oldest[2]) + window - now)}\n"
    "end\n"
    "local slot = now\n"
    "if interval > 0 then\n"
    "  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "  if tat > slot then slot = tat end\n"
    "  if slot - now > tonumber(ARGV[4]) then return {0, slot - now - tonumber(ARGV[4])} end\n"
    "  redis.call('SET', KEYS[1], slot + interval, 'PX', slot + interval - now + 1000)\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], slot, ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[2], window + 1000)\n"
    "return {1, slot - now}\n";

static struct tw_rs_script s_pace;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    tw_rs_script_init(&s_pace, pace_lua);
}

int snd_pace_take(redisContext *c, const char *prefix, const char *identity, const char *conv_key,
                  double mps, const char *token, bool *granted, long *wait_ms)
{
    pthread_once(&once, init_once);
    char *k_id = snd_join(prefix, TW_K_PACE "id:", identity);
    char *k_conv = snd_join(prefix, TW_K_PACE "conv:", conv_key);
    int rc = TW_ENOMEM;
    redisReply *r = NULL;
    if (!k_id || !k_conv)
        goto out;
    char interval[32], limit[16], window[16], horizon[16];
    /* the interval in whole ms, never 0 for a positive rate */
    long iv = mps > 0 ? (long)(1000.0 / mps + 0.5) : 0;
    if (mps > 0 && iv < 1)
        iv = 1;
    snprintf(interval, sizeof interval, "%ld", iv);
    snprintf(limit, sizeof limit, "%d", SND_CONV_LIMIT);
    snprintf(window, sizeof window, "%d", SND_CONV_WINDOW_MS);
    snprintf(horizon, sizeof horizon, "%d", SND_PACE_HORIZON_MS);
    const char *argv[] = {k_id, k_conv, interval, limit, window, horizon, token};
    r = tw_rs_eval(c, &s_pace, 2, 7, argv, NULL);
    rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        *granted = snd_reply_int(r->element[0], 0) == 1;
        *wait_ms = (long)snd_reply_int(r->element[1], 0);
        rc = TW_OK;
    }
out:
    if (r)
        freeReplyObject(r);
    free(k_id);
    free(k_conv);
    return rc;
}
