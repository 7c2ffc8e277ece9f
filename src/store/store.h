/*
 * store: the only module that talks to a database. Operations are in domain
 * terms; callers never see SQL. Each store_* function below checks the
 * fault-injection hook (test builds) and dispatches through the backend's
 * ops table (store_int.h): SQLite today (DIR/phivault.db), PostgreSQL next.
 *
 * Connections and threads:
 *  - Every thread gets its own connection, opened lazily on first use and
 *    closed when the thread exits or the store closes.
 *  - Exactly one thread writes: the audit writer (audit.h). It wraps groups
 *    of jobs in store_tx_begin/commit, each job in a savepoint. Other threads
 *    only read (WAL readers never block the writer).
 *  - Functions returning data copy it out (malloc'd, freed by the matching
 *    *_clear/free function); no pointer into a backend buffer escapes.
 *
 * Errors: PV_E_NOTFOUND (no such row), PV_E_CONFLICT (unique key taken),
 * PV_E_IO (database error, including injected faults), PV_E_NOMEM.
 */
#ifndef PV_STORE_H
#define PV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct store;

/*
 * Open the store of a data directory. backend is "sqlite" (url ignored,
 * DIR/phivault.db is created if missing, migrations applied) or "postgres"
 * (url = conninfo; not built yet: PV_E_CONFIG). read_only opens without
 * migrating or creating (offline audit verify).
 */
enum pv_rc store_open(const char *datadir, const char *backend, const char *url,
    bool read_only, struct store **out);
void store_close(struct store *st);
/* Schema version after migrations (for `phivault version` and tests). */
int store_schema_version(struct store *st);

/* ---- transactions, on the calling thread's connection ---- */
enum pv_rc store_tx_begin(struct store *st);          /* BEGIN IMMEDIATE */
enum pv_rc store_tx_commit(struct store *st);         /* durable on return */
void store_tx_rollback(struct store *st);
enum pv_rc store_tx_savepoint(struct store *st);      /* nested: "sp" */
enum pv_rc store_tx_release(struct store *st);
void store_tx_rollback_savepoint(struct store *st);

/* ---- meta: small named values (seal parameters, audit public key) ---- */
enum pv_rc store_meta_get(struct store *st, const char *key, uint8_t **val, size_t *len);
enum pv_rc store_meta_put(struct store *st, const char *key, const uint8_t *val, size_t len);

/* ---- key-encryption keys, stored wrapped by the root key ---- */
enum store_kek_state { STORE_KEK_ACTIVE = 0, STORE_KEK_RETIRED = 1, STORE_KEK_REVOKED = 2 };
struct store_kek {
	char name[128];
	uint32_t version;
	enum store_kek_state state;
	int64_t created_ms;
	uint8_t *wrapped;      /* malloc'd */
	size_t wrapped_len;
};
void store_kek_clear(struct store_kek *k);
enum pv_rc store_kek_put(struct store *st, const struct store_kek *k);   /* PV_E_CONFLICT if (name,version) exists */
enum pv_rc store_kek_get(struct store *st, const char *name, uint32_t version, struct store_kek *out);
enum pv_rc store_kek_latest(struct store *st, const char *name, struct store_kek *out);
enum pv_rc store_kek_set_state(struct store *st, const char *name, uint32_t version,
    enum store_kek_state state);
typedef int (*store_kek_cb)(const struct store_kek *k, void *arg);   /* non-zero stops */
enum pv_rc store_kek_scan(struct store *st, store_kek_cb cb, void *arg);

/* ---- audit trail: table `audit`, one row per entry (DESIGN.md) ---- */
#define STORE_AUDIT_TEXT_COLS 10    /* time, actor, ..., prev_hash, hash */
struct store_audit_row {
	int64_t seq;
	const char *time;            /* RFC 3339 UTC with ms */
	const char *actor;           /* JSON object text: {"user_id","session_id","source"} */
	const char *action;
	const char *resource;
	const char *purpose_of_use;  /* "" if none */
	const char *outcome;         /* allowed | denied | error */
	const char *reason;          /* "" if none */
	const char *detail;          /* JSON object text, "{}" if none: field names, counts; never values */
	const char *prev_hash;       /* 64 hex */
	const char *hash;            /* 64 hex */
	/* Exact byte lengths of time .. hash (this order) as the backend read
	 * them: a tampered column can hold a NUL that strlen would stop at.
	 * Backends fill them and set has_len; a row a caller builds leaves
	 * has_len false and its strings are measured with strlen. */
	bool has_len;
	size_t len[STORE_AUDIT_TEXT_COLS];
};
enum pv_rc store_audit_append(struct store *st, const struct store_audit_row *row);
/* Last entry's seq and hash; seq 0 and 64 '0' if the trail is empty. */
enum pv_rc store_audit_head(struct store *st, int64_t *seq, char hash[65]);
struct store_audit_filter {
	int64_t since_seq;           /* entries with seq > since_seq */
	const char *actor_user_id;   /* NULL: any */
	const char *action;          /* NULL: any */
	size_t limit;                /* 0: no limit */
};
typedef int (*store_audit_cb)(const struct store_audit_row *row, void *arg);  /* non-zero stops */
/* In seq order. Row pointers are valid only during the callback. */
enum pv_rc store_audit_scan(struct store *st, const struct store_audit_filter *f,
    store_audit_cb cb, void *arg);

