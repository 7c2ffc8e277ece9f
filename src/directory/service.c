/*
 * directory/service.c: the directory's context (what its operations
 * write through and whom they tell) and the registration of its routes.
 */
#include <stdlib.h>

#include "directory/directory_int.h"

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
	*out = d;
	return PV_OK;
}

void
directory_free(struct directory *d)
{
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
	if ((rc = directory_route_users(d, srv)) != PV_OK ||
	    (rc = directory_route_groups(d, srv)) != PV_OK)
		return rc;
	return directory_route_apps(d, srv);
}
