/*
 * postgres_migrate.c: the PostgreSQL schema, versioned like SQLite's.
 *
 * The migrations are the SQLite list (migrate.c), the same versions, so
 * store_schema_version means the same on both backends. Each one's DDL is
 * translated (store_pg_translate_ddl: INTEGER -> BIGINT, BLOB -> BYTEA,
 * TEXT -> TEXT COLLATE "C", no WITHOUT ROWID) unless pg_override[] below
 * gives PostgreSQL's own text (where SQLite-only SQL is used: julianday,
 * triggers), and pg_extra[] is run after it (PostgreSQL-only helpers).
 *
 * Invariants (as SQLite's):
 *  - schema_migrations(version BIGINT PRIMARY KEY, applied_at TEXT); the
 *    version is MAX(version).
 *  - Each missing migration runs in its own transaction with its
 *    schema_migrations row, under pg_advisory_xact_lock(MIGRATE), re-reading
 *    the version under the lock: two nodes starting at once apply it once.
 *  - A database newer than this binary is refused (PV_E_CONFIG).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"

#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)

/* Migration 1's helper: the user ID of an audit actor cell, NULL if the
 * cell is not JSON (SQLite: CASE WHEN json_valid(actor) THEN json_extract). */
static const char pg_extra_1[] =
	"CREATE FUNCTION pv_actor_user(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$"
	" BEGIN RETURN t::jsonb ->> 'user_id';"
	" EXCEPTION WHEN others THEN RETURN NULL; END $f$;";

/* 6: the same change, with PostgreSQL's clock. */
static const char pg_override_6[] =
	"ALTER TABLE users ADD COLUMN otp_issued_ms BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE users ADD COLUMN otp_used_ms BIGINT NOT NULL DEFAULT 0;"
	"UPDATE users SET otp_issued_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
	" WHERE password_one_time = 1;"
	"DELETE FROM lockouts WHERE key <> '~invalid' AND key NOT IN (SELECT username FROM users);";

/* 12: the census, kept by one trigger function (SQLite: six triggers). */
static const char pg_override_12[] =
	"CREATE TABLE kek_census("
	" name TEXT COLLATE \"C\" NOT NULL,"
	" version BIGINT NOT NULL,"
	" objects BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY(name, version));"
	"INSERT INTO kek_census(name, version, objects)"
	" SELECT kek_name, kek_version, COUNT(*) FROM ("
	"  SELECT kek_name, kek_version FROM records WHERE wrapped_dek IS NOT NULL"
	"  UNION ALL SELECT kek_name, kek_version FROM tokens WHERE wrapped_dek IS NOT NULL) o"
	" GROUP BY kek_name, kek_version;"
	"CREATE FUNCTION pv_census() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
	" IF TG_OP <> 'INSERT' THEN"
	"  IF OLD.wrapped_dek IS NOT NULL THEN"
	"   UPDATE kek_census SET objects = objects - 1"
	"    WHERE name = OLD.kek_name AND version = OLD.kek_version;"
	"  END IF;"
	" END IF;"
	" IF TG_OP <> 'DELETE' THEN"
	"  IF NEW.wrapped_dek IS NOT NULL THEN"
	"   INSERT INTO kek_census(name, version, objects) VALUES (NEW.kek_name, NEW.kek_version, 1)"
	"    ON CONFLICT(name, version) DO UPDATE SET objects = kek_census.objects + 1;"
	"  END IF;"
	" END IF;"
	" RETURN NULL; END $f$;"
	"CREATE TRIGGER census_records AFTER INSERT OR DELETE OR UPDATE OF kek_name, kek_version,"
	" wrapped_dek ON records FOR EACH ROW EXECUTE FUNCTION pv_census();"
	"CREATE TRIGGER census_tokens AFTER INSERT OR DELETE OR UPDATE OF kek_name, kek_version,"
	" wrapped_dek ON tokens FOR EACH ROW EXECUTE FUNCTION pv_census();";

/* 14 (subjects): the same tables; the census of subject keys through
 * pv_census (12) instead of SQLite's three triggers (a subject's wrapped_dek
 * is never NULL, so it counts every row, as SQLite's do). */
