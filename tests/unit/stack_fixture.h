/*
 * stack_fixture: the lower half of the server that unit tests of the modules
 * above audit run against, for real: a data directory under $PV_TEST_TMP (or
 * /tmp) with an SQLite store, a key-file keyring, unsealed, and a running
 * audit writer. Shared by the authn and vault fixtures.
 */
#ifndef PV_TEST_STACK_FIXTURE_H
#define PV_TEST_STACK_FIXTURE_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "store/store.h"

/* 0, or -1 if any step failed (what was opened stays in the out-parameters). */
static inline int pv_stack_open(const char *prefix, char dir[PATH_MAX], struct store **st,
    struct keys **keys, struct audit **audit)
{
	struct keys_seal_spec spec = { .type = KEYS_SEAL_KEYFILE };
	struct audit_config ac = { .checkpoint_every = 1000, .checkpoint_interval_s = 60 };
	const char *base = getenv("PV_TEST_TMP");
	char **shares = NULL;
	size_t nshares = 0;

	if (crypto_init() != PV_OK)
		return -1;
	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	(void)mkdir(base, 0700);
	if ((size_t)snprintf(dir, PATH_MAX, "%s/%s-XXXXXX", base, prefix) >= PATH_MAX)
		return -1;
	if (mkdtemp(dir) == NULL ||
	    store_open(dir, "sqlite", NULL, false, st) != PV_OK ||
	    keys_initialize(*st, dir, &spec, &shares, &nshares) != PV_OK ||
	    keys_open(*st, dir, keys) != PV_OK ||
	    keys_unseal_keyfile(*keys) != PV_OK ||
	    audit_start(*st, *keys, &ac, audit) != PV_OK)
		return -1;
	keys_shares_free(shares, nshares);
	return 0;
}

static inline int pv_stack_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove the data directory and everything in it. */
static inline void pv_stack_remove_dir(const char *dir)
{
	(void)nftw(dir, pv_stack_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* PV_TEST_STACK_FIXTURE_H */
