/*
 * vault/routes_batch.c: POST /v1/collections/{c}/records:batch, an
 * adapter over vault_record_batch (ops_batch.c).
 *
 *   {"create": [{...fields}, ...]} | {"read": ["rec_...", ...]}
 *   -> 200 {"results": [ per item, in order ]}
 *
 * The handler checks the body's shape (one key, an array), calls the
 * operation and replies with its answer. The route's permission is
 * "authenticated" because the verb depends on the body: the operation asks
 * the decision point.
 */
#include "vault/vault_int.h"

static enum pv_rc batch(struct http_request *req)
{
	json_t *create = json_object_get(req->body, "create");
	json_t *list = create != NULL ? create : json_object_get(req->body, "read");
	struct vault_reply *r;
	struct vault_caller who;
	struct pv_actor actor;

	if (json_object_size(req->body) != 1 || !json_is_array(list))
		return http_fail(req, PV_E_INVALID,
		    "the body must be {\"create\":[...]} or {\"read\":[...]}");
	if ((r = vault_reply_new(req, 200)) == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &actor, &who);
	vault_record_batch(req->route->arg, &who, req->params[0], create != NULL, list,
	    vault_reply_done, r);
	return PV_PENDING;
}

enum pv_rc vault_routes_batch(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/collections/{c}/records:batch", batch, HTTP_PERM_AUTHENTICATED,
		    "record.read", HTTP_ROUTE_BODY, 0, v },
	};

	return http_routes_add(srv, routes, 1);
}
