/* SPDX-License-Identifier: MIT */
/* GET /v1/messages/<id>: the job's state and, once Twilio accepted it, its MessageSid and the
 * current delivery status from <prefix>msg:<sid>. error_code and error_message are the job's
 * (a refused or failed send) or else those of the delivery status (e.g. 30007 undelivered). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/outbound.h"
#include "ingress/api_internal.h"

/* Job ids are URL-safe: letters, digits, '-' and '_'. Anything else cannot name a job. */
static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n < TW_JOB_ID_MAX &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* A field of an HMGET reply as JSON: a string, or null when absent or empty. */
static json_t *str_or_null(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return json_null();
    return json_stringn(r->str, r->len);
}

/* Twilio's error codes are numbers; anything else stays a string. */
static json_t *code_json(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING || r->len == 0)
        return json_null();
    if (r->len < 10 && strspn(r->str, "0123456789") == r->len)
        return json_integer(strtol(r->str, NULL, 10));
    return json_stringn(r->str, r->len);
}

void api_get_message(struct ing_api *api, const char *id, struct api_answer *a)
{
    if (!id_ok(id)) {
        api_error(a, 404, "not_found", "no such message");
        return;
    }
    const char *prefix = api->cfg->redis_prefix;
    size_t kl = strlen(prefix) + TW_JOB_ID_MAX + 64;
    char *k_job = malloc(kl), *k_msg = malloc(kl);
    struct api_redis *slot = NULL;
    redisContext *c = NULL;
    redisReply *job = NULL, *msg = NULL;
    bool broken = false;
    if (!k_job || !k_msg) {
        api_error(a, 500, "internal", "out of memory");
        goto out;
    }
    snprintf(k_job, kl, "%s" TW_K_JOB "%s", prefix, id);
    c = api_redis_get(api, &slot);
    if (!c) {
        api_error(a, 503, "unavailable", "the store is unavailable; try again");
        goto out;
    }
    const char *hm[] = {"HMGET", k_job, "state", "sid", "error_code", "error_message"};
    job = redisCommandArgv(c, 6, hm, NULL);
    if (!job || job->type != REDIS_REPLY_ARRAY || job->elements != 4) {
        broken = true;
        api_error(a, 503, "unavailable", "the store is unavailable; try again");
        goto out;
    }
    if (job->element[0]->type != REDIS_REPLY_STRING) {
        api_error(a, 404, "not_found", "no such message");
        goto out;
    }
    const redisReply *sid = job->element[1];
    if (sid->type == REDIS_REPLY_STRING && sid->len > 0 && sid->len < 64) {
        snprintf(k_msg, kl, "%s" TW_K_MSG "%.*s", prefix, (int)sid->len, sid->str);
        const char *mh[] = {"HMGET", k_msg, "status", "error_code", "error_message"};
        msg = redisCommandArgv(c, 5, mh, NULL);
        if (!msg || msg->type != REDIS_REPLY_ARRAY || msg->elements != 3) {
            broken = true;
            api_error(a, 503, "unavailable", "the store is unavailable; try again");
            goto out;
        }
    }
    bool job_err = job->element[2]->type == REDIS_REPLY_STRING && job->element[2]->len > 0;
    const redisReply *ec = job_err || !msg ? job->element[2] : msg->element[1];
    const redisReply *em = job_err || !msg ? job->element[3] : msg->element[2];
    a->status = 200;
    a->body = json_pack("{s:s,s:o,s:o,s:o,s:o,s:o}", "id", id, "state",
                        str_or_null(job->element[0]), "sid", str_or_null(sid), "status",
                        msg ? str_or_null(msg->element[0]) : json_null(), "error_code",
                        code_json(ec), "error_message", str_or_null(em));
    if (!a->body)
        api_error(a, 500, "internal", "out of memory");
out:
    if (job)
        freeReplyObject(job);
    if (msg)
        freeReplyObject(msg);
    if (slot)
        api_redis_put(slot, broken);
    free(k_job);
    free(k_msg);
}
