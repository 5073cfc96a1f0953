/* SPDX-License-Identifier: MIT */
/* tw-admin message <MessageSid>: everything Redis knows about one message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "common/convkey.h"
#include "common/keys.h"

static const char usage[] =
    "usage: tw-admin message <MessageSid> [--json]\n"
    "\n"
    "What Redis knows about one message, inbound or sent:\n"
    "  status        the current delivery status (<prefix>msg:<sid>) and its history\n"
    "  outcome       the worker's dispatch outcome (<prefix>outcome:<sid>): dispatched, skipped "
    "or\n"
    "                failed, with the agent's receipt or the reason, and the attempts\n"
    "  entry         the inbound entry, while it is still in <prefix>inbound or its dead letters\n"
    "  job           the send job that created it (<prefix>job:<id>), for messages we sent\n"
    "  conversation  its conversation key and the key's parts\n"
    "Exits 1 when Redis has no record of the MessageSid.\n";

#define DEAD_SCAN_MAX 10000 /* dead letters searched for the entry */

/* HGETALL key as an object; NULL when the key does not exist. rc gets the call's result. */
static json_t *hash_of(struct adm *a, const char *key, int *rc)
{
    json_t *flat = NULL;
    *rc = adm_callv(a, &flat, "HGETALL", key, NULL);
    if (*rc < 0)
        return NULL;
    json_t *obj = json_array_size(flat) ? adm_pairs(flat) : NULL;
    json_decref(flat);
    return obj;
}

/* The fields of one stream entry (by id) as an object, payload and conversation parsed. */
static json_t *entry_object(const char *stream, const json_t *entry)
{
    json_t *fields = adm_pairs(json_array_get(entry, 1));
    if (!fields)
        return NULL;
    for (const char *const *k = (const char *const[]){TW_F_PAYLOAD, TW_F_CONVERSATION, NULL}; *k;
         k++) {
        const char *s = json_string_value(json_object_get(fields, *k));
        json_t *parsed = s ? json_loads(s, 0, NULL) : NULL;
        if (parsed)
            json_object_set_new(fields, *k, parsed);
    }
    return json_pack("{s:s, s:O, s:o}", "stream", stream, "id", json_array_get(entry, 0), "fields",
                     fields);
}

/* The inbound entry with this stream id: in the stream, else among the dead letters. */
static int find_entry(struct adm *a, const char *id, json_t **out)
{
    char key[256];
    json_t *r = NULL;
    *out = NULL;
    adm_keyname(a, key, sizeof key, TW_K_INBOUND);
    int rc = adm_callv(a, &r, "XRANGE", key, id, id, NULL);
    if (rc == TW_EREDIS) /* not a valid id */
        return TW_OK;
    if (rc < 0)
        return rc;
    if (json_array_size(r)) {
        *out = entry_object(key, json_array_get(r, 0));
        json_decref(r);
        return TW_OK;
    }
    json_decref(r);
    adm_keyname(a, key, sizeof key, TW_K_INBOUND_DEAD);
    char count[16];
    snprintf(count, sizeof count, "%d", DEAD_SCAN_MAX);
    rc = adm_callv(a, &r, "XREVRANGE", key, "+", "-", "COUNT", count, NULL);
    if (rc < 0)
        return rc;
    size_t i;
    json_t *e;
    json_array_foreach(r, i, e)
    {
        json_t *f = adm_pairs(json_array_get(e, 1));
        const char *sid = json_string_value(json_object_get(f, "stream_id"));
        if (sid && !strcmp(sid, id))
            *out = entry_object(key, e);
        json_decref(f);
        if (*out)
            break;
    }
    json_decref(r);
    return TW_OK;
}

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *dflt(const char *s, const char *d)
{
    return s ? s : d;
}

