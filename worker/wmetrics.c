/* SPDX-License-Identifier: MIT */
/* Help texts for the worker's metrics. */
#include "worker/wmetrics.h"

#include "common/metrics.h"

void wrk_metrics_register(void)
{
    tw_metrics_help(WM_DISPATCHED, "counter", "Messages admitted by the agent.");
    tw_metrics_help(WM_SKIPPED, "counter", "Control messages (STOP, START, HELP) not dispatched.");
    tw_metrics_help(WM_RETRIED, "counter", "Attempts that failed and will be retried.");
    tw_metrics_help(WM_DEAD, "counter", "Entries moved to a dead-letter stream.");
    tw_metrics_help(WM_RECLAIMED, "counter", "Entries reclaimed from idle consumers (XAUTOCLAIM).");
    tw_metrics_help(WM_CLAIMS_LOST, "counter", "Entries this worker held that another took over.");
    tw_metrics_help(
        WM_DUPLICATES, "counter",
        "Entries whose MessageSid already had an outcome: acknowledged, not dispatched.");
    tw_metrics_help(WM_PENDING, "gauge", "Entries delivered to the group and not acknowledged.");
    tw_metrics_help(WM_LAG, "gauge", "Entries not yet delivered to the group.");
    tw_metrics_help(WM_IN_FLIGHT, "gauge", "Agent dispatches and status hooks in flight.");
    tw_metrics_help(WM_DISPATCH_SECONDS, "histogram", "Duration of one agent call.");
    tw_metrics_help(WM_ADMISSION_SECONDS, "histogram",
                    "From the ingress accepting a message to the agent admitting it.");
    tw_metrics_help(WM_STATUS_EVENTS, "counter", "Status callbacks applied, by result.");
    tw_metrics_help(WM_HOOKS, "counter", "Status hook deliveries, by result.");
    tw_metrics_help(WM_REDIS_ERRORS, "counter", "Redis connection failures.");
    tw_metrics_help(WM_GROUP_CREATED, "counter", "Consumer groups created or recreated.");
}
