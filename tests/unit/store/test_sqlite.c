/*
 * SQLite backend: what an operator or a caller module can observe: the file
 * on disk (mode, WAL, schema), each op's results and errors, transactions,
 * concurrent readers, read-only opens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_sqlite.h"
#include "store/store_test.h"
#include "tx_helpers.h"

/* A separate, plain SQLite connection to the store's file, as an auditor
 * with the sqlite3 shell would have. */
static sqlite3 *raw_open(const char *dir)
{
	char path[4096];
	sqlite3 *db = NULL;

	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
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

static void raw_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static void hash_of(int64_t seq, char out[65])
{
	snprintf(out, 65, "%064" PRIx64, (uint64_t)seq);
}

static void append_tx(struct store_tx *tx, int64_t seq, const char *user, const char *action)
{
	char actor[128], h[65], prev[65];
	struct store_audit_row r = {
		.seq = seq, .time = "2026-01-01T00:00:00.000Z", .actor = actor,
		.action = action, .resource = "rec_1", .purpose_of_use = "treatment",
		.outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = prev, .hash = h,
	};

	snprintf(actor, sizeof(actor),
	    "{\"user_id\":\"%s\",\"session_id\":\"ses_1\",\"source\":\"127.0.0.1\"}", user);
	hash_of(seq, h);
	hash_of(seq - 1, prev);
	assert_int_equal(store_audit_append(tx, &r), PV_OK);
}

static void append(struct store *st, int64_t seq, const char *user, const char *action)
{
	struct store_tx *tx;

	assert_int_equal(store_begin(st, STORE_WR, &tx), PV_OK);
	append_tx(tx, seq, user, action);
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
}

/* ---------------------------------------------------------------- */

static void test_open_creates_private_wal_db(void **state)
{
	struct st_fx *f = *state;
	char path[4096], mode[16];
	struct stat sb;
	sqlite3 *db;

	assert_int_equal(stat(st_path(path, sizeof(path), f->dir, "phivault.db"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* the write-ahead log and its index inherit the database's mode */
	assert_int_equal(stat(st_path(path, sizeof(path), f->dir, "phivault.db-wal"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(st_path(path, sizeof(path), f->dir, "phivault.db-shm"), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	db = raw_open(f->dir);
	raw_text(db, "PRAGMA journal_mode", mode, sizeof(mode));
	assert_string_equal(mode, "wal");
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
	    "AND name IN ('meta', 'kek', 'audit', 'audit_checkpoint', 'schema_migrations')"), 5);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
	    "AND tbl_name = 'audit' AND sql LIKE '%(action)%'"), 1);
	sqlite3_close(db);

	assert_true(store_schema_version(f->st) >= 1);
	assert_int_equal(store_schema_version(f->st), store_sqlite_schema_latest());
}

static void test_loose_mode_is_tightened(void **state)
{
	struct st_fx *f = *state;
	char path[4096];
	struct stat sb;

	store_close(f->st);
	f->st = NULL;
	st_path(path, sizeof(path), f->dir, "phivault.db");
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_reopen_is_idempotent(void **state)
{
	struct st_fx *f = *state;
	int latest = store_sqlite_schema_latest();
	uint8_t *v = NULL;
	size_t n = 0;
	sqlite3 *db;

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "k", (const uint8_t *)"v1", 2)), PV_OK);
	for (int i = 0; i < 2; i++) {
		store_close(f->st);
		f->st = NULL;
		assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
		assert_int_equal(store_schema_version(f->st), latest);
	}
	db = raw_open(f->dir);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_migrations"), latest);
	assert_int_equal(raw_int(db, "SELECT max(version) FROM schema_migrations"), latest);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_migrations "
	    "WHERE applied_at LIKE '____-__-__T__:__:__.___Z'"), latest);
	sqlite3_close(db);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "k", &v, &n)), PV_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(v, "v1", 2);
	free(v);
}

static void test_newer_schema_refused(void **state)
{
	struct st_fx *f = *state;
	struct store *st = NULL;
	char sql[128];
	sqlite3 *db;

	store_close(f->st);
	f->st = NULL;
	db = raw_open(f->dir);
	snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'x')",
	    store_sqlite_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &st), PV_E_CONFIG);
	assert_null(st);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, true, &st), PV_E_CONFIG);
	assert_null(st);
}

