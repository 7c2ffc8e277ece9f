/*
 * The authentication operations (src/authn/login.c) called with no HTTP at
 * all: no request, no route, no server pipeline. Each flow once as it
 * succeeds and once as it is refused, with what the caller sees (rc,
 * message, Retry-After) and what the trail holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authn_fixture.h"

#define PW "plum velvet harbor 42"
#define SRC "198.51.100.4"

/* The principal of a session token, as the wiring would build it. */
static void principal_of(struct af *f, const char *token, const char *user_id,
    const char *username, struct authn_principal *p)
{
	char hash[AUTHN_HASH_HEX_MAX];
	struct store_session ss;

	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, token, hash), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, hash, &ss)), PV_OK);
	memset(p, 0, sizeof(*p));
	snprintf(p->user_id, sizeof(p->user_id), "%s", user_id);
	snprintf(p->session_id, sizeof(p->session_id), "%s", ss.id);
	snprintf(p->username, sizeof(p->username), "%s", username);
	snprintf(p->source, sizeof(p->source), "%s", SRC);
	p->restrict_flags = ss.restrict_flags;
	p->restricted = ss.restrict_flags != 0;
	p->mfa_verified = ss.mfa_verified;
}

static void login_ok(struct af *f, const char *user, const char *pw, char token[AUTHN_TOKEN_MAX])
{
	struct authn_result res;
	json_t *out = NULL;

	assert_int_equal(authn_login(f->svc, SRC, user, pw, &out, &res), PV_OK);
	assert_non_null(json_string_value(json_object_get(out, "token")));
	snprintf(token, AUTHN_TOKEN_MAX, "%s", json_string_value(json_object_get(out, "token")));
	json_decref(out);
}

static void start_no_mfa(struct af *f)
{
	f->cfg.mfa_required = CONFIG_MFA_OFF;
	af_start(f);
}

/* Login: a session for the right password; the same refusal for a wrong
 * password and for an unknown name, neither holding the typed name or
 * password in the trail; *out untouched on refusal. */
static void test_login(void **state)
{
	struct af *f = *state;
	struct authn_result res;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX];
	json_t *out = NULL;

	start_no_mfa(f);
	af_user(f, "alice", PW, NULL, id);
	login_ok(f, "alice", PW, token);
	assert_int_equal(strncmp(token, "pvt_", 4), 0);
	assert_int_equal(af_count(f, "auth.login", "password"), 1);

	assert_int_equal(authn_login(f->svc, SRC, "alice", "wrong wrong wrong 1", &out, &res),
	    PV_E_UNAUTH);
	assert_string_equal(res.message, "Invalid username or password");
	assert_null(out);
	assert_int_equal(af_count(f, "auth.login", "bad_password"), 1);
	assert_int_equal(authn_login(f->svc, SRC, "mallory.secret.name", PW, &out, &res),
	    PV_E_UNAUTH);
	assert_string_equal(res.message, "Invalid username or password");
	assert_null(out);
	assert_int_equal(af_count(f, "auth.login", "unknown_user"), 1);
	assert_int_equal(af_grep(f, "mallory.secret.name"), 0);
	assert_int_equal(af_grep(f, "wrong wrong"), 0);
	assert_int_equal(authn_login(f->svc, SRC, NULL, PW, &out, &res), PV_E_INVALID);
}

/* Lockout: after lockout_threshold wrong passwords the account is locked;
 * the operation answers PV_E_LOCKED with a Retry-After, and even the
 * right password is refused. */
static void test_login_locked(void **state)
{
	struct af *f = *state;
	struct authn_result res;
	json_t *out = NULL;
	int i;

	start_no_mfa(f);
	af_user(f, "bob", PW, NULL, NULL);
	for (i = 0; i < f->cfg.lockout_threshold; i++)
		assert_int_equal(authn_login(f->svc, SRC, "bob", "not the password 9", &out, &res),
		    PV_E_UNAUTH);
	assert_int_equal(authn_login(f->svc, SRC, "bob", PW, &out, &res), PV_E_LOCKED);
	assert_true(res.retry_after_s > 0);
	assert_non_null(strstr(res.message, "temporarily locked"));
	assert_null(out);
	assert_int_equal(af_count(f, "auth.lockout", NULL), 1);
}

