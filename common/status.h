/* SPDX-License-Identifier: MIT */
/* Delivery-status transitions of one MessageSid, applied atomically by one Lua script that the
 * worker (callbacks) and the sender (Twilio's create response) share. */
#ifndef TW_STATUS_H
#define TW_STATUS_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "common/err.h"

/* One status event. All strings borrowed; NULL or "" when unknown. */
struct tw_status_event {
    const char *message_sid;
    const char *status; /* Twilio's exact string, e.g. "delivered" */
    int64_t at_ms;      /* when it was received (or created, for the sender) */
    const char *error_code;
    const char *error_message;
    const char *from;
    const char *to;
    const char *conversation_key;
};

enum tw_status_result {
    TW_STATUS_MOVED = 1,     /* the current status changed */
    TW_STATUS_HISTORY = 2,   /* new event, kept in the history only (stale, unknown, or blocked) */
    TW_STATUS_DUPLICATE = 3, /* already seen: nothing changed */
};

/* The rank of a status in the forward-only order (0 for unknown statuses). */
int tw_status_rank(const char *status);

/* Applies ev to <prefix>msg:<sid> and its history in one step.
 * Returns a positive enum tw_status_result, or TW_EREDIS (c->errstr or the reply says why). */
int tw_status_apply(redisContext *c, const char *prefix, const struct tw_status_event *ev)
    TW_MUSTCHECK;

#endif
