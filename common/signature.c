/* SPDX-License-Identifier: MIT */
/* X-Twilio-Signature: the signed string, its accepted variants, and a constant-time check. */
#include "common/signature.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SHA1_LEN 20

/* ---------------------------------------------------------------- HMAC-SHA1 */

static EVP_MAC *hmac_alg; /* fetched once: a fetch per request costs a lock and a lookup */
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* Keyed contexts, one per token seen, duplicated per use: keying hashes the key's pads, which
 * costs as much as a short message, so it is done once per token rather than per request. */
#define KEYED_MAX 8
static struct {
    char *token;       /* owned, malloc */
    EVP_MAC_CTX *ctx;  /* owned; only ever read (duplicated) once published */
} keyed[KEYED_MAX];
static pthread_mutex_t keyed_lock = PTHREAD_MUTEX_INITIALIZER;

static EVP_MAC_CTX *keyed_new(const char *key)
{
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    pthread_once(&hmac_once, hmac_fetch);
    if (!hmac_alg)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_alg);
    if (ctx && !EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* A fresh context keyed with key (caller frees with EVP_MAC_CTX_free), or NULL. */
static EVP_MAC_CTX *keyed_ctx(const char *key)
{
    EVP_MAC_CTX *out = NULL;
    pthread_mutex_lock(&keyed_lock);
    int i = 0;
    for (; i < KEYED_MAX && keyed[i].token; i++)
        if (strcmp(keyed[i].token, key) == 0)
            break;
    if (i < KEYED_MAX && !keyed[i].token) {
        keyed[i].ctx = keyed_new(key);
        keyed[i].token = keyed[i].ctx ? strdup(key) : NULL;
        if (!keyed[i].token) {
            EVP_MAC_CTX_free(keyed[i].ctx);
            keyed[i].ctx = NULL;
        }
    }
    if (i < KEYED_MAX && keyed[i].token)
        out = EVP_MAC_CTX_dup(keyed[i].ctx);
    pthread_mutex_unlock(&keyed_lock);
    return i < KEYED_MAX ? out : keyed_new(key); /* more tokens than slots: key each time */
}

/* HMAC-SHA1(key, a || b) into out. */
static int hmac_sha1(const char *key, const char *a, size_t alen, const char *b, size_t blen,
                     unsigned char out[SHA1_LEN])
{
    int rc = TW_ENOMEM;
    size_t outlen = 0;
    EVP_MAC_CTX *ctx = keyed_ctx(key);
    if (!ctx)
        goto out;
    if (!EVP_MAC_update(ctx, (const unsigned char *)a, alen) ||
        !EVP_MAC_update(ctx, (const unsigned char *)b, blen) ||
        !EVP_MAC_final(ctx, out, &outlen, SHA1_LEN) || outlen != SHA1_LEN)
        goto out;
    rc = TW_OK;
out:
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* ---------------------------------------------------------------- the signed string */

static int pair_cmp(const struct tw_form_pair *a, const struct tw_form_pair *b, int by_value)
{
    const char *x = by_value ? a->value : a->name, *y = by_value ? b->value : b->name;
    size_t xl = by_value ? a->value_len : a->name_len, yl = by_value ? b->value_len : b->name_len;
    int c = memcmp(x, y, xl < yl ? xl : yl);
    if (c)
        return c;
    return xl < yl ? -1 : xl > yl;
}

/* Names bytewise; equal names keep delivery order (the pairs' positions in the form). */
static int by_name(const void *pa, const void *pb)
{
    const struct tw_form_pair *a = *(const struct tw_form_pair *const *)pa;
    const struct tw_form_pair *b = *(const struct tw_form_pair *const *)pb;
    int c = pair_cmp(a, b, 0);
    if (c)
        return c;
    return a < b ? -1 : a > b;
}

/* Within one name, values bytewise (the helper libraries' rule for repeated names). */
static int by_value(const void *pa, const void *pb)
{
    const struct tw_form_pair *a = *(const struct tw_form_pair *const *)pa;
    const struct tw_form_pair *b = *(const struct tw_form_pair *const *)pb;
    int c = pair_cmp(a, b, 1);
    if (c)
        return c;
    return a < b ? -1 : a > b;
}

/* The name/value data after the URL, for pairs in the given order. new: caller frees. */
static char *tail_build(const struct tw_form_pair *const *order, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += order[i]->name_len + order[i]->value_len;
    char *t = malloc(total + 1);
    if (!t)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(t + k, order[i]->name, order[i]->name_len);
        k += order[i]->name_len;
        memcpy(t + k, order[i]->value, order[i]->value_len);
        k += order[i]->value_len;
    }
    *len = k;
    return t;
}

/* Sorts each run of equal names by value. Returns 1 when that changed the order, else 0. */
static int sort_repeated_values(const struct tw_form_pair **order, size_t n)
{
    int changed = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1;
        int sorted = 1;
        while (j < n && pair_cmp(order[i], order[j], 0) == 0) {
            if (pair_cmp(order[j - 1], order[j], 1) > 0)
                sorted = 0;
            j++;
        }
        if (!sorted) {
            qsort(order + i, j - i, sizeof *order, by_value);
            changed = 1;
        }
        i = j;
    }
    return changed;
}

/* The pairs sorted by name, equal names in delivery order. new: caller frees. */
static const struct tw_form_pair **order_new(const struct tw_form *form)
{
    const struct tw_form_pair **order = malloc((form->n ? form->n : 1) * sizeof *order);
    if (!order)
        return NULL;
    for (size_t i = 0; i < form->n; i++)
        order[i] = &form->pairs[i];
    qsort(order, form->n, sizeof *order, by_name);
    return order;
}

