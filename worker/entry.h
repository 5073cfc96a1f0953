/* SPDX-License-Identifier: MIT */
/* One entry of <prefix>inbound or <prefix>status, decoded from its stream fields (the queue
 * contract of the ingress: payload, conversation, conversation_key, idempotency_token,
 * received_at). */
#ifndef WRK_ENTRY_H
#define WRK_ENTRY_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

#define WRK_ID_MAX 48 /* "<ms>-<seq>" fits in 41 */

struct wrk_entry {
    char id[WRK_ID_MAX];
    json_t *payload;        /* owned; a JSON object, NULL when missing or malformed */
    json_t *conversation;   /* owned; NULL when absent or malformed */
    char *conversation_key; /* owned, malloc; NULL when absent */
    int64_t received_at;    /* ms since the epoch; 0 when absent or malformed */
    const char *sid;        /* borrowed from payload: MessageSid, or NULL */
    const char *bad;        /* static reason when the entry cannot be processed, else NULL */
};

/* Decodes e, a stream entry reply [id, [field, value, ...]], into out (which it initialises).
 * A malformed entry still decodes, with out->bad saying why. Returns TW_OK, TW_EPARSE (not an
 * entry at all: no id) or TW_ENOMEM. */
int wrk_entry_decode(const redisReply *e, struct wrk_entry *out) TW_MUSTCHECK;
void wrk_entry_cleanup(struct wrk_entry *e);

/* The payload value of name when it is a single string, else NULL (borrowed). */
const char *wrk_entry_get(const struct wrk_entry *e, const char *name);

#endif
