/*
 * commit.c: the committer thread and its two queues (commit.h has the
 * contract: group = one store transaction = one fsync, fail closed per group,
 * request before background, subscribers in commit order).
 *
 * Invariants:
 *  - Only the committer thread writes through q->st after start: a group is
 *    one STORE_WR store_tx, begun and ended in run_group, handed to every
 *    fn and to the participant's tx_append.
 *  - A queued node is owned by the queue until its done has run; done runs
 *    exactly once, after COMMIT returned (durable) or after the rollback.
 *  - Subscribers are called before the group's done callbacks, so a
 *    subscriber sees an entry before any response that depends on it leaves,
 *    and groups reach subscribers in the order they committed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commit/commit.h"
#include "commit/commit_int.h"
#include "util/util.h"
#include "util/wake.h"

#define COMMIT_DEFAULT_MAX_GROUP 256
#define COMMIT_MAX_SUBSCRIBERS 8

enum commit_state { COMMIT_RUNNING, COMMIT_DRAINING, COMMIT_STOPPED };

struct node {
	struct node *next;
	struct commit_tx tx;
	enum pv_rc rc;
	const struct store_audit_row *row;   /* the first of nrow entries */
	size_t nrow;
};

struct fifo {
	struct node *head, *tail;
	size_t n;
};

struct commit_queue {
	struct store *st;
	struct commit_participant part;
	int max_group;
	int max_background;

	pthread_mutex_t mu;
	pthread_cond_t work_cv;            /* CLOCK_MONOTONIC, for the 1 s tick */
	struct fifo q[2];                  /* by enum commit_prio */
	enum commit_state state;
	bool idle;                         /* the committer waits on work_cv */
	struct commit_stats stats;
	bool thread_running;
	pthread_t thread;
	struct {
		commit_subscriber_fn fn;
		void *arg;
	} subs[COMMIT_MAX_SUBSCRIBERS];
	size_t nsubs;

	/* committer thread only */
	struct node **group;
	const struct store_audit_row **rows;
	size_t rows_cap;                   /* grows: a transaction may carry several entries */
};

static void fifo_push(struct fifo *f, struct node *n)
{
	n->next = NULL;
	if (f->tail)
		f->tail->next = n;
	else
		f->head = n;
	f->tail = n;
	f->n++;
}

static struct node *fifo_pop(struct fifo *f)
{
	struct node *n = f->head;

	if (!n)
		return NULL;
	f->head = n->next;
	if (!f->head)
		f->tail = NULL;
	f->n--;
	return n;
}

/* Under q->mu: take the next group (requests first, background bounded). */
static size_t take_group(struct commit_queue *q)
{
	struct fifo *rq = &q->q[COMMIT_REQUEST], *bq = &q->q[COMMIT_BACKGROUND];
	size_t n = 0, cap = (size_t)q->max_group, reqs, bgs;

	reqs = cap - (bq->n > 0 && cap > 1 ? 1 : 0);
	while (n < reqs && rq->n > 0)
		q->group[n++] = fifo_pop(rq);
	bgs = 0;
	while (n < cap && bgs < (size_t)q->max_background && bq->n > 0) {
		q->group[n++] = fifo_pop(bq);
		bgs++;
	}
	return n;
}

/*
 * The group's completions, in order (rc: each transaction's own, or
 * PV_E_AUDIT for all when the group failed), as one wake-up batch
 * (util/wake.h): an answer a completion makes ready is woken (its connection
 * resumed, its waiting thread posted) only after the last completion of the
 * group, all of them back to back, so a pool thread is woken once for the
 * group and not handed the CPU in the middle of it.
 */
static void complete_group(struct node **g, size_t n, enum pv_rc rc)
{
	util_wake_batch_begin();
	for (size_t i = 0; i < n; i++)
		g[i]->tx.done(rc == PV_OK ? g[i]->rc : rc, g[i]->tx.done_arg);
	util_wake_batch_end();
}

