/*
 * test_totp: RFC 6238 Appendix B vectors (SHA-1), the ±1 step window,
 * replay refusal, code format, the otpauth:// URI, and agreement with
 * oathtool (OATH Toolkit) when it is installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"

/* RFC 6238 Appendix B: the SHA-1 seed is the 20 ASCII bytes "1234567890"x2. */
static const uint8_t seed[] = "12345678901234567890";
#define SEED_LEN 20
#define SEED_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static const struct {
	int64_t t;
	const char *code8;
} vectors[] = {
	{ 59, "94287082" },
	{ 1111111109, "07081804" },
	{ 1111111111, "14050471" },
	{ 1234567890, "89005924" },
	{ 2000000000, "69279037" },
	{ 20000000000, "65353130" },
};
#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

static void
test_rfc6238_vectors(void **state)
{
	char code[AUTHN_TOTP_CODE_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < NVEC; i++) {
		assert_int_equal(authn_totp_code(seed, SEED_LEN, vectors[i].t / 30, 8, code), PV_OK);
		assert_string_equal(code, vectors[i].code8);
	}
}

static void
test_six_digit_truncation(void **state)
{
	char code[AUTHN_TOTP_CODE_MAX];
	size_t i;

	(void)state;
	/* 6 digits = the same 31-bit value mod 10^6: the last six of the 8. */
	for (i = 0; i < NVEC; i++) {
		assert_int_equal(authn_totp_code(seed, SEED_LEN, vectors[i].t / 30, 6, code), PV_OK);
		assert_string_equal(code, vectors[i].code8 + 2);
	}
}

static void
test_code_bad_args(void **state)
{
	char code[AUTHN_TOTP_CODE_MAX];

	(void)state;
	assert_int_equal(authn_totp_code(seed, SEED_LEN, 1, 5, code), PV_E_INVALID);
	assert_int_equal(authn_totp_code(seed, SEED_LEN, 1, 9, code), PV_E_INVALID);
	assert_int_equal(authn_totp_code(seed, 0, 1, 6, code), PV_E_INVALID);
	assert_int_equal(authn_totp_code(seed, SEED_LEN, -1, 6, code), PV_E_INVALID);
}

static void
code_at(int64_t step, char code[AUTHN_TOTP_CODE_MAX])
{
	assert_int_equal(authn_totp_code(seed, SEED_LEN, step, 6, code), PV_OK);
}

static void
test_verify_window(void **state)
{
	const int64_t now = 1111111111, step = now / 30;
	char code[AUTHN_TOTP_CODE_MAX];
	int64_t m = -7;

	(void)state;
	code_at(step, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_OK);
	assert_int_equal(m, step);
	code_at(step - 1, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_OK);
	assert_int_equal(m, step - 1);
	code_at(step + 1, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_OK);
	assert_int_equal(m, step + 1);

	m = -7;
	code_at(step - 2, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_E_UNAUTH);
	code_at(step + 2, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(m, -7);     /* untouched on failure */
}

static void
test_verify_replay(void **state)
{
	const int64_t now = 1234567890, step = now / 30;
	char code[AUTHN_TOTP_CODE_MAX];
	int64_t m = -1, last;

	(void)state;
	code_at(step, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_OK);
	last = m;
	/* The same code again, even a second later in the same step: refused. */
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now + 1, last, &m), PV_E_UNAUTH);
	/* The previous step's code, still inside the window: refused too. */
	code_at(step - 1, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, last, &m), PV_E_UNAUTH);
	/* The next step's code is fresh. */
	code_at(step + 1, code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now + 30, last, &m), PV_OK);
	assert_int_equal(m, step + 1);
}

static void
test_verify_format(void **state)
{
	const int64_t now = 1111111111;
	char code[AUTHN_TOTP_CODE_MAX], bad[16];
	int64_t m;

	(void)state;
	code_at(now / 30, code);       /* "050471" */
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code, now, -1, &m), PV_OK);
	/* 5 and 7 digits */
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, code + 1, now, -1, &m), PV_E_UNAUTH);
	snprintf(bad, sizeof(bad), "%s0", code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, bad, now, -1, &m), PV_E_UNAUTH);
	snprintf(bad, sizeof(bad), "1%s", code);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, bad, now, -1, &m), PV_E_UNAUTH);
	/* non-digits, signs, spaces */
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, "05047a", now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, " 50471", now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, "+50471", now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, "050 471", now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, "", now, -1, &m), PV_E_UNAUTH);
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, NULL, now, -1, &m), PV_E_UNAUTH);
	/* The 8-digit vector is not a 6-digit code. */
	assert_int_equal(authn_totp_verify(seed, SEED_LEN, "14050471", now, -1, &m), PV_E_UNAUTH);
	/* A different secret's code. */
	assert_int_equal(authn_totp_verify((const uint8_t *)"abcdefghijabcdefghij", 20, code, now,
	    -1, &m), PV_E_UNAUTH);
}

