/*
 * routes: the job routes (API.md "Jobs"). Thin adapters over jobs.h.
 *
 *   GET  /v1/jobs                 sys.backup  {"jobs":[job...]} newest first
 *   GET  /v1/jobs/{id}            sys.backup  job
 *   POST /v1/jobs/{id}/pause      sys.backup  job (audited job.pause)
 *   POST /v1/jobs/{id}/resume     sys.backup  job (audited job.resume)
 *   POST /v1/jobs/{id}/cancel     sys.backup  job (audited job.cancel)
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

static json_t *
time_or_null(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	util_time_fmt(ms, buf, sizeof(buf));
	return json_string(buf);
}

json_t *
jobs_to_json(struct jobs_runner *r, const struct store_job *j)
{
	json_t *o, *errors = json_loads(j->errors, 0, NULL);
	double rate;
	int64_t eta;

	if (errors == NULL || !json_is_array(errors)) {
		json_decref(errors);
		errors = json_array();
	}
	jobs_progress(r, j->id, j->done, j->total, &rate, &eta);
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:o, s:o, s:I, s:o, s:o, s:o, s:s}",
	    "id", j->id, "kind", j->kind, "state", j->state, "done", (json_int_t)j->done,
	    "total", (json_int_t)j->total, "rate_per_s", rate,
	    "eta_s", eta >= 0 ? json_integer(eta) : json_null(), "errors", errors,
	    "error_count", (json_int_t)j->error_count, "created_at", time_or_null(j->created_ms),
	    "started_at", time_or_null(j->started_ms), "finished_at", time_or_null(j->finished_ms),
	    "created_by", j->created_by);
	return o;
}

struct list_ctx {
	struct jobs_runner *r;
	json_t *a;
	bool nomem;
};

static int
list_cb(const struct store_job *j, void *arg)
{
	struct list_ctx *x = arg;
	json_t *o = jobs_to_json(x->r, j);

	if (o == NULL || json_array_append_new(x->a, o) != 0) {
		x->nomem = true;
		return 1;
	}
	return 0;
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct jobs_runner *r = req->route->arg;
	struct list_ctx x = { r, json_array(), false };
	enum pv_rc rc;
	json_t *o;

	if (x.a == NULL)
		return PV_E_NOMEM;
	STORE_READ(jobs_runner_store(r), rc, store_job_list(tx, list_cb, &x));
	if (rc == PV_OK && x.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(x.a);
		return rc;
	}
	if ((o = json_pack("{s:o}", "jobs", x.a)) == NULL)
		return PV_E_NOMEM;
	return http_reply(req, 200, o);
}

static enum pv_rc
reply_job(struct http_request *req, struct jobs_runner *r, const char *id)
{
	struct store_job j;
	json_t *o;
	enum pv_rc rc;

	if (!util_id_valid("job", id))
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	STORE_READ(jobs_runner_store(r), rc, store_job_get(tx, id, &j));
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	if (rc != PV_OK)
		return rc;
	o = jobs_to_json(r, &j);
	store_job_clear(&j);
	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

static enum pv_rc
h_get(struct http_request *req)
{
	return reply_job(req, req->route->arg, req->params[0]);
}

static enum pv_rc
change(struct http_request *req, enum jobs_action action)
{
	struct jobs_runner *r = req->route->arg;
	struct pv_actor a;
	const char *id = req->params[0];
	enum pv_rc rc;

	if (!util_id_valid("job", id))
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	jobs_actor_of_request(r, req, &a);
	rc = jobs_change(r, &a, id, action);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such job");
	if (rc == PV_E_JOB_CONFLICT)
		return http_fail(req, PV_E_JOB_CONFLICT, action == JOBS_RESUME ?
		    "Only a paused job can be resumed" :
		    "The job has already ended (done, failed or cancelled)" );
	if (rc != PV_OK)
		return rc;
	return reply_job(req, r, id);
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
