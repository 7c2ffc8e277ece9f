/*
 * Tokenization routes through the HTTP pipeline: random and deterministic
 * tokens, detokenization as an audited PHI read, refusals that name the
 * field and never the value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>

#include <sqlite3.h>

#include "vault_fixture.h"
#include "tx_helpers.h"

static const char *const ADMIN[] = { "admin", NULL };
static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };
static const char *const TREAT[] = { "X-Purpose-Of-Use", "TREAT", NULL };

static void tokenize(struct vf *f, const char *body, char out[UTIL_ID_MAX])
{
	struct vf_resp r;

	vf_req(f, "POST", "/v1/tokenize", NULL, NULL, body, &r);
	if (r.status != 200)
		print_error("tokenize: %d %s\n", r.status, r.body ? r.body : "");
	assert_int_equal(r.status, 200);
	snprintf(out, UTIL_ID_MAX, "%s", json_string_value(json_object_get(r.json, "token")));
	assert_true(util_id_valid("tok", out));
	vf_resp_free(&r);
}

/* The detokenized value, as JSON text. */
static void detokenize(struct vf *f, const char *token, char *out, size_t len)
{
	char body[128];
	struct vf_resp r;
	char *v;

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 200);
	v = json_dumps(json_object_get(r.json, "value"), JSON_ENCODE_ANY);
	snprintf(out, len, "%s", v);
	free(v);
	vf_resp_free(&r);
}

static void test_random_tokens(void **state)
{
	struct vf *f = *state;
	char t1[UTIL_ID_MAX], t2[UTIL_ID_MAX], v[256];
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\"}", t1);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.create");
	assert_string_equal(e.outcome, "allowed");
	assert_non_null(strstr(e.resource, t1));
	assert_null(strstr(e.detail, "6789"));
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123-45-6789\"}", t2);
	assert_string_not_equal(t1, t2);   /* random by default */

	/* the value comes back canonical */
	detokenize(f, t1, v, sizeof(v));
	assert_string_equal(v, "\"123-45-6789\"");
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.detokenize");
	assert_string_equal(e.purpose, "TREAT");
	assert_non_null(strstr(e.detail, "\"ssn\""));
	assert_null(strstr(e.detail, "6789"));

	/* integers stay integers */
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"visits\",\"value\":12}", t1);
	detokenize(f, t1, v, sizeof(v));
	assert_string_equal(v, "12");

	/* nothing of the value is stored in clear */
	{
		struct store_token t;

		memset(&t, 0, sizeof(t));
		assert_int_equal(TX_RD(f->st, store_token_get(tx, t2, &t)), PV_OK);
		assert_false(t.deterministic);
		assert_null(memmem(t.ciphertext, t.ciphertext_len, "6789", 4));
		store_token_clear(&t);
	}
}

static void test_deterministic_tokens(void **state)
{
	struct vf *f = *state;
	char t1[UTIL_ID_MAX], t2[UTIL_ID_MAX], t3[UTIL_ID_MAX], t4[UTIL_ID_MAX], v[256];
	struct vf_resp r;

	vf_make_patients(f);
	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "POST", "/v1/collections", NULL, NULL,
	    "{\"name\":\"claims\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"member_ssn\",\"type\":\"ssn\"}]}", &r);
	assert_int_equal(r.status, 201);
	vf_resp_free(&r);

	vf_as(f, "usr_clin", CLINICIAN);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\","
	    "\"deterministic\":true}", t1);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123-45-6789\","
	    "\"deterministic\":true}", t2);
	assert_string_equal(t1, t2);
	/* per collection: the same type and value in another collection is
	 * another token (one collection's tokens say nothing about another's) */
	tokenize(f, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123-45-6789\","
	    "\"deterministic\":true}", t3);
	assert_string_not_equal(t1, t3);
	tokenize(f, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123456789\","
	    "\"deterministic\":true}", t4);
	assert_string_equal(t3, t4);
	{
		struct store_token t;

		memset(&t, 0, sizeof(t));
		assert_int_equal(TX_RD(f->st, store_token_get(tx, t3, &t)), PV_OK);
		assert_string_equal(t.collection, "claims");
		store_token_clear(&t);
	}
	detokenize(f, t3, v, sizeof(v));
	assert_string_equal(v, "\"123-45-6789\"");
	/* another value, another token; a random token of the same value differs */
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123-45-6780\","
	    "\"deterministic\":true}", t4);
	assert_string_not_equal(t1, t4);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123-45-6789\"}", t4);
	assert_string_not_equal(t1, t4);
	detokenize(f, t1, v, sizeof(v));
	assert_string_equal(v, "\"123-45-6789\"");
}

