/* SPDX-License-Identifier: MIT */
/* The one place that reads the environment: a table of rows, each checked the same way. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redis.h"

enum row_type {
    T_STR,      /* any non-empty string without surrounding white space */
    T_URL,      /* absolute http(s) URL */
    T_LISTEN,   /* host:port */
    T_LONG,     /* integer in [min, max] */
    T_DOUBLE,   /* number in [min, max] */
    T_DURATION, /* integer with optional unit ms, s, m, h; stored in ms */
    T_BOOL,     /* true/false/1/0/yes/no */
    T_LEVEL,    /* debug, info, warn, error */
    T_SENDMODE, /* at-most-once, at-least-once */
    T_SID_AC,   /* AC + 32 hex */
    T_SID_MG,   /* MG + 32 hex */
    T_AGENT,    /* a name: letters, digits, '-', '_' */
};

#define SERVERS (TW_P_INGRESS | TW_P_WORKER | TW_P_SENDER)
#define ALL (SERVERS | TW_P_ADMIN)

struct row {
    const char *name;
    enum row_type type;
    size_t offset;
    const char *def;   /* NULL: no default */
    double min, max;   /* numeric bounds */
    unsigned programs; /* read by these */
    unsigned required; /* required by these */
    bool secret;
};

#define OFF(f) offsetof(struct tw_config, f)