/* Password change: refused with a wrong current password or a password
 * the policy refuses (nothing changes: the old password still logs in),
 * then done; the old password no longer works. */
static void test_password_change(void **state)
{
	struct af *f = *state;
	struct authn_principal p;
	struct authn_result res;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX], other[AUTHN_TOKEN_MAX];
	json_t *out = NULL;

	start_no_mfa(f);
	af_user(f, "carol", PW, NULL, id);
	login_ok(f, "carol", PW, token);
	login_ok(f, "carol", PW, other);
	principal_of(f, token, id, "carol", &p);

	assert_int_equal(authn_password_change(f->svc, &p, SRC, "not it at all 7",
	    "glacier orbit meadow 77", &out, &res), PV_E_FORBIDDEN);
	assert_string_equal(res.message, "The current password is not correct");
	assert_int_equal(authn_password_change(f->svc, &p, SRC, PW, "carol", &out, &res),
	    PV_E_INVALID);
	assert_int_equal(strncmp(res.message, "new_password refused: ", 22), 0);
	assert_null(strstr(res.message, "carol\""));
	assert_null(out);
	assert_int_equal(af_count(f, "auth.password", "policy"), 1);
	login_ok(f, "carol", PW, other);

	assert_int_equal(authn_password_change(f->svc, &p, SRC, PW, "glacier orbit meadow 77",
	    &out, &res), PV_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "other_sessions_ended")), 2);
	json_decref(out);
	out = NULL;
	assert_int_equal(authn_login(f->svc, SRC, "carol", PW, &out, &res), PV_E_UNAUTH);
	login_ok(f, "carol", "glacier orbit meadow 77", other);
	assert_int_equal(authn_password_change(f->svc, NULL, SRC, PW, "x", &out, &res),
	    PV_E_UNAUTH);
}

static void totp_now(const char *b32, int64_t delta_steps, char out[AUTHN_TOTP_CODE_MAX])
{
	uint8_t secret[AUTHN_TOTP_SECRET_LEN];
	size_t len = sizeof(secret);

	assert_int_equal(util_b32_decode(b32, secret, &len), 0);
	assert_int_equal(authn_totp_code(secret, len,
	    util_now_ms() / 1000 / AUTHN_TOTP_PERIOD + delta_steps, 6, out), PV_OK);
}

/* MFA: enrol, a wrong first code refused (still not enrolled), the right
 * one gives ten recovery codes; then a login is a challenge, a wrong code
 * is refused, a recovery code completes it, and enrolling again conflicts. */
