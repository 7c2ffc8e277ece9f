/*
 * test_commit_wake (commit): a group's completions are one wake-up batch
 * (util/wake.h, commit.c complete_group). A gate transaction holds the
 * committer while N request transactions queue, so they commit as one
 * group; each completion makes one wake-up (as http_resume does for the
 * answer it completes). Every wake-up runs only after the group's last
 * completion, in completion order, on the committer, before the next
 * group's first completion; a failed group (store fault on COMMIT) wakes
 * its answers the same way. No clock: the test waits for conditions.
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
#include "util/wake.h"

#define N 8

struct fx;

struct item {
	struct util_wake w;        /* first: the wake-up is the item */
	struct fx *f;
	int id;
	enum pv_rc rc;
	int woken_at_done;         /* wake-ups run when this completion ran */
};

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct commit_queue *q;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool gate_open, gate_entered;
	int ndone, nwoken;
	int woken[2 * N + 2];      /* ids, in the order their wake-ups ran */
};

static void on_wake(struct util_wake *w)
{
	struct item *it = (struct item *)w;
	struct fx *f = it->f;

	pthread_mutex_lock(&f->mu);
	f->woken[f->nwoken++] = it->id;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void on_done(enum pv_rc rc, void *arg)
{
	struct item *it = arg;
	struct fx *f = it->f;

	pthread_mutex_lock(&f->mu);
	it->rc = rc;
	it->woken_at_done = f->nwoken;
	f->ndone++;
	pthread_mutex_unlock(&f->mu);
	util_wake(&it->w);   /* the answer this completion made ready */
}

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

static enum pv_rc put_fn(struct store_tx *tx, void *arg)
{
	struct item *it = arg;
	char key[32];

	snprintf(key, sizeof key, "test.wake.%d", it->id);
	return store_meta_put(tx, key, (const uint8_t *)"v", 1);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *base = getenv("PV_TEST_TMP");

	if (!f)
		return -1;
	if (!base || !base[0])
		base = "/tmp";
	(void)mkdir(base, 0700);
	snprintf(f->dir, sizeof f->dir, "%s/commit-wake-XXXXXX", base);
	if (!mkdtemp(f->dir))
		return -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK ||
	    commit_start(f->st, NULL, NULL, &f->q) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_fault_clear_all();
	commit_stop(f->q);
	store_close(f->st);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

static void submit(struct fx *f, struct item *it, int id, commit_fn fn)
{
	struct commit_tx tx = { fn, it, NULL, COMMIT_REQUEST, on_done, it };

	memset(it, 0, sizeof *it);
	it->w.fn = on_wake;
	it->f = f;
	it->id = id;
	assert_int_equal(commit_submit(f->q, &tx), PV_OK);
}

/* The gate (id 0), then N items queued behind it, then the gate opened:
 * the N commit as one group. Returns once all N were woken. */
static void one_group(struct fx *f, struct item *gate, struct item *it, int first_id)
{
	f->gate_open = f->gate_entered = false;
	submit(f, gate, 0, gate_fn);
	pthread_mutex_lock(&f->mu);
	while (!f->gate_entered)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < N; i++)
		submit(f, &it[i], first_id + i, put_fn);
	pthread_mutex_lock(&f->mu);
	f->gate_open = true;
	pthread_cond_broadcast(&f->cv);
	while (f->ndone < N + 1 || f->nwoken < N + 1)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

static void test_group_wakes_after_its_last_completion(void **state)
{
	struct fx *f = *state;
	struct item gate, it[N];

	one_group(f, &gate, it, 1);
	/* the gate's group (the gate alone) was woken before the N committed */
	assert_int_equal(f->woken[0], 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(it[i].rc, PV_OK);
		/* no wake-up of the group had run when any of its completions ran */
		assert_int_equal(it[i].woken_at_done, 1);
		/* then all of them, in completion order */
		assert_int_equal(f->woken[1 + i], 1 + i);
	}
}

static void test_failed_group_wakes_the_same_way(void **state)
{
	struct fx *f = *state;
	struct item gate, it[N];

	f->ndone = f->nwoken = 0;
	/* the gate's own group commits; the COMMIT of the N fails */
	f->gate_open = f->gate_entered = false;
	submit(f, &gate, 0, gate_fn);
	pthread_mutex_lock(&f->mu);
	while (!f->gate_entered)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < N; i++)
		submit(f, &it[i], 100 + i, put_fn);
	store_fault_set("tx_commit", 2);   /* the second COMMIT from now */
	pthread_mutex_lock(&f->mu);
	f->gate_open = true;
	pthread_cond_broadcast(&f->cv);
	while (f->ndone < N + 1 || f->nwoken < N + 1)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	store_fault_clear_all();
	for (int i = 0; i < N; i++) {
		assert_int_equal(it[i].rc, PV_E_AUDIT);
		assert_int_equal(it[i].woken_at_done, 1);
		assert_int_equal(f->woken[1 + i], 100 + i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_wakes_after_its_last_completion),
		cmocka_unit_test(test_failed_group_wakes_the_same_way),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
