/* SPDX-License-Identifier: MIT */
/* What the outbound API's files share: the server state, the request state, and the handlers. */
#ifndef ING_API_INTERNAL_H
#define ING_API_INTERNAL_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/buf.h"
#include "common/config.h"
#include "ingress/api.h"

#define API_BODY_MAX (64 * 1024) /* 1,600 characters and ten URLs fit many times over */
#define API_THREADS 2
#define API_BODY_CHARS_MAX 1600
#define API_MEDIA_MAX 10
#define API_URL_MAX 2048
#define API_IDEM_KEY_MAX 255

/* One Redis connection per server thread, each behind its own lock. */
struct api_redis {
    pthread_mutex_t lock;
    redisContext *c; /* NULL until first use or after a failure */
};

struct ing_api {
    const struct tw_config *cfg; /* borrowed */
    struct MHD_Daemon *daemon;
    unsigned char token_sha[32]; /* SHA-256 of TW_API_TOKEN, compared in constant time */
    struct api_redis redis[API_THREADS];
    atomic_uint next_conn;
    atomic_int in_flight;
};

/* An answer: status, a JSON body (owned), extra header. */
struct api_answer {
    unsigned status;
    json_t *body;      /* owned */
    const char *allow; /* static, for 405 */
    bool replayed;     /* Idempotent-Replayed: true */
};

/* {"error":{"code":code,"message":message}} with status. */
void api_error(struct api_answer *a, unsigned status, const char *code, const char *message);

/* Borrows a live Redis connection (locked); NULL when Redis cannot be reached. Give it back with
 * api_redis_put, telling whether it broke. */
redisContext *api_redis_get(struct ing_api *api, struct api_redis **slot);
void api_redis_put(struct api_redis *slot, bool broken);

/* POST /v1/messages with the complete body. idem is the Idempotency-Key header or NULL. */
void api_post_message(struct ing_api *api, const char *body, size_t len, const char *ctype,
                      const char *idem, struct api_answer *a);
/* GET /v1/messages/<id>. */
void api_get_message(struct ing_api *api, const char *id, struct api_answer *a);

#endif
