/*
 * test_patch: PATCH (RFC 7644 3.5.2) on a SCIM representation in memory:
 * add / replace / remove with and without path, multi-valued attributes,
 * value-path filters with a sub-attribute, the Entra ID quirks, the
 * refusals (invalidSyntax, invalidPath, invalidValue, noTarget,
 * mutability), and the POST/PUT body builder.
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

#define ENT "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define OPS(x) "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"]," \
	"\"Operations\":[" x "]}"

static json_t *
user(void)
{
	json_t *u = json_loads("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
	    "\"id\":\"usr_a\",\"userName\":\"alice\",\"active\":true,\"displayName\":\"Alice\","
	    "\"emails\":[{\"value\":\"a@work.test\",\"type\":\"work\",\"primary\":true}],"
	    "\"groups\":[{\"value\":\"nurses\"}],\"meta\":{\"resourceType\":\"User\"}}", 0, NULL);

	assert_non_null(u);
	return u;
}

/* Apply ops to a fresh user: the rc, the result in *out (caller's). */
static enum pv_rc
patch(const char *body, json_t **out, struct scim_error *err)
{
	json_t *b = json_loads(body, 0, NULL), *u = user();
	enum pv_rc rc;

	assert_non_null(b);
	rc = scim_patch_apply(u, SCIM_USER, b, err);
	json_decref(b);
	*out = u;
	return rc;
}

static void
refused(const char *body, const char *type)
{
	struct scim_error err;
	json_t *u;

	if (patch(body, &u, &err) == PV_OK)
		fail_msg("accepted: %s", body);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.scim_type, type);
	json_decref(u);
}

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void
test_replace_add_remove(void **state)
{
	struct scim_error err;
	json_t *u, *e;

	(void)state;
	assert_int_equal(patch(OPS("{\"op\":\"replace\",\"path\":\"displayName\","
	    "\"value\":\"Alice B\"}"), &u, &err), PV_OK);
	assert_string_equal(str(u, "displayName"), "Alice B");
	json_decref(u);
	/* add to a multi-valued attribute appends (no duplicate value) */
	assert_int_equal(patch(OPS("{\"op\":\"add\",\"path\":\"emails\",\"value\":["
	    "{\"value\":\"a@home.test\",\"type\":\"home\"},{\"value\":\"a@work.test\"}]}"), &u,
	    &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(u, "emails")), 2);
	json_decref(u);
	/* replace of a multi-valued attribute without filter replaces it whole */
	assert_int_equal(patch(OPS("{\"op\":\"replace\",\"path\":\"emails\",\"value\":["
	    "{\"value\":\"b@work.test\",\"type\":\"work\"}]}"), &u, &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(u, "emails")), 1);
	assert_string_equal(str(json_array_get(json_object_get(u, "emails"), 0), "value"),
	    "b@work.test");
	json_decref(u);
	/* remove with a path and with a value filter */
	assert_int_equal(patch(OPS("{\"op\":\"remove\",\"path\":\"displayName\"}"), &u, &err),
	    PV_OK);
	assert_null(json_object_get(u, "displayName"));
	json_decref(u);
	assert_int_equal(patch(OPS("{\"op\":\"add\",\"path\":\"emails\",\"value\":"
	    "{\"value\":\"h@home.test\",\"type\":\"home\"}},"
	    "{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"]\"}"), &u, &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(u, "emails")), 1);
	assert_string_equal(str(json_array_get(json_object_get(u, "emails"), 0), "type"), "home");
	json_decref(u);
	/* a sub-attribute of the matching elements */
	assert_int_equal(patch(OPS("{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\"]."
	    "primary\"}"), &u, &err), PV_OK);
	e = json_array_get(json_object_get(u, "emails"), 0);
	assert_null(json_object_get(e, "primary"));
	assert_string_equal(str(e, "value"), "a@work.test");
	json_decref(u);
	/* complex single-valued: name.givenName creates name */
	assert_int_equal(patch(OPS("{\"op\":\"add\",\"path\":\"name.givenName\",\"value\":\"Al\"}"),
	    &u, &err), PV_OK);
	assert_string_equal(str(json_object_get(u, "name"), "givenName"), "Al");
	json_decref(u);
	/* without path: an object of attributes, the enterprise URN as an object */
	assert_int_equal(patch(OPS("{\"op\":\"add\",\"value\":{\"displayName\":\"X\","
	    "\"" ENT "\":{\"department\":\"icu\"}}}"), &u, &err), PV_OK);
	assert_string_equal(str(u, "displayName"), "X");
	assert_string_equal(str(json_object_get(u, ENT), "department"), "icu");
	json_decref(u);
	/* enterprise path */
	assert_int_equal(patch(OPS("{\"op\":\"replace\",\"path\":\"" ENT ":manager.value\","
	    "\"value\":\"usr_m\"}"), &u, &err), PV_OK);
	assert_string_equal(str(json_object_get(json_object_get(u, ENT), "manager"), "value"),
	    "usr_m");
	json_decref(u);
}

