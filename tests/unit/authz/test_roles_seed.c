/*
 * The built-in roles seeded into the store by migration 2 say exactly what
 * authz enforces (permission by permission, in canonical form) (perm.c is authoritative; the table is what an auditor
 * reads with plain SQL), and every built-in role is seeded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "authz/authz.h"
#include "store/store.h"
#include "tx_helpers.h"

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

static int count_builtin(const struct store_role *r, void *arg)
{
	if (r->builtin)
		(*(size_t *)arg)++;
	return 0;
}

static void test_seed_matches_authz(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	char dir[4096];
	struct store *st = NULL;
	size_t i, k, n, seeded = 0;
	const char *name;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/authz-XXXXXX", base ? base : "/tmp");
	if (base != NULL)
		mkdir(base, 0700);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	for (i = 0; (name = authz_builtin_role_name(i)) != NULL; i++) {
		const char *const *perms = authz_builtin_role(name, &n);
		struct store_role r;
		json_t *arr;

		assert_int_equal(TX_RD(st, store_role_get(tx, name, &r)), PV_OK);
		assert_true(r.builtin);
		arr = json_loads(r.permissions, 0, NULL);
		assert_true(json_is_array(arr));
		assert_int_equal(json_array_size(arr), n);
		/* same permission, compared canonically: the clinician row seeded by
		 * migration 2 says "tokens.detokenize", the deprecated alias of
		 * perm.c's "tokens.detokenize:*" (a released migration is never
		 * edited, and the alias means exactly that) */
		for (k = 0; k < n; k++) {
			struct authz_perm a, b;
			char ca[AUTHZ_PERM_MAX], cb[AUTHZ_PERM_MAX];

			assert_int_equal(authz_perm_parse(json_string_value(json_array_get(arr, k)),
			    &a), PV_OK);
			assert_int_equal(authz_perm_parse(perms[k], &b), PV_OK);
			assert_int_equal(authz_perm_format(&a, ca), PV_OK);
			assert_int_equal(authz_perm_format(&b, cb), PV_OK);
			assert_string_equal(ca, cb);
		}
		json_decref(arr);
		store_role_clear(&r);
	}
	assert_int_equal(TX_RD(st, store_role_list(tx, count_builtin, &seeded)), PV_OK);
	assert_int_equal(seeded, i);
	store_close(st);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_matches_authz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
