/*
 * test_held: authz_commit_held (src/authz/held.c) on a request thread with
 * a fake holder, as the HTTP layer lends one, and off it: queued without a
 * wait; a committed change moves the authz generation before the hold is
 * released (the answer leaves after the bump); a lost row (fn's
 * PV_E_NOTFOUND) is released as PV_E_CONFLICT while its entry says
 * not_found; arg freed exactly once before the release; off a request
 * thread fn's rc comes back unmapped, the generation moved likewise.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "authz/ops_fixture.h"

struct fake_holder {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int taken, released, frees;
	enum pv_rc rc;
	uint64_t gen_at_release;   /* the generation when the answer may leave */
	bool freed_first;
	struct authn_service *svc;
};

static struct fake_holder fh = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
	0, PV_OK, 0, false, NULL };

static void
fh_take(void *ctx)
{
	struct fake_holder *h = ctx;

	pthread_mutex_lock(&h->mu);
	h->taken++;
	pthread_mutex_unlock(&h->mu);
}

static void
fh_release(void *ctx, enum pv_rc rc)
{
	struct fake_holder *h = ctx;

	pthread_mutex_lock(&h->mu);
	h->released++;
	h->rc = rc;
	h->gen_at_release = authn_authz_generation(h->svc);
	h->freed_first = h->frees == 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static const struct util_holder fake = { fh_take, fh_release, &fh };

static void
fh_reset(struct authn_service *svc)
{
	pthread_mutex_lock(&fh.mu);
	fh.taken = fh.released = fh.frees = 0;
	fh.rc = PV_OK;
	fh.gen_at_release = 0;
	fh.freed_first = false;
	fh.svc = svc;
	pthread_mutex_unlock(&fh.mu);
}

static void
fh_wait_released(void)
{
	pthread_mutex_lock(&fh.mu);
	while (fh.taken == 0 || fh.released < fh.taken)
		pthread_cond_wait(&fh.cv, &fh.mu);
	pthread_mutex_unlock(&fh.mu);
}

/* A job: fn returns result after writing nothing. */
struct job {
	enum pv_rc result;
};

static enum pv_rc
job_fn(struct store_tx *tx, void *arg)
{
	(void)tx;
	return ((struct job *)arg)->result;
}

static void
job_free(void *arg)
{
	pthread_mutex_lock(&fh.mu);
	fh.frees++;
	pthread_mutex_unlock(&fh.mu);
	free(arg);
}

static struct job *
job_new(enum pv_rc result)
{
	struct job *j = malloc(sizeof(*j));

	assert_non_null(j);
	j->result = result;
	return j;
}

static struct audit_event
event(const char *action)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.actor = audit_actor_system();
	ev.action = action;
	ev.resource = "approvals/apr_test";
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "approved";
	return ev;
}

/* On a request thread: queued, not waited for; the release's rc. */
static enum pv_rc
held(struct zf *x, const struct audit_event *ev, enum pv_rc result, unsigned flags)
{
	uint64_t waits = util_request_thread_waits();

	fh_reset(x->f->svc);
	util_request_thread_set(true);
	util_request_holder_set(&fake);
	assert_int_equal(authz_commit_held(x->z, ev, job_fn, job_new(result), job_free, flags),
	    PV_OK);
	util_request_holder_set(NULL);
	util_request_thread_set(false);
	assert_int_equal(util_request_thread_waits(), waits);
	fh_wait_released();
	assert_int_equal(fh.taken, 1);
	assert_int_equal(fh.released, 1);
	assert_int_equal(fh.frees, 1);
	assert_true(fh.freed_first);
	return fh.rc;
}

static void
test_held_bump_before_release(void **state)
{
	struct zf x;
	struct audit_event ev = event("approval.approve");
	uint64_t gen;

	zf_start(*state, &x);
	gen = authn_authz_generation(x.f->svc);
	assert_int_equal(held(&x, &ev, PV_OK, AUTHZ_HELD_BUMP), PV_OK);
	assert_int_equal(fh.gen_at_release, gen + 1);   /* moved before the answer */
	assert_int_equal(authn_authz_generation(x.f->svc), gen + 1);
	assert_int_equal(af_count(x.f, "approval.approve", "approved"), 1);
	/* without the flag the generation stays */
	assert_int_equal(held(&x, &ev, PV_OK, 0), PV_OK);
	assert_int_equal(authn_authz_generation(x.f->svc), gen + 1);
	zf_stop(&x);
}

static void
test_held_lost_row_is_conflict(void **state)
{
	struct zf x;
	struct audit_event ev = event("approval.approve");
	uint64_t gen;

	zf_start(*state, &x);
	gen = authn_authz_generation(x.f->svc);
	/* a row settled meanwhile: 409 for the answer, not_found in the trail,
	 * and no bump (nothing changed) */
	assert_int_equal(held(&x, &ev, PV_E_NOTFOUND,
	    AUTHZ_HELD_BUMP | AUTHZ_HELD_LOST_IS_CONFLICT), PV_E_CONFLICT);
	assert_int_equal(authn_authz_generation(x.f->svc), gen);
	assert_int_equal(af_count(x.f, "approval.approve", "not_found"), 1);
	/* without the flag fn's rc is the answer */
	assert_int_equal(held(&x, &ev, PV_E_NOTFOUND, 0), PV_E_NOTFOUND);
	assert_int_equal(held(&x, &ev, PV_E_CONFLICT, AUTHZ_HELD_LOST_IS_CONFLICT),
	    PV_E_CONFLICT);
	zf_stop(&x);
}

static void
test_sync_off_request_thread(void **state)
{
	struct zf x;
	struct audit_event ev = event("policy.update");
	uint64_t gen;

	zf_start(*state, &x);
	gen = authn_authz_generation(x.f->svc);
	fh_reset(x.f->svc);
	assert_int_equal(authz_commit_held(x.z, &ev, job_fn, job_new(PV_OK), job_free,
	    AUTHZ_HELD_BUMP), PV_OK);
	assert_int_equal(fh.frees, 1);
	assert_int_equal(fh.taken, 0);
	assert_int_equal(authn_authz_generation(x.f->svc), gen + 1);
	/* unmapped: the caller answers with its own message */
	assert_int_equal(authz_commit_held(x.z, &ev, job_fn, job_new(PV_E_NOTFOUND), job_free,
	    AUTHZ_HELD_BUMP | AUTHZ_HELD_LOST_IS_CONFLICT), PV_E_NOTFOUND);
	assert_int_equal(fh.frees, 2);
	assert_int_equal(authn_authz_generation(x.f->svc), gen + 1);
	assert_int_equal(af_count(x.f, "policy.update", "not_found"), 1);
	/* a bad event is refused before anything is queued, arg still freed */
	ev.action = NULL;
	util_request_thread_set(true);
	util_request_holder_set(&fake);
	assert_int_equal(authz_commit_held(x.z, &ev, job_fn, job_new(PV_OK), job_free, 0),
	    PV_E_INVALID);
	util_request_holder_set(NULL);
	util_request_thread_set(false);
	assert_int_equal(fh.frees, 3);
	assert_int_equal(fh.taken, fh.released);   /* no hold left behind */
	zf_stop(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_held_bump_before_release, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_held_lost_row_is_conflict, af_setup,
		    af_teardown),
		cmocka_unit_test_setup_teardown(test_sync_off_request_thread, af_setup,
		    af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
