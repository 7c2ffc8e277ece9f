/*
 * Migration 31 (records' keys in record_keys): a SQLite file made at schema
 * 30 with live, rewrapped and shredded records opens at the latest schema
 * with every record's envelope and ciphertext as they were, the census
 * unchanged, no wrapped DEK left in the records table, and the census still
 * exact for what follows (a rewrap, a shred, a create).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store_sqlite.h"
#include "store_test.h"
#include "tx_helpers.h"

#define KEK "collection:patients"

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t census(struct store *st, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, KEK, v, &n)), PV_OK);
	return n;
}

/* the file as a binary of schema 30 left it */
static void make_v30(const char *dir)
{
	char path[4096], sql[256];
	sqlite3 *db = NULL;

	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	raw_exec(db, "PRAGMA journal_mode = WAL;"
	    "CREATE TABLE schema_migrations(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)");
	for (int v = 1; v <= 30; v++) {
		raw_exec(db, "BEGIN");
		raw_exec(db, store_sqlite_migration_sql(v));
		snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'x')", v);
		raw_exec(db, sql);
		raw_exec(db, "COMMIT");
	}
	raw_exec(db, "INSERT INTO collections(name, schema, region, retention_days, created_ms, "
	    "kek_name) VALUES ('patients', '{}', 'local', 0, 1, '" KEK "')");
	/* rec_a on v1, rec_b rewrapped to v2, rec_c shredded; the census
	 * triggers of migration 12 count them: v1 1, v2 1 */
	raw_exec(db, "INSERT INTO records(id, collection, version, kek_name, kek_version, "
	    "wrapped_dek, ciphertext, created_ms, updated_ms, deleted_ms) VALUES "
	    "('rec_a', 'patients', 1, '" KEK "', 1, x'a1a1', x'c1c1c1', 10, 10, NULL),"
	    "('rec_b', 'patients', 3, '" KEK "', 1, x'b1b1', x'c2c2c2', 20, 30, NULL),"
	    "('rec_c', 'patients', 1, '" KEK "', 1, x'd1d1', x'c3c3c3', 40, 40, NULL)");
	raw_exec(db, "UPDATE records SET kek_version = 2, wrapped_dek = x'b2b2b2' WHERE id = 'rec_b';"
	    "UPDATE records SET wrapped_dek = NULL, ciphertext = NULL, deleted_ms = 50, "
	    "updated_ms = 50 WHERE id = 'rec_c'");
	assert_int_equal(raw_int(db, "SELECT objects FROM kek_census WHERE version = 1"), 1);
	assert_int_equal(raw_int(db, "SELECT objects FROM kek_census WHERE version = 2"), 1);
	sqlite3_close(db);
}

static void expect_record(struct store *st, const char *id, uint32_t version, uint32_t kv,
    const char *dek, size_t dek_len, const char *ct, size_t ct_len, int64_t deleted)
{
	struct store_record r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", id, &r)), PV_OK);
	assert_string_equal(r.id, id);
	assert_string_equal(r.kek_name, KEK);
	assert_int_equal(r.version, version);
	assert_int_equal(r.kek_version, kv);
	assert_int_equal(r.deleted_ms, deleted);
	assert_int_equal(r.wrapped_dek_len, dek_len);
	assert_int_equal(r.ciphertext_len, ct_len);
	if (dek_len > 0)
		assert_memory_equal(r.wrapped_dek, dek, dek_len);
	else
		assert_null(r.wrapped_dek);
	if (ct_len > 0)
		assert_memory_equal(r.ciphertext, ct, ct_len);
	store_record_clear(&r);
}

static void test_migration_moves_keys(void **state)
{
	char *dir = st_tmpdir(), path[4096];
	struct store *st = NULL;
	struct store_record nr;
	uint8_t dek[3] = { 0xe2, 0xe2, 0xe2 }, ct[2] = { 0xf0, 0x0f };
	sqlite3 *db = NULL;

	(void)state;
	assert_non_null(dir);
	make_v30(dir);
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	expect_record(st, "rec_a", 1, 1, "\xa1\xa1", 2, "\xc1\xc1\xc1", 3, 0);
	expect_record(st, "rec_b", 3, 2, "\xb2\xb2\xb2", 3, "\xc2\xc2\xc2", 3, 0);
	expect_record(st, "rec_c", 1, 1, NULL, 0, NULL, 0, 50);
	assert_int_equal(census(st, 1), 1);
	assert_int_equal(census(st, 2), 1);
	/* the census follows the key rows from here: rec_a rewrapped to v2
	 * (only if still at v1 and live at its version), a new record, rec_b
	 * shredded */
	memset(&nr, 0, sizeof(nr));
	util_strlcpy(nr.id, "rec_a", sizeof(nr.id));
	util_strlcpy(nr.collection, "patients", sizeof(nr.collection));
	util_strlcpy(nr.kek_name, KEK, sizeof(nr.kek_name));
	nr.version = 1;
	nr.kek_version = 2;
	nr.wrapped_dek = dek;
	nr.wrapped_dek_len = sizeof(dek);
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &nr, 2)), PV_E_CONFLICT);
	nr.version = 2;
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &nr, 1)), PV_E_CONFLICT);
	nr.version = 1;
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &nr, 1)), PV_OK);
	expect_record(st, "rec_a", 1, 2, "\xe2\xe2\xe2", 3, "\xc1\xc1\xc1", 3, 0);
	assert_int_equal(census(st, 1), 0);
	assert_int_equal(census(st, 2), 2);
	util_strlcpy(nr.id, "rec_d", sizeof(nr.id));
	nr.ciphertext = ct;
	nr.ciphertext_len = sizeof(ct);
	nr.created_ms = 60;
	assert_int_equal(TX_WR(st, store_record_put(tx, &nr)), PV_OK);
	expect_record(st, "rec_d", 1, 2, "\xe2\xe2\xe2", 3, "\xf0\x0f", 2, 0);
	assert_int_equal(census(st, 2), 3);
	assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_b", 70)), PV_OK);
	expect_record(st, "rec_b", 3, 2, NULL, 0, NULL, 0, 70);
	assert_int_equal(census(st, 2), 2);
	store_close(st);
	/* no wrapped DEK (nor a KEK column) is left in records */
	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_table_info('records') "
	    "WHERE name IN ('wrapped_dek', 'kek_name', 'kek_version')"), 0);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM record_keys WHERE wrapped_dek IS NULL"),
	    2);
	sqlite3_close(db);
	st_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migration_moves_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
