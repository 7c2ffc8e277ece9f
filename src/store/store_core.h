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
 * [store] max_connections). A thread holds one for a unit of work: one op,
 * or a transaction from store_tx_begin to commit/rollback (a thread that
 * exits inside one is rolled back and its connection returned). When all
 * are held, an op waits up to wait_ms (0 keeps the current, default 5000)
 * and then fails with PV_E_UNAVAILABLE. Call it before the store is shared
 * between threads.
 */
void store_pool_set(struct store *st, unsigned max_connections, unsigned wait_ms);

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
