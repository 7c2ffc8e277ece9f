/*
 * test_metrics: the registry and the Prometheus text renderer (util/metrics.h):
 * exact text for a known set, label and HELP escaping, cumulative histogram
 * buckets with _count equal to +Inf, get-or-create and conflicts, bad names
 * refused, the series bound, collectors (grouping, duplicates dropped and
 * counted, removal) and lock-free updates from several threads losing none.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/metrics.h"

static char *
render(struct util_metrics *m)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(util_metrics_render(m, &text, &len), PV_OK);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static const char dropped0[] =
    "# HELP phivault_metrics_dropped_samples Samples a collector emitted that this scrape "
    "dropped (bad or repeated name or label)\n"
    "# TYPE phivault_metrics_dropped_samples gauge\n"
    "phivault_metrics_dropped_samples 0\n";

static void
test_exact_text(void **state)
{
	static const char *const route_code[] = { "route", "code", NULL };
	static const char *const kind[] = { "kind", NULL };
	static const double b[] = { 0.005, 0.1, 1 };
	const struct util_metric_def reqs = { "t_requests_total", "Requests by route and code",
		UTIL_METRIC_COUNTER, route_code, NULL, 0 };
	const struct util_metric_def up = { "t_up", "Up", UTIL_METRIC_GAUGE, NULL, NULL, 0 };
	const struct util_metric_def lat = { "t_latency_seconds", "Latency",
		UTIL_METRIC_HISTOGRAM, kind, b, 3 };
	struct util_metric_family *f1, *f2, *f3;
	struct util_metrics *m;
	struct util_metric *s;
	char *text;
	char want[4096];

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &reqs, &f1), PV_OK);
	assert_int_equal(util_metrics_family(m, &up, &f2), PV_OK);
	assert_int_equal(util_metrics_family(m, &lat, &f3), PV_OK);

	s = util_metrics_series(f1, (const char *const[]){ "/v1/users/{id}", "200" });
	util_metric_inc(s);
	util_metric_add(s, 2);
	util_metric_inc(util_metrics_series(f1, (const char *const[]){ "/v1/users", "403" }));
	/* the same values again: the same series */
	assert_ptr_equal(s, util_metrics_series(f1, (const char *const[]){ "/v1/users/{id}", "200" }));
	util_metric_set(util_metrics_series(f2, NULL), 1);
	s = util_metrics_series(f3, (const char *const[]){ "read" });
	util_metric_observe(s, 0.005);   /* on a bound: that bucket (le) */
	util_metric_observe(s, 0.05);
	util_metric_observe(s, 0.5);
	util_metric_observe(s, 7);       /* +Inf only */
	assert_true(util_metric_value(s) == 4);

	text = render(m);
	snprintf(want, sizeof(want),
	    "# HELP t_requests_total Requests by route and code\n"
	    "# TYPE t_requests_total counter\n"
	    "t_requests_total{route=\"/v1/users/{id}\",code=\"200\"} 3\n"
	    "t_requests_total{route=\"/v1/users\",code=\"403\"} 1\n"
	    "# HELP t_up Up\n"
	    "# TYPE t_up gauge\n"
	    "t_up 1\n"
	    "# HELP t_latency_seconds Latency\n"
	    "# TYPE t_latency_seconds histogram\n"
	    "t_latency_seconds_bucket{kind=\"read\",le=\"0.005\"} 1\n"
	    "t_latency_seconds_bucket{kind=\"read\",le=\"0.1\"} 2\n"
	    "t_latency_seconds_bucket{kind=\"read\",le=\"1\"} 3\n"
	    "t_latency_seconds_bucket{kind=\"read\",le=\"+Inf\"} 4\n"
	    "t_latency_seconds_sum{kind=\"read\"} 7.555\n"
	    "t_latency_seconds_count{kind=\"read\"} 4\n"
	    "%s", dropped0);
	assert_string_equal(text, want);
	free(text);
	util_metrics_free(m);
}

