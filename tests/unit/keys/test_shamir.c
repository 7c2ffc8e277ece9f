/*
 * Unit tests for src/keys/shamir.c: GF(2^8) arithmetic against FIPS-197
 * §4.2 values, Shamir split/combine, and the share text format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "keys/keys_int.h"
#include "util/util.h"

static int
setup(void **state)
{
	(void)state;
	return crypto_init() == PV_OK ? 0 : -1;
}

/* ---- GF(2^8) ---- */

static void
test_gf_known_products(void **state)
{
	(void)state;
	/* FIPS-197 §4.2: {57} . {83} = {c1}; §4.2.1: {57} . {13} = {fe} */
	assert_int_equal(keys_gf256_mul(0x57, 0x83), 0xC1);
	assert_int_equal(keys_gf256_mul(0x83, 0x57), 0xC1);
	assert_int_equal(keys_gf256_mul(0x57, 0x13), 0xFE);
	/* FIPS-197 §4.2: {53} and {ca} are inverses */
	assert_int_equal(keys_gf256_mul(0x53, 0xCA), 0x01);
	assert_int_equal(keys_gf256_inv(0x53), 0xCA);
	assert_int_equal(keys_gf256_inv(0xCA), 0x53);
	/* xtime chain of §4.2.1: {57}.{02} = {ae}, .{04} = {47}, .{08} = {8e}, .{10} = {07} */
	assert_int_equal(keys_gf256_mul(0x57, 0x02), 0xAE);
	assert_int_equal(keys_gf256_mul(0x57, 0x04), 0x47);
	assert_int_equal(keys_gf256_mul(0x57, 0x08), 0x8E);
	assert_int_equal(keys_gf256_mul(0x57, 0x10), 0x07);
	assert_int_equal(keys_gf256_mul(0x00, 0x9A), 0x00);
	assert_int_equal(keys_gf256_mul(0x01, 0x9A), 0x9A);
}

static void
test_gf_inverse_all(void **state)
{
	unsigned a;

	(void)state;
	for (a = 1; a < 256; a++)
		assert_int_equal(keys_gf256_mul((uint8_t)a, keys_gf256_inv((uint8_t)a)), 1);
}

static void
test_gf_distributive(void **state)
{
	unsigned a, b;

	(void)state;
	/* a.(b ^ c) == a.b ^ a.c for a sample of c, every a and b */
	for (a = 0; a < 256; a++)
		for (b = 0; b < 256; b++) {
			uint8_t c = (uint8_t)(a * 7 + b * 13 + 1);

			assert_int_equal(keys_gf256_mul((uint8_t)a, (uint8_t)(b ^ c)),
			    keys_gf256_mul((uint8_t)a, (uint8_t)b) ^ keys_gf256_mul((uint8_t)a, c));
		}
}

/* ---- split / combine ---- */

static void
random_secret(uint8_t s[KEYS_SHAMIR_SECRET_LEN])
{
	assert_int_equal(crypto_random(s, KEYS_SHAMIR_SECRET_LEN), PV_OK);
}

static void
round_trip(int k, int n)
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN], got[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share shares[255], pick[255];
	int i;

	random_secret(secret);
	assert_int_equal(keys_shamir_split(secret, k, n, shares), PV_OK);
	for (i = 0; i < n; i++) {
		assert_int_equal(shares[i].x, i + 1);
		assert_int_equal(shares[i].threshold, k);
	}
	/* first k */
	assert_int_equal(keys_shamir_combine(shares, k, got), PV_OK);
	assert_memory_equal(got, secret, sizeof(secret));
	/* last k, in reverse order */
	for (i = 0; i < k; i++)
		pick[i] = shares[n - 1 - i];
	memset(got, 0, sizeof(got));
	assert_int_equal(keys_shamir_combine(pick, k, got), PV_OK);
	assert_memory_equal(got, secret, sizeof(secret));
}

static void
test_split_combine_round_trip(void **state)
{
	(void)state;
	round_trip(1, 1);
	round_trip(2, 3);
	round_trip(3, 5);
	round_trip(5, 5);
	round_trip(2, 255);
}

static void
test_every_subset_3_of_5(void **state)
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN], got[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share shares[5], pick[3];
	int a, b, c, count = 0;

	(void)state;
	random_secret(secret);
	assert_int_equal(keys_shamir_split(secret, 3, 5, shares), PV_OK);
	for (a = 0; a < 5; a++)
		for (b = a + 1; b < 5; b++)
			for (c = b + 1; c < 5; c++) {
				pick[0] = shares[c];
				pick[1] = shares[a];
				pick[2] = shares[b];
				memset(got, 0, sizeof(got));
				assert_int_equal(keys_shamir_combine(pick, 3, got), PV_OK);
				assert_memory_equal(got, secret, sizeof(secret));
				count++;
			}
	assert_int_equal(count, 10);
}

