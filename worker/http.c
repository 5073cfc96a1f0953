/* SPDX-License-Identifier: MIT */
/* One curl multi handle drives every outgoing request of the worker, so TW_WORKER_CONCURRENCY
 * dispatches run at once in one thread and connections to the agent are reused. */
#include "worker/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/clock.h"

#define CONNECT_TIMEOUT_MS 5000L
#define RETRY_AFTER_CAP_MS 3600000L /* an hour: a longer wait is the age limit's business */

struct wrk_http_req {
    CURL *easy;
    struct curl_slist *headers; /* owned */
    struct tw_buf resp;         /* the answer, capped */
    long retry_after_ms;
    wrk_http_done_fn done;
    void *ctx;
    int64_t start_us;
    char errbuf[CURL_ERROR_SIZE];
    struct wrk_http_req *prev, *next;
};

struct wrk_http {
    CURLM *multi;
    struct wrk_http_req *reqs; /* in flight */
    int active;
};

struct wrk_http *wrk_http_new(void)
{
    struct wrk_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->multi = curl_multi_init();
    if (!h->multi) {
        free(h);
        return NULL;
    }
    return h;
}

static void req_free(struct wrk_http_req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    tw_buf_cleanup(&r->resp);
    free(r);
}

static void unlink_req(struct wrk_http *h, struct wrk_http_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    h->active--;
}

void wrk_http_free(struct wrk_http *h)
{
    if (!h)
        return;
    while (h->reqs) {
        struct wrk_http_req *r = h->reqs;
        unlink_req(h, r);
        curl_multi_remove_handle(h->multi, r->easy);
        struct wrk_http_resp resp = {.error = "aborted", .body = ""};
        r->done(r->ctx, &resp);
        req_free(r);
    }
    curl_multi_cleanup(h->multi);
    free(h);
}

int wrk_http_active(const struct wrk_http *h)
{
    return h->active;
}

long wrk_http_retry_after_ms(const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (n == 0 || n > 64)
        return -1;
    char s[65];
    memcpy(s, v, n);
    s[n] = '\0';
    bool digits = true;
    for (size_t i = 0; i < n; i++)
        digits = digits && isdigit((unsigned char)s[i]);
    long ms;
    if (digits) {
        if (n > 7) /* over 115 days: cap it */
            return RETRY_AFTER_CAP_MS;
        ms = strtol(s, NULL, 10) * 1000L;
    } else {
        time_t t = curl_getdate(s, NULL);
        if (t == (time_t)-1)
            return -1;
        time_t now = time(NULL);
        ms = t > now ? (long)(t - now) * 1000L : 0;
    }
    return ms > RETRY_AFTER_CAP_MS ? RETRY_AFTER_CAP_MS : ms;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct wrk_http_req *r = ud;
    size_t len = size * n;
    size_t room = r->resp.max - r->resp.len;
    /* keep what fits; the rest is read and dropped so the connection stays usable */
    if (room && tw_buf_append(&r->resp, p, len < room ? len : room) != TW_OK)
        return 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct wrk_http_req *r = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && len < 200 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[200];
        memcpy(v, p + sizeof name - 1, len - (sizeof name - 1));
        v[len - (sizeof name - 1)] = '\0';
        long ms = wrk_http_retry_after_ms(v);
        if (ms >= 0)
            r->retry_after_ms = ms;
    }
    return len;
}

int wrk_http_post(struct wrk_http *h, const char *url, const char *const *headers, int nheaders,
                  const char *body, size_t body_len, long timeout_ms, wrk_http_done_fn done,
                  void *ctx)
{
    struct wrk_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return TW_ENOMEM;
    tw_buf_init(&r->resp, WRK_HTTP_BODY_MAX);
    int rc = TW_ENOMEM;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto fail;
    for (int i = 0; i < nheaders; i++) {
        struct curl_slist *l = curl_slist_append(r->headers, headers[i]);
        if (!l)
            goto fail;
        r->headers = l;
    }
    /* no "Expect: 100-continue" round trip for larger bodies */
    struct curl_slist *l = curl_slist_append(r->headers, "Expect:");
    if (!l)
        goto fail;
    r->headers = l;
    r->done = done;
    r->ctx = ctx;
    CURL *e = r->easy;
    rc = TW_EIO;
    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "tw-worker") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, r) != CURLE_OK)
        goto fail;
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        goto fail;
    r->start_us = tw_mono_us();
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    h->active++;
    return TW_OK;
fail:
    req_free(r);
    return rc;
}

int wrk_http_run(struct wrk_http *h, int wait_ms, int extra_fd, bool *extra_ready)
{
    int running = 0;
    if (extra_ready)
        *extra_ready = false;
    curl_multi_perform(h->multi, &running);
    if (wait_ms > 0) {
        struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
        curl_multi_poll(h->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0, wait_ms,
                        NULL);
        if (extra_fd >= 0 && extra_ready)
            *extra_ready = (wfd.revents & CURL_WAIT_POLLIN) != 0;
        curl_multi_perform(h->multi, &running);
    }
    int called = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct wrk_http_req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode result = m->data.result;
        curl_multi_remove_handle(h->multi, m->easy_handle);
        unlink_req(h, r);
        struct wrk_http_resp resp = {0};
        if (result == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
            resp.error = "";
        } else {
            resp.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(result);
        }
        resp.retry_after_ms = r->retry_after_ms;
        resp.body = r->resp.data ? r->resp.data : "";
        resp.body_len = r->resp.len;
        resp.seconds = (double)(tw_mono_us() - r->start_us) / 1e6;
        r->done(r->ctx, &resp);
        req_free(r);
        called++;
    }
    return called;
}

void wrk_result_set(struct wrk_result *res, enum wrk_verdict v, const char *fmt, ...)
{
    res->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
}

/* Copies up to n bytes of an answer into out, printable ASCII only. */
static void excerpt(char *out, size_t outsz, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
    }
    out[o] = '\0';
}

void wrk_http_classify(const struct wrk_http_resp *resp, const char *what, struct wrk_result *res)
{
    memset(res, 0, sizeof *res);
    long s = resp->status;
    if (s == 0) {
        wrk_result_set(res, WRK_RETRY, "%s: no answer: %s", what, resp->error);
        return;
    }
    if (s >= 200 && s < 300) {
        res->verdict = WRK_ADMITTED;
        return;
    }
    char ex[121];
    excerpt(ex, sizeof ex, resp->body, resp->body_len);
    if (s == 408 || s == 429 || (s >= 500 && s < 600)) {
        wrk_result_set(res, WRK_RETRY, "%s answered %ld", what, s);
        res->retry_after_ms = resp->retry_after_ms;
        return;
    }
    wrk_result_set(res, WRK_PERMANENT, "%s answered %ld: %s", what, s, ex);
}