static void
test_escaping(void **state)
{
	static const char *const l[] = { "v", NULL };
	const struct util_metric_def d = { "t_esc", "back\\slash", UTIL_METRIC_GAUGE, l, NULL, 0 };
	struct util_metric_family *f;
	struct util_metrics *m;
	char *text;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &f), PV_OK);
	util_metric_set(util_metrics_series(f, (const char *const[]){ "a\"b\\c\nd" }), -2.5);
	util_metric_set(util_metrics_series(f, (const char *const[]){ "\xc3\xa9" }), NAN);
	util_metric_set(util_metrics_series(f, (const char *const[]){ "inf" }), INFINITY);
	/* invalid UTF-8 is no label value */
	assert_null(util_metrics_series(f, (const char *const[]){ "\xc3" }));
	text = render(m);
	assert_non_null(strstr(text, "# HELP t_esc back\\\\slash\n"));
	assert_non_null(strstr(text, "\nt_esc{v=\"a\\\"b\\\\c\\nd\"} -2.5\n"));
	assert_non_null(strstr(text, "\nt_esc{v=\"\xc3\xa9\"} NaN\n"));
	assert_non_null(strstr(text, "\nt_esc{v=\"inf\"} +Inf\n"));
	free(text);
	util_metrics_free(m);
}

static void
test_buckets_cumulative(void **state)
{
	static const double b[] = { 1, 2, 4, 8 };
	const struct util_metric_def d = { "t_size", "Sizes", UTIL_METRIC_HISTOGRAM, NULL, b, 4 };
	struct util_metric_family *f;
	struct util_metrics *m;
	struct util_metric *s;
	char *text;
	int i;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &f), PV_OK);
	s = util_metrics_series(f, NULL);
	for (i = 1; i <= 10; i++)
		util_metric_observe(s, i);
	util_metric_observe(s, NAN);   /* ignored */
	text = render(m);
	assert_non_null(strstr(text,
	    "t_size_bucket{le=\"1\"} 1\n"
	    "t_size_bucket{le=\"2\"} 2\n"
	    "t_size_bucket{le=\"4\"} 4\n"
	    "t_size_bucket{le=\"8\"} 8\n"
	    "t_size_bucket{le=\"+Inf\"} 10\n"
	    "t_size_sum 55\n"
	    "t_size_count 10\n"));
	free(text);
	util_metrics_free(m);
}

static void
test_definitions(void **state)
{
	static const char *const l[] = { "a", NULL };
	static const char *const l2[] = { "b", NULL };
	static const char *const le[] = { "le", NULL };
	static const char *const dunder[] = { "__x", NULL };
	static const char *const dup[] = { "a", "a", NULL };
	static const double up[] = { 1, 2 }, down[] = { 2, 1 };
	struct util_metric_def d = { "t_c", "", UTIL_METRIC_COUNTER, l, NULL, 0 };
	struct util_metric_family *f, *g;
	struct util_metrics *m;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &f), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &g), PV_OK);
	assert_ptr_equal(f, g);
	d.labels = l2;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_CONFLICT);
	d.labels = l;
	d.type = UTIL_METRIC_GAUGE;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_CONFLICT);

	d = (struct util_metric_def){ "9bad", "", UTIL_METRIC_GAUGE, NULL, NULL, 0 };
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.name = "t-dash";
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.name = "phivault_metrics_dropped_samples";
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.name = "t_ok";
	d.help = "two\nlines";
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.help = "";
	d.labels = le;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.labels = dunder;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.labels = dup;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.labels = NULL;
	d.type = UTIL_METRIC_HISTOGRAM;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);   /* no buckets */
	d.buckets = down;
	d.nbuckets = 2;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_E_INVALID);
	d.buckets = up;
	assert_int_equal(util_metrics_family(m, &d, &g), PV_OK);
	/* a series needs as many values as labels */
	assert_null(util_metrics_series(f, NULL));
	assert_null(util_metrics_series(f, (const char *const[]){ NULL }));
	assert_null(util_metrics_series(NULL, NULL));
	/* NULL series: every update is a no-op */
	util_metric_inc(NULL);
	util_metric_set(NULL, 1);
	util_metric_observe(NULL, 1);
	util_metrics_free(m);
}

