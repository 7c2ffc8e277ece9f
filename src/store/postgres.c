/*
 * postgres.c: the PostgreSQL backend ([store] backend = postgres, url = a
 * libpq conninfo).
 *
 * Owns: the bounded pool of libpq connections (each one the handle of the
 * transaction that holds it), each connection's named prepared statements,
 * the PostgreSQL text of the statements where it differs from SQLite's, and
 * the statement runners through which the shared op code (sqlite.c's
 * sub-tables, sqlite_*.c) runs here.
 *
 * Invariants:
 *  - Same contract as the SQLite backend (tests/unit/store/test_conformance.c
 *    runs on both): STORE_RD = BEGIN ISOLATION LEVEL REPEATABLE READ READ
 *    ONLY (one snapshot); STORE_WR = BEGIN (READ COMMITTED) +
 *    pg_advisory_xact_lock(STORE_PG_LOCK_WRITER): one writer at a time across
 *    every node, like SQLite's BEGIN IMMEDIATE, so the shared read-then-write
 *    op code (the audit head read before the append, record_update's
 *    compare-and-set) needs no retry loop and the chain cannot fork.
 *  - A failed statement does not end a SQLite transaction but does abort a
 *    PostgreSQL one: every INSERT of a STORE_WR transaction runs under a
 *    statement savepoint, so a PV_E_CONFLICT (unique violation) leaves the
 *    transaction usable, as on SQLite. Other failures (I/O, connection)
 *    leave it aborted: its COMMIT then fails (checked by command tag), and
 *    store_end rolls it back.
 *  - store_fault_check(op) before every statement, with the op code's labels
 *    (fault injection works the same on both backends).
 *  - Results come back whole (binary format); a scan callback may run more
 *    statements on the same transaction (the result is already read).
 *  - Nothing is logged but op names, SQLSTATEs and host/port/dbname: never
 *    a bound value, a server message (its DETAIL quotes values) or the
 *    conninfo's password. Server notices are discarded.
 *  - A lost connection answers PV_E_UNAVAILABLE (HTTP 503) and is closed
 *    when its transaction ends; the next store_begin connects again
 *    (connect_timeout, statement_timeout, lock_timeout and TCP keepalives
 *    bound every wait), so a node recovers by itself when the database
 *    returns.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "store/store_pg.h"

#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)

/* ------------------------------------------------------------------ */
/* SQL: PostgreSQL overrides of sqlite.c's statements                  */
/* ------------------------------------------------------------------ */

#define PG_AUDIT_COLS "SELECT seq, time, actor, action, resource, purpose_of_use, " \
	"outcome, reason, detail, prev_hash, hash FROM audit"
/* pv_actor_user (migration 1 here) is NULL for a damaged actor cell */
#define PG_AUDIT_WHERE " WHERE seq > ?1 AND (?2 IS NULL OR pv_actor_user(actor) = ?2)"

/* Only where the dialects differ; everything else is store_sqlite_sql(id)
 * through store_pg_translate. */
static const char *const pg_sql[SQ_STMT__COUNT] = {
	[SQ_KEK_DESTROY] = "UPDATE kek SET state = 2, wrapped = ''::bytea "
	    "WHERE name = ?1 AND version = ?2",
	[SQ_AUDIT_SCAN] = PG_AUDIT_COLS PG_AUDIT_WHERE " ORDER BY seq LIMIT ?4",
	[SQ_AUDIT_SCAN_ACTION] = PG_AUDIT_COLS PG_AUDIT_WHERE
	    " AND action = ?3 ORDER BY seq LIMIT ?4",
	[SQ_USER_ROLES_INSERT] = "INSERT INTO user_roles(user_id, role) VALUES (?1, ?2) "
	    "ON CONFLICT DO NOTHING",
	[SQ_USER_GROUPS_INSERT] = "INSERT INTO user_groups(user_id, group_name) "
	    "VALUES (?1, ?2) ON CONFLICT DO NOTHING",
	[SQ_SESSION_TOUCH] = "UPDATE sessions SET last_seen_ms = GREATEST(last_seen_ms, ?2) "
	    "WHERE id = ?1",
	[SQ_BIDX_PUT] = "INSERT INTO blind_index(collection, field, mac, record_id, mac_version) "
	    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
	[SQ_SINK_CURSOR_PUT] = "INSERT INTO sink_cursors(name, seq, delivered, "
	    "last_error, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE "
	    "SET seq = excluded.seq, delivered = excluded.delivered, "
	    "last_error = excluded.last_error, updated_ms = excluded.updated_ms",
	[SQ_ALERT_BUMP] = "UPDATE alerts SET count = count + ?2, "
	    "last_seen_ms = GREATEST(last_seen_ms, ?3) WHERE id = ?1 AND status = 'open'",
	[SQ_SESSION_SET_MFA] = "UPDATE sessions SET mfa_verified = 1, "
	    "mfa_at_ms = GREATEST(mfa_at_ms, ?2) WHERE id = ?1 AND ended_ms IS NULL",
	/* the bump notifies every node's listener when (and only if) the
	 * transaction commits (postgres_listen.c); one row: changes = 1 */
	[SQ_EPOCH_BUMP] = "WITH e AS (UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1 "
	    "RETURNING epoch) SELECT pg_notify('phivault_epoch', epoch::text) FROM e",
	[SQ_SUBJECT_TOMBSTONE_PUT] = "INSERT INTO subject_tombstones(ref, shredded_ms) "
	    "VALUES (?1, ?2) ON CONFLICT DO NOTHING",
};

