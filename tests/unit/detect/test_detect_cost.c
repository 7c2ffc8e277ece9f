/*
 * The detector's cost per audit entry, over the real lower stack and a
 * running detector: N entries like the benchmark's audited read (one
 * clinician reading, so bulk_read fires and every later read bumps the open
 * alert) are committed 64 a transaction; detect_settle waits until the
 * detector has processed them and submitted its writes, and the saved
 * position is then the head (every entry was fed to the rules once).
 *
 * The callgrind harness of docs/internals/detect.md "Cost":
 * PV_TEST_NENTRIES={200,1200} valgrind --tool=callgrind --toggle-collect=run
 * --toggle-collect=on_commit ./unit_detect_test_detect_cost (run: the detector
 * thread; on_commit: its copy on the committer); the marginal Ir of 1000
 * entries is the difference. Without the variable it runs 64.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/read_entries.h"

#include "detect/detect_fixture.h"

#define NENTRIES 64
#define NMAX 20000

static void wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static int setup(void **state)
{
	json_set_alloc_funcs(malloc, wipe_free);
	return detect_fx_setup(state, "detect-cost");
}

static int teardown(void **state)
{
	int r = detect_fx_teardown(state);

	json_set_alloc_funcs(malloc, free);
	return r;
}

__attribute__((noinline)) static void cost_feed(struct fx *f, int n)
{
	audit_write_reads(f->audit, n);
}

static void test_detect_cost(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("PV_TEST_NENTRIES");
	int n = env != NULL ? atoi(env) : NENTRIES;
	int64_t head, pos = -1;
	char hash[65], *v = NULL;
	json_t *o;
	enum pv_rc rc;

	if (n < 1 || n > NMAX)
		n = NENTRIES;
	cost_feed(f, n);
	audit_head(f->audit, &head, hash);
	detect_settle(f->d, 60000);
	STORE_READ(f->st, rc, store_detect_state_get(tx, "position", &v));
	assert_int_equal(rc, PV_OK);
	o = json_loads(v, 0, NULL);
	free(v);
	assert_non_null(o);
	pos = (int64_t)json_integer_value(json_object_get(o, "seq"));
	json_decref(o);
	/* the alert.raised entries come after the reads: at least the reads */
	assert_true(pos >= head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detect_cost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
