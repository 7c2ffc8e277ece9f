/*
 * The jobs operations (src/jobs/ops.c) called with no HTTP: jobs_list and
 * jobs_get answer the API's JSON form from the jobs table; an unknown or
 * malformed ID is refused (PV_E_NOTFOUND), and a change a job's state does
 * not allow is refused (PV_E_JOB_CONFLICT) and leaves the job as it was.
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

struct fx {
	char dir[512];
	struct store *st;
	struct audit *audit;
	struct jobs_runner *r;
	int64_t clock;
};

static int64_t
fake_now(void *arg)
{
	return ((struct fx *)arg)->clock;
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
	snprintf(f->dir, sizeof(f->dir), "%s/jobsops-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &f->st), PV_OK);
	assert_int_equal(audit_start(f->st, NULL, &ac, &f->audit), PV_OK);
	f->clock = 1700000000000LL;
	{
		struct jobs_config c = {
			.st = f->st, .audit = f->audit, .node = "node-a", .step_pause_ms = 0,
			.max_steps_per_s = 1000, .lease_s = 30, .now_ms = fake_now, .now_arg = f,
			.install = jobs_test_install, .no_thread = true,
		};

		assert_int_equal(jobs_runner_start(&c, &f->r), PV_OK);
	}
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
test_list_and_get(void **state)
{
	struct fx *f = *state;
	char a[UTIL_ID_MAX], b[UTIL_ID_MAX];
	json_t *arr = NULL, *o = NULL;

	assert_int_equal(jobs_list(f->r, NULL, &arr), PV_OK);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":3}", 3, a), PV_OK);
	f->clock += 1000;
	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":2}", 2, b), PV_OK);
	assert_int_equal(jobs_runner_tick(f->r), JOBS_TICK_STEP);

	assert_int_equal(jobs_list(f->r, NULL, &arr), PV_OK);
	assert_int_equal(json_array_size(arr), 2);
	/* newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "id")), b);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "id")), a);
	json_decref(arr);

	assert_int_equal(jobs_get(f->r, NULL, a, &o), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "test.count");
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 3);
	assert_true(json_is_array(json_object_get(o, "errors")));
	assert_string_equal(json_string_value(json_object_get(o, "created_by")), "system");
	json_decref(o);
}

static void
test_refusals(void **state)
{
	struct fx *f = *state;
	char id[UTIL_ID_MAX], gone[UTIL_ID_MAX];
	json_t *o = NULL;

	assert_int_equal(jobs_enqueue(f->r, NULL, "test.count", "{\"n\":1}", 1, id), PV_OK);
	/* malformed and unknown IDs: not found, *out untouched */
	assert_int_equal(jobs_get(f->r, NULL, "not-a-job", &o), PV_E_NOTFOUND);
	assert_int_equal(jobs_get(f->r, NULL, NULL, &o), PV_E_NOTFOUND);
	util_strlcpy(gone, id, sizeof(gone));
	gone[strlen(gone) - 1] = gone[strlen(gone) - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(jobs_get(f->r, NULL, gone, &o), PV_E_NOTFOUND);
	assert_null(o);
	/* a queued job cannot be resumed: refused, still queued */
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_RESUME), PV_E_JOB_CONFLICT);
	assert_int_equal(jobs_get(f->r, NULL, id, &o), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "queued");
	json_decref(o);
	assert_int_equal(jobs_change(f->r, NULL, id, JOBS_CANCEL), PV_OK);
	assert_int_equal(jobs_get(f->r, NULL, id, &o), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "cancelled");
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
