/*
 * rsa: RSA-3072 for BYOK import (crypto.h). The private key exists outside
 * OpenSSL's own structures only as DER in a struct pv_secret (locked,
 * wiped); each call parses it into an EVP_PKEY for that call and frees it
 * (EVP_PKEY_free clears RSA's private components). Decryption is RSAES-OAEP
 * (RFC 8017 §7.1.2) with SHA-256 as both the label hash and the MGF1 hash,
 * empty label; the plaintext goes straight into a pv_secret.
 * Every libcrypto return value is checked; a failed decryption is
 * PV_E_INTEGRITY without saying why (no padding oracle in our errors).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define RSA_MAX_BYTES (CRYPTO_RSA_BITS / 8)

static EVP_PKEY *
load_priv(const struct pv_secret *der)
{
	const unsigned char *p;
	EVP_PKEY *pk;

	if (der == NULL || der->buf == NULL || der->len == 0 || der->len > 8192)
		return NULL;
	p = der->buf;
	pk = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)der->len);
	if (pk == NULL)
		crypto_ossl_clear();
	return pk;
}

enum pv_rc
crypto_rsa_keygen(struct pv_secret **priv_der)
{
	EVP_PKEY *pk = NULL;
	struct pv_secret *der = NULL;
	unsigned char *p;
	int n;
	enum pv_rc rc = PV_E_CRYPTO;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)CRYPTO_RSA_BITS);
	if (pk == NULL) {
		crypto_ossl_fail("EVP_PKEY_Q_keygen(RSA)");
		return PV_E_CRYPTO;
	}
	if ((n = i2d_PrivateKey(pk, NULL)) <= 0) {
		crypto_ossl_fail("i2d_PrivateKey");
		goto out;
	}
	if ((rc = crypto_secret_new((size_t)n, &der)) != PV_OK)
		goto out;
	p = der->buf;
	if (i2d_PrivateKey(pk, &p) != n) {
		crypto_ossl_fail("i2d_PrivateKey");
		rc = PV_E_CRYPTO;
		goto out;
	}
	*priv_der = der;
	der = NULL;
	rc = PV_OK;
out:
	crypto_secret_free(der);
	EVP_PKEY_free(pk);
	return rc;
}

enum pv_rc
crypto_rsa_public_pem(const struct pv_secret *priv_der, char **pem)
{
	EVP_PKEY *pk = load_priv(priv_der);
	BIO *bio = NULL;
	char *data, *copy;
	long len;
	enum pv_rc rc = PV_E_CRYPTO;

	if (pk == NULL)
		return PV_E_INTEGRITY;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pk) != 1) {
		crypto_ossl_fail("PEM_write_bio_PUBKEY");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0 || (copy = malloc((size_t)len + 1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memcpy(copy, data, (size_t)len);
	copy[len] = '\0';
	*pem = copy;
	rc = PV_OK;
out:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rc;
}

enum pv_rc
crypto_rsa_oaep_decrypt(const struct pv_secret *priv_der, const uint8_t *ct, size_t ctlen,
    struct pv_secret **out)
{
	EVP_PKEY *pk;
	EVP_PKEY_CTX *ctx = NULL;
	struct pv_secret *buf = NULL, *res = NULL;
	size_t n;
	enum pv_rc rc = PV_E_CRYPTO;

	if (ct == NULL || ctlen == 0 || ctlen > RSA_MAX_BYTES * 2 || out == NULL)
		return PV_E_INVALID;
	if ((pk = load_priv(priv_der)) == NULL)
		return PV_E_INTEGRITY;
	if ((size_t)EVP_PKEY_get_size(pk) != ctlen) {
		rc = PV_E_INTEGRITY;   /* not one RSA block of this key */
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0) {
		crypto_ossl_fail("EVP_PKEY_decrypt_init(OAEP-SHA256)");
		goto out;
	}
	if ((rc = crypto_secret_new(ctlen, &buf)) != PV_OK)
		goto out;
	n = buf->len;
	if (EVP_PKEY_decrypt(ctx, buf->buf, &n, ct, ctlen) <= 0 || n == 0) {
		crypto_ossl_clear();
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if ((rc = crypto_secret_from(buf->buf, n, &res)) != PV_OK)
		goto out;
	*out = res;
	rc = PV_OK;
out:
	crypto_secret_free(buf);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}
