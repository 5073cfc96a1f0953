/* SPDX-License-Identifier: MIT */
/* The outbound API on its own private listener (TW_API_LISTEN, never the webhook port):
 *   POST /v1/messages       {"conversation_key","body","media_url":[...]} -> 202 {"id"}
 *   GET  /v1/messages/<id>  the job: {"id","state","sid","status","error_code","error_message"}
 * Both need "Authorization: Bearer <TW_API_TOKEN>". Without TW_API_TOKEN the API is off: nothing
 * listens on TW_API_LISTEN (an API without a token would let anyone send as us). */
#ifndef ING_API_H
#define ING_API_H

#include "common/config.h"
#include "common/err.h"

struct ing_api;

/* Starts the API when TW_API_TOKEN is set; *out stays NULL when it is off. Returns TW_OK,
 * TW_ECONFIG (TW_API_LISTEN unusable or the same port as TW_LISTEN: main exits 78), TW_EIO
 * (cannot listen) or TW_ENOMEM. cfg is borrowed and must outlive the API. */
int ing_api_start(const struct tw_config *cfg, struct ing_api **out) TW_MUSTCHECK;
/* Stops listening, lets requests in flight finish, frees everything. Accepts NULL. */
void ing_api_stop(struct ing_api *api);

#endif
