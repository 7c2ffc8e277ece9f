/*
 * vault/ops_disclosures.c: the accounting of disclosures (45 CFR 164.528;
 * API.md "Compliance and disclosures"; docs/compliance.md "Accounting of
 * disclosures").
 *
 *   GET /v1/subjects/{subject}/disclosures?since=&until=&format=json|csv|fhir
 *   compliance.read, audited disclosure.list (resource subjects/<ref>)
 *
 * What makes it findable: every PHI access (record create, read, search
 * hit, list, batch read, update, delete; detokenize records its recipient)
 * hands the subject references of the records it touched to its audit
 * entry (struct audit_event .subjects); the writer puts them in the entry's
 * hash-covered detail ("subjects") and writes one audit_subjects(ref, seq)
 * row each in the entry's own transaction. The query walks that index for
 * one ref (store_audit_subject_scan: primary key (subject_ref, seq), each
 * entry joined on its seq): no scan of the trail. An index row whose entry
 * does not list the ref in its detail is ignored, so an index row added by
 * hand cannot invent a disclosure; the chain (audit verify) covers the rest.
 *
 * Accountable (164.528(a)(1)): an allowed read whose purpose of use is not
 * treatment (TREAT, ETREAT), payment (HPAYMT), health care operations
 * (HOPERAT) or a disclosure to the individual (PATRQT); writes are uses by
 * the workforce, refusals and failures disclosed nothing. Every entry is
 * shown; "accountable" says which 164.528 requires.
 *
 * The subject value never reaches an entry, a log or the answer: only its
 * keyed reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define DISCLOSURE_MAX 10000                      /* entries in one answer */
#define SIX_YEARS_MS (2192LL * 86400000LL)        /* 6 x 365 days + 2 leap days */
#define SUBJECT_RESOURCE_MAX (sizeof("subjects/") + STORE_SUBJECT_REF_LEN)

/* ---- shared with the PHI operations ---- */

const char *vault_recipient_valid(const struct vault_caller *who)
{
	const char *r = who->recipient;
	size_t n;
	bool blank = true;

	if (r == NULL || (n = strlen(r)) == 0 || n > VAULT_RECIPIENT_MAX)
		return NULL;
	for (const char *p = r; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return NULL;
		if (*p != ' ')
			blank = false;
	}
	return blank ? NULL : r;
}

void vault_event_phi(struct audit_event *ev, const struct vault_caller *who,
    const char *const *refs, size_t n)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = *who->actor;
	ev->subjects = n > 0 ? refs : NULL;
	ev->nsubjects = n;
	ev->recipient = vault_recipient_valid(who);
}

enum pv_rc vault_refs_add(struct vault_refs *r, const char *ref)
{
	if (ref == NULL || ref[0] == '\0')
		return PV_OK;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->ref[i], ref) == 0)
			return PV_OK;
	if (r->n == AUDIT_SUBJECTS_MAX)
		return PV_E_INTERNAL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		char (*nr)[STORE_SUBJECT_REF_LEN + 1] = realloc(r->ref, cap * sizeof(*nr));
		const char **np;

		if (nr == NULL)
			return PV_E_NOMEM;
		r->ref = nr;
		if ((np = realloc(r->ptr, cap * sizeof(*np))) == NULL)
			return PV_E_NOMEM;
		r->ptr = np;
		r->cap = cap;
	}
	util_strlcpy(r->ref[r->n], ref, STORE_SUBJECT_REF_LEN + 1);
	for (size_t i = 0; i <= r->n; i++)
		r->ptr[i] = r->ref[i];   /* realloc may have moved them */
	r->n++;
	return PV_OK;
}

void vault_refs_free(struct vault_refs *r)
{
	free(r->ref);
	free(r->ptr);
	memset(r, 0, sizeof(*r));
}

/* ---- the accounting ---- */

/* since / until: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or the entries' own
 * form with milliseconds, into that form. */
