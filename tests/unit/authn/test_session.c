/*
 * test_session: the session clock (idle and absolute limits, logout,
 * disable, password changed elsewhere) and the login decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "authn/authn.h"

#define IDLE 900
#define ABS 43200
#define T0 1700000000000LL

static enum pv_rc
check(const struct authn_session_clock *s, int64_t now, enum authn_session_end *why)
{
	return authn_session_check(s, 3, false, now, IDLE, ABS, why);
}

static void
test_active_and_idle(void **state)
{
	struct authn_session_clock s = { T0, T0, 3, AUTHN_END_NONE };
	enum authn_session_end why;

	(void)state;
	assert_int_equal(check(&s, T0, &why), PV_OK);
	assert_int_equal(why, AUTHN_END_NONE);
	assert_int_equal(check(&s, T0 + IDLE * 1000LL - 1, &why), PV_OK);
	assert_int_equal(check(&s, T0 + IDLE * 1000LL, &why), PV_E_EXPIRED);
	assert_int_equal(why, AUTHN_END_IDLE);
	assert_string_equal(authn_session_end_name(why), "idle");
	/* a request moves the idle end */
	s.last_seen_ms = T0 + 800000;
	assert_int_equal(check(&s, T0 + IDLE * 1000LL, &why), PV_OK);
}

static void
test_absolute(void **state)
{
	struct authn_session_clock s = { T0, T0, 3, AUTHN_END_NONE };
	enum authn_session_end why;
	int64_t idle_end, abs_end;

	(void)state;
	/* busy all day: idle never fires, the absolute limit does */
	s.last_seen_ms = T0 + ABS * 1000LL - 10;
	assert_int_equal(check(&s, T0 + ABS * 1000LL - 1, &why), PV_OK);
	assert_int_equal(check(&s, T0 + ABS * 1000LL, &why), PV_E_EXPIRED);
	assert_int_equal(why, AUTHN_END_ABSOLUTE);
	/* the idle end never passes the absolute end */
	authn_session_expiries(&s, IDLE, ABS, &idle_end, &abs_end);
	assert_int_equal(abs_end, T0 + ABS * 1000LL);
	assert_int_equal(idle_end, abs_end);
	s.last_seen_ms = T0 + 1000;
	authn_session_expiries(&s, IDLE, ABS, &idle_end, &abs_end);
	assert_int_equal(idle_end, T0 + 1000 + IDLE * 1000LL);
}

static void
test_ended(void **state)
{
	struct authn_session_clock s = { T0, T0, 3, AUTHN_END_NONE };
	enum authn_session_end why;

	(void)state;
	/* user disabled: dead at once, whatever the clock */
	assert_int_equal(authn_session_check(&s, 3, true, T0 + 1, IDLE, ABS, &why), PV_E_UNAUTH);
	assert_int_equal(why, AUTHN_END_DISABLED);
	/* password changed elsewhere (epoch moved) */
	assert_int_equal(authn_session_check(&s, 4, false, T0 + 1, IDLE, ABS, &why), PV_E_UNAUTH);
	assert_int_equal(why, AUTHN_END_PASSWORD);
	/* logout recorded: never active again, even within its limits */
	s.ended = AUTHN_END_LOGOUT;
	assert_int_equal(check(&s, T0 + 1, &why), PV_E_UNAUTH);
	assert_int_equal(why, AUTHN_END_LOGOUT);
	/* no timeout configured: fail closed */
	s.ended = AUTHN_END_NONE;
	assert_int_equal(authn_session_check(&s, 3, false, T0 + 1, 0, ABS, &why), PV_E_EXPIRED);
	assert_int_equal(authn_session_check(&s, 3, false, T0 + 1, IDLE, 0, &why), PV_E_EXPIRED);
}

static void
test_login_decide(void **state)
{
	unsigned f = 99;

	(void)state;
	/* plain login */
	assert_int_equal(authn_login_decide(false, false, false, &f), AUTHN_LOGIN_SESSION);
	assert_int_equal(f, 0);
	/* MFA enrolled: always a challenge first */
	assert_int_equal(authn_login_decide(true, true, false, &f), AUTHN_LOGIN_MFA_CHALLENGE);
	assert_int_equal(f, 0);
	assert_int_equal(authn_login_decide(true, false, true, &f), AUTHN_LOGIN_MFA_CHALLENGE);
	assert_int_equal(f, AUTHN_RESTRICT_PASSWORD_CHANGE);
	/* required but not enrolled: restricted to enrolment */
	assert_int_equal(authn_login_decide(false, true, false, &f), AUTHN_LOGIN_RESTRICTED);
	assert_int_equal(f, AUTHN_RESTRICT_MFA_ENROL);
	/* new user: one-time password and no MFA yet */
	assert_int_equal(authn_login_decide(false, true, true, &f), AUTHN_LOGIN_RESTRICTED);
	assert_int_equal(f, AUTHN_RESTRICT_MFA_ENROL | AUTHN_RESTRICT_PASSWORD_CHANGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_active_and_idle),
		cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_ended),
		cmocka_unit_test(test_login_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
