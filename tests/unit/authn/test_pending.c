/*
 * pending.c, the completion helper of the authentication operations: a
 * submitted step's continuation runs after the group (on the committer, or
 * on a worker when asked), the caller's completion runs exactly once with
 * the answer, a refusal answers its code only once its entry is durable
 * and PV_E_AUDIT when it is not (fail closed), and two concurrent wrong
 * passwords are both counted by the lockout (the reservation is a
 * transaction, submitted before the verify).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "authn_fixture.h"

#define PW "plum velvet harbor 42"
#define SRC "198.51.100.9"

struct probe {
	struct authn_op op;
	pthread_t committer, worker;
	int steps;
};

struct seen {
	int calls;
	enum pv_rc rc;
	char message[AUTHN_MSG_MAX];
	json_t *out;
};

static void
on_done(enum pv_rc rc, json_t *out, const struct authn_result *ar, void *arg)
{
	struct seen *s = arg;

	s->calls++;
	s->rc = rc;
	s->out = out;
	snprintf(s->message, sizeof(s->message), "%s", ar->message);
}

static void
ev_of(struct audit_event *ev, const char *reason)
{
	authn_ev_init(ev, NULL, SRC, "auth.test", "auth");
	ev->outcome = AUDIT_DENIED;
	ev->reason = reason;
}

static void
second_step(struct authn_op *op, enum pv_rc rc)
{
	struct probe *p = (struct probe *)op;

	assert_int_equal(rc, PV_OK);
	p->worker = pthread_self();
	p->steps++;
	authn_op_finish(op, authn_op_reply(op, json_pack("{s:i}", "steps", p->steps)));
}

static void
first_step(struct authn_op *op, enum pv_rc rc)
{
	struct probe *p = (struct probe *)op;
	struct audit_event ev;

	assert_int_equal(rc, PV_OK);
	p->committer = pthread_self();
	p->steps++;
	ev_of(&ev, "second");
	authn_op_run(op, authn_op_submit(op, &ev, NULL, NULL, second_step, true));
}

/* Two submitted steps: the first continues on the committer, the second
 * (on_worker) on a worker thread; the caller hears once, with the reply,
 * after both entries are durable. */
static void
test_steps(void **state)
{
	struct af *f = *state;
	struct authn_wait w;
	struct audit_event ev;
	struct authn_result ar;
	struct probe *p;
	json_t *out = NULL;

	af_start(f);
	authn_wait_init(&w);
	p = authn_op_new(f->svc, sizeof(*p), authn_wait_done, &w);
	assert_non_null(p);
	ev_of(&ev, "first");
	assert_int_equal(authn_op_submit(&p->op, &ev, NULL, NULL, first_step, false), PV_PENDING);
	/* the op is the helper's now: read nothing of it after the answer */
	assert_int_equal(authn_wait_end(&w, &out, &ar), PV_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "steps")), 2);
	json_decref(out);
	assert_int_equal(af_count(f, "auth.test", "first"), 1);
	assert_int_equal(af_count(f, "auth.test", "second"), 1);
}

static void
thread_step(struct authn_op *op, enum pv_rc rc)
{
	(void)rc;
	authn_op_finish(op, PV_E_CONFLICT);
}

struct where {
	struct seen seen;
	pthread_t at;
};

static void
on_done_where(enum pv_rc rc, json_t *out, const struct authn_result *ar, void *arg)
{
	struct where *w = arg;

	w->at = pthread_self();
	on_done(rc, out, ar, &w->seen);
}

/* on_worker = false: the continuation (and so the answer) runs on the
 * committer; true: on a worker. Neither is the submitting thread. */
static void
test_where_steps_run(void **state)
{
	struct af *f = *state;
	struct where a, b;
	struct probe *p;
	int i;

	af_start(f);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	p = authn_op_new(f->svc, sizeof(*p), on_done_where, &a);
	assert_int_equal(authn_op_submit(&p->op, NULL, NULL, NULL, thread_step, false), PV_PENDING);
	p = authn_op_new(f->svc, sizeof(*p), on_done_where, &b);
	assert_int_equal(authn_op_submit(&p->op, NULL, NULL, NULL, thread_step, true), PV_PENDING);
	/* a transaction submitted after both completes after both groups */
	{
		struct authn_wait w;
		struct probe *q;

		authn_wait_init(&w);
		q = authn_op_new(f->svc, sizeof(*q), authn_wait_done, &w);
		assert_int_equal(authn_op_refuse(&q->op, NULL, PV_E_CONFLICT), PV_PENDING);
		assert_int_equal(authn_wait_end(&w, NULL, NULL), PV_E_CONFLICT);
	}
	for (i = 0; i < 5000 && b.seen.calls == 0; i++)
		usleep(1000);   /* the worker's answer may trail the committer's */
	assert_int_equal(a.seen.calls, 1);
	assert_int_equal(b.seen.calls, 1);
	assert_int_equal(a.seen.rc, PV_E_CONFLICT);
	assert_false(pthread_equal(a.at, pthread_self()));
	assert_false(pthread_equal(b.at, pthread_self()));
	assert_false(pthread_equal(a.at, b.at));
}