static void test_mfa(void **state)
{
	struct af *f = *state;
	struct authn_principal p;
	struct authn_result res;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX], b32[AUTHN_TOTP_B32_MAX];
	char code[AUTHN_TOTP_CODE_MAX], mtok[AUTHN_TOKEN_MAX], rcode[64];
	json_t *out = NULL;

	start_no_mfa(f);
	af_user(f, "dora", PW, NULL, id);
	login_ok(f, "dora", PW, token);
	principal_of(f, token, id, "dora", &p);

	assert_int_equal(authn_mfa_confirm(f->svc, &p, SRC, "123456", &out, &res), PV_E_CONFLICT);
	assert_non_null(strstr(res.message, "No MFA enrolment in progress"));
	assert_int_equal(authn_mfa_enroll(f->svc, &p, SRC, &out, &res), PV_OK);
	snprintf(b32, sizeof(b32), "%s", json_string_value(json_object_get(out, "secret")));
	assert_non_null(strstr(json_string_value(json_object_get(out, "otpauth_uri")),
	    "otpauth://totp/"));
	json_decref(out);
	out = NULL;
	totp_now(b32, 40, code);   /* 20 minutes away: outside the window */
	assert_int_equal(authn_mfa_confirm(f->svc, &p, SRC, code, &out, &res), PV_E_INVALID);
	assert_null(out);
	assert_int_equal(af_count(f, "auth.mfa_enroll", "bad_totp"), 1);
	totp_now(b32, 0, code);
	assert_int_equal(authn_mfa_confirm(f->svc, &p, SRC, code, &out, &res), PV_OK);
	assert_int_equal(json_array_size(json_object_get(out, "recovery_codes")),
	    AUTHN_RECOVERY_COUNT);
	snprintf(rcode, sizeof(rcode), "%s",
	    json_string_value(json_array_get(json_object_get(out, "recovery_codes"), 3)));
	json_decref(out);
	out = NULL;
	assert_int_equal(authn_mfa_enroll(f->svc, &p, SRC, &out, &res), PV_E_CONFLICT);
	assert_string_equal(res.message, "MFA is already enrolled for this user");

	/* the second step */
	assert_int_equal(authn_login(f->svc, SRC, "dora", PW, &out, &res), PV_OK);
	assert_true(json_is_true(json_object_get(out, "mfa_required")));
	assert_null(json_object_get(out, "token"));
	snprintf(mtok, sizeof(mtok), "%s", json_string_value(json_object_get(out, "mfa_token")));
	json_decref(out);
	out = NULL;
	assert_int_equal(authn_mfa_verify(f->svc, SRC, "pvm_not_a_token", rcode, &out, &res),
	    PV_E_UNAUTH);
	assert_non_null(strstr(res.message, "Invalid or expired MFA token"));
	totp_now(b32, 40, code);
	assert_int_equal(authn_mfa_verify(f->svc, SRC, mtok, code, &out, &res), PV_E_UNAUTH);
	assert_string_equal(res.message, "Invalid code");
	assert_null(out);
	assert_int_equal(authn_mfa_verify(f->svc, SRC, mtok, rcode, &out, &res), PV_OK);
	assert_int_equal(strncmp(json_string_value(json_object_get(out, "token")), "pvt_", 4), 0);
	json_decref(out);
	assert_int_equal(af_count(f, "auth.mfa", "recovery_code"), 1);
	assert_int_equal(af_grep(f, rcode), 0);
}

/* Step-up: refused (409) before MFA is enrolled; with MFA, a wrong code is
 * refused, the next code raises the session's MFA time (store and answer),
 * and the same code again is a replay, refused; no principal, no step-up. */
static void test_step_up(void **state)
{
	struct af *f = *state;
	struct authn_principal p;
	struct authn_result res;
	struct store_session ss;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX], b32[AUTHN_TOTP_B32_MAX];
	char code[AUTHN_TOTP_CODE_MAX], hash[AUTHN_HASH_HEX_MAX];
	json_t *out = NULL;

	start_no_mfa(f);
	af_user(f, "fay", PW, NULL, id);
	login_ok(f, "fay", PW, token);
	principal_of(f, token, id, "fay", &p);
	assert_int_equal(authn_step_up(f->svc, &p, SRC, "123456", &out, &res), PV_E_CONFLICT);
	assert_non_null(strstr(res.message, "No MFA enrolled"));
	assert_int_equal(af_count(f, "auth.step_up", "mfa_not_enrolled"), 1);

	assert_int_equal(authn_mfa_enroll(f->svc, &p, SRC, &out, &res), PV_OK);
	snprintf(b32, sizeof(b32), "%s", json_string_value(json_object_get(out, "secret")));
	json_decref(out);
	out = NULL;
	totp_now(b32, 0, code);
	assert_int_equal(authn_mfa_confirm(f->svc, &p, SRC, code, &out, &res), PV_OK);
	json_decref(out);
	out = NULL;

	totp_now(b32, 40, code);   /* outside the window */
	assert_int_equal(authn_step_up(f->svc, &p, SRC, code, &out, &res), PV_E_UNAUTH);
	assert_string_equal(res.message, "Invalid code");
	assert_null(out);
	assert_int_equal(af_count(f, "auth.step_up", "bad_totp"), 1);
	totp_now(b32, 1, code);    /* the confirm used this step's code */
	assert_int_equal(authn_step_up(f->svc, &p, SRC, code, &out, &res), PV_OK);
	assert_true(json_is_true(json_object_get(out, "mfa_verified")));
	assert_non_null(json_string_value(json_object_get(out, "mfa_at")));
	json_decref(out);
	out = NULL;
	assert_int_equal(af_count(f, "auth.step_up", "totp"), 1);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, token, hash), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, hash, &ss)), PV_OK);
	assert_true(ss.mfa_at_ms > 0);
	assert_int_equal(authn_step_up(f->svc, &p, SRC, code, &out, &res), PV_E_UNAUTH);
	assert_string_equal(res.message, "Invalid code");
	assert_null(out);
	assert_int_equal(authn_step_up(f->svc, NULL, SRC, code, &out, &res), PV_E_UNAUTH);
}

