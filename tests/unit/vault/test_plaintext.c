/*
 * vault_record_plaintext against jansson: the sealed text of a record is
 * json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS) byte for byte, whoever
 * writes it (record.c writes a record's shape itself, util/json_text.c its
 * strings). Every byte jansson escapes and every one it does not, multibyte
 * UTF-8 and U+0000 inside a string, integers at both ends of int64, labels,
 * keys in any order and of any length, 0 to 65 members; and the shapes
 * record.c hands to jansson (a real, a boolean, null, a nested object, a
 * non-string in the labels) give jansson's bytes too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vault_test.h"

static void assert_as_jansson(json_t *fields)
{
	char *want = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS), *got = NULL;
	size_t n = 0;

	assert_non_null(want);
	assert_int_equal(vault_record_plaintext(fields, &got, &n), PV_OK);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(got, want, n + 1);
	vault_plaintext_free(got, n);
	free(want);
}

static void test_every_byte(void **state)
{
	json_t *f = json_object();
	char s[3];

	(void)state;
	/* each ASCII byte alone, between others, and twice in a row */
	for (int c = 0; c < 0x80; c++) {
		json_t *one = json_object();

		s[0] = (char)c;
		assert_int_equal(json_object_set_new(one, "a", json_stringn(s, 1)), 0);
		assert_as_jansson(one);
		json_decref(one);
	}
	for (int c = 0; c < 0x80; c++) {
		char k[8], v[8] = { 'x', (char)c, 'y', (char)c, (char)c, 'z' };

		snprintf(k, sizeof(k), "k%03d", c);
		assert_int_equal(json_object_set_new(f, k, json_stringn(v, 6)), 0);
		if (json_object_size(f) == 60) {
			assert_as_jansson(f);
			json_object_clear(f);
		}
	}
	assert_as_jansson(f);
	json_decref(f);
}

static void test_record_shapes(void **state)
{
	json_t *f;

	(void)state;
	f = json_object();
	assert_as_jansson(f);   /* {} */
	assert_int_equal(json_object_set_new(f, "notes", json_string("Zo\xc3\xab \xe2\x82\xac "
	    "\xf0\x9f\x98\x80 \"q\" a\\b / \t\n\r\b\f \x7f end")), 0);
	assert_int_equal(json_object_set_new(f, "nul", json_stringn("a\0b", 3)), 0);
	assert_int_equal(json_object_set_new(f, "min", json_integer(INT64_MIN)), 0);
	assert_int_equal(json_object_set_new(f, "max", json_integer(INT64_MAX)), 0);
	assert_int_equal(json_object_set_new(f, "zero", json_integer(0)), 0);
	assert_int_equal(json_object_set_new(f, "empty", json_string("")), 0);
	assert_int_equal(json_object_set_new(f, "Upper", json_string("x")), 0);
	assert_int_equal(json_object_set_new(f, "a_b", json_string("x")), 0);
	assert_int_equal(json_object_set_new(f, "ab", json_string("x")), 0);
	assert_int_equal(json_object_set_new(f, "a", json_string("x")), 0);
	assert_as_jansson(f);
	assert_int_equal(json_object_set_new(f, "_labels", vt_json("[\"R\",\"psycho-therapy\"]")),
	    0);
	assert_as_jansson(f);
	assert_int_equal(json_object_set_new(f, "_labels", json_array()), 0);
	assert_as_jansson(f);
	json_decref(f);

	/* the most members a record has (64 fields and its labels), and one more */
	f = json_object();
	for (int i = 0; i < 66; i++) {
		char k[16];

		snprintf(k, sizeof(k), "f%d", (i * 37) % 66);
		assert_int_equal(json_object_set_new(f, k, i % 2 ? json_integer(i) :
		    json_string("v")), 0);
		if (i >= 63)
			assert_as_jansson(f);
	}
	json_decref(f);
}

static void test_other_shapes_are_janssons(void **state)
{
	static const char *const texts[] = {
		"{\"w\":71.5,\"a\":\"x\"}",
		"{\"b\":true,\"a\":\"x\"}",
		"{\"n\":null,\"a\":\"x\"}",
		"{\"o\":{\"z\":1,\"y\":\"\\n\"},\"a\":\"x\"}",
		"{\"_labels\":[\"R\",1],\"a\":\"x\"}",
		"{\"_labels\":[[\"R\"]],\"a\":\"x\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *f = vt_json(texts[i]);

		assert_as_jansson(f);
		json_decref(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_record_shapes),
		cmocka_unit_test(test_other_shapes_are_janssons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
