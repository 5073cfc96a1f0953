/* SPDX-License-Identifier: MIT */
/* The outbound API's server: its own MHD daemon, bearer-token check, routing, body collection
 * with a cap, Redis connections, and the answers. The routes themselves are in api_post.c and
 * api_get.c. */
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/net.h"
#include "common/redis.h"
#include "ingress/api_internal.h"

#define CONNECTION_LIMIT 256
#define CONNECTION_TIMEOUT_S 30
#define REDIS_TIMEOUT_MS 2000

struct api_request {
    struct tw_buf body;
    bool too_big;
    bool counted;
};

/* ------------------------------------------------------------------ answers */

void api_error(struct api_answer *a, unsigned status, const char *code, const char *message)
{
    a->status = status;
    json_decref(a->body);
    a->body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
    /* A message quoting the request (a JSON parse error, a field name cut at 100 bytes) may not
     * be UTF-8, which jansson refuses: answer with a plainer one rather than with nothing. */
    if (!a->body)
        a->body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message",
                            "the request is malformed");
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, const char *route,
                                   struct api_answer *a)
{
    char *text = a->body ? json_dumps(a->body, JSON_COMPACT) : NULL;
    json_decref(a->body);
    a->body = NULL;
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (a->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, a->allow);
    if (a->replayed)
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
    if (a->status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, a->status, r);
    MHD_destroy_response(r);
    char labels[96];
    snprintf(labels, sizeof labels, "route=\"%s\",status=\"%u\"", route, a->status);
    tw_metrics_inc("tw_ingress_api_requests_total", labels, 1);
    return ret;
}

/* ------------------------------------------------------------------ redis */

