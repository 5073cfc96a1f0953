/* SPDX-License-Identifier: MIT */
/* Conversation keys: encodeURIComponent segments, canonical-only parsing, JSON form. */
#include "common/convkey.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define PREFIX "twilio:v1:account:"

/* ---------------------------------------------------------------- encodeURIComponent */

static int uri_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("-_.!~*'()", c) != NULL);
}

int tw_conv_uri_encode(struct tw_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!tw_utf8_valid(s, n))
        return TW_EUTF8;
    size_t i = 0;
    while (i < n) {
        size_t run = i; /* copy runs of unreserved bytes in one append */
        while (run < n && uri_unreserved((unsigned char)s[run]))
            run++;
        int rc = tw_buf_append(out, s + i, run - i);
        if (rc < 0)
            return rc;
        if (run == n)
            break;
        unsigned char c = (unsigned char)s[run];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        rc = tw_buf_append(out, esc, 3);
        if (rc < 0)
            return rc;
        i = run + 1;
    }
    return TW_OK;
}

/* ---------------------------------------------------------------- struct */

void tw_conv_cleanup(struct tw_conv *c)
{
    free(c->account_sid);
    free(c->messaging_service_sid);
    free(c->address);
    free(c->participant);
    memset(c, 0, sizeof *c);
}

int tw_conv_set(struct tw_conv *c, enum tw_conv_type type, const char *account, const char *mg,
                const char *address, const char *participant)
{
    memset(c, 0, sizeof *c);
    if (!account || !address || !participant || (type == TW_CONV_SERVICE) != (mg != NULL))
        return TW_EINVAL;
    c->type = type;
    c->account_sid = strdup(account);
    c->messaging_service_sid = mg ? strdup(mg) : NULL;
    c->address = strdup(address);
    c->participant = strdup(participant);
    if (!c->account_sid || (mg && !c->messaging_service_sid) || !c->address || !c->participant) {
        tw_conv_cleanup(c);
        return TW_ENOMEM;
    }
    return TW_OK;
}

/* ---------------------------------------------------------------- segment rules */

/* The code point starting at s[i] (s is valid UTF-8); *len gets its byte count. */
static unsigned cp_at(const unsigned char *s, size_t *len)
{
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xE0) {
        *len = 2;
        return (unsigned)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    }
    if (s[0] < 0xF0) {
        *len = 3;
        return (unsigned)(s[0] & 0x0F) << 12 | (unsigned)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    }
    *len = 4;
    return (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3F) << 12 |
           (unsigned)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
}

/* What JavaScript's String.prototype.trim() removes: White_Space and the BOM. */
static int js_space(unsigned cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

/* Flue's rule for every segment: a non-empty string equal to its own trim(). s is valid UTF-8. */
static const char *segment_problem(const char *s, size_t n)
{
    if (n == 0)
        return "empty segment";
    const unsigned char *u = (const unsigned char *)s;
    size_t len, last = n - 1;
    if (js_space(cp_at(u, &len)))
        return "segment has surrounding white space";
    while (last > 0 && (u[last] & 0xC0) == 0x80)
        last--;
    if (js_space(cp_at(u + last, &len)))
        return "segment has surrounding white space";
    return NULL;
}

/* ---------------------------------------------------------------- encode */

static int put_segment(struct tw_buf *b, const char *label, const char *value)
{
    size_t n = strlen(value);
    if (!tw_utf8_valid(value, n))
        return TW_EUTF8;
    if (segment_problem(value, n))
        return TW_EINVAL;
    int rc = tw_buf_puts(b, label);
    if (rc < 0)
        return rc;
    return tw_conv_uri_encode(b, value, n);
}

int tw_conv_key_encode(const struct tw_conv *c, char **out)
{
    int rc = TW_EINVAL;
    struct tw_buf b;
    tw_buf_init(&b, TW_CONV_KEY_MAX);
    *out = NULL;
    if (!c->account_sid || !c->address || !c->participant ||
        (c->type == TW_CONV_SERVICE && !c->messaging_service_sid))
        goto out;
    rc = put_segment(&b, PREFIX, c->account_sid);
    if (rc == TW_OK && c->type == TW_CONV_SERVICE)
        rc = put_segment(&b, ":messaging-service:", c->messaging_service_sid);
    if (rc == TW_OK)
        rc = put_segment(&b, ":address:", c->address);
    if (rc == TW_OK)
        rc = put_segment(&b, ":participant:", c->participant);
    if (rc < 0)
        goto out;
    *out = b.data;
    b.data = NULL;
out:
    tw_buf_cleanup(&b);
    return rc;
}

/* ---------------------------------------------------------------- decode */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one encoded segment into *out (new) and checks that it is canonical. */
static int decode_segment(const char *s, size_t n, char **out, const char **why)
{
    int rc = TW_EKEY;
    struct tw_buf again;
    char *d = malloc(n + 1);
    size_t o = 0;
    tw_buf_init(&again, n); /* a canonical segment re-encodes to exactly n bytes */
    if (!d) {
        rc = TW_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            d[o++] = s[i];
            continue;
        }
        if (n - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
            hexval((unsigned char)s[i + 2]) < 0) {
            *why = "malformed percent-escape";
            goto out;
        }
        d[o++] = (char)(hexval((unsigned char)s[i + 1]) << 4 | hexval((unsigned char)s[i + 2]));
        i += 2;
    }
    d[o] = '\0';
    if (!tw_utf8_valid(d, o)) {
        *why = "segment is not valid UTF-8 once decoded";
        goto out;
    }
    if (memchr(d, '\0', o)) {
        *why = "segment contains a NUL byte";
        goto out;
    }
    *why = segment_problem(d, o);
    if (*why)
        goto out;
    rc = tw_conv_uri_encode(&again, d, o);
    if (rc == TW_ENOMEM)
        goto out;
    /* TW_ETOOBIG here means the re-encoding is longer than the input: not canonical either. */
    if (rc < 0 || again.len != n || memcmp(again.data, s, n) != 0) {
        rc = TW_EKEY;
        *why = "segment is not encoded as encodeURIComponent does";
        goto out;
    }
    *out = d;
    d = NULL;
    rc = TW_OK;
out:
    free(d);
    tw_buf_cleanup(&again);
    return rc;
}

