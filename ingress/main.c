/* SPDX-License-Identifier: MIT */
/* tw-ingress: the public Twilio webhook, storing every verified request in Redis before 200. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stop.h"
#include "ingress/admit.h"
#include "ingress/api.h"
#include "ingress/server.h"

#define DRAIN_TIMEOUT_MS 10000

/* Idle connections cost a descriptor each: take the hard limit we are allowed. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void describe_metrics(void)
{
    tw_metrics_help("tw_ingress_requests_total", "counter", "HTTP requests by route and status.");
    tw_metrics_help("tw_ingress_signature_failures_total", "counter",
                    "Requests refused for a missing or wrong X-Twilio-Signature.");
    tw_metrics_help("tw_ingress_duplicates_total", "counter",
                    "Deliveries already stored, answered as the original was.");
    tw_metrics_help("tw_ingress_enqueue_seconds", "histogram",
                    "Time from submission to Redis's answer for the dedup-and-append script.");
    tw_metrics_help("tw_ingress_batch_size", "histogram",
                    "Scripts sent to Redis in one pipelined round trip.");
    tw_metrics_help("tw_ingress_redis_errors_total", "counter",
                    "Redis connection failures, timeouts and error replies.");
}

int main(void)
{
    struct tw_config cfg;
    struct ing_admit *admit = NULL;
    struct ing_server srv = {0};
    struct ing_api *api = NULL;
    int code = 1;

    tw_log_init("ingress", TW_LOG_INFO_L);
    if (tw_cfg_load(&cfg, TW_P_INGRESS, NULL, NULL) < 0)
        return TW_EXIT_CONFIG;
    tw_log_init("ingress", (enum tw_log_level)cfg.log_level);
    tw_cfg_log(&cfg, TW_P_INGRESS);
    describe_metrics();
    raise_fd_limit();
    tw_stop_install();

    if (ing_admit_start(&cfg, &admit) < 0)
        goto out;
    int arc = ing_api_start(&cfg, &api); /* off (NULL) without TW_API_TOKEN */
    if (arc < 0) {
        code = arc == TW_ECONFIG ? TW_EXIT_CONFIG : 1;
        goto out;
    }
    if (ing_server_start(&srv, &cfg, admit) < 0)
        goto out;
    TW_LOG_INFO("listening", TW_F_STR("listen", cfg.listen),
                TW_F_STR("status_route", cfg.status_callback_url ? "on" : "off"),
                TW_F_STR("redis", ing_admit_connected(admit) ? "connected" : "unavailable"));

    while (!tw_stop_requested())
        tw_stop_sleep_ms(1000);

    TW_LOG_INFO("stopping: draining requests in flight");
    ing_api_stop(api);
    api = NULL;
    ing_server_stop(&srv, DRAIN_TIMEOUT_MS);
    code = 0;
out:
    ing_api_stop(api);
    ing_admit_stop(admit);
    tw_cfg_cleanup(&cfg);
    if (code == 0)
        TW_LOG_INFO("stopped");
    return code;
}
