/*
 * test_aead: AES-GCM against published vectors, tamper detection (every
 * flipped bit of ciphertext, tag and AAD is refused and leaves no plaintext
 * behind), and the IV||CT||TAG box format.
 *
 * Vectors: McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)",
 * revised 2005, Appendix B, test cases 1-6 (AES-128), 7-9 (AES-192) and
 * 13-18 (AES-256); NIST CAVP gcmEncryptExtIV256.rsp.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/hexvec.h"

struct gcm_vec {
	const char *name;
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

/* McGrew-Viega test cases 3/4/... share these. */
#define MV_K128 "feffe9928665731c6d6a8f9467308308"
#define MV_K192 "feffe9928665731c6d6a8f9467308308feffe9928665731c"
#define MV_K256 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define MV_IV "cafebabefacedbaddecaf888"
#define MV_IV8 "cafebabefacedbad"
#define MV_IV60 "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728" \
	"c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"
#define MV_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define MV_P60 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define MV_P64 MV_P60 "1aafd255"

static const struct gcm_vec vecs[] = {
	{ "MV TC1 AES-128 empty",
	  "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
	  "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "MV TC2 AES-128 one block",
	  "00000000000000000000000000000000", "000000000000000000000000", "",
	  "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
	  "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "MV TC3 AES-128 64 bytes",
	  MV_K128, MV_IV, "", MV_P64,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
	  "4d5c2af327cd64a62cf35abd2ba6fab4" },
	{ "MV TC4 AES-128 AAD",
	  MV_K128, MV_IV, MV_AAD, MV_P60,
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "MV TC5 AES-128 64-bit IV",
	  MV_K128, MV_IV8, MV_AAD, MV_P60,
	  "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
	  "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598",
	  "3612d2e79e3b0785561be14aaca2fccb" },
	{ "MV TC6 AES-128 480-bit IV",
	  MV_K128, MV_IV60, MV_AAD, MV_P60,
	  "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
	  "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5",
	  "619cc5aefffe0bfa462af43c1699d050" },
	{ "MV TC7 AES-192 empty",
	  "000000000000000000000000000000000000000000000000", "000000000000000000000000",
	  "", "", "", "cd33b28ac773f74ba00ed1f312572435" },
	{ "MV TC8 AES-192 one block",
	  "000000000000000000000000000000000000000000000000", "000000000000000000000000",
	  "", "00000000000000000000000000000000", "98e7247c07f0fe411c267e4384b0f600",
	  "2ff58d80033927ab8ef4d4587514f0fb" },
	{ "MV TC9 AES-192 64 bytes",
	  MV_K192, MV_IV, "", MV_P64,
	  "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c"
	  "7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710acade256",
	  "9924a7c8587336bfb118024db8674a14" },
	{ "MV TC13 AES-256 empty",
	  "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "MV TC14 AES-256 one block",
	  "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "",
	  "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "MV TC15 AES-256 64 bytes",
	  MV_K256, MV_IV, "", MV_P64,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "MV TC16 AES-256 AAD",
	  MV_K256, MV_IV, MV_AAD, MV_P60,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
	{ "MV TC17 AES-256 64-bit IV",
	  MV_K256, MV_IV8, MV_AAD, MV_P60,
	  "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
	  "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
	  "3a337dbf46a792c45e454913fe2ea8f2" },
	{ "MV TC18 AES-256 480-bit IV",
	  MV_K256, MV_IV60, MV_AAD, MV_P60,
	  "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
	  "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
	  "a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
	{ "CAVP gcmEncryptExtIV256 PTlen=0 Count=0",
	  "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
	  "516c33929df5a3284ff463d7", "", "", "",
	  "bdc1ac884d332457a1d2664f168c76f0" },
	{ "CAVP gcmEncryptExtIV256 PTlen=128 Count=0",
	  "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
	  "0d18e06c7c725ac9e362e1ce", "",
	  "2db5168e932556f8089a0622981d017d", "fa4362189661d163fcd6a56d8bf0405a",
	  "d636ac1bbedd5cc3ee727dc2ab4a9489" },
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

struct dec {
	uint8_t *key, *iv, *aad, *pt, *ct, *tag;
	size_t keylen, ivlen, aadlen, ptlen, ctlen, taglen;
};

static void
dec_load(const struct gcm_vec *v, struct dec *d)
{
	d->key = hexvec(v->key, &d->keylen);
	d->iv = hexvec(v->iv, &d->ivlen);
	d->aad = hexvec(v->aad, &d->aadlen);
	d->pt = hexvec(v->pt, &d->ptlen);
	d->ct = hexvec(v->ct, &d->ctlen);
	d->tag = hexvec(v->tag, &d->taglen);
	assert_int_equal(d->ptlen, d->ctlen);
	assert_int_equal(d->taglen, CRYPTO_GCM_TAG_LEN);
}

static void
dec_free(struct dec *d)
{
	free(d->key);
	free(d->iv);
	free(d->aad);
	free(d->pt);
	free(d->ct);
	free(d->tag);
}

static void
test_gcm_vectors_seal(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVECS; i++) {
		struct dec d;
		uint8_t ct[64], tag[CRYPTO_GCM_TAG_LEN];

		print_message("seal %s\n", vecs[i].name);
		dec_load(&vecs[i], &d);
		assert_true(d.ptlen <= sizeof(ct));
		assert_int_equal(crypto_aead_seal(d.key, d.keylen, d.iv, d.ivlen,
		    d.aad, d.aadlen, d.pt, d.ptlen, ct, tag), PV_OK);
		assert_memory_equal(ct, d.ct, d.ctlen);
		assert_memory_equal(tag, d.tag, CRYPTO_GCM_TAG_LEN);
		dec_free(&d);
	}
}

static void
test_gcm_vectors_open(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVECS; i++) {
		struct dec d;
		uint8_t pt[64];

		print_message("open %s\n", vecs[i].name);
		dec_load(&vecs[i], &d);
		memset(pt, 0xa5, sizeof(pt));
		assert_int_equal(crypto_aead_open(d.key, d.keylen, d.iv, d.ivlen,
		    d.aad, d.aadlen, d.ct, d.ctlen, d.tag, pt), PV_OK);
		assert_memory_equal(pt, d.pt, d.ptlen);
		dec_free(&d);
	}
}

/* Open with one bit flipped; must be refused with pt all zero. */
static void
expect_refused(const struct dec *d, const uint8_t *ct, const uint8_t *tag,
    const uint8_t *aad)
{
	uint8_t pt[64];

	memset(pt, 0xa5, sizeof(pt));
	assert_int_equal(crypto_aead_open(d->key, d->keylen, d->iv, d->ivlen,
	    aad, d->aadlen, ct, d->ctlen, tag, pt), PV_E_INTEGRITY);
	assert_true(hexvec_all_zero(pt, d->ctlen));
}

static void
test_gcm_tamper(void **state)
{
	size_t i, bit;

	(void)state;
	for (i = 0; i < NVECS; i++) {
		struct dec d;
		uint8_t ct[64], tag[CRYPTO_GCM_TAG_LEN], aad[64];

		dec_load(&vecs[i], &d);
		/* Every bit of the ciphertext. */
		for (bit = 0; bit < d.ctlen * 8; bit++) {
			memcpy(ct, d.ct, d.ctlen);
			ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_refused(&d, ct, d.tag, d.aad);
		}
		/* Every bit of the tag. */
		for (bit = 0; bit < CRYPTO_GCM_TAG_LEN * 8; bit++) {
			memcpy(tag, d.tag, sizeof(tag));
			tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_refused(&d, d.ct, tag, d.aad);
		}
		/* Every bit of the AAD. */
		assert_true(d.aadlen <= sizeof(aad));
		for (bit = 0; bit < d.aadlen * 8; bit++) {
			memcpy(aad, d.aad, d.aadlen);
			aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			expect_refused(&d, d.ct, d.tag, aad);
		}
		dec_free(&d);
	}
}

/* Dropping the AAD, or adding AAD where there was none, is refused too. */
static void
test_gcm_aad_presence(void **state)
{
	struct dec d;
	uint8_t pt[64];

	(void)state;
	dec_load(&vecs[12], &d);              /* TC16: has AAD */
	memset(pt, 0xa5, sizeof(pt));
	assert_int_equal(crypto_aead_open(d.key, d.keylen, d.iv, d.ivlen, NULL, 0,
	    d.ct, d.ctlen, d.tag, pt), PV_E_INTEGRITY);
	assert_true(hexvec_all_zero(pt, d.ctlen));
	dec_free(&d);

	dec_load(&vecs[11], &d);              /* TC15: no AAD */
	memset(pt, 0xa5, sizeof(pt));
	assert_int_equal(crypto_aead_open(d.key, d.keylen, d.iv, d.ivlen,
	    (const uint8_t *)"x", 1, d.ct, d.ctlen, d.tag, pt), PV_E_INTEGRITY);
	assert_true(hexvec_all_zero(pt, d.ctlen));
	dec_free(&d);
}

/* ct and pt may be the same buffer (the contract allows aliasing). */
static void
test_gcm_in_place(void **state)
{
	struct dec d;
	uint8_t buf[64], tag[CRYPTO_GCM_TAG_LEN];

	(void)state;
	dec_load(&vecs[12], &d);              /* TC16 */
	memcpy(buf, d.pt, d.ptlen);
	assert_int_equal(crypto_aead_seal(d.key, d.keylen, d.iv, d.ivlen, d.aad, d.aadlen,
	    buf, d.ptlen, buf, tag), PV_OK);
	assert_memory_equal(buf, d.ct, d.ctlen);
	assert_memory_equal(tag, d.tag, sizeof(tag));
	assert_int_equal(crypto_aead_open(d.key, d.keylen, d.iv, d.ivlen, d.aad, d.aadlen,
	    buf, d.ctlen, tag, buf), PV_OK);
	assert_memory_equal(buf, d.pt, d.ptlen);
	dec_free(&d);
}

static void
test_gcm_bad_args(void **state)
{
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, buf[16] = { 0 }, tag[16] = { 0 };

	(void)state;
	assert_int_equal(crypto_aead_seal(key, 20, iv, 12, NULL, 0, buf, 16, buf, tag),
	    PV_E_INVALID);
	assert_int_equal(crypto_aead_seal(key, 32, iv, 0, NULL, 0, buf, 16, buf, tag),
	    PV_E_INVALID);
	assert_int_equal(crypto_aead_open(key, 0, iv, 12, NULL, 0, buf, 16, tag, buf),
	    PV_E_INVALID);
	assert_int_equal(crypto_aead_seal(key, 32, iv, 12, NULL, 5, buf, 16, buf, tag),
	    PV_E_INVALID);
}

/* Threads each use their own cached context; results stay correct. */
static void *
worker(void *arg)
{
	struct dec d;
	uint8_t ct[64], pt[64], tag[CRYPTO_GCM_TAG_LEN];
	size_t i, n;
	intptr_t bad = 0;

	(void)arg;
	for (n = 0; n < 300; n++) {
		i = (n + (size_t)(intptr_t)arg) % NVECS;
		dec_load(&vecs[i], &d);
		if (crypto_aead_seal(d.key, d.keylen, d.iv, d.ivlen, d.aad, d.aadlen,
		    d.pt, d.ptlen, ct, tag) != PV_OK ||
		    memcmp(ct, d.ct, d.ctlen) != 0 || memcmp(tag, d.tag, 16) != 0)
			bad++;
		if (crypto_aead_open(d.key, d.keylen, d.iv, d.ivlen, d.aad, d.aadlen,
		    d.ct, d.ctlen, d.tag, pt) != PV_OK || memcmp(pt, d.pt, d.ptlen) != 0)
			bad++;
		dec_free(&d);
	}
	return (void *)bad;
}

static void
test_gcm_threads(void **state)
{
	pthread_t t[3];
	void *res;
	intptr_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_true(res == NULL);
	}
}

