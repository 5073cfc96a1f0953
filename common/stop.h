/* SPDX-License-Identifier: MIT */
/* SIGTERM/SIGINT to a flag the main loops poll. */
#ifndef TW_STOP_H
#define TW_STOP_H

#include <stdbool.h>

/* Installs handlers for SIGTERM and SIGINT and ignores SIGPIPE. */
void tw_stop_install(void);
bool tw_stop_requested(void);
/* Sets the flag from ordinary code (tests, fatal paths). */
void tw_stop_request(void);
/* Sleeps up to ms milliseconds, returning early when a stop is requested. */
void tw_stop_sleep_ms(long ms);

#endif
