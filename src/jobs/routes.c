/*
 * routes: the job routes (API.md "Jobs"). Thin adapters over jobs.h.
 *
 *   GET  /v1/jobs                 sys.backup  {"jobs":[job...]} newest first
 *   GET  /v1/jobs/{id}            sys.backup  job
 *   POST /v1/jobs/{id}/pause      sys.backup  job (audited job.pause)
 *   POST /v1/jobs/{id}/resume     sys.backup  job (audited job.resume)
 *   POST /v1/jobs/{id}/cancel     sys.backup  job (audited job.cancel)
 *
 * Each handler parses, calls jobs_list / jobs_get / jobs_change (ops.c,
 * runner.c) and replies; the permission is the route's, decided by the
 * router's hook, and no handler reads the store itself.
 *
 * job = {"id","kind","state","done","total","rate_per_s","eta_s","errors",
 * "error_count","created_at","started_at","finished_at","created_by"}; times
 * are RFC 3339 or null. Permission: sys.backup (held by admin), the
 * operator's permission for background work, until authz_decide can decide
 * on the job's kind (docs/internals/jobs.md).
 */
#include <jansson.h>
#include <string.h>

#include "http/http.h"
#include "jobs/jobs_int.h"

#define JOBS_PERM "sys.backup"

static enum pv_rc
h_list(struct http_request *req)
{
	struct jobs_runner *r = req->route->arg;
	struct pv_actor a;
	json_t *arr = NULL, *o;
	enum pv_rc rc;

	jobs_actor_of_request(r, req, &a);
	if ((rc = jobs_list(r, &a, &arr)) != PV_OK)
		return rc;
	if ((o = json_pack("{s:o}", "jobs", arr)) == NULL)
		return PV_E_NOMEM;
	return http_reply(req, 200, o);
}

static enum pv_rc
reply_job(struct http_request *req, struct jobs_runner *r, const struct pv_actor *a,
    const char *id)
{
	json_t *o = NULL;
	enum pv_rc rc;

	rc = jobs_get(r, a, id, &o);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 200, o);
}

static enum pv_rc
h_get(struct http_request *req)
{
	struct jobs_runner *r = req->route->arg;
	struct pv_actor a;

	jobs_actor_of_request(r, req, &a);
	return reply_job(req, r, &a, req->params[0]);
}
static enum pv_rc
change_reply(struct http_request *req, enum jobs_action action, enum pv_rc rc, json_t *job)
{
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	if (rc == PV_E_JOB_CONFLICT)
		return http_fail(req, PV_E_JOB_CONFLICT, action == JOBS_RESUME ?
		    "Only a paused job can be resumed" :
		    "The job has already ended (done, failed or cancelled)" );
	if (rc != PV_OK)
		return rc;
	return http_reply(req, 200, job);
}

/* From the change's commit completion (committer thread): answer, resume. */
static void
pause_done(enum pv_rc rc, json_t *job, void *arg)
{
	http_resume(arg, change_reply(arg, JOBS_PAUSE, rc, job));
}

static void
resume_done(enum pv_rc rc, json_t *job, void *arg)
{
	http_resume(arg, change_reply(arg, JOBS_RESUME, rc, job));
}

static void
cancel_done(enum pv_rc rc, json_t *job, void *arg)
{
	http_resume(arg, change_reply(arg, JOBS_CANCEL, rc, job));
}

static enum pv_rc
change(struct http_request *req, enum jobs_action action)
{
	static const jobs_change_done_fn dones[] = {
		[JOBS_PAUSE] = pause_done, [JOBS_RESUME] = resume_done, [JOBS_CANCEL] = cancel_done,
	};
	struct jobs_runner *r = req->route->arg;
	struct pv_actor a;
	const char *id = req->params[0];
	enum pv_rc rc;

	if (!util_id_valid("job", id))
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	jobs_actor_of_request(r, req, &a);
	rc = jobs_change_submit(r, &a, id, action, dones[action], req);
	return rc == PV_PENDING ? PV_PENDING : change_reply(req, action, rc, NULL);
}

static enum pv_rc
h_pause(struct http_request *req)
{
	return change(req, JOBS_PAUSE);
}

static enum pv_rc
h_resume(struct http_request *req)
{
	return change(req, JOBS_RESUME);
}

static enum pv_rc
h_cancel(struct http_request *req)
{
	return change(req, JOBS_CANCEL);
}

enum pv_rc
jobs_routes(struct jobs_runner *r, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/jobs", h_list, JOBS_PERM, "job.read", 0, 0, r },
		{ "GET", "/v1/jobs/{id}", h_get, JOBS_PERM, "job.read", 0, 0, r },
		{ "POST", "/v1/jobs/{id}/pause", h_pause, JOBS_PERM, "job.pause", 0, 0, r },
		{ "POST", "/v1/jobs/{id}/resume", h_resume, JOBS_PERM, "job.resume", 0, 0, r },
		{ "POST", "/v1/jobs/{id}/cancel", h_cancel, JOBS_PERM, "job.cancel", 0, 0, r },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
