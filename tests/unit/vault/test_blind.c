/*
 * Blind-index input: the exact bytes that are MACed for exact-match search.
 * (The MAC itself, vault_blind_index, goes through the keyring and is
 * exercised where a keyring is set up.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vault_test.h"

static void test_input_format(void **state)
{
	uint8_t buf[VAULT_BLIND_INPUT_MAX];
	const char *expect = "phivault:bidx:v1|patients|ssn|123-45-6789";
	size_t n = 0;

	(void)state;
	assert_int_equal(vault_blind_input("patients", "ssn", "123-45-6789", buf, sizeof(buf), &n),
	    PV_OK);
	assert_int_equal(n, strlen(expect));
	assert_memory_equal(buf, expect, n);

	/* the value is last and may hold the separator */
	assert_int_equal(vault_blind_input("p", "f", "a|b", buf, sizeof(buf), &n), PV_OK);
	assert_int_equal(n, strlen("phivault:bidx:v1|p|f|a|b"));
	assert_memory_equal(buf, "phivault:bidx:v1|p|f|a|b", n);
	assert_int_equal(vault_blind_input("p", "f", "", buf, sizeof(buf), &n), PV_OK);
	assert_int_equal(n, strlen("phivault:bidx:v1|p|f|"));
}

static void test_same_value_other_field_differs(void **state)
{
	uint8_t a[VAULT_BLIND_INPUT_MAX], b[VAULT_BLIND_INPUT_MAX];
	size_t na = 0, nb = 0;

	(void)state;
	assert_int_equal(vault_blind_input("patients", "home_phone", "5550100", a, sizeof(a), &na), PV_OK);
	assert_int_equal(vault_blind_input("patients", "work_phone", "5550100", b, sizeof(b), &nb), PV_OK);
	assert_false(na == nb && memcmp(a, b, na) == 0);
}

static void test_refused(void **state)
{
	uint8_t buf[64];
	size_t n = 7;

	(void)state;
	/* names that could make the encoding ambiguous */
	assert_int_equal(vault_blind_input("p|q", "f", "v", buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_blind_input("p", "f|g", "v", buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_blind_input("p", "", "v", buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_blind_input("p", "f", NULL, buf, sizeof(buf), &n), PV_E_INVALID);
	/* too small a buffer */
	assert_int_equal(vault_blind_input("patients", "ssn", "123-45-6789", buf, 20, &n),
	    PV_E_INVALID);
	assert_int_equal(n, 7);
	/* exactly big enough */
	assert_int_equal(vault_blind_input("p", "f", "v", buf, strlen("phivault:bidx:v1|p|f|v"), &n),
	    PV_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_format),
		cmocka_unit_test(test_same_value_other_field_differs),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
