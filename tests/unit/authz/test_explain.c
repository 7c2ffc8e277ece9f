/*
 * authz_explain (src/authz/explain.c) called with no HTTP: an auditor asks
 * why a clinician may read and an analyst may not unmask, and each answer
 * is recorded; a caller without roles.manage or audit.read is refused by
 * the decision point (and that denial is audited), a malformed question
 * and an unknown principal are refused, and no answer is recorded then.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static void test_explain_answers(void **state)
{
	struct zf x;
	struct authn_principal aud, clin, andy;
	struct authz_caller c;
	struct authz_result res;
	struct authz_explain_query q;
	const char *fields[] = { "ssn" };
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "audrey", "auditor", &aud);
	zf_principal(&x, "clara", "clinician", &clin);
	zf_principal(&x, "andy", "analyst", &andy);
	c.subject = &aud;
	c.source = aud.source;

	memset(&q, 0, sizeof(q));
	q.principal = clin.user_id;
	q.action = "records.read";
	q.collection = "patients";
	q.purpose = "TREAT";
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_OK);
	assert_true(json_is_true(json_object_get(out, "allow")));
	assert_string_equal(json_string_value(json_object_get(out, "reason")), "allowed");
	assert_string_equal(json_string_value(json_array_get(json_object_get(out, "policies"), 0)),
	    "role:clinician records.read:*");
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(out,
	    "obligations"), "purposes"), 0)), "TREAT");
	assert_true(json_is_null(json_object_get(out, "step_up")));
	json_decref(out);
	out = NULL;

	memset(&q, 0, sizeof(q));
	q.principal = andy.user_id;
	q.action = "records.unmask";
	q.collection = "patients";
	q.fields = fields;
	q.nfields = 1;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_OK);
	assert_true(json_is_false(json_object_get(out, "allow")));
	assert_string_equal(json_string_value(json_object_get(out, "reason")),
	    "missing_permission:records.unmask:patients.ssn");
	json_decref(out);
	/* both answers recorded, the hypothetical denial not as a denial */
	assert_int_equal(af_count(x.f, "authz.explain", NULL), 2);
	assert_int_equal(af_count(x.f, "authz.explain", ""), 2);
	zf_stop(&x);
}

static void test_explain_refusals(void **state)
{
	struct zf x;
	struct authn_principal aud, clin;
	struct authz_caller c;
	struct authz_result res;
	struct authz_explain_query q;
	const char *bad_fields[] = { "ssn", NULL };
	char bogus[UTIL_ID_MAX];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "audrey", "auditor", &aud);
	zf_principal(&x, "clara", "clinician", &clin);
	memset(&q, 0, sizeof(q));
	q.principal = aud.user_id;
	q.action = "records.read";

	/* a clinician may not ask: denied by the decision point, audited */
	c.subject = &clin;
	c.source = clin.source;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_FORBIDDEN);
	assert_null(out);
	assert_int_equal(af_count(x.f, "authz.explain", NULL), 1);
	c.subject = NULL;   /* nobody: not authenticated */
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_UNAUTH);

	/* the auditor may, but not a malformed question or a nobody */
	c.subject = &aud;
	c.source = aud.source;
	q.principal = "alice";
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'principal' must be a user ID (usr_...)");
	q.principal = clin.user_id;
	q.action = "Records.Read!";
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'action' is not an action name");
	q.action = "records.read";
	q.fields = bad_fields;
	q.nfields = 2;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'resource.fields' must hold field names");
	q.fields = NULL;
	q.nfields = 0;
	q.record_loaded = true;
	q.labels = bad_fields;   /* "ssn", then a non-string (NULL) */
	q.nlabels = 2;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'resource.labels' must hold strings");
	q.record_loaded = false;
	q.labels = NULL;
	q.nlabels = 0;
	q.time = "yesterday";
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'context.time' must be an RFC 3339 time "
	    "(2026-12-01T10:00:00Z)");
	q.time = NULL;
	q.mfa_given = true;
	q.mfa_age_s = -1;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "'context.mfa_age_s' must be a number of "
	    "seconds (0 to 31536000)");
	q.mfa_given = false;
	q.mfa_age_s = 0;
	snprintf(bogus, sizeof(bogus), "%s", clin.user_id);
	bogus[strlen(bogus) - 1] = bogus[strlen(bogus) - 1] == 'a' ? 'b' : 'a';
	q.principal = bogus;
	assert_int_equal(authz_explain(x.z, &c, &q, &out, &res), PV_E_NOTFOUND);
	assert_string_equal(res.message, "no such principal");
	assert_null(out);
	/* only the callers' denials are in the trail, no answer (reason "") */
	assert_true(af_count(x.f, "authz.explain", NULL) >= 1);
	assert_int_equal(af_count(x.f, "authz.explain", ""), 0);
	zf_stop(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_explain_answers, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_explain_refusals, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
