/* SPDX-License-Identifier: MIT */
/* tw-worker: config -> log -> metrics -> agent -> loop until SIGTERM -> drain -> exit 0. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stop.h"
#include "worker/agent.h"
#include "worker/http.h"
#include "worker/inbound.h"
#include "worker/notify.h"
#include "worker/rconn.h"
#include "worker/scripts.h"
#include "worker/statuses.h"
#include "worker/wmetrics.h"
#include "worker/worker.h"

static redisContext *current_redis(void *ctx)
{
    return wrk_rconn_get(ctx);
}

static void config_error(const char *name, const char *why)
{
    fprintf(stderr, "config: %s %s\n", name, why);
    TW_LOG_ERROR("bad configuration", TW_F_STR("variable", name), TW_F_STR("reason", why));
}

static void update_gauges(const struct wrk_ctx *ctx)
{
    tw_metrics_set(WM_IN_FLIGHT, "", (double)wrk_http_active(ctx->http));
}

static void run(struct wrk_ctx *ctx, struct wrk_notify *notify, struct wrk_inbound *in,
                struct wrk_statuses *st)
{
    while (!tw_stop_requested()) {
        int64_t now = tw_mono_ms();
        int work = 0;
        if (wrk_rconn_get(ctx->redis)) {
            work += wrk_inbound_step(in, now, false);
            work += wrk_statuses_step(st, now, false);
        }
        update_gauges(ctx);
        if (work) {
            wrk_http_run(ctx->http, 0, -1, NULL);
            continue;
        }
        now = tw_mono_ms();
        long wait = WRK_BLOCK_MAX_MS;
        wait = wrk_inbound_next_ms(in, now, wait);
        wait = wrk_statuses_next_ms(st, now, wait);
        int fd = -1;
        if (!ctx->redis->c) {
            long r = wrk_rconn_wait_ms(ctx->redis);
            wait = r < WRK_BLOCK_MAX_MS ? (r > 0 ? r : 1) : WRK_BLOCK_MAX_MS;
        } else {
            fd = wrk_notify_arm(notify, ctx, wrk_inbound_last_id(in), wrk_statuses_last_id(st));
            if (fd < 0 && wait > WRK_NOTIFY_DOWN_POLL_MS)
                wait = WRK_NOTIFY_DOWN_POLL_MS; /* no wake-ups: look for entries often */
        }
        bool woken = false;
        wrk_http_run(ctx->http, (int)wait, fd, &woken);
        if (woken)
            wrk_notify_consume(notify);
    }
}

/* A clean stop removes this consumer from a group it holds nothing in. */
static void leave_group(struct wrk_ctx *ctx, const char *stream, const char *group)
{
    const char *argv[] = {stream, group, ctx->consumer};
    redisReply *r = wrk_rconn_get(ctx->redis)
                        ? wrk_rconn_eval(ctx->redis, &wrk_script_leave, 1, 3, argv, NULL)
                        : NULL;
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        TW_LOG_INFO("left the consumer group", TW_F_STR("stream", stream),
                    TW_F_STR("group", group));
    if (r)
        freeReplyObject(r);
}

/* SIGTERM: stop reading, give back what waits, let calls in flight finish and record them. */
static void drain(struct wrk_ctx *ctx, struct wrk_inbound *in, struct wrk_statuses *st)
{
    TW_LOG_INFO("draining", TW_F_INT("in_flight", wrk_http_active(ctx->http)));
    int64_t deadline = tw_mono_ms() + WRK_DRAIN_MS;
    wrk_inbound_handback(in, false);
    wrk_statuses_handback(st, false);
    while (tw_mono_ms() < deadline) {
        int64_t now = tw_mono_ms();
        wrk_http_run(ctx->http, 20, -1, NULL);
        if (wrk_rconn_get(ctx->redis)) {
            wrk_inbound_step(in, now, true);
            wrk_statuses_step(st, now, true);
            wrk_inbound_handback(in, false);
            wrk_statuses_handback(st, false);
        }
        if (wrk_inbound_busy(in) == 0 && wrk_statuses_busy(st) == 0 &&
            wrk_http_active(ctx->http) == 0)
            break;
    }
    /* whatever is left (Redis down, calls that outlived the drain) is handed back or stays
     * pending: another replica reclaims it after TW_CLAIM_IDLE_MS */
    wrk_inbound_handback(in, true);
    wrk_statuses_handback(st, true);
    leave_group(ctx, ctx->k_inbound, TW_G_WORKERS);
    leave_group(ctx, ctx->k_status, TW_G_STATUS);
}

