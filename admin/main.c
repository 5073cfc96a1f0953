/* SPDX-License-Identifier: MIT */
/* tw-admin: inspect and repair the queues, messages and keys of twilio-channel. */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/log.h"

static const char usage[] =
    "usage: tw-admin [--json] <command> [options]\n"
    "\n"
    "Reads the same environment as the programs (REDIS_URL, TW_REDIS_PREFIX, TWILIO_*, ...).\n"
    "Output is for people by default; --json prints one JSON document instead.\n"
    "Exit status: 0 done, 1 failed or not found, 2 bad command line, 78 bad configuration.\n"
    "\n"
    "commands:\n";

static const struct adm_cmd commands[] = {
    {"queues", adm_queues,
     "length, pending, lag and dead letters of every stream, group, consumer"},
    {"message", adm_message, "status, history, outcome and conversation of one MessageSid"},
    {"dead", adm_dead, "list, show, replay or drop dead letters"},
    {"simulate", adm_simulate, "post a correctly signed webhook to the ingress"},
    {"key", adm_key, "encode or decode conversation keys"},
    {"health", adm_health, "GET /healthz of a program (container health checks)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

void adm_errf(const char *fmt, ...)
{
    va_list ap;
    fputs("tw-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void adm_print_json(json_t *doc)
{
    if (!doc) {
        adm_errf("out of memory");
        return;
    }
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    } else {
        adm_errf("out of memory");
    }
    json_decref(doc);
}

int adm_config(struct adm *a)
{
    if (a->cfg_loaded)
        return TW_OK;
    /* tw_cfg_load names each bad variable on stderr; its JSON log line is not wanted here. */
    int rc = tw_cfg_load(&a->cfg, TW_P_ADMIN, NULL, NULL);
    if (rc < 0)
        return rc;
    a->cfg_loaded = true;
    return TW_OK;
}

int adm_redis(struct adm *a)
{
    if (a->rc)
        return TW_OK;
    int rc = adm_config(a);
    if (rc < 0)
        return rc;
    struct tw_redis_url u;
    if (tw_rs_url_parse(a->cfg.redis_url, &u) < 0) {
        fprintf(stderr, "config: REDIS_URL is not a valid Redis URL\n");
        return TW_ECONFIG;
    }
    a->rc = tw_rs_connect(&u, 5000, a->errstr, sizeof a->errstr);
    if (!a->rc) {
        adm_errf("redis: %s", a->errstr);
        return TW_EREDIS;
    }
    return TW_OK;
}

int adm_exit_of(int rc)
{
    return rc == TW_ECONFIG ? ADM_CONFIG : ADM_FAIL;
}

void adm_keyname(const struct adm *a, char *out, size_t outsz, const char *suffix)
{
    tw_rs_key(out, outsz, a->cfg.redis_prefix, suffix);
}

int adm_parse(struct adm *a, int argc, char **argv, const struct option *longopts,
              const char *cmd_usage, int (*on_opt)(int opt, const char *arg, void *ctx), void *ctx,
              int *first_arg)
{
    optind = 0; /* glibc: restart scanning for this argv */
    opterr = 0;
    for (;;) {
        int idx = 0;
        int opt = getopt_long(argc, argv, "", longopts, &idx);
        if (opt == -1)
            break;
        if (opt == 'h') {
            fputs(cmd_usage, stdout);
            return ADM_OK;
        }
        if (opt == 'j') {
            a->json = true;
            continue;
        }
        if (opt == '?' || opt == ':' || !on_opt || on_opt(opt, optarg, ctx) != 0) {
            if (opt == '?' || opt == ':')
                adm_errf("%s: bad or incomplete option %s", argv[0],
                         optind > 0 && optind <= argc ? argv[optind - 1] : "");
            fputs(cmd_usage, stderr);
            return ADM_USAGE;
        }
    }
    *first_arg = optind;
    return -1;
}

int adm_dispatch(struct adm *a, int argc, char **argv, const struct adm_cmd *table, size_t n,
                 const char *group_usage)
{
    int i = 1;
    /* Options before the sub-command: --json and --help. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--json")) {
            a->json = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(group_usage, stdout);
            for (size_t k = 0; k < n; k++)
                printf("  %-10s %s\n", table[k].name, table[k].summary);
            return ADM_OK;
        } else {
            adm_errf("%s: unknown option %s", argv[0], argv[i]);
            fputs(group_usage, stderr);
            return ADM_USAGE;
        }
    }
    if (i < argc && !strcmp(argv[i], "help")) {
        fputs(group_usage, stdout);
        for (size_t k = 0; k < n; k++)
            printf("  %-10s %s\n", table[k].name, table[k].summary);
        return ADM_OK;
    }
    if (i >= argc) {
        fputs(group_usage, stderr);
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, "  %-10s %s\n", table[k].name, table[k].summary);
        return ADM_USAGE;
    }
    for (size_t k = 0; k < n; k++)
        if (!strcmp(argv[i], table[k].name))
            return table[k].run(a, argc - i, argv + i);
    adm_errf("%s: unknown command %s (try --help)", argv[0], argv[i]);
    return ADM_USAGE;
}

int main(int argc, char **argv)
{
    struct adm a = {0};
    /* Log lines would mix with the output: config errors still go to stderr by name. */
    tw_log_init("admin", (enum tw_log_level)(TW_LOG_ERROR_L + 1));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        adm_errf("libcurl initialisation failed");
        return ADM_FAIL;
    }
    argv[0] = (char *)"tw-admin";
    int rc = adm_dispatch(&a, argc, argv, commands, NCOMMANDS, usage);
    if (a.rc)
        redisFree(a.rc);
    if (a.cfg_loaded)
        tw_cfg_cleanup(&a.cfg);
    curl_global_cleanup();
    return rc;
}
