/*
 * recipient: encryption to a customer's public key, for the return of PHI
 * at contract end (phivault offboard export; crypto.h "recipient").
 *
 * An age-style file (age-encryption.org/v1 is the model; this is not age's
 * wire format): a random 256-bit file key is given to the recipient in a
 * stanza, the payload is a STREAM of AES-256-GCM chunks under a key derived
 * from the file key. Byte for byte:
 *
 *   header  = "phivault-recipient-v1\n"            (22 bytes, the magic)
 *             kind (1 byte: 1 x25519, 2 rsa-oaep-sha256)
 *             stanza:
 *               x25519: ephemeral public key (32) ||
 *                       AES-256-GCM box of the file key (12 IV || 32 || 16 tag)
 *                       under wrap = HKDF-SHA256(salt = eph_pub || rcpt_pub,
 *                       ikm = X25519(eph, rcpt) (RFC 7748 §6.1),
 *                       info = "phivault-recipient-v1 x25519")
 *               rsa:    u16 big-endian length || RSAES-OAEP(file key)
 *                       (RFC 8017 §7.1, SHA-256 and MGF1-SHA-256, no label)
 *             payload nonce (16 random bytes)
 *   chunks  = repeated: flag (1 byte, 1 on the last chunk, else 0) ||
 *             u32 big-endian ct length || ct || tag (16)
 *
 * Payload key = HKDF-SHA256(salt = payload nonce, ikm = file key,
 * info = "phivault-recipient-v1 payload"). Chunk i (plaintext at most
 * CRYPTO_RCPT_CHUNK bytes) is sealed with IV = u64 big-endian i || 3 zero
 * bytes || flag (the STREAM construction of Hoang, Reyhanitabar, Rogaway
 * and Vizár, as age uses it), AAD = SHA-256(header): the header cannot be
 * changed, a chunk cannot move, drop or change its flag, and a file cut
 * after any chunk but the last, or extended after the last, is refused.
 * Only the last chunk may be shorter than CRYPTO_RCPT_CHUNK; an empty
 * plaintext is one empty last chunk.
 *
 * Invariants: the file key and derived keys live in struct pv_secret
 * (locked, wiped on free); the opener releases a chunk's plaintext only
 * after its tag verifies, and the caller must discard what it wrote if the
 * stream as a whole is refused (truncation shows only at the end).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define MAGIC "phivault-recipient-v1\n"
#define MAGIC_LEN (sizeof(MAGIC) - 1)
#define KIND_X25519 1
#define KIND_RSA 2
#define NONCE_LEN 16
#define X_STANZA_LEN (32 + CRYPTO_BOX_OVERHEAD + CRYPTO_KEY_LEN)
#define RSA_CT_MAX 1024                 /* RSA-8192 */
#define HEADER_MAX (MAGIC_LEN + 1 + 2 + RSA_CT_MAX + NONCE_LEN)
#define INFO_WRAP "phivault-recipient-v1 x25519"
#define INFO_PAYLOAD "phivault-recipient-v1 payload"

struct crypto_recipient {
	EVP_PKEY *pk;
	int kind;
};

struct crypto_rcpt_writer {
	int fd;
	struct pv_secret *key;          /* payload key */
	uint8_t hhash[CRYPTO_SHA256_LEN];
	uint64_t index;
	uint8_t *buf;                   /* pending plaintext, CRYPTO_RCPT_CHUNK */
	size_t used;
	uint8_t *out;                   /* one sealed chunk */
	bool failed;
};

static enum pv_rc
write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PV_E_IO;
		b += n;
		len -= (size_t)n;
	}
	return PV_OK;
}

