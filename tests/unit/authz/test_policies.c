/*
 * The access policy operations (policies.c) called directly, with no HTTP:
 * an actor and a definition in, a policy object or a refusal out. Each
 * change is one audited transaction that bumps the authz generation; a
 * definition the compiler refuses, a taken name, a missing policy change
 * nothing (no row, no entry, no new generation).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn/authn_fixture.h"
#include "authz/authz_int.h"

struct pf {
	struct af *f;
	struct authz_service *z;
	struct pv_actor actor;
	json_t *actions, *resources, *cond;
};

static void pf_start(struct af *f, struct pf *p)
{
	memset(p, 0, sizeof(*p));
	p->f = f;
	af_start(f);
	assert_int_equal(authz_service_new(f->svc, &p->z), PV_OK);
	p->actor.kind = PV_ACTOR_USER;
	p->actor.user_id = "usr_sec";
	p->actor.source = "198.51.100.4";
	p->actions = json_pack("[s]", "records.read");
	p->resources = json_pack("[s]", "patients");
	p->cond = json_pack("{s:[s]}", "source", "10.0.0.0/8");
}

static void pf_stop(struct pf *p)
{
	json_decref(p->actions);
	json_decref(p->resources);
	json_decref(p->cond);
	authz_service_free(p->z);
}

static struct authz_policy_def def_of(struct pf *p, const char *name, const char *effect)
{
	struct authz_policy_def d = { name, effect, p->actions, p->resources, p->cond };

	return d;
}

static void test_policy_crud_without_http(void **state)
{
	struct af *f = *state;
	struct pf p;
	struct authz_policy_def d;
	struct authz_policy_result res;
	json_t *o = NULL;
	uint64_t gen;

	pf_start(f, &p);
	d = def_of(&p, "clinic_network", "deny");

	/* create: the object, one entry, a new generation */
	gen = authn_authz_generation(f->svc);
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "clinic_network");
	assert_string_equal(json_string_value(json_object_get(o, "effect")), "deny");
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "created_by")), "usr_sec");
	json_decref(o);
	assert_int_equal(af_count(f, "policy.create", NULL), 1);
	assert_true(authn_authz_generation(f->svc) > gen);

	/* the same name again: conflict, nothing written */
	gen = authn_authz_generation(f->svc);
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_CONFLICT);
	assert_string_equal(res.message, "a policy with this name exists");
	assert_int_equal(authn_authz_generation(f->svc), gen);

	/* read and list */
	o = NULL;
	assert_int_equal(authz_policy_read(p.z, &p.actor, "clinic_network", &o, &res), PV_OK);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "resources"), 0)),
	    "patients");
	json_decref(o);
	assert_int_equal(authz_policy_list(p.z, &p.actor, &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 1);
	json_decref(o);

	/* dual control: an allow over records.read is a pending request, the
	 * stored policy unchanged (still version 1, deny) */
	d = def_of(&p, NULL, "allow");
	gen = authn_authz_generation(f->svc);
	assert_int_equal(authz_policy_update(p.z, &p.actor, "clinic_network", &d, &o, &res),
	    PV_OK);
	assert_true(strncmp(res.approval, "apr_", 4) == 0);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "pending");
	json_decref(o);
	assert_int_equal(af_count(f, "approval.request", NULL), 1);
	assert_int_equal(af_count(f, "policy.update", NULL), 0);
	assert_int_equal(authn_authz_generation(f->svc), gen);
	assert_int_equal(authz_policy_read(p.z, &p.actor, "clinic_network", &o, &res), PV_OK);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "effect")), "deny");
	json_decref(o);
	/* so is a new one with a pattern covering a PHI action */
	{
		json_t *pat = json_pack("[s]", "records.*");
		struct authz_policy_def d2 = def_of(&p, "wide", "allow");

		d2.actions = pat;
		assert_int_equal(authz_policy_create(p.z, &p.actor, &d2, &o, &res), PV_OK);
		assert_true(strncmp(res.approval, "apr_", 4) == 0);
		json_decref(o);
		assert_int_equal(authz_policy_read(p.z, &p.actor, "wide", &o, &res), PV_E_NOTFOUND);
		json_decref(pat);
	}
	/* update: version 2 (an allow over no PHI action is immediate), the
	 * name cannot change */
	json_decref(p.actions);
	p.actions = json_pack("[s]", "tokens.tokenize");
	d = def_of(&p, NULL, "allow");
	assert_int_equal(authz_policy_update(p.z, &p.actor, "clinic_network", &d, &o, &res),
	    PV_OK);
	assert_string_equal(res.approval, "");
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "effect")), "allow");
	json_decref(o);
	assert_int_equal(af_count(f, "policy.update", NULL), 1);
	d = def_of(&p, "another_name", "allow");
	assert_int_equal(authz_policy_update(p.z, &p.actor, "clinic_network", &d, &o, &res),
	    PV_E_INVALID);
	assert_string_equal(res.message, "name cannot change (delete and create)");

	/* delete, then it is gone */
	gen = authn_authz_generation(f->svc);
	assert_int_equal(authz_policy_delete(p.z, &p.actor, "clinic_network", &res), PV_OK);
	assert_int_equal(af_count(f, "policy.delete", NULL), 1);
	assert_true(authn_authz_generation(f->svc) > gen);
	assert_int_equal(authz_policy_read(p.z, &p.actor, "clinic_network", &o, &res),
	    PV_E_NOTFOUND);
	assert_string_equal(res.message, "no such policy");
	assert_int_equal(authz_policy_delete(p.z, &p.actor, "clinic_network", &res),
	    PV_E_NOTFOUND);
	assert_int_equal(af_count(f, "policy.delete", NULL), 1);
	pf_stop(&p);
}

