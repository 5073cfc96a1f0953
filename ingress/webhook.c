/* SPDX-License-Identifier: MIT */
/* Verify -> parse -> check -> build the stream entry, for inbound messages and status callbacks.
 * The checks run in the order the contract fixes, so each bad input gets its own answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/convkey.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/signature.h"
#include "ingress/server.h"

#define TOKEN_MAX 256

/* The idempotency token Twilio sent, when usable: non-empty, no surrounding white space,
 * printable, bounded. Anything else is ignored and the SID decides deduplication. */
static const char *idempotency_token(struct MHD_Connection *conn)
{
    const char *t =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "I-Twilio-Idempotency-Token");
    if (!t || !*t)
        return NULL;
    size_t n = strlen(t);
    if (n > TOKEN_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
            return NULL;
    return t;
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    char *s = malloc(la + lb + lc + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    if (c) {
        s[la + lb] = ':';
        memcpy(s + la + lb + 1, c, lc + 1);
    } else {
        s[la + lb] = '\0';
    }
    return s;
}

/* Builds the conversation of the request, or leaves it absent. */
static int build_conversation(struct ing_request *req, enum tw_conv_type type, const char *account,
                              const char *mg, const char *address, const char *participant)
{
    struct tw_conv conv = {0};
    int rc = tw_conv_set(&conv, type, account, mg, address, participant);
    if (rc == TW_OK)
        rc = tw_conv_key_encode(&conv, &req->conversation_key);
    if (rc == TW_OK) {
        req->conversation_json = tw_conv_to_json(&conv);
        if (!req->conversation_json)
            rc = TW_ENOMEM;
    }
    tw_conv_cleanup(&conv);
    return rc;
}

static unsigned check_inbound(struct ing_request *req, const struct tw_config *cfg)
{
    const struct tw_form *f = &req->form;
    const char *sid = tw_form_get1(f, "MessageSid"), *account = tw_form_get1(f, "AccountSid");
    const char *from = tw_form_get1(f, "From"), *to = tw_form_get1(f, "To");
    if (!sid || !*sid || !account || !*account || !from || !*from || !to || !*to)
        return MHD_HTTP_BAD_REQUEST;
    if (strcmp(account, cfg->account_sid) != 0)
        return MHD_HTTP_FORBIDDEN;
    req->message_sid = sid;
    int rc;
    if (cfg->phone_number) {
        if (strcmp(to, cfg->phone_number) != 0)
            return MHD_HTTP_FORBIDDEN;
        rc = build_conversation(req, TW_CONV_ADDRESS, account, NULL, to, from);
    } else {
        const char *mg = tw_form_get1(f, "MessagingServiceSid");
        if (!mg || strcmp(mg, cfg->messaging_service_sid) != 0)
            return MHD_HTTP_FORBIDDEN;
        rc = build_conversation(req, TW_CONV_SERVICE, account, mg, to, from);
    }
    return rc == TW_OK ? 0 : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static unsigned check_status(struct ing_request *req, const struct tw_config *cfg)
{
    const struct tw_form *f = &req->form;
    const char *sid = tw_form_get1(f, "MessageSid"), *account = tw_form_get1(f, "AccountSid");
    const char *status = tw_form_get1(f, "MessageStatus");
    if (!sid || !*sid || !account || !*account || !status || !*status)
        return MHD_HTTP_BAD_REQUEST;
    if (strcmp(account, cfg->account_sid) != 0)
        return MHD_HTTP_FORBIDDEN;
    req->message_sid = sid;
    /* A callback for a message of another sender is still stored, without a conversation. */
    const char *from = tw_form_get1(f, "From"), *to = tw_form_get1(f, "To");
    if (!from || !*from || !to || !*to)
        return 0;
    int rc = TW_OK;
    if (cfg->phone_number) {
        if (strcmp(from, cfg->phone_number) == 0)
            rc = build_conversation(req, TW_CONV_ADDRESS, account, NULL, from, to);
    } else {
        const char *mg = tw_form_get1(f, "MessagingServiceSid");
        if (mg && strcmp(mg, cfg->messaging_service_sid) == 0)
            rc = build_conversation(req, TW_CONV_SERVICE, account, mg, from, to);
    }
    return rc == TW_OK ? 0 : MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static void add_arg(struct ing_admit_item *it, const char *s, size_t n)
{
    it->argv[it->argc] = s;
    it->lens[it->argc] = n;
    it->argc++;
}

static void add_field(struct ing_admit_item *it, const char *name, const char *value)
{
    if (!value)
        return;
    add_arg(it, name, strlen(name));
    add_arg(it, value, strlen(value));
}

unsigned ing_webhook_prepare(struct ing_request *req)
{
    const struct ing_server *srv = req->srv;
    const struct tw_config *cfg = srv->cfg;
    bool status = req->route == ING_ROUTE_STATUS;

    int rc = tw_form_parse(&req->form, req->body.data ? req->body.data : "", req->body.len);
    if (rc == TW_ETOOBIG)
        return MHD_HTTP_CONTENT_TOO_LARGE;
    if (rc == TW_ENOMEM)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    if (rc < 0)
        return MHD_HTTP_BAD_REQUEST;
    /* A NUL byte in a name cannot be a JSON object key for most readers (jansson refuses it), so
     * such an entry could never be consumed: refuse it here. Twilio never sends one. */
    for (size_t i = 0; i < req->form.n; i++)
        if (memchr(req->form.pairs[i].name, '\0', req->form.pairs[i].name_len))
            return MHD_HTTP_BAD_REQUEST;

    const char *sig = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Twilio-Signature");
    const char *url = status ? cfg->status_callback_url : cfg->webhook_url;
    rc = tw_sig_verify(srv->tokens, 2, url, &req->form, sig);
    if (rc == TW_ENOMEM)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    if (rc < 0) {
        tw_metrics_inc("tw_ingress_signature_failures_total",
                       status ? "route=\"status\"" : "route=\"webhook\"", 1);
        return MHD_HTTP_UNAUTHORIZED;
    }

    unsigned code = status ? check_status(req, cfg) : check_inbound(req, cfg);
    if (code)
        return code;

    const char *token = idempotency_token(req->conn);
    const char *prefix = status ? srv->dedup_status : srv->dedup_inbound;
    if (token)
        req->dedup_key = join(prefix, token, NULL);
    else
        req->dedup_key = join(prefix, req->message_sid,
                              status ? tw_form_get1(&req->form, "MessageStatus") : NULL);
    req->payload_json = tw_form_to_json(&req->form);
    if (!req->dedup_key || !req->payload_json)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    snprintf(req->received_at, sizeof req->received_at, "%lld", (long long)tw_now_ms());

    struct ing_admit_item *it = &req->item;
    it->kind = ING_ADMIT_ENTRY;
    it->argc = 0;
    add_arg(it, req->dedup_key, strlen(req->dedup_key));
    const char *stream = status ? srv->status_key : srv->inbound_key;
    add_arg(it, stream, strlen(stream));
    add_arg(it, srv->ttl, strlen(srv->ttl));
    add_field(it, TW_F_PAYLOAD, req->payload_json);
    add_field(it, TW_F_CONVERSATION, req->conversation_json);
    add_field(it, TW_F_CONVERSATION_KEY, req->conversation_key);
    add_field(it, TW_F_IDEMPOTENCY_TOKEN, token);
    add_field(it, TW_F_RECEIVED_AT, req->received_at);
    return 0;
}
