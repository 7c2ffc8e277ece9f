/*
 * Identity ops of the SQLite backend, as the identity wiring uses them:
 * users (unique usernames, IDs kept, MFA blobs round trip), memberships,
 * seeded built-in roles, custom roles and groups, sessions (touch never
 * lowers, end once, end all but one), single-use recovery codes, lockout
 * counters (missing row reads as zero), pending MFA logins, and argument
 * checks.
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
	u->attributes = (char *)"{\"dept\":\"er\"}";
	u->password_one_time = true;
	u->credential_epoch = 1;
	u->mfa_last_step = -1;
	u->created_ms = 1000;
	u->updated_ms = 1000;
}

static void test_user_roundtrip(void **state)
{
	struct st_fx *f = *state;
	struct store_user u, got;
	uint8_t secret[48], env[64];

	user_init(&u, "usr_a", "alice");
	snprintf(u.email, sizeof(u.email), "a@example.org");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_a", &got)), PV_OK);
	assert_string_equal(got.username, "alice");
	assert_string_equal(got.email, "a@example.org");
	assert_string_equal(got.attributes, "{\"dept\":\"er\"}");
	assert_true(got.password_one_time);
	assert_false(got.disabled);
	assert_null(got.mfa_secret);
	assert_int_equal(got.mfa_last_step, -1);
	assert_int_equal(got.disabled_ms, 0);
	store_user_clear(&got);

	/* duplicate username or ID: conflict */
	user_init(&u, "usr_b", "alice");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_E_CONFLICT);
	user_init(&u, "usr_a", "other");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_E_CONFLICT);

	/* update: MFA blobs, disable */
	assert_int_equal(TX_RD(f->st, store_user_get_by_username(tx, "alice", &got)), PV_OK);
	memset(secret, 0xab, sizeof(secret));
	memset(env, 0x01, sizeof(env));
	got.mfa_secret = malloc(sizeof(secret));
	got.mfa_env = malloc(sizeof(env));
	memcpy(got.mfa_secret, secret, sizeof(secret));
	memcpy(got.mfa_env, env, sizeof(env));
	got.mfa_secret_len = sizeof(secret);
	got.mfa_env_len = sizeof(env);
	got.mfa_enabled = true;
	got.mfa_last_step = 123456;
	got.disabled = true;
	got.disabled_ms = 5000;
	got.credential_epoch = 2;
	assert_int_equal(TX_WR(f->st, store_user_update(tx, &got)), PV_OK);
	store_user_clear(&got);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_a", &got)), PV_OK);
	assert_int_equal(got.mfa_secret_len, sizeof(secret));
	assert_memory_equal(got.mfa_secret, secret, sizeof(secret));
	assert_memory_equal(got.mfa_env, env, sizeof(env));
	assert_true(got.mfa_enabled);
	assert_true(got.disabled);
	assert_int_equal(got.disabled_ms, 5000);
	assert_int_equal(got.credential_epoch, 2);
	assert_int_equal(got.mfa_last_step, 123456);
	store_user_clear(&got);

	/* update of a missing user; unknown lookups */
	user_init(&u, "usr_zz", "zed");
	assert_int_equal(TX_WR(f->st, store_user_update(tx, &u)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_user_get(tx, "usr_zz", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_user_get_by_username(tx, "zed", &got)), PV_E_NOTFOUND);
	/* a secret without its envelope is refused */
	user_init(&u, "usr_c", "carol");
	u.mfa_secret = secret;
	u.mfa_secret_len = sizeof(secret);
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_E_INVALID);
}

static int count_cb(const struct store_user *u, void *arg)
{
	(void)u;
	(*(int *)arg)++;
	return 0;
}

static int names_cb(const char *name, void *arg)
{
	char *buf = arg;

	strcat(buf, name);
	strcat(buf, ";");
	return 0;
}