/* PV_OK with *got bytes (short only at end of file). */
static enum pv_rc
read_full(int fd, void *p, size_t len, size_t *got)
{
	uint8_t *b = p;
	size_t have = 0;

	while (have < len) {
		ssize_t n = read(fd, b + have, len - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return PV_E_IO;
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*got = have;
	return PV_OK;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
chunk_iv(uint64_t i, bool last, uint8_t iv[CRYPTO_GCM_IV_LEN])
{
	for (int b = 0; b < 8; b++)
		iv[b] = (uint8_t)(i >> (56 - 8 * b));
	iv[8] = iv[9] = iv[10] = 0;
	iv[11] = last ? 1 : 0;
}

enum pv_rc
crypto_x25519(const uint8_t priv[CRYPTO_X25519_LEN], const uint8_t pub[CRYPTO_X25519_LEN],
    uint8_t out[CRYPTO_X25519_LEN])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, CRYPTO_X25519_LEN);
	EVP_PKEY *b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, CRYPTO_X25519_LEN);
	EVP_PKEY_CTX *c = NULL;
	size_t len = CRYPTO_X25519_LEN;
	enum pv_rc rc = PV_E_CRYPTO;

	if (a == NULL || b == NULL || (c = EVP_PKEY_CTX_new(a, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, b) != 1 ||
	    EVP_PKEY_derive(c, out, &len) != 1 || len != CRYPTO_X25519_LEN)
		goto out;
	rc = PV_OK;
out:
	if (rc != PV_OK) {
		crypto_wipe(out, CRYPTO_X25519_LEN);
		crypto_ossl_clear();
	}
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return rc;
}

enum pv_rc
crypto_x25519_public(const uint8_t priv[CRYPTO_X25519_LEN], uint8_t pub[CRYPTO_X25519_LEN])
{
	EVP_PKEY *a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, CRYPTO_X25519_LEN);
	size_t len = CRYPTO_X25519_LEN;
	enum pv_rc rc = PV_OK;

	if (a == NULL || EVP_PKEY_get_raw_public_key(a, pub, &len) != 1 ||
	    len != CRYPTO_X25519_LEN) {
		crypto_ossl_clear();
		rc = PV_E_CRYPTO;
	}
	EVP_PKEY_free(a);
	return rc;
}

/* A PEM key of the kinds we take: X25519, or RSA of 2048 bits or more. */
static int
key_kind(EVP_PKEY *pk)
{
	if (EVP_PKEY_id(pk) == EVP_PKEY_X25519)
		return KIND_X25519;
	if (EVP_PKEY_id(pk) == EVP_PKEY_RSA && EVP_PKEY_bits(pk) >= 2048 &&
	    EVP_PKEY_bits(pk) <= 8192)
		return KIND_RSA;
	return 0;
}

enum pv_rc
crypto_recipient_load(const char *pem, size_t len, struct crypto_recipient **out)
{
	struct crypto_recipient *r;
	BIO *bio;
	EVP_PKEY *pk;

	if (pem == NULL || len == 0 || len > 65536)
		return PV_E_INVALID;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return PV_E_NOMEM;
	pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		crypto_ossl_clear();
		return PV_E_INVALID;
	}
	if (key_kind(pk) == 0 || (r = calloc(1, sizeof(*r))) == NULL) {
		int k = key_kind(pk);

		EVP_PKEY_free(pk);
		return k == 0 ? PV_E_INVALID : PV_E_NOMEM;
	}
	r->pk = pk;
	r->kind = key_kind(pk);
	*out = r;
	return PV_OK;
}

const char *
crypto_recipient_kind(const struct crypto_recipient *r)
{
	return r->kind == KIND_X25519 ? "x25519" : "rsa-oaep-sha256";
}

void
crypto_recipient_free(struct crypto_recipient *r)
{
	if (r == NULL)
		return;
	EVP_PKEY_free(r->pk);
	free(r);
}

static enum pv_rc
payload_key(const struct pv_secret *file_key, const uint8_t nonce[NONCE_LEN],
    struct pv_secret **out)
{
	enum pv_rc rc = crypto_secret_new(CRYPTO_KEY_LEN, out);