static void
test_series_bound(void **state)
{
	static const char *const l[] = { "n", NULL };
	const struct util_metric_def d = { "t_many", "", UTIL_METRIC_COUNTER, l, NULL, 0 };
	struct util_metric_family *f;
	struct util_metrics *m;
	char v[32];
	int i;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &f), PV_OK);
	for (i = 0; i < UTIL_METRICS_SERIES_MAX; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_non_null(util_metrics_series(f, (const char *const[]){ v }));
	}
	assert_null(util_metrics_series(f, (const char *const[]){ "one-more" }));
	/* existing ones are still found */
	assert_non_null(util_metrics_series(f, (const char *const[]){ "7" }));
	util_metrics_free(m);
}

static void
collect_a(struct util_metrics_writer *w, void *arg)
{
	static const char *const state_l[] = { "state", NULL };
	int *calls = arg;

	(*calls)++;
	util_metrics_emit(w, "t_jobs", "Jobs by state", UTIL_METRIC_GAUGE, state_l,
	    (const char *const[]){ "queued" }, 2);
	util_metrics_emit(w, "t_jobs", "Jobs by state", UTIL_METRIC_GAUGE, state_l,
	    (const char *const[]){ "running" }, 1);
	util_metrics_emit(w, "t_sealed", "Sealed", UTIL_METRIC_GAUGE, NULL, NULL, 0);
	/* dropped: t_jobs again after leaving it, a registered name, a bad label,
	 * a histogram, a bad name */
	util_metrics_emit(w, "t_jobs", "", UTIL_METRIC_GAUGE, state_l,
	    (const char *const[]){ "done" }, 9);
	util_metrics_emit(w, "t_reg", "", UTIL_METRIC_GAUGE, NULL, NULL, 5);
	util_metrics_emit(w, "t_x", "", UTIL_METRIC_GAUGE, (const char *const[]){ "le", NULL },
	    (const char *const[]){ "1" }, 1);
	util_metrics_emit(w, "t_h", "", UTIL_METRIC_HISTOGRAM, NULL, NULL, 1);
	util_metrics_emit(w, "bad name", "", UTIL_METRIC_GAUGE, NULL, NULL, 1);
}

static void
collect_b(struct util_metrics_writer *w, void *arg)
{
	(void)arg;
	util_metrics_emit(w, "t_lag", "Lag", UTIL_METRIC_GAUGE,
	    (const char *const[]){ "sink", NULL }, (const char *const[]){ "siem" }, 12);
}

static void
test_collectors(void **state)
{
	const struct util_metric_def d = { "t_reg", "Registered", UTIL_METRIC_COUNTER, NULL, NULL, 0 };
	struct util_metric_family *f;
	struct util_metrics *m;
	int calls = 0;
	char *text;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &d, &f), PV_OK);
	assert_int_equal(util_metrics_collector_add(m, collect_a, &calls), PV_OK);
	assert_int_equal(util_metrics_collector_add(m, collect_a, &calls), PV_E_CONFLICT);
	assert_int_equal(util_metrics_collector_add(m, collect_b, NULL), PV_OK);
	text = render(m);
	assert_int_equal(calls, 1);
	assert_string_equal(text,
	    "# HELP t_reg Registered\n"
	    "# TYPE t_reg counter\n"
	    "t_reg 0\n"
	    "# HELP t_jobs Jobs by state\n"
	    "# TYPE t_jobs gauge\n"
	    "t_jobs{state=\"queued\"} 2\n"
	    "t_jobs{state=\"running\"} 1\n"
	    "# HELP t_sealed Sealed\n"
	    "# TYPE t_sealed gauge\n"
	    "t_sealed 0\n"
	    "# HELP t_lag Lag\n"
	    "# TYPE t_lag gauge\n"
	    "t_lag{sink=\"siem\"} 12\n"
	    "# HELP phivault_metrics_dropped_samples Samples a collector emitted that this "
	    "scrape dropped (bad or repeated name or label)\n"
	    "# TYPE phivault_metrics_dropped_samples gauge\n"
	    "phivault_metrics_dropped_samples 5\n");
	free(text);
	util_metrics_collector_remove(m, collect_a, &calls);
	text = render(m);
	assert_int_equal(calls, 1);
	assert_null(strstr(text, "t_jobs"));
	assert_non_null(strstr(text, "t_lag{sink=\"siem\"} 12\n"));
	free(text);
	util_metrics_free(m);
}

