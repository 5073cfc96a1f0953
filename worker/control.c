/* SPDX-License-Identifier: MIT */
/* STOP/START/HELP: the opt-out record follows the participant's last keyword. */
#include "worker/control.h"

#include <string.h>
#include <strings.h>

#include "common/optout.h"

enum wrk_control wrk_control_of(const struct wrk_entry *e)
{
    const char *t = wrk_entry_get(e, "OptOutType");
    if (!t)
        return WRK_CTL_NONE;
    if (strcasecmp(t, "STOP") == 0)
        return WRK_CTL_STOP;
    if (strcasecmp(t, "START") == 0)
        return WRK_CTL_START;
    if (strcasecmp(t, "HELP") == 0)
        return WRK_CTL_HELP;
    return WRK_CTL_NONE;
}

const char *wrk_control_name(enum wrk_control k)
{
    switch (k) {
    case WRK_CTL_STOP:
        return "STOP";
    case WRK_CTL_START:
        return "START";
    case WRK_CTL_HELP:
        return "HELP";
    case WRK_CTL_NONE:
        break;
    }
    return "";
}

static const char *conv_str(const struct wrk_entry *e, const char *name)
{
    const char *s = json_string_value(json_object_get(e->conversation, name));
    return s && *s ? s : NULL;
}

int wrk_control_apply(redisContext *c, const char *prefix, const struct wrk_entry *e,
                      enum wrk_control k)
{
    if (k != WRK_CTL_STOP && k != WRK_CTL_START)
        return TW_OK;
    const char *type = conv_str(e, "type");
    const char *account = conv_str(e, "accountSid");
    const char *participant = conv_str(e, "participant");
    const char *dest = type && strcmp(type, "messaging-service") == 0
                           ? conv_str(e, "messagingServiceSid")
                           : conv_str(e, "address");
    if (!type || !account || !participant || !dest)
        return TW_EPARSE;
    return tw_optout_set(c, prefix, account, dest, participant, k == WRK_CTL_STOP);
}
