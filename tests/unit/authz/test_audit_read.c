/*
 * authz_audit_list / _verify / _public_key (src/authz/audit_read.c)
 * called with no HTTP: every read is recorded before it answers, a filter
 * narrows the page and next_seq pages on; a bad query is refused with
 * nothing recorded; and when the read cannot be recorded (audit writes
 * fail) nothing is answered (fail closed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static void test_list_verify_key(void **state)
{
	struct zf x;
	struct authn_principal aud;
	struct authz_caller c;
	struct authz_result res;
	struct authz_audit_query q = { 0, 100, NULL, NULL };
	json_t *out = NULL, *e;
	size_t i, n;
	int64_t next;
	char *pem = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "audrey", "auditor", &aud);
	c.subject = &aud;
	c.source = aud.source;

	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_OK);
	n = json_array_size(json_object_get(out, "entries"));
	assert_true(n >= 1);
	/* the read itself is the last entry: recorded before the scan */
	e = json_array_get(json_object_get(out, "entries"), n - 1);
	assert_string_equal(json_string_value(json_object_get(e, "action")), "audit.read");
	assert_string_equal(json_string_value(json_object_get(e, "reason")), "list");
	next = json_integer_value(json_object_get(out, "next_seq"));
	assert_int_equal(next, json_integer_value(json_object_get(e, "seq")));
	json_decref(out);
	out = NULL;

	/* the next page: only the second read's own entry */
	q.since_seq = next;
	q.action = "audit.read";
	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_OK);
	assert_int_equal(json_array_size(json_object_get(out, "entries")), 1);
	json_array_foreach(json_object_get(out, "entries"), i, e)
		assert_true(json_integer_value(json_object_get(e, "seq")) > next);
	json_decref(out);
	out = NULL;

	assert_int_equal(authz_audit_verify(x.z, &c, &out, &res), PV_OK);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	assert_int_equal(af_count(x.f, "audit.read", "verify"), 1);
	assert_int_equal(af_count(x.f, "audit.read", "list"), 2);

	assert_int_equal(authz_audit_public_key(x.z, &c, &pem, &res), PV_OK);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	free(pem);
	zf_stop(&x);
}

static void test_refusals(void **state)
{
	struct zf x;
	struct authn_principal aud;
	struct authz_caller c;
	struct authz_result res;
	struct authz_audit_query q = { 0, 0, NULL, NULL };
	char longer[UTIL_ID_MAX + 8];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "audrey", "auditor", &aud);
	c.subject = &aud;
	c.source = aud.source;

	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "limit must be an integer from 1 to 1000");
	q.limit = 1001;
	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_E_INVALID);
	q.limit = 10;
	q.since_seq = -1;
	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_E_INVALID);
	q.since_seq = 0;
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	q.actor = longer;
	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "actor must be a user ID");
	assert_null(out);
	assert_int_equal(af_count(x.f, "audit.read", NULL), 0);

	/* the read cannot be recorded: refused, nothing answered */
	q.actor = NULL;
	store_fault_set("audit_append", -1);
	assert_int_equal(authz_audit_list(x.z, &c, &q, &out, &res), PV_E_AUDIT);
	assert_int_equal(authz_audit_verify(x.z, &c, &out, &res), PV_E_AUDIT);
	store_fault_clear_all();
	assert_null(out);
	assert_int_equal(af_count(x.f, "audit.read", NULL), 0);
	zf_stop(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_verify_key, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
