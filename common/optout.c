/* SPDX-License-Identifier: MIT */
/* Opt-out records shared by the worker (STOP/START) and the sender (refusal, 21610). */
#include "common/optout.h"

#include <stdio.h>
#include <string.h>

#include "common/keys.h"

void tw_optout_key(char *out, size_t outsz, const char *prefix, const char *account,
                   const char *destination)
{
    snprintf(out, outsz, "%s" TW_K_OPTOUT "%s:%s", prefix, account, destination);
}

int tw_optout_set(redisContext *c, const char *prefix, const char *account,
                  const char *destination, const char *participant, bool opted_out)
{
    char key[512];
    tw_optout_key(key, sizeof key, prefix, account, destination);
    const char *argv[] = {opted_out ? "SADD" : "SREM", key, participant};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    int rc = (r && r->type == REDIS_REPLY_INTEGER) ? TW_OK : TW_EREDIS;
    if (r)
        freeReplyObject(r);
    return rc;
}

int tw_optout_get(redisContext *c, const char *prefix, const char *account,
                  const char *destination, const char *participant, bool *out)
{
    char key[512];
    tw_optout_key(key, sizeof key, prefix, account, destination);
    const char *argv[] = {"SISMEMBER", key, participant};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    int rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer == 1;
        rc = TW_OK;
    }
    if (r)
        freeReplyObject(r);
    return rc;
}
