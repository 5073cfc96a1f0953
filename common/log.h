/* SPDX-License-Identifier: MIT */
/* Structured logging: one JSON object per line on stdout. */
#ifndef TW_LOG_H
#define TW_LOG_H

#include <stdbool.h>

enum tw_log_level { TW_LOG_DEBUG = 0, TW_LOG_INFO_L, TW_LOG_WARN_L, TW_LOG_ERROR_L };

enum tw_log_ftype { TW_LF_NONE = 0, TW_LF_STR, TW_LF_INT, TW_LF_DBL };

struct tw_log_field {
    const char *key;  /* borrowed */
    enum tw_log_ftype type;
    const char *s;    /* borrowed; NULL is logged as null */
    long long i;
    double d;
};

#define TW_F_STR(k, v) ((struct tw_log_field){.key = (k), .type = TW_LF_STR, .s = (v)})
#define TW_F_INT(k, v) ((struct tw_log_field){.key = (k), .type = TW_LF_INT, .i = (long long)(v)})
#define TW_F_DBL(k, v) ((struct tw_log_field){.key = (k), .type = TW_LF_DBL, .d = (double)(v)})

/* Sets the component name (borrowed: a string literal) and the minimum level. */
void tw_log_init(const char *component, enum tw_log_level level);
bool tw_log_enabled(enum tw_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int tw_log_level_parse(const char *s);
void tw_log_emit(enum tw_log_level level, const char *msg, const struct tw_log_field *fields,
                 int nfields);

/* Copies a phone-like address into out with all but its last 4 characters masked. */
void tw_log_mask(char *out, unsigned outsz, const char *addr);

/* The level is tested before the fields are evaluated. */
#define TW_LOG(lvl, msg, ...)                                                                      \
    do {                                                                                           \
        if (tw_log_enabled(lvl)) {                                                                 \
            const struct tw_log_field tw_f__[] = {{0}, ##__VA_ARGS__};                             \
            tw_log_emit(lvl, msg, tw_f__ + 1, (int)(sizeof tw_f__ / sizeof tw_f__[0]) - 1);        \
        }                                                                                          \
    } while (0)
#define TW_LOG_DEBUG(msg, ...) TW_LOG(TW_LOG_DEBUG, msg, ##__VA_ARGS__)
#define TW_LOG_INFO(msg, ...) TW_LOG(TW_LOG_INFO_L, msg, ##__VA_ARGS__)
#define TW_LOG_WARN(msg, ...) TW_LOG(TW_LOG_WARN_L, msg, ##__VA_ARGS__)
#define TW_LOG_ERROR(msg, ...) TW_LOG(TW_LOG_ERROR_L, msg, ##__VA_ARGS__)

#endif
