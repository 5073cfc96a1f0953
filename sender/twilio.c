/* SPDX-License-Identifier: MIT */
/* libcurl requests to Twilio and the classification of their ends. */
#include "sender/twilio.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/convkey.h"
#include "common/form.h"

#define UA "twilio-channel/1 (tw-sender)"

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct snd_req *r = ud;
    /* past the cap the transfer fails (CURLE_WRITE_ERROR): an oversized answer is not Twilio's */
    return tw_buf_append(&r->resp, p, sz * n) == TW_OK ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct snd_req *r = ud;
    size_t len = sz * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[64];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        char *s = v;
        while (isspace((unsigned char)*s))
            s++;
        char *end;
        long secs = strtol(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end != s && *end == '\0' && secs >= 0 && secs < 86400)
            r->retry_after_ms = secs * 1000;
    }
    return len;
}

/* Called by libcurl just before it writes the request on a connection. libcurl silently writes
 * a request again on a fresh connection when a reused one dies before any answer byte; for a
 * create that may be a second message (Twilio may have created the first and then lost the
 * connection), so the second write is refused and the end is ambiguous: reconciled, not resent. */
static int on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port)
{
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    struct snd_req *r = ud;
    return ++r->writes > 1 ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}

/* <base>/2010-04-01/Accounts/<AC>/Messages.json, the base's trailing slashes dropped. */
static char *messages_url(const struct tw_config *cfg)
{
    size_t bl = strlen(cfg->api_base);
    while (bl > 0 && cfg->api_base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(cfg->account_sid) + 64;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)bl, cfg->api_base,
                 cfg->account_sid);
    return u;
}

static int common_setup(struct snd_req *r, const struct tw_config *cfg)
{
    CURL *e = r->easy;
    const char *user = cfg->api_key_sid ? cfg->api_key_sid : cfg->account_sid;
    const char *pass = cfg->api_key_sid ? cfg->api_key_secret : cfg->auth_token;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, r->url);
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    bad |= curl_easy_setopt(e, CURLOPT_USERNAME, user);
    bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, pass);
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, SND_CONNECT_TIMEOUT_MS);
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->send_timeout_ms);
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, UA);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    return bad ? TW_ENOMEM : TW_OK;
}

static int req_init(struct snd_req *r)
{
    memset(r, 0, sizeof *r);
    tw_buf_init(&r->resp, SND_RESP_MAX);
    r->retry_after_ms = -1;
    r->easy = curl_easy_init();
    return r->easy ? TW_OK : TW_ENOMEM;
}

void snd_req_cleanup(struct snd_req *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    free(r->url);
    free(r->post);
    tw_buf_cleanup(&r->resp);
    memset(r, 0, sizeof *r);
}

int snd_twilio_create(struct snd_req *r, const struct tw_config *cfg, const struct snd_send *s)
{
    struct tw_form f;
    tw_form_init(&f);
    int rc = req_init(r);
    if (rc < 0)
        goto out;
    rc = TW_EINVAL;
    if (!s->to || !*s->to || !(s->from && *s->from) == !(s->mg && *s->mg))
        goto out;
    rc = tw_form_add(&f, "To", s->to);
    if (rc == TW_OK)
        rc = s->from ? tw_form_add(&f, "From", s->from)
                     : tw_form_add(&f, "MessagingServiceSid", s->mg);
    if (rc == TW_OK && s->body && *s->body)
        rc = tw_form_add(&f, "Body", s->body);
    for (size_t i = 0; rc == TW_OK && i < s->nmedia; i++)
        rc = tw_form_add(&f, "MediaUrl", s->media[i]);
    if (rc == TW_OK && s->status_callback)
        rc = tw_form_add(&f, "StatusCallback", s->status_callback);
    if (rc < 0)
        goto out;
    rc = TW_ENOMEM;
    r->post = tw_form_encode(&f);
    r->url = messages_url(cfg);
    if (!r->post || !r->url)
        goto out;
    rc = common_setup(r, cfg);
    if (rc < 0)
        goto out;
    if (curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post) ||
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->post)) ||
        curl_easy_setopt(r->easy, CURLOPT_PREREQFUNCTION, on_prereq) ||
        curl_easy_setopt(r->easy, CURLOPT_PREREQDATA, r))
        rc = TW_ENOMEM;
out:
    tw_form_cleanup(&f);
    if (rc < 0)
        snd_req_cleanup(r);
    return rc;
}

/* Appends "&name=value" (or "?..." first) with the value encoded as encodeURIComponent does. */
static int add_param(struct tw_buf *b, const char *name, const char *value)
{
    int rc = tw_buf_puts(b, strchr(b->data, '?') ? "&" : "?");
    if (rc == TW_OK)
        rc = tw_buf_puts(b, name);
    if (rc == TW_OK)
        rc = tw_buf_puts(b, "=");
    if (rc == TW_OK)
        rc = tw_conv_uri_encode(b, value, strlen(value));
    return rc;
}

