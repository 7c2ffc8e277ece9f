/*
 * jobs: background work (DESIGN.md seam 3 "Commits", "Process model").
 *
 * A job is a row (store.h "jobs"): kind, state, an opaque cursor owned by
 * the kind, progress (done / total), a bounded list of errors, times, a
 * lease and the kind's params. One runner per process leases one runnable
 * job at a time and advances it by calling its kind's step(), which does a
 * small bounded unit of work. The step's writes and the job row's new
 * cursor, counts and lease are ONE transaction, submitted through the audit
 * writer (audit_commit): a crash between steps loses nothing, and a step's
 * effect never becomes visible without its cursor moving past it, so no
 * item's work is done twice where anyone could see it.
 *
 * States and transitions (a change asked for from outside takes effect at
 * the next step boundary: the step transaction re-reads the row and does
 * nothing unless the job is still running under this runner's lease):
 *
 *   queued  --lease-->          running
 *   running --step: finished--> done
 *   running --step failed JOBS_MAX_FAILURES times in a row--> failed
 *   queued | running  --pause-->   paused
 *   paused            --resume-->  queued
 *   queued | running | paused --cancel--> cancelled
 *   any other change: PV_E_JOB_CONFLICT (409 job_conflict).
 *
 * Leases: lease_owner is the runner's node name ("[server] node"; one
 * process per data directory holds its lock, so a job leased by our own
 * node name belongs to a process of ours that died: it is taken over at
 * once). A lease of another node is taken over only after it expired
 * (lease_s without a step). Each step renews the lease.
 *
 * Kinds are registered by higher modules at start-up (jobs_kind_register),
 * so this module never calls up. A job whose kind this process does not
 * know is left alone.
 *
 * Prepare / apply (optional, jobs_kind_register_prepared): a kind whose
 * step is mostly computation (re-encryption: fetch, unwrap, rewrap) can
 * split it. prepare runs first, on the runner thread, in a READ transaction
 * of its own outside the commit queue: it reads from the job's cursor and
 * returns a plan (heap memory, the kind's). The step then runs as usual, in
 * the step transaction on the commit queue, with ctx->plan set, and only
 * applies the plan: conditional writes (each guarded by what prepare read,
 * so an item changed in between is skipped, not clobbered) and the new
 * cursor, in one transaction as always. The plan is given to the step only
 * if the job row's cursor is still the one prepare read (else ctx->plan is
 * NULL and the step does all the work itself, as a kind without prepare
 * does); plan_free runs once after the step, whatever happened. A crash
 * between the phases loses nothing: the plan lived in memory only and the
 * cursor has not moved. The crypto runs on the runner's core while request
 * commits go on; the committer holds the write lock only for the writes.
 *
 * Yielding to requests: the runner sleeps step_pause_ms between steps and
 * never runs more than max_steps_per_s steps a second. PRIORITY HOOK: every
 * commit of the runner goes through one function (runner.c submit()); when
 * the commit queue with priorities lands, that is where the runner submits
 * at background priority instead of calling audit_commit.
 */
#ifndef PV_JOBS_H
#define PV_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "store/store.h"
#include "util/util.h"

struct jobs_runner;
struct http_server;
struct http_request;
struct json_t;

#define JOBS_CURSOR_MAX 1024     /* bytes of a cursor, incl. NUL */
#define JOBS_ERRORS_MAX 20       /* errors kept in the row (the newest); error_count counts all */
#define JOBS_MAX_FAILURES 3      /* failed steps in a row before the job fails */
#define JOBS_CODE_MAX 64         /* an error code / item ID: [A-Za-z0-9_.:-]{1,63} */

enum jobs_state {
	JOBS_QUEUED, JOBS_RUNNING, JOBS_PAUSED, JOBS_DONE, JOBS_FAILED, JOBS_CANCELLED
};
const char *jobs_state_name(enum jobs_state s);
/* false if name is no state */
bool jobs_state_parse(const char *name, enum jobs_state *out);

/* What a step sees. tx is the step's store transaction (STORE_WR): every
 * read and write goes there and commits (or rolls back) with the cursor. */