static void test_other_backends(void **state)
{
	struct st_fx *f = *state;
	struct store *st = NULL;

	/* postgres: no url or one libpq refuses is configuration; a database
	 * that does not answer is unavailable (tests/unit/store/test_conformance.c
	 * runs the contract on a real one) */
	assert_int_equal(store_open(f->dir, "postgres", NULL, false, &st), PV_E_CONFIG);
	assert_int_equal(store_open(f->dir, "postgres", "host", false, &st), PV_E_CONFIG);
	assert_int_equal(store_open(f->dir, "postgres", "host=127.0.0.1 port=1 connect_timeout=2",
	    false, &st), PV_E_UNAVAILABLE);
	assert_null(st);
	assert_int_equal(store_open(f->dir, "mysql", NULL, false, &st), PV_E_CONFIG);
	assert_null(st);
}

static void test_missing_data_dir(void **state)
{
	struct st_fx *f = *state;
	struct store *st = NULL;
	char path[4096];

	st_path(path, sizeof(path), f->dir, "no-such-dir");
	assert_int_equal(store_open(path, "sqlite", NULL, false, &st), PV_E_NOTFOUND);
	assert_int_equal(store_open(path, "sqlite", NULL, true, &st), PV_E_NOTFOUND);
	assert_null(st);
}

static void test_meta(void **state)
{
	struct st_fx *f = *state;
	const uint8_t bin[4] = { 0, 1, 0xff, 0 };
	uint8_t *v = NULL;
	size_t n = 99;

	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "absent", &v, &n)), PV_E_NOTFOUND);
	assert_null(v);
	assert_int_equal(n, 99);

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "seal", bin, sizeof(bin))), PV_OK);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "seal", &v, &n)), PV_OK);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(v, bin, sizeof(bin));
	free(v);

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "seal", (const uint8_t *)"second", 6)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "seal", &v, &n)), PV_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(v, "second", 6);
	free(v);

	/* an empty value is a value, not an absence */
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "empty", NULL, 0)), PV_OK);
	v = NULL;
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "empty", &v, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_non_null(v);
	free(v);

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, NULL, bin, 1)), PV_E_INVALID);
}

static struct store_kek mk_kek(const char *name, uint32_t version, const char *wrapped)
{
	struct store_kek k = { .version = version, .state = STORE_KEK_ACTIVE,
		.created_ms = 1700000000000 + version,
		.wrapped = (uint8_t *)(uintptr_t)wrapped, .wrapped_len = strlen(wrapped) };

	snprintf(k.name, sizeof(k.name), "%s", name);
	return k;
}

struct kek_seen {
	int n;
	char names[8][140];
	int stop_after;
};

static int kek_collect(const struct store_kek *k, void *arg)
{
	struct kek_seen *s = arg;

	if (s->n < 8)
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s/%u/%d/%.*s", k->name,
		    k->version, (int)k->state, (int)k->wrapped_len, (const char *)k->wrapped);
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static void test_kek(void **state)
{
	struct st_fx *f = *state;
	struct store_kek k, got;
	struct kek_seen seen;
	char longname[200];

	k = mk_kek("collection:patients", 1, "wrapped-v1");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);
	k = mk_kek("collection:patients", 2, "wrapped-v2");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);
	k = mk_kek("audit", 1, "wrapped-audit");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);

	/* (name, version) is unique */
	k = mk_kek("collection:patients", 2, "other");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_E_CONFLICT);

	memset(&got, 0, sizeof(got));
	assert_int_equal(TX_RD(f->st, store_kek_get(tx, "collection:patients", 1, &got)), PV_OK);
	assert_string_equal(got.name, "collection:patients");
	assert_int_equal(got.version, 1);
	assert_int_equal(got.state, STORE_KEK_ACTIVE);
	assert_int_equal(got.created_ms, 1700000000001);
	assert_int_equal(got.wrapped_len, 10);
	assert_memory_equal(got.wrapped, "wrapped-v1", 10);
	store_kek_clear(&got);
	assert_null(got.wrapped);

	assert_int_equal(TX_RD(f->st, store_kek_get(tx, "collection:patients", 3, &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_kek_get(tx, "nobody", 1, &got)), PV_E_NOTFOUND);

	assert_int_equal(TX_RD(f->st, store_kek_latest(tx, "collection:patients", &got)), PV_OK);
	assert_int_equal(got.version, 2);
	assert_memory_equal(got.wrapped, "wrapped-v2", 10);
	store_kek_clear(&got);
	assert_int_equal(TX_RD(f->st, store_kek_latest(tx, "nobody", &got)), PV_E_NOTFOUND);

	assert_int_equal(TX_WR(f->st, store_kek_set_state(tx, "collection:patients", 1, STORE_KEK_RETIRED)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_kek_set_state(tx, "collection:patients", 9, STORE_KEK_REVOKED)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_kek_get(tx, "collection:patients", 1, &got)), PV_OK);
	assert_int_equal(got.state, STORE_KEK_RETIRED);
	store_kek_clear(&got);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(f->st, store_kek_scan(tx, kek_collect, &seen)), PV_OK);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.names[0], "audit/1/0/wrapped-audit");
	assert_string_equal(seen.names[1], "collection:patients/1/1/wrapped-v1");
	assert_string_equal(seen.names[2], "collection:patients/2/0/wrapped-v2");

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	assert_int_equal(TX_RD(f->st, store_kek_scan(tx, kek_collect, &seen)), PV_OK);
	assert_int_equal(seen.n, 2);

	/* names that cannot come back out of struct store_kek are refused */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(TX_RD(f->st, store_kek_get(tx, longname, 1, &got)), PV_E_INVALID);
}

