/* SPDX-License-Identifier: MIT */
/* One HTTP request with libcurl (health checks, simulated webhooks). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

#define BODY_MAX (64 * 1024)

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct adm_http_resp *r = ctx;
    size_t n = size * nmemb;
    size_t keep = r->len < BODY_MAX ? BODY_MAX - r->len : 0;
    if (keep > n)
        keep = n;
    if (keep) {
        char *grown = realloc(r->body, r->len + keep + 1);
        if (!grown)
            return 0; /* aborts the transfer */
        memcpy(grown + r->len, p, keep);
        r->body = grown;
        r->len += keep;
        r->body[r->len] = '\0';
    }
    return n;
}

int adm_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t body_len, long timeout_ms, struct adm_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    int rc = TW_EHTTP;
    struct curl_slist *list = NULL;
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        goto out;
    }
    for (size_t i = 0; headers && headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(list, headers[i]);
        if (!l) {
            snprintf(resp->error, sizeof resp->error, "out of memory");
            goto out;
        }
        list = l;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    rc = TW_OK;
out:
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return rc;
}

int adm_listen_url(const char *listen, const char *path, char *out, size_t outsz)
{
    char host[256];
    int port;
    if (tw_cfg_split_listen(listen, host, sizeof host, &port) < 0 || port == 0)
        return TW_EINVAL;
    const char *h = host;
    int v6 = strchr(host, ':') != NULL;
    /* A wildcard bind is reached on loopback. */
    if (!strcmp(host, "0.0.0.0") || !host[0])
        h = "127.0.0.1";
    else if (!strcmp(host, "::"))
        h = "::1";
    int n = snprintf(out, outsz, v6 ? "http://[%s]:%d%s" : "http://%s:%d%s", h, port, path);
    return n > 0 && (size_t)n < outsz ? TW_OK : TW_EINVAL;
}
