/* SPDX-License-Identifier: MIT */
/* application/x-www-form-urlencoded: parse, look up, convert to JSON, encode. */
#include "common/form.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonw.h"
#include "common/utf8.h"

void tw_form_init(struct tw_form *f)
{
    f->pairs = NULL;
    f->n = 0;
    f->cap = 0;
}

void tw_form_cleanup(struct tw_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->pairs[i].name);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    tw_form_init(f);
}

/* ---------------------------------------------------------------- decoding */

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

/* Decodes s[0..n) ('+' is a space, %XX a byte) into a new NUL-terminated string. */
static int decode(const char *s, size_t n, char **out, size_t *outlen)
{
    char *d = malloc(n + 1);
    if (!d)
        return TW_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3 || hexval((unsigned char)s[i + 1]) < 0 ||
                hexval((unsigned char)s[i + 2]) < 0) {
                free(d);
                return TW_EPARSE;
            }
            c = (unsigned char)(hexval((unsigned char)s[i + 1]) << 4 |
                                hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        d[o++] = (char)c;
    }
    d[o] = '\0';
    if (!tw_utf8_valid(d, o)) {
        free(d);
        return TW_EUTF8;
    }
    *out = d;
    *outlen = o;
    return TW_OK;
}

/* Makes room for one more pair. */
static int grow(struct tw_form *f)
{
    if (f->n < f->cap)
        return TW_OK;
    size_t cap = f->cap ? f->cap * 2 : 16;
    struct tw_form_pair *p = realloc(f->pairs, cap * sizeof *p);
    if (!p)
        return TW_ENOMEM;
    f->pairs = p;
    f->cap = cap;
    return TW_OK;
}

int tw_form_parse(struct tw_form *f, const char *body, size_t len)
{
    int rc = TW_OK;
    tw_form_init(f);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        if (seg_end > p) { /* empty segments are skipped */
            if (f->n == TW_FORM_MAX_PAIRS) {
                rc = TW_ETOOBIG;
                goto out;
            }
            rc = grow(f);
            if (rc < 0)
                goto out;
            const char *eq = memchr(p, '=', (size_t)(seg_end - p));
            const char *name_end = eq ? eq : seg_end;
            const char *val = eq ? eq + 1 : seg_end;
            struct tw_form_pair *pair = &f->pairs[f->n];
            rc = decode(p, (size_t)(name_end - p), &pair->name, &pair->name_len);
            if (rc < 0)
                goto out;
            rc = decode(val, (size_t)(seg_end - val), &pair->value, &pair->value_len);
            if (rc < 0) {
                free(pair->name);
                goto out;
            }
            f->n++;
        }
        p = seg_end + 1;
    }
out:
    if (rc < 0)
        tw_form_cleanup(f);
    return rc;
}

int tw_form_add(struct tw_form *f, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (!tw_utf8_valid(name, nl) || !tw_utf8_valid(value, vl))
        return TW_EUTF8;
    if (f->n == TW_FORM_MAX_PAIRS)
        return TW_ETOOBIG;
    int rc = grow(f);
    if (rc < 0)
        return rc;
    struct tw_form_pair *pair = &f->pairs[f->n];
    pair->name = strdup(name);
    pair->value = strdup(value);
    if (!pair->name || !pair->value) {
        free(pair->name);
        free(pair->value);
        return TW_ENOMEM;
    }
    pair->name_len = nl;
    pair->value_len = vl;
    f->n++;
    return TW_OK;
}

/* ---------------------------------------------------------------- lookup */

static int name_is(const struct tw_form_pair *p, const char *name, size_t len)
{
    return p->name_len == len && memcmp(p->name, name, len) == 0;
}

size_t tw_form_count(const struct tw_form *f, const char *name)
{
    size_t len = strlen(name), count = 0;
    for (size_t i = 0; i < f->n; i++)
        if (name_is(&f->pairs[i], name, len))
            count++;
    return count;
}

const char *tw_form_get1(const struct tw_form *f, const char *name)
{
    size_t len = strlen(name);
    const struct tw_form_pair *found = NULL;
    for (size_t i = 0; i < f->n; i++) {
        if (!name_is(&f->pairs[i], name, len))
            continue;
        if (found)
            return NULL;
        found = &f->pairs[i];
    }
    /* A value with a NUL byte inside would be cut short by every string compare and key built
     * from it: it is no usable text value. */
    if (!found || memchr(found->value, '\0', found->value_len))
        return NULL;
    return found->value;
}

