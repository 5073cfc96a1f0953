/* SPDX-License-Identifier: MIT */
/* Signature: Twilio's published vector, then each accepted variant and each near miss, checked
 * against signatures of explicit signed strings made here with OpenSSL's one-shot HMAC(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/signature.h"

/* base64(HMAC-SHA1(token, data)), computed independently of common/signature.c. */
static void sign_bytes(const char *token, const char *data, size_t len, char out[29])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)data, len,
                         mac, &maclen));
    assert_int_equal(maclen, 20);
    assert_int_equal(EVP_EncodeBlock((unsigned char *)out, mac, 20), 28);
}

static void parse(struct tw_form *f, const char *body)
{
    assert_int_equal(tw_form_parse(f, body, strlen(body)), TW_OK);
}

static int verify1(const char *token, const char *url, const char *body, const char *sig)
{
    struct tw_form f;
    parse(&f, body);
    const char *tokens[] = {token};
    int rc = tw_sig_verify(tokens, 1, url, &f, sig);
    tw_form_cleanup(&f);
    return rc;
}

/* ---------------------------------------------------------------- Twilio's vector */

#define KAT_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define KAT_BODY                                                                                   \
    "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212"
#define KAT_SIG "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

static void test_known_answer(void **state)
{
    (void)state;
    struct tw_form f;
    char sig[TW_SIG_B64_LEN + 1], mine[29];
    parse(&f, KAT_BODY);
    assert_int_equal(tw_sig_compute("12345", KAT_URL, &f, sig), TW_OK);
    assert_string_equal(sig, KAT_SIG);
    /* the published signed string agrees with the independent HMAC */
    const char *data = KAT_URL "CallSidCA1234567890ABCDECaller+12349013030Digits1234"
                               "From+12349013030To+18005551212";
    sign_bytes("12345", data, strlen(data), mine);
    assert_string_equal(mine, KAT_SIG);
    const char *tokens[] = {"12345"};
    assert_int_equal(tw_sig_verify(tokens, 1, KAT_URL, &f, KAT_SIG), TW_OK);
    assert_int_equal(tw_sig_verify(tokens, 1, KAT_URL "#rc=2", &f, KAT_SIG), TW_OK);
    tw_form_cleanup(&f);
    /* the same parameters in another delivery order sign the same */
    assert_int_equal(verify1("12345", KAT_URL,
                             "To=%2B18005551212&Digits=1234&From=%2B12349013030&Caller=%2B12349013030"
                             "&CallSid=CA1234567890ABCDE",
                             KAT_SIG),
                     TW_OK);
    assert_int_equal(verify1("12346", KAT_URL, KAT_BODY, KAT_SIG), TW_ESIG);
    assert_int_equal(verify1("12345", "https://mycompany.com/myapp.php?bar=2&foo=1", KAT_BODY,
                             KAT_SIG),
                     TW_ESIG);
    assert_int_equal(verify1("12345", KAT_URL, KAT_BODY "&Extra=", KAT_SIG), TW_ESIG);
}

/* ---------------------------------------------------------------- variants table */

struct sig_case {
    const char *what;
    const char *url;  /* as configured */
    const char *body; /* as delivered */
    const char *data; /* the string the sender signed */
    size_t data_len;  /* 0: strlen */
    int want;
};