static bool time_arg(const char *s, char out[32])
{
	char buf[32];
	size_t n = strlen(s);
	int64_t ms;

	if (n == 10)
		snprintf(buf, sizeof(buf), "%sT00:00:00.000Z", s);
	else if (n == 20 && s[19] == 'Z')
		snprintf(buf, sizeof(buf), "%.19s.000Z", s);
	else if (n == 24)
		util_strlcpy(buf, s, sizeof(buf));
	else
		return false;
	if ((ms = util_time_parse(buf)) < 0)
		return false;
	util_time_fmt(ms, out, 32);
	return strcmp(out, buf) == 0;   /* a real date, one spelling */
}

/* 164.528(a)(1): which accesses the accounting must list. */
static bool accountable(const char *action, const char *outcome, const char *purpose,
    const char **basis)
{
	static const struct {
		const char *code, *basis;
	} excluded[] = {
		{ "TREAT", "treatment" }, { "ETREAT", "treatment" }, { "HPAYMT", "payment" },
		{ "HOPERAT", "health_care_operations" }, { "PATRQT", "to_the_individual" },
	};

	if (strcmp(outcome, "allowed") != 0) {
		*basis = "not_disclosed";
		return false;
	}
	if (strcmp(action, "record.create") == 0 || strcmp(action, "record.update") == 0 ||
	    strcmp(action, "record.delete") == 0) {
		*basis = "internal_use";
		return false;
	}
	for (size_t i = 0; i < sizeof(excluded) / sizeof(excluded[0]); i++)
		if (strcmp(purpose, excluded[i].code) == 0) {
			*basis = excluded[i].basis;
			return false;
		}
	*basis = "disclosure";
	return true;
}

struct scan {
	const char *ref;
	json_t *entries;
	size_t n;
	bool truncated;
	enum pv_rc rc;
};

/* true if the entry's own detail names ref (the chain covers the detail) */
static bool detail_names(json_t *detail, const char *ref)
{
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(detail, "subjects"), i, s)
		if (json_is_string(s) && strcmp(json_string_value(s), ref) == 0)
			return true;
	return false;
}

static int scan_cb(const struct store_audit_row *row, void *arg)
{
	struct scan *x = arg;
	struct audit_actor_fields af;
	json_t *detail, *e, *fields;
	char coll[VAULT_NAME_MAX] = "", rec[UTIL_ID_MAX] = "";
	const char *basis = "", *rcpt;
	bool acct;

	if (x->n == DISCLOSURE_MAX) {
		x->truncated = true;
		return 1;
	}
	detail = json_loads(row->detail, 0, NULL);
	if (detail == NULL || !detail_names(detail, x->ref)) {
		json_decref(detail);
		return 0;   /* not backed by the entry: not a disclosure */
	}
	if (sscanf(row->resource, "collections/%63[a-z0-9_]/records/%47[a-z0-9_]", coll, rec) < 1)
		util_strlcpy(coll, json_string_value(json_object_get(detail, "collection")) ?
		    json_string_value(json_object_get(detail, "collection")) : "", sizeof(coll));
	audit_actor_fields_parse(row->actor, &af);
	acct = accountable(row->action, row->outcome, row->purpose_of_use, &basis);
	fields = json_object_get(detail, "fields");
	rcpt = json_string_value(json_object_get(detail, "recipient"));
	e = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s*, s:s*, s:{s:s, s:s*, s:s*}, s:s*, s:s*, "
	    "s:o, s:b, s:s}",
	    "seq", (json_int_t)row->seq, "time", row->time, "action", row->action,
	    "outcome", row->outcome, "reason", row->reason,
	    "purpose_of_use", row->purpose_of_use[0] != '\0' ? row->purpose_of_use : NULL,
	    "recipient", rcpt,
	    "actor", "id", af.user_id != NULL ? af.user_id : "anonymous", "session_id",
	    af.session_id, "source", af.source,
	    "collection", coll[0] != '\0' ? coll : NULL, "record", rec[0] != '\0' ? rec : NULL,
	    "fields", json_is_array(fields) ? json_incref(fields) : json_array(),
	    "accountable", acct, "basis", basis);
	json_decref(af.root);
	json_decref(detail);
	if (e == NULL || json_array_append_new(x->entries, e) != 0) {
		x->rc = PV_E_NOMEM;
		return 1;
	}
	x->n++;
	return 0;
}