	if (rc == PV_OK && (rc = crypto_hkdf_sha256(nonce, NONCE_LEN, file_key->buf, file_key->len,
	    (const uint8_t *)INFO_PAYLOAD, strlen(INFO_PAYLOAD), (*out)->buf, CRYPTO_KEY_LEN)) !=
	    PV_OK) {
		crypto_secret_free(*out);
		*out = NULL;
	}
	return rc;
}

static enum pv_rc
x25519_wrap_key(const uint8_t shared[CRYPTO_X25519_LEN], const uint8_t eph_pub[32],
    const uint8_t rcpt_pub[32], struct pv_secret **out)
{
	uint8_t salt[64];
	enum pv_rc rc;

	memcpy(salt, eph_pub, 32);
	memcpy(salt + 32, rcpt_pub, 32);
	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, out)) != PV_OK)
		return rc;
	rc = crypto_hkdf_sha256(salt, sizeof(salt), shared, CRYPTO_X25519_LEN,
	    (const uint8_t *)INFO_WRAP, strlen(INFO_WRAP), (*out)->buf, CRYPTO_KEY_LEN);
	if (rc != PV_OK) {
		crypto_secret_free(*out);
		*out = NULL;
	}
	return rc;
}

/* The X25519 stanza: ephemeral key, box of the file key. */
static enum pv_rc
stanza_x25519(const struct crypto_recipient *r, const struct pv_secret *fk, uint8_t *h,
    size_t *hl)
{
	struct pv_secret *eph = NULL, *shared = NULL, *wrap = NULL;
	uint8_t rpub[32], epub[32];
	size_t rl = sizeof(rpub);
	enum pv_rc rc;

	if (EVP_PKEY_get_raw_public_key(r->pk, rpub, &rl) != 1 || rl != 32) {
		crypto_ossl_clear();
		return PV_E_CRYPTO;
	}
	if ((rc = crypto_secret_random(CRYPTO_X25519_LEN, &eph)) != PV_OK ||
	    (rc = crypto_secret_new(CRYPTO_X25519_LEN, &shared)) != PV_OK)
		goto out;
	if ((rc = crypto_x25519_public(eph->buf, epub)) != PV_OK ||
	    (rc = crypto_x25519(eph->buf, rpub, shared->buf)) != PV_OK ||
	    (rc = x25519_wrap_key(shared->buf, epub, rpub, &wrap)) != PV_OK)
		goto out;
	memcpy(h + *hl, epub, 32);
	rc = crypto_gcmbox_seal(wrap->buf, NULL, (const uint8_t *)MAGIC, MAGIC_LEN, fk->buf,
	    CRYPTO_KEY_LEN, h + *hl + 32);
	if (rc == PV_OK)
		*hl += X_STANZA_LEN;
out:
	crypto_secret_free(eph);
	crypto_secret_free(shared);
	crypto_secret_free(wrap);
	return rc;
}

static enum pv_rc
stanza_rsa(const struct crypto_recipient *r, const struct pv_secret *fk, uint8_t *h, size_t *hl)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(r->pk, NULL);
	size_t ol = RSA_CT_MAX;
	enum pv_rc rc = PV_E_CRYPTO;

	if (c == NULL || EVP_PKEY_encrypt_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_encrypt(c, h + *hl + 2, &ol, fk->buf, fk->len) != 1 || ol > RSA_CT_MAX)
		goto out;
	h[*hl] = (uint8_t)(ol >> 8);
	h[*hl + 1] = (uint8_t)ol;
	*hl += 2 + ol;
	rc = PV_OK;
out:
	if (rc != PV_OK)
		crypto_ossl_clear();
	EVP_PKEY_CTX_free(c);
	return rc;
}

