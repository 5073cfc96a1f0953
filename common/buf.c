/* SPDX-License-Identifier: MIT */
/* Growable buffer. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tw_buf_init(struct tw_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void tw_buf_cleanup(struct tw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void tw_buf_reset(struct tw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int tw_buf_reserve(struct tw_buf *b, size_t n)
{
    if (n > b->max - b->len)
        n = b->max - b->len;
    if (b->len + n + 1 <= b->cap)
        return TW_OK;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return TW_ENOMEM;
    b->data = d;
    b->cap = b->len + n + 1;
    b->data[b->len] = '\0';
    return TW_OK;
}

int tw_buf_append(struct tw_buf *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return TW_ETOOBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return TW_ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return TW_OK;
}

int tw_buf_puts(struct tw_buf *b, const char *s)
{
    return tw_buf_append(b, s, strlen(s));
}

int tw_buf_printf(struct tw_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TW_EINVAL;
    if ((size_t)n < sizeof small)
        return tw_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return TW_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = tw_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}
