/*
 * The subject-key level (vault/subject.c, keys/subject.c) and the
 * tombstones (ops_subjects.c): a subject's reference is a keyed HMAC, the
 * same for the same value and never the value; a record sealed under a
 * subject key opens only with that key (not without it, not with another
 * subject's); the subject key wraps and unwraps only with its own AAD;
 * shredding a subject through the operation leaves a tombstone, and
 * applying the tombstones to a store restored from before the shred
 * shreds the patient there too (once: applying again changes nothing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const OFFICER[] = { "security_officer", NULL };
static const char *const ADMIN[] = { "admin", NULL };

#define VISITS "{\"name\":\"visits\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"patient\",\"type\":\"string\",\"subject\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true}]}"

static void make_visits(struct vf *f)
{
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads(VISITS, 0, NULL);

	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
}

static enum pv_rc put_row(struct store_tx *tx, void *arg)
{
	return vault_subject_put_row_tx(tx, arg);
}

/* A subject's key as its first write makes it: in memory, then its row
 * committed; a subject that has one reads it. */
static enum pv_rc ensure(struct vf *f, const char *ref, struct vault_subject_env *se)
{
	struct store_subject *row = NULL;
	enum pv_rc rc = vault_subject_for_write(f->v, ref, se, &row);

	if (rc != PV_OK || row == NULL)
		return rc;
	rc = audit_commit(f->audit, NULL, put_row, row);
	store_subject_clear(row);
	free(row);
	return rc;
}

static void test_ref_is_a_keyed_mac(void **state)
{
	struct vf *f = *state;
	char a[STORE_SUBJECT_REF_LEN + 1], a2[STORE_SUBJECT_REF_LEN + 1],
	    b[STORE_SUBJECT_REF_LEN + 1];

	/* no subject was ever made: there is no key to compute it with */
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", a), PV_E_NOTFOUND);
	make_visits(f);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", a), PV_OK);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", a2), PV_OK);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-2", b), PV_OK);
	assert_int_equal(strlen(a), STORE_SUBJECT_REF_LEN);
	assert_string_equal(a, a2);
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "PAT"));
	assert_int_equal(vault_subject_ref(f->keys, "", a), PV_E_INVALID);
}

static void test_record_opens_only_with_its_subject_key(void **state)
{
	struct vf *f = *state;
	struct vault_subject_env a, b;
	struct store_record r, moved;
	char ra[STORE_SUBJECT_REF_LEN + 1], rb[STORE_SUBJECT_REF_LEN + 1];
	json_t *fields = json_loads("{\"patient\":\"PAT-1\",\"mrn\":\"M1\"}", 0, NULL), *got = NULL;
	uint8_t inner[KEYS_WRAPPED_DEK_LEN];

	make_visits(f);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", ra), PV_OK);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-2", rb), PV_OK);
	assert_int_equal(ensure(f, ra, &a), PV_OK);
	assert_int_equal(ensure(f, rb, &b), PV_OK);
	assert_true(a.linked && b.linked);
	assert_memory_not_equal(a.sk.ct, b.sk.ct, sizeof(a.sk.ct));
	/* made once: ensure again reads the same key */
	{
		struct vault_subject_env a2;

		assert_int_equal(ensure(f, ra, &a2), PV_OK);
		assert_memory_equal(a.sk.ct, a2.sk.ct, sizeof(a.sk.ct));
	}
	memset(&r, 0, sizeof(r));
	assert_int_equal(vault_record_seal_env(f->keys, "visits", "rec_1", 1, fields, &a, &r),
	    PV_OK);
	/* the DEK wrap is the KEK wrap wrapped once more */
	assert_int_equal(r.wrapped_dek_len, KEYS_WRAPPED_DEK_LEN + CRYPTO_BOX_OVERHEAD);
	assert_int_equal(vault_record_open_env(f->keys, &r, &a, &got), PV_OK);
	assert_true(json_equal(got, fields));
	json_decref(got);
	got = NULL;
	/* without the subject key, or with another subject's: it does not open */
	assert_int_equal(vault_record_open_env(f->keys, &r, NULL, &got), PV_E_INTEGRITY);
	assert_int_equal(vault_record_open_env(f->keys, &r, &b, &got), PV_E_INTEGRITY);
	assert_null(got);
	/* the outer AAD names the record: moved to another ID it does not open */
	moved = r;
	snprintf(moved.id, sizeof(moved.id), "rec_2");
	assert_int_equal(vault_subject_dek_peel(f->keys, &moved, &a, inner), PV_E_INTEGRITY);
	assert_int_equal(vault_subject_dek_peel(f->keys, &r, &a, inner), PV_OK);
	/* the subject key itself opens only with its own AAD */
	{
		uint8_t out[64];
		static const uint8_t msg[16] = { 1, 2, 3 };

		assert_int_equal(keys_subject_wrap(f->keys, &a.sk, (const uint8_t *)"x", 1,
		    (const uint8_t *)"w", 1, msg, sizeof(msg), out), PV_E_INTEGRITY);
	}
	store_record_clear(&r);
	json_decref(fields);
}

