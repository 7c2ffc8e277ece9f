/*
 * compliance/routes.c: GET /v1/compliance/report?format=json|md|html
 * (compliance.read), the adapter over compliance_report_online: parse the
 * format, call, reply with the report's exact bytes (application/json,
 * text/markdown or text/html).
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

enum pv_rc
compliance_routes(struct compliance_service *s, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/compliance/report", h_report, "compliance.read", "compliance.report",
		    0, 0, s },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
