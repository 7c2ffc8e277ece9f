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
#include "meta_items.h"

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

/*
 * "test.pa": a kind with a prepare phase, shaped like re-encryption. Items
 * are meta "pa/<i>" (i < PA_N) holding "<version>:<payload>"; the job moves
 * each from version 1 to 2 keeping its payload, PA_STEP items a step, and
 * appends "<i>\n" to meta "pa.log" for each move (a move done twice shows
 * twice, a lost one not at all). prepare reads the items and plans the new
 * values; the step applies a planned write only if the item still holds
 * what prepare read. Cursor "<pass>|<next i>"; at the end of a pass an item
 * still at version 1 starts another pass (at most 3).
 */
#define PA_N 4
#define PA_STEP 2

struct pa_item {
	int i;
	char old[64], new_[64];
};
struct pa_plan {
	size_t n;
	struct pa_item item[PA_STEP];
};
static int pa_applied;      /* items written from a plan */

static enum pv_rc
pa_prepare(const struct jobs_step_ctx *ctx, const char *cursor, void **out)
{
	struct pa_plan *pl = calloc(1, sizeof(*pl));
	int pass = 0, next = 0;
	enum pv_rc rc = PV_OK;

	assert_null(ctx->plan);
	if (pl == NULL)
		return PV_E_NOMEM;
	if (cursor[0] != '\0')
		assert_int_equal(sscanf(cursor, "%d|%d", &pass, &next), 2);
	for (int i = next; rc == PV_OK && i < PA_N && i < next + PA_STEP; i++) {
		struct pa_item *it = &pl->item[pl->n++];
		char key[32];

		it->i = i;
		snprintf(key, sizeof(key), "pa/%d", i);
		rc = meta_text_get(ctx->tx, key, it->old, sizeof(it->old));
		if (rc == PV_OK && strncmp(it->old, "1:", 2) == 0) {
			it->new_[0] = '2';
			memcpy(it->new_ + 1, it->old + 1, strlen(it->old));   /* ":payload\0" */
		}
	}
	if (rc == PV_OK)
		*out = pl;
	else
		free(pl);
	return rc;
}

static enum pv_rc
pa_step(const struct jobs_step_ctx *ctx, const char *cursor, struct jobs_step_out *out)
{
	const struct pa_plan *pl = ctx->plan;
	int pass = 0, next = 0, left = 0;
	char key[32], cur[64];
	enum pv_rc rc = PV_OK;

	if (cursor[0] != '\0')
		assert_int_equal(sscanf(cursor, "%d|%d", &pass, &next), 2);
	for (int i = next; rc == PV_OK && i < PA_N && i < next + PA_STEP; i++) {
		snprintf(key, sizeof(key), "pa/%d", i);
		if ((rc = meta_text_get(ctx->tx, key, cur, sizeof(cur))) != PV_OK)
			break;
		if (pl != NULL) {
			const struct pa_item *it = &pl->item[i - next];

			assert_int_equal(it->i, i);
			/* apply: only if it still holds what prepare read */
			if (it->new_[0] != '\0' && strcmp(cur, it->old) == 0) {
				rc = meta_item_move(ctx->tx, "pa", i, it->new_);
				out->done++;
				pa_applied++;
			}
		} else if (strncmp(cur, "1:", 2) == 0) {
			char nv[64];

			snprintf(nv, sizeof(nv), "2:%s", cur + 2);
			rc = meta_item_move(ctx->tx, "pa", i, nv);
			out->done++;
		}
	}
	next += PA_STEP;
	if (rc == PV_OK && next >= PA_N) {
		for (int i = 0; rc == PV_OK && i < PA_N; i++) {
			snprintf(key, sizeof(key), "pa/%d", i);
			if ((rc = meta_text_get(ctx->tx, key, cur, sizeof(cur))) == PV_OK &&
			    strncmp(cur, "1:", 2) == 0)
				left++;
		}
		if (left > 0 && pass + 1 < 3) {
			pass++;
			next = 0;
		} else {
			out->finished = true;
		}
	}
	snprintf(out->cursor, sizeof(out->cursor), "%d|%d", pass, next);
	return rc;
}

static void
pa_free(void *plan)
{
	free(plan);
}

static const struct jobs_kind pa_kind = { "test.pa", pa_step, NULL };
static const struct jobs_prepare pa_prep = { .prepare = pa_prepare, .plan_free = pa_free };

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
	assert_int_equal(jobs_kind_register_prepared(f->r, &pa_kind, &pa_prep), PV_OK);
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

