/* SPDX-License-Identifier: MIT */
/* Twilio's JSON answers, parsed with jansson: a message resource, an error, a message list. */
#ifndef SND_TWILIO_RESP_H
#define SND_TWILIO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The parts of a message resource the sender uses. Strings owned, malloc; NULL when the field
 * is missing or null. */
struct snd_msg {
    char *sid;
    char *status;
    char *to;
    char *from;
    char *messaging_service_sid;
    char *body;
    long num_media;     /* -1 when absent */
    int64_t created_ms; /* date_created, ms since the epoch; -1 when absent or unparseable */
};

void snd_msg_cleanup(struct snd_msg *m);

/* A created message (Twilio's 201 answer). Requires a sid of SM/MM + 32 hex and a status.
 * Returns TW_OK, TW_EPARSE (m left empty) or TW_ENOMEM. */
int snd_resp_message(const char *json, size_t len, struct snd_msg *m) TW_MUSTCHECK;

/* Twilio's error body {"code","message","more_info","status"}. Each out string is new (caller
 * frees with free()) or NULL when absent; code is rendered as decimal text. Returns TW_OK or
 * TW_EPARSE (nothing allocated) or TW_ENOMEM. */
int snd_resp_error(const char *json, size_t len, char **code, char **message,
                   char **more_info) TW_MUSTCHECK;

/* A page of the message list. *msgs is new (free with snd_msg_list_free); entries that are not
 * message objects are skipped. *has_next tells whether next_page_uri is set. */
int snd_resp_list(const char *json, size_t len, struct snd_msg **msgs, size_t *n,
                  bool *has_next) TW_MUSTCHECK;
void snd_msg_list_free(struct snd_msg *msgs, size_t n);

/* Parses an RFC 2822 date as Twilio writes it ("Thu, 24 Aug 2023 05:01:45 +0000", the day name
 * optional, any numeric zone). Returns TW_OK or TW_EPARSE. */
int snd_rfc2822_parse(const char *s, int64_t *ms) TW_MUSTCHECK;

#endif
