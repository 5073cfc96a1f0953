/* SPDX-License-Identifier: MIT */
/* The sender's metric names, spelled once. */
#ifndef SND_SMETRICS_H
#define SND_SMETRICS_H

#define SM_SENT "tw_sender_sent_total"
#define SM_RETRIED "tw_sender_retried_total"       /* {reason} */
#define SM_FAILED "tw_sender_failed_total"         /* {code} */
#define SM_AMBIGUOUS "tw_sender_ambiguous_total"   /* {why} */
#define SM_RECONCILED "tw_sender_reconciled_total" /* {result} */
#define SM_RECLAIMED "tw_sender_reclaimed_total"
#define SM_REQUEST "tw_sender_request_seconds" /* {op} */
#define SM_QUEUE_WAIT "tw_sender_queue_wait_seconds"
#define SM_LAG "tw_sender_queue_lag"
#define SM_PENDING "tw_sender_pending"
#define SM_INFLIGHT "tw_sender_requests_in_flight"
#define SM_TASKS "tw_sender_tasks"
#define SM_REDIS_ERRORS "tw_sender_redis_errors_total"

void snd_metrics_init(void);

#endif
