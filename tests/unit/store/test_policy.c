/*
 * Policy ops of the SQLite backend (table policies, migration 10): put and
 * get round trip, a taken name is a conflict, update is a compare-and-set
 * on version (a stale version changes nothing), delete once, list in name
 * order; and the session step-up column (store_session_set_mfa: raises,
 * never lowers, not on an ended session).
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

static void pol_init(struct store_policy *p, const char *name, int64_t version)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->deny = true;
	p->actions = (char *)"[\"records.*\"]";
	p->resources = (char *)"[\"patients\"]";
	p->condition = (char *)"{\"source\":[\"10.0.0.0/8\"]}";
	snprintf(p->created_by, sizeof(p->created_by), "usr_admin");
	snprintf(p->updated_by, sizeof(p->updated_by), "usr_admin");
	p->created_ms = p->updated_ms = 1000;
	p->version = version;
}

static int on_row(const struct store_policy *p, void *arg)
{
	char *names = arg;

	strcat(names, p->name);
	strcat(names, ",");
	return 0;
}

static void test_policy_ops(void **state)
{
	struct st_fx *f = *state;
	struct store_policy p, got;
	char names[128] = "";

	pol_init(&p, "office_only", 1);
	assert_int_equal(TX_WR(f->st, store_policy_put(tx, &p)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_policy_put(tx, &p)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(f->st, store_policy_get(tx, "office_only", &got)), PV_OK);
	assert_true(got.deny);
	assert_string_equal(got.actions, "[\"records.*\"]");
	assert_string_equal(got.condition, "{\"source\":[\"10.0.0.0/8\"]}");
	assert_string_equal(got.created_by, "usr_admin");
	assert_int_equal(got.version, 1);
	store_policy_clear(&got);
	assert_int_equal(TX_RD(f->st, store_policy_get(tx, "nope", &got)), PV_E_NOTFOUND);

	/* update: version 2 over 1; a second "version 2" is stale */
	pol_init(&p, "office_only", 2);
	p.deny = false;
	p.condition = (char *)"{}";
	p.updated_ms = 2000;
	assert_int_equal(TX_WR(f->st, store_policy_update(tx, &p)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_policy_update(tx, &p)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_policy_get(tx, "office_only", &got)), PV_OK);
	assert_false(got.deny);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.updated_ms, 2000);
	assert_int_equal(got.created_ms, 1000);
	store_policy_clear(&got);
	pol_init(&p, "office_only", 1);
	assert_int_equal(TX_WR(f->st, store_policy_update(tx, &p)), PV_E_INVALID);   /* version >= 2 */

	pol_init(&p, "after_hours", 1);
	assert_int_equal(TX_WR(f->st, store_policy_put(tx, &p)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_policy_list(tx, on_row, names)), PV_OK);
	assert_string_equal(names, "after_hours,office_only,");
	assert_int_equal(TX_WR(f->st, store_policy_delete(tx, "after_hours")), PV_OK);
	assert_int_equal(TX_WR(f->st, store_policy_delete(tx, "after_hours")), PV_E_NOTFOUND);
	names[0] = '\0';
	assert_int_equal(TX_RD(f->st, store_policy_list(tx, on_row, names)), PV_OK);
	assert_string_equal(names, "office_only,");
	/* argument checks */
	p.actions = NULL;
	assert_int_equal(TX_WR(f->st, store_policy_put(tx, &p)), PV_E_INVALID);
}

static void test_session_set_mfa(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;
	struct store_session s, got;

	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "usr_a");
	snprintf(u.username, sizeof(u.username), "alice");
	snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$y");
	u.attributes = (char *)"{}";
	u.mfa_last_step = -1;
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	memset(&s, 0, sizeof(s));
	snprintf(s.id, sizeof(s.id), "ses_1");
	snprintf(s.token_hash, sizeof(s.token_hash), "h1");
	snprintf(s.user_id, sizeof(s.user_id), "usr_a");
	s.created_ms = s.last_seen_ms = 1000;
	s.absolute_expires_ms = 100000;
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_int_equal(got.mfa_at_ms, 0);
	assert_false(got.mfa_verified);
	assert_int_equal(TX_WR(f->st, store_session_set_mfa(tx, "ses_1", 5000)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_set_mfa(tx, "ses_1", 4000)), PV_OK);   /* never lowers */
	assert_int_equal(TX_WR(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_int_equal(got.mfa_at_ms, 5000);
	assert_true(got.mfa_verified);
	assert_int_equal(TX_WR(f->st, store_session_end(tx, "ses_1", 6000, "logout")), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_set_mfa(tx, "ses_1", 7000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_session_set_mfa(tx, "ses_9", 7000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_session_set_mfa(tx, "ses_1", 0)), PV_E_INVALID);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_policy_ops),
		T(test_session_set_mfa),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
