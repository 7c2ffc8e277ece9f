/*
 * pending.c: the completion helper of the authentication operations
 * (authn_int.h "Operations in steps"), so no request thread waits for a
 * group commit.
 *
 * An operation is a heap object that starts with `struct authn_op`: its
 * service, the caller's completion (authn_done_fn), the answer being built
 * (out, ar) and the continuation of the step that waits for a commit. A
 * step either answers (authn_op_finish) or submits one transaction
 * (authn_op_submit: data change + audit entry through audit_submit) and
 * returns PV_PENDING; the commit's completion runs the next step:
 *
 *  - on the committer thread, when the step is cheap (build the reply,
 *    update the session cache): the acknowledgement leaves after the fsync;
 *  - on one of the service's worker threads when the step does CPU work
 *    (an Argon2id verify after the lockout slot is reserved), so the
 *    committer never runs it and no HTTP thread waits for it.
 *
 * A refusal (authn_op_refuse) records its entry and answers the refusal's
 * code once the entry is durable, or PV_E_AUDIT if it is not (fail closed).
 *
 * Invariants: the caller's completion runs exactly once, after which the
 * op is released (its `release` hook wipes what it held) and freed; a
 * continuation runs exactly once per accepted submit; nothing of the op
 * is touched after authn_op_finish. The workers only run continuations
 * (CPU steps, then a submit): they never wait for a commit.
 *
 * The blocking form for callers with no request (CLI, unit tests) is the
 * one waiter here (authn_wait_*): it waits on its own condition variable
 * for the completion.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

/* ---- the op ---- */

void *
authn_op_new(struct authn_service *s, size_t size, authn_done_fn done, void *arg)
{
	struct authn_op *op;

	if (size < sizeof(*op) || done == NULL)
		return NULL;
	if ((op = calloc(1, size)) == NULL) {
		struct authn_result ar;

		/* answered here, so a caller only returns on NULL */
		memset(&ar, 0, sizeof(ar));
		done(PV_E_NOMEM, NULL, &ar, arg);
		return NULL;
	}
	op->s = s;
	op->size = size;
	op->done = done;
	op->done_arg = arg;
	return op;
}

void
authn_op_finish(struct authn_op *op, enum pv_rc rc)
{
	json_t *out = op->out;

	if (rc != PV_OK) {
		json_decref(out);
		out = NULL;
	} else if (out == NULL && !op->no_body) {
		rc = PV_E_NOMEM;
	}
	op->out = NULL;
	op->done(rc, out, &op->ar, op->done_arg);
	if (op->release != NULL)
		op->release(op);
	crypto_wipe(op, op->size);
	free(op);
}

void
authn_op_run(struct authn_op *op, enum pv_rc rc)
{
	if (rc != PV_PENDING)
		authn_op_finish(op, rc);
}

enum pv_rc
authn_op_reply(struct authn_op *op, json_t *o)
{
	if (o == NULL)
		return PV_E_NOMEM;
	json_decref(op->out);
	op->out = o;
	return PV_OK;
}

/* ---- workers: continuations with CPU work ---- */

struct authn_workers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct authn_op *head, *tail;
	bool stopping;
	size_t n;
	pthread_t th[AUTHN_WORKERS_MAX];
};

static void *
worker_main(void *arg)
{
	struct authn_workers *w = arg;
	struct authn_op *op;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stopping)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->head == NULL) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		op = w->head;
		w->head = op->qnext;
		if (w->head == NULL)
			w->tail = NULL;
		pthread_mutex_unlock(&w->mu);
		op->qnext = NULL;
		op->next(op, op->next_rc);
	}
}

enum pv_rc
authn_workers_start(size_t n, struct authn_workers **out)
{
	struct authn_workers *w;
	size_t i;

	if (n == 0 || n > AUTHN_WORKERS_MAX)
		return PV_E_INVALID;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return PV_E_NOMEM;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		return PV_E_INTERNAL;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return PV_E_INTERNAL;
	}
	for (i = 0; i < n; i++) {
		if (pthread_create(&w->th[i], NULL, worker_main, w) != 0)
			break;
		w->n++;
	}
	if (w->n == 0) {
		authn_workers_stop(w);
		return PV_E_INTERNAL;
	}
	*out = w;
	return PV_OK;
}

