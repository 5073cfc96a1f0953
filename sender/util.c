/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the sender's files. */
#include "sender/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

char *snd_join(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    char *s = malloc(la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    if (lc)
        memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = '\0';
    return s;
}

char *snd_reply_str(const redisReply *r)
{
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
        return NULL;
    char *s = malloc(r->len + 1);
    if (s) {
        memcpy(s, r->str, r->len);
        s[r->len] = '\0';
    }
    return s;
}

int64_t snd_reply_int(const redisReply *r, int64_t def)
{
    if (!r)
        return def;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < 24) {
        char buf[24], *end;
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0')
            return v;
    }
    return def;
}

void snd_random_hex(char out[33])
{
    unsigned char b[16] = {0};
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}
