/*
 * Unit tests for the keyring (src/keys/keys.c) on a real SQLite store in a
 * temporary data directory: initialization, both seals, envelopes, KEK
 * rotation and revocation, MAC keys, audit signing, and what a sealed
 * keyring refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "crypto/crypto.h"
#include "keys/keys.h"
#include "keys/keys_int.h"
#include "store/store.h"
#include "util/util.h"

#include "keys/keys_test.h"

#include <sqlite3.h>
#include "tx_helpers.h"

#define KEK "collection:patients"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *k;
	char **shares;
	size_t nshares;
};

static void
fx_init(struct fx *f, enum keys_seal_type type, int k, int n)
{
	struct keys_seal_spec spec = { type, k, n };

	memset(f, 0, sizeof(*f));
	assert_int_equal(kt_tmpdir(f->dir, sizeof(f->dir)), 0);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(keys_initialize(f->st, f->dir, &spec, &f->shares, &f->nshares), PV_OK);
	assert_int_equal(keys_open(f->st, f->dir, &f->k), PV_OK);
}

/* Key-file keyring, unsealed, with KEK ensured. */
static void
fx_keyfile(struct fx *f)
{
	fx_init(f, KEYS_SEAL_KEYFILE, 0, 0);
	assert_int_equal(keys_unseal_keyfile(f->k), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, KEK), PV_OK);
}

static void
fx_reopen(struct fx *f)
{
	keys_close(f->k);
	store_close(f->st);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(keys_open(f->st, f->dir, &f->k), PV_OK);
}

static void
fx_done(struct fx *f)
{
	keys_close(f->k);
	store_close(f->st);
	keys_shares_free(f->shares, f->nshares);
	kt_rmtree(f->dir);
}

static void
keyfile_path(const struct fx *f, char *buf, size_t len)
{
	assert_int_equal(util_path_join(buf, len, f->dir, KEYS_UNSEAL_FILE), 0);
}

/* One envelope in memory, as a record would hold it. */
struct env {
	struct keys_envelope e;
	uint8_t ct[256];
	size_t ctlen;
};

static const uint8_t AAD[] = "patients|rec_abc|1";
static const uint8_t PT[] = "{\"name\":\"Jane Roe\",\"dob\":\"1970-01-01\"}";

static void
env_seal(struct fx *f, struct env *v)
{
	assert_int_equal(keys_envelope_seal(f->k, KEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    v->ct, &v->e), PV_OK);
	v->ctlen = sizeof(PT) - 1 + CRYPTO_BOX_OVERHEAD;
}

static enum pv_rc
env_open(struct fx *f, const struct env *v)
{
	uint8_t pt[256];
	enum pv_rc rc;

	rc = keys_envelope_open(f->k, &v->e, AAD, sizeof(AAD) - 1, v->ct, v->ctlen, pt);
	if (rc == PV_OK)
		assert_memory_equal(pt, PT, sizeof(PT) - 1);
	return rc;
}

static int
setup(void **state)
{
	(void)state;
	return crypto_init() == PV_OK ? 0 : -1;
}

/* ---- tests ---- */

