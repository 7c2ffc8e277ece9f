/*
 * audit internals shared by chain.c, writer.c, verify.c, export.c and the
 * module's unit tests. Not API: nothing outside src/audit/ and
 * tests/unit/audit/ includes this file.
 */
#ifndef PV_AUDIT_INT_H
#define PV_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

/* Domain-separation tag that starts every canonical encoding. */
#define AUDIT_CANON_TAG "phivault-audit-v1"
/* prev_hash of entry 1. */
#define AUDIT_GENESIS_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* Limits on what one entry may carry (bytes, before JSON escaping). */
#define AUDIT_TEXT_MAX 4096
#define AUDIT_DETAIL_MAX 65536

/* Defaults when a field of struct audit_config is 0 / cfg is NULL. */
#define AUDIT_DEFAULT_CHECKPOINT_EVERY 1000
#define AUDIT_DEFAULT_CHECKPOINT_INTERVAL_S 60
#define AUDIT_DEFAULT_MAX_GROUP 256

/*
 * An event after validation, in the text form it will be stored in. actor
 * and detail are owned (malloc'd); the other pointers borrow the
 * caller's strings, which stay valid because audit_commit blocks until the
 * writer has finished with the job.
 */
struct audit_prepared {
	char *actor;                 /* compact JSON, sorted keys */
	const char *action;
	const char *resource;
	const char *purpose_of_use;  /* "" if none */
	const char *outcome;         /* "allowed" | "denied" | "error" */
	const char *reason;          /* "" if none */
	char *detail;                /* compact JSON object, sorted keys; "{}" if none */
	char (*subjects)[65];        /* owned: the event's subject refs, sorted, unique */
	size_t nsubjects;
};
/* PV_E_INVALID if a field is missing, too long, not UTF-8, holds a control
 * character, detail is not a JSON object, or detail and detail_obj are both
 * given. The detail's text is the same bytes whether it came as text or as
 * a tree (tests/unit/audit/test_prepare_bytes.c). */
enum pv_rc audit_prepare(const struct audit_event *ev, struct audit_prepared *out);
/* The text of a JSON object or array exactly as json_dumpb(JSON_COMPACT |
 * JSON_SORT_KEYS) writes it, in one malloc'd NUL-terminated block (*len:
 * its length, if len is given). PV_E_INVALID: longer than max;
 * PV_E_UNSUPPORTED: a value it leaves to jansson (more than 64 members in
 * an object, nesting deeper than 32, a string that is not UTF-8, not an
 * object or array). audit_prepare writes the actor and the detail with it. */
struct json_t;
enum pv_rc audit_json_text(struct json_t *j, size_t max, char **out, size_t *len);
void audit_prepared_clear(struct audit_prepared *p);

/* hash = hex(SHA-256(raw prev_hash (32 bytes) || audit_canonical(row))).
 * PV_E_INVALID if row->prev_hash is not 64 hex digits. row->hash is ignored. */
enum pv_rc audit_chain_hash(const struct store_audit_row *row, char out[65]);

/* Checkpoint key id: hex of the first 8 bytes of SHA-256(public key). */
enum pv_rc audit_key_id(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], char out[17]);

/* True if s is valid UTF-8 without C0/C1 control characters or DEL. */
bool audit_text_ok(const char *s, size_t max);

/*
 * First half of audit_stop: refuse new jobs (PV_E_UNAVAILABLE), drain the
 * queue, write the final checkpoint, join the writer. The handle stays
 * valid (submissions keep returning PV_E_UNAVAILABLE) until audit_stop.
 * Idempotent; call from one thread only.
 */
void audit_writer_drain(struct audit *a);

#endif /* PV_AUDIT_INT_H */