enum pv_rc
crypto_rcpt_writer_new(const struct crypto_recipient *r, int fd, struct crypto_rcpt_writer **out)
{
	struct crypto_rcpt_writer *w = NULL;
	struct pv_secret *fk = NULL;
	uint8_t h[HEADER_MAX];
	size_t hl = 0;
	enum pv_rc rc;

	if (r == NULL || fd < 0)
		return PV_E_INVALID;
	if ((w = calloc(1, sizeof(*w))) == NULL || (w->buf = malloc(CRYPTO_RCPT_CHUNK)) == NULL ||
	    (w->out = malloc(CRYPTO_RCPT_CHUNK + CRYPTO_GCM_TAG_LEN)) == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	w->fd = fd;
	if ((rc = crypto_secret_random(CRYPTO_KEY_LEN, &fk)) != PV_OK)
		goto fail;
	memcpy(h, MAGIC, MAGIC_LEN);
	hl = MAGIC_LEN;
	h[hl++] = (uint8_t)r->kind;
	rc = r->kind == KIND_X25519 ? stanza_x25519(r, fk, h, &hl) : stanza_rsa(r, fk, h, &hl);
	if (rc != PV_OK)
		goto fail;
	if ((rc = crypto_random(h + hl, NONCE_LEN)) != PV_OK ||
	    (rc = payload_key(fk, h + hl, &w->key)) != PV_OK)
		goto fail;
	hl += NONCE_LEN;
	if ((rc = crypto_sha256(h, hl, w->hhash)) != PV_OK || (rc = write_all(fd, h, hl)) != PV_OK)
		goto fail;
	crypto_secret_free(fk);
	*out = w;
	return PV_OK;
fail:
	crypto_secret_free(fk);
	crypto_rcpt_writer_free(w);
	return rc;
}

static enum pv_rc
seal_chunk(struct crypto_rcpt_writer *w, bool last)
{
	uint8_t iv[CRYPTO_GCM_IV_LEN], pre[5];
	enum pv_rc rc;

	chunk_iv(w->index, last, iv);
	rc = crypto_aead_seal(w->key->buf, CRYPTO_KEY_LEN, iv, sizeof(iv), w->hhash,
	    sizeof(w->hhash), w->buf, w->used, w->out, w->out + w->used);
	crypto_wipe(w->buf, w->used);
	if (rc != PV_OK)
		return rc;
	pre[0] = last ? 1 : 0;
	put32(pre + 1, (uint32_t)(w->used + CRYPTO_GCM_TAG_LEN));
	if ((rc = write_all(w->fd, pre, sizeof(pre))) != PV_OK ||
	    (rc = write_all(w->fd, w->out, w->used + CRYPTO_GCM_TAG_LEN)) != PV_OK)
		return rc;
	w->index++;
	w->used = 0;
	return PV_OK;
}

enum pv_rc
crypto_rcpt_write(struct crypto_rcpt_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	enum pv_rc rc;

	if (w == NULL || w->failed)
		return PV_E_STATE;
	while (len > 0) {
		size_t n = CRYPTO_RCPT_CHUNK - w->used;

		if (w->used == CRYPTO_RCPT_CHUNK) {
			/* a full chunk is sealed only once more data follows, so
			 * the last one always carries the flag */
			if ((rc = seal_chunk(w, false)) != PV_OK) {
				w->failed = true;
				return rc;
			}
			continue;
		}
		if (n > len)
			n = len;
		memcpy(w->buf + w->used, p, n);
		w->used += n;
		p += n;
		len -= n;
	}
	return PV_OK;
}

enum pv_rc
crypto_rcpt_finish(struct crypto_rcpt_writer *w)
{
	enum pv_rc rc;

	if (w == NULL || w->failed)
		return PV_E_STATE;
	rc = seal_chunk(w, true);
	w->failed = true;   /* nothing more may be written */
	return rc;
}

void
crypto_rcpt_writer_free(struct crypto_rcpt_writer *w)
{
	if (w == NULL)
		return;
	crypto_secret_free(w->key);
	if (w->buf != NULL) {
		crypto_wipe(w->buf, CRYPTO_RCPT_CHUNK);
		free(w->buf);
	}
	free(w->out);
	free(w);
}

/* ---- the customer's side ---- */

static enum pv_rc
load_private(const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *bio;
	EVP_PKEY *pk;

	if (pem == NULL || len == 0 || len > 65536)
		return PV_E_INVALID;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return PV_E_NOMEM;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		crypto_ossl_clear();
		return PV_E_INVALID;
	}
	if (key_kind(pk) == 0) {
		EVP_PKEY_free(pk);
		return PV_E_INVALID;
	}
	*out = pk;
	return PV_OK;
}

