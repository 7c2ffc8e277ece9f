/*
 * writer.c audit_tx_entry: the entries a transaction's fn adds commit with
 * the transaction's own, in order, in the chain and to the subscribers; a
 * failing fn turns them into error entries like its own; a group that does
 * not commit keeps none of them; outside an fn the call is refused.
 * A real SQLite store and an unsealed key-file keyring, as test_writer.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "audit/audit_fixture.h"
#include "tx_helpers.h"

/* A data change: a row, then n entries (resources meta/extra.<i>), then
 * result. */
struct job {
	const char *key;
	int n;
	enum pv_rc result;
	enum pv_rc added;      /* audit_tx_entry's rc */
};

static enum pv_rc two_step_fn(struct store_tx *tx, void *arg)
{
	struct job *j = arg;
	enum pv_rc rc = store_meta_put(tx, j->key, (const uint8_t *)"v", 1);

	for (int i = 0; rc == PV_OK && i < j->n; i++) {
		char res[32];
		struct audit_event ev = fx_event(res);

		/* the event's strings are this frame's: copied by the call */
		snprintf(res, sizeof res, "meta/extra.%d", i);
		ev.action = "approval.request";
		ev.reason = "pending";
		ev.detail = "{\"kind\":\"user.roles\"}";
		rc = j->added = audit_tx_entry(&ev);
	}
	return rc != PV_OK ? rc : j->result;
}

static bool meta_present(struct store *st, const char *key)
{
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc = TX_RD(st, store_meta_get(tx, key, &val, &len));

	free(val);
	return rc == PV_OK;
}

/* Every entry, in seq order: action, resource, outcome, reason. */
struct seen {
	int n;
	int64_t seq[8];
	char action[8][32], resource[8][32], outcome[8][16], reason[8][32];
};

static int seen_cb(const struct store_audit_row *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->seq[s->n] = r->seq;
		snprintf(s->action[s->n], sizeof s->action[0], "%s", r->action);
		snprintf(s->resource[s->n], sizeof s->resource[0], "%s", r->resource);
		snprintf(s->outcome[s->n], sizeof s->outcome[0], "%s", r->outcome);
		snprintf(s->reason[s->n], sizeof s->reason[0], "%s", r->reason);
	}
	s->n++;
	return 0;
}

static void trail(struct store *st, struct seen *s)
{
	struct store_audit_filter flt = { 0 };

	memset(s, 0, sizeof *s);
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &flt, seen_cb, s)), PV_OK);
}

static void assert_chain_ok(struct store *st, int64_t entries)
{
	struct audit_verify_result v;

	assert_int_equal(audit_verify(st, NULL, &v), PV_OK);
	assert_true(v.ok);
	assert_int_equal(v.entries, entries);
}

/* Subscribers: the rows of each group, in order. */
struct sub {
	pthread_mutex_t mu;
	int calls;
	int rows;
	char action[8][32];
};

static void on_rows(const struct store_audit_row *const *rows, size_t n, void *arg)
{
	struct sub *s = arg;

	pthread_mutex_lock(&s->mu);
	s->calls++;
	for (size_t i = 0; i < n; i++) {
		if (s->rows < 8)
			snprintf(s->action[s->rows], sizeof s->action[0], "%s", rows[i]->action);
		s->rows++;
	}
	pthread_mutex_unlock(&s->mu);
}

static void test_entries_commit_with_the_transaction(void **state)
{
	struct fx *f = *state;
	struct job j = { .key = "tx.two", .n = 2, .result = PV_OK };
	struct audit_event ev = fx_event("meta/tx.two");
	struct seen s;

	ev.action = "user.create";
	assert_int_equal(audit_commit(f->audit, &ev, two_step_fn, &j), PV_OK);
	assert_int_equal(j.added, PV_OK);
	assert_true(meta_present(f->st, "tx.two"));
	trail(f->st, &s);
	/* the transaction's own entry, then fn's, in call order */
	assert_int_equal(s.n, 3);
	assert_string_equal(s.action[0], "user.create");
	assert_string_equal(s.resource[0], "meta/tx.two");
	assert_string_equal(s.action[1], "approval.request");
	assert_string_equal(s.resource[1], "meta/extra.0");
	assert_string_equal(s.resource[2], "meta/extra.1");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s.seq[i], i + 1);
		assert_string_equal(s.outcome[i], "allowed");
	}
	assert_string_equal(s.reason[1], "pending");
	/* a transaction without an entry of its own: fn's alone */
	j = (struct job){ .key = "tx.only", .n = 1, .result = PV_OK };
	assert_int_equal(audit_commit(f->audit, NULL, two_step_fn, &j), PV_OK);
	trail(f->st, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.resource[3], "meta/extra.0");
	assert_chain_ok(f->st, 4);
}