static const struct row rows[] = {
    /* tw-admin reads it when present; only its commands that talk to Twilio's side need it. */
    {"TWILIO_ACCOUNT_SID", T_SID_AC, OFF(account_sid), NULL, 0, 0, ALL, SERVERS, false},
    {"TWILIO_AUTH_TOKEN", T_STR, OFF(auth_token), NULL, 0, 0, ALL,
     TW_P_INGRESS | TW_P_SENDER | TW_P_WORKER, true},
    {"TWILIO_AUTH_TOKEN_SECONDARY", T_STR, OFF(auth_token_secondary), NULL, 0, 0,
     TW_P_INGRESS | TW_P_ADMIN, 0, true},
    {"TWILIO_WEBHOOK_URL", T_URL, OFF(webhook_url), NULL, 0, 0, TW_P_INGRESS | TW_P_ADMIN,
     TW_P_INGRESS, false},
    {"TWILIO_PHONE_NUMBER", T_STR, OFF(phone_number), NULL, 0, 0, ALL, 0, false},
    {"TWILIO_MESSAGING_SERVICE_SID", T_SID_MG, OFF(messaging_service_sid), NULL, 0, 0, ALL, 0,
     false},
    {"TWILIO_STATUS_CALLBACK_URL", T_URL, OFF(status_callback_url), NULL, 0, 0, ALL, 0, false},
    {"TWILIO_API_BASE", T_URL, OFF(api_base), "https://api.twilio.com", 0, 0,
     TW_P_SENDER | TW_P_ADMIN, 0, false},
    {"TWILIO_API_KEY_SID", T_STR, OFF(api_key_sid), NULL, 0, 0, TW_P_SENDER, 0, false},
    {"TWILIO_API_KEY_SECRET", T_STR, OFF(api_key_secret), NULL, 0, 0, TW_P_SENDER, 0, true},
    {"REDIS_URL", T_STR, OFF(redis_url), "redis://127.0.0.1:6379/0", 0, 0, ALL, 0, true},
    {"TW_REDIS_PREFIX", T_STR, OFF(redis_prefix), "tw:", 0, 0, ALL, 0, false},
    {"TW_LISTEN", T_LISTEN, OFF(listen), "0.0.0.0:8080", 0, 0, TW_P_INGRESS | TW_P_ADMIN, 0,
     false},
    {"TW_API_LISTEN", T_LISTEN, OFF(api_listen), "127.0.0.1:8081", 0, 0,
     TW_P_INGRESS | TW_P_ADMIN, 0, false},
    {"TW_API_TOKEN", T_STR, OFF(api_token), NULL, 0, 0, TW_P_INGRESS | TW_P_ADMIN, 0, true},
    {"TW_BODY_LIMIT", T_LONG, OFF(body_limit), "1048576", 1024, 64 * 1048576.0, TW_P_INGRESS, 0,
     false},
    {"TW_DEDUP_TTL", T_LONG, OFF(dedup_ttl), "86400", 1, 365 * 86400.0, TW_P_INGRESS | TW_P_ADMIN,
     0, false},
    {"TW_WORKER_ID", T_STR, OFF(worker_id), NULL, 0, 0, TW_P_WORKER | TW_P_SENDER, 0, false},
    {"TW_WORKER_CONCURRENCY", T_LONG, OFF(worker_concurrency), "16", 1, 1024, TW_P_WORKER, 0,
     false},
    {"TW_AGENT", T_AGENT, OFF(agent), "http", 0, 0, TW_P_WORKER, 0, false},
    {"TW_AGENT_URL", T_URL, OFF(agent_url), NULL, 0, 0, TW_P_WORKER, 0, false},
    {"TW_AGENT_TOKEN", T_STR, OFF(agent_token), NULL, 0, 0, TW_P_WORKER, 0, true},
    {"TW_CLAIM_IDLE_MS", T_LONG, OFF(claim_idle_ms), "30000", 100, 86400000.0,
     TW_P_WORKER | TW_P_SENDER | TW_P_ADMIN, 0, false},
    {"TW_MAX_ATTEMPTS", T_LONG, OFF(max_attempts), "10", 1, 1000, TW_P_WORKER | TW_P_SENDER, 0,
     false},
    {"TW_MAX_AGE", T_DURATION, OFF(max_age_ms), "1h", 1, 30 * 86400000.0,
     TW_P_WORKER | TW_P_SENDER, 0, false},
    {"TW_STATUS_HOOK_URL", T_URL, OFF(status_hook_url), NULL, 0, 0, TW_P_WORKER, 0, false},
    {"TW_HELP_TO_AGENT", T_BOOL, OFF(help_to_agent), "false", 0, 0, TW_P_WORKER, 0, false},
    {"TW_SEND_MPS", T_DOUBLE, OFF(send_mps), "1", 0, 10000, TW_P_SENDER, 0, false},
    {"TW_SEND_CONCURRENCY", T_LONG, OFF(send_concurrency), "8", 1, 256, TW_P_SENDER, 0, false},
    {"TW_SEND_TIMEOUT", T_DURATION, OFF(send_timeout_ms), "15s", 500, 120000, TW_P_SENDER, 0,
     false},
    {"TW_SEND_MODE", T_SENDMODE, OFF(send_mode), "at-most-once", 0, 0, TW_P_SENDER, 0, false},
    {"TW_METRICS_LISTEN", T_LISTEN, OFF(metrics_listen), NULL, 0, 0,
     TW_P_WORKER | TW_P_SENDER | TW_P_ADMIN, 0, false},
    {"LOG_LEVEL", T_LEVEL, OFF(log_level), "info", 0, 0, ALL, 0, false},
};

static char last_error[256];

const char *tw_cfg_last_error(void)
{
    return last_error;
}

static const char *env_getter(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static bool is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    return true;
}

bool tw_cfg_url_ok(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    size_t auth = strcspn(rest, "/?#");
    if (auth == 0)
        return false;
    if (memchr(rest, '@', auth))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    /* host must be non-empty before an optional :port */
    const char *colon = NULL;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', auth);
        if (!close || close == rest + 1)
            return false;
        if (close + 1 < rest + auth) {
            if (close[1] != ':')
                return false;
            colon = close + 1;
        }
    } else {
        colon = memchr(rest, ':', auth);
        if (colon == rest)
            return false;
    }
    if (colon) {
        const char *p = colon + 1;
        if (p == rest + auth)
            return false;
        long port = 0;
        for (; p < rest + auth; p++) {
            if (!isdigit((unsigned char)*p))
                return false;
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return false;
        }
        if (port == 0)
            return false;
    }
    return true;
}