/* The translated text of every id, built once. */
static pthread_once_t pg_text_once = PTHREAD_ONCE_INIT;
static char *pg_text[SQ_STMT__COUNT];
static bool pg_text_failed;

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_';
}

char *store_pg_translate(const char *sql)
{
	size_t n = strlen(sql), cap = n * 2 + 64, o = 0;
	char *out = malloc(cap);
	bool lit = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = sql[i];

		if (o + 32 >= cap) {
			char *p = realloc(out, cap *= 2);

			if (p == NULL) {
				free(out);
				return NULL;
			}
			out = p;
		}
		if (c == '\'') {
			lit = !lit;
			out[o++] = c;
			continue;
		}
		if (lit || c != '?') {
			out[o++] = c;
			continue;
		}
		/* ?N: the parameter number follows */
		size_t j = i + 1;
		unsigned num = 0;

		while (j < n && sql[j] >= '0' && sql[j] <= '9')
			num = num * 10 + (unsigned)(sql[j++] - '0');
		if (j == i + 1) {   /* a bare ? is not used by the op code */
			free(out);
			return NULL;
		}
		if (o >= 6 && strncasecmp(out + o - 6, "LIMIT ", 6) == 0)
			o += (size_t)snprintf(out + o, cap - o, "NULLIF($%u, -1)", num);
		else
			o += (size_t)snprintf(out + o, cap - o, "$%u", num);
		i = j - 1;
	}
	out[o] = '\0';
	return out;
}

char *store_pg_translate_ddl(const char *sql)
{
	static const struct {
		const char *from, *to;
	} words[] = {
		{ "INTEGER", "BIGINT" },
		{ "BLOB", "BYTEA" },
		{ "TEXT", "TEXT COLLATE \"C\"" },
	};
	size_t n = strlen(sql), cap = n * 2 + 64, o = 0;
	char *out = malloc(cap);
	bool lit = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n;) {
		bool done = false;

		if (o + 64 >= cap) {
			char *p = realloc(out, cap *= 2);

			if (p == NULL) {
				free(out);
				return NULL;
			}
			out = p;
		}
		if (sql[i] == '\'') {
			lit = !lit;
			out[o++] = sql[i++];
			continue;
		}
		if (!lit && (i == 0 || !is_ident(sql[i - 1]))) {
			if (strncmp(sql + i, "WITHOUT ROWID", 13) == 0) {
				i += 13;
				continue;
			}
			for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
				size_t wl = strlen(words[w].from);

				if (strncmp(sql + i, words[w].from, wl) == 0 &&
				    !is_ident(sql[i + wl])) {
					o += (size_t)snprintf(out + o, cap - o, "%s", words[w].to);
					i += wl;
					done = true;
					break;
				}
			}
		}
		if (!done)
			out[o++] = sql[i++];
	}
	out[o] = '\0';
	return out;
}

static void pg_text_init(void)
{
	for (size_t id = 0; id < SQ_STMT__COUNT; id++) {
		const char *src = pg_sql[id] != NULL ? pg_sql[id] :
		    store_sqlite_sql((enum store_sqlite_stmt)id);

		if (src == NULL)
			continue;
		if ((pg_text[id] = store_pg_translate(src)) == NULL) {
			log_error("store: postgres: statement %zu cannot be translated", id);
			pg_text_failed = true;
		}
	}
}

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