/* ---- prepare / apply ---- */

static void
pa_seed(struct fx *f)
{
	for (int i = 0; i < PA_N; i++) {
		char key[32], val[32];

		snprintf(key, sizeof(key), "pa/%d", i);
		snprintf(val, sizeof(val), "1:p%d", i);
		assert_int_equal(TX_WR(f->st, meta_text_put(tx, key, val)), PV_OK);
	}
	pa_applied = 0;
}

static void
pa_expect(struct fx *f, const char *log, const char *item0)
{
	char v[256], key[32], want[32];

	assert_int_equal(TX_RD(f->st, meta_text_get(tx, "pa.log", v, sizeof(v))), PV_OK);
	assert_string_equal(v, log);    /* each item moved exactly once */
	for (int i = 0; i < PA_N; i++) {
		snprintf(key, sizeof(key), "pa/%d", i);
		snprintf(want, sizeof(want), "2:p%d", i);
		assert_int_equal(TX_RD(f->st, meta_text_get(tx, key, v, sizeof(v))), PV_OK);
		assert_string_equal(v, i == 0 ? item0 : want);
	}
}

struct between {
	struct fx *f;
	int calls;
	int at;            /* on this call ... */
	bool change;       /* ... change item 0 (still version 1), or */
	bool drop;         /* ... drop the plan as a crash would */
};

static bool
between_cb(void *arg)
{
	struct between *b = arg;

	if (++b->calls != b->at)
		return true;
	if (b->change)
		assert_int_equal(TX_WR(b->f->st, meta_text_put(tx, "pa/0", "1:changed")), PV_OK);
	return !b->drop;
}

/* An item changed between prepare and apply is not clobbered by the plan
 * (its new payload stands) and the next pass moves it. */
static void
test_prepare_apply_changed(void **state)
{
	struct fx *f = *state;
	struct between b = { f, 0, 1, true, false };
	struct store_job j;
	char id[UTIL_ID_MAX];
	enum jobs_tick t;
	int ticks = 0;

	pa_seed(f);
	assert_int_equal(jobs_enqueue(f->r, NULL, "test.pa", "{}", PA_N, id), PV_OK);
	while ((t = jobs_runner_tick_between(f->r, between_cb, &b)) == JOBS_TICK_STEP)
		assert_true(++ticks < 20);
	assert_int_equal(t, JOBS_TICK_FINISHED);
	/* pass 1: 0 skipped (changed), 1, 2, 3 moved; pass 2: 0 moved */
	pa_expect(f, "1\n2\n3\n0\n", "2:changed");
	assert_int_equal(pa_applied, PA_N);   /* every move was a plan's */
	get(f, id, &j);
	assert_string_equal(j.state, "done");
	assert_int_equal(j.done, PA_N);
	assert_string_equal(j.cursor, "1|4");
	store_job_clear(&j);
}

/* A crash after prepare (the plan dropped unapplied, the runner gone): the
 * next runner takes the job over at the same cursor; nothing is lost or
 * done twice. */
static void
test_prepare_crash(void **state)
{
	struct fx *f = *state;
	struct between b = { f, 0, 2, false, true };
	struct store_job j;
	char id[UTIL_ID_MAX];
	enum jobs_tick t;
	int ticks = 0;

	pa_seed(f);
	assert_int_equal(jobs_enqueue(f->r, NULL, "test.pa", "{}", PA_N, id), PV_OK);
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_STEP);
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_STEP);
	get(f, id, &j);
	assert_string_equal(j.cursor, "0|2");   /* the second step's plan never applied */
	assert_int_equal(j.done, 2);
	store_job_clear(&j);
	jobs_runner_stop(f->r);
	runner_new(f, "node-a");                /* restarted: takes its own job over */
	while ((t = jobs_runner_tick(f->r)) == JOBS_TICK_STEP)
		assert_true(++ticks < 20);
	assert_int_equal(t, JOBS_TICK_FINISHED);
	pa_expect(f, "0\n1\n2\n3\n", "2:p0");
	get(f, id, &j);
	assert_string_equal(j.state, "done");
	assert_int_equal(j.done, PA_N);
	store_job_clear(&j);
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
		cmocka_unit_test_setup_teardown(test_prepare_apply_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pause_at_step_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_recorded_and_bounded, setup, teardown),
		cmocka_unit_test(test_item_errors_bounded),
		cmocka_unit_test_setup_teardown(test_skip_records_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
