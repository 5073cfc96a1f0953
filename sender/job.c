/* SPDX-License-Identifier: MIT */
/* The job's steps in Redis (see job.h for the state machine). Times come from Redis's own clock
 * (TIME inside the scripts), so every replica's leases and markers share one clock. */
#include "sender/job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/redis.h"
#include "sender/util.h"

/* clang-format off */
#define LUA_NOW                                                                                    \
    "local t = redis.call('TIME')\n"                                                               \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
#define LUA_FINAL "local final = {sent = true, failed = true, unknown = true}\n"

/* KEYS: job, outq[, opt-out set...]. ARGV: job id, me, lease ms, job key prefix, participant.
 * -> {kind, state|holder, now, conversation_key, body, media_url, source, attempts, attempt_at,
 *     created_at, opted_out} */
static const char claim_lua[] =
    LUA_NOW LUA_FINAL
    "local j = redis.call('HMGET', KEYS[1], 'state', 'owner', 'lease_until')\n"
    "if not j[1] then redis.call('LREM', KEYS[2], 0, ARGV[1]); return {'gone', '', now} end\n"
    "if final[j[1]] then redis.call('LREM', KEYS[2], 0, ARGV[1]); return {'done', j[1], now} end\n"
    /* heal a head left behind by a job that finished or vanished without leaving the list */
    "for i = 1, 32 do\n"
    "  local head = redis.call('LINDEX', KEYS[2], 0)\n"
    "  if (not head) or head == ARGV[1] then break end\n"
    "  local hs = redis.call('HGET', ARGV[4] .. head, 'state')\n"
    "  if hs and not final[hs] then return {'wait', head, now} end\n"
    "  redis.call('LPOP', KEYS[2])\n"
    "end\n"
    "local head = redis.call('LINDEX', KEYS[2], 0)\n"
    "if head and head ~= ARGV[1] then return {'wait', head, now} end\n"
    "if j[2] and j[2] ~= ARGV[2] and tonumber(j[3] or '0') > now then\n"
    "  return {'busy', j[2], now}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'lease_until', now + tonumber(ARGV[3]))\n"
    "local f = redis.call('HMGET', KEYS[1], 'conversation_key', 'body', 'media_url', 'source',\n"
    "  'attempts', 'attempt_at', 'created_at')\n"
    /* the opt-out sets of the conversation's destination(s), when given */
    "local opted = 0\n"
    "for i = 3, #KEYS do\n"
    "  if redis.call('SISMEMBER', KEYS[i], ARGV[5]) == 1 then opted = 1 end\n"
    "end\n"
    "return {'ok', j[1], now, f[1] or '', f[2] or '', f[3] or '', f[4] or '', f[5] or '0',\n"
    "  f[6] or '0', f[7] or '0', opted}\n";

