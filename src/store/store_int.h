/*
 * store internals: the backend ops table that store.c dispatches through,
 * the backends' open functions, and the SQLite backend's shared helpers
 * (per-thread connection, cached prepared statements, error mapping) so that
 * more backend files (e.g. sqlite_identity.c) and the unit tests can use them.
 * Not API: only src/store/ and tests/unit/store/ include this header.
 *
 * Invariants:
 *  - Every op in struct store_ops is non-NULL in every backend's table.
 *  - store.c has already checked the fault hook and that pointer arguments
 *    are non-NULL before an op runs; ops may assume valid pointers.
 *  - Ops write out-parameters only on success and copy data out (malloc'd);
 *    scan callbacks receive pointers valid only during the callback.
 *
 * Extending: a new domain op goes into struct store_ops inside its section's
 * anchors below, a store_* wrapper in store.c, and an implementation in every
 * backend's ops table (sqlite.c today).
 */
#ifndef PV_STORE_INT_H
#define PV_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store.h"

struct store_ops {
	/* ---- lifecycle ---- */
	void (*close)(struct store *st);
	int (*schema_version)(struct store *st);

	/* ---- transactions (calling thread's connection) ---- */
	enum pv_rc (*tx_begin)(struct store *st);
	enum pv_rc (*tx_commit)(struct store *st);
	void (*tx_rollback)(struct store *st);
	enum pv_rc (*tx_savepoint)(struct store *st);
	enum pv_rc (*tx_release)(struct store *st);
	void (*tx_rollback_savepoint)(struct store *st);

	/* ---- meta ---- */
	enum pv_rc (*meta_get)(struct store *st, const char *key, uint8_t **val, size_t *len);
	enum pv_rc (*meta_put)(struct store *st, const char *key, const uint8_t *val, size_t len);

	/* ---- key-encryption keys ---- */
	enum pv_rc (*kek_put)(struct store *st, const struct store_kek *k);
	enum pv_rc (*kek_get)(struct store *st, const char *name, uint32_t version,
	    struct store_kek *out);
	enum pv_rc (*kek_latest)(struct store *st, const char *name, struct store_kek *out);
	enum pv_rc (*kek_set_state)(struct store *st, const char *name, uint32_t version,
	    enum store_kek_state state);
	enum pv_rc (*kek_scan)(struct store *st, store_kek_cb cb, void *arg);

	/* ---- audit trail and checkpoints ---- */
	enum pv_rc (*audit_append)(struct store *st, const struct store_audit_row *row);
	enum pv_rc (*audit_head)(struct store *st, int64_t *seq, char hash[65]);
	enum pv_rc (*audit_scan)(struct store *st, const struct store_audit_filter *f,
	    store_audit_cb cb, void *arg);
	enum pv_rc (*checkpoint_put)(struct store *st, const struct store_checkpoint *cp);
	enum pv_rc (*checkpoint_scan)(struct store *st, store_checkpoint_cb cb, void *arg);
	enum pv_rc (*checkpoint_count)(struct store *st, int64_t *n);

	/* ---- identity ---- */
	/* identity:begin (added by the identity work) */
	/* identity:end */

	/* ---- vault ---- */
	/* vault:begin (added by the records work) */
	/* vault:end */
};

/* The handle every backend embeds as its first member. */
struct store {
	const struct store_ops *ops;
};

/* ---- backends: open functions (store.c picks one by name) ---- */
enum pv_rc store_sqlite_open(const char *datadir, bool read_only, struct store **out);
/* postgres.c will add: enum pv_rc store_pg_open(const char *url, bool read_only, struct store **out); */

/* ======================================================================
 * SQLite backend internals (sqlite.c, migrate.c)
 * ====================================================================== */

#define STORE_SQLITE_FILE "phivault.db"
#define STORE_SQLITE_BUSY_MS 5000

/* Cached prepared statements, one slot per id per connection. The SQL for
 * each id is the designated initializer sq_sql[id] in sqlite.c. */
enum store_sqlite_stmt {
	/* transactions */
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_SAVEPOINT,
	SQ_RELEASE,
	SQ_ROLLBACK_TO,
	/* meta */
	SQ_META_GET,
	SQ_META_PUT,
	/* kek */
	SQ_KEK_PUT,
	SQ_KEK_GET,
	SQ_KEK_LATEST,
	SQ_KEK_SET_STATE,
	SQ_KEK_SCAN,
	/* audit */
	SQ_AUDIT_APPEND,
	SQ_AUDIT_HEAD,
	SQ_AUDIT_SCAN,
	SQ_AUDIT_SCAN_ACTION,
	SQ_CHECKPOINT_PUT,
	SQ_CHECKPOINT_SCAN,
	SQ_CHECKPOINT_COUNT,
	/* identity:begin (added by the identity work) */
	/* identity:end */
	/* vault:begin (added by the records work) */
	/* vault:end */
	SQ_STMT__COUNT
};

/* One thread's connection. Owned by the store's list; freed by the thread's
 * exit destructor or by store_close, whichever comes first. */
struct store_sqlite_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT__COUNT];
	struct store_sqlite *owner;
	struct store_sqlite_conn *prev, *next;
};

struct store_sqlite {
	struct store base;               /* first: (struct store *) casts */
	char path[4096];                 /* DIR/phivault.db */
	bool read_only;
	int schema_version;
	pthread_key_t key;               /* -> this thread's struct store_sqlite_conn */
	pthread_mutex_t mu;              /* guards conns */
	struct store_sqlite_conn *conns; /* every open connection */
};

/* The calling thread's connection, opened on first use. */
enum pv_rc store_sqlite_conn_get(struct store *st, struct store_sqlite_conn **out);
/* A reset, ready-to-bind statement for id. If the cached one is in use on this
 * connection (a scan callback calling back into the store), a transient one is
 * prepared; store_sqlite_stmt_done finalizes it. */
enum pv_rc store_sqlite_stmt(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt **out);
void store_sqlite_stmt_done(struct store_sqlite_conn *c, enum store_sqlite_stmt id,
    sqlite3_stmt *s);
/* Map a SQLite result code to pv_rc and log_error it (op name + code only):
 * UNIQUE/PRIMARYKEY constraint -> PV_E_CONFLICT, NOMEM -> PV_E_NOMEM,
 * anything else -> PV_E_IO. */
enum pv_rc store_sqlite_rc(int rc, const char *op);

/* migrate.c: apply missing migrations in order (each in its own
 * transaction) and return the resulting version; PV_E_CONFIG if the database
 * is newer than this binary. */
enum pv_rc store_sqlite_migrate(sqlite3 *db, int *version);
/* Highest applied version without changing anything (read-only open);
 * PV_E_CONFIG if not a phivault database or newer than this binary. */
enum pv_rc store_sqlite_schema_read(sqlite3 *db, int *version);
/* Highest migration this binary knows. */
int store_sqlite_schema_latest(void);

#endif /* PV_STORE_INT_H */
