/*
 * vault/routes_subjects.c: subjects over REST (API.md "Keys": patient
 * crypto-shredding, legal hold), adapters over ops_subjects.c. The
 * operations decide records.shred themselves (on "subjects/<ref>"), so the
 * route needs only a session; HTTP_ROUTE_PHI_PARAMS keeps the subject value
 * out of any route-level entry (a session refused before the handler).
 *
 *   GET    /v1/subjects/{subject}        subject.read
 *   DELETE /v1/subjects/{subject}        subject.shred
 *   POST   /v1/subjects/{subject}/hold   subject.hold     {"reason"}
 *   DELETE /v1/subjects/{subject}/hold   subject.release
 *   GET    /v1/subjects/{subject}/disclosures   disclosure.list (compliance.read)
 *
 * Parse, call, reply: no check and no store call here (CTest route_thinness).
 */
#include "vault/vault_int.h"

#define SUBJECT_BODY_MAX 4096

static enum pv_rc s_show(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_subject_show(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc s_shred(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_subject_shred(req->route->arg, &c.who, req->params[0], vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc s_hold(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_subject_hold(req->route->arg, &c.who, req->params[0], true, req->body,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc s_release(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_subject_hold(req->route->arg, &c.who, req->params[0], false, NULL,
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

static enum pv_rc s_disclosures(struct http_request *req)
{
	struct vault_call c;

	if (vault_call_begin(req, 200, &c) != PV_OK)
		return PV_E_NOMEM;
	vault_subject_disclosures(req->route->arg, &c.who, req->params[0],
	    http_query(req, "since"), http_query(req, "until"), http_query(req, "format"),
	    vault_reply_done, c.reply);
	return PV_PENDING;
}

enum pv_rc vault_routes_subjects(struct http_server *srv, struct vault_ctx *v)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/subjects/{subject}", s_show, HTTP_PERM_AUTHENTICATED,
		    "subject.read", HTTP_ROUTE_PHI_PARAMS, 0, v },
		{ "DELETE", "/v1/subjects/{subject}", s_shred, HTTP_PERM_AUTHENTICATED,
		    "subject.shred", HTTP_ROUTE_PHI_PARAMS, 0, v },
		{ "POST", "/v1/subjects/{subject}/hold", s_hold, HTTP_PERM_AUTHENTICATED,
		    "subject.hold", HTTP_ROUTE_PHI_PARAMS | HTTP_ROUTE_BODY, SUBJECT_BODY_MAX, v },
		{ "DELETE", "/v1/subjects/{subject}/hold", s_release, HTTP_PERM_AUTHENTICATED,
		    "subject.release", HTTP_ROUTE_PHI_PARAMS, 0, v },
		{ "GET", "/v1/subjects/{subject}/disclosures", s_disclosures,
		    HTTP_PERM_AUTHENTICATED, "disclosure.list", HTTP_ROUTE_PHI_PARAMS, 0, v },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
