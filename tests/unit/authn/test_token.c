/*
 * test_token: session and pending-MFA bearer tokens: format, uniqueness,
 * the stored hash, and refusal of anything that was never issued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void
test_format(void **state)
{
	char tok[AUTHN_TOKEN_MAX], hash[AUTHN_HASH_HEX_MAX];
	size_t i;

	(void)state;
	assert_int_equal(authn_token_new(AUTHN_TOKEN_SESSION, tok, hash), PV_OK);
	assert_int_equal(strlen(tok), 47);
	assert_memory_equal(tok, "pvt_", 4);
	for (i = 4; i < 47; i++)
		assert_non_null(strchr(b64url, tok[i]));
	assert_int_equal(strlen(hash), 64);
	assert_int_equal(strspn(hash, "0123456789abcdef"), 64);

	assert_int_equal(authn_token_new(AUTHN_TOKEN_MFA, tok, hash), PV_OK);
	assert_memory_equal(tok, "pvm_", 4);
	assert_int_equal(strlen(tok), 47);
	assert_int_equal(authn_token_new((enum authn_token_kind)7, tok, hash), PV_E_INVALID);
}

static void
test_unique(void **state)
{
	enum { N = 2000 };
	char (*toks)[AUTHN_TOKEN_MAX] = calloc(N, AUTHN_TOKEN_MAX);
	char hash[AUTHN_HASH_HEX_MAX];
	size_t i;

	(void)state;
	assert_non_null(toks);
	for (i = 0; i < N; i++)
		assert_int_equal(authn_token_new(AUTHN_TOKEN_SESSION, toks[i], hash), PV_OK);
	qsort(toks, N, AUTHN_TOKEN_MAX, cmp_str);
	for (i = 1; i < N; i++)
		assert_string_not_equal(toks[i - 1], toks[i]);
	free(toks);
}

static void
test_hash_stable(void **state)
{
	char tok[AUTHN_TOKEN_MAX], h1[AUTHN_HASH_HEX_MAX], h2[AUTHN_HASH_HEX_MAX];

	(void)state;
	assert_int_equal(authn_token_new(AUTHN_TOKEN_SESSION, tok, h1), PV_OK);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, tok, h2), PV_OK);
	assert_string_equal(h1, h2);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, tok, h2), PV_OK);
	assert_string_equal(h1, h2);
	/* hex SHA-256 of the token text */
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION,
	    "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h2), PV_OK);
	assert_string_equal(h2, "4ceb008843061fa6443fc3b305d2abacbe18b48bc751a16b005693c7ff10fef7");
}

static void
test_malformed(void **state)
{
	char tok[AUTHN_TOKEN_MAX], hash[AUTHN_HASH_HEX_MAX], bad[128];
	char want[AUTHN_HASH_HEX_MAX];

	(void)state;
	assert_int_equal(authn_token_new(AUTHN_TOKEN_SESSION, tok, want), PV_OK);
	strcpy(hash, "untouched");
	/* a session token is not an MFA token and vice versa */
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_MFA, tok, hash), PV_E_UNAUTH);
	/* lengths */
	memcpy(bad, tok, 46);
	bad[46] = '\0';
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	snprintf(bad, sizeof(bad), "%sA", tok);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	memset(bad, 'A', 127);
	bad[127] = '\0';
	memcpy(bad, "pvt_", 4);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	/* alphabet: standard base64 and padding are not base64url */
	strcpy(bad, tok);
	bad[10] = '+';
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	bad[10] = '/';
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	strcpy(bad, tok);
	bad[46] = '=';
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	/* non-canonical last character (low 2 bits set): never issued */
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION,
	    "pvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", hash), PV_E_UNAUTH);
	/* prefix */
	strcpy(bad, tok);
	bad[0] = 'P';
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, tok + 4, hash), PV_E_UNAUTH);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, "", hash), PV_E_UNAUTH);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, NULL, hash), PV_E_UNAUTH);
	/* "Bearer " left on by a sloppy caller */
	snprintf(bad, sizeof(bad), "Bearer %s", tok);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, bad, hash), PV_E_UNAUTH);
	assert_string_equal(hash, "untouched");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_hash_stable),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
