/* SPDX-License-Identifier: MIT */
/* Enqueueing send jobs: idempotency check, job hash, stream entry and conversation list in one
 * Lua script, so no crash leaves a job without its entry or a key without its job. */
#include "common/outbound.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/clock.h"
#include "common/keys.h"
#include "common/redis.h"

/* KEYS: job, outbound stream, conversation list[, idem]
 * ARGV: job id, conversation key, body, media json ("" for none), source, created_at,
 *       request hash, idem ttl, idempotency key
 * Returns {1, id} created, {2, id} existing, {3, id} conflict, {0, ""} job id already taken. */
static const char enqueue_lua[] =
    "if #KEYS == 4 then\n"
    "  local cur = redis.call('HMGET', KEYS[4], 'job_id', 'hash')\n"
    "  if cur[1] then\n"
    "    if cur[2] == ARGV[7] then return {2, cur[1]} end\n"
    "    return {3, cur[1]}\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ''} end\n"
    "local eid = redis.call('XADD', KEYS[2], '*', '" TW_F_JOB_ID "', ARGV[1],\n"
    "  '" TW_F_CONVERSATION_KEY "', ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', 'queued', 'conversation_key', ARGV[2],\n"
    "  'body', ARGV[3], 'source', ARGV[5], 'created_at', ARGV[6], 'stream_id', eid,\n"
    "  'attempts', '0')\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'media_url', ARGV[4]) end\n"
    "redis.call('RPUSH', KEYS[3], ARGV[1])\n"
    "if #KEYS == 4 then\n"
    "  redis.call('HSET', KEYS[4], 'job_id', ARGV[1], 'hash', ARGV[7])\n"
    "  redis.call('EXPIRE', KEYS[4], ARGV[8])\n"
    "  redis.call('HSET', KEYS[1], 'idempotency_key', ARGV[9])\n"
    "end\n"
    "return {1, ARGV[1]}\n";

static struct tw_rs_script enqueue_script;
static pthread_once_t enqueue_once = PTHREAD_ONCE_INIT;

static void init_script(void)
{
    tw_rs_script_init(&enqueue_script, enqueue_lua);
}

/* "ob" + 12 hex digits of ms + 20 random hex digits. */
static int make_id(char out[TW_JOB_ID_MAX])
{
    unsigned char rnd[10];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return TW_EIO;
    int n = snprintf(out, TW_JOB_ID_MAX, "ob%012" PRIx64,
                     (uint64_t)tw_now_ms() & UINT64_C(0xffffffffffff));
    for (size_t i = 0; i < sizeof rnd; i++)
        n += snprintf(out + n, (size_t)(TW_JOB_ID_MAX - n), "%02x", rnd[i]);
    return TW_OK;
}

static int hash_field(EVP_MD_CTX *ctx, const char *s)
{
    /* length-prefixed, so ("ab","c") and ("a","bc") differ */
    char len[24];
    size_t n = s ? strlen(s) : 0;
    int ln = snprintf(len, sizeof len, "%zu:", n);
    return EVP_DigestUpdate(ctx, len, (size_t)ln) && (n == 0 || EVP_DigestUpdate(ctx, s, n));
}

/* Hex SHA-256 of what makes two requests "the same": conversation, body and media. */
static int request_hash(const struct tw_outbound_req *req, const char *body, const char *media,
                        char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             hash_field(ctx, req->conversation_key) && hash_field(ctx, body) &&
             hash_field(ctx, media) && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return TW_ENOMEM;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return TW_OK;
}

int tw_outbound_enqueue(redisContext *c, const char *prefix, const struct tw_outbound_req *req,
                        char job_id[TW_JOB_ID_MAX])
{
    if (!req || !req->conversation_key || !prefix)
        return TW_EINVAL;
    pthread_once(&enqueue_once, init_script);

    const char *body = req->body ? req->body : "";
    /* No media and an empty list are the same request. */
    const char *media =
        req->media_json && strcmp(req->media_json, "[]") != 0 ? req->media_json : "";
    const char *source = req->source ? req->source : "";
    const char *idem = req->idempotency_key && *req->idempotency_key ? req->idempotency_key : NULL;

    size_t klen = strlen(prefix) + strlen(req->conversation_key) + 16;
    if (idem && strlen(prefix) + strlen(idem) + 16 > klen)
        klen = strlen(prefix) + strlen(idem) + 16;
    char *k_outq = malloc(klen), *k_idem = malloc(klen);
    char k_job[512], k_stream[512];
    char hash[65], created[24], ttl[24];
    int rc = TW_ENOMEM;
    if (!k_outq || !k_idem)
        goto out;
    snprintf(k_outq, klen, "%s" TW_K_OUTQ "%s", prefix, req->conversation_key);
    if (idem)
        snprintf(k_idem, klen, "%s" TW_K_IDEM "%s", prefix, idem);
    tw_rs_key(k_stream, sizeof k_stream, prefix, TW_K_OUTBOUND);
    rc = request_hash(req, body, media, hash);
    if (rc < 0)
        goto out;
    snprintf(created, sizeof created, "%" PRId64, tw_now_ms());
    snprintf(ttl, sizeof ttl, "%d", TW_OUTBOUND_IDEM_TTL_S);

    for (int tries = 0; tries < 3; tries++) {
        char id[TW_JOB_ID_MAX];
        rc = make_id(id);
        if (rc < 0)
            goto out;
        snprintf(k_job, sizeof k_job, "%s" TW_K_JOB "%s", prefix, id);
        const char *argv[] = {k_job,
                              k_stream,
                              k_outq,
                              idem ? k_idem : "",
                              id,
                              req->conversation_key,
                              body,
                              media,
                              source,
                              created,
                              hash,
                              ttl,
                              idem ? idem : ""};
        int nkeys = idem ? 4 : 3;
        /* without an idempotency key, the empty 4th key is left out and the args follow */
        const char *v[13];
        int n = 0;
        for (int i = 0; i < 13; i++)
            if (i != 3 || idem)
                v[n++] = argv[i];
        redisReply *r = tw_rs_eval(c, &enqueue_script, nkeys, n, v, NULL);
        rc = TW_EREDIS;
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_INTEGER &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            long long code = r->element[0]->integer;
            if (code >= TW_OUTBOUND_CREATED && code <= TW_OUTBOUND_CONFLICT &&
                r->element[1]->len < TW_JOB_ID_MAX) {
                memcpy(job_id, r->element[1]->str, r->element[1]->len);
                job_id[r->element[1]->len] = '\0';
                rc = (int)code;
            } else if (code == 0) {
                rc = TW_EDUP; /* id collision: try another id */
            }
        }
        if (r)
            freeReplyObject(r);
        if (rc != TW_EDUP)
            break;
    }
    if (rc == TW_EDUP)
        rc = TW_EREDIS;
out:
    free(k_outq);
    free(k_idem);
    return rc;
}
