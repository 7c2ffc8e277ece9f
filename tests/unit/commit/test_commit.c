/*
 * commit.c: group ordering, priorities, post-commit subscribers, a store
 * fault in the middle of a group. A real SQLite store; a gate transaction
 * holds the committer so that the test decides what waits together.
 */
#include <limits.h>
#include <pthread.h>
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
#include "tx_helpers.h"

#define MAXLOG 256

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct commit_queue *q;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool gate_open, gate_entered;
	int group_no;              /* participant: groups begun */
	int ndone;
	/* what ran, in order: group number and label of each fn */
	int log_group[MAXLOG];
	char log_label[MAXLOG][16];
	int nlog;
	/* subscriber */
	int64_t sub_seq[MAXLOG];
	int nsub, sub_calls;
	int64_t last_seen_at_done[MAXLOG];
	int64_t seq;               /* participant's entry counter */
};

struct item {
	struct fx *f;
	char label[16];
	enum pv_rc rc;
	bool done;
	struct store_audit_row row;
	const struct store_audit_row *rowp;   /* what p_append hands the queue */
	char key[32];
};

static enum pv_rc gate_fn(struct store_tx *tx, void *arg)
{
	struct item *it = arg;
	struct fx *f = it->f;

	(void)tx;
	pthread_mutex_lock(&f->mu);
	f->gate_entered = true;
	pthread_cond_broadcast(&f->cv);
	while (!f->gate_open)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return PV_OK;
}

static enum pv_rc log_fn(struct store_tx *tx, void *arg)
{
	struct item *it = arg;
	struct fx *f = it->f;

	pthread_mutex_lock(&f->mu);
	if (f->nlog < MAXLOG) {
		f->log_group[f->nlog] = f->group_no;
		snprintf(f->log_label[f->nlog], sizeof f->log_label[0], "%s", it->label);
		f->nlog++;
	}
	pthread_mutex_unlock(&f->mu);
	return store_meta_put(tx, it->key, (const uint8_t *)"v", 1);
}

static enum pv_rc p_begin(void *arg)
{
	struct fx *f = arg;

	pthread_mutex_lock(&f->mu);
	f->group_no++;
	pthread_mutex_unlock(&f->mu);
	return PV_OK;
}

/* One "entry" per tx: a row whose seq counts up, as the chain's would. */
static enum pv_rc p_append(void *arg, struct store_tx *tx, void *part, enum pv_rc fn_rc,
    const struct store_audit_row *const **rows, size_t *nrows)
{
	struct fx *f = arg;
	struct item *it = part;

	(void)tx;
	(void)fn_rc;
	*rows = NULL;
	*nrows = 0;
	if (!it)
		return PV_OK;
	memset(&it->row, 0, sizeof it->row);
	it->row.seq = ++f->seq;
	it->rowp = &it->row;
	*rows = &it->rowp;
	*nrows = 1;
	return PV_OK;
}

static void p_end(void *arg, bool committed)
{
	struct fx *f = arg;

	if (!committed)
		(void)f;   /* the test's rows carry no chain to reload */
}

static void on_rows(const struct store_audit_row *const *rows, size_t n, void *arg)
{
	struct fx *f = arg;

	pthread_mutex_lock(&f->mu);
	f->sub_calls++;
	for (size_t i = 0; i < n && f->nsub < MAXLOG; i++)
		f->sub_seq[f->nsub++] = rows[i]->seq;
	pthread_mutex_unlock(&f->mu);
}

static void on_done(enum pv_rc rc, void *arg)
{
	struct item *it = arg;
	struct fx *f = it->f;

	pthread_mutex_lock(&f->mu);
	it->rc = rc;
	it->done = true;
	if (it->row.seq > 0 && it->row.seq < MAXLOG)
		f->last_seen_at_done[it->row.seq] = f->nsub ? f->sub_seq[f->nsub - 1] : 0;
	f->ndone++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static int fx_setup(struct fx *f, int max_group, int max_bg)
{
	const char *base = getenv("PV_TEST_TMP");
	struct commit_config cfg = { max_group, max_bg };
	struct commit_participant part = { p_begin, p_append, p_end, NULL, f };

	memset(f, 0, sizeof *f);
	if (!base || !base[0])
		base = "/tmp";
	(void)mkdir(base, 0700);
	snprintf(f->dir, sizeof f->dir, "%s/commit-XXXXXX", base);
	if (!mkdtemp(f->dir))
		return -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK)
		return -1;
	if (commit_start(f->st, &cfg, &part, &f->q) != PV_OK)
		return -1;
	return commit_subscribe(f->q, on_rows, f) == PV_OK ? 0 : -1;
}

