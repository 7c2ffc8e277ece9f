/*
 * verify.c: an attacker with write access to the database file edits the
 * trail with plain SQL; audit_verify must say so and name the first bad seq.
 * One clean trail (30 entries, checkpoints every 10) is built once; each case
 * tampers with its own copy of the data directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "audit/audit_fixture.h"

static char base_dir[PATH_MAX];

static int build_base(void **state)
{
	struct fx f;
	char res[64];

	(void)state;
	if (fx_open(&f) != 0 || fx_start(&f, 10, 3600) != 0)
		return -1;
	for (int i = 1; i <= 30; i++) {
		struct audit_event ev;

		snprintf(res, sizeof res, "collections/patients/records/rec_%02d", i);
		ev = fx_event(res);
		if (i % 4 == 0) {
			ev.outcome = AUDIT_DENIED;
			ev.reason = "no_permission";
		}
		if (audit_record(f.audit, &ev) != PV_OK)
			return -1;
	}
	snprintf(base_dir, sizeof base_dir, "%s", f.dir);
	fx_close(&f, 1);
	return 0;
}

static int remove_base(void **state)
{
	(void)state;
	fx_rmrf(base_dir);
	return 0;
}

struct tcase {
	char dir[PATH_MAX];
	sqlite3 *db;
};

/* A fresh copy of the clean trail, opened with raw SQLite. */
static void tamper_begin(struct tcase *t)
{
	assert_int_equal(fx_copy_dir(base_dir, t->dir, sizeof t->dir), 0);
	t->db = fx_db(t->dir);
	assert_non_null(t->db);
}

/* Close the attacker's handle, verify through the store, clean up. */
static struct audit_verify_result tamper_verify(struct tcase *t, const uint8_t *pub)
{
	struct store *st = NULL;
	struct audit_verify_result v;

	if (t->db)
		sqlite3_close(t->db);
	t->db = NULL;
	assert_int_equal(store_open(t->dir, "sqlite", NULL, true, &st), PV_OK);
	memset(&v, 0xaa, sizeof v);
	assert_int_equal(audit_verify(st, pub, &v), PV_OK);
	store_close(st);
	fx_rmrf(t->dir);
	/* Reasons never carry entry contents. */
	assert_null(strstr(v.reason, "rec_"));
	assert_null(strstr(v.reason, "usr_"));
	assert_null(strstr(v.reason, "collections"));
	return v;
}

static void expect_bad(const struct audit_verify_result *v, int64_t seq, const char *reason_part)
{
	if (v->ok || v->first_bad_seq != seq || !strstr(v->reason, reason_part))
		fprintf(stderr, "ok=%d first_bad_seq=%lld reason=%s\n", v->ok,
		    (long long)v->first_bad_seq, v->reason);
	assert_false(v->ok);
	assert_int_equal(v->first_bad_seq, seq);
	assert_non_null(strstr(v->reason, reason_part));
}

/* Insert a row whose own hash is right for the prev_hash it claims. */
static void insert_forged(sqlite3 *db, int64_t seq, const char *prev_hash)
{
	struct store_audit_row r = {
		.seq = seq,
		.time = "2026-01-01T00:00:00.000Z",
		.actor = "{\"session_id\":null,\"source\":null,\"user_id\":\"usr_attacker\"}",
		.action = "record.read",
		.resource = "collections/patients/records/rec_forged",
		.purpose_of_use = "TREAT",
		.outcome = "allowed",
		.reason = "",
		.detail = "{}",
		.prev_hash = prev_hash,
	};
	char hash[65];
	sqlite3_stmt *s = NULL;

	assert_int_equal(audit_chain_hash(&r, hash), PV_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	    "INSERT INTO audit(seq, time, actor, action, resource, purpose_of_use, outcome,"
	    " reason, detail, prev_hash, hash) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	    -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, r.seq);
	sqlite3_bind_text(s, 2, r.time, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r.actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, r.action, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, r.resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, r.purpose_of_use, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, r.outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, r.reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, r.detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, r.prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, hash, -1, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
}

static void test_clean_trail_verifies(void **state)
{
	struct tcase t;
	char last[65];
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	fx_sql_text(t.db, "SELECT hash FROM audit WHERE seq = 30", last, sizeof last);
	v = tamper_verify(&t, NULL);
	assert_true(v.ok);
	assert_int_equal(v.entries, 30);
	assert_int_equal(v.checkpoints, 3);
	assert_int_equal(v.first_bad_seq, 0);
	assert_string_equal(v.head, last);
	assert_string_equal(v.reason, "");
}

static void test_updated_field(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db,
	    "UPDATE audit SET resource = 'collections/patients/records/rec_99' WHERE seq = 7"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 7, "seq 7");
	assert_int_equal(v.entries, 6);
}

static void test_updated_outcome(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET outcome = 'allowed' WHERE seq = 24"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 24, "hash mismatch at seq 24");
}

static void test_deleted_middle_row(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "DELETE FROM audit WHERE seq = 12"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 12, "seq 12");
}

