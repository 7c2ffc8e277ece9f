/*
 * test_lockout: per-account lockout (threshold, window, duration,
 * Retry-After, reset, separate password/MFA counters) and the per-source
 * throttle (limit, refill, bounded memory under a flood of sources).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "authn/authn.h"

/* API.md [auth] defaults */
#define THRESHOLD 5
#define WINDOW 900
#define DURATION 900
#define T0 1700000000000LL

static bool
fail_at(struct authn_lockout *st, int64_t now)
{
	return authn_lockout_fail(st, now, THRESHOLD, WINDOW, DURATION);
}

static void
test_threshold_and_duration(void **state)
{
	struct authn_lockout st = { 0 };
	int retry = 0, i;

	(void)state;
	assert_int_equal(authn_lockout_check(&st, T0, &retry), PV_OK);
	for (i = 0; i < THRESHOLD - 1; i++) {
		assert_false(fail_at(&st, T0 + i * 1000));
		assert_int_equal(authn_lockout_check(&st, T0 + i * 1000, &retry), PV_OK);
	}
	/* the 5th failure locks */
	assert_true(fail_at(&st, T0 + 10000));
	assert_int_equal(authn_lockout_check(&st, T0 + 10000, &retry), PV_E_LOCKED);
	assert_int_equal(retry, DURATION);
	/* Retry-After counts down, rounded up, never 0 while locked */
	assert_int_equal(authn_lockout_check(&st, T0 + 10000 + 899500, &retry), PV_E_LOCKED);
	assert_int_equal(retry, 1);
	assert_int_equal(authn_lockout_check(&st, T0 + 10000 + 1500, &retry), PV_E_LOCKED);
	assert_int_equal(retry, DURATION - 1);
	/* over at exactly locked_until */
	assert_int_equal(authn_lockout_check(&st, T0 + 10000 + DURATION * 1000LL, &retry), PV_OK);
}

static void
test_fail_while_locked_does_not_extend(void **state)
{
	struct authn_lockout st = { 0 };
	int retry = 0, i;
	int64_t until;

	(void)state;
	for (i = 0; i < THRESHOLD; i++)
		fail_at(&st, T0);
	until = st.locked_until_ms;
	for (i = 0; i < 50; i++)
		assert_false(fail_at(&st, T0 + 60000 + i));
	assert_int_equal(st.locked_until_ms, until);
	assert_int_equal(authn_lockout_check(&st, until, &retry), PV_OK);
	/* after the lock, a fresh count: 4 failures do not lock again */
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&st, until + i));
	assert_int_equal(authn_lockout_check(&st, until + 10, &retry), PV_OK);
	assert_true(fail_at(&st, until + 20));
}

static void
test_window_expiry(void **state)
{
	struct authn_lockout st = { 0 };
	int retry, i;

	(void)state;
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&st, T0));
	/* the window has passed: those four no longer count */
	assert_false(fail_at(&st, T0 + WINDOW * 1000LL));
	for (i = 0; i < THRESHOLD - 2; i++)
		assert_false(fail_at(&st, T0 + WINDOW * 1000LL + 1 + i));
	assert_int_equal(authn_lockout_check(&st, T0 + WINDOW * 1000LL + 10, &retry), PV_OK);
	assert_true(fail_at(&st, T0 + WINDOW * 1000LL + 20));
	/* one millisecond inside the window still counts */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&st, T0));
	assert_true(fail_at(&st, T0 + WINDOW * 1000LL - 1));
}

static void
test_success_resets(void **state)
{
	struct authn_lockout st = { 0 };
	int retry, i;

	(void)state;
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&st, T0 + i));
	authn_lockout_success(&st);
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&st, T0 + 100 + i));
	assert_int_equal(authn_lockout_check(&st, T0 + 200, &retry), PV_OK);
}

static void
test_separate_counters(void **state)
{
	struct authn_lockout pw = { 0 }, mfa = { 0 };
	int retry, i;

	(void)state;
	for (i = 0; i < THRESHOLD; i++)
		fail_at(&pw, T0 + i);
	assert_int_equal(authn_lockout_check(&pw, T0 + 10, &retry), PV_E_LOCKED);
	assert_int_equal(authn_lockout_check(&mfa, T0 + 10, &retry), PV_OK);
	/* MFA failures count on their own */
	for (i = 0; i < THRESHOLD - 1; i++)
		assert_false(fail_at(&mfa, T0 + 20 + i));
	assert_int_equal(authn_lockout_check(&mfa, T0 + 30, &retry), PV_OK);
	authn_lockout_success(&mfa);
	assert_int_equal(authn_lockout_check(&pw, T0 + 40, &retry), PV_E_LOCKED);
}