struct store_checkpoint {
	int64_t seq;
	const char *hash;        /* 64 hex, the entry hash at seq */
	const char *time;
	const char *signature;   /* base64 Ed25519 over audit_checkpoint_message() */
	const char *key_id;      /* hex SHA-256 prefix of the public key */
};
enum pv_rc store_checkpoint_put(struct store *st, const struct store_checkpoint *cp);
typedef int (*store_checkpoint_cb)(const struct store_checkpoint *cp, void *arg);
enum pv_rc store_checkpoint_scan(struct store *st, store_checkpoint_cb cb, void *arg);
enum pv_rc store_checkpoint_count(struct store *st, int64_t *n);

/* ---- identity (users, roles, groups, sessions, MFA, lockout) ---- */
/* identity:begin (added by the identity work) */
/*
 * Nothing here is a secret in clear: password_hash is an Argon2id string,
 * the TOTP secret is envelope ciphertext, token and recovery-code hashes are
 * one-way. Users are never deleted. Times are ms since the epoch (UTC).
 */
#define STORE_USERNAME_MAX 65        /* [a-z0-9._-]{1,64} + NUL */
#define STORE_DISPLAY_MAX 257
#define STORE_EMAIL_MAX 255
#define STORE_PWHASH_MAX 128         /* crypto_pwhash_STRBYTES */
#define STORE_HASH_HEX_MAX 65        /* hex SHA-256 / HMAC + NUL */
#define STORE_ROLE_MAX 64            /* role / group name + NUL */

struct store_user {
	char id[UTIL_ID_MAX];
	char username[STORE_USERNAME_MAX];
	char display_name[STORE_DISPLAY_MAX];
	char email[STORE_EMAIL_MAX];
	bool disabled;
	char *attributes;            /* malloc'd JSON object text ("{}" if none) */
	char password_hash[STORE_PWHASH_MAX];
	bool password_one_time;      /* must be changed at next login */
	int64_t credential_epoch;    /* bumped on password change and disable */
	uint8_t *mfa_secret;         /* malloc'd envelope ciphertext, NULL if none */
	size_t mfa_secret_len;
	uint8_t *mfa_env;            /* malloc'd serialized keys_envelope, NULL if none */
	size_t mfa_env_len;
	bool mfa_enabled;            /* confirmed; a secret without it is pending enrolment */
	int64_t mfa_last_step;       /* last accepted TOTP step, -1 if none */
	int64_t created_ms;
	int64_t updated_ms;
	int64_t disabled_ms;         /* 0 while active */
	/* Who created the user: the creating principal's user ID, "" if made by
	 * init (the bootstrap admin) or before migration 5. Written by
	 * store_user_put and never changed afterwards (store_user_update keeps
	 * the stored value once set). */
	char created_by[UTIL_ID_MAX];
	/* One-time password state (authn_otp_issue sets it): when it was issued
	 * (0: at created_ms, rows made before migration 5 or by a plain create)
	 * and when a login consumed it (0: not yet). Meaningful only while
	 * password_one_time. */
	int64_t otp_issued_ms;
	int64_t otp_used_ms;
};
void store_user_clear(struct store_user *u);
/* PV_E_CONFLICT if the ID or the username exists. */
enum pv_rc store_user_put(struct store *st, const struct store_user *u);
enum pv_rc store_user_get(struct store *st, const char *id, struct store_user *out);
enum pv_rc store_user_get_by_username(struct store *st, const char *username,
    struct store_user *out);
/* Rewrite every mutable column of user u->id (not id, username, created);
 * PV_E_NOTFOUND if there is no such user. */
