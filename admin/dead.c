/* SPDX-License-Identifier: MIT */
/* tw-admin dead list|show|replay|drop: the dead-letter streams, and sending one back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "common/keys.h"

static const char usage[] =
    "usage: tw-admin dead list|show|replay|drop <stream> [id] [--json]\n"
    "\n"
    "<stream> is inbound, outbound or status (their dead letters: <prefix><stream>:dead).\n"
    "\n"
    "commands:\n";

static const char list_usage[] =
    "usage: tw-admin dead list <stream> [--count N] [--json]\n"
    "\n"
    "The oldest N (default 50) dead letters of inbound, outbound or status: id, when, the\n"
    "MessageSid or job, attempts and reason.\n";

static const char show_usage[] = "usage: tw-admin dead show <stream> <id> [--json]\n"
                                 "\n"
                                 "Every field of one dead letter (the payload as JSON).\n";

static const char replay_usage[] =
    "usage: tw-admin dead replay <stream> <id> [--json]\n"
    "\n"
    "Sends one dead letter back through the pipeline, in one atomic step, and removes it from\n"
    "the dead letters. Exits 1, changing nothing, when the replay would be wrong:\n"
    "  inbound   the original entry is appended to <prefix>inbound again, with received_at set\n"
    "            to now (the age budget starts again; the first time is kept in\n"
    "            original_received_at). Its MessageSid's earlier failed outcome does not block\n"
    "            it: the worker starts a new attempt budget for the new entry. A MessageSid whose\n"
    "            outcome is dispatched or skipped is refused: it was handled, and the worker\n"
    "            would never dispatch it twice.\n"
    "  outbound  the job is queued again at the end of its conversation, with a new attempt\n"
    "            budget. A job Twilio created (state sent, or a sid) is refused. A job in state\n"
    "            unknown goes back as 'sending': the sender first looks for it in Twilio's\n"
    "            message list and sends only when it provably does not exist.\n"
    "  status    refused: a status dead letter is a status hook that failed; the status itself\n"
    "            was applied, and the worker does not repeat hooks for statuses it has seen.\n";

static const char drop_usage[] = "usage: tw-admin dead drop <stream> <id> [--json]\n"
                                 "\n"
                                 "Deletes one dead letter for good. Exits 1 when there is none.\n";

/* ---------------------------------------------------------------- scripts */

/* KEYS: dead stream, inbound stream. ARGV: dead id, outcome key prefix.
 * -> {'ok', new id, sid} | {'done', outcome, sid} | {'missing'} | {'no_entry'} | {'no_sid'} */