int main(void)
{
    struct tw_config cfg;
    struct wrk_rconn rconn;
    struct wrk_notify notify;
    struct wrk_ctx ctx;
    struct wrk_inbound *in = NULL;
    struct wrk_statuses *st = NULL;
    int exit_code = 1;
    bool rconn_ok = false, notify_ok = false, curl_ok = false, metrics_on = false;
    memset(&ctx, 0, sizeof ctx);

    tw_log_init("worker", TW_LOG_INFO_L);
    if (tw_cfg_load(&cfg, TW_P_WORKER, NULL, NULL) != TW_OK)
        return TW_EXIT_CONFIG;
    tw_log_init("worker", (enum tw_log_level)cfg.log_level);
    ctx.cfg = &cfg;
    ctx.agent = wrk_agent_find(cfg.agent);
    if (!ctx.agent) {
        config_error("TW_AGENT", "names no agent kind (see worker/agent.h)");
        exit_code = TW_EXIT_CONFIG;
        goto out;
    }
    if (wrk_rconn_init(&rconn, cfg.redis_url) != TW_OK) {
        config_error("REDIS_URL", "is not a valid Redis URL");
        exit_code = TW_EXIT_CONFIG;
        goto out;
    }
    rconn_ok = true;
    if (wrk_notify_init(&notify, cfg.redis_url) != TW_OK)
        goto out;
    notify_ok = true;
    tw_cfg_log(&cfg, TW_P_WORKER);

    char consumer[256];
    if (cfg.worker_id) {
        snprintf(consumer, sizeof consumer, "%s", cfg.worker_id);
    } else {
        char host[200] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        snprintf(consumer, sizeof consumer, "%s-%d", host, (int)getpid());
    }
    ctx.consumer = consumer;
    ctx.prefix = cfg.redis_prefix;
    ctx.redis = &rconn;
    tw_rs_key(ctx.k_inbound, sizeof ctx.k_inbound, cfg.redis_prefix, TW_K_INBOUND);
    tw_rs_key(ctx.k_inbound_dead, sizeof ctx.k_inbound_dead, cfg.redis_prefix, TW_K_INBOUND_DEAD);
    tw_rs_key(ctx.k_status, sizeof ctx.k_status, cfg.redis_prefix, TW_K_STATUS);
    tw_rs_key(ctx.k_status_dead, sizeof ctx.k_status_dead, cfg.redis_prefix, TW_K_STATUS_DEAD);
    tw_rs_key(ctx.inq_prefix, sizeof ctx.inq_prefix, cfg.redis_prefix, TW_K_INQ);
    tw_rs_key(ctx.outcome_prefix, sizeof ctx.outcome_prefix, cfg.redis_prefix, TW_K_OUTCOME);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        TW_LOG_ERROR("curl_global_init failed");
        goto out;
    }
    curl_ok = true;
    tw_stop_install();
    wrk_scripts_init();
    wrk_metrics_register();
    ctx.http = wrk_http_new();
    if (!ctx.http)
        goto out;

    struct wrk_env env = {
        .cfg = &cfg, .http = ctx.http, .redis = current_redis, .redis_ctx = &rconn};
    const char *why = NULL;
    int rc = ctx.agent->create(&env, &ctx.agent_state, &why);
    if (rc == TW_ECONFIG) {
        config_error("TW_AGENT", why ? why : "agent configuration is invalid");
        exit_code = TW_EXIT_CONFIG;
        goto out;
    }
    if (rc < 0) {
        TW_LOG_ERROR("agent set-up failed", TW_F_STR("error", tw_strerror(rc)));
        goto out;
    }
    if (cfg.metrics_listen) {
        if (tw_metrics_serve(cfg.metrics_listen) != TW_OK) {
            TW_LOG_ERROR("cannot serve metrics", TW_F_STR("listen", cfg.metrics_listen));
            goto out;
        }
        metrics_on = true;
    }
    in = wrk_inbound_new(&ctx);
    st = wrk_statuses_new(&ctx);
    if (!in || !st)
        goto out;

    TW_LOG_INFO("worker started", TW_F_STR("consumer", consumer), TW_F_STR("agent", cfg.agent),
                TW_F_INT("concurrency", cfg.worker_concurrency),
                TW_F_INT("claim_idle_ms", cfg.claim_idle_ms));
    run(&ctx, &notify, in, st);
    drain(&ctx, in, st);
    exit_code = 0;
    TW_LOG_INFO("stopped");
out:
    /* the HTTP client first: aborting its requests calls back into their owners */
    wrk_http_free(ctx.http);
    wrk_inbound_free(in);
    wrk_statuses_free(st);
    if (ctx.agent && ctx.agent_state)
        ctx.agent->destroy(ctx.agent_state);
    if (metrics_on)
        tw_metrics_stop();
    if (notify_ok)
        wrk_notify_cleanup(&notify);
    if (rconn_ok)
        wrk_rconn_cleanup(&rconn);
    if (curl_ok)
        curl_global_cleanup();
    tw_cfg_cleanup(&cfg);
    return exit_code;
}
