/* SPDX-License-Identifier: MIT */
/* JSON log lines, built with jansson so escaping is always right. */
#include "common/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static const char *component_name = "tw";
static enum tw_log_level min_level = TW_LOG_INFO_L;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void tw_log_init(const char *component, enum tw_log_level level)
{
    component_name = component;
    min_level = level;
}

bool tw_log_enabled(enum tw_log_level level)
{
    return level >= min_level;
}

int tw_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

void tw_log_mask(char *out, unsigned outsz, const char *addr)
{
    size_t n = addr ? strlen(addr) : 0;
    if (outsz == 0)
        return;
    size_t i = 0;
    for (; i < n && i + 1 < outsz; i++)
        out[i] = (i + 4 < n && addr[i] >= '0' && addr[i] <= '9') ? '*' : addr[i];
    out[i] = '\0';
}

void tw_log_emit(enum tw_log_level level, const char *msg, const struct tw_log_field *fields,
                 int nfields)
{
    struct timeval tv;
    struct tm tm;
    char ts[40];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));

    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "component", json_string(component_name));
    json_object_set_new(o, "msg", json_string(msg));
    for (int i = 0; i < nfields; i++) {
        const struct tw_log_field *f = &fields[i];
        json_t *v = NULL;
        if (f->type == TW_LF_STR)
            v = f->s ? json_stringn(f->s, strlen(f->s)) : json_null();
        else if (f->type == TW_LF_INT)
            v = json_integer(f->i);
        else if (f->type == TW_LF_DBL)
            v = json_real(f->d);
        if (v)
            json_object_set_new(o, f->key, v);
    }
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!line)
        return;
    pthread_mutex_lock(&out_lock);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    free(line);
}
