/*
 * writer.c: a job with several entries (audit_submitv / audit_commitv, the
 * directory's change sets): every entry is appended after the job's fn, in
 * order and in its transaction, and reaches subscribers; if fn fails, its
 * change is rolled back and every entry is recorded with outcome "error";
 * if the group cannot commit, none of it is there.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "audit/audit_fixture.h"
#include "tx_helpers.h"

struct meta_job {
	const char *key;
	enum pv_rc result;
};

static enum pv_rc put_meta(struct store_tx *tx, void *arg)
{
	struct meta_job *j = arg;
	enum pv_rc rc = store_meta_put(tx, j->key, (const uint8_t *)"v", 1);

	return rc != PV_OK ? rc : j->result;
}

static bool meta_present(struct store *st, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc = TX_RD(st, store_meta_get(tx, key, &val, &len));

	free(val);
	assert_true(rc == PV_OK || rc == PV_E_NOTFOUND);
	return rc == PV_OK;
}

/* the resources and outcomes of the trail, in order, and what subscribers saw */
struct seen {
	pthread_mutex_t mu;
	int n;
	char res[16][64];
};

static struct seen subs = { PTHREAD_MUTEX_INITIALIZER, 0, { { 0 } } };

static void on_rows(const struct store_audit_row *const *rows, size_t n, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&subs.mu);
	for (size_t i = 0; i < n && subs.n < 16; i++)
		snprintf(subs.res[subs.n++], 64, "%s", rows[i]->resource);
	pthread_mutex_unlock(&subs.mu);
}

struct trail {
	int n;
	char res[16][64];
	char outcome[16][16];
};

static int trail_cb(const struct store_audit_row *r, void *arg)
{
	struct trail *t = arg;

	if (t->n < 16) {
		snprintf(t->res[t->n], 64, "%s", r->resource);
		snprintf(t->outcome[t->n], 16, "%s", r->outcome);
		t->n++;
	}
	return 0;
}

static void read_trail(struct store *st, struct trail *t)
{
	struct store_audit_filter f = { 0 };

	memset(t, 0, sizeof *t);
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, trail_cb, t)), PV_OK);
}

struct done_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum pv_rc rc;
};

static void on_done(enum pv_rc rc, void *arg)
{
	struct done_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static enum pv_rc submit_wait(struct fx *f, const struct audit_event *evs, size_t n,
    struct meta_job *j)
{
	struct done_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, PV_OK };
	enum pv_rc rc = audit_submitv(f->audit, evs, n, put_meta, j, COMMIT_REQUEST, on_done, &w);

	if (rc != PV_OK)
		return rc;
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	return w.rc;
}

static void test_entries_in_order_with_change(void **state)
{
	struct fx *f = *state;
	struct audit_event evs[3] = { fx_event("users/a"), fx_event("users/b"),
	    fx_event("users/c") };
	struct meta_job j = { "multi.ok", PV_OK };
	struct audit_verify_result v;
	struct trail t;

	subs.n = 0;
	assert_int_equal(commit_subscribe(audit_queue(f->audit), on_rows, NULL), PV_OK);
	assert_int_equal(submit_wait(f, evs, 3, &j), PV_OK);
	assert_true(meta_present(f->st, "multi.ok"));
	read_trail(f->st, &t);
	assert_int_equal(t.n, 3);
	assert_string_equal(t.res[0], "users/a");
	assert_string_equal(t.res[1], "users/b");
	assert_string_equal(t.res[2], "users/c");
	assert_string_equal(t.outcome[2], "allowed");
	/* every entry reached the subscribers, in chain order */
	pthread_mutex_lock(&subs.mu);
	assert_int_equal(subs.n, 3);
	assert_string_equal(subs.res[0], "users/a");
	assert_string_equal(subs.res[2], "users/c");
	pthread_mutex_unlock(&subs.mu);
	/* the waiting form, the same */
	j.key = "multi.wait";
	assert_int_equal(audit_commitv(f->audit, evs, 2, put_meta, &j, COMMIT_REQUEST), PV_OK);
	assert_true(meta_present(f->st, "multi.wait"));
	assert_int_equal(audit_verify(f->st, NULL, &v), PV_OK);
	assert_true(v.ok);
	assert_int_equal(v.entries, 5);
}

static void test_fn_failure_every_entry_error(void **state)
{
	struct fx *f = *state;
	struct audit_event evs[2] = { fx_event("users/a"), fx_event("users/b") };
	struct meta_job j = { "multi.fail", PV_E_CONFLICT };
	struct trail t;

	assert_int_equal(submit_wait(f, evs, 2, &j), PV_E_CONFLICT);
	assert_false(meta_present(f->st, "multi.fail"));
	read_trail(f->st, &t);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.outcome[0], "error");
	assert_string_equal(t.outcome[1], "error");
}

static void test_group_fault_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct audit_event evs[2] = { fx_event("users/a"), fx_event("users/b") };
	struct meta_job j = { "multi.fault", PV_OK };
	struct trail t;

	store_fault_set("tx_commit", 1);
	assert_int_equal(submit_wait(f, evs, 2, &j), PV_E_AUDIT);
	assert_false(meta_present(f->st, "multi.fault"));
	read_trail(f->st, &t);
	assert_int_equal(t.n, 0);
	/* a bad entry among them refuses the whole job before anything is queued */
	evs[1].detail = "not json";
	assert_int_equal(submit_wait(f, evs, 2, &j), PV_E_INVALID);
	assert_false(meta_present(f->st, "multi.fault"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entries_in_order_with_change, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fn_failure_every_entry_error, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_group_fault_leaves_nothing, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