/* A scan callback that calls back into the store, including the same scan. */
struct nested {
	struct store *st;
	int outer, inner;
};

static int count_inner(const struct store_kek *k, void *arg)
{
	(void)k;
	((struct nested *)arg)->inner++;
	return 0;
}

static int nested_cb(const struct store_kek *k, void *arg)
{
	struct nested *n = arg;
	struct store_kek got;

	n->outer++;
	assert_int_equal(TX_RD(n->st, store_kek_latest(tx, k->name, &got)), PV_OK);
	store_kek_clear(&got);
	assert_int_equal(TX_RD(n->st, store_kek_scan(tx, count_inner, n)), PV_OK);
	return 0;
}

static void test_scan_reentrant(void **state)
{
	struct st_fx *f = *state;
	struct nested n = { .st = f->st };
	struct store_kek k;

	k = mk_kek("a", 1, "x");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);
	k = mk_kek("b", 1, "y");
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_kek_scan(tx, nested_cb, &n)), PV_OK);
	assert_int_equal(n.outer, 2);
	assert_int_equal(n.inner, 4);
}

struct audit_seen {
	int n;
	int64_t seq[16];
	int stop_after;
};

static int audit_collect(const struct store_audit_row *r, void *arg)
{
	struct audit_seen *s = arg;
	char h[65];

	hash_of(r->seq, h);
	assert_string_equal(r->hash, h);
	assert_string_equal(r->resource, "rec_1");
	assert_string_equal(r->detail, "{}");
	if (s->n < 16)
		s->seq[s->n] = r->seq;
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static struct audit_seen scan(struct store *st, int64_t since, const char *user,
    const char *action, size_t limit)
{
	struct store_audit_filter flt = { .since_seq = since, .actor_user_id = user,
		.action = action, .limit = limit };
	struct audit_seen s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &flt, audit_collect, &s)), PV_OK);
	return s;
}

static void test_audit(void **state)
{
	struct st_fx *f = *state;
	char h[65], zeros[65];
	struct audit_seen s;
	int64_t seq = -1;
	struct store_audit_row dup = {
		.seq = 2, .time = "t", .actor = "{}", .action = "x", .resource = "r",
		.purpose_of_use = "", .outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = "p", .hash = "h",
	};

	memset(zeros, '0', 64);
	zeros[64] = '\0';
	assert_int_equal(TX_RD(f->st, store_audit_head(tx, &seq, h)), PV_OK);
	assert_int_equal(seq, 0);
	assert_string_equal(h, zeros);

	append(f->st, 1, "usr_alice", "record.read");
	append(f->st, 2, "usr_bob", "record.read");
	append(f->st, 3, "usr_alice", "record.write");
	append(f->st, 4, "usr_bob", "login");
	append(f->st, 5, "usr_alice", "record.read");
	assert_int_equal(TX_WR(f->st, store_audit_append(tx, &dup)), PV_E_CONFLICT);

	assert_int_equal(TX_RD(f->st, store_audit_head(tx, &seq, h)), PV_OK);
	assert_int_equal(seq, 5);
	hash_of(5, zeros);
	assert_string_equal(h, zeros);

	s = scan(f->st, 0, NULL, NULL, 0);
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(s.seq[i], i + 1);

	s = scan(f->st, 0, "usr_alice", NULL, 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 3);
	assert_int_equal(s.seq[2], 5);

	s = scan(f->st, 0, NULL, "record.read", 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 2);
	assert_int_equal(s.seq[2], 5);

	s = scan(f->st, 3, NULL, NULL, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 4);

	s = scan(f->st, 0, NULL, NULL, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[1], 2);

	s = scan(f->st, 1, "usr_alice", "record.read", 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 5);

	s = scan(f->st, 0, "usr_alice", "record.read", 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 1);

	s = scan(f->st, 0, "usr_nobody", NULL, 0);
	assert_int_equal(s.n, 0);
	s = scan(f->st, 0, NULL, "no.such.action", 0);
	assert_int_equal(s.n, 0);

	/* a NULL filter is "everything"; the callback can stop the scan */
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, audit_collect, &s)), PV_OK);
	assert_int_equal(s.n, 3);
}

