/* SPDX-License-Identifier: MIT */
/* Listen addresses ("host:port", numeric) turned into socket addresses for libmicrohttpd. */
#ifndef TW_NET_H
#define TW_NET_H

#include <stdbool.h>
#include <sys/socket.h>

#include "common/err.h"

/* Fills ss from listen ("127.0.0.1:8080", "[::1]:8080"); *ipv6 tells the family.
 * Returns TW_OK, or TW_EINVAL when the host is not a numeric address or the port is bad. */
int tw_net_listen_addr(const char *listen, struct sockaddr_storage *ss, bool *ipv6) TW_MUSTCHECK;

#endif
