/* SPDX-License-Identifier: MIT */
/* tw-sender: drains <prefix>outbound into Twilio's REST API, paced, in order per conversation,
 * and never sending a message twice unless TW_SEND_MODE=at-least-once says so. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/stop.h"
#include "sender/engine.h"
#include "sender/smetrics.h"

int main(void)
{
    struct tw_config cfg;
    struct snd_engine engine;
    int code = 1;
    bool metrics = false, engine_ok = false;

    tw_log_init("sender", TW_LOG_INFO_L);
    if (tw_cfg_load(&cfg, TW_P_SENDER, NULL, NULL) < 0)
        return TW_EXIT_CONFIG;
    tw_log_init("sender", (enum tw_log_level)cfg.log_level);
    tw_cfg_log(&cfg, TW_P_SENDER);
    tw_stop_install();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        TW_LOG_ERROR("curl_global_init failed");
        goto out_cfg;
    }
    snd_metrics_init();
    if (cfg.metrics_listen) {
        if (tw_metrics_serve(cfg.metrics_listen) < 0) {
            TW_LOG_ERROR("cannot listen for metrics", TW_F_STR("listen", cfg.metrics_listen));
            goto out;
        }
        metrics = true;
    }
    int rc = snd_engine_init(&engine, &cfg);
    if (rc < 0) {
        TW_LOG_ERROR("sender set-up failed", TW_F_STR("error", tw_strerror(rc)));
        code = rc == TW_ECONFIG ? TW_EXIT_CONFIG : 1;
        goto out;
    }
    engine_ok = true;
    TW_LOG_INFO(
        "sender started", TW_F_STR("consumer", engine.me),
        TW_F_STR("mode", cfg.send_mode == TW_SEND_AT_LEAST_ONCE ? "at-least-once" : "at-most-once"),
        TW_F_DBL("mps", cfg.send_mps), TW_F_INT("concurrency", cfg.send_concurrency));
    snd_engine_run(&engine);
    code = 0;
    TW_LOG_INFO("sender stopped");
out:
    if (engine_ok)
        snd_engine_cleanup(&engine);
    if (metrics)
        tw_metrics_stop();
    curl_global_cleanup();
out_cfg:
    tw_cfg_cleanup(&cfg);
    return code;
}
