/*
 * jobs internals, for the module's files and its unit tests only.
 */
#ifndef PV_JOBS_INT_H
#define PV_JOBS_INT_H

#include "jobs/jobs.h"

struct http_request;

/* What one tick of the runner did. */
enum jobs_tick {
	JOBS_TICK_IDLE,      /* nothing runnable */
	JOBS_TICK_STEP,      /* a step committed */
	JOBS_TICK_FINISHED,  /* a step committed and finished its job */
	JOBS_TICK_LOST,      /* the job was paused, cancelled or taken: dropped */
	JOBS_TICK_FAILED,    /* a step failed (recorded; the job may now be failed) */
};
/* One iteration of the runner's loop on the calling thread: lease a job if
 * none is held, then run one step of it. The thread calls this; unit tests
 * (no_thread) call it directly. */
enum jobs_tick jobs_runner_tick(struct jobs_runner *r);
/* The same, calling between(arg) after a kind's prepare phase and before
 * its step is submitted (unit tests: change an item in between; between
 * returns false to drop the plan unapplied, as a crash there would). */
enum jobs_tick jobs_runner_tick_between(struct jobs_runner *r, bool (*between)(void *arg),
    void *arg);
/* Plans prepared ahead (while the step before committed) and, of them,
 * those a step applied (ticking thread; tests). */
void jobs_runner_ahead_counts(struct jobs_runner *r, int64_t *made, int64_t *used);

/* Append {"at","code","item"} to a JSON array text, keeping the newest
 * JOBS_ERRORS_MAX; *out malloc'd. */
enum pv_rc jobs_errors_append(const char *errors, const char *at, const char *code,
    const char *item, char **out);
/* [A-Za-z0-9_.:-]{1,63} */
bool jobs_code_valid(const char *s);

/* The job as the API shows it (GET /v1/jobs/{id}); NULL on no memory. */
struct json_t *jobs_to_json(struct jobs_runner *r, const struct store_job *j);
struct store *jobs_runner_store(struct jobs_runner *r);
const struct jobs_kind *jobs_kind_find(struct jobs_runner *r, const char *name);

/* The actor of req through cfg.actor_of (source only without it). */
void jobs_actor_of_request(struct jobs_runner *r, struct http_request *req,
    struct pv_actor *out);

/* routes.c */
enum pv_rc jobs_routes(struct jobs_runner *r, struct http_server *srv);

#endif /* PV_JOBS_INT_H */