static void
test_seal_parse(void **state)
{
	struct keys_seal_spec s;

	(void)state;
	assert_int_equal(keys_seal_parse("keyfile", &s), PV_OK);
	assert_int_equal(s.type, KEYS_SEAL_KEYFILE);
	assert_int_equal(keys_seal_parse("shamir:3/5", &s), PV_OK);
	assert_int_equal(s.type, KEYS_SEAL_SHAMIR);
	assert_int_equal(s.threshold, 3);
	assert_int_equal(s.shares, 5);
	assert_int_equal(keys_seal_parse("shamir:2/255", &s), PV_OK);
	assert_int_equal(keys_seal_parse("pkcs11", &s), PV_OK);
	assert_int_equal(s.type, KEYS_SEAL_PKCS11);

	s.type = KEYS_SEAL_PKCS11;
	s.threshold = 42;
	assert_int_equal(keys_seal_parse("shamir:1/1", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:3/2", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:3/256", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:3", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:3/", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:/5", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:a/b", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:3/5x", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("shamir:-3/5", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("KEYFILE", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse("", &s), PV_E_INVALID);
	assert_int_equal(keys_seal_parse(NULL, &s), PV_E_INVALID);
	assert_int_equal(s.threshold, 42);   /* untouched on failure */
}

static void
test_open_uninitialized_and_init_twice(void **state)
{
	struct keys_seal_spec kf = { KEYS_SEAL_KEYFILE, 0, 0 };
	struct keys_seal_spec sh = { KEYS_SEAL_SHAMIR, 2, 3 };
	struct keys_seal_spec p11 = { KEYS_SEAL_PKCS11, 0, 0 };
	char dir[PATH_MAX];
	struct store *st;
	struct keys *k = NULL;
	char **shares = NULL;
	size_t n = 0;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];

	(void)state;
	assert_int_equal(kt_tmpdir(dir, sizeof(dir)), 0);
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	assert_int_equal(keys_open(st, dir, &k), PV_E_NOTFOUND);
	assert_null(k);
	assert_int_equal(keys_audit_public_key(st, pub), PV_E_NOTFOUND);
	assert_int_equal(keys_initialize(st, dir, &p11, &shares, &n), PV_E_CONFIG);

	assert_int_equal(keys_initialize(st, dir, &kf, &shares, &n), PV_OK);
	assert_null(shares);
	assert_int_equal(n, 0);
	assert_int_equal(keys_initialize(st, dir, &kf, &shares, &n), PV_E_CONFLICT);
	assert_int_equal(keys_initialize(st, dir, &sh, &shares, &n), PV_E_CONFLICT);
	assert_null(shares);
	/* the first initialization still unseals */
	assert_int_equal(keys_open(st, dir, &k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(k), PV_OK);
	keys_close(k);
	store_close(st);
	kt_rmtree(dir);
}

static void
test_keyfile_lifecycle(void **state)
{
	struct fx f;
	struct keys_seal_status s;
	struct env v, bad;
	char path[PATH_MAX];
	struct stat sb;
	uint8_t *buf = NULL, pt[256], sig[CRYPTO_ED25519_SIG_LEN], mac[CRYPTO_SHA256_LEN];
	size_t len = 0, i;

	(void)state;
	fx_init(&f, KEYS_SEAL_KEYFILE, 0, 0);
	assert_null(f.shares);

	/* DIR/unseal.key: mode 0600, 64 hex digits and a newline */
	keyfile_path(&f, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(util_file_read(path, 4096, &buf, &len), PV_OK);
	assert_int_equal(len, 65);
	assert_int_equal(buf[64], '\n');
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", buf[i]));
	free(buf);

	/* opened sealed; everything that needs a key refuses */
	assert_true(keys_is_sealed(f.k));
	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.type, KEYS_SEAL_KEYFILE);
	assert_int_equal(keys_kek_ensure(f.k, KEK), PV_E_SEALED);
	memset(&v, 0, sizeof(v));
	assert_int_equal(keys_envelope_seal(f.k, KEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    v.ct, &v.e), PV_E_SEALED);
	assert_int_equal(keys_audit_sign(f.k, PT, sizeof(PT), sig), PV_E_SEALED);
	assert_int_equal(keys_mac(f.k, KEK, "email", PT, sizeof(PT), mac), PV_E_SEALED);
	assert_int_equal(keys_unseal_share(f.k, "pvs1:00", &s), PV_E_STATE);

	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_false(keys_is_sealed(f.k));
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);   /* already unsealed */
	assert_int_equal(keys_kek_ensure(f.k, KEK), PV_OK);

	/* round trip; the ciphertext is not the plaintext */
	env_seal(&f, &v);
	assert_string_equal(v.e.kek_name, KEK);
	assert_int_equal(v.e.kek_version, 1);
	assert_null(memmem(v.ct, v.ctlen, "Jane", 4));
	assert_int_equal(env_open(&f, &v), PV_OK);

	/* wrong AAD (another record id) */
	assert_int_equal(keys_envelope_open(f.k, &v.e, (const uint8_t *)"patients|rec_abd|1", 18,
	    v.ct, v.ctlen, pt), PV_E_INTEGRITY);
	/* flipped ciphertext byte, tag byte, IV byte */
	for (i = 0; i < 3; i++) {
		size_t at[3] = { CRYPTO_GCM_IV_LEN + 3, v.ctlen - 1, 0 };

		bad = v;
		bad.ct[at[i]] ^= 0x01;
		assert_int_equal(env_open(&f, &bad), PV_E_INTEGRITY);
	}
	/* tampered wrapped DEK, version, truncated ciphertext */
	bad = v;
	bad.e.wrapped_dek[20] ^= 0x80;
	assert_int_equal(env_open(&f, &bad), PV_E_INTEGRITY);
	bad = v;
	bad.e.kek_version = 7;
	assert_int_equal(env_open(&f, &bad), PV_E_INTEGRITY);
	bad = v;
	bad.ctlen = CRYPTO_BOX_OVERHEAD - 1;
	assert_int_equal(env_open(&f, &bad), PV_E_INTEGRITY);
	/* a DEK wrapped for one KEK name does not open under another */
	assert_int_equal(keys_kek_ensure(f.k, "collection:other"), PV_OK);
	bad = v;
	util_strlcpy(bad.e.kek_name, "collection:other", sizeof(bad.e.kek_name));
	assert_int_equal(env_open(&f, &bad), PV_E_INTEGRITY);
	/* unknown and malformed KEK names */
	assert_int_equal(keys_envelope_seal(f.k, "collection:none", AAD, 1, PT, 1, v.ct, &bad.e),
	    PV_E_NOTFOUND);
	assert_int_equal(keys_envelope_seal(f.k, "Bad Name", AAD, 1, PT, 1, v.ct, &bad.e),
	    PV_E_INVALID);
	assert_int_equal(keys_kek_ensure(f.k, ""), PV_E_INVALID);

	/* empty plaintext and empty AAD are fine */
	{
		struct keys_envelope e;
		uint8_t ct[CRYPTO_BOX_OVERHEAD];

		assert_int_equal(keys_envelope_seal(f.k, KEK, NULL, 0, NULL, 0, ct, &e), PV_OK);
		assert_int_equal(keys_envelope_open(f.k, &e, NULL, 0, ct, sizeof(ct), pt), PV_OK);
	}

	/* sealing wipes: envelopes refuse again */
	keys_seal(f.k);
	assert_true(keys_is_sealed(f.k));
	assert_int_equal(env_open(&f, &v), PV_E_SEALED);

	/* persistence: a new store handle and keyring open the old envelope */
	fx_reopen(&f);
	assert_true(keys_is_sealed(f.k));
	assert_int_equal(env_open(&f, &v), PV_E_SEALED);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(env_open(&f, &v), PV_OK);
	fx_done(&f);
}

static void
test_keyfile_refused(void **state)
{
	struct fx f;
	char path[PATH_MAX], link[PATH_MAX + 8];
	uint8_t *orig = NULL, other[32];
	char otherhex[65 + 1];
	size_t len = 0;

	(void)state;
	fx_init(&f, KEYS_SEAL_KEYFILE, 0, 0);
	keyfile_path(&f, path, sizeof(path));
	assert_int_equal(util_file_read(path, 4096, &orig, &len), PV_OK);

	/* readable by group/others: refused, stays sealed */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	assert_true(keys_is_sealed(f.k));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	assert_true(keys_is_sealed(f.k));

	/* a symbolic link is refused even if its target is fine */
	snprintf(link, sizeof(link), "%s.real", path);
	assert_int_equal(rename(path, link), 0);
	assert_int_equal(chmod(link, 0600), 0);
	assert_int_equal(symlink(link, path), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	assert_int_equal(unlink(path), 0);

	/* missing */
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_NOTFOUND);

	/* malformed content */
	assert_int_equal(kt_write(path, "not a key\n", 10, 0600), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	assert_int_equal(kt_write(path, orig, 64, 0600), 0);           /* no newline: fine */
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	keys_seal(f.k);
	{
		uint8_t twice[130];

		memcpy(twice, orig, 65);
		memcpy(twice + 65, orig, 65);
		assert_int_equal(kt_write(path, twice, sizeof(twice), 0600), 0);
		assert_int_equal(keys_unseal_keyfile(f.k), PV_E_CONFIG);
	}

	/* another key: the root key does not open */
	assert_int_equal(crypto_random(other, sizeof(other)), PV_OK);
	util_hex_encode(other, sizeof(other), otherhex);
	otherhex[64] = '\n';
	assert_int_equal(kt_write(path, otherhex, 65, 0600), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_INTEGRITY);
	assert_true(keys_is_sealed(f.k));

	/* the right key with mode 0600 again */
	assert_int_equal(kt_write(path, orig, len, 0600), 0);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_false(keys_is_sealed(f.k));
	free(orig);
	fx_done(&f);
}

static void
test_shamir_unseal(void **state)
{
	struct fx f;
	struct keys_seal_status s;
	char path[PATH_MAX], buf[256];
	struct env v;
	size_t i;

	(void)state;
	fx_init(&f, KEYS_SEAL_SHAMIR, 3, 5);
	assert_int_equal(f.nshares, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(strlen(f.shares[i]), KEYS_SHARE_TEXT_LEN);
		assert_true(strncmp(f.shares[i], "pvs1:", 5) == 0);
	}
	/* no key file: nothing on disk rebuilds the unseal key */
	keyfile_path(&f, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_E_STATE);

	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.type, KEYS_SEAL_SHAMIR);
	assert_int_equal(s.threshold, 3);
	assert_int_equal(s.progress, 0);

	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 1);
	/* the same share again: accepted, not counted twice */
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 1);
	/* garbage, corrupted, empty: refused, progress unchanged */
	assert_int_equal(keys_unseal_share(f.k, "garbage", &s), PV_E_SHARE);
	snprintf(buf, sizeof(buf), "%s", f.shares[1]);
	buf[30] = buf[30] == 'a' ? 'b' : 'a';
	assert_int_equal(keys_unseal_share(f.k, buf, &s), PV_E_SHARE);
	assert_int_equal(keys_unseal_share(f.k, "", &s), PV_E_SHARE);
	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 1);

	/* second share (with a newline, as from stdin): still sealed, progress 2 */
	snprintf(buf, sizeof(buf), "%s\n", f.shares[3]);
	assert_int_equal(keys_unseal_share(f.k, buf, &s), PV_OK);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 2);
	assert_true(keys_is_sealed(f.k));
	/* third: unsealed */
	assert_int_equal(keys_unseal_share(f.k, f.shares[4], &s), PV_OK);
	assert_false(s.sealed);
	assert_int_equal(s.progress, 0);
	assert_false(keys_is_sealed(f.k));
	/* more shares after unsealing: no change */
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], &s), PV_OK);
	assert_false(s.sealed);

	assert_int_equal(keys_kek_ensure(f.k, KEK), PV_OK);
	env_seal(&f, &v);
	assert_int_equal(env_open(&f, &v), PV_OK);

	/* seal resets; a different subset unseals again, after a reopen too */
	keys_seal(f.k);
	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 0);
	fx_reopen(&f);
	assert_int_equal(keys_unseal_share(f.k, f.shares[2], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], &s), PV_OK);
	assert_int_equal(s.progress, 2);
	keys_seal(f.k);   /* sealing drops the partial progress */
	keys_status(f.k, &s);
	assert_int_equal(s.progress, 0);
	assert_int_equal(keys_unseal_share(f.k, f.shares[2], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_false(s.sealed);
	assert_int_equal(env_open(&f, &v), PV_OK);
	fx_done(&f);
}

/* Remove the share commitments, as in a data directory made before them. */
static void
fx_make_legacy(struct fx *f)
{
	char path[PATH_MAX + 16];
	sqlite3 *db = NULL;

	keys_close(f->k);
	store_close(f->st);
	snprintf(path, sizeof(path), "%s/phivault.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM meta WHERE key = 'seal.share_commitments'",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(keys_open(f->st, f->dir, &f->k), PV_OK);
}

/* A well-formed share that is not one issued for this vault: x, K and the
 * checksum right, y random. */
static void
forge_share(uint8_t x, uint8_t k, char out[KEYS_SHARE_TEXT_LEN + 1])
{
	struct keys_share sh = { .x = x, .threshold = k };

	assert_int_equal(crypto_random(sh.y, sizeof(sh.y)), PV_OK);
	assert_int_equal(keys_share_encode(&sh, out), PV_OK);
}

static void
test_shamir_foreign_shares(void **state)
{
	struct fx a, b;
	struct keys_seal_status s;

	(void)state;
	fx_init(&a, KEYS_SEAL_SHAMIR, 3, 5);
	fx_init(&b, KEYS_SEAL_SHAMIR, 3, 5);
	/* well-formed shares of another initialization: each refused on its own */
	assert_int_equal(keys_unseal_share(a.k, b.shares[0], &s), PV_E_SHARE);
	assert_int_equal(keys_unseal_share(a.k, b.shares[1], &s), PV_E_SHARE);
	keys_status(a.k, &s);
	assert_int_equal(s.progress, 0);

	/* mixing own and foreign shares: the foreign one discards nothing */
	assert_int_equal(keys_unseal_share(a.k, a.shares[0], &s), PV_OK);
	assert_int_equal(keys_unseal_share(a.k, a.shares[1], &s), PV_OK);
	assert_int_equal(keys_unseal_share(a.k, b.shares[2], &s), PV_E_SHARE);
	keys_status(a.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 2);

	/* a different threshold is malformed for this seal */
	{
		struct fx c;

		fx_init(&c, KEYS_SEAL_SHAMIR, 2, 3);
		assert_int_equal(keys_unseal_share(a.k, c.shares[0], &s), PV_E_SHARE);
		fx_done(&c);
	}

	/* the right third share unseals with the two collected before */
	assert_int_equal(keys_unseal_share(a.k, a.shares[4], &s), PV_OK);
	assert_false(s.sealed);
	fx_done(&a);
	fx_done(&b);
}

/* Issue 8 item 6: anyone can craft a well-formed share (the checksum is
 * unkeyed); it must neither count nor reset a custodian's progress. */
static void
test_shamir_forged_share_refused(void **state)
{
	struct fx f;
	struct keys_seal_status s;
	char forged[KEYS_SHARE_TEXT_LEN + 1];

	(void)state;
	fx_init(&f, KEYS_SEAL_SHAMIR, 3, 5);
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_int_equal(s.progress, 1);
	/* a forged share for an index not given yet */
	forge_share(2, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	/* a forged share for the index already given */
	forge_share(1, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	/* x beyond N (5), and x = 255 */
	forge_share(9, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	forge_share(255, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 1);
	/* the custodians finish: nothing was lost */
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], &s), PV_OK);
	assert_int_equal(s.progress, 2);
	forge_share(4, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	assert_int_equal(keys_unseal_share(f.k, f.shares[2], &s), PV_OK);
	assert_false(s.sealed);
	/* the commitments survive a reopen */
	fx_reopen(&f);
	forge_share(3, 3, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	assert_int_equal(keys_unseal_share(f.k, f.shares[3], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[4], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_false(s.sealed);
	fx_done(&f);
}

/* A data directory without commitments (milestone 1) keeps the old
 * behaviour: shares unsealing as before; a bad K-th share is only found when
 * the root key does not open, and progress starts again. x > N is refused. */
static void
test_shamir_legacy_without_commitments(void **state)
{
	struct fx f, b;
	struct keys_seal_status s;
	char forged[KEYS_SHARE_TEXT_LEN + 1];

	(void)state;
	fx_init(&f, KEYS_SEAL_SHAMIR, 2, 3);
	fx_init(&b, KEYS_SEAL_SHAMIR, 2, 3);
	fx_make_legacy(&f);
	forge_share(4, 2, forged);
	assert_int_equal(keys_unseal_share(f.k, forged, &s), PV_E_SHARE);
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, b.shares[1], &s), PV_E_INTEGRITY);
	keys_status(f.k, &s);
	assert_true(s.sealed);
	assert_int_equal(s.progress, 0);
	assert_int_equal(keys_unseal_share(f.k, f.shares[2], &s), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], &s), PV_OK);
	assert_false(s.sealed);
	fx_done(&f);
	fx_done(&b);
}

static void
test_rotate_and_revoke(void **state)
{
	struct fx f;
	struct env v1, v2, v3;
	struct store_kek row;
	uint32_t nv = 0;

	(void)state;
	fx_keyfile(&f);
	assert_int_equal(keys_kek_ensure(f.k, KEK), PV_OK);   /* idempotent */
	env_seal(&f, &v1);
	assert_int_equal(v1.e.kek_version, 1);

	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_OK);
	assert_int_equal(nv, 2);
	env_seal(&f, &v2);
	assert_int_equal(v2.e.kek_version, 2);
	assert_int_equal(env_open(&f, &v1), PV_OK);
	assert_int_equal(env_open(&f, &v2), PV_OK);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, KEK, 1, &row)), PV_OK);
	assert_int_equal(row.state, STORE_KEK_RETIRED);
	store_kek_clear(&row);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, KEK, 2, &row)), PV_OK);
	assert_int_equal(row.state, STORE_KEK_ACTIVE);
	assert_int_equal(row.wrapped_len, KEYS_WRAPPED_DEK_LEN);
	store_kek_clear(&row);
	assert_int_equal(keys_kek_ensure(f.k, KEK), PV_OK);   /* does not add a version */
	env_seal(&f, &v3);
	assert_int_equal(v3.e.kek_version, 2);

	/* revoke v1: its envelopes are shredded, v2's are not */
	assert_int_equal(keys_kek_revoke(f.k, KEK, 1), PV_OK);
	assert_int_equal(env_open(&f, &v1), PV_E_FORBIDDEN);
	assert_int_equal(env_open(&f, &v2), PV_OK);
	assert_int_equal(keys_kek_revoke(f.k, KEK, 1), PV_OK);   /* idempotent */
	assert_int_equal(keys_kek_revoke(f.k, KEK, 9), PV_E_NOTFOUND);
	assert_int_equal(keys_kek_revoke(f.k, KEK, 0), PV_E_INVALID);

	/* and it stays revoked across a reseal and a reopen */
	keys_seal(f.k);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(env_open(&f, &v1), PV_E_FORBIDDEN);
	fx_reopen(&f);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(env_open(&f, &v1), PV_E_FORBIDDEN);
	assert_int_equal(env_open(&f, &v2), PV_OK);

	/* revoking the current version stops new writes until a rotation */
	assert_int_equal(keys_kek_revoke(f.k, KEK, 2), PV_OK);
	assert_int_equal(keys_envelope_seal(f.k, KEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    v3.ct, &v3.e), PV_E_FORBIDDEN);
	assert_int_equal(env_open(&f, &v2), PV_E_FORBIDDEN);
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_OK);
	assert_int_equal(nv, 3);
	env_seal(&f, &v3);
	assert_int_equal(v3.e.kek_version, 3);
	assert_int_equal(env_open(&f, &v3), PV_OK);

	assert_int_equal(keys_kek_rotate(f.k, "collection:none", &nv), PV_E_NOTFOUND);
	assert_int_equal(keys_kek_rotate(f.k, "UPPER", &nv), PV_E_INVALID);
	keys_seal(f.k);
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_E_SEALED);
	fx_done(&f);
}

