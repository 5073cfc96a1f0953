/* SPDX-License-Identifier: MIT */
/* One job's steps: claim, checks (age, opt-out), pacing, the attempt marker and the create
 * request, the meaning of its end, reconciliation, and the recorded outcome.
 *
 * The never-twice rule lives here: after the marker, a job is only sent again when Twilio
 * answered in a way that proves nothing was created (429, 401, a connection that never carried
 * the request), or when reconciliation shows that no such message exists. Anything else ends as
 * sent (the message was found) or unknown (for a person to decide). TW_SEND_MODE=at-least-once
 * sends again instead of ending as unknown. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/optout.h"
#include "common/status.h"
#include "sender/engine.h"
#include "sender/pacing.h"
#include "sender/reconcile.h"
#include "sender/smetrics.h"
#include "sender/util.h"

#define MAX_MEDIA 10

static const char *prefix_of(const struct snd_engine *e)
{
    return e->cfg->redis_prefix;
}

static void masked(char out[32], const char *addr)
{
    tw_log_mask(out, 32, addr ? addr : "");
}

/* ------------------------------------------------------------------ outcomes */

/* Writes a final outcome and drops the task. A Redis failure keeps the task to try again. */
/* Drops t and carries on with the conversation's next job when finish named one. */
static void drop_and_follow(struct snd_engine *e, struct snd_task *t, const struct snd_next *next)
{
    char *key = next->job_id[0] ? strdup(t->cq->key) : NULL;
    snd_task_drop(e, t);
    if (key)
        snd_task_follow(e, key, next->job_id, next->entry_id);
    free(key);
}

static void finish(struct snd_engine *e, struct snd_task *t, const struct snd_outcome_rec *o)
{
    struct snd_next next;
    int rc =
        snd_job_finish(e->rc, prefix_of(e), t->job_id, t->cq->key, t->entry_id, e->me, o, &next);
    if (rc == TW_EREDIS || rc == TW_ENOMEM) {
        snd_redis_failed(e, t, "finish");
        return;
    }
    if (rc == TW_ENOTFOUND)
        TW_LOG_WARN("job no longer ours; outcome not written", TW_F_STR("job_id", t->job_id),
                    TW_F_STR("state", o->state));
    drop_and_follow(e, t, &next);
}

static void fail(struct snd_engine *e, struct snd_task *t, const char *reason, const char *code,
                 const char *message, const char *more_info)
{
    char to[32];
    masked(to, t->to);
    char label[64];
    snprintf(label, sizeof label, "code=\"%s\"", code ? code : reason);
    tw_metrics_inc(SM_FAILED, label, 1);
    TW_LOG_WARN("job failed", TW_F_STR("job_id", t->job_id), TW_F_STR("reason", reason),
                TW_F_STR("error_code", code), TW_F_STR("error_message", message),
                TW_F_STR("to", to));
    struct snd_outcome_rec o = {.state = "failed",
                                .error_code = code,
                                .error_message = message,
                                .more_info = more_info,
                                .reason = reason,
                                .dead = true};
    finish(e, t, &o);
}

/* The message exists: store its first status with the shared status script, then the outcome. */
static void record_sent(struct snd_engine *e, struct snd_task *t)
{
    const struct snd_msg *m = &t->found;
    struct tw_status_event ev = {.message_sid = m->sid,
                                 .status = m->status ? m->status : "queued",
                                 .at_ms = tw_now_ms(),
                                 .from = m->from ? m->from : t->from,
                                 .to = m->to ? m->to : t->to,
                                 .conversation_key = t->cq->key};
    int rc = tw_status_apply(e->rc, prefix_of(e), &ev);
    if (rc < 0) {
        t->phase = PH_RECORD;
        snd_redis_failed(e, t, "status");
        return;
    }
    struct snd_outcome_rec o = {.state = "sent", .sid = m->sid, .reconciled = t->found_how};
    struct snd_next next;
    rc = snd_job_finish(e->rc, prefix_of(e), t->job_id, t->cq->key, t->entry_id, e->me, &o, &next);
    if (rc == TW_EREDIS || rc == TW_ENOMEM) {
        t->phase = PH_RECORD;
        snd_redis_failed(e, t, "finish");
        return;
    }
    char to[32];
    masked(to, t->to);
    if (rc == TW_ENOTFOUND) {
        TW_LOG_WARN("job no longer ours; sid kept in the status record only",
                    TW_F_STR("job_id", t->job_id), TW_F_STR("message_sid", m->sid));
    } else {
        tw_metrics_inc(SM_SENT, "", 1);
        TW_LOG_INFO("job sent", TW_F_STR("job_id", t->job_id), TW_F_STR("message_sid", m->sid),
                    TW_F_STR("status", ev.status), TW_F_STR("to", to),
                    TW_F_INT("attempts", t->job.attempts), TW_F_STR("reconciled", t->found_how));
    }
    drop_and_follow(e, t, &next);
}

