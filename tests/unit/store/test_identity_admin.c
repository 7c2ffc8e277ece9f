/*
 * Identity ops added for user administration (issue 8): created_by is
 * stored by store_user_put, read back, and never rewritten by
 * store_user_update (set once: a mover or a reset cannot change who created
 * a user); store_lockout_clear forgets both counters of one account and
 * nobody else's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"

static void user_init(struct store_user *u, const char *id, const char *name)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->username, sizeof(u->username), "%s", name);
	snprintf(u->password_hash, sizeof(u->password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$y");
	u->attributes = (char *)"{}";
	u->credential_epoch = 1;
	u->mfa_last_step = -1;
	u->created_ms = u->updated_ms = 1000;
}

static void test_created_by_set_once(void **state)
{
	struct st_fx *f = *state;
	struct store_user u, got;

	/* made by init: none */
	user_init(&u, "usr_root", "root");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_root", &got)), PV_OK);
	assert_string_equal(got.created_by, "");
	store_user_clear(&got);
	/* made by usr_root */
	user_init(&u, "usr_b", "bob");
	snprintf(u.created_by, sizeof(u.created_by), "usr_root");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_get_by_username(tx, "bob", &got)), PV_OK);
	assert_string_equal(got.created_by, "usr_root");
	/* an update that carries another value does not rewrite it */
	snprintf(got.created_by, sizeof(got.created_by), "usr_b");
	got.credential_epoch = 2;
	assert_int_equal(TX_WR(f->st, store_user_update(tx, &got)), PV_OK);
	store_user_clear(&got);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_b", &got)), PV_OK);
	assert_string_equal(got.created_by, "usr_root");
	assert_int_equal(got.credential_epoch, 2);
	store_user_clear(&got);
	/* nor does one that carries none */
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_b", &got)), PV_OK);
	got.created_by[0] = '\0';
	assert_int_equal(TX_WR(f->st, store_user_update(tx, &got)), PV_OK);
	store_user_clear(&got);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_b", &got)), PV_OK);
	assert_string_equal(got.created_by, "usr_root");
	store_user_clear(&got);
	/* the creator must be a user */
	user_init(&u, "usr_c", "carl");
	snprintf(u.created_by, sizeof(u.created_by), "usr_nobody");
	assert_int_not_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_c", &got)), PV_E_NOTFOUND);
}

static void test_lockout_clear(void **state)
{
	struct st_fx *f = *state;
	struct store_lockout l = { 3, 1000, 99000 }, got;

	assert_int_equal(TX_WR(f->st, store_lockout_put(tx, "alice", "password", &l)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_lockout_put(tx, "alice", "mfa", &l)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_lockout_put(tx, "bob", "password", &l)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_lockout_clear(tx, "alice")), PV_OK);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "alice", "password", &got)), PV_OK);
	assert_int_equal(got.failures, 0);
	assert_int_equal(got.locked_until_ms, 0);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "alice", "mfa", &got)), PV_OK);
	assert_int_equal(got.locked_until_ms, 0);
	/* someone else's counters are untouched */
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "bob", "password", &got)), PV_OK);
	assert_int_equal(got.failures, 3);
	assert_int_equal(got.locked_until_ms, 99000);
	/* nothing to clear is fine; bad arguments are not */
	assert_int_equal(TX_WR(f->st, store_lockout_clear(tx, "nobody")), PV_OK);
	assert_int_equal(TX_WR(f->st, store_lockout_clear(tx, NULL)), PV_E_INVALID);
	assert_int_equal(TX_WR(NULL, store_lockout_clear(tx, "alice")), PV_E_INVALID);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_created_by_set_once),
		T(test_lockout_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