#define H "https://example.com/hook"
static const struct sig_case cases[] = {
    {"canonical", H, "b=2&a=1", H "a1b2", 0, TW_OK},
    {"pairs in delivery order", H, "b=2&a=1", H "b2a1", 0, TW_ESIG},
    {"no pairs signed", H, "b=2&a=1", H, 0, TW_ESIG},
    /* ports */
    {"configured 443, signed without", "https://example.com:443/hook", "a=1", H "a1", 0, TW_OK},
    {"configured 443, signed with", "https://example.com:443/hook", "a=1",
     "https://example.com:443/hooka1", 0, TW_OK},
    {"configured bare, signed with 443", H, "a=1", "https://example.com:443/hooka1", 0, TW_OK},
    {"configured bare, signed with 80 on https", H, "a=1", "https://example.com:80/hooka1", 0,
     TW_ESIG},
    {"http bare, signed with 80", "http://example.com/hook", "a=1", "http://example.com:80/hooka1",
     0, TW_OK},
    {"http bare, signed with 443", "http://example.com/hook", "a=1",
     "http://example.com:443/hooka1", 0, TW_ESIG},
    {"http 80, signed without", "http://example.com:80/hook", "a=1", "http://example.com/hooka1", 0,
     TW_OK},
    {"custom port, signed without", "https://example.com:8443/hook", "a=1", H "a1", 0, TW_OK},
    {"custom port, signed with", "https://example.com:8443/hook", "a=1",
     "https://example.com:8443/hooka1", 0, TW_OK},
    {"custom port, signed with 443", "https://example.com:8443/hook", "a=1",
     "https://example.com:443/hooka1", 0, TW_ESIG},
    {"bare, signed with custom port", H, "a=1", "https://example.com:8443/hooka1", 0, TW_ESIG},
    {"upper-case scheme gets 443", "HTTPS://example.com/hook", "a=1",
     "HTTPS://example.com:443/hooka1", 0, TW_OK},
    {"no path, port added", "https://example.com", "a=1", "https://example.com:443a1", 0, TW_OK},
    {"query right after host, port added", "https://example.com?x=1", "a=1",
     "https://example.com:443?x=1a1", 0, TW_OK},
    {"IPv6 host, port added", "https://[::1]/hook", "a=1", "https://[::1]:443/hooka1", 0, TW_OK},
    {"IPv6 host, port removed", "https://[::1]:8443/hook", "a=1", "https://[::1]/hooka1", 0,
     TW_OK},
    {"colon in path is no port", "https://example.com/a:1", "a=1", "https://example.com:443/a:1a1",
     0, TW_OK},
    /* fragment, query, path */
    {"fragment not signed", H "?x=1#rc=2&rp=all", "a=1", H "?x=1a1", 0, TW_OK},
    {"fragment signed is wrong", H "?x=1#rc=2&rp=all", "a=1", H "?x=1#rc=2&rp=alla1", 0, TW_ESIG},
    {"fragment, port added", H "#rc=2", "a=1", "https://example.com:443/hooka1", 0, TW_OK},
    {"query is signed", H "?x=1&y=2", "a=1", H "?x=1&y=2a1", 0, TW_OK},
    {"query dropped", H "?x=1&y=2", "a=1", H "a1", 0, TW_ESIG},
    {"query reordered", H "?x=1&y=2", "a=1", H "?y=2&x=1a1", 0, TW_ESIG},
    {"query decoded", H "?x=a%20b", "a=1", H "?x=a ba1", 0, TW_ESIG},
    {"trailing slash added", H, "a=1", H "/a1", 0, TW_ESIG},
    {"trailing slash removed", H "/", "a=1", H "a1", 0, TW_ESIG},
    {"host case", H, "a=1", "https://Example.com/hooka1", 0, TW_ESIG},
    {"path case", H, "a=1", "https://example.com/Hooka1", 0, TW_ESIG},
    /* decoding and sorting */
    {"plus is a space", H, "Body=a+b", H "Bodya b", 0, TW_OK},
    {"plus kept is wrong", H, "Body=a+b", H "Bodya+b", 0, TW_ESIG},
    {"escape decoded", H, "To=%2B1555", H "To+1555", 0, TW_OK},
    {"escape kept is wrong", H, "To=%2B1555", H "To%2B1555", 0, TW_ESIG},
    {"empty values count", H, "a=&b=1&c", H "ab1c", 0, TW_OK},
    {"empty value dropped", H, "a=&b=1", H "b1", 0, TW_ESIG},
    {"case-sensitive sort", H, "ReasonConferenceEnded=x&Reason=y", H "ReasonyReasonConferenceEndedx",
     0, TW_OK},
    {"prefix sorts first", H, "ReasonConferenceEnded=x&Reason=y", H "ReasonConferenceEndedxReasony",
     0, TW_ESIG},
    {"upper before lower", H, "a=1&B=2", H "B2a1", 0, TW_OK},
    {"case-folded sort is wrong", H, "a=1&B=2", H "a1B2", 0, TW_ESIG},
    {"unicode name and value", H, "%C3%9Cn%C3%AF=%F0%9F%98%80&Z=1",
     H "Z1\xc3\x9cn\xc3\xaf\xf0\x9f\x98\x80", 0, TW_OK},
    {"unicode sorts after ASCII bytewise", H, "%C3%A9=1&z=2", H "z2\xc3\xa9" "1", 0, TW_OK},
    {"NUL inside a value", H, "a=x%00y", H "ax\0y", sizeof(H "ax\0y") - 1, TW_OK},
    {"NUL dropped", H, "a=x%00y", H "axy", 0, TW_ESIG},
    {"empty body", H, "", H, 0, TW_OK},
    {"empty body, port added", H, "", "https://example.com:443/hook", 0, TW_OK},
    {"empty body, something signed", H, "", H "a1", 0, TW_ESIG},
    /* repeated names */
    {"repeat in delivery order", H, "M=b&M=a", H "MbMa", 0, TW_OK},
    {"repeat with values sorted", H, "M=b&M=a", H "MaMb", 0, TW_OK},
    {"repeat, one value dropped", H, "M=b&M=a", H "Mb", 0, TW_ESIG},
    {"repeat, other value dropped", H, "M=b&M=a", H "Ma", 0, TW_ESIG},
    {"identical repeat", H, "M=x&M=x", H "MxMx", 0, TW_OK},
    {"identical repeat deduplicated", H, "M=x&M=x", H "Mx", 0, TW_ESIG},
    {"repeat around another name", H, "M=b&A=1&M=a", H "A1MbMa", 0, TW_OK},
    {"repeat around another name, sorted", H, "M=b&A=1&M=a", H "A1MaMb", 0, TW_OK},
    {"two repeats, both sorted", H, "M=b&M=a&N=d&N=c", H "MaMbNcNd", 0, TW_OK},
    {"two repeats, delivery", H, "M=b&M=a&N=d&N=c", H "MbMaNdNc", 0, TW_OK},
    {"repeat sorted, port added", H, "M=b&M=a", "https://example.com:443/hookMaMb", 0, TW_OK},
    {"repeat value prefixes sort bytewise", H, "M=ab&M=a", H "MaMab", 0, TW_OK},
};