/* Usernames (users) and names (apps) of the actors, read after the scan. */
static enum pv_rc actor_names(struct store_tx *tx, json_t *entries)
{
	size_t i;
	json_t *e;

	json_array_foreach(entries, i, e) {
		json_t *actor = json_object_get(e, "actor");
		const char *id = json_string_value(json_object_get(actor, "id"));
		const char *kind = "system";

		if (strncmp(id, "usr_", 4) == 0) {
			struct store_user u;

			kind = "user";
			memset(&u, 0, sizeof(u));
			if (store_user_get(tx, id, &u) == PV_OK)
				json_object_set_new(actor, "username", json_string(u.username));
			store_user_clear(&u);
		} else if (strncmp(id, "app_", 4) == 0) {
			struct store_app ap;

			kind = "app";
			memset(&ap, 0, sizeof(ap));
			if (store_app_get(tx, id, &ap) == PV_OK)
				json_object_set_new(actor, "username", json_string(ap.name));
			store_app_clear(&ap);
		} else if (strcmp(id, "anonymous") == 0) {
			kind = "anonymous";
		}
		if (json_object_set_new(actor, "kind", json_string(kind)) != 0)
			return PV_E_NOMEM;
	}
	return PV_OK;
}

/* ---- CSV (RFC 4180: CRLF, header row, quoted when needed) ---- */

static char *to_csv(json_t *entries)
{
	static const char *const head[] = { "seq", "time", "action", "outcome",
		"purpose_of_use", "recipient", "actor_kind", "actor_id", "username", "collection",
		"record", "fields", "accountable", "basis" };
	struct util_buf t = { 0 };
	size_t i, k, nh = sizeof(head) / sizeof(head[0]);
	json_t *e, *f;

	for (k = 0; k < nh; k++)
		util_csv_cell(&t, head[k], k + 1 == nh);
	json_array_foreach(entries, i, e) {
		json_t *actor = json_object_get(e, "actor");
		struct util_buf fl = { 0 };
		char seq[24];

		json_array_foreach(json_object_get(e, "fields"), k, f) {
			if (k > 0)
				util_buf_put(&fl, ";", 1);
			util_buf_put(&fl, json_string_value(f), strlen(json_string_value(f)));
		}
		snprintf(seq, sizeof(seq), "%lld",
		    (long long)json_integer_value(json_object_get(e, "seq")));
		util_csv_cell(&t, seq, false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "time")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "action")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "outcome")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "purpose_of_use")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "recipient")), false);
		util_csv_cell(&t, json_string_value(json_object_get(actor, "kind")), false);
		util_csv_cell(&t, json_string_value(json_object_get(actor, "id")), false);
		util_csv_cell(&t, json_string_value(json_object_get(actor, "username")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "collection")), false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "record")), false);
		util_csv_cell(&t, fl.failed ? NULL : fl.p, false);
		util_csv_cell(&t, json_is_true(json_object_get(e, "accountable")) ? "true" : "false", false);
		util_csv_cell(&t, json_string_value(json_object_get(e, "basis")), true);
		t.failed = t.failed || fl.failed;
		free(fl.p);
	}
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* ---- FHIR R4: a Bundle (type collection) of AuditEvent ---- */

