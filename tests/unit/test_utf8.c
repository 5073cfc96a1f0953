/* SPDX-License-Identifier: MIT */
/* Strict UTF-8: every boundary of the well-formed table, and each kind of ill-formed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

struct utf8_case {
    const char *bytes;
    size_t len; /* 0: strlen */
    bool valid;
};

static const struct utf8_case cases[] = {
    {"", 0, true},
    {"plain ascii", 0, true},
    {"\x00", 1, true}, /* U+0000 is a scalar value; NUL handling is the caller's */
    {"\x7f", 0, true},
    {"\xc2\x80", 0, true},         /* U+0080, smallest 2-byte */
    {"\xdf\xbf", 0, true},         /* U+07FF */
    {"\xe0\xa0\x80", 0, true},     /* U+0800, smallest 3-byte */
    {"\xed\x9f\xbf", 0, true},     /* U+D7FF, just below the surrogates */
    {"\xee\x80\x80", 0, true},     /* U+E000, just above */
    {"\xef\xbf\xbf", 0, true},     /* U+FFFF */
    {"\xf0\x90\x80\x80", 0, true}, /* U+10000, smallest 4-byte */
    {"\xf4\x8f\xbf\xbf", 0, true}, /* U+10FFFF, the last code point */
    {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 0, true},
    /* overlong forms */
    {"\xc0\x80", 0, false},
    {"\xc1\xbf", 0, false},
    {"\xe0\x80\xaf", 0, false},
    {"\xe0\x9f\xbf", 0, false},
    {"\xf0\x80\x80\xaf", 0, false},
    {"\xf0\x8f\xbf\xbf", 0, false},
    /* surrogates */
    {"\xed\xa0\x80", 0, false}, /* U+D800 */
    {"\xed\xbf\xbf", 0, false}, /* U+DFFF */
    {"\xed\xa0\xbd\xed\xb8\x80", 0, false}, /* CESU-8 pair */
    /* past U+10FFFF and bytes that never occur */
    {"\xf4\x90\x80\x80", 0, false},
    {"\xf5\x80\x80\x80", 0, false},
    {"\xf8\x88\x80\x80\x80", 0, false},
    {"\xfe", 0, false},
    {"\xff", 0, false},
    /* truncated and misplaced continuation bytes */
    {"\xc3", 0, false},
    {"\xe2\x82", 0, false},
    {"\xf0\x9f\x98", 0, false},
    {"a\xf0\x9f", 0, false},
    {"\x80", 0, false},
    {"\xbf", 0, false},
    {"\xc3\x28", 0, false},
    {"\xe2\x28\xa1", 0, false},
    {"\xe2\x82\x28", 0, false},
    {"\xf0\x9f\x98\x28", 0, false},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct utf8_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->bytes);
        if (tw_utf8_valid(c->bytes, len) != c->valid)
            fail_msg("case %zu: expected %s", i, c->valid ? "valid" : "invalid");
    }
}

/* A valid multi-byte sequence cut anywhere but at its end is invalid. */
static void test_every_truncation(void **state)
{
    (void)state;
    const char *seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(seqs[i]);
        assert_true(tw_utf8_valid(seqs[i], n));
        for (size_t cut = 1; cut < n; cut++)
            assert_false(tw_utf8_valid(seqs[i], cut));
    }
}

/* Exhaustive over every 2- and 3-byte sequence: valid exactly when it is a scalar value written
 * in its shortest form. */
static void test_exhaustive_short_sequences(void **state)
{
    (void)state;
    for (unsigned a = 0xC0; a <= 0xFF; a++) {
        for (unsigned b = 0; b <= 0xFF; b++) {
            unsigned char s2[2] = {(unsigned char)a, (unsigned char)b};
            bool want2 = a >= 0xC2 && a <= 0xDF && (b & 0xC0) == 0x80;
            assert_int_equal(tw_utf8_valid((const char *)s2, 2), want2);
            if (a < 0xE0 || a > 0xEF)
                continue;
            for (unsigned c = 0x80; c <= 0xBF; c++) {
                unsigned char s3[3] = {(unsigned char)a, (unsigned char)b, (unsigned char)c};
                unsigned cp = (a & 0x0F) << 12 | (b & 0x3F) << 6 | (c & 0x3F);
                bool want3 = (b & 0xC0) == 0x80 && cp >= 0x800 && !(cp >= 0xD800 && cp <= 0xDFFF);
                assert_int_equal(tw_utf8_valid((const char *)s3, 3), want3);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_exhaustive_short_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