static void test_refusals(void **state)
{
	struct vf *f = *state;
	char t1[UTIL_ID_MAX], body[128];
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	vf_as(f, "usr_clin", CLINICIAN);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"ZQX7MARK\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "ssn"));
	assert_null(strstr(r.message, "ZQX7"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.create");
	assert_string_equal(e.outcome, "error");
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"patients\",\"field\":\"shoe\",\"value\":\"1\"}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.message, "shoe"));
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"nosuch\",\"field\":\"ssn\",\"value\":\"1\"}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\",\"x\":1}", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\","
	    "\"deterministic\":\"yes\"}", &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL, "{\"collection\":\"patients\",\"field\":\"ssn\"}",
	    &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);

	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\"}", t1);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", t1);
	/* purpose required, audited */
	vf_req(f, "POST", "/v1/detokenize", NULL, NULL, body, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.code, "purpose_required");
	assert_null(json_object_get(r.json, "value"));
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.detokenize");
	assert_string_equal(e.outcome, "denied");
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL,
	    "{\"token\":\"tok_aaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, "{\"token\":\"not a token\"}", &r);
	assert_int_equal(r.status, 404);
	vf_resp_free(&r);

	/* fail closed */
	store_fault_set("audit_append", -1);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.code, "audit_unavailable");
	assert_null(strstr(r.body, "6789"));
	vf_resp_free(&r);
	store_fault_clear_all();

	/* permissions: the analyst may do neither, the admin neither */
	vf_as(f, "usr_ana", ANALYST);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\"}", &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
}

static void make_claims(struct vf *f)
{
	struct vf_resp r;

	vf_as(f, "usr_admin", ADMIN);
	vf_req(f, "POST", "/v1/collections", NULL, NULL,
	    "{\"name\":\"claims\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"member_ssn\",\"type\":\"ssn\"}]}", &r);
	assert_int_equal(r.status, 201);
	vf_resp_free(&r);
}

/* A caller holding tokens.* on patients only (a custom role). */
static void as_patients_only(struct vf *f)
{
	vf_as(f, "usr_pat", NULL);
	vf_grant(f, "tokens.tokenize:patients");
	vf_grant(f, "tokens.detokenize:patients");
}

/*
 * Detokenization is scoped by the token's own collection, read from the
 * store; an out-of-scope token is answered exactly like an unknown one
 * (403, same body), and the denial is audited.
 */
static void test_scoped_by_collection(void **state)
{
	struct vf *f = *state;
	char tp[UTIL_ID_MAX], tc[UTIL_ID_MAX], v[256], body[128];
	char forbidden_body[512], unknown_body[512];
	struct vf_resp r;
	struct vf_entry e;

	vf_make_patients(f);
	make_claims(f);
	vf_as(f, "usr_clin", CLINICIAN);
	tokenize(f, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123456789\"}",
	    tc);

	as_patients_only(f);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\"}", tp);
	detokenize(f, tp, v, sizeof(v));
	assert_string_equal(v, "\"123-45-6789\"");

	/* a token of claims: refused, nothing of it in the answer */
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tc);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "forbidden");
	assert_null(json_object_get(r.json, "value"));
	assert_null(strstr(r.body, "6789"));
	assert_null(strstr(r.body, "claims"));
	snprintf(forbidden_body, sizeof(forbidden_body), "%s", r.body);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.detokenize");
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "missing_permission:tokens.detokenize:claims");
	snprintf(body, sizeof(body), "tokens/%s", tc);
	assert_string_equal(e.resource, body);
	/* even without a purpose: the permission comes first */
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tc);
	vf_req(f, "POST", "/v1/detokenize", NULL, NULL, body, &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);

	/* an unknown token looks the same: no oracle for other collections */
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL,
	    "{\"token\":\"tok_aaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &r);
	assert_int_equal(r.status, 403);
	snprintf(unknown_body, sizeof(unknown_body), "%s", r.body);
	assert_string_equal(unknown_body, forbidden_body);
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "missing_permission:tokens.detokenize:*");
	assert_string_equal(e.resource, "tokens/tok_aaaaaaaaaaaaaaaaaaaaaaaaaa");

	/* tokenize is scoped too, decided before the collection is looked up */
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123456789\"}", &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "forbidden");
	vf_resp_free(&r);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.create");
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "missing_permission:tokens.tokenize:claims");
	vf_req(f, "POST", "/v1/tokenize", NULL, NULL,
	    "{\"collection\":\"nosuch\",\"field\":\"ssn\",\"value\":\"1\"}", &r);
	assert_int_equal(r.status, 403);
	vf_resp_free(&r);
	/* the collection of a token is the store's, not anything in the body */
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"collection\":\"patients\"}", tc);
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
	assert_int_equal(r.status, 400);
	vf_resp_free(&r);

	/* the clinician (tokens.detokenize:*) reads both, and is told 404 */
	vf_as(f, "usr_clin", CLINICIAN);
	detokenize(f, tc, v, sizeof(v));
	assert_string_equal(v, "\"123-45-6789\"");
	detokenize(f, tp, v, sizeof(v));
	vf_req(f, "POST", "/v1/detokenize", TREAT, NULL,
	    "{\"token\":\"tok_aaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.code, "not_found");
	vf_resp_free(&r);

	/* the deprecated bare form (a custom role stored before scoping) is ":*" */
	vf_as(f, "usr_old", NULL);
	vf_grant(f, "tokens.detokenize");
	detokenize(f, tc, v, sizeof(v));
	detokenize(f, tp, v, sizeof(v));
}

