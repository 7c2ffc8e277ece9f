/*
 * The /v1/auth routes driven through the HTTP pipeline without sockets,
 * against a real SQLite store and audit writer: brute-force limits under
 * concurrency (every attempt reserves its slot before it is verified),
 * the audit entries of throttled and conflicting requests, and the MFA
 * requirement re-evaluated on every request against the user's current
 * roles.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn_fixture.h"

#define N_RACE 30

/* distinct: user names are prefix + two digits, else all are prefix;
 * source NULL: each request from its own address */
static void race_logins(struct af *f, struct af_par *ps, size_t n, const char *source,
    const char *prefix, bool distinct, const char *password)
{
	size_t i;

	memset(ps, 0, n * sizeof(*ps));
	for (i = 0; i < n; i++) {
		char user[64];

		ps[i].f = f;
		if (source != NULL)
			snprintf(ps[i].source, sizeof(ps[i].source), "%s", source);
		else
			snprintf(ps[i].source, sizeof(ps[i].source), "10.0.0.%d", (int)i + 1);
		ps[i].uri = "/v1/auth/login";
		if (distinct)
			snprintf(user, sizeof(user), "%s%02d", prefix, (int)i % 100);
		else
			snprintf(user, sizeof(user), "%s", prefix);
		snprintf(ps[i].body, sizeof(ps[i].body),
		    "{\"username\":\"%s\",\"password\":\"%s\"}", user, password);
	}
	af_parallel(ps, n);
}

/* 30 concurrent wrong passwords for one account (from 30 addresses, so the
 * per-source throttle is not what stops them): at most lockout_threshold
 * of them are verified (one bad_password entry per verification), the rest
 * are refused as locked without a verification. */
static void test_lockout_race(void **state)
{
	struct af *f = *state;
	struct af_par ps[N_RACE];
	size_t i;
	int verified, locked = 0;

	af_start(f);
	af_user(f, "alice", "plum velvet harbor 42", NULL, NULL);
	race_logins(f, ps, N_RACE, NULL, "alice", false, "wrong wrong wrong 1");
	for (i = 0; i < N_RACE; i++) {
		assert_true(ps[i].status == 401 || ps[i].status == 423);
		locked += ps[i].status == 423;
	}
	verified = af_count(f, "auth.login", "bad_password");
	assert_true(verified >= 1);
	assert_true(verified <= f->cfg.lockout_threshold);
	assert_int_equal(verified + locked, N_RACE);
	assert_int_equal(af_count(f, "auth.login", "locked"), locked);
	assert_int_equal(af_count(f, "auth.lockout", NULL), 1);
}

/* 30 concurrent attempts from one address on 30 different (unknown)
 * names: each has its own lockout counter, so only the per-source throttle
 * (20) stands between them and 30 verifications. Every 429 is recorded. */
static void test_throttle_race(void **state)
{
	struct af *f = *state;
	struct af_par ps[N_RACE];
	size_t i;
	int verified, limited = 0;

	af_start(f);
	race_logins(f, ps, N_RACE, "198.51.100.9", "ghost", true, "wrong wrong wrong 1");
	for (i = 0; i < N_RACE; i++) {
		assert_true(ps[i].status == 401 || ps[i].status == 429);
		limited += ps[i].status == 429;
	}
	verified = af_count(f, "auth.login", "unknown_user");
	assert_true(verified >= 1);
	assert_true(verified <= AUTHN_THROTTLE_LIMIT_DEFAULT);
	assert_int_equal(verified + limited, N_RACE);
	assert_int_equal(af_count(f, "auth.login", "rate_limited"), limited);
}

