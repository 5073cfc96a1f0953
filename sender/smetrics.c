/* SPDX-License-Identifier: MIT */
/* Help texts of the sender's metrics. */
#include "sender/smetrics.h"

#include "common/metrics.h"

void snd_metrics_init(void)
{
    tw_metrics_help(SM_SENT, "counter", "Messages Twilio accepted (created).");
    tw_metrics_help(SM_RETRIED, "counter", "Attempts Twilio did not process, retried later.");
    tw_metrics_help(SM_FAILED, "counter", "Jobs failed for good, by Twilio error code or reason.");
    tw_metrics_help(SM_AMBIGUOUS, "counter",
                    "Attempts whose end left it unknown whether Twilio "
                    "created the message.");
    tw_metrics_help(SM_RECONCILED, "counter",
                    "Reconciliations by result: found, absent (sent again), unknown.");
    tw_metrics_help(SM_RECLAIMED, "counter", "Entries reclaimed from idle consumers.");
    tw_metrics_help(SM_REQUEST, "histogram", "Latency of requests to Twilio.");
    tw_metrics_help(SM_QUEUE_WAIT, "histogram", "Time from enqueue to the create request.");
    tw_metrics_help(SM_LAG, "gauge", "Entries of the outbound stream not yet read by the group.");
    tw_metrics_help(SM_PENDING, "gauge", "Entries read by the group and not yet acknowledged.");
    tw_metrics_help(SM_INFLIGHT, "gauge", "Requests to Twilio in flight in this process.");
    tw_metrics_help(SM_TASKS, "gauge", "Jobs held in memory by this process.");
    tw_metrics_help(SM_REDIS_ERRORS, "counter", "Redis commands that failed.");
}