static void fx_teardown(struct fx *f)
{
	store_fault_clear_all();
	commit_stop(f->q);
	store_close(f->st);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

static void submit(struct fx *f, struct item *it, const char *label, enum commit_prio prio,
    commit_fn fn)
{
	struct commit_tx tx = { fn, it, it, prio, on_done, it };

	memset(it, 0, sizeof *it);
	it->f = f;
	snprintf(it->label, sizeof it->label, "%s", label);
	snprintf(it->key, sizeof it->key, "test.%s", label);
	assert_int_equal(commit_submit(f->q, &tx), PV_OK);
}

/* Submit the gate and wait until the committer is inside it. */
static void gate_close(struct fx *f, struct item *gate)
{
	submit(f, gate, "gate", COMMIT_REQUEST, gate_fn);
	pthread_mutex_lock(&f->mu);
	while (!f->gate_entered)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void gate_open_wait(struct fx *f, int total)
{
	pthread_mutex_lock(&f->mu);
	f->gate_open = true;
	pthread_cond_broadcast(&f->cv);
	while (f->ndone < total)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static bool meta_present(struct store *st, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc = TX_RD(st, store_meta_get(tx, key, &val, &len));

	free(val);
	assert_true(rc == PV_OK || rc == PV_E_NOTFOUND);
	return rc == PV_OK;
}

/* Requests first; background fills after them, at most max_background a
 * group, one slot kept for it while it waits. */
static void test_priorities(void **state)
{
	struct fx f;
	struct item gate, bg[10], rq[10];
	char l[16];
	int bg_in[16] = { 0 }, rq_in[16] = { 0 };

	(void)state;
	assert_int_equal(fx_setup(&f, 8, 2), 0);
	gate_close(&f, &gate);
	for (int i = 0; i < 10; i++) {
		snprintf(l, sizeof l, "bg%d", i);
		submit(&f, &bg[i], l, COMMIT_BACKGROUND, log_fn);
	}
	for (int i = 0; i < 10; i++) {
		snprintf(l, sizeof l, "rq%d", i);
		submit(&f, &rq[i], l, COMMIT_REQUEST, log_fn);
	}
	gate_open_wait(&f, 21);
	assert_int_equal(f.nlog, 20);
	for (int i = 0; i < f.nlog; i++) {
		assert_true(f.log_group[i] < 16);
		if (f.log_label[i][0] == 'b')
			bg_in[f.log_group[i]]++;
		else
			rq_in[f.log_group[i]]++;
	}
	/* group 1 is the gate; group 2: 7 requests then 1 background */
	assert_int_equal(rq_in[2], 7);
	assert_int_equal(bg_in[2], 1);
	assert_string_equal(f.log_label[0], "rq0");
	assert_string_equal(f.log_label[6], "rq6");
	assert_string_equal(f.log_label[7], "bg0");
	/* group 3: the last 3 requests, then at most 2 background */
	assert_int_equal(rq_in[3], 3);
	assert_int_equal(bg_in[3], 2);
	for (int g = 4; g < 16; g++) {
		assert_int_equal(rq_in[g], 0);
		assert_true(bg_in[g] <= 2);
	}
	/* background in submission order */
	for (int i = 0, k = 0; i < f.nlog; i++) {
		if (f.log_label[i][0] != 'b')
			continue;
		snprintf(l, sizeof l, "bg%d", k++);
		assert_string_equal(f.log_label[i], l);
	}
	for (int i = 0; i < 10; i++) {
		assert_int_equal(rq[i].rc, PV_OK);
		assert_int_equal(bg[i].rc, PV_OK);
	}
	fx_teardown(&f);
}

/* Subscribers see every committed entry once, in commit order across
 * groups, before the completion of the transactions that made them. */
static void test_subscribers_in_commit_order(void **state)
{
	struct fx f;
	struct item gate, it[20];
	char l[16];

	(void)state;
	assert_int_equal(fx_setup(&f, 4, 0), 0);
	gate_close(&f, &gate);
	for (int i = 0; i < 20; i++) {
		snprintf(l, sizeof l, "t%d", i);
		submit(&f, &it[i], l, i % 3 ? COMMIT_REQUEST : COMMIT_BACKGROUND, log_fn);
	}
	gate_open_wait(&f, 21);
	assert_int_equal(f.nsub, 21);
	for (int i = 0; i < f.nsub; i++)
		assert_int_equal(f.sub_seq[i], i + 1);
	assert_true(f.sub_calls >= 6);   /* the gate, then groups of at most 4 */
	for (int i = 0; i < 20; i++) {
		assert_true(it[i].done);
		/* the subscriber had seen this tx's entry when its done ran */
		assert_true(f.last_seen_at_done[it[i].row.seq] >= it[i].row.seq);
	}
	fx_teardown(&f);
}

/* A store failure in the middle of a group: every tx of the group gets
 * PV_E_AUDIT, none of its changes is visible, the next group commits. */
static void test_fault_in_middle_of_group(void **state)
{
	struct fx f;
	struct item gate, g2[4], g3;
	char l[16];

	(void)state;
	assert_int_equal(fx_setup(&f, 8, 0), 0);
	gate_close(&f, &gate);
	for (int i = 0; i < 4; i++) {
		snprintf(l, sizeof l, "g2_%d", i);
		submit(&f, &g2[i], l, COMMIT_REQUEST, log_fn);
	}
	/* RELEASE calls from now: the gate's (1), g2_0's (2), g2_1's (3) fails */
	store_fault_set("tx_release", 3);
	gate_open_wait(&f, 5);
	assert_int_equal(gate.rc, PV_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g2[i].rc, PV_E_AUDIT);
		assert_false(meta_present(f.st, g2[i].key));
	}
	/* entries of the failed group never reached a subscriber */
	assert_int_equal(f.nsub, 1);
	submit(&f, &g3, "g3", COMMIT_REQUEST, log_fn);
	pthread_mutex_lock(&f.mu);
	while (!g3.done)
		pthread_cond_wait(&f.cv, &f.mu);
	pthread_mutex_unlock(&f.mu);
	assert_int_equal(g3.rc, PV_OK);
	assert_true(meta_present(f.st, "test.g3"));
	fx_teardown(&f);
}

/* commit_run waits and returns fn's rc; after drain, PV_E_UNAVAILABLE. */
static enum pv_rc fail_fn(struct store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return PV_E_CONFLICT;
}

/*
 * A submission signals the committer only while it waits: the ten that
 * arrive while it is inside the gate's group wake nobody, and still commit
 * (in one group, counted). After it went idle, one submission wakes it.
 */
static void test_busy_committer_not_signalled(void **state)
{
	struct fx f;
	struct item gate, rq[10], late;
	struct commit_stats s0, s1, s2;
	char l[16];

	(void)state;
	assert_int_equal(fx_setup(&f, 16, 4), 0);
	gate_close(&f, &gate);
	commit_stats_get(f.q, &s0);
	assert_true(s0.wakeups <= 1);      /* the gate's, if the committer waited yet */
	assert_int_equal(s0.groups, 1);
	for (int i = 0; i < 10; i++) {
		snprintf(l, sizeof l, "rq%d", i);
		submit(&f, &rq[i], l, COMMIT_REQUEST, log_fn);
	}
	commit_stats_get(f.q, &s1);
	assert_int_equal(s1.wakeups, s0.wakeups);
	gate_open_wait(&f, 11);
	for (int i = 0; i < 10; i++)
		assert_int_equal(rq[i].rc, PV_OK);
	commit_stats_get(f.q, &s1);
	assert_int_equal(s1.groups, 2);    /* the gate, then the ten together */
	assert_int_equal(s1.txs, 11);
	assert_int_equal(s1.wakeups, s0.wakeups);
	/* idle now (or about to be): the next submission is not lost */
	submit(&f, &late, "late", COMMIT_REQUEST, log_fn);
	pthread_mutex_lock(&f.mu);
	while (f.ndone < 12)
		pthread_cond_wait(&f.cv, &f.mu);
	pthread_mutex_unlock(&f.mu);
	assert_int_equal(late.rc, PV_OK);
	commit_stats_get(f.q, &s2);
	assert_int_equal(s2.txs, 12);
	assert_true(s2.wakeups <= s0.wakeups + 1);
	fx_teardown(&f);
}

static void test_run_and_drain(void **state)
{
	struct fx f;
	struct commit_tx tx = { fail_fn, NULL, NULL, COMMIT_REQUEST, NULL, NULL };

	(void)state;
	assert_int_equal(fx_setup(&f, 0, 0), 0);
	assert_int_equal(commit_run(f.q, &tx), PV_E_CONFLICT);
	tx.fn = NULL;
	assert_int_equal(commit_run(f.q, &tx), PV_OK);
	commit_drain(f.q);
	assert_int_equal(commit_run(f.q, &tx), PV_E_UNAVAILABLE);
	fx_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priorities),
		cmocka_unit_test(test_subscribers_in_commit_order),
		cmocka_unit_test(test_fault_in_middle_of_group),
		cmocka_unit_test(test_busy_committer_not_signalled),
		cmocka_unit_test(test_run_and_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