/* Read the header from fd into h; recover the file key with pk. */
static enum pv_rc
open_header(EVP_PKEY *pk, int fd, uint8_t *h, size_t *hl, struct pv_secret **fk)
{
	size_t got;
	enum pv_rc rc;

	if ((rc = read_full(fd, h, MAGIC_LEN + 1, &got)) != PV_OK)
		return rc;
	if (got != MAGIC_LEN + 1 || memcmp(h, MAGIC, MAGIC_LEN) != 0)
		return PV_E_INTEGRITY;
	*hl = MAGIC_LEN + 1;
	if (h[MAGIC_LEN] != key_kind(pk))
		return PV_E_INTEGRITY;      /* made for another kind of key */
	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, fk)) != PV_OK)
		return rc;
	if (h[MAGIC_LEN] == KIND_X25519) {
		uint8_t mine[32], priv[32];
		struct pv_secret *shared = NULL, *wrap = NULL;
		size_t ml = sizeof(mine), pl = sizeof(priv);

		if ((rc = read_full(fd, h + *hl, X_STANZA_LEN, &got)) != PV_OK)
			return rc;
		if (got != X_STANZA_LEN)
			return PV_E_INTEGRITY;
		if (EVP_PKEY_get_raw_public_key(pk, mine, &ml) != 1 ||
		    EVP_PKEY_get_raw_private_key(pk, priv, &pl) != 1) {
			crypto_ossl_clear();
			crypto_wipe(priv, sizeof(priv));
			return PV_E_CRYPTO;
		}
		rc = crypto_secret_new(CRYPTO_X25519_LEN, &shared);
		if (rc == PV_OK)
			rc = crypto_x25519(priv, h + *hl, shared->buf);
		crypto_wipe(priv, sizeof(priv));
		if (rc == PV_OK)
			rc = x25519_wrap_key(shared->buf, h + *hl, mine, &wrap);
		if (rc == PV_OK)
			rc = crypto_gcmbox_open(wrap->buf, (const uint8_t *)MAGIC, MAGIC_LEN,
			    h + *hl + 32, CRYPTO_BOX_OVERHEAD + CRYPTO_KEY_LEN, (*fk)->buf);
		crypto_secret_free(shared);
		crypto_secret_free(wrap);
		if (rc != PV_OK)
			return PV_E_INTEGRITY;
		*hl += X_STANZA_LEN;
	} else {
		EVP_PKEY_CTX *c;
		uint8_t *pt = NULL;
		size_t ctl, ptl = 0;
		int ok;

		if ((rc = read_full(fd, h + *hl, 2, &got)) != PV_OK)
			return rc;
		ctl = ((size_t)h[*hl] << 8) | h[*hl + 1];
		if (got != 2 || ctl == 0 || ctl > RSA_CT_MAX ||
		    (size_t)EVP_PKEY_size(pk) != ctl)
			return PV_E_INTEGRITY;
		if ((rc = read_full(fd, h + *hl + 2, ctl, &got)) != PV_OK)
			return rc;
		if (got != ctl)
			return PV_E_INTEGRITY;
		if ((c = EVP_PKEY_CTX_new(pk, NULL)) == NULL || (pt = malloc(ctl)) == NULL) {
			EVP_PKEY_CTX_free(c);
			return PV_E_NOMEM;
		}
		ptl = ctl;
		ok = EVP_PKEY_decrypt_init(c) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1 &&
		    EVP_PKEY_decrypt(c, pt, &ptl, h + *hl + 2, ctl) == 1 && ptl == CRYPTO_KEY_LEN;
		if (ok)
			memcpy((*fk)->buf, pt, CRYPTO_KEY_LEN);
		crypto_wipe(pt, ctl);
		free(pt);
		EVP_PKEY_CTX_free(c);
		if (!ok) {
			crypto_ossl_clear();
			return PV_E_INTEGRITY;
		}
		*hl += 2 + ctl;
	}
	if ((rc = read_full(fd, h + *hl, NONCE_LEN, &got)) != PV_OK)
		return rc;
	if (got != NONCE_LEN)
		return PV_E_INTEGRITY;
	*hl += NONCE_LEN;
	return PV_OK;
}

