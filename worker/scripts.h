/* SPDX-License-Identifier: MIT */
/* The worker's Lua scripts. Each is one atomic step on the consumer group and the records that
 * go with it; the comment above each says its keys, arguments and answer. */
#ifndef WRK_SCRIPTS_H
#define WRK_SCRIPTS_H

#include "common/redis.h"

/* READ. KEYS: stream. ARGV: group, consumer, count, inq prefix ("" = do not register),
 * conversation_key field name.
 * XREADGROUP '>' and, for each entry with a conversation_key, RPUSH its id to
 * <inq prefix><conversation_key> in the same step, so each conversation's list holds its
 * unfinished ids in stream order whatever replica read them.
 * Answer: {"", entries} or, when nothing was new, {last id of the stream or "0-0", {}}. */
extern struct tw_rs_script wrk_script_read;

/* HEADS. KEYS: stream. ARGV: group, consumer, inq prefix, then pairs conversation_key, id.
 * For each pair: 2 when id is no longer this consumer's (taken over: forget it), 1 when it heads
 * its conversation list, else 0. Ids at the head that are no longer pending in the group
 * (acknowledged or deleted behind the worker's back, or the group was recreated) are popped
 * first; a missing list gets our id re-registered. */
extern struct tw_rs_script wrk_script_heads;

/* BEGIN. KEYS: stream, inq list, outcome hash. ARGV: group, consumer, id, now_ms,
 * conversation_key, ttl_s.
 * Answer: {"lost"} the entry is no longer ours; {"wait"} it is not the head of its
 * conversation; {"done", outcome} the MessageSid already ended dispatched or skipped (effects
 * once: acknowledge only); {"go", n} attempt n begins: n is the fencing token. */
extern struct tw_rs_script wrk_script_begin;

/* FINISH. KEYS: stream, inq list, outcome hash, dead stream. ARGV: group, consumer, id, token
 * ("" = no fence), outcome ("" = record nothing), detail (receipt or reason), now_ms, ttl_s,
 * dead ("1" = copy the entry to the dead stream with reason, attempts, failed_at, stream_id,
 * consumer), carry ("1" = take over the conversation's next entry from the consumer holding it).
 * Records the outcome, dead-letters, XACKs and pops the id from its conversation, all or nothing.
 * Then, with carry, the conversation's next entry, if another consumer holds it (waiting for its
 * turn, never in flight: it was not the head), is claimed for this one, so the conversation goes
 * on here at once instead of when the other consumer next looks.
 * Answer: {"lost"}, {"stale"} (another attempt began since: the fence), or
 * {"ok", next head or "", [entries claimed]}. */
extern struct tw_rs_script wrk_script_finish;

/* NOTE. KEYS: outcome hash. ARGV: token, last_error, next_attempt_at, now_ms.
 * Records why an attempt failed, when the attempt is still the latest. Answer: 1 or 0. */
extern struct tw_rs_script wrk_script_note;

/* KEEP. KEYS: stream. ARGV: group, consumer, idle_ms, ids...
 * For each id still ours: XCLAIM it to ourselves with IDLE idle_ms (0: a heartbeat that keeps
 * it from being reclaimed; TW_CLAIM_IDLE_MS: hand it back for immediate reclaim).
 * Answer: the ids that are no longer ours. */
extern struct tw_rs_script wrk_script_keep;

/* TRIM. KEYS: stream. Trims (MINID ~) below the oldest entry any group of the stream still
 * needs: its oldest pending entry, or the first it has not read. A stream without groups is
 * never trimmed. Answer: entries removed. */
extern struct tw_rs_script wrk_script_trim;

/* DEADACK. KEYS: stream, dead stream. ARGV: group, id, reason, attempts, now_ms, consumer.
 * Copies the entry to the dead stream with the dead-letter fields, then XACKs it. Answer: 1. */
extern struct tw_rs_script wrk_script_deadack;

/* LEAVE. KEYS: stream. ARGV: group, consumer. Removes the consumer from the group when it holds
 * nothing (a clean stop), so replicas that come and go leave no names behind. Answer: 1 removed,
 * 0 kept (entries pending, or no such consumer or group). */
extern struct tw_rs_script wrk_script_leave;

void wrk_scripts_init(void);

#endif
