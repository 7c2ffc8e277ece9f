/*
 * test_ed25519: RFC 8032 §7.1 TEST 1-3 (secret key, public key, message,
 * signature), refusal of tampered messages and signatures, keygen, and the
 * SubjectPublicKeyInfo PEM export.
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

struct ed_vec {
	const char *name, *secret, *public, *msg, *sig;
};

static const struct ed_vec vecs[] = {
	{ "RFC 8032 7.1 TEST 1 (empty message)",
	  "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "RFC 8032 7.1 TEST 2 (1 byte)",
	  "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "RFC 8032 7.1 TEST 3 (2 bytes)",
	  "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

struct ed_dec {
	uint8_t *sk, *pk, *msg, *sig;
	size_t sklen, pklen, msglen, siglen;
};

static void
load(const struct ed_vec *v, struct ed_dec *d)
{
	d->sk = hexvec(v->secret, &d->sklen);
	d->pk = hexvec(v->public, &d->pklen);
	d->msg = hexvec(v->msg, &d->msglen);
	d->sig = hexvec(v->sig, &d->siglen);
	assert_int_equal(d->sklen, CRYPTO_ED25519_PRIV_LEN);
	assert_int_equal(d->pklen, CRYPTO_ED25519_PUB_LEN);
	assert_int_equal(d->siglen, CRYPTO_ED25519_SIG_LEN);
}

static void
unload(struct ed_dec *d)
{
	free(d->sk);
	free(d->pk);
	free(d->msg);
	free(d->sig);
}

static void
test_rfc8032_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVECS; i++) {
		struct ed_dec d;
		uint8_t pub[CRYPTO_ED25519_PUB_LEN], sig[CRYPTO_ED25519_SIG_LEN];

		print_message("%s\n", vecs[i].name);
		load(&vecs[i], &d);
		assert_int_equal(crypto_ed25519_pub_from_priv(d.sk, pub), PV_OK);
		assert_memory_equal(pub, d.pk, sizeof(pub));
		/* Ed25519 is deterministic: the signature must match exactly. */
		assert_int_equal(crypto_ed25519_sign(d.sk, d.msg, d.msglen, sig), PV_OK);
		assert_memory_equal(sig, d.sig, sizeof(sig));
		assert_int_equal(crypto_ed25519_verify(d.pk, d.msg, d.msglen, d.sig), PV_OK);
		unload(&d);
	}
}

static void
test_tampered(void **state)
{
	size_t i, bit;

	(void)state;
	for (i = 0; i < NVECS; i++) {
		struct ed_dec d;
		uint8_t sig[CRYPTO_ED25519_SIG_LEN], msg[3];

		load(&vecs[i], &d);
		/* Every single-bit change of the signature is refused. */
		for (bit = 0; bit < sizeof(sig) * 8; bit++) {
			memcpy(sig, d.sig, sizeof(sig));
			sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(crypto_ed25519_verify(d.pk, d.msg, d.msglen, sig),
			    PV_E_INTEGRITY);
		}
		/* A changed or extended message is refused. */
		memcpy(msg, d.msg, d.msglen);
		if (d.msglen > 0) {
			msg[0] ^= 1;
			assert_int_equal(crypto_ed25519_verify(d.pk, msg, d.msglen, d.sig),
			    PV_E_INTEGRITY);
			msg[0] ^= 1;
		}
		msg[d.msglen] = 0;
		assert_int_equal(crypto_ed25519_verify(d.pk, msg, d.msglen + 1, d.sig),
		    PV_E_INTEGRITY);
		/* Another vector's key does not verify this signature. */
		{
			struct ed_dec o;

			load(&vecs[(i + 1) % NVECS], &o);
			assert_int_equal(crypto_ed25519_verify(o.pk, d.msg, d.msglen, d.sig),
			    PV_E_INTEGRITY);
			unload(&o);
		}
		unload(&d);
	}
}

static void
test_keygen_sign_verify(void **state)
{
	static const char checkpoint[] = "audit checkpoint seq=42 hash=...";
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], pub2[CRYPTO_ED25519_PUB_LEN];
	uint8_t other[CRYPTO_ED25519_PUB_LEN], sig[CRYPTO_ED25519_SIG_LEN];
	struct pv_secret *priv = NULL, *priv2 = NULL;

	(void)state;
	assert_int_equal(crypto_ed25519_keygen(pub, &priv), PV_OK);
	assert_non_null(priv);
	assert_int_equal(priv->len, CRYPTO_ED25519_PRIV_LEN);
	assert_int_equal(crypto_ed25519_pub_from_priv(priv->buf, pub2), PV_OK);
	assert_memory_equal(pub, pub2, sizeof(pub));
	assert_int_equal(crypto_ed25519_sign(priv->buf, (const uint8_t *)checkpoint,
	    strlen(checkpoint), sig), PV_OK);
	assert_int_equal(crypto_ed25519_verify(pub, (const uint8_t *)checkpoint,
	    strlen(checkpoint), sig), PV_OK);
	/* A second key is a different key. */
	assert_int_equal(crypto_ed25519_keygen(other, &priv2), PV_OK);
	assert_memory_not_equal(pub, other, sizeof(pub));
	assert_int_equal(crypto_ed25519_verify(other, (const uint8_t *)checkpoint,
	    strlen(checkpoint), sig), PV_E_INTEGRITY);
	crypto_secret_free(priv);
	crypto_secret_free(priv2);
}

static void
test_pub_pem(void **state)
{
	static const char head[] = "-----BEGIN PUBLIC KEY-----\n";
	static const char tail[] = "-----END PUBLIC KEY-----\n";
	/* RFC 8410 §10.1 SPKI prefix of an Ed25519 key, base64 of
	 * 30 2a 30 05 06 03 2b 65 70 03 21 00 = "MCowBQYDK2VwAyEA". */
	static const char spki[] = "MCowBQYDK2VwAyEA";
	struct ed_dec d;
	char *pem = NULL;
	size_t n;

	(void)state;
	load(&vecs[0], &d);
	assert_int_equal(crypto_ed25519_pub_pem(d.pk, &pem), PV_OK);
	assert_non_null(pem);
	n = strlen(pem);
	assert_true(n > sizeof(head) + sizeof(tail));
	assert_memory_equal(pem, head, strlen(head));
	assert_memory_equal(pem + strlen(head), spki, strlen(spki));
	assert_string_equal(pem + n - strlen(tail), tail);
	free(pem);
	unload(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8032_vectors),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_keygen_sign_verify),
		cmocka_unit_test(test_pub_pem),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
