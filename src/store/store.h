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
/* identity:end */

/* ---- vault (collections, records, blind index, tokens) ---- */
/* vault:begin (added by the records work) */
/* vault:end */

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
