/*
 * test_catalog: the embedded control catalog (src/compliance/catalog.json)
 * parses; every HIPAA Security Rule standard and implementation
 * specification of 164.308, 164.310, 164.312 and 164.316 is in it exactly
 * once (the list below is typed from 45 CFR Part 164 Subpart C, not read
 * from the catalog); every evaluator id exists; every implementation path
 * exists in the source tree; malformed catalogs are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "compliance/compliance_int.h"

static const char *const expected[] = {
	"164.308(a)(1)(i)", "164.308(a)(1)(ii)(A)", "164.308(a)(1)(ii)(B)",
	"164.308(a)(1)(ii)(C)", "164.308(a)(1)(ii)(D)", "164.308(a)(2)", "164.308(a)(3)(i)",
	"164.308(a)(3)(ii)(A)", "164.308(a)(3)(ii)(B)", "164.308(a)(3)(ii)(C)",
	"164.308(a)(4)(i)", "164.308(a)(4)(ii)(A)", "164.308(a)(4)(ii)(B)",
	"164.308(a)(4)(ii)(C)", "164.308(a)(5)(i)", "164.308(a)(5)(ii)(A)",
	"164.308(a)(5)(ii)(B)", "164.308(a)(5)(ii)(C)", "164.308(a)(5)(ii)(D)",
	"164.308(a)(6)(i)", "164.308(a)(6)(ii)", "164.308(a)(7)(i)", "164.308(a)(7)(ii)(A)",
	"164.308(a)(7)(ii)(B)", "164.308(a)(7)(ii)(C)", "164.308(a)(7)(ii)(D)",
	"164.308(a)(7)(ii)(E)", "164.308(a)(8)", "164.308(b)(1)", "164.308(b)(3)",
	"164.310(a)(1)", "164.310(a)(2)(i)", "164.310(a)(2)(ii)", "164.310(a)(2)(iii)",
	"164.310(a)(2)(iv)", "164.310(b)", "164.310(c)", "164.310(d)(1)", "164.310(d)(2)(i)",
	"164.310(d)(2)(ii)", "164.310(d)(2)(iii)", "164.310(d)(2)(iv)",
	"164.312(a)(1)", "164.312(a)(2)(i)", "164.312(a)(2)(ii)", "164.312(a)(2)(iii)",
	"164.312(a)(2)(iv)", "164.312(b)", "164.312(c)(1)", "164.312(c)(2)", "164.312(d)",
	"164.312(e)(1)", "164.312(e)(2)(i)", "164.312(e)(2)(ii)",
	"164.316(a)", "164.316(b)(1)", "164.316(b)(2)(i)", "164.316(b)(2)(ii)",
	"164.316(b)(2)(iii)",
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static void
test_every_spec_exactly_once(void **state)
{
	json_t *cat = NULL, *c;
	size_t i, j, seen;

	(void)state;
	assert_int_equal(compliance_catalog(&cat), PV_OK);
	assert_int_equal(json_array_size(json_object_get(cat, "controls")), NEXPECTED);
	for (i = 0; i < NEXPECTED; i++) {
		seen = 0;
		json_array_foreach(json_object_get(cat, "controls"), j, c)
			if (strcmp(json_string_value(json_object_get(c, "cfr")), expected[i]) == 0)
				seen++;
		if (seen != 1)
			fail_msg("%s appears %zu times", expected[i], seen);
	}
	json_decref(cat);
}

static void
test_evaluators_and_paths_exist(void **state)
{
	json_t *cat = NULL, *c, *v;
	size_t i, j;

	(void)state;
	assert_int_equal(compliance_catalog(&cat), PV_OK);
	json_array_foreach(json_object_get(cat, "controls"), i, c) {
		json_array_foreach(json_object_get(c, "evaluators"), j, v)
			if (compliance_evaluator_find(json_string_value(v)) == NULL)
				fail_msg("%s: no evaluator %s", json_string_value(json_object_get(c,
				    "cfr")), json_string_value(v));
		json_array_foreach(json_object_get(c, "implementation"), j, v) {
			char path[4096];
			struct stat sb;

			snprintf(path, sizeof path, "%s/%s", PV_SOURCE_DIR, json_string_value(v));
			if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
				fail_msg("%s: %s does not exist", json_string_value(json_object_get(c,
				    "cfr")), json_string_value(v));
		}
	}
	json_decref(cat);
}

/* The shared responsibility matrix examples of the brief. */
static void
test_owners(void **state)
{
	json_t *cat = NULL, *c;
	size_t i;
	int found = 0;

	(void)state;
	assert_int_equal(compliance_catalog(&cat), PV_OK);
	json_array_foreach(json_object_get(cat, "controls"), i, c) {
		const char *cfr = json_string_value(json_object_get(c, "cfr"));
		const char *owner = json_string_value(json_object_get(c, "owner"));

		if (strcmp(cfr, "164.310(a)(1)") == 0) {
			assert_string_equal(owner, "customer");
			found++;
		}
		if (strcmp(cfr, "164.312(a)(2)(iv)") == 0) {
			assert_string_equal(owner, "phivault");
			assert_string_equal(json_string_value(json_object_get(c, "requirement")),
			    "addressable");
			found++;
		}
		if (strcmp(cfr, "164.312(b)") == 0) {
			assert_string_equal(json_string_value(json_object_get(c, "requirement")),
			    "required");
			found++;
		}
	}
	assert_int_equal(found, 3);
	json_decref(cat);
}

