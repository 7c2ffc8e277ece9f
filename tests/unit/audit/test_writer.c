/*
 * writer.c: group commit, one data change + one entry per job, fail closed.
 * Every test runs a real SQLite store and an unsealed key-file keyring.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "audit/audit_fixture.h"
#include "tx_helpers.h"

static void assert_chain_ok(struct store *st, int64_t entries)
{
	struct audit_verify_result v;

	assert_int_equal(audit_verify(st, NULL, &v), PV_OK);
	if (!v.ok)
		fprintf(stderr, "verify: %s\n", v.reason);
	assert_true(v.ok);
	assert_int_equal(v.first_bad_seq, 0);
	assert_int_equal(v.entries, entries);
}

/* ---- 1000 entries from 4 threads ---- */

struct thread_arg {
	struct audit *a;
	int id;
	int failures;
};

static void *record_250(void *p)
{
	struct thread_arg *t = p;
	char res[64];

	for (int i = 0; i < 250; i++) {
		struct audit_event ev;

		snprintf(res, sizeof res, "collections/p/records/rec_%d_%d", t->id, i);
		ev = fx_event(res);
		if (audit_record(t->a, &ev) != PV_OK)
			t->failures++;
	}
	return NULL;
}

static void test_concurrent_1000_entries(void **state)
{
	struct fx f;
	pthread_t th[4];
	struct thread_arg ta[4];
	struct fx_rows rows;
	struct audit_verify_result v;
	int64_t seq, ncp = 0;
	char hash[65];

	(void)state;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_start(&f, 100, 3600), 0);
	for (int i = 0; i < 4; i++) {
		ta[i] = (struct thread_arg){ .a = f.audit, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, record_250, &ta[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ta[i].failures, 0);
	}
	audit_head(f.audit, &seq, hash);
	assert_int_equal(seq, 1000);
	audit_stop(f.audit);
	f.audit = NULL;

	assert_int_equal(fx_rows(f.st, &rows), PV_OK);
	assert_int_equal(rows.n, 1000);
	assert_int_equal(rows.first_seq, 1);
	assert_int_equal(rows.last_seq, 1000);
	assert_true(rows.contiguous);

	assert_int_equal(audit_verify(f.st, NULL, &v), PV_OK);
	assert_true(v.ok);
	assert_int_equal(v.entries, 1000);
	assert_string_equal(v.head, hash);
	assert_int_equal(TX_RD(f.st, store_checkpoint_count(tx, &ncp)), PV_OK);
	assert_true(ncp >= 10);
	assert_int_equal(v.checkpoints, ncp);
	fx_close(&f, 0);
}

/* ---- data change + entry in one transaction ---- */

struct meta_job {
	const char *key;
	enum pv_rc result;   /* what fn returns after writing */
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

static void test_commit_fn_success(void **state)
{
	struct fx *f = *state;
	struct meta_job j = { .key = "test.ok", .result = PV_OK };
	struct audit_event ev = fx_event("meta/test.ok");
	struct fx_rows rows;

	assert_int_equal(audit_commit(f->audit, &ev, put_meta, &j), PV_OK);
	assert_true(meta_present(f->st, "test.ok"));
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 1);
	assert_string_equal(rows.last_outcome, "allowed");
	assert_string_equal(rows.last_actor,
	    "{\"session_id\":\"ses_test\",\"source\":\"127.0.0.1\",\"user_id\":\"usr_test\"}");
	assert_string_equal(rows.last_detail, "{\"fields\":[\"name\",\"dob\"]}");
	/* A data change without an entry (internal housekeeping) is allowed too. */
	j.key = "test.noentry";
	assert_int_equal(audit_commit(f->audit, NULL, put_meta, &j), PV_OK);
	assert_true(meta_present(f->st, "test.noentry"));
	assert_chain_ok(f->st, 1);
}

static void test_commit_fn_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	struct meta_job j = { .key = "test.fail", .result = PV_E_CONFLICT };
	struct audit_event ev = fx_event("meta/test.fail");
	struct fx_rows rows;

	assert_int_equal(audit_commit(f->audit, &ev, put_meta, &j), PV_E_CONFLICT);
	assert_false(meta_present(f->st, "test.fail"));
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 1);
	assert_string_equal(rows.last_outcome, "error");
	assert_string_equal(rows.last_reason, pv_rc_name(PV_E_CONFLICT));
	assert_chain_ok(f->st, 1);
}

/* ---- audit_commit_held: a write answered from its commit, no waiting thread ---- */

struct fake_holder {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int taken, released;
	enum pv_rc rc;          /* the first non-OK release */
	bool arg_freed_first;   /* arg_free ran before the release */
	int frees;
};

static struct fake_holder fh;

