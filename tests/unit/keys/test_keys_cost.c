/*
 * The keyring's hot calls, counted under callgrind (docs/internals/keys.md
 * "Cost"): an envelope open and seal of a 1 KiB record under a soft KEK, and
 * the blind-index MAC of one field (keys_mac_version, as vault_index_entries
 * calls it per searchable field on a create). Each cost_* function runs n
 * operations; the marginal cost of N2 - N1 of them cancels the set-up:
 *
 *   for n in 10 110; do PV_TEST_NOPS=$n valgrind --tool=callgrind \
 *       --toggle-collect=cost_opens --callgrind-out-file=cg.open.$n \
 *       ./unit_keys_test_keys_cost; done
 *
 * (and cost_seals, cost_macs). Without PV_TEST_NOPS it is a quick check
 * that every answer is right.
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
#include "store/store.h"
#include "util/util.h"

#include "keys/keys_test.h"

#define KEK "collection:patients"
#define IDX "index:patients"
#define NOPS 3
#define PTLEN 1031

struct cf {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *k;
	char **shares;
	size_t nshares;
	uint8_t pt[PTLEN];
	uint8_t ct[PTLEN + CRYPTO_BOX_OVERHEAD];
	uint8_t out[PTLEN + CRYPTO_BOX_OVERHEAD];
	struct keys_envelope env;
	int n;
};

static const uint8_t AAD[] = "patients|rec_0000000000000001|1";
static const uint8_t MSG[] = "patients\x1fssn\x1f" "701020001";

static int cf_setup(void **state)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	struct cf *f = calloc(1, sizeof(*f));
	const char *env = getenv("PV_TEST_NOPS");

	if (f == NULL || crypto_init() != PV_OK || kt_tmpdir(f->dir, sizeof(f->dir)) != 0)
		return -1;
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK ||
	    keys_initialize(f->st, f->dir, &spec, &f->shares, &f->nshares) != PV_OK ||
	    keys_open(f->st, f->dir, &f->k) != PV_OK || keys_unseal_keyfile(f->k) != PV_OK ||
	    keys_kek_ensure(f->k, KEK) != PV_OK || keys_kek_ensure(f->k, IDX) != PV_OK)
		return -1;
	for (size_t i = 0; i < sizeof(f->pt); i++)
		f->pt[i] = (uint8_t)('a' + i % 26);
	if (keys_envelope_seal(f->k, KEK, AAD, sizeof(AAD) - 1, f->pt, sizeof(f->pt), f->ct,
	    &f->env) != PV_OK)
		return -1;
	f->n = env != NULL ? atoi(env) : NOPS;
	if (f->n < 1 || f->n > 100000)
		f->n = NOPS;
	*state = f;
	return 0;
}

static int cf_teardown(void **state)
{
	struct cf *f = *state;

	keys_close(f->k);
	store_close(f->st);
	keys_shares_free(f->shares, f->nshares);
	kt_rmtree(f->dir);
	free(f);
	return 0;
}

__attribute__((noinline)) static void cost_opens(struct cf *f, int n)
{
	for (int i = 0; i < n; i++) {
		memset(f->out, 0, sizeof(f->out));
		assert_int_equal(keys_envelope_open(f->k, &f->env, AAD, sizeof(AAD) - 1, f->ct,
		    sizeof(f->ct), f->out), PV_OK);
		assert_memory_equal(f->out, f->pt, sizeof(f->pt));
	}
}

__attribute__((noinline)) static void cost_seals(struct cf *f, int n, struct keys_envelope *e)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(keys_envelope_seal(f->k, KEK, AAD, sizeof(AAD) - 1, f->pt,
		    sizeof(f->pt), f->out, e), PV_OK);
}

__attribute__((noinline)) static void cost_macs(struct cf *f, int n, uint8_t first[32])
{
	uint8_t mac[CRYPTO_SHA256_LEN];

	for (int i = 0; i < n; i++) {
		assert_int_equal(keys_mac_version(f->k, IDX, 1, "ssn", MSG, sizeof(MSG) - 1, mac),
		    PV_OK);
		assert_memory_equal(mac, first, sizeof(mac));
	}
}

static void test_open_cost(void **state)
{
	struct cf *f = *state;

	cost_opens(f, f->n);
}

static void test_seal_cost(void **state)
{
	struct cf *f = *state;
	struct keys_envelope e;
	uint8_t back[PTLEN];

	cost_seals(f, f->n, &e);
	/* the last one opens to the plaintext */
	assert_int_equal(e.kek_version, 1);
	assert_int_equal(keys_envelope_open(f->k, &e, AAD, sizeof(AAD) - 1, f->out,
	    sizeof(f->out), back), PV_OK);
	assert_memory_equal(back, f->pt, sizeof(back));
}

static void test_mac_cost(void **state)
{
	struct cf *f = *state;
	uint8_t first[CRYPTO_SHA256_LEN], other[CRYPTO_SHA256_LEN];

	assert_int_equal(keys_mac_version(f->k, IDX, 1, "ssn", MSG, sizeof(MSG) - 1, first),
	    PV_OK);
	cost_macs(f, f->n, first);
	/* another purpose is another key */
	assert_int_equal(keys_mac_version(f->k, IDX, 1, "mrn", MSG, sizeof(MSG) - 1, other),
	    PV_OK);
	assert_memory_not_equal(first, other, sizeof(first));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_cost, cf_setup, cf_teardown),
		cmocka_unit_test_setup_teardown(test_seal_cost, cf_setup, cf_teardown),
		cmocka_unit_test_setup_teardown(test_mac_cost, cf_setup, cf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
