/*
 * test_gcmkey: the keyed AES-256-GCM contexts (crypto_gcmkey_*, aead.c).
 * Published vectors (McGrew-Viega test cases 13-16 and two CAVP
 * gcmEncryptExtIV256 vectors: every 96-bit-IV AES-256 case of test_aead.c)
 * through one key object used again and again; the same bytes as
 * crypto_gcmbox_seal for many IVs and lengths, seals and opens interleaved;
 * a refused open (any flipped bit) zeroes the output and the key still
 * works after; more threads than contexts at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "crypto/hexvec.h"

#define MV_K256 "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define MV_IV "cafebabefacedbaddecaf888"
#define MV_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define MV_P60 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" \
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define MV_P64 MV_P60 "1aafd255"
#define Z256 "0000000000000000000000000000000000000000000000000000000000000000"

struct vec {
	const char *name, *key, *iv, *aad, *pt, *ct, *tag;
};

static const struct vec vecs[] = {
	{ "MV TC13", Z256, "000000000000000000000000", "", "", "",
	  "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "MV TC14", Z256, "000000000000000000000000", "",
	  "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "MV TC15", MV_K256, MV_IV, "", MV_P64,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "MV TC16", MV_K256, MV_IV, MV_AAD, MV_P60,
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
	{ "CAVP 256 PTlen=0",
	  "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
	  "516c33929df5a3284ff463d7", "", "", "", "bdc1ac884d332457a1d2664f168c76f0" },
	{ "CAVP 256 PTlen=128",
	  "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
	  "0d18e06c7c725ac9e362e1ce", "",
	  "2db5168e932556f8089a0622981d017d", "fa4362189661d163fcd6a56d8bf0405a",
	  "d636ac1bbedd5cc3ee727dc2ab4a9489" },
};
#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

static int
setup(void **state)
{
	(void)state;
	return crypto_init() == PV_OK ? 0 : -1;
}

/* Each vector three times through one key object, as box: IV || CT || TAG. */
static void
test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		size_t kl, ivl, al, pl, cl, tl;
		uint8_t *key = hexvec(vecs[i].key, &kl), *iv = hexvec(vecs[i].iv, &ivl);
		uint8_t *aad = hexvec(vecs[i].aad, &al), *pt = hexvec(vecs[i].pt, &pl);
		uint8_t *ct = hexvec(vecs[i].ct, &cl), *tag = hexvec(vecs[i].tag, &tl);
		uint8_t box[12 + 64 + 16], back[64];
		struct crypto_gcm_key *gk;

		print_message("%s\n", vecs[i].name);
		assert_int_equal(kl, 32);
		assert_int_equal(ivl, 12);
		assert_int_equal(crypto_gcmkey_new(key, &gk), PV_OK);
		for (int r = 0; r < 3; r++) {
			memset(box, 0xa5, sizeof(box));
			assert_int_equal(crypto_gcmkey_box_seal(gk, iv, aad, al, pt, pl, box),
			    PV_OK);
			assert_memory_equal(box, iv, 12);
			if (cl > 0)
				assert_memory_equal(box + 12, ct, cl);
			assert_memory_equal(box + 12 + cl, tag, 16);
			memset(back, 0xa5, sizeof(back));
			assert_int_equal(crypto_gcmkey_box_open(gk, aad, al, box, 12 + cl + 16,
			    back), PV_OK);
			if (pl > 0)
				assert_memory_equal(back, pt, pl);
		}
		crypto_gcmkey_free(gk);
		free(key);
		free(iv);
		free(aad);
		free(pt);
		free(ct);
		free(tag);
	}
}

/* The same bytes as crypto_gcmbox_seal with the key, for many IVs, AADs
 * and lengths, seals and opens interleaved on one key object. */
static void
test_same_as_box(void **state)
{
	uint8_t key[32], iv[12], aad[40], pt[300], a[300 + 28], b[300 + 28], back[300];
	struct crypto_gcm_key *gk;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), PV_OK);
	assert_int_equal(crypto_gcmkey_new(key, &gk), PV_OK);
	for (size_t len = 0; len <= sizeof(pt); len += 13) {
		size_t al = len % sizeof(aad);

		assert_int_equal(crypto_random(iv, sizeof(iv)), PV_OK);
		assert_int_equal(crypto_random(aad, sizeof(aad)), PV_OK);
		assert_int_equal(crypto_random(pt, sizeof(pt)), PV_OK);
		assert_int_equal(crypto_gcmbox_seal(key, iv, aad, al, pt, len, a), PV_OK);
		assert_int_equal(crypto_gcmkey_box_seal(gk, iv, aad, al, pt, len, b), PV_OK);
		assert_memory_equal(a, b, len + 28);
		/* opens what the box made, and the box opens what it made */
		assert_int_equal(crypto_gcmkey_box_open(gk, aad, al, a, len + 28, back), PV_OK);
		assert_memory_equal(back, pt, len);
		assert_int_equal(crypto_gcmbox_open(key, aad, al, b, len + 28, back), PV_OK);
		assert_memory_equal(back, pt, len);
		/* a random IV: still a box of this key */
		assert_int_equal(crypto_gcmkey_box_seal(gk, NULL, aad, al, pt, len, b), PV_OK);
		assert_int_equal(crypto_gcmbox_open(key, aad, al, b, len + 28, back), PV_OK);
		assert_memory_equal(back, pt, len);
		/* in place: pt at out + 12 */
		memcpy(b + 12, pt, len);
		assert_int_equal(crypto_gcmkey_box_seal(gk, iv, aad, al, b + 12, len, b), PV_OK);
		assert_memory_equal(a, b, len + 28);
	}
	crypto_gcmkey_free(gk);
}

