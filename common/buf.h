/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a mandatory cap. */
#ifndef TW_BUF_H
#define TW_BUF_H

#include <stddef.h>

#include "common/err.h"

struct tw_buf {
    char *data; /* owned, malloc; always NUL-terminated when non-NULL */
    size_t len;
    size_t cap; /* allocated */
    size_t max; /* never grows past this many bytes of content */
};

void tw_buf_init(struct tw_buf *b, size_t max);
void tw_buf_cleanup(struct tw_buf *b);
/* Appends n bytes. Returns TW_OK, TW_ETOOBIG past the cap (nothing appended), TW_ENOMEM. */
int tw_buf_append(struct tw_buf *b, const void *p, size_t n) TW_MUSTCHECK;
int tw_buf_puts(struct tw_buf *b, const char *s) TW_MUSTCHECK;
/* Appends a printf-formatted string. */
int tw_buf_printf(struct tw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) TW_MUSTCHECK;
void tw_buf_reset(struct tw_buf *b);
/* Makes room for n more bytes of content (at most up to the cap) in one allocation. */
int tw_buf_reserve(struct tw_buf *b, size_t n) TW_MUSTCHECK;

#endif
