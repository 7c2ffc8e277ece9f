/*
 * The job runner's plans prepared ahead (jobs.h "Prepared ahead"): while a
 * step of a prepared kind commits, the runner prepares the next one from the
 * cursor the kind says the step will leave. No threads (no_thread: the test
 * ticks), a real store and audit writer in a temporary directory.
 *
 * The kind "test.ahead" moves meta items "ah/<i>" (i < AH_N) from
 * "1:<payload>" to "2:<payload>", AH_STEP a step, and appends "<i>\n" to
 * "ah.log" for each move, so a move done twice shows twice and a lost one
 * not at all. prepare plans the new values; the step writes a planned value
 * only if the item still holds what prepare read. Cursor "<pass>|<next i>";
 * at the end of a pass an item still at version 1 starts another pass.
 *
 * What the window between a step's commit and the next step's apply must
 * keep: every item moved exactly once across a crash there (the plan made
 * ahead dropped, the runner restarted), an item changed after the plan was
 * made ahead keeps its new value (moved on the next pass), a pause there
 * drops the plan and the resumed job still moves each item once.
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

#include "jobs/jobs_int.h"
#include "tx_helpers.h"
#include "meta_items.h"

#define AH_N 6
#define AH_STEP 2

struct fx {
	char dir[512];
	struct store *st;
	struct audit *audit;
	struct jobs_runner *r;
	int64_t clock;
};

struct ah_item {
	int i;
	char old[64], new_[64];
};
struct ah_plan {
	int pass, next;
	size_t n;
	struct ah_item item[AH_STEP];
};
static int ah_applied;      /* items written from a plan */

static int64_t
fake_now(void *arg)
{
	return ((struct fx *)arg)->clock;
}

static void
cursor_read(const char *cursor, int *pass, int *next)
{
	*pass = *next = 0;
	if (cursor[0] != '\0')
		assert_int_equal(sscanf(cursor, "%d|%d", pass, next), 2);
}

