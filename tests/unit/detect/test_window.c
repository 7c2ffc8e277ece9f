/* detect: the sliding window, the distinct set, the per-user baseline and
 * its JSON, networks and entry times, on times from the injectable clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect_int.h"

#define T0 1795000000000LL   /* 2026-11-18T...Z */

static void
test_window_slides(void **state)
{
	struct detect_window w;
	int64_t t;

	(void)state;
	util_clock_set_fixed(T0);
	detect_window_init(&w, 300000);           /* 5 min in 12 steps of 25 s */
	assert_int_equal(w.step_ms, 25000);
	for (int i = 0; i < 10; i++) {
		detect_window_add(&w, util_now_ms());
		assert_int_equal(util_clock_advance(10000), PV_OK);
	}
	t = util_now_ms();                         /* T0 + 100 s: all ten inside */
	assert_int_equal(detect_window_count(&w, t), 10);
	/* at T0 + 310 s the one 310 s old has left, the six at most 270 s old
	 * stay (the window covers between 275 and 300 s: steps of 25 s); here
	 * the first step (events 310, 300 and 290 s old) has gone whole */
	assert_int_equal(util_clock_advance(210000), PV_OK);
	t = util_now_ms();
	assert_true(detect_window_count(&w, t) <= 9);
	assert_true(detect_window_count(&w, t) >= 6);
	assert_int_equal(detect_window_count(&w, t), 7);
	/* a full window later nothing is left, and counting starts again */
	assert_int_equal(util_clock_advance(300000), PV_OK);
	t = util_now_ms();
	assert_int_equal(detect_window_count(&w, t), 0);
	detect_window_add(&w, t);
	assert_int_equal(detect_window_count(&w, t), 1);
	util_clock_reset();
}

static void
test_window_bucket_reuse(void **state)
{
	struct detect_window w;

	(void)state;
	detect_window_init(&w, 12000);             /* steps of 1 s */
	for (int i = 0; i < 5; i++)
		detect_window_add(&w, T0);
	/* exactly 12 steps later the same bucket comes round: reset, not added */
	detect_window_add(&w, T0 + 12000);
	assert_int_equal(detect_window_count(&w, T0 + 12000), 1);
	/* an entry older than its bucket (skew) counts instead of resetting it */
	detect_window_add(&w, T0);
	assert_int_equal(detect_window_count(&w, T0 + 12000), 2);
}

static void
test_distinct(void **state)
{
	struct detect_distinct d;
	char k[32];

	(void)state;
	memset(&d, 0, sizeof(d));
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "acct%d", i);
		detect_distinct_add(&d, detect_hash(k), T0 + i * 1000, 600000);
		detect_distinct_add(&d, detect_hash(k), T0 + i * 1000, 600000);   /* again: same */
	}
	assert_int_equal(detect_distinct_count(&d, T0 + 10000, 600000), 10);
	detect_distinct_remove(&d, detect_hash("acct3"));
	assert_int_equal(detect_distinct_count(&d, T0 + 10000, 600000), 9);
	/* outside the window: gone */
	assert_int_equal(detect_distinct_count(&d, T0 + 605000, 600000), 4);
	/* bounded: 100 keys keep the 64 newest */
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "many%d", i);
		detect_distinct_add(&d, detect_hash(k), T0 + 700000 + i, 600000);
	}
	assert_int_equal(d.n, DETECT_DISTINCT_MAX);
}

static void
test_networks(void **state)
{
	char n[DETECT_NET_MAX];

	(void)state;
	assert_true(detect_network_of("10.1.2.3", n));
	assert_string_equal(n, "10.1.2.0/24");
	assert_true(detect_network_of("2001:db8:1:2:3:4:5:6", n));
	assert_string_equal(n, "2001:db8:1:2::/64");
	assert_false(detect_network_of("", n));
	assert_false(detect_network_of("not an address", n));
	assert_false(detect_network_of(NULL, n));
}

static void
test_baseline(void **state)
{
	struct detect_baseline b, c;
	char net[32], *json;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(detect_baseline_hour_distance(&b, 3), 24);
	detect_baseline_learn(&b, "10.0.0.0/24", 9);
	detect_baseline_learn(&b, "10.0.0.0/24", 10);
	assert_int_equal(b.logins, 2);
	assert_int_equal(b.nnets, 1);
	assert_true(detect_baseline_knows(&b, "10.0.0.0/24"));
	assert_false(detect_baseline_knows(&b, "10.0.1.0/24"));
	assert_int_equal(detect_baseline_hour_distance(&b, 12), 2);
	assert_int_equal(detect_baseline_hour_distance(&b, 22), 11);
	assert_int_equal(detect_baseline_hour_distance(&b, 23), 10);   /* circular */
	/* at most 16 networks, the least recently used dropped */
	for (int i = 0; i < 20; i++) {
		snprintf(net, sizeof(net), "10.9.%d.0/24", i);
		detect_baseline_learn(&b, net, 9);
	}
	assert_int_equal(b.nnets, DETECT_NETS_MAX);
	assert_false(detect_baseline_knows(&b, "10.0.0.0/24"));
	assert_true(detect_baseline_knows(&b, "10.9.19.0/24"));
	assert_false(detect_baseline_knows(&b, "10.9.3.0/24"));
	/* JSON round trip */
	b.bulk_avg = 12.5;
	b.bulk_windows = 3;
	json = detect_baseline_to_json(&b);
	assert_non_null(json);
	assert_int_equal(detect_baseline_from_json(json, &c), PV_OK);
	assert_int_equal(c.logins, b.logins);
	assert_int_equal(c.nnets, b.nnets);
	assert_string_equal(c.nets[c.nnets - 1], b.nets[b.nnets - 1]);
	assert_memory_equal(c.hours, b.hours, sizeof(b.hours));
	assert_true(c.bulk_avg == 12.5 && c.bulk_windows == 3);
	free(json);
	assert_int_equal(detect_baseline_from_json("{\"logins\":1}", &c), PV_E_INVALID);
	assert_int_equal(detect_baseline_from_json("nope", &c), PV_E_INVALID);
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_window_bucket_reuse),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_baseline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
