/* SPDX-License-Identifier: MIT */
/* JSON string escaping into a tw_buf. */
#include "common/jsonw.h"

#include <stdbool.h>

#include "common/utf8.h"

/* The two-character escapes JSON has for some control characters, as jansson writes them. */
static const char *strchr_short(unsigned char c)
{
    switch (c) {
    case '\b':
        return "b";
    case '\f':
        return "f";
    case '\n':
        return "n";
    case '\r':
        return "r";
    case '\t':
        return "t";
    default:
        return NULL;
    }
}

int tw_jsonw_string(struct tw_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    bool utf8 = tw_utf8_valid(s, n);
    int rc = tw_buf_append(b, "\"", 1);
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n && rc == TW_OK; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen;
        const char *shortc = c < 0x20 ? strchr_short(c) : NULL;
        if (c == '"' || c == '\\' || shortc) {
            esc[0] = '\\';
            esc[1] = shortc ? *shortc : (char)c;
            elen = 2;
        } else if (c < 0x20 || (c >= 0x80 && !utf8)) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else {
            continue;
        }
        rc = tw_buf_append(b, s + run, i - run);
        if (rc == TW_OK)
            rc = tw_buf_append(b, esc, elen);
        run = i + 1;
    }
    if (rc == TW_OK)
        rc = tw_buf_append(b, s + run, n - run);
    if (rc == TW_OK)
        rc = tw_buf_append(b, "\"", 1);
    return rc;
}
