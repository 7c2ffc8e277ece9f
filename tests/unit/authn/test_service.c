/*
 * service.c's login helpers through the login route: one-time passwords
 * (single use, expiry after [auth] one_time_password_ttl_s, the state set by
 * authn_otp_issue) and the keyed hash that replaces an unknown username in
 * the audit trail and the lockout table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn_fixture.h"
#include "tx_helpers.h"

#define OTP "Kq7mZt4hWn8rBx3cVd2p"
#define LOGIN_OTP(u) "{\"username\":\"" u "\",\"password\":\"" OTP "\"}"

struct issue_job {
	const char *user_id;
	int64_t issued_ms;
};

static enum pv_rc issue_fn(struct store_tx *tx, void *arg)
{
	struct issue_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
		return rc;
	authn_otp_issue(&u, NULL, j->issued_ms);
	rc = store_user_update(tx, &u);
	store_user_clear(&u);
	return rc;
}

/* A user whose password OTP is a one-time password issued at issued_ms. */
static void otp_user(struct af *f, const char *name, int64_t issued_ms, char id[UTIL_ID_MAX])
{
	struct issue_job j = { id, issued_ms };

	af_user(f, name, OTP, "clinician", id);
	assert_int_equal(audit_commit(f->audit, NULL, issue_fn, &j), PV_OK);
}

static void test_otp_check(void **state)
{
	struct store_user u;
	int64_t now = 1700000000000;

	(void)state;
	memset(&u, 0, sizeof(u));
	assert_int_equal(authn_otp_check(&u, now, 86400), PV_OK);   /* not one-time */
	authn_otp_issue(&u, "$argon2id$x", now);
	assert_true(u.password_one_time);
	assert_string_equal(u.password_hash, "$argon2id$x");
	assert_int_equal(authn_otp_check(&u, now + 86399999, 86400), PV_OK);
	assert_int_equal(authn_otp_check(&u, now + 86400000, 86400), PV_E_EXPIRED);
	u.otp_used_ms = now + 1;
	assert_int_equal(authn_otp_check(&u, now + 2, 86400), PV_E_STATE);
	/* a reissue makes it usable again */
	authn_otp_issue(&u, NULL, now + 5);
	assert_int_equal(authn_otp_check(&u, now + 6, 86400), PV_OK);
	/* rows without an issue time count from creation */
	u.otp_issued_ms = 0;
	u.created_ms = now - 86400000;
	assert_int_equal(authn_otp_check(&u, now, 86400), PV_E_EXPIRED);
	assert_int_equal(authn_otp_check(&u, now, 0), PV_E_EXPIRED);   /* fail closed */
}

/* The first login with a one-time password opens a restricted session and
 * uses it up; a second login with it is refused; the password change in
 * the first session still works with it as the current password. */
static void test_otp_single_use(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX];
	struct af_resp r;

	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	af_start(f);
	otp_user(f, "gina", util_now_ms(), id);
	af_req(f, "POST", "/v1/auth/login", NULL, LOGIN_OTP("gina"), &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "restricted")));
	snprintf(token, sizeof(token), "%s", af_str(&r, "token"));
	af_resp_free(&r);

	af_req(f, "POST", "/v1/auth/login", NULL, LOGIN_OTP("gina"), &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "unauthenticated");
	assert_non_null(strstr(r.message, "already used"));
	af_resp_free(&r);
	assert_int_equal(af_count(f, "auth.login", "one_time_password_used"), 1);

	af_req(f, "POST", "/v1/auth/password", token,
	    "{\"current_password\":\"" OTP "\",\"new_password\":\"amber lantern orchard 77\"}", &r);
	assert_int_equal(r.status, 200);
	assert_false(json_is_true(json_object_get(r.json, "restricted")));
	af_resp_free(&r);
	af_req(f, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"gina\",\"password\":\"amber lantern orchard 77\"}", &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
}

