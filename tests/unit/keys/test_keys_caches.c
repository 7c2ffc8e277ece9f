/*
 * What the keyring keeps per key version, and that it goes when the key
 * does (docs/internals/keys.md "Cost"): a soft KEK version's bytes, and the
 * HMAC pads of a MAC key (crypto_hmac_key). Revoking a version, destroying it in a
 * transaction, another node's revocation seen through keys_access_changed,
 * and sealing each drop them (keys_kek_cached / keys_mac_cached say what is
 * held), and the version no longer opens or MACs afterwards; a subject key
 * sealed under a revoked version no longer opens either. Threads opening
 * while a version is revoked see PV_OK, then only PV_E_FORBIDDEN.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

#define KEK "collection:patients"
#define IDX "index:patients"
#define SUBJ "subjects"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *k;
	char **shares;
	size_t nshares;
};

static const uint8_t AAD[] = "patients|rec_abc|1";
static const uint8_t PT[] = "{\"name\":\"Jane Roe\",\"dob\":\"1970-01-01\"}";
static const uint8_t MSG[] = "patients\x1fssn\x1f" "123456789";

struct env {
	struct keys_envelope e;
	uint8_t ct[sizeof(PT) - 1 + CRYPTO_BOX_OVERHEAD];
};

static int
setup(void **state)
{
	(void)state;
	return crypto_init() == PV_OK ? 0 : -1;
}

static void
fx_init(struct fx *f)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(kt_tmpdir(f->dir, sizeof(f->dir)), 0);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(keys_initialize(f->st, f->dir, &spec, &f->shares, &f->nshares), PV_OK);
	assert_int_equal(keys_open(f->st, f->dir, &f->k), PV_OK);
	assert_int_equal(keys_unseal_keyfile(f->k), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, KEK), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, IDX), PV_OK);
	assert_int_equal(keys_kek_ensure(f->k, SUBJ), PV_OK);
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
seal(struct fx *f, struct env *v)
{
	assert_int_equal(keys_envelope_seal(f->k, KEK, AAD, sizeof(AAD) - 1, PT, sizeof(PT) - 1,
	    v->ct, &v->e), PV_OK);
}

static enum pv_rc
open_env(struct keys *k, const struct env *v)
{
	uint8_t pt[sizeof(PT) - 1];
	enum pv_rc rc = keys_envelope_open(k, &v->e, AAD, sizeof(AAD) - 1, v->ct, sizeof(v->ct),
	    pt);

	if (rc == PV_OK)
		assert_memory_equal(pt, PT, sizeof(pt));
	return rc;
}

static enum pv_rc
mac(struct fx *f, uint32_t version)
{
	uint8_t out[CRYPTO_SHA256_LEN];

	return keys_mac_version(f->k, IDX, version, "ssn", MSG, sizeof(MSG) - 1, out);
}

/* Opens and MACs fill the caches: the KEK's bytes and contexts, the MAC's pads. */
static void
warm(struct fx *f, const struct env *v)
{
	assert_int_equal(open_env(f->k, v), PV_OK);
	assert_int_equal(open_env(f->k, v), PV_OK);
	assert_int_equal(mac(f, 1), PV_OK);
	assert_true(keys_kek_cached(f->k, KEK, v->e.kek_version));
	assert_true(keys_mac_cached(f->k, IDX, 1, "ssn"));
}

static void
test_revoke_drops(void **state)
{
	struct fx f;
	struct env v;
	uint8_t m1[CRYPTO_SHA256_LEN], m2[CRYPTO_SHA256_LEN];

	(void)state;
	fx_init(&f);
	seal(&f, &v);
	warm(&f, &v);
	/* the cached pads give the MAC the derivation gives */
	assert_int_equal(keys_mac_version(f.k, IDX, 1, "ssn", MSG, sizeof(MSG) - 1, m1), PV_OK);
	keys_access_changed(f.k);
	assert_false(keys_mac_cached(f.k, IDX, 1, "ssn"));
	assert_int_equal(keys_mac_version(f.k, IDX, 1, "ssn", MSG, sizeof(MSG) - 1, m2), PV_OK);
	assert_memory_equal(m1, m2, sizeof(m1));

	assert_int_equal(keys_kek_revoke(f.k, KEK, 1), PV_OK);
	assert_false(keys_kek_cached(f.k, KEK, 1));
	assert_int_equal(open_env(f.k, &v), PV_E_FORBIDDEN);
	assert_false(keys_kek_cached(f.k, KEK, 1));

	assert_int_equal(keys_kek_revoke(f.k, IDX, 1), PV_OK);
	assert_false(keys_mac_cached(f.k, IDX, 1, "ssn"));
	assert_false(keys_kek_cached(f.k, IDX, 1));
	assert_int_equal(mac(&f, 1), PV_E_FORBIDDEN);
	assert_false(keys_mac_cached(f.k, IDX, 1, "ssn"));
	fx_done(&f);
}

static void
test_destroy_tx_drops(void **state)
{
	struct fx f;
	struct env v1, v2;
	uint32_t nv;
	enum pv_rc rc;

	(void)state;
	fx_init(&f);
	seal(&f, &v1);
	assert_int_equal(keys_kek_rotate(f.k, KEK, &nv), PV_OK);
	seal(&f, &v2);
	assert_int_equal(v2.e.kek_version, 2);
	warm(&f, &v1);
	assert_int_equal(open_env(f.k, &v2), PV_OK);
	STORE_WRITE(f.st, rc, keys_kek_destroy_tx(f.k, tx, KEK, 1));
	assert_int_equal(rc, PV_OK);
	assert_false(keys_kek_cached(f.k, KEK, 1));
	assert_int_equal(open_env(f.k, &v1), PV_E_FORBIDDEN);
	assert_true(keys_kek_cached(f.k, KEK, 2));
	assert_int_equal(open_env(f.k, &v2), PV_OK);
	fx_done(&f);
}

