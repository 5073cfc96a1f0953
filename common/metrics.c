/* SPDX-License-Identifier: MIT */
/* A small metrics registry: a list searched under one lock; a few dozen series at most. */
#include "common/metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/net.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

enum kind { K_COUNTER, K_GAUGE, K_HIST };

struct series {
    const char *name; /* borrowed literal */
    char *labels;     /* owned, malloc */
    enum kind kind;
    double value;                   /* counter or gauge */
    unsigned long long b[NBUCKETS]; /* histogram: cumulative later, per bucket here */
    unsigned long long count;
    double sum;
    struct series *next;
};

struct help {
    const char *name, *type, *text;
    struct help *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series *head, *tail;
static struct help *helps;
static struct MHD_Daemon *daemon_;

void tw_metrics_help(const char *name, const char *type, const char *text)
{
    struct help *h = calloc(1, sizeof *h);
    if (!h)
        return;
    h->name = name;
    h->type = type;
    h->text = text;
    pthread_mutex_lock(&lock);
    h->next = helps;
    helps = h;
    pthread_mutex_unlock(&lock);
}

/* Called with the lock held. Keeps insertion order so one name's series render together. */
static struct series *find(const char *name, const char *labels, enum kind kind)
{
    for (struct series *s = head; s; s = s->next)
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    struct series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->labels = strdup(labels);
    if (!s->labels) {
        free(s);
        return NULL;
    }
    s->name = name;
    s->kind = kind;
    /* insert after the last series of the same name, so TYPE lines stay grouped */
    struct series *after = NULL;
    for (struct series *p = head; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            after = p;
    if (after) {
        s->next = after->next;
        after->next = s;
        if (tail == after)
            tail = s;
    } else if (tail) {
        tail->next = s;
        tail = s;
    } else {
        head = tail = s;
    }
    return s;
}

void tw_metrics_inc(const char *name, const char *labels, double n)
{
    pthread_mutex_lock(&lock);
    struct series *s = find(name, labels, K_COUNTER);
    if (s)
        s->value += n;
    pthread_mutex_unlock(&lock);
}

void tw_metrics_set(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&lock);
    struct series *s = find(name, labels, K_GAUGE);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&lock);
}

void tw_metrics_observe(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&lock);
    struct series *s = find(name, labels, K_HIST);
    if (s) {
        for (size_t i = 0; i < NBUCKETS; i++)
            if (value <= buckets[i]) {
                s->b[i]++;
                break;
            }
        s->count++;
        s->sum += value;
    }
    pthread_mutex_unlock(&lock);
}

static const struct help *help_of(const char *name)
{
    for (const struct help *h = helps; h; h = h->next)
        if (strcmp(h->name, name) == 0)
            return h;
    return NULL;
}

static int render_series(struct tw_buf *b, const struct series *s)
{
    const char *sep = s->labels[0] ? "," : "";
    int rc = TW_OK;
    if (s->kind != K_HIST)
        return tw_buf_printf(b, "%s%s%s%s %.17g\n", s->name, s->labels[0] ? "{" : "", s->labels,
                             s->labels[0] ? "}" : "", s->value);
    unsigned long long cum = 0;
    for (size_t i = 0; i < NBUCKETS && rc == TW_OK; i++) {
        cum += s->b[i];
        rc = tw_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels, sep,
                           buckets[i], cum);
    }
    if (rc == TW_OK)
        rc = tw_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep,
                           s->count);
    if (rc == TW_OK)
        rc = tw_buf_printf(b, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %llu\n", s->name,
                           s->labels[0] ? "{" : "", s->labels, s->labels[0] ? "}" : "", s->sum,
                           s->name, s->labels[0] ? "{" : "", s->labels, s->labels[0] ? "}" : "",
                           s->count);
    return rc;
}

char *tw_metrics_render(void)
{
    struct tw_buf b;
    tw_buf_init(&b, 16 * 1024 * 1024);
    int rc = tw_buf_puts(&b, "");
    pthread_mutex_lock(&lock);
    const char *last = NULL;
    for (const struct series *s = head; s && rc == TW_OK; s = s->next) {
        if (!last || strcmp(last, s->name) != 0) {
            const struct help *h = help_of(s->name);
            const char *type = s->kind == K_HIST    ? "histogram"
                               : s->kind == K_GAUGE ? "gauge"
                                                    : "counter";
            if (h)
                rc = tw_buf_printf(&b, "# HELP %s %s\n", s->name, h->text);
            if (rc == TW_OK)
                rc = tw_buf_printf(&b, "# TYPE %s %s\n", s->name, h ? h->type : type);
            last = s->name;
        }
        if (rc == TW_OK)
            rc = render_series(&b, s);
    }
    pthread_mutex_unlock(&lock);
    if (rc != TW_OK) {
        tw_buf_cleanup(&b);
        return NULL;
    }
    return b.data;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req_cls;
    struct MHD_Response *resp;
    unsigned code = MHD_HTTP_OK;
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0) {
        if (strcmp(method, "GET") != 0) {
            resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(resp, "Allow", "GET");
            code = MHD_HTTP_METHOD_NOT_ALLOWED;
        } else if (url[1] == 'm') {
            char *text = tw_metrics_render();
            resp = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                        : MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
            MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4");
            if (!text)
                code = MHD_HTTP_INTERNAL_SERVER_ERROR;
        } else {
            resp = MHD_create_response_from_buffer(3, "ok\n", MHD_RESPMEM_PERSISTENT);
        }
    } else {
        resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        code = MHD_HTTP_NOT_FOUND;
    }
    enum MHD_Result r = MHD_queue_response(conn, code, resp);
    MHD_destroy_response(resp);
    return r;
}

int tw_metrics_serve(const char *listen)
{
    struct sockaddr_storage sa;
    bool ipv6;
    if (tw_net_listen_addr(listen, &sa, &ipv6) < 0)
        return TW_EINVAL;
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0), 0, NULL,
        NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 64U,
        MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    return daemon_ ? TW_OK : TW_EIO;
}

void tw_metrics_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
