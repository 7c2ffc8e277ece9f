/*
 * store/store_core.h: the handle, open/close, transactions, meta values and
 * fault injection; every domain header (store_identity.h, store_vault.h,
 * store_keys.h, store_audit.h, store_jobs.h) builds on it. Backend-neutral:
 * no SQLite (or any backend) type appears here.
 */
#ifndef PV_STORE_CORE_H
#define PV_STORE_CORE_H

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

/*
 * Connection pool: at most max_connections database connections are open
 * (0 keeps the current bound; the default is 2 x online CPUs + 2, config
 * [store] max_connections). A transaction holds one from store_begin to
 * store_end. When all are held, store_begin waits up to wait_ms (0 keeps
 * the current, default 5000) and then fails with PV_E_UNAVAILABLE. Call it
 * before the store is shared between threads.
 */
void store_pool_set(struct store *st, unsigned max_connections, unsigned wait_ms);

/* ---- transactions: explicit handles, passed to every data op ----
 *
 * Every data op (meta, identity, vault, keys, audit, jobs) runs in a
 * transaction: store_begin takes a connection from the pool and opens it,
 * store_end gives it back. A transaction belongs to no thread: it may be
 * begun on one thread and continued or ended on another, but it is used by
 * one thread at a time. A thread may hold several (each its own
 * connection; beware of waiting for the pool while holding one).
 *
 *   STORE_RD: a consistent snapshot (deferred BEGIN); a write op on it
 *             fails with PV_E_READONLY and changes nothing.
 *   STORE_WR: BEGIN IMMEDIATE (the database's write lock is taken now);
 *             store_commit makes it durable before it returns.
 *
 *   store_begin --ops--> store_commit --> store_end
 *             \--ops, or a failed commit--> store_end (rolled back)
 *
 * After store_commit (whatever its rc) only store_end is allowed; data ops
 * on a committed or ended handle are refused (PV_E_INVALID). store_end is
 * NULL-safe, never fails, and always returns the connection.
 * Savepoints nest inside a transaction: store_savepoint ..
 * store_release (keep) | store_rollback_savepoint (undo since the
 * savepoint). A failure inside a savepoint need not doom the transaction.
 */
struct store_tx;
enum store_mode { STORE_RD = 0, STORE_WR = 1 };

enum pv_rc store_begin(struct store *st, enum store_mode mode, struct store_tx **out);
enum pv_rc store_commit(struct store_tx *tx);          /* WR: durable on return */
void store_end(struct store_tx *tx);
enum pv_rc store_savepoint(struct store_tx *tx);       /* nested: "sp" */
enum pv_rc store_release(struct store_tx *tx);
void store_rollback_savepoint(struct store_tx *tx);
/* The store a transaction belongs to, and its mode. */
struct store *store_tx_store(const struct store_tx *tx);
enum store_mode store_tx_mode(const struct store_tx *tx);

/*
 * STORE_READ(st, rc, expr): rc = expr, run in a read transaction of its own
 * on st; expr names that transaction `tx`, e.g.
 *     STORE_READ(v->st, rc, store_record_get(tx, coll, id, &r));
 * For a single read with no transaction around it. rc is the begin's error
 * (PV_E_UNAVAILABLE when the pool stays busy) or expr's value.
 */
#define STORE_READ(st, rc, expr) do { \
	struct store_tx *tx = NULL; \
	if (((rc) = store_begin((st), STORE_RD, &tx)) == PV_OK) { \
		(rc) = (expr); \
		store_end(tx); \
	} \
} while (0)

/* STORE_WRITE(st, rc, expr): the same for a single write: a STORE_WR
 * transaction of its own, committed (durable) if expr returned PV_OK, rolled
 * back otherwise. Only where no commit queue is running (init, tools,
 * tests) or for writes outside any group (keys). */
#define STORE_WRITE(st, rc, expr) do { \
	struct store_tx *tx = NULL; \
	if (((rc) = store_begin((st), STORE_WR, &tx)) == PV_OK) { \
		if (((rc) = (expr)) == PV_OK) \
			(rc) = store_commit(tx); \
		store_end(tx); \
	} \
} while (0)

/* True when other processes may write the same database at the same time
 * (PostgreSQL: several nodes), so what a process cached of it (the audit
 * chain head) must be re-read inside its write transactions. False on
 * SQLite: one server holds the data directory. */
bool store_shared(struct store *st);

/* ---- moving a data directory's SQLite store (API.md "Several nodes") ----
 * When st is a PostgreSQL store that holds nothing yet (no meta row: init
 * never wrote to it) and datadir has the phivault.db init wrote, copy every
 * table of that file (keyring, bootstrap admin, audit genesis and
 * everything since) into st in one write transaction, then rename the file
 * and its -wal/-shm to phivault.db.moved-to-postgres (it is no longer the
 * vault). *moved tells whether it happened. A no-op (PV_OK, *moved false)
 * on SQLite, on a PostgreSQL store that has data, and without the file. */
enum pv_rc store_import_datadir(struct store *st, const char *datadir, bool *moved);

/* ---- meta: small named values (seal parameters, audit public key) ---- */
enum pv_rc store_meta_get(struct store_tx *tx, const char *key, uint8_t **val, size_t *len);
enum pv_rc store_meta_put(struct store_tx *tx, const char *key, const uint8_t *val, size_t len);

/* ---- fault injection (compiled with PV_FAULT_INJECTION) ----
 * Ops are named after the function without "store_" ("audit_append",
 * "tx_commit", ...). store_fault_set(op, n): the n-th next call fails with
 * PV_E_IO (n = 1: the next call); n = -1: every call; n = 0: clear.
 * When the environment names a file in PHIVAULT_FAULT_FILE, each call also
 * fails if that file exists and holds the op's name on a line of its own:
 * this is how integration tests break a running server's audit writes. */
void store_fault_set(const char *op, int n);
void store_fault_clear_all(void);


#endif /* PV_STORE_CORE_H */