static void run_group(struct commit_queue *q, struct node **g, size_t n)
{
	enum pv_rc rc = PV_OK;
	bool begun = false;
	struct store_tx *tx = NULL;
	size_t nrows = 0;
	int64_t t_begin = util_mono_us(), t_commit = 0;   /* metrics */

	if (q->part.group_begin) {
		rc = q->part.group_begin(q->part.arg);
		if (rc != PV_OK)
			goto fail;
	}
	begun = true;
	rc = store_begin(q->st, STORE_WR, &tx);
	if (rc != PV_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct node *x = g[i];

		x->rc = PV_OK;
		x->row = NULL;
		x->nrow = 0;
		if (x->tx.fn) {
			rc = store_savepoint(tx);
			if (rc != PV_OK)
				goto fail;
			x->rc = x->tx.fn(tx, x->tx.fn_arg);
			if (x->rc != PV_OK) {
				store_rollback_savepoint(tx);
			} else {
				rc = store_release(tx);
				if (rc != PV_OK)
					goto fail;
			}
		}
		if (q->part.tx_append) {
			rc = q->part.tx_append(q->part.arg, tx, x->tx.part, x->rc, &x->row, &x->nrow);
			if (rc != PV_OK)
				goto fail;
			if (!x->row)
				x->nrow = 0;
			if (nrows + x->nrow > q->rows_cap) {
				size_t cap = 2 * (nrows + x->nrow);
				const struct store_audit_row **r = realloc(q->rows, cap * sizeof *r);

				if (!r) {
					rc = PV_E_NOMEM;
					goto fail;
				}
				q->rows = r;
				q->rows_cap = cap;
			}
			for (size_t k = 0; k < x->nrow; k++)
				q->rows[nrows++] = &x->row[k];
		}
	}
	t_commit = util_mono_us();
	rc = store_commit(tx);
	if (rc != PV_OK)
		goto fail;
	store_end(tx);
	tx = NULL;
	commit_metrics_group(n, true, t_begin, t_commit, util_mono_us());
	if (q->part.group_end)
		q->part.group_end(q->part.arg, true);
	if (nrows > 0) {
		size_t ns;

		pthread_mutex_lock(&q->mu);
		ns = q->nsubs;
		pthread_mutex_unlock(&q->mu);
		/* subs[] entries below nsubs never change once set */
		for (size_t s = 0; s < ns; s++)
			q->subs[s].fn(q->rows, nrows, q->subs[s].arg);
	}
	complete_group(g, n, PV_OK);
	return;
fail:
	log_error("commit: group of %zu transaction(s) failed (%s); rolled back", n,
	    pv_rc_name(rc));
	store_end(tx);   /* rolls back; NULL-safe */
	if (begun && q->part.group_end)
		q->part.group_end(q->part.arg, false);
	commit_metrics_group(n, false, t_begin, t_commit, util_mono_us());
	complete_group(g, n, PV_E_AUDIT);
}

static void *committer_main(void *arg)
{
	struct commit_queue *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		size_t n;

		if (q->q[0].n == 0 && q->q[1].n == 0) {
			struct timespec ts;

			if (q->state != COMMIT_RUNNING)
				break;
			/* wake at least once a second for the participant's tick */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += 1;
			q->idle = true;
			(void)pthread_cond_timedwait(&q->work_cv, &q->mu, &ts);
			q->idle = false;
		}
		n = take_group(q);
		if (n) {
			q->stats.groups++;
			q->stats.txs += n;
		}
		pthread_mutex_unlock(&q->mu);
		if (n) {
			run_group(q, q->group, n);
			for (size_t i = 0; i < n; i++)
				free(q->group[i]);
		}
		if (q->part.tick)
			q->part.tick(q->part.arg, false);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	if (q->part.tick)
		q->part.tick(q->part.arg, true);
	return NULL;
}