static const char replay_inbound_lua[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return {'missing'} end\n"
    "local f = e[1][2]\n"
    "local dead = {['" TW_D_REASON "'] = true, ['" TW_D_ATTEMPTS "'] = true,\n"
    "  ['" TW_D_FAILED_AT "'] = true, ['" TW_D_STREAM_ID "'] = true, ['" TW_D_CONSUMER
    "'] = true,\n"
    "  ['" TW_F_RECEIVED_AT "'] = true, original_received_at = true, replayed_from = true}\n"
    "local keep, payload, received, original = {}, nil, nil, nil\n"
    "for i = 1, #f, 2 do\n"
    "  local k, v = f[i], f[i + 1]\n"
    "  if k == '" TW_F_PAYLOAD "' then payload = v end\n"
    "  if k == '" TW_F_RECEIVED_AT "' then received = v end\n"
    "  if k == 'original_received_at' then original = v end\n"
    "  if not dead[k] then keep[#keep + 1] = k; keep[#keep + 1] = v end\n"
    "end\n"
    "if not payload then return {'no_entry'} end\n"
    "local ok, p = pcall(cjson.decode, payload)\n"
    "if not ok or type(p) ~= 'table' or type(p['MessageSid']) ~= 'string' then\n"
    "  return {'no_sid'}\n"
    "end\n"
    "local sid = p['MessageSid']\n"
    "local o = redis.call('HGET', ARGV[2] .. sid, '" TW_O_OUTCOME "')\n"
    "if o == 'dispatched' or o == 'skipped' then return {'done', o, sid} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))\n"
    "keep[#keep + 1] = '" TW_F_RECEIVED_AT "'; keep[#keep + 1] = now\n"
    "original = original or received\n"
    "if original then\n"
    "  keep[#keep + 1] = 'original_received_at'; keep[#keep + 1] = original\n"
    "end\n"
    "keep[#keep + 1] = 'replayed_from'; keep[#keep + 1] = ARGV[1]\n"
    "local id = redis.call('XADD', KEYS[2], '*', unpack(keep))\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "return {'ok', id, sid}\n";

/* KEYS: dead stream, outbound stream. ARGV: dead id, job key prefix, conversation list prefix.
 * -> {'ok', new id, job id, state} | {'sent', job id, sid} | {'busy', job id, state} |
 *    {'expired', job id} | {'missing'} | {'no_job'} */
static const char replay_outbound_lua[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return {'missing'} end\n"
    "local f, job_id = e[1][2], nil\n"
    "for i = 1, #f, 2 do\n"
    "  if f[i] == '" TW_F_JOB_ID "' then job_id = f[i + 1] end\n"
    "end\n"
    "if not job_id then return {'no_job'} end\n"
    "local job = ARGV[2] .. job_id\n"
    "local j = redis.call('HMGET', job, 'state', 'sid', 'conversation_key', 'created_at',\n"
    "  'first_created_at')\n"
    "if not j[1] then return {'expired', job_id} end\n"
    "if j[1] == 'sent' or (j[2] and j[2] ~= '') then return {'sent', job_id, j[2] or ''} end\n"
    "if j[1] ~= 'failed' and j[1] ~= 'unknown' then return {'busy', job_id, j[1]} end\n"
    "local t = redis.call('TIME')\n"
    "local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))\n"
    /* unknown: the attempt marker (attempt_at) stays, so the sender reconciles before sending */
    "local state = j[1] == 'unknown' and 'sending' or 'queued'\n"
    "redis.call('HDEL', job, 'owner', 'lease_until', 'next_at', 'finished_at', 'error_code',\n"
    "  'error_message', 'more_info', 'last_error')\n"
    "redis.call('HSET', job, 'state', state, 'attempts', '0', 'created_at', now,\n"
    "  'first_created_at', j[5] or j[4] or now, 'replayed_at', now, 'replayed_from', ARGV[1],\n"
    "  'updated_at', now)\n"
    "redis.call('PERSIST', job)\n"
    "local id = redis.call('XADD', KEYS[2], '*', '" TW_F_JOB_ID "', job_id,\n"
    "  '" TW_F_CONVERSATION_KEY "', j[3] or '')\n"
    "redis.call('HSET', job, 'stream_id', id)\n"
    "redis.call('RPUSH', ARGV[3] .. (j[3] or ''), job_id)\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "return {'ok', id, job_id, state}\n";

/* ---------------------------------------------------------------- helpers */

enum kind { K_INBOUND, K_OUTBOUND, K_STATUS };

struct target {
    enum kind kind;
    char source[256]; /* <prefix>inbound */
    char dead[256];   /* <prefix>inbound:dead */
};

/* Accepts inbound, inbound:dead, <prefix>inbound[:dead] (and the same for the others). */
static int target_of(struct adm *a, const char *name, struct target *t)
{
    static const struct {
        const char *name, *source, *dead;
        enum kind kind;
    } known[] = {
        {"inbound", TW_K_INBOUND, TW_K_INBOUND_DEAD, K_INBOUND},
        {"outbound", TW_K_OUTBOUND, TW_K_OUTBOUND_DEAD, K_OUTBOUND},
        {"status", TW_K_STATUS, TW_K_STATUS_DEAD, K_STATUS},
    };
    const char *prefix = a->cfg.redis_prefix;
    size_t pl = strlen(prefix);
    if (!strncmp(name, prefix, pl))
        name += pl;
    size_t n = strlen(name);
    if (n > 5 && !strcmp(name + n - 5, ":dead"))
        n -= 5;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strlen(known[i].name) == n && !strncmp(name, known[i].name, n)) {
            t->kind = known[i].kind;
            adm_keyname(a, t->source, sizeof t->source, known[i].source);
            adm_keyname(a, t->dead, sizeof t->dead, known[i].dead);
            return TW_OK;
        }
    }
    adm_errf("dead: unknown stream %s (inbound, outbound or status)", name);
    return TW_EINVAL;
}

