/* SPDX-License-Identifier: MIT */
/* The libmicrohttpd side: routing, the content-type and size checks, body collection with a
 * cap, suspension while the admission thread stores the entry, and the answers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/stop.h"
#include "ingress/server.h"

#define CONNECTION_LIMIT 4096
#define CONNECTION_TIMEOUT_S 15 /* idle or trickling clients: Twilio itself waits 15 s */
#define HEADER_MEMORY 32768     /* request line + headers; more is refused by MHD (431) */
#define BODY_RESERVE_MAX 65536  /* up front per request; a declared length is only a promise */

static const char *route_label(enum ing_route r)
{
    switch (r) {
    case ING_ROUTE_WEBHOOK:
        return "route=\"webhook\"";
    case ING_ROUTE_STATUS:
        return "route=\"status\"";
    case ING_ROUTE_HEALTHZ:
        return "route=\"healthz\"";
    case ING_ROUTE_READYZ:
        return "route=\"readyz\"";
    case ING_ROUTE_METRICS:
        return "route=\"metrics\"";
    default:
        return "route=\"other\"";
    }
}

static enum ing_route route_of(const char *url)
{
    if (strcmp(url, TW_ROUTE_WEBHOOK) == 0)
        return ING_ROUTE_WEBHOOK;
    if (strcmp(url, TW_ROUTE_STATUS) == 0)
        return ING_ROUTE_STATUS;
    if (strcmp(url, TW_ROUTE_HEALTHZ) == 0)
        return ING_ROUTE_HEALTHZ;
    if (strcmp(url, TW_ROUTE_READYZ) == 0)
        return ING_ROUTE_READYZ;
    if (strcmp(url, TW_ROUTE_METRICS) == 0)
        return ING_ROUTE_METRICS;
    return ING_ROUTE_NONE;
}

static void count(enum ing_route route, unsigned code)
{
    char labels[64];
    snprintf(labels, sizeof labels, "%s,status=\"%u\"", route_label(route), code);
    tw_metrics_inc("tw_ingress_requests_total", labels, 1);
}

/* Sends code with body (static memory) and content type (may be NULL). */
static enum MHD_Result reply(struct MHD_Connection *conn, enum ing_route route, unsigned code,
                             const char *body, const char *type, const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    count(route, code);
    return r;
}

static enum MHD_Result reply_status(struct MHD_Connection *conn, enum ing_route route,
                                    unsigned code)
{
    if (code == MHD_HTTP_OK && route == ING_ROUTE_WEBHOOK)
        return reply(conn, route, code, TW_TWIML_EMPTY, "text/xml; charset=UTF-8", NULL);
    return reply(conn, route, code, "", NULL, NULL);
}

/* The media type, case-insensitive, parameters such as "; charset=utf-8" allowed. */
static bool is_form(const char *ct)
{
    static const char want[] = "application/x-www-form-urlencoded";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Declared length over the limit. A malformed Content-Length is MHD's to refuse. */
static bool declared_too_big(struct MHD_Connection *conn, long limit)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == ERANGE || (end != cl && n > (unsigned long long)limit);
}