static void test_memberships_roles_groups(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;
	struct store_role r;
	struct store_group g;
	const char *roles[] = { "clinician", "auditor" };
	const char *groups[] = { "ward" };
	char buf[256] = "";
	int n = 0;

	/* built-in roles are seeded */
	assert_int_equal(TX_RD(f->st, store_role_get(tx, "admin", &r)), PV_OK);
	assert_true(r.builtin);
	assert_non_null(strstr(r.permissions, "users.manage"));
	store_role_clear(&r);
	assert_int_equal(TX_RD(f->st, store_role_get(tx, "break_glass", &r)), PV_OK);
	store_role_clear(&r);
	assert_int_equal(TX_RD(f->st, store_role_get(tx, "nope", &r)), PV_E_NOTFOUND);

	/* custom role and group */
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "reader");
	r.permissions = (char *)"[\"records.read:patients\"]";
	r.created_ms = 1;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &r)), PV_E_CONFLICT);
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "ward");
	g.roles = (char *)"[\"reader\"]";
	assert_int_equal(TX_WR(f->st, store_group_put(tx, &g)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_group_put(tx, &g)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(f->st, store_group_get(tx, "ward", &g)), PV_OK);
	assert_string_equal(g.roles, "[\"reader\"]");
	store_group_clear(&g);

	/* memberships replace the whole set */
	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_user_roles_set(tx, "usr_a", roles, 2)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_user_groups_set(tx, "usr_a", groups, 1)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_roles_get(tx, "usr_a", names_cb, buf)), PV_OK);
	assert_string_equal(buf, "auditor;clinician;");
	buf[0] = '\0';
	assert_int_equal(TX_WR(f->st, store_user_roles_set(tx, "usr_a", roles + 1, 1)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_roles_get(tx, "usr_a", names_cb, buf)), PV_OK);
	assert_string_equal(buf, "auditor;");
	buf[0] = '\0';
	assert_int_equal(TX_RD(f->st, store_user_groups_get(tx, "usr_a", names_cb, buf)), PV_OK);
	assert_string_equal(buf, "ward;");
	/* a role that does not exist cannot be granted (foreign key) */
	{
		const char *ghost[] = { "ghost" };

		assert_int_not_equal(TX_WR(f->st, store_user_roles_set(tx, "usr_a", ghost, 1)), PV_OK);
	}
	user_init(&u, "usr_b", "bob");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_user_list(tx, count_cb, &n)), PV_OK);
	assert_int_equal(n, 2);
}

static void session_init(struct store_session *s, const char *id, const char *hash)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->token_hash, sizeof(s->token_hash), "%s", hash);
	snprintf(s->user_id, sizeof(s->user_id), "usr_a");
	s->created_ms = 100;
	s->last_seen_ms = 100;
	s->absolute_expires_ms = 10000;
	s->restrict_flags = 3;
	s->credential_epoch = 1;
	snprintf(s->source, sizeof(s->source), "127.0.0.1");
}

