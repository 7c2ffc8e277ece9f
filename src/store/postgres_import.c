/*
 * postgres_import.c: the first serve on PostgreSQL moves what init wrote
 * (DIR/phivault.db) into the database (store_import_datadir, API.md
 * "Several nodes").
 *
 * Invariants:
 *  - Only into an empty vault: a PostgreSQL store with any meta row (a
 *    keyring) is never overwritten; a second node, or a restart, finds the
 *    data there and does nothing.
 *  - One STORE_WR transaction (under the writer lock): rows the migrations
 *    seeded (built-in roles) are replaced by the file's, every table is
 *    copied in creation order (parents before children), kek_census is
 *    rebuilt by its triggers as the records, tokens, subjects and secret
 *    versions arrive; secret_versions' identity sequence is moved past the
 *    copied seqs. Either all of it is there or nothing.
 *  - The file is first brought to this binary's schema (a SQLite open
 *    migrates it), so both sides have the same tables and columns.
 *  - Values are copied as they are: integers as int8, text and blobs as
 *    bytes (binary format), NULL as NULL. Nothing is decrypted; nothing is
 *    logged but table names and counts.
 *  - After the commit the file (and -wal, -shm) is renamed
 *    phivault.db.moved-to-postgres: it is no longer the vault.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_pg.h"

#define MOVED_SUFFIX ".moved-to-postgres"
#define MAX_TABLES 128
#define MAX_COLS 64

/* Tables kept by triggers: rebuilt, not copied. */
static bool derived_table(const char *name)
{
	return strcmp(name, "kek_census") == 0;
}

