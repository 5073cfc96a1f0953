/* SPDX-License-Identifier: MIT */
/* Exponential backoff with full jitter. */
#ifndef TW_BACKOFF_H
#define TW_BACKOFF_H

/* Delay before retry number attempt (1-based): uniform in [base/2, min(cap, base*2^(attempt-1))],
 * never below floor_ms (a Retry-After, or 0). */
long tw_backoff_ms(int attempt, long base_ms, long cap_ms, long floor_ms);

#endif
