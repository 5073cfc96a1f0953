/* SPDX-License-Identifier: MIT */
/* tw-admin simulate inbound|status: a webhook as Twilio would send it, correctly signed. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/form.h"
#include "common/keys.h"
#include "common/signature.h"

static const char usage[] =
    "usage: tw-admin simulate inbound|status ...\n"
    "\n"
    "Posts a webhook signed with TWILIO_AUTH_TOKEN over the URL Twilio would\n"
    "sign (TWILIO_WEBHOOK_URL, TWILIO_STATUS_CALLBACK_URL) to the ingress.\n"
    "\n"
    "commands:\n";

static const char inbound_usage[] =
    "usage: tw-admin simulate inbound --from NUMBER --body TEXT [--to ADDRESS] [--sid SM...]\n"
    "           [--media-url URL]... [--idempotency-token T] [--url URL | --port N] [--json]\n"
    "\n"
    "Posts an inbound message (the fields Twilio sends for an SMS) signed over\n"
    "TWILIO_WEBHOOK_URL. It goes to --url when given, else to the ingress on this machine:\n"
    "TW_LISTEN (its port, or --port) at /channels/twilio/webhook. --to defaults to\n"
    "TWILIO_PHONE_NUMBER (required with a Messaging Service). --sid defaults to a random SM sid.\n"
    "Exits 0 when the ingress answers 200, 1 otherwise; prints the MessageSid.\n";

static const char status_usage[] =
    "usage: tw-admin simulate status --sid SM... --status STATUS --to NUMBER [--from ADDRESS]\n"
    "           [--error-code N] [--url URL | --port N] [--json]\n"
    "\n"
    "Posts a delivery-status callback for a message we sent, signed over\n"
    "TWILIO_STATUS_CALLBACK_URL, to --url or TW_LISTEN (or --port) at /channels/twilio/status.\n"
    "--from defaults to TWILIO_PHONE_NUMBER. Exits 0 when the ingress answers 200.\n";

#define MAX_MEDIA 10

struct sim_opts {
    const char *from, *to, *body, *sid, *token, *url, *status, *error_code;
    const char *media[MAX_MEDIA];
    int nmedia;
    long port;
    int bad;
};

static int on_opt(int opt, const char *arg, void *ctx)
{
    struct sim_opts *o = ctx;
    switch (opt) {
    case 'f':
        o->from = arg;
        return 0;
    case 't':
        o->to = arg;
        return 0;
    case 'b':
        o->body = arg;
        return 0;
    case 's':
        o->sid = arg;
        return 0;
    case 'i':
        o->token = arg;
        return 0;
    case 'u':
        o->url = arg;
        return 0;
    case 'S':
        o->status = arg;
        return 0;
    case 'e':
        o->error_code = arg;
        return 0;
    case 'm':
        if (o->nmedia >= MAX_MEDIA)
            return 1;
        o->media[o->nmedia++] = arg;
        return 0;
    case 'p': {
        char *end;
        o->port = strtol(arg, &end, 10);
        return (*end || o->port <= 0 || o->port > 65535) ? 1 : 0;
    }
    default:
        return 1;
    }
}

static const struct option longopts[] = {
    {"from", required_argument, NULL, 'f'},
    {"to", required_argument, NULL, 't'},
    {"body", required_argument, NULL, 'b'},
    {"sid", required_argument, NULL, 's'},
    {"idempotency-token", required_argument, NULL, 'i'},
    {"media-url", required_argument, NULL, 'm'},
    {"url", required_argument, NULL, 'u'},
    {"port", required_argument, NULL, 'p'},
    {"status", required_argument, NULL, 'S'},
    {"error-code", required_argument, NULL, 'e'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "SM" + 32 random hex digits. */
static int random_sid(char out[35])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return TW_EIO;
    memcpy(out, "SM", 2);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", r[i]);
    return TW_OK;
}

