/* SPDX-License-Identifier: MIT */
/* Requests to Twilio's REST API with libcurl, and what their ends mean for a job:
 * created, safe to retry, failed for good, or ambiguous (the message may exist). */
#ifndef SND_TWILIO_H
#define SND_TWILIO_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "sender/twilio_resp.h"

#define SND_RESP_MAX (1024 * 1024) /* bytes of an answer we keep */
#define SND_CONNECT_TIMEOUT_MS 5000L

enum snd_outcome {
    SND_OK = 0,    /* created (or, for a list, answered) */
    SND_RETRY,     /* Twilio did not process it: 429, 401, or nothing was sent */
    SND_PERMANENT, /* 4xx: it will never work */
    SND_AMBIGUOUS, /* timeout after sending, 5xx, connection lost: the message may exist */
};

/* One HTTP request to Twilio, from set-up to its end. */
struct snd_req {
    CURL *easy;          /* owned */
    char *url;           /* owned, malloc */
    char *post;          /* owned, malloc: form body; NULL for a GET */
    struct tw_buf resp;  /* the answer body, capped at SND_RESP_MAX */
    long retry_after_ms; /* Retry-After, -1 when absent */
    int writes;          /* times libcurl was about to write the request (see snd_twilio_create) */
    char errbuf[CURL_ERROR_SIZE];
    void *owner; /* borrowed: whoever started it */
};

/* What one create request carries. All borrowed. Exactly one of from and mg. */
struct snd_send {
    const char *to;
    const char *from;
    const char *mg;
    const char *body; /* NULL or "" to leave Body out (media only) */
    const char *const *media;
    size_t nmedia;
    const char *status_callback; /* NULL: none */
};

/* Sets up r (which it initialises) as POST <base>/2010-04-01/Accounts/<AC>/Messages.json with
 * Basic auth (API key when configured), TLS verified, connect and total timeouts.
 * Returns TW_OK, TW_EINVAL (no To, or not exactly one of From/MessagingServiceSid), TW_ENOMEM.
 * On error r is cleaned up. */
int snd_twilio_create(struct snd_req *r, const struct tw_config *cfg,
                      const struct snd_send *s) TW_MUSTCHECK;

/* Sets up r as GET of the message list filtered by To and From (each optional) and, when
 * day is not NULL ("YYYY-MM-DD"), DateSent on or after that day; newest first, page_size. */
int snd_twilio_list(struct snd_req *r, const struct tw_config *cfg, const char *to,
                    const char *from, const char *day, int page_size) TW_MUSTCHECK;

void snd_req_cleanup(struct snd_req *r);

/* The meaning of a finished request. Strings owned, malloc (NULL when absent). */
struct snd_result {
    enum snd_outcome outcome;
    long http_status;    /* 0 when no answer came */
    long retry_after_ms; /* -1 when absent */
    char *code;          /* Twilio's error code, e.g. "21211" */
    char *message;
    char *more_info;
    const char *why;    /* static, for logs and metric labels: "429", "5xx", "timeout", ... */
    struct snd_msg msg; /* SND_OK of a create: the created message */
};

/* Classifies the end of a create request (rc is curl's result for it). */
void snd_twilio_classify_create(struct snd_req *r, CURLcode rc, struct snd_result *out);
/* Classifies the end of a list request: SND_OK with a 200, else SND_RETRY. */
void snd_twilio_classify_list(struct snd_req *r, CURLcode rc, struct snd_result *out);
void snd_result_cleanup(struct snd_result *res);

#endif