static void admitted(struct ing_admit_item *item, void *arg)
{
    struct ing_request *req = arg;
    switch (item->result) {
    case ING_ADMIT_DUPLICATE:
        tw_metrics_inc("tw_ingress_duplicates_total", route_label(req->route), 1);
        /* a duplicate gets the answer the original got */
        __attribute__((fallthrough));
    case ING_ADMIT_STORED:
        req->status = MHD_HTTP_OK;
        break;
    default:
        req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    MHD_resume_connection(req->conn);
}

static void log_answer(const struct ing_request *req)
{
    bool ok = req->status == MHD_HTTP_OK;
    enum tw_log_level lvl = ok ? TW_LOG_INFO_L : TW_LOG_WARN_L;
    if (!tw_log_enabled(lvl))
        return;
    double ms = (double)(tw_mono_us() - req->start_us) / 1000.0;
    const char *route = req->route == ING_ROUTE_STATUS ? "status" : "webhook";
    const char *dup = req->item.result == ING_ADMIT_DUPLICATE ? "true" : "false";
    if (ok)
        TW_LOG(lvl, "webhook accepted", TW_F_STR("route", route),
               TW_F_INT("status", req->status), TW_F_STR("message_sid", req->message_sid),
               TW_F_STR("duplicate", dup), TW_F_DBL("latency_ms", ms));
    else
        TW_LOG(lvl, "webhook refused", TW_F_STR("route", route), TW_F_INT("status", req->status),
               TW_F_STR("message_sid", req->message_sid), TW_F_DBL("latency_ms", ms));
}

/* The declared length, to size the body buffer once (0 when absent or unusable). */
static size_t declared_length(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return 0;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return (end != cl && *end == '\0') ? (size_t)n : 0;
}

static struct ing_request *request_new(struct ing_server *srv, struct MHD_Connection *conn,
                                       enum ing_route route)
{
    struct ing_request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->route = route;
    req->start_us = tw_mono_us();
    tw_buf_init(&req->body, (size_t)srv->cfg->body_limit);
    size_t expect = declared_length(conn);
    if (expect > BODY_RESERVE_MAX)
        expect = BODY_RESERVE_MAX;
    if (expect && tw_buf_reserve(&req->body, expect) != TW_OK) {
        free(req);
        return NULL;
    }
    tw_form_init(&req->form);
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

static void request_free(struct ing_request *req)
{
    tw_buf_cleanup(&req->body);
    tw_form_cleanup(&req->form);
    free(req->payload_json);
    free(req->conversation_json);
    free(req->conversation_key);
    free(req->dedup_key);
    atomic_fetch_sub(&req->srv->in_flight, 1);
    free(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    if (*req_cls)
        request_free(*req_cls);
    *req_cls = NULL;
}

/* First call for a request: everything decidable from the request line and headers. */
static enum MHD_Result on_headers(struct ing_server *srv, struct MHD_Connection *conn,
                                  const char *url, const char *method, void **req_cls)
{
    enum ing_route route = route_of(url);
    if (route == ING_ROUTE_STATUS && !srv->cfg->status_callback_url)
        route = ING_ROUTE_NONE;
    if (route == ING_ROUTE_NONE)
        return reply(conn, route, MHD_HTTP_NOT_FOUND, "", NULL, NULL);
    bool post_route = route == ING_ROUTE_WEBHOOK || route == ING_ROUTE_STATUS;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (post_route ? strcmp(method, "POST") != 0 : !get)
        return reply(conn, route, MHD_HTTP_METHOD_NOT_ALLOWED, "", NULL,
                     post_route ? "POST" : "GET, HEAD");
    if (route == ING_ROUTE_HEALTHZ)
        return reply(conn, route, MHD_HTTP_OK, "ok\n", "text/plain", NULL);
    if (route == ING_ROUTE_METRICS) {
        char *text = tw_metrics_render();
        if (!text)
            return reply(conn, route, MHD_HTTP_SERVICE_UNAVAILABLE, "", NULL, NULL);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
        enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        count(route, MHD_HTTP_OK);
        return r;
    }
    if (post_route) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!is_form(ct))
            return reply(conn, route, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "", NULL, NULL);
        if (declared_too_big(conn, srv->cfg->body_limit))
            return reply(conn, route, MHD_HTTP_CONTENT_TOO_LARGE, "", NULL, NULL);
    }
    struct ing_request *req = request_new(srv, conn, route);
    if (!req)
        return reply(conn, route, MHD_HTTP_SERVICE_UNAVAILABLE, "", NULL, NULL);
    *req_cls = req;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    struct ing_server *srv = cls;
    struct ing_request *req = *req_cls;
    if (!req)
        return on_headers(srv, conn, url, method, req_cls);

    if (*upload_size) {
        /* Past the cap nothing more is buffered. libmicrohttpd cannot answer in the middle of
         * an upload, so the rest is read and dropped and 413 sent at its end; a client that
         * keeps sending as much again is cut off. */
        if (req->too_big) {
            req->discarded += *upload_size;
            *upload_size = 0;
            return req->discarded > req->body.max ? MHD_NO : MHD_YES;
        }
        if (tw_buf_append(&req->body, upload, *upload_size) != TW_OK) {
            req->too_big = true;
            req->discarded = *upload_size;
            tw_buf_cleanup(&req->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }

    if (req->status) { /* resumed: the admission thread decided */
        log_answer(req);
        return reply_status(conn, req->route, req->status);
    }
    if (req->too_big)
        return reply(conn, req->route, MHD_HTTP_CONTENT_TOO_LARGE, "", NULL, NULL);

    if (req->route == ING_ROUTE_READYZ)
        req->item.kind = ING_ADMIT_PING;
    else {
        unsigned code = ing_webhook_prepare(req);
        if (code) {
            req->status = code;
            log_answer(req);
            return reply_status(conn, req->route, code);
        }
    }
    req->item.done = admitted;
    req->item.arg = req;
    req->suspended = true;
    MHD_suspend_connection(conn);
    ing_admit_submit(srv->admit, &req->item);
    return MHD_YES;
}

__attribute__((format(printf, 2, 0))) static void log_mhd(void *cls, const char *fmt,
                                                              va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    TW_LOG_DEBUG("http", TW_F_STR("detail", line));
}

int ing_server_start(struct ing_server *srv, const struct tw_config *cfg, struct ing_admit *admit)
{
    srv->cfg = cfg;
    srv->admit = admit;
    srv->tokens[0] = cfg->auth_token;
    srv->tokens[1] = cfg->auth_token_secondary;
    atomic_init(&srv->in_flight, 0);
    snprintf(srv->inbound_key, sizeof srv->inbound_key, "%s" TW_K_INBOUND, cfg->redis_prefix);
    snprintf(srv->status_key, sizeof srv->status_key, "%s" TW_K_STATUS, cfg->redis_prefix);
    snprintf(srv->dedup_inbound, sizeof srv->dedup_inbound, "%s" TW_K_DEDUP "inbound:",
             cfg->redis_prefix);
    snprintf(srv->dedup_status, sizeof srv->dedup_status, "%s" TW_K_DEDUP "status:",
             cfg->redis_prefix);
    snprintf(srv->ttl, sizeof srv->ttl, "%ld", cfg->dedup_ttl);

    struct sockaddr_storage ss;
    bool ipv6;
    if (tw_net_listen_addr(cfg->listen, &ss, &ipv6) < 0) {
        TW_LOG_ERROR("TW_LISTEN must be a numeric address", TW_F_STR("listen", cfg->listen));
        return TW_EINVAL;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
        MHD_OPTION_THREAD_POOL_SIZE, 2U, MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        1024U, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER,
        log_mhd, NULL, MHD_OPTION_END);
    if (!srv->daemon) {
        TW_LOG_ERROR("cannot listen", TW_F_STR("listen", cfg->listen),
                     TW_F_STR("error", strerror(errno)));
        return TW_EIO;
    }
    return TW_OK;
}

void ing_server_stop(struct ing_server *srv, long timeout_ms)
{
    if (!srv->daemon)
        return;
    /* Stop accepting; requests in flight (waiting on Redis included) still get their answer. */
    MHD_socket s = MHD_quiesce_daemon(srv->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    int64_t end = tw_mono_ms() + timeout_ms;
    while (atomic_load(&srv->in_flight) > 0 && tw_mono_ms() < end) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}
