/* SPDX-License-Identifier: MIT */
/* Canonical conversation keys, the same ids the Flue agent runtime uses. */
#ifndef TW_CONVKEY_H
#define TW_CONVKEY_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

enum tw_conv_type { TW_CONV_ADDRESS = 0, TW_CONV_SERVICE };

struct tw_conv {
    enum tw_conv_type type;
    char *account_sid;           /* owned, malloc */
    char *messaging_service_sid; /* owned, malloc; TW_CONV_SERVICE only */
    char *address;               /* owned, malloc: our side (To inbound, From on status) */
    char *participant;           /* owned, malloc: the customer */
};

/* Appends s percent-encoded exactly as JavaScript's encodeURIComponent does (upper-case hex;
 * A-Z a-z 0-9 - _ . ! ~ * ' ( ) kept). Returns TW_OK, TW_EUTF8 (encodeURIComponent throws on
 * such input), TW_ETOOBIG, TW_ENOMEM. */
int tw_conv_uri_encode(struct tw_buf *out, const char *s, size_t n) TW_MUSTCHECK;

/* Fills c with copies of the given strings (mg may be NULL for TW_CONV_ADDRESS). */
int tw_conv_set(struct tw_conv *c, enum tw_conv_type type, const char *account, const char *mg,
                const char *address, const char *participant) TW_MUSTCHECK;
void tw_conv_cleanup(struct tw_conv *c);

/* twilio:v1:account:<a>:address:<addr>:participant:<p> or
 * twilio:v1:account:<a>:messaging-service:<mg>:address:<addr>:participant:<p>.
 * *out is new: caller frees with free(). Returns TW_OK, TW_EUTF8, TW_ENOMEM. */
int tw_conv_key_encode(const struct tw_conv *c, char **out) TW_MUSTCHECK;

/* Parses a key; only canonical keys parse (re-encoding gives the input back byte for byte).
 * Returns TW_OK or TW_EKEY (c left empty) or TW_ENOMEM. *why (optional) gets a static reason. */
int tw_conv_key_decode(const char *key, struct tw_conv *c, const char **why) TW_MUSTCHECK;

/* {"type":"address"|"messaging-service","accountSid","address","participant"
 *  [,"messagingServiceSid"]}. new: caller frees with free(); NULL when out of memory. */
char *tw_conv_to_json(const struct tw_conv *c);

#endif
