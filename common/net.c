/* SPDX-License-Identifier: MIT */
/* Listen address parsing, shared by every listener. */
#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common/config.h"

int tw_net_listen_addr(const char *listen, struct sockaddr_storage *ss, bool *ipv6)
{
    char host[256];
    int port;
    if (tw_cfg_split_listen(listen, host, sizeof host, &port) < 0)
        return TW_EINVAL;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *ipv6 = false;
        return TW_OK;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *ipv6 = true;
        return TW_OK;
    }
    return TW_EINVAL;
}
