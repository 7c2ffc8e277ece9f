/*
 * store/store_pg.h: the PostgreSQL backend's internals shared by its files
 * (postgres.c: pool, transactions, runners, SQL; postgres_migrate.c: the
 * schema) and the store unit tests. The only header that includes
 * libpq-fe.h; nothing outside src/store/ and tests/unit/store/ includes it.
 *
 * The backend runs the SQLite backend's op code (sqlite.c's sub-tables,
 * sqlite_*.c) through its own statement runners (struct store_sql_runner):
 * an op's SQL is the SQLite text of its SQ_* id with ?N -> $N (and
 * "LIMIT ?N" -> "LIMIT NULLIF($N, -1)") unless pg_sql[] in postgres.c
 * overrides it where the dialects differ.
 */
#ifndef PV_STORE_PG_H
#define PV_STORE_PG_H

#include <pthread.h>
#include <libpq-fe.h>

#include "store/store_sqlite.h"
#include "store/store_pool.h"

/* The advisory lock keys (pg_advisory_xact_lock): every STORE_WR
 * transaction takes WRITER, so writers are serialised exactly like SQLite's
 * BEGIN IMMEDIATE (the audit chain's head cannot fork, whatever the number
 * of nodes); a migration takes MIGRATE. */
#define STORE_PG_LOCK_WRITER 1886942769    /* 0x70687631 "phv1" */
#define STORE_PG_LOCK_MIGRATE 1886942770   /* 0x70687632 "phv2" */

/* Bounds that keep a request from hanging on a stalled database. */
#define STORE_PG_CONNECT_TIMEOUT_S "5"
#define STORE_PG_STATEMENT_TIMEOUT_MS 15000
#define STORE_PG_LOCK_TIMEOUT_MS 10000
#define STORE_PG_POOL_WAIT_MS 5000

/* One pooled connection = the handle of the transaction that holds it. */
struct store_pg_conn {
	struct store_tx tx;                 /* first: (struct store_pg_conn *) casts */
	PGconn *db;
	struct store_pg *owner;
	struct store_pool_conn pc;          /* its place in owner->pool */
	bool held;
	bool broken;                        /* the connection failed: closed on release */
	unsigned long uses;                 /* transactions begun on it */
	bool prepared[SQ_STMT__COUNT];      /* named statement "pv<id>" prepared here */
};

struct store_pg {
	struct store base;                  /* first: (struct store *) casts */
	const char **keys, **vals;          /* conninfo for PQconnectdbParams, NULL-ended */
	char *conninfo_buf;                 /* what keys/vals point into */
	char where[256];                    /* host/port/dbname for logs (never the password) */
	bool read_only;
	int schema_version;
	struct store_pool pool;             /* store_pool.c */
	struct store_pg_listener *listener; /* postgres_listen.c; NULL until started */
};

static inline struct store_pg_conn *store_pg_tx_conn(struct store_tx *tx)
{
	return (struct store_pg_conn *)tx;
}

/* Map a failed result (res may be NULL) to pv_rc and log the op and
 * SQLSTATE only (never the message: its DETAIL can quote a value):
 * 23505 -> PV_E_CONFLICT (not logged), 25006 -> PV_E_READONLY, a lost
 * connection, class 08, 53, 57 (shutdown, timeouts), 55P03 lock timeout,
 * 40001/40P01 -> PV_E_UNAVAILABLE (HTTP 503), else PV_E_IO. */
enum pv_rc store_pg_rc(PGconn *db, PGresult *res, const char *op);
/* PQexec of control statements (no parameters); PV_OK or store_pg_rc. */
enum pv_rc store_pg_exec_simple(PGconn *db, const char *sql, const char *op);

/* The SQLite text sql in PostgreSQL's dialect (malloc'd; NULL on OOM):
 * ?N -> $N, LIMIT ?N -> LIMIT NULLIF($N, -1) (SQLite's -1 = no limit), string
 * literals untouched. */
char *store_pg_translate(const char *sql);
/* A SQLite migration's DDL in PostgreSQL's types (malloc'd): INTEGER ->
 * BIGINT, BLOB -> BYTEA, TEXT -> TEXT COLLATE "C" (byte order like SQLite's
 * BINARY collation, so ORDER BY and keyset scans agree), no WITHOUT ROWID. */
char *store_pg_translate_ddl(const char *sql);

/* postgres_migrate.c: apply the missing migrations (the SQLite list, each
 * translated or overridden) in order, each in its own transaction under
 * the MIGRATE lock with its schema_migrations row; PV_E_CONFIG if the
 * database is newer than this binary. */
enum pv_rc store_pg_migrate(PGconn *db, int *version);
/* The same, stopping after migration `target` (<= the latest): what a binary
 * of that schema left (tests build an old database with it and migrate it). */
enum pv_rc store_pg_migrate_to(PGconn *db, int target, int *version);
/* The applied version without changing anything; PV_E_CONFIG if not a
 * phivault database (no schema_migrations) or newer than this binary. */
enum pv_rc store_pg_schema_read(PGconn *db, int *version);

/* postgres_import.c: store_import_datadir on PostgreSQL. */
enum pv_rc store_pg_import_datadir(struct store *st, const char *datadir, bool *moved);

/* postgres_listen.c: the access-epoch listener (LISTEN phivault_epoch on a
 * connection of its own, re-opened with backoff). The in-memory epoch is
 * trusted while the listener is up and confirmed it (a notification or its
 * own read of the row every HEARTBEAT ms) within STALE ms. */
#define STORE_PG_EPOCH_HEARTBEAT_MS 1000
#define STORE_PG_EPOCH_STALE_MS 3000
struct store_pg_listener;
enum pv_rc store_pg_listen_start(struct store *st);
void store_pg_listen_stop(struct store_pg *s);
/* The in-memory epoch when it may be trusted; false (counted in
 * phivault_store_epoch_row_reads_total) when the caller must read the row. */
bool store_pg_listen_known(struct store *st, int64_t *epoch);
/* After a COMMIT that moved the epoch to want: wait until the listener
 * heard it, at most STORE_PG_EPOCH_AWAIT_MS (no wait while it is down). */
#define STORE_PG_EPOCH_AWAIT_MS 250
void store_pg_listen_await(struct store *st, int64_t want);

/* Tests of the pool. */
void store_pg_pool_stats(struct store *st, size_t *open, size_t *peak, size_t *max);

#endif /* PV_STORE_PG_H */
