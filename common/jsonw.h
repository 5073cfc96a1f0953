/* SPDX-License-Identifier: MIT */
/* Writing JSON text straight into a buffer, for the hot paths (log lines, stream payloads)
 * where building a jansson tree first would cost an allocation per value. */
#ifndef TW_JSONW_H
#define TW_JSONW_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Appends s[0..n) as a JSON string: '"' and '\' escaped, control characters as \u00XX; valid
 * UTF-8 is copied as it is, and when s is not valid UTF-8 every byte >= 0x80 is written as
 * \u00XX, so the output is always valid JSON. Returns TW_OK, TW_ETOOBIG or TW_ENOMEM. */
int tw_jsonw_string(struct tw_buf *b, const char *s, size_t n) TW_MUSTCHECK;

#endif