/* Another node revokes (only the row changes here): this node serves from
 * its cache until the access epoch moves, then drops it and refuses. */
static void
test_access_changed_drops(void **state)
{
	struct fx f;
	struct env v;
	enum pv_rc rc;

	(void)state;
	fx_init(&f);
	seal(&f, &v);
	warm(&f, &v);
	STORE_WRITE(f.st, rc, store_kek_set_state(tx, KEK, 1, STORE_KEK_REVOKED));
	assert_int_equal(rc, PV_OK);
	STORE_WRITE(f.st, rc, store_kek_set_state(tx, IDX, 1, STORE_KEK_REVOKED));
	assert_int_equal(rc, PV_OK);
	keys_access_changed(f.k);
	assert_false(keys_kek_cached(f.k, KEK, 1));
	assert_false(keys_kek_cached(f.k, IDX, 1));
	assert_false(keys_mac_cached(f.k, IDX, 1, "ssn"));
	assert_int_equal(open_env(f.k, &v), PV_E_FORBIDDEN);
	assert_int_equal(mac(&f, 1), PV_E_FORBIDDEN);
	fx_done(&f);
}

static void
test_seal_drops(void **state)
{
	struct fx f;
	struct env v;

	(void)state;
	fx_init(&f);
	seal(&f, &v);
	warm(&f, &v);
	keys_seal(f.k);
	assert_false(keys_kek_cached(f.k, KEK, 1));
	assert_false(keys_mac_cached(f.k, IDX, 1, "ssn"));
	assert_int_equal(open_env(f.k, &v), PV_E_SEALED);
	assert_int_equal(mac(&f, 1), PV_E_SEALED);
	assert_int_equal(keys_unseal_keyfile(f.k), PV_OK);
	warm(&f, &v);
	fx_done(&f);
}

/* A subject key is opened for one call and never cached; its KEK is. Once
 * the KEK version is revoked, the subject key does not open. */
static void
test_subject_key_revoked(void **state)
{
	static const uint8_t kaad[] = "subject|ref1", waad[] = "rec|1";
	struct keys_subject_key sk;
	uint8_t data[16] = "0123456789abcdef", box[16 + CRYPTO_BOX_OVERHEAD], back[16];
	struct fx f;

	(void)state;
	fx_init(&f);
	assert_int_equal(keys_subject_key_new(f.k, SUBJ, kaad, sizeof(kaad) - 1, &sk), PV_OK);
	assert_int_equal(keys_subject_wrap(f.k, &sk, kaad, sizeof(kaad) - 1, waad,
	    sizeof(waad) - 1, data, sizeof(data), box), PV_OK);
	assert_int_equal(keys_subject_unwrap(f.k, &sk, kaad, sizeof(kaad) - 1, waad,
	    sizeof(waad) - 1, box, sizeof(box), back), PV_OK);
	assert_memory_equal(back, data, sizeof(data));
	assert_true(keys_kek_cached(f.k, SUBJ, 1));
	assert_int_equal(keys_kek_revoke(f.k, SUBJ, 1), PV_OK);
	assert_false(keys_kek_cached(f.k, SUBJ, 1));
	assert_int_not_equal(keys_subject_unwrap(f.k, &sk, kaad, sizeof(kaad) - 1, waad,
	    sizeof(waad) - 1, box, sizeof(box), back), PV_OK);
	fx_done(&f);
}

#define NTHREADS 4
struct opener {
	struct fx *f;
	const struct env *v;
	atomic_int *opened;
	atomic_bool *revoked;
	int bad;
};

static void *
opener_main(void *arg)
{
	struct opener *o = arg;
	bool seen_forbidden = false;

	for (int i = 0; i < 20000; i++) {
		bool was_revoked = atomic_load(o->revoked);
		enum pv_rc rc = open_env(o->f->k, o->v);

		if (rc == PV_OK && !seen_forbidden && !was_revoked) {
			atomic_fetch_add(o->opened, 1);
		} else if (rc == PV_E_FORBIDDEN) {
			seen_forbidden = true;
			if (was_revoked)
				break;
		} else {
			o->bad++;   /* any other answer, or an open after a refusal */
			break;
		}
	}
	return NULL;
}

static void
test_threads_revoke(void **state)
{
	pthread_t t[NTHREADS];
	struct opener o[NTHREADS];
	atomic_int opened = 0;
	atomic_bool revoked = false;
	struct fx f;
	struct env v;

	(void)state;
	fx_init(&f);
	seal(&f, &v);
	for (int i = 0; i < NTHREADS; i++) {
		o[i] = (struct opener){ &f, &v, &opened, &revoked, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, opener_main, &o[i]), 0);
	}
	for (long spin = 0; atomic_load(&opened) < 200 && spin < 100000000L; spin++)
		sched_yield();
	assert_int_equal(keys_kek_revoke(f.k, KEK, 1), PV_OK);
	atomic_store(&revoked, true);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(o[i].bad, 0);
	}
	assert_false(keys_kek_cached(f.k, KEK, 1));
	assert_int_equal(open_env(f.k, &v), PV_E_FORBIDDEN);
	fx_done(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revoke_drops),
		cmocka_unit_test(test_destroy_tx_drops),
		cmocka_unit_test(test_access_changed_drops),
		cmocka_unit_test(test_seal_drops),
		cmocka_unit_test(test_subject_key_revoked),
		cmocka_unit_test(test_threads_revoke),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
