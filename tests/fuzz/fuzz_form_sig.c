/* SPDX-License-Identifier: MIT */
/* libFuzzer target: form parsing, JSON, encoding and signature verification on one input.
 * Input: "<url>\n<body>" (no newline: the whole input is the body and a fixed URL is used).
 * Invariants: a parsed form converts to JSON that parses back; encode then parse gives the same
 * pairs; the signature tw_sig_compute makes verifies; the input's last 28 bytes as a signature
 * never crash the verifier. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/form.h"
#include "common/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_json(const struct tw_form *f)
{
    char *json = tw_form_to_json(f);
    check(json != NULL);
    json_error_t err;
    json_t *back = json_loads(json, JSON_ALLOW_NUL, &err);
    int nul_in_name = 0;
    for (size_t i = 0; i < f->n; i++)
        nul_in_name |= memchr(f->pairs[i].name, '\0', f->pairs[i].name_len) != NULL;
    if (!back) {
        /* Valid JSON, but jansson's loader refuses "\u0000" inside object keys. */
        check(nul_in_name);
        free(json);
        return;
    }
    check(json_is_object(back));
    check(json_object_size(back) <= f->n);
    check(f->n == 0 || json_object_size(back) > 0);
    json_decref(back);
    free(json);
}

static void check_encode_round_trip(const struct tw_form *f)
{
    char *body = tw_form_encode(f);
    check(body != NULL);
    struct tw_form g;
    check(tw_form_parse(&g, body, strlen(body)) == TW_OK);
    /* a pair with an empty name and value encodes as "=" and parses back: counts agree */
    check(g.n == f->n);
    for (size_t i = 0; i < f->n; i++) {
        check(g.pairs[i].name_len == f->pairs[i].name_len);
        check(g.pairs[i].value_len == f->pairs[i].value_len);
        check(memcmp(g.pairs[i].name, f->pairs[i].name, f->pairs[i].name_len) == 0);
        check(memcmp(g.pairs[i].value, f->pairs[i].value, f->pairs[i].value_len) == 0);
    }
    tw_form_cleanup(&g);
    free(body);
}

static void check_signature(const struct tw_form *f, const char *url, const uint8_t *data,
                            size_t size)
{
    const char *tokens[] = {"secondary", "fuzz-token"};
    char sig[TW_SIG_B64_LEN + 1];
    check(tw_sig_compute("fuzz-token", url, f, sig) == TW_OK);
    check(strlen(sig) == TW_SIG_B64_LEN);
    check(tw_sig_verify(tokens, 2, url, f, sig) == TW_OK);
    check(tw_sig_verify(tokens, 1, url, f, sig) == TW_ESIG);
    char theirs[TW_SIG_B64_LEN + 1] = {0};
    size_t n = size < TW_SIG_B64_LEN ? size : TW_SIG_B64_LEN;
    memcpy(theirs, data + size - n, n);
    int rc = tw_sig_verify(tokens, 2, url, f, theirs);
    check(rc == TW_OK || rc == TW_ESIG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *url = "https://example.com/channels/twilio/webhook";
    char *owned_url = NULL;
    const char *body = (const char *)data;
    size_t body_len = size;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl) {
        size_t ul = (size_t)(nl - data);
        if (memchr(data, '\0', ul))
            return 0; /* a configured URL is a C string */
        owned_url = malloc(ul + 1);
        if (!owned_url)
            return 0;
        memcpy(owned_url, data, ul);
        owned_url[ul] = '\0';
        url = owned_url;
        body = (const char *)nl + 1;
        body_len = size - ul - 1;
    }
    struct tw_form f;
    int rc = tw_form_parse(&f, body, body_len);
    check(rc == TW_OK || rc == TW_EPARSE || rc == TW_EUTF8 || rc == TW_ETOOBIG);
    if (rc == TW_OK) {
        check(f.n <= TW_FORM_MAX_PAIRS);
        check_json(&f);
        check_encode_round_trip(&f);
        check_signature(&f, url, data, size);
    } else {
        check(f.n == 0 && f.pairs == NULL);
    }
    tw_form_cleanup(&f);
    free(owned_url);
    return 0;
}
