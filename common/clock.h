/* SPDX-License-Identifier: MIT */
/* Wall-clock and monotonic milliseconds. */
#ifndef TW_CLOCK_H
#define TW_CLOCK_H

#include <stdint.h>

int64_t tw_now_ms(void);  /* milliseconds since the epoch */
int64_t tw_mono_ms(void); /* monotonic milliseconds, for timeouts and latency */
int64_t tw_mono_us(void);

#endif
