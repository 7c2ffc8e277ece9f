/*
 * The vault operations (vault.h "operations") called directly, with no
 * HTTP at all: a caller (principal with its compiled policy, actor,
 * purpose of use) and an answer through the completion. Create a
 * collection and a record, read it unmasked and masked, patch it under
 * If-Match, search it, shred it; each step as a client and an auditor see
 * it (answer, entries).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vault_fixture.h"

static const char *const ADMIN[] = { "admin", NULL };
static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };

#define REC1 "{\"name\":\"Zebediah Quuxworth\",\"ssn\":\"123-45-6789\",\"mrn\":\"mr-0042\"," \
	"\"dob\":\"1961-02-03\",\"email\":\"zeb@Example.ORG\",\"visits\":7}"

/* A caller as the HTTP adapter would make it, without a request. */
struct op_caller {
	struct authn_principal p;
	struct pv_actor actor;
	struct vault_caller who;
	struct authz_policy *pol;
};

static void caller(struct vf *f, struct op_caller *c, const char *user,
    const char *const *roles, const char *purpose)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->p.user_id, sizeof(c->p.user_id), "%s", user);
	snprintf(c->p.session_id, sizeof(c->p.session_id), "ses_%s", user);
	snprintf(c->p.source, sizeof(c->p.source), "203.0.113.7");
	for (size_t i = 0; roles[i] != NULL; i++)
		snprintf(c->p.roles[c->p.nroles++], AUTHN_ROLE_NAME_MAX, "%s", roles[i]);
	assert_int_equal(authz_policy_compile(vf_role_lookup, f,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])c->p.roles, c->p.nroles, 0, &c->pol), PV_OK);
	c->p.policy = c->pol;
	authn_actor(&c->p, c->p.source, &c->actor);
	c->who.subject = &c->p;
	c->who.actor = &c->actor;
	c->who.purpose = purpose;
}

static void caller_free(struct op_caller *c)
{
	free(c->pol);
}

/* The answer, whichever thread gives it. */
struct answer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int calls;
	enum pv_rc rc;
	char message[VAULT_ERR_MAX];
	json_t *body;
	uint32_t version;
};

static void on_done(struct vault_answer *a, void *arg)
{
	struct answer *w = arg;

	pthread_mutex_lock(&w->mu);
	w->calls++;
	w->rc = a->rc;
	snprintf(w->message, sizeof(w->message), "%s", a->message);
	w->body = a->body;   /* taken: the operation releases what it still holds */
	a->body = NULL;
	w->version = a->version;
	w->done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void answer_init(struct answer *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

/* Wait for the completion (no timing assumed: a condition variable). */
static void answer_wait(struct answer *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(w->calls, 1);
}

static void answer_free(struct answer *w)
{
	json_decref(w->body);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

static const char *field(const struct answer *w, const char *name)
{
	return json_string_value(json_object_get(json_object_get(w->body, "fields"), name));
}

static void make_patients(struct vf *f)
{
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads(VF_PATIENTS, 0, NULL);

	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(json_string_value(json_object_get(w.body, "name")), "patients");
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
}

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
