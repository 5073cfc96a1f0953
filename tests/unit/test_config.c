/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, every kind of bad value, and the variable named in the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/log.h"

#define AC "AC0123456789abcdef0123456789abcdef"
#define MG "MGfedcba9876543210fedcba9876543210"

struct env {
    const char *pairs[40][2];
};

static const char *getter(const char *name, void *ctx)
{
    struct env *e = ctx;
    for (int i = 0; i < 40 && e->pairs[i][0]; i++)
        if (strcmp(e->pairs[i][0], name) == 0)
            return e->pairs[i][1];
    return NULL;
}

static void set(struct env *e, const char *k, const char *v)
{
    int i = 0;
    while (i < 39 && e->pairs[i][0] && strcmp(e->pairs[i][0], k) != 0)
        i++;
    e->pairs[i][0] = k;
    e->pairs[i][1] = v;
}

static struct env base(void)
{
    struct env e = {0};
    set(&e, "TWILIO_ACCOUNT_SID", AC);
    set(&e, "TWILIO_AUTH_TOKEN", "secret");
    set(&e, "TWILIO_WEBHOOK_URL", "https://example.com/channels/twilio/webhook?x=1#rc=2&rp=all");
    set(&e, "TWILIO_PHONE_NUMBER", "+15557007007");
    return e;
}

static void test_defaults(void **state)
{
    (void)state;
    struct env e = base();
    struct tw_config cfg;
    assert_int_equal(tw_cfg_load(&cfg, TW_P_INGRESS, getter, &e), TW_OK);
    assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(cfg.listen, "0.0.0.0:8080");
    assert_string_equal(cfg.redis_prefix, "tw:");
    assert_int_equal(cfg.body_limit, 1048576);
    assert_int_equal(cfg.dedup_ttl, 86400);
    assert_null(cfg.status_callback_url);
    assert_int_equal(cfg.log_level, TW_LOG_INFO_L);
    tw_cfg_cleanup(&cfg);
}

static void test_worker_defaults(void **state)
{
    (void)state;
    struct env e = base();
    set(&e, "TW_AGENT", "echo");
    struct tw_config cfg;
    assert_int_equal(tw_cfg_load(&cfg, TW_P_WORKER, getter, &e), TW_OK);
    assert_int_equal(cfg.max_attempts, 10);
    assert_int_equal(cfg.max_age_ms, 3600000);
    tw_cfg_cleanup(&cfg);
}

struct bad_case {
    const char *var;
    const char *value; /* NULL: unset */
    unsigned program;
    const char *named; /* the variable the error must name */
};

static const struct bad_case bad_cases[] = {
    {"TWILIO_ACCOUNT_SID", NULL, TW_P_INGRESS, "TWILIO_ACCOUNT_SID"},
    {"TWILIO_ACCOUNT_SID", "AC123", TW_P_INGRESS, "TWILIO_ACCOUNT_SID"},
    {"TWILIO_ACCOUNT_SID", " " AC, TW_P_INGRESS, "TWILIO_ACCOUNT_SID"},
    {"TWILIO_AUTH_TOKEN", NULL, TW_P_INGRESS, "TWILIO_AUTH_TOKEN"},
    {"TWILIO_AUTH_TOKEN", "secret\n", TW_P_INGRESS, "TWILIO_AUTH_TOKEN"},
    {"TWILIO_AUTH_TOKEN", "", TW_P_INGRESS, "TWILIO_AUTH_TOKEN"},
    {"TWILIO_WEBHOOK_URL", NULL, TW_P_INGRESS, "TWILIO_WEBHOOK_URL"},
    {"TWILIO_WEBHOOK_URL", "example.com/hook", TW_P_INGRESS, "TWILIO_WEBHOOK_URL"},
    {"TWILIO_WEBHOOK_URL", "ftp://example.com/hook", TW_P_INGRESS, "TWILIO_WEBHOOK_URL"},
    {"TWILIO_WEBHOOK_URL", "https://user:pw@example.com/hook", TW_P_INGRESS,
     "TWILIO_WEBHOOK_URL"},
    {"TWILIO_WEBHOOK_URL", "https:///hook", TW_P_INGRESS, "TWILIO_WEBHOOK_URL"},
    {"TWILIO_WEBHOOK_URL", "https://example.com:99999/", TW_P_INGRESS, "TWILIO_WEBHOOK_URL"},
    {"TWILIO_STATUS_CALLBACK_URL", "https://exa mple.com/", TW_P_INGRESS,
     "TWILIO_STATUS_CALLBACK_URL"},
    {"TWILIO_PHONE_NUMBER", NULL, TW_P_INGRESS, "TWILIO_PHONE_NUMBER"},
    {"TWILIO_MESSAGING_SERVICE_SID", MG, TW_P_INGRESS, "TWILIO_PHONE_NUMBER"},
    {"TWILIO_MESSAGING_SERVICE_SID", "MGxyz", TW_P_INGRESS, "TWILIO_MESSAGING_SERVICE_SID"},
    {"TW_LISTEN", "8080", TW_P_INGRESS, "TW_LISTEN"},
    {"TW_LISTEN", "0.0.0.0:http", TW_P_INGRESS, "TW_LISTEN"},
    {"TW_BODY_LIMIT", "12k", TW_P_INGRESS, "TW_BODY_LIMIT"},
    {"TW_BODY_LIMIT", "0", TW_P_INGRESS, "TW_BODY_LIMIT"},
    {"TW_DEDUP_TTL", "-5", TW_P_INGRESS, "TW_DEDUP_TTL"},
    {"LOG_LEVEL", "verbose", TW_P_INGRESS, "LOG_LEVEL"},
    {"REDIS_URL", "http://localhost", TW_P_INGRESS, "REDIS_URL"},
    {"REDIS_URL", "redis://localhost:port", TW_P_INGRESS, "REDIS_URL"},
    {"REDIS_URL", "redis://localhost/zero", TW_P_INGRESS, "REDIS_URL"},
    {"REDIS_URL", "redis://", TW_P_INGRESS, "REDIS_URL"},
    {"TW_MAX_AGE", "1 hour", TW_P_WORKER, "TW_MAX_AGE"},
    {"TW_MAX_ATTEMPTS", "0", TW_P_WORKER, "TW_MAX_ATTEMPTS"},
    {"TW_AGENT_URL", NULL, TW_P_WORKER, "TW_AGENT_URL"},
    {"TW_SEND_MPS", "fast", TW_P_SENDER, "TW_SEND_MPS"},
    {"TW_SEND_MODE", "twice", TW_P_SENDER, "TW_SEND_MODE"},
    {"TWILIO_API_KEY_SID", "SK123", TW_P_SENDER, "TWILIO_API_KEY_SECRET"},
};

