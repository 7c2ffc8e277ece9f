/*
 * Migration 31 (records' keys in record_keys) on PostgreSQL, with real
 * envelopes: a database built at schema 30 (store_pg_migrate_to, the DDL a
 * binary of that schema ran) holding records (live, rewrapped to v2,
 * shredded), tokens (random and deterministic), a subject key and a secret
 * version, their census counted by the schema-30 triggers (pv_census), is
 * opened by the latest binary: every envelope opens with the keyring under
 * its KEK version, every census count is what it was, no wrapped DEK is
 * left in records, and the census stays exact for what follows (a rewrap,
 * a shred, a create). The keyring (meta, kek) is made by the real keys_*
 * calls in a database of the latest schema and copied over with COPY: those
 * two tables are the same at 30 and 31.
 * The SQLite twin is tests/unit/store/test_record_keys.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys_test.h"
#include "store/store.h"
#include "store/store_pg.h"
#include "tx_helpers.h"
#include "../../pg_cluster.h"

#define KEK "collection:patients"
#define PT_LEN 24

static struct pg_cluster pgc;

static PGconn *pq_open(const char *db)
{
	char url[256];
	PGconn *c = PQconnectdb(pg_cluster_url(&pgc, db, url, sizeof(url)));

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect %s: %s", db, PQerrorMessage(c));
	return c;
}

/* One statement with n text or binary parameters (len 0: text). */
static void pq_exec(PGconn *c, const char *sql, int n, const void *const *vals,
    const int *lens)
{
	int fmts[16];
	PGresult *r;

	assert_true(n <= 16);
	for (int i = 0; i < n; i++)
		fmts[i] = lens != NULL && lens[i] > 0;
	r = PQexecParams(c, sql, n, NULL, (const char *const *)vals, lens, fmts, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static long long pq_int(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* COPY table from one database into the same table of another. */
static void pq_copy(PGconn *from, PGconn *to, const char *table)
{
	char sql[128];
	PGresult *r;
	char *buf = NULL;
	int n;

	snprintf(sql, sizeof(sql), "COPY %s TO STDOUT", table);
	r = PQexec(from, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COPY_OUT);
	PQclear(r);
	snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", table);
	r = PQexec(to, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COPY_IN);
	PQclear(r);
	while ((n = PQgetCopyData(from, &buf, 0)) > 0) {
		assert_int_equal(PQputCopyData(to, buf, n), 1);
		PQfreemem(buf);
	}
	assert_int_equal(n, -1);
	assert_int_equal(PQputCopyEnd(to, NULL), 1);
	while ((r = PQgetResult(from)) != NULL) {
		assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
		PQclear(r);
	}
	while ((r = PQgetResult(to)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fail_msg("COPY %s: %s", table, PQerrorMessage(to));
		PQclear(r);
	}
}

/* An envelope made before the migration, with its plaintext. */
struct sealed {
	const char *id;
	struct keys_envelope env;
	uint8_t pt[PT_LEN];
	uint8_t ct[PT_LEN + CRYPTO_BOX_OVERHEAD];
};

static void seal(struct keys *k, const char *kek, const char *id, struct sealed *s)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	for (size_t i = 0; i < PT_LEN; i++)
		s->pt[i] = (uint8_t)(id[0] + id[strlen(id) - 1] + i);
	assert_int_equal(keys_envelope_seal(k, kek, (const uint8_t *)id, strlen(id), s->pt,
	    PT_LEN, s->ct, &s->env), PV_OK);
}

/* The envelope as the store gives it back opens to what was sealed. */
static void expect_opens(struct keys *k, const struct sealed *s, const char *kek, uint32_t kv,
    const uint8_t *wrapped, size_t wlen, const uint8_t *ct, size_t ctlen)
{
	struct keys_envelope env;
	uint8_t pt[PT_LEN];

	assert_int_equal(wlen, KEYS_WRAPPED_DEK_LEN);
	assert_int_equal(ctlen, sizeof(s->ct));
	memset(&env, 0, sizeof(env));
	util_strlcpy(env.kek_name, kek, sizeof(env.kek_name));
	env.kek_version = kv;
	memcpy(env.wrapped_dek, wrapped, wlen);
	assert_int_equal(keys_envelope_open(k, &env, (const uint8_t *)s->id, strlen(s->id), ct,
	    ctlen, pt), PV_OK);
	assert_memory_equal(pt, s->pt, PT_LEN);
}

static int64_t census(struct store *st, const char *name, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, name, v, &n)), PV_OK);
	return n;
}

