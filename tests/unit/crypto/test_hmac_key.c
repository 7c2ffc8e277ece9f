/*
 * test_hmac_key: HMAC-SHA256 under a kept key (crypto_hmac_key_*,
 * hmac_key.c). RFC 4231 test cases 1-7 (keys shorter than the output,
 * of the block size and longer than it, which is hashed first), each MAC'd
 * twice through one key object; the same bytes as crypto_hmac_sha256 for
 * key lengths 0..130 and message lengths across the SHA-256 padding
 * boundaries; threads sharing one key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/hexvec.h"

#define AA20 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AA131 AA20 AA20 AA20 AA20 AA20 AA20 "aaaaaaaaaaaaaaaaaaaaaa"
#define DD50 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"dddddddddddddddddddddddddddddd"
#define CD50 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd" \
	"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"

static int
setup(void **state)
{
	(void)state;
	return crypto_init() == PV_OK ? 0 : -1;
}

static void
check(const char *key_hex, const void *msg, size_t msglen, const char *mac_hex)
{
	size_t keylen, maclen;
	uint8_t *key = hexvec(key_hex, &keylen), *want = hexvec(mac_hex, &maclen);
	uint8_t out[CRYPTO_SHA256_LEN];
	struct crypto_hmac_key *hk;

	assert_int_equal(crypto_hmac_key_new(key, keylen, &hk), PV_OK);
	for (int r = 0; r < 2; r++) {
		memset(out, 0, sizeof(out));
		assert_int_equal(crypto_hmac_key_sha256(hk, msg, msglen, out), PV_OK);
		assert_memory_equal(out, want, maclen);   /* maclen 16: RFC 4231 §4.6 */
	}
	crypto_hmac_key_free(hk);
	free(key);
	free(want);
}

static void
check_hexmsg(const char *key_hex, const char *msg_hex, const char *mac_hex)
{
	size_t msglen;
	uint8_t *msg = hexvec(msg_hex, &msglen);

	check(key_hex, msg, msglen, mac_hex);
	free(msg);
}

static void
test_rfc4231(void **state)
{
	static const char msg7[] =
	    "This is a test using a larger than block-size key and a larger t"
	    "han block-size data. The key needs to be hashed before being use"
	    "d by the HMAC algorithm.";
	static const char msg6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
	size_t n;
	uint8_t *k;

	(void)state;
	k = hexvec(AA131, &n);
	assert_int_equal(n, 131);
	free(k);
	k = hexvec(DD50, &n);
	assert_int_equal(n, 50);
	free(k);
	k = hexvec(CD50, &n);
	assert_int_equal(n, 50);
	free(k);
	check("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	check("4a656665", "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	check_hexmsg(AA20, DD50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
	check_hexmsg("0102030405060708090a0b0c0d0e0f10111213141516171819", CD50,
	    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
	check("0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", "Test With Truncation", 20,
	    "a3b6167473100ee06e0c796c2955552b");
	check(AA131, msg6, strlen(msg6),
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	assert_int_equal(strlen(msg7), 152);
	check(AA131, msg7, strlen(msg7),
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* The bytes of crypto_hmac_sha256 for every key length 0..130 (empty, short,
 * exactly the 64-byte block, longer) and message lengths 0..200 (across the
 * 55/56 and 64-byte padding boundaries), the message NULL when empty. */
static void
test_same_as_hmac(void **state)
{
	uint8_t key[130], msg[200], a[32], b[32];

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), PV_OK);
	assert_int_equal(crypto_random(msg, sizeof(msg)), PV_OK);
	for (size_t kl = 0; kl <= sizeof(key); kl++) {
		struct crypto_hmac_key *hk;

		assert_int_equal(crypto_hmac_key_new(kl > 0 ? key : NULL, kl, &hk), PV_OK);
		for (size_t ml = 0; ml <= sizeof(msg); ml += (kl % 7) + 1) {
			const uint8_t *m = ml > 0 ? msg : NULL;

			assert_int_equal(crypto_hmac_sha256(key, kl, m, ml, a), PV_OK);
			assert_int_equal(crypto_hmac_key_sha256(hk, m, ml, b), PV_OK);
			assert_memory_equal(a, b, sizeof(a));
		}
		crypto_hmac_key_free(hk);
	}
	assert_int_equal(crypto_hmac_key_new(NULL, 3, NULL), PV_E_INVALID);
	assert_int_equal(crypto_hmac_key_sha256(NULL, msg, 1, a), PV_E_INVALID);
	crypto_hmac_key_free(NULL);
}

#define NTHREADS 4
static struct crypto_hmac_key *shared;
static uint8_t shared_key[32];

static void *
worker(void *arg)
{
	uint8_t msg[40], a[32], b[32];

	for (int r = 0; r < 500; r++) {
		memset(msg, (int)((uintptr_t)arg * 7 + (uintptr_t)r), sizeof(msg));
		if (crypto_hmac_key_sha256(shared, msg, (size_t)r % sizeof(msg), a) != PV_OK ||
		    crypto_hmac_sha256(shared_key, sizeof(shared_key), msg, (size_t)r % sizeof(msg),
		    b) != PV_OK || memcmp(a, b, sizeof(a)) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[NTHREADS];

	(void)state;
	assert_int_equal(crypto_random(shared_key, sizeof(shared_key)), PV_OK);
	assert_int_equal(crypto_hmac_key_new(shared_key, sizeof(shared_key), &shared), PV_OK);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *res = (void *)1;

		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	crypto_hmac_key_free(shared);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4231),
		cmocka_unit_test(test_same_as_hmac),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
