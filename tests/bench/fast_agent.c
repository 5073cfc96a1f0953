/* SPDX-License-Identifier: MIT */
/* A fast local agent for the worker benchmark: answers every POST 202 with a submissionId at
 * once, notes the Idempotency-Key and the arrival time (µs since the epoch), serves the count on
 * GET /count, and writes "key arrival_us" lines to a file when it gets SIGTERM. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_RECORDS 1000000

struct record {
    char key[64];
    long long us;
};

static struct record *records;
static size_t nrecords;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stop;

static long long now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)version;
    (void)upload;
    if (!*req_cls) {
        *req_cls = conn;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 && strcmp(url, "/count") == 0) {
        char body[32];
        pthread_mutex_lock(&lock);
        snprintf(body, sizeof body, "%zu", nrecords);
        pthread_mutex_unlock(&lock);
        return reply(conn, MHD_HTTP_OK, body);
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    long long t = now_us();
    pthread_mutex_lock(&lock);
    if (nrecords < MAX_RECORDS) {
        snprintf(records[nrecords].key, sizeof records[nrecords].key, "%s", key ? key : "-");
        records[nrecords].us = t;
        nrecords++;
    }
    pthread_mutex_unlock(&lock);
    return reply(conn, 202, "{\"submissionId\":\"bench\"}");
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fast_agent PORT OUTFILE\n");
        return 2;
    }
    records = calloc(MAX_RECORDS, sizeof *records);
    if (!records)
        return 1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)strtol(argv[1], NULL, 10));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_CONNECTION_LIMIT, 1024U, MHD_OPTION_CONNECTION_TIMEOUT, 30U, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fast_agent: cannot listen\n");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    FILE *f = fopen(argv[2], "w");
    if (!f)
        return 1;
    for (size_t i = 0; i < nrecords; i++)
        fprintf(f, "%s %lld\n", records[i].key, records[i].us);
    fclose(f);
    free(records);
    return 0;
}