/* Double encryption without an HSM: both keys soft. The outer layer is
 * really there (the wrap differs from what the inner key alone makes and
 * does not open without it), either key revoked closes the envelope, and a
 * rewrap moves a single envelope under the pair; pkcs11 is refused. */
static void
test_double_encryption_soft(void **state)
{
	static const char *DKEK = "collection:dbl";
	struct keys_kek_opts both = { "soft", 1 }, p11 = { "pkcs11", 0 }, inherit = { NULL, -1 };
	struct fx f;
	struct keys_envelope e1, e2, moved;
	struct store_kek row;
	uint8_t ct[256], pt[256], box[KEYS_WRAPPED_DEK_LEN];
	char outer[KEYS_KEK_NAME_MAX + 1];
	uint32_t nv = 0;
	size_t ctlen = sizeof(PT) - 1 + CRYPTO_BOX_OVERHEAD;

	(void)state;
	fx_keyfile(&f);
	assert_false(keys_hsm_configured(f.k));
	assert_int_equal(TX_WR(f.st, keys_kek_ensure_opts_tx(f.k, tx, "collection:hsm", &p11)),
	    PV_E_STATE);
	assert_int_equal(keys_kek_outer_name(DKEK, outer, sizeof(outer)), PV_OK);
	assert_string_equal(outer, "outer:collection:dbl");
	assert_int_equal(keys_kek_outer_name(outer, (char *)box, sizeof(box)), PV_E_INVALID);
	assert_string_equal(keys_kek_census_name(outer), DKEK);
	assert_string_equal(keys_kek_census_name(DKEK), DKEK);

	assert_int_equal(TX_WR(f.st, keys_kek_ensure_opts_tx(f.k, tx, DKEK, &both)), PV_OK);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, DKEK, 1, &row)), PV_OK);
	assert_string_equal(row.outer, outer);
	assert_string_equal(row.provider, "soft");
	store_kek_clear(&row);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, outer, 1, &row)), PV_OK);
	assert_string_equal(row.outer, "");
	store_kek_clear(&row);

	assert_int_equal(keys_envelope_seal(f.k, DKEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    ct, &e1), PV_OK);
	assert_int_equal(keys_envelope_open(f.k, &e1, AAD, sizeof(AAD) - 1, ct, ctlen, pt), PV_OK);
	assert_memory_equal(pt, PT, sizeof(PT) - 1);
	/* a flipped bit under the outer layer: the inner tag refuses it */
	memcpy(box, e1.wrapped_dek, sizeof(box));
	e1.wrapped_dek[20] ^= 1;
	assert_int_equal(keys_envelope_open(f.k, &e1, AAD, sizeof(AAD) - 1, ct, ctlen, pt),
	    PV_E_INTEGRITY);
	memcpy(e1.wrapped_dek, box, sizeof(box));

	/* rotation keeps the pair: v2 of both */
	assert_int_equal(TX_WR(f.st, keys_kek_rotate_opts_tx(f.k, tx, DKEK, &inherit, &nv)), PV_OK);
	assert_int_equal(nv, 2);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, outer, 2, &row)), PV_OK);
	assert_int_equal(row.state, STORE_KEK_ACTIVE);
	store_kek_clear(&row);
	assert_int_equal(TX_RD(f.st, store_kek_get(tx, outer, 1, &row)), PV_OK);
	assert_int_equal(row.state, STORE_KEK_RETIRED);
	store_kek_clear(&row);
	assert_int_equal(keys_envelope_seal(f.k, DKEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    ct + 128, &e2), PV_OK);
	assert_int_equal(e2.kek_version, 2);
	/* the outer key's v1 revoked: v1 envelopes are closed although the
	 * inner key's v1 is intact; v2 still opens */
	assert_int_equal(keys_kek_revoke(f.k, outer, 1), PV_OK);
	assert_int_equal(keys_envelope_open(f.k, &e1, AAD, sizeof(AAD) - 1, ct, ctlen, pt),
	    PV_E_FORBIDDEN);
	assert_int_equal(keys_envelope_open(f.k, &e2, AAD, sizeof(AAD) - 1, ct + 128, ctlen, pt),
	    PV_OK);
	assert_int_equal(keys_dek_rewrap(f.k, &e1, 2, &moved), PV_E_FORBIDDEN);

	/* single -> double by rewrap: an envelope of KEK (single) moved to a
	 * double version opens, and only with the outer key */
	{
		struct env v;

		env_seal(&f, &v);
		assert_int_equal(TX_WR(f.st, keys_kek_rotate_opts_tx(f.k, tx, KEK, &both, &nv)),
		    PV_OK);
		assert_int_equal(nv, 2);
		assert_int_equal(keys_dek_rewrap(f.k, &v.e, 2, &moved), PV_OK);
		assert_int_equal(moved.kek_version, 2);
		assert_int_equal(keys_envelope_open(f.k, &moved, AAD, sizeof(AAD) - 1, v.ct, v.ctlen,
		    pt), PV_OK);
		assert_memory_equal(pt, PT, sizeof(PT) - 1);
		/* back to single: v3 has no outer key, the outer's v2 retires */
		assert_int_equal(TX_WR(f.st, keys_kek_rotate_opts_tx(f.k, tx, KEK,
		    &(struct keys_kek_opts){ NULL, 0 }, &nv)), PV_OK);
		assert_int_equal(TX_RD(f.st, store_kek_get(tx, KEK, 3, &row)), PV_OK);
		assert_string_equal(row.outer, "");
		store_kek_clear(&row);
		assert_int_equal(TX_RD(f.st, store_kek_get(tx, "outer:" KEK, 2, &row)), PV_OK);
		assert_int_equal(row.state, STORE_KEK_RETIRED);
		store_kek_clear(&row);
		assert_int_equal(keys_kek_revoke(f.k, "outer:" KEK, 2), PV_OK);
		assert_int_equal(keys_envelope_open(f.k, &moved, AAD, sizeof(AAD) - 1, v.ct, v.ctlen,
		    pt), PV_E_FORBIDDEN);
		assert_int_equal(env_open(&f, &v), PV_OK);   /* the v1 original: single */
	}
	fx_done(&f);
}

