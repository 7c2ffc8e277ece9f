/*
 * test_recovery: the ten MFA recovery codes: format a user can type, the
 * stored hash, normalization of what users type, and lookup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"

static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";

static void
test_generate_format(void **state)
{
	char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX];
	char hashes[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	char h[AUTHN_HASH_HEX_MAX];
	size_t i, j;

	(void)state;
	assert_int_equal(authn_recovery_generate(codes, hashes), PV_OK);
	for (i = 0; i < AUTHN_RECOVERY_COUNT; i++) {
		assert_int_equal(strlen(codes[i]), 11);
		assert_int_equal(codes[i][5], '-');
		for (j = 0; j < 11; j++)
			if (j != 5 && strchr(alphabet, codes[i][j]) == NULL)
				fail_msg("code %zu has a character outside the alphabet", i);
		/* The stored hash is the hash of what the user will type. */
		assert_int_equal(authn_recovery_hash(codes[i], h), PV_OK);
		assert_string_equal(h, hashes[i]);
		assert_int_equal(strlen(hashes[i]), 64);
		for (j = 0; j < i; j++) {
			assert_string_not_equal(codes[i], codes[j]);
			assert_string_not_equal(hashes[i], hashes[j]);
		}
	}
}

static void
test_no_lookalikes(void **state)
{
	char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX];
	char hashes[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	bool seen[256] = { false };
	size_t r, i, j, distinct = 0;

	(void)state;
	for (r = 0; r < 100; r++) {
		assert_int_equal(authn_recovery_generate(codes, hashes), PV_OK);
		for (i = 0; i < AUTHN_RECOVERY_COUNT; i++)
			for (j = 0; j < 11; j++)
				seen[(unsigned char)codes[i][j]] = true;
	}
	/* No 0/O, 1/l/I confusion, no uppercase. */
	assert_false(seen['0'] || seen['1'] || seen['o'] || seen['l'] || seen['i']);
	for (i = 0; i < 256; i++)
		if (seen[i] && i != '-')
			distinct++;
	/* 10000 draws cover the whole 31-letter alphabet. */
	assert_int_equal(distinct, 31);
}

static void
test_hash_known(void **state)
{
	char h[AUTHN_HASH_HEX_MAX];

	(void)state;
	/* hex SHA-256("abcde23456") */
	static const char want[] =
	    "3f3ca7d0c3da794e94f9b663af89ec93566b1ec3bb117818eacf40187a0e54ab";
	assert_int_equal(authn_recovery_hash("abcde-23456", h), PV_OK);
	assert_string_equal(h, want);
	/* What users type: uppercase, no dash, spaces. */
	assert_int_equal(authn_recovery_hash("ABCDE23456", h), PV_OK);
	assert_string_equal(h, want);
	assert_int_equal(authn_recovery_hash(" abcde 23456 ", h), PV_OK);
	assert_string_equal(h, want);
	assert_int_equal(authn_recovery_hash("Abc-De2-3456", h), PV_OK);
	assert_string_equal(h, want);
}

static void
test_hash_malformed(void **state)
{
	char h[AUTHN_HASH_HEX_MAX] = "untouched";

	(void)state;
	assert_int_equal(authn_recovery_hash("abcde-2345", h), PV_E_UNAUTH);     /* 9 */
	assert_int_equal(authn_recovery_hash("abcde-234567", h), PV_E_UNAUTH);   /* 11 */
	assert_int_equal(authn_recovery_hash("abcde-2345o", h), PV_E_UNAUTH);    /* o */
	assert_int_equal(authn_recovery_hash("abcde-23451", h), PV_E_UNAUTH);    /* 1 */
	assert_int_equal(authn_recovery_hash("abcde_23456", h), PV_E_UNAUTH);
	assert_int_equal(authn_recovery_hash("", h), PV_E_UNAUTH);
	assert_int_equal(authn_recovery_hash(NULL, h), PV_E_UNAUTH);
	assert_int_equal(authn_recovery_hash("abcde-23456-------------------------------------"
	    "--------------------------", h), PV_E_UNAUTH);                      /* too long */
	assert_string_equal(h, "untouched");
}

static void
test_find(void **state)
{
	char codes[AUTHN_RECOVERY_COUNT][AUTHN_RECOVERY_DISPLAY_MAX];
	char hashes[AUTHN_RECOVERY_COUNT][AUTHN_HASH_HEX_MAX];
	const char *list[AUTHN_RECOVERY_COUNT];
	size_t i, idx = 99;

	(void)state;
	assert_int_equal(authn_recovery_generate(codes, hashes), PV_OK);
	for (i = 0; i < AUTHN_RECOVERY_COUNT; i++)
		list[i] = hashes[i];
	assert_int_equal(authn_recovery_find(codes[7], list, AUTHN_RECOVERY_COUNT, &idx), PV_OK);
	assert_int_equal(idx, 7);
	/* Used codes are removed by the caller: gone from the list, refused. */
	list[7] = NULL;
	idx = 99;
	assert_int_equal(authn_recovery_find(codes[7], list, AUTHN_RECOVERY_COUNT, &idx),
	    PV_E_UNAUTH);
	assert_int_equal(idx, 99);
	assert_int_equal(authn_recovery_find("abcde-23456", list, AUTHN_RECOVERY_COUNT, &idx),
	    PV_E_UNAUTH);
	assert_int_equal(authn_recovery_find("garbage", list, AUTHN_RECOVERY_COUNT, &idx),
	    PV_E_UNAUTH);
	assert_int_equal(authn_recovery_find(codes[0], list, 0, &idx), PV_E_UNAUTH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_format),
		cmocka_unit_test(test_no_lookalikes),
		cmocka_unit_test(test_hash_known),
		cmocka_unit_test(test_hash_malformed),
		cmocka_unit_test(test_find),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
