/*
 * test_perm: the permission language of API.md, wildcard matching at both
 * levels, permission sets, built-in roles with separation of duties,
 * custom role validation, and the route-level decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz.h"

/* tokens.* are scoped by collection (issue 8 item 7); the bare form of
 * milestone 1 is a deprecated alias of "<verb>:*". */
static void
test_token_scope(void **state)
{
	struct authz_permset s;
	struct authz_perm p;
	char out[AUTHZ_PERM_MAX];
	const char *one[] = { "tokens.detokenize", NULL };
	const char *two[] = { "tokens.detokenize", "tokens.detokenize:*", NULL };
	char why[128];

	(void)state;
	/* collection scope, wildcard as for records */
	assert_true(authz_perm_match("tokens.detokenize:a", "tokens.detokenize:a"));
	assert_false(authz_perm_match("tokens.detokenize:a", "tokens.detokenize:b"));
	assert_true(authz_perm_match("tokens.detokenize:*", "tokens.detokenize:b"));
	assert_false(authz_perm_match("tokens.detokenize:a", "tokens.detokenize:*"));
	assert_true(authz_perm_match("tokens.tokenize:a", "tokens.tokenize:a"));
	assert_false(authz_perm_match("tokens.tokenize:a", "tokens.tokenize:b"));
	/* tokenize and detokenize are independent, and neither is a record grant */
	assert_false(authz_perm_match("tokens.tokenize:*", "tokens.detokenize:a"));
	assert_false(authz_perm_match("tokens.detokenize:*", "tokens.tokenize:a"));
	assert_false(authz_perm_match("records.read:*", "tokens.detokenize:a"));
	assert_false(authz_perm_match("tokens.detokenize:*", "records.read:a"));
	/* the bare alias is exactly ":*", in both directions, and formats so */
	assert_true(authz_perm_match("tokens.detokenize", "tokens.detokenize:b"));
	assert_true(authz_perm_match("tokens.detokenize", "tokens.detokenize:*"));
	assert_true(authz_perm_match("tokens.detokenize:*", "tokens.detokenize"));
	assert_false(authz_perm_match("tokens.detokenize:a", "tokens.detokenize"));
	assert_true(authz_perm_match("tokens.tokenize", "tokens.tokenize:b"));
	assert_int_equal(authz_perm_parse("tokens.detokenize", &p), PV_OK);
	assert_int_equal(p.verb, AUTHZ_TOKENS_DETOKENIZE);
	assert_string_equal(p.collection, "*");
	assert_int_equal(authz_perm_format(&p, out), PV_OK);
	assert_string_equal(out, "tokens.detokenize:*");
	assert_int_equal(authz_perm_parse("tokens.tokenize:patients", &p), PV_OK);
	assert_int_equal(authz_perm_format(&p, out), PV_OK);
	assert_string_equal(out, "tokens.tokenize:patients");
	/* other plain verbs have no alias the other way round */
	assert_false(authz_perm_valid("users.manage:*"));
	/* a set: a scoped grant covers its collection only */
	authz_permset_init(&s);
	assert_int_equal(authz_permset_add(&s, "tokens.detokenize:a"), PV_OK);
	assert_int_equal(authz_permset_add(&s, "tokens.tokenize:a"), PV_OK);
	assert_true(authz_permset_has(&s, "tokens.detokenize:a"));
	assert_false(authz_permset_has(&s, "tokens.detokenize:b"));
	assert_false(authz_permset_has(&s, "tokens.detokenize:*"));
	assert_false(authz_permset_has(&s, "tokens.tokenize:b"));
	/* a stored custom role with the bare form keeps every collection */
	assert_int_equal(authz_permset_add(&s, "tokens.detokenize"), PV_OK);
	assert_true(authz_permset_has(&s, "tokens.detokenize:b"));
	assert_true(authz_permset_has(&s, "tokens.detokenize:*"));
	assert_int_equal(s.n, 2);   /* ":*" absorbed ":a" */
	/* role definitions: the alias is accepted, and is a duplicate of ":*" */
	assert_int_equal(authz_role_def_check("legacy", one, 1, why, sizeof(why)), PV_OK);
	assert_int_equal(authz_role_def_check("legacy", two, 2, why, sizeof(why)), PV_E_INVALID);
	assert_non_null(strstr(why, "duplicate"));
	/* the built-in clinician: every collection */
	authz_permset_init(&s);
	assert_int_equal(authz_permset_add_role(&s, "clinician"), PV_OK);
	assert_true(authz_permset_has(&s, "tokens.detokenize:claims"));
	assert_true(authz_permset_has(&s, "tokens.tokenize:claims"));
	assert_true(authz_permset_has(&s, "tokens.detokenize:*"));
	authz_permset_init(&s);
	assert_int_equal(authz_permset_add_role(&s, "analyst"), PV_OK);
	assert_false(authz_permset_has(&s, "tokens.detokenize:claims"));
}

