/*
 * store_session_count_open (GET /metrics' phivault_sessions_active): open
 * sessions only, not ended, before the absolute limit, seen after the idle
 * cut-off; and a store fault is an error, not a zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test.h"
#include "tx_helpers.h"

static void
session(struct st_fx *f, const char *id, int64_t last_seen, int64_t abs_exp)
{
	struct store_session s;

	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.token_hash, sizeof(s.token_hash), "h_%s", id);
	snprintf(s.user_id, sizeof(s.user_id), "usr_a");
	s.created_ms = 100;
	s.last_seen_ms = last_seen;
	s.absolute_expires_ms = abs_exp;
	s.credential_epoch = 1;
	snprintf(s.source, sizeof(s.source), "127.0.0.1");
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_OK);
}

static void
test_count_open(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;
	int64_t n = -1;

	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "usr_a");
	snprintf(u.username, sizeof(u.username), "alice");
	snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$y");
	u.attributes = (char *)"{}";
	u.credential_epoch = 1;
	u.created_ms = u.updated_ms = 1000;
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);

	assert_int_equal(TX_RD(f->st, store_session_count_open(tx, 5000, 4000, &n)), PV_OK);
	assert_int_equal(n, 0);
	session(f, "ses_live1", 4500, 9000);
	session(f, "ses_live2", 4999, 5001);
	session(f, "ses_idle", 4000, 9000);      /* seen at the cut-off: idle */
	session(f, "ses_abs", 4900, 5000);       /* absolute limit reached */
	session(f, "ses_ended", 4900, 9000);
	assert_int_equal(TX_WR(f->st, store_session_end(tx, "ses_ended", 4950, "logout")), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_count_open(tx, 5000, 4000, &n)), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(TX_RD(f->st, store_session_count_open(tx, 5000, 0, &n)), PV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(TX_RD(f->st, store_session_count_open(tx, 5000, 4000, NULL)), PV_E_INVALID);
	assert_int_equal(store_session_count_open(NULL, 5000, 4000, &n), PV_E_INVALID);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_count_open, st_fx_setup, st_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
