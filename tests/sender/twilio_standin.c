/* SPDX-License-Identifier: MIT */
/* A Twilio stand-in for tests and the local demo: the Messages create and list endpoints of the
 * 2010-04-01 REST API, answered the way Twilio answers them, plus a control API to script
 * failures (429, 5xx, a 4xx code, a hang, a closed connection) and to read what was received.
 *
 * It deliberately shares no code with the system under test (its own form decoder), so a bug in
 * common/ cannot hide itself by agreeing with its own stand-in.
 *
 *   tw-twilio-standin --port N --account AC... --token T [--api-key-sid SK.. --api-key-secret S]
 *                     [--latency-ms N] [--sent-after-ms N]
 *
 * A created message answers with status queued (accepted for a Messaging Service without From)
 * and date_sent null; the list shows it as sent, with date_sent, once --sent-after-ms (default
 * 1000, -1 never) has passed, so DateSent filters behave as Twilio's do for queued messages.
 *
 * Control (no auth, loopback only):
 *   POST /_control/script  {"actions":[{...}, ...]}  queued answers, consumed in order; fields:
 *        op "create"|"list" (default create), status (HTTP status to answer), code, message,
 *        retry_after (seconds), create (true: the message is created before the answer),
 *        hang_ms (wait before answering), close (true: close the connection, no answer),
 *        times (default 1), to (applies only to creates for this To)
 *   GET  /_control/log       {"requests":[{seq, at_ms, method, path, auth_user, content_type,
 *                             params:[[name,value],...], status, sid, client_port}]}
 *   GET  /_control/messages  {"messages":[<message resource>...]} in creation order
 *   POST /_control/reset     forget everything */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX (1024 * 1024)
#define PREFIX_ACCOUNTS "/2010-04-01/Accounts/"

static struct {
    const char *account, *token, *key_sid, *key_secret;
    long latency_ms;
    long sent_after_ms; /* -1: never */
} opt = {.sent_after_ms = 1000};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *requests; /* array of request records */
static json_t *messages; /* array of message resources, creation order */
static json_t *script;   /* array of pending actions */
static long seq;
static volatile sig_atomic_t stopping;

