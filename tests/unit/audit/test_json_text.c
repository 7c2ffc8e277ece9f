/*
 * test_json_text (audit): audit_json_text writes exactly the bytes of
 * json_dumpb(JSON_COMPACT | JSON_SORT_KEYS), which the chain hashes (an
 * entry's actor and detail): compared on every kind of value (escapes and
 * every control character, UTF-8 of 2 to 4 bytes, a NUL inside a string and
 * a key, keys that are prefixes of each other, integers at their limits,
 * reals, literals, nesting, empty containers, a text over the 1 KiB stack
 * buffer); the bound (PV_E_INVALID past max, exactly max accepted); what it
 * leaves to jansson (PV_E_UNSUPPORTED: more than 64 members, deeper than 32,
 * a scalar); and audit_prepare's detail with it equals jansson's text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"
#include "audit/audit_int.h"

static void same_as_jansson(json_t *j)
{
	char *mine = NULL, *theirs;
	size_t len = 0;

	assert_non_null(j);
	theirs = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(theirs);
	assert_int_equal(audit_json_text(j, SIZE_MAX, &mine, &len), PV_OK);
	if (strcmp(mine, theirs) != 0)
		fprintf(stderr, "mine:    %s\njansson: %s\n", mine, theirs);
	assert_int_equal(len, strlen(theirs));
	assert_memory_equal(mine, theirs, len + 1);
	free(mine);
	free(theirs);
	json_decref(j);
}

static void test_strings(void **state)
{
	char all[0x21 + 8];
	json_t *a;

	(void)state;
	/* every control character, and the two that are escaped above them */
	for (int c = 1; c < 0x20; c++)
		all[c - 1] = (char)c;
	memcpy(all + 0x1f, "\"\\/\x7f ok", 8);
	all[0x1f + 8] = '\0';
	a = json_array();
	json_array_append_new(a, json_string(all));
	json_array_append_new(a, json_stringn("nul\0inside", 10));
	json_array_append_new(a, json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8"));
	json_array_append_new(a, json_string(""));
	json_array_append_new(a, json_string("collections/patients/records/rec_01"));
	same_as_jansson(a);
}

static void test_keys_sorted(void **state)
{
	json_t *o = json_object();

	(void)state;
	json_object_set_new(o, "subjects", json_pack("[s,s]", "aa", "bb"));
	json_object_set_new(o, "fields", json_pack("[s,s,s]", "name", "dob", "ssn"));
	json_object_set_new(o, "unmasked", json_array());
	json_object_set_new(o, "a", json_integer(1));
	json_object_set_new(o, "ab", json_integer(2));
	json_object_set_new(o, "abc", json_integer(3));
	json_object_set_new(o, "B", json_integer(4));
	json_object_set_new(o, "\xc3\xa9t\xc3\xa9", json_true());
	json_object_set_new(o, "k\"q\\", json_false());
	json_object_setn_new(o, "x\0y", 3, json_null());
	json_object_setn_new(o, "x", 1, json_null());
	json_object_set_new(o, "", json_object());
	same_as_jansson(o);
}

static void test_numbers_and_nesting(void **state)
{
	json_t *o = json_object(), *deep = json_object(), *cur = deep;

	(void)state;
	json_object_set_new(o, "max", json_integer(INT64_MAX));
	json_object_set_new(o, "min", json_integer(INT64_MIN));
	json_object_set_new(o, "zero", json_integer(0));
	json_object_set_new(o, "reals", json_pack("[f,f,f,f,f]", 1.0, 0.1, -2.5e-300, 1e300,
	    123456789.125));
	for (int i = 0; i < 31; i++) {
		json_t *n = json_object();

		json_object_set_new(cur, "n", n);
		json_object_set_new(cur, "i", json_integer(i));
		cur = n;
	}
	json_object_set_new(o, "deep", deep);
	json_object_set_new(o, "arr", json_pack("[[],{},[1,[2,[3]]],{s:{}}]", "e"));
	same_as_jansson(o);
}

