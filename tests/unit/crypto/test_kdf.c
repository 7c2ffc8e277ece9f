/*
 * test_kdf: HKDF-SHA256 (RFC 5869 Appendix A.1-A.3), HMAC-SHA256 (RFC 4231
 * §4.2-4.8), HMAC-SHA1 (RFC 2202 §3; RFC 4226 Appendix D, the HOTP/TOTP
 * inputs authn uses) and SHA-256 (FIPS 180-2 Appendix B.1, B.2 and the empty
 * message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/hexvec.h"

static void
check_hkdf(const char *ikm_hex, const char *salt_hex, const char *info_hex,
    const char *okm_hex)
{
	size_t ikmlen, saltlen, infolen, okmlen;
	uint8_t *ikm = hexvec(ikm_hex, &ikmlen);
	uint8_t *salt = hexvec(salt_hex, &saltlen);
	uint8_t *info = hexvec(info_hex, &infolen);
	uint8_t *okm = hexvec(okm_hex, &okmlen);
	uint8_t out[128];

	assert_true(okmlen <= sizeof(out));
	assert_int_equal(crypto_hkdf_sha256(salt, saltlen, ikm, ikmlen, info, infolen,
	    out, okmlen), PV_OK);
	assert_memory_equal(out, okm, okmlen);
	free(ikm);
	free(salt);
	free(info);
	free(okm);
}

/* RFC 5869 A.1: basic test case with SHA-256, L = 42. */
static void
test_hkdf_rfc5869_1(void **state)
{
	(void)state;
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
	    "000102030405060708090a0b0c",
	    "f0f1f2f3f4f5f6f7f8f9",
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	    "34007208d5b887185865");
}

/* RFC 5869 A.2: longer inputs/outputs, L = 82. */
static void
test_hkdf_rfc5869_2(void **state)
{
	(void)state;
	check_hkdf("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	    "404142434445464748494a4b4c4d4e4f",
	    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	    "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
	    "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
	    "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	    "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
	    "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
	    "cc30c58179ec3e87c14c01d5c1f3434f1d87");
}

/* RFC 5869 A.3: zero-length salt and info, L = 42. */
static void
test_hkdf_rfc5869_3(void **state)
{
	static const char okm[] =
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8";
	size_t ikmlen, okmlen;
	uint8_t *ikm, *want;
	uint8_t out[42];

	(void)state;
	check_hkdf("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "", okm);
	/* An absent (NULL) salt is the same as an empty one (RFC 5869 §2.2). */
	ikm = hexvec("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", &ikmlen);
	want = hexvec(okm, &okmlen);
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, ikmlen, NULL, 0, out,
	    sizeof(out)), PV_OK);
	assert_memory_equal(out, want, sizeof(out));
	free(ikm);
	free(want);
}

static void
test_hkdf_limits(void **state)
{
	static uint8_t out[255 * 32 + 1];
	const uint8_t ikm[32] = { 1 };

	(void)state;
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out,
	    255 * 32), PV_OK);
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out,
	    255 * 32 + 1), PV_E_INVALID);
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, out, 0),
	    PV_E_INVALID);
}

/* Different info gives unrelated keys (the per-purpose MAC keys rely on it). */
static void
test_hkdf_info_separates(void **state)
{
	const uint8_t ikm[32] = { 7 };
	uint8_t a[32], b[32];

	(void)state;
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm),
	    (const uint8_t *)"blind-index:email", 17, a, sizeof(a)), PV_OK);
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm),
	    (const uint8_t *)"blind-index:ssn", 15, b, sizeof(b)), PV_OK);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void
check_hmac256(const char *key_hex, const void *msg, size_t msglen,
    const char *mac_hex)
{
	size_t keylen, maclen;
	uint8_t *key = hexvec(key_hex, &keylen);
	uint8_t *want = hexvec(mac_hex, &maclen);
	uint8_t out[CRYPTO_SHA256_LEN];

	assert_true(maclen <= sizeof(out));
	assert_int_equal(crypto_hmac_sha256(key, keylen, msg, msglen, out), PV_OK);
	assert_memory_equal(out, want, maclen);   /* maclen 16: RFC 4231 §4.6 */
	free(key);
	free(want);
}

static void
check_hmac256_hexmsg(const char *key_hex, const char *msg_hex, const char *mac_hex)
{
	size_t msglen;
	uint8_t *msg = hexvec(msg_hex, &msglen);

	check_hmac256(key_hex, msg, msglen, mac_hex);
	free(msg);
}

#define AA20 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AA131 AA20 AA20 AA20 AA20 AA20 AA20 "aaaaaaaaaaaaaaaaaaaaaa"
#define DD50 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define CD50 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