enum pv_rc store_pg_rc(PGconn *db, PGresult *res, const char *op)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (db != NULL && PQstatus(db) != CONNECTION_OK) {
		log_error("store: %s: postgres connection lost", op);
		return PV_E_UNAVAILABLE;
	}
	if (state == NULL) {
		if (res == NULL) {
			log_error("store: %s: postgres: no result (out of memory or connection)", op);
			return PV_E_UNAVAILABLE;
		}
		log_error("store: %s: postgres status %s", op, PQresStatus(PQresultStatus(res)));
		return PV_E_IO;
	}
	if (strcmp(state, "23505") == 0)
		return PV_E_CONFLICT;
	if (strcmp(state, "25006") == 0) {
		log_error("store: %s on a read-only transaction refused", op);
		return PV_E_READONLY;
	}
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "57", 2) == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		log_error("store: %s: postgres unavailable (SQLSTATE %s)", op, state);
		return PV_E_UNAVAILABLE;
	}
	log_error("store: %s: postgres SQLSTATE %s", op, state);
	return PV_E_IO;
}

enum pv_rc store_pg_exec_simple(PGconn *db, const char *sql, const char *op)
{
	PGresult *res = PQexec(db, sql);
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	enum pv_rc rc = PV_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = store_pg_rc(db, res, op);
	PQclear(res);
	return rc;
}

/* ------------------------------------------------------------------ */
/* rows                                                                */
/* ------------------------------------------------------------------ */

/* A row of a binary-format PGresult as a struct store_row. */
struct pg_row {
	struct store_row base;
	PGresult *res;
	int row;
};

static struct pg_row *pg_row_of(struct store_row *r)
{
	return (struct pg_row *)r;
}

static int64_t pg_row_int64(struct store_row *r, int col)
{
	struct pg_row *p = pg_row_of(r);
	const char *v;
	int len;

	if (col >= PQnfields(p->res) || PQgetisnull(p->res, p->row, col))
		return 0;
	v = PQgetvalue(p->res, p->row, col);
	len = PQgetlength(p->res, p->row, col);
	switch (len) {
	case 8: {
		uint64_t x;

		memcpy(&x, v, 8);
		return (int64_t)be64toh(x);
	}
	case 4: {
		uint32_t x;

		memcpy(&x, v, 4);
		return (int32_t)be32toh(x);
	}
	case 2: {
		uint16_t x;

		memcpy(&x, v, 2);
		return (int16_t)be16toh(x);
	}
	case 1:
		return (unsigned char)v[0];
	default:
		return 0;
	}
}

static bool pg_row_is_null(struct store_row *r, int col)
{
	struct pg_row *p = pg_row_of(r);

	return col >= PQnfields(p->res) || PQgetisnull(p->res, p->row, col);
}

static const char *pg_row_text(struct store_row *r, int col)
{
	struct pg_row *p = pg_row_of(r);

	if (pg_row_is_null(r, col))
		return NULL;
	return PQgetvalue(p->res, p->row, col);   /* binary text = the bytes, NUL-ended */
}

static const void *pg_row_blob(struct store_row *r, int col)
{
	struct pg_row *p = pg_row_of(r);

	if (pg_row_is_null(r, col) || PQgetlength(p->res, p->row, col) == 0)
		return NULL;
	return PQgetvalue(p->res, p->row, col);
}

static int pg_row_bytes(struct store_row *r, int col)
{
	struct pg_row *p = pg_row_of(r);

	if (pg_row_is_null(r, col))
		return 0;
	return PQgetlength(p->res, p->row, col);
}

static const struct store_row_ops pg_row_ops = {
	.int64 = pg_row_int64,
	.is_null = pg_row_is_null,
	.text = pg_row_text,
	.blob = pg_row_blob,
	.bytes = pg_row_bytes,
};

/* ------------------------------------------------------------------ */
/* connections                                                         */
/* ------------------------------------------------------------------ */

static struct store_pg *pg(struct store *st)
{
	return (struct store_pg *)st;
}

static void pg_notice_drop(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;   /* notices may quote values: never printed */
}

static void conn_free(struct store_pg_conn *c)
{
	PQfinish(c->db);
	free(c);
}

static struct store_pg_conn *pool_conn(struct store_pool_conn *pc)
{
	return STORE_POOL_OWNER(pc, struct store_pg_conn, pc);
}

/* The pool's callbacks (store_pool.h). */
static void conn_close_cb(struct store_pool_conn *pc)
{
	conn_free(pool_conn(pc));
}

/* Dead (a statement found it so, or libpq did) or still in a transaction:
 * closed, replaced on the next demand. */
static bool conn_keep_cb(struct store_pool_conn *pc)
{
	struct store_pg_conn *c = pool_conn(pc);

	return !c->broken && PQstatus(c->db) == CONNECTION_OK &&
	    PQtransactionStatus(c->db) == PQTRANS_IDLE;
}

static enum pv_rc conn_open_cb(void *backend, struct store_pool_conn **out)
{
	struct store_pg *s = backend;
	struct store_pg_conn *c = calloc(1, sizeof(*c));
	char set[256];
	enum pv_rc rc;