static void test_variants_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct sig_case *c = &cases[i];
        char sig[29];
        sign_bytes("tok3n", c->data, c->data_len ? c->data_len : strlen(c->data), sig);
        int rc = verify1("tok3n", c->url, c->body, sig);
        if (rc != c->want)
            fail_msg("case %zu (%s): rc %d, want %d", i, c->what, rc, c->want);
        if (c->want == TW_OK)
            assert_int_equal(verify1("tok3m", c->url, c->body, sig), TW_ESIG);
    }
}

/* tw_sig_compute produces the canonical string's signature: delivery order for repeats. */
static void test_compute_matches_canonical(void **state)
{
    (void)state;
    struct tw_form f;
    char sig[TW_SIG_B64_LEN + 1], want[29];
    parse(&f, "M=b&Z=1&M=a&A=");
    assert_int_equal(tw_sig_compute("k", H "?q=1#frag", &f, sig), TW_OK);
    sign_bytes("k", H "?q=1AMbMaZ1", strlen(H "?q=1AMbMaZ1"), want);
    assert_string_equal(sig, want);
    tw_form_cleanup(&f);
}

/* ---------------------------------------------------------------- tokens */

static void test_tokens(void **state)
{
    (void)state;
    struct tw_form f;
    char primary[29], secondary[29], other[29];
    parse(&f, "a=1");
    sign_bytes("primary", H "a1", strlen(H "a1"), primary);
    sign_bytes("secondary", H "a1", strlen(H "a1"), secondary);
    sign_bytes("other", H "a1", strlen(H "a1"), other);
    const char *both[] = {"primary", "secondary"};
    const char *only_secondary[] = {NULL, "secondary"};
    const char *none[] = {NULL, NULL};
    assert_int_equal(tw_sig_verify(both, 2, H, &f, primary), TW_OK);
    assert_int_equal(tw_sig_verify(both, 2, H, &f, secondary), TW_OK);
    assert_int_equal(tw_sig_verify(both, 2, H, &f, other), TW_ESIG);
    assert_int_equal(tw_sig_verify(both, 1, H, &f, secondary), TW_ESIG); /* ntokens is honoured */
    assert_int_equal(tw_sig_verify(only_secondary, 2, H, &f, secondary), TW_OK);
    assert_int_equal(tw_sig_verify(only_secondary, 2, H, &f, primary), TW_ESIG);
    assert_int_equal(tw_sig_verify(none, 2, H, &f, primary), TW_ESIG);
    assert_int_equal(tw_sig_verify(both, 0, H, &f, primary), TW_ESIG);
    /* an empty token is never a key, even if someone signed with it */
    char empty[29];
    sign_bytes("", H "a1", strlen(H "a1"), empty);
    const char *empty_tok[] = {""};
    assert_int_equal(tw_sig_verify(empty_tok, 1, H, &f, empty), TW_ESIG);
    tw_form_cleanup(&f);
}

