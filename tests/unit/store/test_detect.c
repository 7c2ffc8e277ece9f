/* store: the detect domain (migration 9): alerts open -> acknowledged, bumps
 * and acks only while open, list filters and order, the detector's state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test.h"
#include "tx_helpers.h"

static void
alert(struct store_alert *a, const char *id, const char *rule, int64_t last)
{
	memset(a, 0, sizeof(*a));
	util_strlcpy(a->id, id, sizeof(a->id));
	util_strlcpy(a->rule, rule, sizeof(a->rule));
	util_strlcpy(a->severity, "high", sizeof(a->severity));
	util_strlcpy(a->actor, "usr_a", sizeof(a->actor));
	util_strlcpy(a->source, "10.0.0.1", sizeof(a->source));
	a->first_seen_ms = last - 10;
	a->last_seen_ms = last;
	a->count = 10;
}

struct seen {
	int n;
	char ids[8][UTIL_ID_MAX];
};

static int
seen_cb(const struct store_alert *a, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		util_strlcpy(s->ids[s->n], a->id, UTIL_ID_MAX);
	s->n++;
	return 0;
}

static void
test_alerts(void **state)
{
	struct st_fx *f = *state;
	struct store_alert a, got;
	struct store_alert_filter all = { 0 }, open = { .status = "open" },
	    bf = { .rule = "brute_force", .limit = 1 };
	struct seen s;

	alert(&a, "alt_1", "brute_force", 1000);
	assert_int_equal(TX_WR(f->st, store_alert_put(tx, &a)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_alert_put(tx, &a)), PV_E_CONFLICT);
	alert(&a, "alt_2", "bulk_read", 2000);
	assert_int_equal(TX_WR(f->st, store_alert_put(tx, &a)), PV_OK);
	alert(&a, "alt_3", "brute_force", 3000);
	assert_int_equal(TX_WR(f->st, store_alert_put(tx, &a)), PV_OK);
	a.count = 0;
	assert_int_equal(TX_WR(f->st, store_alert_put(tx, &a)), PV_E_INVALID);

	assert_int_equal(TX_WR(f->st, store_alert_bump(tx, "alt_1", 2, 5000)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_alert_bump(tx, "alt_1", 1, 4000)), PV_OK);   /* never back */
	assert_int_equal(TX_RD(f->st, store_alert_get(tx, "alt_1", &got)), PV_OK);
	assert_int_equal(got.count, 13);
	assert_int_equal(got.last_seen_ms, 5000);
	assert_int_equal(got.first_seen_ms, 990);
	assert_string_equal(got.status, "open");

	assert_int_equal(TX_WR(f->st, store_alert_ack(tx, "alt_1", "checked", "usr_aud", 6000)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_alert_ack(tx, "alt_1", "again", "usr_aud", 7000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_alert_bump(tx, "alt_1", 1, 8000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_alert_ack(tx, "alt_9", "x", "usr_aud", 7000)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(f->st, store_alert_get(tx, "alt_1", &got)), PV_OK);
	assert_string_equal(got.status, "acknowledged");
	assert_string_equal(got.ack_note, "checked");
	assert_string_equal(got.ack_by, "usr_aud");
	assert_int_equal(got.ack_ms, 6000);
	assert_int_equal(got.count, 13);
	assert_int_equal(TX_RD(f->st, store_alert_get(tx, "alt_9", &got)), PV_E_NOTFOUND);

	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(f->st, store_alert_list(tx, &all, seen_cb, &s)), PV_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.ids[0], "alt_1");   /* newest last_seen first */
	assert_string_equal(s.ids[1], "alt_3");
	assert_string_equal(s.ids[2], "alt_2");
	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(f->st, store_alert_list(tx, &open, seen_cb, &s)), PV_OK);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(TX_RD(f->st, store_alert_list(tx, &bf, seen_cb, &s)), PV_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "alt_1");
}

static void
test_state(void **state)
{
	struct st_fx *f = *state;
	char *v = NULL;

	assert_int_equal(TX_RD(f->st, store_detect_state_get(tx, "position", &v)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(f->st, store_detect_state_put(tx, "position", "{\"seq\":4}", 1)), PV_OK);
	assert_int_equal(TX_WR(f->st, store_detect_state_put(tx, "position", "{\"seq\":9}", 2)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_detect_state_get(tx, "position", &v)), PV_OK);
	assert_string_equal(v, "{\"seq\":9}");
	free(v);
	assert_int_equal(TX_WR(f->st, store_detect_state_put(tx, "", "x", 1)), PV_E_INVALID);
	/* a failing statement is an error, never a partial write */
	store_fault_set("detect_state_put", 1);
	assert_int_equal(TX_WR(f->st, store_detect_state_put(tx, "position", "{\"seq\":10}", 3)), PV_E_IO);
	store_fault_clear_all();
	assert_int_equal(TX_RD(f->st, store_detect_state_get(tx, "position", &v)), PV_OK);
	assert_string_equal(v, "{\"seq\":9}");
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alerts, st_fx_setup, st_fx_teardown),
		cmocka_unit_test_setup_teardown(test_state, st_fx_setup, st_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