	if (c == NULL)
		return PV_E_NOMEM;
	c->owner = s;
	c->db = PQconnectdbParams(s->keys, s->vals, 0);
	if (c->db == NULL) {
		free(c);
		return PV_E_NOMEM;
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		/* libpq's message names host and user, never the password */
		const char *m = PQerrorMessage(c->db);
		size_t len = strcspn(m, "\n");

		log_error("store: postgres: cannot connect to %s: %.*s", s->where, (int)len, m);
		conn_free(c);
		return PV_E_UNAVAILABLE;
	}
	PQsetNoticeProcessor(c->db, pg_notice_drop, NULL);
	snprintf(set, sizeof(set),
	    "SET statement_timeout = %d; SET lock_timeout = %d; "
	    "SET client_min_messages = warning; SET standard_conforming_strings = on%s",
	    STORE_PG_STATEMENT_TIMEOUT_MS, STORE_PG_LOCK_TIMEOUT_MS,
	    s->read_only ? "; SET default_transaction_read_only = on" : "");
	if ((rc = store_pg_exec_simple(c->db, set, "connect")) != PV_OK) {
		conn_free(c);
		return rc;
	}
	*out = &c->pc;
	return PV_OK;
}

static const struct store_pool_ops pg_pool_ops = {
	.open = conn_open_cb,
	.close = conn_close_cb,
	.keep = conn_keep_cb,
};

static void conn_release(struct store_pg *s, struct store_pg_conn *c)
{
	c->held = false;
	c->tx.open = false;
	store_pool_release(&s->pool, &c->pc);
}

static enum pv_rc conn_acquire(struct store_pg *s, struct store_pg_conn **out)
{
	struct store_pool_conn *pc;
	enum pv_rc rc = store_pool_acquire(&s->pool, &pc);

	if (rc == PV_OK)
		*out = pool_conn(pc);
	return rc;
}

void store_pg_pool_stats(struct store *st, size_t *open, size_t *peak, size_t *max)
{
	store_pool_stats(&pg(st)->pool, open, peak, max);
}

static void pg_pool_set(struct store *st, unsigned max_connections, unsigned wait_ms)
{
	store_pool_bound(&pg(st)->pool, max_connections, wait_ms);
}

/* ------------------------------------------------------------------ */
/* statement runners                                                   */
/* ------------------------------------------------------------------ */

#define PG_MAX_PARAMS 32

static bool nofault_op(const char *op)
{
	return strcmp(op, "tx_rollback") == 0 || strcmp(op, "tx_rollback_savepoint") == 0;
}

static Oid param_type(const struct store_sqlite_param *p)
{
	switch (p->kind) {
	case STORE_SQLITE_P_TEXT:
		return 25;    /* text */
	case STORE_SQLITE_P_INT:
	case STORE_SQLITE_P_INT_OR_NULL:
		return 20;    /* int8 */
	case STORE_SQLITE_P_BLOB:
	case STORE_SQLITE_P_BLOB_OR_NULL:
		return 17;    /* bytea */
	default:
		return 0;     /* NULL: inferred */
	}
}

/* A prepare that failed on an undeducible or inconsistent parameter type
 * (42P08, 42P18). */
static bool prepare_type_retry(PGresult *r)
{
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return state != NULL && (strcmp(state, "42P08") == 0 || strcmp(state, "42P18") == 0);
}

/* Run statement id on the transaction's connection: parameters bound (text
 * as text, integers as int8 text, blobs binary), results in binary.
 * *res is a PGRES_TUPLES_OK or PGRES_COMMAND_OK result on PV_OK. */
static enum pv_rc pg_run(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, PGresult **res)
{
	struct store_pg_conn *c = store_pg_tx_conn(tx);
	const char *values[PG_MAX_PARAMS];
	int lengths[PG_MAX_PARAMS], formats[PG_MAX_PARAMS];
	char ints[PG_MAX_PARAMS][24];
	static const char empty[1];
	char name[16];
	PGresult *r;
	ExecStatusType st;
	enum pv_rc rc;
	bool stmt_sp;

