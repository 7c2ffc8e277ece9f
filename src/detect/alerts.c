/*
 * alerts.c: the alert operations (detect.h "operations"; API.md "Alerts";
 * docs/monitoring.md "Detection and alerts"), apart from HTTP; routes.c
 * adapts them to GET /v1/alerts and POST /v1/alerts/{id}/ack.
 *
 *   detect_alert_list   newest last_seen first, filtered by status
 *        (open|acknowledged), rule and limit 1..1000 (default 100), given as
 *        the query texts. Before listing it waits (at most 2 s) until the
 *        detector has processed every entry committed before it, so an alert
 *        a caller's own traffic raised is in the answer. Recorded as
 *        alert.read (reason "list", detail the filter) before anything is
 *        answered; PV_E_AUDIT if that entry cannot be written.
 *   detect_alert_ack    open -> acknowledged with a note; recorded as
 *        alert.ack (the note is the auditor's text: it is kept in the alert
 *        row and never put in the audit entry or a log). PV_E_NOTFOUND,
 *        PV_E_CONFLICT if already acknowledged.
 *   detect_alert_get    one alert (not audited: the answer of an ack).
 *
 * alert = {"id","rule","severity","actor","source","first_seen","last_seen",
 * "count","status"} plus, once acknowledged, "ack_note","ack_by","ack_at".
 * The permission (alerts.read, the auditor's: whoever triages alerts closes
 * them) is the route's.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_int.h"

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

/* ---- ack, answered from its commit completion ---- */

struct ack_async {
	struct ack_job j;
	struct detect *d;
	struct store_alert a;      /* the row as acknowledged, read in the transaction */
	detect_ack_done_fn done;
	void *arg;
};

static enum pv_rc
ack_async_fn(struct store_tx *tx, void *arg)
{
	struct ack_async *x = arg;
	enum pv_rc rc = ack_fn(tx, &x->j);

	return rc == PV_OK ? store_alert_get(tx, x->j.id, &x->a) : rc;
}

/* On the committer, after the group: cheap (a JSON object, an in-memory forget). */
static void
ack_async_done(enum pv_rc rc, void *arg)
{
	struct ack_async *x = arg;
	json_t *o = NULL;

	if (rc == PV_OK) {
		detect_open_forget(x->d, x->j.id);
		if ((o = alert_json(&x->a)) == NULL)
			rc = PV_E_NOMEM;
	}
	x->done(rc, o, x->arg);
	free(x);
}

enum pv_rc
detect_alert_ack_submit(struct detect *d, const struct pv_actor *actor, const char *id,
    const char *note, detect_ack_done_fn done, void *arg)
{
	char res[96];
	struct audit_event ev = {
		.actor = *actor,
		.action = "alert.ack",
		.resource = res,
		.outcome = AUDIT_ALLOWED,
	};
	struct ack_async *x;
	enum pv_rc rc;

	if (!util_id_valid("alt", id))
		return PV_E_NOTFOUND;
	if (note == NULL || !note_ok(note))
		return PV_E_INVALID;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return PV_E_NOMEM;
	x->j = (struct ack_job){ id, note, actor->user_id ? actor->user_id : "anonymous",
	    util_now_ms() };
	x->d = d;
	x->done = done;
	x->arg = arg;
	snprintf(res, sizeof(res), "alerts/%s", id);
	rc = audit_submit(d->audit, &ev, ack_async_fn, x, COMMIT_REQUEST, ack_async_done, x);
	if (rc != PV_OK) {
		free(x);
		return rc == PV_E_UNAVAILABLE || rc == PV_E_NOMEM ? rc : PV_E_AUDIT;
	}
	return PV_PENDING;
}

/* ---- list ---- */

static enum pv_rc
record_read(struct detect *d, const struct pv_actor *actor, const char *detail)
{
	struct audit_event ev = {
		.actor = *actor,
		.action = "alert.read",
		.resource = "alerts",
		.outcome = AUDIT_ALLOWED,
		.reason = "list",
		.detail = detail,
	};

	/* the list leaves once this entry is durable (PV_E_AUDIT if it is not),
	 * and no request thread waits for its commit */
	return audit_record_held(d->audit, &ev, true) == PV_OK ? PV_OK : PV_E_AUDIT;
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
fail(char *msg, size_t msglen, enum pv_rc rc, const char *why)
{
	if (msg != NULL && msglen > 0)
		util_strlcpy(msg, why, msglen);
	return rc;
}

enum pv_rc
detect_alert_list(struct detect *d, const struct pv_actor *actor,
    const struct detect_alert_query *q, json_t **out, char *msg, size_t msglen)
{
	struct store_alert_filter f = { .limit = LIST_DEFAULT };
	struct list_ctx x = { NULL, false };
	json_t *detail;
	char *ds;
	enum pv_rc rc;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (q->status != NULL) {
		if (strcmp(q->status, "open") != 0 && strcmp(q->status, "acknowledged") != 0)
			return fail(msg, msglen, PV_E_INVALID, "status: open or acknowledged");
		f.status = q->status;
	}
	if (q->rule != NULL) {
		if (!detect_rule_known(q->rule))
			return fail(msg, msglen, PV_E_INVALID,
			    "rule: one of the rule names in docs/monitoring.md");
		f.rule = q->rule;
	}
	if (q->limit != NULL && !parse_limit(q->limit, &f.limit))
		return fail(msg, msglen, PV_E_INVALID, "limit: an integer from 1 to 1000");
	detect_settle(d, SETTLE_MS);
	detail = json_pack("{s:o, s:o, s:I}", "status", f.status ? json_string(f.status) :
	    json_null(), "rule", f.rule ? json_string(f.rule) : json_null(), "limit",
	    (json_int_t)f.limit);
	ds = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	if (ds == NULL)
		return PV_E_NOMEM;
	rc = record_read(d, actor, ds);
	free(ds);
	if (rc != PV_OK)
		return fail(msg, msglen, rc,
		    "the alert read could not be recorded in the audit trail");
	if ((x.a = json_array()) == NULL)
		return PV_E_NOMEM;
	STORE_READ(d->st, rc, store_alert_list(tx, &f, list_cb, &x));
	if (rc == PV_OK && x.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(x.a);
		return rc;
	}
	*out = x.a;
	return PV_OK;
}

enum pv_rc
detect_alert_get(struct detect *d, const struct pv_actor *actor, const char *id, json_t **out)
{
	struct store_alert a;
	json_t *o;
	enum pv_rc rc;

	(void)actor;
	if (!util_id_valid("alt", id))
		return PV_E_NOTFOUND;
	STORE_READ(d->st, rc, store_alert_get(tx, id, &a));
	if (rc != PV_OK)
		return rc;
	if ((o = alert_json(&a)) == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}
