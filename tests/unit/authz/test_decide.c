/*
 * authz_decide: a table of subject x action x resource x context ->
 * allow/deny, reason, obligations; compilation of custom roles (purpose
 * conditions) through a counting lookup, so a decision is shown to read no
 * role, and a changed role shows in the next compilation (new epoch).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

/* The custom roles of the fake store. */
struct fake_roles {
	int reads;
	const char *billing_perms;       /* changes between epochs */
};

static enum pv_rc lookup(void *arg, const char *name, char **perms, char **cond)
{
	struct fake_roles *fr = arg;

	fr->reads++;
	if (strcmp(name, "billing_reader") == 0) {
		*perms = strdup(fr->billing_perms);
		*cond = strdup("{\"purposes\":[\"HPAYMT\"]}");
	} else if (strcmp(name, "researcher") == 0) {
		*perms = strdup("[\"records.read:*\",\"records.unmask:patients.dob\"]");
		*cond = strdup("{\"purposes\":\"HRESCH\"}");
	} else if (strcmp(name, "ward_nurse") == 0) {
		*perms = strdup("[\"records.read:patients\",\"records.unmask:patients.*\"]");
		*cond = NULL;
	} else {
		return PV_E_NOTFOUND;
	}
	return PV_OK;
}

struct who {
	struct authn_principal p;
	struct authz_policy *pol;
};

static void become(struct who *w, struct fake_roles *fr, const char *const *roles)
{
	memset(w, 0, sizeof(*w));
	strcpy(w->p.user_id, "usr_t");
	for (size_t i = 0; roles != NULL && roles[i] != NULL; i++)
		strcpy(w->p.roles[w->p.nroles++], roles[i]);
	assert_int_equal(authz_policy_compile(lookup, fr,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])w->p.roles, w->p.nroles, 1, &w->pol), PV_OK);
	w->p.policy = w->pol;
}

static void drop(struct who *w)
{
	free(w->pol);
	w->pol = NULL;
}

struct row {
	const char *const *roles;
	bool restricted;
	bool restricted_ok;
	const char *action;
	const char *collection;
	const char *purpose;             /* NULL: route stage */
	bool allow;
	enum pv_rc rc;
	const char *reason;
	uint64_t unmask;                 /* over FIELDS */
};

static const char *const FIELDS[] = { "name", "ssn", "dob" };
static const char *const CLIN[] = { "clinician", NULL };
static const char *const ANALYST[] = { "analyst", NULL };
static const char *const ADMIN[] = { "admin", NULL };
static const char *const AUDITOR[] = { "auditor", NULL };
static const char *const BILL[] = { "billing_reader", NULL };
static const char *const BILL_RES[] = { "billing_reader", "researcher", NULL };
static const char *const NURSE[] = { "ward_nurse", NULL };
static const char *const BG[] = { "clinician", "break_glass", NULL };
static const char *const NONE[] = { NULL };