/* Another attempt is allowed (nothing was created): back to pacing after delay_ms. */
static void again(struct snd_engine *e, struct snd_task *t, const char *why, long delay_ms,
                  const char *reconciled, const char *code, const char *message)
{
    if (t->job.attempts >= e->cfg->max_attempts) {
        fail(e, t, "max_attempts", code, message ? message : why, NULL);
        return;
    }
    if (t->job.created_at > 0 && tw_now_ms() + delay_ms - t->job.created_at > e->cfg->max_age_ms) {
        /* the next try would come after the age budget: a late reply is worth less than none */
        fail(e, t, "max_age", code, message ? message : why, NULL);
        return;
    }
    int rc = snd_job_retry(e->rc, prefix_of(e), t->job_id, e->me, why, delay_ms, reconciled);
    if (rc == TW_ENOTFOUND) {
        TW_LOG_WARN("job no longer ours", TW_F_STR("job_id", t->job_id));
        snd_task_drop(e, t);
        return;
    }
    if (rc < 0) {
        /* the job stays "sending" in Redis: whoever claims it next reconciles first */
        snd_redis_failed(e, t, "retry");
        t->phase = PH_RECONCILE;
        return;
    }
    t->phase = PH_PACE;
    t->wake = tw_mono_ms() + delay_ms;
}

/* Reconciliation could not decide. */
static void undecided(struct snd_engine *e, struct snd_task *t)
{
    if (e->cfg->send_mode == TW_SEND_AT_LEAST_ONCE) {
        tw_metrics_inc(SM_RECONCILED, "result=\"unverified\"", 1);
        TW_LOG_WARN("reconciliation failed; sending again (at-least-once)",
                    TW_F_STR("job_id", t->job_id));
        again(e, t, "unverified", 0, "unverified", NULL, NULL);
        return;
    }
    tw_metrics_inc(SM_RECONCILED, "result=\"unknown\"", 1);
    TW_LOG_ERROR("job state unknown: Twilio may or may not have created it",
                 TW_F_STR("job_id", t->job_id));
    struct snd_outcome_rec o = {
        .state = "unknown",
        .error_message = "the create request ended ambiguously and Twilio's message list could "
                         "not be read to tell whether the message exists",
        .reason = "ambiguous",
        .dead = true};
    finish(e, t, &o);
}

/* ------------------------------------------------------------------ claim */

/* Decodes the conversation key of the entry once; NULL or why it cannot be used. */
static const char *decode_conv(struct snd_engine *e, struct snd_task *t)
{
    const char *why = NULL;
    if (!t->conv.account_sid && tw_conv_key_decode(t->cq->key, &t->conv, &why) < 0)
        return why ? why : "bad conversation key";
    if (strcmp(t->conv.account_sid, e->cfg->account_sid) != 0)
        return "conversation key names another account";
    t->to = t->conv.participant;
    if (t->conv.type == TW_CONV_SERVICE) {
        t->mg = t->conv.messaging_service_sid;
        t->identity = t->mg;
        t->destination = t->mg;
    } else {
        t->from = t->conv.address;
        t->identity = t->from;
        t->destination = t->from;
    }
    return NULL;
}

