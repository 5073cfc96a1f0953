/* SPDX-License-Identifier: MIT */
/* REDIS_URL parsing: every accepted shape and the ones refused, as one table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/redis.h"

struct url_case {
    const char *url;
    int rc;
    const char *host, *unix_path, *user, *password;
    int port, db;
};

static const struct url_case cases[] = {
    {"redis://127.0.0.1:6379/0", TW_OK, "127.0.0.1", "", "", "", 6379, 0},
    {"redis://localhost", TW_OK, "localhost", "", "", "", 6379, 0},
    {"redis://localhost/", TW_OK, "localhost", "", "", "", 6379, 0},
    {"redis://redis:6380", TW_OK, "redis", "", "", "", 6380, 0},
    {"redis://redis/15", TW_OK, "redis", "", "", "", 6379, 15},
    {"redis://:secret@redis:6380/2", TW_OK, "redis", "", "", "secret", 6380, 2},
    {"redis://secret@redis", TW_OK, "redis", "", "", "secret", 6379, 0},
    {"redis://app:secret@redis/1", TW_OK, "redis", "", "app", "secret", 6379, 1},
    {"redis://:p%40ss%3Aw%2Fd@redis", TW_OK, "redis", "", "", "p@ss:w/d", 6379, 0},
    {"redis://us%65r:p%25@redis", TW_OK, "redis", "", "user", "p%", 6379, 0},
    {"redis://:a:b@redis", TW_OK, "redis", "", "", "a:b", 6379, 0}, /* first ':' splits */
    {"redis://:p@ss@redis", TW_OK, "redis", "", "", "p@ss", 6379, 0}, /* last '@' ends it */
    {"redis://h:1", TW_OK, "h", "", "", "", 1, 0},
    {"redis://h:65535/100000", TW_OK, "h", "", "", "", 65535, 100000},
    {"unix:///run/redis.sock", TW_OK, "", "/run/redis.sock", "", "", 6379, 0},
    {"unix:///run/redis.sock?db=3", TW_OK, "", "/run/redis.sock", "", "", 6379, 3},
    /* refused */
    {"", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis:/h", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"http://h", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"rediss://h", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://:pw@", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://:6379", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:0", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:65536", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:+80", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h: 80", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:80x", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h:99999999999999999999", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/x", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/-1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/+1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/ 1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/1/2", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/100001", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://h/0?timeout=1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://:p%4@h", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://:p%zz@h", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"redis://:p%00x@h", TW_EINVAL, 0, 0, 0, 0, 0, 0}, /* would cut the password short */
    {"unix://", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix://?db=1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix:///s?db=", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix:///s?db=x", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix:///s?db=-1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix:///s?db=1x", TW_EINVAL, 0, 0, 0, 0, 0, 0},
    {"unix:///s?database=1", TW_EINVAL, 0, 0, 0, 0, 0, 0},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct url_case *c = &cases[i];
        struct tw_redis_url u;
        int rc = tw_rs_url_parse(c->url, &u);
        if (rc != c->rc)
            fail_msg("case %zu (%s): rc %d, want %d", i, c->url, rc, c->rc);
        if (rc < 0)
            continue;
        if (strcmp(u.host, c->host) || strcmp(u.unix_path, c->unix_path) ||
            strcmp(u.user, c->user) || strcmp(u.password, c->password) || u.port != c->port ||
            u.db != c->db)
            fail_msg("case %zu (%s): got host=%s unix=%s user=%s password=%s port=%d db=%d", i,
                     c->url, u.host, u.unix_path, u.user, u.password, u.port, u.db);
    }
}

/* Fields that do not fit their buffers are refused, never truncated. */
static void test_lengths(void **state)
{
    (void)state;
    struct tw_redis_url u;
    char url[1024], host[300];
    memset(host, 'h', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(url, sizeof url, "redis://%.*s", (int)sizeof u.host - 1, host);
    assert_int_equal(tw_rs_url_parse(url, &u), TW_OK);
    assert_int_equal(strlen(u.host), sizeof u.host - 1);
    snprintf(url, sizeof url, "redis://%.*s", (int)sizeof u.host, host);
    assert_int_equal(tw_rs_url_parse(url, &u), TW_EINVAL);
    snprintf(url, sizeof url, "redis://:%.*s@h", (int)sizeof u.password, host);
    assert_int_equal(tw_rs_url_parse(url, &u), TW_EINVAL);
    snprintf(url, sizeof url, "unix://%.*s", (int)sizeof u.unix_path, host);
    assert_int_equal(tw_rs_url_parse(url, &u), TW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
