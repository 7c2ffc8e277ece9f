/*
 * test_filter: the SCIM filter language (RFC 7644 3.4.2.2) and PATCH paths
 * (3.5.2): every operator, and/or/not with the RFC's precedence, grouping,
 * value paths, the enterprise URN, case rules per attribute, string
 * escapes, the bounds (length, depth, nodes), and the refusals
 * (invalidFilter / invalidPath) with details that never echo the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scim/scim_int.h"

static json_t *alice, *bob;

static int
setup(void **state)
{
	(void)state;
	alice = json_loads("{\"id\":\"usr_a\",\"userName\":\"alice.smith\",\"externalId\":\"Ext-1\","
	    "\"displayName\":\"Alice Smith\",\"active\":true,"
	    "\"name\":{\"givenName\":\"Alice\",\"familyName\":\"Smith\"},"
	    "\"emails\":[{\"value\":\"alice@work.test\",\"type\":\"work\",\"primary\":true},"
	    "{\"value\":\"a@home.test\",\"type\":\"home\"}],"
	    "\"meta\":{\"lastModified\":\"2026-05-01T10:00:00.000Z\"},"
	    "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
	    "{\"department\":\"Cardiology\",\"manager\":{\"value\":\"usr_m\"}}}", 0, NULL);
	bob = json_loads("{\"id\":\"usr_b\",\"userName\":\"bob\",\"active\":false,"
	    "\"meta\":{\"lastModified\":\"2026-07-01T10:00:00.000Z\"}}", 0, NULL);
	return alice != NULL && bob != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(alice);
	json_decref(bob);
	return 0;
}

/* Does text parse, and does it match alice (bit 0) and bob (bit 1)? */
static int
matches(const char *text)
{
	struct scim_filter *f = NULL;
	struct scim_error err;
	int m = 0;

	if (scim_filter_parse(text, SCIM_USER, &f, &err) != PV_OK) {
		assert_int_equal(err.status, 400);
		assert_string_equal(err.scim_type, "invalidFilter");
		return -1;
	}
	if (scim_filter_match(f, alice))
		m |= 1;
	if (scim_filter_match(f, bob))
		m |= 2;
	scim_filter_free(f);
	return m;
}

static void
test_operators(void **state)
{
	(void)state;
	assert_int_equal(matches("userName eq \"alice.smith\""), 1);
	assert_int_equal(matches("userName eq \"ALICE.SMITH\""), 1);   /* caseExact false */
	assert_int_equal(matches("USERNAME EQ \"bob\""), 2);            /* names, ops: any case */
	assert_int_equal(matches("externalId eq \"Ext-1\""), 1);
	assert_int_equal(matches("externalId eq \"ext-1\""), 0);        /* caseExact true */
	assert_int_equal(matches("userName ne \"bob\""), 1);
	assert_int_equal(matches("externalId ne \"x\""), 3);            /* absent: not equal */
	assert_int_equal(matches("userName co \"ICE\""), 1);
	assert_int_equal(matches("userName sw \"al\""), 1);
	assert_int_equal(matches("userName ew \"ob\""), 2);
	assert_int_equal(matches("userName gt \"alice.smith\""), 2);
	assert_int_equal(matches("userName ge \"alice.smith\""), 3);
	assert_int_equal(matches("userName lt \"bob\""), 1);
	assert_int_equal(matches("userName le \"bob\""), 3);
	assert_int_equal(matches("meta.lastModified gt \"2026-06-01T00:00:00Z\""), 2);
	assert_int_equal(matches("externalId pr"), 1);
	assert_int_equal(matches("name pr"), 1);
	assert_int_equal(matches("active eq true"), 1);
	assert_int_equal(matches("active eq false"), 2);
	assert_int_equal(matches("active ne true"), 2);
	assert_int_equal(matches("externalId eq null"), 2);
	assert_int_equal(matches("externalId ne null"), 1);
	assert_int_equal(matches("name.familyName eq \"smith\""), 1);
}