enum pv_rc store_user_update(struct store *st, const struct store_user *u);
typedef int (*store_user_cb)(const struct store_user *u, void *arg);   /* non-zero stops */
/* In username order. */
enum pv_rc store_user_list(struct store *st, store_user_cb cb, void *arg);

/* Direct role and group memberships of a user (replace the whole set). */
typedef int (*store_name_cb)(const char *name, void *arg);   /* non-zero stops */
enum pv_rc store_user_roles_set(struct store *st, const char *user_id,
    const char *const *roles, size_t n);
enum pv_rc store_user_roles_get(struct store *st, const char *user_id, store_name_cb cb,
    void *arg);
enum pv_rc store_user_groups_set(struct store *st, const char *user_id,
    const char *const *groups, size_t n);
enum pv_rc store_user_groups_get(struct store *st, const char *user_id, store_name_cb cb,
    void *arg);

/* Roles: built-in (seeded by the migration) and custom. */
struct store_role {
	char name[STORE_ROLE_MAX];
	char *permissions;           /* malloc'd JSON array of permission strings */
	char *condition;             /* malloc'd JSON object text ("{}" if none) */
	bool builtin;
	int64_t created_ms;
};
void store_role_clear(struct store_role *r);
enum pv_rc store_role_put(struct store *st, const struct store_role *r);   /* PV_E_CONFLICT if taken */
enum pv_rc store_role_get(struct store *st, const char *name, struct store_role *out);
typedef int (*store_role_cb)(const struct store_role *r, void *arg);
enum pv_rc store_role_list(struct store *st, store_role_cb cb, void *arg);   /* name order */

/* Groups: members inherit the group's roles. */
struct store_group {
	char name[STORE_ROLE_MAX];
	char *roles;                 /* malloc'd JSON array of role names */
	int64_t created_ms;
};
void store_group_clear(struct store_group *g);
enum pv_rc store_group_put(struct store *st, const struct store_group *g);  /* PV_E_CONFLICT if taken */
enum pv_rc store_group_get(struct store *st, const char *name, struct store_group *out);
typedef int (*store_group_cb)(const struct store_group *g, void *arg);
enum pv_rc store_group_list(struct store *st, store_group_cb cb, void *arg);   /* name order */

/* Sessions: one row per login; the token is known only by its hash. */
struct store_session {
	char id[UTIL_ID_MAX];
	char token_hash[STORE_HASH_HEX_MAX];
	char user_id[UTIL_ID_MAX];
	int64_t created_ms;
	int64_t last_seen_ms;
	int64_t absolute_expires_ms;
	unsigned restrict_flags;     /* AUTHN_RESTRICT_* */
	bool mfa_verified;
	int64_t credential_epoch;
	char source[64];
	int64_t ended_ms;            /* 0 while open */
	char end_reason[16];         /* "" while open; authn_session_end_name() */
};
enum pv_rc store_session_put(struct store *st, const struct store_session *s);
enum pv_rc store_session_get_by_hash(struct store *st, const char *token_hash,
    struct store_session *out);
/* Raise last_seen (never lowers it); PV_E_NOTFOUND if no such session. */
enum pv_rc store_session_touch(struct store *st, const char *id, int64_t last_seen_ms);
/* Restriction flags, MFA flag and credential epoch of an open session. */
enum pv_rc store_session_set_state(struct store *st, const char *id, unsigned restrict_flags,
    bool mfa_verified, int64_t credential_epoch);
/* End an open session; PV_E_NOTFOUND if missing or already ended. */
enum pv_rc store_session_end(struct store *st, const char *id, int64_t ended_ms,
    const char *reason);
/* End every open session of a user except except_id (NULL: all); *n ended. */
enum pv_rc store_session_end_all_for_user(struct store *st, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n);

/* Recovery codes: replace the set, list the unused ones, use one. */
enum pv_rc store_recovery_set(struct store *st, const char *user_id,
    const char *const *code_hashes, size_t n);
enum pv_rc store_recovery_unused(struct store *st, const char *user_id, store_name_cb cb,
    void *arg);
/* Mark one unused code used; PV_E_NOTFOUND if missing or already used. */
enum pv_rc store_recovery_use(struct store *st, const char *user_id, const char *code_hash,
    int64_t used_ms);

/* Lockout counters: key = lowercase username (also for unknown names),
 * kind "password" or "mfa". A missing row reads as all zero. */
struct store_lockout {
	int failures;
	int64_t window_start_ms;
	int64_t locked_until_ms;
};
enum pv_rc store_lockout_get(struct store *st, const char *key, const char *kind,
    struct store_lockout *out);
enum pv_rc store_lockout_put(struct store *st, const char *key, const char *kind,
    const struct store_lockout *l);