static const char pg_override_14[] =
	"CREATE TABLE subjects("
	" ref TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	" kek_name TEXT COLLATE \"C\" NOT NULL,"
	" kek_version BIGINT NOT NULL,"
	" wrapped_dek BYTEA NOT NULL,"
	" ciphertext BYTEA NOT NULL,"
	" created_ms BIGINT NOT NULL,"
	" hold_reason TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
	" hold_by TEXT COLLATE \"C\" NOT NULL DEFAULT '',"
	" hold_ms BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE subject_records("
	" collection TEXT COLLATE \"C\" NOT NULL,"
	" record_id TEXT COLLATE \"C\" NOT NULL,"
	" ref TEXT COLLATE \"C\" NOT NULL,"
	" PRIMARY KEY(collection, record_id));"
	"CREATE INDEX subject_records_ref ON subject_records(ref);"
	"CREATE TABLE subject_tombstones("
	" ref TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	" shredded_ms BIGINT NOT NULL);"
	"CREATE TRIGGER census_subjects AFTER INSERT OR DELETE OR UPDATE OF kek_name, kek_version,"
	" wrapped_dek ON subjects FOR EACH ROW EXECUTE FUNCTION pv_census();";

/* 15 (secrets): seq an identity column (SQLite: INTEGER PRIMARY KEY
 * AUTOINCREMENT, never reused); the census of live versions (wrapped_dek not
 * NULL) through pv_census, exactly the rule of SQLite's triggers. */
static const char pg_override_15[] =
	"CREATE TABLE secrets("
	" path TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,"
	" current_version BIGINT NOT NULL,"
	" rotate_every_s BIGINT NOT NULL DEFAULT 0,"
	" created_ms BIGINT NOT NULL,"
	" updated_ms BIGINT NOT NULL,"
	" deleted_ms BIGINT NOT NULL DEFAULT 0,"
	" metadata TEXT COLLATE \"C\" NOT NULL DEFAULT '{}');"
	"CREATE TABLE secret_versions("
	" seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	" path TEXT COLLATE \"C\" NOT NULL REFERENCES secrets(path),"
	" version BIGINT NOT NULL,"
	" kek_name TEXT COLLATE \"C\" NOT NULL,"
	" kek_version BIGINT NOT NULL,"
	" wrapped_dek BYTEA,"
	" ciphertext BYTEA,"
	" metadata TEXT COLLATE \"C\" NOT NULL DEFAULT '{}',"
	" created_ms BIGINT NOT NULL,"
	" destroyed_ms BIGINT NOT NULL DEFAULT 0,"
	" UNIQUE(path, version));"
	"CREATE TRIGGER census_secrets AFTER INSERT OR DELETE OR UPDATE OF kek_name, kek_version,"
	" wrapped_dek ON secret_versions FOR EACH ROW EXECUTE FUNCTION pv_census();";

/* 31: the same tables; the census of record keys through pv_census (12). */
static const char pg_override_31[] =
	"CREATE TABLE record_keys("
	" id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL REFERENCES records(id),"
	" kek_name TEXT COLLATE \"C\" NOT NULL,"
	" kek_version BIGINT NOT NULL,"
	" wrapped_dek BYTEA);"
	"INSERT INTO record_keys(id, kek_name, kek_version, wrapped_dek)"
	" SELECT id, kek_name, kek_version, wrapped_dek FROM records;"
	"DROP TRIGGER census_records ON records;"
	"ALTER TABLE records DROP COLUMN wrapped_dek, DROP COLUMN kek_version,"
	" DROP COLUMN kek_name;"
	"CREATE TRIGGER census_record_keys AFTER INSERT OR DELETE OR UPDATE OF kek_name,"
	" kek_version, wrapped_dek ON record_keys FOR EACH ROW EXECUTE FUNCTION pv_census();";

struct pg_migration {
	int version;
	const char *override;   /* replaces the translated SQLite text */
	const char *extra;      /* runs after it */
};

static const struct pg_migration pg_migrations[] = {
	{ 1, NULL, pg_extra_1 },
	{ 6, pg_override_6, NULL },
	{ 12, pg_override_12, NULL },
	{ 14, pg_override_14, NULL },
	{ 15, pg_override_15, NULL },
	{ 31, pg_override_31, NULL },
};

static const struct pg_migration *pg_find(int version)
{
	for (size_t i = 0; i < sizeof(pg_migrations) / sizeof(pg_migrations[0]); i++)
		if (pg_migrations[i].version == version)
			return &pg_migrations[i];
	return NULL;
}

