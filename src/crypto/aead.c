/*
 * aead.c: AES-GCM (NIST SP 800-38D) with an explicit IV, and the "box"
 * format built on it: IV(12) || CT || TAG(16), AES-256, fresh random IV.
 *
 * Invariants:
 *  - No plaintext is released unless the tag verifies: crypto_aead_open
 *    decrypts into the caller's buffer (EVP needs somewhere to put it) and
 *    wipes all ctlen bytes on any failure, tag mismatch or otherwise. The
 *    tag is set with EVP_CTRL_GCM_SET_TAG before EVP_DecryptFinal_ex, which
 *    is where OpenSSL compares it (constant time).
 *  - Every EVP call is checked; a libcrypto failure is PV_E_CRYPTO, a tag
 *    mismatch PV_E_INTEGRITY.
 *  - Lengths are bounded before use: SP 800-38D §5.2.1.1 limits the
 *    plaintext to 2^39-256 bits; EVP takes int lengths, so data is fed in
 *    1 GiB chunks.
 *
 * Hot path (every record read and write): the three EVP_CIPHERs are fetched
 * once per process, and each thread keeps one EVP_CIPHER_CTX whose provider
 * context is re-keyed per call rather than allocated. Re-keying leaves the
 * AES key schedule and GHASH key of the last key in that (unlocked) heap
 * context, so after every operation the context is re-keyed with an all-zero
 * key: no key-derived state outlives the call. On any error the context is
 * reset (which frees and cleanses the provider context).
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* SP 800-38D §5.2.1.1: len(P) <= 2^39 - 256 bits. */
#define GCM_MAX_PT (((uint64_t)1 << 36) - 32)
/* OpenSSL's GCM provider keeps the IV in a 128-byte buffer. */
#define GCM_MAX_IV 128
/* Largest piece handed to one EVP update (int length, block multiple). */
#define CHUNK ((size_t)1 << 30)

static pthread_once_t aead_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm_128, *gcm_192, *gcm_256;
static pthread_key_t ctx_key;
static bool ctx_key_ok;
static _Thread_local EVP_CIPHER_CTX *thread_ctx;

static const uint8_t zero_key[32];

static void
ctx_destroy(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void
aead_setup(void)
{
	gcm_128 = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	gcm_192 = EVP_CIPHER_fetch(NULL, "AES-192-GCM", NULL);
	gcm_256 = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ctx_key_ok = pthread_key_create(&ctx_key, ctx_destroy) == 0;
}

bool
crypto_gcm_ready(void)
{
	pthread_once(&aead_once, aead_setup);
	return gcm_128 != NULL && gcm_192 != NULL && gcm_256 != NULL && ctx_key_ok;
}

static const EVP_CIPHER *
cipher_for(size_t keylen)
{
	switch (keylen) {
	case 16: return gcm_128;
	case 24: return gcm_192;
	case 32: return gcm_256;
	default: return NULL;
	}
}

/* This thread's context; created on first use, freed at thread exit. */
static EVP_CIPHER_CTX *
get_ctx(void)
{
	EVP_CIPHER_CTX *c;

	if (thread_ctx != NULL)
		return thread_ctx;
	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return NULL;
	if (pthread_setspecific(ctx_key, c) != 0) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	thread_ctx = c;
	return c;
}

/* Key the thread context for one operation (enc: 1 seal, 0 open). */
static bool
ctx_begin(EVP_CIPHER_CTX *c, const EVP_CIPHER *cipher, const uint8_t *key,
    const uint8_t *iv, size_t ivlen, int enc)
{
	/* Passing the cipher again would free and re-allocate the provider
	 * context; only do it when the key size changes. */
	if (EVP_CIPHER_CTX_get0_cipher(c) != cipher &&
	    EVP_CipherInit_ex2(c, cipher, NULL, NULL, enc, NULL) != 1)
		return false;
	/* The IV length is context state: set it whenever it differs
	 * (SP 800-38D allows any length; 96 bits is the fast path). */
	if ((size_t)EVP_CIPHER_CTX_get_iv_length(c) != ivlen &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)ivlen, NULL) != 1)
		return false;
	if ((size_t)EVP_CIPHER_CTX_get_iv_length(c) != ivlen)
		return false;
	return EVP_CipherInit_ex2(c, NULL, key, iv, enc, NULL) == 1;
}

