/* SPDX-License-Identifier: MIT */
/* Every Redis key suffix, stream field, group and route name fixed by the contract, spelled once. */
#ifndef TW_KEYS_H
#define TW_KEYS_H

/* Stream and key suffixes, appended to TW_REDIS_PREFIX. */
#define TW_K_INBOUND "inbound"
#define TW_K_STATUS "status"
#define TW_K_OUTBOUND "outbound"
#define TW_K_INBOUND_DEAD "inbound:dead"
#define TW_K_OUTBOUND_DEAD "outbound:dead"
#define TW_K_DEDUP "dedup:"     /* dedup:<inbound|status>:<token> -> stream id */
#define TW_K_MSG "msg:"         /* msg:<MessageSid> hash */
#define TW_K_HISTORY ":history" /* msg:<MessageSid>:history */
#define TW_K_OPTOUT "optout:"   /* optout:<account>:<destination> set of participants */
#define TW_K_JOB "job:"         /* job:<id> hash of one send job */
#define TW_K_IDEM "idem:"       /* idem:<Idempotency-Key> -> job id and request hash */
#define TW_K_OUTQ "outq:"       /* outq:<conversation_key> list of unfinished job ids, in order */
#define TW_K_PACE "pace:"       /* pace:id:<identity>, pace:conv:<conversation_key> */

/* Consumer groups. */
#define TW_G_WORKERS "workers"
#define TW_G_STATUS "status"
#define TW_G_SENDERS "senders"

/* Fields of inbound and status entries. */
#define TW_F_PAYLOAD "payload"
#define TW_F_CONVERSATION "conversation"
#define TW_F_CONVERSATION_KEY "conversation_key"
#define TW_F_IDEMPOTENCY_TOKEN "idempotency_token"
#define TW_F_RECEIVED_AT "received_at"
/* Fields of an outbound entry. */
#define TW_F_JOB_ID "job_id"

/* HTTP routes. */
#define TW_ROUTE_WEBHOOK "/channels/twilio/webhook"
#define TW_ROUTE_STATUS "/channels/twilio/status"
#define TW_ROUTE_HEALTHZ "/healthz"
#define TW_ROUTE_READYZ "/readyz"
#define TW_ROUTE_METRICS "/metrics"
#define TW_ROUTE_API_MESSAGES "/v1/messages"

#define TW_TWIML_EMPTY "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"

#endif