static void
test_fewer_than_k_do_not_recover(void **state)
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN], got[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share shares[5];
	int a, b;

	(void)state;
	random_secret(secret);
	assert_int_equal(keys_shamir_split(secret, 3, 5, shares), PV_OK);
	/* every pair of a 3-of-5, interpolated as if K were 2 */
	for (a = 0; a < 5; a++)
		for (b = a + 1; b < 5; b++) {
			struct keys_share pair[2] = { shares[a], shares[b] };

			assert_int_equal(keys_shamir_combine(pair, 2, got), PV_OK);
			assert_memory_not_equal(got, secret, sizeof(secret));
		}
	/* a single share of a 2-of-3 is not the secret */
	assert_int_equal(keys_shamir_split(secret, 2, 3, shares), PV_OK);
	assert_int_equal(keys_shamir_combine(shares, 1, got), PV_OK);
	assert_memory_not_equal(got, secret, sizeof(secret));
	assert_memory_not_equal(shares[0].y, secret, sizeof(secret));
}

static void
test_split_fresh_randomness(void **state)
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share a[3], b[3];

	(void)state;
	random_secret(secret);
	assert_int_equal(keys_shamir_split(secret, 2, 3, a), PV_OK);
	assert_int_equal(keys_shamir_split(secret, 2, 3, b), PV_OK);
	assert_memory_not_equal(a[0].y, b[0].y, sizeof(a[0].y));
}

static void
test_split_combine_bad_args(void **state)
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN] = { 1 }, got[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share shares[5];

	(void)state;
	assert_int_equal(keys_shamir_split(secret, 0, 3, shares), PV_E_INVALID);
	assert_int_equal(keys_shamir_split(secret, 4, 3, shares), PV_E_INVALID);
	assert_int_equal(keys_shamir_split(secret, 2, 256, shares), PV_E_INVALID);
	assert_int_equal(keys_shamir_split(secret, 3, 5, shares), PV_OK);
	/* repeated x */
	shares[1] = shares[0];
	assert_int_equal(keys_shamir_combine(shares, 3, got), PV_E_SHARE);
	/* x = 0 */
	assert_int_equal(keys_shamir_split(secret, 3, 5, shares), PV_OK);
	shares[2].x = 0;
	assert_int_equal(keys_shamir_combine(shares, 3, got), PV_E_SHARE);
}

/* ---- share text ---- */

static void
make_share_text(int k, struct keys_share *sh, char text[KEYS_SHARE_TEXT_LEN + 1])
{
	uint8_t secret[KEYS_SHAMIR_SECRET_LEN];
	struct keys_share shares[5];

	random_secret(secret);
	assert_int_equal(keys_shamir_split(secret, k, 5, shares), PV_OK);
	*sh = shares[1];
	assert_int_equal(keys_share_encode(sh, text), PV_OK);
}

static void
test_share_text_round_trip(void **state)
{
	char text[KEYS_SHARE_TEXT_LEN + 1], buf[256];
	struct keys_share sh, got;
	size_t i;

	(void)state;
	make_share_text(3, &sh, text);
	assert_int_equal(strlen(text), 81);
	assert_true(strncmp(text, "pvs1:", 5) == 0);
	for (i = 5; i < strlen(text); i++)
		assert_non_null(strchr("0123456789abcdef", text[i]));
	/* x | K leading the hex */
	assert_true(strncmp(text + 5, "0203", 4) == 0);

	memset(&got, 0, sizeof(got));
	assert_int_equal(keys_share_parse(text, 3, &got), PV_OK);
	assert_memory_equal(&got, &sh, sizeof(sh));

	/* as read from stdin or pasted */
	snprintf(buf, sizeof(buf), "%s\n", text);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_OK);
	snprintf(buf, sizeof(buf), "  \t%s \r\n", text);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_OK);
	assert_memory_equal(&got, &sh, sizeof(sh));
	/* hex digits in upper case (retyped) still decode to the same bytes */
	snprintf(buf, sizeof(buf), "%s", text);
	for (i = 5; buf[i]; i++)
		if (buf[i] >= 'a' && buf[i] <= 'f')
			buf[i] = (char)(buf[i] - 'a' + 'A');
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_OK);
	assert_memory_equal(&got, &sh, sizeof(sh));
}

