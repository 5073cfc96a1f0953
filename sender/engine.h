/* SPDX-License-Identifier: MIT */
/* The sender's event loop: one thread, one Redis connection, one curl multi handle.
 *
 * Every stream entry read (or reclaimed) becomes a task, queued in memory behind the other tasks
 * of its conversation; only the head task of a conversation moves. A task goes through phases:
 *
 *   CLAIM -> PACE -> SEND -> INFLIGHT -> (done)            created, or failed for good
 *                     ^          |
 *                     +-- PACE <-+ 429 / nothing sent: backoff, then pace again
 *                                |
 *                                +-> RECONCILE -> LISTING  ambiguous: look the message up
 *                                       ^            |     found: sent; absent: PACE again;
 *                                       +------------+     undecidable: unknown
 *   RECORD: a result that Redis could not take yet, retried until it can.
 *
 * Tasks wait by setting a wake time; the loop sleeps in curl_multi_poll until the earliest. */
#ifndef SND_ENGINE_H
#define SND_ENGINE_H

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/convkey.h"
#include "common/outbound.h"
#include "common/redis.h"
#include "sender/job.h"
#include "sender/queue.h"
#include "sender/twilio.h"

#define SND_MAX_TASKS 20000         /* tasks in memory before reading pauses */
#define SND_RECONCILE_GRACE_MS 2000 /* after an ambiguous end, before listing */
#define SND_RECONCILE_TRIES 5       /* list failures before a job is declared unknown */
#define SND_LIST_PAGE 50
#define SND_RETRY_BASE_MS 1000
#define SND_RETRY_CAP_MS 60000

enum snd_phase {
    PH_CLAIM = 0,
    PH_PACE,
    PH_SEND,
    PH_INFLIGHT,
    PH_RECONCILE,
    PH_LISTING,
    PH_RECORD,
};

struct snd_conv;

struct snd_task {
    char entry_id[SND_ENTRY_ID_MAX];
    char job_id[TW_JOB_ID_MAX];
    enum snd_phase phase;
    int64_t wake; /* monotonic ms when the current phase may run */
    int waits;    /* consecutive WAIT/BUSY answers to claim (poll backoff) */
    bool owned;   /* we hold the job's lease */
    bool lost;    /* the lease went to another sender: finish nothing */
    struct snd_job job;
    struct tw_conv conv; /* decoded conversation key */
    char **media;        /* owned, malloc: media URLs */
    size_t nmedia;
    const char *to, *from, *mg, *identity; /* borrowed from conv */
    const char *destination;               /* opt-out destination: address or service */
    char token[33];                        /* the current attempt's token */
    int retries;                           /* retryable ends so far, for the backoff */
    int list_tries;                        /* failed list requests in this reconciliation */
    int list_pass;                         /* 1: filtered by DateSent, 2: without a date filter */
    int64_t attempt_at;                    /* Redis ms of the last attempt marker */
    int64_t started_us;                    /* monotonic us when the request started */
    bool req_active;
    struct snd_req req;
    /* PH_RECORD: the created message waiting to be written */
    struct snd_msg found;
    const char *found_how; /* NULL (created) or "found" (reconciled) */
    struct snd_task *next; /* in the conversation's queue, entry order */
    struct snd_conv *cq;
};

struct snd_conv {
    char *key; /* owned, malloc */
    struct snd_task *head, *tail;
    struct snd_conv *hnext;       /* hash chain */
    struct snd_conv *prev, *next; /* all conversations, round-robin order */
};

#define SND_CONV_BUCKETS 4096

struct snd_engine {
    const struct tw_config *cfg; /* borrowed */
    struct tw_redis_url rurl;
    redisContext *rc; /* NULL while disconnected */
    int64_t reconnect_at;
    int reconnect_tries;
    CURLM *multi;
    char me[128]; /* consumer name */
    struct snd_conv *buckets[SND_CONV_BUCKETS];
    struct snd_conv *first, *last;
    long ntasks;
    long inflight; /* requests in curl */
    int64_t next_read, next_reclaim, next_renew, next_touch, next_stats;
    char reclaim_cursor[SND_ENTRY_ID_MAX];
    bool draining;
    int64_t drain_deadline;
};

int snd_engine_init(struct snd_engine *e, const struct tw_config *cfg);
/* Runs until a stop is requested, then drains. Returns TW_OK. */
int snd_engine_run(struct snd_engine *e);
void snd_engine_cleanup(struct snd_engine *e);

/* ---- shared between engine.c and steps.c ---- */

/* Runs the due phase of the head task t (may free t). */
void snd_step(struct snd_engine *e, struct snd_task *t);
/* Called when t's request ended with rc. */
void snd_request_done(struct snd_engine *e, struct snd_task *t, CURLcode rc);
/* Carries on with a conversation's next job (named by finish) even though another replica may
 * hold its stream entry: the job's lease, not the entry, decides who sends it, so the
 * conversation does not wait for that replica to poll. */
void snd_task_follow(struct snd_engine *e, const char *conv_key, const char *job_id,
                     const char *entry_id);
/* Drops t from memory (its request, if any, already removed). */
void snd_task_drop(struct snd_engine *e, struct snd_task *t);
/* Notes a Redis failure: the connection is dropped if broken, t retries after a pause. */
void snd_redis_failed(struct snd_engine *e, struct snd_task *t, const char *what);
/* Shutdown: gives t back (release the lease) and drops it. */
void snd_task_hand_back(struct snd_engine *e, struct snd_task *t);

#endif