static void test_sessions(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;
	struct store_session s, got;
	size_t n = 99;

	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	session_init(&s, "ses_1", "h1");
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_E_CONFLICT);
	session_init(&s, "ses_2", "h2");
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_OK);
	session_init(&s, "ses_3", "h3");
	assert_int_equal(TX_WR(f->st, store_session_put(tx, &s)), PV_OK);

	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_string_equal(got.id, "ses_1");
	assert_int_equal(got.restrict_flags, 3);
	assert_int_equal(got.ended_ms, 0);
	assert_string_equal(got.end_reason, "");
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "nope", &got)), PV_E_NOTFOUND);

	/* touch raises last_seen, never lowers it */
	assert_int_equal(TX_WR(f->st, store_session_touch(tx, "ses_1", 500)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_touch(tx, "ses_1", 200)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_int_equal(got.last_seen_ms, 500);
	assert_int_equal(TX_WR(f->st, store_session_touch(tx, "ses_x", 1)), PV_E_NOTFOUND);

	assert_int_equal(TX_WR(f->st, store_session_set_state(tx, "ses_1", 0, true, 2)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_int_equal(got.restrict_flags, 0);
	assert_true(got.mfa_verified);
	assert_int_equal(got.credential_epoch, 2);

	/* end once */
	assert_int_equal(TX_WR(f->st, store_session_end(tx, "ses_2", 700, "logout")), PV_OK);
	assert_int_equal(TX_WR(f->st, store_session_end(tx, "ses_2", 800, "idle")), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h2", &got)), PV_OK);
	assert_int_equal(got.ended_ms, 700);
	assert_string_equal(got.end_reason, "logout");
	assert_int_equal(TX_WR(f->st, store_session_set_state(tx, "ses_2", 0, false, 1)), PV_E_NOTFOUND);

	/* end all but one: only the open others */
	assert_int_equal(TX_WR(f->st, store_session_end_all_for_user(tx, "usr_a", "ses_1", 900, "password",
	    &n)), PV_OK);
	assert_int_equal(n, 1);   /* ses_3 */
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h3", &got)), PV_OK);
	assert_string_equal(got.end_reason, "password");
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, "h1", &got)), PV_OK);
	assert_int_equal(got.ended_ms, 0);
	assert_int_equal(TX_WR(f->st, store_session_end_all_for_user(tx, "usr_a", NULL, 950, "disabled", &n)),
	    PV_OK);
	assert_int_equal(n, 1);   /* ses_1 */
}

static void test_recovery_lockout_pending(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;
	const char *codes[] = { "c1", "c2", "c3" };
	struct store_lockout l;
	struct store_mfa_pending p, got;
	char buf[64] = "";

	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_recovery_set(tx, "usr_a", codes, 3, 1)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_recovery_use(tx, "usr_a", "c2", 10)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_recovery_use(tx, "usr_a", "c2", 11)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_recovery_use(tx, "usr_a", "zz", 11)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_recovery_unused(tx, "usr_a", names_cb, buf)), PV_OK);
	assert_string_equal(buf, "c1;c3;");
	/* a new set replaces the old one entirely */
	assert_int_equal(TX_WR(f->st, store_recovery_set(tx, "usr_a", codes + 1, 1, 2)), PV_OK);
	buf[0] = '\0';
	assert_int_equal(TX_RD(f->st, store_recovery_unused(tx, "usr_a", names_cb, buf)), PV_OK);
	assert_string_equal(buf, "c2;");

	/* lockout: missing reads as zero; kinds are separate */
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "ghost", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 0);
	assert_int_equal(l.locked_until_ms, 0);
	l.failures = 3;
	l.window_start_ms = 100;
	l.locked_until_ms = 900;
	assert_int_equal(TX_WR(f->st, store_lockout_put(tx, "ghost", "password", &l)), PV_OK);
	l.failures = 4;
	assert_int_equal(TX_WR(f->st, store_lockout_put(tx, "ghost", "password", &l)), PV_OK);
	memset(&l, 0, sizeof(l));
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "ghost", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 4);
	assert_int_equal(l.locked_until_ms, 900);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "ghost", "mfa", &l)), PV_OK);
	assert_int_equal(l.failures, 0);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "ghost", "other", &l)), PV_E_INVALID);

	/* pending MFA logins */
	memset(&p, 0, sizeof(p));
	snprintf(p.token_hash, sizeof(p.token_hash), "ph");
	snprintf(p.user_id, sizeof(p.user_id), "usr_a");
	p.expires_ms = 1000;
	p.credential_epoch = 7;
	assert_int_equal(TX_WR(f->st, store_mfa_pending_put(tx, &p)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_mfa_pending_attempt(tx, "ph")), PV_OK);
	assert_int_equal(TX_WR(f->st, store_mfa_pending_attempt(tx, "ph")), PV_OK);
	assert_int_equal(TX_RD(f->st, store_mfa_pending_get(tx, "ph", &got)), PV_OK);
	assert_int_equal(got.attempts, 2);
	assert_int_equal(got.expires_ms, 1000);
	assert_int_equal(got.credential_epoch, 7);
	snprintf(p.token_hash, sizeof(p.token_hash), "old");
	p.expires_ms = 10;
	assert_int_equal(TX_WR(f->st, store_mfa_pending_put(tx, &p)), PV_OK);
	/* deleting one also sweeps the expired ones */
	assert_int_equal(TX_WR(f->st, store_mfa_pending_delete(tx, "ph", 500)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_mfa_pending_get(tx, "ph", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_mfa_pending_get(tx, "old", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_mfa_pending_delete(tx, "ph", 500)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_mfa_pending_attempt(tx, "ph")), PV_E_NOTFOUND);
}

static void test_fault_and_args(void **state)
{
	struct st_fx *f = *state;
	struct store_user u;

	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(NULL, store_user_put(tx, &u)), PV_E_INVALID);
	assert_int_equal(TX_WR(f->st, store_user_put(tx, NULL)), PV_E_INVALID);
	u.username[0] = '\0';
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_E_INVALID);
	assert_int_equal(TX_WR(f->st, store_session_end(tx, "ses_1", 0, "logout")), PV_E_INVALID);
#ifdef PV_FAULT_INJECTION
	user_init(&u, "usr_a", "alice");
	store_fault_set("user_put", 1);
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_E_IO);
	assert_int_equal(TX_WR(f->st, store_user_put(tx, &u)), PV_OK);
	store_fault_clear_all();
#endif
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_user_roundtrip),
		T(test_memberships_roles_groups),
		T(test_sessions),
		T(test_recovery_lockout_pending),
		T(test_fault_and_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