/* Drop key-derived state: re-key with zeros, or reset after an error. */
static void
ctx_end(EVP_CIPHER_CTX *c, bool ok)
{
	if (ok && EVP_CipherInit_ex2(c, NULL, zero_key, NULL, 1, NULL) == 1)
		return;
	EVP_CIPHER_CTX_reset(c);
}

/* AAD: EVP_CipherUpdate with a NULL output buffer. */
static bool
feed_aad(EVP_CIPHER_CTX *c, const uint8_t *aad, size_t aadlen)
{
	int n;

	while (aadlen > 0) {
		size_t k = aadlen > CHUNK ? CHUNK : aadlen;

		if (EVP_CipherUpdate(c, NULL, &n, aad, (int)k) != 1)
			return false;
		aad += k;
		aadlen -= k;
	}
	return true;
}

static bool
feed_data(EVP_CIPHER_CTX *c, const uint8_t *in, size_t len, uint8_t *out)
{
	int n;

	while (len > 0) {
		size_t k = len > CHUNK ? CHUNK : len;

		/* GCM is a stream mode: output length equals input length. */
		if (EVP_CipherUpdate(c, out, &n, in, (int)k) != 1 || (size_t)n != k)
			return false;
		in += k;
		out += k;
		len -= k;
	}
	return true;
}

static enum pv_rc
check_args(const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen,
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
    const uint8_t *out, const uint8_t *tag)
{
	if (key == NULL || iv == NULL || tag == NULL)
		return PV_E_INVALID;
	if ((aadlen > 0 && aad == NULL) || (len > 0 && (in == NULL || out == NULL)))
		return PV_E_INVALID;
	if (keylen != 16 && keylen != 24 && keylen != 32)
		return PV_E_INVALID;
	if (ivlen == 0 || ivlen > GCM_MAX_IV)
		return PV_E_INVALID;
	if ((uint64_t)len > GCM_MAX_PT)
		return PV_E_TOOBIG;
	if (!crypto_gcm_ready())
		return PV_E_CRYPTO;
	return PV_OK;
}

enum pv_rc
crypto_aead_seal(const uint8_t *key, size_t keylen,
    const uint8_t *iv, size_t ivlen, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *ct, uint8_t tag[CRYPTO_GCM_TAG_LEN])
{
	uint8_t fin[32];
	EVP_CIPHER_CTX *c;
	bool ok = false;
	enum pv_rc rc;
	int n;

	rc = check_args(key, keylen, iv, ivlen, aad, aadlen, pt, ptlen, ct, tag);
	if (rc != PV_OK)
		return rc;
	c = get_ctx();
	if (c == NULL)
		return PV_E_NOMEM;
	rc = PV_E_CRYPTO;
	if (!ctx_begin(c, cipher_for(keylen), key, iv, ivlen, 1) ||
	    !feed_aad(c, aad, aadlen) || !feed_data(c, pt, ptlen, ct)) {
		crypto_ossl_fail("AES-GCM encrypt");
		goto out;
	}
	if (EVP_EncryptFinal_ex(c, fin, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG_LEN, tag) != 1) {
		crypto_ossl_fail("AES-GCM encrypt final");
		goto out;
	}
	ok = true;
	rc = PV_OK;
out:
	ctx_end(c, ok);
	if (!ok && ptlen > 0)
		crypto_wipe(ct, ptlen);   /* no half-sealed output */
	return rc;
}