/* Refusals before anything is written: no row, no entry. */
static void test_policy_refusals_change_nothing(void **state)
{
	struct af *f = *state;
	struct pf p;
	struct authz_policy_def d;
	struct authz_policy_result res;
	json_t *o = NULL, *bad = json_pack("{s:[s]}", "no_such_test", "x");
	json_t *lock = json_pack("[s]", "roles.manage");

	pf_start(f, &p);
	d = def_of(&p, "Bad Name", "deny");
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_INVALID);
	assert_string_equal(res.message, "name must match [a-z][a-z0-9_]{0,62}");
	d = def_of(&p, "p1", "maybe");
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_INVALID);
	d = def_of(&p, "p1", "deny");
	d.actions = NULL;
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_INVALID);
	/* the compiler's own refusals: an unknown condition, a deny that would
	 * lock the policy API */
	d = def_of(&p, "p1", "deny");
	d.condition = bad;
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_INVALID);
	assert_true(res.message[0] != '\0');
	d = def_of(&p, "p1", "deny");
	d.actions = lock;
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_INVALID);
	assert_non_null(strstr(res.message, "roles.manage"));
	d = def_of(&p, NULL, "deny");
	assert_int_equal(authz_policy_update(p.z, &p.actor, "nope", &d, &o, &res), PV_E_NOTFOUND);

	assert_int_equal(af_count(f, "policy.create", NULL), 0);
	assert_int_equal(af_count(f, "policy.update", NULL), 0);
	assert_int_equal(authz_policy_list(p.z, &p.actor, &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);

	/* the entry cannot be written: nothing is created */
	d = def_of(&p, "p2", "deny");
	store_fault_set("audit_append", -1);
	assert_int_equal(authz_policy_create(p.z, &p.actor, &d, &o, &res), PV_E_AUDIT);
	store_fault_clear_all();
	assert_int_equal(authz_policy_read(p.z, &p.actor, "p2", &o, &res), PV_E_NOTFOUND);
	json_decref(bad);
	json_decref(lock);
	pf_stop(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_policy_crud_without_http, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_policy_refusals_change_nothing, af_setup,
		    af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
