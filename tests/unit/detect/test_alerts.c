/*
 * The alert operations (alerts.c) with no HTTP: list with its filter and
 * its alert.read entry (recorded before anything is answered; nothing is
 * answered if it cannot be), ack with its alert.ack entry that never holds
 * the note, and one alert read back as the API shows it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect_fixture.h"
#include "tx_helpers.h"

static int
setup(void **state)
{
	return detect_fx_setup(state, "detect-alerts");
}

static int
teardown(void **state)
{
	return detect_fx_teardown(state);
}

/* Ten failed logins on usr_target: one brute_force alert. */
static void
brute_force(struct fx *f)
{
	struct audit_event ev = {
		.actor = { .user_id = "usr_target", .source = "10.9.9.9" },
		.action = "auth.login",
		.resource = "users/usr_target",
		.outcome = AUDIT_DENIED,
		.reason = "bad_password",
	};

	for (int i = 0; i < 10; i++)
		assert_int_equal(audit_record(f->audit, &ev), PV_OK);
}

struct grep {
	const char *action;
	const char *needle;
	int n, hits;
};

static int
grep_cb(const struct store_audit_row *row, void *arg)
{
	struct grep *g = arg;

	if (strcmp(row->action, g->action) == 0) {
		g->n++;
		if (g->needle != NULL && row->detail != NULL && strstr(row->detail, g->needle))
			g->hits++;
	}
	return 0;
}

static struct grep
entries(struct fx *f, const char *action, const char *needle)
{
	struct grep g = { action, needle, 0, 0 };

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, grep_cb, &g)), PV_OK);
	return g;
}

static void
test_list_and_ack_without_http(void **state)
{
	struct fx *f = *state;
	struct pv_actor aud = { .kind = PV_ACTOR_USER, .user_id = "usr_auditor" };
	struct detect_alert_query all = { NULL, NULL, NULL };
	struct detect_alert_query open = { "open", "brute_force", "10" };
	struct detect_alert_query acked = { "acknowledged", NULL, NULL };
	json_t *arr = NULL, *o = NULL;
	char msg[128], id[UTIL_ID_MAX];

	brute_force(f);
	/* the list settles first: the alert the traffic raised is in it */
	assert_int_equal(detect_alert_list(f->d, &aud, &open, &arr, msg, sizeof(msg)), PV_OK);
	assert_int_equal(json_array_size(arr), 1);
	o = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "brute_force");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "open");
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(o, "id")));
	json_decref(arr);
	assert_int_equal(entries(f, "alert.read", "\"limit\":10").hits, 1);

	assert_int_equal(detect_alert_ack(f->d, &aud, id, "false positive: pen test"), PV_OK);
	assert_int_equal(detect_alert_get(f->d, &aud, id, &o), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "acknowledged");
	assert_string_equal(json_string_value(json_object_get(o, "ack_by")), "usr_auditor");
	assert_string_equal(json_string_value(json_object_get(o, "ack_note")),
	    "false positive: pen test");
	json_decref(o);
	/* the note stays in the alert row, never in the trail */
	assert_int_equal(entries(f, "alert.ack", "pen test").n, 1);
	assert_int_equal(entries(f, "alert.ack", "pen test").hits, 0);

	arr = NULL;
	assert_int_equal(detect_alert_list(f->d, &aud, &open, &arr, msg, sizeof(msg)), PV_OK);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	assert_int_equal(detect_alert_list(f->d, &aud, &acked, &arr, msg, sizeof(msg)), PV_OK);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	assert_int_equal(detect_alert_list(f->d, &aud, &all, &arr, msg, sizeof(msg)), PV_OK);
	assert_int_equal(json_array_size(arr), 1);
	json_decref(arr);
	assert_int_equal(detect_alert_get(f->d, &aud, "alt_aaaaaaaaaaaaaaaaaaaaaaaaaa", &o),
	    PV_E_NOTFOUND);
	assert_int_equal(detect_alert_get(f->d, &aud, "not-an-id", &o), PV_E_NOTFOUND);
}

/* Bad filters are refused before anything is recorded; an alert.read that
 * cannot be recorded answers nothing. */
static void
test_list_refusals(void **state)
{
	struct fx *f = *state;
	struct pv_actor aud = { .kind = PV_ACTOR_USER, .user_id = "usr_auditor" };
	struct detect_alert_query q;
	json_t *arr = NULL;
	char msg[128];

	q = (struct detect_alert_query){ "closed", NULL, NULL };
	assert_int_equal(detect_alert_list(f->d, &aud, &q, &arr, msg, sizeof(msg)), PV_E_INVALID);
	assert_string_equal(msg, "status: open or acknowledged");
	q = (struct detect_alert_query){ NULL, "no_such_rule", NULL };
	assert_int_equal(detect_alert_list(f->d, &aud, &q, &arr, msg, sizeof(msg)), PV_E_INVALID);
	q = (struct detect_alert_query){ NULL, NULL, "0" };
	assert_int_equal(detect_alert_list(f->d, &aud, &q, &arr, msg, sizeof(msg)), PV_E_INVALID);
	q = (struct detect_alert_query){ NULL, NULL, "1001" };
	assert_int_equal(detect_alert_list(f->d, &aud, &q, &arr, msg, sizeof(msg)), PV_E_INVALID);
	assert_string_equal(msg, "limit: an integer from 1 to 1000");
	assert_int_equal(entries(f, "alert.read", NULL).n, 0);

	brute_force(f);
	q = (struct detect_alert_query){ NULL, NULL, NULL };
	detect_settle(f->d, 10000);
	store_fault_set("audit_append", -1);
	assert_int_equal(detect_alert_list(f->d, &aud, &q, &arr, msg, sizeof(msg)), PV_E_AUDIT);
	store_fault_clear_all();
	assert_null(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_ack_without_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_refusals, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