static const char *fhir_subtype(const char *action, const char **crud)
{
	static const struct {
		const char *action, *code, *crud;
	} m[] = {
		{ "record.create", "create", "C" }, { "record.read", "read", "R" },
		{ "record.search", "search-type", "E" }, { "record.list", "search-type", "E" },
		{ "record.update", "update", "U" }, { "record.delete", "delete", "D" },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (strcmp(action, m[i].action) == 0) {
			*crud = m[i].crud;
			return m[i].code;
		}
	*crud = "R";
	return "read";
}

static json_t *fhir_event(json_t *e, const char *ref)
{
	json_t *actor = json_object_get(e, "actor"), *ev, *agents, *entities;
	const char *action = json_string_value(json_object_get(e, "action"));
	const char *outcome = json_string_value(json_object_get(e, "outcome"));
	const char *purpose = json_string_value(json_object_get(e, "purpose_of_use"));
	const char *rcpt = json_string_value(json_object_get(e, "recipient"));
	const char *source = json_string_value(json_object_get(actor, "source"));
	const char *crud, *sub = fhir_subtype(action, &crud);
	char id[40], patient[16 + STORE_SUBJECT_REF_LEN], what[160];
	struct util_buf fields = { 0 };
	size_t k;
	json_t *f;

	snprintf(id, sizeof(id), "audit-%lld",
	    (long long)json_integer_value(json_object_get(e, "seq")));
	snprintf(patient, sizeof(patient), "Patient/%s", ref);
	snprintf(what, sizeof(what), "%s%s%s",
	    json_string_value(json_object_get(e, "collection")) ?
	    json_string_value(json_object_get(e, "collection")) : "",
	    json_string_value(json_object_get(e, "record")) ? "/" : "",
	    json_string_value(json_object_get(e, "record")) ?
	    json_string_value(json_object_get(e, "record")) : "");
	json_array_foreach(json_object_get(e, "fields"), k, f) {
		if (k > 0)
			util_buf_put(&fields, ",", 1);
		util_buf_put(&fields, json_string_value(f), strlen(json_string_value(f)));
	}
	agents = json_pack("[{s:{s:{s:s, s:s}, s:s*}, s:b, s:o*}]",
	    "who", "identifier", "system", "urn:phivault:principal", "value",
	    json_string_value(json_object_get(actor, "id")),
	    "display", json_string_value(json_object_get(actor, "username")),
	    "requestor", 1,
	    "network", source != NULL ? json_pack("{s:s, s:s}", "address", source, "type", "2")
	    : NULL);
	if (agents != NULL && rcpt != NULL)
		json_array_append_new(agents, json_pack("{s:{s:s}, s:{s:s}, s:b}",
		    "type", "text", "recipient", "who", "display", rcpt, "requestor", 0));
	entities = json_pack("[{s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}, "
	    "{s:{s:{s:s, s:s}}, s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s}]}]",
	    "what", "reference", patient,
	    "type", "system", "http://terminology.hl7.org/CodeSystem/audit-entity-type",
	    "code", "1", "display", "Person",
	    "role", "system", "http://terminology.hl7.org/CodeSystem/object-role", "code", "1",
	    "display", "Patient",
	    "what", "identifier", "system", "urn:phivault:record", "value", what,
	    "type", "system", "http://terminology.hl7.org/CodeSystem/audit-entity-type",
	    "code", "2", "display", "System Object",
	    "role", "system", "http://terminology.hl7.org/CodeSystem/object-role", "code", "4",
	    "display", "Domain Resource",
	    "detail", "type", "fields", "valueString", fields.p != NULL ? fields.p : "");
	free(fields.p);
	ev = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s}], s:s, s:s, s:s, s:s, "
	    "s:o, s:{s:{s:s}, s:[{s:s, s:s}]}, s:o, s:[{s:s, s:b}, {s:s, s:s}]}",
	    "resourceType", "AuditEvent", "id", id,
	    "type", "system", "http://dicom.nema.org/resources/ontology/DCM", "code", "110110",
	    "display", "Patient Record",
	    "subtype", "system", "http://hl7.org/fhir/restful-interaction", "code", sub,
	    "action", crud,
	    "recorded", json_string_value(json_object_get(e, "time")),
	    "outcome", strcmp(outcome, "allowed") == 0 ? "0" : strcmp(outcome, "denied") == 0 ?
	    "4" : "8",
	    "outcomeDesc", json_string_value(json_object_get(e, "basis")),
	    "agent", agents,
	    "source", "observer", "display", "phivault",
	    "type", "system", "http://terminology.hl7.org/CodeSystem/security-source-type",
	    "code", "4",
	    "entity", entities,
	    "extension", "url", "urn:phivault:accountable", "valueBoolean",
	    json_is_true(json_object_get(e, "accountable")),
	    "url", "urn:phivault:audit-seq", "valueString", id + 6);
	if (ev != NULL && purpose != NULL)
		json_object_set_new(ev, "purposeOfEvent", json_pack("[{s:[{s:s, s:s}]}]", "coding",
		    "system", "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code", purpose));
	return ev;
}