static void test_long_text(void **state)
{
	json_t *o = json_object();
	char key[16], val[200];

	(void)state;
	memset(val, 'v', sizeof val - 1);
	val[sizeof val - 1] = '\0';
	for (int i = 0; i < 60; i++) {
		snprintf(key, sizeof key, "field_%02d", 59 - i);
		json_object_set_new(o, key, json_string(val));
	}
	same_as_jansson(o);   /* about 13 KiB: past the stack buffer */
}

static void test_bound_and_fallback(void **state)
{
	json_t *o = json_pack("{s:s}", "k", "v"), *big = json_object(), *deep = json_array();
	json_t *cur = deep;
	char *t = NULL, key[16];

	(void)state;
	/* {"k":"v"} is 9 bytes */
	assert_int_equal(audit_json_text(o, 8, &t, NULL), PV_E_INVALID);
	assert_null(t);
	assert_int_equal(audit_json_text(o, 9, &t, NULL), PV_OK);
	assert_string_equal(t, "{\"k\":\"v\"}");
	free(t);
	t = NULL;
	for (int i = 0; i < 65; i++) {
		snprintf(key, sizeof key, "k%d", i);
		json_object_set_new(big, key, json_integer(i));
	}
	assert_int_equal(audit_json_text(big, SIZE_MAX, &t, NULL), PV_E_UNSUPPORTED);
	for (int i = 0; i < 40; i++) {
		json_t *n = json_array();

		json_array_append_new(cur, n);
		cur = n;
	}
	assert_int_equal(audit_json_text(deep, SIZE_MAX, &t, NULL), PV_E_UNSUPPORTED);
	assert_null(t);
	json_decref(o);
	o = json_string("scalar");
	assert_int_equal(audit_json_text(o, SIZE_MAX, &t, NULL), PV_E_UNSUPPORTED);
	json_decref(o);
	json_decref(big);
	json_decref(deep);
}

/* audit_prepare's texts are jansson's bytes, also where it falls back. */
static void test_prepare_detail(void **state)
{
	json_t *d = json_pack("{s:[s,s], s:[s], s:f, s:s}", "fields", "name", "dob",
	    "unmasked", "name", "score", 0.5, "note", "tab\there");
	json_t *big = json_object();
	const char *refs[1] = { "3b1f0c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c" };
	struct audit_event ev = {
		.actor = { .user_id = "usr_x", .session_id = "ses_\"q\"", .source = "127.0.0.1" },
		.action = "record.read",
		.resource = "collections/patients/records/rec_1",
		.purpose_of_use = "TREAT",
		.outcome = AUDIT_ALLOWED,
		.detail_obj = d,
		.subjects = refs,
		.nsubjects = 1,
	};
	struct audit_prepared p;
	json_t *want = json_deep_copy(d);
	char *w, key[16];

	(void)state;
	json_object_set_new(want, "subjects", json_pack("[s]", refs[0]));
	w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.detail, w);
	assert_string_equal(p.actor,
	    "{\"session_id\":\"ses_\\\"q\\\"\",\"source\":\"127.0.0.1\",\"user_id\":\"usr_x\"}");
	audit_prepared_clear(&p);
	free(w);
	json_decref(want);
	/* 70 members: jansson writes it, the same way */
	for (int i = 0; i < 70; i++) {
		snprintf(key, sizeof key, "m%02d", 69 - i);
		json_object_set_new(big, key, json_integer(i));
	}
	ev.detail_obj = big;
	ev.subjects = NULL;
	ev.nsubjects = 0;
	w = json_dumps(big, JSON_COMPACT | JSON_SORT_KEYS);
	assert_int_equal(audit_prepare(&ev, &p), PV_OK);
	assert_string_equal(p.detail, w);
	audit_prepared_clear(&p);
	free(w);
	json_decref(big);
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_keys_sorted),
		cmocka_unit_test(test_numbers_and_nesting),
		cmocka_unit_test(test_long_text),
		cmocka_unit_test(test_bound_and_fallback),
		cmocka_unit_test(test_prepare_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
