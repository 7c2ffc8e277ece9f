/*
 * vault/routes_keys.c: key administration over REST (API.md "Keys"),
 * adapters over ops_keys.c. Every route needs keys.manage (built-in
 * key_admin, who reads no PHI); the route hook decides it and records a
 * denial under the route's audit action.
 *
 *   GET  /v1/keys                                 key.list
 *   POST /v1/keys/{name}/rotate                   key.rotate
 *   PUT  /v1/keys/{name}/policy                   key.policy
 *   POST /v1/keys/{name}/reencrypt                key.reencrypt   202 {"job"}
 *   POST /v1/keys/{name}/versions/{v}/retire      key.retire
 *   POST /v1/keys/{name}/versions/{v}/revoke      key.revoke      {"confirm":"<name>:<v>"}
 *   PATCH /v1/collections/{c}                     collection.update 202 {"job"}
 *         {"double_encryption":bool}: rotate collection:<c> and re-encrypt
 *   POST /v1/keys/{name}/versions/{v}/compromised key.compromised {"confirm":"<name>:<v>"}
 *
 * Parse, call, reply: no check and no store call here (CTest route_thinness).
 */
#include "vault/vault_int.h"

#define KEY_BODY_MAX 4096

static enum pv_rc k_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_keys_list(vault_keyadmin_vault(req->route->arg), &c.who, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc k_rotate(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_rotate(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc k_policy(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_policy(req->route->arg, &c.who, req->params[0], req->body, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc k_reencrypt(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 202, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_reencrypt(req->route->arg, &c.who, req->params[0], req->body, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc k_retire(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_retire(req->route->arg, &c.who, req->params[0], req->params[1], vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc k_revoke(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_revoke(req->route->arg, &c.who, req->params[0], req->params[1], req->body,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc k_coll_patch(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 202, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_collection_double(req->route->arg, &c.who, req->params[0], req->body,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc k_compromised(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_key_compromised(req->route->arg, &c.who, req->params[0], req->params[1], req->body,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_keys(struct http_server *srv, struct vault_keyadmin *ka)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/keys", k_list, "keys.manage", "key.list", 0, 0, ka },
		{ "POST", "/v1/keys/{name}/rotate", k_rotate, "keys.manage", "key.rotate", 0, 0,
		    ka },
		{ "PUT", "/v1/keys/{name}/policy", k_policy, "keys.manage", "key.policy",
		    HTTP_ROUTE_BODY, KEY_BODY_MAX, ka },
		{ "POST", "/v1/keys/{name}/reencrypt", k_reencrypt, "keys.manage", "key.reencrypt",
		    HTTP_ROUTE_BODY, KEY_BODY_MAX, ka },
		{ "POST", "/v1/keys/{name}/versions/{v}/retire", k_retire, "keys.manage",
		    "key.retire", 0, 0, ka },
		{ "POST", "/v1/keys/{name}/versions/{v}/revoke", k_revoke, "keys.manage",
		    "key.revoke", HTTP_ROUTE_BODY, KEY_BODY_MAX, ka },
		{ "PATCH", "/v1/collections/{c}", k_coll_patch, "keys.manage", "collection.update",
		    HTTP_ROUTE_BODY, KEY_BODY_MAX, ka },
		{ "POST", "/v1/keys/{name}/versions/{v}/compromised", k_compromised, "keys.manage",
		    "key.compromised", HTTP_ROUTE_BODY, KEY_BODY_MAX, ka },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