/* Forget every counter of key (both kinds): an administrator's unlock.
 * PV_OK also when there was none. */
enum pv_rc store_lockout_clear(struct store *st, const char *key);

/* Logins that passed the password and owe a TOTP / recovery code. */
struct store_mfa_pending {
	char token_hash[STORE_HASH_HEX_MAX];
	char user_id[UTIL_ID_MAX];
	int64_t expires_ms;
	int attempts;
	int64_t credential_epoch;   /* the user's epoch when the password was checked */
};
enum pv_rc store_mfa_pending_put(struct store *st, const struct store_mfa_pending *p);
enum pv_rc store_mfa_pending_get(struct store *st, const char *token_hash,
    struct store_mfa_pending *out);
/* Count one failed attempt; PV_E_NOTFOUND if gone. */
enum pv_rc store_mfa_pending_attempt(struct store *st, const char *token_hash);
/* Delete it and every expired pending login; PV_E_NOTFOUND if it was gone. */
enum pv_rc store_mfa_pending_delete(struct store *st, const char *token_hash, int64_t now_ms);
/* identity:end */

/* ---- vault (collections, records, blind index, tokens) ---- */
/* vault:begin (added by the records work) */
/*
 * Nothing here holds a PHI value in clear: record bodies and token values
 * are AEAD ciphertext (vault + keys seal them before they reach the store),
 * blind-index entries are HMACs, schemas hold field names and types only.
 */
#define STORE_NAME_MAX 64            /* collection and field names, incl. NUL */
#define STORE_ID_MAX 48              /* record IDs and tokens, incl. NUL (UTIL_ID_MAX) */
#define STORE_MAC_LEN 32             /* blind-index / deterministic-token HMAC-SHA256 */

struct store_collection {
	char name[STORE_NAME_MAX];
	char *schema;                /* malloc'd JSON text (vault_collection_to_json) */
	char region[64];
	int retention_days;
	int64_t created_ms;
	char kek_name[128];          /* KEK wrapping this collection's record DEKs */
};
void store_collection_clear(struct store_collection *c);
/* PV_E_CONFLICT if a collection of that name exists. */
enum pv_rc store_collection_put(struct store *st, const struct store_collection *c);
enum pv_rc store_collection_get(struct store *st, const char *name, struct store_collection *out);
typedef int (*store_collection_cb)(const struct store_collection *c, void *arg);  /* non-zero stops */
/* In name order. */
enum pv_rc store_collection_list(struct store *st, store_collection_cb cb, void *arg);

/* One record: the envelope of its current version. A shredded record keeps
 * its row (ID never reused) with deleted_ms set and no DEK or ciphertext. */
struct store_record {
	char id[STORE_ID_MAX];
	char collection[STORE_NAME_MAX];
	uint32_t version;
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;        /* malloc'd; NULL once shredded */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;         /* malloc'd; NULL once shredded */
	size_t ciphertext_len;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t deleted_ms;          /* 0: live */
};
void store_record_clear(struct store_record *r);
/* Insert a new record (version as given); PV_E_CONFLICT if the ID exists. */
enum pv_rc store_record_put(struct store *st, const struct store_record *r);
/* The record (live or shredded) of that collection and ID, or PV_E_NOTFOUND. */
enum pv_rc store_record_get(struct store *st, const char *collection, const char *id,
    struct store_record *out);
/* Replace a live record's envelope with r (r->version must be
 * expected_version + 1): optimistic concurrency, PV_E_CONFLICT if the stored
 * version is not expected_version, PV_E_NOTFOUND if missing or shredded. */
enum pv_rc store_record_update(struct store *st, const struct store_record *r,
    uint32_t expected_version);
/* Crypto-shred: drop the wrapped DEK and ciphertext (secure_delete zeroes the
 * freed cells), set deleted_ms, delete the record's blind-index entries.
 * PV_E_NOTFOUND if missing or already shredded. */
enum pv_rc store_record_shred(struct store *st, const char *collection, const char *id,
    int64_t deleted_ms);

/* Blind index: (collection, field, HMAC of the canonical value) -> record. */
enum pv_rc store_bidx_put(struct store *st, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id);
/* Delete a record's entries for one field (field NULL: every field). */
enum pv_rc store_bidx_delete(struct store *st, const char *collection, const char *record_id,
    const char *field);
typedef int (*store_bidx_cb)(const char *record_id, void *arg);   /* non-zero stops */
/* Record IDs with that MAC, in ID order, at most limit (0: no limit). */
enum pv_rc store_bidx_lookup(struct store *st, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], size_t limit, store_bidx_cb cb, void *arg);

