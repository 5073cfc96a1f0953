/* SPDX-License-Identifier: MIT */
/* Delivery-status transitions of one MessageSid, applied atomically by one Lua script that the
 * worker (callbacks) and the sender (Twilio's create response) share.
 *
 * Records (keys after TW_REDIS_PREFIX):
 *   msg:<sid>          hash: status (Twilio's exact string), rank, updated_at (ms, of the event
 *                      that set status), error_code and error_message (of that event; "" when it
 *                      had none), from, to, conversation_key (filled by the first event that has
 *                      them). No TTL.
 *   msg:<sid>:history  list, oldest first, one JSON object per distinct status received:
 *                      {"status":..,"at":<ms>,"error_code":..,"error_message":..,"moved":bool}
 *                      (error fields left out when the event had none; moved: the event set the
 *                      current status). At most TW_STATUS_HISTORY_MAX entries.
 *
 * Ranking (the current status only moves to a higher rank; unknown statuses have rank 0 and go to
 * the history only; failed and canceled are sticky: nothing replaces them):
 *   scheduled 1 < accepted 2 < queued 3 < sending 4 < sent 5
 *   < canceled 6, failed 6, undelivered 6 < partially_delivered 7 < delivered 8 < read 9
 * So a later delivered replaces undelivered, a late sent after delivered is history only, and
 * delivered after failed is history only. The same table is rendered into the Lua script. */
#ifndef TW_STATUS_H
#define TW_STATUS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
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

#define TW_STATUS_HISTORY_MAX 64

/* The rank of a status in the forward-only order (0 for unknown statuses). */
int tw_status_rank(const char *status);
/* Whether status, once current, can never be replaced (failed, canceled). */
bool tw_status_sticky(const char *status);

/* Applies ev to <prefix>msg:<sid> and its history in one step.
 * Returns a positive enum tw_status_result, TW_EINVAL (no message_sid or status), or TW_EREDIS
 * (c->err set on a connection error; otherwise the reply was an error). */
int tw_status_apply(redisContext *c, const char *prefix, const struct tw_status_event *ev)
    TW_MUSTCHECK;

/* For a consumer redoing follow-up work after a crash: *moved = the history of sid holds status
 * and that event moved the current status. Returns TW_OK or TW_EREDIS. */
int tw_status_moved_before(redisContext *c, const char *prefix, const char *sid,
                           const char *status, bool *moved) TW_MUSTCHECK;

#endif