static void
test_valid(void **state)
{
	static const char *const good[] = {
		"users.manage", "roles.manage", "collections.manage", "keys.manage",
		"audit.read", "alerts.read", "compliance.read", "sys.backup", "metrics.read",
		"apps.manage", "tokens.tokenize", "tokens.detokenize",
		"tokens.tokenize:patients", "tokens.detokenize:*", "tokens.detokenize:lab_results2",
		"records.read:patients", "records.read:*", "records.write:lab_results2",
		"records.unmask:patients.ssn", "records.unmask:patients.*", "records.unmask:*.*",
		"records.unmask:*.ssn",
		/* 63-character names are the longest */
		"records.read:a12345678901234567890123456789012345678901234567890123456789012",
	};
	static const char *const bad[] = {
		"*", "", "users", "users.manage:x", "users.*", "*.manage", "Users.manage",
		"users.manage ", " users.manage", "records.read", "records.read:",
		"records.read:Patients", "records.read:1abc", "records.read:_x", "records.read:a-b",
		"records.read:pat.ssn", "records.read:**", "records.read:pa*", "records.write:*:x",
		"records.unmask:patients", "records.unmask:patients.", "records.unmask:.ssn",
		"records.unmask:patients.ssn.x", "records.unmask:*", "records.delete:patients",
		"tokens.*", "tokens.detokenize:", "tokens.detokenize:Patients", "tokens.tokenize:a.b",
		"tokens.detokenize:*:x", "tokens.detokenize:**", "records.read:a123456789012345678901234567890123456789012345678901234567890123",
		"keys.manage\n", "audit.read;", NULL,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!authz_perm_valid(good[i]))
			fail_msg("refused valid [%s]", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (authz_perm_valid(bad[i]))
			fail_msg("accepted invalid [%s]", bad[i]);
}

static void
test_match(void **state)
{
	(void)state;
	/* plain */
	assert_true(authz_perm_match("users.manage", "users.manage"));
	assert_false(authz_perm_match("users.manage", "roles.manage"));
	/* collection level */
	assert_true(authz_perm_match("records.read:patients", "records.read:patients"));
	assert_false(authz_perm_match("records.read:patients", "records.read:labs"));
	assert_true(authz_perm_match("records.read:*", "records.read:labs"));
	assert_false(authz_perm_match("records.read:*", "records.write:labs"));
	assert_false(authz_perm_match("records.write:*", "records.read:labs"));
	/* a concrete grant does not cover a wildcard requirement */
	assert_false(authz_perm_match("records.read:patients", "records.read:*"));
	assert_true(authz_perm_match("records.read:*", "records.read:*"));
	/* field level */
	assert_true(authz_perm_match("records.unmask:patients.ssn", "records.unmask:patients.ssn"));
	assert_false(authz_perm_match("records.unmask:patients.ssn", "records.unmask:patients.dob"));
	assert_false(authz_perm_match("records.unmask:patients.ssn", "records.unmask:labs.ssn"));
	assert_true(authz_perm_match("records.unmask:patients.*", "records.unmask:patients.dob"));
	assert_false(authz_perm_match("records.unmask:patients.*", "records.unmask:labs.dob"));
	assert_true(authz_perm_match("records.unmask:*.ssn", "records.unmask:labs.ssn"));
	assert_false(authz_perm_match("records.unmask:*.ssn", "records.unmask:labs.dob"));
	assert_true(authz_perm_match("records.unmask:*.*", "records.unmask:labs.dob"));
	/* read does not imply unmask, unmask does not imply read */
	assert_false(authz_perm_match("records.read:*", "records.unmask:patients.ssn"));
	assert_false(authz_perm_match("records.unmask:*.*", "records.read:patients"));
	/* invalid on either side: no match */
	assert_false(authz_perm_match("*", "users.manage"));
	assert_false(authz_perm_match("users.manage", "*"));
	assert_false(authz_perm_match("records.read:*", "records.read:Patients"));
	assert_false(authz_perm_match(NULL, "users.manage"));
}

static void
test_parse_format(void **state)
{
	static const char *const perms[] = {
		"users.manage", "records.read:patients", "records.unmask:*.ssn",
	};
	struct authz_perm p;
	char out[AUTHZ_PERM_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(perms) / sizeof(perms[0]); i++) {
		assert_int_equal(authz_perm_parse(perms[i], &p), PV_OK);
		assert_int_equal(authz_perm_format(&p, out), PV_OK);
		assert_string_equal(out, perms[i]);
	}
	assert_int_equal(authz_perm_parse("records.unmask:patients.ssn", &p), PV_OK);
	assert_int_equal(p.verb, AUTHZ_RECORDS_UNMASK);
	assert_string_equal(p.collection, "patients");
	assert_string_equal(p.field, "ssn");
}

static void
test_permset(void **state)
{
	struct authz_permset *s = malloc(sizeof(*s));
	char name[64];
	size_t i;

	(void)state;
	assert_non_null(s);
	authz_permset_init(s);
	/* deny by default */
	assert_false(authz_permset_has(s, "users.manage"));
	assert_false(authz_permset_has(NULL, "users.manage"));
	assert_int_equal(authz_permset_add(s, "records.read:patients"), PV_OK);
	assert_int_equal(authz_permset_add(s, "records.read:patients"), PV_OK);
	assert_int_equal(s->n, 1);
	assert_true(authz_permset_has(s, "records.read:patients"));
	assert_false(authz_permset_has(s, "records.read:labs"));
	/* a wildcard absorbs the specific grant */
	assert_int_equal(authz_permset_add(s, "records.read:*"), PV_OK);
	assert_int_equal(s->n, 1);
	assert_true(authz_permset_has(s, "records.read:labs"));
	assert_int_equal(authz_permset_add(s, "records.read:labs"), PV_OK);
	assert_int_equal(s->n, 1);
	assert_false(authz_permset_has(s, "records.write:labs"));
	/* invalid is refused, "*" is no superuser */
	assert_int_equal(authz_permset_add(s, "*"), PV_E_INVALID);
	assert_false(authz_permset_has(s, "*"));
	assert_false(authz_permset_has(s, "records.read:BAD"));
	/* full: PV_E_TOOBIG, never silently partial */
	authz_permset_init(s);
	for (i = 0; i < AUTHZ_PERMSET_MAX; i++) {
		snprintf(name, sizeof(name), "records.read:c%zu", i);
		assert_int_equal(authz_permset_add(s, name), PV_OK);
	}
	assert_int_equal(authz_permset_add(s, "records.read:one_more"), PV_E_TOOBIG);
	/* but a covering wildcard still fits: it replaces them all */
	assert_int_equal(authz_permset_add(s, "records.read:*"), PV_OK);
	assert_int_equal(s->n, 1);
	free(s);
}

static struct authz_permset *
role_set(const char *role)
{
	struct authz_permset *s = malloc(sizeof(*s));

	assert_non_null(s);
	authz_permset_init(s);
	assert_int_equal(authz_permset_add_role(s, role), PV_OK);
	return s;
}

static void
test_builtin_roles(void **state)
{
	const char *const *perms;
	size_t n, i, k;
	const char *name;

	(void)state;
	/* exactly the API.md table */
	perms = authz_builtin_role("admin", &n);
	assert_non_null(perms);
	/* apps.manage (issue 10): the admin registers workload identities the
	 * way it registers users; an app can never hold a PHI-granting admin
	 * permission, so this gives the admin no PHI (docs/identity.md) */
	assert_int_equal(n, 5);
	assert_string_equal(perms[0], "users.manage");
	assert_string_equal(perms[1], "roles.manage");
	assert_string_equal(perms[2], "collections.manage");
	assert_string_equal(perms[3], "sys.backup");
	assert_string_equal(perms[4], "apps.manage");
	assert_null(perms[5]);
	perms = authz_builtin_role("key_admin", &n);
	assert_int_equal(n, 1);
	assert_string_equal(perms[0], "keys.manage");
	perms = authz_builtin_role("auditor", &n);
	assert_int_equal(n, 3);
	assert_string_equal(perms[0], "audit.read");
	assert_string_equal(perms[1], "alerts.read");
	assert_string_equal(perms[2], "compliance.read");
	perms = authz_builtin_role("clinician", &n);
	assert_int_equal(n, 5);
	assert_string_equal(perms[0], "records.read:*");
	assert_string_equal(perms[1], "records.write:*");
	assert_string_equal(perms[2], "records.unmask:*.*");
	assert_string_equal(perms[3], "tokens.tokenize:*");
	assert_string_equal(perms[4], "tokens.detokenize:*");
	perms = authz_builtin_role("analyst", &n);
	assert_int_equal(n, 1);
	assert_string_equal(perms[0], "records.read:*");
	perms = authz_builtin_role("break_glass", &n);
	assert_non_null(perms);
	assert_int_equal(n, 1);
	assert_string_equal(perms[0], "breakglass.activate");
	perms = authz_builtin_role("security_officer", &n);
	assert_int_equal(n, 3);
	assert_string_equal(perms[0], "access.approve");
	assert_string_equal(perms[1], "records.shred");
	assert_string_equal(perms[2], "incidents.manage");
	assert_null(authz_builtin_role("superuser", &n));
	assert_null(authz_builtin_role("Admin", &n));
	/* every listed role is valid and its permissions too */
	for (i = 0; (name = authz_builtin_role_name(i)) != NULL; i++) {
		assert_true(authz_role_name_valid(name));
		perms = authz_builtin_role(name, &n);
		assert_non_null(perms);
		for (k = 0; k < n; k++)
			assert_true(authz_perm_valid(perms[k]));
	}
	assert_int_equal(i, 7);
	{
		struct authz_permset s;
		authz_permset_init(&s);
		assert_int_equal(authz_permset_add_role(&s, "nope"), PV_E_NOTFOUND);
	}
}

static void
test_separation_of_duties(void **state)
{
	struct authz_permset *admin = role_set("admin"), *auditor = role_set("auditor");
	struct authz_permset *keyadm = role_set("key_admin"), *analyst = role_set("analyst");
	struct authz_permset *clin = role_set("clinician"), *bg = role_set("break_glass");

	(void)state;
	/* whoever manages users reads no PHI and no audit */
	assert_true(authz_permset_has(admin, "users.manage"));
	assert_false(authz_permset_has(admin, "records.read:x"));
	assert_false(authz_permset_has(admin, "records.write:x"));
	assert_false(authz_permset_has(admin, "records.unmask:x.y"));
	assert_false(authz_permset_has(admin, "tokens.detokenize:x"));
	assert_false(authz_permset_has(admin, "tokens.tokenize:x"));
	assert_false(authz_permset_has(admin, "audit.read"));
	assert_false(authz_permset_has(admin, "keys.manage"));
	/* the key admin manages keys only */
	assert_true(authz_permset_has(keyadm, "keys.manage"));
	assert_false(authz_permset_has(keyadm, "records.read:x"));
	assert_false(authz_permset_has(keyadm, "users.manage"));
	/* the auditor reads the trail and manages nothing */
	assert_true(authz_permset_has(auditor, "audit.read"));
	assert_false(authz_permset_has(auditor, "users.manage"));
	assert_false(authz_permset_has(auditor, "roles.manage"));
	assert_false(authz_permset_has(auditor, "records.read:x"));
	/* the analyst reads masked */
	assert_true(authz_permset_has(analyst, "records.read:x"));
	assert_false(authz_permset_has(analyst, "records.unmask:x.ssn"));
	assert_false(authz_permset_has(analyst, "records.write:x"));
	/* the clinician works with PHI and administers nothing */
	assert_true(authz_permset_has(clin, "records.unmask:x.ssn"));
	assert_false(authz_permset_has(clin, "users.manage"));
	assert_false(authz_permset_has(clin, "audit.read"));
	/* metrics.read is in no built-in role (docs/identity.md): the scraper
	 * gets a role of its own */
	assert_false(authz_permset_has(admin, "metrics.read"));
	assert_false(authz_permset_has(auditor, "metrics.read"));
	assert_false(authz_permset_has(clin, "metrics.read"));
	/* break_glass has no standing read: it may only activate a grant */
	assert_int_equal(bg->n, 1);
	assert_true(authz_permset_has(bg, "breakglass.activate"));
	assert_false(authz_permset_has(bg, "records.read:x"));
	/* MFA for "admins": who holds administrative permissions */
	assert_true(authz_permset_is_privileged(admin));
	assert_true(authz_permset_is_privileged(keyadm));
	assert_false(authz_permset_is_privileged(auditor));
	assert_false(authz_permset_is_privileged(clin));
	free(admin);
	free(auditor);
	free(keyadm);
	free(analyst);
	free(clin);
	free(bg);
}

static void
test_role_def(void **state)
{
	static const char *const ok[] = { "records.read:patients", "records.unmask:patients.mrn" };
	static const char *const star[] = { "records.read:patients", "*" };
	static const char *const unknown[] = { "records.read:patients", "records.delete:x" };
	static const char *const dup[] = { "audit.read", "alerts.read", "audit.read" };
	char why[128];

	(void)state;
	assert_int_equal(authz_role_def_check("ward_nurse", ok, 2, why, sizeof(why)), PV_OK);
	assert_int_equal(authz_role_def_check("empty_role", NULL, 0, why, sizeof(why)), PV_OK);
	assert_int_equal(authz_role_def_check("ward_nurse", star, 2, why, sizeof(why)),
	    PV_E_INVALID);
	assert_non_null(strstr(why, "permissions[1]"));
	assert_non_null(strstr(why, "superuser"));
	assert_int_equal(authz_role_def_check("ward_nurse", unknown, 2, why, sizeof(why)),
	    PV_E_INVALID);
	assert_non_null(strstr(why, "permissions[1]"));
	assert_int_equal(authz_role_def_check("ward_nurse", dup, 3, why, sizeof(why)),
	    PV_E_INVALID);
	assert_non_null(strstr(why, "permissions[2]"));
	assert_int_equal(authz_role_def_check("Ward Nurse", ok, 2, why, sizeof(why)), PV_E_INVALID);
	assert_int_equal(authz_role_def_check("admin", ok, 2, why, sizeof(why)), PV_E_CONFLICT);
	assert_int_equal(authz_role_def_check("break_glass", NULL, 0, why, sizeof(why)),
	    PV_E_CONFLICT);
	assert_false(authz_role_name_valid(""));
	assert_false(authz_role_name_valid("1role"));
	assert_true(authz_role_name_valid("r"));
}

static void
test_check(void **state)
{
	struct authn_principal p;
	struct authz_permset *s = role_set("clinician");

	(void)state;
	memset(&p, 0, sizeof(p));
	/* no principal */
	assert_int_equal(authz_check(NULL, "public", false), PV_OK);
	assert_int_equal(authz_check(NULL, "authenticated", false), PV_E_UNAUTH);
	assert_int_equal(authz_check(NULL, "records.read:x", false), PV_E_UNAUTH);
	/* principal without permissions: deny by default */
	assert_int_equal(authz_check(&p, "authenticated", false), PV_OK);
	assert_int_equal(authz_check(&p, "records.read:x", false), PV_E_FORBIDDEN);
	assert_int_equal(authz_check(&p, NULL, false), PV_E_FORBIDDEN);
	p.perms = s;
	assert_int_equal(authz_check(&p, "records.read:x", false), PV_OK);
	assert_int_equal(authz_check(&p, "users.manage", false), PV_E_FORBIDDEN);
	assert_int_equal(authz_check(&p, "records.read:NOT_A_NAME", false), PV_E_FORBIDDEN);
	assert_int_equal(authz_check(&p, "*", false), PV_E_FORBIDDEN);
	/* restricted: only the self-service routes */
	p.restricted = true;
	p.restrict_flags = AUTHN_RESTRICT_PASSWORD_CHANGE;
	assert_int_equal(authz_check(&p, "authenticated", true), PV_OK);
	assert_int_equal(authz_check(&p, "authenticated", false), PV_E_RESTRICTED);
	assert_int_equal(authz_check(&p, "records.read:x", false), PV_E_RESTRICTED);
	assert_int_equal(authz_check(&p, "records.read:x", true), PV_E_RESTRICTED);
	assert_int_equal(authz_check(&p, "public", false), PV_OK);
	free(s);
}

/* secrets.read / secrets.write are scoped by a path prefix (issue 18):
 * "apps/billing/" covers every path under it, "*" every path; the prefix
 * grammar refuses a leading '/', "//" and "..". */
static void
test_secret_prefix_scope(void **state)
{
	struct authz_permset *s = calloc(1, sizeof(*s));
	struct authz_perm p;
	char out[AUTHZ_PERM_MAX], longp[AUTHZ_PERM_MAX];
	const char *dup[] = { "secrets.read:apps/", "secrets.read:apps/", NULL };
	const char *two[] = { "secrets.read:apps/", "secrets.write:apps/", NULL };
	char why[128];

	(void)state;
	assert_non_null(s);
	assert_true(authz_perm_match("secrets.read:apps/billing/", "secrets.read:apps/billing/db"));
	assert_true(authz_perm_match("secrets.read:apps/billing/",
	    "secrets.read:apps/billing/deep/er"));
	assert_false(authz_perm_match("secrets.read:apps/billing/", "secrets.read:apps/hr/x"));
	assert_false(authz_perm_match("secrets.read:apps/billing/", "secrets.read:apps/billing"));
	assert_true(authz_perm_match("secrets.read:*", "secrets.read:apps/hr/x"));
	assert_false(authz_perm_match("secrets.read:apps/", "secrets.read:*"));
	/* read and write are separate grants, and neither is a record grant */
	assert_false(authz_perm_match("secrets.read:*", "secrets.write:apps/x"));
	assert_false(authz_perm_match("secrets.write:*", "secrets.read:apps/x"));
	assert_false(authz_perm_match("secrets.read:*", "records.read:apps"));
	/* the grammar */
	assert_true(authz_perm_valid("secrets.read:db"));
	assert_true(authz_perm_valid("secrets.write:a-b_c.d/e9/"));
	assert_false(authz_perm_valid("secrets.read"));
	assert_false(authz_perm_valid("secrets.read:"));
	assert_false(authz_perm_valid("secrets.read:/apps/"));
	assert_false(authz_perm_valid("secrets.read:apps//x"));
	assert_false(authz_perm_valid("secrets.read:apps/../hr/"));
	assert_false(authz_perm_valid("secrets.read:../"));
	assert_false(authz_perm_valid("secrets.read:Apps/"));
	assert_false(authz_perm_valid("secrets.read:apps/x|y"));
	assert_false(authz_perm_valid("secrets.read:apps/*"));
	memcpy(longp, "secrets.read:", 13);
	memset(longp + 13, 'a', 100);
	longp[113] = '\0';
	assert_true(authz_perm_valid(longp));                  /* a 100-byte prefix */
	longp[113] = 'a';
	longp[114] = '\0';
	assert_false(authz_perm_valid(longp));                 /* 101 */
	assert_true(authz_path_prefix_valid("apps/..x"));
	assert_false(authz_path_prefix_valid(NULL));
	/* canonical text round trip */
	assert_int_equal(authz_perm_parse("secrets.write:apps/billing/", &p), PV_OK);
	assert_int_equal(p.verb, AUTHZ_SECRETS_WRITE);
	assert_string_equal(p.path, "apps/billing/");
	assert_int_equal(authz_perm_format(&p, out), PV_OK);
	assert_string_equal(out, "secrets.write:apps/billing/");
	/* sets: a shorter prefix absorbs a longer one */
	authz_permset_init(s);
	assert_int_equal(authz_permset_add(s, "secrets.read:apps/billing/"), PV_OK);
	assert_int_equal(authz_permset_add(s, "secrets.read:apps/"), PV_OK);
	assert_int_equal(s->n, 1);
	assert_true(authz_permset_has(s, "secrets.read:apps/hr/x"));
	assert_false(authz_permset_has(s, "secrets.read:other/x"));
	assert_false(authz_permset_has(s, "secrets.write:apps/hr/x"));
	/* custom roles: duplicates refused, read and write together fine */
	assert_int_equal(authz_role_def_check("dupes", dup, 2, why, sizeof(why)), PV_E_INVALID);
	assert_int_equal(authz_role_def_check("vaulty", two, 2, why, sizeof(why)), PV_OK);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_token_scope),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_permset),
		cmocka_unit_test(test_builtin_roles),
		cmocka_unit_test(test_separation_of_duties),
		cmocka_unit_test(test_role_def),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_secret_prefix_scope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