/* Live (not shredded) record IDs of a collection with id > after_id ("" from
 * the start), in ID order, at most limit (0: no limit): keyset pagination. */
enum pv_rc store_record_scan(struct store *st, const char *collection, const char *after_id,
    size_t limit, store_bidx_cb cb, void *arg);

/* Tokens: the value is an envelope like a record's. A deterministic token
 * also keeps the MAC of (field type, canonical value), unique across the
 * store, so the same value finds the same token in every collection. */
struct store_token {
	char token[STORE_ID_MAX];
	char collection[STORE_NAME_MAX];
	char field[STORE_NAME_MAX];
	bool deterministic;
	uint8_t mac[STORE_MAC_LEN];  /* deterministic only */
	char kek_name[128];
	uint32_t kek_version;
	uint8_t *wrapped_dek;        /* malloc'd */
	size_t wrapped_dek_len;
	uint8_t *ciphertext;         /* malloc'd */
	size_t ciphertext_len;
	int64_t created_ms;
};
void store_token_clear(struct store_token *t);
/* PV_E_CONFLICT if the token, or a deterministic token with the same mac,
 * exists. */
enum pv_rc store_token_put(struct store *st, const struct store_token *t);
enum pv_rc store_token_get(struct store *st, const char *token, struct store_token *out);
/* The deterministic token with that mac, or PV_E_NOTFOUND. */
enum pv_rc store_token_get_by_mac(struct store *st, const uint8_t mac[STORE_MAC_LEN],
    struct store_token *out);
/* vault:end */

/* ---- jobs (background work: DESIGN.md seam 3, src/jobs/) ---- */
/* jobs:begin (added by the jobs work) */
/*
 * One row per job. cursor is opaque text owned by the job's kind; errors is
 * a bounded JSON array of {"at","code","item"} (codes and IDs, never a PHI
 * value); params is the kind's JSON object. lease_owner is the node that
 * runs the job ("" none) until lease_expires_ms. Times are ms since the
 * epoch (0: not yet).
 */
#define STORE_JOB_KIND_MAX 64
#define STORE_JOB_STATE_MAX 16
#define STORE_JOB_OWNER_MAX 128
struct store_job {
	char id[UTIL_ID_MAX];
	char kind[STORE_JOB_KIND_MAX];
	char state[STORE_JOB_STATE_MAX];   /* queued|running|paused|done|failed|cancelled */
	char *cursor;                      /* malloc'd ("" at the start) */
	char *params;                      /* malloc'd JSON object text */
	char *errors;                      /* malloc'd JSON array text */
	int64_t done;
	int64_t total;
	int64_t error_count;               /* every error, also those dropped from errors */
	int64_t created_ms;
	int64_t started_ms;
	int64_t finished_ms;
	int64_t updated_ms;
	char lease_owner[STORE_JOB_OWNER_MAX];
	int64_t lease_expires_ms;
	char created_by[UTIL_ID_MAX];      /* user ID or "system" */
};
void store_job_clear(struct store_job *j);
/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_job_put(struct store *st, const struct store_job *j);
enum pv_rc store_job_get(struct store *st, const char *id, struct store_job *out);
/* Rewrite every mutable column of j->id (not id, kind, params, created);
 * PV_E_NOTFOUND if there is no such job. */
enum pv_rc store_job_update(struct store *st, const struct store_job *j);
typedef int (*store_job_cb)(const struct store_job *j, void *arg);   /* non-zero stops */
/* Every job, newest first. */
enum pv_rc store_job_list(struct store *st, store_job_cb cb, void *arg);
/* Jobs owner may run at now_ms, oldest first: queued or running, and not
 * leased, leased by owner, or with an expired lease. */
enum pv_rc store_job_runnable(struct store *st, const char *owner, int64_t now_ms,
    store_job_cb cb, void *arg);
/* jobs:end */

/* ---- fault injection (compiled with PV_FAULT_INJECTION) ----
 * Ops are named after the function without "store_" ("audit_append",
 * "tx_commit", ...). store_fault_set(op, n): the n-th next call fails with
 * PV_E_IO (n = 1: the next call); n = -1: every call; n = 0: clear.
 * When the environment names a file in PHIVAULT_FAULT_FILE, each call also
 * fails if that file exists and holds the op's name on a line of its own:
 * this is how integration tests break a running server's audit writes. */
void store_fault_set(const char *op, int n);
void store_fault_clear_all(void);

#endif /* PV_STORE_H */