/* KEYS: job. ARGV: me, token, lease ms. -> {1, now, attempts} or {0, now} */
static const char mark_lua[] =
    LUA_NOW
    "local j = redis.call('HMGET', KEYS[1], 'state', 'owner')\n"
    "if j[2] ~= ARGV[1] or j[1] ~= 'queued' then return {0, now} end\n"
    "local a = redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "redis.call('HSET', KEYS[1], 'state', 'sending', 'attempt_token', ARGV[2], 'attempt_at', now,\n"
    "  'lease_until', now + tonumber(ARGV[3]), 'updated_at', now)\n"
    "return {1, now, a}\n";

/* KEYS: job. ARGV: me, last error, delay ms, reconciled. -> 1 or 0 */
static const char retry_lua[] =
    LUA_NOW
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'state', 'queued', 'last_error', ARGV[2],\n"
    "  'next_at', now + tonumber(ARGV[3]), 'updated_at', now)\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reconciled', ARGV[4]) end\n"
    "return 1\n";

/* KEYS: job... ARGV: me, lease ms. -> {1|0, ...} */
static const char renew_lua[] =
    LUA_NOW
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  if redis.call('HGET', KEYS[i], 'owner') == ARGV[1] then\n"
    "    redis.call('HSET', KEYS[i], 'lease_until', now + tonumber(ARGV[2]))\n"
    "    out[i] = 1\n"
    "  else out[i] = 0 end\n"
    "end\n"
    "return out\n";

/* KEYS: job. ARGV: me. */
static const char release_lua[] =
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end\n"
    "redis.call('HDEL', KEYS[1], 'owner', 'lease_until')\n"
    "return 1\n";

/* KEYS: job, outq, stream, dead[, msg]. ARGV: me, job id, state, entry id, group, ttl, dead,
 * reason, job key prefix, then field/value pairs.
 * -> 0 (not ours) or {1[, next job id, its stream id]}: the conversation's next job, so the
 * caller may carry on with it at once */
static const char finish_lua[] =
    LUA_NOW
    "if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end\n"
    "local f = {'state', ARGV[3], 'updated_at', now, 'finished_at', now}\n"
    "for i = 10, #ARGV, 2 do f[#f + 1] = ARGV[i]; f[#f + 1] = ARGV[i + 1] end\n"
    "redis.call('HSET', KEYS[1], unpack(f))\n"
    "redis.call('HDEL', KEYS[1], 'owner', 'lease_until')\n"
    "redis.call('LREM', KEYS[2], 0, ARGV[2])\n"
    /* the entry named by the job itself, whoever's pending list holds it */
    "local eid = redis.call('HGET', KEYS[1], 'stream_id') or ARGV[4]\n"
    "if eid ~= '' then\n"
    "  redis.call('XACK', KEYS[3], ARGV[5], eid)\n"
    "  redis.call('XDEL', KEYS[3], eid)\n"
    "end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[6])\n"
    "if ARGV[7] == '1' then\n"
    "  local d = {'job_id', ARGV[2], 'reason', ARGV[8], 'state', ARGV[3], 'failed_at', now}\n"
    "  local names = {'conversation_key', 'attempts', 'error_code', 'error_message',\n"
    "    'more_info', 'source', 'created_at'}\n"
    "  local v = redis.call('HMGET', KEYS[1], unpack(names))\n"
    "  for i = 1, #names do\n"
    "    if v[i] then d[#d + 1] = names[i]; d[#d + 1] = v[i] end\n"
    "  end\n"
    "  redis.call('XADD', KEYS[4], '*', unpack(d))\n"
    "end\n"
    "if KEYS[5] then redis.call('HSET', KEYS[5], 'job_id', ARGV[2]) end\n"
    "local nxt = redis.call('LINDEX', KEYS[2], 0)\n"
    "if nxt then\n"
    "  return {1, nxt, redis.call('HGET', ARGV[9] .. nxt, 'stream_id') or ''}\n"
    "end\n"
    "return {1}\n";

/* clang-format on */

static struct tw_rs_script s_claim, s_mark, s_retry, s_renew, s_release, s_finish;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    tw_rs_script_init(&s_claim, claim_lua);
    tw_rs_script_init(&s_mark, mark_lua);
    tw_rs_script_init(&s_retry, retry_lua);
    tw_rs_script_init(&s_renew, renew_lua);
    tw_rs_script_init(&s_release, release_lua);
    tw_rs_script_init(&s_finish, finish_lua);
}

void snd_job_scripts_init(void)
{
    pthread_once(&once, init_once);
}

void snd_job_cleanup(struct snd_job *j)
{
    free(j->state);
    free(j->conversation_key);
    free(j->body);
    free(j->media_json);
    free(j->source);
    memset(j, 0, sizeof *j);
}

/* NULL for "" so absent and empty read the same. */
static char *str_or_null(const redisReply *r, bool *oom)
{
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return NULL;
    char *s = snd_reply_str(r);
    if (!s)
        *oom = true;
    return s;
}

