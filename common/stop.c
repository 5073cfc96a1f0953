/* SPDX-License-Identifier: MIT */
/* Signal handlers only set a flag; they never log. */
#include "common/stop.h"

#include <signal.h>
#include <stdatomic.h>
#include <time.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void tw_stop_install(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool tw_stop_requested(void)
{
    return stop_flag != 0;
}

void tw_stop_request(void)
{
    stop_flag = 1;
}

void tw_stop_sleep_ms(long ms)
{
    while (ms > 0 && !stop_flag) {
        long step = ms > 50 ? 50 : ms;
        struct timespec ts = {step / 1000, (step % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}