static enum pv_rc
ah_prepare(const struct jobs_step_ctx *ctx, const char *cursor, void **out)
{
	struct ah_plan *pl = calloc(1, sizeof(*pl));
	enum pv_rc rc = PV_OK;

	assert_null(ctx->plan);
	if (pl == NULL)
		return PV_E_NOMEM;
	cursor_read(cursor, &pl->pass, &pl->next);
	for (int i = pl->next; rc == PV_OK && i < AH_N && i < pl->next + AH_STEP; i++) {
		struct ah_item *it = &pl->item[pl->n++];
		char key[32];

		it->i = i;
		snprintf(key, sizeof(key), "ah/%d", i);
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

/* where a step that applies pl leaves the cursor: unknown at a pass's end */
static bool
ah_next_cursor(const void *arg, const char *cursor, char next[JOBS_CURSOR_MAX])
{
	const struct ah_plan *pl = arg;

	(void)cursor;
	if (pl->next + AH_STEP >= AH_N)
		return false;
	snprintf(next, JOBS_CURSOR_MAX, "%d|%d", pl->pass, pl->next + AH_STEP);
	return true;
}

static enum pv_rc
ah_step(const struct jobs_step_ctx *ctx, const char *cursor, struct jobs_step_out *out)
{
	const struct ah_plan *pl = ctx->plan;
	int pass, next, left = 0;
	char key[32], cur[64];
	enum pv_rc rc = PV_OK;

	cursor_read(cursor, &pass, &next);
	if (pl != NULL) {
		assert_int_equal(pl->pass, pass);   /* the runner checked the cursor */
		assert_int_equal(pl->next, next);
	}
	for (int i = next; rc == PV_OK && i < AH_N && i < next + AH_STEP; i++) {
		snprintf(key, sizeof(key), "ah/%d", i);
		if ((rc = meta_text_get(ctx->tx, key, cur, sizeof(cur))) != PV_OK)
			break;
		if (pl != NULL) {
			const struct ah_item *it = &pl->item[i - next];

			if (it->new_[0] != '\0' && strcmp(cur, it->old) == 0) {
				rc = meta_item_move(ctx->tx, "ah", i, it->new_);
				out->done++;
				ah_applied++;
			}
		} else if (strncmp(cur, "1:", 2) == 0) {
			char nv[64];

			snprintf(nv, sizeof(nv), "2:%s", cur + 2);
			rc = meta_item_move(ctx->tx, "ah", i, nv);
			out->done++;
		}
	}
	next += AH_STEP;
	if (rc == PV_OK && next >= AH_N) {
		for (int i = 0; rc == PV_OK && i < AH_N; i++) {
			snprintf(key, sizeof(key), "ah/%d", i);
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
ah_free(void *plan)
{
	free(plan);
}

static const struct jobs_kind ah_kind = { "test.ahead", ah_step, NULL };
static const struct jobs_prepare ah_prep = { ah_prepare, ah_free, ah_next_cursor, NULL };

static void
runner_new(struct fx *f)
{
	struct jobs_config c = {
		.st = f->st, .audit = f->audit, .node = "node-a", .step_pause_ms = 0,
		.max_steps_per_s = 1000, .lease_s = 30, .now_ms = fake_now, .now_arg = f,
		.no_thread = true,
	};

	assert_int_equal(jobs_runner_start(&c, &f->r), PV_OK);
	assert_int_equal(jobs_kind_register_prepared(f->r, &ah_kind, &ah_prep), PV_OK);
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
	snprintf(f->dir, sizeof(f->dir), "%s/jobs-ahead-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(audit_start(f->st, NULL, &ac, &f->audit), PV_OK);
	f->clock = 1700000000000LL;
	runner_new(f);
	for (int i = 0; i < AH_N; i++) {
		char key[32], val[32];

		snprintf(key, sizeof(key), "ah/%d", i);
		snprintf(val, sizeof(val), "1:p%d", i);
		assert_int_equal(TX_WR(f->st, meta_text_put(tx, key, val)), PV_OK);
	}
	ah_applied = 0;
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

/* each item moved exactly once, in log order; item changed: its value */
static void
expect(struct fx *f, const char *log, int changed, const char *changed_value)
{
	char v[256], key[32], want[32];

	assert_int_equal(TX_RD(f->st, meta_text_get(tx, "ah.log", v, sizeof(v))), PV_OK);
	assert_string_equal(v, log);
	for (int i = 0; i < AH_N; i++) {
		snprintf(key, sizeof(key), "ah/%d", i);
		snprintf(want, sizeof(want), "2:p%d", i);
		assert_int_equal(TX_RD(f->st, meta_text_get(tx, key, v, sizeof(v))), PV_OK);
		assert_string_equal(v, i == changed ? changed_value : want);
	}
}

static void
job_is(struct fx *f, const char *id, const char *state, int64_t done, const char *cursor)
{
	struct store_job j;

	assert_int_equal(TX_RD(f->st, store_job_get(tx, id, &j)), PV_OK);
	assert_string_equal(j.state, state);
	assert_int_equal(j.done, done);
	if (cursor != NULL)
		assert_string_equal(j.cursor, cursor);
	store_job_clear(&j);
}

static enum jobs_tick
run_to_end(struct fx *f)
{
	enum jobs_tick t;
	int ticks = 0;

	while ((t = jobs_runner_tick(f->r)) == JOBS_TICK_STEP)
		assert_true(++ticks < 20);
	return t;
}

/* The second and third steps apply plans made while the step before them
 * committed; every move is a plan's and each item moves once. */
static void
test_ahead_walk(void **state)
{
	struct fx *f = *state;
	char id[UTIL_ID_MAX];
	int64_t made, used;

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.ahead", "{}", AH_N, id), PV_OK);
	assert_int_equal(run_to_end(f), JOBS_TICK_FINISHED);
	expect(f, "0\n1\n2\n3\n4\n5\n", -1, NULL);
	assert_int_equal(ah_applied, AH_N);
	jobs_runner_ahead_counts(f->r, &made, &used);
	assert_int_equal(made, 2);
	assert_int_equal(used, 2);
	job_is(f, id, "done", AH_N, "0|6");
}

struct between {
	struct fx *f;
	const char *id;
	int calls, at;
	enum { DROP, CHANGE, PAUSE } what;
};

static bool
between_cb(void *arg)
{
	struct between *b = arg;

	if (++b->calls != b->at)
		return true;
	switch (b->what) {
	case DROP:
		return false;     /* as a crash here: the plan made ahead is lost */
	case CHANGE:
		/* item 2 is in the plan made ahead, from its old value */
		assert_int_equal(TX_WR(b->f->st, meta_text_put(tx, "ah/2", "1:changed")), PV_OK);
		break;
	case PAUSE:
		assert_int_equal(jobs_change(b->f->r, NULL, b->id, JOBS_PAUSE), PV_OK);
		break;
	}
	return true;
}

/* kill -9 after step 1 committed and step 2 was prepared ahead, before step
 * 2 applied: the restarted runner resumes at step 1's cursor; nothing is
 * lost or done twice. */
static void
test_ahead_crash(void **state)
{
	struct fx *f = *state;
	char id[UTIL_ID_MAX];
	struct between b = { f, NULL, 0, 2, DROP };
	int64_t made, used;

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.ahead", "{}", AH_N, id), PV_OK);
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_STEP);
	jobs_runner_ahead_counts(f->r, &made, &used);
	assert_int_equal(made, 1);              /* step 2's plan, made during step 1's commit */
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_STEP);
	job_is(f, id, "running", 2, "0|2");     /* step 2 never applied */
	jobs_runner_stop(f->r);
	runner_new(f);                          /* restarted: takes its own job over */
	assert_int_equal(run_to_end(f), JOBS_TICK_FINISHED);
	expect(f, "0\n1\n2\n3\n4\n5\n", -1, NULL);
	job_is(f, id, "done", AH_N, NULL);
}

/* An item changed after the plan was made ahead, before it was applied:
 * the plan does not write over it; the next pass moves it. */
static void
test_ahead_changed(void **state)
{
	struct fx *f = *state;
	char id[UTIL_ID_MAX];
	struct between b = { f, NULL, 0, 2, CHANGE };
	enum jobs_tick t;
	int ticks = 0;

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.ahead", "{}", AH_N, id), PV_OK);
	while ((t = jobs_runner_tick_between(f->r, between_cb, &b)) == JOBS_TICK_STEP)
		assert_true(++ticks < 20);
	assert_int_equal(t, JOBS_TICK_FINISHED);
	expect(f, "0\n1\n3\n4\n5\n2\n", 2, "2:changed");
	job_is(f, id, "done", AH_N, "1|6");
}

/* A pause committed after step 2 was prepared ahead: step 2 does not run,
 * its plan is dropped; once resumed the job moves each item once. */
static void
test_ahead_paused(void **state)
{
	struct fx *f = *state;
	char id[UTIL_ID_MAX];
	struct between b = { f, NULL, 0, 2, PAUSE };

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.ahead", "{}", AH_N, id), PV_OK);
	b.id = id;
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_STEP);
	assert_int_equal(jobs_runner_tick_between(f->r, between_cb, &b), JOBS_TICK_LOST);
	job_is(f, id, "paused", 2, "0|2");
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_RESUME), PV_OK);
	assert_int_equal(run_to_end(f), JOBS_TICK_FINISHED);
	expect(f, "0\n1\n2\n3\n4\n5\n", -1, NULL);
	job_is(f, id, "done", AH_N, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ahead_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ahead_paused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
