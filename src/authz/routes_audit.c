/*
 * routes_audit: reading the trail over the API (permission audit.read,
 * held by the built-in auditor only: the admin manages users but does not
 * read the trail).
 *
 *   GET /v1/audit?since_seq=&actor=&action=&limit=   {"entries":[...],"next_seq":N}
 *   GET /v1/audit/verify                              {"ok","entries","head","checkpoints"}
 *   GET /v1/audit/public-key                          PEM (application/x-pem-file)
 *
 * Reading the trail is itself recorded (action audit.read) before the
 * answer leaves: if that entry cannot be written the read is refused
 * (503 audit_unavailable), never answered unrecorded. next_seq is the seq
 * of the last entry returned (pass it as since_seq for the next page), or
 * since_seq when nothing matched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"
#include "crypto/crypto.h"
#include "keys/keys.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

static struct authz_service *
svc_of(struct http_request *req)
{
	return req->route->arg;
}

static bool
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

struct scan_acc {
	json_t *arr;
	int64_t last;
	bool failed;
};

static int
on_entry(const struct store_audit_row *r, void *arg)
{
	struct scan_acc *a = arg;
	json_t *actor = json_loads(r->actor, 0, NULL);
	json_t *detail = json_loads(r->detail, 0, NULL);
	json_t *o;

	o = json_pack("{s:I, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}",
	    "seq", (json_int_t)r->seq, "time", r->time,
	    "actor", actor ? actor : json_string(r->actor), "action", r->action,
	    "resource", r->resource, "purpose_of_use", r->purpose_of_use,
	    "outcome", r->outcome, "reason", r->reason,
	    "detail", detail ? detail : json_string(r->detail),
	    "prev_hash", r->prev_hash, "hash", r->hash);
	if (o == NULL) {
		a->failed = true;
		return 1;
	}
	json_array_append_new(a->arr, o);
	a->last = r->seq;
	return 0;
}

/* Record the read; PV_E_AUDIT if it could not be. */
static enum pv_rc
record_read(struct authz_service *z, struct http_request *req, const char *reason,
    const char *detail)
{
	struct audit_event ev;

	authz_ev_init(&ev, req->principal, req->source, "audit.read", "audit");
	ev.reason = reason;
	ev.detail = detail;
	return audit_record(z->audit, &ev) == PV_OK ? PV_OK : PV_E_AUDIT;
}

static enum pv_rc
h_audit_list(struct http_request *req)
{
	struct authz_service *z = svc_of(req);
	struct store_audit_filter f;
	struct scan_acc a = { NULL, 0, false };
	const char *q;
	int64_t since = 0, limit = AUDIT_LIMIT_DEFAULT;
	json_t *filt;
	char *dtxt = NULL;
	enum pv_rc rc;

	memset(&f, 0, sizeof(f));
	if ((q = http_query(req, "since_seq")) != NULL && !parse_i64(q, 0, INT64_MAX, &since))
		return http_fail(req, PV_E_INVALID, "since_seq must be an integer >= 0");
	if ((q = http_query(req, "limit")) != NULL &&
	    !parse_i64(q, 1, AUDIT_LIMIT_MAX, &limit))
		return http_fail(req, PV_E_INVALID, "limit must be an integer from 1 to 1000");
	f.since_seq = since;
	f.limit = (size_t)limit;
	if ((q = http_query(req, "actor")) != NULL && *q != '\0') {
		if (strlen(q) >= UTIL_ID_MAX)
			return http_fail(req, PV_E_INVALID, "actor must be a user ID");
		f.actor_user_id = q;
	}
	if ((q = http_query(req, "action")) != NULL && *q != '\0') {
		if (strlen(q) > 64)
			return http_fail(req, PV_E_INVALID, "action must be an action name");
		f.action = q;
	}
	/* the read is recorded first: no answer without its entry */
	filt = json_pack("{s:I, s:I, s:s?, s:s?}", "since_seq", (json_int_t)since, "limit",
	    (json_int_t)limit, "actor", f.actor_user_id, "action", f.action);
	if (filt != NULL)
		dtxt = json_dumps(filt, JSON_COMPACT);
	json_decref(filt);
	rc = record_read(z, req, "list", dtxt);
	free(dtxt);
	if (rc != PV_OK)
		return rc;
	if ((a.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	a.last = since;
	STORE_READ(z->st, rc, store_audit_scan(tx, &f, on_entry, &a));
	if (rc == PV_OK && a.failed)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(a.arr);
		return rc;
	}
	return http_reply(req, 200, json_pack("{s:o, s:I}", "entries", a.arr, "next_seq",
	    (json_int_t)a.last));
}

static enum pv_rc
h_audit_verify(struct http_request *req)
{
	struct authz_service *z = svc_of(req);
	struct audit_verify_result vr;
	struct pv_actor actor;
	json_t *o;
	enum pv_rc rc;

	if ((rc = record_read(z, req, "verify", NULL)) != PV_OK)
		return rc;
	if ((rc = audit_verify(z->st, NULL, &vr)) != PV_OK)
		return rc;
	authn_actor(req->principal, req->source, &actor);
	if ((rc = audit_verify_record(z->audit, &actor, &vr)) != PV_OK)
		return rc;
	o = json_pack("{s:b, s:I, s:s, s:I}", "ok", vr.ok, "entries", (json_int_t)vr.entries,
	    "head", vr.head, "checkpoints", (json_int_t)vr.checkpoints);
	if (o != NULL && !vr.ok) {
		json_object_set_new(o, "first_bad_seq", json_integer(vr.first_bad_seq));
		json_object_set_new(o, "reason", json_string(vr.reason));
	}
	return o != NULL ? http_reply(req, 200, o) : PV_E_NOMEM;
}

static enum pv_rc
h_audit_pubkey(struct http_request *req)
{
	struct authz_service *z = svc_of(req);
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	char *pem = NULL;
	enum pv_rc rc;

	if ((rc = keys_audit_public_key(z->st, pub)) != PV_OK ||
	    (rc = crypto_ed25519_pub_pem(pub, &pem)) != PV_OK)
		return rc;
	req->resp_text = arena_strdup(req->arena, pem);
	free(pem);
	if (req->resp_text == NULL)
		return PV_E_NOMEM;
	req->resp_type = "application/x-pem-file";
	req->status = 200;
	return PV_OK;
}

enum pv_rc
authz_route_audit(struct authz_service *z, struct http_server *srv)
{
	const struct http_route routes[] = {
		{ "GET", "/v1/audit", h_audit_list, "audit.read", "audit.read", 0, 0, z },
		{ "GET", "/v1/audit/verify", h_audit_verify, "audit.read", "audit.read", 0, 0, z },
		{ "GET", "/v1/audit/public-key", h_audit_pubkey, "audit.read", "audit.read", 0, 0,
		    z },
	};

	return http_routes_add(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
