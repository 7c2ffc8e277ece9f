/*
 * The re-encryption kind prepared ahead (jobs.h "Prepared ahead"), with no
 * runner: a step's plan says where the step ends (next_cursor), the next
 * step is prepared from there before the first one is applied, and applied
 * at the cursor the first step really left (same position, another rate
 * window). A plan made for a smaller batch than the applying step's is
 * applied as it is (at most the smaller batch), not dropped; every record
 * moves once and still opens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "jobs/jobs.h"
#include "ops_fixture.h"

#define KEK "collection:patients"

static const char *const CLINICIAN[] = { "clinician", NULL };

static int64_t census(struct vf *f, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(f->st, store_kek_census(tx, KEK, v, &n)), PV_OK);
	return n;
}

static void create(struct vf *f, struct op_caller *c, int i, char id[UTIL_ID_MAX])
{
	char body[256];
	json_t *rec;
	struct answer w;

	snprintf(body, sizeof(body), "{\"name\":\"Ahead Person %d\",\"visits\":%d}", i, i);
	rec = json_loads(body, 0, NULL);
	answer_init(&w);
	vault_record_create(f->v, &c->who, "patients", rec, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	snprintf(id, UTIL_ID_MAX, "%s", json_string_value(json_object_get(w.body, "id")));
	answer_free(&w);
	json_decref(rec);
}

static void *prepare(struct vf *f, const char *params, const char *cursor)
{
	struct jobs_step_ctx ctx;
	void *plan = NULL;

	memset(&ctx, 0, sizeof(ctx));
	ctx.job_id = "job_test";
	ctx.params = params;
	assert_int_equal(TX_RD(f->st, (ctx.tx = tx, vault_keys_kind_prepare(f->v, &ctx, cursor,
	    &plan))), PV_OK);
	assert_non_null(plan);
	return plan;
}

static void apply(struct vf *f, const char *params, const char *cursor, void *plan,
    struct jobs_step_out *out)
{
	struct jobs_step_ctx ctx;

	memset(&ctx, 0, sizeof(ctx));
	memset(out, 0, sizeof(*out));
	snprintf(out->cursor, sizeof(out->cursor), "%s", cursor);
	ctx.job_id = "job_test";
	ctx.params = params;
	ctx.plan = plan;
	assert_int_equal(TX_WR(f->st, (ctx.tx = tx, vault_keys_kind_step(f->v, &ctx, cursor, out))),
	    PV_OK);
}

static void test_prepared_ahead(void **state)
{
	struct vf *f = *state;
	struct op_caller clin;
	char ids[25][UTIL_ID_MAX], params[256], next[JOBS_CURSOR_MAX];
	struct jobs_step_out o1, o2, o3;
	void *p1, *p2, *p3;
	uint32_t nv;

	make_patients(f);
	caller(f, &clin, "usr_clin", CLINICIAN, "TREAT");
	for (int i = 0; i < 25; i++)
		create(f, &clin, i, ids[i]);
	assert_int_equal(keys_kek_rotate(f->keys, KEK, &nv), PV_OK);
	/* paced: 10 records a step (max_rps 1000 / 100); the clock held */
	snprintf(params, sizeof(params), "{\"key\":\"" KEK "\",\"collection\":\"patients\","
	    "\"mode\":\"rewrap_dek\",\"max_rps\":1000,\"to_version\":2}");
	util_clock_set_fixed(util_now_ms());
	p1 = prepare(f, params, "");
	assert_true(vault_keys_plan_next_cursor(p1, "", next, sizeof(next)));
	/* step 2 prepared before step 1 is applied, from where step 1 will end */
	p2 = prepare(f, params, next);
	apply(f, params, "", p1, &o1);
	assert_int_equal(o1.done, 10);
	assert_false(o1.finished);
	assert_true(vault_keys_cursor_same(next, o1.cursor));
	vault_keys_plan_free(p1);
	/* 600 ms later step 2 may catch up to far more than 10 records: the plan
	 * made for 10 is applied as it is, not dropped for the step to redo */
	util_clock_advance(600);
	apply(f, params, o1.cursor, p2, &o2);
	assert_int_equal(o2.done, 10);
	assert_false(o2.finished);
	assert_int_equal(census(f, 1), 5);
	assert_true(vault_keys_plan_next_cursor(p2, next, next, sizeof(next)));
	assert_true(vault_keys_cursor_same(next, o2.cursor));
	vault_keys_plan_free(p2);
	/* the last 5: a short plan ends the pass, so nothing is predicted
	 * after it */
	p3 = prepare(f, params, o2.cursor);
	assert_false(vault_keys_plan_next_cursor(p3, o2.cursor, next, sizeof(next)));
	apply(f, params, o2.cursor, p3, &o3);
	vault_keys_plan_free(p3);
	assert_int_equal(o3.done, 5);
	assert_true(o3.finished);
	util_clock_reset();
	assert_int_equal(census(f, 1), 0);
	assert_int_equal(census(f, 2), 25);
	for (int i = 0; i < 25; i++) {
		struct answer w;

		answer_init(&w);
		vault_record_read(f->v, &clin.who, "patients", ids[i], on_done, &w);
		answer_wait(&w);
		assert_int_equal(w.rc, PV_OK);
		assert_non_null(strstr(field(&w, "name"), "Ahead Person"));
		answer_free(&w);
	}
	caller_free(&clin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prepared_ahead, vf_setup, vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
