/*
 * No thread waits on an fsync in the vault: the operations that answer
 * with PHI after an audit entry (search, list, batch, detokenize) and the
 * writes (tokenize, collection create) submit their transaction and answer
 * from its completion. With the committer held inside a group by a gate,
 * each operation returns to its caller at once and its answer has not been
 * given; once the gate opens the entry commits and only then the answer
 * comes. Fail closed: an entry that cannot be made durable answers
 * PV_E_AUDIT and no data.
 *
 * The gate releases itself after GATE_SAFETY_S so that an operation that
 * does block (the bug) makes the test fail on its assertion instead of
 * hanging; a passing run never waits for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <time.h>

#include "ops_fixture.h"

#define GATE_SAFETY_S 10

static const char *const CLINICIAN[] = { "clinician", NULL };

#define REC1 "{\"name\":\"Zebediah Quuxworth\",\"ssn\":\"123-45-6789\",\"mrn\":\"mr-0042\"," \
	"\"dob\":\"1961-02-03\",\"email\":\"zeb@Example.ORG\",\"visits\":7}"

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered, gate_done;

static void gate_done_fn(enum pv_rc rc, void *arg)
{
	(void)rc;
	(void)arg;
	pthread_mutex_lock(&gate_mu);
	gate_done = true;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* Holds the committer inside its group until released. */
static enum pv_rc gate_fn(struct store_tx *tx, void *arg)
{
	struct timespec until;

	(void)tx;
	(void)arg;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += GATE_SAFETY_S;
	pthread_mutex_lock(&gate_mu);
	gate_entered = true;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		if (pthread_cond_timedwait(&gate_cv, &gate_mu, &until) != 0)
			break;   /* a blocked operation: let it run, its test fails */
	pthread_mutex_unlock(&gate_mu);
	return PV_OK;
}

static void gate_close(struct vf *f)
{
	gate_open = gate_entered = gate_done = false;
	assert_int_equal(audit_submit(f->audit, NULL, gate_fn, NULL, COMMIT_REQUEST, gate_done_fn,
	    NULL), PV_OK);
	pthread_mutex_lock(&gate_mu);
	while (!gate_entered)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
}

static void gate_release(void)
{
	pthread_mutex_lock(&gate_mu);
	gate_open = true;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_done)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
}

static bool answered(struct answer *w)
{
	bool d;

	pthread_mutex_lock(&w->mu);
	d = w->done;
	pthread_mutex_unlock(&w->mu);
	return d;
}

