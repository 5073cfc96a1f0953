/* SPDX-License-Identifier: MIT */
/* Prometheus metrics: counters, gauges and histograms by name and label set, and a small
 * listener that serves them (for the worker and the sender; the ingress serves its own). */
#ifndef TW_METRICS_H
#define TW_METRICS_H

#include <stddef.h>

#include "common/err.h"

/* All functions are thread-safe. name and help are borrowed string literals; labels is the
 * text between braces, e.g. "route=\"webhook\",status=\"200\"" (copied), or "" for none. */
void tw_metrics_help(const char *name, const char *type, const char *help);
void tw_metrics_inc(const char *name, const char *labels, double n);
void tw_metrics_set(const char *name, const char *labels, double value);
/* Observes value (seconds) into the histogram name with the default latency buckets. */
void tw_metrics_observe(const char *name, const char *labels, double value);

/* Renders every metric as Prometheus text. new: caller frees with free(). */
char *tw_metrics_render(void);

/* Serves GET /metrics and GET /healthz on listen ("host:port") from a background thread.
 * Returns TW_OK or TW_EIO. tw_metrics_stop() stops it. */
int tw_metrics_serve(const char *listen) TW_MUSTCHECK;
void tw_metrics_stop(void);

#endif
