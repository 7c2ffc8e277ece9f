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

#include "vault_fixture.h"

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
		assert_int_equal(store_token_get(f->st, t2, &t), PV_OK);
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
	/* joins across datasets: same type and value in another collection */
	tokenize(f, "{\"collection\":\"claims\",\"field\":\"member_ssn\",\"value\":\"123-45-6789\","
	    "\"deterministic\":true}", t3);
	assert_string_equal(t1, t3);
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

#define T(fn) cmocka_unit_test_setup_teardown(fn, vf_setup, vf_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_random_tokens),
		T(test_deterministic_tokens),
		T(test_refusals),
	};

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
