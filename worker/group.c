/* SPDX-License-Identifier: MIT */
/* Consumer groups: created from the start of the stream (so entries written before the first
 * worker started are not skipped), recreated the same way when Redis lost them. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "worker/wmetrics.h"
#include "worker/worker.h"

int wrk_group_ensure(struct wrk_ctx *ctx, const char *stream, const char *group, const char *label)
{
    const char *argv[] = {"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"};
    redisReply *r = wrk_rconn_cmd(ctx->redis, 6, argv, NULL);
    if (!r)
        return TW_EREDIS;
    int rc = TW_OK;
    if (r->type == REDIS_REPLY_ERROR && !wrk_reply_is_error(r, "BUSYGROUP")) {
        TW_LOG_ERROR("cannot create consumer group", TW_F_STR("stream", stream),
                     TW_F_STR("group", group), TW_F_STR("error", r->str));
        rc = TW_EREDIS;
    } else if (r->type != REDIS_REPLY_ERROR) {
        char labels[64];
        snprintf(labels, sizeof labels, "stream=\"%s\"", label);
        tw_metrics_inc(WM_GROUP_CREATED, labels, 1);
        TW_LOG_INFO("consumer group created", TW_F_STR("stream", stream), TW_F_STR("group", group));
    }
    freeReplyObject(r);
    return rc;
}

void wrk_group_gauges(struct wrk_ctx *ctx, const char *stream, const char *group, const char *label)
{
    const char *argv[] = {"XINFO", "GROUPS", stream};
    redisReply *r = wrk_rconn_cmd(ctx->redis, 3, argv, NULL);
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *g = r->element[i];
            if (g->type != REDIS_REPLY_ARRAY)
                continue;
            bool ours = false;
            long long pending = -1, lag = -1;
            for (size_t j = 0; j + 1 < g->elements; j += 2) {
                const redisReply *k = g->element[j], *v = g->element[j + 1];
                if (k->type != REDIS_REPLY_STRING)
                    continue;
                if (!strcmp(k->str, "name") && v->type == REDIS_REPLY_STRING)
                    ours = !strcmp(v->str, group);
                else if (!strcmp(k->str, "pending") && v->type == REDIS_REPLY_INTEGER)
                    pending = v->integer;
                else if (!strcmp(k->str, "lag") && v->type == REDIS_REPLY_INTEGER)
                    lag = v->integer;
            }
            if (!ours)
                continue;
            char labels[64];
            snprintf(labels, sizeof labels, "stream=\"%s\"", label);
            if (pending >= 0)
                tw_metrics_set(WM_PENDING, labels, (double)pending);
            if (lag >= 0)
                tw_metrics_set(WM_LAG, labels, (double)lag);
        }
    }
    freeReplyObject(r);
}
