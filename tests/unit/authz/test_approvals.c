/*
 * test_approvals: dual control (src/authz/approvals.c) without HTTP: a
 * PHI-granting role is a pending request until a different access.approve
 * holder approves it; the requester (any session), an admin and an app
 * cannot; access.approve itself is never in a role; pending requests
 * expire on the injectable clock (read as expired at once, written by the
 * sweep); every decision is in the trail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authz/ops_fixture.h"

static bool
role_listed(struct zf *x, struct authz_caller *c, const char *name)
{
	struct authz_result res;
	json_t *arr = NULL, *el;
	size_t i;
	bool found = false;

	assert_int_equal(authz_role_list(x->z, c, &arr, &res), PV_OK);
	json_array_foreach(arr, i, el)
		if (strcmp(json_string_value(json_object_get(el, "name")), name) == 0)
			found = true;
	json_decref(arr);
	return found;
}

static const char *phi_perms[] = { "records.read:patients" };

/* a pending request as admin makes it; its ID in id */
static void
request_role(struct zf *x, struct authz_caller *c, const char *name, char id[UTIL_ID_MAX])
{
	struct authz_role_spec sp = { name, phi_perms, 1, NULL };
	struct authz_result res;
	json_t *out = NULL;

	assert_int_equal(authz_role_create(x->z, c, &sp, &out, &res), PV_OK);
	assert_true(res.approval[0] != '\0');
	assert_string_equal(json_string_value(json_object_get(out, "status")), "pending");
	assert_string_equal(json_string_value(json_object_get(out, "approval")), res.approval);
	json_decref(out);
	snprintf(id, UTIL_ID_MAX, "%s", res.approval);
}

static void test_role_pending_until_approved(void **state)
{
	struct zf x;
	struct authn_principal admin, so;
	struct authz_caller ca, cs;
	struct authz_result res;
	char id[UTIL_ID_MAX];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "ada", "admin", &admin);
	zf_principal(&x, "sol", "security_officer", &so);
	ca = (struct authz_caller){ &admin, admin.source };
	cs = (struct authz_caller){ &so, so.source };
	request_role(&x, &ca, "nurse", id);
	assert_false(role_listed(&x, &ca, "nurse"));   /* nothing granted yet */
	assert_int_equal(af_count(x.f, "approval.request", "pending"), 1);
	/* the requester sees its own request */
	assert_int_equal(authz_approval_list(x.z, &ca, "pending", &out, &res), PV_OK);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);
	/* an administrator cannot approve: no access.approve (recorded) */
	assert_int_equal(authz_approval_settle(x.z, &ca, id, true, NULL, &out, &res),
	    PV_E_FORBIDDEN);
	assert_int_equal(af_count(x.f, "approval.approve", "missing_permission:access.approve"),
	    1);
	assert_false(role_listed(&x, &ca, "nurse"));
	/* a security officer approves: the role exists, with its entry */
	out = NULL;
	assert_int_equal(authz_approval_settle(x.z, &cs, id, true, "ward 7 staffing", &out, &res),
	    PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "approved");
	assert_string_equal(json_string_value(json_object_get(out, "decided_by")), so.user_id);
	json_decref(out);
	assert_true(role_listed(&x, &ca, "nurse"));
	assert_int_equal(af_count(x.f, "approval.approve", "approved"), 1);
	/* once only */
	out = NULL;
	assert_int_equal(authz_approval_settle(x.z, &cs, id, true, NULL, &out, &res),
	    PV_E_CONFLICT);
	assert_int_equal(authz_approval_settle(x.z, &cs, "apr_nope", false, NULL, &out, &res),
	    PV_E_NOTFOUND);
	assert_null(out);
	zf_stop(&x);
}

