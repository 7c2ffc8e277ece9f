/*
 * The audited record read, byte for byte (vault_record_read with no HTTP):
 * the answer's JSON text as the response encoder writes it (insertion
 * order, compact: json_dumpb without JSON_SORT_KEYS, which
 * tests/unit/http/test_json_out.c holds equal to src/http/json_out.c) and
 * the read's audit entry (actor and detail as stored, so as hashed into the
 * chain), for a record with a subject, labels, masked, partly unmasked and
 * unmasked fields of every kind, read by three callers. The expected bytes
 * were taken from the read path as it was before it stopped building a
 * second tree for the view and re-parsing the audit detail
 * (docs/performance.md, "The audited read's CPU"); a change in them is a
 * change in what clients and auditors see.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>

#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };
static const char *const SSN_READER[] = { "ssn_reader", NULL };
static const char *const ADMIN[] = { "admin", NULL };

#define WARDS "{\"name\":\"wards\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"patient\",\"type\":\"string\",\"subject\":true}," \
	"{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"last4\"}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\"}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"mask\":\"none\"}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"}," \
	"{\"name\":\"weight\",\"type\":\"integer\",\"classification\":\"phi\"}," \
	"{\"name\":\"visits\",\"type\":\"integer\",\"classification\":\"internal\"}," \
	"{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}"

#define REC "{\"ward\":\"B2\",\"patient\":\"PAT-1\",\"name\":\"Zoë Quuxworth\"," \
	"\"ssn\":\"123-45-6789\",\"mrn\":\"mr-0042\",\"email\":\"zeb@Example.ORG\"," \
	"\"weight\":71,\"visits\":7,\"labels\":[\"R\",\"psychotherapy\"]}"

static void make_wards(struct vf *f)
{
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads(WARDS, 0, NULL);
	char perms[] = "[\"records.read:wards\",\"records.unmask:wards.ssn\"]", cond[] = "{}";
	struct store_role role;

	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
	memset(&role, 0, sizeof(role));
	snprintf(role.name, sizeof(role.name), "ssn_reader");
	role.permissions = perms;
	role.condition = cond;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &role)), PV_OK);
}

/* The answer's text as src/http/json_out.c writes it. */
static char *answer_text(const struct answer *w)
{
	size_t n = json_dumpb(w->body, NULL, 0, JSON_COMPACT);
	char *t = malloc(n + 1);

	assert_non_null(t);
	assert_int_equal(json_dumpb(w->body, t, n, JSON_COMPACT), n);
	t[n] = '\0';
	return t;
}

static void read_as(struct vf *f, struct op_caller *who, const char *id, const char *body,
    const char *actor, const char *detail)
{
	struct answer w;
	struct vf_entry e;
	char *t;

	answer_init(&w);
	vault_record_read(f->v, &who->who, "wards", id, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(w.version, 1);
	t = answer_text(&w);
	assert_string_equal(t, body);
	free(t);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.read");
	assert_string_equal(e.outcome, "allowed");
	assert_string_equal(e.purpose, "TREAT");
	assert_string_equal(e.actor, actor);
	assert_string_equal(e.detail, detail);
}

static void test_read_answer_and_entry_bytes(void **state)
{
	struct vf *f = *state;
	struct op_caller clin, ana, ssn;
	struct answer w;
	json_t *rec = json_loads(REC, 0, NULL);
	char id[UTIL_ID_MAX], ref[STORE_SUBJECT_REF_LEN + 1];
	char body[2048], detail[1024];

	assert_non_null(rec);
	make_wards(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	caller(f, &ana, "usr_ana", ANALYST, "TREAT");
	caller(f, &ssn, "usr_ssn", SSN_READER, "TREAT");
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "wards", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", ref), PV_OK);

	/* masked: every phi/pii field but the one whose mask is none; an
	 * outside recipient named (into the entry, never the answer) */
	ana.who.recipient = "Acme Insurance";
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"version\":1,\"fields\":{"
	    "\"email\":\"****\",\"mrn\":\"MR-0042\",\"name\":\"****orth\","
	    "\"patient\":\"****\",\"ssn\":\"***-**-6789\",\"visits\":7,\"ward\":\"B2\","
	    "\"weight\":\"****\"},\"labels\":[\"R\",\"psychotherapy\"]}", id);
	snprintf(detail, sizeof(detail), "{\"fields\":[\"email\",\"mrn\",\"name\",\"patient\","
	    "\"ssn\",\"visits\",\"ward\",\"weight\"],\"recipient\":\"Acme Insurance\","
	    "\"subjects\":[\"%s\"],\"unmasked\":[\"mrn\"]}", ref);
	read_as(f, &ana, id, body, "{\"auth\":\"password\",\"session_id\":\"ses_usr_ana\","
	    "\"source\":\"203.0.113.7\",\"user_id\":\"usr_ana\"}", detail);

	/* records.unmask:wards.ssn: that one field in clear */
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"version\":1,\"fields\":{"
	    "\"email\":\"****\",\"mrn\":\"MR-0042\",\"name\":\"****orth\","
	    "\"patient\":\"****\",\"ssn\":\"123-45-6789\",\"visits\":7,\"ward\":\"B2\","
	    "\"weight\":\"****\"},\"labels\":[\"R\",\"psychotherapy\"]}", id);
	snprintf(detail, sizeof(detail), "{\"fields\":[\"email\",\"mrn\",\"name\",\"patient\","
	    "\"ssn\",\"visits\",\"ward\",\"weight\"],\"subjects\":[\"%s\"],"
	    "\"unmasked\":[\"mrn\",\"ssn\"]}", ref);
	read_as(f, &ssn, id, body, "{\"auth\":\"password\",\"session_id\":\"ses_usr_ssn\","
	    "\"source\":\"203.0.113.7\",\"user_id\":\"usr_ssn\"}", detail);

	/* records.unmask:*.*: everything in clear, the integer an integer */
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"version\":1,\"fields\":{"
	    "\"email\":\"zeb@example.org\",\"mrn\":\"MR-0042\",\"name\":\"Zoë Quuxworth\","
	    "\"patient\":\"PAT-1\",\"ssn\":\"123-45-6789\",\"visits\":7,\"ward\":\"B2\","
	    "\"weight\":71},\"labels\":[\"R\",\"psychotherapy\"]}", id);
	snprintf(detail, sizeof(detail), "{\"fields\":[\"email\",\"mrn\",\"name\",\"patient\","
	    "\"ssn\",\"visits\",\"ward\",\"weight\"],\"subjects\":[\"%s\"],"
	    "\"unmasked\":[\"email\",\"mrn\",\"name\",\"patient\",\"ssn\",\"weight\"]}", ref);
	read_as(f, &clin, id, body, "{\"auth\":\"password\",\"session_id\":\"ses_usr_clin\","
	    "\"source\":\"203.0.113.7\",\"user_id\":\"usr_clin\"}", detail);

	json_decref(rec);
	caller_free(&clin);
	caller_free(&ana);
	caller_free(&ssn);
}