/* Re-entering the password (break-glass), in steps: a right one answers
 * PV_OK and records nothing; a wrong one is recorded on the caller's action
 * (bad_password) and counted by the password lockout, the one that reaches
 * the threshold adds auth.lockout; locked, even the right one is refused. */
static void test_reconfirm(void **state)
{
	struct af *f = *state;
	struct authn_principal p;
	struct authn_result res;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX];

	f->cfg.lockout_threshold = 2;
	start_no_mfa(f);
	af_user(f, "rita", PW, NULL, id);
	login_ok(f, "rita", PW, token);
	principal_of(f, token, id, "rita", &p);
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, PW, "breakglass.activate",
	    "breakglass", &res), PV_OK);
	assert_int_equal(af_count(f, "breakglass.activate", NULL), 0);
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, "", "breakglass.activate",
	    "breakglass", &res), PV_E_INVALID);
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, "not it at all 9",
	    "breakglass.activate", "breakglass", &res), PV_E_UNAUTH);
	assert_string_equal(res.message, "The password is not correct");
	assert_int_equal(af_count(f, "breakglass.activate", "bad_password"), 1);
	assert_int_equal(af_count(f, "auth.lockout", NULL), 0);
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, "not it at all 9",
	    "breakglass.activate", "breakglass", &res), PV_E_UNAUTH);
	assert_int_equal(af_count(f, "breakglass.activate", "bad_password"), 2);
	assert_int_equal(af_count(f, "auth.lockout", "password"), 1);
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, PW, "breakglass.activate",
	    "breakglass", &res), PV_E_LOCKED);
	assert_true(res.retry_after_s > 0);
	assert_int_equal(af_grep(f, "not it at all 9"), 0);
	p.app = true;
	assert_int_equal(authn_password_reconfirm(f->svc, &p, SRC, PW, "breakglass.activate",
	    "breakglass", &res), PV_E_FORBIDDEN);
}

/* Session and logout: the principal described; logout ends the session
 * (its row is ended in the store) and is audited; no principal, no logout. */
static void test_session_logout(void **state)
{
	struct af *f = *state;
	struct authn_principal p;
	struct authn_result res;
	struct store_session ss;
	char id[UTIL_ID_MAX], token[AUTHN_TOKEN_MAX], hash[AUTHN_HASH_HEX_MAX];
	json_t *out = NULL;

	start_no_mfa(f);
	af_user(f, "erin", PW, NULL, id);
	login_ok(f, "erin", PW, token);
	principal_of(f, token, id, "erin", &p);
	assert_int_equal(authn_session_describe(&p, &out), PV_OK);
	assert_string_equal(json_string_value(json_object_get(out, "session_id")), p.session_id);
	assert_string_equal(json_string_value(json_object_get(out, "username")), "erin");
	json_decref(out);
	out = NULL;
	assert_int_equal(authn_session_describe(NULL, &out), PV_E_UNAUTH);
	assert_int_equal(authn_logout(f->svc, NULL, SRC, &res), PV_E_UNAUTH);
	assert_int_equal(af_count(f, "auth.logout", NULL), 0);

	assert_int_equal(authn_logout(f->svc, &p, SRC, &res), PV_OK);
	assert_int_equal(authn_token_hash(AUTHN_TOKEN_SESSION, token, hash), PV_OK);
	assert_int_equal(TX_RD(f->st, store_session_get_by_hash(tx, hash, &ss)), PV_OK);
	assert_true(ss.ended_ms > 0);
	assert_string_equal(ss.end_reason, "logout");
	assert_int_equal(af_count(f, "auth.logout", NULL), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_login, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_login_locked, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_password_change, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_mfa, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_step_up, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_session_logout, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_reconfirm, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
