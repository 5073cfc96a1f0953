/* SPDX-License-Identifier: MIT */
/* tw-admin queues: every stream of the contract, its groups and their consumers. */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "common/keys.h"

static const char usage[] =
    "usage: tw-admin queues [--json]\n"
    "\n"
    "For each stream (inbound, status, outbound and their dead letters): its length, the number\n"
    "of dead letters, and per consumer group its consumers, pending entries (delivered, not\n"
    "acknowledged) and lag (entries not yet delivered to the group); per consumer its pending\n"
    "entries and idle time (XINFO STREAM, GROUPS, CONSUMERS).\n";

struct stream_row {
    const char *suffix;
    const char *dead; /* its dead-letter stream, or NULL */
};

static const struct stream_row streams[] = {
    {TW_K_INBOUND, TW_K_INBOUND_DEAD},
    {TW_K_STATUS, TW_K_STATUS_DEAD},
    {TW_K_OUTBOUND, TW_K_OUTBOUND_DEAD},
    {TW_K_INBOUND_DEAD, NULL},
    {TW_K_STATUS_DEAD, NULL},
    {TW_K_OUTBOUND_DEAD, NULL},
};

static json_int_t int_of(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* XLEN of a stream (0 when absent); -1 on error. */
static json_int_t xlen(struct adm *a, const char *key)
{
    json_t *r = NULL;
    if (adm_callv(a, &r, "XLEN", key, NULL) < 0)
        return -1;
    json_int_t n = json_integer_value(r);
    json_decref(r);
    return n;
}

/* Fills one group's consumers. */
static int consumers_of(struct adm *a, const char *key, const char *group, json_t *out)
{
    json_t *r = NULL;
    int rc = adm_callv(a, &r, "XINFO", "CONSUMERS", key, group, NULL);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < json_array_size(r); i++) {
        json_t *c = adm_pairs(json_array_get(r, i));
        if (!c)
            continue;
        json_array_append_new(out, json_pack("{s:O?, s:I, s:I}", "name", json_object_get(c, "name"),
                                             "pending", int_of(c, "pending"), "idle_ms",
                                             int_of(c, "idle")));
        json_decref(c);
    }
    json_decref(r);
    return TW_OK;
}

/* Describes one stream; *out is new. */
static int describe(struct adm *a, const struct stream_row *row, json_t **out)
{
    char key[256], dead[256];
    adm_keyname(a, key, sizeof key, row->suffix);
    json_t *info = NULL, *flat = NULL, *groups = NULL;
    json_t *s = json_pack("{s:s}", "stream", key);
    int rc = adm_callv(a, &flat, "XINFO", "STREAM", key, NULL);
    if (rc == TW_EREDIS && strstr(a->errstr, "no such key")) { /* not created yet */
        json_object_set_new(s, "exists", json_false());
        json_object_set_new(s, "length", json_integer(0));
        rc = TW_OK;
    } else if (rc == TW_OK) {
        info = adm_pairs(flat);
        json_object_set_new(s, "exists", json_true());
        json_object_set_new(s, "length", json_integer(int_of(info, "length")));
        json_object_set(s, "last_id", json_object_get(info, "last-generated-id"));
        json_object_set_new(s, "entries_added", json_integer(int_of(info, "entries-added")));
    } else {
        goto out;
    }
    if (row->dead) {
        adm_keyname(a, dead, sizeof dead, row->dead);
        json_int_t n = xlen(a, dead);
        if (n < 0) {
            rc = TW_EIO;
            goto out;
        }
        json_object_set_new(s, "dead_letters", json_integer(n));
    }
    json_t *garr = json_array();
    json_object_set_new(s, "groups", garr);
    if (!info)
        goto out;
    rc = adm_callv(a, &groups, "XINFO", "GROUPS", key, NULL);
    if (rc < 0)
        goto out;
    for (size_t i = 0; i < json_array_size(groups); i++) {
        json_t *g = adm_pairs(json_array_get(groups, i));
        if (!g)
            continue;
        const char *name = json_string_value(json_object_get(g, "name"));
        json_t *cons = json_array();
        json_t *lag = json_object_get(g, "lag"); /* null when Redis cannot tell */
        json_array_append_new(garr,
                              json_pack("{s:s?, s:I, s:I, s:O?, s:O?, s:O?, s:o}", "name", name,
                                        "consumers", int_of(g, "consumers"), "pending",
                                        int_of(g, "pending"), "lag", lag, "last_delivered_id",
                                        json_object_get(g, "last-delivered-id"), "entries_read",
                                        json_object_get(g, "entries-read"), "consumer_list", cons));
        if (name)
            rc = consumers_of(a, key, name, cons);
        json_decref(g);
        if (rc < 0)
            goto out;
    }
out:
    json_decref(flat);
    json_decref(info);
    json_decref(groups);
    if (rc < 0) {
        json_decref(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static void print_idle(json_int_t ms)
{
    if (ms < 1000)
        printf("%lldms", (long long)ms);
    else if (ms < 120000)
        printf("%.1fs", (double)ms / 1000);
    else
        printf("%lldm", (long long)(ms / 60000));
}

static void print_human(const json_t *doc)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "streams"), i, s)
    {
        printf("%s", json_string_value(json_object_get(s, "stream")));
        if (!json_is_true(json_object_get(s, "exists"))) {
            printf("  (absent)");
        } else {
            printf("  length %lld", (long long)int_of(s, "length"));
            const char *last = json_string_value(json_object_get(s, "last_id"));
            printf("  last-id %s", last ? last : "-");
        }
        if (json_object_get(s, "dead_letters"))
            printf("  dead %lld", (long long)int_of(s, "dead_letters"));
        printf("\n");
        size_t k;
        json_t *g;
        json_array_foreach(json_object_get(s, "groups"), k, g)
        {
            json_t *lag = json_object_get(g, "lag");
            printf("  group %s  consumers %lld  pending %lld  lag ",
                   json_string_value(json_object_get(g, "name")), (long long)int_of(g, "consumers"),
                   (long long)int_of(g, "pending"));
            if (json_is_integer(lag))
                printf("%lld", (long long)json_integer_value(lag));
            else
                printf("unknown");
            const char *ld = json_string_value(json_object_get(g, "last_delivered_id"));
            printf("  last-delivered %s\n", ld ? ld : "-");
            size_t m;
            json_t *c;
            json_array_foreach(json_object_get(g, "consumer_list"), m, c)
            {
                printf("    consumer %s  pending %lld  idle ",
                       json_string_value(json_object_get(c, "name")),
                       (long long)int_of(c, "pending"));
                print_idle(int_of(c, "idle_ms"));
                printf("\n");
            }
        }
    }
}

int adm_queues(struct adm *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int first;
    int rc = adm_parse(a, argc, argv, longopts, usage, NULL, NULL, &first);
    if (rc >= 0)
        return rc;
    if (first != argc) {
        fputs(usage, stderr);
        return ADM_USAGE;
    }
    rc = adm_redis(a);
    if (rc < 0)
        return adm_exit_of(rc);
    json_t *arr = json_array();
    json_t *doc = json_pack("{s:o}", "streams", arr);
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        json_t *s = NULL;
        rc = describe(a, &streams[i], &s);
        if (rc < 0) {
            adm_errf("queues: redis: %s", a->errstr);
            json_decref(doc);
            return ADM_FAIL;
        }
        json_array_append_new(arr, s);
    }
    if (a->json) {
        adm_print_json(doc);
    } else {
        print_human(doc);
        json_decref(doc);
    }
    return ADM_OK;
}
