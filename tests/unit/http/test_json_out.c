/* http_json_encode: a response body is exactly the text jansson would give
 * (json_dumpb with JSON_COMPACT), so clients see no difference from the fast
 * encoder, only less CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

/* Encode v both ways and compare byte for byte; returns our text's length. */
static size_t
same_as_jansson(json_t *v)
{
	struct pv_arena *a = arena_new(256);
	char *ours = NULL, *theirs;
	size_t len = 0, n;

	assert_non_null(a);
	assert_non_null(v);
	assert_int_equal(http_json_encode(a, v, &ours, &len), PV_OK);
	n = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_true(n > 0);
	theirs = malloc(n);
	assert_non_null(theirs);
	assert_int_equal(json_dumpb(v, theirs, n, JSON_COMPACT | JSON_ENCODE_ANY), n);
	assert_int_equal(len, n);
	assert_memory_equal(ours, theirs, n);
	assert_int_equal(ours[len], '\0');
	free(theirs);
	arena_free(a);
	json_decref(v);
	return len;
}

static void
test_record_response(void **state)
{
	(void)state;
	/* the shape of GET .../records/{id}, with text that needs escapes */
	same_as_jansson(json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:s}}",
	    "id", "rec_gnyrjnwrmger2km7tr3hntd4iq", "version", 3, "fields",
	    "name", "Zebediah \"Zeb\" Quuxworth", "ssn", "***-**-6789",
	    "notes", "line one\nline two\ttabbed \\ back\\slash / slash\r\n",
	    "dob", "1961-04-12"));
}

static void
test_all_ascii_and_controls(void **state)
{
	char s[128];
	json_t *v;

	(void)state;
	for (int i = 1; i < 128; i++)
		s[i - 1] = (char)i;
	s[127] = '\0';
	v = json_object();
	assert_int_equal(json_object_set_new(v, "all", json_stringn(s, 127)), 0);
	/* a NUL inside a string is \u0000, as jansson writes it */
	assert_int_equal(json_object_set_new(v, "nul", json_stringn("a\0b", 3)), 0);
	/* keys are escaped like values */
	assert_int_equal(json_object_set_new(v, "k\"e\ny", json_true()), 0);
	same_as_jansson(v);
}

static void
test_utf8_passes_through(void **state)
{
	(void)state;
	/* 2-, 3- and 4-byte sequences, and U+2028, written as they are */
	same_as_jansson(json_pack("{s:s, s:s}", "name", "J\xc3\xa9r\xc3\xb4me \xe6\x9d\xb1 \xf0\x9f\x98\x80",
	    "sep", "a\xe2\x80\xa8" "b"));
}

static void
test_every_type(void **state)
{
	(void)state;
	same_as_jansson(json_pack("{s:n, s:b, s:b, s:I, s:I, s:I, s:f, s:f, s:[], s:{}, s:[i, [s, {}], {s:[]}]}",
	    "null", "t", 1, "f", 0, "zero", (json_int_t)0, "neg", (json_int_t)-42,
	    "big", (json_int_t)INT64_MIN, "real", 3.25, "tiny", 1e-300,
	    "ea", "eo", "nested", 1, "x", "deep", "a"));
	same_as_jansson(json_pack("[s, i]", "", 7));
	same_as_jansson(json_string("top-level string"));
	same_as_jansson(json_object());
}

static void
test_insertion_order_kept(void **state)
{
	json_t *v = json_object();

	(void)state;
	/* error bodies and records list their keys in the order handlers add them */
	assert_int_equal(json_object_set_new(v, "zeta", json_integer(1)), 0);
	assert_int_equal(json_object_set_new(v, "alpha", json_integer(2)), 0);
	assert_int_equal(json_object_set_new(v, "mid", json_integer(3)), 0);
	assert_int_equal(same_as_jansson(v), strlen("{\"zeta\":1,\"alpha\":2,\"mid\":3}"));
}

static void
test_deep_nesting_falls_back(void **state)
{
	json_t *v = json_array(), *cur = v;

	(void)state;
	for (int i = 0; i < 100; i++) {
		json_t *next = json_array();

		assert_int_equal(json_array_append_new(cur, next), 0);
		cur = next;
	}
	same_as_jansson(v);
}

static void
test_large_body(void **state)
{
	json_t *recs = json_array();

	(void)state;
	/* a batch answer: 100 records of ~1 KiB */
	for (int i = 0; i < 100; i++) {
		char notes[1000];

		memset(notes, 'x', sizeof notes - 1);
		notes[sizeof notes - 1] = '\0';
		notes[i] = '"';
		assert_int_equal(json_array_append_new(recs, json_pack("{s:i, s:s}", "status", 200,
		    "notes", notes)), 0);
	}
	assert_true(same_as_jansson(json_pack("{s:o}", "results", recs)) > 100000);
}

static void
test_bad_arguments(void **state)
{
	struct pv_arena *a = arena_new(64);
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(http_json_encode(a, NULL, &out, &len), PV_E_INVALID);
	assert_int_equal(http_json_encode(NULL, json_null(), &out, &len), PV_E_INVALID);
	assert_null(out);
	arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_response),
		cmocka_unit_test(test_all_ascii_and_controls),
		cmocka_unit_test(test_utf8_passes_through),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_insertion_order_kept),
		cmocka_unit_test(test_deep_nesting_falls_back),
		cmocka_unit_test(test_large_body),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