/* ---- box: IV || CT || TAG ---- */

static const uint8_t box_key[CRYPTO_KEY_LEN] = {
	0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0,
	0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
	0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};
static const char box_msg[] = "patient 4711: blood type O negative";
static const char box_aad[] = "rec_01hx/field=notes";

static void
test_box_round_trip(void **state)
{
	uint8_t out[sizeof(box_msg) + CRYPTO_BOX_OVERHEAD], pt[sizeof(box_msg)];
	uint8_t out2[sizeof(out)];

	(void)state;
	assert_int_equal(crypto_gcmbox_seal(box_key, NULL, (const uint8_t *)box_aad,
	    strlen(box_aad), (const uint8_t *)box_msg, sizeof(box_msg), out), PV_OK);
	/* The plaintext does not appear in the box. */
	assert_null(memmem(out, sizeof(out), "blood type", 10));
	assert_int_equal(crypto_gcmbox_open(box_key, (const uint8_t *)box_aad,
	    strlen(box_aad), out, sizeof(out), pt), PV_OK);
	assert_memory_equal(pt, box_msg, sizeof(box_msg));
	/* A fresh IV each time: the same message seals differently. */
	assert_int_equal(crypto_gcmbox_seal(box_key, NULL, (const uint8_t *)box_aad,
	    strlen(box_aad), (const uint8_t *)box_msg, sizeof(box_msg), out2), PV_OK);
	assert_memory_not_equal(out, out2, CRYPTO_GCM_IV_LEN);
	assert_memory_not_equal(out + CRYPTO_GCM_IV_LEN, out2 + CRYPTO_GCM_IV_LEN,
	    sizeof(box_msg));
}

