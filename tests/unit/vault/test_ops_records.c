/*
 * The vault operations (vault.h "operations") called directly, with no
 * HTTP at all: a caller (principal with its compiled policy, actor,
 * purpose of use) and an answer through the completion. Create a
 * collection and a record, read it unmasked and masked, patch it under
 * If-Match, search it, shred it; each step as a client and an auditor see
 * it (answer, entries).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };

#define REC1 "{\"name\":\"Zebediah Quuxworth\",\"ssn\":\"123-45-6789\",\"mrn\":\"mr-0042\"," \
	"\"dob\":\"1961-02-03\",\"email\":\"zeb@Example.ORG\",\"visits\":7}"

/* the record life cycle through the operations alone */
static void test_record_lifecycle_without_http(void **state)
{
	struct vf *f = *state;
	struct op_caller clin, ana;
	struct answer w;
	struct vf_entry e;
	struct vault_match m = { "mrn", "MR-0043" };
	json_t *rec = json_loads(REC1, 0, NULL);
	json_t *patch = json_loads("{\"mrn\":\"mr-0043\"}", 0, NULL);
	char id[UTIL_ID_MAX];

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	caller(f, &ana, "usr_ana", ANALYST, "TREAT");

	/* create: version 1, entry with the actor and field names only */
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(w.version, 1);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w.body, "id")));
	assert_true(util_id_valid("rec", id));
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.create");
	assert_non_null(strstr(e.actor, "usr_clin"));
	assert_non_null(strstr(e.actor, "203.0.113.7"));
	assert_null(strstr(e.detail, "Quuxworth"));

	/* read, unmasked for the clinician */
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(w.version, 1);
	assert_string_equal(field(&w, "name"), "Zebediah Quuxworth");
	assert_string_equal(field(&w, "ssn"), "123-45-6789");
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.read");
	assert_string_equal(e.purpose, "TREAT");

	/* read, masked for the analyst (the second decision's unmask set) */
	answer_init(&w);
	vault_record_read(f->v, &ana.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(field(&w, "name"), "****");
	assert_string_equal(field(&w, "ssn"), "***-**-6789");
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_non_null(strstr(e.detail, "\"unmasked\":[]"));

	/* a PHI read without a purpose is refused by the decision point */
	ana.who.purpose = NULL;
	answer_init(&w);
	vault_record_read(f->v, &ana.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_PURPOSE);
	assert_null(w.body);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "denied");
	ana.who.purpose = "TREAT";

	/* patch under If-Match: version 2; the same precondition again is 412 */
	answer_init(&w);
	vault_record_update(f->v, &clin.who, "patients", id, "1", patch, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(w.version, 2);
	answer_free(&w);
	answer_init(&w);
	vault_record_update(f->v, &clin.who, "patients", id, "1", patch, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_PRECONDITION);
	assert_string_equal(w.message, "the record is not at the version named by If-Match");
	answer_free(&w);

	/* search finds the patched value, and nothing by the old one */
	answer_init(&w);
	vault_record_search(f->v, &ana.who, "patients", &m, 1, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(json_array_size(json_object_get(w.body, "records")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(w.body, "records"), 0), "id")), id);
	answer_free(&w);
	m.value = "MR-0042";
	answer_init(&w);
	vault_record_search(f->v, &ana.who, "patients", &m, 1, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(json_array_size(json_object_get(w.body, "records")), 0);
	answer_free(&w);
	m.field = "name";
	answer_init(&w);
	vault_record_search(f->v, &ana.who, "patients", &m, 1, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_INVALID);
	assert_string_equal(w.message, "field 'name' is not searchable");
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.search");
	assert_string_equal(e.outcome, "error");

	/* shred: then the record is gone for everyone */
	answer_init(&w);
	vault_record_shred(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_null(w.body);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.delete");
	assert_string_equal(e.outcome, "allowed");
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_NOTFOUND);
	assert_string_equal(w.message, "no such record");
	answer_free(&w);

	json_decref(rec);
	json_decref(patch);
	caller_free(&clin);
	caller_free(&ana);
}

/* fail closed without HTTP too: a read whose entry cannot be made durable
 * answers PV_E_AUDIT and no data */
static void test_read_fails_closed_without_http(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	struct answer w;
	json_t *rec = json_loads(REC1, 0, NULL);
	char id[UTIL_ID_MAX];

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);

	store_fault_set("audit_append", -1);
	answer_init(&w);
	vault_record_read(f->v, &clin.who, "patients", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_AUDIT);
	assert_null(w.body);
	answer_free(&w);
	store_fault_clear_all();
	json_decref(rec);
	caller_free(&clin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_lifecycle_without_http, vf_setup,
		    vf_teardown),
		cmocka_unit_test_setup_teardown(test_read_fails_closed_without_http, vf_setup,
		    vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
