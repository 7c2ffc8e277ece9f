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
