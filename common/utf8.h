/* SPDX-License-Identifier: MIT */
/* Strict UTF-8 validation (no overlong forms, no surrogates, nothing past U+10FFFF). */
#ifndef TW_UTF8_H
#define TW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool tw_utf8_valid(const char *s, size_t n);

#endif
