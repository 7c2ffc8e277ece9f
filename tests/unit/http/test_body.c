/* http_parse_body and http_body_string: what a client sending a body sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

static enum pv_rc
parse(const char *s, size_t len)
{
	json_t *v = NULL;
	enum pv_rc rc = http_parse_body(s, len, &v);

	if (rc == PV_OK) {
		assert_non_null(v);
		assert_true(json_is_object(v));
		json_decref(v);
	} else {
		assert_null(v);
	}
	return rc;
}

#define PARSE(lit) parse((lit), sizeof(lit) - 1)

static void
test_objects_accepted(void **state)
{
	json_t *v = NULL;

	(void)state;
	assert_int_equal(PARSE("{}"), PV_OK);
	assert_int_equal(PARSE(" {\"a\":1} \n"), PV_OK);
	assert_int_equal(PARSE("{\"username\":\"al\\u00e9\",\"n\":[1,2,{\"x\":null}]}"), PV_OK);
	assert_int_equal(PARSE("{\"name\":\"J\xc3\xa9r\xc3\xb4me\"}"), PV_OK);
	assert_int_equal(http_parse_body("{\"k\":\"v\"}", 9, &v), PV_OK);
	assert_string_equal(json_string_value(json_object_get(v, "k")), "v");
	json_decref(v);
	/* only the first len bytes count */
	assert_int_equal(parse("{\"a\":1}garbage", 7), PV_OK);
}

static void
test_non_objects_refused(void **state)
{
	(void)state;
	assert_int_equal(PARSE("[]"), PV_E_JSON);
	assert_int_equal(PARSE("[{\"a\":1}]"), PV_E_JSON);
	assert_int_equal(PARSE("\"string\""), PV_E_JSON);
	assert_int_equal(PARSE("42"), PV_E_JSON);
	assert_int_equal(PARSE("null"), PV_E_JSON);
	assert_int_equal(PARSE("true"), PV_E_JSON);
}

static void
test_garbage_refused(void **state)
{
	(void)state;
	assert_int_equal(parse("", 0), PV_E_JSON);
	assert_int_equal(parse(NULL, 0), PV_E_JSON);
	assert_int_equal(PARSE("   "), PV_E_JSON);
	assert_int_equal(PARSE("{"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":}"), PV_E_JSON);
	assert_int_equal(PARSE("{'a':1}"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":1,}"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":1}{\"b\":2}"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":1} x"), PV_E_JSON);
	assert_int_equal(PARSE("username=x&password=y"), PV_E_JSON);
}

static void
test_duplicate_keys_refused(void **state)
{
	(void)state;
	assert_int_equal(PARSE("{\"role\":\"user\",\"role\":\"admin\"}"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":{\"x\":1,\"x\":2}}"), PV_E_JSON);
}

static void
test_nul_refused(void **state)
{
	static const char raw[] = "{\"a\":\"x\0y\"}";

	(void)state;
	/* a raw NUL byte in the middle of the body */
	assert_int_equal(parse(raw, sizeof(raw) - 1), PV_E_JSON);
	assert_int_equal(parse("{\"a\":1}\0", 8), PV_E_JSON);
	/* an escaped NUL would truncate C strings downstream */
	assert_int_equal(PARSE("{\"a\":\"x\\u0000y\"}"), PV_E_JSON);
}

static void
test_invalid_utf8_refused(void **state)
{
	(void)state;
	assert_int_equal(PARSE("{\"a\":\"\xff\"}"), PV_E_JSON);
	assert_int_equal(PARSE("{\"a\":\"\xc3\"}"), PV_E_JSON);          /* truncated */
	assert_int_equal(PARSE("{\"a\":\"\xc0\xaf\"}"), PV_E_JSON);      /* overlong '/' */
	assert_int_equal(PARSE("{\"a\":\"\xed\xa0\x80\"}"), PV_E_JSON);  /* surrogate */
	assert_int_equal(PARSE("{\"\xfe\":1}"), PV_E_JSON);
}

static char *
nested(int depth)
{
	char *s = malloc((size_t)depth * 6 + 16);
	size_t o = 0;
	int i;

	assert_non_null(s);
	for (i = 0; i < depth; i++)
		o += (size_t)sprintf(s + o, i == 0 ? "{" : "\"a\":{");
	for (i = 0; i < depth; i++)
		s[o++] = '}';
	s[o] = '\0';
	return s;
}

