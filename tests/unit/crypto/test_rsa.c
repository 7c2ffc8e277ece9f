/*
 * RSA-OAEP for BYOK (src/crypto/rsa.c), checked against an independent
 * implementation: the openssl command line encrypts to our public key PEM
 * with OAEP, SHA-256 and MGF1-SHA-256 (the command the BYOK docs give), and
 * we decrypt. Made with the other OAEP hash (SHA-1, openssl's default) or
 * with PKCS#1 v1.5 padding, the same message is refused, as is every
 * ciphertext with a flipped bit we try, a truncated one, and a foreign key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "util/util.h"

static char dir[256];
static struct pv_secret *priv;

static int
setup(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	char *pem = NULL;
	char path[512];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/rsa-XXXXXX", base && *base ? base : "/tmp");
	if (base && *base) {
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "mkdir -p %s", base);
		if (system(cmd) != 0)
			return -1;
	}
	if (mkdtemp(dir) == NULL || crypto_init() != PV_OK ||
	    crypto_rsa_keygen(&priv) != PV_OK || crypto_rsa_public_pem(priv, &pem) != PV_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/pub.pem", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(pem, f);
	fclose(f);
	free(pem);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[400];

	(void)state;
	crypto_secret_free(priv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* openssl pkeyutl -encrypt of msg with opts; returns the ciphertext length. */
static size_t
openssl_encrypt(const uint8_t *msg, size_t len, const char *opts, uint8_t *ct, size_t cap)
{
	char in[512], out[512], cmd[2048];
	FILE *f;
	size_t n;

	snprintf(in, sizeof(in), "%s/msg.bin", dir);
	snprintf(out, sizeof(out), "%s/ct.bin", dir);
	f = fopen(in, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(msg, 1, len, f), len);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl pkeyutl -encrypt -pubin -inkey %s/pub.pem %s "
	    "-in %s -out %s", dir, opts, in, out);
	assert_int_equal(system(cmd), 0);
	f = fopen(out, "rb");
	assert_non_null(f);
	n = fread(ct, 1, cap, f);
	fclose(f);
	unlink(in);
	return n;
}

#define OAEP256 "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 " \
	"-pkeyopt rsa_mgf1_md:sha256"

static void
test_public_pem(void **state)
{
	char *pem = NULL, cmd[512];

	(void)state;
	assert_int_equal(crypto_rsa_public_pem(priv, &pem), PV_OK);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----\n"));
	assert_non_null(strstr(pem, "-----END PUBLIC KEY-----\n"));
	free(pem);
	/* openssl reads it as a 3072-bit RSA key */
	snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in %s/pub.pem -noout -text | "
	    "grep -q 'Public-Key: (3072 bit)'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_openssl_round_trip(void **state)
{
	uint8_t msg[32], ct[1024];
	struct pv_secret *pt = NULL;
	size_t n;
	int round;

	(void)state;
	for (round = 0; round < 3; round++) {
		assert_int_equal(crypto_random(msg, sizeof(msg)), PV_OK);
		n = openssl_encrypt(msg, sizeof(msg), OAEP256, ct, sizeof(ct));
		assert_int_equal(n, 384);
		assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_OK);
		assert_int_equal(pt->len, sizeof(msg));
		assert_memory_equal(pt->buf, msg, sizeof(msg));
		crypto_secret_free(pt);
		pt = NULL;
	}
	/* other lengths come back as they were (the caller checks for 32) */
	n = openssl_encrypt(msg, 16, OAEP256, ct, sizeof(ct));
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_OK);
	assert_int_equal(pt->len, 16);
	crypto_secret_free(pt);
}

static void
test_refused(void **state)
{
	uint8_t msg[32], ct[1024];
	struct pv_secret *pt = NULL, *other = NULL;
	size_t n, i;

	(void)state;
	assert_int_equal(crypto_random(msg, sizeof(msg)), PV_OK);
	/* OAEP with SHA-1 (openssl's default hash) and PKCS#1 v1.5 padding */
	n = openssl_encrypt(msg, sizeof(msg), "-pkeyopt rsa_padding_mode:oaep", ct, sizeof(ct));
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_E_INTEGRITY);
	n = openssl_encrypt(msg, sizeof(msg), "-pkeyopt rsa_padding_mode:pkcs1", ct, sizeof(ct));
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_E_INTEGRITY);
	/* flipped bits anywhere in the block */
	n = openssl_encrypt(msg, sizeof(msg), OAEP256, ct, sizeof(ct));
	for (i = 0; i < n; i += 37) {
		ct[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_E_INTEGRITY);
		ct[i] ^= (uint8_t)(1u << (i % 8));
	}
	/* truncated, padded, empty */
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n - 1, &pt), PV_E_INTEGRITY);
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n + 1, &pt), PV_E_INTEGRITY);
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, 0, &pt), PV_E_INVALID);
	/* another key */
	assert_int_equal(crypto_rsa_keygen(&other), PV_OK);
	assert_int_equal(crypto_rsa_oaep_decrypt(other, ct, n, &pt), PV_E_INTEGRITY);
	crypto_secret_free(other);
	assert_null(pt);
	/* the intact one still opens */
	assert_int_equal(crypto_rsa_oaep_decrypt(priv, ct, n, &pt), PV_OK);
	crypto_secret_free(pt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_pem),
		cmocka_unit_test(test_openssl_round_trip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
