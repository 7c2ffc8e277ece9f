/*
 * ed25519.c: Ed25519 signatures (RFC 8032 §5.1, pure mode, no context),
 * used to sign audit checkpoints.
 *
 * Invariants:
 *  - The private key is the 32-byte seed of RFC 8032 §5.1.5; keygen draws it
 *    from OpenSSL's private DRBG straight into a struct pv_secret.
 *  - EVP_PKEY objects built from a seed live for one call; EVP_PKEY_free
 *    cleanses OpenSSL's copy of the key.
 *  - verify: PV_OK only for a valid signature; PV_E_INTEGRITY for any
 *    signature that does not verify (including non-canonical S and
 *    malformed points, which OpenSSL rejects per §5.1.7); PV_E_CRYPTO
 *    only when libcrypto itself fails.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

static const void *
nonnull(const void *p)
{
	return p != NULL ? p : "";
}

static EVP_PKEY *
key_from_seed(const uint8_t priv[CRYPTO_ED25519_PRIV_LEN])
{
	return EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, priv,
	    CRYPTO_ED25519_PRIV_LEN);
}

static EVP_PKEY *
key_from_pub(const uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub,
	    CRYPTO_ED25519_PUB_LEN);
}

enum pv_rc
crypto_ed25519_pub_from_priv(const uint8_t priv[CRYPTO_ED25519_PRIV_LEN],
    uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	uint8_t buf[CRYPTO_ED25519_PUB_LEN];
	size_t n = sizeof(buf);
	EVP_PKEY *k = NULL;
	enum pv_rc rc = PV_E_CRYPTO;

	if (priv == NULL || pub == NULL)
		return PV_E_INVALID;
	k = key_from_seed(priv);
	if (k == NULL || EVP_PKEY_get_raw_public_key(k, buf, &n) != 1 ||
	    n != CRYPTO_ED25519_PUB_LEN) {
		crypto_ossl_fail("Ed25519 public key");
		goto out;
	}
	memcpy(pub, buf, sizeof(buf));
	rc = PV_OK;
out:
	EVP_PKEY_free(k);
	return rc;
}

enum pv_rc
crypto_ed25519_keygen(uint8_t pub[CRYPTO_ED25519_PUB_LEN], struct pv_secret **priv)
{
	struct pv_secret *s = NULL;
	enum pv_rc rc;

	if (pub == NULL || priv == NULL)
		return PV_E_INVALID;
	rc = crypto_secret_random(CRYPTO_ED25519_PRIV_LEN, &s);
	if (rc != PV_OK)
		goto out;
	rc = crypto_ed25519_pub_from_priv(s->buf, pub);
	if (rc != PV_OK)
		goto out;
	*priv = s;
	s = NULL;
out:
	crypto_secret_free(s);
	return rc;
}

enum pv_rc
crypto_ed25519_sign(const uint8_t priv[CRYPTO_ED25519_PRIV_LEN],
    const uint8_t *msg, size_t len, uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	uint8_t buf[CRYPTO_ED25519_SIG_LEN];
	size_t n = sizeof(buf);
	EVP_MD_CTX *c = NULL;
	EVP_PKEY *k = NULL;
	enum pv_rc rc = PV_E_CRYPTO;

	if (priv == NULL || (msg == NULL && len > 0) || sig == NULL)
		return PV_E_INVALID;
	k = key_from_seed(priv);
	c = EVP_MD_CTX_new();
	if (k == NULL || c == NULL) {
		crypto_ossl_fail("Ed25519 sign setup");
		goto out;
	}
	/* Ed25519 hashes internally (SHA-512): no digest is named, and the
	 * message goes through in one call (one-shot only, RFC 8032 §5.1.6). */
	if (EVP_DigestSignInit_ex(c, NULL, NULL, NULL, NULL, k, NULL) != 1 ||
	    EVP_DigestSign(c, buf, &n, nonnull(msg), len) != 1 ||
	    n != CRYPTO_ED25519_SIG_LEN) {
		crypto_ossl_fail("Ed25519 sign");
		goto out;
	}
	memcpy(sig, buf, sizeof(buf));
	rc = PV_OK;
out:
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

enum pv_rc
crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    const uint8_t *msg, size_t len, const uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	EVP_MD_CTX *c = NULL;
	EVP_PKEY *k = NULL;
	enum pv_rc rc = PV_E_CRYPTO;
	int v;

	if (pub == NULL || (msg == NULL && len > 0) || sig == NULL)
		return PV_E_INVALID;
	k = key_from_pub(pub);
	c = EVP_MD_CTX_new();
	if (k == NULL || c == NULL ||
	    EVP_DigestVerifyInit_ex(c, NULL, NULL, NULL, NULL, k, NULL) != 1) {
		crypto_ossl_fail("Ed25519 verify setup");
		goto out;
	}
	v = EVP_DigestVerify(c, sig, CRYPTO_ED25519_SIG_LEN, nonnull(msg), len);
	if (v == 1) {
		rc = PV_OK;
	} else if (v == 0) {
		crypto_ossl_clear();
		rc = PV_E_INTEGRITY;
	} else {
		crypto_ossl_fail("Ed25519 verify");
	}
out:
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

enum pv_rc
crypto_ed25519_pub_pem(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], char **pem)
{
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	char *data = NULL, *s;
	long n;
	enum pv_rc rc = PV_E_CRYPTO;

	if (pub == NULL || pem == NULL)
		return PV_E_INVALID;
	k = key_from_pub(pub);
	bio = BIO_new(BIO_s_mem());
	if (k == NULL || bio == NULL || PEM_write_bio_PUBKEY(bio, k) != 1) {
		crypto_ossl_fail("Ed25519 PEM");
		goto out;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || data == NULL) {
		crypto_ossl_fail("Ed25519 PEM");
		goto out;
	}
	s = malloc((size_t)n + 1);
	if (s == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	*pem = s;
	rc = PV_OK;
out:
	BIO_free(bio);
	EVP_PKEY_free(k);
	return rc;
}
