/*
 * metrics: what the commit queue counts (util/metrics.h, the process registry).
 *
 *   phivault_commit_groups_total{result="committed"|"failed"}   counter
 *   phivault_commit_group_size          transactions in a group  histogram
 *   phivault_commit_fsync_seconds       the COMMIT (synchronous=FULL: the fsync)
 *   phivault_commit_group_seconds       group_begin .. COMMIT done (or the rollback)
 *
 * Sizes and times of committed groups only; a failed group is counted in
 * groups_total{result="failed"}. Runs on the committer thread after COMMIT
 * and before the subscribers: a few relaxed atomic adds, no lock once the
 * series exist (they are made on the first group).
 */
#include <pthread.h>

#include "commit/commit.h"
#include "commit/commit_int.h"
#include "util/metrics.h"

static const double size_buckets[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
static const double time_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1
};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

static struct util_metric *m_committed, *m_failed, *m_size, *m_fsync, *m_group;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
init(void)
{
	static const char *const result[] = { "result", NULL };
	const struct util_metric_def groups = { "phivault_commit_groups_total",
		"Commit groups (one store transaction and one fsync each), by result",
		UTIL_METRIC_COUNTER, result, NULL, 0 };
	const struct util_metric_def size = { "phivault_commit_group_size",
		"Transactions per committed group", UTIL_METRIC_HISTOGRAM, NULL,
		size_buckets, NB(size_buckets) };
	const struct util_metric_def fsync = { "phivault_commit_fsync_seconds",
		"Time of a committed group's COMMIT (the fsync)", UTIL_METRIC_HISTOGRAM, NULL,
		time_buckets, NB(time_buckets) };
	const struct util_metric_def group = { "phivault_commit_group_seconds",
		"Time of a committed group from its start to its COMMIT done",
		UTIL_METRIC_HISTOGRAM, NULL, time_buckets, NB(time_buckets) };
	struct util_metrics *m = util_metrics_default();
	struct util_metric_family *f;

	if (util_metrics_family(m, &groups, &f) == PV_OK) {
		m_committed = util_metrics_series(f, (const char *const[]){ "committed" });
		m_failed = util_metrics_series(f, (const char *const[]){ "failed" });
	}
	if (util_metrics_family(m, &size, &f) == PV_OK)
		m_size = util_metrics_series(f, NULL);
	if (util_metrics_family(m, &fsync, &f) == PV_OK)
		m_fsync = util_metrics_series(f, NULL);
	if (util_metrics_family(m, &group, &f) == PV_OK)
		m_group = util_metrics_series(f, NULL);
}

void
commit_metrics_group(size_t n, bool committed, int64_t begin_us, int64_t commit_us,
    int64_t end_us)
{
	(void)pthread_once(&once, init);
	if (!committed) {
		util_metric_inc(m_failed);
		return;
	}
	util_metric_inc(m_committed);
	util_metric_observe(m_size, (double)n);
	util_metric_observe(m_fsync, (double)(end_us - commit_us) / 1e6);
	util_metric_observe(m_group, (double)(end_us - begin_us) / 1e6);
}
