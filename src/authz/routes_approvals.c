/*
 * routes_approvals: dual control over REST (API.md "Dual control"),
 * adapters over approvals.c.
 *
 *   GET  /v1/approvals[?status=]      authenticated  {"approvals":[...]} (all for
 *                                                    access.approve holders, else own)
 *   GET  /v1/approvals/{id}           authenticated  the request (same visibility)
 *   POST /v1/approvals/{id}/approve   access.approve {"note"?} -> 200 the request
 *   POST /v1/approvals/{id}/deny      access.approve {"note"?} -> 200 the request
 *
 * The handlers check the body's shape, call the operation with the
 * request's caller and reply; who may decide (never the requester, never an
 * app) is the decision point's, inside the operation.
 */
#include <string.h>

#include "authz/authz_int.h"

static enum pv_rc
op_fail(struct http_request *req, enum pv_rc rc, const struct authz_result *res)
{
	if (res->message[0] != '\0')
		return http_fail(req, rc, arena_strdup(req->arena, res->message));
	return rc;
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *arr = NULL;
	enum pv_rc rc;

	rc = authz_approval_list(req->route->arg, &c, http_query(req, "status"), &arr, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "approvals", arr));
}

static enum pv_rc
h_show(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = authz_approval_get(req->route->arg, &c, req->params[0], &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
decide(struct http_request *req, bool approve)
{
	static const char *const allowed[] = { "note", NULL };
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	const char *note = NULL;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "note", false, 1024, &note)) != PV_OK)
		return rc;
	rc = authz_approval_settle(req->route->arg, &c, req->params[0], approve, note, &o, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_approve(struct http_request *req)
{
	return decide(req, true);
}

static enum pv_rc
h_deny(struct http_request *req)
{
	return decide(req, false);
}

enum pv_rc
authz_route_approvals(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/approvals", h_list, HTTP_PERM_AUTHENTICATED, "approval.read", 0, 0,
		    z },
		{ "GET", "/v1/approvals/{id}", h_show, HTTP_PERM_AUTHENTICATED, "approval.read", 0,
		    0, z },
		{ "POST", "/v1/approvals/{id}/approve", h_approve, "access.approve",
		    "approval.approve", HTTP_ROUTE_BODY, 4096, z },
		{ "POST", "/v1/approvals/{id}/deny", h_deny, "access.approve", "approval.deny",
		    HTTP_ROUTE_BODY, 4096, z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