static void fh_take(void *ctx)
{
	struct fake_holder *h = ctx;

	pthread_mutex_lock(&h->mu);
	h->taken++;
	pthread_mutex_unlock(&h->mu);
}

static void fh_release(void *ctx, enum pv_rc rc)
{
	struct fake_holder *h = ctx;

	pthread_mutex_lock(&h->mu);
	h->released++;
	if (rc != PV_OK && h->rc == PV_OK)
		h->rc = rc;
	h->arg_freed_first = h->frees == 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static const struct util_holder fake = { fh_take, fh_release, &fh };

static void held_arg_free(void *p)
{
	pthread_mutex_lock(&fh.mu);
	fh.frees++;
	pthread_mutex_unlock(&fh.mu);
	free(p);
}

static void fh_wait_released(void)
{
	pthread_mutex_lock(&fh.mu);
	while (fh.released < fh.taken || fh.taken == 0)
		pthread_cond_wait(&fh.cv, &fh.mu);
	pthread_mutex_unlock(&fh.mu);
}

static void fh_reset(void)
{
	pthread_mutex_destroy(&fh.mu);
	pthread_cond_destroy(&fh.cv);
	memset(&fh, 0, sizeof fh);
	pthread_mutex_init(&fh.mu, NULL);
	pthread_cond_init(&fh.cv, NULL);
}

static void held_one(struct fx *f, const char *key, enum pv_rc result)
{
	struct meta_job *j = malloc(sizeof *j);
	struct audit_event ev = fx_event("meta/test.held");
	uint64_t waits = util_request_thread_waits();

	assert_non_null(j);
	j->key = key;
	j->result = result;
	fh_reset();
	util_request_thread_set(true);
	util_request_holder_set(&fake);
	assert_int_equal(audit_commit_held(f->audit, &ev, put_meta, j, held_arg_free), PV_OK);
	util_request_holder_set(NULL);
	util_request_thread_set(false);
	/* queued with a hold, not waited for */
	assert_int_equal(util_request_thread_waits(), waits);
	fh_wait_released();
	assert_int_equal(fh.taken, 1);
	assert_int_equal(fh.released, 1);
	assert_int_equal(fh.frees, 1);
	assert_true(fh.arg_freed_first);   /* fn is done with arg before the answer leaves */
	assert_int_equal(fh.rc, result);
}

static void test_commit_held(void **state)
{
	struct fx *f = *state;
	struct fx_rows rows;
	struct meta_job *j;
	struct audit_event ev = fx_event("meta/test.held");

	/* success: durable before the hold is released */
	held_one(f, "test.held.ok", PV_OK);
	assert_true(meta_present(f->st, "test.held.ok"));
	/* fn's failure is the answer, nothing of it persists, the entry says error */
	held_one(f, "test.held.fail", PV_E_CONFLICT);
	assert_false(meta_present(f->st, "test.held.fail"));
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 2);
	assert_string_equal(rows.last_outcome, "error");
	assert_string_equal(rows.last_reason, pv_rc_name(PV_E_CONFLICT));
	/* off a request thread: synchronous, arg freed once */
	fh_reset();
	j = malloc(sizeof *j);
	assert_non_null(j);
	j->key = "test.held.sync";
	j->result = PV_OK;
	assert_int_equal(audit_commit_held(f->audit, &ev, put_meta, j, held_arg_free), PV_OK);
	assert_int_equal(fh.frees, 1);
	assert_int_equal(fh.taken, 0);
	assert_true(meta_present(f->st, "test.held.sync"));
	/* a bad event is refused before anything is queued, arg still freed */
	fh_reset();
	ev.action = NULL;
	util_request_thread_set(true);
	util_request_holder_set(&fake);
	assert_int_equal(audit_commit_held(f->audit, &ev, put_meta, malloc(sizeof *j),
	    held_arg_free), PV_E_INVALID);
	util_request_holder_set(NULL);
	util_request_thread_set(false);
	assert_int_equal(fh.frees, 1);
	assert_int_equal(fh.taken, fh.released);
	assert_chain_ok(f->st, 3);
}

/* Jobs that fail and jobs that succeed share groups; each keeps its own fate. */
struct mixed_arg {
	struct audit *a;
	int id;
	int bad;
};

static void *mixed_jobs(void *p)
{
	struct mixed_arg *m = p;
	char key[64];

	for (int i = 0; i < 60; i++) {
		struct meta_job j = { .key = key, .result = i % 3 == 0 ? PV_E_FORBIDDEN : PV_OK };
		struct audit_event ev = fx_event("meta/mixed");
		enum pv_rc rc;

		snprintf(key, sizeof key, "mixed.%d.%d", m->id, i);
		rc = audit_commit(m->a, &ev, put_meta, &j);
		if (rc != j.result)
			m->bad++;
	}
	return NULL;
}

