/*
 * hash.c: SHA-256 (FIPS 180-4), HMAC-SHA256 / HMAC-SHA1 (RFC 2104; vectors
 * RFC 4231, RFC 2202) and HKDF-SHA256 (RFC 5869).
 *
 * Invariants:
 *  - Algorithm handles are fetched once per process (pthread_once), not per
 *    call; a failed fetch makes every call PV_E_CRYPTO.
 *  - Outputs are written only on success; a partly derived HKDF output or
 *    MAC is wiped on failure.
 *  - MAC and KDF contexts hold key-derived state; they live for one call
 *    and EVP_*_CTX_free cleanses them.
 */
#include <stdlib.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* RFC 5869 §2.3: L <= 255 * HashLen. */
#define HKDF_MAX_OUT (255u * CRYPTO_SHA256_LEN)

static pthread_once_t hash_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;
static EVP_MAC *mac_hmac;
static EVP_KDF *kdf_hkdf;

static void
hash_setup(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	kdf_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

bool
crypto_md_ready(void)
{
	pthread_once(&hash_once, hash_setup);
	return md_sha256 != NULL && mac_hmac != NULL && kdf_hkdf != NULL;
}

/* EVP rejects NULL data pointers in places even for zero lengths. */
static const void *
nonnull(const void *p)
{
	return p != NULL ? p : "";
}

enum pv_rc
crypto_sha256(const void *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	unsigned int n = 0;

	if ((msg == NULL && len > 0) || out == NULL)
		return PV_E_INVALID;
	if (!crypto_md_ready())
		return PV_E_CRYPTO;
	if (EVP_Digest(nonnull(msg), len, out, &n, md_sha256, NULL) != 1 ||
	    n != CRYPTO_SHA256_LEN) {
		crypto_ossl_fail("SHA-256");
		return PV_E_CRYPTO;
	}
	return PV_OK;
}

struct crypto_sha256_stream {
	EVP_MD_CTX *c;
};

enum pv_rc
crypto_sha256_begin(struct crypto_sha256_stream **out)
{
	struct crypto_sha256_stream *h;

	if (out == NULL)
		return PV_E_INVALID;
	if (!crypto_md_ready())
		return PV_E_CRYPTO;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return PV_E_NOMEM;
	if ((h->c = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(h->c, md_sha256, NULL) != 1) {
		crypto_ossl_fail("SHA-256");
		crypto_sha256_free(h);
		return PV_E_CRYPTO;
	}
	*out = h;
	return PV_OK;
}

enum pv_rc
crypto_sha256_update(struct crypto_sha256_stream *h, const void *msg, size_t len)
{
	if (h == NULL || (msg == NULL && len > 0))
		return PV_E_INVALID;
	if (len > 0 && EVP_DigestUpdate(h->c, msg, len) != 1) {
		crypto_ossl_fail("SHA-256");
		return PV_E_CRYPTO;
	}
	return PV_OK;
}

enum pv_rc
crypto_sha256_end(struct crypto_sha256_stream *h, uint8_t out[CRYPTO_SHA256_LEN])
{
	unsigned int n = 0;
	enum pv_rc rc = PV_OK;

	if (h == NULL || out == NULL) {
		crypto_sha256_free(h);
		return PV_E_INVALID;
	}
	if (EVP_DigestFinal_ex(h->c, out, &n) != 1 || n != CRYPTO_SHA256_LEN) {
		crypto_ossl_fail("SHA-256");
		rc = PV_E_CRYPTO;
	}
	crypto_sha256_free(h);
	return rc;
}

void
crypto_sha256_free(struct crypto_sha256_stream *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->c);
	free(h);
}

enum pv_rc
crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[CRYPTO_SHA256_LEN])
{
	uint8_t md[CRYPTO_SHA256_LEN];
	EVP_MD_CTX *c = NULL;
	enum pv_rc rc = PV_E_CRYPTO;
	unsigned int n = 0;

	if ((a == NULL && alen > 0) || (b == NULL && blen > 0) || out == NULL)
		return PV_E_INVALID;
	if (!crypto_md_ready())
		return PV_E_CRYPTO;
	c = EVP_MD_CTX_new();
	if (c == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (EVP_DigestInit_ex2(c, md_sha256, NULL) != 1 ||
	    EVP_DigestUpdate(c, nonnull(a), alen) != 1 ||
	    EVP_DigestUpdate(c, nonnull(b), blen) != 1 ||
	    EVP_DigestFinal_ex(c, md, &n) != 1 || n != CRYPTO_SHA256_LEN) {
		crypto_ossl_fail("SHA-256");
		goto out;
	}
	memcpy(out, md, sizeof(md));
	rc = PV_OK;
out:
	EVP_MD_CTX_free(c);
	return rc;
}

static enum pv_rc
hmac(const char *digest, size_t mdlen, const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t *out)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	OSSL_PARAM params[2];
	EVP_MAC_CTX *c = NULL;
	enum pv_rc rc = PV_E_CRYPTO;
	size_t n = 0;

	if ((key == NULL && keylen > 0) || (msg == NULL && msglen > 0) || out == NULL)
		return PV_E_INVALID;
	if (!crypto_md_ready())
		return PV_E_CRYPTO;
	c = EVP_MAC_CTX_new(mac_hmac);
	if (c == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	/* A NULL key means "keep the previous key" to EVP_MAC_init; an empty
	 * key (RFC 2104 allows it) must be passed as a non-NULL pointer. */
	if (EVP_MAC_init(c, nonnull(key), keylen, params) != 1 ||
	    EVP_MAC_update(c, nonnull(msg), msglen) != 1 ||
	    EVP_MAC_final(c, mac, &n, sizeof(mac)) != 1 || n != mdlen) {
		crypto_ossl_fail("HMAC");
		goto out;
	}
	memcpy(out, mac, mdlen);
	rc = PV_OK;
out:
	crypto_wipe(mac, sizeof(mac));
	EVP_MAC_CTX_free(c);
	return rc;
}

enum pv_rc
crypto_hmac_sha256(const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[CRYPTO_SHA256_LEN])
{
	return hmac("SHA2-256", CRYPTO_SHA256_LEN, key, keylen, msg, msglen, out);
}

enum pv_rc
crypto_hmac_sha1(const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[20])
{
	return hmac("SHA1", 20, key, keylen, msg, msglen, out);
}

enum pv_rc
crypto_hkdf_sha256(const uint8_t *salt, size_t saltlen,
    const uint8_t *ikm, size_t ikmlen, const uint8_t *info, size_t infolen,
    uint8_t *out, size_t outlen)
{
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *c = NULL;
	enum pv_rc rc = PV_E_CRYPTO;

	if ((salt == NULL && saltlen > 0) || (ikm == NULL && ikmlen > 0) ||
	    (info == NULL && infolen > 0) || out == NULL)
		return PV_E_INVALID;
	if (outlen == 0 || outlen > HKDF_MAX_OUT)
		return PV_E_INVALID;
	if (!crypto_md_ready())
		return PV_E_CRYPTO;
	c = EVP_KDF_CTX_new(kdf_hkdf);
	if (c == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA2-256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(uintptr_t)nonnull(ikm), ikmlen);
	/* RFC 5869 §2.2: an absent salt is HashLen zero bytes, which HMAC
	 * treats exactly like an empty key, so both are simply left out. */
	if (saltlen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)(uintptr_t)salt, saltlen);
	if (infolen > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)(uintptr_t)info, infolen);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(c, out, outlen, params) != 1) {
		crypto_ossl_fail("HKDF");
		crypto_wipe(out, outlen);
		goto out;
	}
	rc = PV_OK;
out:
	EVP_KDF_CTX_free(c);
	return rc;
}