/* The configuration a signed webhook needs; reports what is missing. */
static int need_config(struct adm *a, bool status)
{
    int rc = adm_config(a);
    if (rc < 0)
        return rc;
    const char *signed_url_name = status ? "TWILIO_STATUS_CALLBACK_URL" : "TWILIO_WEBHOOK_URL";
    const char *signed_url = status ? a->cfg.status_callback_url : a->cfg.webhook_url;
    const char *missing = !a->cfg.account_sid  ? "TWILIO_ACCOUNT_SID"
                          : !a->cfg.auth_token ? "TWILIO_AUTH_TOKEN"
                          : !signed_url        ? signed_url_name
                                               : NULL;
    if (missing) {
        fprintf(stderr, "config: %s is required to simulate a webhook\n", missing);
        return TW_ECONFIG;
    }
    return TW_OK;
}

/* Where to post: --url, else TW_LISTEN with --port replacing its port. */
static int target_url(const struct adm *a, const struct sim_opts *o, const char *route, char *out,
                      size_t outsz)
{
    if (o->url) {
        int n = snprintf(out, outsz, "%s", o->url);
        return n > 0 && (size_t)n < outsz ? TW_OK : TW_EINVAL;
    }
    char listen[300];
    if (o->port) {
        char host[256];
        int port;
        if (tw_cfg_split_listen(a->cfg.listen, host, sizeof host, &port) < 0)
            return TW_EINVAL;
        snprintf(listen, sizeof listen, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, o->port);
    } else {
        snprintf(listen, sizeof listen, "%s", a->cfg.listen);
    }
    return adm_listen_url(listen, route, out, outsz);
}

/* Signs form over signed_url, posts it, reports. */
static int post_form(struct adm *a, const struct sim_opts *o, const struct tw_form *form,
                     const char *signed_url, const char *route, const char *kind, const char *sid)
{
    char url[1024], sig[TW_SIG_B64_LEN + 1], sighdr[64], idem[600];
    if (target_url(a, o, route, url, sizeof url) < 0) {
        adm_errf("simulate: cannot build the URL to post to");
        return ADM_USAGE;
    }
    int rc = tw_sig_compute(a->cfg.auth_token, signed_url, form, sig);
    char *body = rc == TW_OK ? tw_form_encode(form) : NULL;
    if (!body) {
        adm_errf("out of memory");
        return ADM_FAIL;
    }
    snprintf(sighdr, sizeof sighdr, "X-Twilio-Signature: %s", sig);
    const char *headers[4] = {"Content-Type: application/x-www-form-urlencoded", sighdr, NULL,
                              NULL};
    if (o->token) {
        snprintf(idem, sizeof idem, "I-Twilio-Idempotency-Token: %s", o->token);
        headers[2] = idem;
    }
    struct adm_http_resp resp;
    rc = adm_http("POST", url, headers, body, strlen(body), 15000, &resp);
    free(body);
    bool ok = rc == TW_OK && resp.status == 200;
    if (a->json) {
        json_t *doc = json_pack("{s:s, s:s, s:s, s:b, s:I}", "kind", kind, "message_sid", sid,
                                "url", url, "accepted", ok, "status", (json_int_t)resp.status);
        if (doc && rc != TW_OK)
            json_object_set_new(doc, "error", json_string(resp.error));
        adm_print_json(doc);
    } else if (rc == TW_OK) {
        printf("%s %s posted to %s: HTTP %ld%s\n", kind, sid, url, resp.status,
               ok ? " (accepted)" : "");
    } else {
        printf("%s %s not posted to %s: %s\n", kind, sid, url, resp.error);
    }
    free(resp.body);
    return ok ? ADM_OK : ADM_FAIL;
}

static int add_all(struct tw_form *f, const char *const *pairs)
{
    for (size_t i = 0; pairs[i]; i += 2)
        if (pairs[i + 1] && tw_form_add(f, pairs[i], pairs[i + 1]) < 0)
            return TW_ENOMEM;
    return TW_OK;
}