enum pv_rc commit_start(struct store *st, const struct commit_config *cfg,
    const struct commit_participant *part, struct commit_queue **out)
{
	enum pv_rc rc = PV_OK;
	struct commit_queue *q;
	pthread_condattr_t cattr;
	bool mu_init = false, cv_init = false, attr_init = false;

	if (!st || !out)
		return PV_E_INVALID;
	if (cfg && (cfg->max_group < 0 || cfg->max_group > 65536 || cfg->max_background < 0))
		return PV_E_INVALID;
	q = calloc(1, sizeof *q);
	if (!q)
		return PV_E_NOMEM;
	q->st = st;
	if (part)
		q->part = *part;
	q->max_group = cfg && cfg->max_group ? cfg->max_group : COMMIT_DEFAULT_MAX_GROUP;
	q->max_background = cfg && cfg->max_background ? cfg->max_background :
	    q->max_group / 4;
	if (q->max_background < 1)
		q->max_background = 1;
	if (q->max_background > q->max_group)
		q->max_background = q->max_group;
	q->group = calloc((size_t)q->max_group, sizeof *q->group);
	q->rows = calloc((size_t)q->max_group, sizeof *q->rows);
	q->rows_cap = (size_t)q->max_group;
	if (!q->group || !q->rows) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	mu_init = true;
	if (pthread_condattr_init(&cattr) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	attr_init = true;
	if (pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&q->work_cv, &cattr) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	cv_init = true;
	q->state = COMMIT_RUNNING;
	/* under mu: the committer (and commit_on_committer) see q->thread set */
	pthread_mutex_lock(&q->mu);
	if (pthread_create(&q->thread, NULL, committer_main, q) != 0) {
		pthread_mutex_unlock(&q->mu);
		rc = PV_E_INTERNAL;
		goto out;
	}
	q->thread_running = true;
	pthread_mutex_unlock(&q->mu);
	*out = q;
	q = NULL;
out:
	if (attr_init)
		pthread_condattr_destroy(&cattr);
	if (q) {
		if (cv_init)
			pthread_cond_destroy(&q->work_cv);
		if (mu_init)
			pthread_mutex_destroy(&q->mu);
		free(q->group);
		free(q->rows);
		free(q);
	}
	return rc;
}

void commit_drain(struct commit_queue *q)
{
	bool join;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	if (q->state == COMMIT_RUNNING)
		q->state = COMMIT_DRAINING;
	pthread_cond_broadcast(&q->work_cv);
	join = q->thread_running;
	q->thread_running = false;
	pthread_mutex_unlock(&q->mu);
	if (join)
		pthread_join(q->thread, NULL);
	pthread_mutex_lock(&q->mu);
	q->state = COMMIT_STOPPED;
	pthread_mutex_unlock(&q->mu);
}

void commit_stop(struct commit_queue *q)
{
	if (!q)
		return;
	commit_drain(q);
	pthread_cond_destroy(&q->work_cv);
	pthread_mutex_destroy(&q->mu);
	free(q->group);
	free(q->rows);
	free(q);
}

enum pv_rc commit_submit(struct commit_queue *q, const struct commit_tx *tx)
{
	struct node *n;
	bool wake;

	if (!q || !tx || !tx->done || (tx->prio != COMMIT_REQUEST && tx->prio != COMMIT_BACKGROUND))
		return PV_E_INVALID;
	n = calloc(1, sizeof *n);
	if (!n)
		return PV_E_NOMEM;
	n->tx = *tx;
	pthread_mutex_lock(&q->mu);
	if (q->state != COMMIT_RUNNING) {
		pthread_mutex_unlock(&q->mu);
		free(n);
		return PV_E_UNAVAILABLE;
	}
	fifo_push(&q->q[tx->prio], n);
	/*
	 * Signal only a committer that waits: one that is committing a group
	 * looks at the queues again (under q->mu) before it waits, so nothing
	 * is lost. Under load that is almost every submission. And signal after
	 * the unlock: a committer woken while this thread holds q->mu runs only
	 * to block on it (two context switches, and every other submitter
	 * queues behind the preempted holder). Safe after the unlock because
	 * commit_stop, which destroys work_cv, must not run concurrently with
	 * a submission anyway (it frees q).
	 */
	wake = q->idle;
	if (wake) {
		q->idle = false;
		q->stats.wakeups++;
	}
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->work_cv);
	return PV_OK;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum pv_rc rc;
};

static void wake_waiter(enum pv_rc rc, void *arg)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum pv_rc commit_run(struct commit_queue *q, const struct commit_tx *tx)
{
	struct waiter w = { .done = false, .rc = PV_OK };
	struct commit_tx t;
	enum pv_rc rc;

	if (!q || !tx)
		return PV_E_INVALID;
	util_request_thread_wait();   /* counted if a request thread waits */
	if (commit_on_committer(q)) {
		/* a transaction waiting for itself would wait forever */
		log_error("commit: commit_run called from the committer thread");
		return PV_E_INTERNAL;
	}
	if (pthread_mutex_init(&w.mu, NULL) != 0)
		return PV_E_INTERNAL;
	if (pthread_cond_init(&w.cv, NULL) != 0) {
		pthread_mutex_destroy(&w.mu);
		return PV_E_INTERNAL;
	}
	t = *tx;
	t.done = wake_waiter;
	t.done_arg = &w;
	rc = commit_submit(q, &t);
	if (rc == PV_OK) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		rc = w.rc;
		pthread_mutex_unlock(&w.mu);
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc;
}

enum pv_rc commit_subscribe(struct commit_queue *q, commit_subscriber_fn fn, void *arg)
{
	enum pv_rc rc = PV_OK;

	if (!q || !fn)
		return PV_E_INVALID;
	pthread_mutex_lock(&q->mu);
	if (q->nsubs == COMMIT_MAX_SUBSCRIBERS) {
		rc = PV_E_TOOBIG;
	} else {
		q->subs[q->nsubs].fn = fn;
		q->subs[q->nsubs].arg = arg;
		q->nsubs++;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

bool commit_on_committer(struct commit_queue *q)
{
	bool on;

	if (!q)
		return false;
	pthread_mutex_lock(&q->mu);
	on = q->thread_running && pthread_equal(pthread_self(), q->thread);
	pthread_mutex_unlock(&q->mu);
	return on;
}

void commit_stats_get(struct commit_queue *q, struct commit_stats *out)
{
	pthread_mutex_lock(&q->mu);
	*out = q->stats;
	pthread_mutex_unlock(&q->mu);
}