/* ---------------------------------------------------------------- malformed signatures */

static void test_malformed_signatures(void **state)
{
    (void)state;
    struct tw_form f;
    char good[29];
    parse(&f, "a=1");
    sign_bytes("t", H "a1", strlen(H "a1"), good);
    const char *tokens[] = {"t"};
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, good), TW_OK);

    char buf[64];
    const char *bad[] = {NULL, "", "=", "AAAA", "not base64 at all!!!!!!!!!!="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tw_sig_verify(tokens, 1, H, &f, bad[i]), TW_ESIG);
    /* without its padding, with extra padding, one symbol short or long */
    memcpy(buf, good, 27);
    buf[27] = '\0';
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    memcpy(buf, good, 28);
    memcpy(buf + 28, "=", 2);
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    memcpy(buf, good, 26);
    memcpy(buf + 26, "==", 3);
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    /* surrounding white space */
    buf[0] = ' ';
    memcpy(buf + 1, good, 29);
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    memcpy(buf, good, 28);
    memcpy(buf + 28, "\n", 2);
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    /* any single symbol changed, including to the URL-safe alphabet */
    for (size_t pos = 0; pos < 28; pos++) {
        const char repl[] = "A/+-_=.";
        for (size_t r = 0; r < sizeof repl - 1; r++) {
            memcpy(buf, good, 29);
            if (buf[pos] == repl[r])
                continue;
            buf[pos] = repl[r];
            assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
        }
    }
    /* the same 20 bytes written non-canonically (spare low bits set) */
    memcpy(buf, good, 29);
    const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t v = (size_t)(strchr(alpha, buf[26]) - alpha);
    buf[26] = alpha[v | 1];
    assert_int_equal(tw_sig_verify(tokens, 1, H, &f, buf), TW_ESIG);
    /* an HMAC-SHA256-sized signature */
    assert_int_equal(
        tw_sig_verify(tokens, 1, H, &f, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), TW_ESIG);
    tw_form_cleanup(&f);
}

/* A large form verifies, and the order work does not depend on delivery order. */
static void test_large_form(void **state)
{
    (void)state;
    struct tw_form f, g;
    tw_form_init(&f);
    tw_form_init(&g);
    char name[16];
    for (int i = 0; i < TW_FORM_MAX_PAIRS; i++) {
        snprintf(name, sizeof name, "N%04d", i);
        assert_int_equal(tw_form_add(&f, name, "v"), TW_OK);
        snprintf(name, sizeof name, "N%04d", TW_FORM_MAX_PAIRS - 1 - i);
        assert_int_equal(tw_form_add(&g, name, "v"), TW_OK);
    }
    char a[TW_SIG_B64_LEN + 1], b[TW_SIG_B64_LEN + 1];
    assert_int_equal(tw_sig_compute("t", H, &f, a), TW_OK);
    assert_int_equal(tw_sig_compute("t", H, &g, b), TW_OK);
    assert_string_equal(a, b);
    const char *tokens[] = {"t"};
    assert_int_equal(tw_sig_verify(tokens, 1, H, &g, a), TW_OK);
    tw_form_cleanup(&f);
    tw_form_cleanup(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_variants_table),
        cmocka_unit_test(test_compute_matches_canonical),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_malformed_signatures),
        cmocka_unit_test(test_large_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
