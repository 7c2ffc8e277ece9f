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
	assert_string_equal(v.code, "");
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
	assert_string_equal(v.code, AUDIT_VERIFY_CHAIN_BROKEN);
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
	assert_string_equal(v.code, AUDIT_VERIFY_SIGNATURE_BAD);
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
	assert_string_equal(v.code, AUDIT_VERIFY_SIGNATURE_BAD);
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
	expect_bad(&v, 10, "checkpoint signatures do not match the expected key (first at seq 10)");
}

/* The stored checkpoint key of the clean trail (what init printed). */
static void base_public_key(uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	struct store *st = NULL;

	assert_int_equal(store_open(base_dir, "sqlite", NULL, true, &st), PV_OK);
	assert_int_equal(keys_audit_public_key(st, pub), PV_OK);
	store_close(st);
}

static struct audit_verify_result tamper_verify_with(struct tcase *t,
    const struct audit_verify_opts *o)
{
	struct store *st = NULL;
	struct audit_verify_result v;

	if (t->db)
		sqlite3_close(t->db);
	t->db = NULL;
	assert_int_equal(store_open(t->dir, "sqlite", NULL, true, &st), PV_OK);
	memset(&v, 0xaa, sizeof v);
	assert_int_equal(audit_verify_with(st, o, &v), PV_OK);
	store_close(st);
	assert_null(strstr(v.reason, "rec_"));
	return v;
}

/* Re-sign every checkpoint with a key of the forger's own and store that key
 * in meta, as someone holding the database (but not the signing key) can. */
static void resign_checkpoints(sqlite3 *db)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], sig[CRYPTO_ED25519_SIG_LEN];
	struct pv_secret *priv = NULL;
	sqlite3_stmt *sel = NULL, *upd = NULL, *meta = NULL;
	char msg[128], b64[128];
	size_t mlen;

	assert_int_equal(crypto_ed25519_keygen(pub, &priv), PV_OK);
	assert_int_equal(fx_exec(db, "UPDATE audit_checkpoint SET hash ="
	    " (SELECT hash FROM audit WHERE audit.seq = audit_checkpoint.seq)"), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_checkpoint", -1,
	    &sel, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	    "UPDATE audit_checkpoint SET signature = ?1 WHERE seq = ?2", -1, &upd, NULL), SQLITE_OK);
	while (sqlite3_step(sel) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(sel, 0);

		mlen = audit_checkpoint_message(seq, (const char *)sqlite3_column_text(sel, 1),
		    msg, sizeof msg);
		assert_true(mlen > 0);
		assert_int_equal(crypto_ed25519_sign(priv->buf, (const uint8_t *)msg, mlen, sig),
		    PV_OK);
		util_b64_encode(sig, sizeof sig, b64);
		sqlite3_reset(upd);
		sqlite3_bind_text(upd, 1, b64, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 2, seq);
		assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
	}
	assert_int_equal(sqlite3_prepare_v2(db,
	    "UPDATE meta SET value = ?1 WHERE key = 'audit.public_key'", -1, &meta, NULL),
	    SQLITE_OK);
	sqlite3_bind_blob(meta, 1, pub, sizeof pub, SQLITE_TRANSIENT);
	assert_int_equal(sqlite3_step(meta), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_finalize(meta);
	crypto_secret_free(priv);
}

/* Issue 8 item 5: every denial rewritten as allowed, the chain rehashed,
 * the key swapped and every checkpoint re-signed. The database alone cannot
 * tell (documented limitation); the key recorded at init can. */
static void test_forged_chain_resigned_with_new_key(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	struct audit_verify_opts o = { 0 };
	uint8_t orig[CRYPTO_ED25519_PUB_LEN];
	char fp[AUDIT_FINGERPRINT_LEN + 1];

	(void)state;
	base_public_key(orig);
	assert_int_equal(audit_key_fingerprint(orig, fp), PV_OK);
	tamper_begin(&t);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET outcome = 'allowed', reason = ''"
	    " WHERE outcome = 'denied'"), 0);
	assert_int_equal(sqlite3_changes(t.db), 7);
	assert_int_equal(fx_rechain(t.db, 1), 0);
	resign_checkpoints(t.db);

	/* stored key: looks intact */
	v = tamper_verify_with(&t, &o);
	assert_true(v.ok);
	assert_int_equal(v.checkpoints, 3);

	/* the key init printed: tampered, at the first checkpoint */
	o.pub = orig;
	v = tamper_verify_with(&t, &o);
	expect_bad(&v, 10, "checkpoint signatures do not match the expected key");

	/* the fingerprint init printed: the same */
	o.pub = NULL;
	o.fingerprint = fp;
	v = tamper_verify_with(&t, &o);
	expect_bad(&v, 10, "checkpoint signatures do not match the expected key");
	fx_rmrf(t.dir);
}