	if (!nofault_op(op) && (rc = store_fault_check(op)) != PV_OK)
		return rc;
	if (!c->held) {
		log_error("store: %s on an ended transaction refused", op);
		return PV_E_INVALID;
	}
	pthread_once(&pg_text_once, pg_text_init);
	if (id >= SQ_STMT__COUNT || pg_text[id] == NULL || n > PG_MAX_PARAMS) {
		log_error("store: %s: no PostgreSQL statement", op);
		return PV_E_INTERNAL;
	}
	if (c->broken || PQstatus(c->db) != CONNECTION_OK) {
		c->broken = true;
		log_error("store: %s: postgres connection lost", op);
		return PV_E_UNAVAILABLE;
	}
	snprintf(name, sizeof(name), "pv%d", (int)id);
	if (!c->prepared[id]) {
		Oid types[PG_MAX_PARAMS];
		bool untyped = false;

		for (size_t k = 0; k < n; k++) {
			types[k] = param_type(&p[k]);
			untyped = untyped || types[k] == 0;
		}
		/* A NULL (SQP_NULL) leaves its type to PostgreSQL, which may not
		 * deduce one ("?3 IS NULL OR field = ?3"): then the op code's NULL
		 * is text. A failed Parse would abort the transaction: under a
		 * savepoint (once per connection and statement). */
		if (untyped && (rc = store_pg_exec_simple(c->db, "SAVEPOINT pv_prep", op)) != PV_OK) {
			if (rc == PV_E_UNAVAILABLE)
				c->broken = true;
			return rc;
		}
		r = PQprepare(c->db, name, pg_text[id], (int)n, types);
		st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (untyped && st != PGRES_COMMAND_OK && prepare_type_retry(r)) {
			PQclear(r);
			(void)store_pg_exec_simple(c->db, "ROLLBACK TO SAVEPOINT pv_prep", op);
			for (size_t k = 0; k < n; k++)
				if (types[k] == 0)
					types[k] = 25;
			r = PQprepare(c->db, name, pg_text[id], (int)n, types);
			st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		}
		if (untyped && st == PGRES_COMMAND_OK)
			(void)store_pg_exec_simple(c->db, "RELEASE SAVEPOINT pv_prep", op);
		if (st != PGRES_COMMAND_OK) {
			rc = store_pg_rc(c->db, r, op);
			PQclear(r);
			if (rc == PV_E_UNAVAILABLE)
				c->broken = true;
			return rc == PV_E_CONFLICT ? PV_E_IO : rc;
		}
		PQclear(r);
		c->prepared[id] = true;
	}
	for (size_t k = 0; k < n; k++) {
		formats[k] = 0;
		lengths[k] = 0;
		switch (p[k].kind) {
		case STORE_SQLITE_P_TEXT:
			values[k] = p[k].p;
			break;
		case STORE_SQLITE_P_INT:
			snprintf(ints[k], sizeof(ints[k]), "%lld", (long long)p[k].i);
			values[k] = ints[k];
			break;
		case STORE_SQLITE_P_INT_OR_NULL:
			snprintf(ints[k], sizeof(ints[k]), "%lld", (long long)p[k].i);
			values[k] = p[k].i != 0 ? ints[k] : NULL;
			break;
		case STORE_SQLITE_P_BLOB:
			values[k] = p[k].len > 0 ? p[k].p : empty;
			lengths[k] = (int)p[k].len;
			formats[k] = 1;
			break;
		case STORE_SQLITE_P_BLOB_OR_NULL:
			values[k] = p[k].p != NULL && p[k].len > 0 ? p[k].p : NULL;
			lengths[k] = (int)p[k].len;
			formats[k] = 1;
			break;
		default:
			values[k] = NULL;
			break;
		}
	}
	/* An INSERT may meet a unique violation the op code expects to survive
	 * (PV_E_CONFLICT); only a savepoint keeps the transaction usable. */
	stmt_sp = tx->mode == STORE_WR && strncasecmp(pg_text[id], "INSERT", 6) == 0;
	if (stmt_sp && (rc = store_pg_exec_simple(c->db, "SAVEPOINT pv_stmt", op)) != PV_OK) {
		if (rc == PV_E_UNAVAILABLE)
			c->broken = true;
		return rc;
	}
	r = PQexecPrepared(c->db, name, (int)n, values, lengths, formats, 1);
	st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		rc = store_pg_rc(c->db, r, op);
		PQclear(r);
		if (rc == PV_E_UNAVAILABLE)
			c->broken = true;
		else if (stmt_sp)
			(void)store_pg_exec_simple(c->db,
			    "ROLLBACK TO SAVEPOINT pv_stmt; RELEASE SAVEPOINT pv_stmt", op);
		return rc;
	}
	if (stmt_sp && (rc = store_pg_exec_simple(c->db, "RELEASE SAVEPOINT pv_stmt", op)) !=
	    PV_OK) {
		PQclear(r);
		if (rc == PV_E_UNAVAILABLE)
			c->broken = true;
		return rc;
	}
	*res = r;
	return PV_OK;
}

static enum pv_rc pg_run_exec(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, int *changes)
{
	PGresult *r = NULL;
	enum pv_rc rc = pg_run(tx, id, op, p, n, &r);