/* Two concurrent logins with one one-time password: exactly one session. */
static void test_otp_single_use_race(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX];
	struct af_par ps[4];   /* below lockout_threshold: each takes a slot */
	size_t i;
	int ok = 0;

	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	af_start(f);
	otp_user(f, "hugo", util_now_ms(), id);
	memset(ps, 0, sizeof(ps));
	for (i = 0; i < 4; i++) {
		ps[i].f = f;
		snprintf(ps[i].source, sizeof(ps[i].source), "10.0.2.%d", (int)i + 1);
		ps[i].uri = "/v1/auth/login";
		snprintf(ps[i].body, sizeof(ps[i].body), "%s", LOGIN_OTP("hugo"));
	}
	af_parallel(ps, 4);
	for (i = 0; i < 4; i++) {
		assert_true(ps[i].status == 200 || ps[i].status == 401);
		ok += ps[i].status == 200;
	}
	assert_int_equal(ok, 1);
}

/* Expiry: [auth] one_time_password_ttl_s after issue, a clear refusal.
 * Time moves on the injectable clock (util_clock_*), not by dating the issue
 * in the past. */
static void test_otp_expiry(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], jack[UTIL_ID_MAX];
	struct af_resp r;

	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	f->cfg.one_time_password_ttl_s = 3600;
	af_start(f);
	util_clock_set_fixed(util_now_ms());
	otp_user(f, "iris", util_now_ms(), id);
	assert_int_equal(util_clock_advance(101 * 1000LL), PV_OK);
	otp_user(f, "jack", util_now_ms(), jack);
	assert_int_equal(util_clock_advance(3500 * 1000LL), PV_OK);
	/* iris: 3601 s after issue */
	af_req(f, "POST", "/v1/auth/login", NULL, LOGIN_OTP("iris"), &r);
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(r.message, "expired"));
	assert_non_null(strstr(r.message, "administrator"));
	af_resp_free(&r);
	assert_int_equal(af_count(f, "auth.login", "one_time_password_expired"), 1);
	/* jack, 3500 s after issue: still inside the TTL, fine */
	af_req(f, "POST", "/v1/auth/login", NULL, LOGIN_OTP("jack"), &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	util_clock_reset();
	/* the default is a day */
	assert_int_equal(f->cfg.one_time_password_ttl_s, 3600);
	{
		struct pv_config d;

		config_defaults(&d, "/nonexistent");
		assert_int_equal(d.one_time_password_ttl_s, 86400);
	}
}

/* An unknown username is never stored: not in the audit detail, not as a
 * lockout key; the same name still shares one counter (keyed hash). */
static void test_unknown_username_hashed(void **state)
{
	struct af *f = *state;
	struct store_lockout l;
	struct af_resp r;
	int i;

	af_start(f);
	af_user(f, "kate", "plum velvet harbor 42", NULL, NULL);
	for (i = 0; i < 5; i++) {
		af_req(f, "POST", "/v1/auth/login", NULL,
		    "{\"username\":\"amber.lantern.secret\",\"password\":\"x\"}", &r);
		assert_int_equal(r.status, 401);
		af_resp_free(&r);
	}
	af_req(f, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"Amber.Lantern.Secret\",\"password\":\"x\"}", &r);
	assert_int_equal(r.status, 423);   /* same name, same counter */
	af_resp_free(&r);
	assert_int_equal(af_grep(f, "amber.lantern.secret"), 0);
	assert_int_equal(af_grep(f, "username_hmac"), 6);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "amber.lantern.secret", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 0);
	assert_int_equal(l.locked_until_ms, 0);
	/* a known user's failures stay under the username */
	af_req(f, "POST", "/v1/auth/login", NULL, "{\"username\":\"kate\",\"password\":\"x\"}", &r);
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "kate", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_otp_check),
		cmocka_unit_test_setup_teardown(test_otp_single_use, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_otp_single_use_race, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_otp_expiry, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_username_hashed, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