static void test_deleted_first_row(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "DELETE FROM audit WHERE seq = 1"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 1, "seq 1");
}

/* A row slipped into the middle: later rows renumbered, the forged row's own
 * hash is right and it links to 14, but the old 15 (now 16) links elsewhere. */
static void test_inserted_row(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	char h14[65];

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET seq = seq + 1000 WHERE seq >= 15;"
	    "UPDATE audit SET seq = seq - 999 WHERE seq >= 1015"), 0);
	fx_sql_text(t.db, "SELECT hash FROM audit WHERE seq = 14", h14, sizeof h14);
	insert_forged(t.db, 15, h14);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 16, "prev_hash at seq 16");
	assert_int_equal(v.entries, 15);
}

/* A row appended with a made-up prev_hash. */
static void test_appended_row_broken_link(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	insert_forged(t.db, 31, "1111111111111111111111111111111111111111111111111111111111111111");
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 31, "prev_hash at seq 31");
}

/* A row with seq far beyond the end. */
static void test_row_with_forged_seq(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	char h30[65];

	(void)state;
	tamper_begin(&t);
	fx_sql_text(t.db, "SELECT hash FROM audit WHERE seq = 30", h30, sizeof h30);
	insert_forged(t.db, 500, h30);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 31, "seq 31");
}

/* A row with seq 0 must not hide below the scan. */
static void test_row_with_seq_zero(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	insert_forged(t.db, 0, AUDIT_GENESIS_HASH);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 1, "seq 1");
}

static void test_truncated_tail(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "DELETE FROM audit WHERE seq > 24"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 25, "entries after seq 24 are missing");
	assert_int_equal(v.entries, 24);
}

static void test_corrupt_checkpoint_signature(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db,
	    "UPDATE audit_checkpoint SET signature = (CASE WHEN substr(signature, 1, 1) = 'A'"
	    " THEN 'B' ELSE 'A' END) || substr(signature, 2) WHERE seq = 20"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 20, "checkpoint signature invalid at seq 20");
	assert_int_equal(v.checkpoints, 1);
}

static void test_garbage_checkpoint_signature(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db,
	    "UPDATE audit_checkpoint SET signature = 'not base64!' WHERE seq = 10"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 10, "checkpoint signature invalid at seq 10");
}

/* The attacker edits row 15 and recomputes every later hash: the chain is
 * self-consistent, but the signed checkpoint at 20 no longer matches. */
static void test_rechained_edit_caught_by_checkpoint(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET outcome = 'allowed', reason = ''"
	    " WHERE seq = 16"), 0);
	assert_int_equal(fx_rechain(t.db, 16), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 20, "seq 20");
	assert_int_equal(v.entries, 20);   /* the chain itself is consistent up to there */
	assert_int_equal(v.checkpoints, 1);
}

/* ... and also rewrites the checkpoints' hashes: the signatures fail. */
static void test_rechained_edit_and_checkpoints(void **state)
{
	struct tcase t;
	struct audit_verify_result v;

	(void)state;
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET outcome = 'allowed', reason = ''"
	    " WHERE seq = 16"), 0);
	assert_int_equal(fx_rechain(t.db, 16), 0);
	assert_int_equal(fx_exec(t.db, "UPDATE audit_checkpoint SET hash ="
	    " (SELECT hash FROM audit WHERE audit.seq = audit_checkpoint.seq)"), 0);
	v = tamper_verify(&t, NULL);
	expect_bad(&v, 20, "checkpoint signature invalid at seq 20");
}

/* Someone swaps the stored public key for their own: a verifier holding the
 * published key still catches it; with a wrong key every checkpoint fails. */
static void test_wrong_public_key(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	uint8_t other[CRYPTO_ED25519_PUB_LEN];
	struct pv_secret *priv = NULL;

	(void)state;
	assert_int_equal(crypto_ed25519_keygen(other, &priv), PV_OK);
	crypto_secret_free(priv);
	tamper_begin(&t);
	v = tamper_verify(&t, other);
	expect_bad(&v, 10, "checkpoint signature invalid at seq 10");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_trail_verifies),
		cmocka_unit_test(test_updated_field),
		cmocka_unit_test(test_updated_outcome),
		cmocka_unit_test(test_deleted_middle_row),
		cmocka_unit_test(test_deleted_first_row),
		cmocka_unit_test(test_inserted_row),
		cmocka_unit_test(test_appended_row_broken_link),
		cmocka_unit_test(test_row_with_forged_seq),
		cmocka_unit_test(test_row_with_seq_zero),
		cmocka_unit_test(test_truncated_tail),
		cmocka_unit_test(test_corrupt_checkpoint_signature),
		cmocka_unit_test(test_garbage_checkpoint_signature),
		cmocka_unit_test(test_rechained_edit_caught_by_checkpoint),
		cmocka_unit_test(test_rechained_edit_and_checkpoints),
		cmocka_unit_test(test_wrong_public_key),
	};

	return cmocka_run_group_tests(tests, build_base, remove_base);
}