/* keys_kek_* run inside audit writer jobs: a rotation that rolls back must
 * leave nothing behind that a later rotation could collide with. */
static void
test_rotate_rolled_back(void **state)
{
	struct fx f;
	struct env v1, again;
	uint32_t nv = 0;

	(void)state;
	fx_keyfile(&f);
	env_seal(&f, &v1);
	/* The rotation's transaction does not commit: nothing of v2 is left,
	 * neither in the store nor in the keyring's cache. */
	store_fault_set("tx_commit", 1);
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_E_IO);
	store_fault_clear_all();
	env_seal(&f, &again);                    /* still v1 */
	assert_int_equal(again.e.kek_version, 1);
	assert_int_equal(env_open(&f, &again), PV_OK);
	/* v2 made for real now: new envelopes use it */
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_OK);
	assert_int_equal(nv, 2);
	env_seal(&f, &again);
	assert_int_equal(again.e.kek_version, 2);
	fx_reopen(&f);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(env_open(&f, &again), PV_OK);
	assert_int_equal(env_open(&f, &v1), PV_OK);
	fx_done(&f);
}

static void
test_mac(void **state)
{
	struct fx f;
	uint8_t m1[CRYPTO_SHA256_LEN], m2[CRYPTO_SHA256_LEN], m3[CRYPTO_SHA256_LEN];
	uint8_t m4[CRYPTO_SHA256_LEN], m5[CRYPTO_SHA256_LEN];
	static const uint8_t msg[] = "jane.roe@example.org";
	uint32_t nv;

	(void)state;
	fx_keyfile(&f);
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m1), PV_OK);
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m2), PV_OK);
	assert_memory_equal(m1, m2, sizeof(m1));
	/* another purpose, another message, another KEK: other MACs */
	assert_int_equal(keys_mac(f.k, KEK, "index:ssn", msg, sizeof(msg) - 1, m3), PV_OK);
	assert_memory_not_equal(m1, m3, sizeof(m1));
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 2, m4), PV_OK);
	assert_memory_not_equal(m1, m4, sizeof(m1));
	assert_int_equal(keys_kek_ensure(f.k, "collection:other"), PV_OK);
	assert_int_equal(keys_mac(f.k, "collection:other", "index:email", msg, sizeof(msg) - 1, m5),
	    PV_OK);
	assert_memory_not_equal(m1, m5, sizeof(m1));

	/* stable across rotation, reseal and reopen */
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_OK);
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m2), PV_OK);
	assert_memory_equal(m1, m2, sizeof(m1));
	fx_reopen(&f);
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m2), PV_E_SEALED);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	memset(m2, 0, sizeof(m2));
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m2), PV_OK);
	assert_memory_equal(m1, m2, sizeof(m1));

	assert_int_equal(keys_mac(f.k, "collection:none", "index:email", msg, 3, m2), PV_E_NOTFOUND);
	assert_int_equal(keys_mac(f.k, KEK, "", msg, 3, m2), PV_E_INVALID);
	/* revoking v1 shreds the blind indexes too */
	assert_int_equal(keys_kek_revoke(f.k, KEK, 1), PV_OK);
	assert_int_equal(keys_mac(f.k, KEK, "index:email", msg, sizeof(msg) - 1, m2), PV_E_FORBIDDEN);
	fx_done(&f);
}

