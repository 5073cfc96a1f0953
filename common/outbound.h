/* SPDX-License-Identifier: MIT */
/* Send jobs: the outbound API (in tw-ingress) and the echo agent (in tw-worker) enqueue them
 * the same way; tw-sender drains <prefix>outbound.
 *
 * A job is a hash <prefix>job:<id> (state, conversation_key, body, media_url, sid, error_code,
 * error_message, created_at, ...) plus one entry in <prefix>outbound whose field job_id names it.
 * An Idempotency-Key maps to its job in <prefix>idem:<key> (with a hash of the request), so the
 * same key with the same request gives the same job and enqueues nothing.
 *
 * The same step appends the job id to <prefix>outq:<conversation_key>, the conversation's list of
 * unfinished jobs in enqueue order: tw-sender only ever attempts the head of that list, which is
 * what keeps one conversation's messages in order across replicas.
 *
 * Job ids are "ob" + 12 hex digits of the enqueue time (ms) + 20 random hex digits: unique,
 * roughly time-ordered, URL-safe. Idempotency records live TW_OUTBOUND_IDEM_TTL_S seconds (the
 * same day-long window as the ingress's dedup claims); after that a key may be reused. */
#ifndef TW_OUTBOUND_H
#define TW_OUTBOUND_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "common/err.h"

#define TW_JOB_ID_MAX 64
#define TW_OUTBOUND_IDEM_TTL_S 86400

struct tw_outbound_req {
    const char *conversation_key; /* borrowed; canonical */
    const char *body;             /* borrowed; may be "" when media is given */
    const char *media_json;       /* borrowed; JSON array of URLs, or NULL */
    const char *idempotency_key;  /* borrowed; NULL for none */
    const char *source;           /* borrowed: "api", "echo", ... */
};

enum tw_outbound_result {
    TW_OUTBOUND_CREATED = 1,  /* a new job was enqueued */
    TW_OUTBOUND_EXISTING = 2, /* same idempotency key, same request: the existing job */
    TW_OUTBOUND_CONFLICT = 3, /* same idempotency key, another request: nothing enqueued */
};

/* Creates the job and appends it in one atomic step. job_id receives the id (existing one for
 * TW_OUTBOUND_EXISTING). Returns a positive enum tw_outbound_result or TW_EREDIS / TW_ENOMEM. */
int tw_outbound_enqueue(redisContext *c, const char *prefix, const struct tw_outbound_req *req,
                        char job_id[TW_JOB_ID_MAX]) TW_MUSTCHECK;

#endif
