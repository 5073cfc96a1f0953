/* SPDX-License-Identifier: MIT */
/* Form parsing, look-ups, JSON shapes and encoding, as tables of {input, expected}. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/form.h"

struct bytes {
    const char *s;
    size_t len;
};
#define S(x) {x, sizeof(x) - 1}

struct parse_case {
    const char *body;
    int rc;
    size_t n;
    struct bytes p[8]; /* name, value, name, value, ... */
};

static const struct parse_case parse_cases[] = {
    {"", TW_OK, 0, {{0}}},
    {"&", TW_OK, 0, {{0}}},
    {"&&&", TW_OK, 0, {{0}}},
    {"a=1", TW_OK, 1, {S("a"), S("1")}},
    {"a=1&b=2", TW_OK, 2, {S("a"), S("1"), S("b"), S("2")}},
    {"a=1&&b=2&", TW_OK, 2, {S("a"), S("1"), S("b"), S("2")}},
    {"&a=1", TW_OK, 1, {S("a"), S("1")}},
    {"a=1&a=2&a=1", TW_OK, 3, {S("a"), S("1"), S("a"), S("2"), S("a"), S("1")}},
    {"Body=hello+world", TW_OK, 1, {S("Body"), S("hello world")}},
    {"a+b=c+d+", TW_OK, 1, {S("a b"), S("c d ")}},
    {"Body=%2B1%20555", TW_OK, 1, {S("Body"), S("+1 555")}},
    {"To=%2b1555", TW_OK, 1, {S("To"), S("+1555")}},
    {"x=%e2%82%AC", TW_OK, 1, {S("x"), S("\xe2\x82\xac")}},
    {"%41%62=%7E", TW_OK, 1, {S("Ab"), S("~")}},
    {"a=", TW_OK, 1, {S("a"), S("")}},
    {"a", TW_OK, 1, {S("a"), S("")}},
    {"a&b=", TW_OK, 2, {S("a"), S(""), S("b"), S("")}},
    {"=", TW_OK, 1, {S(""), S("")}},
    {"=v", TW_OK, 1, {S(""), S("v")}},
    {"a==b", TW_OK, 1, {S("a"), S("=b")}},
    {"a=b=c", TW_OK, 1, {S("a"), S("b=c")}},
    {"a=%26&b=%3D", TW_OK, 2, {S("a"), S("&"), S("b"), S("=")}},
    {"a=%00b", TW_OK, 1, {S("a"), S("\0b")}},
    {"n%00m=v", TW_OK, 1, {S("n\0m"), S("v")}},
    {"a=%25", TW_OK, 1, {S("a"), S("%")}},
    {"a=caf\xc3\xa9", TW_OK, 1, {S("a"), S("caf\xc3\xa9")}}, /* raw UTF-8 is kept */
    {"a=%F0%9F%98%80", TW_OK, 1, {S("a"), S("\xf0\x9f\x98\x80")}},
    /* malformed escapes */
    {"a=%", TW_EPARSE, 0, {{0}}},
    {"a=%4", TW_EPARSE, 0, {{0}}},
    {"a=%zz", TW_EPARSE, 0, {{0}}},
    {"a=%4g", TW_EPARSE, 0, {{0}}},
    {"a=%g4", TW_EPARSE, 0, {{0}}},
    {"%=1", TW_EPARSE, 0, {{0}}},
    {"b=2&a%2=1", TW_EPARSE, 0, {{0}}},
    {"a=%%41", TW_EPARSE, 0, {{0}}},
    {"a=% 1", TW_EPARSE, 0, {{0}}},
    {"a=%4&b=1", TW_EPARSE, 0, {{0}}}, /* the escape may not borrow the next segment */
    /* not UTF-8 once decoded */
    {"a=%FF", TW_EUTF8, 0, {{0}}},
    {"a=%C3", TW_EUTF8, 0, {{0}}},
    {"a=%C0%AF", TW_EUTF8, 0, {{0}}},          /* overlong '/' */
    {"a=%E0%80%AF", TW_EUTF8, 0, {{0}}},       /* overlong, 3 bytes */
    {"a=%ED%A0%80", TW_EUTF8, 0, {{0}}},       /* surrogate */
    {"a=%F4%90%80%80", TW_EUTF8, 0, {{0}}},    /* past U+10FFFF */
    {"%FE=1", TW_EUTF8, 0, {{0}}},
    {"a=\xff", TW_EUTF8, 0, {{0}}},
    {"a=%C3&b=%A9", TW_EUTF8, 0, {{0}}},      /* each part must be valid on its own */
};

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
        const struct parse_case *c = &parse_cases[i];
        struct tw_form f;
        int rc = tw_form_parse(&f, c->body, strlen(c->body));
        if (rc != c->rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, c->body, rc, c->rc);
        if (f.n != c->n)
            fail_msg("case %zu (%s): %zu pairs, want %zu", i, c->body, f.n, c->n);
        for (size_t k = 0; k < c->n; k++) {
            const struct tw_form_pair *p = &f.pairs[k];
            const struct bytes *name = &c->p[2 * k], *value = &c->p[2 * k + 1];
            if (p->name_len != name->len || memcmp(p->name, name->s, name->len) != 0 ||
                p->value_len != value->len || memcmp(p->value, value->s, value->len) != 0)
                fail_msg("case %zu (%s): pair %zu differs", i, c->body, k);
            assert_int_equal(p->name[p->name_len], '\0');
            assert_int_equal(p->value[p->value_len], '\0');
        }
        tw_form_cleanup(&f);
    }
}