/* TOTP secret from an enrolment reply, and a code that is wrong for it. */
static void wrong_code(const char *b32, char out[AUTHN_TOTP_CODE_MAX])
{
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	size_t len = sizeof(secret);
	int64_t step = util_now_ms() / 1000 / AUTHN_TOTP_PERIOD;
	char c[3][AUTHN_TOTP_CODE_MAX];
	int i, k;

	assert_int_equal(util_b32_decode(b32, secret, &len), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(authn_totp_code(secret, len, step - 1 + i, 6, c[i]), PV_OK);
	for (k = 0;; k++) {
		snprintf(out, AUTHN_TOTP_CODE_MAX, "%06d", k % 1000000);
		if (strcmp(out, c[0]) != 0 && strcmp(out, c[1]) != 0 && strcmp(out, c[2]) != 0)
			break;
	}
}

static void good_code(const char *b32, char out[AUTHN_TOTP_CODE_MAX])
{
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	size_t len = sizeof(secret);

	assert_int_equal(util_b32_decode(b32, secret, &len), 0);
	assert_int_equal(authn_totp_code(secret, len, util_now_ms() / 1000 / AUTHN_TOTP_PERIOD,
	    6, out), PV_OK);
}

/* Log in (MFA required, not enrolled: restricted), enrol and confirm;
 * returns the base32 secret and the (now full) session token. */
static void enrol(struct af *f, const char *user, const char *pw, char b32[AUTHN_TOTP_B32_MAX],
    char token[AUTHN_TOKEN_MAX])
{
	char body[256], code[AUTHN_TOTP_CODE_MAX];
	struct af_resp r;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	af_req(f, "POST", "/v1/auth/login", NULL, body, &r);
	assert_int_equal(r.status, 200);
	snprintf(token, AUTHN_TOKEN_MAX, "%s", af_str(&r, "token"));
	af_resp_free(&r);
	af_req(f, "POST", "/v1/auth/mfa/enroll", token, NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(b32, AUTHN_TOTP_B32_MAX, "%s", af_str(&r, "secret"));
	af_resp_free(&r);
	good_code(b32, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	af_req(f, "POST", "/v1/auth/mfa/confirm", token, body, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
}

/* 29 concurrent wrong codes on one mfa_token: at most 5 are checked. The
 * account's MFA lockout is set out of reach so only the token's own limit
 * is under test. */
static void test_mfa_token_race(void **state)
{
	struct af *f = *state;
	char b32[AUTHN_TOTP_B32_MAX], token[AUTHN_TOKEN_MAX], mtok[AUTHN_TOKEN_MAX];
	char code[AUTHN_TOTP_CODE_MAX];
	struct af_par ps[29];
	struct af_resp r;
	size_t i;
	int checked;

	f->cfg.lockout_threshold = 100;
	af_start(f);
	af_user(f, "bob", "plum velvet harbor 42", NULL, NULL);
	enrol(f, "bob", "plum velvet harbor 42", b32, token);
	af_req(f, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"bob\",\"password\":\"plum velvet harbor 42\"}", &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "mfa_required")));
	snprintf(mtok, sizeof(mtok), "%s", af_str(&r, "mfa_token"));
	af_resp_free(&r);
	wrong_code(b32, code);
	memset(ps, 0, sizeof(ps));
	for (i = 0; i < 29; i++) {
		ps[i].f = f;
		snprintf(ps[i].source, sizeof(ps[i].source), "10.0.1.%d", (int)i + 1);
		ps[i].uri = "/v1/auth/mfa";
		snprintf(ps[i].body, sizeof(ps[i].body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}",
		    mtok, code);
	}
	af_parallel(ps, 29);
	for (i = 0; i < 29; i++)
		assert_int_equal(ps[i].status, 401);
	checked = af_count(f, "auth.mfa", "bad_totp");
	assert_true(checked >= 1);
	assert_true(checked <= AUTHN_MFA_PENDING_ATTEMPTS);
	/* the token is spent: even the right code no longer opens it */
	good_code(b32, code);
	{
		char body[256];

		snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mtok, code);
		af_req(f, "POST", "/v1/auth/mfa", NULL, body, &r);
	}
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
}

/* POST /v1/auth/mfa/confirm answering 409 leaves an entry. */
static void test_confirm_conflict_recorded(void **state)
{
	struct af *f = *state;
	char b32[AUTHN_TOTP_B32_MAX], token[AUTHN_TOKEN_MAX];
	struct af_resp r;

	af_start(f);
	af_user(f, "dana", "plum velvet harbor 42", NULL, NULL);
	enrol(f, "dana", "plum velvet harbor 42", b32, token);
	af_req(f, "POST", "/v1/auth/mfa/confirm", token, "{\"code\":\"123456\"}", &r);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.code, "conflict");
	af_resp_free(&r);
	assert_int_equal(af_count(f, "auth.mfa_enroll", "conflict"), 1);
}

