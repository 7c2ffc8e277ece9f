/*
 * Purpose of use: the X-Purpose-Of-Use codes a read or search must carry, and
 * role allow-lists of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "authz/authz.h"

static void test_codes(void **state)
{
	static const char *const ok[] = {
		"TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH", "PATRQT",
	};
	static const char *const bad[] = {
		"", "treat", "Treat", " TREAT", "TREAT ", "TREATX", "TREA", "HMARKT", "*",
		"TREAT,HPAYMT", "PATRQT\n",
	};
	unsigned bits = 0, bit;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(authz_purpose_valid(ok[i]));
		assert_int_equal(authz_purpose_parse(ok[i], &bit), PV_OK);
		assert_int_equal(bits & bit, 0);   /* one bit each */
		bits |= bit;
	}
	assert_int_equal(bits, AUTHZ_POU_ALL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bit = 12345;
		assert_false(authz_purpose_valid(bad[i]));
		assert_int_equal(authz_purpose_parse(bad[i], &bit), PV_E_PURPOSE);
		assert_int_equal(bit, 12345);
	}
	assert_false(authz_purpose_valid(NULL));
	assert_int_equal(authz_purpose_parse(NULL, &bit), PV_E_PURPOSE);
}

static void test_allow_list(void **state)
{
	unsigned set = 0;

	(void)state;
	assert_int_equal(authz_purpose_list_parse("TREAT,HPAYMT", &set), PV_OK);
	assert_int_equal(set, AUTHZ_POU_TREAT | AUTHZ_POU_HPAYMT);
	assert_true(authz_purpose_allowed(set, "TREAT"));
	assert_true(authz_purpose_allowed(set, "HPAYMT"));
	assert_false(authz_purpose_allowed(set, "HRESCH"));
	assert_false(authz_purpose_allowed(set, "ETREAT"));
	assert_false(authz_purpose_allowed(set, "treat"));
	assert_false(authz_purpose_allowed(set, NULL));

	assert_int_equal(authz_purpose_list_parse(" TREAT , ETREAT\t", &set), PV_OK);
	assert_int_equal(set, AUTHZ_POU_TREAT | AUTHZ_POU_ETREAT);
	assert_int_equal(authz_purpose_list_parse("*", &set), PV_OK);
	assert_int_equal(set, AUTHZ_POU_ALL);
	assert_true(authz_purpose_allowed(set, "PUBHLTH"));
	assert_false(authz_purpose_allowed(set, "BOGUS"));
	assert_int_equal(authz_purpose_list_parse("", &set), PV_OK);
	assert_int_equal(set, 0);
	assert_false(authz_purpose_allowed(set, "TREAT"));
	assert_int_equal(authz_purpose_list_parse("  ", &set), PV_OK);
	assert_int_equal(set, 0);

	/* refused, set untouched */
	set = 99;
	assert_int_equal(authz_purpose_list_parse("TREAT,,HPAYMT", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse("TREAT,", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse(",TREAT", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse("TREAT,bogus", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse("treat", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse("TREAT HPAYMT", &set), PV_E_INVALID);
	assert_int_equal(authz_purpose_list_parse(NULL, &set), PV_E_INVALID);
	assert_int_equal(set, 99);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_allow_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