static enum pv_rc pg_count(PGconn *db, const char *sql, long long *n)
{
	PGresult *r = PQexec(db, sql);
	enum pv_rc rc = PV_OK;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = store_pg_rc(db, r, "import");
	else
		*n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

static void quote_ident(char *dst, size_t cap, const char *name)
{
	size_t o = 0;

	if (cap < 3) {
		dst[0] = '\0';
		return;
	}
	dst[o++] = '"';
	for (const char *p = name; *p != '\0' && o + 3 < cap; p++) {
		if (*p == '"')
			dst[o++] = '"';
		dst[o++] = *p;
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

/* Copy every row of table from the SQLite file into PostgreSQL. */
static enum pv_rc copy_table(sqlite3 *src, PGconn *db, const char *table, long long *rows)
{
	char sql[8192], q[200];
	sqlite3_stmt *s = NULL;
	enum pv_rc rc = PV_OK;
	int ncol, src_rc;
	size_t o;

	quote_ident(q, sizeof(q), table);
	snprintf(sql, sizeof(sql), "SELECT * FROM %s", q);
	if (sqlite3_prepare_v2(src, sql, -1, &s, NULL) != SQLITE_OK) {
		log_error("store: import: cannot read table %s", table);
		return PV_E_IO;
	}
	ncol = sqlite3_column_count(s);
	if (ncol < 1 || ncol > MAX_COLS) {
		sqlite3_finalize(s);
		return PV_E_INTERNAL;
	}
	o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO %s(", q);
	for (int i = 0; i < ncol && o < sizeof(sql); i++) {
		quote_ident(q, sizeof(q), sqlite3_column_name(s, i));
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s%s", i ? ", " : "", q);
	}
	if (o < sizeof(sql))
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, ") VALUES (");
	for (int i = 0; i < ncol && o < sizeof(sql); i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s$%d", i ? ", " : "", i + 1);
	if (o + 2 >= sizeof(sql)) {
		sqlite3_finalize(s);
		return PV_E_INTERNAL;
	}
	snprintf(sql + o, sizeof(sql) - o, ")");
	*rows = 0;
	while ((src_rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *values[MAX_COLS];
		int lengths[MAX_COLS], formats[MAX_COLS];
		char ints[MAX_COLS][24];
		PGresult *r;

		for (int i = 0; i < ncol; i++) {
			lengths[i] = 0;
			formats[i] = 0;
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL:
				values[i] = NULL;
				break;
			case SQLITE_INTEGER:
				snprintf(ints[i], sizeof(ints[i]), "%lld",
				    (long long)sqlite3_column_int64(s, i));
				values[i] = ints[i];
				break;
			default:   /* text, blob (and float, unused): the bytes */
				values[i] = sqlite3_column_type(s, i) == SQLITE_BLOB ?
				    (const char *)sqlite3_column_blob(s, i) :
				    (const char *)sqlite3_column_text(s, i);
				lengths[i] = sqlite3_column_bytes(s, i);
				if (values[i] == NULL)
					values[i] = "";
				formats[i] = 1;
				break;
			}
		}
		r = PQexecParams(db, sql, ncol, NULL, values, lengths, formats, 0);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			rc = store_pg_rc(db, r, "import");
			log_error("store: import: table %s row %lld refused", table, *rows + 1);
			PQclear(r);
			break;
		}
		PQclear(r);
		(*rows)++;
	}
	if (rc == PV_OK && src_rc != SQLITE_DONE) {
		log_error("store: import: reading table %s failed", table);
		rc = PV_E_IO;
	}
	sqlite3_finalize(s);
	return rc;
}

static enum pv_rc rename_moved(const char *path)
{
	static const char *const ext[] = { "", "-wal", "-shm" };

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		char from[4200], to[4300];

		snprintf(from, sizeof(from), "%s%s", path, ext[i]);
		snprintf(to, sizeof(to), "%s%s%s", path, MOVED_SUFFIX, ext[i]);
		if (rename(from, to) != 0 && errno != ENOENT) {
			log_error("store: import: cannot rename %s: errno %d", from, errno);
			return PV_E_IO;
		}
	}
	return PV_OK;
}

enum pv_rc store_pg_import_datadir(struct store *st, const char *datadir, bool *moved)
{
	char path[4096], names[MAX_TABLES][64];
	struct store *tmp = NULL;
	struct store_tx *tx = NULL;
	struct stat sb;
	sqlite3 *src = NULL;
	sqlite3_stmt *s = NULL;
	PGconn *db;
	long long n = 0, total = 0;
	size_t ntables = 0;
	enum pv_rc rc;
	char q[200], sql[300];

	*moved = false;
	if (util_path_join(path, sizeof(path), datadir, STORE_SQLITE_FILE) != 0)
		return PV_E_INVALID;
	if (stat(path, &sb) != 0)
		return PV_OK;   /* nothing to move */
	if ((rc = store_begin(st, STORE_WR, &tx)) != PV_OK)
		return rc;
	db = store_pg_tx_conn(tx)->db;
	if ((rc = pg_count(db, "SELECT count(*) FROM meta", &n)) != PV_OK)
		goto out;
	if (n > 0) {
		log_warn("store: %s is not moved: the PostgreSQL vault already has data",
		    STORE_SQLITE_FILE);
		goto out;
	}
	/* bring the file to this binary's schema, then read it as it is */
	if ((rc = store_sqlite_open(datadir, false, &tmp)) != PV_OK)
		goto out;
	store_close(tmp);
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(src, "SELECT name FROM sqlite_schema WHERE type = 'table' "
	    "AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY rowid", -1, &s,
	    NULL) != SQLITE_OK) {
		log_error("store: import: cannot read %s", STORE_SQLITE_FILE);
		rc = PV_E_IO;
		goto out;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);

		if (ntables == MAX_TABLES || name == NULL || strlen(name) >= sizeof(names[0])) {
			rc = PV_E_INTERNAL;
			goto out;
		}
		util_strlcpy(names[ntables++], name, sizeof(names[0]));
	}
	/* children first: the seeded rows (built-in roles) go */
	for (size_t i = ntables; i-- > 0;) {
		quote_ident(q, sizeof(q), names[i]);
		snprintf(sql, sizeof(sql), "DELETE FROM %s", q);
		if ((rc = store_pg_exec_simple(db, sql, "import")) != PV_OK)
			goto out;
	}
	for (size_t i = 0; i < ntables; i++) {
		if (derived_table(names[i]))
			continue;
		if ((rc = copy_table(src, db, names[i], &n)) != PV_OK)
			goto out;
		total += n;
	}
	/* identity columns (secret_versions.seq, SQLite AUTOINCREMENT) continue
	 * after the copied values */
	if ((rc = store_pg_exec_simple(db, "SELECT setval(pg_get_serial_sequence("
	    "'secret_versions', 'seq'), COALESCE(MAX(seq), 0) + 1, false) FROM secret_versions",
	    "import")) != PV_OK)
		goto out;
	if ((rc = store_commit(tx)) != PV_OK)
		goto out;
	log_info("store: moved %s into PostgreSQL (%zu tables, %lld rows)", STORE_SQLITE_FILE,
	    ntables, total);
	*moved = true;
out:
	sqlite3_finalize(s);
	if (src != NULL)
		sqlite3_close_v2(src);
	store_end(tx);
	if (rc == PV_OK && *moved)
		rc = rename_moved(path);
	return rc;
}
