/* SPDX-License-Identifier: MIT */
/* The <prefix>outbound stream as consumer group "senders": read, reclaim, keep claims fresh,
 * acknowledge. */
#ifndef SND_QUEUE_H
#define SND_QUEUE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "common/err.h"

#define SND_ENTRY_ID_MAX 48

struct snd_entry {
    char id[SND_ENTRY_ID_MAX];
    char *job_id;   /* owned, malloc; NULL when the entry has none (malformed) */
    char *conv_key; /* owned, malloc; NULL when absent */
};

void snd_entries_free(struct snd_entry *e, size_t n);

/* Creates the group (MKSTREAM) unless it exists. */
int snd_queue_ensure_group(redisContext *c, const char *prefix) TW_MUSTCHECK;

/* XREADGROUP ... COUNT count [BLOCK block_ms] STREAMS outbound >. block_ms < 0: no BLOCK.
 * A missing group is recreated (and nothing returned this time). *out is new (free with
 * snd_entries_free). Returns TW_OK or TW_EREDIS. */
int snd_queue_read(redisContext *c, const char *prefix, const char *me, int count, long block_ms,
                   struct snd_entry **out, size_t *n) TW_MUSTCHECK;

/* XAUTOCLAIM of entries idle at least min_idle_ms, continuing from cursor (updated; "0-0" to
 * start over). */
int snd_queue_autoclaim(redisContext *c, const char *prefix, const char *me, long min_idle_ms,
                        char cursor[SND_ENTRY_ID_MAX], int count, struct snd_entry **out,
                        size_t *n) TW_MUSTCHECK;

/* Resets the idle time of entries this consumer still works on (XCLAIM ... JUSTID of those idle
 * at least min_idle_ms), so other replicas do not reclaim live work. */
int snd_queue_touch(redisContext *c, const char *prefix, const char *me, long min_idle_ms,
                    const char *const *ids, size_t n) TW_MUSTCHECK;

/* Acknowledges and deletes one entry (its job is finished or gone). */
int snd_queue_ack(redisContext *c, const char *prefix, const char *id) TW_MUSTCHECK;

/* The group's lag (entries not yet delivered) and pending count; -1 when unknown. */
int snd_queue_stats(redisContext *c, const char *prefix, long long *lag,
                    long long *pending) TW_MUSTCHECK;

#endif
