/*
 * vault/routes_incidents.c: the breach scope report over REST (API.md
 * "Governance"; docs/governance.md "Breach scope"), adapters over
 * ops_incidents.c. The route decides incidents.manage (built-in
 * security_officer); parse, call, reply: no check and no store call here
 * (CTest route_thinness).
 *
 *   POST /v1/incidents        incident.create   202 {"job","incident",...}
 *   GET  /v1/incidents        incident.list
 *   GET  /v1/incidents/{id}   incident.read     ?format=json|csv
 */
#include "vault/vault_int.h"

#define INCIDENT_BODY_MAX 16384

static enum pv_rc i_create(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 202, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_incident_create(req->route->arg, &c.who, req->body, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc i_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_incident_list(req->route->arg, &c.who, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc i_get(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_incident_get(req->route->arg, &c.who, req->params[0], http_query(req, "format"),
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_incidents(struct http_server *srv, struct vault_incidents *in)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/incidents", i_create, "incidents.manage", "incident.create",
		    HTTP_ROUTE_BODY, INCIDENT_BODY_MAX, in },
		{ "GET", "/v1/incidents", i_list, "incidents.manage", "incident.list", 0, 0, in },
		{ "GET", "/v1/incidents/{id}", i_get, "incidents.manage", "incident.read", 0, 0, in },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
