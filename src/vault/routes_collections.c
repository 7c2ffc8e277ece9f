/*
 * vault/routes_collections.c: collections over REST (API.md "PHI
 * records"), adapters over the collection operations (ops_collections.c).
 *
 *   POST /v1/collections        collections.manage   audited collection.create
 *   GET  /v1/collections        collections.manage
 *   GET  /v1/collections/{c}    authenticated; the operation asks the decision
 *                               point (collections.manage, or records.read /
 *                               records.write on c)
 */
#include "vault/vault_int.h"

#define COLL_BODY_MAX (64 * 1024)

static enum pv_rc coll_create(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 201);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_collection_create(req->route->arg, &who, req->body, vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc coll_list(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_collection_list(req->route->arg, &who, vault_reply_done, r);
	return PV_PENDING;
}

static enum pv_rc coll_get(struct http_request *req)
{
	struct vault_reply *r = vault_reply_new(req, 200);
	struct vault_caller who;
	struct pv_actor actor;

	if (r == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_collection_get(req->route->arg, &who, req->params[0], vault_reply_done, r);
	return PV_PENDING;
}

enum pv_rc vault_routes_collections(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections", coll_create, "collections.manage",
		    "collection.create", HTTP_ROUTE_BODY, COLL_BODY_MAX, v },
		{ "GET", "/v1/collections", coll_list, "collections.manage", NULL, 0, 0, v },
		{ "GET", "/v1/collections/{c}", coll_get, HTTP_PERM_AUTHENTICATED, NULL, 0, 0, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