static enum pv_rc
parse(const char *text)
{
	json_t *out = NULL;
	char err[256];
	enum pv_rc rc = compliance_catalog_parse(text, strlen(text), &out, err, sizeof err);

	json_decref(out);
	return rc;
}

#define CTL(cfr, ev) "{\"cfr\":\"" cfr "\",\"title\":\"t\",\"kind\":\"standard\"," \
	"\"requirement\":\"required\",\"owner\":\"phivault\",\"hitrust\":[]," \
	"\"implementation\":[],\"evaluators\":[\"" ev "\"]}"

static void
test_malformed_refused(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"controls\":[" CTL("164.312(b)", "audit_chain") "]}"), PV_OK);
	/* the same spec twice */
	assert_int_equal(parse("{\"controls\":[" CTL("164.312(b)", "audit_chain") ","
	    CTL("164.312(b)", "audit_chain") "]}"), PV_E_INVALID);
	/* an evaluator that does not exist */
	assert_int_equal(parse("{\"controls\":[" CTL("164.312(b)", "no_such") "]}"),
	    PV_E_INVALID);
	/* not JSON, no controls */
	assert_int_equal(parse("{\"controls\":["), PV_E_INVALID);
	assert_int_equal(parse("{}"), PV_E_INVALID);
	/* a customer control without its duty */
	assert_int_equal(parse("{\"controls\":[{\"cfr\":\"164.310(b)\",\"title\":\"t\","
	    "\"kind\":\"standard\",\"requirement\":\"required\",\"owner\":\"customer\","
	    "\"hitrust\":[],\"implementation\":[],\"evaluators\":[\"customer\"]}]}"),
	    PV_E_INVALID);
	/* a specification whose parent is not in the catalog */
	assert_int_equal(parse("{\"controls\":[{\"cfr\":\"164.312(c)(2)\",\"title\":\"t\","
	    "\"kind\":\"implementation_specification\",\"parent\":\"164.312(c)(1)\","
	    "\"requirement\":\"addressable\",\"owner\":\"phivault\",\"hitrust\":[],"
	    "\"implementation\":[],\"evaluators\":[\"audit_chain\"]}]}"), PV_E_INVALID);
	/* an unknown owner */
	assert_int_equal(parse("{\"controls\":[{\"cfr\":\"164.312(b)\",\"title\":\"t\","
	    "\"kind\":\"standard\",\"requirement\":\"required\",\"owner\":\"vendor\","
	    "\"hitrust\":[],\"implementation\":[],\"evaluators\":[\"audit_chain\"]}]}"),
	    PV_E_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_spec_exactly_once),
		cmocka_unit_test(test_evaluators_and_paths_exist),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_malformed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