struct jobs_step_ctx {
	struct store_tx *tx;
	const char *job_id;
	const char *params;      /* the job's params (JSON object text) */
	int64_t done;            /* items done so far */
	int64_t total;
	void *kind_arg;          /* jobs_kind.arg */
	/* step only: the plan the kind's prepare made from this same cursor
	 * (jobs_prepare.same), or NULL (no prepare phase, prepare failed, or
	 * the cursor moved since): then the step does all its work itself.
	 * Never freed by the step. In prepare, tx is a STORE_RD transaction and
	 * plan is NULL. A plan prepared ahead was read from a snapshot that may
	 * predate the previous step's commit: its writes must stay conditional. */
	void *plan;
};

/* What a step returns (zeroed by the runner, cursor preset to the old one). */
struct jobs_step_out {
	char cursor[JOBS_CURSOR_MAX];  /* the new cursor */
	int64_t done;                  /* items this step completed (added to done) */
	int64_t total;                 /* new total; < 0: unchanged */
	bool finished;                 /* no more work: the job becomes done */
	/* one item this step skipped with an error (optional, "" none); both
	 * must be codes / IDs (JOBS_CODE_MAX charset), never a value */
	char error_code[JOBS_CODE_MAX];
	char error_item[JOBS_CODE_MAX];
};

struct jobs_kind {
	const char *name;        /* "test.count", "keys.reencrypt", ... [a-z0-9_.]{1,63} */
	/* One bounded unit of work from cursor. An error rolls back everything
	 * the step wrote; the runner records it and retries the same cursor. */
	enum pv_rc (*step)(const struct jobs_step_ctx *ctx, const char *cursor,
	    struct jobs_step_out *out);
	void *arg;
};

struct jobs_config {
	struct store *st;
	struct audit *audit;
	const char *node;            /* lease owner */
	int step_pause_ms;           /* sleep between steps; >= 0 */
	int max_steps_per_s;         /* >= 1 */
	int lease_s;                 /* >= 1 */
	int idle_poll_ms;            /* look for work this often when idle; 0: 1000 */
	/* wall clock for leases and job times; NULL: util_now_ms (tests inject) */
	int64_t (*now_ms)(void *arg);
	void *now_arg;
	struct http_server *http;    /* non-NULL: register the job routes on it */
	/* called after the routes, before the thread starts: register kinds (and
	 * test routes in test builds); may be NULL */
	enum pv_rc (*install)(struct jobs_runner *r, struct http_server *http);
	bool no_thread;              /* tests: drive the runner with jobs_runner_tick */
	/* the actor of an HTTP request (the wiring knows the principal type:
	 * authn_actor); without it a request acts as the system */
	void (*actor_of)(struct http_request *req, struct pv_actor *out);
};

/* Make the runner, register routes and kinds, start its thread. */
enum pv_rc jobs_runner_start(const struct jobs_config *cfg, struct jobs_runner **out);
/* Finish the step in flight, join the thread, free. NULL is fine. Jobs
 * stay running in the store and resume at their cursor on the next start. */
void jobs_runner_stop(struct jobs_runner *r);

/* PV_E_CONFLICT if a kind of that name is registered; PV_E_INVALID for a
 * bad name. The kind must outlive the runner. */
enum pv_rc jobs_kind_register(struct jobs_runner *r, const struct jobs_kind *kind);

/* The optional first phase of a step (prepare / apply above). prepare:
 * read-only work from cursor into *plan (NULL: nothing prepared); an error
 * only drops the plan (the step then does the work itself and reports it).
 * plan_free(plan) after the step; required.
 *
 * Prepared ahead (optional, docs/internals/jobs.md "Prepared ahead"):
 * next_cursor(plan, cursor, next) writes the cursor the step will leave if
 * it applies plan (made from cursor) whole, or returns false when that
 * cannot be known (the plan ends a pass). Then the runner prepares the next
 * step from next while this step's commit is in flight, and gives that plan
 * to the next step only if same(next, the row's cursor then) holds. same:
 * the two cursors name the same position (a kind whose cursor also carries
 * other state, such as a rate window, compares the position only); NULL:
 * equal strings. It decides for every plan, prepared ahead or not. */