static void test_mixed_jobs_isolated(void **state)
{
	struct fx *f = *state;
	pthread_t th[4];
	struct mixed_arg m[4];
	char key[64];

	for (int i = 0; i < 4; i++) {
		m[i] = (struct mixed_arg){ .a = f->audit, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, mixed_jobs, &m[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(m[i].bad, 0);
	}
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 60; i++) {
			snprintf(key, sizeof key, "mixed.%d.%d", t, i);
			assert_int_equal(meta_present(f->st, key), i % 3 != 0);
		}
	}
	assert_chain_ok(f->st, 240);
}

/* ---- fail closed ---- */

static void fault_case(struct fx *f, const char *op)
{
	struct meta_job j = { .key = "test.fault", .result = PV_OK };
	struct audit_event ev = fx_event("meta/test.fault");
	struct fx_rows rows;
	int64_t seq_before, seq_after;
	char h_before[65], h_after[65];

	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	audit_head(f->audit, &seq_before, h_before);

	store_fault_set(op, 1);
	assert_int_equal(audit_commit(f->audit, &ev, put_meta, &j), PV_E_AUDIT);
	assert_false(meta_present(f->st, "test.fault"));
	audit_head(f->audit, &seq_after, h_after);
	assert_int_equal(seq_after, seq_before);
	assert_string_equal(h_after, h_before);
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 1);

	/* The fault was one-shot: the next entries chain onto the reloaded head. */
	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	assert_int_equal(audit_commit(f->audit, &ev, put_meta, &j), PV_OK);
	assert_true(meta_present(f->st, "test.fault"));
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 3);
	assert_int_equal(rows.last_seq, 3);
	assert_true(rows.contiguous);
	assert_chain_ok(f->st, 3);
}

static void test_fault_commit(void **state)
{
	fault_case(*state, "tx_commit");
}

static void test_fault_append(void **state)
{
	fault_case(*state, "audit_append");
}

static void test_fault_begin(void **state)
{
	fault_case(*state, "tx_begin");
}

/* A failing head reload keeps failing writes until the head can be read. */
static void test_fault_head_reload(void **state)
{
	struct fx *f = *state;
	struct audit_event ev = fx_event("x");

	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	store_fault_set("audit_append", 1);
	store_fault_set("audit_head", -1);   /* the reload after the failure fails too */
	assert_int_equal(audit_record(f->audit, &ev), PV_E_AUDIT);
	assert_int_equal(audit_record(f->audit, &ev), PV_E_AUDIT);
	store_fault_set("audit_head", 0);
	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	assert_chain_ok(f->st, 2);
}

/* ---- input and lifecycle ---- */

static void test_invalid_event_refused(void **state)
{
	struct fx *f = *state;
	struct audit_event ev = fx_event("collections/p/records/rec_1\n<13>forged");
	struct meta_job j = { .key = "test.invalid", .result = PV_OK };
	struct fx_rows rows;

	assert_int_equal(audit_commit(f->audit, &ev, put_meta, &j), PV_E_INVALID);
	assert_false(meta_present(f->st, "test.invalid"));
	assert_int_equal(audit_record(f->audit, NULL), PV_E_INVALID);
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	assert_int_equal(rows.n, 0);
}

/* ---- the subject index (accounting of disclosures) ---- */

static int count_subject(const struct store_audit_row *row, void *arg)
{
	int64_t *n = arg;

	(void)row;
	(*n)++;
	return 0;
}

/* entries of ref through the index */
static int64_t subject_entries(struct store *st, const char *ref, int64_t *n)
{
	struct store_audit_subject_filter f = { .subject_ref = ref };
	enum pv_rc rc;

	*n = 0;
	rc = TX_RD(st, store_audit_subject_scan(tx, &f, count_subject, n));
	assert_int_equal(rc, PV_OK);
	return *n;
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

static void test_subjects_indexed_with_entry(void **state)
{
	struct fx *f = *state;
	char a[65], b[65];
	const char *both[] = { a, b, a };   /* a twice: stored once */
	const char *bad[] = { "not-hex" };
	struct audit_event ev = fx_event("collections/p/records/rec_1");
	struct done_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, PV_OK };
	struct fx_rows rows;
	int64_t last;

	memset(a, 'a', 64);
	a[64] = '\0';
	memset(b, 'b', 64);
	b[64] = '\0';
	ev.subjects = both;
	ev.nsubjects = 3;
	ev.recipient = "Acme Insurance, claims dept.";
	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	assert_int_equal(fx_rows(f->st, &rows), PV_OK);
	/* the refs and the recipient are in the hash-covered detail, sorted, unique */
	assert_string_equal(rows.last_detail, "{\"fields\":[\"name\",\"dob\"],"
	    "\"recipient\":\"Acme Insurance, claims dept.\",\"subjects\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"]}");
	assert_int_equal(subject_entries(f->st, a, &last), 1);
	assert_int_equal(subject_entries(f->st, b, &last), 1);

	/* the asynchronous form copies the refs: the caller's array may go */
	ev.subjects = both + 1;
	ev.nsubjects = 1;
	ev.recipient = NULL;
	assert_int_equal(audit_submit(f->audit, &ev, NULL, NULL, COMMIT_REQUEST, on_done, &w),
	    PV_OK);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	assert_int_equal(w.rc, PV_OK);
	assert_int_equal(subject_entries(f->st, b, &last), 2);
	assert_int_equal(subject_entries(f->st, a, &last), 1);

	/* a ref that is not one is refused before anything is written */
	ev.subjects = bad;
	ev.nsubjects = 1;
	assert_int_equal(audit_record(f->audit, &ev), PV_E_INVALID);
	/* a caller's detail may not forge the index's own keys */
	ev.subjects = NULL;
	ev.nsubjects = 0;
	ev.detail = "{\"subjects\":[\"x\"]}";
	assert_int_equal(audit_record(f->audit, &ev), PV_E_INVALID);
	assert_chain_ok(f->st, 2);
}

