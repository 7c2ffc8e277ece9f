/*
 * jobs/ops.c: the jobs operations the API and the CLI show (API.md
 * "Jobs"), apart from HTTP: list, get, and the JSON form of a job. The
 * state changes (pause, resume, cancel) are jobs_change (runner.c).
 *
 * The permission to call them (sys.backup) is decided at the route hook
 * (routes.c declares it); these read the jobs table in their own read
 * transaction and are not audited (the route's job.read is an ordinary
 * read; the changes are audited by jobs_change).
 */
#include <jansson.h>
#include <string.h>

#include "jobs/jobs_int.h"

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

enum pv_rc
jobs_list(struct jobs_runner *r, const struct pv_actor *actor, json_t **out)
{
	struct list_ctx x = { r, json_array(), false };
	enum pv_rc rc;

	(void)actor;
	if (x.a == NULL)
		return PV_E_NOMEM;
	STORE_READ(jobs_runner_store(r), rc, store_job_list(tx, list_cb, &x));
	if (rc == PV_OK && x.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(x.a);
		return rc;
	}
	*out = x.a;
	return PV_OK;
}

enum pv_rc
jobs_get(struct jobs_runner *r, const struct pv_actor *actor, const char *id, json_t **out)
{
	struct store_job j;
	json_t *o;
	enum pv_rc rc;

	(void)actor;
	if (id == NULL || !util_id_valid("job", id))
		return PV_E_NOTFOUND;
	STORE_READ(jobs_runner_store(r), rc, store_job_get(tx, id, &j));
	if (rc != PV_OK)
		return rc;
	o = jobs_to_json(r, &j);
	store_job_clear(&j);
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}
