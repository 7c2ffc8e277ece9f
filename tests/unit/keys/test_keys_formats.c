/*
 * The stored formats of envelopes and MACs, computed from the primitives
 * alone with KEK material the test chose (installed as versions, the BYOK
 * path), so a change to how the keyring runs them cannot change a byte:
 *   wrapped DEK = box(KEK vN, AAD "phivault:dek:<name>:<N>", DEK)
 *   ct          = box(DEK, caller's AAD, pt)
 *   MAC         = HMAC-SHA256(HKDF-SHA256(no salt, KEK vN,
 *                 "phivault:mac:<purpose>"), msg)
 * An envelope made by hand opens, one the keyring seals opens by hand, and
 * the MAC is the hand-made one, at versions of one and two digits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/keys_int.h"
#include "store/store.h"
#include "util/util.h"

#include "keys/keys_test.h"

#define NAME "collection:pinned"
#define NVERS 12

static const uint8_t AAD[] = "pinned|rec_1|3";
static const uint8_t PT[] = "{\"mrn\":\"MRN-0042\"}";
static const uint8_t MSG[] = "pinned\x1fmrn\x1fMRN-0042";

static void
material(uint32_t v, uint8_t out[32])
{
	for (int i = 0; i < 32; i++)
		out[i] = (uint8_t)(v * 37 + (uint32_t)i * 11 + 1);
}

static void
check_version(struct keys *k, uint32_t v)
{
	uint8_t kek[32], dek[32], back[32], mk[32], want[32], got[32];
	uint8_t ct[sizeof(PT) - 1 + CRYPTO_BOX_OVERHEAD], pt[sizeof(PT) - 1];
	char dekaad[96], info[64];
	struct keys_envelope e;
	int n;

	material(v, kek);
	n = snprintf(dekaad, sizeof(dekaad), "phivault:dek:%s:%u", NAME, (unsigned)v);
	assert_true(n > 0 && (size_t)n < sizeof(dekaad));
	/* by hand -> the keyring opens it */
	memset(&e, 0, sizeof(e));
	util_strlcpy(e.kek_name, NAME, sizeof(e.kek_name));
	e.kek_version = v;
	for (int i = 0; i < 32; i++)
		dek[i] = (uint8_t)(200 - i - v);
	assert_int_equal(crypto_gcmbox_seal(kek, NULL, (const uint8_t *)dekaad, (size_t)n, dek, 32,
	    e.wrapped_dek), PV_OK);
	assert_int_equal(crypto_gcmbox_seal(dek, NULL, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    ct), PV_OK);
	assert_int_equal(keys_envelope_open(k, &e, AAD, sizeof(AAD) - 1, ct, sizeof(ct), pt),
	    PV_OK);
	assert_memory_equal(pt, PT, sizeof(pt));
	/* the keyring seals (latest version) -> it opens by hand */
	if (v == NVERS) {
		assert_int_equal(keys_envelope_seal(k, NAME, AAD, sizeof(AAD) - 1, PT,
		    sizeof(PT) - 1, ct, &e), PV_OK);
		assert_int_equal(e.kek_version, v);
		assert_int_equal(crypto_gcmbox_open(kek, (const uint8_t *)dekaad, (size_t)n,
		    e.wrapped_dek, sizeof(e.wrapped_dek), back), PV_OK);
		assert_int_equal(crypto_gcmbox_open(back, AAD, sizeof(AAD) - 1, ct, sizeof(ct), pt),
		    PV_OK);
		assert_memory_equal(pt, PT, sizeof(pt));
	}
	/* the MAC, twice (derived, then from the cache) */
	n = snprintf(info, sizeof(info), "phivault:mac:%s", "mrn");
	assert_int_equal(crypto_hkdf_sha256(NULL, 0, kek, 32, (const uint8_t *)info, (size_t)n,
	    mk, sizeof(mk)), PV_OK);
	assert_int_equal(crypto_hmac_sha256(mk, sizeof(mk), MSG, sizeof(MSG) - 1, want), PV_OK);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(keys_mac_version(k, NAME, v, "mrn", MSG, sizeof(MSG) - 1, got),
		    PV_OK);
		assert_memory_equal(got, want, sizeof(want));
	}
}

static void
test_formats(void **state)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	char dir[PATH_MAX], **shares = NULL;
	size_t nshares = 0;
	struct store *st;
	struct keys *k;
	enum pv_rc rc;

	(void)state;
	assert_int_equal(crypto_init(), PV_OK);
	assert_int_equal(kt_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	assert_int_equal(keys_initialize(st, dir, &spec, &shares, &nshares), PV_OK);
	assert_int_equal(keys_open(st, dir, &k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(k), PV_OK);
	for (uint32_t v = 1; v <= NVERS; v++) {
		struct pv_secret *m = NULL;

		assert_int_equal(crypto_secret_new(32, &m), PV_OK);
		material(v, m->buf);
		STORE_WRITE(st, rc, keys_kek_install_tx(k, tx, NAME, v, m));
		assert_int_equal(rc, PV_OK);
		crypto_secret_free(m);
	}
	check_version(k, 1);
	check_version(k, 10);
	check_version(k, NVERS);
	keys_close(k);
	store_close(st);
	keys_shares_free(shares, nshares);
	kt_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