static const char *str_of(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *dflt(const char *s, const char *d)
{
    return s ? s : d;
}

/* One entry as {"id", "fields"} with the payload and conversation parsed. New reference. */
static json_t *entry_json(const json_t *entry)
{
    json_t *fields = adm_pairs(json_array_get(entry, 1));
    if (!fields)
        return NULL;
    for (const char *const *k = (const char *const[]){TW_F_PAYLOAD, TW_F_CONVERSATION, NULL}; *k;
         k++) {
        json_t *parsed = str_of(fields, *k) ? json_loads(str_of(fields, *k), 0, NULL) : NULL;
        if (parsed)
            json_object_set_new(fields, *k, parsed);
    }
    return json_pack("{s:O, s:o}", "id", json_array_get(entry, 0), "fields", fields);
}

/* The MessageSid or job an entry is about, for one-line listings. */
static const char *subject_of(const json_t *fields)
{
    const json_t *payload = json_object_get(fields, TW_F_PAYLOAD);
    const char *sid = str_of(payload, "MessageSid");
    return sid ? sid : dflt(str_of(fields, TW_F_JOB_ID), "-");
}

/* Common start of every sub-command: options, <stream> [id], configuration and Redis. */
static int begin(struct adm *a, int argc, char **argv, const char *cmd_usage, bool want_id,
                 const struct option *longopts, int (*on_opt)(int, const char *, void *), void *ctx,
                 struct target *t, const char **id)
{
    int first;
    int rc = adm_parse(a, argc, argv, longopts, cmd_usage, on_opt, ctx, &first);
    if (rc >= 0)
        return rc;
    if (argc - first != (want_id ? 2 : 1)) {
        fputs(cmd_usage, stderr);
        return ADM_USAGE;
    }
    rc = adm_redis(a);
    if (rc < 0)
        return adm_exit_of(rc);
    if (target_of(a, argv[first], t) < 0)
        return ADM_USAGE;
    if (want_id)
        *id = argv[first + 1];
    return -1;
}

static const struct option plain_opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ---------------------------------------------------------------- list, show, drop */

static int on_count(int opt, const char *arg, void *ctx)
{
    long *count = ctx;
    char *end;
    if (opt != 'c')
        return 1;
    *count = strtol(arg, &end, 10);
    return (*end || *count <= 0 || *count > 100000) ? 1 : 0;
}

static int dead_list(struct adm *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long count = 50;
    struct target t;
    int rc = begin(a, argc, argv, list_usage, false, longopts, on_count, &count, &t, NULL);
    if (rc >= 0)
        return rc;
    char n[24];
    snprintf(n, sizeof n, "%ld", count);
    json_t *r = NULL, *len = NULL;
    if (adm_callv(a, &r, "XRANGE", t.dead, "-", "+", "COUNT", n, NULL) < 0 ||
        adm_callv(a, &len, "XLEN", t.dead, NULL) < 0) {
        adm_errf("dead list: redis: %s", a->errstr);
        json_decref(r);
        return ADM_FAIL;
    }
    json_t *items = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(r, i, e) json_array_append_new(items, entry_json(e));
    json_decref(r);
    if (a->json) {
        adm_print_json(
            json_pack("{s:s, s:O, s:o}", "stream", t.dead, "length", len, "entries", items));
    } else {
        printf("%s: %lld dead letter(s)\n", t.dead, (long long)json_integer_value(len));
        json_array_foreach(items, i, e)
        {
            const json_t *f = json_object_get(e, "fields");
            printf("%s  %s  attempts %s  %s\n", str_of(e, "id"), subject_of(f),
                   dflt(str_of(f, TW_D_ATTEMPTS), "?"), dflt(str_of(f, TW_D_REASON), "-"));
        }
        json_decref(items);
    }
    json_decref(len);
    return ADM_OK;
}

static int dead_show(struct adm *a, int argc, char **argv)
{
    struct target t;
    const char *id = NULL;
    int rc = begin(a, argc, argv, show_usage, true, plain_opts, NULL, NULL, &t, &id);
    if (rc >= 0)
        return rc;
    json_t *r = NULL;
    rc = adm_callv(a, &r, "XRANGE", t.dead, id, id, NULL);
    if (rc == TW_EREDIS) {
        adm_errf("dead show: %s is not a stream id", id);
        return ADM_USAGE;
    }
    if (rc < 0) {
        adm_errf("dead show: redis: %s", a->errstr);
        return ADM_FAIL;
    }
    json_t *e = json_array_size(r) ? entry_json(json_array_get(r, 0)) : NULL;
    json_decref(r);
    if (!e) {
        adm_errf("dead show: no dead letter %s in %s", id, t.dead);
        return ADM_FAIL;
    }
    json_object_set_new(e, "stream", json_string(t.dead));
    if (a->json) {
        adm_print_json(e);
        return ADM_OK;
    }
    printf("%s %s\n", t.dead, id);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(e, "fields"), k, v)
    {
        if (json_is_string(v)) {
            printf("  %-22s %s\n", k, json_string_value(v));
        } else {
            char *s = json_dumps(v, JSON_INDENT(2));
            printf("  %-22s %s\n", k, s ? s : "?");
            free(s);
        }
    }
    json_decref(e);
    return ADM_OK;
}

