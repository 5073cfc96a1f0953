/* SPDX-License-Identifier: MIT */
/* A send job's life in Redis, one Lua script per step so each step is atomic:
 *
 *   queued --claim--> (owned) --mark--> sending --finish--> sent | failed | unknown
 *      ^                                   |
 *      +--------------retry----------------+   (429, nothing sent, or reconciled as absent)
 *
 * claim:  only the head of <prefix>outq:<conversation_key> may be claimed, and only when no
 *         other sender holds a live lease on it; the lease (owner, lease_until, Redis clock) is
 *         renewed while the sender works on the job.
 * mark:   the attempt marker (state sending, attempt_at, attempt_token, attempts+1), written
 *         before the request to Twilio, so a crash leaves evidence that a create may exist.
 * finish: the outcome, the job removed from its conversation list, the stream entry acked and
 *         deleted, a dead letter for failed and unknown jobs, and the job hash set to expire
 *         after SND_JOB_TTL_S.
 * Every step after claim checks that the caller still owns the job, so a sender whose lease
 * lapsed cannot overwrite what its successor decided. */
#ifndef SND_JOB_H
#define SND_JOB_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/outbound.h"

#define SND_JOB_TTL_S (7 * 86400) /* a finished job stays readable by the API for 7 days */

enum snd_claim_kind {
    SND_CLAIM_OK = 0, /* ours now; state tells whether an earlier attempt is unresolved */
    SND_CLAIM_GONE,   /* the job hash does not exist */
    SND_CLAIM_DONE,   /* already sent, failed or unknown */
    SND_CLAIM_WAIT,   /* an earlier job of the conversation is unfinished */
    SND_CLAIM_BUSY,   /* another sender holds a live lease */
};

/* The job as claim found it. Strings owned, malloc (NULL when absent). */
struct snd_job {
    enum snd_claim_kind kind;
    char *state; /* queued or sending (SND_CLAIM_OK), the final state (DONE) */
    char *conversation_key;
    char *body;
    char *media_json;
    char *source;
    long attempts;
    int64_t attempt_at; /* marker of the last attempt (Redis ms), 0 when none */
    int64_t created_at;
    int64_t redis_now; /* Redis's clock when the claim ran */
    bool opted_out;    /* the participant is in one of the given opt-out sets */
};

/* Opt-out sets to look the participant up in while claiming (borrowed; NULL keys skipped). */
struct snd_optout_q {
    const char *keys[2];
    const char *participant;
};

void snd_job_cleanup(struct snd_job *j);

/* Scripts are initialised once (thread-safe). */
void snd_job_scripts_init(void);

/* Tries to take job_id for consumer me. conv_key is the conversation of the stream entry. When
 * oq is given, j->opted_out tells whether the participant is in one of its sets (read in the same
 * step, saving a round trip). Returns TW_OK (see j->kind) or TW_EREDIS / TW_ENOMEM. */
int snd_job_claim(redisContext *c, const char *prefix, const char *job_id, const char *conv_key,
                  const char *me, long lease_ms, const struct snd_optout_q *oq,
                  struct snd_job *j) TW_MUSTCHECK;

/* Writes the attempt marker. Returns TW_OK (attempt_at and attempts filled), TW_ENOTFOUND when
 * the job is no longer ours or not queued, TW_EREDIS. */
int snd_job_mark(redisContext *c, const char *prefix, const char *job_id, const char *me,
                 const char *token, long lease_ms, int64_t *attempt_at,
                 long *attempts) TW_MUSTCHECK;

/* Back to queued after an attempt that certainly created nothing. reconciled may be NULL.
 * Returns TW_OK, TW_ENOTFOUND (not ours), TW_EREDIS. */
int snd_job_retry(redisContext *c, const char *prefix, const char *job_id, const char *me,
                  const char *last_error, long delay_ms, const char *reconciled) TW_MUSTCHECK;

/* Lease upkeep for many jobs in one round trip. alive[i] tells whether job_ids[i] is still
 * ours. Returns TW_OK or TW_EREDIS. */
int snd_job_renew(redisContext *c, const char *prefix, const char *const *job_ids, size_t n,
                  const char *me, long lease_ms, bool *alive) TW_MUSTCHECK;

/* Gives the job up without an outcome (shutdown): another sender may claim it at once. */
int snd_job_release(redisContext *c, const char *prefix, const char *job_id,
                    const char *me) TW_MUSTCHECK;

/* The outcome of a job. Strings borrowed; NULL for none. */
struct snd_outcome_rec {
    const char *state; /* "sent", "failed", "unknown" */
    const char *sid;
    const char *error_code;
    const char *error_message;
    const char *more_info;
    const char *reason;     /* dead letter reason: permanent, opted_out, max_attempts, ... */
    const char *reconciled; /* "found" when reconciliation found the message */
    bool dead;              /* append to <prefix>outbound:dead */
};

/* The conversation's next unfinished job, as finish found it ("" when none). */
struct snd_next {
    char job_id[TW_JOB_ID_MAX];
    char entry_id[48];
};

/* Records the outcome, removes the job from its conversation list, acks and deletes the job's
 * stream entry (its stream_id; entry_id is the fallback and may be NULL), and links msg:<sid> to
 * the job. next (optional) receives the conversation's next job, which the caller may carry on
 * with at once instead of waiting for whichever replica holds its entry.
 * Returns TW_OK, TW_ENOTFOUND (not ours: nothing written), TW_EREDIS. */
int snd_job_finish(redisContext *c, const char *prefix, const char *job_id, const char *conv_key,
                   const char *entry_id, const char *me, const struct snd_outcome_rec *o,
                   struct snd_next *next) TW_MUSTCHECK;

/* Whether msg:<sid> is linked to a job other than job_id. */
int snd_job_sid_taken(redisContext *c, const char *prefix, const char *sid, const char *job_id,
                      bool *taken) TW_MUSTCHECK;

#endif