static int count_rows(const struct store_audit_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* A damaged actor cell must not break a filtered scan (verify, exports). */
static void test_audit_scan_damaged_actor(void **state)
{
	struct st_fx *f = *state;
	struct store_audit_row bad = {
		.seq = 2, .time = "t", .actor = "not json", .action = "record.read",
		.resource = "rec_1", .purpose_of_use = "", .outcome = "allowed", .reason = "",
		.detail = "{}", .prev_hash = "p", .hash = "h",
	};
	struct store_audit_filter flt = { .actor_user_id = "usr_alice" };
	int n = 0;

	append(f->st, 1, "usr_alice", "record.read");
	assert_int_equal(TX_WR(f->st, store_audit_append(tx, &bad)), PV_OK);
	append(f->st, 3, "usr_alice", "record.read");
	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, &flt, count_rows, &n)), PV_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, count_rows, &n)), PV_OK);
	assert_int_equal(n, 3);
}

/* A head whose hash is not 64 characters cannot be chained onto. */
static void test_audit_head_damaged(void **state)
{
	struct st_fx *f = *state;
	struct store_audit_row bad = {
		.seq = 1, .time = "t", .actor = "{}", .action = "login", .resource = "",
		.purpose_of_use = "", .outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = "p", .hash = "short",
	};
	char h[65] = "untouched";
	int64_t seq = -7;

	assert_int_equal(TX_WR(f->st, store_audit_append(tx, &bad)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_audit_head(tx, &seq, h)), PV_E_INTEGRITY);
	assert_int_equal(seq, -7);
	assert_string_equal(h, "untouched");
}

struct cp_seen {
	int n;
	int64_t seq[4];
	char sig[4][32];
};

static int cp_collect(const struct store_checkpoint *cp, void *arg)
{
	struct cp_seen *s = arg;

	if (s->n < 4) {
		s->seq[s->n] = cp->seq;
		snprintf(s->sig[s->n], sizeof(s->sig[0]), "%s|%s|%s", cp->signature, cp->key_id,
		    cp->time);
	}
	s->n++;
	return 0;
}

