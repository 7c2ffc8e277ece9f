/*
 * ticker: a background thread that calls one function about once a second
 * (real time) until it is stopped; what the function looks at (due dates,
 * schedules) it reads on the injectable clock itself (util_now_ms). The
 * shape of the vault's retention scheduler and export sweeper; stop wakes
 * the thread at once and joins it.
 */
#ifndef PV_UTIL_TICKER_H
#define PV_UTIL_TICKER_H

#include <pthread.h>
#include <stdbool.h>

#include "util/util.h"

struct util_ticker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	void (*fn)(void *arg);
	void *arg;
};

/* Start the thread: fn(arg) runs on it, a second apart, never while the
 * ticker's lock is held. PV_E_NOMEM if the thread cannot start (t is then
 * not running, and stop is a no-op). */
enum pv_rc util_ticker_start(struct util_ticker *t, void (*fn)(void *arg), void *arg);
/* Wake and join the thread (a call of fn in progress finishes first).
 * A ticker never started, or already stopped: nothing. */
void util_ticker_stop(struct util_ticker *t);

#endif
