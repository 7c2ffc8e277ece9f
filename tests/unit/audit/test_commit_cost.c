/*
 * The committer's cost per entry (docs/internals/audit.md "Cost per entry",
 * the callgrind harness of /work/wt/s9/perf-commit.md): the benchmark's read
 * entry (record.read, one subject reference, the detail a masked read writes)
 * submitted with audit_submit in groups of exactly GROUP entries, each group
 * closed by a gate transaction (no entry) whose fn holds the committer until
 * the test thread has queued the next group. So every group is GROUP entries
 * + 1 gate, whatever the scheduling, and the marginal cost of N2 - N1 groups
 * cancels the set-up:
 *
 *   PV_TEST_NGROUPS={2,12} valgrind --tool=callgrind \
 *       --toggle-collect=committer_main --toggle-collect=cost_submit \
 *       ./unit_audit_test_commit_cost
 *
 * committer_main: the committer thread (groups, appends, chain hash, commit,
 * subscribers, completions, frees); cost_submit: the submitting thread
 * (audit_prepare, the copies, the queue). Checked as a test too: every
 * completion OK and once, the head at the entry count, the chain verifies.
 */
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit_fixture.h"

#define GROUP 16
#define NGROUPS 3

struct gate {
	sem_t started, go;
};

static enum pv_rc gate_fn(struct store_tx *tx, void *arg)
{
	struct gate *g = arg;

	(void)tx;
	sem_post(&g->started);
	while (sem_wait(&g->go) != 0)
		;
	return PV_OK;
}

struct counts {
	atomic_int ok, failed;
};

static void count_done(enum pv_rc rc, void *arg)
{
	struct counts *c = arg;

	if (rc == PV_OK)
		atomic_fetch_add(&c->ok, 1);
	else
		atomic_fetch_add(&c->failed, 1);
}

/* The entry of the benchmark's audited read (vault_record_read: the detail
 * as a tree, detail_obj, one subject reference). */
static struct audit_event read_event(const char *resource, const char *const *refs,
    json_t *detail)
{
	struct audit_event ev = {
		.actor = { .user_id = "usr_7fj2k9q4m1x8c3v6b5n0", .session_id = "ses_p2w9e4r7t1y6u3i8",
		    .source = "127.0.0.1" },
		.action = "record.read",
		.resource = resource,
		.purpose_of_use = "TREAT",
		.outcome = AUDIT_ALLOWED,
		.detail_obj = detail,
		.subjects = refs,
		.nsubjects = 1,
	};
	return ev;
}

__attribute__((noinline)) static void cost_submit(struct audit *a, int group, struct counts *c)
{
	static const char *const refs[1] = {
		"3b1f0c9e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
	};
	char res[96];
	json_t *detail = json_pack("{s:[s,s,s,s,s], s:[s,s,s,s,s]}", "fields", "dob", "mrn",
	    "name", "notes", "ssn", "unmasked", "dob", "mrn", "name", "notes", "ssn");

	assert_non_null(detail);
	for (int i = 0; i < GROUP; i++) {
		struct audit_event ev;

		snprintf(res, sizeof res, "collections/patients/records/rec_%04d_%02d", group, i);
		ev = read_event(res, refs, detail);
		assert_int_equal(audit_submit(a, &ev, NULL, NULL, COMMIT_REQUEST, count_done, c),
		    PV_OK);
	}
	json_decref(detail);
}

static void test_commit_cost(void **state)
{
	struct fx *f = *state;
	struct gate g;
	struct counts entries = { 0 }, gates = { 0 };
	struct audit_verify_result v;
	const char *env = getenv("PV_TEST_NGROUPS");
	int n = env != NULL ? atoi(env) : NGROUPS;
	int64_t seq0, seq;

	if (n < 1 || n > 1000)
		n = NGROUPS;
	audit_head(f->audit, &seq0, NULL);
	assert_int_equal(sem_init(&g.started, 0, 0), 0);
	assert_int_equal(sem_init(&g.go, 0, 0), 0);
	/* the first gate: the committer waits in it while group 0 queues */
	assert_int_equal(audit_submit(f->audit, NULL, gate_fn, &g, COMMIT_REQUEST, count_done,
	    &gates), PV_OK);
	while (sem_wait(&g.started) != 0)
		;
	for (int k = 0; k < n; k++) {
		cost_submit(f->audit, k, &entries);
		assert_int_equal(audit_submit(f->audit, NULL, gate_fn, &g, COMMIT_REQUEST,
		    count_done, &gates), PV_OK);
		sem_post(&g.go);   /* the group before commits; this one is queued whole */
		while (sem_wait(&g.started) != 0)
			;
	}
	sem_post(&g.go);
	/* the last group's completions: the writer drains before it stops */
	audit_writer_drain(f->audit);
	assert_int_equal(atomic_load(&entries.ok), n * GROUP);
	assert_int_equal(atomic_load(&entries.failed), 0);
	assert_int_equal(atomic_load(&gates.ok), n + 1);
	audit_head(f->audit, &seq, NULL);
	assert_int_equal(seq - seq0, n * GROUP);
	assert_int_equal(audit_verify(f->st, NULL, &v), PV_OK);
	assert_true(v.ok);
	assert_int_equal(v.entries, seq);
	sem_destroy(&g.started);
	sem_destroy(&g.go);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_cost, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
