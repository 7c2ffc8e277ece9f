/*
 * vault/service.c: the record envelope (AES-256-GCM under a per-record DEK,
 * AAD binding collection, record ID and version), the schema cache and the
 * batch committer, against a real store, keyring and audit writer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vault_fixture.h"

static json_t *fields_of(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_envelope_round_trip(void **state)
{
	struct vf *f = *state;
	struct store_record a, b;
	json_t *in = fields_of("{\"name\":\"Zebediah Quuxworth\",\"ssn\":\"123-45-6789\"}");
	json_t *out = NULL;

	vf_make_patients(f);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(vault_record_seal(f->keys, "patients", "rec_one", 1, in, &a), PV_OK);
	assert_string_equal(a.kek_name, "collection:patients");
	assert_int_equal(a.kek_version, 1);
	assert_int_equal(a.version, 1);
	assert_int_equal(a.wrapped_dek_len, KEYS_WRAPPED_DEK_LEN);
	/* the ciphertext is not the plaintext */
	assert_null(memmem(a.ciphertext, a.ciphertext_len, "Quuxworth", 9));
	assert_null(memmem(a.ciphertext, a.ciphertext_len, "6789", 4));
	assert_int_equal(vault_record_open(f->keys, &a, &out), PV_OK);
	assert_true(json_equal(in, out));
	json_decref(out);

	/* a fresh DEK per seal: the same fields seal differently */
	assert_int_equal(vault_record_seal(f->keys, "patients", "rec_one", 1, in, &b), PV_OK);
	assert_memory_not_equal(a.wrapped_dek, b.wrapped_dek, a.wrapped_dek_len);
	assert_memory_not_equal(a.ciphertext, b.ciphertext, a.ciphertext_len);
	store_record_clear(&b);
	store_record_clear(&a);
	json_decref(in);
}

/* A ciphertext moved to another record, version or collection does not open. */
static void test_aad_binding(void **state)
{
	struct vf *f = *state;
	struct store_record a, moved;
	json_t *in = fields_of("{\"ssn\":\"123-45-6789\"}");
	json_t *out = NULL;

	vf_make_patients(f);
	memset(&a, 0, sizeof(a));
	assert_int_equal(vault_record_seal(f->keys, "patients", "rec_one", 3, in, &a), PV_OK);

	moved = a;
	snprintf(moved.id, sizeof(moved.id), "rec_two");
	assert_int_equal(vault_record_open(f->keys, &moved, &out), PV_E_INTEGRITY);
	assert_null(out);

	moved = a;
	moved.version = 2;   /* rolled back */
	assert_int_equal(vault_record_open(f->keys, &moved, &out), PV_E_INTEGRITY);
	moved.version = 4;
	assert_int_equal(vault_record_open(f->keys, &moved, &out), PV_E_INTEGRITY);

	moved = a;
	snprintf(moved.collection, sizeof(moved.collection), "claims");
	assert_int_equal(vault_record_open(f->keys, &moved, &out), PV_E_INTEGRITY);

	/* one flipped bit of ciphertext or wrapped DEK */
	a.ciphertext[a.ciphertext_len / 2] ^= 1;
	assert_int_equal(vault_record_open(f->keys, &a, &out), PV_E_INTEGRITY);
	a.ciphertext[a.ciphertext_len / 2] ^= 1;
	a.wrapped_dek[5] ^= 0x80;
	assert_int_equal(vault_record_open(f->keys, &a, &out), PV_E_INTEGRITY);
	a.wrapped_dek[5] ^= 0x80;
	assert_int_equal(vault_record_open(f->keys, &a, &out), PV_OK);
	json_decref(out);

	/* a shredded record has nothing to open */
	moved = a;
	moved.deleted_ms = 1;
	assert_int_equal(vault_record_open(f->keys, &moved, &out), PV_E_NOTFOUND);
	store_record_clear(&a);
	json_decref(in);
}

/* Another record's wrapped DEK does not open this record. */
static void test_dek_swap(void **state)
{
	struct vf *f = *state;
	struct store_record a, b;
	json_t *in = fields_of("{\"mrn\":\"A1\"}");
	json_t *out = NULL;

	vf_make_patients(f);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(vault_record_seal(f->keys, "patients", "rec_a", 1, in, &a), PV_OK);
	assert_int_equal(vault_record_seal(f->keys, "patients", "rec_a", 1, in, &b), PV_OK);
	memcpy(a.wrapped_dek, b.wrapped_dek, a.wrapped_dek_len);
	assert_int_equal(vault_record_open(f->keys, &a, &out), PV_E_INTEGRITY);
	store_record_clear(&a);
	store_record_clear(&b);
	json_decref(in);
}

static void test_collection_cache(void **state)
{
	struct vf *f = *state;
	const struct vault_collection *c1 = NULL, *c2 = NULL;
	struct vault_ctx *fresh = NULL;
	struct vault_deps d = { f->st, f->keys, f->audit, "local", false };

	assert_int_equal(vault_coll_get(f->v, "patients", &c1), PV_E_NOTFOUND);
	assert_int_equal(vault_coll_get(f->v, "Not A Name", &c1), PV_E_NOTFOUND);
	vf_make_patients(f);
	assert_int_equal(vault_coll_get(f->v, "patients", &c1), PV_OK);
	assert_int_equal(vault_coll_get(f->v, "patients", &c2), PV_OK);
	assert_ptr_equal(c1, c2);
	assert_int_equal(c1->nfields, 6);
	assert_true(vault_collection_field(c1, "ssn")->searchable);

	/* a new process (empty cache) loads the schema from the store */
	assert_int_equal(vault_ctx_new(&d, &fresh), PV_OK);
	assert_int_equal(vault_coll_get(fresh, "patients", &c2), PV_OK);
	assert_ptr_not_equal(c1, c2);
	assert_int_equal(c2->nfields, 6);
	assert_string_equal(c2->fields[1].name, "ssn");
	assert_int_equal(c2->fields[1].mask, VAULT_MASK_LAST4);
	vault_free(fresh);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vf_setup, vf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_envelope_round_trip),
		T(test_aad_binding),
		T(test_dek_swap),
		T(test_collection_cache),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