static void test_checkpoint(void **state)
{
	struct st_fx *f = *state;
	struct store_checkpoint a = { .seq = 100, .hash = "h100", .time = "t1",
		.signature = "sigA", .key_id = "k1" };
	struct store_checkpoint b = { .seq = 50, .hash = "h50", .time = "t0",
		.signature = "sigB", .key_id = "k1" };
	struct cp_seen s;
	int64_t n = -1;

	assert_int_equal(TX_RD(f->st, store_checkpoint_count(tx, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_WR(f->st, store_checkpoint_put(tx, &a)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_checkpoint_put(tx, &b)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_checkpoint_put(tx, &a)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(f->st, store_checkpoint_count(tx, &n)), PV_OK);
	assert_int_equal(n, 2);

	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(f->st, store_checkpoint_scan(tx, cp_collect, &s)), PV_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 50);
	assert_string_equal(s.sig[0], "sigB|k1|t0");
	assert_int_equal(s.seq[1], 100);
	assert_string_equal(s.sig[1], "sigA|k1|t1");
}

static bool meta_has(struct store *st, const char *key)
{
	uint8_t *v = NULL;
	size_t n;
	enum pv_rc rc = TX_RD(st, store_meta_get(tx, key, &v, &n));

	assert_true(rc == PV_OK || rc == PV_E_NOTFOUND);
	free(v);
	return rc == PV_OK;
}

static bool meta_has_tx(struct store_tx *tx, const char *key)
{
	uint8_t *v = NULL;
	size_t n;
	enum pv_rc rc = store_meta_get(tx, key, &v, &n);

	assert_true(rc == PV_OK || rc == PV_E_NOTFOUND);
	free(v);
	return rc == PV_OK;
}

static void test_tx(void **state)
{
	struct st_fx *f = *state;
	const uint8_t one[1] = { 1 };
	struct store_tx *tx;
	sqlite3 *db;

	/* commit: durable and visible to another connection */
	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "committed", one, 1), PV_OK);
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
	db = raw_open(f->dir);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM meta WHERE key = 'committed'"), 1);

	/* end without commit: gone */
	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "rolled", one, 1), PV_OK);
	assert_true(meta_has_tx(tx, "rolled"));
	/* not visible to others before commit */
	assert_int_equal(raw_int(db, "SELECT count(*) FROM meta WHERE key = 'rolled'"), 0);
	assert_false(meta_has(f->st, "rolled"));
	store_end(tx);
	assert_false(meta_has(f->st, "rolled"));

	/* savepoints: a failed job inside a batch drops only its own writes */
	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "job0", one, 1), PV_OK);
	assert_int_equal(store_savepoint(tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "job1", one, 1), PV_OK);
	store_rollback_savepoint(tx);
	assert_int_equal(store_savepoint(tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "job2", one, 1), PV_OK);
	assert_int_equal(store_release(tx), PV_OK);
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
	assert_true(meta_has(f->st, "job0"));
	assert_false(meta_has(f->st, "job1"));
	assert_true(meta_has(f->st, "job2"));
	assert_int_equal(raw_int(db, "SELECT count(*) FROM meta WHERE key LIKE 'job%'"), 2);
	sqlite3_close(db);

	/* a committed handle takes no more ops; ending is harmless, also NULL */
	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(store_commit(tx), PV_OK);
	assert_int_equal(store_meta_put(tx, "late", one, 1), PV_E_INVALID);
	assert_int_equal(store_commit(tx), PV_E_INVALID);
	store_end(tx);
	store_end(NULL);
	assert_false(meta_has(f->st, "late"));

	/* committed data survives a reopen */
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_true(meta_has(f->st, "committed"));
	assert_true(meta_has(f->st, "job2"));
}

/* ---- concurrency: readers on their own threads while main writes ---- */

#define WRITES 200

struct reader {
	struct store *st;
	atomic_bool *done;
	int reads, errors;
	int64_t last_seq;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	bool finished = false;

	while (!finished) {
		char h[65], want[65];
		int64_t seq = -1;
		uint8_t *v = NULL;
		size_t n = 0;
		enum pv_rc rc;

		finished = atomic_load(r->done);   /* one more pass after done */
		if (TX_RD(r->st, store_audit_head(tx, &seq, h)) != PV_OK) {
			r->errors++;
			continue;
		}
		hash_of(seq, want);
		if (seq < r->last_seq || (seq > 0 && strcmp(h, want) != 0))
			r->errors++;
		r->last_seq = seq;
		/* meta "counter" is written in the same transaction as each entry
		 * and read after the head: it can only be at or past it */
		rc = TX_RD(r->st, store_meta_get(tx, "counter", &v, &n));
		if (rc == PV_OK) {
			int64_t c;

			if (n != sizeof(c)) {
				r->errors++;
			} else {
				memcpy(&c, v, sizeof(c));
				if (c < seq)
					r->errors++;
			}
			free(v);
		} else if (rc != PV_E_NOTFOUND || seq != 0) {
			r->errors++;
		}
		r->reads++;
	}
	return NULL;
}

static void test_threads_read_while_main_writes(void **state)
{
	struct st_fx *f = *state;
	atomic_bool done = false;
	struct reader r[2];
	pthread_t t[2];

	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].st = f->st;
		r[i].done = &done;
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	for (int64_t seq = 1; seq <= WRITES; seq++) {
		struct store_tx *tx;

		assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
		append_tx(tx, seq, "usr_w", "record.write");
		assert_int_equal(store_meta_put(tx, "counter", (const uint8_t *)&seq,
		    sizeof(seq)), PV_OK);
		assert_int_equal(store_commit(tx), PV_OK);
		store_end(tx);
	}
	atomic_store(&done, true);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].errors, 0);
		assert_true(r[i].reads >= 1);
		assert_int_equal(r[i].last_seq, WRITES);
	}
}

/* A thread that used the store is still alive when the store closes; its
 * exit afterwards must not touch the closed store. */
