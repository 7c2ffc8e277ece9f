/*
 * runner: the job runner thread, leases, steps and state changes (the state
 * machine is in jobs.h).
 *
 * Every write here is one background-priority audit commit (submit()): the lease, each step
 * (kind's writes + job row), a failed step's error, and every state change
 * asked for from outside. They all run on the audit writer thread, one
 * after another, so a step transaction that re-reads the row sees any pause
 * or cancel committed before it: that is the step boundary.
 *
 * Threads: the runner thread calls jobs_runner_tick in a loop; HTTP
 * threads call jobs_enqueue / jobs_change / jobs_progress. r->mu guards the
 * stop flag, the kick flag and the progress samples; the current job
 * (cur_id, failures) and the plan prepared ahead belong to the thread that
 * ticks.
 *
 * A step of a prepared kind (jobs.h "Prepare / apply"):
 *
 *   prepare (read txn, this thread) -> submit step N -----> (committer) apply N, fsync
 *        while N is in flight: prepare N+1 from next_cursor(plan N) (read txn)
 *   wait for N's completion; N committed and not finished: keep plan N+1
 *   (ahead) for the next tick, else drop it
 *
 * The plan made ahead is applied only if the row's cursor is then the one it
 * was made from (jobs_prepare.same, checked inside the step's transaction),
 * and it lives in memory only: a crash, a pause, a failed step N or a lost
 * lease drops it, and the next prepare starts again from the row's cursor.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "jobs/jobs_int.h"
#include "util/metrics.h"

#define KINDS_MAX 32
#define SAMPLES 32
#define RATE_WINDOW_MS 10000

struct sample {
	int64_t t_ms;
	int64_t done;
};

struct jobs_runner {
	struct jobs_config cfg;
	char node[STORE_JOB_OWNER_MAX];
	const struct jobs_kind *kinds[KINDS_MAX];
	const struct jobs_prepare *preps[KINDS_MAX];   /* kinds[i]'s, or NULL */
	size_t nkinds;

	pthread_mutex_t mu;
	pthread_cond_t cv;               /* CLOCK_MONOTONIC */
	bool stopping, kicked, thread_running;
	pthread_t thread;
	char prog_id[UTIL_ID_MAX];       /* job the samples belong to */
	struct sample samples[SAMPLES];
	size_t nsamples, shead;

	/* ticking thread only */
	char cur_id[UTIL_ID_MAX];
	int failures;
	/* the next step's plan, prepared while the last step committed */
	struct {
		char id[UTIL_ID_MAX];
		const struct jobs_prepare *pp;
		void *plan;
		char *cursor;
	} ahead;
	int64_t ahead_made, ahead_used;   /* plans prepared ahead / applied (tests) */
};

static const char *const state_names[] = {
	[JOBS_QUEUED] = "queued", [JOBS_RUNNING] = "running", [JOBS_PAUSED] = "paused",
	[JOBS_DONE] = "done", [JOBS_FAILED] = "failed", [JOBS_CANCELLED] = "cancelled",
};

