/*
 * commit metrics (commit/metrics.c): every group is counted once by result;
 * a committed group's size, COMMIT (fsync) time and whole time are observed
 * once each, the size histogram summing to the transactions committed; a
 * failed group (store fault at COMMIT) counts as failed and adds no size or
 * time. Read back from the process registry's text.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "commit/commit.h"
#include "store/store.h"
#include "util/metrics.h"

static double
metric(const char *series)
{
	char *text = NULL, want[256];
	const char *p;
	size_t n;
	double v = 0;

	assert_int_equal(util_metrics_render(util_metrics_default(), &text, &n), PV_OK);
	snprintf(want, sizeof(want), "\n%s ", series);
	p = strstr(text, want);
	if (p != NULL)
		v = strtod(p + strlen(want), NULL);
	free(text);
	return v;
}

static enum pv_rc
put_fn(struct store_tx *tx, void *arg)
{
	return store_meta_put(tx, (const char *)arg, (const uint8_t *)"v", 1);
}

static void
test_groups_counted(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	char dir[PATH_MAX], key[32];
	struct store *st = NULL;
	struct commit_queue *q = NULL;
	double c0, f0, n0, s0, fs0, g0;
	int i;

	(void)state;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(dir, sizeof(dir), "%s/commit-metrics-XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, "sqlite", NULL, false, &st), PV_OK);
	assert_int_equal(commit_start(st, NULL, NULL, &q), PV_OK);

	c0 = metric("phivault_commit_groups_total{result=\"committed\"}");
	f0 = metric("phivault_commit_groups_total{result=\"failed\"}");
	n0 = metric("phivault_commit_group_size_count");
	s0 = metric("phivault_commit_group_size_sum");
	fs0 = metric("phivault_commit_fsync_seconds_count");
	g0 = metric("phivault_commit_group_seconds_count");
	/* commit_run waits for its group: five groups of one */
	for (i = 0; i < 5; i++) {
		struct commit_tx tx = { put_fn, key, NULL, COMMIT_REQUEST, NULL, NULL };

		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(commit_run(q, &tx), PV_OK);
	}
	assert_true(metric("phivault_commit_groups_total{result=\"committed\"}") - c0 == 5);
	assert_true(metric("phivault_commit_group_size_count") - n0 == 5);
	assert_true(metric("phivault_commit_group_size_sum") - s0 == 5);
	assert_true(metric("phivault_commit_fsync_seconds_count") - fs0 == 5);
	assert_true(metric("phivault_commit_group_seconds_count") - g0 == 5);
	assert_true(metric("phivault_commit_groups_total{result=\"failed\"}") - f0 == 0);
	/* a group whose COMMIT fails: failed, and no size or time */
	store_fault_set("tx_commit", 1);
	{
		struct commit_tx tx = { put_fn, (void *)"kfail", NULL, COMMIT_REQUEST, NULL, NULL };

		assert_int_equal(commit_run(q, &tx), PV_E_AUDIT);
	}
	store_fault_clear_all();
	assert_true(metric("phivault_commit_groups_total{result=\"failed\"}") - f0 == 1);
	assert_true(metric("phivault_commit_groups_total{result=\"committed\"}") - c0 == 5);
	assert_true(metric("phivault_commit_group_size_count") - n0 == 5);
	assert_true(metric("phivault_commit_fsync_seconds_count") - fs0 == 5);
	commit_stop(q);
	store_close(st);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
