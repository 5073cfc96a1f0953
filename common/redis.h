/* SPDX-License-Identifier: MIT */
/* Redis connections from REDIS_URL, and Lua scripts called by their SHA. */
#ifndef TW_REDIS_H
#define TW_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "common/err.h"

struct tw_redis_url {
    char host[256];
    int port;
    char unix_path[256]; /* set for unix:// URLs */
    char user[128];
    char password[256];
    int db;
};

/* Parses redis://[[user]:password@]host[:port][/db] or unix:///path[?db=N]. Returns TW_OK or
 * TW_EINVAL. */
int tw_rs_url_parse(const char *url, struct tw_redis_url *out) TW_MUSTCHECK;

/* Connects, authenticates, selects the database and sets the command timeout.
 * Returns a new context (caller frees with redisFree) or NULL with a reason in err. */
redisContext *tw_rs_connect(const struct tw_redis_url *u, int timeout_ms, char *err,
                            size_t errsz);

/* A Lua script with its SHA1 computed locally, so EVALSHA needs no SCRIPT LOAD round trip. */
struct tw_rs_script {
    const char *source; /* borrowed: a string literal */
    char sha[41];
};

void tw_rs_script_init(struct tw_rs_script *s, const char *source);

/* Runs the script by SHA, falling back to EVAL on NOSCRIPT. argv holds the keys then the args;
 * lens gives each length. Returns a new reply (freeReplyObject) or NULL on connection error. */
redisReply *tw_rs_eval(redisContext *c, const struct tw_rs_script *s, int nkeys, int argc,
                       const char **argv, const size_t *lens);

/* Appends EVALSHA to the output buffer without waiting (pipelining). */
int tw_rs_eval_append(redisContext *c, const struct tw_rs_script *s, int nkeys, int argc,
                      const char **argv, const size_t *lens) TW_MUSTCHECK;

/* True when the reply is the NOSCRIPT error. */
int tw_rs_is_noscript(const redisReply *r);

/* Builds prefix+suffix into out (NUL-terminated, truncated at outsz). */
void tw_rs_key(char *out, size_t outsz, const char *prefix, const char *suffix);

#endif