static void
test_audit_signing(void **state)
{
	struct fx f;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], pub2[CRYPTO_ED25519_PUB_LEN];
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	static const uint8_t msg[] = "phivault checkpoint seq=10 hash=00ff";

	(void)state;
	fx_init(&f, KEYS_SEAL_KEYFILE, 0, 0);
	/* the public key is readable while sealed */
	assert_int_equal(keys_audit_public_key(f.st, pub), PV_OK);
	assert_int_equal(keys_audit_sign(f.k, msg, sizeof(msg), sig), PV_E_SEALED);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(keys_audit_sign(f.k, msg, sizeof(msg), sig), PV_OK);
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof(msg), sig), PV_OK);
	sig[5] ^= 1;
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof(msg), sig), PV_E_INTEGRITY);

	/* same key after a reopen */
	fx_reopen(&f);
	assert_int_equal(keys_audit_public_key(f.st, pub2), PV_OK);
	assert_memory_equal(pub, pub2, sizeof(pub));
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	assert_int_equal(keys_audit_sign(f.k, msg, sizeof(msg), sig), PV_OK);
	assert_int_equal(crypto_ed25519_verify(pub, msg, sizeof(msg), sig), PV_OK);
	fx_done(&f);
}

/* ---- concurrency: envelope traffic while another thread seals and unseals ---- */

