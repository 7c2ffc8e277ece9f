/*
 * vault/routes_export.c: the de-identified export over REST (API.md
 * "Compliance and disclosures"; docs/storing-phi.md "De-identified
 * export"). Adapters over ops_export.c: parse, call, reply (CTest
 * route_thinness).
 *
 *   POST   /v1/collections/{c}/export  records.export:{c}  202 {"job","export"}
 *   GET    /v1/exports                 authenticated       {"exports":[...]}
 *   GET    /v1/exports/{id}            authenticated (the operation decides)
 *   GET    /v1/exports/{id}/file       authenticated (records.export on its collection)
 *          [?chunk=N]                  application/x-ndjson
 *   DELETE /v1/exports/{id}            authenticated (records.export or access.approve) 204
 */
#include "vault/vault_int.h"

#define EXPORT_BODY_MAX 4096

static enum pv_rc r_create(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 202, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_export_create(req->route->arg, &c.who, req->params[0], req->body, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc r_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_export_list(req->route->arg, &c.who, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc r_get(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_export_get(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc r_file(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_export_file(req->route->arg, &c.who, req->params[0], http_query(req, "chunk"),
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc r_delete(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 204, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_export_delete(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_export(struct http_server *srv, struct vault_export *ve)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections/{c}/export", r_create, "records.export:{0}",
		    "export.create", HTTP_ROUTE_BODY, EXPORT_BODY_MAX, ve },
		{ "GET", "/v1/exports", r_list, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, ve },
		{ "GET", "/v1/exports/{id}", r_get, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, ve },
		{ "GET", "/v1/exports/{id}/file", r_file, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, ve },
		{ "DELETE", "/v1/exports/{id}", r_delete, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, ve },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
