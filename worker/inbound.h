/* SPDX-License-Identifier: MIT */
/* The consumer of <prefix>inbound (group "workers"): per-conversation order across replicas,
 * effects once per MessageSid, retries, dead letters, reclaim and hand-back.
 *
 * Life of an entry in this process:
 *   read (READ script: delivered to us and appended to its conversation's inq list)
 *   -> WAIT until it heads that list (HEADS script)
 *   -> READY: BEGIN script (still ours? head? already done? attempt n = fencing token)
 *   -> FLIGHT: the agent call
 *   -> DONE: admitted, permanent failure, or retry (back to READY after a backoff)
 *   -> FINISH script: outcome recorded, dead letter if failed, XACK, popped from inq.
 * Every held entry is re-claimed by the KEEP script every TW_CLAIM_IDLE_MS/3, so a slow dispatch
 * is never reclaimed by another replica while this one is alive. */
#ifndef WRK_INBOUND_H
#define WRK_INBOUND_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker.h"

struct wrk_inbound;

/* new: caller frees with wrk_inbound_free(). ctx is borrowed for the object's lifetime. */
struct wrk_inbound *wrk_inbound_new(struct wrk_ctx *ctx);
/* Frees every held entry (they stay pending in Redis). Accepts NULL. */
void wrk_inbound_free(struct wrk_inbound *in);

/* One pass of work at monotonic time now. draining: only results of calls in flight are handled
 * (no reads, no reclaims, no new attempts). Returns how many things progressed (0: nothing to do
 * until a timer, an answer or new data). */
int wrk_inbound_step(struct wrk_inbound *in, int64_t now, bool draining);
/* Milliseconds until the next timer of this consumer is due (at most max_ms). */
long wrk_inbound_next_ms(const struct wrk_inbound *in, int64_t now, long max_ms);
/* True when nothing is held: a blocking read for new entries may wait. */
bool wrk_inbound_idle(const struct wrk_inbound *in);
/* The id to wait after in XREAD BLOCK (the stream's last id when the last read found nothing). */
const char *wrk_inbound_last_id(const struct wrk_inbound *in);
/* Dispatches in flight, and entries whose outcome waits to be recorded. */
int wrk_inbound_busy(const struct wrk_inbound *in);
/* Hands every held entry that waits (for its turn or a retry) back to the group for immediate
 * reclaim, and forgets it. all: everything held, in flight or not (last step of a drain). */
void wrk_inbound_handback(struct wrk_inbound *in, bool all);

#endif