static void insert_record(PGconn *c, const struct sealed *s, const char *version)
{
	const void *vals[6] = { s->id, version, s->env.wrapped_dek, s->ct, "10", "10" };
	const int lens[6] = { 0, 0, KEYS_WRAPPED_DEK_LEN, (int)sizeof(s->ct), 0, 0 };

	pq_exec(c, "INSERT INTO records(id, collection, version, kek_name, kek_version, "
	    "wrapped_dek, ciphertext, created_ms, updated_ms, deleted_ms) VALUES "
	    "($1, 'patients', $2::bigint, '" KEK "', 1, $3, $4, $5::bigint, $6::bigint, NULL)",
	    6, vals, lens);
}

static void insert_token(PGconn *c, const struct sealed *s, bool det)
{
	static const uint8_t mac[STORE_MAC_LEN] = { 0x7a, 0x7b, 0x7c };
	const void *vals[4] = { s->id, s->env.wrapped_dek, s->ct, det ? (const void *)mac : NULL };
	const int lens[4] = { 0, KEYS_WRAPPED_DEK_LEN, (int)sizeof(s->ct), det ? STORE_MAC_LEN : 0 };

	pq_exec(c, "INSERT INTO tokens(token, collection, field, deterministic, mac, kek_name, "
	    "kek_version, wrapped_dek, ciphertext, created_ms) VALUES "
	    "($1, 'patients', 'mrn', ($4::bytea IS NOT NULL)::int, $4, 'tokens', 1, $2, $3, 5)",
	    4, vals, lens);
}

