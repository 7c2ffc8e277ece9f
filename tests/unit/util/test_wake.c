/*
 * test_wake (util): wake-ups deferred to the end of a batch (util/wake.h).
 * Outside a batch a wake-up runs at once; inside one it waits for the
 * outermost end and then runs with the others in the order they came; a
 * wake-up may free its own node; one made by a wake-up at the end runs at
 * once; the counts say what was deferred and what waits now.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/wake.h"

struct probe {
	struct util_wake w;
	int id;
	int *log, *nlog;
	struct probe *again;   /* woken by this one's fn */
	bool heap;
};

static void probe_fn(struct util_wake *w)
{
	struct probe *p = (struct probe *)w;
	struct probe *again = p->again;

	p->log[(*p->nlog)++] = p->id;
	if (p->heap)
		free(p);   /* the wake-up's memory may go with it */
	if (again)
		util_wake(&again->w);
}

static void test_immediate_outside_a_batch(void **state)
{
	int log[4], nlog = 0;
	struct probe a = { .w.fn = probe_fn, .id = 1, .log = log, .nlog = &nlog };
	struct util_wake_stats s0, s1;

	(void)state;
	util_wake_stats_get(&s0);
	util_wake(&a.w);
	assert_int_equal(nlog, 1);
	assert_int_equal(log[0], 1);
	util_wake_stats_get(&s1);
	assert_int_equal(s1.immediate - s0.immediate, 1);
	assert_int_equal(s1.deferred - s0.deferred, 0);
}

static void test_deferred_to_the_end_in_order(void **state)
{
	int log[8], nlog = 0;
	struct probe p[3];
	struct probe *h = calloc(1, sizeof *h);
	struct util_wake_stats s0, s1;

	(void)state;
	assert_non_null(h);
	util_wake_stats_get(&s0);
	for (int i = 0; i < 3; i++)
		p[i] = (struct probe){ .w.fn = probe_fn, .id = 10 + i, .log = log, .nlog = &nlog };
	*h = (struct probe){ .w.fn = probe_fn, .id = 20, .log = log, .nlog = &nlog, .heap = true };
	util_wake_batch_begin();
	util_wake(&p[0].w);
	util_wake(&h->w);
	util_wake_batch_begin();   /* nested: only the outermost end runs them */
	util_wake(&p[1].w);
	util_wake_batch_end();
	util_wake(&p[2].w);
	assert_int_equal(nlog, 0);
	util_wake_stats_get(&s1);
	assert_int_equal(s1.pending, 4);
	util_wake_batch_end();
	assert_int_equal(nlog, 4);
	assert_int_equal(log[0], 10);
	assert_int_equal(log[1], 20);
	assert_int_equal(log[2], 11);
	assert_int_equal(log[3], 12);
	util_wake_stats_get(&s1);
	assert_int_equal(s1.pending, 0);
	assert_int_equal(s1.deferred - s0.deferred, 4);
	assert_int_equal(s1.batches - s0.batches, 1);
	/* an end without a begin changes nothing */
	util_wake_batch_end();
	util_wake(&p[0].w);
	assert_int_equal(nlog, 5);
}

static void test_wake_from_a_wake_runs_at_once(void **state)
{
	int log[4], nlog = 0;
	struct probe b = { .w.fn = probe_fn, .id = 2, .log = NULL, .nlog = NULL };
	struct probe a = { .w.fn = probe_fn, .id = 1, .again = &b };

	(void)state;
	a.log = b.log = log;
	a.nlog = b.nlog = &nlog;
	util_wake_batch_begin();
	util_wake(&a.w);
	util_wake_batch_end();
	assert_int_equal(nlog, 2);
	assert_int_equal(log[0], 1);
	assert_int_equal(log[1], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_immediate_outside_a_batch),
		cmocka_unit_test(test_deferred_to_the_end_in_order),
		cmocka_unit_test(test_wake_from_a_wake_runs_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