/* ---------------------------------------------------------------- URL variants */

/* The other form of url[0..len) the helper libraries accept: its port removed when it has one,
 * else the scheme's default port added. Writes it to alt (len + 5 bytes). Returns its length,
 * or 0 when url has no "scheme://" prefix. Splits the way twilio-node's splitUrl does. */
static size_t url_alt(const char *url, size_t len, char *alt)
{
    size_t i = 0;
    if (len == 0 || !((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z'))
        return 0;
    while (i < len && (strchr("+.-", url[i]) || ((url[i] | 0x20) >= 'a' && (url[i] | 0x20) <= 'z') ||
                       (url[i] >= '0' && url[i] <= '9')))
        i++;
    if (len - i < 3 || memcmp(url + i, "://", 3) != 0)
        return 0;
    size_t scheme_end = i + 3, auth_end = scheme_end;
    while (auth_end < len && url[auth_end] != '/' && url[auth_end] != '?' && url[auth_end] != '#')
        auth_end++;
    size_t host = scheme_end;
    for (size_t k = scheme_end; k < auth_end; k++)
        if (url[k] == '@')
            host = k + 1;
    size_t from = host; /* a colon only starts the port after an IPv6 literal's ']' */
    for (size_t k = host; k < auth_end; k++)
        if (url[k] == ']')
            from = k + 1;
    size_t port = auth_end;
    for (size_t k = from; k < auth_end; k++) {
        if (url[k] == ':') {
            port = k;
            break;
        }
    }
    size_t o = 0;
    memcpy(alt, url, port);
    o = port;
    if (port == auth_end) {
        int https = scheme_end == 8 && strncasecmp(url, "https://", 8) == 0;
        const char *p = https ? ":443" : ":80";
        memcpy(alt + o, p, strlen(p));
        o += strlen(p);
    }
    memcpy(alt + o, url + auth_end, len - auth_end);
    return o + len - auth_end;
}

/* ---------------------------------------------------------------- base64 */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes exactly the canonical base64 of 20 bytes (27 symbols and one '='). */
static int b64_decode_sha1(const char *s, unsigned char out[SHA1_LEN])
{
    if (!s || strlen(s) != TW_SIG_B64_LEN || s[TW_SIG_B64_LEN - 1] != '=')
        return TW_ESIG;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < TW_SIG_B64_LEN - 1; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return TW_ESIG;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 27 symbols carry 162 bits: the 2 spare bits must be zero in the canonical form. */
    return o == SHA1_LEN && acc == 0 ? TW_OK : TW_ESIG;
}

/* ---------------------------------------------------------------- public */

int tw_sig_compute(const char *token, const char *url, const struct tw_form *form,
                   char out[TW_SIG_B64_LEN + 1])
{
    int rc = TW_ENOMEM;
    char *tail = NULL;
    size_t tail_len = 0;
    unsigned char mac[SHA1_LEN];
    const struct tw_form_pair **order = order_new(form);
    if (!order)
        goto out;
    tail = tail_build(order, form->n, &tail_len);
    if (!tail)
        goto out;
    rc = hmac_sha1(token, url, strcspn(url, "#"), tail, tail_len, mac);
    if (rc < 0)
        goto out;
    EVP_EncodeBlock((unsigned char *)out, mac, SHA1_LEN);
out:
    free(order);
    free(tail);
    return rc;
}

int tw_sig_verify(const char *const *tokens, int ntokens, const char *url,
                  const struct tw_form *form, const char *signature)
{
    int rc = TW_ENOMEM, match = 0;
    unsigned char want[SHA1_LEN], got[SHA1_LEN];
    const struct tw_form_pair **order = NULL;
    char *tails[2] = {NULL, NULL}, *alt = NULL;
    size_t tail_lens[2] = {0, 0}, ntails = 1;
    const char *urls[2];
    size_t url_lens[2], nurls = 1;

    if (b64_decode_sha1(signature, want) < 0)
        return TW_ESIG;
    /* The data after the URL is built once per pair order and shared by every URL and token. */
    order = order_new(form);
    if (!order)
        goto out;
    tails[0] = tail_build(order, form->n, &tail_lens[0]);
    if (!tails[0])
        goto out;
    if (sort_repeated_values(order, form->n)) {
        tails[1] = tail_build(order, form->n, &tail_lens[1]);
        if (!tails[1])
            goto out;
        ntails = 2;
    }
    urls[0] = url;
    url_lens[0] = strcspn(url, "#");
    alt = malloc(url_lens[0] + 5);
    if (!alt)
        goto out;
    url_lens[1] = url_alt(url, url_lens[0], alt);
    if (url_lens[1]) {
        urls[1] = alt;
        nurls = 2;
    }
    for (int t = 0; t < ntokens; t++) {
        if (!tokens[t] || !tokens[t][0])
            continue;
        for (size_t u = 0; u < nurls; u++) {
            for (size_t k = 0; k < ntails; k++) {
                rc = hmac_sha1(tokens[t], urls[u], url_lens[u], tails[k], tail_lens[k], got);
                if (rc < 0)
                    goto out;
                /* Each comparison is constant-time. Stopping at a match reveals only which
                 * variant the sender used, which the sender already knows; a wrong signature
                 * always costs every variant. */
                if (CRYPTO_memcmp(got, want, SHA1_LEN) == 0) {
                    match = 1;
                    goto done;
                }
            }
        }
    }
done:
    rc = match ? TW_OK : TW_ESIG;
out:
    OPENSSL_cleanse(got, sizeof got);
    free(order);
    free(tails[0]);
    free(tails[1]);
    free(alt);
    return rc;
}