struct lingering {
	struct store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stage;   /* 0 start, 1 read done, 2 may exit */
	enum pv_rc rc;
};

static void *linger_main(void *arg)
{
	struct lingering *l = arg;
	int64_t n;

	l->rc = TX_RD(l->st, store_checkpoint_count(tx, &n));
	pthread_mutex_lock(&l->mu);
	l->stage = 1;
	pthread_cond_broadcast(&l->cv);
	while (l->stage != 2)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void test_close_with_live_reader_thread(void **state)
{
	struct st_fx *f = *state;
	struct lingering l = { .st = f->st, .mu = PTHREAD_MUTEX_INITIALIZER,
		.cv = PTHREAD_COND_INITIALIZER };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, linger_main, &l), 0);
	pthread_mutex_lock(&l.mu);
	while (l.stage != 1)
		pthread_cond_wait(&l.cv, &l.mu);
	pthread_mutex_unlock(&l.mu);
	assert_int_equal(l.rc, PV_OK);

	store_close(f->st);
	f->st = NULL;

	pthread_mutex_lock(&l.mu);
	l.stage = 2;
	pthread_cond_broadcast(&l.cv);
	pthread_mutex_unlock(&l.mu);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* the store can be opened again afterwards */
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
}

/* ---- read-only opens (offline audit verify) ---- */

static void test_read_only(void **state)
{
	struct st_fx *f = *state;
	char *empty = st_tmpdir();
	struct store *ro = NULL;
	char path[4096], h[65];
	struct stat sb;
	uint8_t *v = NULL;
	size_t n = 0;
	int64_t seq = 0;

	assert_non_null(empty);
	assert_int_equal(store_open(empty, "sqlite", NULL, true, &ro), PV_E_NOTFOUND);
	assert_null(ro);
	/* and it did not create the file */
	assert_int_equal(stat(st_path(path, sizeof(path), empty, "phivault.db"), &sb), -1);
	st_rmtree(empty);

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "pub", (const uint8_t *)"key", 3)), PV_OK);
	append(f->st, 1, "usr_alice", "record.read");
	store_close(f->st);
	f->st = NULL;

	assert_int_equal(store_open(f->dir, "sqlite", NULL, true, &ro), PV_OK);
	assert_int_equal(store_schema_version(ro), store_sqlite_schema_latest());
	assert_int_equal(TX_RD(ro, store_meta_get(tx, "pub", &v, &n)), PV_OK);
	assert_int_equal(n, 3);
	free(v);
	assert_int_equal(TX_RD(ro, store_audit_head(tx, &seq, h)), PV_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(TX_WR(ro, store_meta_put(tx, "pub", (const uint8_t *)"new", 3)), PV_E_IO);
	store_close(ro);

	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "pub", &v, &n)), PV_OK);
	assert_memory_equal(v, "key", 3);
	free(v);
}

/* A file that is not a phivault database is refused read-only. */
static void test_read_only_foreign_db(void **state)
{
	char *dir = st_tmpdir();
	struct store *ro = NULL;
	char path[4096];
	sqlite3 *db = NULL;

	(void)state;
	assert_non_null(dir);
	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(dir, "sqlite", NULL, true, &ro), PV_E_CONFIG);
	assert_null(ro);
	st_rmtree(dir);
}

/* True if any 32-byte piece of marker appears in the database file. */
static bool file_holds_piece(const char *dir, const uint8_t *marker, size_t mlen)
{
	uint8_t *file;
	char path[4096];
	struct stat sb;
	bool found = false;
	size_t len;
	FILE *fp;

	st_path(path, sizeof(path), dir, "phivault.db");
	assert_int_equal(stat(path, &sb), 0);
	len = (size_t)sb.st_size;
	file = malloc(len);
	assert_non_null(file);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(file, 1, len, fp), len);
	fclose(fp);
	for (size_t off = 0; off + 32 <= mlen && !found; off += 16)
		found = memmem(file, len, marker + off, 32) != NULL;
	free(file);
	return found;
}

/* secure_delete: an overwritten value (a DEK, a ciphertext) does not linger
 * in the file, neither in the row's page nor in freed overflow pages. */
