/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the sender's files. */
#ifndef SND_UTIL_H
#define SND_UTIL_H

#include <hiredis/hiredis.h>
#include <stdint.h>

/* a + b + c (c may be NULL). new: caller frees with free(); NULL when out of memory. */
char *snd_join(const char *a, const char *b, const char *c);

/* A copy of a string reply's bytes (new: free()), or NULL when r is not a string. */
char *snd_reply_str(const redisReply *r);
/* The integer value of an integer or numeric string reply, or def. */
int64_t snd_reply_int(const redisReply *r, int64_t def);

/* 32 random hex digits (out holds 33). */
void snd_random_hex(char out[33]);

#endif