/* The stored key replaced but the checkpoints untouched: still caught. */
static void test_stored_key_replaced_only(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	struct audit_verify_opts o = { 0 };
	uint8_t orig[CRYPTO_ED25519_PUB_LEN], other[CRYPTO_ED25519_PUB_LEN];
	struct pv_secret *priv = NULL;
	sqlite3_stmt *s = NULL;

	(void)state;
	base_public_key(orig);
	assert_int_equal(crypto_ed25519_keygen(other, &priv), PV_OK);
	crypto_secret_free(priv);
	tamper_begin(&t);
	assert_int_equal(sqlite3_prepare_v2(t.db,
	    "UPDATE meta SET value = ?1 WHERE key = 'audit.public_key'", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, other, sizeof other, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	o.pub = orig;
	v = tamper_verify_with(&t, &o);
	expect_bad(&v, 10, "the stored public key is another");
	/* the untouched original verifies with its own key */
	fx_rmrf(t.dir);
	tamper_begin(&t);
	v = tamper_verify_with(&t, &o);
	assert_true(v.ok);
	assert_int_equal(v.head_seq, 30);
	fx_rmrf(t.dir);
}

/* Append three properly chained rows after the last checkpoint (30). */
static void append_unsigned_tail(sqlite3 *db, char head33[65])
{
	char h[65];

	for (int64_t seq = 31; seq <= 33; seq++) {
		char q[80];

		snprintf(q, sizeof q, "SELECT hash FROM audit WHERE seq = %lld", (long long)(seq - 1));
		fx_sql_text(db, q, h, sizeof h);
		insert_forged(db, seq, h);
	}
	fx_sql_text(db, "SELECT hash FROM audit WHERE seq = 33", head33, 65);
}

/* Entries after the last checkpoint dropped: the database alone cannot
 * tell; the head recorded by an earlier verify can. */
static void test_truncation_after_last_checkpoint(void **state)
{
	struct tcase t;
	struct audit_verify_result v;
	struct audit_verify_opts o = { 0 };
	char head33[65];

	(void)state;
	tamper_begin(&t);
	append_unsigned_tail(t.db, head33);
	o.expect_seq = 33;
	o.expect_hash = head33;
	v = tamper_verify_with(&t, &o);    /* before the cut: the head is there */
	assert_true(v.ok);
	assert_int_equal(v.head_seq, 33);
	assert_string_equal(v.head, head33);
	t.db = fx_db(t.dir);
	assert_non_null(t.db);
	assert_int_equal(fx_exec(t.db, "DELETE FROM audit WHERE seq > 31"), 0);
	{
		struct audit_verify_opts none = { 0 };

		v = tamper_verify_with(&t, &none);   /* without the expectation: intact */
		assert_true(v.ok);
		assert_int_equal(v.head_seq, 31);
	}
	v = tamper_verify_with(&t, &o);
	expect_bad(&v, 32, "entries after seq 31 are missing (expected head at seq 33)");
	fx_rmrf(t.dir);

	/* rewritten consistently instead of cut: the head hash differs */
	tamper_begin(&t);
	append_unsigned_tail(t.db, head33);
	assert_int_equal(fx_exec(t.db, "UPDATE audit SET outcome = 'denied' WHERE seq = 32"), 0);
	assert_int_equal(fx_rechain(t.db, 32), 0);
	v = tamper_verify_with(&t, &o);
	expect_bad(&v, 33, "does not have the expected head hash");
	fx_rmrf(t.dir);
}

/* A NUL byte and text appended to a column: strlen-based hashing would not
 * see it (the entry at 5 lies before the checkpoint at 10, whose hash does
 * not change either). */
static void test_nul_appended_to_column(void **state)
{
	static const char *cols[] = { "resource", "reason", "detail", "actor", "hash" };
	struct tcase t;
	struct audit_verify_result v;
	char sql[200];

	(void)state;
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		tamper_begin(&t);
		snprintf(sql, sizeof sql, "UPDATE audit SET %s = %s || char(0) || 'allowed by x'"
		    " WHERE seq = 5", cols[i], cols[i]);
		assert_int_equal(fx_exec(t.db, sql), 0);
		v = tamper_verify(&t, NULL);
		expect_bad(&v, 5, "seq 5");
	}
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
		cmocka_unit_test(test_forged_chain_resigned_with_new_key),
		cmocka_unit_test(test_stored_key_replaced_only),
		cmocka_unit_test(test_truncation_after_last_checkpoint),
		cmocka_unit_test(test_nul_appended_to_column),
	};

	return cmocka_run_group_tests(tests, build_base, remove_base);
}
