/* SPDX-License-Identifier: MIT */
/* Opted-out participants per destination: <prefix>optout:<account>:<destination> is a set. */
#ifndef TW_OPTOUT_H
#define TW_OPTOUT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* destination is the address (From number) or the Messaging Service SID. */
void tw_optout_key(char *out, size_t outsz, const char *prefix, const char *account,
                   const char *destination);
int tw_optout_set(redisContext *c, const char *prefix, const char *account,
                  const char *destination, const char *participant, bool opted_out) TW_MUSTCHECK;
/* *out = whether participant is opted out. Returns TW_OK or TW_EREDIS. */
int tw_optout_get(redisContext *c, const char *prefix, const char *account,
                  const char *destination, const char *participant, bool *out) TW_MUSTCHECK;

#endif