static void
test_hmac_sha256_rfc4231(void **state)
{
	static const char msg7[] =
	    "This is a test using a larger than block-size key and a larger t"
	    "han block-size data. The key needs to be hashed before being use"
	    "d by the HMAC algorithm.";
	static const char msg6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	size_t n;
	uint8_t *k;

	(void)state;
	/* Guard the repeated-byte macros against a miscount. */
	k = hexvec(AA131, &n);
	assert_int_equal(n, 131);
	free(k);
	k = hexvec(DD50, &n);
	assert_int_equal(n, 50);
	free(k);
	k = hexvec(CD50, &n);
	assert_int_equal(n, 50);
	free(k);

	/* 4.2 Test Case 1 */
	check_hmac256("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* 4.3 Test Case 2: key shorter than the output */
	check_hmac256("4a656665", "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* 4.4 Test Case 3 */
	check_hmac256_hexmsg(AA20, DD50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	/* 4.5 Test Case 4 */
	check_hmac256_hexmsg("0102030405060708090a0b0c0d0e0f10111213141516171819", CD50,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	/* 4.6 Test Case 5: truncated to 128 bits, compare the first 16 bytes */
	check_hmac256("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation", 20,
	    "a3b6167473100ee06e0c796c2955552b");
	/* 4.7 Test Case 6: key larger than the block size */
	check_hmac256(AA131, msg6, strlen(msg6),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* 4.8 Test Case 7: key and data larger than the block size */
	assert_int_equal(strlen(msg7), 152);
	check_hmac256(AA131, msg7, strlen(msg7),
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void
check_hmac1(const void *key, size_t keylen, const void *msg, size_t msglen,
    const char *mac_hex)
{
	size_t maclen;
	uint8_t *want = hexvec(mac_hex, &maclen);
	uint8_t out[20];

	assert_int_equal(maclen, 20);
	assert_int_equal(crypto_hmac_sha1(key, keylen, msg, msglen, out), PV_OK);
	assert_memory_equal(out, want, 20);
	free(want);
}

static void
test_hmac_sha1(void **state)
{
	static const uint8_t k1[20] = {
		0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
		0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	};
	static const uint8_t c0[8] = { 0 };
	static const uint8_t c1[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t k3[20], d3[50];

	(void)state;
	/* RFC 2202 §3 test cases 1-3 */
	check_hmac1(k1, sizeof(k1), "Hi There", 8,
	    "b617318655057264e28bc0b6fb378c8ef146be00");
	check_hmac1("Jefe", 4, "what do ya want for nothing?", 28,
	    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	memset(k3, 0xaa, sizeof(k3));
	memset(d3, 0xdd, sizeof(d3));
	check_hmac1(k3, sizeof(k3), d3, sizeof(d3),
	    "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
	/* RFC 4226 Appendix D: HMAC-SHA1 of counters 0 and 1 under the ASCII
	 * secret "12345678901234567890" (the RFC 6238 SHA-1 seed). */
	check_hmac1("12345678901234567890", 20, c0, sizeof(c0),
	    "cc93cf18508d94934c64b65d8ba7667fb7cde4b0");
	check_hmac1("12345678901234567890", 20, c1, sizeof(c1),
	    "75a48a19d4cbe100644e8ac1397eea747a2d33ab");
}

static void
check_sha256(const char *msg, const char *digest_hex)
{
	size_t n;
	uint8_t *want = hexvec(digest_hex, &n);
	uint8_t out[CRYPTO_SHA256_LEN];

	assert_int_equal(n, CRYPTO_SHA256_LEN);
	assert_int_equal(crypto_sha256(msg, strlen(msg), out), PV_OK);
	assert_memory_equal(out, want, n);
	free(want);
}

static void
test_sha256_fips180(void **state)
{
	uint8_t out[CRYPTO_SHA256_LEN], want[CRYPTO_SHA256_LEN];

	(void)state;
	/* FIPS 180-2 B.1: one block */
	check_sha256("abc",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* Empty message */
	check_sha256("",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* FIPS 180-2 B.2: 448-bit message, two blocks after padding */
	check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* NULL with length 0 is the empty message too. */
	assert_int_equal(crypto_sha256(NULL, 0, out), PV_OK);
	assert_int_equal(crypto_sha256("", 0, want), PV_OK);
	assert_memory_equal(out, want, sizeof(out));
}

/* sha256_2(a, b) == sha256(a || b) for every split of the message. */
static void
test_sha256_2(void **state)
{
	static const char m[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t whole[CRYPTO_SHA256_LEN], split[CRYPTO_SHA256_LEN];
	size_t n = strlen(m), i;

	(void)state;
	assert_int_equal(crypto_sha256(m, n, whole), PV_OK);
	for (i = 0; i <= n; i++) {
		assert_int_equal(crypto_sha256_2(m, i, m + i, n - i, split), PV_OK);
		assert_memory_equal(whole, split, sizeof(whole));
	}
	/* Audit-chain shape: a 32-byte previous hash then an entry. */
	assert_int_equal(crypto_sha256_2(whole, sizeof(whole), "entry", 5, split), PV_OK);
	assert_memory_not_equal(whole, split, sizeof(whole));
	/* Both parts empty: the empty message. */
	assert_int_equal(crypto_sha256_2(NULL, 0, NULL, 0, split), PV_OK);
	assert_int_equal(crypto_sha256("", 0, whole), PV_OK);
	assert_memory_equal(whole, split, sizeof(whole));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hkdf_rfc5869_1),
		cmocka_unit_test(test_hkdf_rfc5869_2),
		cmocka_unit_test(test_hkdf_rfc5869_3),
		cmocka_unit_test(test_hkdf_limits),
		cmocka_unit_test(test_hkdf_info_separates),
		cmocka_unit_test(test_hmac_sha256_rfc4231),
		cmocka_unit_test(test_hmac_sha1),
		cmocka_unit_test(test_sha256_fips180),
		cmocka_unit_test(test_sha256_2),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
