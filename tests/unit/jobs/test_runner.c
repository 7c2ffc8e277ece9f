/*
 * The job runner without threads or sockets (no_thread: jobs_runner_tick
 * drives it), on a real store and audit writer in a temporary directory,
 * with an injected clock: the state machine, pause / resume / cancel at the
 * step boundary, lease expiry and take-over, failed steps recorded and
 * bounded, errors bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "jobs/jobs_int.h"
#include "tx_helpers.h"

struct fx {
	char dir[512];
	struct store *st;
	struct audit *audit;
	struct jobs_runner *r;
	int64_t clock;
};

static int fail_steps;    /* the "test.fail" kind fails while > 0 */

static int64_t
fake_now(void *arg)
{
	return ((struct fx *)arg)->clock;
}

static enum pv_rc
fail_step(const struct jobs_step_ctx *ctx, const char *cursor, struct jobs_step_out *out)
{
	(void)ctx;
	(void)cursor;
	if (fail_steps > 0) {
		fail_steps--;
		return PV_E_IO;
	}
	out->done = 1;
	out->finished = true;
	return PV_OK;
}
static const struct jobs_kind fail_kind = { "test.fail", fail_step, NULL };

static void
runner_new(struct fx *f, const char *node)
{
	struct jobs_config c = {
		.st = f->st, .audit = f->audit, .node = node, .step_pause_ms = 0,
		.max_steps_per_s = 1000, .lease_s = 30, .now_ms = fake_now, .now_arg = f,
		.install = jobs_test_install, .no_thread = true,
	};

	assert_int_equal(jobs_runner_start(&c, &f->r), PV_OK);
	assert_int_equal(jobs_kind_register(f->r, &fail_kind), PV_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("PV_TEST_TMP");
	struct audit_config ac = { 1000, 60, 0 };
	char cmd[600];

	assert_non_null(f);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", tmp ? tmp : "/tmp");
	assert_int_equal(system(cmd), 0);
	snprintf(f->dir, sizeof(f->dir), "%s/jobs-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(audit_start(f->st, NULL, &ac, &f->audit), PV_OK);
	f->clock = 1700000000000LL;
	runner_new(f, "node-a");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[600];

	jobs_runner_stop(f->r);
	audit_stop(f->audit);
	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return 1;
	free(f);
	return 0;
}

static void
get(struct fx *f, const char *id, struct store_job *j)
{
	assert_int_equal(TX_RD(f->st, store_job_get(tx, id, j)), PV_OK);
}

static void
test_runs_to_done(void **state)
{
	struct fx *f = *state;
	struct store_job j;
	char id[UTIL_ID_MAX];
	uint8_t *v = NULL;
	size_t len = 0;
	char key[80];

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":3}", 3, id), PV_OK);
	get(f, id, &j);
	assert_string_equal(j.state, "queued");
	store_job_clear(&j);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	get(f, id, &j);
	assert_string_equal(j.state, "running");
	assert_string_equal(j.lease_owner, "node-a");
	assert_int_equal(j.done, 1);
	assert_string_equal(j.cursor, "1");
	assert_int_equal(j.started_ms, f->clock);
	store_job_clear(&j);
	f->clock += 1000;
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	{
		double rate;
		int64_t eta;

		jobs_progress(f->r, id, 2, 3, &rate, &eta);
		assert_true(rate > 0.99 && rate < 1.01);   /* one item in the injected second */
		assert_int_equal(eta, 1);
	}
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FINISHED);
	get(f, id, &j);
	assert_string_equal(j.state, "done");
	assert_int_equal(j.done, 3);
	assert_string_equal(j.lease_owner, "");
	assert_int_equal(j.finished_ms, f->clock);
	store_job_clear(&j);
	snprintf(key, sizeof(key), "test.count/%s", id);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, key, &v, &len)), PV_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(v, "0\n1\n2\n", 6);
	free(v);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_IDLE);
	/* an ended job changes no more */
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_PAUSE), PV_E_JOB_CONFLICT);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_CANCEL), PV_E_JOB_CONFLICT);
}