/* The box is exactly IV || aead_seal(key, IV, aad, pt) || tag. */
static void
test_box_layout(void **state)
{
	struct dec d;
	uint8_t out[64 + CRYPTO_BOX_OVERHEAD], pt[64];

	(void)state;
	dec_load(&vecs[12], &d);              /* TC16: AES-256, 96-bit IV, AAD */
	assert_int_equal(crypto_gcmbox_seal(d.key, d.iv, d.aad, d.aadlen, d.pt, d.ptlen,
	    out), PV_OK);
	assert_memory_equal(out, d.iv, CRYPTO_GCM_IV_LEN);
	assert_memory_equal(out + CRYPTO_GCM_IV_LEN, d.ct, d.ctlen);
	assert_memory_equal(out + CRYPTO_GCM_IV_LEN + d.ctlen, d.tag, CRYPTO_GCM_TAG_LEN);
	assert_int_equal(crypto_gcmbox_open(d.key, d.aad, d.aadlen, out,
	    d.ctlen + CRYPTO_BOX_OVERHEAD, pt), PV_OK);
	assert_memory_equal(pt, d.pt, d.ptlen);
	dec_free(&d);
}

static void
test_box_tamper(void **state)
{
	uint8_t out[sizeof(box_msg) + CRYPTO_BOX_OVERHEAD], bad[sizeof(out)];
	uint8_t pt[sizeof(box_msg)], key2[CRYPTO_KEY_LEN];
	size_t i;

	(void)state;
	assert_int_equal(crypto_gcmbox_seal(box_key, NULL, (const uint8_t *)box_aad,
	    strlen(box_aad), (const uint8_t *)box_msg, sizeof(box_msg), out), PV_OK);
	/* One flipped bit anywhere: IV, ciphertext or tag. */
	for (i = 0; i < sizeof(out); i++) {
		memcpy(bad, out, sizeof(out));
		bad[i] ^= 0x80;
		memset(pt, 0xa5, sizeof(pt));
		assert_int_equal(crypto_gcmbox_open(box_key, (const uint8_t *)box_aad,
		    strlen(box_aad), bad, sizeof(bad), pt), PV_E_INTEGRITY);
		assert_true(hexvec_all_zero(pt, sizeof(pt)));
	}
	/* Wrong AAD (the box moved to another record). */
	memset(pt, 0xa5, sizeof(pt));
	assert_int_equal(crypto_gcmbox_open(box_key, (const uint8_t *)"rec_other", 9,
	    out, sizeof(out), pt), PV_E_INTEGRITY);
	assert_true(hexvec_all_zero(pt, sizeof(pt)));
	/* Wrong key. */
	memcpy(key2, box_key, sizeof(key2));
	key2[31] ^= 1;
	assert_int_equal(crypto_gcmbox_open(key2, (const uint8_t *)box_aad,
	    strlen(box_aad), out, sizeof(out), pt), PV_E_INTEGRITY);
	/* Truncated by one byte. */
	assert_int_equal(crypto_gcmbox_open(box_key, (const uint8_t *)box_aad,
	    strlen(box_aad), out, sizeof(out) - 1, pt), PV_E_INTEGRITY);
}

