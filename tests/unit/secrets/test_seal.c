/*
 * secrets/seal.c: the path grammar and a version's envelope on a real
 * keyring (stack fixture): a value opens only at the path and version it
 * was sealed for (AAD "phivault:secret:v1|<path>|<version>"), a tampered
 * ciphertext or DEK does not open, a destroyed version answers
 * PV_E_SECRET_DESTROYED, and the value comes back in locked memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "secrets/secrets_int.h"
#include "stack_fixture.h"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || pv_stack_open("secrets-seal", f->dir, &f->st, &f->keys, &f->audit) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	audit_stop(f->audit);
	keys_close(f->keys);
	store_close(f->st);
	pv_stack_remove_dir(f->dir);
	free(f);
	return 0;
}

static void test_path_grammar(void **state)
{
	char longp[SECRETS_PATH_MAX + 2];

	(void)state;
	assert_true(secrets_path_valid("db"));
	assert_true(secrets_path_valid("apps/billing/db"));
	assert_true(secrets_path_valid("a-b_c.d/e9"));
	assert_true(secrets_path_valid("a/b/c/d/e/f/g/h"));          /* 8 segments */
	assert_false(secrets_path_valid("a/b/c/d/e/f/g/h/i"));       /* 9 */
	assert_false(secrets_path_valid(NULL));
	assert_false(secrets_path_valid(""));
	assert_false(secrets_path_valid("/apps/db"));
	assert_false(secrets_path_valid("apps/db/"));
	assert_false(secrets_path_valid("apps//db"));
	assert_false(secrets_path_valid("apps/../db"));
	assert_false(secrets_path_valid(".."));
	assert_false(secrets_path_valid("apps/./db"));
	assert_false(secrets_path_valid("Apps/db"));
	assert_false(secrets_path_valid("apps/d|b"));                /* the AAD separator */
	assert_false(secrets_path_valid("apps/d b"));
	assert_true(secrets_path_valid("apps/..db"));                /* a name, not a walk */
	memset(longp, 'a', sizeof(longp));
	longp[SECRETS_PATH_MAX] = '\0';
	assert_true(secrets_path_valid(longp));
	longp[SECRETS_PATH_MAX] = 'a';
	longp[SECRETS_PATH_MAX + 1] = '\0';
	assert_false(secrets_path_valid(longp));
}

static void test_aad(void **state)
{
	char buf[SECRETS_AAD_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(secrets_aad("apps/billing/db", 3, buf, sizeof(buf), &n), PV_OK);
	assert_string_equal(buf, "phivault:secret:v1|apps/billing/db|3");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(secrets_aad("apps/billing/db", 0, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(secrets_aad("bad|path", 1, buf, sizeof(buf), &n), PV_E_INVALID);
}

static void open_expect(struct fx *f, const struct store_secret_version *v, enum pv_rc want)
{
	struct pv_secret *pt = NULL;

	assert_int_equal(secrets_open(f->keys, v, &pt), want);
	if (want != PV_OK)
		assert_null(pt);
	crypto_secret_free(pt);
}

static void test_seal_binds_path_and_version(void **state)
{
	struct fx *f = *state;
	static const char value[] = "s3cr3t-db-password";
	struct store_secret_version v, w;
	struct pv_secret *pt = NULL;

	memset(&v, 0, sizeof(v));
	/* no KEK "secrets" yet: the operation makes it first */
	assert_int_equal(secrets_seal(f->keys, "apps/billing/db", 1, (const uint8_t *)value,
	    strlen(value), &v), PV_E_NOTFOUND);
	assert_int_equal(keys_kek_ensure(f->keys, STORE_SECRETS_KEK), PV_OK);
	assert_int_equal(secrets_seal(f->keys, "apps/billing/db", 2, (const uint8_t *)value,
	    strlen(value), &v), PV_OK);
	assert_string_equal(v.kek_name, "secrets");
	assert_int_equal(v.kek_version, 1);
	assert_int_equal(v.version, 2);
	assert_int_equal(v.wrapped_dek_len, KEYS_WRAPPED_DEK_LEN);
	assert_int_equal(v.ciphertext_len, strlen(value) + CRYPTO_BOX_OVERHEAD);
	assert_null(memmem(v.ciphertext, v.ciphertext_len, value, strlen(value)));
	assert_int_equal(secrets_open(f->keys, &v, &pt), PV_OK);
	assert_int_equal(pt->len, strlen(value));
	assert_memory_equal(pt->buf, value, strlen(value));
	crypto_secret_free(pt);

	/* moved to another path, or to another version: does not open */
	w = v;
	snprintf(w.path, sizeof(w.path), "apps/hr/db");
	open_expect(f, &w, PV_E_INTEGRITY);
	w = v;
	w.version = 3;
	open_expect(f, &w, PV_E_INTEGRITY);
	w.version = 1;
	open_expect(f, &w, PV_E_INTEGRITY);
	/* tampered ciphertext, tampered wrapped DEK */
	v.ciphertext[0] ^= 1;
	open_expect(f, &v, PV_E_INTEGRITY);
	v.ciphertext[0] ^= 1;
	v.wrapped_dek[5] ^= 1;
	open_expect(f, &v, PV_E_INTEGRITY);
	v.wrapped_dek[5] ^= 1;
	open_expect(f, &v, PV_OK);
	/* destroyed: gone, whatever else is there */
	v.destroyed_ms = 1;
	open_expect(f, &v, PV_E_SECRET_DESTROYED);
	store_secret_version_clear(&v);
	memset(&w, 0, sizeof(w));
	snprintf(w.path, sizeof(w.path), "apps/billing/db");
	w.version = 1;
	open_expect(f, &w, PV_E_SECRET_DESTROYED);
}

static void test_empty_and_limits(void **state)
{
	struct fx *f = *state;
	struct store_secret_version v;
	struct pv_secret *pt = NULL;
	uint8_t *big = calloc(1, SECRETS_VALUE_MAX + 1);

	assert_non_null(big);
	assert_int_equal(keys_kek_ensure(f->keys, STORE_SECRETS_KEK), PV_OK);
	memset(&v, 0, sizeof(v));
	assert_int_equal(secrets_seal(f->keys, "e", 1, NULL, 0, &v), PV_OK);
	assert_int_equal(secrets_open(f->keys, &v, &pt), PV_OK);
	assert_int_equal(pt->len, 0);
	crypto_secret_free(pt);
	store_secret_version_clear(&v);
	assert_int_equal(secrets_seal(f->keys, "big", 1, big, SECRETS_VALUE_MAX, &v), PV_OK);
	store_secret_version_clear(&v);
	assert_int_equal(secrets_seal(f->keys, "big", 1, big, SECRETS_VALUE_MAX + 1, &v),
	    PV_E_INVALID);
	assert_int_equal(secrets_seal(f->keys, "bad path", 1, big, 1, &v), PV_E_INVALID);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_grammar),
		cmocka_unit_test(test_aad),
		cmocka_unit_test_setup_teardown(test_seal_binds_path_and_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