static const struct row rows[] = {
	/* wildcard collections and fields */
	{ CLIN, false, false, "records.read", "patients", "TREAT", true, PV_OK, "allowed", 7 },
	{ CLIN, false, false, "records.write", "anything", NULL, true, PV_OK, "allowed", 0 },
	{ ANALYST, false, false, "records.read", "patients", "TREAT", true, PV_OK, "allowed", 0 },
	{ ANALYST, false, false, "records.unmask", "patients", NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:records.unmask:patients.name", 0 },
	{ ANALYST, false, false, "records.write", "patients", NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:records.write:patients", 0 },
	{ NURSE, false, false, "records.read", "patients", "TREAT", true, PV_OK, "allowed", 7 },
	{ NURSE, false, false, "records.read", "labs", "TREAT", false, PV_E_FORBIDDEN,
	    "missing_permission:records.read:labs", 0 },
	{ ADMIN, false, false, "records.read", "patients", NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:records.read:patients", 0 },
	{ ADMIN, false, false, "users.manage", NULL, NULL, true, PV_OK, "allowed", 0 },
	{ ADMIN, false, false, "keys.manage", NULL, NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:keys.manage", 0 },
	{ CLIN, false, false, "records.read", "Bad-Name", NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:(invalid)", 0 },
	/* purpose of use at the resource stage */
	{ CLIN, false, false, "records.read", "patients", "", false, PV_E_PURPOSE,
	    "purpose_required", 0 },
	{ CLIN, false, false, "tokens.detokenize", "patients", "treat", false, PV_E_PURPOSE,
	    "purpose_required", 0 },
	{ CLIN, false, false, "records.read", "patients", "ETREAT", false, PV_E_FORBIDDEN,
	    "purpose_not_allowed", 0 },
	/* ETREAT is a break-glass grant's: the role alone reads nothing under it */
	{ BG, false, false, "records.read", "patients", "ETREAT", false, PV_E_FORBIDDEN,
	    "breakglass_inactive", 0 },
	{ BILL, false, false, "records.read", "patients", "HPAYMT", true, PV_OK, "allowed", 0 },
	{ BILL, false, false, "records.read", "patients", "HRESCH", false, PV_E_FORBIDDEN,
	    "purpose_not_allowed", 0 },
	{ BILL, false, false, "records.write", "patients", NULL, false, PV_E_FORBIDDEN,
	    "missing_permission:records.write:patients", 0 },
	/* the union of the purposes of the roles that grant it */
	{ BILL_RES, false, false, "records.read", "patients", "HRESCH", true, PV_OK, "allowed",
	    4 },
	{ BILL_RES, false, false, "records.read", "labs", "HPAYMT", false, PV_E_FORBIDDEN,
	    "purpose_not_allowed", 0 },
	/* a purpose is not weighed at the route */
	{ BILL, false, false, "records.read", "patients", NULL, true, PV_OK, "allowed", 0 },
	/* restricted sessions */
	{ CLIN, true, false, "records.read", "patients", "TREAT", false, PV_E_RESTRICTED,
	    "restricted_session", 0 },
	{ CLIN, true, true, "authenticated", NULL, NULL, true, PV_OK, "allowed", 0 },
	{ CLIN, true, false, "authenticated", NULL, NULL, false, PV_E_RESTRICTED,
	    "restricted_session", 0 },
	{ CLIN, true, true, "users.manage", NULL, NULL, false, PV_E_RESTRICTED,
	    "restricted_session", 0 },
	/* any-of actions */
	{ ANALYST, false, false, "collections.read", "patients", NULL, true, PV_OK, "allowed", 0 },
	{ ADMIN, false, false, "collections.read", "patients", NULL, true, PV_OK, "allowed", 0 },
	{ AUDITOR, false, false, "collections.read", "patients", NULL, false, PV_E_FORBIDDEN,
	    "forbidden", 0 },
	{ AUDITOR, false, false, "authz.explain", NULL, NULL, true, PV_OK, "allowed", 0 },
	{ CLIN, false, false, "authz.explain", NULL, NULL, false, PV_E_FORBIDDEN, "forbidden", 0 },
	/* unknown action, no role */
	{ CLIN, false, false, "records.delete_everything", "patients", NULL, false,
	    PV_E_FORBIDDEN, "unknown_action", 0 },
	{ CLIN, false, false, NULL, NULL, NULL, false, PV_E_FORBIDDEN, "unknown_action", 0 },
	{ NONE, false, false, "records.read", "patients", "TREAT", false, PV_E_FORBIDDEN,
	    "missing_permission:records.read:patients", 0 },
	{ NONE, false, false, "public", NULL, NULL, true, PV_OK, "allowed", 0 },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct fake_roles fr = { 0, "[\"records.read:patients\"]" };
		struct authz_request q;
		struct authz_decision d;
		struct who who;

		become(&who, &fr, w->roles);
		who.p.restricted = w->restricted;
		memset(&q, 0, sizeof(q));
		q.subject = &who.p;
		q.action = w->action;
		q.stage = w->purpose != NULL ? AUTHZ_AT_RESOURCE : AUTHZ_AT_ROUTE;
		q.restricted_ok = w->restricted_ok;
		q.resource.collection = w->collection;
		q.resource.fields = FIELDS;
		q.resource.nfields = 3;
		q.env.purpose = w->purpose;
		print_message("row %zu: %s %s\n", i, w->action ? w->action : "(null)",
		    w->collection ? w->collection : "");
		assert_int_equal(authz_decide(&q, &d), w->rc);
		assert_int_equal(d.allow, w->allow);
		assert_string_equal(d.reason, w->reason);
		assert_int_equal(d.unmask, w->unmask);
		assert_null(d.alert);
		assert_null(d.step_up);
		if (d.allow && w->action != NULL && strchr(w->action, '.') != NULL)
			assert_true(d.nmatched > 0);
		drop(&who);
	}
}

static void test_no_subject(void **state)
{
	struct authz_request q;
	struct authz_decision d;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.action = "records.read";
	q.resource.collection = "patients";
	assert_int_equal(authz_decide(&q, &d), PV_E_UNAUTH);
	assert_false(d.allow);
	q.action = "public";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
}

static void test_matched_and_purposes(void **state)
{
	struct fake_roles fr = { 0, "[\"records.read:patients\"]" };
	struct authz_request q;
	struct authz_decision d;
	struct who w;

	(void)state;
	become(&w, &fr, BILL_RES);
	memset(&q, 0, sizeof(q));
	q.subject = &w.p;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = "patients";
	q.env.purpose = "HPAYMT";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	assert_int_equal(d.nmatched, 2);
	assert_string_equal(d.matched[0], "role:billing_reader records.read:patients");
	assert_string_equal(d.matched[1], "role:researcher records.read:*");
	assert_int_equal(d.purposes, AUTHZ_POU_HPAYMT | AUTHZ_POU_HRESCH);
	drop(&w);
}

/* Deciding reads no role: compilation does, once; a role that changed is
 * seen by the next compilation (the wiring compiles again when the epoch
 * moves: service.c), not before. */
static void test_decide_reads_no_role(void **state)
{
	struct fake_roles fr = { 0, "[\"records.read:patients\"]" };
	struct authz_request q;
	struct authz_decision d;
	struct who w;

	(void)state;
	become(&w, &fr, BILL);
	assert_int_equal(fr.reads, 1);
	memset(&q, 0, sizeof(q));
	q.subject = &w.p;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = "labs";
	q.env.purpose = "HPAYMT";
	for (int i = 0; i < 1000; i++)
		assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	assert_int_equal(fr.reads, 1);
	/* the role now grants labs too: the old policy still says no ... */
	fr.billing_perms = "[\"records.read:patients\",\"records.read:labs\"]";
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	drop(&w);
	/* ... the next compilation says yes */
	become(&w, &fr, BILL);
	assert_int_equal(fr.reads, 2);
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	drop(&w);
}

static void test_damaged_role(void **state)
{
	struct fake_roles fr = { 0, "{\"not\":\"an array\"}" };
	struct authz_policy *pol = NULL;
	const char roles[1][AUTHN_ROLE_NAME_MAX] = { "billing_reader" };

	(void)state;
	assert_int_equal(authz_policy_compile(lookup, &fr, roles, 1, 1, &pol), PV_E_INTEGRITY);
	assert_null(pol);
}

static void test_condition_purposes(void **state)
{
	(void)state;
	assert_int_equal(authz_condition_purposes(NULL), AUTHZ_POU_ALL);
	assert_int_equal(authz_condition_purposes("{}"), AUTHZ_POU_ALL);
	assert_int_equal(authz_condition_purposes("{\"purposes\":[\"TREAT\",\"NOPE\"]}"),
	    AUTHZ_POU_TREAT);
	assert_int_equal(authz_condition_purposes("{\"purposes\":\"TREAT,HPAYMT\"}"),
	    AUTHZ_POU_TREAT | AUTHZ_POU_HPAYMT);
	assert_int_equal(authz_condition_purposes("{\"purposes\":\"TREAT,,\"}"), 0);
}

/* An app principal (issue 10): its networks hold on every decision, and
 * users.manage / roles.manage / apps.manage are never its, whatever the
 * role says (admin holds all three). */
/* A break-glass grant in force: ETREAT reads of its subject's records,
 * every field clear; nothing else; over at expires_ms. */
static void bg_ask(struct who *w, const char *action, const char *purpose, bool loaded,
    const char *ref, int64_t now, struct authz_decision *d)
{
	struct authz_request q;

	memset(&q, 0, sizeof(q));
	q.subject = &w->p;
	q.action = action;
	q.stage = purpose != NULL ? AUTHZ_AT_RESOURCE : AUTHZ_AT_ROUTE;
	q.resource.collection = "patients";
	q.resource.fields = FIELDS;
	q.resource.nfields = 3;
	q.resource.loaded = loaded;
	q.resource.subject_ref = ref;
	q.env.purpose = purpose;
	q.env.time_ms = now;
	(void)authz_decide(&q, d);
}

static void test_breakglass_grant(void **state)
{
	static const char *const ONLY_BG[] = { "break_glass", NULL };
	char mine[65], other[65];
	struct fake_roles fr = { 0, "[]" };
	struct authn_breakglass g;
	struct authz_decision d;
	struct who w;

	(void)state;
	memset(mine, 'a', 64);
	mine[64] = '\0';
	memset(other, 'b', 64);
	other[64] = '\0';
	memset(&g, 0, sizeof(g));
	strcpy(g.id, "bg_1");
	memcpy(g.subject_ref, mine, sizeof(mine));
	g.expires_ms = 10000;
	become(&w, &fr, ONLY_BG);
	/* no grant: the role reads nothing */
	bg_ask(&w, "records.read", NULL, false, NULL, 5000, &d);
	assert_false(d.allow);
	assert_string_equal(d.reason, "missing_permission:records.read:patients");
	bg_ask(&w, "records.read", "ETREAT", true, mine, 5000, &d);
	assert_string_equal(d.reason, "breakglass_inactive");
	w.p.break_glass = &g;
	/* at the route: provisional */
	bg_ask(&w, "records.read", NULL, false, NULL, 5000, &d);
	assert_true(d.allow);
	assert_string_equal(d.matched[0], "breakglass:bg_1");
	/* its subject, ETREAT: every field in clear */
	bg_ask(&w, "records.read", "ETREAT", true, mine, 5000, &d);
	assert_true(d.allow);
	assert_int_equal(d.unmask, 7);
	assert_int_equal(d.purposes, AUTHZ_POU_ETREAT);
	assert_string_equal(d.matched[0], "breakglass:bg_1");
	/* before the load (a search): provisional */
	bg_ask(&w, "records.read", "ETREAT", false, NULL, 5000, &d);
	assert_true(d.allow);
	/* another subject, a record of none */
	bg_ask(&w, "records.read", "ETREAT", true, other, 5000, &d);
	assert_false(d.allow);
	assert_int_equal(d.rc, PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "breakglass_other_subject");
	bg_ask(&w, "records.read", "ETREAT", true, NULL, 5000, &d);
	assert_string_equal(d.reason, "breakglass_other_subject");
	/* purpose forced: ETREAT or nothing */
	bg_ask(&w, "records.read", "TREAT", true, mine, 5000, &d);
	assert_false(d.allow);
	assert_string_equal(d.reason, "purpose_not_allowed");
	bg_ask(&w, "records.read", "", true, mine, 5000, &d);
	assert_string_equal(d.reason, "purpose_required");
	/* reads only */
	bg_ask(&w, "tokens.detokenize", "ETREAT", true, mine, 5000, &d);
	assert_string_equal(d.reason, "breakglass_scope");
	bg_ask(&w, "records.write", NULL, false, NULL, 5000, &d);
	assert_false(d.allow);
	/* expired: the next decision denies */
	bg_ask(&w, "records.read", "ETREAT", true, mine, 10000, &d);
	assert_false(d.allow);
	assert_string_equal(d.reason, "breakglass_inactive");
	bg_ask(&w, "records.read", NULL, false, NULL, 10000, &d);
	assert_false(d.allow);
	drop(&w);
	/* a clinician under ETREAT is held to the grant too */
	become(&w, &fr, BG);
	w.p.break_glass = &g;
	bg_ask(&w, "records.read", "ETREAT", true, other, 5000, &d);
	assert_string_equal(d.reason, "breakglass_other_subject");
	bg_ask(&w, "records.read", "TREAT", true, other, 5000, &d);
	assert_true(d.allow);
	drop(&w);
}

static void test_app_principal(void **state)
{
	static const char *const ADMIN_CLIN[] = { "admin", "clinician", NULL };
	struct fake_roles fr = { 0, "[]" };
	struct authz_request q;
	struct authz_decision d;
	struct who w;

	(void)state;
	become(&w, &fr, ADMIN_CLIN);
	strcpy(w.p.user_id, "app_t");
	w.p.app = true;
	assert_int_equal(authn_cidr_parse("10.1.0.0/16", &w.p.networks[0]), PV_OK);
	w.p.nnetworks = 1;
	memset(&q, 0, sizeof(q));
	q.subject = &w.p;
	q.action = "records.read";
	q.resource.collection = "patients";
	q.env.source = "10.1.2.3";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	assert_true(d.allow);
	/* outside the list: denied, with its own reason and code */
	q.env.source = "10.2.0.1";
	assert_int_equal(authz_decide(&q, &d), PV_E_NETWORK);
	assert_false(d.allow);
	assert_string_equal(d.reason, "network_not_allowed");
	q.env.source = "::ffff:10.1.9.9";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	/* no source in the request: the principal's own */
	q.env.source = NULL;
	strcpy(w.p.source, "192.0.2.1");
	assert_int_equal(authz_decide(&q, &d), PV_E_NETWORK);
	/* even "authenticated" routes are refused from outside */
	q.action = "authenticated";
	assert_int_equal(authz_decide(&q, &d), PV_E_NETWORK);
	/* forbidden to apps even though the admin role grants them */
	q.env.source = "10.1.2.3";
	q.action = "users.manage";
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	assert_string_equal(d.reason, "app_forbidden_permission");
	q.action = "roles.manage";
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	q.action = "apps.manage";
	assert_int_equal(authz_decide(&q, &d), PV_E_FORBIDDEN);
	q.action = "collections.manage";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	/* the same roles on a user: allowed */
	w.p.app = false;
	q.action = "users.manage";
	q.env.source = "10.2.0.1";
	assert_int_equal(authz_decide(&q, &d), PV_OK);
	assert_true(authz_app_forbidden("access.approve"));
	assert_false(authz_app_forbidden("records.read"));
	drop(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_subject),
		cmocka_unit_test(test_matched_and_purposes),
		cmocka_unit_test(test_decide_reads_no_role),
		cmocka_unit_test(test_damaged_role),
		cmocka_unit_test(test_condition_purposes),
		cmocka_unit_test(test_app_principal),
		cmocka_unit_test(test_breakglass_grant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
