/*
 * Blind index through a real keyring (SQLite store in a temporary data
 * directory): the MAC is keys_mac under KEK "index:<collection>" with the
 * field as purpose, equal canonical values give equal indexes, and nothing
 * is computed while sealed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"
#include "store/store.h"
#include "vault_test.h"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *k;
};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	struct fx *f = calloc(1, sizeof(*f));
	const char *base = getenv("PV_TEST_TMP");
	char **shares = NULL;
	size_t nshares = 0;

	if (f == NULL)
		return -1;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	(void)mkdir(base, 0700);
	snprintf(f->dir, sizeof(f->dir), "%s/vault-bidx-XXXXXX", base);
	if (mkdtemp(f->dir) == NULL)
		return -1;
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(keys_initialize(f->st, f->dir, &spec, &shares, &nshares), PV_OK);
	keys_shares_free(shares, nshares);
	assert_int_equal(keys_open(f->st, f->dir, &f->k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(f->k), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, "index:patients"), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, "index:staff"), PV_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	keys_close(f->k);
	store_close(f->st);
	(void)nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void test_index_is_keys_mac_of_input(void **state)
{
	struct fx *f = *state;
	const char *input = "phivault:bidx:v1|patients|ssn|123-45-6789";
	uint8_t a[VAULT_BLIND_LEN], b[VAULT_BLIND_LEN];

	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", "123-45-6789", a), PV_OK);
	assert_int_equal(keys_mac(f->k, "index:patients", "ssn", (const uint8_t *)input,
	    strlen(input), b), PV_OK);
	assert_memory_equal(a, b, VAULT_BLIND_LEN);
}

static void test_equal_values_match(void **state)
{
	struct fx *f = *state;
	struct vault_field fd = vt_field("ssn", VAULT_TYPE_SSN);
	char canon[VAULT_CANON_MAX], err[VAULT_ERR_MAX];
	uint8_t a[VAULT_BLIND_LEN], b[VAULT_BLIND_LEN];

	/* the stored spelling and a search spelling meet after normalisation */
	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", "123-45-6789", a), PV_OK);
	assert_int_equal(vault_value_normalize_text(&fd, "123456789", canon, sizeof(canon), err,
	    sizeof(err)), PV_OK);
	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", canon, b), PV_OK);
	assert_memory_equal(a, b, VAULT_BLIND_LEN);
}

static void test_other_value_field_collection_differ(void **state)
{
	struct fx *f = *state;
	uint8_t a[VAULT_BLIND_LEN], b[VAULT_BLIND_LEN];

	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", "123-45-6789", a), PV_OK);
	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", "123-45-6788", b), PV_OK);
	assert_memory_not_equal(a, b, VAULT_BLIND_LEN);
	assert_int_equal(vault_blind_index(f->k, "patients", "old_ssn", "123-45-6789", b), PV_OK);
	assert_memory_not_equal(a, b, VAULT_BLIND_LEN);
	assert_int_equal(vault_blind_index(f->k, "staff", "ssn", "123-45-6789", b), PV_OK);
	assert_memory_not_equal(a, b, VAULT_BLIND_LEN);
}

static void test_refused(void **state)
{
	struct fx *f = *state;
	uint8_t a[VAULT_BLIND_LEN];

	/* no index KEK for this collection */
	assert_int_not_equal(vault_blind_index(f->k, "nosuch", "ssn", "123-45-6789", a), PV_OK);
	assert_int_equal(vault_blind_index(f->k, "patients", "Bad", "x", a), PV_E_INVALID);
	keys_seal(f->k);
	assert_int_equal(vault_blind_index(f->k, "patients", "ssn", "123-45-6789", a), PV_E_SEALED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_is_keys_mac_of_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_equal_values_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_value_field_collection_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
