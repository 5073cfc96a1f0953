/* SPDX-License-Identifier: MIT */
/* Configuration from environment variables, read and validated once at start. */
#ifndef TW_CONFIG_H
#define TW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Which program is loading: rows needed by none of these bits are skipped. */
enum tw_program {
    TW_P_INGRESS = 1 << 0,
    TW_P_WORKER = 1 << 1,
    TW_P_SENDER = 1 << 2,
    TW_P_ADMIN = 1 << 3,
};

enum tw_send_mode { TW_SEND_AT_MOST_ONCE = 0, TW_SEND_AT_LEAST_ONCE };

struct tw_config {
    /* Twilio account and destination. All strings owned, malloc; NULL when unset. */
    char *account_sid;
    char *auth_token;
    char *auth_token_secondary;
    char *webhook_url;
    char *phone_number;          /* exactly one of phone_number, */
    char *messaging_service_sid; /* messaging_service_sid */
    char *status_callback_url;
    char *api_base;
    char *api_key_sid;
    char *api_key_secret;
    /* Redis. */
    char *redis_url;
    char *redis_prefix;
    /* Ingress. */
    char *listen;
    char *api_listen;
    char *api_token;
    long body_limit;
    long dedup_ttl; /* seconds */
    /* Worker and sender. */
    char *worker_id;
    long worker_concurrency;
    char *agent;
    char *agent_url;
    char *agent_token;
    long claim_idle_ms;
    long max_attempts;
    long max_age_ms;
    char *status_hook_url;
    bool help_to_agent; /* TW_HELP_TO_AGENT: dispatch HELP instead of skipping it */
    double send_mps;    /* 0 turns pacing off */
    long send_concurrency;
    enum tw_send_mode send_mode;
    long send_timeout_ms; /* TW_SEND_TIMEOUT: total time of one request to Twilio */
    char *metrics_listen;
    int log_level;
};

/* Returns the value of an environment-like variable, or NULL (borrowed). */
typedef const char *(*tw_cfg_getter_fn)(const char *name, void *ctx);

/* Reads every row the program needs through get (getenv when NULL), checks it, and logs one
 * line per bad variable with its name and reason (also to stderr). Returns TW_OK or
 * TW_ECONFIG (main then exits 78) or TW_ENOMEM. On failure cfg is cleaned up. */
int tw_cfg_load(struct tw_config *cfg, unsigned programs, tw_cfg_getter_fn get, void *ctx)
    TW_MUSTCHECK;
void tw_cfg_cleanup(struct tw_config *cfg);
/* Logs the configuration once, secrets as "***". */
void tw_cfg_log(const struct tw_config *cfg, unsigned programs);
/* Writes the first problem found by the last failing tw_cfg_load (for tests); borrowed. */
const char *tw_cfg_last_error(void);

/* Checks that s is an absolute http(s) URL with a host and no user:password. */
bool tw_cfg_url_ok(const char *s);
/* Splits "host:port" (IPv6 as "[::1]:port"); host is copied into out. */
int tw_cfg_split_listen(const char *s, char *host, size_t hostsz, int *port) TW_MUSTCHECK;

#define TW_EXIT_CONFIG 78

#endif