/* The body is read by length, never past it and never up to a NUL. */
static void test_parse_uses_length(void **state)
{
    (void)state;
    struct tw_form f;
    const char body[] = "a=1&b=%4";
    assert_int_equal(tw_form_parse(&f, body, 3), TW_OK);
    assert_int_equal(f.n, 1);
    tw_form_cleanup(&f);
    assert_int_equal(tw_form_parse(&f, "a=%41", 4), TW_EPARSE); /* "a=%4" */
    assert_int_equal(f.n, 0);
    const char raw_nul[] = {'a', '=', 'x', '\0', 'y'};
    assert_int_equal(tw_form_parse(&f, raw_nul, sizeof raw_nul), TW_OK);
    assert_int_equal(f.pairs[0].value_len, 3);
    tw_form_cleanup(&f);
}

static char *repeat_pairs(size_t n, int distinct)
{
    size_t cap = n * 16 + 1, len = 0;
    char *body = malloc(cap);
    assert_non_null(body);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(body + len, cap - len, "%sk%zu=v", i ? "&" : "",
                                distinct ? i : (size_t)0);
    return body;
}

static void test_pair_cap(void **state)
{
    (void)state;
    struct tw_form f;
    char *body = repeat_pairs(TW_FORM_MAX_PAIRS, 1);
    assert_int_equal(tw_form_parse(&f, body, strlen(body)), TW_OK);
    assert_int_equal(f.n, TW_FORM_MAX_PAIRS);
    tw_form_cleanup(&f);
    free(body);
    body = repeat_pairs(TW_FORM_MAX_PAIRS + 1, 1);
    assert_int_equal(tw_form_parse(&f, body, strlen(body)), TW_ETOOBIG);
    assert_int_equal(f.n, 0);
    assert_null(f.pairs);
    free(body);
    /* empty segments do not count towards the cap */
    size_t n = TW_FORM_MAX_PAIRS;
    body = repeat_pairs(n, 1);
    char *padded = malloc(strlen(body) + 2 * n + 1);
    assert_non_null(padded);
    size_t k = 0;
    for (const char *p = body; *p; p++) {
        padded[k++] = *p;
        if (*p == '&') {
            padded[k++] = '&';
            padded[k++] = '&';
        }
    }
    padded[k] = '\0';
    assert_int_equal(tw_form_parse(&f, padded, k), TW_OK);
    assert_int_equal(f.n, n);
    tw_form_cleanup(&f);
    free(padded);
    free(body);
}

struct lookup_case {
    const char *body;
    const char *name;
    size_t count;
    const char *get1; /* NULL: not exactly once */
};

static const struct lookup_case lookup_cases[] = {
    {"From=%2B1&To=%2B2", "From", 1, "+1"},
    {"From=%2B1&To=%2B2", "To", 1, "+2"},
    {"From=%2B1&To=%2B2", "Body", 0, NULL},
    {"From=a&From=b", "From", 2, NULL},
    {"From=", "From", 1, ""},
    {"From", "From", 1, ""},
    {"from=x", "From", 0, NULL},        /* case-sensitive */
    {"From%00x=1", "From", 0, NULL},    /* a NUL inside a name is part of it */
    {"From=%2B1%00x", "From", 1, NULL}, /* a NUL inside the value: not usable as text */
    {"Fro=1&Fromm=2", "From", 0, NULL}, /* prefixes are not matches */
};

static void test_lookup_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof lookup_cases / sizeof lookup_cases[0]; i++) {
        const struct lookup_case *c = &lookup_cases[i];
        struct tw_form f;
        assert_int_equal(tw_form_parse(&f, c->body, strlen(c->body)), TW_OK);
        if (tw_form_count(&f, c->name) != c->count)
            fail_msg("case %zu: count", i);
        const char *v = tw_form_get1(&f, c->name);
        if (c->get1)
            assert_string_equal(v, c->get1);
        else
            assert_null(v);
        tw_form_cleanup(&f);
    }
}

struct json_case {
    const char *body;
    const char *json;
};