static void test_failed_fn_records_every_entry_as_error(void **state)
{
	struct fx *f = *state;
	struct job j = { .key = "tx.fail", .n = 1, .result = PV_E_CONFLICT };
	struct audit_event ev = fx_event("meta/tx.fail");
	struct seen s;

	assert_int_equal(audit_commit(f->audit, &ev, two_step_fn, &j), PV_E_CONFLICT);
	assert_false(meta_present(f->st, "tx.fail"));   /* fn's change rolled back */
	trail(f->st, &s);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(s.outcome[i], "error");
		assert_string_equal(s.reason[i], pv_rc_name(PV_E_CONFLICT));
	}
	assert_chain_ok(f->st, 2);
}

static void test_group_failure_keeps_none(void **state)
{
	struct fx *f = *state;
	struct job j = { .key = "tx.lost", .n = 2, .result = PV_OK };
	struct audit_event ev = fx_event("meta/tx.lost");
	struct seen s;

	store_fault_set("tx_commit", 1);
	assert_int_equal(audit_commit(f->audit, &ev, two_step_fn, &j), PV_E_AUDIT);
	assert_false(meta_present(f->st, "tx.lost"));
	trail(f->st, &s);
	assert_int_equal(s.n, 0);
	/* the chain goes on from the head on disk */
	j = (struct job){ .key = "tx.next", .n = 1, .result = PV_OK };
	assert_int_equal(audit_commit(f->audit, &ev, two_step_fn, &j), PV_OK);
	trail(f->st, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 1);
	assert_chain_ok(f->st, 2);
}

struct done_flag {
	int calls;
	enum pv_rc rc;
};

static void on_done(enum pv_rc rc, void *arg)
{
	struct done_flag *d = arg;

	d->calls++;
	d->rc = rc;
}

static void test_submitted_and_subscribed(void **state)
{
	struct fx *f = *state;
	static struct sub sub = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct job *j = calloc(1, sizeof *j);
	struct audit_event ev = fx_event("meta/tx.async");
	struct done_flag d = { 0, PV_E_INTERNAL };
	struct audit_event after = fx_event("meta/after");
	struct seen s;

	assert_non_null(j);
	*j = (struct job){ .key = "tx.async", .n = 1, .result = PV_OK };
	assert_int_equal(commit_subscribe(audit_queue(f->audit), on_rows, &sub), PV_OK);
	ev.action = "app.create";
	assert_int_equal(audit_submit(f->audit, &ev, two_step_fn, j, COMMIT_REQUEST, on_done, &d),
	    PV_OK);
	/* a later commit returns after the earlier one's completion ran */
	assert_int_equal(audit_record(f->audit, &after), PV_OK);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, PV_OK);
	free(j);
	trail(f->st, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.action[0], "app.create");
	assert_string_equal(s.action[1], "approval.request");
	/* the subscribers saw every entry, the added one included */
	pthread_mutex_lock(&sub.mu);
	assert_int_equal(sub.rows, 3);
	assert_string_equal(sub.action[0], "app.create");
	assert_string_equal(sub.action[1], "approval.request");
	pthread_mutex_unlock(&sub.mu);
	assert_chain_ok(f->st, 3);
}

static void test_refused_outside_a_transaction(void **state)
{
	struct fx *f = *state;
	struct audit_event ev = fx_event("meta/outside");
	struct seen s;

	assert_int_equal(audit_tx_entry(&ev), PV_E_INVALID);
	assert_int_equal(audit_tx_entry(NULL), PV_E_INVALID);
	trail(f->st, &s);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_entries_commit_with_the_transaction, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_fn_records_every_entry_as_error, fx_setup,
		    fx_teardown),
		cmocka_unit_test_setup_teardown(test_group_failure_keeps_none, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_submitted_and_subscribed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refused_outside_a_transaction, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