static void
test_depth_bounded(void **state)
{
	char *s;

	(void)state;
	s = nested(HTTP_BODY_MAX_DEPTH);
	assert_int_equal(parse(s, strlen(s)), PV_OK);
	free(s);
	s = nested(HTTP_BODY_MAX_DEPTH + 1);
	assert_int_equal(parse(s, strlen(s)), PV_E_JSON);
	free(s);
	s = nested(100);
	assert_int_equal(parse(s, strlen(s)), PV_E_JSON);
	free(s);
	/* brackets inside strings are data, not nesting */
	assert_int_equal(PARSE("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}"), PV_OK);
	/* arrays count too: {"a":[[[...]]]} with 40 levels of arrays */
	s = malloc(128);
	assert_non_null(s);
	strcpy(s, "{\"a\":");
	memset(s + 5, '[', 40);
	memset(s + 45, ']', 40);
	strcpy(s + 85, "}");
	assert_int_equal(parse(s, strlen(s)), PV_E_JSON);
	free(s);
}

static void
test_body_string(void **state)
{
	struct http_request req;
	const char *v = (const char *)1;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.arena = arena_new(0);
	assert_int_equal(http_parse_body("{\"user\":\"alice\",\"n\":3,\"e\":\"\"}", 29, &req.body), PV_OK);

	assert_int_equal(http_body_string(&req, "user", true, 64, &v), PV_OK);
	assert_string_equal(v, "alice");
	assert_int_equal(http_body_string(&req, "user", true, 3, &v), PV_E_INVALID);
	assert_non_null(strstr(req.err_message, "\"user\""));
	assert_null(strstr(req.err_message, "alice"));   /* never echo the value */
	assert_int_equal(http_body_string(&req, "n", true, 0, &v), PV_E_INVALID);
	assert_non_null(strstr(req.err_message, "must be a string"));
	assert_int_equal(http_body_string(&req, "missing", true, 0, &v), PV_E_INVALID);
	assert_non_null(strstr(req.err_message, "\"missing\" is required"));
	assert_int_equal(http_body_string(&req, "e", true, 0, &v), PV_E_INVALID);
	assert_int_equal(http_body_string(&req, "missing", false, 0, &v), PV_OK);
	assert_null(v);

	json_decref(req.body);
	arena_free(req.arena);
}

static void
test_body_only(void **state)
{
	static const char *const allowed[] = { "user", "n", NULL };
	const char *ok = "{\"user\":\"alice\",\"n\":3}";
	const char *named = "{\"user\":\"alice\",\"nick\":\"al\"}";
	const char *pasted = "{\"user\":\"alice\",\"123-45-6789\":1}";
	struct http_request req;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.arena = arena_new(0);
	assert_int_equal(http_parse_body(ok, strlen(ok), &req.body), PV_OK);
	assert_int_equal(http_body_only(&req, allowed), PV_OK);
	json_decref(req.body);

	/* an unknown key that looks like a field name is named */
	assert_int_equal(http_parse_body(named, strlen(named), &req.body), PV_OK);
	assert_int_equal(http_body_only(&req, allowed), PV_E_INVALID);
	assert_non_null(strstr(req.err_message, "\"nick\""));
	json_decref(req.body);

	/* anything else (a value pasted as a key) is never echoed */
	assert_int_equal(http_parse_body(pasted, strlen(pasted), &req.body), PV_OK);
	assert_int_equal(http_body_only(&req, allowed), PV_E_INVALID);
	assert_string_equal(req.err_message, "unknown field in the request body");
	json_decref(req.body);
	arena_free(req.arena);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_accepted),
		cmocka_unit_test(test_non_objects_refused),
		cmocka_unit_test(test_garbage_refused),
		cmocka_unit_test(test_duplicate_keys_refused),
		cmocka_unit_test(test_nul_refused),
		cmocka_unit_test(test_invalid_utf8_refused),
		cmocka_unit_test(test_depth_bounded),
		cmocka_unit_test(test_body_string),
		cmocka_unit_test(test_body_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
