/* SPDX-License-Identifier: MIT */
/* tw-test-enqueue: enqueues send jobs through the real tw_outbound_enqueue, for tests and the
 * benchmark (the echo agent and the outbound API use the same call).
 *   tw-test-enqueue REDIS_URL PREFIX [--idem KEY] [--media JSON] KEY BODY [KEY BODY ...]
 * Prints one line per job: "<result> <job id>" with result created, existing or conflict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/outbound.h"
#include "common/redis.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: tw-test-enqueue REDIS_URL PREFIX [--idem K] [--media JSON] "
                        "KEY BODY [KEY BODY ...]\n");
        return 2;
    }
    struct tw_redis_url u;
    if (tw_rs_url_parse(argv[1], &u) < 0) {
        fprintf(stderr, "bad redis url\n");
        return 2;
    }
    char err[256];
    redisContext *c = tw_rs_connect(&u, 5000, err, sizeof err);
    if (!c) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const char *idem = NULL, *media = NULL;
    int i = 3, code = 0;
    while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
        if (!strcmp(argv[i], "--idem"))
            idem = argv[i + 1];
        else if (!strcmp(argv[i], "--media"))
            media = argv[i + 1];
        i += 2;
    }
    static const char *names[] = {"", "created", "existing", "conflict"};
    for (; i + 1 < argc; i += 2) {
        struct tw_outbound_req req = {.conversation_key = argv[i],
                                      .body = argv[i + 1],
                                      .media_json = media,
                                      .idempotency_key = idem,
                                      .source = "test"};
        char id[TW_JOB_ID_MAX];
        int rc = tw_outbound_enqueue(c, argv[2], &req, id);
        if (rc < 0) {
            fprintf(stderr, "enqueue failed: %s\n", tw_strerror(rc));
            code = 1;
            break;
        }
        printf("%s %s\n", names[rc], id);
    }
    redisFree(c);
    return code;
}