/* ---------------------------------------------------------------- JSON */

static int cmp_name(const struct tw_form_pair *a, const struct tw_form_pair *b)
{
    int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);
    if (c)
        return c;
    return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

/* Names bytewise, then delivery order: each name's values end up together, in order. */
static int by_name_then_position(const void *pa, const void *pb)
{
    const struct tw_form_pair *a = *(const struct tw_form_pair *const *)pa;
    const struct tw_form_pair *b = *(const struct tw_form_pair *const *)pb;
    int c = cmp_name(a, b);
    return c ? c : (a > b) - (a < b);
}

/* Written straight into a buffer: this runs for every accepted request, and a jansson tree
 * costs several allocations per pair. A sort groups the values of repeated names in
 * O(n log n); the object is written in first-occurrence order of the names. */
char *tw_form_to_json(const struct tw_form *f)
{
    struct tw_buf b;
    const struct tw_form_pair **sorted = NULL;
    size_t *rank = NULL; /* rank[i]: where pair i sits in sorted */
    size_t total = 2;
    int rc = TW_ENOMEM;

    tw_buf_init(&b, (size_t)-1 / 2);
    for (size_t i = 0; i < f->n; i++)
        total += f->pairs[i].name_len + f->pairs[i].value_len + 8;
    sorted = malloc((f->n ? f->n : 1) * sizeof *sorted);
    rank = malloc((f->n ? f->n : 1) * sizeof *rank);
    if (!sorted || !rank || tw_buf_reserve(&b, total) != TW_OK)
        goto out;
    for (size_t i = 0; i < f->n; i++)
        sorted[i] = &f->pairs[i];
    qsort(sorted, f->n, sizeof *sorted, by_name_then_position);
    for (size_t k = 0; k < f->n; k++)
        rank[sorted[k] - f->pairs] = k;

    rc = tw_buf_append(&b, "{", 1);
    bool first = true;
    for (size_t i = 0; i < f->n && rc == TW_OK; i++) {
        size_t k = rank[i];
        if (k > 0 && cmp_name(sorted[k - 1], sorted[k]) == 0)
            continue; /* written with the first occurrence of its name */
        size_t end = k + 1;
        while (end < f->n && cmp_name(sorted[k], sorted[end]) == 0)
            end++;
        if (!first)
            rc = tw_buf_append(&b, ",", 1);
        first = false;
        if (rc == TW_OK)
            rc = tw_jsonw_string(&b, sorted[k]->name, sorted[k]->name_len);
        if (rc == TW_OK)
            rc = tw_buf_append(&b, end - k > 1 ? ":[" : ":", end - k > 1 ? 2 : 1);
        for (size_t j = k; j < end && rc == TW_OK; j++) {
            if (j > k)
                rc = tw_buf_append(&b, ",", 1);
            if (rc == TW_OK)
                rc = tw_jsonw_string(&b, sorted[j]->value, sorted[j]->value_len);
        }
        if (rc == TW_OK && end - k > 1)
            rc = tw_buf_append(&b, "]", 1);
    }
    if (rc == TW_OK)
        rc = tw_buf_append(&b, "}", 1);
out:
    free(sorted);
    free(rank);
    if (rc != TW_OK) {
        tw_buf_cleanup(&b);
        return NULL;
    }
    return b.data;
}

/* ---------------------------------------------------------------- encoding */

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

static size_t encode_part(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            o[k++] = (char)c;
        } else if (c == ' ') {
            o[k++] = '+';
        } else {
            o[k++] = '%';
            o[k++] = hex[c >> 4];
            o[k++] = hex[c & 15];
        }
    }
    return k;
}

char *tw_form_encode(const struct tw_form *f)
{
    size_t need = 1;
    for (size_t i = 0; i < f->n; i++)
        need += 3 * (f->pairs[i].name_len + f->pairs[i].value_len) + 2;
    char *out = malloc(need);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (i)
            out[k++] = '&';
        k += encode_part(out + k, f->pairs[i].name, f->pairs[i].name_len);
        out[k++] = '=';
        k += encode_part(out + k, f->pairs[i].value, f->pairs[i].value_len);
    }
    out[k] = '\0';
    return out;
}