static void test_self_approval_refused(void **state)
{
	struct zf x;
	struct authn_principal sam, sam2, tess;
	struct authz_caller c1, c2, ct;
	struct authz_result res;
	char id[UTIL_ID_MAX];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "sam", "security_officer", &sam);
	zf_principal(&x, "tess", "security_officer", &tess);
	/* a second session of the same principal */
	sam2 = sam;
	assert_int_equal(util_id_new("ses", sam2.session_id), PV_OK);
	c1 = (struct authz_caller){ &sam, sam.source };
	c2 = (struct authz_caller){ &sam2, sam2.source };
	ct = (struct authz_caller){ &tess, tess.source };
	request_role(&x, &c1, "nurse", id);
	assert_int_equal(authz_approval_settle(x.z, &c1, id, true, NULL, &out, &res),
	    PV_E_SELF_APPROVAL);
	assert_int_equal(authz_approval_settle(x.z, &c2, id, true, NULL, &out, &res),
	    PV_E_SELF_APPROVAL);
	assert_int_equal(authz_approval_settle(x.z, &c2, id, false, NULL, &out, &res),
	    PV_E_SELF_APPROVAL);
	assert_int_equal(af_count(x.f, "approval.approve", "self_approval"), 2);
	assert_int_equal(af_count(x.f, "approval.deny", "self_approval"), 1);
	assert_false(role_listed(&x, &c1, "nurse"));
	/* another officer may deny it: nothing is created */
	assert_int_equal(authz_approval_settle(x.z, &ct, id, false, "no ticket", &out, &res),
	    PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "denied");
	json_decref(out);
	out = NULL;
	assert_false(role_listed(&x, &c1, "nurse"));
	assert_int_equal(af_count(x.f, "approval.deny", "denied"), 1);
	assert_int_equal(authz_approval_settle(x.z, &ct, id, true, NULL, &out, &res),
	    PV_E_CONFLICT);
	zf_stop(&x);
}

static void test_app_and_officer_permission(void **state)
{
	struct zf x;
	struct authn_principal admin, app;
	struct authz_caller ca, cp;
	struct authz_result res;
	const char *approve[] = { "audit.read", "access.approve" };
	struct authz_role_spec sp = { "approver", approve, 2, NULL };
	char id[UTIL_ID_MAX];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "ada", "admin", &admin);
	zf_principal(&x, "robot", "security_officer", &app);
	app.app = true;   /* whatever its roles say, an app never approves */
	assert_int_equal(authn_cidr_parse("203.0.113.0/24", &app.networks[0]), PV_OK);
	app.nnetworks = 1;
	ca = (struct authz_caller){ &admin, admin.source };
	cp = (struct authz_caller){ &app, app.source };
	assert_int_equal(authz_role_create(x.z, &ca, &sp, &out, &res), PV_E_OFFICER_RESERVED);
	assert_null(out);
	assert_int_equal(af_count(x.f, "role.create", "officer_reserved"), 1);
	assert_false(role_listed(&x, &ca, "approver"));
	request_role(&x, &ca, "nurse", id);
	assert_int_equal(authz_approval_settle(x.z, &cp, id, true, NULL, &out, &res),
	    PV_E_FORBIDDEN);
	assert_int_equal(af_count(x.f, "approval.approve", "app_forbidden_permission"), 1);
	assert_false(role_listed(&x, &ca, "nurse"));
	zf_stop(&x);
}

static void test_pending_expires(void **state)
{
	struct zf x;
	struct authn_principal admin, so;
	struct authz_caller ca, cs;
	struct authz_result res;
	char id[UTIL_ID_MAX];
	json_t *out = NULL;

	zf_start(*state, &x);
	zf_principal(&x, "ada", "admin", &admin);
	zf_principal(&x, "sol", "security_officer", &so);
	ca = (struct authz_caller){ &admin, admin.source };
	cs = (struct authz_caller){ &so, so.source };
	authz_approvals_configure(x.z, 60);
	util_clock_set_fixed(util_now_ms());
	request_role(&x, &ca, "nurse", id);
	assert_int_equal(util_clock_advance(59 * 1000), PV_OK);
	assert_int_equal(authz_approval_get(x.z, &cs, id, &out, &res), PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "pending");
	json_decref(out);
	out = NULL;
	assert_int_equal(util_clock_advance(1000), PV_OK);   /* its time has come */
	assert_int_equal(authz_approval_settle(x.z, &cs, id, true, NULL, &out, &res),
	    PV_E_CONFLICT);
	assert_null(out);
	assert_int_equal(authz_approval_get(x.z, &cs, id, &out, &res), PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "expired");
	json_decref(out);
	/* the reads wrote nothing: the expiry is the sweeper's, once */
	assert_int_equal(af_count(x.f, "approval.expire", "expired"), 0);
	assert_int_equal(authz_expiry_sweep(x.z, util_now_ms()), PV_OK);
	assert_int_equal(authz_expiry_sweep(x.z, util_now_ms()), PV_OK);
	assert_int_equal(af_count(x.f, "approval.expire", "expired"), 1);
	assert_false(role_listed(&x, &ca, "nurse"));
	util_clock_reset();
	zf_stop(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_role_pending_until_approved, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_self_approval_refused, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_app_and_officer_permission, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_pending_expires, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
