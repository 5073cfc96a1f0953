/* SPDX-License-Identifier: MIT */
/* tw-admin: the state of one invocation and the helpers every command group shares. */
#ifndef ADM_ADMIN_H
#define ADM_ADMIN_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/redis.h"

/* Exit statuses, as scripts expect them. */
enum adm_exit {
    ADM_OK = 0,                  /* done */
    ADM_FAIL = 1,                /* runtime failure: Redis down, not found, refused, HTTP error */
    ADM_USAGE = 2,               /* bad command line */
    ADM_CONFIG = TW_EXIT_CONFIG, /* bad environment (the variable is named on stderr) */
};

struct adm {
    bool json; /* --json: one JSON document on stdout */
    bool cfg_loaded;
    struct tw_config cfg; /* valid when cfg_loaded */
    redisContext *rc;     /* owned; NULL until adm_redis() */
    char errstr[256];     /* the last Redis error, for messages */
};

/* A command or sub-command: argv[0] is its own name. Returns an enum adm_exit. */
typedef int (*adm_run_fn)(struct adm *a, int argc, char **argv);

struct adm_cmd {
    const char *name;
    adm_run_fn run;
    const char *summary;
};

/* The command groups (one file each). */
int adm_health(struct adm *a, int argc, char **argv);
int adm_queues(struct adm *a, int argc, char **argv);
int adm_message(struct adm *a, int argc, char **argv);
int adm_dead(struct adm *a, int argc, char **argv);
int adm_simulate(struct adm *a, int argc, char **argv);
int adm_key(struct adm *a, int argc, char **argv);

/* ---- main.c: configuration, connection, output */

/* Loads the environment once (TW_P_ADMIN rows). Returns TW_OK or TW_ECONFIG, already reported
 * on stderr with the variable's name. */
int adm_config(struct adm *a);
/* Loads the configuration and connects to Redis once. Returns TW_OK, TW_ECONFIG or TW_EREDIS
 * (reported on stderr). */
int adm_redis(struct adm *a);
/* Writes <prefix><suffix> into out. Needs the configuration loaded. */
void adm_keyname(const struct adm *a, char *out, size_t outsz, const char *suffix);
/* The exit status for a failed adm_config/adm_redis: ADM_CONFIG or ADM_FAIL. */
int adm_exit_of(int rc);
/* "tw-admin: <message>" on stderr. */
void adm_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints doc as one JSON document on stdout, then releases it (takes ownership). */
void adm_print_json(json_t *doc);

/* Parses the options of one command. longopts must include {"help"} -> 'h' and {"json"} ->
 * 'j'; those two are handled here. Each other option is passed to on_opt (return 0 to accept,
 * non-zero for a usage error). On return *first_arg indexes the first positional argument.
 * Returns -1 to continue, or the exit status to return now (help shown, or usage error). */
int adm_parse(struct adm *a, int argc, char **argv, const struct option *longopts,
              const char *usage, int (*on_opt)(int opt, const char *arg, void *ctx), void *ctx,
              int *first_arg);
/* Runs the sub-command argv[1] from table (n rows); prints usage when missing or unknown. */
int adm_dispatch(struct adm *a, int argc, char **argv, const struct adm_cmd *table, size_t n,
                 const char *usage);

/* ---- rdb.c: Redis replies as JSON (no redisReply leaves rdb.c) */

/* Runs one command. On TW_OK *out is a new reference: strings (invalid UTF-8 bytes replaced by
 * U+FFFD), integers, null, arrays. TW_EREDIS: Redis answered an error, its text in a->errstr.
 * TW_EIO: the connection failed (a->errstr says why). *out is NULL on error. */
int adm_call(struct adm *a, json_t **out, int argc, const char **argv,
             const size_t *lens) TW_MUSTCHECK;
/* The same with NUL-terminated arguments, ending in NULL. */
int adm_callv(struct adm *a, json_t **out, ...) __attribute__((sentinel)) TW_MUSTCHECK;
/* Runs a Lua script by SHA (EVAL on NOSCRIPT); same results as adm_call. */
int adm_eval(struct adm *a, json_t **out, const struct tw_rs_script *s, int nkeys, int argc,
             const char **argv, const size_t *lens) TW_MUSTCHECK;
/* A flat [k1, v1, k2, v2, ...] array as an object (new reference; NULL when not such an array). */
json_t *adm_pairs(const json_t *flat);
/* A string as JSON: the string, or U+FFFD for each byte that is not valid UTF-8. New reference. */
json_t *adm_json_string(const char *s, size_t n);

/* ---- http.c: one HTTP request with libcurl */

struct adm_http_resp {
    long status; /* 0 when no answer */
    char *body;  /* owned, malloc; NUL-terminated; at most 64 KiB kept */
    size_t len;
    char error[256];
};

/* Sends method url with the given headers (NULL-terminated array, may be NULL) and body (may be
 * NULL). Returns TW_OK when an HTTP answer came (any status), TW_EHTTP otherwise (reason in
 * resp->error). resp->body must be freed with free(). TLS is verified. */
int adm_http(const char *method, const char *url, const char *const *headers, const char *body,
             size_t body_len, long timeout_ms, struct adm_http_resp *resp) TW_MUSTCHECK;
/* Turns a listen address ("0.0.0.0:8080", "[::]:8080", "host:port") into a URL that reaches it
 * from this machine: http://<host or loopback>:<port><path>. Returns TW_OK or TW_EINVAL. */
int adm_listen_url(const char *listen, const char *path, char *out, size_t outsz) TW_MUSTCHECK;

#endif