/* Milliseconds since the epoch (a decimal string) as ISO 8601 UTC, or the input. */
static const char *iso(const char *ms, char out[32])
{
    char *end;
    long long v = ms ? strtoll(ms, &end, 10) : 0;
    if (!ms || *end || v <= 0)
        return ms ? ms : "-";
    time_t t = (time_t)(v / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03lldZ", v % 1000);
    return out;
}

static void print_human(const char *sid, const json_t *doc)
{
    char t1[32];
    printf("message %s\n", sid);
    const json_t *st = json_object_get(doc, "status");
    if (st) {
        printf("  status        %s (updated %s)\n", str_of(st, "status"),
               iso(str_of(st, "updated_at"), t1));
        const char *code = str_of(st, "error_code");
        if (code && *code)
            printf("  error         %s %s\n", code, dflt(str_of(st, "error_message"), ""));
        size_t i;
        json_t *h;
        json_array_foreach(json_object_get(doc, "history"), i, h)
        {
            json_t *at = json_object_get(h, "at");
            char ms[32];
            snprintf(ms, sizeof ms, "%lld", (long long)json_integer_value(at));
            printf("  %-13s %s %s%s\n", i ? "" : "history", iso(ms, t1),
                   dflt(str_of(h, "status"), "?"),
                   json_is_false(json_object_get(h, "moved")) ? " (history only)" : "");
        }
    }
    const json_t *o = json_object_get(doc, "outcome");
    if (o) {
        const char *what = str_of(o, "outcome");
        printf("  outcome       %s", what ? what : "in progress");
        if (str_of(o, "receipt"))
            printf(", receipt %s", str_of(o, "receipt"));
        if (str_of(o, "reason"))
            printf(", %s", str_of(o, "reason"));
        printf(" (attempts %s", dflt(str_of(o, "attempts"), "0"));
        if (str_of(o, "finished_at"))
            printf(", finished %s", iso(str_of(o, "finished_at"), t1));
        else if (str_of(o, "last_error"))
            printf(", last error: %s", str_of(o, "last_error"));
        printf(")\n");
    }
    const json_t *e = json_object_get(doc, "entry");
    if (e) {
        const json_t *f = json_object_get(e, "fields");
        printf("  entry         %s in %s (received %s)\n", str_of(e, "id"), str_of(e, "stream"),
               iso(str_of(f, TW_F_RECEIVED_AT), t1));
        if (str_of(f, "reason"))
            printf("  dead letter   %s (attempts %s)\n", str_of(f, "reason"),
                   dflt(str_of(f, "attempts"), "?"));
    }
    const json_t *j = json_object_get(doc, "job");
    if (j)
        printf("  send job      %s: %s (attempts %s)\n", dflt(str_of(j, "id"), "?"),
               dflt(str_of(j, "state"), "?"), dflt(str_of(j, "attempts"), "0"));
    const json_t *c = json_object_get(doc, "conversation");
    if (c) {
        printf("  conversation  %s\n", str_of(c, "key"));
        const json_t *p = json_object_get(c, "parts");
        if (p)
            printf("                %s %s, participant %s\n",
                   str_of(p, "type") && !strcmp(str_of(p, "type"), "messaging-service")
                       ? str_of(p, "messagingServiceSid")
                       : "address",
                   str_of(p, "address"), str_of(p, "participant"));
    }
}

/* Attaches the conversation (key and parts) from the first record that names one. */
static void add_conversation(json_t *doc)
{
    const char *key = NULL;
    const json_t *srcs[] = {json_object_get(doc, "status"), json_object_get(doc, "outcome"),
                            json_object_get(json_object_get(doc, "entry"), "fields"),
                            json_object_get(doc, "job")};
    for (size_t i = 0; !key && i < sizeof srcs / sizeof srcs[0]; i++)
        if (srcs[i])
            key = str_of(srcs[i], TW_F_CONVERSATION_KEY);
    if (!key || !*key)
        return;
    json_t *c = json_pack("{s:s}", "key", key);
    struct tw_conv conv = {0};
    if (tw_conv_key_decode(key, &conv, NULL) == TW_OK) {
        char *js = tw_conv_to_json(&conv);
        json_t *parts = js ? json_loads(js, 0, NULL) : NULL;
        free(js);
        if (parts)
            json_object_set_new(c, "parts", parts);
        tw_conv_cleanup(&conv);
    }
    json_object_set_new(doc, "conversation", c);
}

int adm_message(struct adm *a, int argc, char **argv)
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
    if (argc - first != 1 || !argv[first][0] || strlen(argv[first]) > 64) {
        fputs(usage, stderr);
        return ADM_USAGE;
    }
    const char *sid = argv[first];
    rc = adm_redis(a);
    if (rc < 0)
        return adm_exit_of(rc);
    char key[256], suffix[128];
    json_t *doc = json_pack("{s:s}", "message_sid", sid);
    json_t *v, *flat = NULL;

    snprintf(suffix, sizeof suffix, "%s%s", TW_K_MSG, sid);
    adm_keyname(a, key, sizeof key, suffix);
    if ((v = hash_of(a, key, &rc)))
        json_object_set_new(doc, "status", v);
    if (rc < 0)
        goto fail;
    snprintf(suffix, sizeof suffix, "%s%s%s", TW_K_MSG, sid, TW_K_HISTORY);
    adm_keyname(a, key, sizeof key, suffix);
    rc = adm_callv(a, &flat, "LRANGE", key, "0", "-1", NULL);
    if (rc < 0)
        goto fail;
    json_t *hist = json_array();
    size_t i;
    json_array_foreach(flat, i, v)
    {
        json_t *h = json_loads(dflt(json_string_value(v), ""), 0, NULL);
        json_array_append_new(hist, h ? h : json_copy(v));
    }
    json_decref(flat);
    json_object_set_new(doc, "history", hist);

    snprintf(suffix, sizeof suffix, "%s%s", TW_K_OUTCOME, sid);
    adm_keyname(a, key, sizeof key, suffix);
    json_t *outcome = hash_of(a, key, &rc);
    if (rc < 0)
        goto fail;
    if (outcome) {
        json_object_set_new(doc, "outcome", outcome);
        const char *id = str_of(outcome, TW_O_STREAM_ID);
        json_t *entry = NULL;
        if (id && (rc = find_entry(a, id, &entry)) < 0)
            goto fail;
        if (entry)
            json_object_set_new(doc, "entry", entry);
    }
    const char *job_id = str_of(json_object_get(doc, "status"), "job_id");
    if (job_id) {
        snprintf(suffix, sizeof suffix, "%s%s", TW_K_JOB, job_id);
        adm_keyname(a, key, sizeof key, suffix);
        if ((v = hash_of(a, key, &rc)))
            json_object_set_new(doc, "job", v);
        if (rc < 0)
            goto fail;
    }
    add_conversation(doc);
    bool found = json_object_get(doc, "status") || json_object_get(doc, "outcome") ||
                 json_array_size(json_object_get(doc, "history"));
    if (a->json)
        adm_print_json(json_pack("{s:b, s:o}", "found", found, "message", doc));
    else if (found)
        print_human(sid, doc);
    if (!a->json)
        json_decref(doc);
    if (!found) {
        adm_errf("message: no record of %s", sid);
        return ADM_FAIL;
    }
    return ADM_OK;
fail:
    adm_errf("message: redis: %s", a->errstr);
    json_decref(doc);
    return ADM_FAIL;
}