static int sim_inbound(struct adm *a, int argc, char **argv)
{
    struct sim_opts o = {0};
    int first;
    int rc = adm_parse(a, argc, argv, longopts, inbound_usage, on_opt, &o, &first);
    if (rc >= 0)
        return rc;
    if (first != argc || !o.from || !o.body || o.status || o.error_code) {
        adm_errf("simulate inbound: --from and --body are required");
        fputs(inbound_usage, stderr);
        return ADM_USAGE;
    }
    rc = need_config(a, false);
    if (rc < 0)
        return adm_exit_of(rc);
    const char *to = o.to ? o.to : a->cfg.phone_number;
    if (!to) {
        adm_errf("simulate inbound: --to is required with a Messaging Service");
        return ADM_USAGE;
    }
    char sid[35];
    if (!o.sid) {
        if (random_sid(sid) < 0) {
            adm_errf("no random bytes");
            return ADM_FAIL;
        }
        o.sid = sid;
    }
    char nmedia[8];
    snprintf(nmedia, sizeof nmedia, "%d", o.nmedia);
    /* The fields Twilio sends for an inbound SMS, in its order. */
    const char *pairs[] = {"ToCountry",
                           "US",
                           "ToState",
                           "",
                           "SmsMessageSid",
                           o.sid,
                           "NumMedia",
                           nmedia,
                           "ToCity",
                           "",
                           "FromZip",
                           "",
                           "SmsSid",
                           o.sid,
                           "FromState",
                           "",
                           "SmsStatus",
                           "received",
                           "FromCity",
                           "",
                           "Body",
                           o.body,
                           "FromCountry",
                           "US",
                           "To",
                           to,
                           "MessagingServiceSid",
                           a->cfg.messaging_service_sid,
                           "ToZip",
                           "",
                           "NumSegments",
                           "1",
                           "MessageSid",
                           o.sid,
                           "AccountSid",
                           a->cfg.account_sid,
                           "From",
                           o.from,
                           "ApiVersion",
                           "2010-04-01",
                           NULL};
    struct tw_form form;
    tw_form_init(&form);
    rc = add_all(&form, pairs);
    for (int i = 0; rc == TW_OK && i < o.nmedia; i++) {
        char name[32];
        snprintf(name, sizeof name, "MediaUrl%d", i);
        rc = tw_form_add(&form, name, o.media[i]);
        snprintf(name, sizeof name, "MediaContentType%d", i);
        if (rc == TW_OK)
            rc = tw_form_add(&form, name, "image/jpeg");
    }
    int out = ADM_FAIL;
    if (rc < 0)
        adm_errf("out of memory");
    else
        out = post_form(a, &o, &form, a->cfg.webhook_url, TW_ROUTE_WEBHOOK, "inbound", o.sid);
    tw_form_cleanup(&form);
    return out;
}

static int sim_status(struct adm *a, int argc, char **argv)
{
    struct sim_opts o = {0};
    int first;
    int rc = adm_parse(a, argc, argv, longopts, status_usage, on_opt, &o, &first);
    if (rc >= 0)
        return rc;
    if (first != argc || !o.sid || !o.status || !o.to || o.body || o.nmedia) {
        adm_errf("simulate status: --sid, --status and --to are required");
        fputs(status_usage, stderr);
        return ADM_USAGE;
    }
    rc = need_config(a, true);
    if (rc < 0)
        return adm_exit_of(rc);
    const char *from = o.from ? o.from : a->cfg.phone_number;
    const char *pairs[] = {"ErrorCode",
                           o.error_code,
                           "SmsSid",
                           o.sid,
                           "SmsStatus",
                           o.status,
                           "MessageStatus",
                           o.status,
                           "To",
                           o.to,
                           "MessagingServiceSid",
                           a->cfg.messaging_service_sid,
                           "MessageSid",
                           o.sid,
                           "AccountSid",
                           a->cfg.account_sid,
                           "From",
                           from,
                           "ApiVersion",
                           "2010-04-01",
                           NULL};
    struct tw_form form;
    tw_form_init(&form);
    rc = add_all(&form, pairs);
    int out = ADM_FAIL;
    if (rc < 0)
        adm_errf("out of memory");
    else
        out = post_form(a, &o, &form, a->cfg.status_callback_url, TW_ROUTE_STATUS, "status", o.sid);
    tw_form_cleanup(&form);
    return out;
}

int adm_simulate(struct adm *a, int argc, char **argv)
{
    static const struct adm_cmd sub[] = {
        {"inbound", sim_inbound, "an inbound message from a customer"},
        {"status", sim_status, "a delivery-status callback"},
    };
    return adm_dispatch(a, argc, argv, sub, sizeof sub / sizeof sub[0], usage);
}