static void test_pg_v30_migrated(void **state)
{
	char dir[PATH_MAX], url[256];
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	char **shares = NULL;
	size_t nshares = 0;
	struct store *st = NULL;
	struct keys *k = NULL;
	struct sealed ra, rb, rc_, tr, td, sv, rd;
	struct keys_envelope rb2;
	struct keys_subject_key sk;
	uint8_t sample[32], wrapped_sample[32 + CRYPTO_BOX_OVERHEAD], back[32];
	uint32_t v2 = 0;
	PGconn *src, *dst;
	int ver = 0;

	(void)state;
	assert_int_equal(kt_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(pg_cluster_createdb(&pgc, "keysrc"), 0);
	assert_int_equal(pg_cluster_createdb(&pgc, "v30"), 0);

	/* the keyring and every envelope, made by the real calls */
	assert_int_equal(store_open(dir, "postgres", pg_cluster_url(&pgc, "keysrc", url,
	    sizeof(url)), false, &st), PV_OK);
	assert_int_equal(keys_initialize(st, dir, &spec, &shares, &nshares), PV_OK);
	assert_int_equal(keys_open(st, dir, &k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(k), PV_OK);
	for (const char *const *n = (const char *const[]){ KEK, "tokens", "subjects", "secrets",
	    NULL }; *n != NULL; n++)
		assert_int_equal(keys_kek_ensure(k, *n), PV_OK);
	seal(k, KEK, "rec_a", &ra);
	seal(k, KEK, "rec_b", &rb);
	seal(k, KEK, "rec_c", &rc_);
	seal(k, "tokens", "tok_r", &tr);
	seal(k, "tokens", "tok_d", &td);
	seal(k, STORE_SECRETS_KEK, "app/db", &sv);
	assert_int_equal(keys_subject_key_new(k, "subjects", (const uint8_t *)"subj", 4, &sk),
	    PV_OK);
	memset(sample, 0x5c, sizeof(sample));
	assert_int_equal(keys_subject_wrap(k, &sk, (const uint8_t *)"subj", 4,
	    (const uint8_t *)"w", 1, sample, sizeof(sample), wrapped_sample), PV_OK);
	assert_int_equal(keys_kek_rotate(k, KEK, &v2), PV_OK);
	assert_int_equal(v2, 2);
	assert_int_equal(keys_dek_rewrap(k, &rb.env, 2, &rb2), PV_OK);
	keys_close(k);
	store_close(st);

	/* schema 30, the keyring copied in, then the rows as a schema-30
	 * binary wrote them (its triggers count them) */
	dst = pq_open("v30");
	assert_int_equal(store_pg_migrate_to(dst, 30, &ver), PV_OK);
	assert_int_equal(ver, 30);
	assert_int_equal(pq_int(dst, "SELECT count(*) FROM information_schema.tables "
	    "WHERE table_name = 'record_keys'"), 0);
	src = pq_open("keysrc");
	pq_copy(src, dst, "meta");
	pq_copy(src, dst, "kek");
	PQfinish(src);
	pq_exec(dst, "INSERT INTO collections(name, schema, region, retention_days, created_ms, "
	    "kek_name) VALUES ('patients', '{}', 'local', 0, 1, '" KEK "')", 0, NULL, NULL);
	insert_record(dst, &ra, "1");
	insert_record(dst, &rb, "3");
	insert_record(dst, &rc_, "1");
	{
		const void *vals[1] = { rb2.wrapped_dek };
		const int lens[1] = { KEYS_WRAPPED_DEK_LEN };

		pq_exec(dst, "UPDATE records SET kek_version = 2, wrapped_dek = $1 "
		    "WHERE id = 'rec_b'", 1, vals, lens);
	}
	pq_exec(dst, "UPDATE records SET wrapped_dek = NULL, ciphertext = NULL, deleted_ms = 50, "
	    "updated_ms = 50 WHERE id = 'rec_c'", 0, NULL, NULL);
	insert_token(dst, &tr, false);
	insert_token(dst, &td, true);
	{
		const void *vals[3] = { sk.env.wrapped_dek, sk.ct, NULL };
		const int lens[3] = { KEYS_WRAPPED_DEK_LEN, (int)sizeof(sk.ct), 0 };
		char ref[65];

		memset(ref, 'a', 64);
		ref[64] = '\0';
		vals[2] = ref;
		pq_exec(dst, "INSERT INTO subjects(ref, kek_name, kek_version, wrapped_dek, "
		    "ciphertext, created_ms) VALUES ($3, 'subjects', 1, $1, $2, 7)", 3, vals, lens);
	}
	{
		const void *vals[2] = { sv.env.wrapped_dek, sv.ct };
		const int lens[2] = { KEYS_WRAPPED_DEK_LEN, (int)sizeof(sv.ct) };

		pq_exec(dst, "INSERT INTO secrets(path, current_version, created_ms, updated_ms) "
		    "VALUES ('app/db', 1, 8, 8)", 0, NULL, NULL);
		pq_exec(dst, "INSERT INTO secret_versions(path, version, kek_name, kek_version, "
		    "wrapped_dek, ciphertext, created_ms) VALUES ('app/db', 1, 'secrets', 1, $1, $2, 8)",
		    2, vals, lens);
	}
	assert_int_equal(pq_int(dst, "SELECT objects FROM kek_census WHERE name = '" KEK
	    "' AND version = 1"), 1);
	assert_int_equal(pq_int(dst, "SELECT objects FROM kek_census WHERE name = '" KEK
	    "' AND version = 2"), 1);
	assert_int_equal(pq_int(dst, "SELECT objects FROM kek_census WHERE name = 'tokens'"), 2);
	PQfinish(dst);

	/* the latest binary opens it: migration 31 runs */
	assert_int_equal(store_open(dir, "postgres", pg_cluster_url(&pgc, "v30", url,
	    sizeof(url)), false, &st), PV_OK);
	assert_int_equal(store_schema_version(st), store_sqlite_schema_latest());
	assert_int_equal(keys_open(st, dir, &k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(k), PV_OK);
	{
		const struct { struct sealed *s; uint32_t version, kv; int64_t deleted; } want[] = {
			{ &ra, 1, 1, 0 }, { &rb, 3, 2, 0 }, { &rc_, 1, 1, 50 },
		};

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			struct store_record r;

			memset(&r, 0, sizeof(r));
			assert_int_equal(TX_RD(st, store_record_get(tx, "patients", want[i].s->id,
			    &r)), PV_OK);
			assert_string_equal(r.kek_name, KEK);
			assert_int_equal(r.version, want[i].version);
			assert_int_equal(r.kek_version, want[i].kv);
			assert_int_equal(r.deleted_ms, want[i].deleted);
			if (want[i].deleted == 0) {
				expect_opens(k, want[i].s, KEK, r.kek_version, r.wrapped_dek,
				    r.wrapped_dek_len, r.ciphertext, r.ciphertext_len);
			} else {
				assert_null(r.wrapped_dek);
				assert_null(r.ciphertext);
			}
			store_record_clear(&r);
		}
	}
	for (struct sealed *s = &tr; s != NULL; s = s == &tr ? &td : NULL) {
		struct store_token t;

		memset(&t, 0, sizeof(t));
		assert_int_equal(TX_RD(st, store_token_get(tx, s->id, &t)), PV_OK);
		assert_int_equal(t.deterministic, s == &td);
		assert_int_equal(t.mac_version, 1);
		expect_opens(k, s, "tokens", t.kek_version, t.wrapped_dek, t.wrapped_dek_len,
		    t.ciphertext, t.ciphertext_len);
		store_token_clear(&t);
	}
	{
		struct store_subject s;
		struct keys_subject_key got;
		char ref[65];

		memset(ref, 'a', 64);
		ref[64] = '\0';
		memset(&s, 0, sizeof(s));
		assert_int_equal(TX_RD(st, store_subject_get(tx, ref, &s)), PV_OK);
		assert_int_equal(s.wrapped_dek_len, KEYS_WRAPPED_DEK_LEN);
		assert_int_equal(s.ciphertext_len, sizeof(got.ct));
		memset(&got, 0, sizeof(got));
		util_strlcpy(got.env.kek_name, s.kek_name, sizeof(got.env.kek_name));
		got.env.kek_version = s.kek_version;
		memcpy(got.env.wrapped_dek, s.wrapped_dek, s.wrapped_dek_len);
		memcpy(got.ct, s.ciphertext, s.ciphertext_len);
		assert_int_equal(keys_subject_unwrap(k, &got, (const uint8_t *)"subj", 4,
		    (const uint8_t *)"w", 1, wrapped_sample, sizeof(wrapped_sample), back), PV_OK);
		assert_memory_equal(back, sample, sizeof(sample));
		store_subject_clear(&s);
	}
	{
		struct store_secret_version v;

		memset(&v, 0, sizeof(v));
		assert_int_equal(TX_RD(st, store_secret_version_get(tx, "app/db", 1, &v)), PV_OK);
		expect_opens(k, &sv, STORE_SECRETS_KEK, v.kek_version, v.wrapped_dek,
		    v.wrapped_dek_len, v.ciphertext, v.ciphertext_len);
		store_secret_version_clear(&v);
	}
	/* every census count as it was (a deterministic token's lookup MAC
	 * counts once more under tokens v1) */
	assert_int_equal(census(st, KEK, 1), 1);
	assert_int_equal(census(st, KEK, 2), 1);
	assert_int_equal(census(st, "tokens", 1), 3);
	assert_int_equal(census(st, "subjects", 1), 1);
	assert_int_equal(census(st, STORE_SECRETS_KEK, 1), 1);

	/* exact from here on: rec_a rewrapped to v2, rec_b shredded, rec_d new */
	{
		struct store_record nr;
		struct keys_envelope a2;

		assert_int_equal(keys_dek_rewrap(k, &ra.env, 2, &a2), PV_OK);
		memset(&nr, 0, sizeof(nr));
		util_strlcpy(nr.id, "rec_a", sizeof(nr.id));
		util_strlcpy(nr.collection, "patients", sizeof(nr.collection));
		util_strlcpy(nr.kek_name, KEK, sizeof(nr.kek_name));
		nr.version = 1;
		nr.kek_version = 2;
		nr.wrapped_dek = a2.wrapped_dek;
		nr.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
		assert_int_equal(TX_WR(st, store_record_rewrap(tx, &nr, 1)), PV_OK);
		assert_int_equal(TX_WR(st, store_record_rewrap(tx, &nr, 1)), PV_E_CONFLICT);
		assert_int_equal(census(st, KEK, 1), 0);
		assert_int_equal(census(st, KEK, 2), 2);
		{
			struct store_record r;

			memset(&r, 0, sizeof(r));
			assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_a", &r)),
			    PV_OK);
			expect_opens(k, &ra, KEK, r.kek_version, r.wrapped_dek, r.wrapped_dek_len,
			    r.ciphertext, r.ciphertext_len);
			store_record_clear(&r);
		}
		assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_b", 70)), PV_OK);
		assert_int_equal(census(st, KEK, 2), 1);
		seal(k, KEK, "rec_d", &rd);
		assert_int_equal(rd.env.kek_version, 2);
		memset(&nr, 0, sizeof(nr));
		util_strlcpy(nr.id, "rec_d", sizeof(nr.id));
		util_strlcpy(nr.collection, "patients", sizeof(nr.collection));
		util_strlcpy(nr.kek_name, KEK, sizeof(nr.kek_name));
		nr.version = 1;
		nr.kek_version = 2;
		nr.wrapped_dek = rd.env.wrapped_dek;
		nr.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
		nr.ciphertext = rd.ct;
		nr.ciphertext_len = sizeof(rd.ct);
		nr.created_ms = 80;
		nr.updated_ms = 80;
		assert_int_equal(TX_WR(st, store_record_put(tx, &nr)), PV_OK);
		assert_int_equal(census(st, KEK, 2), 2);
	}
	keys_close(k);
	store_close(st);

	/* no wrapped DEK (nor a KEK column) is left in records */
	dst = pq_open("v30");
	assert_int_equal(pq_int(dst, "SELECT count(*) FROM information_schema.columns WHERE "
	    "table_name = 'records' AND column_name IN ('wrapped_dek', 'kek_name', 'kek_version')"),
	    0);
	assert_int_equal(pq_int(dst, "SELECT count(*) FROM record_keys WHERE wrapped_dek IS NULL"),
	    2);
	assert_int_equal(pq_int(dst, "SELECT count(*) FROM record_keys"), 4);
	PQfinish(dst);
	(void)pg_cluster_dropdb(&pgc, "keysrc");
	(void)pg_cluster_dropdb(&pgc, "v30");
	kt_rmtree(dir);
}

/* store_pg_migrate_to refuses a target outside 1..latest and changes nothing */
static void test_pg_migrate_to_bounds(void **state)
{
	PGconn *c;
	int ver = -1;

	(void)state;
	assert_int_equal(pg_cluster_createdb(&pgc, "bounds"), 0);
	c = pq_open("bounds");
	assert_int_equal(store_pg_migrate_to(c, 0, &ver), PV_E_INVALID);
	assert_int_equal(store_pg_migrate_to(c, store_sqlite_schema_latest() + 1, &ver),
	    PV_E_INVALID);
	assert_int_equal(ver, -1);
	assert_int_equal(pq_int(c, "SELECT count(*) FROM information_schema.tables "
	    "WHERE table_name = 'schema_migrations'"), 0);
	assert_int_equal(store_pg_migrate_to(c, 12, &ver), PV_OK);
	assert_int_equal(ver, 12);
	assert_int_equal(store_pg_migrate_to(c, 11, &ver), PV_OK);   /* never goes back */
	assert_int_equal(ver, 12);
	PQfinish(c);
	(void)pg_cluster_dropdb(&pgc, "bounds");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pg_v30_migrated),
		cmocka_unit_test(test_pg_migrate_to_bounds),
	};
	char err[512];
	int rc;

	if (pg_cluster_start(&pgc, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_record_keys_pg: %s\n", err);
		pg_cluster_stop(&pgc);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pg_cluster_stop(&pgc);
	return rc;
}