static void
test_pause_at_step_boundary(void **state)
{
	struct fx *f = *state;
	struct store_job j;
	char id[UTIL_ID_MAX];

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":10}", 10, id), PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_PAUSE), PV_OK);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_PAUSE), PV_E_JOB_CONFLICT);
	/* the runner's next step sees the pause and does nothing */
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_LOST);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_IDLE);
	get(f, id, &j);
	assert_string_equal(j.state, "paused");
	assert_int_equal(j.done, 1);
	store_job_clear(&j);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_RESUME), PV_OK);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_RESUME), PV_E_JOB_CONFLICT);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	get(f, id, &j);
	assert_int_equal(j.done, 2);
	assert_string_equal(j.cursor, "2");
	store_job_clear(&j);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_CANCEL), PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_LOST);
	get(f, id, &j);
	assert_string_equal(j.state, "cancelled");
	assert_int_equal(j.done, 2);
	assert_true(j.finished_ms > 0);
	store_job_clear(&j);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_RESUME), PV_E_JOB_CONFLICT);
	assert_int_equal(jobs_change(f->r, NULL, "job_aaaaaaaaaaaaaaaaaaaaaaaaaa", JOBS_PAUSE),
	    PV_E_NOTFOUND);
}

static void
test_lease_expiry(void **state)
{
	struct fx *f = *state;
	struct store_job j;
	char id[UTIL_ID_MAX];

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":5}", 5, id), PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	/* node-a dies; node-b must wait for the lease to expire */
	jobs_runner_stop(f->r);
	runner_new(f, "node-b");
	f->clock += 29999;
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_IDLE);
	f->clock += 1;
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	get(f, id, &j);
	assert_string_equal(j.lease_owner, "node-b");
	assert_int_equal(j.done, 2);
	assert_string_equal(j.cursor, "2");     /* resumed at the cursor, not from 0 */
	store_job_clear(&j);
	/* a new process of node-b (same node) takes its own running job at once */
	jobs_runner_stop(f->r);
	runner_new(f, "node-b");
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	get(f, id, &j);
	assert_int_equal(j.done, 3);
	store_job_clear(&j);
}

static void
test_failures_recorded_and_bounded(void **state)
{
	struct fx *f = *state;
	struct store_job j;
	char id[UTIL_ID_MAX], id2[UTIL_ID_MAX];
	json_t *e;

	fail_steps = 2;
	assert_int_equal(jobs_enqueue(f->r, NULL, "test.fail", NULL, 1, id), PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FAILED);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FAILED);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FINISHED);  /* recovered */
	get(f, id, &j);
	assert_string_equal(j.state, "done");
	assert_int_equal(j.error_count, 2);
	e = json_loads(j.errors, 0, NULL);
	assert_int_equal(json_array_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "code")), "io");
	json_decref(e);
	store_job_clear(&j);

	fail_steps = 100;
	assert_int_equal(jobs_enqueue(f->r, NULL, "test.fail", NULL, 1, id2), PV_OK);
	for (int i = 0; i < JOBS_MAX_FAILURES; i++)
		assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FAILED);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_IDLE);
	get(f, id2, &j);
	assert_string_equal(j.state, "failed");
	assert_int_equal(j.error_count, JOBS_MAX_FAILURES);
	store_job_clear(&j);
	fail_steps = 0;
}

static void
test_item_errors_bounded(void **state)
{
	char *s = strdup("[]"), *n;

	for (int i = 0; i < JOBS_ERRORS_MAX + 5; i++) {
		char item[16];

		snprintf(item, sizeof(item), "item_%d", i);
		assert_int_equal(jobs_errors_append(s, "t", "test_skip", item, &n), PV_OK);
		free(s);
		s = n;
	}
	{
		json_t *a = json_loads(s, 0, NULL);

		assert_int_equal(json_array_size(a), JOBS_ERRORS_MAX);
		assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "item")),
		    "item_5");   /* the newest are kept */
		json_decref(a);
	}
	/* anything that is not a code or an ID never reaches the list */
	assert_int_equal(jobs_errors_append(s, "t", "Jane Doe", "404-81-9753 x", &n), PV_OK);
	assert_null(strstr(n, "Jane"));
	assert_null(strstr(n, "404-81"));
	free(n);
	free(s);
}

static void
test_skip_records_error(void **state)
{
	struct fx *f = *state;
	struct store_job j;
	char id[UTIL_ID_MAX];

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":2,\"skip\":0}", 2, id),
	    PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_FINISHED);
	get(f, id, &j);
	assert_int_equal(j.error_count, 1);
	assert_non_null(strstr(j.errors, "\"item_0\""));
	assert_int_equal(j.done, 2);
	store_job_clear(&j);
	assert_int_equal(jobs_enqueue(f->r, NULL, "no.such", NULL, 0, id), PV_E_INVALID);
	assert_int_equal(jobs_kind_register(f->r, &fail_kind), PV_E_CONFLICT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_runs_to_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_at_step_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_recorded_and_bounded, setup, teardown),
		cmocka_unit_test(test_item_errors_bounded),
		cmocka_unit_test_setup_teardown(test_skip_records_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
