/*
 * detect engine against the real lower stack (store, keyring, audit chain,
 * commit queue): entries that do not fit the detector's queue are read back
 * from the audit table (none is lost), an alert is one alerts row plus its
 * own alert.raised entry, repeats count on the open alert, and a restart
 * resumes from the persisted position without re-raising.
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
	return detect_fx_setup(state, "detect-engine");
}

static int
teardown(void **state)
{
	return detect_fx_teardown(state);
}

/* A failed login on account usr_target from 10.9.9.9; pad bytes of detail. */
static void
failed_login(struct fx *f, size_t pad)
{
	char *detail = malloc(pad + 64);
	struct audit_event ev = {
		.actor = { .user_id = "usr_target", .source = "10.9.9.9" },
		.action = "auth.login",
		.resource = "users/usr_target",
		.outcome = AUDIT_DENIED,
		.reason = "bad_password",
	};

	assert_non_null(detail);
	strcpy(detail, "{\"pad\":\"");
	memset(detail + 8, 'x', pad);
	strcpy(detail + 8 + pad, "\",\"username\":\"target\"}");
	ev.detail = detail;
	assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	free(detail);
}

struct alerts {
	int n;
	struct store_alert last;
};

static int
alert_cb(const struct store_alert *a, void *arg)
{
	struct alerts *x = arg;

	x->n++;
	x->last = *a;
	return 0;
}

static struct alerts
list(struct fx *f)
{
	struct alerts x = { 0 };
	struct store_alert_filter flt = { 0 };

	detect_settle(f->d, 10000);
	assert_int_equal(TX_RD(f->st, store_alert_list(tx, &flt, alert_cb, &x)), PV_OK);
	return x;
}

static int
raised_cb(const struct store_audit_row *row, void *arg)
{
	int *n = arg;

	/* a raise whose row failed is recorded too, as an error (reason: the
	 * code): only the allowed ones are alerts */
	if (strcmp(row->action, "alert.raised") == 0 && strcmp(row->outcome, "allowed") == 0) {
		assert_string_equal(row->reason, "brute_force");
		assert_true(strstr(row->detail, "usr_target") != NULL);
		assert_true(strstr(row->detail, "\"target\"") == NULL);   /* no typed name */
		(*n)++;
	}
	return 0;
}

static int
raised_entries(struct fx *f)
{
	struct store_audit_filter flt = { .action = "alert.raised" };
	int n = 0;

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, &flt, raised_cb, &n)), PV_OK);
	return n;
}

static void
test_dropped_entries_are_read_back(void **state)
{
	struct fx *f = *state;
	struct alerts x;

	/* every one of these is larger than a queue slot: the subscriber drops
	 * it and the detector reads it from the audit table */
	for (int i = 0; i < 9; i++)
		failed_login(f, DETECT_SLOT_BYTES + 100);
	x = list(f);
	assert_int_equal(x.n, 0);
	/* the tenth fits: the gap before it is read back first */
	failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_string_equal(x.last.rule, "brute_force");
	assert_string_equal(x.last.actor, "usr_target");
	assert_string_equal(x.last.source, "10.9.9.9");
	assert_string_equal(x.last.status, "open");
	assert_int_equal(x.last.count, 10);
	assert_int_equal(raised_entries(f), 1);
	/* two more, one of them too large: counted on the open alert */
	failed_login(f, DETECT_SLOT_BYTES * 2);
	failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 12);
	assert_int_equal(raised_entries(f), 1);
}

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;
static int done_n, done_bad;

static void
async_done(enum pv_rc rc, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_mu);
	done_n++;
	if (rc != PV_OK)
		done_bad++;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

/* Holds the committer inside its group until released. */
static enum pv_rc
gate_fn(struct store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	pthread_mutex_lock(&gate_mu);
	gate_entered = true;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	return PV_OK;
}

/* A full queue: the detector reads what the subscriber dropped. */
static void
test_queue_full(void **state)
{
	struct fx *f = *state;
	struct audit_config ac = { .checkpoint_every = 1000, .checkpoint_interval_s = 60 };
	struct audit_event ev = {
		.actor = { .user_id = "usr_target", .source = "10.9.9.9" },
		.action = "auth.login",
		.resource = "users/usr_target",
		.outcome = AUDIT_DENIED,
		.reason = "bad_password",
	};
	struct alerts x;
	uint64_t dropped;

	/* a detector whose queue holds one entry */
	detect_stop(f->d);
	audit_stop(f->audit);
	detect_free(f->d);
	detect_queue_cap = 1;
	assert_int_equal(audit_start(f->st, f->keys, &ac, &f->audit), PV_OK);
	assert_int_equal(detect_start(f->st, f->audit, NULL, &f->cfg, &f->d), PV_OK);
	detect_queue_cap = DETECT_QUEUE_MAX;
	/* the committer held by a gate while 50 failures queue: they commit as
	 * one group, and the subscriber can keep only one of them */
	gate_open = gate_entered = false;
	done_n = done_bad = 0;
	assert_int_equal(audit_submit(f->audit, NULL, gate_fn, NULL, COMMIT_REQUEST, async_done,
	    NULL), PV_OK);
	pthread_mutex_lock(&gate_mu);
	while (!gate_entered)
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	for (int i = 0; i < 50; i++)
		assert_int_equal(audit_submit(f->audit, &ev, NULL, NULL, COMMIT_REQUEST, async_done,
		    NULL), PV_OK);
	pthread_mutex_lock(&gate_mu);
	gate_open = true;
	pthread_cond_broadcast(&gate_cv);
	while (done_n < 51)   /* durable: detect_settle covers what is committed */
		pthread_cond_wait(&gate_cv, &gate_mu);
	pthread_mutex_unlock(&gate_mu);
	assert_int_equal(done_bad, 0);
	x = list(f);
	pthread_mutex_lock(&f->d->mu);
	dropped = f->d->dropped;
	pthread_mutex_unlock(&f->d->mu);
	assert_true(dropped > 0);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 50);   /* 10 at the first hit, then one per failure */
	assert_int_equal(raised_entries(f), 1);
}

