/* SPDX-License-Identifier: MIT */
/* application/x-www-form-urlencoded bodies, decoded exactly as Twilio signs them. */
#ifndef TW_FORM_H
#define TW_FORM_H

#include <stddef.h>

#include "common/err.h"

struct tw_form_pair {
    char *name; /* owned, malloc; decoded, NUL-terminated (may also hold %00 bytes) */
    size_t name_len;
    char *value; /* owned, malloc; decoded, NUL-terminated */
    size_t value_len;
};

struct tw_form {
    struct tw_form_pair *pairs; /* owned, malloc; in delivery order */
    size_t n;
    size_t cap;
};

#define TW_FORM_MAX_PAIRS 1000

/* Parses body (len bytes) into f (which it initialises). '+' is a space; %XX is a byte; a name
 * with no '=' has an empty value; empty segments ("a=1&&b=2") are skipped.
 * Returns TW_OK, TW_EPARSE (bad %-escape), TW_EUTF8 (a decoded name or value is not valid
 * UTF-8), TW_ETOOBIG (more than TW_FORM_MAX_PAIRS pairs) or TW_ENOMEM. On error f is empty. */
int tw_form_parse(struct tw_form *f, const char *body, size_t len) TW_MUSTCHECK;
void tw_form_init(struct tw_form *f);
void tw_form_cleanup(struct tw_form *f);
/* Appends a pair (copies both); for building forms in tests and tools. Returns TW_OK, TW_EUTF8
 * (name or value not valid UTF-8: every form holds valid UTF-8), TW_ETOOBIG, TW_ENOMEM. */
int tw_form_add(struct tw_form *f, const char *name, const char *value) TW_MUSTCHECK;

/* How many times name occurs. */
size_t tw_form_count(const struct tw_form *f, const char *name);
/* The value of name when it occurs exactly once and holds no NUL byte, else NULL (borrowed:
 * valid until cleanup). */
const char *tw_form_get1(const struct tw_form *f, const char *name);

/* JSON object of the form: each name maps to its string, or to an array of strings in delivery
 * order when it repeats; names in first-occurrence order.
 * Returns new memory (caller frees with free()) or NULL when out of memory. */
char *tw_form_to_json(const struct tw_form *f);

/* Encodes the form as a body (for clients: tests, tw-admin, the sender): names and values with
 * everything but unreserved characters %-escaped, spaces as "+". new: caller frees. */
char *tw_form_encode(const struct tw_form *f);

#endif