static void test_overwritten_value_leaves_no_trace(void **state)
{
	struct st_fx *f = *state;
	static uint8_t small[200], big[6000];
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < sizeof(big); i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (uint8_t)(x >> 16);
	}
	for (size_t i = 0; i < sizeof(small); i++) {
		x = x * 1103515245u + 12345u;
		small[i] = (uint8_t)(x >> 16);
	}
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "dek", small, sizeof(small))), PV_OK);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "blob", big, sizeof(big))), PV_OK);
	/* still there before the overwrite: the check below can see them */
	store_close(f->st);
	f->st = NULL;
	assert_true(file_holds_piece(f->dir, small, sizeof(small)));
	assert_true(file_holds_piece(f->dir, big, sizeof(big)));

	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "dek", (const uint8_t *)"shredded", 8)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "blob", (const uint8_t *)"gone", 4)), PV_OK);
	/* closing the last connection checkpoints the WAL into the file */
	store_close(f->st);
	f->st = NULL;
	assert_false(file_holds_piece(f->dir, small, sizeof(small)));
	assert_false(file_holds_piece(f->dir, big, sizeof(big)));
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
}

/* ---- idle connection pool: a thread per HTTP connection reuses connections ---- */

struct pool_job {
	struct store *st;
	bool leave_tx_open;
	enum pv_rc rc;
	struct store_tx *tx;   /* leave_tx_open: the transaction the thread left */
};

static void *pool_thread(void *arg)
{
	struct pool_job *j = arg;
	uint8_t *v = NULL;
	size_t len = 0;

	if (j->leave_tx_open) {
		/* begin, write, and exit without commit: the transaction outlives
		 * the thread (it belongs to no thread), another one ends it */
		j->rc = store_begin(j->st, STORE_WR, &j->tx);
		if (j->rc == PV_OK)
			j->rc = store_meta_put(j->tx, "pool.uncommitted", (const uint8_t *)"x", 1);
		return NULL;
	}
	j->rc = TX_RD(j->st, store_meta_get(tx, "pool.key", &v, &len));
	free(v);
	return NULL;
}

static struct store_tx *run_pool_thread(struct store *st, bool leave_tx_open)
{
	struct pool_job j = { st, leave_tx_open, PV_E_INTERNAL, NULL };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, pool_thread, &j), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(j.rc, PV_OK);
	return j.tx;
}

static void test_idle_pool_reuses_connections(void **state)
{
	struct st_fx *f = *state;
	struct store_tx *held;
	unsigned long opens;
	uint8_t *v = NULL;
	size_t len = 0;
	int i;

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "pool.key", (const uint8_t *)"v", 1)), PV_OK);
	run_pool_thread(f->st, false);
	opens = store_sqlite_opens(f->st);
	/* a hundred short-lived threads, one after the other: no new connection */
	for (i = 0; i < 100; i++)
		run_pool_thread(f->st, false);
	assert_int_equal(store_sqlite_opens(f->st), opens);

	/* a thread that exits inside a transaction: the transaction is still
	 * open (nothing visible yet); ended here, on another thread, what it
	 * wrote is rolled back and its connection goes back to the pool */
	held = run_pool_thread(f->st, true);
	assert_non_null(held);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "pool.uncommitted", &v, &len)), PV_E_NOTFOUND);
	store_end(held);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "pool.uncommitted", &v, &len)), PV_E_NOTFOUND);
	run_pool_thread(f->st, false);
	run_pool_thread(f->st, false);
	assert_int_equal(store_sqlite_opens(f->st), opens + 1);   /* the one the held tx kept busy */
	/* and the next writer is not blocked by a lock it left behind */
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "pool.after", (const uint8_t *)"y", 1)), PV_OK);
}

/* ---- bounded pool: many threads, few connections ---- */

#define POOL_MAX 3
#define POOL_THREADS 12
#define POOL_READS 200

struct bp_reader {
	struct store *st;
	pthread_barrier_t *go;
	int ok;
	struct store_tx *tx;   /* the scan's transaction, for its callback */
};

/* Reads through a scan callback that re-enters the store on the scan's own
 * transaction (a nested statement on the same connection) and plain gets. */
static int bp_nested_cb(const struct store_kek *k, void *arg)
{
	struct bp_reader *r = arg;
	uint8_t *v = NULL;
	size_t len = 0;

	(void)k;
	if (store_meta_get(r->tx, "pool.key", &v, &len) == PV_OK)
		r->ok++;
	free(v);
	return 0;
}