static void
test_entra(void **state)
{
	struct scim_error err;
	json_t *u;

	(void)state;
	/* capitalised op, active as a string */
	assert_int_equal(patch(OPS("{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}"),
	    &u, &err), PV_OK);
	assert_true(json_is_false(json_object_get(u, "active")));
	json_decref(u);
	assert_int_equal(patch(OPS("{\"op\":\"REPLACE\",\"value\":{\"active\":\"True\"}}"), &u,
	    &err), PV_OK);
	assert_true(json_is_true(json_object_get(u, "active")));
	json_decref(u);
	/* no path, URN-qualified and dotted keys, manager as a string */
	assert_int_equal(patch(OPS("{\"op\":\"Add\",\"value\":{\"" ENT ":department\":\"er\","
	    "\"" ENT ":manager\":\"usr_boss\",\"name.familyName\":\"Smith\","
	    "\"urn:ietf:params:scim:schemas:core:2.0:User:displayName\":\"A S\"}}"), &u, &err),
	    PV_OK);
	assert_string_equal(str(json_object_get(u, ENT), "department"), "er");
	assert_string_equal(str(json_object_get(json_object_get(u, ENT), "manager"), "value"),
	    "usr_boss");
	assert_string_equal(str(json_object_get(u, "name"), "familyName"), "Smith");
	assert_string_equal(str(u, "displayName"), "A S");
	json_decref(u);
	/* emails[type eq "home"].value creates the element it names */
	assert_int_equal(patch(OPS("{\"op\":\"Add\",\"path\":\"emails[type eq \\\"home\\\"].value\","
	    "\"value\":\"a@home.test\"}"), &u, &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(u, "emails")), 2);
	assert_string_equal(str(json_array_get(json_object_get(u, "emails"), 1), "type"), "home");
	json_decref(u);
	/* and changes the one that exists */
	assert_int_equal(patch(OPS("{\"op\":\"Replace\",\"path\":\"emails[type eq \\\"work\\\"]."
	    "value\",\"value\":\"new@work.test\"}"), &u, &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(u, "emails")), 1);
	assert_string_equal(str(json_array_get(json_object_get(u, "emails"), 0), "value"),
	    "new@work.test");
	json_decref(u);
	/* attributes phivault drops are no-ops, with or without path */
	assert_int_equal(patch(OPS("{\"op\":\"Replace\",\"path\":\"title\",\"value\":\"RN\"},"
	    "{\"op\":\"Add\",\"value\":{\"preferredLanguage\":\"en\",\"" ENT ":employeeNumber\":"
	    "\"7\"}}"), &u, &err), PV_OK);
	assert_null(json_object_get(u, "title"));
	assert_null(json_object_get(u, "preferredLanguage"));
	json_decref(u);
}

static void
test_group_members(void **state)
{
	json_t *g = json_loads("{\"id\":\"n\",\"displayName\":\"n\",\"members\":["
	    "{\"value\":\"usr_a\"},{\"value\":\"usr_b\"}]}", 0, NULL), *b;
	struct scim_error err;

	(void)state;
	b = json_loads(OPS("{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"usr_c\"},"
	    "{\"value\":\"usr_a\"}]},"
	    "{\"op\":\"Remove\",\"path\":\"members[value eq \\\"usr_b\\\"]\"},"
	    "{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"usr_a\"}]}"), 0, NULL);
	assert_int_equal(scim_patch_apply(g, SCIM_GROUP, b, &err), PV_OK);
	assert_int_equal(json_array_size(json_object_get(g, "members")), 1);
	assert_string_equal(str(json_array_get(json_object_get(g, "members"), 0), "value"),
	    "usr_c");
	json_decref(b);
	b = json_loads(OPS("{\"op\":\"remove\",\"path\":\"members\"}"), 0, NULL);
	assert_int_equal(scim_patch_apply(g, SCIM_GROUP, b, &err), PV_OK);
	assert_null(json_object_get(g, "members"));
	json_decref(b);
	json_decref(g);
}

