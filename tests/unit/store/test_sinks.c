/* store_sinks.h: the delivery cursors of the SIEM sinks (migration 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/store_test.h"
#include "tx_helpers.h"

static void test_cursor_round_trip(void **state)
{
	struct st_fx *f = *state;
	struct store_sink_cursor c, got;

	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "syslog", &got)), PV_E_NOTFOUND);
	memset(&c, 0, sizeof c);
	util_strlcpy(c.name, "syslog", sizeof c.name);
	c.seq = 42;
	c.delivered = 40;
	util_strlcpy(c.last_error, "connect 127.0.0.1:1: Connection refused", sizeof c.last_error);
	c.updated_ms = 1234;
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "syslog", &got)), PV_OK);
	assert_string_equal(got.name, "syslog");
	assert_int_equal(got.seq, 42);
	assert_int_equal(got.delivered, 40);
	assert_string_equal(got.last_error, c.last_error);
	assert_int_equal(got.updated_ms, 1234);
	/* a later put replaces the row; other sinks are separate */
	c.seq = 50;
	c.delivered = 48;
	c.last_error[0] = '\0';
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "syslog", &got)), PV_OK);
	assert_int_equal(got.seq, 50);
	assert_string_equal(got.last_error, "");
	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "cef", &got)), PV_E_NOTFOUND);
}

static void test_cursor_refuses_bad_rows_and_faults(void **state)
{
	struct st_fx *f = *state;
	struct store_sink_cursor c, got;

	memset(&c, 0, sizeof c);
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_E_INVALID);   /* no name */
	util_strlcpy(c.name, "cef", sizeof c.name);
	c.seq = -1;
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_E_INVALID);
	c.seq = 3;
	store_fault_set("sink_cursor_put", 1);
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_E_IO);
	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "cef", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_sink_cursor_put(tx, &c)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_sink_cursor_get(tx, "cef", &got)), PV_OK);
	assert_int_equal(got.seq, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cursor_round_trip, st_fx_setup, st_fx_teardown),
		cmocka_unit_test_setup_teardown(test_cursor_refuses_bad_rows_and_faults, st_fx_setup,
		    st_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