static void test_tombstones_apply_to_a_restore(void **state)
{
	struct vf *f = *state;
	struct op_caller clin, off;
	struct answer w;
	struct vault_tombstone *t = NULL;
	struct store_subject s;
	struct store_record r;
	struct store *rs = NULL;
	struct keys *rk = NULL;
	struct audit *ra = NULL;
	char rdir[PATH_MAX], ref[STORE_SUBJECT_REF_LEN + 1], id[UTIL_ID_MAX];
	static uint8_t w60[60], ct60[60], dek[88], ctx16[16];
	json_t *rec = json_loads("{\"patient\":\"PAT-9\",\"mrn\":\"M9\"}", 0, NULL);
	size_t n = 9, applied = 9;
	int64_t ms = 0;

	make_visits(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	caller(f, &off, "usr_off", OFFICER, NULL);
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "visits", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	assert_int_equal(vault_subject_tombstones_list(f->st, &t, &n), PV_OK);
	assert_int_equal(n, 0);
	free(t);
	/* a clinician may not shred; the officer may */
	answer_init(&w);
	vault_subject_shred(f->v, &clin.who, "PAT-9", on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_FORBIDDEN);
	answer_free(&w);
	answer_init(&w);
	vault_subject_shred(f->v, &off.who, "PAT-9", on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "visits", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_SUBJECT_SHREDDED);
	answer_free(&w);
	assert_int_equal(vault_subject_tombstones_list(f->st, &t, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-9", ref), PV_OK);
	assert_string_equal(t[0].ref, ref);
	assert_true(t[0].shredded_ms > 0);

	/* a store as a backup from before the shred would restore it */
	assert_int_equal(pv_stack_open("restored", rdir, &rs, &rk, &ra), 0);
	memset(&s, 0, sizeof(s));
	snprintf(s.ref, sizeof(s.ref), "%s", ref);
	snprintf(s.kek_name, sizeof(s.kek_name), "subjects");
	s.kek_version = 1;
	s.wrapped_dek = w60;
	s.wrapped_dek_len = sizeof(w60);
	s.ciphertext = ct60;
	s.ciphertext_len = sizeof(ct60);
	s.created_ms = 1;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.collection, sizeof(r.collection), "visits");
	snprintf(r.kek_name, sizeof(r.kek_name), "collection:visits");
	r.version = 1;
	r.kek_version = 1;
	r.wrapped_dek = dek;
	r.wrapped_dek_len = sizeof(dek);
	r.ciphertext = ctx16;
	r.ciphertext_len = sizeof(ctx16);
	r.created_ms = 1;
	{
		struct store_collection c;

		memset(&c, 0, sizeof(c));
		snprintf(c.name, sizeof(c.name), "visits");
		c.schema = (char *)VISITS;
		snprintf(c.region, sizeof(c.region), "local");
		c.retention_days = 2190;
		snprintf(c.kek_name, sizeof(c.kek_name), "collection:visits");
		assert_int_equal(TX_WR(rs, store_collection_put(tx, &c)), PV_OK);
	}
	assert_int_equal(TX_WR(rs, store_subject_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(rs, store_record_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(rs, store_subject_link(tx, "visits", id, ref)), PV_OK);

	assert_int_equal(vault_subject_tombstones_apply(rs, t, n, &applied), PV_OK);
	assert_int_equal(applied, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(rs, store_subject_get(tx, ref, &s)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(rs, store_subject_tombstone_get(tx, ref, &ms)), PV_OK);
	assert_int_equal(ms, t[0].shredded_ms);
	memset(&r, 0, sizeof(r));
	assert_int_equal(TX_RD(rs, store_record_get(tx, "visits", id, &r)), PV_OK);
	assert_true(r.deleted_ms != 0 && r.wrapped_dek == NULL && r.ciphertext == NULL);
	store_record_clear(&r);
	/* applying again changes nothing */
	assert_int_equal(vault_subject_tombstones_apply(rs, t, n, &applied), PV_OK);
	assert_int_equal(applied, 0);
	assert_int_equal(vault_subject_tombstones_apply(rs, NULL, 1, NULL), PV_E_INVALID);

	free(t);
	audit_stop(ra);
	keys_close(rk);
	store_close(rs);
	pv_stack_remove_dir(rdir);
	json_decref(rec);
	caller_free(&clin);
	caller_free(&off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ref_is_a_keyed_mac, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_record_opens_only_with_its_subject_key,
		    vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_apply_to_a_restore, vf_setup,
		    vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