enum pv_rc
crypto_aead_open(const uint8_t *key, size_t keylen,
    const uint8_t *iv, size_t ivlen, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, const uint8_t tag[CRYPTO_GCM_TAG_LEN], uint8_t *pt)
{
	uint8_t want[CRYPTO_GCM_TAG_LEN];
	uint8_t fin[32];
	EVP_CIPHER_CTX *c;
	bool ok = false;
	enum pv_rc rc;
	int n;

	rc = check_args(key, keylen, iv, ivlen, aad, aadlen, ct, ctlen, pt, tag);
	if (rc != PV_OK)
		return rc;
	c = get_ctx();
	if (c == NULL)
		return PV_E_NOMEM;
	/* Copied so a tag that aliases pt is not overwritten by decryption. */
	memcpy(want, tag, sizeof(want));
	rc = PV_E_CRYPTO;
	if (!ctx_begin(c, cipher_for(keylen), key, iv, ivlen, 0) ||
	    !feed_aad(c, aad, aadlen) || !feed_data(c, ct, ctlen, pt) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_GCM_TAG_LEN, want) != 1) {
		crypto_ossl_fail("AES-GCM decrypt");
		goto out;
	}
	/* SP 800-38D §7.2 step 8: the tag is compared here. */
	if (EVP_DecryptFinal_ex(c, fin, &n) != 1 || n != 0) {
		crypto_ossl_clear();
		rc = PV_E_INTEGRITY;
		goto out;
	}
	ok = true;
	rc = PV_OK;
out:
	ctx_end(c, ok);
	if (!ok && ctlen > 0)
		crypto_wipe(pt, ctlen);
	return rc;
}

enum pv_rc
crypto_gcmbox_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	enum pv_rc rc;

	if (key == NULL || out == NULL || (ptlen > 0 && pt == NULL))
		return PV_E_INVALID;
	if ((uint64_t)ptlen > GCM_MAX_PT)
		return PV_E_TOOBIG;
	if (iv == NULL) {
		/* SP 800-38D §8.2.2: random 96-bit IVs, safe up to 2^32 boxes
		 * per key; phivault uses a fresh DEK per envelope. */
		rc = crypto_random(out, CRYPTO_GCM_IV_LEN);
		if (rc != PV_OK)
			return rc;
	} else if (iv != out) {
		memmove(out, iv, CRYPTO_GCM_IV_LEN);
	}
	rc = crypto_aead_seal(key, CRYPTO_KEY_LEN, out, CRYPTO_GCM_IV_LEN, aad, aadlen,
	    pt, ptlen, out + CRYPTO_GCM_IV_LEN, out + CRYPTO_GCM_IV_LEN + ptlen);
	if (rc != PV_OK)
		crypto_wipe(out, CRYPTO_GCM_IV_LEN);
	return rc;
}

enum pv_rc
crypto_gcmbox_open(const uint8_t key[CRYPTO_KEY_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *pt)
{
	size_t ctlen;

	if (key == NULL || in == NULL)
		return PV_E_INVALID;
	/* Too short to hold IV and tag: a truncated box, not a usage error. */
	if (inlen < CRYPTO_BOX_OVERHEAD)
		return PV_E_INTEGRITY;
	ctlen = inlen - CRYPTO_BOX_OVERHEAD;
	if (ctlen > 0 && pt == NULL)
		return PV_E_INVALID;
	return crypto_aead_open(key, CRYPTO_KEY_LEN, in, CRYPTO_GCM_IV_LEN, aad, aadlen,
	    in + CRYPTO_GCM_IV_LEN, ctlen, in + CRYPTO_GCM_IV_LEN + ctlen, pt);
}

/* ---- AES-256-CTR (crypto.h) ---- */

enum pv_rc
crypto_aes256_ctr(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t ctr[16],
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *c;
	int n = 0, fin = 0;
	enum pv_rc rc = PV_E_CRYPTO;

	if (key == NULL || ctr == NULL || (len > 0 && (in == NULL || out == NULL)) || len > 4096)
		return PV_E_INVALID;
	if ((c = EVP_CIPHER_CTX_new()) == NULL)
		return PV_E_NOMEM;
	if (EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL, key, ctr) == 1 &&
	    EVP_EncryptUpdate(c, out, &n, in, (int)len) == 1 &&
	    EVP_EncryptFinal_ex(c, out + n, &fin) == 1 && (size_t)(n + fin) == len)
		rc = PV_OK;
	EVP_CIPHER_CTX_free(c);   /* cleanses the key schedule */
	return rc;
}