static const struct json_case json_cases[] = {
    {"", "{}"},
    {"a=1", "{\"a\":\"1\"}"},
    {"b=1&a=2", "{\"b\":\"1\",\"a\":\"2\"}"}, /* delivery order, not sorted */
    {"a=1&a=2", "{\"a\":[\"1\",\"2\"]}"},
    {"a=2&a=1", "{\"a\":[\"2\",\"1\"]}"},
    {"a=x&a=x", "{\"a\":[\"x\",\"x\"]}"}, /* an identical repeat is kept */
    {"a=1&b=2&a=3&c=4&b=5&a=6",
     "{\"a\":[\"1\",\"3\",\"6\"],\"b\":[\"2\",\"5\"],\"c\":\"4\"}"},
    {"MediaUrl0=https%3A%2F%2Fx%2Fm&NumMedia=1", "{\"MediaUrl0\":\"https://x/m\",\"NumMedia\":\"1\"}"},
    {"a=", "{\"a\":\"\"}"},
    {"a", "{\"a\":\"\"}"},
    {"=v", "{\"\":\"v\"}"},
    {"a=%22%5C%0A", "{\"a\":\"\\\"\\\\\\n\"}"},
    {"a=x%00y", "{\"a\":\"x\\u0000y\"}"},
    {"k%00=1&k=2", "{\"k\\u0000\":\"1\",\"k\":\"2\"}"}, /* names differing after a NUL differ */
    {"e=%E2%82%AC", "{\"e\":\"\xe2\x82\xac\"}"},
};

static void test_json_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof json_cases / sizeof json_cases[0]; i++) {
        const struct json_case *c = &json_cases[i];
        struct tw_form f;
        assert_int_equal(tw_form_parse(&f, c->body, strlen(c->body)), TW_OK);
        char *json = tw_form_to_json(&f);
        assert_non_null(json);
        if (strcmp(json, c->json) != 0)
            fail_msg("case %zu (%s): got %s want %s", i, c->body, json, c->json);
        free(json);
        tw_form_cleanup(&f);
    }
}

/* Many distinct names: each appears once, in delivery order. */
static void test_json_many_names(void **state)
{
    (void)state;
    struct tw_form f;
    char *body = repeat_pairs(TW_FORM_MAX_PAIRS, 1);
    assert_int_equal(tw_form_parse(&f, body, strlen(body)), TW_OK);
    char *json = tw_form_to_json(&f);
    assert_non_null(json);
    assert_int_equal(strncmp(json, "{\"k0\":\"v\",\"k1\":\"v\",", 19), 0);
    assert_non_null(strstr(json, ",\"k999\":\"v\"}"));
    free(json);
    tw_form_cleanup(&f);
    free(body);
    body = repeat_pairs(TW_FORM_MAX_PAIRS, 0);
    assert_int_equal(tw_form_parse(&f, body, strlen(body)), TW_OK);
    json = tw_form_to_json(&f);
    assert_non_null(json);
    assert_int_equal(strncmp(json, "{\"k0\":[\"v\",\"v\",", 15), 0);
    assert_int_equal(strlen(json), strlen("{\"k0\":[]}") + TW_FORM_MAX_PAIRS * 4 - 1);
    free(json);
    tw_form_cleanup(&f);
    free(body);
}

static void test_add_and_encode(void **state)
{
    (void)state;
    struct tw_form f, back;
    tw_form_init(&f);
    const char *pairs[][2] = {{"Body", "hi there & you=+1 100%"},
                              {"To", "whatsapp:+15557007007"},
                              {"Empty", ""},
                              {"U\xc3\xa9", "\xf0\x9f\x98\x80~-._*"}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(tw_form_add(&f, pairs[i][0], pairs[i][1]), TW_OK);
    char *body = tw_form_encode(&f);
    assert_non_null(body);
    assert_string_equal(body, "Body=hi+there+%26+you%3D%2B1+100%25&To=whatsapp%3A%2B15557007007"
                              "&Empty=&U%C3%A9=%F0%9F%98%80~-._%2A");
    assert_int_equal(tw_form_parse(&back, body, strlen(body)), TW_OK);
    assert_int_equal(back.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(back.pairs[i].name, pairs[i][0]);
        assert_string_equal(back.pairs[i].value, pairs[i][1]);
    }
    free(body);
    tw_form_cleanup(&back);
    assert_int_equal(tw_form_add(&f, "bad", "\xc3"), TW_EUTF8);
    assert_int_equal(tw_form_add(&f, "\xed\xa0\x80", "x"), TW_EUTF8);
    assert_int_equal(f.n, 4);
    tw_form_cleanup(&f);
    assert_int_equal(f.n, 0);
    tw_form_cleanup(&f); /* twice is harmless */
}

/* NUL bytes survive an encode/parse round trip. */
static void test_encode_nul(void **state)
{
    (void)state;
    struct tw_form f, back;
    assert_int_equal(tw_form_parse(&f, "a%00=b%00c", 10), TW_OK);
    char *body = tw_form_encode(&f);
    assert_string_equal(body, "a%00=b%00c");
    assert_int_equal(tw_form_parse(&back, body, strlen(body)), TW_OK);
    assert_int_equal(back.pairs[0].value_len, 3);
    free(body);
    tw_form_cleanup(&f);
    tw_form_cleanup(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),    cmocka_unit_test(test_parse_uses_length),
        cmocka_unit_test(test_pair_cap),       cmocka_unit_test(test_lookup_table),
        cmocka_unit_test(test_json_table),     cmocka_unit_test(test_json_many_names),
        cmocka_unit_test(test_add_and_encode), cmocka_unit_test(test_encode_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
