/* SPDX-License-Identifier: MIT */
/* The consumer of <prefix>status (group "status"): each verified delivery-status callback is
 * applied to <prefix>msg:<MessageSid> by the shared status script (common/status.h), then, when
 * it moved the current status and TW_STATUS_HOOK_URL is set, posted there as JSON with the
 * agent dispatch's retry policy; the entry is acknowledged after that. A hook that fails for
 * good goes to <prefix>status:dead. Hooks are delivered at least once: an entry reclaimed from a
 * dead worker re-posts a transition it had applied (Idempotency-Key: <sid>:<status>). One process
 * posts the hooks of a MessageSid one at a time in stream order; across replicas they may arrive
 * out of order, so each carries the status's rank and the event time. */
#ifndef WRK_STATUSES_H
#define WRK_STATUSES_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker.h"

struct wrk_statuses;

/* new: caller frees with wrk_statuses_free(). ctx is borrowed. */
struct wrk_statuses *wrk_statuses_new(struct wrk_ctx *ctx);
void wrk_statuses_free(struct wrk_statuses *s);

/* Same contract as wrk_inbound_step() and friends (worker/inbound.h). */
int wrk_statuses_step(struct wrk_statuses *s, int64_t now, bool draining);
long wrk_statuses_next_ms(const struct wrk_statuses *s, int64_t now, long max_ms);
bool wrk_statuses_idle(const struct wrk_statuses *s);
const char *wrk_statuses_last_id(const struct wrk_statuses *s);
int wrk_statuses_busy(const struct wrk_statuses *s);
void wrk_statuses_handback(struct wrk_statuses *s, bool all);

#endif
