/* SPDX-License-Identifier: MIT */
/* The admission script: claims the dedup key and appends the entry in one atomic step, so no
 * crash can leave a claim without its entry (or an entry without its claim). Redis runs a script
 * to its end before anything else, and AOF logs it whole. Scripts are not rolled back, so the
 * claim is written after XADD: if XADD fails (OOM, wrong type) no claim is left behind to
 * swallow Twilio's next attempt.
 * KEYS[1] dedup key, KEYS[2] stream; ARGV[1] claim TTL in seconds; ARGV[2..] field, value pairs.
 * Returns 1 when stored, 0 for a duplicate (the claim was there: the original was stored). */
#ifndef ING_ADMIT_SCRIPT_H
#define ING_ADMIT_SCRIPT_H

#define ING_ADMIT_LUA                                                                              \
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"                                    \
    "redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))\n"                                          \
    "redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])\n"                                             \
    "return 1\n"

#endif