int snd_twilio_list(struct snd_req *r, const struct tw_config *cfg, const char *to,
                    const char *from, const char *day, int page_size)
{
    struct tw_buf u;
    tw_buf_init(&u, 8192);
    char *base = NULL;
    char ps[16];
    int rc = req_init(r);
    if (rc < 0)
        goto out;
    rc = TW_ENOMEM;
    base = messages_url(cfg);
    if (!base)
        goto out;
    snprintf(ps, sizeof ps, "%d", page_size);
    rc = tw_buf_puts(&u, base);
    if (rc == TW_OK && to)
        rc = add_param(&u, "To", to);
    if (rc == TW_OK && from)
        rc = add_param(&u, "From", from);
    if (rc == TW_OK && day)
        rc = add_param(&u, "DateSent%3E", day); /* "DateSent>": on or after that day */
    if (rc == TW_OK)
        rc = add_param(&u, "PageSize", ps);
    if (rc < 0)
        goto out;
    r->url = u.data;
    u.data = NULL;
    rc = common_setup(r, cfg);
    if (rc == TW_OK && curl_easy_setopt(r->easy, CURLOPT_HTTPGET, 1L))
        rc = TW_ENOMEM;
out:
    free(base);
    tw_buf_cleanup(&u);
    if (rc < 0)
        snd_req_cleanup(r);
    return rc;
}

void snd_result_cleanup(struct snd_result *res)
{
    free(res->code);
    free(res->message);
    free(res->more_info);
    snd_msg_cleanup(&res->msg);
    memset(res, 0, sizeof *res);
}

/* True when curl never got to send the request: nothing can have reached Twilio. */
static bool nothing_sent(CURL *e, CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return true;
    default:
        break;
    }
    /* the transfer never reached the point where the request is written */
    curl_off_t pre = 0;
    return curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK && pre == 0;
}

static void set_text(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? strdup(s) : NULL;
}

/* Fills the error fields from Twilio's error body, or a generic text when it has none. */
static void take_error(struct snd_req *r, struct snd_result *out, const char *fallback)
{
    char *code, *msg, *more;
    if (r->resp.len && snd_resp_error(r->resp.data, r->resp.len, &code, &msg, &more) == TW_OK) {
        out->code = code;
        out->message = msg;
        out->more_info = more;
    }
    if (!out->message)
        set_text(&out->message, fallback);
}

static void classify_transport(struct snd_req *r, CURLcode rc, struct snd_result *out)
{
    bool safe = r->writes <= 1 && nothing_sent(r->easy, rc);
    out->outcome = safe ? SND_RETRY : SND_AMBIGUOUS;
    out->why = rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : safe ? "connect" : "network";
    char text[CURL_ERROR_SIZE + 64];
    snprintf(text, sizeof text, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    set_text(&out->message, text);
}

void snd_twilio_classify_create(struct snd_req *r, CURLcode rc, struct snd_result *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = r->retry_after_ms;
    if (rc != CURLE_OK) {
        classify_transport(r, rc, out);
        return;
    }
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    out->http_status = st;
    if (st == 200 || st == 201) {
        if (snd_resp_message(r->resp.data ? r->resp.data : "", r->resp.len, &out->msg) == TW_OK) {
            out->outcome = SND_OK;
            out->why = "created";
        } else {
            /* a 2xx we cannot read: the message exists but we do not know its sid */
            out->outcome = SND_AMBIGUOUS;
            out->why = "unreadable";
            set_text(&out->message, "unreadable answer to a create");
        }
    } else if (st == 429) {
        out->outcome = SND_RETRY;
        out->why = "429";
        take_error(r, out, "Too Many Requests");
    } else if (st == 401) {
        /* never processed; most likely credentials being rotated: retry, do not dead-letter */
        out->outcome = SND_RETRY;
        out->why = "401";
        take_error(r, out, "Authenticate");
    } else if (st >= 400 && st < 500) {
        out->outcome = SND_PERMANENT;
        out->why = "4xx";
        take_error(r, out, "rejected by Twilio");
    } else {
        out->outcome = SND_AMBIGUOUS;
        out->why = st >= 500 ? "5xx" : "unexpected";
        take_error(r, out, "unexpected answer from Twilio");
    }
}

void snd_twilio_classify_list(struct snd_req *r, CURLcode rc, struct snd_result *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_ms = r->retry_after_ms;
    if (rc != CURLE_OK) {
        classify_transport(r, rc, out);
        out->outcome = SND_RETRY; /* a list is a read: always safe to repeat */
        return;
    }
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    out->http_status = st;
    if (st == 200) {
        out->outcome = SND_OK;
        out->why = "listed";
        return;
    }
    out->outcome = SND_RETRY;
    out->why = st == 429 ? "429" : st >= 500 ? "5xx" : "4xx";
    take_error(r, out, "list failed");
}
