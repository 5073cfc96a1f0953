/* SPDX-License-Identifier: MIT */
/* Control input: Twilio's OptOutType STOP, START and HELP. STOP and START change the opt-out
 * record of the participant for the destination (common/optout.h); none of them is dispatched
 * to an agent, except HELP when TW_HELP_TO_AGENT is set. */
#ifndef WRK_CONTROL_H
#define WRK_CONTROL_H

#include <hiredis/hiredis.h>

#include "common/err.h"
#include "worker/entry.h"

enum wrk_control { WRK_CTL_NONE = 0, WRK_CTL_STOP, WRK_CTL_START, WRK_CTL_HELP };

/* The control keyword of an inbound entry (OptOutType, case-insensitive), or WRK_CTL_NONE. */
enum wrk_control wrk_control_of(const struct wrk_entry *e);
const char *wrk_control_name(enum wrk_control k);

/* Records STOP (opted out) or START (opted in again) for the entry's participant and
 * destination: the Messaging Service SID for a messaging-service conversation, else the
 * address. HELP changes nothing. Returns TW_OK, TW_EPARSE (no usable conversation) or
 * TW_EREDIS. */
int wrk_control_apply(redisContext *c, const char *prefix, const struct wrk_entry *e,
                      enum wrk_control k) TW_MUSTCHECK;

#endif