/* Reads the media of a claimed job; NULL or why it cannot be sent. */
static const char *prepare(struct snd_task *t)
{
    if (!t->job.conversation_key || strcmp(t->job.conversation_key, t->cq->key) != 0)
        return "conversation_key of the job does not match its entry";
    for (size_t i = 0; i < t->nmedia; i++)
        free(t->media[i]);
    free(t->media);
    t->media = NULL;
    t->nmedia = 0;
    if (t->job.media_json) {
        json_error_t err;
        json_t *a = json_loads(t->job.media_json, 0, &err);
        size_t n = json_array_size(a);
        if (!json_is_array(a) || n > MAX_MEDIA) {
            json_decref(a);
            return "media_url is not a list of at most 10 URLs";
        }
        t->media = calloc(n ? n : 1, sizeof *t->media);
        for (size_t i = 0; t->media && i < n; i++) {
            const char *u = json_string_value(json_array_get(a, i));
            if (!u || !(t->media[i] = strdup(u))) {
                json_decref(a);
                return u ? "out of memory" : "media_url holds a non-string";
            }
            t->nmedia = i + 1;
        }
        json_decref(a);
        if (!t->media)
            return "out of memory";
    }
    if ((!t->job.body || !*t->job.body) && t->nmedia == 0)
        return "neither body nor media";
    return NULL;
}

static void step_claim(struct snd_engine *e, struct snd_task *t)
{
    snd_job_cleanup(&t->job);
    const char *bad = decode_conv(e, t);
    /* Opt-outs are read in the claim's own step. For a Messaging Service, an opt-out recorded
     * for the service or for the number the customer wrote to both count. */
    char k1[512], k2[512];
    struct snd_optout_q oq = {{NULL, NULL}, t->to};
    if (!bad) {
        tw_optout_key(k1, sizeof k1, prefix_of(e), t->conv.account_sid, t->destination);
        oq.keys[0] = k1;
        if (t->conv.type == TW_CONV_SERVICE && t->conv.address && *t->conv.address) {
            tw_optout_key(k2, sizeof k2, prefix_of(e), t->conv.account_sid, t->conv.address);
            oq.keys[1] = k2;
        }
    }
    int rc = snd_job_claim(e->rc, prefix_of(e), t->job_id, t->cq->key, e->me, e->cfg->claim_idle_ms,
                           bad ? NULL : &oq, &t->job);
    if (rc < 0) {
        snd_redis_failed(e, t, "claim");
        return;
    }
    int64_t now = tw_mono_ms();
    switch (t->job.kind) {
    case SND_CLAIM_GONE:
    case SND_CLAIM_DONE:
        if (t->job.kind == SND_CLAIM_GONE)
            TW_LOG_WARN("entry without a job acknowledged", TW_F_STR("job_id", t->job_id));
        if (snd_queue_ack(e->rc, prefix_of(e), t->entry_id) < 0) {
            snd_redis_failed(e, t, "XACK");
            return;
        }
        snd_task_drop(e, t);
        return;
    case SND_CLAIM_WAIT:
    case SND_CLAIM_BUSY: {
        /* poll gently: 50 ms, doubling to 1 s */
        long d = 50L << (t->waits < 5 ? t->waits : 5);
        t->waits++;
        t->wake = now + (d > 1000 ? 1000 : d);
        return;
    }
    case SND_CLAIM_OK:
        break;
    }
    t->owned = true;
    t->waits = 0;
    if (!bad)
        bad = prepare(t);
    if (bad) {
        fail(e, t, "bad_job", NULL, bad, NULL);
        return;
    }
    if (t->job.state && strcmp(t->job.state, "sending") == 0) {
        /* an earlier attempt (ours before a crash, or another sender's) has no recorded end */
        t->attempt_at = t->job.attempt_at;
        int64_t ready = t->attempt_at + e->cfg->send_timeout_ms + SND_RECONCILE_GRACE_MS;
        int64_t delay = ready - t->job.redis_now;
        t->phase = PH_RECONCILE;
        t->list_pass = 1;
        t->list_tries = 0;
        t->wake = now + (delay > 0 ? delay : 0);
        tw_metrics_inc(SM_AMBIGUOUS, "why=\"reclaimed\"", 1);
        TW_LOG_INFO("unfinished attempt found; reconciling", TW_F_STR("job_id", t->job_id),
                    TW_F_INT("attempts", t->job.attempts));
        return;
    }
    if (t->job.created_at > 0 && t->job.redis_now - t->job.created_at > e->cfg->max_age_ms) {
        fail(e, t, "max_age", NULL, "not sent within TW_MAX_AGE", NULL);
        return;
    }
    if (t->job.attempts >= e->cfg->max_attempts) {
        fail(e, t, "max_attempts", NULL, "attempt budget used up", NULL);
        return;
    }
    if (t->job.opted_out) {
        /* the same code Twilio would answer, without asking Twilio */
        fail(e, t, "opted_out", "21610",
             "Attempt to send to unsubscribed recipient (refused locally: the participant "
             "opted out, no request was sent)",
             "https://www.twilio.com/docs/errors/21610");
        return;
    }
    t->phase = PH_PACE;
    t->wake = now;
}