static void
test_logic(void **state)
{
	(void)state;
	assert_int_equal(matches("userName eq \"bob\" or userName eq \"alice.smith\""), 3);
	assert_int_equal(matches("userName eq \"bob\" and active eq true"), 0);
	assert_int_equal(matches("not (active eq true)"), 2);
	assert_int_equal(matches("not(active eq true)"), 2);
	/* and binds tighter than or (RFC 7644 3.4.2.2) */
	assert_int_equal(matches("userName eq \"alice.smith\" or userName eq \"bob\" and "
	    "active eq true"), 1);
	assert_int_equal(matches("(userName eq \"alice.smith\" or userName eq \"bob\") and "
	    "active eq false"), 2);
	assert_int_equal(matches("active eq false and userName eq \"bob\" or "
	    "userName eq \"alice.smith\""), 3);
	assert_int_equal(matches("((((userName pr))))"), 3);
}

static void
test_value_paths(void **state)
{
	(void)state;
	assert_int_equal(matches("emails[type eq \"work\"]"), 1);
	assert_int_equal(matches("emails[type eq \"work\" and value co \"home\"]"), 0);
	assert_int_equal(matches("emails[type eq \"home\" and value co \"home\"]"), 1);
	assert_int_equal(matches("emails[not (type eq \"work\")]"), 1);
	assert_int_equal(matches("emails.value eq \"A@HOME.TEST\""), 1);
	assert_int_equal(matches("emails eq \"alice@work.test\""), 1);   /* the value sub */
	assert_int_equal(matches("emails.primary eq true"), 1);
	assert_int_equal(matches("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
	    "department eq \"cardiology\""), 1);
	assert_int_equal(matches("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
	    "manager.value eq \"usr_m\""), 1);
	assert_int_equal(matches("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"b\""),
	    2);
	assert_int_equal(matches("userName eq \"a\\\"b\" or displayName eq \"Alice\\u0020Smith\""),
	    1);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"", " ", "userName", "userName eq", "userName eq alice", "userName zz \"x\"",
		"foo eq \"x\"", "name.nick eq \"x\"", "userName eq \"x\" and", "or userName pr",
		"(userName pr", "userName pr)", "userName pr junk", "not userName pr",
		"active gt true", "active co true", "active eq \"true\"", "userName eq true",
		"userName gt null", "emails[type eq \"work\"", "emails[foo eq \"x\"]",
		"userName[type eq \"x\"]", "emails[emails[type pr]]", "userName eq \"unterminated",
		"userName eq \"bad \\q escape\"", "name eq \"x\"",
		"urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr",
		"urn:x:y:department eq \"a\"", "userName eq \"a\"\n", "members pr",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (matches(bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void
test_bounds(void **state)
{
	struct scim_filter *f = NULL;
	struct scim_error err;
	char *t;
	size_t i, n;

	(void)state;
	/* nesting deeper than SCIM_FILTER_MAX_DEPTH */
	t = calloc(1, 4096);
	assert_non_null(t);
	for (i = 0; i <= SCIM_FILTER_MAX_DEPTH; i++)
		strcat(t, "(");
	strcat(t, "userName pr");
	for (i = 0; i <= SCIM_FILTER_MAX_DEPTH; i++)
		strcat(t, ")");
	assert_int_equal(scim_filter_parse(t, SCIM_USER, &f, &err), PV_E_INVALID);
	assert_null(strstr(err.detail, "userName"));
	/* more terms than SCIM_FILTER_MAX_NODES */
	t[0] = '\0';
	for (i = 0; i < SCIM_FILTER_MAX_NODES; i++)
		strcat(t, i ? " or id pr" : "id pr");
	assert_int_equal(scim_filter_parse(t, SCIM_USER, &f, &err), PV_E_INVALID);
	free(t);
	/* longer than SCIM_FILTER_MAX_LEN */
	n = SCIM_FILTER_MAX_LEN + 10;
	t = malloc(n + 1);
	assert_non_null(t);
	memcpy(t, "userName eq \"", 13);
	memset(t + 13, 'a', n - 14);
	t[n - 1] = '"';
	t[n] = '\0';
	assert_int_equal(scim_filter_parse(t, SCIM_USER, &f, &err), PV_E_INVALID);
	assert_string_equal(err.scim_type, "invalidFilter");
	free(t);
	/* the detail never echoes what was sent */
	assert_int_equal(scim_filter_parse("secretword eq \"x\"", SCIM_USER, &f, &err),
	    PV_E_INVALID);
	assert_null(strstr(err.detail, "secretword"));
}

static void
test_groups(void **state)
{
	json_t *g = json_loads("{\"id\":\"nurses\",\"displayName\":\"nurses\",\"members\":["
	    "{\"value\":\"usr_a\",\"display\":\"alice\"}]}", 0, NULL);
	struct scim_filter *f = NULL;
	struct scim_error err;

	(void)state;
	assert_int_equal(scim_filter_parse("members[value eq \"usr_a\"]", SCIM_GROUP, &f, &err),
	    PV_OK);
	assert_true(scim_filter_match(f, g));
	scim_filter_free(f);
	assert_int_equal(scim_filter_parse("members.value eq \"USR_A\"", SCIM_GROUP, &f, &err),
	    PV_OK);
	assert_false(scim_filter_match(f, g));   /* member ids are case-exact */
	scim_filter_free(f);
	assert_int_equal(scim_filter_parse("userName pr", SCIM_GROUP, &f, &err), PV_E_INVALID);
	json_decref(g);
}

static void
test_paths(void **state)
{
	struct scim_path p;
	struct scim_error err;

	(void)state;
	assert_int_equal(scim_path_parse("displayName", SCIM_USER, &p, &err), PV_OK);
	assert_string_equal(p.attr->name, "displayName");
	assert_null(p.sub);
	scim_path_clear(&p);
	assert_int_equal(scim_path_parse("name.givenName", SCIM_USER, &p, &err), PV_OK);
	assert_string_equal(p.sub->name, "givenName");
	scim_path_clear(&p);
	assert_int_equal(scim_path_parse("emails[type eq \"work\"].value", SCIM_USER, &p, &err),
	    PV_OK);
	assert_string_equal(p.attr->name, "emails");
	assert_string_equal(p.sub->name, "value");
	assert_non_null(p.filter);
	assert_string_equal(p.eq_attr, "type");
	assert_string_equal(p.eq_value, "work");
	assert_true(scim_filter_match(p.filter, json_array_get(json_object_get(alice, "emails"),
	    0)));
	assert_false(scim_filter_match(p.filter, json_array_get(json_object_get(alice, "emails"),
	    1)));
	scim_path_clear(&p);
	assert_int_equal(scim_path_parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:"
	    "User:manager", SCIM_USER, &p, &err), PV_OK);
	assert_true(p.enterprise);
	assert_string_equal(p.attr->name, "manager");
	scim_path_clear(&p);
	assert_int_equal(scim_path_parse("members[value eq \"usr_a\"]", SCIM_GROUP, &p, &err),
	    PV_OK);
	scim_path_clear(&p);
	/* attributes phivault drops are accepted as no-ops */
	assert_int_equal(scim_path_parse("title", SCIM_USER, &p, &err), PV_OK);
	assert_true(p.ignored);
	scim_path_clear(&p);
	assert_int_equal(scim_path_parse("phoneNumbers[type eq \"work\"].value", SCIM_USER, &p,
	    &err), PV_OK);
	assert_true(p.ignored);
	scim_path_clear(&p);
	{
		static const char *const bad[] = { "", "shoeSize", "name.shoe", "emails[type eq]",
			"emails[type eq \"w\"].nope", "displayName[type eq \"x\"]", "emails]",
			"emails[type eq \"w\"] x", "name[givenName pr]" };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (scim_path_parse(bad[i], SCIM_USER, &p, &err) != PV_E_INVALID)
				fail_msg("accepted path: %s", bad[i]);
			assert_string_equal(err.scim_type, "invalidPath");
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_logic),
		cmocka_unit_test(test_value_paths),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