	if (rc == PV_OK && changes != NULL)
		*changes = atoi(PQcmdTuples(r));
	PQclear(r);
	return rc;
}

static enum pv_rc pg_run_get(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_decode_fn decode, void *out)
{
	PGresult *r = NULL;
	enum pv_rc rc = pg_run(tx, id, op, p, n, &r);
	struct pg_row row;

	if (rc != PV_OK)
		return rc;
	if (PQntuples(r) < 1) {
		rc = PV_E_NOTFOUND;
	} else {
		row = (struct pg_row){ { &pg_row_ops }, r, 0 };
		rc = decode(&row.base, out);
	}
	PQclear(r);
	return rc;
}

static enum pv_rc pg_run_scan(struct store_tx *tx, enum store_sqlite_stmt id, const char *op,
    const struct store_sqlite_param *p, size_t n, store_sqlite_row_fn fn, void *ctx)
{
	PGresult *r = NULL;
	enum pv_rc rc = pg_run(tx, id, op, p, n, &r);

	if (rc != PV_OK)
		return rc;
	for (int i = 0, rows = PQntuples(r); i < rows; i++) {
		struct pg_row row = { { &pg_row_ops }, r, i };
		bool stop = false;

		if ((rc = fn(&row.base, ctx, &stop)) != PV_OK || stop)
			break;
	}
	PQclear(r);
	return rc;
}

static const struct store_sql_runner pg_runner = {
	.exec = pg_run_exec,
	.get = pg_run_get,
	.scan = pg_run_scan,
};

/* ------------------------------------------------------------------ */
/* lifecycle, transactions                                             */
/* ------------------------------------------------------------------ */

static void pg_close(struct store *st)
{
	struct store_pg *s = pg(st);

	store_pg_listen_stop(s);
	store_pool_destroy(&s->pool);
	free(s->keys);
	free(s->vals);
	free(s->conninfo_buf);
	free(s);
}

static int pg_schema_version(struct store *st)
{
	return pg(st)->schema_version;
}

/* A transaction control statement on the transaction's connection, with
 * its fault name checked first (except the cleanup ones). */
static enum pv_rc tx_ctl(struct store_tx *tx, const char *sql, const char *op)
{
	struct store_pg_conn *c = store_pg_tx_conn(tx);
	enum pv_rc rc;

	if (!nofault_op(op) && (rc = store_fault_check(op)) != PV_OK)
		return rc;
	if (c->broken || PQstatus(c->db) != CONNECTION_OK) {
		c->broken = true;
		return PV_E_UNAVAILABLE;
	}
	rc = store_pg_exec_simple(c->db, sql, op);
	if (rc == PV_E_UNAVAILABLE)
		c->broken = true;
	return rc;
}

/* Take a connection and BEGIN. A pooled connection the database dropped
 * while idle (it restarted) fails its BEGIN: the idle ones are closed and
 * the transaction begins once more on a new connection, so the first
 * request after the database returns is served. */
static enum pv_rc pg_begin(struct store *st, enum store_mode mode, struct store_tx **out)
{
	static const char wr_sql[] = "BEGIN ISOLATION LEVEL READ COMMITTED; "
	    "SELECT pg_advisory_xact_lock(" PG_STR(STORE_PG_LOCK_WRITER) ")";
	static const char rd_sql[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	struct store_pg *s = pg(st);
	struct store_pg_conn *c;
	enum pv_rc rc;
	bool wr = mode == STORE_WR;

	for (int attempt = 0;; attempt++) {
		bool reused;

		if ((rc = conn_acquire(s, &c)) != PV_OK)
			return rc;
		reused = c->uses++ > 0;
		c->held = true;
		c->tx = (struct store_tx){ .st = st, .mode = mode, .open = true };
		rc = tx_ctl(&c->tx, wr ? wr_sql : rd_sql, wr ? "tx_begin" : "tx_begin_rd");
		if (rc == PV_OK)
			break;
		if (!c->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE)
			(void)store_pg_exec_simple(c->db, "ROLLBACK", "tx_rollback");
		{
			bool dead = c->broken;

			conn_release(s, c);
			if (!(dead && reused && attempt == 0))
				return rc;
		}
		store_pool_drain_idle(&s->pool);   /* the others are dead too */
	}
	*out = &c->tx;
	return PV_OK;
}

/* COMMIT; an aborted transaction answers COMMIT with the tag ROLLBACK,
 * which is a failure here (PV_E_IO), never a silent loss. */
static enum pv_rc pg_commit(struct store_tx *tx)
{
	struct store_pg_conn *c = store_pg_tx_conn(tx);
	const char *op = tx->mode == STORE_WR ? "tx_commit" : "tx_commit_rd";
	PGresult *r;
	enum pv_rc rc;