/*
 * The benchmark's read (bench/run.sh: its "patients" collection, its first
 * seeded record of ~1 KiB, read by a clinician, so in clear) NREADS times
 * (PV_TEST_NREADS, up to 5000): every answer the bytes nginx is given to
 * serve in the benchmark, one entry each. Also the callgrind harness of
 * docs/performance.md "The audited read's CPU" (--toggle-collect=cost_reads:
 * the caller's thread, from the decision to the freed answer).
 */
#define NREADS 3
#define BENCH_PATIENTS "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190," \
	"\"fields\":[" \
	"{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\"," \
	"\"searchable\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"mask\":\"last4\"," \
	"\"searchable\":true}," \
	"{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\",\"mask\":\"full\"}," \
	"{\"name\":\"notes\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}]}"
#define BENCH_NOTES "Patient seen for routine follow-up. History of hypertension and " \
	"type 2 diabetes, well controlled on metformin 500 mg twice daily and lisinopril 10 " \
	"mg daily. Reports occasional morning headaches, no chest pain, no shortness of " \
	"breath. Blood pressure 132/84, pulse 72, BMI 27.4. HbA1c 6.8 percent last quarter. " \
	"Plan: continue current medication, low-sodium diet counselling, recheck HbA1c and " \
	"lipid panel in three months, ophthalmology referral for annual retinal exam. " \
	"Allergies: penicillin (rash). Emergency contact on file. Next appointment in twelve " \
	"weeks; call earlier if symptoms worsen. Social history: non-smoker, occasional " \
	"alcohol, walks thirty minutes daily. Family history: father with coronary artery " \
	"disease at 58, mother with type 2 diabetes. Medication reconciliation completed; " \
	"patient understood the plan and agreed to keep a home blood pressure log. Visit 1."

/* The daemon's jansson allocator (src/daemon/process.c, which a vault test
 * cannot link): every block jansson frees is wiped first, so what a read
 * allocates through jansson costs what it costs in the server. */
static void wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

__attribute__((noinline)) static void cost_reads(struct vf *f, struct op_caller *who,
    const char *id, int n, const char *body)
{
	for (int i = 0; i < n; i++) {
		struct answer w;
		char *t;

		answer_init(&w);
		vault_record_read(f->v, &who->who, "patients", id, on_done, &w);
		answer_wait(&w);
		assert_int_equal(w.rc, PV_OK);
		t = answer_text(&w);
		assert_string_equal(t, body);
		free(t);
		answer_free(&w);
	}
}

static void test_read_cost(void **state)
{
	struct vf *f = *state;
	struct op_caller adm, clin;
	struct answer w;
	json_t *schema = json_loads(BENCH_PATIENTS, 0, NULL);
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "Blake Barnes 1",
	    "ssn", "701-02-0001", "mrn", "SEED-000001", "dob", "1931-02-02", "notes",
	    BENCH_NOTES);
	char id[UTIL_ID_MAX], body[2048];
	const char *env = getenv("PV_TEST_NREADS");
	int n = env != NULL ? atoi(env) : NREADS, before;
	struct vf_entry e;

	if (n < 1 || n > 5000)
		n = NREADS;
	json_set_alloc_funcs(malloc, wipe_free);
	assert_non_null(schema);
	assert_non_null(rec);
	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	/* bench/results/run.tmp/nginx/html/record.json of a benchmark run */
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"version\":1,\"fields\":{"
	    "\"dob\":\"1931-02-02\",\"mrn\":\"SEED-000001\",\"name\":\"Blake Barnes 1\","
	    "\"notes\":\"" BENCH_NOTES "\",\"ssn\":\"701-02-0001\"}}", id);
	assert_int_equal(strlen(body), 1031);
	before = vf_count(f, "record.read");
	cost_reads(f, &clin, id, n, body);
	assert_int_equal(vf_count(f, "record.read"), before + n);
	vf_last_entry(f, &e);
	assert_string_equal(e.detail, "{\"fields\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"],"
	    "\"unmasked\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"]}");
	json_decref(schema);
	json_decref(rec);
	caller_free(&adm);
	caller_free(&clin);
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_answer_and_entry_bytes, vf_setup,
		    vf_teardown),
		cmocka_unit_test_setup_teardown(test_read_cost, vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
