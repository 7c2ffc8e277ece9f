/*
 * detect/routes.c: the alerts over REST (API.md "Alerts"), adapters over the
 * operations of alerts.c.
 *
 *   GET  /v1/alerts?status=open|acknowledged&rule=&limit=   alerts.read
 *        -> [alert...] (a JSON array, as API.md shows)
 *   POST /v1/alerts/{id}/ack {"note"}                       alerts.read
 *        -> the alert, now acknowledged; 404 not_found, 409 conflict if
 *        already acknowledged
 *
 * The handlers check the query's and the body's shape, call the operation
 * with the request's actor (authn_actor) and reply; the settling, the audit
 * entries and the store are the operations' (CTest route_thinness).
 */
#include <string.h>

#include "authn/authn.h"
#include "detect/detect_int.h"

#define ALERTS_PERM "alerts.read"

static enum pv_rc
h_list(struct http_request *req)
{
	struct detect_alert_query q = { http_query(req, "status"), http_query(req, "rule"),
		http_query(req, "limit") };
	struct pv_actor actor;
	json_t *arr = NULL;
	char msg[128];
	enum pv_rc rc;

	authn_actor(req->principal, req->source, &actor);
	rc = detect_alert_list(req->route->arg, &actor, &q, &arr, msg, sizeof(msg));
	if (rc != PV_OK)
		return msg[0] != '\0' ? http_fail(req, rc, arena_strdup(req->arena, msg)) : rc;
	return http_reply(req, 200, arr);
}

static enum pv_rc
ack_reply(struct http_request *req, enum pv_rc rc, json_t *o)
{
	switch (rc) {
	case PV_OK:
		return http_reply(req, 200, o);
	case PV_E_INVALID:
		return http_fail(req, PV_E_INVALID,
		    "note: at most 1024 bytes of UTF-8 text without control characters");
	case PV_E_NOTFOUND:
		return http_fail(req, PV_E_NOTFOUND, "No such alert");
	case PV_E_CONFLICT:
		return http_fail(req, PV_E_CONFLICT, "The alert is already acknowledged");
	case PV_E_AUDIT:
		return http_fail(req, PV_E_AUDIT,
		    "the acknowledgement could not be recorded in the audit trail");
	default:
		return rc;
	}
}

/* From the ack's commit completion (committer thread): answer, resume. */
static void
ack_done(enum pv_rc rc, json_t *alert, void *arg)
{
	struct http_request *req = arg;

	http_resume(req, ack_reply(req, rc, alert));
}

static enum pv_rc
h_ack(struct http_request *req)
{
	static const char *const allowed[] = { "note", NULL };
	struct detect *d = req->route->arg;
	struct pv_actor actor;
	const char *id = req->params[0], *note;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	if ((rc = http_body_string(req, "note", true, STORE_ALERT_NOTE_MAX, &note)) != PV_OK)
		return rc;
	authn_actor(req->principal, req->source, &actor);
	rc = detect_alert_ack_submit(d, &actor, id, note, ack_done, req);
	return rc == PV_PENDING ? PV_PENDING : ack_reply(req, rc, NULL);
}

enum pv_rc
detect_routes(struct detect *d, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/alerts", h_list, ALERTS_PERM, "alert.read", 0, 0, d },
		{ "POST", "/v1/alerts/{id}/ack", h_ack, ALERTS_PERM, "alert.ack", HTTP_ROUTE_BODY,
		    4096, d },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
