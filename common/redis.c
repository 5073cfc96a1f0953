/* SPDX-License-Identifier: MIT */
/* Redis connection set-up and script calls. */
#include "common/redis.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decodes %XX in a URL component (user info may hold reserved characters). */
static int pct_copy(char *out, size_t outsz, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return TW_EINVAL;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
            if (c == '\0') /* would silently cut the secret short */
                return TW_EINVAL;
        }
        if (o + 1 >= outsz)
            return TW_EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    return TW_OK;
}

/* Reads 1..max (or 0..max) as plain decimal digits: no sign, no spaces. Returns the end or NULL. */
static const char *parse_digits(const char *p, long min, long max, int *out)
{
    long v = 0;
    const char *s = p;
    while (*p >= '0' && *p <= '9' && v <= max)
        v = v * 10 + (*p++ - '0');
    if (p == s || v < min || v > max)
        return NULL;
    *out = (int)v;
    return p;
}

int tw_rs_url_parse(const char *url, struct tw_redis_url *u)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        size_t n = strcspn(path, "?");
        if (n == 0 || n >= sizeof u->unix_path)
            return TW_EINVAL;
        memcpy(u->unix_path, path, n);
        if (path[n] == '\0')
            return TW_OK;
        const char *end = strncmp(path + n, "?db=", 4) == 0
                              ? parse_digits(path + n + 4, 0, 100000, &u->db)
                              : NULL;
        return end && *end == '\0' ? TW_OK : TW_EINVAL;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return TW_EINVAL;
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            if (pct_copy(u->user, sizeof u->user, p, (size_t)(colon - p)) < 0 ||
                pct_copy(u->password, sizeof u->password, colon + 1, (size_t)(at - colon - 1)) < 0)
                return TW_EINVAL;
        } else if (pct_copy(u->password, sizeof u->password, p, (size_t)(at - p)) < 0) {
            return TW_EINVAL;
        }
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof u->host)
        return TW_EINVAL;
    memcpy(u->host, p, hl);
    p += hl;
    if (*p == ':') {
        p = parse_digits(p + 1, 1, 65535, &u->port);
        if (!p)
            return TW_EINVAL;
    }
    if (*p == '/' && p[1]) {
        const char *end = parse_digits(p + 1, 0, 100000, &u->db);
        if (!end || *end)
            return TW_EINVAL;
    } else if (*p && strcmp(p, "/") != 0) {
        return TW_EINVAL;
    }
    return TW_OK;
}

static int check_ok(redisContext *c, redisReply *r, char *err, size_t errsz, const char *what)
{
    if (!r) {
        snprintf(err, errsz, "%s: %s", what, c->errstr);
        return TW_EREDIS;
    }
    int rc = TW_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "%s: %.*s", what, (int)r->len, r->str);
        rc = TW_EREDIS;
    }
    freeReplyObject(r);
    return rc;
}

redisContext *tw_rs_connect(const struct tw_redis_url *u, int timeout_ms, char *err, size_t errsz)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = u->unix_path[0] ? redisConnectUnixWithTimeout(u->unix_path, tv)
                                      : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(err, errsz, "connect: %s", c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errsz, "timeout: %s", c->errstr);
        goto fail;
    }
    if (!u->unix_path[0])
        redisEnableKeepAlive(c);
    if (u->password[0]) {
        redisReply *r;
        if (u->user[0]) {
            const char *argv[] = {"AUTH", u->user, u->password};
            r = redisCommandArgv(c, 3, argv, NULL);
        } else {
            const char *argv[] = {"AUTH", u->password};
            r = redisCommandArgv(c, 2, argv, NULL);
        }
        if (check_ok(c, r, err, errsz, "AUTH") < 0)
            goto fail;
    }
    if (u->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[] = {"SELECT", db};
        if (check_ok(c, redisCommandArgv(c, 2, argv, NULL), err, errsz, "SELECT") < 0)
            goto fail;
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}

void tw_rs_script_init(struct tw_rs_script *s, const char *source)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)source, strlen(source), md);
    s->source = source;
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(s->sha + 2 * i, 3, "%02x", md[i]);
}

int tw_rs_is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->len >= 8 && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* Builds [cmd, sha-or-source, nkeys, argv...] for redisCommandArgv. */
static int build_argv(const struct tw_rs_script *s, int use_source, int nkeys, int argc,
                      const char **argv, const size_t *lens, const char ***out_v, size_t **out_l,
                      char *nk)
{
    const char **v = malloc(sizeof *v * (size_t)(argc + 3));
    size_t *l = malloc(sizeof *l * (size_t)(argc + 3));
    if (!v || !l) {
        free(v);
        free(l);
        return TW_ENOMEM;
    }
    snprintf(nk, 16, "%d", nkeys);
    v[0] = use_source ? "EVAL" : "EVALSHA";
    l[0] = strlen(v[0]);
    v[1] = use_source ? s->source : s->sha;
    l[1] = strlen(v[1]);
    v[2] = nk;
    l[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        v[i + 3] = argv[i];
        l[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    *out_v = v;
    *out_l = l;
    return TW_OK;
}

int tw_rs_eval_append(redisContext *c, const struct tw_rs_script *s, int nkeys, int argc,
                      const char **argv, const size_t *lens)
{
    const char **v;
    size_t *l;
    char nk[16];
    int rc = build_argv(s, 0, nkeys, argc, argv, lens, &v, &l, nk);
    if (rc < 0)
        return rc;
    rc = redisAppendCommandArgv(c, argc + 3, v, l) == REDIS_OK ? TW_OK : TW_EREDIS;
    free(v);
    free(l);
    return rc;
}

redisReply *tw_rs_eval(redisContext *c, const struct tw_rs_script *s, int nkeys, int argc,
                       const char **argv, const size_t *lens)
{
    redisReply *r = NULL;
    for (int use_source = 0; use_source < 2; use_source++) {
        const char **v;
        size_t *l;
        char nk[16];
        if (build_argv(s, use_source, nkeys, argc, argv, lens, &v, &l, nk) < 0)
            return NULL;
        r = redisCommandArgv(c, argc + 3, v, l);
        free(v);
        free(l);
        if (!tw_rs_is_noscript(r))
            break;
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

void tw_rs_key(char *out, size_t outsz, const char *prefix, const char *suffix)
{
    snprintf(out, outsz, "%s%s", prefix, suffix);
}