/* Every flipped bit of a 32-byte wrap (IV, CT, tag) and of its AAD is
 * refused with the output zeroed, and the key opens the intact box after
 * each refusal (a refused context is dropped, not reused broken). */
static void
test_tamper(void **state)
{
	static const uint8_t aad[] = "phivault:dek:collection:patients:1";
	uint8_t key[32], dek[32], box[60], bad[60], out[32], badaad[sizeof(aad)];
	struct crypto_gcm_key *gk, *other;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), PV_OK);
	assert_int_equal(crypto_random(dek, sizeof(dek)), PV_OK);
	assert_int_equal(crypto_gcmkey_new(key, &gk), PV_OK);
	assert_int_equal(crypto_gcmkey_box_seal(gk, NULL, aad, sizeof(aad) - 1, dek, 32, box),
	    PV_OK);
	for (size_t bit = 0; bit < sizeof(box) * 8; bit++) {
		memcpy(bad, box, sizeof(box));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xa5, sizeof(out));
		assert_int_equal(crypto_gcmkey_box_open(gk, aad, sizeof(aad) - 1, bad, sizeof(bad),
		    out), PV_E_INTEGRITY);
		assert_true(hexvec_all_zero(out, sizeof(out)));
		assert_int_equal(crypto_gcmkey_box_open(gk, aad, sizeof(aad) - 1, box, sizeof(box),
		    out), PV_OK);
		assert_memory_equal(out, dek, sizeof(dek));
	}
	for (size_t bit = 0; bit < (sizeof(aad) - 1) * 8; bit++) {
		memcpy(badaad, aad, sizeof(aad));
		badaad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(crypto_gcmkey_box_open(gk, badaad, sizeof(aad) - 1, box,
		    sizeof(box), out), PV_E_INTEGRITY);
	}
	/* another key does not open it; short input is a truncated box */
	key[0] ^= 1;
	assert_int_equal(crypto_gcmkey_new(key, &other), PV_OK);
	assert_int_equal(crypto_gcmkey_box_open(other, aad, sizeof(aad) - 1, box, sizeof(box),
	    out), PV_E_INTEGRITY);
	assert_int_equal(crypto_gcmkey_box_open(gk, aad, sizeof(aad) - 1, box, 27, out),
	    PV_E_INTEGRITY);
	assert_int_equal(crypto_gcmkey_box_open(NULL, aad, 1, box, sizeof(box), out),
	    PV_E_INVALID);
	assert_int_equal(crypto_gcmkey_box_seal(gk, NULL, NULL, 1, dek, 32, box), PV_E_INVALID);
	assert_int_equal(crypto_gcmkey_new(NULL, &other), PV_E_INVALID);
	crypto_gcmkey_free(other);
	crypto_gcmkey_free(gk);
	crypto_gcmkey_free(NULL);
}

/* More threads than the key has contexts, each sealing and opening its own
 * boxes: every result right (the ones beyond the pool take the fallback). */
#define NTHREADS 8
#define NROUNDS 300
static struct crypto_gcm_key *shared;
static uint8_t shared_key[32];

static void *
worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uint8_t pt[48], box[48 + 28], ref[48 + 28], back[48], iv[12];

	for (int r = 0; r < NROUNDS; r++) {
		memset(pt, (int)(id * 31 + (uintptr_t)r), sizeof(pt));
		memset(iv, 0, sizeof(iv));
		iv[0] = (uint8_t)id;
		iv[1] = (uint8_t)r;
		iv[2] = (uint8_t)(r >> 8);
		if (crypto_gcmkey_box_seal(shared, iv, iv, sizeof(iv), pt, sizeof(pt), box) != PV_OK ||
		    crypto_gcmbox_seal(shared_key, iv, iv, sizeof(iv), pt, sizeof(pt), ref) != PV_OK ||
		    memcmp(box, ref, sizeof(box)) != 0 ||
		    crypto_gcmkey_box_open(shared, iv, sizeof(iv), box, sizeof(box), back) != PV_OK ||
		    memcmp(back, pt, sizeof(pt)) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[NTHREADS];

	(void)state;
	assert_int_equal(crypto_random(shared_key, sizeof(shared_key)), PV_OK);
	assert_int_equal(crypto_gcmkey_new(shared_key, &shared), PV_OK);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *res = (void *)1;

		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	crypto_gcmkey_free(shared);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_same_as_box),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
