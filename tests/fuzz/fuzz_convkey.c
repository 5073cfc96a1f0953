/* SPDX-License-Identifier: MIT */
/* libFuzzer target: conversation keys.
 * 1. The input as a key: when it decodes, encoding the result gives the input back byte for byte,
 *    and the JSON form exists.
 * 2. The input split at '\n' into account, address, participant[, service]: when those encode,
 *    the key decodes to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/convkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void decode_then_encode(const char *s, size_t size)
{
    struct tw_conv c;
    const char *why = NULL;
    int rc = tw_conv_key_decode(s, &c, &why);
    check(rc == TW_OK || rc == TW_EKEY);
    if (rc == TW_OK) {
        check(why == NULL);
        char *key = NULL;
        check(tw_conv_key_encode(&c, &key) == TW_OK);
        check(strlen(key) == size && memcmp(key, s, size) == 0);
        char *json = tw_conv_to_json(&c);
        check(json != NULL);
        free(json);
        free(key);
    } else {
        check(why != NULL && c.account_sid == NULL && c.address == NULL);
    }
    tw_conv_cleanup(&c);
}

static void encode_then_decode(char *s)
{
    char *parts[4] = {NULL, NULL, NULL, NULL};
    size_t n = 0;
    for (char *p = s; n < 4; n++) {
        parts[n] = p;
        char *nl = strchr(p, '\n');
        if (!nl) {
            n++;
            break;
        }
        *nl = '\0';
        p = nl + 1;
    }
    if (n < 3)
        return;
    const char *mg = n == 4 ? parts[3] : NULL;
    enum tw_conv_type type = mg ? TW_CONV_SERVICE : TW_CONV_ADDRESS;
    struct tw_conv c, back;
    check(tw_conv_set(&c, type, parts[0], mg, parts[1], parts[2]) == TW_OK);
    char *key = NULL;
    int rc = tw_conv_key_encode(&c, &key);
    check(rc == TW_OK || rc == TW_EUTF8 || rc == TW_EINVAL || rc == TW_ETOOBIG);
    if (rc == TW_OK) {
        const char *why = NULL;
        check(tw_conv_key_decode(key, &back, &why) == TW_OK);
        check(back.type == type);
        check(strcmp(back.account_sid, parts[0]) == 0);
        check(strcmp(back.address, parts[1]) == 0);
        check(strcmp(back.participant, parts[2]) == 0);
        check(!mg || strcmp(back.messaging_service_sid, mg) == 0);
        tw_conv_cleanup(&back);
    } else {
        check(key == NULL);
    }
    free(key);
    tw_conv_cleanup(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size))
        return 0; /* keys and fields are C strings */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    decode_then_encode(s, size);
    encode_then_decode(s);
    free(s);
    return 0;
}
