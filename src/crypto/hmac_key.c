/*
 * hmac_key.c: HMAC-SHA256 (RFC 2104) under a key used for many messages
 * (the keyring's blind-index and token MAC keys): the two SHA-256 states
 * after the key's inner and outer pads are computed once and kept in locked
 * memory (struct pv_secret); each MAC copies them and hashes the message and
 * the inner digest. The bytes are those of crypto_hmac_sha256 with the same
 * key (RFC 4231 vectors in tests/unit/crypto/test_hmac_key.c).
 *
 * Why the low-level SHA256_* calls, deprecated in OpenSSL 3: they are the
 * only way libcrypto offers to copy a SHA-256 midstate into memory we own
 * without an allocation (EVP_MD_CTX_copy_ex and EVP_MAC_CTX_dup allocate a
 * provider context per copy, and EVP_MAC_init with a key fetches the digest
 * by name and hashes both pads on every call). They run the same assembly
 * (SHA-NI / AVX2) as the EVP path.
 *
 * Invariants:
 *  - The midstates are as secret as the key: only in the pv_secret (locked,
 *    not dumpable, wiped when freed); the copies a MAC makes are on the stack
 *    and wiped before it returns, as is the inner digest.
 *  - crypto_hmac_key_sha256 only reads the key: any number of threads may
 *    use one key at once; freeing it is the owner's business (the keyring
 *    frees it under its write lock).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define HMAC_BLOCK 64

struct crypto_hmac_key {
	struct pv_secret *mem;   /* SHA256_CTX[2]: after key ^ ipad, after key ^ opad */
};

static SHA256_CTX *
states(const struct crypto_hmac_key *hk)
{
	return (SHA256_CTX *)(void *)hk->mem->buf;
}

enum pv_rc
crypto_hmac_key_new(const uint8_t *key, size_t keylen, struct crypto_hmac_key **out)
{
	uint8_t pad[HMAC_BLOCK], kh[CRYPTO_SHA256_LEN];
	struct crypto_hmac_key *hk;
	SHA256_CTX *st;
	enum pv_rc rc;
	bool ok;

	if ((key == NULL && keylen > 0) || out == NULL)
		return PV_E_INVALID;
	if ((hk = calloc(1, sizeof(*hk))) == NULL)
		return PV_E_NOMEM;
	if ((rc = crypto_secret_new(2 * sizeof(SHA256_CTX), &hk->mem)) != PV_OK) {
		free(hk);
		return rc;
	}
	st = states(hk);
	/* RFC 2104 §2: a key longer than the block is hashed first */
	if (keylen > HMAC_BLOCK) {
		if (SHA256(key, keylen, kh) == NULL) {
			crypto_hmac_key_free(hk);
			return PV_E_CRYPTO;
		}
		key = kh;
		keylen = sizeof(kh);
	}
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < keylen; i++)
		pad[i] ^= key[i];
	ok = SHA256_Init(&st[0]) == 1 && SHA256_Update(&st[0], pad, sizeof(pad)) == 1;
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	ok = ok && SHA256_Init(&st[1]) == 1 && SHA256_Update(&st[1], pad, sizeof(pad)) == 1;
	crypto_wipe(pad, sizeof(pad));
	crypto_wipe(kh, sizeof(kh));
	if (!ok) {
		crypto_hmac_key_free(hk);
		return PV_E_CRYPTO;
	}
	*out = hk;
	return PV_OK;
}

enum pv_rc
crypto_hmac_key_sha256(const struct crypto_hmac_key *hk, const uint8_t *msg, size_t len,
    uint8_t out[CRYPTO_SHA256_LEN])
{
	uint8_t ih[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
	SHA256_CTX c;
	bool ok;

	if (hk == NULL || (msg == NULL && len > 0) || out == NULL)
		return PV_E_INVALID;
	c = states(hk)[0];
	ok = SHA256_Update(&c, msg != NULL ? msg : (const uint8_t *)"", len) == 1 &&
	    SHA256_Final(ih, &c) == 1;
	c = states(hk)[1];
	ok = ok && SHA256_Update(&c, ih, sizeof(ih)) == 1 && SHA256_Final(mac, &c) == 1;
	if (ok)
		memcpy(out, mac, sizeof(mac));
	crypto_wipe(&c, sizeof(c));
	crypto_wipe(ih, sizeof(ih));
	crypto_wipe(mac, sizeof(mac));
	return ok ? PV_OK : PV_E_CRYPTO;
}

void
crypto_hmac_key_free(struct crypto_hmac_key *hk)
{
	if (hk == NULL)
		return;
	crypto_secret_free(hk->mem);   /* wipes the midstates */
	free(hk);
}