static void
test_restart_resumes(void **state)
{
	struct fx *f = *state;
	struct audit_config ac = { .checkpoint_every = 1000, .checkpoint_interval_s = 60 };
	struct alerts x;
	char *pos = NULL;
	int64_t head, saved;
	char hash[65];

	for (int i = 0; i < 10; i++)
		failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 10);
	/* stop: the position is saved through the commit queue before it stops */
	detect_stop(f->d);
	audit_head(f->audit, &head, hash);
	audit_stop(f->audit);
	detect_free(f->d);
	assert_int_equal(TX_RD(f->st, store_detect_state_get(tx, "position", &pos)), PV_OK);
	assert_int_equal(sscanf(pos, "{\"seq\":%lld}", (long long *)&saved), 1);
	assert_int_equal(saved, head);
	free(pos);
	/* start again: nothing re-read, nothing raised again */
	assert_int_equal(audit_start(f->st, f->keys, &ac, &f->audit), PV_OK);
	assert_int_equal(detect_start(f->st, f->audit, NULL, &f->cfg, &f->d), PV_OK);
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 10);
	assert_int_equal(raised_entries(f), 1);
	/* the attack again: windows restarted, the 10th hit counts on the open alert */
	for (int i = 0; i < 10; i++)
		failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 11);
	assert_int_equal(raised_entries(f), 1);
}

static void
test_ack_then_new_alert(void **state)
{
	struct fx *f = *state;
	struct pv_actor aud = { .kind = PV_ACTOR_USER, .user_id = "usr_auditor" };
	struct alerts x;
	char id[UTIL_ID_MAX];

	for (int i = 0; i < 10; i++)
		failed_login(f, 10);
	x = list(f);
	util_strlcpy(id, x.last.id, sizeof(id));
	assert_int_equal(detect_alert_ack(f->d, &aud, id, "looked at it"), PV_OK);
	assert_int_equal(detect_alert_ack(f->d, &aud, id, "again"), PV_E_CONFLICT);
	assert_int_equal(detect_alert_ack(f->d, &aud, "alt_aaaaaaaaaaaaaaaaaaaaaaaaaa", "x"),
	    PV_E_NOTFOUND);
	assert_int_equal(detect_alert_ack(f->d, &aud, id, "bad\001"), PV_E_INVALID);
	failed_login(f, 10);   /* the window still holds 11: a new alert */
	x = list(f);
	assert_int_equal(x.n, 2);
	assert_int_equal(raised_entries(f), 2);
}

/* A raise whose commit fails is forgotten: the next hit raises it again. */
static void
test_failed_raise_retried(void **state)
{
	struct fx *f = *state;
	struct alerts x;

	for (int i = 0; i < 9; i++)
		failed_login(f, 10);
	detect_settle(f->d, 10000);
	store_fault_set("alert_put", 1);       /* the raise's transaction fails */
	failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 0);
	assert_int_equal(raised_entries(f), 0);   /* recorded as an error, not as a raise */
	failed_login(f, 10);
	x = list(f);
	store_fault_clear_all();
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 11);
	assert_int_equal(raised_entries(f), 1);
}

/* Reading the audit table fails while entries are missing from the queue:
 * the detector stays before the gap and reads it once the store answers. */
static void
test_catchup_read_fails(void **state)
{
	struct fx *f = *state;
	struct alerts x;

	store_fault_set("audit_scan", -1);
	for (int i = 0; i < 5; i++)
		failed_login(f, DETECT_SLOT_BYTES + 1);   /* dropped: only in the table */
	for (int i = 0; i < 5; i++)
		failed_login(f, 10);                      /* queued, behind the gap */
	detect_settle(f->d, 100);   /* the detector tries (and fails) meanwhile */
	store_fault_clear_all();
	x = list(f);
	assert_int_equal(x.n, 1);
	assert_int_equal(x.last.count, 10);
}

/* [detect] enabled = off: no detector; the routes' operations still work. */
static void
test_disabled(void **state)
{
	struct fx *f = *state;
	struct audit_config ac = { .checkpoint_every = 1000, .checkpoint_interval_s = 60 };
	struct alerts x;

	detect_stop(f->d);
	audit_stop(f->audit);
	detect_free(f->d);
	util_strlcpy(f->cfg.detect_enabled, "off", sizeof(f->cfg.detect_enabled));
	assert_int_equal(audit_start(f->st, f->keys, &ac, &f->audit), PV_OK);
	assert_int_equal(detect_start(f->st, f->audit, NULL, &f->cfg, &f->d), PV_OK);
	for (int i = 0; i < 12; i++)
		failed_login(f, 10);
	x = list(f);
	assert_int_equal(x.n, 0);
	assert_int_equal(raised_entries(f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dropped_entries_are_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_then_new_alert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_raise_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_read_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
