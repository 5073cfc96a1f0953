/* SPDX-License-Identifier: MIT */
/* libFuzzer target: Twilio's answers as tw-sender parses them (sender/twilio_resp.c).
 * The input is given, as received, to the message, error and list parsers, and (NUL-terminated)
 * to the RFC 2822 date parser. Invariants: each returns one of its documented codes; a parsed
 * message has an SM/MM + 32 hex sid and a status; a failed parse leaves nothing allocated. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sender/twilio_resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static bool sid_ok(const char *s)
{
    return s && strlen(s) == 34 && (s[0] == 'S' || s[0] == 'M') && s[1] == 'M' &&
           strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

static void message(const char *json, size_t len)
{
    struct snd_msg m;
    memset(&m, 0xa5, sizeof m); /* the parser must initialise every field */
    int rc = snd_resp_message(json, len, &m);
    check(rc == TW_OK || rc == TW_EPARSE || rc == TW_ENOMEM);
    if (rc == TW_OK) {
        check(sid_ok(m.sid));
        check(m.status != NULL);
        check(m.num_media >= -1);
        snd_msg_cleanup(&m);
    } else {
        check(m.sid == NULL && m.status == NULL && m.body == NULL);
    }
}

static void error_body(const char *json, size_t len)
{
    char *code = (char *)1, *msg = (char *)1, *more = (char *)1;
    int rc = snd_resp_error(json, len, &code, &msg, &more);
    check(rc == TW_OK || rc == TW_EPARSE || rc == TW_ENOMEM);
    if (rc == TW_OK) {
        /* the code is rendered as decimal text when present */
        check(!code || (code[0] && strspn(code, "-0123456789") == strlen(code)));
        free(code);
        free(msg);
        free(more);
    } else {
        check(code == NULL && msg == NULL && more == NULL);
    }
}

static void list(const char *json, size_t len)
{
    struct snd_msg *msgs = NULL;
    size_t n = 12345;
    bool next = false;
    int rc = snd_resp_list(json, len, &msgs, &n, &next);
    check(rc == TW_OK || rc == TW_EPARSE || rc == TW_ENOMEM);
    if (rc == TW_OK) {
        check(n == 0 || msgs != NULL);
        snd_msg_list_free(msgs, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: the parsers get a length, not a terminator */
    char *json = malloc(size ? size : 1);
    if (!json)
        return 0;
    memcpy(json, data, size);
    message(json, size);
    error_body(json, size);
    list(json, size);
    free(json);

    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms = 0;
    int rc = snd_rfc2822_parse(s, &ms);
    check(rc == TW_OK || rc == TW_EPARSE);
    free(s);
    return 0;
}
