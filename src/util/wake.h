/*
 * wake: wake-ups deferred to the end of a batch on the thread that makes them.
 *
 * The committer completes a group's transactions one after the other; each
 * completion that answers a request wakes another thread (it resumes a
 * suspended connection, which writes the pool thread's eventfd, or posts the
 * request thread that waits). Made at once, the first wake-up can hand the
 * CPU to the pool thread in the middle of the group, which sends one answer,
 * sleeps again and is woken again by the next completion. Inside a batch
 * (util_wake_batch_begin .. end, the committer's completions of one group)
 * util_wake only links the wake-up; util_wake_batch_end makes them all, in
 * the order they came, back to back, so a pool thread wakes once for the
 * group and finds every answer of it ready. Outside a batch util_wake runs
 * the wake-up at once.
 *
 * The wake-up is the caller's memory (embedded in what it wakes: no
 * allocation); it must stay valid until its fn ran, and fn may free it.
 * Thread-local; no lock. Batches nest (only the outermost end runs them).
 */
#ifndef PV_UTIL_WAKE_H
#define PV_UTIL_WAKE_H

#include <stdbool.h>
#include <stdint.h>

struct util_wake {
	struct util_wake *next;       /* the batch's list; set by util_wake */
	void (*fn)(struct util_wake *w);
};

void util_wake_batch_begin(void);
void util_wake_batch_end(void);
/* In a batch on this thread: queued for its end; otherwise w->fn(w) now. */
void util_wake(struct util_wake *w);

/* This thread's counts since it started (tests, the cost harness): batches
 * ended, wake-ups deferred to a batch's end, wake-ups run at once; and how
 * many wait in the open batch now. */
struct util_wake_stats {
	uint64_t batches, deferred, immediate;
	uint64_t pending;
};
void util_wake_stats_get(struct util_wake_stats *out);

#endif
