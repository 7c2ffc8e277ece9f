/*
 * Recipient encryption for the offboarding export (src/crypto/recipient.c):
 * the RFC 7748 §6.1 X25519 vector; round trips to an X25519 and an RSA key
 * over chunk boundaries; and every way a file can be wrong: a flipped byte
 * in the header, the stanza or a chunk, a dropped or repeated last chunk,
 * data appended, another recipient's key, a key of a kind we do not take.
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
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "hexvec.h"
#include "util/util.h"

struct pem_pair {
	char *pub, *priv;
};

static char *
bio_text(BIO *b)
{
	char *p = NULL, *out;
	long n = BIO_get_mem_data(b, &p);

	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	memcpy(out, p, (size_t)n);
	return out;
}

static struct pem_pair
make_key(const char *alg)
{
	struct pem_pair pp;
	EVP_PKEY *pk = strcmp(alg, "RSA") == 0 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
	    : EVP_PKEY_Q_keygen(NULL, NULL, alg);
	BIO *a = BIO_new(BIO_s_mem()), *b = BIO_new(BIO_s_mem());

	assert_non_null(pk);
	assert_int_equal(PEM_write_bio_PUBKEY(a, pk), 1);
	assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
	pp.pub = bio_text(a);
	pp.priv = bio_text(b);
	BIO_free(a);
	BIO_free(b);
	EVP_PKEY_free(pk);
	return pp;
}

static void
pair_free(struct pem_pair *p)
{
	free(p->pub);
	free(p->priv);
}

static void
test_rfc7748_vector(void **state)
{
	size_t l;
	uint8_t *a_priv = hexvec("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", &l);
	uint8_t *a_pub = hexvec("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", &l);
	uint8_t *b_priv = hexvec("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", &l);
	uint8_t *b_pub = hexvec("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", &l);
	uint8_t *k = hexvec("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", &l);
	uint8_t out[32];

	(void)state;
	assert_int_equal(crypto_x25519_public(a_priv, out), PV_OK);
	assert_memory_equal(out, a_pub, 32);
	assert_int_equal(crypto_x25519_public(b_priv, out), PV_OK);
	assert_memory_equal(out, b_pub, 32);
	assert_int_equal(crypto_x25519(a_priv, b_pub, out), PV_OK);
	assert_memory_equal(out, k, 32);
	assert_int_equal(crypto_x25519(b_priv, a_pub, out), PV_OK);
	assert_memory_equal(out, k, 32);
	free(a_priv);
	free(a_pub);
	free(b_priv);
	free(b_pub);
	free(k);
}

struct buf {
	uint8_t *p;
	size_t n;
};

static enum pv_rc
to_buf(const uint8_t *pt, size_t len, void *arg)
{
	struct buf *b = arg;

	b->p = realloc(b->p, b->n + len + 1);
	assert_non_null(b->p);
	memcpy(b->p + b->n, pt, len);
	b->n += len;
	return PV_OK;
}

/* Encrypt msg (len) to pub into a temp file; *file malloc'd contents. */
static void
seal_to(const char *pub, const uint8_t *msg, size_t len, uint8_t **file, size_t *flen)
{
	struct crypto_recipient *r = NULL;
	struct crypto_rcpt_writer *w = NULL;
	FILE *f = tmpfile();
	long n;

	assert_non_null(f);
	assert_int_equal(crypto_recipient_load(pub, strlen(pub), &r), PV_OK);
	assert_int_equal(crypto_rcpt_writer_new(r, fileno(f), &w), PV_OK);
	/* uneven writes, to cross chunk boundaries inside one call */
	for (size_t off = 0; off < len;) {
		size_t step = len - off < 7777 ? len - off : 7777;

		assert_int_equal(crypto_rcpt_write(w, msg + off, step), PV_OK);
		off += step;
	}
	assert_int_equal(crypto_rcpt_finish(w), PV_OK);
	assert_int_not_equal(crypto_rcpt_write(w, "x", 1), PV_OK);
	crypto_rcpt_writer_free(w);
	crypto_recipient_free(r);
	n = lseek(fileno(f), 0, SEEK_END);
	assert_true(n > 0);
	*file = malloc((size_t)n);
	assert_non_null(*file);
	assert_int_equal(pread(fileno(f), *file, (size_t)n, 0), n);
	*flen = (size_t)n;
	fclose(f);
}

static enum pv_rc
open_bytes(const char *priv, const uint8_t *file, size_t flen, struct buf *out)
{
	FILE *f = tmpfile();
	enum pv_rc rc;

	assert_non_null(f);
	assert_int_equal(fwrite(file, 1, flen, f), flen);
	fflush(f);
	lseek(fileno(f), 0, SEEK_SET);
	out->p = NULL;
	out->n = 0;
	rc = crypto_rcpt_open(priv, strlen(priv), fileno(f), to_buf, out);
	fclose(f);
	return rc;
}

