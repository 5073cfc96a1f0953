/* SPDX-License-Identifier: MIT */
/* Clocks. */
#include "common/clock.h"

#include <time.h>

int64_t tw_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tw_mono_ms(void)
{
    return tw_mono_us() / 1000;
}

int64_t tw_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
