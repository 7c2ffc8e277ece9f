/*
 * store/store_jobs.h: background jobs (table jobs).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_JOBS_H
#define PV_STORE_JOBS_H

#include "store/store_core.h"

/* ---- jobs (background work: DESIGN.md seam 3, src/jobs/) ---- */
/* jobs:begin (added by the jobs work) */
/*
 * One row per job. cursor is opaque text owned by the job's kind; errors is
 * a bounded JSON array of {"at","code","item"} (codes and IDs, never a PHI
 * value); params is the kind's JSON object. lease_owner is the node that
 * runs the job ("" none) until lease_expires_ms. Times are ms since the
 * epoch (0: not yet).
 */
#define STORE_JOB_KIND_MAX 64
#define STORE_JOB_STATE_MAX 16
#define STORE_JOB_OWNER_MAX 128
struct store_job {
	char id[UTIL_ID_MAX];
	char kind[STORE_JOB_KIND_MAX];
	char state[STORE_JOB_STATE_MAX];   /* queued|running|paused|done|failed|cancelled */
	char *cursor;                      /* malloc'd ("" at the start) */
	char *params;                      /* malloc'd JSON object text */
	char *errors;                      /* malloc'd JSON array text */
	int64_t done;
	int64_t total;
	int64_t error_count;               /* every error, also those dropped from errors */
	int64_t created_ms;
	int64_t started_ms;
	int64_t finished_ms;
	int64_t updated_ms;
	char lease_owner[STORE_JOB_OWNER_MAX];
	int64_t lease_expires_ms;
	char created_by[UTIL_ID_MAX];      /* user ID or "system" */
};
void store_job_clear(struct store_job *j);
/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_job_put(struct store_tx *tx, const struct store_job *j);
enum pv_rc store_job_get(struct store_tx *tx, const char *id, struct store_job *out);
/* Rewrite every mutable column of j->id (not id, kind, params, created);
 * PV_E_NOTFOUND if there is no such job. */
enum pv_rc store_job_update(struct store_tx *tx, const struct store_job *j);
typedef int (*store_job_cb)(const struct store_job *j, void *arg);   /* non-zero stops */
/* Every job, newest first. */
enum pv_rc store_job_list(struct store_tx *tx, store_job_cb cb, void *arg);
/* Jobs owner may run at now_ms, oldest first: queued or running, and not
 * leased, leased by owner, or with an expired lease. */
enum pv_rc store_job_runnable(struct store_tx *tx, const char *owner, int64_t now_ms,
    store_job_cb cb, void *arg);
/* jobs:end */

#endif /* PV_STORE_JOBS_H */
