/*
 * authz/audit_read.c: reading the trail as operations (authz.h):
 * authz_audit_list, authz_audit_verify, authz_audit_public_key. The
 * permission (audit.read, held by the built-in auditor only: the admin
 * manages users but does not read the trail) is decided at the route;
 * routes_audit.c is the REST adapter.
 *
 * Reading the trail is itself recorded (action audit.read, resource audit,
 * reason list / verify) before the answer is made: if that entry cannot
 * be written the read is refused (PV_E_AUDIT, 503 audit_unavailable),
 * never answered unrecorded. next_seq is the seq of the last entry
 * returned (pass it as since_seq for the next page), or since_seq when
 * nothing matched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/authz_int.h"
#include "crypto/crypto.h"
#include "keys/keys.h"

#define AUDIT_LIMIT_MAX 1000

static enum pv_rc
fail(struct authz_result *res, enum pv_rc rc, const char *msg)
{
	util_strlcpy(res->message, msg != NULL ? msg : "", sizeof(res->message));
	return rc;
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

/* Record the read; PV_E_AUDIT if it could not be. From a request the entry
 * is held (audit_record_held): no thread waits, the answer leaves after
 * its fsync or becomes PV_E_AUDIT; so a list need not show its own
 * audit.read entry (every earlier request's is there). */
static enum pv_rc
record_read(struct authz_service *z, const struct authz_caller *c, const char *reason,
    const char *detail)
{
	struct audit_event ev;

	authz_ev_init(&ev, c->subject, c->source, "audit.read", "audit");
	ev.reason = reason;
	ev.detail = detail;
	return audit_record_held(z->audit, &ev, true) == PV_OK ? PV_OK : PV_E_AUDIT;
}

enum pv_rc
authz_audit_list(struct authz_service *z, const struct authz_caller *c,
    const struct authz_audit_query *q, json_t **out, struct authz_result *res)
{
	struct store_audit_filter f;
	struct scan_acc a = { NULL, 0, false };
	json_t *filt, *o;
	char *dtxt = NULL;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if (q->since_seq < 0)
		return fail(res, PV_E_INVALID, "since_seq must be an integer >= 0");
	if (q->limit < 1 || q->limit > AUDIT_LIMIT_MAX)
		return fail(res, PV_E_INVALID, "limit must be an integer from 1 to 1000");
	memset(&f, 0, sizeof(f));
	f.since_seq = q->since_seq;
	f.limit = (size_t)q->limit;
	if (q->actor != NULL && *q->actor != '\0') {
		if (strlen(q->actor) >= UTIL_ID_MAX)
			return fail(res, PV_E_INVALID, "actor must be a user ID");
		f.actor_user_id = q->actor;
	}
	if (q->action != NULL && *q->action != '\0') {
		if (strlen(q->action) > 64)
			return fail(res, PV_E_INVALID, "action must be an action name");
		f.action = q->action;
	}
	/* the read is recorded first: no answer without its entry */
	filt = json_pack("{s:I, s:I, s:s?, s:s?}", "since_seq", (json_int_t)q->since_seq,
	    "limit", (json_int_t)q->limit, "actor", f.actor_user_id, "action", f.action);
	if (filt != NULL)
		dtxt = json_dumps(filt, JSON_COMPACT);
	json_decref(filt);
	rc = record_read(z, c, "list", dtxt);
	free(dtxt);
	if (rc != PV_OK)
		return rc;
	if ((a.arr = json_array()) == NULL)
		return PV_E_NOMEM;
	a.last = q->since_seq;
	STORE_READ(z->st, rc, store_audit_scan(tx, &f, on_entry, &a));
	if (rc == PV_OK && a.failed)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		json_decref(a.arr);
		return rc;
	}
	if ((o = json_pack("{s:o, s:I}", "entries", a.arr, "next_seq", (json_int_t)a.last)) ==
	    NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

enum pv_rc
authz_audit_verify(struct authz_service *z, const struct authz_caller *c, json_t **out,
    struct authz_result *res)
{
	struct audit_verify_result vr;
	struct pv_actor actor;
	json_t *o;
	enum pv_rc rc;

	memset(res, 0, sizeof(*res));
	if ((rc = record_read(z, c, "verify", NULL)) != PV_OK)
		return rc;
	if ((rc = audit_verify(z->st, NULL, &vr)) != PV_OK)
		return rc;
	/* the result is itself recorded (audit.verify): a failed one is an alert */
	authn_actor(c->subject, c->source, &actor);
	if ((rc = audit_verify_record(z->audit, &actor, &vr)) != PV_OK)
		return rc;
	o = json_pack("{s:b, s:I, s:s, s:I}", "ok", vr.ok, "entries", (json_int_t)vr.entries,
	    "head", vr.head, "checkpoints", (json_int_t)vr.checkpoints);
	if (o != NULL && !vr.ok) {
		json_object_set_new(o, "first_bad_seq", json_integer(vr.first_bad_seq));
		json_object_set_new(o, "reason", json_string(vr.reason));
	}
	if (o == NULL)
		return PV_E_NOMEM;
	*out = o;
	return PV_OK;
}

enum pv_rc
authz_audit_public_key(struct authz_service *z, const struct authz_caller *c, char **pem,
    struct authz_result *res)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	enum pv_rc rc;

	(void)c;
	memset(res, 0, sizeof(*res));
	if ((rc = keys_audit_public_key(z->st, pub)) != PV_OK)
		return rc;
	return crypto_ed25519_pub_pem(pub, pem);
}