static void
test_bad_params_fail_closed(void **state)
{
	struct authn_lockout st = { 0 };
	int retry;

	(void)state;
	/* threshold 0 behaves as 1: the first failure locks */
	assert_true(authn_lockout_fail(&st, T0, 0, WINDOW, DURATION));
	assert_int_equal(authn_lockout_check(&st, T0, &retry), PV_E_LOCKED);
	assert_int_equal(authn_lockout_check(NULL, T0, &retry), PV_E_INVALID);
}

/* ---- per source ---- */

static void
test_throttle_limit(void **state)
{
	struct authn_throttle *t;
	int retry = 0, i;

	(void)state;
	assert_int_equal(authn_throttle_new(1024, 20, 60, &t), PV_OK);
	for (i = 0; i < 19; i++)
		assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0, &retry), PV_OK);
	assert_int_equal(authn_throttle_check(t, "192.0.2.7", T0, &retry), PV_OK);
	/* the 20th failure in the minute takes the last slot: the next is refused */
	assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0, &retry), PV_OK);
	assert_int_equal(authn_throttle_check(t, "192.0.2.7", T0, &retry), PV_E_RATE);
	assert_int_equal(retry, 3);            /* one attempt back every 60/20 s */
	assert_int_equal(authn_throttle_check(t, "192.0.2.7", T0 + 1000, &retry), PV_E_RATE);
	assert_int_equal(retry, 2);
	/* other sources are not affected */
	assert_int_equal(authn_throttle_check(t, "192.0.2.8", T0, &retry), PV_OK);
	assert_int_equal(authn_throttle_check(t, "2001:db8::7", T0, &retry), PV_OK);
	/* refused attempts do not add to the penalty */
	for (i = 0; i < 100; i++)
		assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0 + 1000, &retry),
		    PV_E_RATE);
	assert_int_equal(authn_throttle_check(t, "192.0.2.7", T0 + 3000, &retry), PV_OK);
	/* one more failure and it is throttled again */
	assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0 + 3000, &retry), PV_OK);
	assert_int_equal(authn_throttle_check(t, "192.0.2.7", T0 + 3000, &retry), PV_E_RATE);
	/* after a full minute, a full budget */
	for (i = 0; i < 20; i++)
		assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0 + 63000, &retry), PV_OK);
	assert_int_equal(authn_throttle_reserve(t, "192.0.2.7", T0 + 63000, &retry), PV_E_RATE);
	authn_throttle_free(t);
}

static void
test_throttle_bounded_memory(void **state)
{
	struct authn_throttle *t;
	char src[64];
	int retry, i;
	size_t cap;

	(void)state;
	assert_int_equal(authn_throttle_new(64, 20, 60, &t), PV_OK);
	cap = authn_throttle_capacity(t);
	assert_true(cap >= 64 && cap <= 128);
	/* one attacker at its limit */
	for (i = 0; i < 20; i++)
		authn_throttle_reserve(t, "198.51.100.1", T0, &retry);
	assert_int_equal(authn_throttle_check(t, "198.51.100.1", T0, &retry), PV_E_RATE);
	/* a flood of 100x capacity sources, one failure each */
	for (i = 0; i < 6400; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		assert_int_equal(authn_throttle_reserve(t, src, T0 + 10, &retry), PV_OK);
		assert_true(authn_throttle_count(t) <= cap);
	}
	assert_true(authn_throttle_count(t) <= cap);
	/* the flood evicted the least throttled entries, not the attacker */
	assert_int_equal(authn_throttle_check(t, "198.51.100.1", T0 + 20, &retry), PV_E_RATE);
	authn_throttle_free(t);
}

static void
test_throttle_params(void **state)
{
	struct authn_throttle *t = NULL;
	int retry;

	(void)state;
	assert_int_equal(authn_throttle_new(0, 20, 60, &t), PV_E_INVALID);
	assert_int_equal(authn_throttle_new(64, 0, 60, &t), PV_E_INVALID);
	assert_int_equal(authn_throttle_new(64, 20, 0, &t), PV_E_INVALID);
	assert_null(t);
	assert_int_equal(authn_throttle_check(NULL, "x", T0, &retry), PV_E_INVALID);
	authn_throttle_free(NULL);
	/* limit 1: every failure throttles for the whole window */
	assert_int_equal(authn_throttle_new(8, 1, 60, &t), PV_OK);
	assert_int_equal(authn_throttle_reserve(t, NULL, T0, &retry), PV_OK);
	assert_int_equal(authn_throttle_check(t, NULL, T0, &retry), PV_E_RATE);
	assert_int_equal(retry, 60);
	authn_throttle_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold_and_duration),
		cmocka_unit_test(test_fail_while_locked_does_not_extend),
		cmocka_unit_test(test_window_expiry),
		cmocka_unit_test(test_success_resets),
		cmocka_unit_test(test_separate_counters),
		cmocka_unit_test(test_bad_params_fail_closed),
		cmocka_unit_test(test_throttle_limit),
		cmocka_unit_test(test_throttle_bounded_memory),
		cmocka_unit_test(test_throttle_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
