/* SPDX-License-Identifier: MIT */
/* The admission script: claims the dedup key and appends the entry in one atomic step, so no
 * crash can leave a claim without its entry (or an entry without its claim).
 * KEYS[1] dedup key, KEYS[2] stream; ARGV[1] claim TTL in seconds; ARGV[2..] field, value pairs.
 * Returns {1, id} when stored, {0, id-of-the-original} for a duplicate. */
#ifndef ING_ADMIT_SCRIPT_H
#define ING_ADMIT_SCRIPT_H

#define ING_ADMIT_LUA                                                                              \
    "local prev = redis.call('GET', KEYS[1])\n"                                                    \
    "if prev then return {0, prev} end\n"                                                          \
    "local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))\n"                               \
    "redis.call('SET', KEYS[1], id, 'EX', ARGV[1])\n"                                              \
    "return {1, id}\n"

#endif
