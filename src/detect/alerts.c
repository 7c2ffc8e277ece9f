/*
 * alerts.c: the alert operations and their routes (API.md "Alerts";
 * docs/monitoring.md "Detection and alerts").
 *
 *   GET  /v1/alerts?status=open|acknowledged&rule=&limit=   alerts.read
 *        -> [alert...] (a JSON array, as API.md shows), newest last_seen
 *        first; limit 1..1000 (default 100). Before listing, the request
 *        waits (at most 2 s) until the detector has processed every entry
 *        committed before it, so an alert a caller's own traffic raised is
 *        in the answer. Recorded as alert.read (reason "list").
 *   POST /v1/alerts/{id}/ack {"note"}                       alerts.read
 *        -> the alert, now acknowledged. Recorded as alert.ack (the note is
 *        the auditor's text: it is kept in the alert row and never put in
 *        the audit entry or a log). 404 not_found, 409 conflict if already
 *        acknowledged.
 *
 * alert = {"id","rule","severity","actor","source","first_seen","last_seen",
 * "count","status"} plus, once acknowledged, "ack_note","ack_by","ack_at".
 * Acknowledging needs alerts.read, the auditor's permission: whoever triages
 * alerts closes them (no new permission until authz grows one).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn.h"
#include "detect/detect_int.h"

#define ALERTS_PERM "alerts.read"
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define SETTLE_MS 2000

static json_t *
time_json(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	util_time_fmt(ms, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *
alert_json(const struct store_alert *a)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:s}", "id", a->id,
	    "rule", a->rule, "severity", a->severity, "actor", a->actor, "source", a->source,
	    "first_seen", time_json(a->first_seen_ms), "last_seen", time_json(a->last_seen_ms),
	    "count", (json_int_t)a->count, "status", a->status);

	if (o != NULL && strcmp(a->status, "acknowledged") == 0 &&
	    (json_object_set_new(o, "ack_note", json_string(a->ack_note)) != 0 ||
	    json_object_set_new(o, "ack_by", json_string(a->ack_by)) != 0 ||
	    json_object_set_new(o, "ack_at", time_json(a->ack_ms)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- ack ---- */

struct ack_job {
	const char *id;
	const char *note;
	const char *by;
	int64_t now_ms;
};

static enum pv_rc
ack_fn(struct store_tx *tx, void *arg)
{
	struct ack_job *j = arg;
	struct store_alert a;
	enum pv_rc rc = store_alert_get(tx, j->id, &a);

	if (rc != PV_OK)
		return rc;
	if (strcmp(a.status, "open") != 0)
		return PV_E_CONFLICT;
	return store_alert_ack(tx, j->id, j->note, j->by, j->now_ms);
}

static bool
note_ok(const char *s)
{
	size_t n = strlen(s), i = 0;

	if (n > STORE_ALERT_NOTE_MAX)
		return false;
	while (i < n) {
		uint32_t cp;
		size_t k = util_utf8_next((const unsigned char *)s + i, n - i, &cp);

		if (k == 0 || util_is_control(cp))
			return false;
		i += k;
	}
	return true;
}

enum pv_rc
detect_alert_ack(struct detect *d, const struct pv_actor *actor, const char *id,
    const char *note)
{
	char res[96];
	struct ack_job j = { id, note, actor->user_id ? actor->user_id : "anonymous",
	    util_now_ms() };
	struct audit_event ev = {
		.actor = *actor,
		.action = "alert.ack",
		.resource = res,
		.outcome = AUDIT_ALLOWED,
	};
	enum pv_rc rc;

	if (!util_id_valid("alt", id))
		return PV_E_NOTFOUND;
	if (note == NULL || !note_ok(note))
		return PV_E_INVALID;
	snprintf(res, sizeof(res), "alerts/%s", id);
	rc = audit_commit(d->audit, &ev, ack_fn, &j);
	if (rc == PV_OK)
		detect_open_forget(d, id);
	return rc;
}

/* ---- routes ---- */