static void test_subject_index_rolls_back_with_entry(void **state)
{
	struct fx *f = *state;
	char a[65];
	const char *one[] = { a };
	struct audit_event ev = fx_event("collections/p/records/rec_1");
	int64_t last;

	memset(a, 'c', 64);
	a[64] = '\0';
	ev.subjects = one;
	ev.nsubjects = 1;
	store_fault_set("audit_subject_put", 1);
	assert_int_equal(audit_record(f->audit, &ev), PV_E_AUDIT);   /* fail closed */
	store_fault_clear_all();
	assert_int_equal(subject_entries(f->st, a, &last), 0);
	assert_chain_ok(f->st, 0);
	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	assert_int_equal(subject_entries(f->st, a, &last), 1);
}

static void test_after_stop_unavailable(void **state)
{
	struct fx f;
	struct audit_event ev = fx_event("x");
	struct fx_rows rows;

	(void)state;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_start(&f, 1000, 3600), 0);
	assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	audit_writer_drain(f.audit);
	assert_int_equal(audit_record(f.audit, &ev), PV_E_UNAVAILABLE);
	assert_int_equal(fx_rows(f.st, &rows), PV_OK);
	assert_int_equal(rows.n, 1);
	fx_close(&f, 0);
}

static int64_t checkpoints(struct store *st)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_checkpoint_count(tx, &n)), PV_OK);
	return n;
}

/* Checkpoints only while unsealed; the final one at stop covers the tail. */
static void test_checkpoints_follow_seal(void **state)
{
	struct fx f;
	struct audit_event ev = fx_event("x");
	struct audit_verify_result v;

	(void)state;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_start(&f, 5, 3600), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	/* The checkpoint is written right after the commit that reached 5 entries;
	 * the next record's group runs after it on the same thread. */
	assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	assert_int_equal(checkpoints(f.st), 1);

	keys_seal(f.keys);
	for (int i = 0; i < 12; i++)
		assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	assert_int_equal(checkpoints(f.st), 1);

	assert_int_equal(keys_unseal_keyfile(f.keys), PV_OK);
	audit_stop(f.audit);
	f.audit = NULL;
	assert_int_equal(audit_verify(f.st, NULL, &v), PV_OK);
	assert_true(v.ok);
	assert_int_equal(v.entries, 18);
	assert_true(v.checkpoints >= 2);
	fx_close(&f, 0);
}

/* A restarted writer continues the chain where it was. */
static void test_restart_continues_chain(void **state)
{
	struct fx f;
	struct audit_event ev = fx_event("x");
	struct fx_rows rows;

	(void)state;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_start(&f, 3, 3600), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	audit_stop(f.audit);
	assert_int_equal(fx_start(&f, 3, 3600), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(audit_record(f.audit, &ev), PV_OK);
	audit_stop(f.audit);
	f.audit = NULL;
	assert_int_equal(fx_rows(f.st, &rows), PV_OK);
	assert_int_equal(rows.n, 8);
	assert_true(rows.contiguous);
	assert_chain_ok(f.st, 8);
	fx_close(&f, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_1000_entries),
		cmocka_unit_test_setup_teardown(test_commit_fn_success, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_fn_failure_rolls_back, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_held, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_mixed_jobs_isolated, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_commit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_append, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_begin, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_head_reload, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_event_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_subjects_indexed_with_entry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_subject_index_rolls_back_with_entry, fx_setup,
		    fx_teardown),
		cmocka_unit_test(test_after_stop_unavailable),
		cmocka_unit_test(test_checkpoints_follow_seal),
		cmocka_unit_test(test_restart_continues_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
