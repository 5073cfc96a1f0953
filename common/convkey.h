/* SPDX-License-Identifier: MIT */
/* Canonical conversation keys, the same ids the Flue agent runtime uses. */
#ifndef TW_CONVKEY_H
#define TW_CONVKEY_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Longest key tw_conv_key_encode produces or tw_conv_key_decode accepts, in bytes. */
#define TW_CONV_KEY_MAX 65536

enum tw_conv_type { TW_CONV_ADDRESS = 0, TW_CONV_SERVICE };

struct tw_conv {
    /* Longest key tw_conv_key_encode produces or tw_conv_key_decode accepts, in bytes. */
#define TW_CONV_KEY_MAX 65536

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

/* Fills c with copies of the given strings (mg is NULL exactly when type is TW_CONV_ADDRESS).
 * Returns TW_OK, TW_EINVAL (a required string missing) or TW_ENOMEM (c left empty). */
int tw_conv_set(struct tw_conv *c, /* Longest key tw_conv_key_encode produces or tw_conv_key_decode accepts, in bytes. */
#define TW_CONV_KEY_MAX 65536

enum tw_conv_type type, const char *account, const char *mg,
                const char *address, const char *participant) TW_MUSTCHECK;
void tw_conv_cleanup(struct tw_conv *c);

/* twilio:v1:account:<a>:address:<addr>:participant:<p> or
 * twilio:v1:account:<a>:messaging-service:<mg>:address:<addr>:participant:<p>.
 * *out is new: caller frees with free(). Like Flue's instanceId(), every segment must be a
 * non-empty string without surrounding white space (as JavaScript's trim() sees it).
 * Returns TW_OK, TW_EUTF8, TW_EINVAL (empty or white-space-padded segment, missing field),
 * TW_ETOOBIG (longer than TW_CONV_KEY_MAX), TW_ENOMEM; *out is NULL on error. */
int tw_conv_key_encode(const struct tw_conv *c, char **out) TW_MUSTCHECK;

/* Parses a key; only canonical keys parse (re-encoding gives the input back byte for byte, so
 * lower-case escapes, raw reserved characters and white-space-padded segments are refused, as
 * is a segment that decodes to a NUL byte, which a C string cannot hold).
 * Returns TW_OK or TW_EKEY (c left empty) or TW_ENOMEM. *why (optional) gets a static reason. */
int tw_conv_key_decode(const char *key, struct tw_conv *c, const char **why) TW_MUSTCHECK;

/* {"type":"address"|"messaging-service","accountSid","address","participant"
 *  [,"messagingServiceSid"]}, keys in that order. new: caller frees with free(); NULL when out
 * of memory or a field is missing or not valid UTF-8. */
char *tw_conv_to_json(const struct tw_conv *c);

#endif