static void
test_secret_new(void **state)
{
	uint8_t s1[AUTHN_TOTP_SECRET_LEN], s2[AUTHN_TOTP_SECRET_LEN], dec[64];
	char b1[AUTHN_TOTP_B32_MAX], b2[AUTHN_TOTP_B32_MAX];
	size_t declen = sizeof(dec);

	(void)state;
	assert_int_equal(authn_totp_secret_new(s1, b1), PV_OK);
	assert_int_equal(authn_totp_secret_new(s2, b2), PV_OK);
	assert_int_equal(strlen(b1), 32);
	assert_string_not_equal(b1, b2);
	assert_memory_not_equal(s1, s2, sizeof(s1));
	assert_int_equal(util_b32_decode(b1, dec, &declen), 0);
	assert_int_equal(declen, AUTHN_TOTP_SECRET_LEN);
	assert_memory_equal(dec, s1, AUTHN_TOTP_SECRET_LEN);
}

static void
test_uri(void **state)
{
	char uri[AUTHN_TOTP_URI_MAX], small[40];

	(void)state;
	assert_int_equal(authn_totp_uri("alice", SEED_B32, uri, sizeof(uri)), PV_OK);
	assert_string_equal(uri, "otpauth://totp/phivault:alice?secret=" SEED_B32
	    "&issuer=phivault&algorithm=SHA1&digits=6&period=30");
	/* RFC 3986: unreserved kept, everything else percent-encoded. */
	assert_int_equal(authn_totp_uri("Dr Bob.o'Neil~x_y-z@h/1?&=:é", SEED_B32, uri, sizeof(uri)),
	    PV_OK);
	assert_string_equal(uri, "otpauth://totp/phivault:Dr%20Bob.o%27Neil~x_y-z%40h%2F1%3F%26%3D%3A%C3%A9"
	    "?secret=" SEED_B32 "&issuer=phivault&algorithm=SHA1&digits=6&period=30");
	/* bad secret, empty user, short buffer */
	assert_int_equal(authn_totp_uri("alice", "gezdgnbv", uri, sizeof(uri)), PV_E_INVALID);
	assert_int_equal(authn_totp_uri("alice", "GEZ=", uri, sizeof(uri)), PV_E_INVALID);
	assert_int_equal(authn_totp_uri("alice", "", uri, sizeof(uri)), PV_E_INVALID);
	assert_int_equal(authn_totp_uri("", SEED_B32, uri, sizeof(uri)), PV_E_INVALID);
	assert_int_equal(authn_totp_uri("alice", SEED_B32, small, sizeof(small)), PV_E_INVALID);
}

/* Cross-check with an independent implementation, if present. */
static int
oathtool_code(const char *b32, int64_t t, char out[16])
{
	char cmd[256];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "oathtool --totp=SHA1 -b %s -N @%lld 2>/dev/null", b32,
	    (long long)t);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, 16, p) == NULL) {
		pclose(p);
		return -1;
	}
	st = pclose(p);
	out[strcspn(out, "\r\n")] = '\0';
	return st == 0 ? 0 : -1;
}

static void
test_oathtool_agrees(void **state)
{
	static const int64_t times[] = { 59, 1111111109, 1700000000, 1999999999, 4102444800 };
	char mine[AUTHN_TOTP_CODE_MAX], theirs[16], b32[AUTHN_TOTP_B32_MAX];
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	size_t i, k;

	(void)state;
	if (system("command -v oathtool >/dev/null 2>&1") != 0)
		skip();
	for (k = 0; k < 4; k++) {
		const uint8_t *sec = seed;
		const char *sb = SEED_B32;

		if (k > 0) {
			assert_int_equal(authn_totp_secret_new(secret, b32), PV_OK);
			sec = secret;
			sb = b32;
		}
		for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
			assert_int_equal(oathtool_code(sb, times[i], theirs), 0);
			assert_int_equal(authn_totp_code(sec, SEED_LEN, times[i] / 30, 6, mine), PV_OK);
			assert_string_equal(mine, theirs);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_six_digit_truncation),
		cmocka_unit_test(test_code_bad_args),
		cmocka_unit_test(test_verify_window),
		cmocka_unit_test(test_verify_replay),
		cmocka_unit_test(test_verify_format),
		cmocka_unit_test(test_secret_new),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_oathtool_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
