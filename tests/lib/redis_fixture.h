/* SPDX-License-Identifier: MIT */
/* The C tests' way to the redis-server of the CTest fixture (tests/lib/redis-fixture.sh), whose
 * port is in the file named by TW_TEST_REDIS_PORT_FILE. Header-only: each test is one binary. */
#ifndef TW_TEST_REDIS_FIXTURE_H
#define TW_TEST_REDIS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "common/redis.h"

/* A new connection to the fixture's Redis (caller frees with redisFree), or NULL with a line on
 * stderr saying why. */
static inline redisContext *tw_test_redis_connect(void)
{
    const char *pf = getenv("TW_TEST_REDIS_PORT_FILE");
    FILE *f = pf ? fopen(pf, "r") : NULL;
    int port = 0;
    if (!f || fscanf(f, "%d", &port) != 1) {
        if (f)
            fclose(f);
        fprintf(stderr, "no redis port file (TW_TEST_REDIS_PORT_FILE)\n");
        return NULL;
    }
    fclose(f);
    struct tw_redis_url u = {.port = port};
    snprintf(u.host, sizeof u.host, "127.0.0.1");
    char err[128];
    redisContext *c = tw_rs_connect(&u, 2000, err, sizeof err);
    if (!c)
        fprintf(stderr, "redis fixture: %s\n", err);
    return c;
}

#endif