struct jobs_prepare {
	enum pv_rc (*prepare)(const struct jobs_step_ctx *ctx, const char *cursor, void **plan);
	void (*plan_free)(void *plan);
	bool (*next_cursor)(const void *plan, const char *cursor, char next[JOBS_CURSOR_MAX]);
	bool (*same)(const char *planned, const char *cursor);
};
/* jobs_kind_register with a prepare phase (prep must outlive the runner;
 * NULL: as jobs_kind_register). */
enum pv_rc jobs_kind_register_prepared(struct jobs_runner *r, const struct jobs_kind *kind,
    const struct jobs_prepare *prep);

/* Queue a job of a registered kind (params: JSON object text or NULL;
 * total: items expected, 0 if unknown). Audited job.create in the same
 * transaction. The ID is made before the commit: on an HTTP request thread
 * the row is queued with audit_commit_held (PV_OK at once; the request's
 * answer leaves after the fsync, or becomes the error), elsewhere this
 * waits for it. */
enum pv_rc jobs_enqueue(struct jobs_runner *r, const struct pv_actor *actor,
    const char *kind, const char *params, int64_t total, char id[UTIL_ID_MAX]);
/* The same answered from its completion, from any thread (a commit's
 * completion on the committer may call it: nothing waits): PV_PENDING, then
 * done(rc, id, arg) once on the committer thread after the fsync (id: the
 * job's, "" unless PV_OK; valid during the call). Submitted at request
 * priority, after whatever the caller submitted before it. Any other
 * return: nothing was queued and done will not run. */
typedef void (*jobs_enqueue_done_fn)(enum pv_rc rc, const char *id, void *arg);
enum pv_rc jobs_enqueue_submit(struct jobs_runner *r, const struct pv_actor *actor,
    const char *kind, const char *params, int64_t total, jobs_enqueue_done_fn done, void *arg);

enum jobs_action { JOBS_PAUSE, JOBS_RESUME, JOBS_CANCEL };
/* A state change asked for from outside, audited job.pause / job.resume /
 * job.cancel in the same transaction. PV_E_NOTFOUND, PV_E_JOB_CONFLICT.
 * On an HTTP request thread it is audit_commit_held: PV_OK returns once
 * queued and the request's answer leaves after the fsync, or becomes the
 * change's rc (a 409 if the job had ended); elsewhere it waits. */
enum pv_rc jobs_change(struct jobs_runner *r, const struct pv_actor *actor, const char *id,
    enum jobs_action action);
/* The same answered from its completion (the jobs routes): PV_PENDING, then
 * done(rc, job, arg) once on the committer thread after the fsync, with the
 * job as jobs_get shows it (the caller's, json_decref; NULL unless PV_OK).
 * Any other return: nothing was queued and done will not run. */
typedef void (*jobs_change_done_fn)(enum pv_rc rc, struct json_t *job, void *arg);
enum pv_rc jobs_change_submit(struct jobs_runner *r, const struct pv_actor *actor,
    const char *id, enum jobs_action action, jobs_change_done_fn done, void *arg);

/* The jobs as the API shows them (GET /v1/jobs: a JSON array, newest
 * first) / one job (GET /v1/jobs/{id}); *out is the caller's (json_decref).
 * Not audited; the caller's permission (sys.backup) is the route's.
 * jobs_get: PV_E_NOTFOUND for an unknown or malformed ID (ops.c). */
enum pv_rc jobs_list(struct jobs_runner *r, const struct pv_actor *actor,
    struct json_t **out);
enum pv_rc jobs_get(struct jobs_runner *r, const struct pv_actor *actor, const char *id,
    struct json_t **out);

/* Rate (items per second over the recent steps) and ETA (seconds; -1
 * unknown) of a job this runner is running; rate 0 and eta -1 otherwise. */
void jobs_progress(struct jobs_runner *r, const char *id, int64_t done, int64_t total,
    double *rate_per_s, int64_t *eta_s);

/* Test builds only (kind_test.c, referenced only by phivault-test and the
 * unit tests): register the synthetic kind "test.count" and, with http,
 * POST /v1/test/jobs. A jobs_config.install function. */
enum pv_rc jobs_test_install(struct jobs_runner *r, struct http_server *http);

#endif /* PV_JOBS_H */