struct hammer {
	struct util_metric_family *c, *h;
	int id;
};

static void *
hammer_main(void *arg)
{
	struct hammer *hm = arg;
	char v[8];
	int i;

	for (i = 0; i < 20000; i++) {
		/* 4 label sets, created lazily by whichever thread comes first */
		snprintf(v, sizeof(v), "%d", i % 4);
		util_metric_inc(util_metrics_series(hm->c, (const char *const[]){ v }));
		util_metric_observe(util_metrics_series(hm->h, NULL), (i % 3) * 0.5);
	}
	return NULL;
}

static void
test_threads_lose_nothing(void **state)
{
	static const char *const l[] = { "n", NULL };
	static const double b[] = { 0.5 };
	const struct util_metric_def dc = { "t_hits_total", "", UTIL_METRIC_COUNTER, l, NULL, 0 };
	const struct util_metric_def dh = { "t_obs", "", UTIL_METRIC_HISTOGRAM, NULL, b, 1 };
	struct hammer hm[4];
	pthread_t th[4];
	struct util_metrics *m;
	struct util_metric_family *c, *h;
	char *text;
	int i;

	(void)state;
	assert_int_equal(util_metrics_new(&m), PV_OK);
	assert_int_equal(util_metrics_family(m, &dc, &c), PV_OK);
	assert_int_equal(util_metrics_family(m, &dh, &h), PV_OK);
	for (i = 0; i < 4; i++) {
		hm[i] = (struct hammer){ c, h, i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &hm[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		char v[8];

		snprintf(v, sizeof(v), "%d", i);
		assert_true(util_metric_value(util_metrics_series(c, (const char *const[]){ v })) ==
		    20000);
	}
	assert_true(util_metric_value(util_metrics_series(h, NULL)) == 80000);
	text = render(m);
	/* i % 3 == 0 -> 0, == 1 -> 0.5 (both le 0.5); == 2 -> 1.0 (+Inf).
	 * Per thread: 6667 zeros, 6667 halves, 6666 ones. */
	assert_non_null(strstr(text, "t_obs_bucket{le=\"0.5\"} 53336\n"));
	assert_non_null(strstr(text, "t_obs_bucket{le=\"+Inf\"} 80000\n"));
	assert_non_null(strstr(text, "t_obs_sum 39998\n"));
	assert_non_null(strstr(text, "t_obs_count 80000\n"));
	free(text);
	util_metrics_free(m);
}

static void
test_default_registry(void **state)
{
	(void)state;
	assert_non_null(util_metrics_default());
	assert_ptr_equal(util_metrics_default(), util_metrics_default());
	util_metrics_free(util_metrics_default());   /* never freed: a no-op */
	assert_non_null(util_metrics_default());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_text),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_buckets_cumulative),
		cmocka_unit_test(test_definitions),
		cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_collectors),
		cmocka_unit_test(test_threads_lose_nothing),
		cmocka_unit_test(test_default_registry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
