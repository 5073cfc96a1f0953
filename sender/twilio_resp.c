/* SPDX-License-Identifier: MIT */
/* Parsing Twilio's answers. Nothing here trusts the input: every field is type-checked. */
#include "sender/twilio_resp.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void snd_msg_cleanup(struct snd_msg *m)
{
    free(m->sid);
    free(m->status);
    free(m->to);
    free(m->from);
    free(m->messaging_service_sid);
    free(m->body);
    memset(m, 0, sizeof *m);
}

void snd_msg_list_free(struct snd_msg *msgs, size_t n)
{
    for (size_t i = 0; msgs && i < n; i++)
        snd_msg_cleanup(&msgs[i]);
    free(msgs);
}

/* Copies a string field; absent, null or non-string leaves *out NULL. */
static int copy_str(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!json_is_string(v))
        return TW_OK;
    *out = strndup(json_string_value(v), json_string_length(v));
    return *out ? TW_OK : TW_ENOMEM;
}

static bool sid_ok(const char *s)
{
    return s && strlen(s) == 34 && (strncmp(s, "SM", 2) == 0 || strncmp(s, "MM", 2) == 0) &&
           strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

int snd_rfc2822_parse(const char *s, int64_t *ms)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (!s)
        return TW_EPARSE;
    const char *comma = strchr(s, ',');
    if (comma)
        s = comma + 1;
    int day, year, hh, mm, ss, used = 0;
    char mon[4], zone[8];
    if (sscanf(s, " %2d %3s %4d %2d:%2d:%2d %7s%n", &day, mon, &year, &hh, &mm, &ss, zone, &used) !=
        7)
        return TW_EPARSE;
    const char *m = strstr(months, mon);
    if (strlen(mon) != 3 || !m || (m - months) % 3 != 0 || day < 1 || day > 31 || hh > 23 ||
        mm > 59 || ss > 60 || year < 1970)
        return TW_EPARSE;
    long off = 0;
    if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 5 &&
        strspn(zone + 1, "0123456789") == 4) {
        off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600L +
              ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60L;
        if (zone[0] == '-')
            off = -off;
    } else if (strcmp(zone, "GMT") != 0 && strcmp(zone, "UT") != 0 && strcmp(zone, "Z") != 0) {
        return TW_EPARSE;
    }
    struct tm tm = {0};
    tm.tm_mday = day;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year = year - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return TW_EPARSE;
    *ms = ((int64_t)t - off) * 1000;
    return TW_OK;
}

/* Fills m from a message object; TW_EPARSE when it has no valid sid. */
static int from_object(json_t *o, struct snd_msg *m)
{
    memset(m, 0, sizeof *m);
    m->num_media = -1;
    m->created_ms = -1;
    if (!json_is_object(o) || !sid_ok(json_string_value(json_object_get(o, "sid"))))
        return TW_EPARSE;
    int rc = TW_OK;
    if ((rc = copy_str(o, "sid", &m->sid)) < 0 || (rc = copy_str(o, "status", &m->status)) < 0 ||
        (rc = copy_str(o, "to", &m->to)) < 0 || (rc = copy_str(o, "from", &m->from)) < 0 ||
        (rc = copy_str(o, "messaging_service_sid", &m->messaging_service_sid)) < 0 ||
        (rc = copy_str(o, "body", &m->body)) < 0)
        goto out;
    /* num_media is a string in Twilio's schema; accept a number too */
    json_t *nm = json_object_get(o, "num_media");
    if (json_is_integer(nm)) {
        if (json_integer_value(nm) >= 0 && json_integer_value(nm) <= LONG_MAX)
            m->num_media = (long)json_integer_value(nm);
    } else if (json_is_string(nm)) {
        char *end;
        long v = strtol(json_string_value(nm), &end, 10);
        if (end != json_string_value(nm) && *end == '\0' && v >= 0)
            m->num_media = v;
    }
    int64_t at;
    if (snd_rfc2822_parse(json_string_value(json_object_get(o, "date_created")), &at) == TW_OK)
        m->created_ms = at;
out:
    if (rc < 0)
        snd_msg_cleanup(m);
    return rc;
}

int snd_resp_message(const char *json, size_t len, struct snd_msg *m)
{
    json_error_t err;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    memset(m, 0, sizeof *m);
    if (!o)
        return TW_EPARSE;
    int rc = from_object(o, m);
    if (rc == TW_OK && !m->status) {
        snd_msg_cleanup(m);
        rc = TW_EPARSE;
    }
    json_decref(o);
    return rc;
}

int snd_resp_error(const char *json, size_t len, char **code, char **message, char **more_info)
{
    *code = *message = *more_info = NULL;
    json_error_t err;
    json_t *o = json_loadb(json, len, 0, &err);
    int rc = TW_EPARSE;
    if (!json_is_object(o))
        goto out;
    json_t *c = json_object_get(o, "code");
    char num[32] = "";
    if (json_is_integer(c))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(c));
    else if (json_is_string(c) && json_string_length(c) < sizeof num &&
             strspn(json_string_value(c), "0123456789") == json_string_length(c))
        snprintf(num, sizeof num, "%s", json_string_value(c));
    if (!num[0] && !json_is_string(json_object_get(o, "message")))
        goto out;
    rc = TW_ENOMEM;
    if (num[0] && !(*code = strdup(num)))
        goto out;
    if (copy_str(o, "message", message) < 0 || copy_str(o, "more_info", more_info) < 0)
        goto out;
    rc = TW_OK;
out:
    if (rc < 0) {
        free(*code);
        free(*message);
        free(*more_info);
        *code = *message = *more_info = NULL;
    }
    json_decref(o);
    return rc;
}

int snd_resp_list(const char *json, size_t len, struct snd_msg **msgs, size_t *n, bool *has_next)
{
    *msgs = NULL;
    *n = 0;
    *has_next = false;
    json_error_t err;
    json_t *o = json_loadb(json, len, 0, &err);
    json_t *arr = json_object_get(o, "messages");
    int rc = TW_EPARSE;
    if (!json_is_array(arr))
        goto out;
    rc = TW_OK;
    size_t cnt = json_array_size(arr);
    if (cnt == 0)
        goto done;
    *msgs = calloc(cnt, sizeof **msgs);
    if (!*msgs) {
        rc = TW_ENOMEM;
        goto out;
    }
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        int r = from_object(m, &(*msgs)[*n]);
        if (r == TW_ENOMEM) {
            rc = r;
            goto out;
        }
        if (r == TW_OK)
            (*n)++;
    }
done:
    *has_next = json_is_string(json_object_get(o, "next_page_uri"));
out:
    if (rc < 0) {
        snd_msg_list_free(*msgs, *n);
        *msgs = NULL;
        *n = 0;
    }
    json_decref(o);
    return rc;
}
