/*
 * directory/service.c: the directory's context (what its operations
 * write through and whom they tell) and the registration of its routes.
 */
#include <stdlib.h>
#include <string.h>

#include "directory/directory_int.h"
#include "util/util.h"

enum pv_rc
directory_new(const struct directory_config *c, struct directory **out)
{
	struct directory *d;

	if (c == NULL || c->st == NULL || c->audit == NULL || c->cfg == NULL || out == NULL)
		return PV_E_INVALID;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return PV_E_NOMEM;
	d->authn = c->authn;
	d->st = c->st;
	d->audit = c->audit;
	d->cfg = c->cfg;
	d->authz = c->authz;
	d->keys = c->keys;
	/* OIDC sign-in joins mapped groups only through dual control's gate */
	if (d->authn != NULL)
		authn_oidc_set_group_gate(d->authn, directory_oidc_group_gate, d);
	*out = d;
	return PV_OK;
}

void
directory_free(struct directory *d)
{
	if (d != NULL && d->authn != NULL)
		authn_oidc_set_group_gate(d->authn, NULL, NULL);
	directory_campaigns_stop(d);
	free(d);
}

void
directory_changed(struct directory *s)
{
	if (s->authn != NULL)
		authn_authz_changed(s->authn);
}

enum pv_rc
directory_routes(struct directory *d, struct http_server *srv)
{
	enum pv_rc rc;

	if (d == NULL || srv == NULL)
		return PV_E_INVALID;
	/* campaigns first: /v1/reviews/campaigns must match before the
	 * break-glass reviews' /v1/reviews/{id} (vault, registered later; the
	 * router takes the first match) */
	if ((rc = directory_route_campaigns(d, srv)) != PV_OK ||
	    (rc = directory_route_users(d, srv)) != PV_OK ||
	    (rc = directory_route_groups(d, srv)) != PV_OK ||
	    (rc = directory_route_officers(d, srv)) != PV_OK)
		return rc;
	return directory_route_apps(d, srv);
}

/* ---- writes ---- */

void
directory_result_reset(struct directory_result *res)
{
	void (*done)(enum pv_rc, struct directory_result *, void *) = res->done;
	void *arg = res->done_arg;

	memset(res, 0, sizeof(*res));
	res->done = done;
	res->done_arg = arg;
}

bool
directory_write_async(const struct directory_result *res)
{
	/* off a request thread nobody answers later: res is not even read */
	return util_request_thread() && res != NULL && res->done != NULL;
}

struct write_call {
	struct directory *s;
	struct directory_write w;
	struct directory_result *res;
};

static enum pv_rc
write_fn(struct store_tx *tx, void *arg)
{
	struct write_call *c = arg;

	return c->w.fn != NULL ? c->w.fn(tx, c->w.job) : PV_OK;
}

/* finish, then the job goes; the answer's rc */
static enum pv_rc
write_end(struct write_call *c, enum pv_rc rc)
{
	if (c->w.finish != NULL)
		rc = c->w.finish(c->s, rc, c->w.job, c->res);
	if (c->w.job_free != NULL)
		c->w.job_free(c->w.job);
	else
		free(c->w.job);
	free(c);
	return rc;
}

/* On the committer, after the group: the answer, then the caller's done. */
static void
write_done(enum pv_rc rc, void *arg)
{
	struct write_call *c = arg;
	struct directory_result *res = c->res;

	rc = write_end(c, rc);
	res->done(rc, res, res->done_arg);
}

enum pv_rc
directory_write(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, struct directory_result *res)
{
	return directory_write_creating(s, ev, w, NULL, NULL, res);
}

enum pv_rc
directory_write_creating(struct directory *s, const struct audit_event *ev,
    const struct directory_write *w, const struct store_user *u, const struct store_group *g,
    struct directory_result *res)
{
	struct write_call *c;
	enum pv_rc rc;

	/* a step of the change set open on this thread (multi.c) */
	if (w->prio == COMMIT_REQUEST &&
	    directory_set_collect(s, ev, w, u, g, res, &rc))
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		if (w->job_free != NULL)
			w->job_free(w->job);
		else
			free(w->job);
		return PV_E_NOMEM;
	}
	c->s = s;
	c->w = *w;
	c->res = res;
	if (w->prio != COMMIT_REQUEST || !directory_write_async(res))
		return write_end(c, w->prio == COMMIT_REQUEST ? audit_commit(s->audit, ev, write_fn, c) :
		    audit_commit_at(s->audit, ev, write_fn, c, w->prio));
	rc = audit_submit(s->audit, ev, write_fn, c, COMMIT_REQUEST, write_done, c);
	if (rc != PV_OK)   /* not queued: no completion comes */
		return write_end(c, rc == PV_E_INVALID || rc == PV_E_UNAVAILABLE ? rc : PV_E_AUDIT);
	return PV_PENDING;
}

enum pv_rc
directory_refusal(struct directory *s, const struct audit_event *ev)
{
	return audit_record_held(s->audit, ev, true) == PV_OK ? PV_OK : PV_E_AUDIT;
}

enum pv_rc
directory_fail(struct directory_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg, sizeof(res->message));
	return rc;
}

void
directory_event_init(struct audit_event *ev, const struct pv_actor *actor,
    const char *action, const char *resource)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = *actor;
	ev->action = action;
	ev->resource = resource;
	ev->outcome = AUDIT_ALLOWED;
}

enum pv_rc
directory_list_begin(struct directory *d, struct directory_list *l)
{
	enum pv_rc rc;

	l->tx = NULL;
	l->failed = false;
	if ((l->arr = json_array()) == NULL)
		return PV_E_NOMEM;
	if ((rc = store_begin(d->st, STORE_RD, &l->tx)) != PV_OK) {
		json_decref(l->arr);
		l->arr = NULL;
		return rc;
	}
	return PV_OK;
}

int
directory_list_add(struct directory_list *l, json_t *o)
{
	if (o == NULL) {
		l->failed = true;
		return 1;
	}
	json_array_append_new(l->arr, o);
	return 0;
}

enum pv_rc
directory_list_end(struct directory_list *l, enum pv_rc rc, json_t **out)
{
	store_end(l->tx);
	if (rc == PV_OK && l->failed)
		rc = PV_E_INTERNAL;
	if (rc != PV_OK) {
		json_decref(l->arr);
		return rc;
	}
	*out = l->arr;
	return PV_OK;
}
