/*
 * compliance/routes.c: GET /v1/compliance/report?format=json|md|html
 * (compliance.read), the adapter over compliance_report_online: parse the
 * format, call, reply with the report's exact bytes (application/json,
 * text/markdown or text/html). And the adapters over tracking.c:
 *   GET    /v1/sys/config                   users.manage (admin)
 *   POST   /v1/compliance/baseline          access.approve (security officer)
 *   GET    /v1/compliance/baseline          compliance.read (auditor)
 *   POST   /v1/compliance/exceptions        access.approve  -> 201
 *   GET    /v1/compliance/exceptions        compliance.read
 *   DELETE /v1/compliance/exceptions/{id}   access.approve  -> 204
 */
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"
#include "compliance/compliance.h"

static enum pv_rc
h_report(struct http_request *req)
{
	static const char *const types[] = { "application/json", "text/markdown; charset=utf-8",
		"text/html; charset=utf-8" };
	enum compliance_format fmt;
	struct pv_actor actor;
	char *buf = NULL;
	size_t len = 0;
	enum pv_rc rc;

	if (!compliance_format_parse(http_query(req, "format"), &fmt))
		return http_fail(req, PV_E_INVALID, "format must be json, md or html");
	authn_actor(req->principal, req->source, &actor);
	if ((rc = compliance_report_online(req->route->arg, &actor, fmt, &buf, &len)) != PV_OK)
		return rc;
	req->resp_text = arena_strdup(req->arena, buf);
	free(buf);
	if (req->resp_text == NULL)
		return PV_E_NOMEM;
	req->resp_type = types[fmt];
	req->status = 200;
	return PV_OK;
}

/* ---- configuration tracking, baseline, exceptions (tracking.c) ---- */

static enum pv_rc
reply_or_fail(struct http_request *req, enum pv_rc rc, json_t *o, int status, const char *msg)
{
	if (rc != PV_OK)
		return msg != NULL ? http_fail(req, rc, msg) : rc;
	return http_reply(req, status, o);
}

static enum pv_rc
h_sys_config(struct http_request *req)
{
	json_t *o = NULL;
	enum pv_rc rc = compliance_sys_config(req->route->arg, &o);

	return reply_or_fail(req, rc, o, 200, NULL);
}

static enum pv_rc
h_baseline_approve(struct http_request *req)
{
	struct pv_actor actor;
	json_t *o = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = compliance_baseline_approve(req->route->arg, &actor, &o);
	return reply_or_fail(req, rc, o, 200, NULL);
}

static enum pv_rc
h_baseline_get(struct http_request *req)
{
	json_t *o = NULL;
	enum pv_rc rc = compliance_baseline_get(req->route->arg, &o);

	return reply_or_fail(req, rc, o, 200, rc == PV_E_NOTFOUND ?
	    "no baseline approved yet (POST /v1/compliance/baseline)" : NULL);
}

static enum pv_rc
h_exception_add(struct http_request *req)
{
	static const char *const allowed[] = { "control", "reason", "owner", "expires_at", NULL };
	struct pv_actor actor;
	const char *msg = NULL;
	json_t *o = NULL;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	authn_actor(req->principal, req->source, &actor);
	rc = compliance_exception_add(req->route->arg, &actor, req->body, &o, &msg);
	return reply_or_fail(req, rc, o, 201, msg);
}

static enum pv_rc
h_exception_list(struct http_request *req)
{
	json_t *o = NULL;
	enum pv_rc rc = compliance_exception_list(req->route->arg, &o);

	return reply_or_fail(req, rc, o, 200, NULL);
}

static enum pv_rc
h_exception_remove(struct http_request *req)
{
	struct pv_actor actor;
	const char *msg = NULL;
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = compliance_exception_remove(req->route->arg, &actor, req->params[0], &msg);
	if (rc != PV_OK)
		return msg != NULL ? http_fail(req, rc, msg) : rc;
	req->status = 204;
	return PV_OK;
}

enum pv_rc
compliance_routes(struct compliance_service *s, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/compliance/report", h_report, "compliance.read", "compliance.report",
		    0, 0, s },
		{ "GET", "/v1/sys/config", h_sys_config, "users.manage", "config.read", 0, 0, s },
		{ "POST", "/v1/compliance/baseline", h_baseline_approve, "access.approve",
		    "config.baseline", 0, 0, s },
		{ "GET", "/v1/compliance/baseline", h_baseline_get, "compliance.read",
		    "config.baseline_read", 0, 0, s },
		{ "POST", "/v1/compliance/exceptions", h_exception_add, "access.approve",
		    "exception.create", HTTP_ROUTE_BODY, 4096, s },
		{ "GET", "/v1/compliance/exceptions", h_exception_list, "compliance.read",
		    "exception.list", 0, 0, s },
		{ "DELETE", "/v1/compliance/exceptions/{id}", h_exception_remove, "access.approve",
		    "exception.delete", 0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
