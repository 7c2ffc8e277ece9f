/*
 * Store fault injection: store_fault_set makes a chosen op fail with PV_E_IO
 * so that callers' failure paths ("audit write fails") can be tested. What
 * is checked is what a caller sees: the error, and that nothing was written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"

static enum pv_rc append_tx(struct store_tx *tx, int64_t seq)
{
	struct store_audit_row r = {
		.seq = seq, .time = "2026-01-01T00:00:00.000Z",
		.actor = "{\"user_id\":\"usr_a\",\"session_id\":\"\",\"source\":\"\"}",
		.action = "record.read", .resource = "rec_1", .purpose_of_use = "",
		.outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = "0000000000000000000000000000000000000000000000000000000000000000",
		.hash = "1111111111111111111111111111111111111111111111111111111111111111",
	};

	return store_audit_append(tx, &r);
}

static enum pv_rc append(struct store *st, int64_t seq)
{
	return TX_WR(st, append_tx(tx, seq));
}

static int64_t head_seq(struct store *st)
{
	char h[65];
	int64_t seq = -1;

	assert_int_equal(TX_RD(st, store_audit_head(tx, &seq, h)), PV_OK);
	return seq;
}

static int count_cb(const struct store_audit_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int audit_rows(struct store *st)
{
	int n = 0;

	assert_int_equal(TX_RD(st, store_audit_scan(tx, NULL, count_cb, &n)), PV_OK);
	return n;
}

static void test_next_call_fails_once(void **state)
{
	struct st_fx *f = *state;

	store_fault_set("audit_append", 1);
	assert_int_equal(append(f->st, 1), PV_E_IO);
	assert_int_equal(head_seq(f->st), 0);
	assert_int_equal(audit_rows(f->st), 0);
	assert_int_equal(append(f->st, 1), PV_OK);
	assert_int_equal(head_seq(f->st), 1);
	assert_int_equal(append(f->st, 2), PV_OK);
	assert_int_equal(audit_rows(f->st), 2);
}

static void test_nth_call_fails(void **state)
{
	struct st_fx *f = *state;

	store_fault_set("audit_append", 3);
	assert_int_equal(append(f->st, 1), PV_OK);
	assert_int_equal(append(f->st, 2), PV_OK);
	assert_int_equal(append(f->st, 3), PV_E_IO);
	assert_int_equal(append(f->st, 3), PV_OK);
	assert_int_equal(audit_rows(f->st), 3);
}

static void test_always_until_cleared(void **state)
{
	struct st_fx *f = *state;
	const uint8_t v[1] = { 7 };

	store_fault_set("audit_append", -1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(append(f->st, 1), PV_E_IO);
	/* other ops are unaffected */
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "k", v, 1)), PV_OK);
	store_fault_set("audit_append", 0);
	assert_int_equal(append(f->st, 1), PV_OK);

	store_fault_set("audit_append", -1);
	store_fault_set("meta_put", -1);
	assert_int_equal(append(f->st, 2), PV_E_IO);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "k", v, 1)), PV_E_IO);
	store_fault_clear_all();
	assert_int_equal(append(f->st, 2), PV_OK);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "k", v, 1)), PV_OK);
	assert_int_equal(audit_rows(f->st), 2);
}

/* The audit writer's path: the group commit fails, the batch rolls back,
 * nothing of it is visible. */
static void test_commit_fault_loses_the_batch(void **state)
{
	struct st_fx *f = *state;
	struct store_tx *tx;

	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(append_tx(tx, 1), PV_OK);
	assert_int_equal(append_tx(tx, 2), PV_OK);
	store_fault_set("tx_commit", 1);
	assert_int_equal(store_commit(tx), PV_E_IO);
	store_end(tx);
	assert_int_equal(head_seq(f->st), 0);

	assert_int_equal(store_begin(f->st, STORE_WR, &tx), PV_OK);
	assert_int_equal(append_tx(tx, 1), PV_OK);
	assert_int_equal(store_commit(tx), PV_OK);
	store_end(tx);
	assert_int_equal(head_seq(f->st), 1);
}

static void test_open_fault(void **state)
{
	struct st_fx *f = *state;
	struct store *st = NULL;

	store_fault_set("open", 1);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &st), PV_E_IO);
	assert_null(st);
	assert_int_equal(store_open(f->dir, "sqlite", NULL, false, &st), PV_OK);
	store_close(st);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, st_fx_setup, st_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_next_call_fails_once),
		T(test_nth_call_fails),
		T(test_always_until_cleared),
		T(test_commit_fault_loses_the_batch),
		T(test_open_fault),
	};

#ifndef PV_FAULT_INJECTION
	return 0;   /* built without the hook: nothing to test */
#endif
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
