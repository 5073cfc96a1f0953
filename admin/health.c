/* SPDX-License-Identifier: MIT */
/* tw-admin health: GET /healthz of the program in this container (Docker HEALTHCHECK). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/keys.h"

static const char usage[] =
    "usage: tw-admin health [--url URL] [--timeout-ms N] [--json]\n"
    "\n"
    "GETs /healthz and exits 0 when it answers 200, 1 otherwise. Without --url it asks\n"
    "TW_METRICS_LISTEN when set (tw-worker, tw-sender), else TW_LISTEN (tw-ingress); a\n"
    "wildcard address is reached on loopback.\n";

struct opts {
    const char *url;
    long timeout_ms;
};

static int on_opt(int opt, const char *arg, void *ctx)
{
    struct opts *o = ctx;
    if (opt == 'u') {
        o->url = arg;
        return 0;
    }
    if (opt == 't') {
        char *end;
        o->timeout_ms = strtol(arg, &end, 10);
        return (*end || o->timeout_ms <= 0 || o->timeout_ms > 600000) ? 1 : 0;
    }
    return 1;
}

int adm_health(struct adm *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {NULL, 2000};
    int first;
    int rc = adm_parse(a, argc, argv, longopts, usage, on_opt, &o, &first);
    if (rc >= 0)
        return rc;
    if (first != argc) {
        fputs(usage, stderr);
        return ADM_USAGE;
    }
    char url[512];
    if (o.url) {
        snprintf(url, sizeof url, "%s", o.url);
    } else {
        rc = adm_config(a);
        if (rc < 0)
            return adm_exit_of(rc);
        const char *listen = a->cfg.metrics_listen ? a->cfg.metrics_listen : a->cfg.listen;
        if (adm_listen_url(listen, TW_ROUTE_HEALTHZ, url, sizeof url) < 0) {
            adm_errf("health: cannot reach listen address %s", listen);
            return ADM_FAIL;
        }
    }
    struct adm_http_resp resp;
    int hrc = adm_http("GET", url, NULL, NULL, 0, o.timeout_ms, &resp);
    bool healthy = hrc == TW_OK && resp.status == 200;
    if (a->json) {
        json_t *doc = json_pack("{s:s, s:b, s:I}", "url", url, "healthy", healthy, "status",
                                (json_int_t)resp.status);
        if (doc && hrc != TW_OK)
            json_object_set_new(doc, "error", json_string(resp.error));
        adm_print_json(doc);
    } else if (healthy) {
        printf("healthy: %s answered 200\n", url);
    } else if (hrc == TW_OK) {
        printf("unhealthy: %s answered %ld\n", url, resp.status);
    } else {
        printf("unhealthy: %s: %s\n", url, resp.error);
    }
    free(resp.body);
    return healthy ? ADM_OK : ADM_FAIL;
}
