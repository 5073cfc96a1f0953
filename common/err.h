/* SPDX-License-Identifier: MIT */
/* Error codes shared by every module: TW_OK or a negative enum tw_err. */
#ifndef TW_ERR_H
#define TW_ERR_H

#define TW_MUSTCHECK __attribute__((warn_unused_result))

/* X(name, text): one row per error. The table feeds both the enum and tw_strerror(). */
#define TW_ERR_MAP(X)                                                                              \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(CONFIG, "bad configuration")                                                                 \
    X(TOOBIG, "input too large")                                                                   \
    X(PARSE, "malformed input")                                                                    \
    X(UTF8, "invalid UTF-8")                                                                       \
    X(SIG, "signature mismatch")                                                                   \
    X(KEY, "not a canonical conversation key")                                                     \
    X(REDIS, "redis error")                                                                        \
    X(TIMEOUT, "timed out")                                                                        \
    X(IO, "i/o error")                                                                             \
    X(NOTFOUND, "not found")                                                                       \
    X(DUP, "duplicate")                                                                            \
    X(HTTP, "http error")

enum tw_err {
    TW_OK = 0,
#define TW_ERR_ENUM(name, text) TW_E##name,
    TW__ERR_FIRST = -100,
    TW_ERR_MAP(TW_ERR_ENUM)
#undef TW_ERR_ENUM
};

/* Returns a static text for an error code (never NULL). */
const char *tw_strerror(int err);

#endif
