/*
 * wake.c: wake-ups deferred to the end of a batch (wake.h).
 *
 * Invariants: a thread-local list, FIFO (head, tail); depth > 0 while a
 * batch is open on this thread; the list is empty whenever depth == 0. The
 * end takes the list whole before it runs any fn, reads each next before
 * the fn that may free its node, and a fn that wakes again (outside any
 * batch now) runs that wake-up at once.
 */
#include <stddef.h>

#include "util/wake.h"

static _Thread_local struct {
	unsigned depth;
	struct util_wake *head, *tail;
	struct util_wake_stats st;
} tw;

void util_wake_batch_begin(void)
{
	tw.depth++;
}

void util_wake_batch_end(void)
{
	struct util_wake *w, *next;

	if (tw.depth == 0 || --tw.depth > 0)
		return;
	w = tw.head;
	tw.head = tw.tail = NULL;
	tw.st.pending = 0;
	tw.st.batches++;
	for (; w != NULL; w = next) {
		next = w->next;   /* fn may free w */
		w->fn(w);
	}
}

void util_wake(struct util_wake *w)
{
	if (tw.depth == 0) {
		tw.st.immediate++;
		w->fn(w);
		return;
	}
	w->next = NULL;
	if (tw.tail != NULL)
		tw.tail->next = w;
	else
		tw.head = w;
	tw.tail = w;
	tw.st.deferred++;
	tw.st.pending++;
}

void util_wake_stats_get(struct util_wake_stats *out)
{
	*out = tw.st;
}
