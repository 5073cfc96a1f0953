/* SPDX-License-Identifier: MIT */
/* Checks tw_sig_verify against cases signed by Twilio's Node helper (gen_cases.js): each case is
 * accepted (or refused when the helper dropped a value), and refused after any one byte of the
 * URL, a name or a value changes.   check_sig <cases.jsonl> */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/form.h"
#include "common/signature.h"
#include "common/utf8.h"

static unsigned long long rng = 88172645463325252ULL;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

struct tally {
    long cases, accepted, refused, mutations, failures;
};

static int verify(const char *token, const char *url, const struct tw_form *f, const char *sig)
{
    const char *tokens[] = {"not-the-token", token};
    int rc = tw_sig_verify(tokens, 2, url, f, sig);
    if (rc != TW_OK && rc != TW_ESIG) {
        fprintf(stderr, "tw_sig_verify: %s\n", tw_strerror(rc));
        exit(2);
    }
    return rc;
}

static void fail(struct tally *t, long line, const char *what, const char *detail)
{
    t->failures++;
    if (t->failures <= 20)
        fprintf(stderr, "line %ld: %s%s%s\n", line, what, detail ? ": " : "", detail ? detail : "");
}

/* The digits of the URL's port: changing them changes nothing once the port is removed, which is
 * an accepted variant, so those positions are skipped. */
static void port_span(const char *url, size_t *from, size_t *to)
{
    *from = *to = 0;
    const char *auth = strstr(url, "://");
    if (!auth)
        return;
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    size_t start = 0;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@' || auth[i] == ']')
            start = i + 1;
    const char *colon = memchr(auth + start, ':', alen - start);
    if (colon) {
        *from = (size_t)(colon + 1 - url);
        *to = (size_t)(auth + alen - url);
    }
}

/* A different byte for s[i] that keeps s valid UTF-8 (every form holds valid UTF-8), or -1. */
static int other_byte(char *s, size_t n, size_t i)
{
    unsigned char old = (unsigned char)s[i];
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char c = old < 0x80 ? (unsigned char)(0x20 + next_rand() % 0x5f)
                                     : (unsigned char)(old ^ (1u << (next_rand() % 6)));
        if (c == old)
            continue;
        s[i] = (char)c;
        int ok = tw_utf8_valid(s, n);
        s[i] = (char)old;
        if (ok)
            return c;
    }
    return -1;
}

static void mutate_url(struct tally *t, long line, const char *token, const char *url,
                       const struct tw_form *f, const char *sig)
{
    size_t n = strcspn(url, "#"), pf, pt;
    char *u = strdup(url);
    if (!u)
        exit(2);
    port_span(url, &pf, &pt);
    for (size_t i = 0; i < n; i++) {
        if (i >= pf && i < pt)
            continue;
        int c = other_byte(u, n, i);
        /* A '#' would start a fragment, which is not signed: "http://h:80" with its ':' made a
         * '#' is "http://h", whose default-port form is the original. Not a change of URL. */
        if (c < 0 || c == '#')
            continue;
        char old = u[i];
        u[i] = (char)c;
        t->mutations++;
        if (verify(token, u, f, sig) != TW_ESIG)
            fail(t, line, "accepted after a URL byte changed", u);
        u[i] = old;
    }
    free(u);
}

static void mutate_pairs(struct tally *t, long line, const char *token, const char *url,
                         struct tw_form *f, const char *sig)
{
    for (size_t p = 0; p < f->n; p++) {
        for (int which = 0; which < 2; which++) {
            char *s = which ? f->pairs[p].value : f->pairs[p].name;
            size_t n = which ? f->pairs[p].value_len : f->pairs[p].name_len;
            for (size_t i = 0; i < n; i++) {
                int c = other_byte(s, n, i);
                if (c < 0)
                    continue;
                char old = s[i];
                s[i] = (char)c;
                t->mutations++;
                if (verify(token, url, f, sig) != TW_ESIG)
                    fail(t, line, which ? "accepted after a value byte changed"
                                        : "accepted after a name byte changed",
                         s);
                s[i] = old;
            }
        }
    }
}

static void check_case(struct tally *t, long line, json_t *c)
{
    const char *token = json_string_value(json_object_get(c, "token"));
    const char *url = json_string_value(json_object_get(c, "url"));
    const char *body = json_string_value(json_object_get(c, "body"));
    const char *sig = json_string_value(json_object_get(c, "sig"));
    const char *expect = json_string_value(json_object_get(c, "expect"));
    const char *note = json_string_value(json_object_get(c, "note"));
    struct tw_form f;
    if (!token || !url || !body || !sig || !expect) {
        fail(t, line, "malformed case", NULL);
        return;
    }
    t->cases++;
    int rc = tw_form_parse(&f, body, strlen(body));
    if (rc < 0) {
        fail(t, line, "body does not parse", tw_strerror(rc));
        return;
    }
    rc = verify(token, url, &f, sig);
    if (strcmp(expect, "accept") == 0) {
        if (rc != TW_OK) {
            fail(t, line, "refused a helper signature", url);
        } else {
            t->accepted++;
            const char *only_other[] = {"not-the-token"};
            if (tw_sig_verify(only_other, 1, url, &f, sig) != TW_ESIG)
                fail(t, line, "accepted with the wrong token", NULL);
            mutate_url(t, line, token, url, &f, sig);
            mutate_pairs(t, line, token, url, &f, sig);
        }
    } else if (rc != TW_ESIG) {
        fail(t, line, "accepted", note);
    } else {
        t->refused++;
    }
    tw_form_cleanup(&f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: check_sig <cases.jsonl>\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    struct tally t = {0};
    char *buf = NULL;
    size_t cap = 0;
    long line = 0;
    while (getline(&buf, &cap, in) > 0) {
        line++;
        json_error_t err;
        json_t *c = json_loads(buf, 0, &err);
        if (!c) {
            fail(&t, line, "not JSON", err.text);
            continue;
        }
        check_case(&t, line, c);
        json_decref(c);
    }
    free(buf);
    fclose(in);
    printf("%ld cases: %ld accepted, %ld refused as expected; %ld one-byte changes tried; "
           "%ld failures\n",
           t.cases, t.accepted, t.refused, t.mutations, t.failures);
    if (t.cases < 100 || t.accepted < 50) {
        fprintf(stderr, "too few cases checked\n");
        return 1;
    }
    return t.failures ? 1 : 0;
}