int tw_conv_key_decode(const char *key, struct tw_conv *c, const char **why)
{
    /* After the prefix: <a>:address:<addr>:participant:<p>, or the service form with
     * messaging-service:<mg> after <a>. Labels sit at odd positions, values at even ones. */
    static const char *const address_labels[] = {"address", "participant"};
    static const char *const service_labels[] = {"messaging-service", "address", "participant"};
    const char *dummy, *seg[8];
    size_t seglen[8], nseg = 0;
    int rc = TW_EKEY;
    if (!why)
        why = &dummy;
    *why = NULL;
    memset(c, 0, sizeof *c);

    if (strnlen(key, TW_CONV_KEY_MAX + 1) > TW_CONV_KEY_MAX) {
        *why = "longer than TW_CONV_KEY_MAX";
        goto out;
    }
    if (strncmp(key, PREFIX, strlen(PREFIX)) != 0) {
        *why = "does not start with twilio:v1:account:";
        goto out;
    }
    for (const char *p = key + strlen(PREFIX);; p++) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (nseg == 8) {
            *why = "too many segments";
            goto out;
        }
        if (len == 0) {
            *why = "empty segment";
            goto out;
        }
        seg[nseg] = p;
        seglen[nseg++] = len;
        if (!colon)
            break;
        p = colon;
    }
    const char *const *labels;
    size_t nlabels;
    if (nseg == 5) {
        labels = address_labels;
        nlabels = 2;
        c->type = TW_CONV_ADDRESS;
    } else if (nseg == 7) {
        labels = service_labels;
        nlabels = 3;
        c->type = TW_CONV_SERVICE;
    } else {
        *why = "wrong number of segments";
        goto out;
    }
    for (size_t i = 0; i < nlabels; i++) {
        const char *want = labels[i];
        if (seglen[2 * i + 1] != strlen(want) || memcmp(seg[2 * i + 1], want, seglen[2 * i + 1])) {
            *why = "unexpected segment label";
            goto out;
        }
    }
    char **fields[4] = {&c->account_sid, &c->messaging_service_sid, &c->address, &c->participant};
    size_t f = 0;
    for (size_t i = 0; i < nseg; i += 2, f++) {
        if (c->type == TW_CONV_ADDRESS && f == 1)
            f++; /* no messaging-service value */
        rc = decode_segment(seg[i], seglen[i], fields[f], why);
        if (rc < 0)
            goto out;
    }
    rc = TW_OK;
out:
    if (rc < 0) {
        tw_conv_cleanup(c);
        if (rc == TW_ENOMEM)
            *why = "out of memory";
    }
    return rc;
}

/* ---------------------------------------------------------------- JSON */

char *tw_conv_to_json(const struct tw_conv *c)
{
    char *out = NULL;
    int service = c->type == TW_CONV_SERVICE;
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (json_object_set_new(o, "type", json_string(service ? "messaging-service" : "address")) ||
        json_object_set_new(o, "accountSid", json_string(c->account_sid)) ||
        json_object_set_new(o, "address", json_string(c->address)) ||
        json_object_set_new(o, "participant", json_string(c->participant)))
        goto out;
    if (service &&
        json_object_set_new(o, "messagingServiceSid", json_string(c->messaging_service_sid)))
        goto out;
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(o);
    return out;
}