static void
test_share_parse_rejects(void **state)
{
	char text[KEYS_SHARE_TEXT_LEN + 1], buf[256];
	struct keys_share sh, got, untouched;
	int i;

	(void)state;
	make_share_text(3, &sh, text);
	memset(&untouched, 0xAB, sizeof(untouched));
	got = untouched;

	/* wrong length: one digit short, one too many, empty, NULL */
	snprintf(buf, sizeof(buf), "%.*s", (int)KEYS_SHARE_TEXT_LEN - 1, text);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	snprintf(buf, sizeof(buf), "%s0", text);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	snprintf(buf, sizeof(buf), "%s%s", text, text);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	assert_int_equal(keys_share_parse("", 3, &got), PV_E_SHARE);
	assert_int_equal(keys_share_parse("\n", 3, &got), PV_E_SHARE);
	assert_int_equal(keys_share_parse(NULL, 3, &got), PV_E_SHARE);

	/* whitespace inside the share */
	snprintf(buf, sizeof(buf), "%.40s %s", text, text + 41);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);

	/* wrong prefix */
	snprintf(buf, sizeof(buf), "pvs2:%s", text + 5);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	snprintf(buf, sizeof(buf), "PVS1:%s", text + 5);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);

	/* non-hex in each position class */
	for (i = 5; i < (int)KEYS_SHARE_TEXT_LEN; i += 7) {
		snprintf(buf, sizeof(buf), "%s", text);
		buf[i] = 'g';
		assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
		buf[i] = ':';
		assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
		buf[i] = (char)0xC3;
		assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	}

	/* bad checksum: a changed y digit, and a changed checksum digit */
	snprintf(buf, sizeof(buf), "%s", text);
	buf[20] = buf[20] == '0' ? '1' : '0';
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);
	snprintf(buf, sizeof(buf), "%s", text);
	buf[KEYS_SHARE_TEXT_LEN - 1] = buf[KEYS_SHARE_TEXT_LEN - 1] == '0' ? '1' : '0';
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);

	/* wrong threshold for this seal */
	assert_int_equal(keys_share_parse(text, 2, &got), PV_E_SHARE);
	assert_int_equal(keys_share_parse(text, 4, &got), PV_E_SHARE);

	/* x = 0 with a valid checksum */
	sh.x = 0;
	assert_int_equal(keys_share_encode(&sh, buf), PV_OK);
	assert_int_equal(keys_share_parse(buf, 3, &got), PV_E_SHARE);

	/* nothing was written on any failure */
	assert_memory_equal(&got, &untouched, sizeof(got));
}

/* ---- constant-time hex ---- */

static void
test_hex_ct(void **state)
{
	uint8_t all[256], back[256];
	char a[513], b[513], in[3];
	unsigned c;

	(void)state;
	for (c = 0; c < 256; c++)
		all[c] = (uint8_t)c;
	keys_hex_encode_ct(all, sizeof(all), a);
	util_hex_encode(all, sizeof(all), b);
	assert_string_equal(a, b);
	assert_int_equal(keys_hex_decode_ct(a, strlen(a), back, sizeof(back)), 0);
	assert_memory_equal(back, all, sizeof(all));

	/* every character: valid exactly when it is a hex digit */
	for (c = 1; c < 256; c++) {
		uint8_t out;
		bool hex = strchr("0123456789abcdefABCDEF", (int)c) != NULL;

		in[0] = '0';
		in[1] = (char)c;
		in[2] = '\0';
		assert_int_equal(keys_hex_decode_ct(in, 2, &out, 1), hex ? 0 : -1);
		if (hex)
			assert_int_equal(out, (uint8_t)strtoul(in, NULL, 16));
		in[0] = (char)c;
		in[1] = 'f';
		assert_int_equal(keys_hex_decode_ct(in, 2, &out, 1), hex ? 0 : -1);
	}
	assert_int_equal(keys_hex_decode_ct("abc", 3, back, 1), -1);
}

/* The commitment binds salt, x, K and every byte of y; layout checked by hand. */
static void
test_share_commit(void **state)
{
	struct keys_share sh = { .x = 3, .threshold = 2 }, t;
	uint8_t salt[KEYS_COMMIT_SALT_LEN], h[32], h2[32], buf[24 + 16 + 2 + 32];

	(void)state;
	for (int i = 0; i < 16; i++)
		salt[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 32; i++)
		sh.y[i] = (uint8_t)i;
	assert_int_equal(keys_share_commit(salt, &sh, h), PV_OK);
	memcpy(buf, "phivault-share-commit-v1", 24);
	memcpy(buf + 24, salt, 16);
	buf[40] = 3;
	buf[41] = 2;
	memcpy(buf + 42, sh.y, 32);
	assert_int_equal(crypto_sha256(buf, sizeof(buf), h2), PV_OK);
	assert_memory_equal(h, h2, 32);
	t = sh;
	t.x = 4;
	assert_int_equal(keys_share_commit(salt, &t, h2), PV_OK);
	assert_memory_not_equal(h, h2, 32);
	t = sh;
	t.threshold = 3;
	assert_int_equal(keys_share_commit(salt, &t, h2), PV_OK);
	assert_memory_not_equal(h, h2, 32);
	t = sh;
	t.y[31] ^= 1;
	assert_int_equal(keys_share_commit(salt, &t, h2), PV_OK);
	assert_memory_not_equal(h, h2, 32);
	salt[0] ^= 1;
	assert_int_equal(keys_share_commit(salt, &sh, h2), PV_OK);
	assert_memory_not_equal(h, h2, 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gf_known_products),
		cmocka_unit_test(test_gf_inverse_all),
		cmocka_unit_test(test_gf_distributive),
		cmocka_unit_test(test_split_combine_round_trip),
		cmocka_unit_test(test_every_subset_3_of_5),
		cmocka_unit_test(test_fewer_than_k_do_not_recover),
		cmocka_unit_test(test_split_fresh_randomness),
		cmocka_unit_test(test_split_combine_bad_args),
		cmocka_unit_test(test_share_text_round_trip),
		cmocka_unit_test(test_share_parse_rejects),
		cmocka_unit_test(test_hex_ct),
		cmocka_unit_test(test_share_commit),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