static void
round_trip(const struct pem_pair *kp, size_t len)
{
	uint8_t *msg = malloc(len + 1), *file = NULL;
	size_t flen = 0;
	struct buf got;

	assert_non_null(msg);
	for (size_t i = 0; i < len; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	seal_to(kp->pub, msg, len, &file, &flen);
	/* nothing of the plaintext is in the file */
	if (len >= 64)
		assert_null(memmem(file, flen, msg + len / 2, 32));
	assert_int_equal(open_bytes(kp->priv, file, flen, &got), PV_OK);
	assert_int_equal(got.n, len);
	if (len > 0)
		assert_memory_equal(got.p, msg, len);
	free(got.p);
	free(file);
	free(msg);
}

static void
test_round_trip_x25519(void **state)
{
	struct pem_pair kp = make_key("X25519");
	size_t sizes[] = { 0, 1, CRYPTO_RCPT_CHUNK - 1, CRYPTO_RCPT_CHUNK, CRYPTO_RCPT_CHUNK + 1,
		3 * CRYPTO_RCPT_CHUNK + 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		round_trip(&kp, sizes[i]);
	pair_free(&kp);
}

static void
test_round_trip_rsa(void **state)
{
	struct pem_pair kp = make_key("RSA");

	(void)state;
	round_trip(&kp, 0);
	round_trip(&kp, 2 * CRYPTO_RCPT_CHUNK + 99);
	pair_free(&kp);
}

/* Every single-byte change anywhere is refused; so are cuts and appends. */
static void
tamper(const struct pem_pair *kp)
{
	size_t len = 2 * CRYPTO_RCPT_CHUNK + 10, flen = 0;
	uint8_t *msg = calloc(1, len), *file = NULL, *bad;
	struct buf got;
	size_t step;

	assert_non_null(msg);
	seal_to(kp->pub, msg, len, &file, &flen);
	bad = malloc(flen + 64);
	assert_non_null(bad);
	step = flen / 97 + 1;
	for (size_t pos = 0; pos < flen; pos += step) {
		memcpy(bad, file, flen);
		bad[pos] ^= 0x01;
		assert_int_not_equal(open_bytes(kp->priv, bad, flen, &got), PV_OK);
		free(got.p);
	}
	/* the last byte (the last chunk's tag) */
	memcpy(bad, file, flen);
	bad[flen - 1] ^= 0x80;
	assert_int_equal(open_bytes(kp->priv, bad, flen, &got), PV_E_INTEGRITY);
	free(got.p);
	/* cut: the last chunk dropped (it holds 10 bytes + 16 tag + 5 prefix) */
	assert_int_equal(open_bytes(kp->priv, file, flen - 31, &got), PV_E_INTEGRITY);
	free(got.p);
	assert_int_equal(open_bytes(kp->priv, file, flen - 1, &got), PV_E_INTEGRITY);
	free(got.p);
	/* cut after the first full chunk, its flag set to "last": the flag is
	 * in the nonce (STREAM), so the tag no longer verifies */
	{
		size_t full = 5 + CRYPTO_RCPT_CHUNK + CRYPTO_GCM_TAG_LEN;
		size_t hl = flen - (2 * full + 5 + 10 + CRYPTO_GCM_TAG_LEN);

		memcpy(bad, file, flen);
		assert_int_equal(bad[hl], 0);
		bad[hl] = 1;
		assert_int_equal(open_bytes(kp->priv, bad, hl + full, &got), PV_E_INTEGRITY);
		free(got.p);
		/* the same cut without the flag changed: not the last chunk, refused */
		assert_int_equal(open_bytes(kp->priv, file, hl + full, &got), PV_E_INTEGRITY);
		free(got.p);
	}
	/* appended: the last chunk once more, and one stray byte */
	memcpy(bad, file, flen);
	memcpy(bad + flen, file + flen - 31, 31);
	assert_int_equal(open_bytes(kp->priv, bad, flen + 31, &got), PV_E_INTEGRITY);
	free(got.p);
	bad[flen] = 0;
	assert_int_equal(open_bytes(kp->priv, bad, flen + 1, &got), PV_E_INTEGRITY);
	free(got.p);
	free(bad);
	free(file);
	free(msg);
}

static void
test_tampered_refused(void **state)
{
	struct pem_pair x = make_key("X25519"), r = make_key("RSA");

	(void)state;
	tamper(&x);
	tamper(&r);
	pair_free(&x);
	pair_free(&r);
}

static void
test_wrong_key_and_kind(void **state)
{
	struct pem_pair a = make_key("X25519"), b = make_key("X25519"), r = make_key("RSA");
	struct pem_pair ed = make_key("ED25519");
	struct crypto_recipient *rc = NULL;
	uint8_t *file = NULL;
	size_t flen = 0;
	struct buf got;

	(void)state;
	seal_to(a.pub, (const uint8_t *)"hello", 5, &file, &flen);
	assert_int_equal(open_bytes(b.priv, file, flen, &got), PV_E_INTEGRITY);
	free(got.p);
	assert_int_equal(open_bytes(r.priv, file, flen, &got), PV_E_INTEGRITY);
	free(got.p);
	assert_int_equal(open_bytes(ed.priv, file, flen, &got), PV_E_INVALID);
	free(got.p);
	assert_int_equal(crypto_recipient_load(ed.pub, strlen(ed.pub), &rc), PV_E_INVALID);
	assert_int_equal(crypto_recipient_load("not a key", 9, &rc), PV_E_INVALID);
	/* a private key is not a recipient */
	assert_int_equal(crypto_recipient_load(a.priv, strlen(a.priv), &rc), PV_E_INVALID);
	free(file);
	pair_free(&a);
	pair_free(&b);
	pair_free(&r);
	pair_free(&ed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7748_vector),
		cmocka_unit_test(test_round_trip_x25519),
		cmocka_unit_test(test_round_trip_rsa),
		cmocka_unit_test(test_tampered_refused),
		cmocka_unit_test(test_wrong_key_and_kind),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