static atomic_int ops;
static atomic_bool stop;

struct worker {
	struct fx *f;
	atomic_int ok;
	int sealed, bad;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; !atomic_load(&stop); i++) {
		struct keys_envelope e;
		uint8_t ct[sizeof(PT) - 1 + CRYPTO_BOX_OVERHEAD], pt[sizeof(PT)];
		uint8_t mac[CRYPTO_SHA256_LEN];
		enum pv_rc rc;

		rc = keys_envelope_seal(w->f->k, KEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1, ct, &e);
		if (rc == PV_OK)
			rc = keys_envelope_open(w->f->k, &e, AAD, sizeof(AAD) - 1, ct, sizeof(ct), pt);
		if (rc == PV_OK && memcmp(pt, PT, sizeof(PT) - 1) != 0)
			rc = PV_E_INTERNAL;
		if (rc == PV_OK)
			rc = keys_mac(w->f->k, KEK, i % 2 ? "a" : "b", pt, 4, mac);
		if (rc == PV_OK)
			atomic_fetch_add(&w->ok, 1);
		else if (rc == PV_E_SEALED)
			w->sealed++;
		else
			w->bad++;
		atomic_fetch_add(&ops, 1);
	}
	return NULL;
}

/* Let the workers complete at least n more operations. */
static void
wait_ops(int n)
{
	int target = atomic_load(&ops) + n;

	while (atomic_load(&ops) < target)
		sched_yield();
}