int snd_job_claim(redisContext *c, const char *prefix, const char *job_id, const char *conv_key,
                  const char *me, long lease_ms, const struct snd_optout_q *oq, struct snd_job *j)
{
    snd_job_scripts_init();
    memset(j, 0, sizeof *j);
    char *k_job = snd_join(prefix, TW_K_JOB, job_id);
    char *k_outq = snd_join(prefix, TW_K_OUTQ, conv_key);
    char *k_jobs = snd_join(prefix, TW_K_JOB, NULL);
    char lease[24];
    redisReply *r = NULL;
    int rc = TW_ENOMEM;
    if (!k_job || !k_outq || !k_jobs)
        goto out;
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    const char *argv[9] = {k_job, k_outq};
    int nkeys = 2;
    for (int i = 0; oq && i < 2; i++)
        if (oq->keys[i])
            argv[nkeys++] = oq->keys[i];
    int n = nkeys;
    argv[n++] = job_id;
    argv[n++] = me;
    argv[n++] = lease;
    argv[n++] = k_jobs;
    argv[n++] = oq && oq->participant ? oq->participant : "";
    r = tw_rs_eval(c, &s_claim, nkeys, n, argv, NULL);
    rc = TW_EREDIS;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        goto out;
    const char *kind = r->element[0]->str;
    j->redis_now = snd_reply_int(r->element[2], 0);
    bool oom = false;
    if (strcmp(kind, "gone") == 0) {
        j->kind = SND_CLAIM_GONE;
    } else if (strcmp(kind, "done") == 0) {
        j->kind = SND_CLAIM_DONE;
        j->state = str_or_null(r->element[1], &oom);
    } else if (strcmp(kind, "wait") == 0) {
        j->kind = SND_CLAIM_WAIT;
    } else if (strcmp(kind, "busy") == 0) {
        j->kind = SND_CLAIM_BUSY;
    } else if (strcmp(kind, "ok") == 0 && r->elements == 11) {
        j->kind = SND_CLAIM_OK;
        j->state = str_or_null(r->element[1], &oom);
        j->conversation_key = str_or_null(r->element[3], &oom);
        j->body = str_or_null(r->element[4], &oom);
        j->media_json = str_or_null(r->element[5], &oom);
        j->source = str_or_null(r->element[6], &oom);
        j->attempts = (long)snd_reply_int(r->element[7], 0);
        j->attempt_at = snd_reply_int(r->element[8], 0);
        j->created_at = snd_reply_int(r->element[9], 0);
        j->opted_out = snd_reply_int(r->element[10], 0) == 1;
    } else {
        goto out;
    }
    rc = oom ? TW_ENOMEM : TW_OK;
out:
    if (r)
        freeReplyObject(r);
    if (rc < 0)
        snd_job_cleanup(j);
    free(k_job);
    free(k_outq);
    free(k_jobs);
    return rc;
}

int snd_job_mark(redisContext *c, const char *prefix, const char *job_id, const char *me,
                 const char *token, long lease_ms, int64_t *attempt_at, long *attempts)
{
    snd_job_scripts_init();
    char *k_job = snd_join(prefix, TW_K_JOB, job_id);
    if (!k_job)
        return TW_ENOMEM;
    char lease[24];
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    const char *argv[] = {k_job, me, token, lease};
    redisReply *r = tw_rs_eval(c, &s_mark, 1, 4, argv, NULL);
    int rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        if (snd_reply_int(r->element[0], 0) == 1 && r->elements == 3) {
            *attempt_at = snd_reply_int(r->element[1], 0);
            *attempts = (long)snd_reply_int(r->element[2], 0);
            rc = TW_OK;
        } else {
            rc = TW_ENOTFOUND;
        }
    }
    if (r)
        freeReplyObject(r);
    free(k_job);
    return rc;
}

/* Runs a script over one job key whose answer is 1 (done) or 0 (not ours). */
static int one_job(redisContext *c, const struct tw_rs_script *s, const char *prefix,
                   const char *job_id, int argc, const char **args)
{
    snd_job_scripts_init();
    char *k_job = snd_join(prefix, TW_K_JOB, job_id);
    if (!k_job)
        return TW_ENOMEM;
    const char *argv[8] = {k_job};
    for (int i = 0; i < argc && i < 7; i++)
        argv[i + 1] = args[i];
    redisReply *r = tw_rs_eval(c, s, 1, argc + 1, argv, NULL);
    int rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_INTEGER)
        rc = r->integer == 1 ? TW_OK : TW_ENOTFOUND;
    if (r)
        freeReplyObject(r);
    free(k_job);
    return rc;
}

int snd_job_retry(redisContext *c, const char *prefix, const char *job_id, const char *me,
                  const char *last_error, long delay_ms, const char *reconciled)
{
    char delay[24];
    snprintf(delay, sizeof delay, "%ld", delay_ms);
    const char *args[] = {me, last_error ? last_error : "", delay, reconciled ? reconciled : ""};
    return one_job(c, &s_retry, prefix, job_id, 4, args);
}

int snd_job_release(redisContext *c, const char *prefix, const char *job_id, const char *me)
{
    const char *args[] = {me};
    return one_job(c, &s_release, prefix, job_id, 1, args);
}

