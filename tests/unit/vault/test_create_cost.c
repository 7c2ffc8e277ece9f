/*
 * The record create, byte for byte (vault_record_create with no HTTP): the
 * answer's JSON text as the response encoder writes it, the create's audit
 * entry (resource, actor and detail as stored, so as hashed into the chain),
 * the stored plaintext (the sealed bytes, decrypted here with the record's
 * own keys: sorted keys, compact, canonical values, the labels under
 * "_labels"), the blind-index entries (found by the MAC of the canonical
 * value) and the subject link, for a record with a subject, labels and every
 * field type given in a non-canonical form; also a refused create (its
 * message and entry). The detail names the fields in the order the body
 * gave them, "_labels" last; the plaintext sorts them. The expected bytes were taken from the create path as
 * it was before it stopped dumping and re-parsing its audit detail
 * (docs/performance.md, "The record create's CPU"); a change in them is a
 * change in what is stored, answered or chained.
 *
 * Also the callgrind harness of that section: the benchmark's create
 * (bench/lua/create.lua's ~1 KiB record into bench/run.sh's "patients")
 * NCREATES times (PV_TEST_NCREATES, up to 5000), --toggle-collect=cost_creates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <malloc.h>

#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ADMIN[] = { "admin", NULL };

#define CLINIC "{\"name\":\"clinic\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"patient\",\"type\":\"string\",\"subject\":true,\"required\":true}," \
	"{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"last4\"}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"searchable\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\",\"searchable\":true}," \
	"{\"name\":\"phone\",\"type\":\"phone\",\"classification\":\"pii\"}," \
	"{\"name\":\"zip\",\"type\":\"zip\",\"classification\":\"pii\"}," \
	"{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"}," \
	"{\"name\":\"weight\",\"type\":\"integer\",\"classification\":\"phi\",\"searchable\":true}," \
	"{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}"

/* every value but name, dob, zip and ward in a form its type rewrites */
#define CLINIC_REC "{\"ward\":\"B2\",\"weight\":-71,\"patient\":\"PAT-1\"," \
	"\"name\":\"Zo\\u00eb \\\"Q\\\" Quux\\tworth\\\\\",\"ssn\":\"123456789\"," \
	"\"mrn\":\"mr-0042\",\"email\":\"Zeb@Example.ORG\",\"phone\":\"+1 (555) 010-0199\"," \
	"\"zip\":\"12345-6789\",\"dob\":\"1931-02-29\",\"labels\":[\"R\",\"psychotherapy\"]}"
#define CLINIC_REC_OK "{\"ward\":\"B2\",\"weight\":-71,\"patient\":\"PAT-1\"," \
	"\"name\":\"Zo\\u00eb \\\"Q\\\" Quux\\tworth\\\\\",\"ssn\":\"123456789\"," \
	"\"mrn\":\"mr-0042\",\"email\":\"Zeb@Example.ORG\",\"phone\":\"+1 (555) 010-0199\"," \
	"\"zip\":\"12345-6789\",\"dob\":\"1932-02-29\",\"labels\":[\"R\",\"psychotherapy\"]}"

