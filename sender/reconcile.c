/* SPDX-License-Identifier: MIT */
/* Matching a lost attempt against Twilio's message list. */
#include "sender/reconcile.h"

#include <string.h>
#include <time.h>

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

long snd_reconcile_pick(const struct snd_msg *list, size_t n, const struct snd_match *want,
                        snd_taken_fn taken, void *ctx)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        const struct snd_msg *m = &list[i];
        if (!same(m->to, want->to))
            continue;
        /* a Messaging Service picks From itself: match the service instead */
        if (want->mg ? !same(m->messaging_service_sid, want->mg) : !same(m->from, want->from))
            continue;
        if (strcmp(m->body ? m->body : "", want->body ? want->body : "") != 0)
            continue;
        if (m->num_media >= 0 && m->num_media != want->nmedia)
            continue;
        if (m->created_ms < 0 || m->created_ms < want->attempt_at_ms - SND_RECONCILE_SKEW_MS)
            continue;
        if (taken && taken(m->sid, ctx))
            continue;
        if (best < 0 || m->created_ms < list[best].created_ms)
            best = (long)i;
    }
    return best;
}

bool snd_reconcile_page_covers(const struct snd_msg *list, size_t n, int64_t attempt_at_ms)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].created_ms >= 0 && list[i].created_ms < attempt_at_ms - SND_RECONCILE_SKEW_MS)
            return true;
    return false;
}

void snd_reconcile_day(int64_t attempt_at_ms, char out[11])
{
    time_t t = (time_t)((attempt_at_ms - SND_RECONCILE_SKEW_MS) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}
