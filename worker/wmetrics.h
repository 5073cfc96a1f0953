/* SPDX-License-Identifier: MIT */
/* The worker's Prometheus metric names, spelled once, and their help texts. */
#ifndef WRK_WMETRICS_H
#define WRK_WMETRICS_H

#define WM_DISPATCHED "tw_worker_dispatched_total"         /* {agent} */
#define WM_SKIPPED "tw_worker_skipped_total"               /* {type}: control input */
#define WM_RETRIED "tw_worker_retried_total"               /* {stream} */
#define WM_DEAD "tw_worker_dead_lettered_total"            /* {stream} */
#define WM_RECLAIMED "tw_worker_reclaimed_total"           /* {stream} */
#define WM_CLAIMS_LOST "tw_worker_claims_lost_total"       /* {stream} */
#define WM_DUPLICATES "tw_worker_already_done_total"       /* MessageSid already dispatched */
#define WM_PENDING "tw_worker_pending"                     /* {stream}: group's pending entries */
#define WM_LAG "tw_worker_lag"                             /* {stream}: entries not yet read */
#define WM_IN_FLIGHT "tw_worker_in_flight"                 /* dispatches and hooks in flight */
#define WM_DISPATCH_SECONDS "tw_worker_dispatch_seconds"   /* {agent}: one agent call */
#define WM_ADMISSION_SECONDS "tw_worker_admission_seconds" /* received_at -> admitted */
#define WM_STATUS_EVENTS "tw_worker_status_events_total"   /* {result} */
#define WM_HOOKS "tw_worker_status_hooks_total"            /* {result} */
#define WM_REDIS_ERRORS "tw_worker_redis_errors_total"
#define WM_GROUP_CREATED "tw_worker_group_created_total" /* {stream} */

/* Registers the help texts (once, at start). */
void wrk_metrics_register(void);

#endif