static void test_bad_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct env e = base();
        set(&e, c->var, c->value);
        struct tw_config cfg;
        int rc = tw_cfg_load(&cfg, c->program, getter, &e);
        if (rc != TW_ECONFIG)
            fail_msg("case %zu (%s=%s) loaded", i, c->var, c->value ? c->value : "(unset)");
        const char *err = tw_cfg_last_error();
        if (strncmp(err, c->named, strlen(c->named)) != 0)
            fail_msg("case %zu: error \"%s\" does not name %s", i, err, c->named);
    }
}

static void test_good_values(void **state)
{
    (void)state;
    struct env e = base();
    set(&e, "TWILIO_PHONE_NUMBER", NULL);
    set(&e, "TWILIO_MESSAGING_SERVICE_SID", MG);
    set(&e, "TW_MAX_AGE", "90s");
    set(&e, "TW_AGENT", "echo");
    set(&e, "TW_LISTEN", "[::1]:9000");
    set(&e, "REDIS_URL", "redis://:p%40ss@redis:6380/2");
    struct tw_config cfg;
    assert_int_equal(tw_cfg_load(&cfg, TW_P_INGRESS | TW_P_WORKER, getter, &e), TW_OK);
    assert_string_equal(cfg.messaging_service_sid, MG);
    assert_null(cfg.phone_number);
    assert_int_equal(cfg.max_age_ms, 90000);
    tw_cfg_cleanup(&cfg);
}

/* tw-admin alone (queues, keys) needs no account or destination; both destinations stay wrong. */
static void test_admin_minimal(void **state)
{
    (void)state;
    struct env e = {0};
    set(&e, "TW_METRICS_LISTEN", "0.0.0.0:9090");
    struct tw_config cfg;
    assert_int_equal(tw_cfg_load(&cfg, TW_P_ADMIN, getter, &e), TW_OK);
    assert_null(cfg.account_sid);
    assert_string_equal(cfg.metrics_listen, "0.0.0.0:9090");
    assert_string_equal(cfg.redis_prefix, "tw:");
    tw_cfg_cleanup(&cfg);
    set(&e, "TWILIO_PHONE_NUMBER", "+15557007007");
    set(&e, "TWILIO_MESSAGING_SERVICE_SID", MG);
    assert_int_equal(tw_cfg_load(&cfg, TW_P_ADMIN, getter, &e), TW_ECONFIG);
    assert_int_equal(tw_cfg_load(&cfg, TW_P_ADMIN | TW_P_INGRESS, getter, &e), TW_ECONFIG);
    set(&e, "TWILIO_PHONE_NUMBER", NULL);
    set(&e, "TWILIO_MESSAGING_SERVICE_SID", NULL);
    assert_int_equal(tw_cfg_load(&cfg, TW_P_ADMIN | TW_P_WORKER, getter, &e), TW_ECONFIG);
}

int main(void)
{
    tw_log_init("test", TW_LOG_ERROR_L + 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_worker_defaults),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_admin_minimal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
