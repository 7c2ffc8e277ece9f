/*
 * store_pool.c: the bounded connection pool of the SQL backends
 * (store_pool.h). One copy for SQLite and PostgreSQL: the backend supplies
 * open, close and keep; the pool owns the bound, the idle list, the
 * bounded wait and the replacement of connections its backend gave up on.
 *
 * Invariants (under mu):
 *  - nopen = connections in conns + connections being opened (a slot is
 *    reserved before the open, which runs without the lock);
 *  - nopen <= max except after store_pool_bound lowered max: the surplus is
 *    closed as it comes back;
 *  - a connection is in idle (nidle of them) or held by one transaction.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "store/store_pool.h"

/* The condition variable waits on CLOCK_MONOTONIC (a wall-clock step does
 * not stretch or cut the wait). */
static int cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (r == 0)
		r = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return r;
}

enum pv_rc store_pool_init(struct store_pool *p, const struct store_pool_ops *ops, void *backend,
    size_t max, unsigned wait_ms)
{
	*p = (struct store_pool){ .ops = ops, .backend = backend, .max = max, .wait_ms = wait_ms };
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		return PV_E_NOMEM;
	if (cond_init(&p->cv) != 0) {
		pthread_mutex_destroy(&p->mu);
		return PV_E_NOMEM;
	}
	return PV_OK;
}

void store_pool_destroy(struct store_pool *p)
{
	struct store_pool_conn *c, *next;

	pthread_mutex_lock(&p->mu);
	for (c = p->conns; c != NULL; c = next) {
		next = c->next;
		p->ops->close(c);
	}
	p->conns = NULL;
	p->idle = NULL;
	p->nidle = 0;
	p->nopen = 0;
	pthread_mutex_unlock(&p->mu);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

/* Drop c from the list of open connections; mu held. */
static void forget(struct store_pool *p, struct store_pool_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	p->nopen--;
}

void store_pool_release(struct store_pool *p, struct store_pool_conn *c)
{
	bool close_it;

	pthread_mutex_lock(&p->mu);
	close_it = !p->ops->keep(c) || p->nopen > p->max;
	if (close_it) {
		forget(p, c);
	} else {
		c->idle_next = p->idle;
		p->idle = c;
		p->nidle++;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (close_it)
		p->ops->close(c);
}

enum pv_rc store_pool_acquire(struct store_pool *p, struct store_pool_conn **out)
{
	struct store_pool_conn *c = NULL;
	struct timespec deadline;
	bool timed_out = false;
	enum pv_rc rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	pthread_mutex_lock(&p->mu);
	deadline.tv_sec += p->wait_ms / 1000;
	deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if ((c = p->idle) != NULL) {
			p->idle = c->idle_next;
			p->nidle--;
			c->idle_next = NULL;
			break;
		}
		if (p->nopen < p->max) {
			p->nopen++;   /* reserved; opened below without the lock */
			if (p->nopen > p->peak)
				p->peak = p->nopen;
			break;
		}
		if (timed_out) {
			size_t max = p->max;
			unsigned wait_ms = p->wait_ms;

			pthread_mutex_unlock(&p->mu);
			log_warn("store: all %zu connections busy for %u ms", max, wait_ms);
			return PV_E_UNAVAILABLE;
		}
		if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT)
			timed_out = true;   /* one last look */
	}
	pthread_mutex_unlock(&p->mu);
	if (c != NULL) {
		*out = c;
		return PV_OK;
	}
	if ((rc = p->ops->open(p->backend, &c)) != PV_OK) {
		pthread_mutex_lock(&p->mu);
		p->nopen--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	pthread_mutex_lock(&p->mu);
	p->opens++;
	c->prev = NULL;
	c->idle_next = NULL;
	c->next = p->conns;
	if (p->conns != NULL)
		p->conns->prev = c;
	p->conns = c;
	pthread_mutex_unlock(&p->mu);
	*out = c;
	return PV_OK;
}

void store_pool_drain_idle(struct store_pool *p)
{
	struct store_pool_conn *dead = NULL, *c;

	pthread_mutex_lock(&p->mu);
	while ((c = p->idle) != NULL) {
		p->idle = c->idle_next;
		forget(p, c);
		c->idle_next = dead;
		dead = c;
	}
	p->nidle = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	while ((c = dead) != NULL) {
		dead = c->idle_next;
		p->ops->close(c);
	}
}

void store_pool_bound(struct store_pool *p, unsigned max, unsigned wait_ms)
{
	pthread_mutex_lock(&p->mu);
	if (max > 0)
		p->max = max;
	if (wait_ms > 0)
		p->wait_ms = wait_ms;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void store_pool_stats(struct store_pool *p, size_t *open, size_t *peak, size_t *max)
{
	pthread_mutex_lock(&p->mu);
	if (open != NULL)
		*open = p->nopen;
	if (peak != NULL)
		*peak = p->peak;
	if (max != NULL)
		*max = p->max;
	pthread_mutex_unlock(&p->mu);
}

unsigned long store_pool_opens(struct store_pool *p)
{
	unsigned long n;

	pthread_mutex_lock(&p->mu);
	n = p->opens;
	pthread_mutex_unlock(&p->mu);
	return n;
}
