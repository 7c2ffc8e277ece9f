/*
 * authz_role_create / authz_role_list (src/authz/roles.c) called with no
 * HTTP: a custom role is stored with its role.create entry and listed
 * next to the built-ins; a condition that is not evaluated yet, a "*"
 * permission, a built-in name and a taken name are refused, with nothing
 * stored and nothing audited as created.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"

static json_t *find_role(json_t *arr, const char *name)
{
	size_t i;
	json_t *el;

	json_array_foreach(arr, i, el)
		if (strcmp(json_string_value(json_object_get(el, "name")), name) == 0)
			return el;
	return NULL;
}

static void test_create_and_list(void **state)
{
	struct zf x;
	struct authn_principal admin;
	struct authz_caller c;
	struct authz_result res;
	/* no PHI grant: it takes effect at once (PHI roles: test_approvals.c) */
	const char *perms[] = { "audit.read", "alerts.read" };
	struct authz_role_spec sp = { "billing", perms, 2, NULL };
	json_t *cond = json_pack("{s:[s]}", "purposes", "HPAYMT");
	json_t *out = NULL, *r;
	uint64_t before;

	zf_start(*state, &x);
	zf_principal(&x, "ada", "admin", &admin);
	c.subject = &admin;
	c.source = admin.source;
	sp.condition = cond;
	before = authn_authz_generation(x.f->svc);
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "name")), "billing");
	assert_true(json_equal(json_object_get(out, "condition"), cond));
	assert_true(json_is_false(json_object_get(out, "builtin")));
	json_decref(out);
	assert_true(authn_authz_generation(x.f->svc) > before);
	assert_int_equal(af_count(x.f, "role.create", NULL), 1);
	assert_int_equal(af_grep(x.f, admin.user_id), 1);   /* the actor of the entry */

	out = NULL;
	assert_int_equal(authz_role_list(x.z, &c, &out, &res), PV_OK);
	assert_non_null(r = find_role(out, "billing"));
	assert_int_equal(json_array_size(json_object_get(r, "permissions")), 2);
	assert_non_null(r = find_role(out, "clinician"));
	assert_true(json_is_true(json_object_get(r, "builtin")));
	json_decref(out);
	json_decref(cond);
	zf_stop(&x);
}

static void test_refusals(void **state)
{
	struct zf x;
	struct authn_principal admin;
	struct authz_caller c;
	struct authz_result res;
	const char *good[] = { "compliance.read" };
	const char *star[] = { "*" };
	const char *hole[] = { "records.read:patients", NULL };
	struct authz_role_spec sp = { "nurse", good, 1, NULL };
	/* no condition language knows these: refused, never stored and ignored */
	json_t *abac = json_pack("{s:s}", "frobnicate", "10.0.0.0/8");
	json_t *bad_pou = json_pack("{s:[s]}", "purposes", "FUN");
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "ada", "admin", &admin);
	c.subject = &admin;
	c.source = admin.source;

	sp.condition = abac;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_INVALID);
	assert_true(res.message[0] != '\0');
	sp.condition = bad_pou;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_INVALID);
	assert_true(res.message[0] != '\0');
	sp.condition = NULL;
	sp.permissions = star;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_INVALID);
	sp.permissions = hole;
	sp.npermissions = 2;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_INVALID);
	assert_string_equal(res.message, "permissions[1] must be a string");
	sp.permissions = good;
	sp.npermissions = 0;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_INVALID);
	sp.npermissions = 1;
	sp.name = "auditor";
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_CONFLICT);
	assert_string_equal(res.message, "a built-in role has this name");
	assert_null(out);
	assert_int_equal(af_count(x.f, "role.create", NULL), 0);

	sp.name = "nurse";
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_OK);
	json_decref(out);
	out = NULL;
	assert_int_equal(authz_role_create(x.z, &c, &sp, &out, &res), PV_E_CONFLICT);
	assert_string_equal(res.message, "a role with this name exists");
	assert_null(out);
	json_decref(abac);
	json_decref(bad_pou);
	zf_stop(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_list, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