static void
test_concurrent_seal(void **state)
{
	struct fx f;
	struct worker w[3];
	pthread_t t[3];
	int i, before[3];

	(void)state;
	fx_keyfile(&f);
	atomic_store(&ops, 0);
	atomic_store(&stop, false);
	for (i = 0; i < 3; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &f;
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	for (i = 0; i < 30; i++) {
		wait_ops(5);
		keys_seal(f.k);
		wait_ops(5);
		assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	}
	/* unsealed at the end: every worker gets through again */
	for (i = 0; i < 3; i++)
		before[i] = atomic_load(&w[i].ok);
	for (i = 0; i < 3; i++)
		while (atomic_load(&w[i].ok) <= before[i])
			sched_yield();
	atomic_store(&stop, true);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
	fx_done(&f);
}

/* The seal's authority (security officers): the key file's text, or at
 * least K distinct shares of this vault; anything else is refused, and
 * nothing is accepted while sealed. */
static void
test_seal_authority(void **state)
{
	struct fx f, g;
	char path[PATH_MAX], text[80], wrong[80];
	const char *k3[3], *dup[3], *two[2], *mix[3];
	FILE *fp;

	(void)state;
	fx_keyfile(&f);
	keyfile_path(&f, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(text, sizeof(text), fp));
	fclose(fp);
	assert_int_equal(keys_seal_authority(f.k, text, NULL, 0), PV_OK);       /* with "\n" */
	text[64] = '\0';
	assert_int_equal(keys_seal_authority(f.k, text, NULL, 0), PV_OK);
	memcpy(wrong, text, sizeof(wrong));
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	assert_int_equal(keys_seal_authority(f.k, wrong, NULL, 0), PV_E_SEAL_AUTHORITY);
	assert_int_equal(keys_seal_authority(f.k, "zz", NULL, 0), PV_E_SEAL_AUTHORITY);
	assert_int_equal(keys_seal_authority(f.k, NULL, NULL, 0), PV_E_SEAL_AUTHORITY);
	assert_int_equal(keys_seal_authority_pin(f.k, "1234"), PV_E_STATE);
	/* another vault's key file is not this vault's authority */
	fx_keyfile(&g);
	keyfile_path(&g, path, sizeof(path));
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(wrong, sizeof(wrong), fp));
	fclose(fp);
	assert_int_equal(keys_seal_authority(f.k, wrong, NULL, 0), PV_E_SEAL_AUTHORITY);
	fx_done(&g);
	fx_done(&f);

	fx_init(&f, KEYS_SEAL_SHAMIR, 3, 5);
	k3[0] = f.shares[4];
	k3[1] = f.shares[0];
	k3[2] = f.shares[2];
	assert_int_equal(keys_seal_authority(f.k, NULL, k3, 3), PV_E_SEALED);
	assert_int_equal(keys_unseal_share(f.k, f.shares[0], NULL), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[1], NULL), PV_OK);
	assert_int_equal(keys_unseal_share(f.k, f.shares[2], NULL), PV_OK);
	assert_false(keys_is_sealed(f.k));
	assert_int_equal(keys_seal_authority(f.k, NULL, k3, 3), PV_OK);
	assert_int_equal(keys_seal_authority(f.k, NULL, (const char *const *)f.shares, 5), PV_OK);
	two[0] = f.shares[0];
	two[1] = f.shares[1];
	assert_int_equal(keys_seal_authority(f.k, NULL, two, 2), PV_E_SEAL_AUTHORITY);
	dup[0] = dup[1] = f.shares[0];
	dup[2] = f.shares[1];
	assert_int_equal(keys_seal_authority(f.k, NULL, dup, 3), PV_E_SEAL_AUTHORITY);
	assert_int_equal(keys_seal_authority(f.k, text, NULL, 0), PV_E_SEAL_AUTHORITY);
	/* a share of another vault among them */
	fx_init(&g, KEYS_SEAL_SHAMIR, 3, 5);
	mix[0] = f.shares[0];
	mix[1] = f.shares[1];
	mix[2] = g.shares[2];
	assert_int_equal(keys_seal_authority(f.k, NULL, mix, 3), PV_E_SEAL_AUTHORITY);
	fx_done(&g);
	fx_done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_parse),
		cmocka_unit_test(test_open_uninitialized_and_init_twice),
		cmocka_unit_test(test_keyfile_lifecycle),
		cmocka_unit_test(test_keyfile_refused),
		cmocka_unit_test(test_shamir_unseal),
		cmocka_unit_test(test_seal_authority),
		cmocka_unit_test(test_shamir_foreign_shares),
		cmocka_unit_test(test_shamir_forged_share_refused),
		cmocka_unit_test(test_shamir_legacy_without_commitments),
		cmocka_unit_test(test_rotate_and_revoke),
		cmocka_unit_test(test_rotate_rolled_back),
		cmocka_unit_test(test_double_encryption_soft),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_audit_signing),
		cmocka_unit_test(test_concurrent_seal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