static int dead_drop(struct adm *a, int argc, char **argv)
{
    struct target t;
    const char *id = NULL;
    int rc = begin(a, argc, argv, drop_usage, true, plain_opts, NULL, NULL, &t, &id);
    if (rc >= 0)
        return rc;
    json_t *r = NULL;
    rc = adm_callv(a, &r, "XDEL", t.dead, id, NULL);
    if (rc == TW_EREDIS) {
        adm_errf("dead drop: %s is not a stream id", id);
        return ADM_USAGE;
    }
    if (rc < 0) {
        adm_errf("dead drop: redis: %s", a->errstr);
        return ADM_FAIL;
    }
    bool dropped = json_integer_value(r) == 1;
    json_decref(r);
    if (a->json)
        adm_print_json(
            json_pack("{s:s, s:s, s:b}", "stream", t.dead, "id", id, "dropped", dropped));
    else if (dropped)
        printf("dropped %s from %s\n", id, t.dead);
    if (!dropped) {
        adm_errf("dead drop: no dead letter %s in %s", id, t.dead);
        return ADM_FAIL;
    }
    return ADM_OK;
}

/* ---------------------------------------------------------------- replay */

static struct tw_rs_script s_inbound, s_outbound;

static int dead_replay(struct adm *a, int argc, char **argv)
{
    struct target t;
    const char *id = NULL;
    int rc = begin(a, argc, argv, replay_usage, true, plain_opts, NULL, NULL, &t, &id);
    if (rc >= 0)
        return rc;
    if (t.kind == K_STATUS) {
        adm_errf("dead replay: status dead letters are failed status hooks; the status was "
                 "applied and tw-worker does not repeat hooks for statuses it has seen");
        return ADM_FAIL;
    }
    char p1[256], p2[256];
    const char *args[5];
    json_t *r = NULL;
    args[0] = t.dead;
    args[1] = t.source;
    args[2] = id;
    if (t.kind == K_INBOUND) {
        tw_rs_script_init(&s_inbound, replay_inbound_lua);
        adm_keyname(a, p1, sizeof p1, TW_K_OUTCOME);
        args[3] = p1;
        rc = adm_eval(a, &r, &s_inbound, 2, 4, args, NULL);
    } else {
        tw_rs_script_init(&s_outbound, replay_outbound_lua);
        adm_keyname(a, p1, sizeof p1, TW_K_JOB);
        adm_keyname(a, p2, sizeof p2, TW_K_OUTQ);
        args[3] = p1;
        args[4] = p2;
        rc = adm_eval(a, &r, &s_outbound, 2, 5, args, NULL);
    }
    if (rc == TW_EREDIS && strstr(a->errstr, "Invalid stream ID")) {
        adm_errf("dead replay: %s is not a stream id", id);
        return ADM_USAGE;
    }
    if (rc < 0) {
        adm_errf("dead replay: redis: %s", a->errstr);
        return ADM_FAIL;
    }
    const char *what = json_string_value(json_array_get(r, 0));
    const char *x1 = json_string_value(json_array_get(r, 1));
    const char *x2 = json_string_value(json_array_get(r, 2));
    const char *x3 = json_string_value(json_array_get(r, 3));
    bool ok = what && !strcmp(what, "ok");
    char why[640] = "";
    if (!what)
        snprintf(why, sizeof why, "unexpected answer from Redis");
    else if (!strcmp(what, "missing"))
        snprintf(why, sizeof why, "no dead letter %s in %s", id, t.dead);
    else if (!strcmp(what, "done"))
        snprintf(why, sizeof why, "%s was already %s: it is not dispatched twice", x2, x1);
    else if (!strcmp(what, "no_entry"))
        snprintf(why, sizeof why, "the dead letter holds no original entry (no payload)");
    else if (!strcmp(what, "no_sid"))
        snprintf(why, sizeof why, "the dead letter's payload has no MessageSid");
    else if (!strcmp(what, "no_job"))
        snprintf(why, sizeof why, "the dead letter names no job");
    else if (!strcmp(what, "expired"))
        snprintf(why, sizeof why, "job %s no longer exists (finished jobs expire)", x1);
    else if (!strcmp(what, "sent"))
        snprintf(why, sizeof why, "job %s was created at Twilio (%s): it is not sent twice", x1,
                 x2 && *x2 ? x2 : "state sent");
    else if (!strcmp(what, "busy"))
        snprintf(why, sizeof why, "job %s is %s again already", x1, x2);
    if (a->json) {
        json_t *doc = json_pack("{s:s, s:s, s:b, s:s}", "stream", t.dead, "id", id, "replayed", ok,
                                "result", what ? what : "?");
        if (ok) {
            json_object_set_new(doc, "new_id", json_string(x1));
            json_object_set_new(doc, t.kind == K_INBOUND ? "message_sid" : "job_id",
                                json_string(x2));
            if (x3)
                json_object_set_new(doc, "state", json_string(x3));
        } else {
            json_object_set_new(doc, "reason", json_string(why));
        }
        adm_print_json(doc);
    } else if (ok) {
        printf("replayed %s from %s as %s in %s (%s %s%s%s)\n", id, t.dead, x1, t.source,
               t.kind == K_INBOUND ? "MessageSid" : "job", x2, x3 ? ", " : "", x3 ? x3 : "");
    }
    json_decref(r);
    if (!ok) {
        adm_errf("dead replay: %s", why);
        return ADM_FAIL;
    }
    return ADM_OK;
}

int adm_dead(struct adm *a, int argc, char **argv)
{
    static const struct adm_cmd sub[] = {
        {"list", dead_list, "the oldest dead letters of a stream"},
        {"show", dead_show, "every field of one dead letter"},
        {"replay", dead_replay, "send one back through the pipeline (dedup rules apply)"},
        {"drop", dead_drop, "delete one for good"},
    };
    return adm_dispatch(a, argc, argv, sub, sizeof sub / sizeof sub[0], usage);
}
