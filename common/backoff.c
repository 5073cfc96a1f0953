/* SPDX-License-Identifier: MIT */
/* Backoff delays. Jitter spreads retries of many replicas so they do not arrive together. */
#include "common/backoff.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

long tw_backoff_ms(int attempt, long base_ms, long cap_ms, long floor_ms)
{
    if (attempt < 1)
        attempt = 1;
    long ceil = base_ms;
    for (int i = 1; i < attempt && ceil < cap_ms; i++)
        ceil *= 2;
    if (ceil > cap_ms)
        ceil = cap_ms;
    long lo = base_ms / 2;
    if (lo > ceil)
        lo = ceil;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (uint32_t)rand();
    long d = lo + (long)(r % (uint32_t)(ceil - lo + 1));
    return d < floor_ms ? floor_ms : d;
}
