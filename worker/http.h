/* SPDX-License-Identifier: MIT */
/* Asynchronous HTTP POSTs over one curl multi handle: many requests in flight in one thread,
 * connections reused, TLS verified. Used by the http agent and the status hook. */
#ifndef WRK_HTTP_H
#define WRK_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "worker/agent.h"

#define WRK_HTTP_BODY_MAX (64 * 1024) /* bytes of an answer kept; the rest is dropped */

struct wrk_http;
struct wrk_http_req;

struct wrk_http_resp {
    long status;         /* HTTP status, or 0 when no answer came (network error, timeout) */
    const char *error;   /* borrowed: curl's text when status is 0, else "" */
    long retry_after_ms; /* from Retry-After (seconds or HTTP date), 0 when absent */
    const char *body;    /* borrowed: the answer, NUL-terminated, at most WRK_HTTP_BODY_MAX */
    size_t body_len;
    double seconds; /* request duration */
};

/* Called once per request from wrk_http_run(); resp is borrowed for the call. */
typedef void (*wrk_http_done_fn)(void *ctx, const struct wrk_http_resp *resp);

/* new: caller frees with wrk_http_free(). NULL when out of memory. */
struct wrk_http *wrk_http_new(void);
/* Aborts requests still in flight; their callbacks get status 0, error "aborted". Accepts NULL. */
void wrk_http_free(struct wrk_http *h);

/* Starts POST url with body (copied) and the given header lines (copied, "Name: value").
 * timeout_ms bounds the whole request. Returns TW_OK or TW_ENOMEM / TW_EIO. */
int wrk_http_post(struct wrk_http *h, const char *url, const char *const *headers, int nheaders,
                  const char *body, size_t body_len, long timeout_ms, wrk_http_done_fn done,
                  void *ctx) TW_MUSTCHECK;

/* Drives transfers: waits up to wait_ms for network activity on the requests or on extra_fd
 * (readable; -1 for none; *extra_ready says whether it was), then calls the callbacks of the
 * requests that finished. Returns the number of callbacks called. */
int wrk_http_run(struct wrk_http *h, int wait_ms, int extra_fd, bool *extra_ready);
/* Requests in flight. */
int wrk_http_active(const struct wrk_http *h);

/* The retry class of an answer: 2xx admitted; 408, 429, 5xx and no answer retried; any other
 * status (3xx, 4xx) permanent. Fills res (verdict, retry_after_ms, reason). */
void wrk_http_classify(const struct wrk_http_resp *resp, const char *what, struct wrk_result *res);

/* Parses a Retry-After value (delta seconds or HTTP date) into ms from now; -1 when invalid. */
long wrk_http_retry_after_ms(const char *value);

#endif