static void
test_box_short_and_empty(void **state)
{
	uint8_t out[CRYPTO_BOX_OVERHEAD], pt[1] = { 0 };
	size_t n;

	(void)state;
	/* Empty plaintext still authenticates the AAD. */
	assert_int_equal(crypto_gcmbox_seal(box_key, NULL, (const uint8_t *)box_aad,
	    strlen(box_aad), NULL, 0, out), PV_OK);
	assert_int_equal(crypto_gcmbox_open(box_key, (const uint8_t *)box_aad,
	    strlen(box_aad), out, sizeof(out), NULL), PV_OK);
	assert_int_equal(crypto_gcmbox_open(box_key, NULL, 0, out, sizeof(out), NULL),
	    PV_E_INTEGRITY);
	/* Shorter than IV + tag: refused, whatever the length. */
	for (n = 0; n < CRYPTO_BOX_OVERHEAD; n++)
		assert_int_equal(crypto_gcmbox_open(box_key, NULL, 0, out, n, pt),
		    PV_E_INTEGRITY);
}

/* NIST SP 800-38A F.5.5 / F.5.6 (CTR-AES256.Encrypt / .Decrypt): four
 * blocks, the counter carried across the low bytes; and a partial block. */
static void
test_ctr_vectors(void **state)
{
	size_t klen, clen, plen, xlen;
	uint8_t *key = hexvec("603deb1015ca71be2b73aef0857d7781"
	    "1f352c073b6108d72d9810a30914dff4", &klen);
	uint8_t *ctr = hexvec("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", &clen);
	uint8_t *pt = hexvec("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710", &plen);
	uint8_t *ct = hexvec("601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5"
	    "2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6", &xlen);
	uint8_t out[64], back[64];

	(void)state;
	assert_int_equal(klen, 32);
	assert_int_equal(clen, 16);
	assert_int_equal(plen, 64);
	assert_int_equal(crypto_aes256_ctr(key, ctr, pt, plen, out), PV_OK);
	assert_memory_equal(out, ct, xlen);
	assert_int_equal(crypto_aes256_ctr(key, ctr, ct, xlen, back), PV_OK);
	assert_memory_equal(back, pt, plen);
	/* in place, and a length that is not a block multiple (48: the outer
	 * wrap of keys.c) gives the prefix of the same keystream */
	memcpy(back, pt, 48);
	assert_int_equal(crypto_aes256_ctr(key, ctr, back, 37, back), PV_OK);
	assert_memory_equal(back, ct, 37);
	assert_memory_equal(back + 37, pt + 37, 11);
	assert_int_equal(crypto_aes256_ctr(key, ctr, pt, 4097, out), PV_E_INVALID);
	assert_int_equal(crypto_aes256_ctr(NULL, ctr, pt, 16, out), PV_E_INVALID);
	free(key);
	free(ctr);
	free(pt);
	free(ct);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcm_vectors_seal),
		cmocka_unit_test(test_gcm_vectors_open),
		cmocka_unit_test(test_gcm_tamper),
		cmocka_unit_test(test_gcm_aad_presence),
		cmocka_unit_test(test_gcm_in_place),
		cmocka_unit_test(test_gcm_bad_args),
		cmocka_unit_test(test_gcm_threads),
		cmocka_unit_test(test_box_round_trip),
		cmocka_unit_test(test_box_layout),
		cmocka_unit_test(test_box_tamper),
		cmocka_unit_test(test_box_short_and_empty),
		cmocka_unit_test(test_ctr_vectors),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