static char *to_fhir(json_t *entries, const char *ref, const char *now)
{
	json_t *bundle, *list = json_array(), *e;
	size_t i;
	char *out = NULL;

	if (list == NULL)
		return NULL;
	json_array_foreach(entries, i, e) {
		json_t *ae = fhir_event(e, ref);
		char url[64];

		snprintf(url, sizeof(url), "urn:phivault:audit:%lld",
		    (long long)json_integer_value(json_object_get(e, "seq")));
		if (ae == NULL || json_array_append_new(list, json_pack("{s:s, s:o}", "fullUrl", url,
		    "resource", ae)) != 0) {
			json_decref(list);
			return NULL;
		}
	}
	bundle = json_pack("{s:s, s:s, s:s, s:I, s:o}", "resourceType", "Bundle", "type",
	    "collection", "timestamp", now, "total", (json_int_t)json_array_size(list), "entry",
	    list);
	if (bundle != NULL)
		out = json_dumps(bundle, JSON_COMPACT);
	json_decref(bundle);
	return out;
}

/* ---- the operation ---- */

struct list_done {
	vault_done_fn done;
	void *arg;
	json_t *body;
	char *text;
	const char *type;
};

static void list_done(enum pv_rc rc, void *arg)
{
	struct list_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK) {
		json_decref(d->body);
		free(d->text);
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else {
		a.body = d->body;
		a.text = d->text;
		a.text_type = d->type;
	}
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_subject_disclosures(struct vault_ctx *v, const struct vault_caller *who,
    const char *subject, const char *since, const char *until, const char *format,
    vault_done_fn done, void *arg)
{
	char ref[STORE_SUBJECT_REF_LEN + 1] = "", res[SUBJECT_RESOURCE_MAX];
	char from[32], to[32], now[32];
	struct vault_answer a;
	struct scan x = { NULL, NULL, 0, false, PV_OK };
	struct store_audit_subject_filter f;
	struct audit_event ev;
	struct list_done *d = NULL;
	json_t *body = NULL;
	char *text = NULL, *detail = NULL;
	const char *fmt = format != NULL ? format : "json", *msg = NULL;
	size_t nacct = 0, i;
	json_t *e;
	enum pv_rc rc, refrc;

	vault_answer_init(&a);
	refrc = vault_subject_ref(v->keys, subject, ref);
	if (refrc == PV_E_NOTFOUND)
		refrc = PV_OK, ref[0] = '\0';   /* no subject was ever made */
	if (refrc != PV_OK)
		ref[0] = '\0';
	snprintf(res, sizeof(res), "subjects%s%s", ref[0] != '\0' ? "/" : "", ref);
	if ((rc = vault_decide(v, who, "disclosure.list", res, "compliance.read", NULL, NULL,
	    &a)) != PV_OK)
		goto out;
	util_time_fmt(util_now_ms(), now, sizeof(now));
	util_time_fmt(util_now_ms() - SIX_YEARS_MS, from, sizeof(from));
	util_strlcpy(to, "9999-12-31T23:59:59.999Z", sizeof(to));
	/* the default window: the six years before until (or now) */
	if (until != NULL && time_arg(until, to) && util_time_parse(to) - SIX_YEARS_MS > 0)
		util_time_fmt(util_time_parse(to) - SIX_YEARS_MS, from, sizeof(from));
	if (refrc != PV_OK)
		rc = PV_E_INVALID, msg = "the subject must be 1 to 4096 bytes";
	else if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0 && strcmp(fmt, "fhir") != 0)
		rc = PV_E_INVALID, msg = "format must be json, csv or fhir";
	else if (until != NULL && !time_arg(until, to))
		rc = PV_E_INVALID, msg = "until must be YYYY-MM-DD or RFC 3339 UTC (...Z)";
	else if (since != NULL && !time_arg(since, from))
		rc = PV_E_INVALID, msg = "since must be YYYY-MM-DD or RFC 3339 UTC (...Z)";
	else if (strcmp(from, to) >= 0)
		rc = PV_E_INVALID, msg = "since must be before until";
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "disclosure.list", res, NULL, rc, msg, &a);
		goto out;
	}
	if ((x.entries = json_array()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	x.ref = ref;
	if (ref[0] != '\0') {
		memset(&f, 0, sizeof(f));
		f.subject_ref = ref;
		f.time_from = from;
		f.time_to = to;
		f.limit = DISCLOSURE_MAX + 1;
		STORE_READ(v->st, rc, store_audit_subject_scan(tx, &f, scan_cb, &x));
		if (rc == PV_OK)
			rc = x.rc;
		if (rc == PV_OK)
			STORE_READ(v->st, rc, actor_names(tx, x.entries));
		if (rc != PV_OK)
			goto out;
	}
	json_array_foreach(x.entries, i, e)
		nacct += json_is_true(json_object_get(e, "accountable"));
	body = json_pack("{s:s, s:s, s:s, s:I, s:I, s:b, s:s, s:O}",
	    "subject_ref", ref, "since", from, "until", to,
	    "total", (json_int_t)x.n, "accountable", (json_int_t)nacct, "truncated", x.truncated,
	    "rule", "45 CFR 164.528(a)(1): every access is listed; accountable=true marks those "
	    "the accounting must include (not treatment TREAT/ETREAT, payment HPAYMT, health care "
	    "operations HOPERAT, to the individual PATRQT, internal writes, or refused accesses)",
	    "entries", x.entries);
	{
		json_t *dj = json_pack("{s:s, s:I, s:I, s:b}", "format", fmt, "count",
		    (json_int_t)x.n, "accountable", (json_int_t)nacct, "truncated", x.truncated);

		detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
	}
	if (body == NULL || detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (strcmp(fmt, "csv") == 0)
		text = to_csv(x.entries);
	else if (strcmp(fmt, "fhir") == 0)
		text = to_fhir(x.entries, ref[0] != '\0' ? ref : "unknown", now);
	if (strcmp(fmt, "json") != 0 && text == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	d->done = done;
	d->arg = arg;
	if (text != NULL) {
		d->text = text;
		d->type = strcmp(fmt, "csv") == 0 ? "text/csv; charset=utf-8; header=present"
		    : "application/fhir+json";
		json_decref(body);
	} else {
		d->body = body;
	}
	text = NULL;
	body = NULL;
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "disclosure.list";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* the query is audited; the answer leaves once its entry is durable */
	rc = audit_submit(v->audit, &ev, NULL, NULL, COMMIT_REQUEST, list_done, d);
	if (rc == PV_OK) {
		free(detail);
		json_decref(x.entries);
		return;
	}
	json_decref(d->body);
	free(d->text);
	free(d);
	rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
out:
	free(detail);
	free(text);
	json_decref(body);
	json_decref(x.entries);
	vault_answer_finish(&a, rc, done, arg);
}