/*
 * A token sealed and derived before tokens were per collection (v1 AAD
 * without the collection, v1 deterministic MAC shared by all collections)
 * still detokenizes; a deterministic tokenization of its value in its own
 * collection returns it, in another collection returns a new token.
 */
static void test_legacy_tokens(void **state)
{
	static const char canon[] = "123-45-6789", pt[] = "\"123-45-6789\"";
	struct vf *f = *state;
	struct store_token t;
	struct keys_envelope env;
	char in[128], aad[128], b32[40], tmp[UTIL_ID_MAX], v[256];
	uint8_t mac[32];
	int n;

	vf_make_patients(f);
	make_claims(f);
	vf_as(f, "usr_clin", CLINICIAN);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"visits\",\"value\":1}", tmp);
	/* what milestone 1 stored (KEK "tokens" exists now) */
	memset(&t, 0, sizeof(t));
	n = snprintf(in, sizeof(in), "phivault:token:v1|ssn|%s", canon);
	assert_int_equal(keys_mac(f->keys, "tokens", "det:ssn", (const uint8_t *)in, (size_t)n,
	    mac), PV_OK);
	util_b32_encode(mac, 16, b32, sizeof(b32));
	for (char *p = b32; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(t.token, sizeof(t.token), "tok_%s", b32);
	snprintf(t.collection, sizeof(t.collection), "patients");
	snprintf(t.field, sizeof(t.field), "ssn");
	t.deterministic = true;
	memcpy(t.mac, mac, sizeof(t.mac));
	n = snprintf(aad, sizeof(aad), "phivault:token:v1|%s", t.token);
	t.ciphertext_len = strlen(pt) + CRYPTO_BOX_OVERHEAD;
	t.ciphertext = malloc(t.ciphertext_len);
	t.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN);
	assert_non_null(t.ciphertext);
	assert_non_null(t.wrapped_dek);
	assert_int_equal(keys_envelope_seal(f->keys, "tokens", (const uint8_t *)aad, (size_t)n,
	    (const uint8_t *)pt, strlen(pt), t.ciphertext, &env), PV_OK);
	memcpy(t.wrapped_dek, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	t.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	snprintf(t.kek_name, sizeof(t.kek_name), "%s", env.kek_name);
	t.kek_version = env.kek_version;
	assert_int_equal(TX_WR(f->st, store_token_put(tx, &t)), PV_OK);

	detokenize(f, t.token, v, sizeof(v));
	assert_string_equal(v, pt);
	tokenize(f, "{\"collection\":\"patients\",\"field\":\"ssn\",\"value\":\"123456789\","
	    "\"deterministic\":true}", tmp);
	assert_string_equal(tmp, t.token);
	tokenize(f, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123456789\","
	    "\"deterministic\":true}", tmp);
	assert_string_not_equal(tmp, t.token);
	detokenize(f, tmp, v, sizeof(v));
	assert_string_equal(v, pt);
	/* a v2 token moved to another collection in the store does not open */
	{
		struct vf_resp r;
		char body[128];

		char db[PATH_MAX + 16];
		sqlite3 *h = NULL;

		snprintf(db, sizeof(db), "%s/phivault.db", f->dir);
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h, "UPDATE tokens SET collection = 'patients' "
		    "WHERE collection = 'claims'", NULL, NULL, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_changes(h), 1);
		sqlite3_close(h);
		snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tmp);
		vf_req(f, "POST", "/v1/detokenize", TREAT, NULL, body, &r);
		assert_int_equal(r.status, 500);
		assert_null(json_object_get(r.json, "value"));
		vf_resp_free(&r);
	}
	store_token_clear(&t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, vf_setup, vf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_random_tokens),
		T(test_deterministic_tokens),
		T(test_refusals),
		T(test_scoped_by_collection),
		T(test_legacy_tokens),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
