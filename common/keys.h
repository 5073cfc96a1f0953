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
#define TW_K_STATUS_DEAD "status:dead" /* status entries whose hook failed for good */
#define TW_K_INQ "inq:"         /* inq:<conversation_key> list of unfinished inbound ids, in order */
#define TW_K_OUTCOME "outcome:" /* outcome:<MessageSid> hash: the worker's dispatch outcome */

/* Fields of an outcome record (outcome:<MessageSid>), kept TW_OUTCOME_TTL_S seconds after the
 * last attempt. While attempts go on, "outcome" is absent. */
#define TW_O_OUTCOME "outcome"     /* dispatched | skipped | failed */
#define TW_O_RECEIPT "receipt"     /* dispatched: the agent's receipt (Flue's submissionId) */
#define TW_O_REASON "reason"       /* skipped: the control keyword; failed: why */
#define TW_O_ATTEMPTS "attempts"   /* dispatch attempts begun; also the fencing token */
#define TW_O_STREAM_ID "stream_id" /* the inbound entry being (or last) worked on */
#define TW_O_CONSUMER "consumer"   /* the worker that began the last attempt */
#define TW_O_LAST_ERROR "last_error"
#define TW_O_NEXT_ATTEMPT_AT "next_attempt_at" /* ms */
#define TW_O_UPDATED_AT "updated_at"           /* ms */
#define TW_O_FINISHED_AT "finished_at"         /* ms */
#define TW_OUTCOME_TTL_S (30 * 86400)

/* Fields a dead letter adds to the original entry's fields (inbound:dead, status:dead). */
#define TW_D_REASON "reason"
#define TW_D_ATTEMPTS "attempts"
#define TW_D_FAILED_AT "failed_at" /* ms */
#define TW_D_STREAM_ID "stream_id" /* the original entry's id */
#define TW_D_CONSUMER "consumer"

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