	tx->open = false;
	if ((rc = store_fault_check(op)) != PV_OK)
		return rc;
	if (c->broken || PQstatus(c->db) != CONNECTION_OK) {
		c->broken = true;
		return PV_E_UNAVAILABLE;
	}
	r = PQexec(c->db, "COMMIT");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		rc = store_pg_rc(c->db, r, op);
		if (rc == PV_E_UNAVAILABLE)
			c->broken = true;
	} else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
		log_error("store: %s: postgres rolled the transaction back", op);
		rc = PV_E_IO;
	}
	PQclear(r);
	/* an access change: answer once this node's listener heard its NOTIFY,
	 * so the other nodes' listeners (signalled at the same moment) have
	 * had as long to hear it before the caller's next request */
	if (rc == PV_OK && tx->epoch_bumped > 0)
		store_pg_listen_await(tx->st, tx->epoch_bumped);
	return rc;
}

static void pg_end(struct store_tx *tx)
{
	struct store_pg_conn *c = store_pg_tx_conn(tx);

	if (!c->held) {
		log_error("store: transaction ended twice");
		return;
	}
	if (!c->broken && PQstatus(c->db) == CONNECTION_OK &&
	    PQtransactionStatus(c->db) != PQTRANS_IDLE)
		(void)store_pg_exec_simple(c->db, "ROLLBACK", "tx_rollback");
	conn_release(c->owner, c);
}

static enum pv_rc pg_savepoint(struct store_tx *tx)
{
	return tx_ctl(tx, "SAVEPOINT sp", "tx_savepoint");
}

static enum pv_rc pg_release(struct store_tx *tx)
{
	return tx_ctl(tx, "RELEASE SAVEPOINT sp", "tx_release");
}

static void pg_rollback_savepoint(struct store_tx *tx)
{
	struct store_pg_conn *c = store_pg_tx_conn(tx);
	PGTransactionStatusType ts;

	if (c->broken || PQstatus(c->db) != CONNECTION_OK)
		return;
	ts = PQtransactionStatus(c->db);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		(void)tx_ctl(tx, "ROLLBACK TO SAVEPOINT sp; RELEASE SAVEPOINT sp",
		    "tx_rollback_savepoint");
}

/* ------------------------------------------------------------------ */
/* ops table, open                                                     */
/* ------------------------------------------------------------------ */

static const struct store_core_ops pg_core_ops = {
	.pool_set = pg_pool_set,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.begin = pg_begin,
	.commit = pg_commit,
	.end = pg_end,
	.savepoint = pg_savepoint,
	.release = pg_release,
	.rollback_savepoint = pg_rollback_savepoint,
	.meta_get = store_sqlite_meta_get,
	.meta_put = store_sqlite_meta_put,
	.import_datadir = store_pg_import_datadir,   /* postgres_import.c */
	.epoch_listen = store_pg_listen_start,       /* postgres_listen.c */
	.epoch_known = store_pg_listen_known,
};

/* Online snapshots (store_backup.h) are SQLite's online backup API: not
 * supported here yet. Back a PostgreSQL vault up with pg_basebackup / WAL
 * archiving or the provider's snapshots (docs/scaling.md). */
static enum pv_rc pg_snapshot(struct store_tx *tx, const struct store_snapshot_sink *sink,
    struct store_snapshot_info *out)
{
	(void)tx;
	(void)sink;
	(void)out;
	log_error("store: snapshot: not supported on postgres (use pg_basebackup)");
	return PV_E_UNSUPPORTED;
}

static const struct store_backup_ops pg_backup_ops = {
	.snapshot = pg_snapshot,
};

/* Every domain but core (and backup) is the shared op code (its SQL translated or
 * overridden above). */
static const struct store_ops pg_ops = {
	.core = &pg_core_ops,
	.identity = &store_sqlite_identity_ops,
	.vault = &store_sqlite_vault_ops,
	.keys = &store_sqlite_keys_ops,
	.audit = &store_sqlite_audit_ops,
	.jobs = &store_sqlite_jobs_ops,
	.sinks = &store_sqlite_sinks_ops,
	.detect = &store_sqlite_detect_ops,
	.policy = &store_sqlite_policy_ops,
	.apps = &store_sqlite_apps_ops,
	.cluster = &store_sqlite_cluster_ops,
	.oidc = &store_sqlite_oidc_ops,
	.backup = &pg_backup_ops,
	.subjects = &store_sqlite_subjects_ops,
	.secrets = &store_sqlite_secrets_ops,
	.approvals = &store_sqlite_approvals_ops,
	.webauthn = &store_sqlite_webauthn_ops,
	.elevations = &store_sqlite_elevations_ops,
	.breakglass = &store_sqlite_breakglass_ops,
	.exports = &store_sqlite_exports_ops,
	.campaigns = &store_sqlite_campaigns_ops,
};