void
authn_workers_stop(struct authn_workers *w)
{
	size_t i;

	if (w == NULL)
		return;
	/* what is queued still runs: each op answers its caller */
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->n; i++)
		pthread_join(w->th[i], NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void
workers_post(struct authn_workers *w, struct authn_op *op)
{
	pthread_mutex_lock(&w->mu);
	op->qnext = NULL;
	if (w->tail != NULL)
		w->tail->qnext = op;
	else
		w->head = op;
	w->tail = op;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- submit, refuse ---- */

/* On the committer thread, after the group: the next step, here or on a worker. */
static void
submitted(enum pv_rc rc, void *arg)
{
	struct authn_op *op = arg;

	if (op->next_on_worker && op->s->workers != NULL) {
		op->next_rc = rc;
		workers_post(op->s->workers, op);
		return;
	}
	op->next(op, rc);
}

enum pv_rc
authn_op_submit(struct authn_op *op, const struct audit_event *ev, audit_job_fn fn, void *fnarg,
    authn_step_fn next, bool on_worker)
{
	enum pv_rc rc;

	op->next = next;
	op->next_on_worker = on_worker;
	rc = audit_submit(op->s->audit, ev, fn, fnarg, COMMIT_REQUEST, submitted, op);
	/* not queued: nothing ran and no completion will come */
	if (rc != PV_OK)
		return rc == PV_E_UNAVAILABLE || rc == PV_E_NOMEM ? rc : PV_E_AUDIT;
	return PV_PENDING;
}

static void
refused(struct authn_op *op, enum pv_rc rc)
{
	authn_op_finish(op, rc == PV_OK ? op->refused : PV_E_AUDIT);
}

enum pv_rc
authn_op_refuse_tx(struct authn_op *op, const struct audit_event *ev, audit_job_fn fn,
    void *fnarg, enum pv_rc rc)
{
	enum pv_rc src;

	op->refused = rc;
	src = authn_op_submit(op, ev, fn, fnarg, refused, false);
	return src == PV_PENDING ? PV_PENDING : PV_E_AUDIT;
}

enum pv_rc
authn_op_refuse(struct authn_op *op, const struct audit_event *ev, enum pv_rc rc)
{
	return authn_op_refuse_tx(op, ev, NULL, NULL, rc);
}

/* The refusal is durable: now its auth.lockout entry, then the answer. */
static void
refused_then_lockout(struct authn_op *op, enum pv_rc rc)
{
	struct audit_event ev;

	if (rc != PV_OK) {
		authn_op_finish(op, PV_E_AUDIT);
		return;
	}
	authn_ev_init(&ev, NULL, op->lock_source, "auth.lockout", op->lock_resource);
	if (op->lock_user != NULL)
		ev.actor.user_id = op->lock_user;
	ev.outcome = AUDIT_DENIED;
	ev.reason = op->lock_kind;
	/* from the committer: submitting never waits (the queue is unbounded) */
	if (authn_op_submit(op, &ev, NULL, NULL, refused, false) != PV_PENDING)
		authn_op_finish(op, PV_E_AUDIT);
}

enum pv_rc
authn_op_refuse_locked(struct authn_op *op, const struct audit_event *ev, enum pv_rc rc,
    const char *user_id, const char *source, const char *resource, const char *kind)
{
	enum pv_rc src;

	op->refused = rc;
	op->lock_user = user_id;
	op->lock_source = source;
	op->lock_resource = resource;
	op->lock_kind = kind;
	src = authn_op_submit(op, ev, NULL, NULL, refused_then_lockout, false);
	return src == PV_PENDING ? PV_PENDING : PV_E_AUDIT;
}

static void
recorded(enum pv_rc rc, void *arg)
{
	(void)arg;
	if (rc != PV_OK)
		log_error("authn: audit entry not recorded (%s)", pv_rc_name(rc));
}

void
authn_record_async(struct authn_service *s, const struct audit_event *ev)
{
	if (audit_submit(s->audit, ev, NULL, NULL, COMMIT_REQUEST, recorded, NULL) != PV_OK)
		log_error("authn: audit entry not recorded");
}

/* ---- the blocking form (one place) ---- */

void
authn_wait_init(struct authn_wait *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
}

void
authn_wait_done(enum pv_rc rc, json_t *out, const struct authn_result *ar, void *arg)
{
	struct authn_wait *w = arg;

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->out = out;
	w->ar = *ar;
	w->fired = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum pv_rc
authn_wait_end(struct authn_wait *w, json_t **out, struct authn_result *ar)
{
	enum pv_rc rc;

	util_request_thread_wait();   /* counted if a request thread waits */
	pthread_mutex_lock(&w->mu);
	while (!w->fired)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	rc = w->rc;
	if (ar != NULL)
		*ar = w->ar;
	if (out != NULL && rc == PV_OK)
		*out = w->out;
	else
		json_decref(w->out);
	crypto_wipe(&w->ar, sizeof(w->ar));
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	return rc;
}