const char *
jobs_state_name(enum jobs_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

bool
jobs_state_parse(const char *name, enum jobs_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (name != NULL && strcmp(name, state_names[i]) == 0) {
			*out = (enum jobs_state)i;
			return true;
		}
	return false;
}

static int64_t
now(const struct jobs_runner *r)
{
	return r->cfg.now_ms != NULL ? r->cfg.now_ms(r->cfg.now_arg) : util_now_ms();
}

bool
jobs_code_valid(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= JOBS_CODE_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

enum pv_rc
jobs_errors_append(const char *errors, const char *at, const char *code, const char *item,
    char **out)
{
	json_t *a = json_loads(errors != NULL ? errors : "[]", 0, NULL), *e;
	enum pv_rc rc = PV_E_NOMEM;
	char *s;

	if (a == NULL || !json_is_array(a)) {
		json_decref(a);
		a = json_array();   /* a damaged list restarts rather than failing the job */
		if (a == NULL)
			return PV_E_NOMEM;
	}
	e = json_pack("{s:s, s:s}", "at", at, "code", jobs_code_valid(code) ? code : "error");
	if (e == NULL)
		goto out;
	if (jobs_code_valid(item) && json_object_set_new(e, "item", json_string(item)) != 0) {
		json_decref(e);
		goto out;
	}
	if (json_array_append_new(a, e) != 0)
		goto out;
	while (json_array_size(a) > JOBS_ERRORS_MAX)
		json_array_remove(a, 0);
	if ((s = json_dumps(a, JSON_COMPACT)) == NULL)
		goto out;
	*out = s;
	rc = PV_OK;
out:
	json_decref(a);
	return rc;
}

/* Every runner write goes through here, at background priority: a group
 * takes job steps only after the requests waiting for it, and only a bounded
 * share of them (commit.h), so a churning job never starves requests. */
static enum pv_rc
submit(struct jobs_runner *r, const struct audit_event *ev, audit_job_fn fn, void *arg)
{
	return audit_commit_at(r->cfg.audit, ev, fn, arg, COMMIT_BACKGROUND);
}

const struct jobs_kind *
jobs_kind_find(struct jobs_runner *r, const char *name)
{
	for (size_t i = 0; i < r->nkinds; i++)
		if (strcmp(r->kinds[i]->name, name) == 0)
			return r->kinds[i];
	return NULL;
}

struct store *
jobs_runner_store(struct jobs_runner *r)
{
	return r->cfg.st;
}

static bool
kind_name_valid(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < STORE_JOB_KIND_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.") == n;
}

static const struct jobs_prepare *
prep_find(struct jobs_runner *r, const char *name)
{
	for (size_t i = 0; i < r->nkinds; i++)
		if (strcmp(r->kinds[i]->name, name) == 0)
			return r->preps[i];
	return NULL;
}

enum pv_rc
jobs_kind_register_prepared(struct jobs_runner *r, const struct jobs_kind *kind,
    const struct jobs_prepare *prep)
{
	if (r == NULL || kind == NULL || !kind_name_valid(kind->name) || kind->step == NULL ||
	    (prep != NULL && (prep->prepare == NULL || prep->plan_free == NULL)))
		return PV_E_INVALID;
	if (jobs_kind_find(r, kind->name) != NULL)
		return PV_E_CONFLICT;
	if (r->nkinds >= KINDS_MAX)
		return PV_E_TOOBIG;
	r->preps[r->nkinds] = prep;
	r->kinds[r->nkinds++] = kind;
	return PV_OK;
}

enum pv_rc
jobs_kind_register(struct jobs_runner *r, const struct jobs_kind *kind)
{
	return jobs_kind_register_prepared(r, kind, NULL);
}

static void
kick(struct jobs_runner *r)
{
	pthread_mutex_lock(&r->mu);
	r->kicked = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- progress ---- */

static void
sample_add(struct jobs_runner *r, const char *id, int64_t done)
{
	pthread_mutex_lock(&r->mu);
	if (strcmp(r->prog_id, id) != 0) {
		util_strlcpy(r->prog_id, id, sizeof(r->prog_id));
		r->nsamples = 0;
		r->shead = 0;
	}
	r->samples[r->shead] = (struct sample){ now(r), done };
	r->shead = (r->shead + 1) % SAMPLES;
	if (r->nsamples < SAMPLES)
		r->nsamples++;
	pthread_mutex_unlock(&r->mu);
}

void
jobs_progress(struct jobs_runner *r, const char *id, int64_t done, int64_t total,
    double *rate_per_s, int64_t *eta_s)
{
	*rate_per_s = 0;
	*eta_s = -1;
	if (r == NULL || id == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	if (strcmp(r->prog_id, id) == 0 && r->nsamples >= 2) {
		size_t last = (r->shead + SAMPLES - 1) % SAMPLES;
		size_t first = (r->shead + SAMPLES - r->nsamples) % SAMPLES;
		int64_t t1 = r->samples[last].t_ms;

		/* the oldest sample still inside the window */
		while (first != last && t1 - r->samples[first].t_ms > RATE_WINDOW_MS)
			first = (first + 1) % SAMPLES;
		if (first != last && t1 > r->samples[first].t_ms)
			*rate_per_s = (double)(r->samples[last].done - r->samples[first].done) *
			    1000.0 / (double)(t1 - r->samples[first].t_ms);
	}
	pthread_mutex_unlock(&r->mu);
	if (*rate_per_s > 0 && total >= done)
		*eta_s = (int64_t)((double)(total - done) / *rate_per_s + 0.999);
}

/* ---- metrics ---- */

/* phivault_jobs_leases_total{kind} (a job taken: first start, restart or a
 * takeover of an expired lease), phivault_jobs_steps_total{kind} (a step
 * this process committed) and phivault_jobs_scans_total (an idle runner's
 * looks for a runnable job): per process, so with several nodes each node's
 * counts show which node ran which steps and how often the others looked
 * (docs/scaling.md). kind NULL: the family has no label. */
static void
count(const char *family, const char *help, const char *kind)
{
	static const char *const labels[] = { "kind", NULL };
	const struct util_metric_def def = { family, help, UTIL_METRIC_COUNTER,
	    kind != NULL ? labels : NULL, NULL, 0 };
	const char *values[] = { kind, NULL };
	struct util_metric_family *fam = NULL;

	if (util_metrics_family(util_metrics_default(), &def, &fam) == PV_OK)
		util_metric_inc(util_metrics_series(fam, kind != NULL ? values : NULL));
}

/* ---- transactions (run on the audit writer thread) ---- */

struct lease_call {
	struct jobs_runner *r;
	char id[UTIL_ID_MAX];
	char kind[STORE_JOB_KIND_MAX];
};

static int
runnable_cb(const struct store_job *j, void *arg)
{
	struct lease_call *c = arg;

	if (jobs_kind_find(c->r, j->kind) == NULL)
		return 0;   /* not ours to run */
	util_strlcpy(c->id, j->id, sizeof(c->id));
	return 1;
}

static enum pv_rc
lease_txn(struct store_tx *tx, void *arg)
{
	struct lease_call *c = arg;
	struct jobs_runner *r = c->r;
	struct store_job j;
	int64_t t = now(r);
	enum pv_rc rc;

	c->id[0] = '\0';
	if ((rc = store_job_runnable(tx, r->node, t, runnable_cb, c)) != PV_OK)
		return rc;
	if (c->id[0] == '\0')
		return PV_E_NOTFOUND;
	if ((rc = store_job_get(tx, c->id, &j)) != PV_OK)
		return rc;
	util_strlcpy(c->kind, j.kind, sizeof(c->kind));
	util_strlcpy(j.state, "running", sizeof(j.state));
	util_strlcpy(j.lease_owner, r->node, sizeof(j.lease_owner));
	j.lease_expires_ms = t + (int64_t)r->cfg.lease_s * 1000;
	if (j.started_ms == 0)
		j.started_ms = t;
	j.updated_ms = t;
	rc = store_job_update(tx, &j);
	store_job_clear(&j);
	return rc;
}

/* The job row, if this runner still holds it running; else PV_E_JOB_CONFLICT. */
static enum pv_rc
get_mine(struct jobs_runner *r, struct store_tx *tx, const char *id, struct store_job *j)
{
	enum pv_rc rc = store_job_get(tx, id, j);

	if (rc == PV_E_NOTFOUND)
		return PV_E_JOB_CONFLICT;
	if (rc != PV_OK)
		return rc;
	if (strcmp(j->state, "running") != 0 || strcmp(j->lease_owner, r->node) != 0) {
		store_job_clear(j);
		return PV_E_JOB_CONFLICT;
	}
	return PV_OK;
}

struct step_call {
	struct jobs_runner *r;
	const char *id;
	char kind[STORE_JOB_KIND_MAX];
	bool finished;
	int64_t done;
	enum pv_rc step_rc;     /* the kind's own rc (vs. the row's) */
	void *plan;             /* prepare's, made from plan_cursor; NULL none */
	char *plan_cursor;
	const struct jobs_prepare *pp;   /* the plan's kind's (same) */
	bool plan_used;         /* the step got the plan */
};

/* The prepare phase, in a read transaction of the runner thread's own
 * (jobs.h "Prepare / apply"): the plan and the cursor it was made from. */
struct prep_call {
	struct jobs_runner *r;
	const char *id;
	const char *from;       /* prepare from this cursor (ahead); NULL: the row's */
	const struct jobs_prepare *pp;
	void *plan;
	char *cursor;
};

static enum pv_rc
prep_txn(struct store_tx *tx, void *arg)
{
	struct prep_call *c = arg;
	const struct jobs_kind *k;
	struct jobs_step_ctx ctx;
	struct store_job j;
	enum pv_rc rc;

	if ((rc = get_mine(c->r, tx, c->id, &j)) != PV_OK)
		return rc;
	if ((k = jobs_kind_find(c->r, j.kind)) == NULL ||
	    (c->pp = prep_find(c->r, j.kind)) == NULL)
		goto out;   /* no prepare phase: the step does it all */
	if ((c->cursor = strdup(c->from != NULL ? c->from : j.cursor)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ctx = (struct jobs_step_ctx){ tx, j.id, j.params, j.done, j.total, k->arg, NULL };
	rc = c->pp->prepare(&ctx, c->cursor, &c->plan);
out:
	store_job_clear(&j);
	return rc;
}

static void
prep_drop(struct prep_call *c)
{
	if (c->plan != NULL)
		c->pp->plan_free(c->plan);
	free(c->cursor);
	c->plan = NULL;
	c->cursor = NULL;
}

static void
ahead_drop(struct jobs_runner *r)
{
	if (r->ahead.plan != NULL)
		r->ahead.pp->plan_free(r->ahead.plan);
	free(r->ahead.cursor);
	memset(&r->ahead, 0, sizeof(r->ahead));
}

/* Does the plan made from planned fit the row's cursor? */
static bool
plan_fits(const struct jobs_prepare *pp, const char *planned, const char *cursor)
{
	if (planned == NULL)
		return false;
	return pp != NULL && pp->same != NULL ? pp->same(planned, cursor) :
	    strcmp(planned, cursor) == 0;
}

static enum pv_rc
step_txn(struct store_tx *tx, void *arg)
{
	struct step_call *c = arg;
	struct jobs_runner *r = c->r;
	const struct jobs_kind *k;
	struct jobs_step_out out;
	struct jobs_step_ctx ctx;
	struct store_job j;
	char at[32], *s;
	int64_t t;
	enum pv_rc rc;

	c->step_rc = PV_OK;
	if ((rc = get_mine(r, tx, c->id, &j)) != PV_OK)
		return rc;
	if ((k = jobs_kind_find(r, j.kind)) == NULL) {
		rc = PV_E_JOB_CONFLICT;
		goto out;
	}
	util_strlcpy(c->kind, j.kind, sizeof(c->kind));
	memset(&out, 0, sizeof(out));
	util_strlcpy(out.cursor, j.cursor, sizeof(out.cursor));
	out.total = -1;
	c->plan_used = c->plan != NULL && plan_fits(c->pp, c->plan_cursor, j.cursor);
	ctx = (struct jobs_step_ctx){ tx, j.id, j.params, j.done, j.total, k->arg,
	    c->plan_used ? c->plan : NULL };
	if ((rc = k->step(&ctx, j.cursor, &out)) != PV_OK) {
		c->step_rc = rc;
		goto out;
	}
	out.cursor[sizeof(out.cursor) - 1] = '\0';
	out.error_code[sizeof(out.error_code) - 1] = '\0';
	out.error_item[sizeof(out.error_item) - 1] = '\0';
	t = now(r);
	if ((s = strdup(out.cursor)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	free(j.cursor);
	j.cursor = s;
	if (out.error_code[0] != '\0') {
		util_time_fmt(t, at, sizeof(at));
		if ((rc = jobs_errors_append(j.errors, at, out.error_code, out.error_item, &s)) !=
		    PV_OK)
			goto out;
		free(j.errors);
		j.errors = s;
		j.error_count++;
	}
	if (out.done > 0)
		j.done += out.done;
	if (out.total >= 0)
		j.total = out.total;
	j.updated_ms = t;
	if (out.finished) {
		util_strlcpy(j.state, "done", sizeof(j.state));
		j.finished_ms = t;
		j.lease_owner[0] = '\0';
		j.lease_expires_ms = 0;
	} else {
		j.lease_expires_ms = t + (int64_t)r->cfg.lease_s * 1000;
	}
	rc = store_job_update(tx, &j);
	c->finished = out.finished;
	c->done = j.done;
out:
	store_job_clear(&j);
	return rc;
}

struct fail_call {
	struct jobs_runner *r;
	const char *id;
	enum pv_rc step_rc;
	int failures;
	bool failed;
};

static enum pv_rc
fail_txn(struct store_tx *tx, void *arg)
{
	struct fail_call *c = arg;
	struct store_job j;
	char at[32], *s = NULL;
	int64_t t = now(c->r);
	enum pv_rc rc;

	if ((rc = get_mine(c->r, tx, c->id, &j)) != PV_OK)
		return rc;
	util_time_fmt(t, at, sizeof(at));
	if ((rc = jobs_errors_append(j.errors, at, pv_rc_name(c->step_rc), NULL, &s)) != PV_OK)
		goto out;
	free(j.errors);
	j.errors = s;
	j.error_count++;
	j.updated_ms = t;
	if (c->failures >= JOBS_MAX_FAILURES) {
		util_strlcpy(j.state, "failed", sizeof(j.state));
		j.finished_ms = t;
		j.lease_owner[0] = '\0';
		j.lease_expires_ms = 0;
		c->failed = true;
	}
	rc = store_job_update(tx, &j);
out:
	store_job_clear(&j);
	return rc;
}

static void
record_finish(struct jobs_runner *r, const char *id, const char *action, const char *reason)
{
	char res[UTIL_ID_MAX + 8];
	struct audit_event ev = {
		.actor = audit_actor_system(),
		.action = action,
		.resource = res,
		.outcome = AUDIT_ALLOWED,
		.reason = reason,
	};

	snprintf(res, sizeof(res), "jobs/%s", id);
	if (audit_record(r->cfg.audit, &ev) != PV_OK)
		log_error("jobs: could not record %s for %s", action, id);
}

enum jobs_tick
jobs_runner_tick(struct jobs_runner *r)
{
	return jobs_runner_tick_between(r, NULL, NULL);
}

/* A step's commit in flight: its completion (committer thread) wakes the
 * runner, which meanwhile prepares the next step. */
struct inflight {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum pv_rc rc;
};

static void
inflight_done(enum pv_rc rc, void *arg)
{
	struct inflight *w = arg;

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* While step sc commits: the plan of the step after it, from the cursor sc
 * leaves if it applies its plan whole (jobs_prepare.next_cursor), into
 * r->ahead. Nothing if the kind cannot say where sc ends. */
static void
prepare_ahead(struct jobs_runner *r, const struct step_call *sc)
{
	char next[JOBS_CURSOR_MAX];
	struct prep_call pc = { r, r->cur_id, next, NULL, NULL, NULL };
	enum pv_rc rc;

	if (sc->plan == NULL || sc->pp == NULL || sc->pp->next_cursor == NULL ||
	    !sc->pp->next_cursor(sc->plan, sc->plan_cursor, next))
		return;
	next[sizeof(next) - 1] = '\0';
	STORE_READ(r->cfg.st, rc, prep_txn(tx, &pc));
	if (rc != PV_OK || pc.plan == NULL) {
		prep_drop(&pc);   /* the next tick prepares from the row */
		return;
	}
	util_strlcpy(r->ahead.id, r->cur_id, sizeof(r->ahead.id));
	r->ahead.pp = pc.pp;
	r->ahead.plan = pc.plan;
	r->ahead.cursor = pc.cursor;
	r->ahead_made++;
}

/* The step transaction at background priority (submit()'s), asynchronously
 * when the kind prepares ahead, so that its next plan is made meanwhile. */
static enum pv_rc
step_commit(struct jobs_runner *r, struct step_call *sc)
{
	struct inflight w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false,
	    PV_OK };
	enum pv_rc rc;

	if (sc->plan == NULL || sc->pp == NULL || sc->pp->next_cursor == NULL)
		return submit(r, NULL, step_txn, sc);
	if ((rc = audit_submit(r->cfg.audit, NULL, step_txn, sc, COMMIT_BACKGROUND,
	    inflight_done, &w)) != PV_OK)
		return rc;
	prepare_ahead(r, sc);
	pthread_mutex_lock(&w.mu);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	rc = w.rc;
	pthread_mutex_unlock(&w.mu);
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

enum jobs_tick
jobs_runner_tick_between(struct jobs_runner *r, bool (*between)(void *arg), void *arg)
{
	struct step_call sc = { r, r->cur_id, "", false, 0, PV_OK, NULL, NULL, NULL, false };
	struct prep_call pc = { r, r->cur_id, NULL, NULL, NULL, NULL };
	struct fail_call fc;
	bool from_ahead = false;
	enum pv_rc rc, prc;

	if (r->cur_id[0] == '\0') {
		struct lease_call lc = { r, "", "" };

		enum pv_rc lrc;

		/* look first in a read transaction of this thread's own: an idle
		 * runner costs the writer nothing */
		STORE_READ(r->cfg.st, lrc, store_job_runnable(tx, r->node, now(r), runnable_cb, &lc));
		count("phivault_jobs_scans_total", "Looks of the idle job runner for a runnable job.",
		    NULL);
		if (lrc != PV_OK || lc.id[0] == '\0')
			return JOBS_TICK_IDLE;
		if (submit(r, NULL, lease_txn, &lc) != PV_OK)
			return JOBS_TICK_IDLE;
		util_strlcpy(r->cur_id, lc.id, sizeof(r->cur_id));
		r->failures = 0;
		count("phivault_jobs_leases_total", "Jobs this process leased (started, resumed "
		    "or taken over).", lc.kind);
		log_info("jobs: running %s", r->cur_id);
	}
	if (r->ahead.plan != NULL && strcmp(r->ahead.id, r->cur_id) == 0) {
		/* prepared while the last step committed: the step checks that its
		 * cursor is the one the plan was made from */
		pc.pp = r->ahead.pp;
		pc.plan = r->ahead.plan;
		pc.cursor = r->ahead.cursor;
		memset(&r->ahead, 0, sizeof(r->ahead));
		from_ahead = true;
	} else {
		ahead_drop(r);
		/* prepare (a kind that has the phase): off the commit queue */
		STORE_READ(r->cfg.st, prc, prep_txn(tx, &pc));
		if (prc != PV_OK && prc != PV_E_JOB_CONFLICT)
			log_warn("jobs: prepare of %s failed: %s (the step does the work)",
			    r->cur_id, pv_rc_name(prc));
		if (prc != PV_OK && pc.plan != NULL) {
			pc.pp->plan_free(pc.plan);
			pc.plan = NULL;
		}
	}
	if (between != NULL && !between(arg)) {
		prep_drop(&pc);    /* as if the process died here: nothing applied */
		return JOBS_TICK_STEP;
	}
	sc.plan = pc.plan;
	sc.plan_cursor = pc.cursor;
	sc.pp = pc.pp;
	rc = step_commit(r, &sc);
	if (sc.plan_used && from_ahead)
		r->ahead_used++;
	prep_drop(&pc);
	if (rc != PV_OK || sc.finished)
		ahead_drop(r);     /* only a committed step's successor is worth keeping */
	if (rc == PV_OK) {
		r->failures = 0;
		count("phivault_jobs_steps_total", "Job steps this process committed.", sc.kind);
		sample_add(r, r->cur_id, sc.done);
		if (!sc.finished)
			return JOBS_TICK_STEP;
		log_info("jobs: %s done", r->cur_id);
		record_finish(r, r->cur_id, "job.done", NULL);
		r->cur_id[0] = '\0';
		return JOBS_TICK_FINISHED;
	}
	if (rc == PV_E_JOB_CONFLICT && sc.step_rc == PV_OK) {
		/* paused, cancelled or no longer ours: the boundary is here */
		r->cur_id[0] = '\0';
		return JOBS_TICK_LOST;
	}
	r->failures++;
	log_warn("jobs: step of %s failed: %s", r->cur_id,
	    pv_rc_name(sc.step_rc != PV_OK ? sc.step_rc : rc));
	fc = (struct fail_call){ r, r->cur_id, sc.step_rc != PV_OK ? sc.step_rc : rc,
	    r->failures, false };
	if (submit(r, NULL, fail_txn, &fc) == PV_OK && fc.failed) {
		record_finish(r, r->cur_id, "job.failed", pv_rc_name(fc.step_rc));
		r->cur_id[0] = '\0';
	}
	return JOBS_TICK_FAILED;
}

void
jobs_runner_ahead_counts(struct jobs_runner *r, int64_t *made, int64_t *used)
{
	*made = r->ahead_made;
	*used = r->ahead_used;
}

/* ---- the thread ---- */

/* Wait up to ms (or until kicked / stopping); true if stopping. */
static bool
wait_ms(struct jobs_runner *r, int64_t ms, bool kickable)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	while (!r->stopping && !(kickable && r->kicked))
		if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
			break;
	if (kickable)
		r->kicked = false;
	stop = r->stopping;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static void *
runner_main(void *arg)
{
	struct jobs_runner *r = arg;
	int64_t min_gap = 1000 / r->cfg.max_steps_per_s;

	if (min_gap < r->cfg.step_pause_ms)
		min_gap = r->cfg.step_pause_ms;
	for (;;) {
		int64_t t0 = util_mono_ms(), wait;
		enum jobs_tick t = jobs_runner_tick(r);

		if (t == JOBS_TICK_IDLE)
			wait = r->cfg.idle_poll_ms;
		else if (t == JOBS_TICK_FAILED)
			wait = 100 * (int64_t)r->failures;
		else if (t == JOBS_TICK_STEP)
			/* yield to requests: a pause, and a cap on steps per second */
			wait = min_gap - (util_mono_ms() - t0) > r->cfg.step_pause_ms ?
			    min_gap - (util_mono_ms() - t0) : r->cfg.step_pause_ms;
		else
			wait = 0;
		if (wait_ms(r, wait, t == JOBS_TICK_IDLE))
			break;
	}
	return NULL;
}

enum pv_rc
jobs_runner_start(const struct jobs_config *cfg, struct jobs_runner **out)
{
	struct jobs_runner *r;
	pthread_condattr_t ca;
	enum pv_rc rc = PV_OK;

	if (cfg == NULL || cfg->st == NULL || cfg->audit == NULL || cfg->node == NULL ||
	    cfg->node[0] == '\0' || strlen(cfg->node) >= STORE_JOB_OWNER_MAX ||
	    cfg->step_pause_ms < 0 || cfg->max_steps_per_s < 1 || cfg->lease_s < 1 || out == NULL)
		return PV_E_INVALID;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return PV_E_NOMEM;
	r->cfg = *cfg;
	if (r->cfg.idle_poll_ms <= 0)
		r->cfg.idle_poll_ms = 1000;
	util_strlcpy(r->node, cfg->node, sizeof(r->node));
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (cfg->http != NULL && (rc = jobs_routes(r, cfg->http)) != PV_OK)
		goto fail;
	if (cfg->install != NULL && (rc = cfg->install(r, cfg->http)) != PV_OK)
		goto fail;
	if (!cfg->no_thread) {
		if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
			rc = PV_E_INTERNAL;
			goto fail;
		}
		r->thread_running = true;
	}
	*out = r;
	return PV_OK;
fail:
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
	return rc;
}

void
jobs_runner_stop(struct jobs_runner *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->thread_running)
		pthread_join(r->thread, NULL);
	ahead_drop(r);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ---- from outside: enqueue and state changes ---- */

/* A new job's row, owned by its commit (audit_commit_held: heap memory). */
struct put_call {
	struct jobs_runner *r;
	struct store_job j;
	jobs_enqueue_done_fn done;   /* jobs_enqueue_submit: the answer */
	void *done_arg;
};

static enum pv_rc
put_txn(struct store_tx *tx, void *arg)
{
	return store_job_put(tx, &((struct put_call *)arg)->j);
}

/* After the commit (or instead of it): the runner looks at once. */
static void
put_free(void *arg)
{
	struct put_call *pc = arg;

	kick(pc->r);
	store_job_clear(&pc->j);
	free(pc);
}

static void
actor_event(const struct pv_actor *a, struct audit_event *ev)
{
	if (a != NULL && a->user_id != NULL) {
		ev->actor = *a;
		return;
	}
	ev->actor = audit_actor_system();
	ev->actor.source = a != NULL ? a->source : NULL;
}

/* The row and its job.create entry (ev's buffers: the caller's). */
static enum pv_rc
put_prepare(struct jobs_runner *r, const struct pv_actor *actor, const char *kind,
    const char *params, int64_t total, struct audit_event *ev, char res[UTIL_ID_MAX + 8],
    char detail[STORE_JOB_KIND_MAX + 16], struct put_call **out)
{
	struct put_call *pc;
	struct store_job *j;
	enum pv_rc rc;

	if (r == NULL || kind == NULL || jobs_kind_find(r, kind) == NULL || total < 0)
		return PV_E_INVALID;
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return PV_E_NOMEM;
	pc->r = r;
	j = &pc->j;
	if ((rc = util_id_new("job", j->id)) != PV_OK) {
		free(pc);
		return rc;
	}
	util_strlcpy(j->kind, kind, sizeof(j->kind));
	util_strlcpy(j->state, "queued", sizeof(j->state));
	j->cursor = strdup("");
	j->params = strdup(params != NULL ? params : "{}");
	j->errors = strdup("[]");
	if (j->cursor == NULL || j->params == NULL || j->errors == NULL) {
		store_job_clear(j);
		free(pc);
		return PV_E_NOMEM;
	}
	j->total = total;
	j->created_ms = j->updated_ms = now(r);
	util_strlcpy(j->created_by, actor != NULL && actor->user_id != NULL ? actor->user_id :
	    "system", sizeof(j->created_by));
	snprintf(res, UTIL_ID_MAX + 8, "jobs/%s", j->id);
	snprintf(detail, STORE_JOB_KIND_MAX + 16, "{\"kind\":\"%s\"}", kind);
	memset(ev, 0, sizeof(*ev));
	ev->action = "job.create";
	ev->resource = res;
	ev->outcome = AUDIT_ALLOWED;
	ev->detail = detail;
	actor_event(actor, ev);
	*out = pc;
	return PV_OK;
}

enum pv_rc
jobs_enqueue(struct jobs_runner *r, const struct pv_actor *actor, const char *kind,
    const char *params, int64_t total, char id[UTIL_ID_MAX])
{
	struct put_call *pc;
	char res[UTIL_ID_MAX + 8], detail[STORE_JOB_KIND_MAX + 16];
	struct audit_event ev;
	enum pv_rc rc;

	if (id == NULL)
		return PV_E_INVALID;
	if ((rc = put_prepare(r, actor, kind, params, total, &ev, res, detail, &pc)) != PV_OK)
		return rc;
	memcpy(id, pc->j.id, UTIL_ID_MAX);
	/* on a request thread the answer (which names the ID made here) leaves
	 * once the row is durable; elsewhere this waits, at background
	 * priority as every runner write */
	if (util_request_thread())
		rc = audit_commit_held(r->cfg.audit, &ev, put_txn, pc, put_free);
	else {
		rc = submit(r, &ev, put_txn, pc);
		put_free(pc);
	}
	if (rc != PV_OK)
		memset(id, 0, UTIL_ID_MAX);
	return rc;
}

/* jobs_enqueue_submit's completion (committer thread): the answer, then
 * the row's memory (and the runner's kick). */
static void
put_done(enum pv_rc rc, void *arg)
{
	struct put_call *pc = arg;

	pc->done(rc, rc == PV_OK ? pc->j.id : "", pc->done_arg);
	put_free(pc);
}

enum pv_rc
jobs_enqueue_submit(struct jobs_runner *r, const struct pv_actor *actor, const char *kind,
    const char *params, int64_t total, jobs_enqueue_done_fn done, void *arg)
{
	struct put_call *pc;
	char res[UTIL_ID_MAX + 8], detail[STORE_JOB_KIND_MAX + 16];
	struct audit_event ev;
	enum pv_rc rc;

	if (done == NULL)
		return PV_E_INVALID;
	if ((rc = put_prepare(r, actor, kind, params, total, &ev, res, detail, &pc)) != PV_OK)
		return rc;
	pc->done = done;
	pc->done_arg = arg;
	rc = audit_submit(r->cfg.audit, &ev, put_txn, pc, COMMIT_REQUEST, put_done, pc);
	if (rc != PV_OK) {
		store_job_clear(&pc->j);
		free(pc);
		return rc;
	}
	return PV_PENDING;
}

struct change_call {
	struct jobs_runner *r;
	char id[UTIL_ID_MAX];
	enum jobs_action action;
	struct store_job after;      /* the row as the change left it (change_txn) */
	jobs_change_done_fn done;    /* jobs_change_submit: the answer */
	void *done_arg;
};

static enum pv_rc
change_txn(struct store_tx *tx, void *arg)
{
	struct change_call *c = arg;
	struct store_job j;
	enum jobs_state s;
	const char *to = NULL;
	enum pv_rc rc;

	if ((rc = store_job_get(tx, c->id, &j)) != PV_OK)
		return rc;
	if (!jobs_state_parse(j.state, &s)) {
		rc = PV_E_IO;
		goto out;
	}
	switch (c->action) {
	case JOBS_PAUSE:
		to = s == JOBS_QUEUED || s == JOBS_RUNNING ? "paused" : NULL;
		break;
	case JOBS_RESUME:
		to = s == JOBS_PAUSED ? "queued" : NULL;
		break;
	case JOBS_CANCEL:
		to = s == JOBS_QUEUED || s == JOBS_RUNNING || s == JOBS_PAUSED ? "cancelled" : NULL;
		break;
	}
	if (to == NULL) {
		rc = PV_E_JOB_CONFLICT;
		goto out;
	}
	util_strlcpy(j.state, to, sizeof(j.state));
	j.updated_ms = now(c->r);
	j.lease_owner[0] = '\0';
	j.lease_expires_ms = 0;
	if (c->action == JOBS_CANCEL)
		j.finished_ms = j.updated_ms;
	if ((rc = store_job_update(tx, &j)) == PV_OK) {
		store_job_clear(&c->after);   /* a group retried: the last run counts */
		c->after = j;                  /* the call owns the row now */
		return PV_OK;
	}
out:
	store_job_clear(&j);
	return rc;
}

static void
change_free(void *arg)
{
	struct change_call *c = arg;

	kick(c->r);
	store_job_clear(&c->after);
	free(c);
}

/* jobs_change_submit's completion (committer thread): the job as it is now. */
static void
change_done(enum pv_rc rc, void *arg)
{
	struct change_call *c = arg;
	json_t *o = NULL;

	if (rc == PV_OK && (o = jobs_to_json(c->r, &c->after)) == NULL)
		rc = PV_E_NOMEM;
	c->done(rc, o, c->done_arg);
	change_free(c);
}

static enum pv_rc
change_prepare(struct jobs_runner *r, const struct pv_actor *actor, const char *id,
    enum jobs_action action, struct audit_event *ev, char res[UTIL_ID_MAX + 8],
    struct change_call **out)
{
	static const char *const actions[] = {
		[JOBS_PAUSE] = "job.pause", [JOBS_RESUME] = "job.resume", [JOBS_CANCEL] = "job.cancel",
	};
	struct change_call *c;

	if (r == NULL || !util_id_valid("job", id) || (unsigned)action > JOBS_CANCEL)
		return PV_E_NOTFOUND;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PV_E_NOMEM;
	c->r = r;
	util_strlcpy(c->id, id, sizeof(c->id));
	c->action = action;
	memset(ev, 0, sizeof(*ev));
	ev->resource = res;
	ev->outcome = AUDIT_ALLOWED;
	ev->action = actions[action];
	snprintf(res, UTIL_ID_MAX + 8, "jobs/%s", id);
	actor_event(actor, ev);
	*out = c;
	return PV_OK;
}

enum pv_rc
jobs_change(struct jobs_runner *r, const struct pv_actor *actor, const char *id,
    enum jobs_action action)
{
	struct change_call *c;
	char res[UTIL_ID_MAX + 8];
	struct audit_event ev;
	enum pv_rc rc;

	if ((rc = change_prepare(r, actor, id, action, &ev, res, &c)) != PV_OK)
		return rc;
	if (util_request_thread())
		return audit_commit_held(r->cfg.audit, &ev, change_txn, c, change_free);
	rc = submit(r, &ev, change_txn, c);
	change_free(c);
	return rc;
}

enum pv_rc
jobs_change_submit(struct jobs_runner *r, const struct pv_actor *actor, const char *id,
    enum jobs_action action, jobs_change_done_fn done, void *arg)
{
	struct change_call *c;
	char res[UTIL_ID_MAX + 8];
	struct audit_event ev;
	enum pv_rc rc;

	if (done == NULL)
		return PV_E_INVALID;
	if ((rc = change_prepare(r, actor, id, action, &ev, res, &c)) != PV_OK)
		return rc;
	c->done = done;
	c->done_arg = arg;
	rc = audit_submit(r->cfg.audit, &ev, change_txn, c, COMMIT_REQUEST, change_done, c);
	if (rc != PV_OK) {
		change_free(c);
		return rc;
	}
	return PV_PENDING;
}

void
jobs_actor_of_request(struct jobs_runner *r, struct http_request *req, struct pv_actor *out)
{
	memset(out, 0, sizeof(*out));
	out->source = req->source;   /* user_id NULL: the system (actor_event) */
	if (r->cfg.actor_of != NULL)
		r->cfg.actor_of(req, out);
}