/* Parse url into s->keys/vals, adding phivault's bounds where the url sets
 * none (connect_timeout, keepalives, application_name). PV_E_CONFIG for a
 * conninfo libpq refuses (its message is not logged: it may quote the url). */
static enum pv_rc conninfo_load(struct store_pg *s, const char *url)
{
	static const struct {
		const char *key, *val;
	} defaults[] = {
		{ "connect_timeout", STORE_PG_CONNECT_TIMEOUT_S },
		{ "keepalives", "1" },
		{ "keepalives_idle", "10" },
		{ "keepalives_interval", "5" },
		{ "keepalives_count", "3" },
		{ "tcp_user_timeout", "15000" },
		{ "application_name", "phivault" },
	};
	const size_t ndef = sizeof(defaults) / sizeof(defaults[0]);
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err), *o;
	size_t n = 0, bytes = 0, k = 0, off = 0;
	const char *host = NULL, *port = NULL, *dbname = NULL;

	if (opts == NULL) {
		PQfreemem(err);
		log_error("store: [store] url is not a valid libpq conninfo");
		return PV_E_CONFIG;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		n++;
		bytes += strlen(o->keyword) + strlen(o->val) + 2;
	}
	s->keys = calloc(n + ndef + 1, sizeof(char *));
	s->vals = calloc(n + ndef + 1, sizeof(char *));
	s->conninfo_buf = malloc(bytes + 1);
	if (s->keys == NULL || s->vals == NULL || s->conninfo_buf == NULL) {
		PQconninfoFree(opts);
		return PV_E_NOMEM;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		s->keys[k] = s->conninfo_buf + off;
		off += (size_t)sprintf(s->conninfo_buf + off, "%s", o->keyword) + 1;
		s->vals[k] = s->conninfo_buf + off;
		off += (size_t)sprintf(s->conninfo_buf + off, "%s", o->val) + 1;
		if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			host = s->vals[k];
		else if (strcmp(o->keyword, "port") == 0)
			port = s->vals[k];
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = s->vals[k];
		k++;
	}
	for (size_t d = 0; d < ndef; d++) {
		bool set = false;

		for (size_t j = 0; j < k; j++)
			set = set || strcmp(s->keys[j], defaults[d].key) == 0;
		if (!set) {
			s->keys[k] = defaults[d].key;
			s->vals[k] = defaults[d].val;
			k++;
		}
	}
	s->keys[k] = NULL;
	s->vals[k] = NULL;
	/* for logs: where, never who or with what password */
	snprintf(s->where, sizeof(s->where), "host=%s port=%s dbname=%s",
	    host != NULL ? host : "(default)", port != NULL ? port : "(default)",
	    dbname != NULL ? dbname : "(default)");
	PQconninfoFree(opts);
	return PV_OK;
}

enum pv_rc store_pg_open(const char *url, bool read_only, struct store **out)
{
	struct store_pg *s;
	struct store_pg_conn *c;
	enum pv_rc rc;

	if (url == NULL || url[0] == '\0') {
		log_error("store: backend postgres needs [store] url (a libpq conninfo)");
		return PV_E_CONFIG;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return PV_E_NOMEM;
	s->base.ops = &pg_ops;
	s->base.sql = &pg_runner;
	s->base.shared = true;   /* several nodes may share the database */
	s->read_only = read_only;
	if (store_pool_init(&s->pool, &pg_pool_ops, s, store_sqlite_default_max_conns(),
	    STORE_PG_POOL_WAIT_MS) != PV_OK) {
		free(s);
		return PV_E_NOMEM;
	}
	if ((rc = conninfo_load(s, url)) != PV_OK)
		goto fail;
	pthread_once(&pg_text_once, pg_text_init);
	if (pg_text_failed) {
		rc = PV_E_INTERNAL;
		goto fail;
	}
	if ((rc = conn_acquire(s, &c)) != PV_OK)
		goto fail;
	c->held = true;
	if (read_only)
		rc = store_pg_schema_read(c->db, &s->schema_version);
	else
		rc = store_pg_migrate(c->db, &s->schema_version);
	conn_release(s, c);
	if (rc != PV_OK)
		goto fail;
	log_info("store: postgres %s, schema version %d", s->where, s->schema_version);
	*out = &s->base;
	return PV_OK;
fail:
	pg_close(&s->base);
	return rc;
}