enum pv_rc
crypto_rcpt_open(const char *priv_pem, size_t pemlen, int in_fd, crypto_rcpt_sink sink,
    void *arg)
{
	EVP_PKEY *pk = NULL;
	struct pv_secret *fk = NULL, *key = NULL;
	uint8_t h[HEADER_MAX], hh[CRYPTO_SHA256_LEN], pre[5], *ct = NULL, *pt = NULL;
	size_t hl = 0, got;
	uint64_t i = 0;
	bool last = false;
	enum pv_rc rc;

	if ((rc = load_private(priv_pem, pemlen, &pk)) != PV_OK)
		return rc;
	if ((rc = open_header(pk, in_fd, h, &hl, &fk)) != PV_OK)
		goto out;
	if ((rc = payload_key(fk, h + hl - NONCE_LEN, &key)) != PV_OK ||
	    (rc = crypto_sha256(h, hl, hh)) != PV_OK)
		goto out;
	rc = PV_E_NOMEM;
	if ((ct = malloc(CRYPTO_RCPT_CHUNK + CRYPTO_GCM_TAG_LEN)) == NULL ||
	    (pt = malloc(CRYPTO_RCPT_CHUNK)) == NULL)
		goto out;
	for (;;) {
		uint8_t iv[CRYPTO_GCM_IV_LEN];
		uint32_t n;

		if ((rc = read_full(in_fd, pre, sizeof(pre), &got)) != PV_OK)
			goto out;
		if (got == 0) {
			rc = last ? PV_OK : PV_E_INTEGRITY;   /* cut before the last chunk */
			goto out;
		}
		rc = PV_E_INTEGRITY;
		if (last || got != sizeof(pre) || pre[0] > 1)
			goto out;                         /* data after the last chunk */
		n = get32(pre + 1);
		if (n < CRYPTO_GCM_TAG_LEN || n > CRYPTO_RCPT_CHUNK + CRYPTO_GCM_TAG_LEN ||
		    (pre[0] == 0 && n != CRYPTO_RCPT_CHUNK + CRYPTO_GCM_TAG_LEN))
			goto out;
		if ((rc = read_full(in_fd, ct, n, &got)) != PV_OK)
			goto out;
		rc = PV_E_INTEGRITY;
		if (got != n)
			goto out;
		last = pre[0] == 1;
		chunk_iv(i, last, iv);
		if (crypto_aead_open(key->buf, CRYPTO_KEY_LEN, iv, sizeof(iv), hh, sizeof(hh), ct,
		    n - CRYPTO_GCM_TAG_LEN, ct + n - CRYPTO_GCM_TAG_LEN, pt) != PV_OK)
			goto out;
		/* released only now that the tag verified */
		rc = sink(pt, n - CRYPTO_GCM_TAG_LEN, arg);
		crypto_wipe(pt, n - CRYPTO_GCM_TAG_LEN);
		if (rc != PV_OK)
			goto out;
		i++;
	}
out:
	if (pt != NULL) {
		crypto_wipe(pt, CRYPTO_RCPT_CHUNK);
		free(pt);
	}
	free(ct);
	crypto_secret_free(fk);
	crypto_secret_free(key);
	EVP_PKEY_free(pk);
	return rc;
}
