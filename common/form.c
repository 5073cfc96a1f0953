/* SPDX-License-Identifier: MIT */
/* application/x-www-form-urlencoded: parse, look up, convert to JSON, encode. */
#include "common/form.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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

/* Adds one value under name: a string the first time, an array from the second time on.
 * jansson's objects are hash tables that keep insertion order, so this is O(1) per pair. */
static int json_add(json_t *obj, const struct tw_form_pair *p)
{
    /* Every form holds valid UTF-8 (tw_form_parse and tw_form_add check it): no re-check. */
    json_t *v = json_stringn_nocheck(p->value, p->value_len);
    if (!v)
        return TW_ENOMEM;
    json_t *old = json_object_getn(obj, p->name, p->name_len);
    if (!old)
        return json_object_setn_new_nocheck(obj, p->name, p->name_len, v) ? TW_ENOMEM : TW_OK;
    if (json_is_array(old))
        return json_array_append_new(old, v) ? TW_ENOMEM : TW_OK;
    json_t *arr = json_array();
    if (!arr || json_array_append(arr, old) || json_array_append_new(arr, v)) {
        json_decref(arr);
        return TW_ENOMEM;
    }
    /* Replacing an existing key keeps its position, so names stay in first-occurrence order. */
    return json_object_setn_new_nocheck(obj, p->name, p->name_len, arr) ? TW_ENOMEM : TW_OK;
}

char *tw_form_to_json(const struct tw_form *f)
{
    char *out = NULL;
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    for (size_t i = 0; i < f->n; i++)
        if (json_add(obj, &f->pairs[i]) < 0)
            goto out;
    out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(obj);
    return out;
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
