/*
 * store/store_pool.h: the bounded connection pool both SQL backends use
 * (store_pool.c; sqlite.c and postgres.c give it their open/close/keep
 * callbacks). Internal to src/store/ and the store tests.
 *
 * At most max connections are open, whatever the number of threads; they
 * are opened on demand (lazily) and kept idle in a LIFO list; store_begin
 * takes one (store_pool_acquire) and waits up to wait_ms on a
 * CLOCK_MONOTONIC condition variable when every one is held, then
 * PV_E_UNAVAILABLE; store_end gives it back (store_pool_release), and a
 * connection its backend says is no longer usable (keep() false: still in
 * a transaction, found dead) is closed instead and replaced on the next
 * demand. store_pool_drain_idle closes every idle connection (a dead one
 * was found: the database restarted). No thread-local state.
 *
 * A backend's connection embeds a struct store_pool_conn and recovers its
 * own struct with STORE_POOL_OWNER.
 */
#ifndef PV_STORE_POOL_H
#define PV_STORE_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

struct store_pool_conn {
	struct store_pool_conn *prev, *next;   /* every open connection */
	struct store_pool_conn *idle_next;     /* in the idle list while no transaction holds it */
};

#define STORE_POOL_OWNER(pc, type, member) \
	((type *)(void *)((char *)(pc) - offsetof(type, member)))

struct store_pool_ops {
	/* Open a new connection (without the pool's lock). */
	enum pv_rc (*open)(void *backend, struct store_pool_conn **out);
	/* Close and free it (without the pool's lock). */
	void (*close)(struct store_pool_conn *c);
	/* On release: may it serve the next transaction? (no transaction
	 * left open, not broken). */
	bool (*keep)(struct store_pool_conn *c);
};

struct store_pool {
	const struct store_pool_ops *ops;
	void *backend;                   /* the open callback's first argument */
	pthread_mutex_t mu;              /* guards everything below */
	pthread_cond_t cv;               /* a connection came back (CLOCK_MONOTONIC) */
	struct store_pool_conn *conns;   /* every open connection */
	struct store_pool_conn *idle;    /* open, held by no transaction (LIFO) */
	size_t nidle;
	size_t nopen;                    /* open + being opened; <= max */
	size_t max;
	unsigned wait_ms;
	size_t peak;                     /* highest nopen so far (tests) */
	unsigned long opens;             /* connections opened so far (tests) */
};

/* PV_E_NOMEM when the mutex or condition variable cannot be made. */
enum pv_rc store_pool_init(struct store_pool *p, const struct store_pool_ops *ops, void *backend,
    size_t max, unsigned wait_ms);
/* Close every connection and free the lock; no transaction may be open. */
void store_pool_destroy(struct store_pool *p);
/* An idle connection, else a new one while fewer than max are open, else
 * wait up to wait_ms for one to come back (PV_E_UNAVAILABLE then, logged);
 * the open callback's error as it is. */
enum pv_rc store_pool_acquire(struct store_pool *p, struct store_pool_conn **out);
/* Back to the idle list, or closed when keep() says no or the bound was
 * lowered under the open count; wakes one waiter. */
void store_pool_release(struct store_pool *p, struct store_pool_conn *c);
/* Close every idle connection (held ones are judged when released). */
void store_pool_drain_idle(struct store_pool *p);
/* store_pool_set: a bound or wait of 0 keeps the current one. */
void store_pool_bound(struct store_pool *p, unsigned max, unsigned wait_ms);
/* Open now, the most ever open, and the bound; connections opened so far. */
void store_pool_stats(struct store_pool *p, size_t *open, size_t *peak, size_t *max);
unsigned long store_pool_opens(struct store_pool *p);

#endif /* PV_STORE_POOL_H */