redisContext *api_redis_get(struct ing_api *api, struct api_redis **slot)
{
    unsigned i = atomic_fetch_add(&api->next_conn, 1) % API_THREADS;
    struct api_redis *s = &api->redis[i];
    pthread_mutex_lock(&s->lock);
    if (!s->c) {
        struct tw_redis_url u;
        char err[256];
        if (tw_rs_url_parse(api->cfg->redis_url, &u) == TW_OK)
            s->c = tw_rs_connect(&u, REDIS_TIMEOUT_MS, err, sizeof err);
        else
            snprintf(err, sizeof err, "bad REDIS_URL");
        if (!s->c) {
            TW_LOG_WARN("api: redis unavailable", TW_F_STR("error", err));
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
    }
    *slot = s;
    return s->c;
}

void api_redis_put(struct api_redis *slot, bool broken)
{
    if (broken && slot->c && slot->c->err) {
        TW_LOG_WARN("api: redis connection lost", TW_F_STR("error", slot->c->errstr));
        redisFree(slot->c);
        slot->c = NULL;
    }
    pthread_mutex_unlock(&slot->lock);
}

/* ------------------------------------------------------------------ requests */

/* "Bearer <token>", compared as SHA-256 digests in constant time (no length leak either). */
static bool authorized(struct ing_api *api, struct MHD_Connection *conn)
{
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(tok, strlen(tok), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return false;
    return CRYPTO_memcmp(md, api->token_sha, 32) == 0;
}

static bool declared_too_big(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno == ERANGE || (end != cl && n > API_BODY_MAX);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    (void)version;
    struct ing_api *api = cls;
    struct api_request *rq = *con_cls;
    struct api_answer a = {0};
    static const char msgs[] = TW_ROUTE_API_MESSAGES;
    size_t ml = sizeof msgs - 1;
    bool is_post_route = strcmp(url, msgs) == 0;
    bool is_get_route = strncmp(url, msgs, ml) == 0 && url[ml] == '/';
    const char *route = is_post_route ? "messages" : is_get_route ? "message" : "other";

    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        tw_buf_init(&rq->body, API_BODY_MAX);
        *con_cls = rq;
        atomic_fetch_add(&api->in_flight, 1);
        rq->counted = true;
        /* refuse early, before any body is read */
        if (!is_post_route && !is_get_route) {
            api_error(&a, MHD_HTTP_NOT_FOUND, "not_found", "no such route");
        } else if (is_post_route && strcmp(method, "POST") != 0) {
            api_error(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
            a.allow = "POST";
        } else if (is_get_route && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            api_error(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use GET");
            a.allow = "GET, HEAD";
        } else if (!authorized(api, conn)) {
            api_error(&a, MHD_HTTP_UNAUTHORIZED, "unauthorized", "missing or wrong bearer token");
        } else if (is_post_route && declared_too_big(conn)) {
            api_error(&a, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body too large");
        } else {
            return MHD_YES; /* read the body (if any), answer at the end */
        }
        return send_answer(conn, route, &a);
    }
    if (*size) {
        if (!rq->too_big && tw_buf_append(&rq->body, data, *size) == TW_ETOOBIG)
            rq->too_big = true; /* keep reading and dropping: answer once the body is over */
        *size = 0;
        return MHD_YES;
    }
    if (rq->too_big) {
        api_error(&a, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "request body too large");
    } else if (is_post_route) {
        const char *ct =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
        api_post_message(api, rq->body.data ? rq->body.data : "", rq->body.len, ct, idem, &a);
    } else {
        api_get_message(api, url + ml + 1, &a);
    }
    return send_answer(conn, route, &a);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct ing_api *api = cls;
    struct api_request *rq = *con_cls;
    if (!rq)
        return;
    if (rq->counted)
        atomic_fetch_sub(&api->in_flight, 1);
    tw_buf_cleanup(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[256];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    TW_LOG_DEBUG("api: libmicrohttpd", TW_F_STR("detail", text));
}

/* ------------------------------------------------------------------ start and stop */

/* The API must never share the public webhook port. */
static bool same_port(const char *a, const char *b)
{
    char ha[256], hb[256];
    int pa, pb;
    if (tw_cfg_split_listen(a, ha, sizeof ha, &pa) < 0 ||
        tw_cfg_split_listen(b, hb, sizeof hb, &pb) < 0)
        return false;
    return pa == pb && pa != 0;
}

int ing_api_start(const struct tw_config *cfg, struct ing_api **out)
{
    *out = NULL;
    if (!cfg->api_token) {
        TW_LOG_WARN("outbound API off: TW_API_TOKEN is not set",
                    TW_F_STR("listen", cfg->api_listen));
        return TW_OK;
    }
    if (same_port(cfg->api_listen, cfg->listen)) {
        fprintf(stderr, "config: TW_API_LISTEN must not use the port of TW_LISTEN\n");
        TW_LOG_ERROR("bad configuration", TW_F_STR("variable", "TW_API_LISTEN"),
                     TW_F_STR("reason", "must not use the port of TW_LISTEN"));
        return TW_ECONFIG;
    }
    struct sockaddr_storage ss;
    bool ipv6;
    if (tw_net_listen_addr(cfg->api_listen, &ss, &ipv6) < 0) {
        fprintf(stderr, "config: TW_API_LISTEN must be a numeric address\n");
        TW_LOG_ERROR("bad configuration", TW_F_STR("variable", "TW_API_LISTEN"),
                     TW_F_STR("reason", "must be a numeric address"));
        return TW_ECONFIG;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    struct ing_api *api = calloc(1, sizeof *api);
    if (!api)
        return TW_ENOMEM;
    api->cfg = cfg;
    unsigned int mdlen = 0;
    if (!EVP_Digest(cfg->api_token, strlen(cfg->api_token), api->token_sha, &mdlen, EVP_sha256(),
                    NULL)) {
        free(api);
        return TW_ENOMEM;
    }
    for (int i = 0; i < API_THREADS; i++)
        pthread_mutex_init(&api->redis[i].lock, NULL);
    atomic_init(&api->next_conn, 0);
    atomic_init(&api->in_flight, 0);
    tw_metrics_help("tw_ingress_api_requests_total", "counter",
                    "Outbound API requests by route and status.");
    api->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, api, MHD_OPTION_SOCK_ADDR, &ss,
                                   MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
                                   MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_END);
    if (!api->daemon) {
        TW_LOG_ERROR("api: cannot listen", TW_F_STR("listen", cfg->api_listen),
                     TW_F_STR("error", strerror(errno)));
        ing_api_stop(api);
        return TW_EIO;
    }
    TW_LOG_INFO("outbound API listening", TW_F_STR("listen", cfg->api_listen));
    *out = api;
    return TW_OK;
}

void ing_api_stop(struct ing_api *api)
{
    if (!api)
        return;
    if (api->daemon) {
        MHD_socket s = MHD_quiesce_daemon(api->daemon);
        if (s != MHD_INVALID_SOCKET)
            close(s);
        int64_t end = tw_mono_ms() + 5000;
        while (atomic_load(&api->in_flight) > 0 && tw_mono_ms() < end) {
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(api->daemon);
    }
    for (int i = 0; i < API_THREADS; i++) {
        if (api->redis[i].c)
            redisFree(api->redis[i].c);
        pthread_mutex_destroy(&api->redis[i].lock);
    }
    free(api);
}
