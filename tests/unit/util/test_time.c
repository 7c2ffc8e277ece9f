/* util: the injectable clock (time.c): real by default, fixed, advanced,
 * reset; monotonic and wall move together; concurrent advances all count. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "util/util.h"

static int
reset(void **state)
{
	(void)state;
	util_clock_reset();
	return 0;
}

static int64_t
libc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* By default the clock is the system's. */
static void
test_real_by_default(void **state)
{
	int64_t before = libc_now_ms(), now = util_now_ms(), after = libc_now_ms();

	(void)state;
	assert_true(util_clock_is_real());
	assert_true(before <= now && now <= after);
	assert_true(util_mono_ms() > 0);
}

/* Fixed: both clocks stand still; an advance moves both by exactly that. */
static void
test_fixed_and_advance(void **state)
{
	int64_t mono;

	(void)state;
	util_clock_set_fixed(1111111111123LL);
	assert_false(util_clock_is_real());
	mono = util_mono_ms();
	assert_int_equal(util_now_ms(), 1111111111123LL);
	assert_int_equal(util_now_ms(), 1111111111123LL);
	assert_int_equal(util_mono_ms(), mono);
	assert_int_equal(util_clock_advance(4000), PV_OK);
	assert_int_equal(util_now_ms(), 1111111115123LL);
	assert_int_equal(util_mono_ms(), mono + 4000);
	assert_int_equal(util_clock_advance(0), PV_OK);
	assert_int_equal(util_now_ms(), 1111111115123LL);
	/* the formatter sees the injected time */
	{
		char buf[32];

		util_time_fmt(util_now_ms(), buf, sizeof(buf));
		assert_string_equal(buf, "2005-03-18T01:58:35.123Z");
	}
	/* a later set_fixed replaces the value */
	util_clock_set_fixed(2000);
	assert_int_equal(util_now_ms(), 2000);
}

/* Never backwards, never absurdly far: refused, and nothing changes. */
static void
test_advance_bounds(void **state)
{
	(void)state;
	util_clock_set_fixed(5000);
	assert_int_equal(util_clock_advance(-1), PV_E_INVALID);
	assert_int_equal(util_clock_advance(UTIL_CLOCK_ADVANCE_MAX_MS + 1), PV_E_INVALID);
	assert_int_equal(util_now_ms(), 5000);
	assert_int_equal(util_clock_advance(UTIL_CLOCK_ADVANCE_MAX_MS), PV_OK);
	assert_int_equal(util_now_ms(), 5000 + UTIL_CLOCK_ADVANCE_MAX_MS);
}

/* From the real clock an advance is an offset: time keeps running, ahead. */
static void
test_advance_from_real(void **state)
{
	const int64_t day = 86400LL * 1000;
	int64_t real_before = libc_now_ms(), mono_before = util_mono_ms(), now;

	(void)state;
	assert_int_equal(util_clock_advance(day), PV_OK);
	assert_false(util_clock_is_real());
	now = util_now_ms();
	assert_true(now >= real_before + day);
	assert_true(now <= libc_now_ms() + day);
	assert_true(util_mono_ms() >= mono_before + day);
	assert_int_equal(util_clock_advance(day), PV_OK);
	assert_true(util_now_ms() >= real_before + 2 * day);
	/* reset: the real clock again */
	util_clock_reset();
	assert_true(util_clock_is_real());
	now = util_now_ms();
	assert_true(now < real_before + day);
	assert_true(now >= real_before);
}

#define N_THREADS 4
#define N_STEPS 1000

static void *
advancer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < N_STEPS; i++) {
		assert_int_equal(util_clock_advance(3), PV_OK);
		(void)util_now_ms();
	}
	return NULL;
}

/* Advances from several threads are atomic: none is lost. */
static void
test_concurrent_advances(void **state)
{
	pthread_t t[N_THREADS];
	int i;

	(void)state;
	util_clock_set_fixed(0);
	for (i = 0; i < N_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, advancer, NULL), 0);
	for (i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(util_now_ms(), (int64_t)N_THREADS * N_STEPS * 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_real_by_default, reset),
		cmocka_unit_test_teardown(test_fixed_and_advance, reset),
		cmocka_unit_test_teardown(test_advance_bounds, reset),
		cmocka_unit_test_teardown(test_advance_from_real, reset),
		cmocka_unit_test_teardown(test_concurrent_advances, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
