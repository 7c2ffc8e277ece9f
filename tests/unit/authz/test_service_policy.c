/*
 * The wiring's policy cache (service.c) over a real store: a role set is
 * compiled once per authn generation, so deciding (a PHI read) reads no role
 * from the store, even when every role read would fail; a change that bumps
 * the generation is seen by the next compilation, without a restart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn/authn_fixture.h"
#include "authz/authz_int.h"
#include "tx_helpers.h"

static void put_role(struct af *f, const char *name, const char *perms, const char *cond)
{
	struct store_role r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.permissions = (char *)perms;
	r.condition = (char *)cond;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &r)), PV_OK);
}

static enum pv_rc read_as(struct authz_service *z, const char *role, const char *purpose,
    struct pv_arena *a, struct authz_decision *d)
{
	struct authn_principal p;
	struct authz_request q;
	char roles[1][AUTHN_ROLE_NAME_MAX];
	enum pv_rc rc;

	memset(&p, 0, sizeof(p));
	strcpy(p.user_id, "usr_t");
	snprintf(roles[0], sizeof(roles[0]), "%s", role);
	memcpy(p.roles, roles, sizeof(roles));
	p.nroles = 1;
	if ((rc = authz_policy_get(z, (const char (*)[AUTHN_ROLE_NAME_MAX])p.roles, 1, a,
	    &p.policy)) != PV_OK)
		return rc;
	memset(&q, 0, sizeof(q));
	q.subject = &p;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = "patients";
	q.env.purpose = purpose;
	return authz_decide(&q, d);
}

static void test_cache_and_epoch(void **state)
{
	struct af *f = *state;
	struct authz_service *z = NULL;
	struct pv_arena *a = arena_new(1 << 16);
	struct authz_decision d;

	af_start(f);
	assert_non_null(a);
	assert_int_equal(authz_service_new(f->svc, &z), PV_OK);
	put_role(f, "billing", "[\"records.read:patients\"]", "{\"purposes\":[\"HPAYMT\"]}");

	assert_int_equal(read_as(z, "billing", "HPAYMT", a, &d), PV_OK);
	assert_int_equal(authz_service_role_reads(z), 1);
	assert_int_equal(read_as(z, "billing", "TREAT", a, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "purpose_not_allowed");

	/* every role read now fails: reads keep being decided from the cache */
	store_fault_set("role_get", -1);
	for (int i = 0; i < 100; i++)
		assert_int_equal(read_as(z, "billing", "HPAYMT", a, &d), PV_OK);
	assert_int_equal(authz_service_role_reads(z), 1);
	/* ... until the epoch moves: then it compiles again (and fails closed) */
	authn_authz_changed(f->svc);
	assert_int_equal(read_as(z, "billing", "HPAYMT", a, &d), PV_E_IO);
	store_fault_clear_all();

	/* a role that did not exist grants nothing; once it does and the epoch
	 * moved (POST /v1/roles bumps it), the next decision differs */
	assert_int_equal(read_as(z, "late", "TREAT", a, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "missing_permission:records.read:patients");
	put_role(f, "late", "[\"records.read:*\"]", "{}");
	assert_int_equal(read_as(z, "late", "TREAT", a, &d), PV_E_FORBIDDEN);   /* same epoch */
	authn_authz_changed(f->svc);
	assert_int_equal(read_as(z, "late", "TREAT", a, &d), PV_OK);
	assert_string_equal(d.matched[0], "role:late records.read:*");

	authz_service_free(z);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_and_epoch, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
