/* SPDX-License-Identifier: MIT */
/* Admission: one thread owns the Redis connection and runs the dedup-and-append script for
 * every accepted request, pipelining the commands of concurrent requests into one round trip. */
#ifndef ING_ADMIT_H
#define ING_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

#define ING_ADMIT_MAX_ARGS 16

enum ing_admit_kind { ING_ADMIT_ENTRY = 0, ING_ADMIT_PING };

enum ing_admit_result {
    ING_ADMIT_PENDING = 0,
    ING_ADMIT_STORED = 1,    /* claimed and appended */
    ING_ADMIT_DUPLICATE = 2, /* the claim existed: the original was stored */
    ING_ADMIT_FAILED = 3,    /* Redis down, slow or erring: nothing is known to be stored */
};

struct ing_admit_item;
typedef void (*ing_admit_done_fn)(struct ing_admit_item *item, void *arg);

/* One request's admission. The caller owns the item and everything argv points to, and keeps
 * them alive until done has been called (from the admission thread). */
struct ing_admit_item {
    enum ing_admit_kind kind;
    /* ING_ADMIT_ENTRY: argv = {dedup key, stream key, ttl, field, value, field, value, ...} */
    int argc;
    const char *argv[ING_ADMIT_MAX_ARGS];
    size_t lens[ING_ADMIT_MAX_ARGS];
    /* out */
    enum ing_admit_result result;
    int64_t queued_us;
    ing_admit_done_fn done;
    void *arg;
    struct ing_admit_item *next; /* queue link, private */
};

struct ing_admit;

/* Starts the admission thread; it connects to Redis in the background. Returns TW_OK,
 * TW_EINVAL (REDIS_URL unusable) or TW_ENOMEM. */
int ing_admit_start(const struct tw_config *cfg, struct ing_admit **out) TW_MUSTCHECK;
/* Queues an item; done is always called exactly once, possibly before this returns. */
void ing_admit_submit(struct ing_admit *a, struct ing_admit_item *item);
/* Whether the last Redis exchange succeeded. */
bool ing_admit_connected(struct ing_admit *a);
/* Finishes what is queued, then stops the thread and frees a. NULL is fine. */
void ing_admit_stop(struct ing_admit *a);

#endif
