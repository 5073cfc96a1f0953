/* SPDX-License-Identifier: MIT */
/* Texts of the error codes. */
#include "common/err.h"

const char *tw_strerror(int err)
{
    switch (err) {
    case TW_OK:
        return "ok";
#define TW_ERR_CASE(name, text)                                                                    \
    case TW_E##name:                                                                               \
        return text;
        TW_ERR_MAP(TW_ERR_CASE)
#undef TW_ERR_CASE
    default:
        return "unknown error";
    }
}
