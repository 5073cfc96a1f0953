/* SPDX-License-Identifier: MIT */
/* tw-admin key encode|decode: conversation keys (common/convkey.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/convkey.h"

static const char usage[] = "usage: tw-admin key encode|decode ...\n"
                            "\n"
                            "Conversation keys, as every program and the Flue runtime spell them.\n"
                            "\n"
                            "commands:\n";

static const char encode_usage[] =
    "usage: tw-admin key encode --participant P [--address A] [--account AC...]\n"
    "                           [--messaging-service MG...] [--json]\n"
    "\n"
    "Prints the canonical key of a conversation. --account, --address and --messaging-service\n"
    "default to TWILIO_ACCOUNT_SID, TWILIO_PHONE_NUMBER and TWILIO_MESSAGING_SERVICE_SID.\n"
    "With a Messaging Service, --address is the service's number the customer wrote to.\n";

static const char decode_usage[] = "usage: tw-admin key decode KEY [--json]\n"
                                   "\n"
                                   "Prints the parts of a key. Only canonical keys decode "
                                   "(re-encoding must give the same bytes);\n"
                                   "anything else exits 1 with the reason.\n";

struct enc_opts {
    const char *account, *address, *participant, *service;
};

static int on_enc(int opt, const char *arg, void *ctx)
{
    struct enc_opts *o = ctx;
    switch (opt) {
    case 'a':
        o->account = arg;
        return 0;
    case 'd':
        o->address = arg;
        return 0;
    case 'p':
        o->participant = arg;
        return 0;
    case 's':
        o->service = arg;
        return 0;
    default:
        return 1;
    }
}

static int key_encode(struct adm *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"account", required_argument, NULL, 'a'},
        {"address", required_argument, NULL, 'd'},
        {"participant", required_argument, NULL, 'p'},
        {"messaging-service", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct enc_opts o = {0};
    int first;
    int rc = adm_parse(a, argc, argv, longopts, encode_usage, on_enc, &o, &first);
    if (rc >= 0)
        return rc;
    if (first != argc || !o.participant) {
        adm_errf("key encode: --participant is required");
        fputs(encode_usage, stderr);
        return ADM_USAGE;
    }
    if (!o.account || !o.address) {
        rc = adm_config(a);
        if (rc < 0)
            return adm_exit_of(rc);
        if (!o.account)
            o.account = a->cfg.account_sid;
        if (!o.address)
            o.address = a->cfg.phone_number;
        if (!o.service)
            o.service = a->cfg.messaging_service_sid;
    }
    if (!o.account || !o.address) {
        adm_errf("key encode: give --account and --address (or set TWILIO_ACCOUNT_SID and "
                 "TWILIO_PHONE_NUMBER)");
        return ADM_USAGE;
    }
    struct tw_conv c = {0};
    char *key = NULL;
    int out = ADM_FAIL;
    rc = tw_conv_set(&c, o.service ? TW_CONV_SERVICE : TW_CONV_ADDRESS, o.account, o.service,
                     o.address, o.participant);
    if (rc == TW_OK)
        rc = tw_conv_key_encode(&c, &key);
    if (rc < 0) {
        adm_errf("key encode: %s", tw_strerror(rc));
        goto done;
    }
    if (a->json) {
        char *conv = tw_conv_to_json(&c);
        json_t *cj = conv ? json_loads(conv, 0, NULL) : NULL;
        free(conv);
        adm_print_json(json_pack("{s:s, s:o*}", "key", key, "conversation", cj));
    } else {
        puts(key);
    }
    out = ADM_OK;
done:
    free(key);
    tw_conv_cleanup(&c);
    return out;
}

static int key_decode(struct adm *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = adm_parse(a, argc, argv, longopts, decode_usage, NULL, NULL, &first);
    if (rc >= 0)
        return rc;
    if (argc - first != 1) {
        fputs(decode_usage, stderr);
        return ADM_USAGE;
    }
    const char *key = argv[first];
    struct tw_conv c = {0};
    const char *why = NULL;
    rc = tw_conv_key_decode(key, &c, &why);
    if (rc < 0) {
        if (a->json)
            adm_print_json(json_pack("{s:s, s:b, s:s}", "key", key, "canonical", 0, "error",
                                     why ? why : tw_strerror(rc)));
        adm_errf("key decode: %s", why ? why : tw_strerror(rc));
        return ADM_FAIL;
    }
    char *conv = tw_conv_to_json(&c);
    json_t *cj = conv ? json_loads(conv, 0, NULL) : NULL;
    free(conv);
    if (!cj) {
        adm_errf("out of memory");
        tw_conv_cleanup(&c);
        return ADM_FAIL;
    }
    if (a->json) {
        adm_print_json(
            json_pack("{s:s, s:b, s:o}", "key", key, "canonical", 1, "conversation", cj));
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(cj, k, v) printf("%-20s %s\n", k, json_string_value(v));
        json_decref(cj);
    }
    tw_conv_cleanup(&c);
    return ADM_OK;
}

int adm_key(struct adm *a, int argc, char **argv)
{
    static const struct adm_cmd sub[] = {
        {"encode", key_encode, "the key of a conversation"},
        {"decode", key_decode, "the parts of a key"},
    };
    return adm_dispatch(a, argc, argv, sub, sizeof sub / sizeof sub[0], usage);
}