int snd_job_renew(redisContext *c, const char *prefix, const char *const *job_ids, size_t n,
                  const char *me, long lease_ms, bool *alive)
{
    snd_job_scripts_init();
    if (n == 0)
        return TW_OK;
    char lease[24];
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    const char **argv = calloc(n + 2, sizeof *argv);
    int rc = TW_ENOMEM;
    size_t made = 0;
    redisReply *r = NULL;
    if (!argv)
        goto out;
    for (; made < n; made++) {
        argv[made] = snd_join(prefix, TW_K_JOB, job_ids[made]);
        if (!argv[made])
            goto out;
    }
    argv[n] = me;
    argv[n + 1] = lease;
    r = tw_rs_eval(c, &s_renew, (int)n, (int)n + 2, argv, NULL);
    rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == n) {
        for (size_t i = 0; i < n; i++)
            alive[i] = snd_reply_int(r->element[i], 0) == 1;
        rc = TW_OK;
    }
out:
    if (r)
        freeReplyObject(r);
    for (size_t i = 0; argv && i < made; i++)
        free((char *)argv[i]);
    free(argv);
    return rc;
}

int snd_job_finish(redisContext *c, const char *prefix, const char *job_id, const char *conv_key,
                   const char *entry_id, const char *me, const struct snd_outcome_rec *o,
                   struct snd_next *next)
{
    snd_job_scripts_init();
    char *k_job = snd_join(prefix, TW_K_JOB, job_id);
    char *k_outq = snd_join(prefix, TW_K_OUTQ, conv_key ? conv_key : "");
    char *k_stream = snd_join(prefix, TW_K_OUTBOUND, NULL);
    char *k_dead = snd_join(prefix, TW_K_OUTBOUND_DEAD, NULL);
    char *k_msg = o->sid ? snd_join(prefix, TW_K_MSG, o->sid) : NULL;
    char *k_jobs = snd_join(prefix, TW_K_JOB, NULL);
    int rc = TW_ENOMEM;
    redisReply *r = NULL;
    if (next)
        memset(next, 0, sizeof *next);
    if (!k_job || !k_outq || !k_stream || !k_dead || !k_jobs || (o->sid && !k_msg))
        goto out;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%d", SND_JOB_TTL_S);
    const char *argv[32];
    int n = 0, nkeys = 4;
    argv[n++] = k_job;
    argv[n++] = k_outq;
    argv[n++] = k_stream;
    argv[n++] = k_dead;
    if (k_msg) {
        argv[n++] = k_msg;
        nkeys = 5;
    }
    argv[n++] = me;
    argv[n++] = job_id;
    argv[n++] = o->state;
    argv[n++] = entry_id ? entry_id : "";
    argv[n++] = TW_G_SENDERS;
    argv[n++] = ttl;
    argv[n++] = o->dead ? "1" : "0";
    argv[n++] = o->reason ? o->reason : "";
    argv[n++] = k_jobs;
    const char *fields[][2] = {{"sid", o->sid},
                               {"error_code", o->error_code},
                               {"error_message", o->error_message},
                               {"more_info", o->more_info},
                               {"reconciled", o->reconciled}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i][1]) {
            argv[n++] = fields[i][0];
            argv[n++] = fields[i][1];
        }
    }
    r = tw_rs_eval(c, &s_finish, nkeys, n, argv, NULL);
    rc = TW_EREDIS;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        rc = TW_ENOTFOUND;
    } else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1) {
        rc = TW_OK;
        if (next && r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING &&
            r->element[2]->type == REDIS_REPLY_STRING && r->element[1]->len < TW_JOB_ID_MAX &&
            r->element[2]->len < sizeof next->entry_id) {
            memcpy(next->job_id, r->element[1]->str, r->element[1]->len);
            memcpy(next->entry_id, r->element[2]->str, r->element[2]->len);
        }
    }
out:
    if (r)
        freeReplyObject(r);
    free(k_job);
    free(k_outq);
    free(k_stream);
    free(k_dead);
    free(k_msg);
    free(k_jobs);
    return rc;
}

int snd_job_sid_taken(redisContext *c, const char *prefix, const char *sid, const char *job_id,
                      bool *taken)
{
    char *k = snd_join(prefix, TW_K_MSG, sid);
    if (!k)
        return TW_ENOMEM;
    const char *argv[] = {"HGET", k, "job_id"};
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    int rc = TW_EREDIS;
    if (r && (r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_STRING)) {
        *taken = r->type == REDIS_REPLY_STRING && strcmp(r->str, job_id) != 0;
        rc = TW_OK;
    }
    if (r)
        freeReplyObject(r);
    free(k);
    return rc;
}