static void create_one(struct vf *f, struct op_caller *c, char id[UTIL_ID_MAX])
{
	json_t *rec = json_loads(REC1, 0, NULL);
	struct answer w;

	answer_init(&w);
	vault_record_create(f->v, &c->who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, UTIL_ID_MAX, "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	json_decref(rec);
}

/* A search returns at once while its group cannot commit, and answers only
 * after its record.search entry is durable. */
static void test_search_answers_after_its_entry_commits(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	struct vault_match m = { "mrn", "MR-0042" };
	struct answer w;
	char id[UTIL_ID_MAX];
	int before;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	create_one(f, &clin, id);
	before = vf_count(f, "record.search");

	gate_close(f);
	answer_init(&w);
	vault_record_search(f->v, &clin.who, "patients", &m, 1, on_done, &w);
	/* returned without waiting, and nothing answered before the commit */
	assert_false(answered(&w));
	assert_int_equal(vf_count(f, "record.search"), before);
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(json_array_size(json_object_get(w.body, "records")), 1);
	assert_int_equal(vf_count(f, "record.search"), before + 1);
	answer_free(&w);

	/* fail closed: no durable entry, no records */
	store_fault_set("audit_append", -1);
	answer_init(&w);
	vault_record_search(f->v, &clin.who, "patients", &m, 1, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_AUDIT);
	assert_null(w.body);
	answer_free(&w);
	store_fault_clear_all();
	caller_free(&clin);
}

/* The same for a listing page. */
static void test_list_answers_after_its_entry_commits(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	struct answer w;
	char id[UTIL_ID_MAX];

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	create_one(f, &clin, id);

	gate_close(f);
	answer_init(&w);
	vault_record_list(f->v, &clin.who, "patients", NULL, NULL, on_done, &w);
	assert_false(answered(&w));
	assert_int_equal(vf_count(f, "record.list"), 0);
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(json_array_size(json_object_get(w.body, "records")), 1);
	assert_int_equal(vf_count(f, "record.list"), 1);
	answer_free(&w);

	store_fault_set("audit_append", -1);
	answer_init(&w);
	vault_record_list(f->v, &clin.who, "patients", NULL, NULL, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_AUDIT);
	assert_null(w.body);
	answer_free(&w);
	store_fault_clear_all();
	caller_free(&clin);
}

/* A batch submits every item and answers from the last completion: no
 * thread (and no helper thread) waits for the group; a read item whose
 * entry is not durable carries no data. */
static void test_batch_answers_after_every_item_commits(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	struct answer w;
	char id[UTIL_ID_MAX];
	json_t *items, *results;
	int before;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	create_one(f, &clin, id);
	items = json_pack("[s, s, s]", id, id, "rec_nosuchrecord");
	before = vf_count(f, "record.read");

	gate_close(f);
	answer_init(&w);
	vault_record_batch(f->v, &clin.who, "patients", false, items, on_done, &w);
	assert_false(answered(&w));
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	results = json_object_get(w.body, "results");
	assert_int_equal(json_array_size(results), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(results, 0),
	    "status")), 200);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(results, 1),
	    "status")), 200);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(results, 2),
	    "status")), 404);
	assert_int_equal(vf_count(f, "record.read"), before + 3);   /* one entry per item */
	answer_free(&w);

	store_fault_set("audit_append", -1);
	answer_init(&w);
	vault_record_batch(f->v, &clin.who, "patients", false, items, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	results = json_object_get(w.body, "results");
	for (size_t i = 0; i < 2; i++) {
		json_t *r = json_array_get(results, i);

		assert_int_equal(json_integer_value(json_object_get(r, "status")), 503);
		assert_null(json_object_get(r, "fields"));
	}
	/* a refusal before the commit keeps its own answer (no data either) */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(results, 2),
	    "status")), 404);
	answer_free(&w);
	store_fault_clear_all();

	/* creates: the records exist once answered */
	json_decref(items);
	items = json_loads("[" REC1 "," REC1 "]", 0, NULL);
	before = vf_count(f, "record.create");
	gate_close(f);
	answer_init(&w);
	vault_record_batch(f->v, &clin.who, "patients", true, items, on_done, &w);
	assert_false(answered(&w));
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	results = json_object_get(w.body, "results");
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(results, i),
		    "status")), 201);
	assert_int_equal(vf_count(f, "record.create"), before + 2);
	answer_free(&w);
	json_decref(items);
	caller_free(&clin);
}

/* Tokenize and detokenize, and a collection create, answer from the
 * completion too. */
static void test_tokens_and_collections_answer_after_commit(void **state)
{
	static const char *const ADMIN[] = { "admin", NULL };
	static const char *const TOKENIZER[] = { "clinician", NULL };
	struct vf *f = *state;
	struct op_caller clin, adm;
	struct vault_tokenize_spec spec = { PV_OK, NULL, "patients", "ssn", NULL, false, NULL };
	struct answer w;
	char token[UTIL_ID_MAX];
	json_t *schema;

	make_patients(f);
	caller(f, &clin, "usr_clin", TOKENIZER, "TREAT");
	caller(f, &adm, "usr_admin", ADMIN, NULL);
	spec.value = json_string("123-45-6789");

	/* the first tokenization makes KEK "tokens" */
	answer_init(&w);
	vault_token_create(f->v, &clin.who, &spec, on_done, &w);
	answer_wait(&w);
	answer_free(&w);

	gate_close(f);
	answer_init(&w);
	vault_token_create(f->v, &clin.who, &spec, on_done, &w);
	assert_false(answered(&w));
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(w.body, "token")));
	assert_true(util_id_valid("tok", token));
	answer_free(&w);

	gate_close(f);
	answer_init(&w);
	vault_token_detokenize(f->v, &clin.who, token, on_done, &w);
	assert_false(answered(&w));
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(json_string_value(json_object_get(w.body, "value")), "123-45-6789");
	answer_free(&w);

	store_fault_set("audit_append", -1);
	answer_init(&w);
	vault_token_detokenize(f->v, &clin.who, token, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_AUDIT);
	assert_null(w.body);
	answer_free(&w);
	store_fault_clear_all();

	schema = json_loads("{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"note\",\"type\":\"string\"}]}", 0, NULL);
	gate_close(f);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	assert_false(answered(&w));
	gate_release();
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	/* a second one conflicts, answered from the completion as well */
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_CONFLICT);
	answer_free(&w);

	json_decref(schema);
	json_decref(spec.value);
	caller_free(&clin);
	caller_free(&adm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_search_answers_after_its_entry_commits,
		    vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_list_answers_after_its_entry_commits, vf_setup,
		    vf_teardown),
		cmocka_unit_test_setup_teardown(test_batch_answers_after_every_item_commits,
		    vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_and_collections_answer_after_commit,
		    vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
