/*
 * vault/routes_breakglass.c: break-glass and its reviews over REST (API.md
 * "Break-glass"), adapters over ops_breakglass.c. The operations decide
 * (breakglass.activate, access.approve, the holder's own grant, self-review)
 * through the decision point, so the routes need only a session. The
 * activation body carries the subject value and a password: neither is in
 * any entry, log or answer (the route-level entry names the path only).
 *
 *   POST /v1/breakglass              breakglass.activate
 *   GET  /v1/breakglass              breakglass.list
 *   POST /v1/breakglass/{id}/end     breakglass.end
 *   GET  /v1/reviews[?status=]       review.list
 *   GET  /v1/reviews/{id}            review.read
 *   POST /v1/reviews/{id}            review.decide   {"verdict","note"}
 *
 * Parse, call, reply: no check and no store call here (CTest route_thinness).
 */
#include "vault/vault_int.h"

#define BG_BODY_MAX 8192

static enum pv_rc bg_activate(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 201, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_breakglass_activate(req->route->arg, &c.who, req->body, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc bg_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_breakglass_list(req->route->arg, &c.who, vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc bg_end(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_breakglass_end(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc rv_list(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_review_list(req->route->arg, &c.who, http_query(req, "status"), vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

static enum pv_rc rv_get(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_review_get(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc rv_settle(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_review_settle(req->route->arg, &c.who, req->params[0], req->body, vault_reply_done,
	    c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_breakglass(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/breakglass", bg_activate, HTTP_PERM_AUTHENTICATED,
		    "breakglass.activate", HTTP_ROUTE_BODY, BG_BODY_MAX, v },
		{ "GET", "/v1/breakglass", bg_list, HTTP_PERM_AUTHENTICATED, "breakglass.list", 0,
		    0, v },
		{ "POST", "/v1/breakglass/{id}/end", bg_end, HTTP_PERM_AUTHENTICATED,
		    "breakglass.end", 0, 0, v },
		{ "GET", "/v1/reviews", rv_list, HTTP_PERM_AUTHENTICATED, "review.list", 0, 0, v },
		{ "GET", "/v1/reviews/{id}", rv_get, HTTP_PERM_AUTHENTICATED, "review.read", 0, 0,
		    v },
		{ "POST", "/v1/reviews/{id}", rv_settle, HTTP_PERM_AUTHENTICATED, "review.decide",
		    HTTP_ROUTE_BODY, BG_BODY_MAX, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