int tw_cfg_split_listen(const char *s, char *host, size_t hostsz, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return TW_EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return TW_EINVAL;
        h++;
        hl -= 2;
    }
    if (hl + 1 > hostsz)
        return TW_EINVAL;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return TW_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return TW_OK;
}

static bool parse_duration(const char *s, double *ms)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return false;
    *ms = (double)v * mult;
    return true;
}

/* Checks and stores one value. Returns NULL on success, or the reason. */
static const char *store(struct tw_config *cfg, const struct row *r, const char *v)
{
    char *base = (char *)cfg;
    size_t n = strlen(v);
    if (n == 0)
        return "is empty";
    if (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]))
        return "has leading or trailing white space";
    switch (r->type) {
    case T_URL:
        if (!tw_cfg_url_ok(v))
            return "must be an absolute http(s) URL with a host and no user:password";
        break;
    case T_LISTEN: {
        char host[256];
        int port;
        if (tw_cfg_split_listen(v, host, sizeof host, &port) < 0)
            return "must be host:port";
        break;
    }
    case T_SID_AC:
        if (strncmp(v, "AC", 2) != 0 || !is_hex32(v + 2))
            return "must be AC followed by 32 hex digits";
        break;
    case T_SID_MG:
        if (strncmp(v, "MG", 2) != 0 || !is_hex32(v + 2))
            return "must be MG followed by 32 hex digits";
        break;
    case T_AGENT:
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                return "must be an agent name";
        break;
    case T_LONG: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || *end)
            return "must be an integer";
        if (x < r->min || x > r->max)
            return "is out of range";
        *(long *)(base + r->offset) = (long)x;
        return NULL;
    }
    case T_DURATION: {
        double ms;
        if (!parse_duration(v, &ms))
            return "must be a duration such as 3600, 90s, 15m or 1h";
        if (ms < r->min || ms > r->max)
            return "is out of range";
        *(long *)(base + r->offset) = (long)ms;
        return NULL;
    }
    case T_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (errno || *end || x != x)
            return "must be a number";
        if (x < r->min || x > r->max)
            return "is out of range";
        *(double *)(base + r->offset) = x;
        return NULL;
    }
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
            *(bool *)(base + r->offset) = true;
        else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
            *(bool *)(base + r->offset) = false;
        else
            return "must be true or false";
        return NULL;
    case T_LEVEL: {
        int lvl = tw_log_level_parse(v);
        if (lvl < 0)
            return "must be debug, info, warn or error";
        *(int *)(base + r->offset) = lvl;
        return NULL;
    }
    case T_SENDMODE:
        if (!strcmp(v, "at-most-once"))
            *(enum tw_send_mode *)(base + r->offset) = TW_SEND_AT_MOST_ONCE;
        else if (!strcmp(v, "at-least-once"))
            *(enum tw_send_mode *)(base + r->offset) = TW_SEND_AT_LEAST_ONCE;
        else
            return "must be at-most-once or at-least-once";
        return NULL;
    case T_STR:
        break;
    }
    char *copy = strdup(v);
    if (!copy)
        return "out of memory";
    *(char **)(base + r->offset) = copy;
    return NULL;
}

static void report(const char *name, const char *why)
{
    snprintf(last_error, sizeof last_error, "%s %s", name, why);
    fprintf(stderr, "config: %s %s\n", name, why);
    TW_LOG_ERROR("bad configuration", TW_F_STR("variable", name), TW_F_STR("reason", why));
}

