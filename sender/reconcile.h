/* SPDX-License-Identifier: MIT */
/* Reconciliation: after an ambiguous end, find our message in Twilio's message list, or show
 * that it does not exist. Twilio's create call has no idempotency key, so this is the only way
 * to learn whether an attempt whose answer was lost created a message. */
#ifndef SND_RECONCILE_H
#define SND_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sender/twilio_resp.h"

/* Twilio's clock and Redis's may disagree; a message created this long before the marker still
 * counts. (date_created has one-second resolution.) */
#define SND_RECONCILE_SKEW_MS 5000

/* What we sent. All borrowed. */
struct snd_match {
    const char *to;
    const char *from; /* address identity, or NULL */
    const char *mg;   /* Messaging Service identity, or NULL */
    const char *body; /* "" for media only */
    long nmedia;
    int64_t attempt_at_ms; /* the attempt marker's time (Redis clock) */
};

/* Returns whether sid already belongs to another job (so it cannot be ours). */
typedef bool (*snd_taken_fn)(const char *sid, void *ctx);

/* The index in list of the message our attempt created, or -1. A candidate has our To, our
 * From (or Messaging Service), exactly our body and media count, a date_created not earlier than
 * the marker minus SND_RECONCILE_SKEW_MS, and no other job's claim on its sid. Among several,
 * the earliest created wins (the first attempt after the marker). */
long snd_reconcile_pick(const struct snd_msg *list, size_t n, const struct snd_match *want,
                        snd_taken_fn taken, void *ctx);

/* True when the page reaches back before the marker (its oldest message was created before it),
 * so a further page cannot hold our message. */
bool snd_reconcile_page_covers(const struct snd_msg *list, size_t n, int64_t attempt_at_ms);

/* "YYYY-MM-DD" (GMT) of the day SND_RECONCILE_SKEW_MS before the marker, for DateSent>. */
void snd_reconcile_day(int64_t attempt_at_ms, char out[11]);

#endif
