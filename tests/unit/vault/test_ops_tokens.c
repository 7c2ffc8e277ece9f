/*
 * The token operations (vault_token_create, vault_token_detokenize) called
 * with no HTTP: a deterministic token is the same for the same value, the
 * value comes back only with a purpose and only to a holder of
 * tokens.detokenize on the token's collection, and a request that did not
 * parse (spec.invalid) is still recorded as a failed token.create.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static const char *const CLINICIAN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };

static void tokenize(struct vf *f, const struct vault_caller *who,
    const struct vault_tokenize_spec *spec, struct answer *w)
{
	answer_init(w);
	vault_token_create(f->v, who, spec, on_done, w);
	answer_wait(w);
}

static void test_tokens_without_http(void **state)
{
	struct vf *f = *state;
	struct op_caller clin, ana;
	struct answer w;
	struct vf_entry e;
	json_t *ssn = json_string("123-45-6789");
	struct vault_tokenize_spec spec = { PV_OK, NULL, "patients", "ssn", ssn, true, NULL };
	struct vault_tokenize_spec bad = { PV_E_INVALID, "field is required", NULL, NULL, NULL,
		false, NULL };
	char tok[UTIL_ID_MAX];

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	caller(f, &ana, "usr_ana", ANALYST, "TREAT");

	/* deterministic: the same value twice is the same token */
	tokenize(f, &clin.who, &spec, &w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(w.body, "token")));
	assert_true(util_id_valid("tok", tok));
	answer_free(&w);
	tokenize(f, &clin.who, &spec, &w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(json_string_value(json_object_get(w.body, "token")), tok);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.create");
	assert_null(strstr(e.detail, "6789"));

	/* back to the value: for the clinician, with a purpose */
	answer_init(&w);
	vault_token_detokenize(f->v, &clin.who, tok, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	assert_string_equal(json_string_value(json_object_get(w.body, "value")), "123-45-6789");
	answer_free(&w);
	clin.who.purpose = NULL;
	answer_init(&w);
	vault_token_detokenize(f->v, &clin.who, tok, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_PURPOSE);
	assert_null(w.body);
	answer_free(&w);
	/* the analyst may read records but not detokenize: refused, recorded */
	answer_init(&w);
	vault_token_detokenize(f->v, &ana.who, tok, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_E_FORBIDDEN);
	assert_null(w.body);
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.detokenize");
	assert_string_equal(e.outcome, "denied");
	assert_string_equal(e.reason, "missing_permission:tokens.detokenize:patients");

	/* a request that did not parse is answered with its message, and recorded */
	tokenize(f, &ana.who, &bad, &w);
	assert_int_equal(w.rc, PV_E_INVALID);
	assert_string_equal(w.message, "field is required");
	answer_free(&w);
	vf_last_entry(f, &e);
	assert_string_equal(e.action, "token.create");
	assert_string_equal(e.outcome, "error");
	assert_string_equal(e.reason, "invalid_request");
	assert_non_null(strstr(e.actor, "usr_ana"));

	json_decref(ssn);
	caller_free(&clin);
	caller_free(&ana);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tokens_without_http, vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