/* ------------------------------------------------------------------ pace and send */

static void step_pace(struct snd_engine *e, struct snd_task *t)
{
    bool granted = false;
    long wait = 0;
    snd_random_hex(t->token);
    if (snd_pace_take(e->rc, prefix_of(e), t->identity, t->cq->key, e->cfg->send_mps, t->token,
                      &granted, &wait) < 0) {
        snd_redis_failed(e, t, "pace");
        return;
    }
    t->wake = tw_mono_ms() + (wait > 0 ? wait : 0);
    if (granted)
        t->phase = PH_SEND;
}

static void start_request(struct snd_engine *e, struct snd_task *t)
{
    t->req.owner = t;
    curl_easy_setopt(t->req.easy, CURLOPT_PRIVATE, &t->req);
    if (curl_multi_add_handle(e->multi, t->req.easy) != CURLM_OK) {
        snd_req_cleanup(&t->req);
        t->wake = tw_mono_ms() + 1000;
        return;
    }
    t->req_active = true;
    t->started_us = tw_mono_us();
    e->inflight++;
}

static void step_send(struct snd_engine *e, struct snd_task *t)
{
    int rc = snd_job_mark(e->rc, prefix_of(e), t->job_id, e->me, t->token, e->cfg->claim_idle_ms,
                          &t->attempt_at, &t->job.attempts);
    if (rc == TW_ENOTFOUND) {
        TW_LOG_WARN("job no longer ours before sending", TW_F_STR("job_id", t->job_id));
        t->owned = false;
        snd_task_drop(e, t);
        return;
    }
    if (rc < 0) {
        /* the marker may or may not be written: either way nothing was sent yet, and a
         * reconciliation would find nothing and send; try the marker again */
        t->phase = PH_CLAIM;
        snd_redis_failed(e, t, "mark");
        return;
    }
    struct snd_send s = {.to = t->to,
                         .from = t->from,
                         .mg = t->mg,
                         .body = t->job.body,
                         .media = (const char *const *)t->media,
                         .nmedia = t->nmedia,
                         .status_callback = e->cfg->status_callback_url};
    rc = snd_twilio_create(&t->req, e->cfg, &s);
    if (rc < 0) {
        /* marked but not sent: retry is safe */
        again(e, t, "request set-up failed", 1000, NULL, NULL, tw_strerror(rc));
        return;
    }
    if (t->job.created_at > 0)
        tw_metrics_observe(SM_QUEUE_WAIT, "", (double)(tw_now_ms() - t->job.created_at) / 1000.0);
    t->phase = PH_INFLIGHT;
    start_request(e, t);
    if (!t->req_active)
        again(e, t, "request start failed", 1000, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------ reconcile */

static void step_reconcile(struct snd_engine *e, struct snd_task *t)
{
    char day[11];
    snd_reconcile_day(t->attempt_at, day);
    int rc = snd_twilio_list(&t->req, e->cfg, t->to, t->from, t->list_pass == 1 ? day : NULL,
                             SND_LIST_PAGE);
    if (rc < 0) {
        t->wake = tw_mono_ms() + 1000;
        return;
    }
    t->phase = PH_LISTING;
    start_request(e, t);
    if (!t->req_active)
        t->phase = PH_RECONCILE;
}

struct taken_ctx {
    struct snd_engine *e;
    const char *job_id;
    bool failed;
};

static bool sid_taken(const char *sid, void *ud)
{
    struct taken_ctx *c = ud;
    bool taken = false;
    if (snd_job_sid_taken(c->e->rc, prefix_of(c->e), sid, c->job_id, &taken) < 0)
        c->failed = true;
    return taken;
}

static void list_done(struct snd_engine *e, struct snd_task *t, CURLcode crc)
{
    struct snd_result res;
    snd_twilio_classify_list(&t->req, crc, &res);
    struct snd_msg *list = NULL;
    size_t n = 0;
    bool has_next = false;
    if (res.outcome == SND_OK && snd_resp_list(t->req.resp.data ? t->req.resp.data : "",
                                               t->req.resp.len, &list, &n, &has_next) < 0)
        res.outcome = SND_RETRY;
    tw_metrics_observe(SM_REQUEST, "op=\"list\"", (double)(tw_mono_us() - t->started_us) / 1e6);
    long retry_after = res.retry_after_ms;
    snd_req_cleanup(&t->req);
    if (res.outcome != SND_OK) {
        TW_LOG_WARN("message list failed", TW_F_STR("job_id", t->job_id),
                    TW_F_INT("http_status", res.http_status), TW_F_STR("error", res.message));
        snd_result_cleanup(&res);
        if (e->draining || ++t->list_tries >= SND_RECONCILE_TRIES) {
            if (e->draining) {
                snd_task_hand_back(e, t);
                return;
            }
            undecided(e, t);
            return;
        }
        t->phase = PH_RECONCILE;
        t->wake = tw_mono_ms() + tw_backoff_ms(t->list_tries, 1000, 30000, retry_after);
        return;
    }
    snd_result_cleanup(&res);
    struct snd_match want = {.to = t->to,
                             .from = t->from,
                             .mg = t->mg,
                             .body = t->job.body ? t->job.body : "",
                             .nmedia = (long)t->nmedia,
                             .attempt_at_ms = t->attempt_at};
    struct taken_ctx tc = {e, t->job_id, false};
    long i = snd_reconcile_pick(list, n, &want, sid_taken, &tc);
    bool covers = snd_reconcile_page_covers(list, n, t->attempt_at) || !has_next;
    if (tc.failed) {
        snd_msg_list_free(list, n);
        t->phase = PH_RECONCILE;
        snd_redis_failed(e, t, "reconcile");
        return;
    }
    if (i >= 0) {
        snd_msg_cleanup(&t->found);
        t->found = list[i];
        memset(&list[i], 0, sizeof list[i]);
        snd_msg_list_free(list, n);
        t->found_how = "found";
        tw_metrics_inc(SM_RECONCILED, "result=\"found\"", 1);
        TW_LOG_INFO("reconciled: the message exists", TW_F_STR("job_id", t->job_id),
                    TW_F_STR("message_sid", t->found.sid));
        record_sent(e, t);
        return;
    }
    snd_msg_list_free(list, n);
    if (t->list_pass == 1) {
        /* a message still queued has no date_sent and escapes a DateSent filter: look again
         * without one before calling it absent */
        t->list_pass = 2;
        t->phase = PH_RECONCILE;
        t->wake = tw_mono_ms();
        return;
    }
    if (!covers) {
        /* the newest page does not reach back to the attempt: absence is not proven */
        t->list_tries++;
        if (t->list_tries >= SND_RECONCILE_TRIES) {
            undecided(e, t);
            return;
        }
        t->phase = PH_RECONCILE;
        t->wake = tw_mono_ms() + 1000;
        return;
    }
    if (e->draining) {
        snd_task_hand_back(e, t);
        return;
    }
    tw_metrics_inc(SM_RECONCILED, "result=\"absent\"", 1);
    TW_LOG_INFO("reconciled: no such message; sending again", TW_F_STR("job_id", t->job_id));
    again(e, t, "reconciled absent", 0, "absent", NULL, NULL);
}

/* ------------------------------------------------------------------ the create's end */

static void create_done(struct snd_engine *e, struct snd_task *t, CURLcode crc)
{
    struct snd_result res;
    snd_twilio_classify_create(&t->req, crc, &res);
    snd_req_cleanup(&t->req);
    double secs = (double)(tw_mono_us() - t->started_us) / 1e6;
    tw_metrics_observe(SM_REQUEST, "op=\"create\"", secs);
    char label[64];
    switch (res.outcome) {
    case SND_OK:
        snd_msg_cleanup(&t->found);
        t->found = res.msg;
        memset(&res.msg, 0, sizeof res.msg);
        t->found_how = NULL;
        record_sent(e, t);
        break;
    case SND_RETRY: {
        t->retries++;
        snprintf(label, sizeof label, "reason=\"%s\"", res.why);
        tw_metrics_inc(SM_RETRIED, label, 1);
        long delay = tw_backoff_ms(t->retries, SND_RETRY_BASE_MS, SND_RETRY_CAP_MS,
                                   res.retry_after_ms > 0 ? res.retry_after_ms : 0);
        TW_LOG_INFO("not processed by Twilio; will retry", TW_F_STR("job_id", t->job_id),
                    TW_F_STR("why", res.why), TW_F_INT("http_status", res.http_status),
                    TW_F_STR("error_code", res.code), TW_F_INT("retry_in_ms", delay));
        if (e->draining) {
            /* nothing was created: give the job back as queued */
            if (snd_job_retry(e->rc, prefix_of(e), t->job_id, e->me, res.why, 0, NULL) == TW_EREDIS)
                snd_redis_failed(e, NULL, "retry");
            snd_task_hand_back(e, t);
            break;
        }
        again(e, t, res.why, delay, NULL, res.code, res.message);
        break;
    }
    case SND_PERMANENT:
        if (res.code && strcmp(res.code, "21610") == 0 &&
            tw_optout_set(e->rc, prefix_of(e), t->conv.account_sid, t->destination, t->to, true) <
                0) {
            snd_redis_failed(e, t, "optout");
            /* the failure below still records the job; the opt-out is learned again next time */
        }
        fail(e, t, "permanent", res.code, res.message, res.more_info);
        break;
    case SND_AMBIGUOUS:
        snprintf(label, sizeof label, "why=\"%s\"", res.why);
        tw_metrics_inc(SM_AMBIGUOUS, label, 1);
        TW_LOG_WARN("ambiguous end of a create; reconciling", TW_F_STR("job_id", t->job_id),
                    TW_F_STR("why", res.why), TW_F_INT("http_status", res.http_status),
                    TW_F_STR("error", res.message));
        if (e->draining) {
            snd_task_hand_back(e, t); /* state stays sending: the next claimer reconciles */
            break;
        }
        t->phase = PH_RECONCILE;
        t->list_pass = 1;
        t->list_tries = 0;
        t->wake = tw_mono_ms() + SND_RECONCILE_GRACE_MS;
        break;
    }
    snd_result_cleanup(&res);
}

/* ------------------------------------------------------------------ dispatch */

void snd_request_done(struct snd_engine *e, struct snd_task *t, CURLcode rc)
{
    if (t->lost) {
        /* our lease lapsed while the request ran; the new owner reconciles */
        TW_LOG_WARN("request ended after the job was taken over", TW_F_STR("job_id", t->job_id),
                    TW_F_INT("curl", rc));
        snd_task_drop(e, t);
        return;
    }
    if (!e->rc) {
        /* Redis is down: the outcome cannot be written; hand it to reconciliation later */
        snd_req_cleanup(&t->req);
        t->phase = PH_RECONCILE;
        t->list_pass = 1;
        t->wake = tw_mono_ms() + SND_RECONCILE_GRACE_MS;
        return;
    }
    if (t->phase == PH_LISTING)
        list_done(e, t, rc);
    else
        create_done(e, t, rc);
}

void snd_step(struct snd_engine *e, struct snd_task *t)
{
    switch (t->phase) {
    case PH_CLAIM:
        step_claim(e, t);
        break;
    case PH_PACE:
        step_pace(e, t);
        break;
    case PH_SEND:
        step_send(e, t);
        break;
    case PH_RECONCILE:
        step_reconcile(e, t);
        break;
    case PH_RECORD:
        record_sent(e, t);
        break;
    case PH_INFLIGHT:
    case PH_LISTING:
        break;
    }
}

void snd_task_hand_back(struct snd_engine *e, struct snd_task *t)
{
    if (t->owned && !t->lost && e->rc &&
        snd_job_release(e->rc, prefix_of(e), t->job_id, e->me) == TW_EREDIS)
        snd_redis_failed(e, NULL, "release");
    snd_task_drop(e, t);
}
