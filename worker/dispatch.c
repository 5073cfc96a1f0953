/* SPDX-License-Identifier: MIT */
/* The explicit agent table: every kind listed in WRK_AGENTS (agent.h), found by TW_AGENT. */
#include <string.h>

#include "worker/agent.h"

static const struct wrk_agent_vtable *const agents[] = {
#define WRK_AGENT_ROW(n) &wrk_agent_##n,
    WRK_AGENTS(WRK_AGENT_ROW)
#undef WRK_AGENT_ROW
};

const struct wrk_agent_vtable *wrk_agent_find(const char *name)
{
    for (size_t i = 0; i < sizeof agents / sizeof agents[0]; i++)
        if (strcmp(agents[i]->name, name) == 0)
            return agents[i];
    return NULL;
}