/* Throttled password changes are recorded too. */
static void test_rate_limited_recorded(void **state)
{
	struct af *f = *state;
	struct af_resp r;
	int i, limited = 0;

	af_start(f);
	for (i = 0; i < AUTHN_THROTTLE_LIMIT_DEFAULT + 3; i++) {
		char body[128];

		snprintf(body, sizeof(body), "{\"username\":\"nobody%d\",\"password\":\"x\"}", i);
		af_req_from(f, "192.0.2.99", "POST", "/v1/auth/login", NULL, body, &r);
		if (r.status == 429) {
			limited++;
			assert_string_equal(r.code, "rate_limited");
		}
		af_resp_free(&r);
	}
	assert_int_equal(limited, 3);
	assert_int_equal(af_count(f, "auth.login", "rate_limited"), 3);
	/* no typed name in a throttled entry */
	assert_int_equal(af_grep(f, "nobody22"), 0);
}

/* mfa_required = admins: a session opened without MFA by a non-admin is
 * restricted to MFA enrolment on its next request once the user is given
 * an admin role; enrolling in that session lifts it. */
static void test_mfa_recheck_after_role_grant(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX], b32[AUTHN_TOTP_B32_MAX];
	char code[AUTHN_TOTP_CODE_MAX], body[64];
	struct af_resp r;

	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	af_start(f);
	af_user(f, "erin", "plum velvet harbor 42", "clinician", id);
	af_req(f, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"erin\",\"password\":\"plum velvet harbor 42\"}", &r);
	assert_int_equal(r.status, 200);
	assert_false(json_is_true(json_object_get(r.json, "restricted")));
	snprintf(token, sizeof(token), "%s", af_str(&r, "token"));
	af_resp_free(&r);
	af_req(f, "GET", "/v1/test/full", token, NULL, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);

	af_set_role(f, id, "admin");
	af_req(f, "GET", "/v1/test/full", token, NULL, &r);
	assert_int_equal(r.status, 403);
	assert_string_equal(r.code, "password_change_required");
	assert_non_null(strstr(r.message, "MFA"));
	af_resp_free(&r);
	af_req(f, "GET", "/v1/auth/session", token, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "restricted")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(r.json,
	    "required_actions"), 0)), "enrol_mfa");
	af_resp_free(&r);

	/* enrolment in the same session lifts the restriction */
	af_req(f, "POST", "/v1/auth/mfa/enroll", token, NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(b32, sizeof(b32), "%s", af_str(&r, "secret"));
	af_resp_free(&r);
	good_code(b32, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	af_req(f, "POST", "/v1/auth/mfa/confirm", token, body, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	af_req(f, "GET", "/v1/test/full", token, NULL, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
}

/* Enrolled elsewhere meanwhile: the old session must log in again (401
 * mfa_required), it cannot enrol a second time. */
static void test_mfa_recheck_enrolled_elsewhere(void **state)
{
	struct af *f = *state;
	char id[UTIL_ID_MAX], old[AUTHN_TOKEN_MAX], tok2[AUTHN_TOKEN_MAX], b32[AUTHN_TOTP_B32_MAX];
	struct af_resp r;

	f->cfg.mfa_required = CONFIG_MFA_ADMINS;
	af_start(f);
	af_user(f, "finn", "plum velvet harbor 42", "clinician", id);
	af_req(f, "POST", "/v1/auth/login", NULL,
	    "{\"username\":\"finn\",\"password\":\"plum velvet harbor 42\"}", &r);
	assert_int_equal(r.status, 200);
	snprintf(old, sizeof(old), "%s", af_str(&r, "token"));
	af_resp_free(&r);
	/* a second non-admin session enrols (allowed, not required) */
	enrol(f, "finn", "plum velvet harbor 42", b32, tok2);
	af_set_role(f, id, "admin");
	af_req(f, "GET", "/v1/test/full", old, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_string_equal(r.code, "mfa_required");
	af_resp_free(&r);
	assert_true(af_count(f, NULL, "mfa_required") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lockout_race, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_throttle_race, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_mfa_token_race, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_confirm_conflict_recorded, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limited_recorded, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_mfa_recheck_after_role_grant, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_mfa_recheck_enrolled_elsewhere, af_setup,
		    af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