int tw_cfg_load(struct tw_config *cfg, unsigned programs, tw_cfg_getter_fn get, void *ctx)
{
    memset(cfg, 0, sizeof *cfg);
    last_error[0] = '\0';
    if (!get)
        get = env_getter;
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        if (!(r->programs & programs))
            continue;
        const char *v = get(r->name, ctx);
        if (!v || !*v) {
            if (v && !*v && (r->required & programs)) {
                report(r->name, "is empty");
                bad++;
                continue;
            }
            if (r->required & programs) {
                report(r->name, "is required");
                bad++;
                continue;
            }
            if (!r->def)
                continue;
            v = r->def;
        }
        const char *why = store(cfg, r, v);
        if (why) {
            report(r->name, why);
            bad++;
        }
    }
    if (!bad) {
        bool phone = cfg->phone_number != NULL, svc = cfg->messaging_service_sid != NULL;
        /* Both set is always wrong; neither is fine for tw-admin alone (queues, keys). */
        if (phone == svc && (phone || (programs & SERVERS))) {
            report("TWILIO_PHONE_NUMBER", phone ? "and TWILIO_MESSAGING_SERVICE_SID are both set; "
                                                  "set exactly one"
                                                : "or TWILIO_MESSAGING_SERVICE_SID is required");
            bad++;
        }
    }
    if (!bad && (programs & TW_P_WORKER) && !strcmp(cfg->agent, "http") && !cfg->agent_url) {
        report("TW_AGENT_URL", "is required when TW_AGENT=http");
        bad++;
    }
    if (!bad && (programs & TW_P_SENDER) && (!cfg->api_key_sid != !cfg->api_key_secret)) {
        report("TWILIO_API_KEY_SECRET", "and TWILIO_API_KEY_SID must be set together");
        bad++;
    }
    struct tw_redis_url redis_url;
    if (!bad && tw_rs_url_parse(cfg->redis_url, &redis_url) < 0) {
        report("REDIS_URL", "must be redis://[[user]:password@]host[:port][/db] or "
                            "unix:///path[?db=N]");
        bad++;
    }
    if (bad) {
        tw_cfg_cleanup(cfg);
        return TW_ECONFIG;
    }
    return TW_OK;
}

void tw_cfg_cleanup(struct tw_config *cfg)
{
    char *base = (char *)cfg;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        if (r->type == T_STR || r->type == T_URL || r->type == T_LISTEN || r->type == T_SID_AC ||
            r->type == T_SID_MG || r->type == T_AGENT) {
            char **p = (char **)(base + r->offset);
            free(*p);
            *p = NULL;
        }
    }
}

void tw_cfg_log(const struct tw_config *cfg, unsigned programs)
{
    const char *base = (const char *)cfg;
    enum { NROWS = sizeof rows / sizeof rows[0] };
    struct tw_log_field fields[NROWS];
    char nums[NROWS][32];
    int n = 0;
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        if (!(r->programs & programs))
            continue;
        const char *shown = NULL;
        switch (r->type) {
        case T_LONG:
        case T_DURATION:
            snprintf(nums[i], sizeof nums[i], "%ld", *(const long *)(base + r->offset));
            shown = nums[i];
            break;
        case T_DOUBLE:
            snprintf(nums[i], sizeof nums[i], "%g", *(const double *)(base + r->offset));
            shown = nums[i];
            break;
        case T_BOOL:
            shown = *(const bool *)(base + r->offset) ? "true" : "false";
            break;
        case T_LEVEL:
            shown = (const char *[]){"debug", "info", "warn",
                                     "error"}[*(const int *)(base + r->offset)];
            break;
        case T_SENDMODE:
            shown = *(const enum tw_send_mode *)(base + r->offset) == TW_SEND_AT_LEAST_ONCE
                        ? "at-least-once"
                        : "at-most-once";
            break;
        default:
            shown = *(char *const *)(base + r->offset);
            if (shown && r->secret)
                shown = "***";
        }
        fields[n++] = TW_F_STR(r->name, shown);
    }
    if (tw_log_enabled(TW_LOG_INFO_L))
        tw_log_emit(TW_LOG_INFO_L, "configuration", fields, n);
}
