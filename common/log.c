/* SPDX-License-Identifier: MIT */
/* JSON log lines, escaped by hand into one buffer and written with one write(2): a log line
 * costs no allocation on the hot path, and lines from several threads never interleave. */
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/jsonw.h"

/* A log line that cannot grow is cut short, never fatal. */
#define LOSSY(call)                                                                                \
    do {                                                                                           \
        if ((call) != TW_OK) {                                                                     \
        }                                                                                          \
    } while (0)

static const char *component_name = "tw";
static enum tw_log_level min_level = TW_LOG_INFO_L;
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

static void put_string(struct tw_buf *b, const char *s)
{
    LOSSY(tw_jsonw_string(b, s, strlen(s)));
}

/* "2026-12-03T17:26:05.123Z"; the part up to the seconds is cached per thread. */
static void put_time(struct tw_buf *b)
{
    static __thread time_t cached_sec = -1;
    static __thread char cached[24];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = tv.tv_sec;
    }
    LOSSY(tw_buf_printf(b, "\"%s.%03ldZ\"", cached, (long)(tv.tv_usec / 1000)));
}

void tw_log_emit(enum tw_log_level level, const char *msg, const struct tw_log_field *fields,
                 int nfields)
{
    struct tw_buf b;
    tw_buf_init(&b, 64 * 1024);
    LOSSY(tw_buf_puts(&b, "{\"ts\":"));
    put_time(&b);
    LOSSY(tw_buf_printf(&b, ",\"level\":\"%s\",\"component\":", level_names[level]));
    put_string(&b, component_name);
    LOSSY(tw_buf_puts(&b, ",\"msg\":"));
    put_string(&b, msg);
    for (int i = 0; i < nfields; i++) {
        const struct tw_log_field *f = &fields[i];
        LOSSY(tw_buf_puts(&b, ","));
        put_string(&b, f->key);
        LOSSY(tw_buf_puts(&b, ":"));
        if (f->type == TW_LF_STR && f->s)
            put_string(&b, f->s);
        else if (f->type == TW_LF_INT)
            LOSSY(tw_buf_printf(&b, "%lld", f->i));
        else if (f->type == TW_LF_DBL && f->d == f->d && f->d - f->d == 0)
            LOSSY(tw_buf_printf(&b, "%.3f", f->d));
        else
            LOSSY(tw_buf_puts(&b, "null"));
    }
    LOSSY(tw_buf_puts(&b, "}\n"));
    if (b.data) {
        /* One write per line: atomic for a pipe up to PIPE_BUF, and never interleaved mid-line
         * by our own threads since nobody else buffers. */
        size_t off = 0;
        while (off < b.len) {
            ssize_t w = write(STDOUT_FILENO, b.data + off, b.len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    tw_buf_cleanup(&b);
}