static void on_signal(int s)
{
    (void)s;
    stopping = 1;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void sleep_ms(long ms)
{
    while (ms > 0 && !stopping) {
        long step = ms > 20 ? 20 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* ------------------------------------------------------------------ forms */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one x-www-form-urlencoded component; NULL on a bad escape. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Parses a form into a JSON array of [name, value] pairs; NULL when malformed. */
static json_t *parse_form(const char *body, size_t len)
{
    json_t *pairs = json_array();
    size_t i = 0;
    while (pairs && i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && body[eq] != '=')
                eq++;
            char *name = decode(body + i, eq - i);
            char *value = eq < end ? decode(body + eq + 1, end - eq - 1) : strdup("");
            if (!name || !value) {
                free(name);
                free(value);
                json_decref(pairs);
                return NULL;
            }
            json_array_append_new(pairs, json_pack("[s,s]", name, value));
            free(name);
            free(value);
        }
        i = end + 1;
    }
    return pairs;
}

/* The only value of name, the first of several, or NULL. */
static const char *form_get(json_t *pairs, const char *name, int *count)
{
    const char *v = NULL;
    size_t i;
    json_t *p;
    int n = 0;
    json_array_foreach(pairs, i, p)
    {
        if (strcmp(json_string_value(json_array_get(p, 0)), name) == 0) {
            if (!v)
                v = json_string_value(json_array_get(p, 1));
            n++;
        }
    }
    if (count)
        *count = n;
    return v;
}

/* ------------------------------------------------------------------ answers */

struct req {
    char *body; /* owned, malloc */
    size_t len;
    bool too_big;
};

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *o,
                                 long retry_after)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return MHD_NO;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    if (retry_after > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%ld", retry_after);
        MHD_add_response_header(r, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Twilio's error body. */
static json_t *twilio_error(int code, const char *message, unsigned status)
{
    char more[96];
    snprintf(more, sizeof more, "https://www.twilio.com/docs/errors/%d", code);
    return json_pack("{s:i,s:s,s:s,s:i}", "code", code, "message", message, "more_info", more,
                     "status", (int)status);
}

static void rfc2822(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static bool e164(const char *s)
{
    const char *p = strchr(s, ':'); /* whatsapp:+1..., messenger:... */
    if (p)
        s = p + 1;
    if (s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = strlen(s + 1);
    if (n < 2 || n > 15)
        return false;
    return strspn(s + 1, "0123456789") == n;
}

static bool is_mg(const char *s)
{
    return strlen(s) == 34 && strncmp(s, "MG", 2) == 0 &&
           strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

/* Number of UTF-8 characters (code points). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static json_t *new_message(json_t *pairs, const char *account)
{
    unsigned char rnd[16];
    char sid[35] = "SM", created[64], uri[160], media[192];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return NULL;
    for (int i = 0; i < 16; i++)
        snprintf(sid + 2 + 2 * i, 3, "%02x", rnd[i]);
    int64_t at = now_ms();
    rfc2822(at, created, sizeof created);
    snprintf(uri, sizeof uri, PREFIX_ACCOUNTS "%s/Messages/%s.json", account, sid);
    snprintf(media, sizeof media, PREFIX_ACCOUNTS "%s/Messages/%s/Media.json", account, sid);
    int nmedia = 0;
    const char *body = form_get(pairs, "Body", NULL);
    const char *from = form_get(pairs, "From", NULL);
    const char *mg = form_get(pairs, "MessagingServiceSid", NULL);
    form_get(pairs, "MediaUrl", &nmedia);
    size_t nc = body ? chars(body) : 0;
    char nmed[16], nseg[24];
    snprintf(nmed, sizeof nmed, "%d", nmedia);
    snprintf(nseg, sizeof nseg, "%zu", nc <= 160 ? (size_t)1 : (nc + 152) / 153);
    /* A Messaging Service without From picks the number later: status accepted, from null. */
    const char *status = (mg && !from) ? "accepted" : "queued";
    json_t *m =
        json_pack("{s:s,s:s,s:s,s:s,s:n,s:s,s:s,s:n,s:n,s:o,s:o,s:s,s:s,s:n,s:s,s:s,"
                  "s:s,s:{s:s},s:s,s:I}",
                  "account_sid", account, "api_version", "2010-04-01", "body", body ? body : "",
                  "date_created", created, "date_sent", "date_updated", created, "direction",
                  "outbound-api", "error_code", "error_message", "from",
                  from ? json_string(from) : json_null(), "messaging_service_sid",
                  mg ? json_string(mg) : json_null(), "num_media", nmed, "num_segments", nseg,
                  "price", "price_unit", "USD", "sid", sid, "status", status, "subresource_uris",
                  "media", media, "to", form_get(pairs, "To", NULL), "_created_ms", (json_int_t)at);
    if (m)
        json_object_set_new(m, "uri", json_string(uri));
    return m;
}

/* What Twilio would show of m now: a queued message counts as sent (with its date_sent) once
 * --sent-after-ms has passed; the stand-in's private fields are left out. New reference. */
static json_t *public_copy(json_t *m)
{
    json_t *c = json_deep_copy(m);
    int64_t created = json_integer_value(json_object_get(m, "_created_ms"));
    const char *st = json_string_value(json_object_get(m, "status"));
    if (opt.sent_after_ms >= 0 && st && strcmp(st, "queued") == 0 &&
        now_ms() >= created + opt.sent_after_ms) {
        char date[64];
        rfc2822(created + opt.sent_after_ms, date, sizeof date);
        json_object_set_new(c, "status", json_string("sent"));
        json_object_set_new(c, "date_sent", json_string(date));
        json_object_set_new(c, "date_updated", json_string(date));
        json_object_set_new(c, "_sent_ms", json_integer(created + opt.sent_after_ms));
    }
    json_object_del(c, "_created_ms");
    return c;
}

static void strip_private(json_t *c)
{
    json_object_del(c, "_sent_ms");
}

/* Takes the first scripted action that applies (caller holds the lock); new reference. */
static json_t *take_action(const char *op, const char *to)
{
    size_t i;
    json_t *a;
    json_array_foreach(script, i, a)
    {
        const char *aop = json_string_value(json_object_get(a, "op"));
        const char *ato = json_string_value(json_object_get(a, "to"));
        if (strcmp(aop ? aop : "create", op) != 0)
            continue;
        if (ato && (!to || strcmp(ato, to) != 0))
            continue;
        json_t *copy = json_deep_copy(a);
        json_int_t times = json_integer_value(json_object_get(a, "times"));
        if (times > 1)
            json_object_set_new(a, "times", json_integer(times - 1));
        else
            json_array_remove(script, i);
        return copy;
    }
    return NULL;
}

/* The client's source port: requests that share a port came over one kept-alive connection. */
static int client_port(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    if (ci->client_addr->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
    return 0;
}

static void record(struct MHD_Connection *conn, const char *method, const char *path,
                   const char *user, const char *ctype, json_t *params, unsigned status,
                   const char *sid)
{
    json_t *r = json_pack("{s:I,s:I,s:s,s:s,s:s?,s:s?,s:O?,s:i,s:s?,s:i}", "seq", (json_int_t)++seq,
                          "at_ms", (json_int_t)now_ms(), "method", method, "path", path,
                          "auth_user", user, "content_type", ctype, "params", params, "status",
                          (int)status, "sid", sid, "client_port", client_port(conn));
    if (r)
        json_array_append_new(requests, r);
}

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *k,
                                     const char *v)
{
    (void)kind;
    json_array_append_new(cls, json_pack("[s,s]", k, v ? v : ""));
    return MHD_YES;
}

/* ------------------------------------------------------------------ routes */

/* Checks Basic auth: the account SID and token, or the API key and secret. */
static bool authorized(struct MHD_Connection *conn, char **user_out)
{
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(conn, &pass);
    bool ok = false;
    if (user && pass) {
        size_t ul = strlen(user), pl = strlen(pass);
        if (ul == strlen(opt.account) && pl == strlen(opt.token) &&
            CRYPTO_memcmp(user, opt.account, ul) == 0 && CRYPTO_memcmp(pass, opt.token, pl) == 0)
            ok = true;
        if (opt.key_sid && ul == strlen(opt.key_sid) && pl == strlen(opt.key_secret) &&
            CRYPTO_memcmp(user, opt.key_sid, ul) == 0 &&
            CRYPTO_memcmp(pass, opt.key_secret, pl) == 0)
            ok = true;
    }
    *user_out = user ? strdup(user) : NULL;
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    return ok;
}

static enum MHD_Result create_message(struct MHD_Connection *conn, const char *path,
                                      const char *account, struct req *rq, const char *user)
{
    const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    json_t *pairs = NULL, *answer = NULL, *action = NULL;
    unsigned status = 400;
    long retry_after = 0;
    const char *sid = NULL;
    char sid_buf[40];
    bool close_conn = false;

    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0 ||
        !(pairs = parse_form(rq->body ? rq->body : "", rq->len))) {
        pairs = json_array();
        answer = twilio_error(20001, "Unable to parse the request body", 400);
        goto reply;
    }
    const char *to = form_get(pairs, "To", NULL);
    const char *from = form_get(pairs, "From", NULL);
    const char *mg = form_get(pairs, "MessagingServiceSid", NULL);
    const char *body = form_get(pairs, "Body", NULL);
    int nmedia = 0;
    form_get(pairs, "MediaUrl", &nmedia);
    if (strcmp(account, opt.account) != 0) {
        status = 404;
        answer = twilio_error(20404, "The requested resource was not found", 404);
    } else if (!to || !*to) {
        answer = twilio_error(21604, "A 'To' phone number is required.", 400);
    } else if ((!from || !*from) && (!mg || !*mg)) {
        answer = twilio_error(21603, "A 'From' phone number is required.", 400);
    } else if (mg && !is_mg(mg)) {
        answer = twilio_error(21701, "The Messaging Service Sid is invalid.", 400);
    } else if ((!body || !*body) && nmedia == 0) {
        answer = twilio_error(21602, "Message body is required.", 400);
    } else if (body && chars(body) > 1600) {
        answer = twilio_error(21617,
                              "The concatenated message body exceeds the 1600 character "
                              "limit.",
                              400);
    } else if (nmedia > 10) {
        answer = twilio_error(21623, "Too many media URLs.", 400);
    } else if (!e164(to)) {
        answer = twilio_error(21211, "Invalid 'To' Phone Number", 400);
    }
    if (answer)
        goto reply;

    pthread_mutex_lock(&lock);
    action = take_action("create", to);
    pthread_mutex_unlock(&lock);
    bool create = true;
    status = 201;
    if (action) {
        json_int_t st = json_integer_value(json_object_get(action, "status"));
        if (st)
            status = (unsigned)st;
        json_t *cr = json_object_get(action, "create");
        create = cr ? json_is_true(cr) : status == 201;
        close_conn = json_is_true(json_object_get(action, "close"));
        retry_after = (long)json_integer_value(json_object_get(action, "retry_after"));
    }
    if (create) {
        json_t *m = new_message(pairs, account);
        if (!m) {
            json_decref(pairs);
            json_decref(action);
            return MHD_NO;
        }
        pthread_mutex_lock(&lock);
        json_array_append_new(messages, m);
        snprintf(sid_buf, sizeof sid_buf, "%s", json_string_value(json_object_get(m, "sid")));
        sid = sid_buf;
        if (status == 201) {
            /* the create answer always shows the first status */
            answer = json_deep_copy(m);
            json_object_del(answer, "_created_ms");
        }
        pthread_mutex_unlock(&lock);
    }
    if (!answer) {
        int code = action ? (int)json_integer_value(json_object_get(action, "code")) : 0;
        const char *msg = action ? json_string_value(json_object_get(action, "message")) : NULL;
        if (status == 429)
            answer = twilio_error(code ? code : 20429, msg ? msg : "Too Many Requests", 429);
        else if (status >= 500)
            answer = twilio_error(code ? code : 20500, msg ? msg : "Internal Server Error", status);
        else
            answer = twilio_error(code ? code : 21211, msg ? msg : "Error", status);
    }
reply:
    /* logged on arrival, so a client killed during a hang still shows its request */
    pthread_mutex_lock(&lock);
    record(conn, "POST", path, user, ctype, pairs, close_conn ? 0 : status, sid);
    pthread_mutex_unlock(&lock);
    if (action) {
        long hang = (long)json_integer_value(json_object_get(action, "hang_ms"));
        if (hang > 0)
            sleep_ms(hang);
    }
    if (opt.latency_ms > 0)
        sleep_ms(opt.latency_ms);
    json_decref(pairs);
    json_decref(action);
    if (close_conn) {
        json_decref(answer);
        return MHD_NO; /* MHD closes the connection without an answer */
    }
    return send_json(conn, status, answer, retry_after);
}

/* True when m matches the list filters (To, From, DateSent, DateSent<, DateSent>). */
static bool list_match(json_t *m, json_t *q)
{
    size_t i;
    json_t *p;
    json_array_foreach(q, i, p)
    {
        const char *k = json_string_value(json_array_get(p, 0));
        const char *v = json_string_value(json_array_get(p, 1));
        if (strcmp(k, "To") == 0 || strcmp(k, "From") == 0) {
            const char *mv = json_string_value(json_object_get(m, strcmp(k, "To") ? "from" : "to"));
            if (!mv || strcmp(mv, v) != 0)
                return false;
        } else if (strncmp(k, "DateSent", 8) == 0) {
            /* the date (YYYY-MM-DD, GMT) of date_sent; a message not sent yet has none */
            json_t *sent = json_object_get(m, "_sent_ms");
            if (!sent)
                return false;
            time_t t = (time_t)(json_integer_value(sent) / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            char day[16];
            strftime(day, sizeof day, "%Y-%m-%d", &tm);
            int c = strncmp(day, v, 10);
            if ((k[8] == '\0' && c != 0) || (k[8] == '<' && c > 0) || (k[8] == '>' && c < 0))
                return false;
        }
    }
    return true;
}

static enum MHD_Result list_messages(struct MHD_Connection *conn, const char *path,
                                     const char *account, const char *user)
{
    json_t *q = json_array();
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, q);
    unsigned status = 200;
    json_t *answer = NULL;
    pthread_mutex_lock(&lock);
    json_t *action = take_action("list", NULL);
    pthread_mutex_unlock(&lock);
    long page_size = 50;
    const char *ps = form_get(q, "PageSize", NULL);
    if (ps) {
        char *end;
        page_size = strtol(ps, &end, 10);
        if (*end || page_size < 1 || page_size > 1000) {
            status = 400;
            answer = twilio_error(20001, "Invalid PageSize", 400);
        }
    }
    if (!answer && strcmp(account, opt.account) != 0) {
        status = 404;
        answer = twilio_error(20404, "The requested resource was not found", 404);
    }
    if (!answer && action) {
        status = (unsigned)json_integer_value(json_object_get(action, "status"));
        long hang = (long)json_integer_value(json_object_get(action, "hang_ms"));
        if (hang > 0)
            sleep_ms(hang);
        if (status && status != 200)
            answer = twilio_error(status == 429 ? 20429 : 20500, "Scripted failure", status);
        else
            status = 200;
    }
    if (!answer) {
        json_t *list = json_array();
        pthread_mutex_lock(&lock);
        /* newest first, like Twilio */
        for (size_t i = json_array_size(messages);
             i-- > 0 && (long)json_array_size(list) < page_size;) {
            json_t *m = public_copy(json_array_get(messages, i));
            if (list_match(m, q)) {
                strip_private(m);
                json_array_append_new(list, m);
            } else {
                json_decref(m);
            }
        }
        pthread_mutex_unlock(&lock);
        char uri[512];
        snprintf(uri, sizeof uri, "%s?PageSize=%ld&Page=0", path, page_size);
        answer = json_pack("{s:o,s:i,s:s,s:n,s:i,s:I,s:n,s:i,s:s}", "messages", list, "end",
                           (int)json_array_size(list) - 1 < 0 ? 0 : (int)json_array_size(list) - 1,
                           "first_page_uri", uri, "next_page_uri", "page", 0, "page_size",
                           (json_int_t)page_size, "previous_page_uri", "start", 0, "uri", uri);
    }
    pthread_mutex_lock(&lock);
    record(conn, "GET", path, user, NULL, q, status, NULL);
    pthread_mutex_unlock(&lock);
    json_decref(q);
    json_decref(action);
    return send_json(conn, status, answer, 0);
}

static enum MHD_Result control(struct MHD_Connection *conn, const char *method, const char *url,
                               struct req *rq)
{
    json_t *answer = NULL;
    unsigned status = 200;
    pthread_mutex_lock(&lock);
    if (strcmp(method, "GET") == 0 && strcmp(url, "/_control/log") == 0) {
        answer = json_pack("{s:O}", "requests", requests);
    } else if (strcmp(method, "GET") == 0 && strcmp(url, "/_control/messages") == 0) {
        json_t *list = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(messages, i, m)
        {
            json_t *c = public_copy(m);
            strip_private(c);
            json_array_append_new(list, c);
        }
        answer = json_pack("{s:o}", "messages", list);
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/_control/reset") == 0) {
        json_array_clear(requests);
        json_array_clear(messages);
        json_array_clear(script);
        answer = json_object();
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/_control/script") == 0) {
        json_error_t err;
        json_t *in = rq->body ? json_loadb(rq->body, rq->len, 0, &err) : NULL;
        json_t *actions = json_object_get(in, "actions");
        if (!json_is_array(actions)) {
            status = 400;
            answer = json_pack("{s:s}", "error", "expected {\"actions\":[...]}");
        } else {
            json_array_extend(script, actions);
            answer = json_pack("{s:i}", "pending", (int)json_array_size(script));
        }
        json_decref(in);
    } else {
        status = 404;
        answer = json_pack("{s:s}", "error", "unknown control route");
    }
    pthread_mutex_unlock(&lock);
    return send_json(conn, status, answer, 0);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
    (void)cls;
    (void)version;
    struct req *rq = *con_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*size) {
        if (rq->len + *size > BODY_MAX) {
            rq->too_big = true;
        } else {
            char *nb = realloc(rq->body, rq->len + *size + 1);
            if (!nb)
                return MHD_NO;
            rq->body = nb;
            memcpy(rq->body + rq->len, data, *size);
            rq->len += *size;
            rq->body[rq->len] = '\0';
        }
        *size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return send_json(conn, 413, twilio_error(20001, "Request too large", 413), 0);
    if (strncmp(url, "/_control/", 10) == 0)
        return control(conn, method, url, rq);

    /* /2010-04-01/Accounts/<AC>/Messages.json */
    size_t pl = strlen(PREFIX_ACCOUNTS);
    const char *acc = url + pl;
    const char *slash = strncmp(url, PREFIX_ACCOUNTS, pl) == 0 ? strchr(acc, '/') : NULL;
    if (!slash || strcmp(slash, "/Messages.json") != 0 || (size_t)(slash - acc) > 64)
        return send_json(conn, 404,
                         twilio_error(20404, "The requested resource was not found", 404), 0);
    char account[65];
    memcpy(account, acc, (size_t)(slash - acc));
    account[slash - acc] = '\0';
    char *user = NULL;
    enum MHD_Result ret;
    if (!authorized(conn, &user)) {
        pthread_mutex_lock(&lock);
        record(conn, method, url, user, NULL, NULL, 401, NULL);
        pthread_mutex_unlock(&lock);
        ret = send_json(conn, 401, twilio_error(20003, "Authenticate", 401), 0);
    } else if (strcmp(method, "POST") == 0) {
        ret = create_message(conn, url, account, rq, user);
    } else if (strcmp(method, "GET") == 0) {
        ret = list_messages(conn, url, account, user);
    } else {
        ret = send_json(conn, 405, twilio_error(20004, "Method not allowed", 405), 0);
    }
    free(user);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: tw-twilio-standin --port N --account AC... --token T "
                    "[--api-key-sid SK... --api-key-secret S] [--latency-ms N] "
                    "[--sent-after-ms N]\n");
}

int main(int argc, char **argv)
{
    long port = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        char *end = NULL;
        if (!strcmp(k, "--port"))
            port = strtol(v, &end, 10);
        else if (!strcmp(k, "--account"))
            opt.account = v;
        else if (!strcmp(k, "--token"))
            opt.token = v;
        else if (!strcmp(k, "--api-key-sid"))
            opt.key_sid = v;
        else if (!strcmp(k, "--api-key-secret"))
            opt.key_secret = v;
        else if (!strcmp(k, "--latency-ms"))
            opt.latency_ms = strtol(v, &end, 10);
        else if (!strcmp(k, "--sent-after-ms"))
            opt.sent_after_ms = strtol(v, &end, 10);
        else {
            usage();
            return 2;
        }
        if (end && *end) {
            usage();
            return 2;
        }
    }
    if (port < 0 || port > 65535 || !opt.account || !opt.token ||
        (!opt.key_sid != !opt.key_secret) || (argc % 2) != 1) {
        usage();
        return 2;
    }
    requests = json_array();
    messages = json_array();
    script = json_array();
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "tw-twilio-standin: cannot listen on 127.0.0.1:%ld\n", port);
        return 1;
    }
    printf("tw-twilio-standin listening on 127.0.0.1:%ld (Twilio is simulated)\n", port);
    fflush(stdout);
    while (!stopping)
        sleep_ms(100);
    MHD_stop_daemon(d);
    json_decref(requests);
    json_decref(messages);
    json_decref(script);
    return 0;
}