/* A refusal answers its code and message once its entry is durable; if
 * the entry cannot be made durable the answer is PV_E_AUDIT. */
static void
test_refuse(void **state)
{
	struct af *f = *state;
	struct audit_event ev;
	struct authn_wait w;
	struct authn_result ar;
	struct probe *p;

	af_start(f);
	authn_wait_init(&w);
	p = authn_op_new(f->svc, sizeof(*p), authn_wait_done, &w);
	ev_of(&ev, "refused");
	snprintf(p->op.ar.message, sizeof(p->op.ar.message), "no");
	assert_int_equal(authn_op_refuse(&p->op, &ev, PV_E_FORBIDDEN), PV_PENDING);
	assert_int_equal(authn_wait_end(&w, NULL, &ar), PV_E_FORBIDDEN);
	assert_string_equal(ar.message, "no");
	assert_int_equal(af_count(f, "auth.test", "refused"), 1);

	store_fault_set("tx_commit", 1);
	authn_wait_init(&w);
	p = authn_op_new(f->svc, sizeof(*p), authn_wait_done, &w);
	ev_of(&ev, "lost");
	assert_int_equal(authn_op_refuse(&p->op, &ev, PV_E_FORBIDDEN), PV_PENDING);
	assert_int_equal(authn_wait_end(&w, NULL, &ar), PV_E_AUDIT);
	assert_int_equal(af_count(f, "auth.test", "lost"), 0);
}

/* A failed step answers through authn_op_run once, with no body. */
static void
test_run_answers_once(void **state)
{
	struct af *f = *state;
	struct seen s;
	struct probe *p;

	af_start(f);
	memset(&s, 0, sizeof(s));
	p = authn_op_new(f->svc, sizeof(*p), on_done, &s);
	authn_op_run(&p->op, PV_E_INVALID);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.rc, PV_E_INVALID);
	assert_null(s.out);
	/* PV_OK with no reply is an allocation failure unless the op has no body */
	memset(&s, 0, sizeof(s));
	p = authn_op_new(f->svc, sizeof(*p), on_done, &s);
	authn_op_run(&p->op, PV_OK);
	assert_int_equal(s.rc, PV_E_NOMEM);
	memset(&s, 0, sizeof(s));
	p = authn_op_new(f->svc, sizeof(*p), on_done, &s);
	p->op.no_body = true;
	authn_op_run(&p->op, PV_OK);
	assert_int_equal(s.rc, PV_OK);
}

struct racer {
	struct af *f;
	enum pv_rc rc;
};

static void *
wrong_login(void *arg)
{
	struct racer *r = arg;
	struct authn_result ar;
	json_t *out = NULL;

	r->rc = authn_login(r->f->svc, SRC, "carol", "not her password 1", &out, &ar);
	json_decref(out);
	return NULL;
}

/* Two concurrent wrong passwords: both refused, both counted. */
static void
test_concurrent_wrong_passwords_counted(void **state)
{
	struct af *f = *state;
	struct racer r1 = { f, PV_OK }, r2 = { f, PV_OK };
	struct store_lockout l;
	pthread_t t1, t2;
	char id[UTIL_ID_MAX];

	f->cfg.mfa_required = CONFIG_MFA_OFF;
	af_start(f);
	af_user(f, "carol", PW, NULL, id);
	assert_int_equal(pthread_create(&t1, NULL, wrong_login, &r1), 0);
	assert_int_equal(pthread_create(&t2, NULL, wrong_login, &r2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	assert_int_equal(r1.rc, PV_E_UNAUTH);
	assert_int_equal(r2.rc, PV_E_UNAUTH);
	assert_int_equal(TX_RD(f->st, store_lockout_get(tx, "carol", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 2);
	assert_int_equal(af_count(f, "auth.login", "bad_password"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_steps, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_where_steps_run, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_refuse, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_run_answers_once, af_setup, af_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_wrong_passwords_counted, af_setup,
		    af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
