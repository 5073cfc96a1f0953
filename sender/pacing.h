/* SPDX-License-Identifier: MIT */
/* Pacing shared by every replica through Redis:
 * - per sending identity (a From number or a Messaging Service), a schedule with one slot every
 *   1/TW_SEND_MPS seconds and no burst (the rate Twilio dequeues a sender's messages at); a
 *   sender may reserve a slot at most SND_PACE_HORIZON_MS ahead, so a crashed sender wastes at
 *   most that much of an identity's time;
 * - per conversation, at most SND_CONV_LIMIT creates in any SND_CONV_WINDOW_MS, below the
 *   30-in-30-seconds at which Twilio fails replies between the same two numbers (error 14107).
 * Both are checked and taken in one script: nothing is consumed unless both allow. */
#ifndef SND_PACING_H
#define SND_PACING_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "common/err.h"

#define SND_PACE_HORIZON_MS 1000
#define SND_CONV_LIMIT 25
#define SND_CONV_WINDOW_MS 30000

/* Asks for a slot for one create from identity in conversation conv_key. mps 0 turns the
 * identity schedule off (the conversation guard stays). token names the attempt (unique).
 * On TW_OK: *granted true and *wait_ms until the reserved slot, or *granted false and *wait_ms
 * before asking again. Returns TW_OK, TW_ENOMEM or TW_EREDIS. */
int snd_pace_take(redisContext *c, const char *prefix, const char *identity, const char *conv_key,
                  double mps, const char *token, bool *granted, long *wait_ms) TW_MUSTCHECK;

#endif