static void make_collection(struct vf *f, const char *text)
{
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads(text, 0, NULL);

	assert_non_null(schema);
	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
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

/* The stored plaintext of a record, decrypted as vault_record_open_env does
 * (subject key, then the envelope), returned as text. */
static char *stored_plaintext(struct vf *f, const char *coll, const char *id,
    char ref[STORE_SUBJECT_REF_LEN + 1])
{
	struct store_record r;
	struct vault_subject_env se;
	struct keys_envelope env;
	char aad[VAULT_AAD_MAX];
	size_t aadlen = 0, ptlen;
	char *pt;

	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	assert_int_equal(TX_RD(f->st, vault_record_fetch(tx, coll, id, &r, &se)), PV_OK);
	ref[0] = '\0';
	if (se.linked)
		snprintf(ref, STORE_SUBJECT_REF_LEN + 1, "%s", se.ref);
	assert_int_equal(r.version, 1);
	assert_true(r.created_ms > 0);
	assert_true(r.updated_ms == r.created_ms);
	assert_int_equal(vault_record_aad(coll, id, 1, aad, sizeof(aad), &aadlen), PV_OK);
	memset(&env, 0, sizeof(env));
	snprintf(env.kek_name, sizeof(env.kek_name), "%s", r.kek_name);
	env.kek_version = r.kek_version;
	assert_int_equal(vault_subject_dek_peel(f->keys, &r, &se, env.wrapped_dek), PV_OK);
	ptlen = r.ciphertext_len - CRYPTO_BOX_OVERHEAD;
	pt = calloc(1, ptlen + 1);
	assert_non_null(pt);
	assert_int_equal(keys_envelope_open(f->keys, &env, (const uint8_t *)aad, aadlen,
	    r.ciphertext, r.ciphertext_len, (uint8_t *)pt), PV_OK);
	store_record_clear(&r);
	return pt;
}

static int bidx_found(const char *record_id, void *arg)
{
	const char *want = ((const char **)arg)[0];

	if (strcmp(record_id, want) == 0)
		((const char **)arg)[1] = "found";
	return 0;
}

/* The record is indexed under field with the MAC of this canonical text. */
static void assert_indexed(struct vf *f, const char *coll, const char *field,
    const char *canon, const char *id)
{
	uint8_t mac[STORE_MAC_LEN];
	const char *arg[2] = { id, NULL };

	assert_int_equal(vault_blind_index_version(f->keys, coll, field, 1, canon, mac), PV_OK);
	assert_int_equal(TX_RD(f->st, store_bidx_lookup(tx, coll, field, mac, 10, bidx_found,
	    arg)), PV_OK);
	assert_non_null(arg[1]);
}

static void create_ok(struct vf *f, struct op_caller *who, const char *coll, const char *text,
    char id[UTIL_ID_MAX])
{
	struct answer w;
	json_t *rec = json_loads(text, 0, NULL);
	char body[128], *t;

	assert_non_null(rec);
	answer_init(&w);
	vault_record_create(f->v, &who->who, coll, rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(w.version, 1);
	snprintf(id, UTIL_ID_MAX, "%s", json_string_value(json_object_get(w.body, "id")));
	assert_true(vault_rec_id_ok(id));
	snprintf(body, sizeof(body), "{\"id\":\"%s\",\"version\":1}", id);
	t = answer_text(&w);
	assert_string_equal(t, body);
	free(t);
	answer_free(&w);
	json_decref(rec);
}

static void test_create_bytes(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	struct answer w;
	struct vf_entry e;
	json_t *rec;
	char id[UTIL_ID_MAX], id2[UTIL_ID_MAX], ref[STORE_SUBJECT_REF_LEN + 1];
	char ref2[STORE_SUBJECT_REF_LEN + 1], want_ref[STORE_SUBJECT_REF_LEN + 1];
	char buf[1024], *pt;
	int n;

	make_collection(f, CLINIC);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", want_ref), PV_OK);

	/* refused: 1931 is no leap year; the message names the field only,
	 * the entry says why in a stable code, nothing is stored */
	n = vf_count(f, NULL);
	rec = json_loads(CLINIC_REC, 0, NULL);
	assert_non_null(rec);
	answer_init(&w);
	vault_record_create(f->v, &clin.who, "clinic", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_INVALID);
	assert_string_equal(w.message,
	    "field 'dob': not a valid date (YYYY-MM-DD, years 1800 to 2200)");
	assert_null(w.body);
	answer_free(&w);
	json_decref(rec);
	assert_int_equal(vf_count(f, NULL), n + 1);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.create");
	assert_string_equal(e.outcome, "error");
	assert_string_equal(e.reason, "invalid_request");
	assert_string_equal(e.resource, "collections/clinic/records");
	assert_string_equal(e.detail, "{}");

	/* a new subject: its key made in the create's transaction */
	create_ok(f, &clin, "clinic", CLINIC_REC_OK, id);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "record.create");
	assert_string_equal(e.outcome, "allowed");
	assert_string_equal(e.purpose, "TREAT");
	assert_string_equal(e.reason, "");
	snprintf(buf, sizeof(buf), "collections/clinic/records/%s", id);
	assert_string_equal(e.resource, buf);
	assert_string_equal(e.actor, "{\"auth\":\"password\",\"session_id\":\"ses_usr_clin\","
	    "\"source\":\"203.0.113.7\",\"user_id\":\"usr_clin\"}");
	snprintf(buf, sizeof(buf), "{\"fields\":[\"ward\",\"weight\",\"patient\",\"name\","
	    "\"ssn\",\"mrn\",\"email\",\"phone\",\"zip\",\"dob\",\"_labels\"],"
	    "\"subjects\":[\"%s\"]}", want_ref);
	assert_string_equal(e.detail, buf);
	pt = stored_plaintext(f, "clinic", id, ref);
	assert_string_equal(ref, want_ref);
	assert_string_equal(pt, "{\"_labels\":[\"R\",\"psychotherapy\"],\"dob\":\"1932-02-29\","
	    "\"email\":\"Zeb@example.org\",\"mrn\":\"MR-0042\","
	    "\"name\":\"Zo\xc3\xab \\\"Q\\\" Quux\\tworth\\\\\",\"patient\":\"PAT-1\","
	    "\"phone\":\"+15550100199\",\"ssn\":\"123-45-6789\",\"ward\":\"B2\","
	    "\"weight\":-71,\"zip\":\"12345-6789\"}");
	free(pt);
	assert_indexed(f, "clinic", "ssn", "123-45-6789", id);
	assert_indexed(f, "clinic", "mrn", "MR-0042", id);
	assert_indexed(f, "clinic", "email", "Zeb@example.org", id);
	assert_indexed(f, "clinic", "weight", "-71", id);

	/* the same subject again (its key exists); no labels, fewer fields */
	create_ok(f, &clin, "clinic", "{\"patient\":\"PAT-1\",\"weight\":0,\"ssn\":\"701-02-0001\"}",
	    id2);
	vf_last_entry(f, &e);
	snprintf(buf, sizeof(buf), "{\"fields\":[\"patient\",\"weight\",\"ssn\"],"
	    "\"subjects\":[\"%s\"]}", want_ref);
	assert_string_equal(e.detail, buf);
	pt = stored_plaintext(f, "clinic", id2, ref2);
	assert_string_equal(ref2, want_ref);
	assert_string_equal(pt, "{\"patient\":\"PAT-1\",\"ssn\":\"701-02-0001\",\"weight\":0}");
	free(pt);
	assert_indexed(f, "clinic", "ssn", "701-02-0001", id2);
	assert_indexed(f, "clinic", "weight", "0", id2);
	caller_free(&clin);
}

/*
 * The benchmark's create NCREATES times: each a new record of ~1 KiB (the
 * notes of bench/lua/create.lua, its name, SSN, MRN and date formats), by a
 * clinician, under the daemon's wiping jansson allocator; one entry each.
 * --toggle-collect=cost_creates counts the caller's thread from the
 * operation's start to the freed answer (the completion runs on the
 * committer, which callgrind counts apart).
 */
#define NCREATES 3
#define BENCH_PATIENTS "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190," \
	"\"fields\":[" \
	"{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\"," \
	"\"searchable\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"mask\":\"last4\"," \
	"\"searchable\":true}," \
	"{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\",\"mask\":\"full\"}," \
	"{\"name\":\"notes\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}]}"
#define CREATE_NOTES_1 "Follow-up visit. Blood pressure 128/82, pulse 71, afebrile. " \
	"Continue lisinopril 10 mg daily; recheck lipids in three months. "
#define CREATE_NOTES CREATE_NOTES_1 CREATE_NOTES_1 CREATE_NOTES_1 CREATE_NOTES_1 \
	CREATE_NOTES_1 CREATE_NOTES_1 CREATE_NOTES_1

/* The daemon's jansson allocator (src/daemon/process.c, which a vault test
 * cannot link): every block jansson frees is wiped first. */
static void wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* The body as the HTTP layer hands it over: parsed from the request. */
static json_t *bench_body(int n)
{
	char text[2048];
	json_t *j;

	snprintf(text, sizeof(text), "{\"name\":\"Bench Patient %d\",\"ssn\":\"%03d-%02d-%04d\","
	    "\"mrn\":\"MRN-%08d\",\"dob\":\"19%02d-%02d-%02d\",\"notes\":\"%s\"}", n,
	    100 + n % 500, 1 + n % 99, 1 + n % 9999, n, 30 + n % 70, 1 + n % 12, 1 + n % 28,
	    CREATE_NOTES);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

__attribute__((noinline)) static void cost_creates(struct vf *f, struct op_caller *who,
    json_t **bodies, int n)
{
	for (int i = 0; i < n; i++) {
		struct answer w;

		answer_init(&w);
		vault_record_create(f->v, &who->who, "patients", bodies[i], on_done, &w);
		answer_wait(&w);
		assert_int_equal(w.rc, PV_OK);
		answer_free(&w);
	}
}

static void test_create_cost(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	const char *env = getenv("PV_TEST_NCREATES");
	int n = env != NULL ? atoi(env) : NCREATES, before;
	json_t **bodies;
	struct vf_entry e;

	if (n < 1 || n > 5000)
		n = NCREATES;
	json_set_alloc_funcs(malloc, wipe_free);
	make_collection(f, BENCH_PATIENTS);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	bodies = calloc((size_t)n, sizeof(*bodies));
	assert_non_null(bodies);
	for (int i = 0; i < n; i++)
		bodies[i] = bench_body(1000 + i);
	before = vf_count(f, "record.create");
	cost_creates(f, &clin, bodies, n);
	assert_int_equal(vf_count(f, "record.create"), before + n);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "allowed");
	assert_string_equal(e.detail, "{\"fields\":[\"name\",\"ssn\",\"mrn\",\"dob\",\"notes\"]}");
	for (int i = 0; i < n; i++)
		json_decref(bodies[i]);
	free(bodies);
	caller_free(&clin);
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_bytes, vf_setup, vf_teardown),
		cmocka_unit_test_setup_teardown(test_create_cost, vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
