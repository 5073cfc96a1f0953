/* SPDX-License-Identifier: MIT */
/* The public webhook server: state shared by every request, and each request's own state. */
#ifndef ING_SERVER_H
#define ING_SERVER_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/form.h"
#include "ingress/admit.h"

enum ing_route {
    ING_ROUTE_NONE = 0,
    ING_ROUTE_WEBHOOK,
    ING_ROUTE_STATUS,
    ING_ROUTE_HEALTHZ,
    ING_ROUTE_READYZ,
    ING_ROUTE_METRICS,
};

struct ing_server {
    const struct tw_config *cfg; /* borrowed: lives as long as the server */
    struct ing_admit *admit;     /* borrowed */
    struct MHD_Daemon *daemon;
    const char *tokens[2]; /* borrowed from cfg: primary, secondary (may be NULL) */
    char inbound_key[256], status_key[256], dedup_inbound[256], dedup_status[256];
    char ttl[24];
    atomic_int in_flight; /* requests begun and not yet completed */
};

/* One request, from its first header to MHD's completion callback, which alone frees it. */
struct ing_request {
    struct ing_server *srv; /* borrowed */
    struct MHD_Connection *conn;
    enum ing_route route;
    int64_t start_us;
    unsigned status;  /* the answer once decided, 0 before */
    bool suspended;   /* waiting for the admission thread */
    bool too_big;
    size_t discarded; /* bytes dropped after the body went past the cap */
    struct tw_buf body;
    struct tw_form form;
    /* what the admission script receives (all owned, malloc) */
    char *payload_json;
    char *conversation_json;
    char *conversation_key;
    char *dedup_key;
    char received_at[24];
    const char *message_sid; /* borrowed from form */
    struct ing_admit_item item;
};

/* Starts listening on cfg->listen. Returns TW_OK or TW_EIO (logged). */
int ing_server_start(struct ing_server *srv, const struct tw_config *cfg,
                     struct ing_admit *admit) TW_MUSTCHECK;
/* Stops accepting, lets requests in flight finish (up to timeout_ms), then stops. */
void ing_server_stop(struct ing_server *srv, long timeout_ms);

/* Checks a fully received webhook or status request and, when it is to be stored, prepares
 * req->item. Returns 0 when the item is ready to submit, else the HTTP status to answer. */
unsigned ing_webhook_prepare(struct ing_request *req);

#endif
