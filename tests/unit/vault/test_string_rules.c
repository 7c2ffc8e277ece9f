/*
 * The string type's two rules (valid UTF-8, no control character) and
 * which one an error names when a value breaks both: invalid UTF-8
 * anywhere is named first, wherever the control is (types.c checks both in
 * one pass since the create's CPU work, docs/performance.md "The record
 * create's CPU"); every C0 control but TAB, DEL and every C1 control is
 * refused, U+00A0 and the rest of U+0080..U+FFFF are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "vault_test.h"

static enum pv_rc norm(const char *s, size_t n, char *err, size_t errlen)
{
	struct vault_field f = vt_field("v", VAULT_TYPE_STRING);
	char out[64];
	json_t *j = json_stringn_nocheck(s, n);
	enum pv_rc rc;

	assert_non_null(j);
	err[0] = '\0';
	rc = vault_value_normalize(&f, j, out, sizeof(out), err, errlen);
	if (rc == PV_OK) {
		assert_int_equal(strlen(out), n);
		assert_memory_equal(out, s, n);
	}
	json_decref(j);
	return rc;
}

static void test_utf8_named_before_control(void **state)
{
	char err[VAULT_ERR_MAX];

	(void)state;
	assert_int_equal(norm("a\nb \xc3\x28", 7, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'v': not valid UTF-8");
	assert_int_equal(norm("\xc2\x85 \xff", 4, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'v': not valid UTF-8");
	assert_int_equal(norm("\xc3\x28 a\nb", 7, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'v': not valid UTF-8");
	assert_int_equal(norm("ok \xe2\x82", 5, err, sizeof(err)), PV_E_INVALID);   /* cut */
	assert_string_equal(err, "field 'v': not valid UTF-8");
	assert_int_equal(norm("Zo\xc3\xab a\nb", 9, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'v': contains a control character");
}

static void test_every_control(void **state)
{
	char err[VAULT_ERR_MAX], s[8];

	(void)state;
	for (int c = 0; c < 0x80; c++) {
		s[0] = 'x';
		s[1] = (char)c;
		s[2] = 'y';
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			assert_int_equal(norm(s, 3, err, sizeof(err)), PV_E_INVALID);
			assert_string_equal(err, "field 'v': contains a control character");
		} else {
			assert_int_equal(norm(s, 3, err, sizeof(err)), PV_OK);
		}
	}
	for (int c = 0x80; c < 0x800; c++) {   /* every two-byte code point */
		s[0] = (char)(0xc0 | (c >> 6));
		s[1] = (char)(0x80 | (c & 0x3f));
		if (c <= 0x9f) {
			assert_int_equal(norm(s, 2, err, sizeof(err)), PV_E_INVALID);
			assert_string_equal(err, "field 'v': contains a control character");
		} else {
			assert_int_equal(norm(s, 2, err, sizeof(err)), PV_OK);
		}
	}
	assert_int_equal(norm("\xef\xbf\xbf\xf0\x9f\x98\x80", 7, err, sizeof(err)), PV_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_named_before_control),
		cmocka_unit_test(test_every_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
