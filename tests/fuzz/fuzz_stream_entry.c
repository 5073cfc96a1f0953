/* SPDX-License-Identifier: MIT */
/* libFuzzer target: stream entry decoding in tw-worker (worker/entry.c), which turns one entry
 * of <prefix>inbound or <prefix>status, as Redis returns it, into a message to dispatch.
 * Input: when it starts with a RESP type byte ('*', '$', ':', '+', '-'), the reply itself in
 * Redis's wire format (any shape: nested arrays, integers, nil, errors); otherwise lines
 * "<id>\n<field>\n<value>\n<field>\n<value>..." made into [id, [field, value, ...]].
 * Invariants: a result code the contract names; a decoded entry's id is the reply's; an entry
 * with no complaint has an object payload whose MessageSid is its non-empty sid; a conversation
 * is an object or absent; a refused reply leaves nothing allocated. */
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Lines made into the RESP text of [id, [field, value, ...]] (a trailing odd line is kept:
 * a field without a value is a shape Redis never sends, but the decoder must survive it). */
static int lines_to_resp(const char *s, size_t n, struct tw_buf *out)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += s[i] == '\n';
    count++;
    int rc = tw_buf_printf(out, "*2\r\n");
    const char *p = s, *end = s + n;
    for (size_t k = 0; rc == TW_OK && k < count; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        if (k == 1)
            rc = tw_buf_printf(out, "*%zu\r\n", count - 1);
        if (rc == TW_OK)
            rc = tw_buf_printf(out, "$%zu\r\n", len);
        if (rc == TW_OK)
            rc = tw_buf_append(out, p, len);
        if (rc == TW_OK)
            rc = tw_buf_puts(out, "\r\n");
        p = nl ? nl + 1 : end;
    }
    if (rc == TW_OK && count == 1)
        rc = tw_buf_puts(out, "*0\r\n");
    return rc;
}

static void decode(const redisReply *reply)
{
    struct wrk_entry e;
    memset(&e, 0xa5, sizeof e); /* the decoder must initialise every field */
    int rc = wrk_entry_decode(reply, &e);
    check(rc == TW_OK || rc == TW_EPARSE || rc == TW_ENOMEM);
    if (rc != TW_OK) {
        check(e.payload == NULL && e.conversation == NULL && e.conversation_key == NULL);
        return;
    }
    const redisReply *id = reply->element[0];
    check(id->len < WRK_ID_MAX && memcmp(e.id, id->str, id->len) == 0 && e.id[id->len] == '\0');
    check(e.received_at >= 0);
    check(!e.payload || json_is_object(e.payload));
    check(!e.conversation || json_is_object(e.conversation));
    if (!e.bad) {
        check(e.payload && e.sid && *e.sid);
        check(e.sid == wrk_entry_get(&e, "MessageSid"));
    }
    (void)wrk_entry_get(&e, "Body");
    wrk_entry_cleanup(&e);
}

/* hiredis 0.14 allocates an array for the element count a "*N" header declares before any
 * element arrives: a fuzzed "*1171234567" asks for 9 GB. The bytes come from our own Redis in
 * production, so that is hiredis trusting its server, not a decoding bug: skip any input that
 * declares more elements than it could possibly hold. */
static bool declares_impossible_array(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '*' || (i > 0 && text[i - 1] != '\n'))
            continue;
        unsigned long long n = 0;
        for (size_t j = i + 1; j < len && text[j] >= '0' && text[j] <= '9' && n <= len; j++)
            n = n * 10 + (unsigned long long)(text[j] - '0');
        if (n > len)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tw_buf resp;
    tw_buf_init(&resp, 1 << 22);
    const char *text = (const char *)data;
    size_t len = size;
    if (!size || !strchr("*$:+-", data[0])) {
        if (lines_to_resp(text, size, &resp) != TW_OK)
            goto out;
        text = resp.data;
        len = resp.len;
    }
    if (declares_impossible_array(text, len))
        goto out;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        goto out;
    void *reply = NULL;
    if (redisReaderFeed(rd, text, len) == REDIS_OK && redisReaderGetReply(rd, &reply) == REDIS_OK &&
        reply) {
        decode(reply);
        freeReplyObject(reply);
    }
    redisReaderFree(rd);
out:
    tw_buf_cleanup(&resp);
    return 0;
}
