/* SPDX-License-Identifier: MIT */
/* X-Twilio-Signature: base64(HMAC-SHA1(token, URL + sorted name/value pairs)). */
#ifndef TW_SIGNATURE_H
#define TW_SIGNATURE_H

#include <stddef.h>

#include "common/err.h"
#include "common/form.h"

#define TW_SIG_B64_LEN 28 /* base64 of 20 bytes */

/* Computes the canonical signature of form for url (its #fragment removed), names sorted
 * bytewise, repeated names' values in delivery order. out receives TW_SIG_B64_LEN chars + NUL.
 * Returns TW_OK or TW_ENOMEM. */
int tw_sig_compute(const char *token, const char *url, const struct tw_form *form,
                   char out[TW_SIG_B64_LEN + 1]) TW_MUSTCHECK;

/* Verifies signature against every accepted variant: each token in tokens (NULL entries
 * skipped); the URL as configured, with its port removed, or with the scheme's default port
 * added; repeated names in delivery order or with their values sorted. Every comparison is
 * constant-time. Returns TW_OK or TW_ESIG (also for a NULL or malformed signature), TW_ENOMEM. */
int tw_sig_verify(const char *const *tokens, int ntokens, const char *url,
                  const struct tw_form *form, const char *signature) TW_MUSTCHECK;

#endif