static void *bp_reader_thread(void *arg)
{
	struct bp_reader *r = arg;

	pthread_barrier_wait(r->go);
	for (int i = 0; i < POOL_READS; i++) {
		uint8_t *v = NULL;
		size_t len = 0;

		if (TX_RD(r->st, store_meta_get(tx, "pool.key", &v, &len)) == PV_OK && len == 1)
			r->ok++;
		free(v);
		if (i % 20 == 0 && store_begin(r->st, STORE_RD, &r->tx) == PV_OK) {
			(void)store_kek_scan(r->tx, bp_nested_cb, r);
			store_end(r->tx);
		}
	}
	return NULL;
}

static void test_pool_bounds_concurrent_readers(void **state)
{
	struct st_fx *f = *state;
	struct store_kek k;
	struct bp_reader rd[POOL_THREADS];
	pthread_t t[POOL_THREADS];
	pthread_barrier_t go;
	size_t open = 0, peak = 0, max = 0;
	uint8_t w[4] = { 1, 2, 3, 4 };

	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "pool");
	k.version = 1;
	k.wrapped = w;
	k.wrapped_len = sizeof(w);
	assert_int_equal(TX_WR(f->st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "pool.key", (const uint8_t *)"v", 1)), PV_OK);
	store_pool_set(f->st, POOL_MAX, 0);
	store_sqlite_pool_stats(f->st, &open, &peak, &max);
	assert_int_equal(max, POOL_MAX);
	assert_int_equal(pthread_barrier_init(&go, NULL, POOL_THREADS), 0);
	for (int i = 0; i < POOL_THREADS; i++) {
		rd[i] = (struct bp_reader){ f->st, &go, 0, NULL };
		assert_int_equal(pthread_create(&t[i], NULL, bp_reader_thread, &rd[i]), 0);
	}
	for (int i = 0; i < POOL_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		/* every read succeeded: POOL_READS gets + one per scan callback */
		assert_int_equal(rd[i].ok, POOL_READS + POOL_READS / 20);
	}
	pthread_barrier_destroy(&go);
	store_sqlite_pool_stats(f->st, &open, &peak, &max);
	assert_true(open <= POOL_MAX);
	assert_true(peak <= POOL_MAX);
	assert_true(store_sqlite_opens(f->st) <= POOL_MAX);
}

struct waiter {
	struct store *st;
	enum pv_rc rc;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	uint8_t *v = NULL;
	size_t len = 0;

	w->rc = TX_RD(w->st, store_meta_get(tx, "pool.key", &v, &len));
	free(v);
	return NULL;
}

static enum pv_rc read_in_thread(struct store *st)
{
	struct waiter w = { st, PV_E_INTERNAL };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, waiter_thread, &w), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return w.rc;
}

/* A transaction keeps its connection until commit: with a pool of one,
 * another thread waits (bounded) and then gets PV_E_UNAVAILABLE; after the
 * commit the connection is back. */
static void test_pool_exhausted_is_unavailable(void **state)
{
	struct st_fx *f = *state;
	struct store_tx *wtx;
	size_t open = 0;

	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "pool.key", (const uint8_t *)"v", 1)), PV_OK);
	store_pool_set(f->st, 1, 5);
	assert_int_equal(store_begin(f->st, STORE_WR, &wtx), PV_OK);
	assert_int_equal(store_meta_put(wtx, "pool.tx", (const uint8_t *)"t", 1), PV_OK);
	assert_int_equal(read_in_thread(f->st), PV_E_UNAVAILABLE);
	assert_int_equal(store_commit(wtx), PV_OK);
	assert_int_equal(read_in_thread(f->st), PV_E_UNAVAILABLE);   /* committed, still held */
	store_end(wtx);
	assert_int_equal(read_in_thread(f->st), PV_OK);
	store_sqlite_pool_stats(f->st, &open, NULL, NULL);
	assert_int_equal(open, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_private_wal_db),
		T(test_loose_mode_is_tightened),
		T(test_reopen_is_idempotent),
		T(test_newer_schema_refused),
		T(test_other_backends),
		T(test_missing_data_dir),
		T(test_meta),
		T(test_kek),
		T(test_scan_reentrant),
		T(test_audit),
		T(test_audit_scan_damaged_actor),
		T(test_audit_head_damaged),
		T(test_checkpoint),
		T(test_tx),
		T(test_threads_read_while_main_writes),
		T(test_close_with_live_reader_thread),
		T(test_read_only),
		cmocka_unit_test(test_read_only_foreign_db),
		T(test_overwritten_value_leaves_no_trace),
		T(test_idle_pool_reuses_connections),
		T(test_pool_bounds_concurrent_readers),
		T(test_pool_exhausted_is_unavailable),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