static enum pv_rc
record_read(struct detect *d, struct http_request *req, const char *detail)
{
	struct audit_event ev = {
		.action = "alert.read",
		.resource = "alerts",
		.outcome = AUDIT_ALLOWED,
		.reason = "list",
		.detail = detail,
	};

	authn_actor(req->principal, req->source, &ev.actor);
	if (audit_commit(d->audit, &ev, NULL, NULL) != PV_OK)
		return http_fail(req, PV_E_AUDIT,
		    "the alert read could not be recorded in the audit trail");
	return PV_OK;
}

struct list_ctx {
	json_t *a;
	bool nomem;
};

static int
list_cb(const struct store_alert *a, void *arg)
{
	struct list_ctx *x = arg;
	json_t *o = alert_json(a);

	if (o == NULL || json_array_append_new(x->a, o) != 0) {
		x->nomem = true;
		return 1;
	}
	return 0;
}

static bool
parse_limit(const char *s, size_t *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > LIST_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

static enum pv_rc
h_list(struct http_request *req)
{
	struct detect *d = req->route->arg;
	struct store_alert_filter f = { .limit = LIST_DEFAULT };
	struct list_ctx x = { NULL, false };
	const char *q;
	json_t *detail;
	char *ds;
	enum pv_rc rc;

	if ((q = http_query(req, "status")) != NULL) {
		if (strcmp(q, "open") != 0 && strcmp(q, "acknowledged") != 0)
			return http_fail(req, PV_E_INVALID, "status: open or acknowledged");
		f.status = q;
	}
	if ((q = http_query(req, "rule")) != NULL) {
		if (!detect_rule_known(q))
			return http_fail(req, PV_E_INVALID,
			    "rule: one of the rule names in docs/monitoring.md");
		f.rule = q;
	}
	if ((q = http_query(req, "limit")) != NULL && !parse_limit(q, &f.limit))
		return http_fail(req, PV_E_INVALID, "limit: an integer from 1 to 1000");
	detect_settle(d, SETTLE_MS);
	detail = json_pack("{s:o, s:o, s:I}", "status", f.status ? json_string(f.status) :
	    json_null(), "rule", f.rule ? json_string(f.rule) : json_null(), "limit",
	    (json_int_t)f.limit);
	ds = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	if (ds == NULL)
		return PV_E_NOMEM;
	rc = record_read(d, req, ds);
	free(ds);
	if (rc != PV_OK)
		return rc;
	if ((x.a = json_array()) == NULL)
		return PV_E_NOMEM;
	STORE_READ(d->st, rc, store_alert_list(tx, &f, list_cb, &x));
	if (rc == PV_OK && x.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(x.a);
		return rc;
	}
	return http_reply(req, 200, x.a);
}

static enum pv_rc
h_ack(struct http_request *req)
{
	static const char *const allowed[] = { "note", NULL };
	struct detect *d = req->route->arg;
	struct pv_actor actor;
	struct store_alert a;
	const char *id = req->params[0], *note;
	json_t *o;
	enum pv_rc rc;

	if ((rc = http_body_only(req, allowed)) != PV_OK)
		return rc;
	if ((rc = http_body_string(req, "note", true, STORE_ALERT_NOTE_MAX, &note)) != PV_OK)
		return rc;
	if (!note_ok(note))
		return http_fail(req, PV_E_INVALID,
		    "note: at most 1024 bytes of UTF-8 text without control characters");
	if (!util_id_valid("alt", id))
		return http_fail(req, PV_E_NOTFOUND, "No such alert");
	authn_actor(req->principal, req->source, &actor);
	rc = detect_alert_ack(d, &actor, id, note);
	if (rc == PV_E_NOTFOUND)
		return http_fail(req, PV_E_NOTFOUND, "No such alert");
	if (rc == PV_E_CONFLICT)
		return http_fail(req, PV_E_CONFLICT, "The alert is already acknowledged");
	if (rc == PV_E_AUDIT)
		return http_fail(req, PV_E_AUDIT,
		    "the acknowledgement could not be recorded in the audit trail");
	if (rc != PV_OK)
		return rc;
	STORE_READ(d->st, rc, store_alert_get(tx, id, &a));
	if (rc != PV_OK)
		return rc;
	o = alert_json(&a);
	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
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