static enum pv_rc read_version(PGconn *db, int *version)
{
	PGresult *r = PQexec(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
	enum pv_rc rc = PV_OK;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = store_pg_rc(db, r, "schema_version");
	else
		*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

static enum pv_rc check_known(int version)
{
	if (version > store_sqlite_schema_latest()) {
		log_error("store: database schema version %d is newer than this binary (%d)",
		    version, store_sqlite_schema_latest());
		return PV_E_CONFIG;
	}
	return PV_OK;
}

static enum pv_rc apply_one(PGconn *db, int version)
{
	const struct pg_migration *m = pg_find(version);
	const char *src = store_sqlite_migration_sql(version);
	char *ddl = NULL, rec[160];
	int cur = 0;
	enum pv_rc rc;

	if ((rc = store_pg_exec_simple(db, "BEGIN; SELECT pg_advisory_xact_lock("
	    PG_STR(STORE_PG_LOCK_MIGRATE) ")", "migrate")) != PV_OK)
		return rc;
	if ((rc = read_version(db, &cur)) != PV_OK || cur >= version)
		goto out;   /* another node got here first */
	if (m != NULL && m->override != NULL) {
		rc = store_pg_exec_simple(db, m->override, "migrate");
	} else if (src == NULL || (ddl = store_pg_translate_ddl(src)) == NULL) {
		rc = src == NULL ? PV_E_INTERNAL : PV_E_NOMEM;
	} else {
		rc = store_pg_exec_simple(db, ddl, "migrate");
	}
	if (rc == PV_OK && m != NULL && m->extra != NULL)
		rc = store_pg_exec_simple(db, m->extra, "migrate");
	if (rc != PV_OK) {
		log_error("store: postgres: schema migration %d failed", version);
		goto out;
	}
	snprintf(rec, sizeof(rec), "INSERT INTO schema_migrations(version, applied_at) VALUES "
	    "(%d, to_char(clock_timestamp() AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))", version);
	if ((rc = store_pg_exec_simple(db, rec, "migrate")) != PV_OK)
		goto out;
	log_info("store: applied schema migration %d (postgres)", version);
out:
	free(ddl);
	if (rc == PV_OK)
		rc = store_pg_exec_simple(db, "COMMIT", "migrate");
	if (rc != PV_OK && PQtransactionStatus(db) != PQTRANS_IDLE)
		(void)store_pg_exec_simple(db, "ROLLBACK", "migrate");
	return rc;
}

enum pv_rc store_pg_migrate(PGconn *db, int *version)
{
	return store_pg_migrate_to(db, store_sqlite_schema_latest(), version);
}

enum pv_rc store_pg_migrate_to(PGconn *db, int target, int *version)
{
	int cur = 0, latest = target;
	enum pv_rc rc;

	if (target < 1 || target > store_sqlite_schema_latest())
		return PV_E_INVALID;

	rc = store_pg_exec_simple(db, "BEGIN; SELECT pg_advisory_xact_lock("
	    PG_STR(STORE_PG_LOCK_MIGRATE) "); CREATE TABLE IF NOT EXISTS schema_migrations("
	    "version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL); COMMIT", "migrate");
	if (rc != PV_OK) {
		if (PQtransactionStatus(db) != PQTRANS_IDLE)
			(void)store_pg_exec_simple(db, "ROLLBACK", "migrate");
		return rc;
	}
	if ((rc = read_version(db, &cur)) != PV_OK || (rc = check_known(cur)) != PV_OK)
		return rc;
	for (int v = cur + 1; v <= latest; v++)
		if ((rc = apply_one(db, v)) != PV_OK)
			return rc;
	if ((rc = read_version(db, &cur)) != PV_OK || (rc = check_known(cur)) != PV_OK)
		return rc;
	*version = cur;
	return PV_OK;
}

enum pv_rc store_pg_schema_read(PGconn *db, int *version)
{
	PGresult *r = PQexec(db, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	enum pv_rc rc = PV_OK;
	int cur = 0;

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		rc = store_pg_rc(db, r, "schema_version");
	else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		log_error("store: not a phivault database (no schema_migrations)");
		rc = PV_E_CONFIG;
	}
	PQclear(r);
	if (rc != PV_OK || (rc = read_version(db, &cur)) != PV_OK ||
	    (rc = check_known(cur)) != PV_OK)
		return rc;
	*version = cur;
	return PV_OK;
}