static void
test_refusals(void **state)
{
	(void)state;
	refused("{\"Operations\":[{\"op\":\"add\",\"path\":\"displayName\",\"value\":\"x\"}]}",
	    "invalidSyntax");
	refused(OPS(""), "invalidSyntax");
	refused(OPS("{\"op\":\"move\",\"path\":\"displayName\",\"value\":\"x\"}"), "invalidSyntax");
	refused(OPS("{\"op\":1}"), "invalidSyntax");
	refused(OPS("{\"op\":\"add\",\"path\":7,\"value\":\"x\"}"), "invalidSyntax");
	refused(OPS("{\"op\":\"remove\"}"), "noTarget");
	refused(OPS("{\"op\":\"add\",\"value\":\"not an object\"}"), "invalidValue");
	refused(OPS("{\"op\":\"add\",\"path\":\"shoeSize\",\"value\":\"9\"}"), "invalidPath");
	refused(OPS("{\"op\":\"add\",\"value\":{\"shoeSize\":\"9\"}}"), "invalidPath");
	refused(OPS("{\"op\":\"replace\",\"path\":\"id\",\"value\":\"usr_x\"}"), "mutability");
	refused(OPS("{\"op\":\"remove\",\"path\":\"meta\"}"), "mutability");
	refused(OPS("{\"op\":\"add\",\"path\":\"groups\",\"value\":[{\"value\":\"admins\"}]}"),
	    "mutability");
	refused(OPS("{\"op\":\"replace\",\"path\":\"active\",\"value\":\"maybe\"}"), "invalidValue");
	refused(OPS("{\"op\":\"replace\",\"path\":\"displayName\",\"value\":5}"), "invalidValue");
	refused(OPS("{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"shoe\":\"x\"}]}"),
	    "invalidValue");
	refused(OPS("{\"op\":\"replace\",\"path\":\"displayName\"}"), "invalidValue");
	refused(OPS("{\"op\":\"replace\",\"path\":\"emails[value co \\\"zz\\\"].type\","
	    "\"value\":\"x\"}"), "noTarget");
	refused(OPS("{\"op\":\"replace\",\"path\":\"emails[type ne \\\"work\\\"].value\","
	    "\"value\":\"x\"}"), "noTarget");
}

static void
test_body(void **state)
{
	struct scim_error err;
	json_t *b, *r = NULL;

	(void)state;
	b = json_loads("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
	    "\"id\":\"usr_ignored\",\"meta\":{},\"userName\":\"x\",\"active\":\"False\","
	    "\"title\":\"RN\",\"groups\":[{\"value\":\"admins\"}]}", 0, NULL);
	assert_int_equal(scim_resource_from_body(b, SCIM_USER, &r, &err), PV_OK);
	assert_null(json_object_get(r, "id"));
	assert_null(json_object_get(r, "groups"));
	assert_null(json_object_get(r, "title"));
	assert_true(json_is_false(json_object_get(r, "active")));
	json_decref(r);
	json_decref(b);
	b = json_loads("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
	    "\"userName\":\"x\",\"colour\":\"red\"}", 0, NULL);
	assert_int_equal(scim_resource_from_body(b, SCIM_USER, &r, &err), PV_E_INVALID);
	assert_string_equal(err.scim_type, "invalidSyntax");
	assert_null(strstr(err.detail, "colour"));
	json_decref(b);
	b = json_loads("{\"userName\":\"x\"}", 0, NULL);
	assert_int_equal(scim_resource_from_body(b, SCIM_USER, &r, &err), PV_E_INVALID);
	json_decref(b);
	b = json_loads("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],"
	    "\"userName\":\"x\",\"password\":\"p\"}", 0, NULL);
	assert_int_equal(scim_resource_from_body(b, SCIM_USER, &r, &err), PV_E_INVALID);
	assert_string_equal(err.scim_type, "invalidValue");
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace_add_remove),
		cmocka_unit_test(test_entra),
		cmocka_unit_test(test_group_members),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
