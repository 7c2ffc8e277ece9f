/*
 * routes_elevations: JIT elevation over REST (API.md "JIT elevation"),
 * adapters over elevations.c.
 *
 *   POST /v1/elevations               authenticated  {"role","justification","ticket"?,
 *                                                    "duration_s"?} -> 202 the elevation
 *   GET  /v1/elevations[?status=]     authenticated  {"elevations":[...]} (all for
 *                                                    access.approve holders, else own)
 *   GET  /v1/elevations/{id}          authenticated  the elevation (same visibility)
 *   POST /v1/elevations/{id}/approve  access.approve -> 200 the elevation (active)
 *   POST /v1/elevations/{id}/deny     access.approve -> 200 the elevation (denied)
 *   POST /v1/elevations/{id}/revoke   authenticated  -> 200 the elevation (revoked)
 *
 * The handlers check the body's shape, call the operation with the
 * request's caller and reply; eligibility, who may approve (never the
 * requester, never an app) and who may revoke are the operation's.
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
h_request(struct http_request *req)
{
	static const char *const allowed[] = { "role", "justification", "ticket", "duration_s",
		NULL };
	struct authz_caller c = { req->principal, req->source };
	struct authz_elevation_spec spec;
	struct authz_result res;
	json_t *o = NULL, *d;
	enum pv_rc rc;

	memset(&spec, 0, sizeof(spec));
	if ((rc = http_body_only(req, allowed)) != PV_OK ||
	    (rc = http_body_string(req, "role", true, 64, &spec.role)) != PV_OK ||
	    (rc = http_body_string(req, "justification", true, 1024, &spec.justification)) !=
	    PV_OK ||
	    (rc = http_body_string(req, "ticket", false, 128, &spec.ticket)) != PV_OK)
		return rc;
	if ((d = json_object_get(req->body, "duration_s")) != NULL) {
		if (!json_is_integer(d))
			return http_fail(req, PV_E_INVALID, "duration_s must be an integer (seconds)");
		spec.duration_set = true;
		spec.duration_s = (int64_t)json_integer_value(d);
	}
	if ((rc = authz_elevation_request(req->route->arg, &c, &spec, &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 202, o);
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *arr = NULL;
	enum pv_rc rc;

	rc = authz_elevation_list(req->route->arg, &c, http_query(req, "status"), &arr, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, json_pack("{s:o}", "elevations", arr));
}

static enum pv_rc
h_show(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = authz_elevation_get(req->route->arg, &c, req->params[0], &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
settle(struct http_request *req, bool approve)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *o = NULL;
	enum pv_rc rc;

	rc = authz_elevation_settle(req->route->arg, &c, req->params[0], approve, &o, &res);
	if (rc != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

static enum pv_rc
h_approve(struct http_request *req)
{
	return settle(req, true);
}

static enum pv_rc
h_deny(struct http_request *req)
{
	return settle(req, false);
}

static enum pv_rc
h_revoke(struct http_request *req)
{
	struct authz_caller c = { req->principal, req->source };
	struct authz_result res;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = authz_elevation_revoke(req->route->arg, &c, req->params[0], &o, &res)) != PV_OK)
		return op_fail(req, rc, &res);
	return http_reply(req, 200, o);
}

enum pv_rc
authz_route_elevations(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "POST", "/v1/elevations", h_request, HTTP_PERM_AUTHENTICATED,
		    "elevation.request", HTTP_ROUTE_BODY, 4096, z },
		{ "GET", "/v1/elevations", h_list, HTTP_PERM_AUTHENTICATED, "elevation.read", 0, 0,
		    z },
		{ "GET", "/v1/elevations/{id}", h_show, HTTP_PERM_AUTHENTICATED, "elevation.read",
		    0, 0, z },
		{ "POST", "/v1/elevations/{id}/approve", h_approve, "access.approve",
		    "elevation.approve", 0, 0, z },
		{ "POST", "/v1/elevations/{id}/deny", h_deny, "access.approve", "elevation.deny", 0,
		    0, z },
		{ "POST", "/v1/elevations/{id}/revoke", h_revoke, HTTP_PERM_AUTHENTICATED,
		    "elevation.revoke", 0, 0, z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
