/*
 * vault/ops_incidents.c: the breach scope report (issue 19 item 2; API.md
 * "Governance"; docs/governance.md "Breach scope"; 45 CFR 164.404
 * notification, 164.308(a)(6)(ii) incident response).
 *
 *   POST /v1/incidents        incidents.manage   incident.create  -> 202 {"job","incident"}
 *   GET  /v1/incidents        incidents.manage   incident.list
 *   GET  /v1/incidents/{id}   incidents.manage   incident.read    (?format=json|csv)
 *
 * An incident IS a job of kind "incident.scope": its ID is the job's
 * (job_...), its params are the request ({"actors","sources","since",
 * "until","revoke"}: principal IDs, CIDRs and times, never PHI), its state
 * the job's. The job walks the audit trail by seq (cursor "s:<seq>", SCAN
 * entries a step) and keeps every allowed PHI access (VAULT_INCIDENT_ACTIONS
 * below) in [since, until) whose actor is one of the actors or whose source
 * address is in one of the CIDRs, aggregated per subject reference and
 * collection (fields, actions, first / last time, count, audit seqs, record
 * IDs) and, for records without a subject, per record. Then (cursor
 * "r:<n>") it maps each reference to the subject identifier the covered
 * entity holds, RESOLVE references a step: a record named in the matched
 * entries (else one named by the subject index, store_audit_subject_scan)
 * is opened and only its subject field taken, and kept only if that value's
 * keyed reference is the reference (the record still belongs to it). A
 * shredded subject is reported "shredded" (ref and times, no identifier);
 * one with no record left to name it, "unresolved".
 *
 * Where the aggregate lives: the meta value "incident:<job id>", sealed
 * like every PHI-bearing row (keys_envelope_seal under KEK "incidents",
 * AAD "phivault:incident:v1|<job id>"): it holds identifiers once
 * resolved. Layout: "PVI1" | KEK version (4 bytes, big endian) | wrapped
 * DEK (KEYS_WRAPPED_DEK_LEN) | AES-256-GCM box of the JSON. Each step reads,
 * extends and rewrites it in the step's own transaction, so a crash
 * resumes at the cursor with exactly the aggregate that cursor implies.
 *
 * Revocation (POST body "revoke":{"sessions":true,"secrets":true}): in the
 * incident.create entry's own transaction every open session of the named
 * users ends (reason "logout", credential epoch bumped so every node
 * refuses them), and every live secret of the named apps is revoked and
 * every app session ends (the app stays enabled; an admin adds a new
 * secret: rotation). Then this node's cached sessions are dropped.
 *
 * Nothing here logs or audits a value: entries carry the job ID, counts and
 * principal IDs only; identifiers leave only in the GET answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "vault/vault_int.h"

#define KIND_NAME "incident.scope"
#define KEK_NAME VAULT_KEK_INCIDENTS
#define META_PREFIX "incident:"
#define BLOB_MAGIC "PVI1"
#define SCAN 500                 /* audit entries a step */
#define RESOLVE 50               /* subject references a step */
#define ACTORS_MAX 64
#define SOURCES_MAX 64
#define SEQS_MAX 500             /* audit seqs kept per subject (count counts all) */
#define RECORDS_MAX 200          /* record IDs kept per subject and collection */
#define SUBJECTS_MAX 50000       /* subjects in one incident (truncated past it) */
#define INDEX_PROBE 100          /* index entries looked at to find a record of a ref */
#define SECRETS_MAX 16           /* live secrets of an app looked at (two are live at most) */
#define TIME_LEN 32
#define AAD_MAX 96

struct vault_incidents {
	struct vault_ctx *v;
	struct jobs_runner *jobs;
	struct authn_service *authn;
	struct jobs_kind kind;
};

/* The PHI actions a breach scope lists (docs/governance.md "Breach scope").
 * Writes that create or delete disclose nothing already held; an update
 * answers the record. Exports: the entries that hand data out (a Safe
 * Harbor export made, read or downloaded; the offline return of the data)
 * when they name subjects or records; deleting or expiring an export
 * discloses nothing. */
static const char *const phi_actions[] = {
	"record.read", "record.list", "record.search", "record.update", "token.detokenize",
	"export.create", "export.read", "export.download", "offboard.export",
	NULL
};

static bool phi_action(const char *a)
{
	for (size_t i = 0; phi_actions[i] != NULL; i++)
		if (strcmp(a, phi_actions[i]) == 0)
			return true;
	return false;
}

/* ---- the request ---- */

/* RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ or ...SS.mmmZ) into the entries' form. */
static bool time_arg(const char *s, char out[TIME_LEN])
{
	char buf[TIME_LEN];
	size_t n = s != NULL ? strlen(s) : 0;
	int64_t ms;

	if (n == 20 && s[19] == 'Z')
		snprintf(buf, sizeof(buf), "%.19s.000Z", s);
	else if (n == 24 && s[23] == 'Z')
		util_strlcpy(buf, s, sizeof(buf));
	else
		return false;
	if ((ms = util_time_parse(buf)) < 0)
		return false;
	util_time_fmt(ms, out, TIME_LEN);
	return strcmp(out, buf) == 0;
}

struct filter {
	char actors[ACTORS_MAX][UTIL_ID_MAX];
	size_t nactors;
	struct authn_cidr cidr[SOURCES_MAX];
	size_t ncidr;
	char since[TIME_LEN], until[TIME_LEN];
};

static bool actor_id_ok(const char *id)
{
	return id != NULL && (util_id_valid("usr", id) || util_id_valid("app", id));
}

/* params (the stored request, validated at create) into f. */
static enum pv_rc filter_from(json_t *p, struct filter *f, const char **msg)
{
	json_t *a = json_object_get(p, "actors"), *s = json_object_get(p, "sources"), *el;
	size_t i;

	memset(f, 0, sizeof(*f));
	*msg = NULL;
	if ((a != NULL && !json_is_array(a)) || (s != NULL && !json_is_array(s)))
		return *msg = "actors and sources must be arrays", PV_E_INVALID;
	if (json_array_size(a) + json_array_size(s) == 0)
		return *msg = "name at least one actor or source", PV_E_INVALID;
	if (json_array_size(a) > ACTORS_MAX || json_array_size(s) > SOURCES_MAX)
		return *msg = "at most 64 actors and 64 sources", PV_E_INVALID;
	json_array_foreach(a, i, el) {
		if (!actor_id_ok(json_string_value(el)))
			return *msg = "actors must be user (usr_...) or app (app_...) IDs",
			    PV_E_INVALID;
		util_strlcpy(f->actors[f->nactors++], json_string_value(el), UTIL_ID_MAX);
	}
	json_array_foreach(s, i, el)
		if (!json_is_string(el) ||
		    authn_cidr_parse(json_string_value(el), &f->cidr[f->ncidr++]) != PV_OK)
			return *msg = "sources must be CIDRs (10.0.0.0/8, 2001:db8::/32) or "
			    "addresses, host bits zero", PV_E_INVALID;
	if (!time_arg(json_string_value(json_object_get(p, "since")), f->since))
		return *msg = "since must be RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)", PV_E_INVALID;
	if (json_object_get(p, "until") == NULL) {
		util_time_fmt(util_now_ms(), f->until, sizeof(f->until));
	} else if (!time_arg(json_string_value(json_object_get(p, "until")), f->until)) {
		return *msg = "until must be RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)", PV_E_INVALID;
	}
	if (strcmp(f->since, f->until) >= 0)
		return *msg = "since must be before until", PV_E_INVALID;
	return PV_OK;
}

static bool actor_in(const struct filter *f, const char *id)
{
	for (size_t i = 0; id != NULL && i < f->nactors; i++)
		if (strcmp(f->actors[i], id) == 0)
			return true;
	return false;
}

static bool source_in(const struct filter *f, const char *addr)
{
	for (size_t i = 0; addr != NULL && i < f->ncidr; i++)
		if (authn_cidr_match(&f->cidr[i], addr))
			return true;
	return false;
}

/* ---- the sealed aggregate ---- */

static void meta_key(const char *job, char *out, size_t len)
{
	snprintf(out, len, META_PREFIX "%s", job);
}

static size_t aad_of(const char *job, char aad[AAD_MAX])
{
	int n = snprintf(aad, AAD_MAX, "phivault:incident:v1|%s", job);

	return n > 0 && n < AAD_MAX ? (size_t)n : 0;
}

static enum pv_rc state_save(struct vault_ctx *v, struct store_tx *tx, const char *job,
    json_t *state)
{
	char key[64], aad[AAD_MAX];
	char *text = json_dumps(state, JSON_COMPACT);
	size_t ptlen, hdr = 8 + KEYS_WRAPPED_DEK_LEN, aadlen = aad_of(job, aad);
	uint8_t *blob = NULL;
	struct keys_envelope env;
	enum pv_rc rc;

	if (text == NULL)
		return PV_E_NOMEM;
	ptlen = strlen(text);
	if ((blob = malloc(hdr + ptlen + CRYPTO_BOX_OVERHEAD)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memset(&env, 0, sizeof(env));
	if ((rc = keys_envelope_seal(v->keys, KEK_NAME, (const uint8_t *)aad, aadlen,
	    (const uint8_t *)text, ptlen, blob + hdr, &env)) != PV_OK)
		goto out;
	memcpy(blob, BLOB_MAGIC, 4);
	blob[4] = (uint8_t)(env.kek_version >> 24);
	blob[5] = (uint8_t)(env.kek_version >> 16);
	blob[6] = (uint8_t)(env.kek_version >> 8);
	blob[7] = (uint8_t)env.kek_version;
	memcpy(blob + 8, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	meta_key(job, key, sizeof(key));
	rc = store_meta_put(tx, key, blob, hdr + ptlen + CRYPTO_BOX_OVERHEAD);
out:
	vault_wipe(text, strlen(text));
	free(text);
	free(blob);
	return rc;
}

/* *out: the aggregate, or a fresh one if none was saved yet. */
static enum pv_rc state_load(struct vault_ctx *v, struct store_tx *tx, const char *job,
    json_t **out)
{
	char key[64], aad[AAD_MAX];
	uint8_t *val = NULL, *pt = NULL;
	size_t len = 0, hdr = 8 + KEYS_WRAPPED_DEK_LEN, aadlen = aad_of(job, aad);
	struct keys_envelope env;
	enum pv_rc rc;

	meta_key(job, key, sizeof(key));
	rc = store_meta_get(tx, key, &val, &len);
	if (rc == PV_E_NOTFOUND) {
		*out = json_pack("{s:{}, s:{}, s:I, s:b}", "subjects", "records", "entries",
		    (json_int_t)0, "truncated", 0);
		return *out != NULL ? PV_OK : PV_E_NOMEM;
	}
	if (rc != PV_OK)
		return rc;
	if (len <= hdr + CRYPTO_BOX_OVERHEAD || memcmp(val, BLOB_MAGIC, 4) != 0) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	memset(&env, 0, sizeof(env));
	util_strlcpy(env.kek_name, KEK_NAME, sizeof(env.kek_name));
	env.kek_version = (uint32_t)val[4] << 24 | (uint32_t)val[5] << 16 |
	    (uint32_t)val[6] << 8 | val[7];
	memcpy(env.wrapped_dek, val + 8, KEYS_WRAPPED_DEK_LEN);
	if ((pt = malloc(len - hdr - CRYPTO_BOX_OVERHEAD + 1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = keys_envelope_open(v->keys, &env, (const uint8_t *)aad, aadlen, val + hdr,
	    len - hdr, pt)) != PV_OK)
		goto out;
	*out = json_loadb((const char *)pt, len - hdr - CRYPTO_BOX_OVERHEAD, 0, NULL);
	if (*out == NULL)
		rc = PV_E_INTEGRITY;
out:
	if (pt != NULL) {
		vault_wipe(pt, len - hdr - CRYPTO_BOX_OVERHEAD + 1);
		free(pt);
	}
	free(val);
	return rc;
}

/* ---- aggregation ---- */

static void set_add(json_t *obj, const char *key, const char *name)
{
	json_t *s = json_object_get(obj, key);

	if (name == NULL || name[0] == '\0')
		return;
	if (s == NULL) {
		s = json_object();
		json_object_set_new(obj, key, s);
	}
	json_object_set_new(s, name, json_true());
}

/* first / last / count / actions / fields of one entry into agg */
static void agg_entry(json_t *agg, int64_t seq, const char *time, const char *action,
    json_t *fields, bool keep_seq)
{
	const char *first = json_string_value(json_object_get(agg, "first"));
	const char *last = json_string_value(json_object_get(agg, "last"));
	json_t *seqs = json_object_get(agg, "seqs"), *f;
	size_t i;

	if (first == NULL || strcmp(time, first) < 0)
		json_object_set_new(agg, "first", json_string(time));
	if (last == NULL || strcmp(time, last) > 0)
		json_object_set_new(agg, "last", json_string(time));
	json_object_set_new(agg, "count",
	    json_integer(json_integer_value(json_object_get(agg, "count")) + 1));
	set_add(agg, "actions", action);
	json_array_foreach(fields, i, f)
		set_add(agg, "fields", json_string_value(f));
	if (keep_seq) {
		if (seqs == NULL) {
			seqs = json_array();
			json_object_set_new(agg, "seqs", seqs);
		}
		if (json_array_size(seqs) < SEQS_MAX)
			json_array_append_new(seqs, json_integer(seq));
	}
}

static json_t *child(json_t *parent, const char *key)
{
	json_t *c = json_object_get(parent, key);

	if (c == NULL) {
		c = json_object();
		if (c != NULL && json_object_set_new(parent, key, c) != 0)
			return NULL;
	}
	return c;
}

/* One access to the subject ref in collection coll (record may be NULL). */
static enum pv_rc add_subject(json_t *state, const char *ref, const char *coll,
    const char *record, int64_t seq, const char *time, const char *action, json_t *fields)
{
	json_t *subjects = json_object_get(state, "subjects"), *s, *cs, *c, *recs;

	if (json_object_get(subjects, ref) == NULL && json_object_size(subjects) >= SUBJECTS_MAX) {
		json_object_set_new(state, "truncated", json_true());
		return PV_OK;
	}
	if ((s = child(subjects, ref)) == NULL || (cs = child(s, "collections")) == NULL ||
	    (c = child(cs, coll != NULL && coll[0] != '\0' ? coll : "-")) == NULL)
		return PV_E_NOMEM;
	agg_entry(s, seq, time, action, fields, true);
	agg_entry(c, seq, time, action, fields, false);
	if (record != NULL && record[0] != '\0') {
		if ((recs = json_object_get(c, "records")) == NULL) {
			recs = json_object();
			json_object_set_new(c, "records", recs);
		}
		if (json_object_size(recs) < RECORDS_MAX)
			json_object_set_new(recs, record, json_true());
	}
	return PV_OK;
}

static enum pv_rc add_record(json_t *state, const char *coll, const char *record, int64_t seq,
    const char *time, const char *action, json_t *fields)
{
	char key[VAULT_NAME_MAX + UTIL_ID_MAX + 2];
	json_t *r;

	snprintf(key, sizeof(key), "%s/%s", coll, record);
	if ((r = child(json_object_get(state, "records"), key)) == NULL)
		return PV_E_NOMEM;
	json_object_set_new(r, "collection", json_string(coll));
	json_object_set_new(r, "record", json_string(record));
	agg_entry(r, seq, time, action, fields, true);
	return PV_OK;
}

static bool names_ref(json_t *refs, const char *ref)
{
	size_t i;
	json_t *s;

	json_array_foreach(refs, i, s)
		if (strcmp(json_string_value(s), ref) == 0)
			return true;
	return false;
}

/* A matched entry, copied out of the scan (row pointers die with the
 * callback, and a second statement may not run inside a PostgreSQL scan). */
struct hit {
	int64_t seq;
	char time[TIME_LEN];
	char action[64];
	char resource[VAULT_RESOURCE_MAX];
	json_t *detail;
};

struct scan {
	const struct filter *f;
	struct hit *hits;
	size_t n;
	int64_t last_seq;
	size_t rows;
};

static int scan_cb(const struct store_audit_row *row, void *arg)
{
	struct scan *x = arg;
	struct audit_actor_fields af;
	bool who;
	struct hit *h;

	x->rows++;
	x->last_seq = row->seq;
	if (strcmp(row->outcome, "allowed") != 0 || !phi_action(row->action) ||
	    strcmp(row->time, x->f->since) < 0 || strcmp(row->time, x->f->until) >= 0)
		return 0;
	audit_actor_fields_parse(row->actor, &af);
	who = actor_in(x->f, af.user_id) || source_in(x->f, af.source);
	json_decref(af.root);
	if (!who)
		return 0;
	h = &x->hits[x->n];
	memset(h, 0, sizeof(*h));
	h->seq = row->seq;
	util_strlcpy(h->time, row->time, sizeof(h->time));
	util_strlcpy(h->action, row->action, sizeof(h->action));
	util_strlcpy(h->resource, row->resource, sizeof(h->resource));
	h->detail = json_loads(row->detail, 0, NULL);
	if (h->detail == NULL)
		h->detail = json_object();
	x->n++;
	return 0;
}

/* Attribute one matched entry to subjects and records. */
static enum pv_rc attribute(struct store_tx *tx, json_t *state, const struct hit *h)
{
	char coll[VAULT_NAME_MAX] = "", rec[UTIL_ID_MAX] = "", tok[UTIL_ID_MAX] = "";
	json_t *d = h->detail, *refs = json_object_get(d, "subjects");
	json_t *fields = json_object_get(d, "fields"), *covered = json_object(), *el;
	const char *dc = json_string_value(json_object_get(d, "collection"));
	size_t i;
	enum pv_rc rc = PV_OK;

	if (covered == NULL)
		return PV_E_NOMEM;
	if (sscanf(h->resource, "collections/%63[a-z0-9_]/records/%47[A-Za-z0-9_]", coll, rec) < 1)
		coll[0] = rec[0] = '\0';
	if (coll[0] == '\0' && dc != NULL)
		util_strlcpy(coll, dc, sizeof(coll));
	if (sscanf(h->resource, "tokens/%47[A-Za-z0-9_]", tok) == 1) {
		/* a detokenization: its token names the patient it is linked to */
		struct store_token t;

		memset(&t, 0, sizeof(t));
		if (store_token_get(tx, tok, &t) == PV_OK && t.subject_ref[0] != '\0') {
			if (coll[0] == '\0')
				util_strlcpy(coll, t.collection, sizeof(coll));
			rc = add_subject(state, t.subject_ref, coll, NULL, h->seq, h->time, h->action,
			    fields);
			json_object_set_new(covered, t.subject_ref, json_true());
		}
		store_token_clear(&t);
	} else if (rec[0] != '\0') {
		/* one record: every subject its entry names is that record's */
		json_array_foreach(refs, i, el) {
			if (rc == PV_OK && json_is_string(el))
				rc = add_subject(state, json_string_value(el), coll, rec, h->seq, h->time,
				    h->action, fields);
			json_object_set_new(covered, json_string_value(el), json_true());
		}
		if (rc == PV_OK && json_array_size(refs) == 0)
			rc = add_record(state, coll, rec, h->seq, h->time, h->action, fields);
	} else {
		/* several records (search, list): each record's own subject, if the
		 * entry names it (the chain covers the detail, not the link) */
		json_array_foreach(json_object_get(d, "records"), i, el) {
			char ref[STORE_SUBJECT_REF_LEN + 1];
			const char *id = json_string_value(el);
			enum pv_rc lrc;

			if (rc != PV_OK || id == NULL || coll[0] == '\0')
				continue;
			lrc = store_subject_of_record(tx, coll, id, ref);
			if (lrc == PV_OK && (refs == NULL || names_ref(refs, ref))) {
				rc = add_subject(state, ref, coll, id, h->seq, h->time, h->action, fields);
				json_object_set_new(covered, ref, json_true());
			} else if (lrc == PV_OK || lrc == PV_E_NOTFOUND) {
				rc = add_record(state, coll, id, h->seq, h->time, h->action, fields);
			} else {
				rc = lrc;
			}
		}
	}
	/* a subject the entry names that no record above accounted for */
	json_array_foreach(refs, i, el)
		if (rc == PV_OK && json_is_string(el) &&
		    json_object_get(covered, json_string_value(el)) == NULL)
			rc = add_subject(state, json_string_value(el), coll, NULL, h->seq, h->time,
			    h->action, fields);
	json_decref(covered);
	return rc;
}

/* ---- resolution: ref -> the subject identifier ---- */

/* The subject field's value of collection/id, if its keyed ref is ref. */
static enum pv_rc identifier_of(struct vault_ctx *v, struct store_tx *tx, const char *coll,
    const char *id, const char *ref, char **out)
{
	const struct vault_collection *c;
	struct store_record r;
	struct vault_subject_env se;
	char check[STORE_SUBJECT_REF_LEN + 1];
	const char *name = NULL, *val;
	json_t *fields = NULL;
	enum pv_rc rc;

	*out = NULL;
	if (vault_coll_get(v, coll, &c) != PV_OK)
		return PV_OK;
	for (size_t i = 0; i < c->nfields; i++)
		if (c->fields[i].subject)
			name = c->fields[i].name;
	if (name == NULL)
		return PV_OK;
	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	rc = vault_record_fetch(tx, coll, id, &r, &se);
	if (rc == PV_OK)
		rc = vault_record_open_env(v->keys, &r, &se, &fields);
	vault_wipe(&se, sizeof(se));
	store_record_clear(&r);
	if (rc != PV_OK) {
		json_decref(fields);
		/* gone, shredded or unreadable: try another record */
		return rc == PV_E_NOMEM || rc == PV_E_SEALED ? rc : PV_OK;
	}
	val = json_string_value(json_object_get(fields, name));
	if (val != NULL && vault_subject_ref(v->keys, val, check) == PV_OK &&
	    strcmp(check, ref) == 0 && (*out = strdup(val)) == NULL)
		rc = PV_E_NOMEM;
	json_decref(fields);   /* wiped on free */
	return rc;
}

struct probe {
	char coll[8][VAULT_NAME_MAX];
	char id[8][UTIL_ID_MAX];
	size_t n;
};

static int probe_cb(const struct store_audit_row *row, void *arg)
{
	struct probe *p = arg;

	if (p->n < 8 && sscanf(row->resource, "collections/%63[a-z0-9_]/records/%47[A-Za-z0-9_]",
	    p->coll[p->n], p->id[p->n]) == 2)
		p->n++;
	return p->n == 8 ? 1 : 0;
}

static enum pv_rc resolve(struct vault_ctx *v, struct store_tx *tx, const char *ref, json_t *s)
{
	struct store_subject sub;
	json_t *cs = json_object_get(s, "collections"), *c;
	const char *cname;
	char *ident = NULL;
	int64_t shred_ms = 0;
	enum pv_rc rc;

	memset(&sub, 0, sizeof(sub));
	rc = store_subject_get(tx, ref, &sub);
	store_subject_clear(&sub);
	if (rc == PV_E_NOTFOUND &&
	    (rc = store_subject_tombstone_get(tx, ref, &shred_ms)) == PV_OK) {
		char t[TIME_LEN];

		util_time_fmt(shred_ms, t, sizeof(t));
		json_object_set_new(s, "state", json_string("shredded"));
		json_object_set_new(s, "shredded_at", json_string(t));
		return PV_OK;
	}
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		return rc;
	/* the records the entries named, then those the subject index names */
	json_object_foreach(cs, cname, c) {
		const char *id;
		json_t *yes;

		json_object_foreach(json_object_get(c, "records"), id, yes) {
			if (ident == NULL && (rc = identifier_of(v, tx, cname, id, ref, &ident)) != PV_OK)
				return rc;
		}
	}
	if (ident == NULL) {
		struct store_audit_subject_filter f;
		struct probe p;

		memset(&f, 0, sizeof(f));
		memset(&p, 0, sizeof(p));
		f.subject_ref = ref;
		f.limit = INDEX_PROBE;
		if ((rc = store_audit_subject_scan(tx, &f, probe_cb, &p)) != PV_OK)
			return rc;
		for (size_t i = 0; ident == NULL && i < p.n; i++)
			if ((rc = identifier_of(v, tx, p.coll[i], p.id[i], ref, &ident)) != PV_OK)
				return rc;
	}
	json_object_set_new(s, "state", json_string(ident != NULL ? "active" : "unresolved"));
	if (ident != NULL) {
		json_object_set_new(s, "subject", json_string(ident));
		vault_wipe(ident, strlen(ident));
		free(ident);
	}
	return PV_OK;
}

/* ---- the job kind ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static enum pv_rc step_resolve(struct vault_ctx *v, struct store_tx *tx, json_t *state,
    size_t from, struct jobs_step_out *out)
{
	json_t *subjects = json_object_get(state, "subjects"), *s;
	size_t n = json_object_size(subjects), k = 0, i;
	const char **refs = n > 0 ? calloc(n, sizeof(*refs)) : NULL;
	const char *ref;
	enum pv_rc rc = PV_OK;

	if (n > 0 && refs == NULL)
		return PV_E_NOMEM;
	json_object_foreach(subjects, ref, s)
		refs[k++] = ref;
	if (n > 0)
		qsort(refs, n, sizeof(*refs), cmp_str);
	for (i = from; rc == PV_OK && i < n && i < from + RESOLVE; i++)
		rc = resolve(v, tx, refs[i], json_object_get(subjects, refs[i]));
	free(refs);
	if (rc != PV_OK)
		return rc;
	if (i >= n)
		out->finished = true;
	else
		snprintf(out->cursor, sizeof(out->cursor), "r:%zu", i);
	return PV_OK;
}

static enum pv_rc kind_step(const struct jobs_step_ctx *ctx, const char *cursor,
    struct jobs_step_out *out)
{
	struct vault_incidents *in = ctx->kind_arg;
	struct vault_ctx *v = in->v;
	json_t *params = json_loads(ctx->params != NULL ? ctx->params : "{}", 0, NULL);
	json_t *state = NULL;
	struct filter *f = calloc(1, sizeof(*f));
	struct scan x;
	struct store_audit_filter af;
	const char *msg;
	long long n = 0;
	enum pv_rc rc;

	memset(&x, 0, sizeof(x));
	if (params == NULL || f == NULL) {
		rc = params == NULL ? PV_E_INVALID : PV_E_NOMEM;
		goto out;
	}
	if ((rc = filter_from(params, f, &msg)) != PV_OK)
		goto out;
	if ((rc = state_load(v, ctx->tx, ctx->job_id, &state)) != PV_OK)
		goto out;
	if (cursor != NULL && sscanf(cursor, "r:%lld", &n) == 1 && n >= 0) {
		if ((rc = step_resolve(v, ctx->tx, state, (size_t)n, out)) == PV_OK)
			rc = state_save(v, ctx->tx, ctx->job_id, state);
		goto out;
	}
	if (cursor != NULL && cursor[0] != '\0' && (sscanf(cursor, "s:%lld", &n) != 1 || n < 0)) {
		rc = PV_E_INVALID;
		goto out;
	}
	if (ctx->total == 0) {
		int64_t head = 0;
		char hash[65];

		if ((rc = store_audit_head(ctx->tx, &head, hash)) != PV_OK)
			goto out;
		out->total = head;
	} else {
		out->total = -1;
	}
	if ((x.hits = calloc(SCAN, sizeof(*x.hits))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	x.f = f;
	x.last_seq = n;
	memset(&af, 0, sizeof(af));
	af.since_seq = n;
	af.limit = SCAN;
	if ((rc = store_audit_scan(ctx->tx, &af, scan_cb, &x)) != PV_OK)
		goto out;
	for (size_t i = 0; rc == PV_OK && i < x.n; i++)
		rc = attribute(ctx->tx, state, &x.hits[i]);
	if (rc != PV_OK)
		goto out;
	json_object_set_new(state, "entries", json_integer(
	    json_integer_value(json_object_get(state, "entries")) + (json_int_t)x.n));
	out->done = (int64_t)x.rows;
	if (x.rows < SCAN)
		snprintf(out->cursor, sizeof(out->cursor), "r:0");   /* the head: resolve next */
	else
		snprintf(out->cursor, sizeof(out->cursor), "s:%lld", (long long)x.last_seq);
	rc = state_save(v, ctx->tx, ctx->job_id, state);
out:
	for (size_t i = 0; i < x.n; i++)
		json_decref(x.hits[i].detail);
	free(x.hits);
	json_decref(state);   /* wiped on free */
	json_decref(params);
	free(f);
	return rc;
}

/* ---- create ---- */

struct create {
	struct vault_incidents *in;
	vault_done_fn done;
	void *arg;
	char job[UTIL_ID_MAX];
	char resource[64];
	char *detail;
	char users[ACTORS_MAX][UTIL_ID_MAX], apps[ACTORS_MAX][UTIL_ID_MAX];
	size_t nusers, napps;
	bool sessions, secrets;
	size_t sessions_ended, secrets_revoked;
	int64_t now_ms;
};

struct secret_ids {
	char id[SECRETS_MAX][UTIL_ID_MAX];
	size_t n;
};

static int secret_cb(const struct store_app_secret *s, void *arg)
{
	struct secret_ids *l = arg;

	if (l->n < SECRETS_MAX)
		util_strlcpy(l->id[l->n++], s->secret_id, UTIL_ID_MAX);
	return 0;
}

/* In the incident.create entry's transaction: the revocations. */
static enum pv_rc revoke_fn(struct store_tx *tx, void *arg)
{
	struct create *c = arg;
	const char *why = authn_session_end_name(AUTHN_END_LOGOUT);
	enum pv_rc rc = PV_OK;

	for (size_t i = 0; rc == PV_OK && c->sessions && i < c->nusers; i++) {
		struct store_user u;
		size_t n = 0;

		memset(&u, 0, sizeof(u));
		if ((rc = store_user_get(tx, c->users[i], &u)) == PV_OK) {
			u.credential_epoch++;   /* every node refuses the sessions made before */
			u.updated_ms = c->now_ms;
			rc = store_user_update(tx, &u);
		}
		store_user_clear(&u);
		if (rc == PV_OK)
			rc = store_session_end_all_for_user(tx, c->users[i], NULL, c->now_ms, why, &n);
		c->sessions_ended += n;
	}
	for (size_t i = 0; rc == PV_OK && i < c->napps; i++) {
		struct store_app a;
		struct secret_ids l;
		size_t n = 0;

		memset(&a, 0, sizeof(a));
		memset(&l, 0, sizeof(l));
		if (c->secrets) {
			if ((rc = store_app_secret_list(tx, c->apps[i], secret_cb, &l)) != PV_OK)
				break;
			for (size_t k = 0; rc == PV_OK && k < l.n; k++)
				rc = store_app_secret_revoke(tx, c->apps[i], l.id[k], c->now_ms);
			c->secrets_revoked += l.n;
		}
		if (rc == PV_OK && (c->sessions || c->secrets)) {
			if ((rc = store_app_get(tx, c->apps[i], &a)) == PV_OK) {
				a.credential_epoch++;
				rc = store_app_update(tx, &a);
			}
			store_app_clear(&a);
			if (rc == PV_OK)
				rc = store_app_session_end_all(tx, c->apps[i], c->now_ms, why, &n);
			c->sessions_ended += n;
		}
	}
	return rc;
}

static void create_done(enum pv_rc rc, void *arg)
{
	struct create *c = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK) {
		/* not cancelled from here: this runs on the committer thread, which
		 * must not wait for a commit; the job runs without its incident.create
		 * entry and the caller, told 500 audit_failure, asks again */
		log_warn("incidents: the incident.create entry of %s did not commit (%s)", c->job,
		    pv_rc_name(rc));
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else {
		/* revoked in the store: drop this node's cached sessions at once */
		for (size_t i = 0; c->in->authn != NULL && c->sessions && i < c->nusers; i++)
			authn_sessions_end_user(c->in->authn, c->users[i], AUTHN_END_PASSWORD);
		for (size_t i = 0; c->in->authn != NULL && i < c->napps; i++)
			if (c->sessions || c->secrets)
				authn_sessions_end_app(c->in->authn, c->apps[i]);
		a.body = json_pack("{s:s, s:s, s:s, s:{s:b, s:b, s:I, s:I}}", "job", c->job,
		    "incident", c->job, "state", "queued", "revoked", "sessions", c->sessions,
		    "secrets", c->secrets, "sessions_ended", (json_int_t)c->sessions_ended,
		    "secrets_revoked", (json_int_t)c->secrets_revoked);
		if (a.body == NULL)
			vault_answer_fail(&a, PV_E_NOMEM, NULL);
	}
	vault_answer_send(&a, c->done, c->arg);
	free(c->detail);
	free(c);
}

static const char *const create_keys[] = { "actors", "sources", "since", "until", "revoke",
	NULL };

static bool only_keys(json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *val;

	json_object_foreach(o, k, val) {
		size_t i;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], k) != 0; i++)
			;
		if (allowed[i] == NULL)
			return false;
	}
	return true;
}

static enum pv_rc ensure_kek_fn(struct store_tx *tx, void *arg)
{
	return keys_kek_ensure_tx(arg, tx, KEK_NAME);
}

static enum pv_rc kek_latest_tx(struct store_tx *tx)
{
	struct store_kek row;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, KEK_NAME, &row);
	store_kek_clear(&row);
	return rc;
}

/* KEK "incidents": a read when it exists (serve makes it at an unsealed
 * start, vault_keks_ensure); only the first create of a vault unsealed
 * later commits it (and waits for that commit). */
static enum pv_rc kek_ready(struct vault_ctx *v)
{
	enum pv_rc rc;

	STORE_READ(v->st, rc, kek_latest_tx(tx));
	if (rc == PV_OK)
		return PV_OK;
	return audit_commit(v->audit, NULL, ensure_kek_fn, v->keys);
}

/* The actors exist (users and apps); PV_E_INVALID naming the first that does not. */
static enum pv_rc actors_exist(struct store_tx *tx, const struct filter *f, const char **msg)
{
	for (size_t i = 0; i < f->nactors; i++) {
		enum pv_rc rc;

		if (f->actors[i][0] == 'u') {
			struct store_user u;

			memset(&u, 0, sizeof(u));
			rc = store_user_get(tx, f->actors[i], &u);
			store_user_clear(&u);
		} else {
			struct store_app a;

			memset(&a, 0, sizeof(a));
			rc = store_app_get(tx, f->actors[i], &a);
			store_app_clear(&a);
		}
		if (rc == PV_E_NOTFOUND) {
			*msg = "an actor is no known user or app";
			return PV_E_INVALID;
		}
		if (rc != PV_OK)
			return rc;
	}
	return PV_OK;
}

void vault_incident_create(struct vault_incidents *in, const struct vault_caller *who,
    json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = in->v;
	struct vault_answer a;
	struct filter *f = calloc(1, sizeof(*f));
	struct create *c = calloc(1, sizeof(*c));
	json_t *revoke = json_object_get(body, "revoke"), *params = NULL, *dj = NULL;
	char *ptext = NULL;
	const char *msg = NULL;
	struct audit_event ev;
	enum pv_rc rc = PV_OK;

	vault_answer_init(&a);
	if (f == NULL || c == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	if (!json_is_object(body) || !only_keys(body, create_keys))
		rc = PV_E_INVALID, msg = "the body takes actors, sources, since, until and revoke";
	else if (revoke != NULL && (!json_is_object(revoke) ||
	    !only_keys(revoke, (const char *const[]){ "sessions", "secrets", NULL }) ||
	    (json_object_get(revoke, "sessions") != NULL &&
	    !json_is_boolean(json_object_get(revoke, "sessions"))) ||
	    (json_object_get(revoke, "secrets") != NULL &&
	    !json_is_boolean(json_object_get(revoke, "secrets")))))
		rc = PV_E_INVALID, msg = "revoke must be {\"sessions\":bool,\"secrets\":bool}";
	else if ((rc = filter_from(body, f, &msg)) == PV_OK)
		STORE_READ(v->st, rc, actors_exist(tx, f, &msg));
	if (rc != PV_OK) {
		vault_fail_audited(v, who, "incident.create", "incidents", NULL, rc, msg, &a);
		goto fail;
	}
	c->in = in;
	c->done = done;
	c->arg = arg;
	c->sessions = json_is_true(json_object_get(revoke, "sessions"));
	c->secrets = json_is_true(json_object_get(revoke, "secrets"));
	c->now_ms = util_now_ms();
	for (size_t i = 0; i < f->nactors; i++) {
		if (f->actors[i][0] == 'u')
			util_strlcpy(c->users[c->nusers++], f->actors[i], UTIL_ID_MAX);
		else
			util_strlcpy(c->apps[c->napps++], f->actors[i], UTIL_ID_MAX);
	}
	/* the stored request: normalised times (until fixed at now if absent) */
	params = json_pack("{s:O*, s:O*, s:s, s:s, s:{s:b, s:b}}",
	    "actors", json_object_get(body, "actors"), "sources", json_object_get(body, "sources"),
	    "since", f->since, "until", f->until, "revoke", "sessions", c->sessions, "secrets",
	    c->secrets);
	if (params == NULL || (ptext = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	/* KEK "incidents" exists before the job can step (made on first use,
	 * through the audit writer, as KEK "tokens" is) */
	if ((rc = kek_ready(v)) != PV_OK ||
	    (rc = jobs_enqueue(in->jobs, who->actor, KIND_NAME, ptext, 0, c->job)) != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
		goto fail;
	}
	snprintf(c->resource, sizeof(c->resource), "incidents/%s", c->job);
	dj = json_pack("{s:s, s:I, s:I, s:s, s:s, s:b, s:b}", "job", c->job,
	    "actors", (json_int_t)f->nactors, "sources", (json_int_t)f->ncidr, "since", f->since,
	    "until", f->until, "revoke_sessions", c->sessions, "revoke_secrets", c->secrets);
	if (dj == NULL || (c->detail = json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "incident.create";
	ev.resource = c->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = c->detail;
	/* the revocations and the incident's entry: one transaction; answered
	 * from its completion */
	rc = audit_submit(v->audit, &ev, revoke_fn, c, COMMIT_REQUEST, create_done, c);
	if (rc == PV_OK) {
		json_decref(dj);
		json_decref(params);
		free(ptext);
		free(f);
		return;
	}
	(void)jobs_change(in->jobs, who->actor, c->job, JOBS_CANCEL);
	vault_answer_fail(&a, PV_E_AUDIT, NULL);
fail:
	json_decref(dj);
	json_decref(params);
	free(ptext);
	free(f);
	if (c != NULL)
		free(c->detail);
	free(c);
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- read ---- */

/* The job row as an incident (no aggregate). */
static json_t *incident_head(const struct store_job *j)
{
	json_t *p = json_loads(j->params != NULL ? j->params : "{}", 0, NULL), *o;
	char created[TIME_LEN] = "", finished[TIME_LEN] = "";

	if (p == NULL)
		p = json_object();
	util_time_fmt(j->created_ms, created, sizeof(created));
	if (j->finished_ms != 0)
		util_time_fmt(j->finished_ms, finished, sizeof(finished));
	o = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s, s:O*, s:O*, s:O*, s:O*, s:O*, "
	    "s:{s:I, s:I}}",
	    "id", j->id, "state", strcmp(j->state, "done") == 0 ? "closed" : "open",
	    "job_state", j->state, "finished", j->finished_ms != 0 ? finished : NULL,
	    "created", created, "created_by", j->created_by,
	    "actors", json_object_get(p, "actors"), "sources", json_object_get(p, "sources"),
	    "since", json_object_get(p, "since"), "until", json_object_get(p, "until"),
	    "revoke", json_object_get(p, "revoke"),
	    "progress", "done", (json_int_t)j->done, "total", (json_int_t)j->total);
	json_decref(p);
	return o;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *sorted(json_t *obj)
{
	size_t n = json_object_size(obj), k = 0;
	json_t **v = n > 0 ? calloc(n, sizeof(*v)) : NULL, *arr = json_array(), *yes;
	const char *key;

	if (arr == NULL || (n > 0 && v == NULL)) {
		free(v);
		json_decref(arr);
		return NULL;
	}
	json_object_foreach(obj, key, yes)
		v[k++] = json_string(key);
	if (n > 0)
		qsort(v, n, sizeof(*v), cmp_json_str);
	for (k = 0; k < n; k++)
		json_array_append_new(arr, v[k]);
	free(v);
	return arr;
}

/* The aggregate as the API shows it. */
static json_t *present(json_t *state, json_t *head)
{
	json_t *subjects = json_array(), *records = json_array(), *s, *r;
	const char *ref, *key;
	size_t nshred = 0, nunres = 0;
	json_t *refs = sorted(json_object_get(state, "subjects")), *el;
	size_t i;

	json_array_foreach(refs, i, el) {
		json_t *cols = json_array(), *c, *o;
		const char *cname;

		ref = json_string_value(el);
		s = json_object_get(json_object_get(state, "subjects"), ref);
		json_object_foreach(json_object_get(s, "collections"), cname, c)
			json_array_append_new(cols, json_pack("{s:s, s:o, s:o, s:O*, s:O*, s:O*, s:o}",
			    "collection", cname, "fields", sorted(json_object_get(c, "fields")),
			    "actions", sorted(json_object_get(c, "actions")),
			    "first", json_object_get(c, "first"), "last", json_object_get(c, "last"),
			    "count", json_object_get(c, "count"),
			    "records", sorted(json_object_get(c, "records"))));
		o = json_pack("{s:O*, s:s, s:O*, s:O*, s:o, s:o, s:o, s:O*, s:O*, s:O*, s:O*, s:o}",
		    "subject", json_object_get(s, "subject"), "subject_ref", ref,
		    "state", json_object_get(s, "state"), "shredded_at", json_object_get(s, "shredded_at"),
		    "collections", cols, "fields", sorted(json_object_get(s, "fields")),
		    "actions", sorted(json_object_get(s, "actions")),
		    "first", json_object_get(s, "first"), "last", json_object_get(s, "last"),
		    "count", json_object_get(s, "count"), "seqs", json_object_get(s, "seqs"),
		    "seqs_truncated", json_boolean(json_integer_value(json_object_get(s, "count")) >
		    SEQS_MAX));
		if (o == NULL || json_array_append_new(subjects, o) != 0)
			goto oom;
		if (json_string_value(json_object_get(s, "state")) != NULL &&
		    strcmp(json_string_value(json_object_get(s, "state")), "shredded") == 0)
			nshred++;
		else if (json_object_get(s, "subject") == NULL)
			nunres++;
	}
	json_object_foreach(json_object_get(state, "records"), key, r)
		json_array_append_new(records, json_pack("{s:O, s:O, s:o, s:o, s:O, s:O, s:O, s:O*}",
		    "collection", json_object_get(r, "collection"),
		    "record", json_object_get(r, "record"),
		    "fields", sorted(json_object_get(r, "fields")),
		    "actions", sorted(json_object_get(r, "actions")),
		    "first", json_object_get(r, "first"), "last", json_object_get(r, "last"),
		    "count", json_object_get(r, "count"), "seqs", json_object_get(r, "seqs")));
	json_object_set_new(head, "counts", json_pack("{s:I, s:I, s:I, s:I, s:O}",
	    "subjects", (json_int_t)json_array_size(subjects), "shredded", (json_int_t)nshred,
	    "unresolved", (json_int_t)nunres,
	    "records_without_subject", (json_int_t)json_array_size(records),
	    "entries", json_object_get(state, "entries")));
	json_object_set(head, "truncated", json_object_get(state, "truncated"));
	json_object_set_new(head, "subjects", subjects);
	json_object_set_new(head, "records_without_subject", records);
	json_decref(refs);
	return head;
oom:
	json_decref(refs);
	json_decref(subjects);
	json_decref(records);
	return NULL;
}

/* ---- CSV (RFC 4180): one row per subject x collection, for mail merge ---- */

static void joined(struct util_buf *t, json_t *arr, bool last)
{
	struct util_buf j = { 0 };
	size_t i;
	json_t *el;

	json_array_foreach(arr, i, el) {
		if (i > 0)
			util_buf_put(&j, ";", 1);
		util_buf_put(&j, json_string_value(el), strlen(json_string_value(el)));
	}
	util_csv_cell(t, j.failed ? NULL : j.p, last);
	t->failed = t->failed || j.failed;
	free(j.p);
}

static char *to_csv(json_t *inc)
{
	static const char *const head[] = { "subject", "subject_ref", "state", "collection",
		"fields", "actions", "first", "last", "count", "records" };
	struct util_buf t = { 0 };
	size_t i, k, nh = sizeof(head) / sizeof(head[0]);
	json_t *s, *c;

	for (k = 0; k < nh; k++)
		util_csv_cell(&t, head[k], k + 1 == nh);
	json_array_foreach(json_object_get(inc, "subjects"), i, s) {
		json_array_foreach(json_object_get(s, "collections"), k, c) {
			char count[24];

			snprintf(count, sizeof(count), "%lld",
			    (long long)json_integer_value(json_object_get(c, "count")));
			util_csv_cell(&t, json_string_value(json_object_get(s, "subject")), false);
			util_csv_cell(&t, json_string_value(json_object_get(s, "subject_ref")), false);
			util_csv_cell(&t, json_string_value(json_object_get(s, "state")), false);
			util_csv_cell(&t, json_string_value(json_object_get(c, "collection")), false);
			joined(&t, json_object_get(c, "fields"), false);
			joined(&t, json_object_get(c, "actions"), false);
			util_csv_cell(&t, json_string_value(json_object_get(c, "first")), false);
			util_csv_cell(&t, json_string_value(json_object_get(c, "last")), false);
			util_csv_cell(&t, count, false);
			joined(&t, json_object_get(c, "records"), true);
		}
	}
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	return t.p;
}

/* ---- answers that leave once their entry is durable ---- */

struct durable {
	vault_done_fn done;
	void *arg;
	json_t *body;
	char *text;
	char resource[64];
	char *detail;
};

static void durable_done(enum pv_rc rc, void *arg)
{
	struct durable *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK) {
		json_decref(d->body);
		if (d->text != NULL)
			vault_wipe(d->text, strlen(d->text));
		free(d->text);
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else {
		a.body = d->body;
		a.text = d->text;
		a.text_type = d->text != NULL ? "text/csv; charset=utf-8; header=present" : NULL;
	}
	vault_answer_send(&a, d->done, d->arg);
	free(d->detail);
	free(d);
}

/* Submit action's entry (detail: counts and IDs) and answer body or text
 * (both taken) from its completion. */
static void answer_audited(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, json_t *dj, json_t *body, char *text,
    vault_done_fn done, void *arg)
{
	struct durable *d = calloc(1, sizeof(*d));
	struct audit_event ev;
	struct vault_answer a;

	vault_answer_init(&a);
	if (d == NULL || dj == NULL ||
	    (d->detail = json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		json_decref(dj);
		json_decref(body);
		free(text);
		free(d);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		vault_answer_send(&a, done, arg);
		return;
	}
	json_decref(dj);
	d->done = done;
	d->arg = arg;
	d->body = body;
	d->text = text;
	util_strlcpy(d->resource, resource, sizeof(d->resource));
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = d->resource;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = d->detail;
	if (audit_submit(v->audit, &ev, NULL, NULL, COMMIT_REQUEST, durable_done, d) == PV_OK)
		return;
	json_decref(d->body);
	free(d->text);
	free(d->detail);
	free(d);
	vault_answer_fail(&a, PV_E_AUDIT, NULL);
	vault_answer_send(&a, done, arg);
}

static enum pv_rc load_incident(struct vault_ctx *v, const char *id, json_t **out)
{
	struct store_job j;
	json_t *head = NULL, *state = NULL;
	enum pv_rc rc;

	*out = NULL;
	if (id == NULL || !util_id_valid("job", id))
		return PV_E_NOTFOUND;
	memset(&j, 0, sizeof(j));
	STORE_READ(v->st, rc, store_job_get(tx, id, &j));
	if (rc == PV_OK && strcmp(j.kind, KIND_NAME) != 0)
		rc = PV_E_NOTFOUND;
	if (rc == PV_OK && (head = incident_head(&j)) == NULL)
		rc = PV_E_NOMEM;
	if (rc == PV_OK && strcmp(j.state, "done") == 0) {
		/* the aggregate is complete (identifiers resolved) only now */
		STORE_READ(v->st, rc, state_load(v, tx, id, &state));
		if (rc == PV_OK && present(state, head) == NULL)
			rc = PV_E_NOMEM;
	}
	store_job_clear(&j);
	json_decref(state);
	if (rc != PV_OK) {
		json_decref(head);
		return rc;
	}
	*out = head;
	return PV_OK;
}

void vault_incident_get(struct vault_incidents *in, const struct vault_caller *who,
    const char *id, const char *format, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = in->v;
	struct vault_answer a;
	const char *fmt = format != NULL ? format : "json";
	char res[64];
	json_t *inc = NULL, *counts;
	char *text = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	snprintf(res, sizeof(res), "incidents/%s", id != NULL && util_id_valid("job", id) ? id :
	    "unknown");
	if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0) {
		vault_fail_audited(v, who, "incident.read", res, NULL, PV_E_INVALID,
		    "format must be json or csv", &a);
		goto out;
	}
	if ((rc = load_incident(v, id, &inc)) != PV_OK) {
		vault_fail_audited(v, who, "incident.read", res, NULL, rc,
		    rc == PV_E_NOTFOUND ? "no such incident" : NULL, &a);
		goto out;
	}
	if (strcmp(fmt, "csv") == 0 && (text = to_csv(inc)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	counts = json_object_get(inc, "counts");
	answer_audited(v, who, "incident.read", res,
	    json_pack("{s:s, s:s, s:s, s:O*}", "incident", id, "format", fmt, "state",
	    json_string_value(json_object_get(inc, "state")), "counts", counts),
	    text != NULL ? NULL : inc, text, done, arg);
	if (text != NULL)
		json_decref(inc);
	return;
out:
	json_decref(inc);
	vault_answer_send(&a, done, arg);
}

struct list_ctx {
	json_t *arr;
};

static int list_cb(const struct store_job *j, void *arg)
{
	struct list_ctx *l = arg;

	if (strcmp(j->kind, KIND_NAME) == 0)
		json_array_append_new(l->arr, incident_head(j));
	return 0;
}

void vault_incident_list(struct vault_incidents *in, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct vault_answer a;
	struct list_ctx l = { json_array() };
	enum pv_rc rc = PV_E_NOMEM;

	vault_answer_init(&a);
	if (l.arr != NULL)
		STORE_READ(in->v->st, rc, store_job_list(tx, list_cb, &l));
	if (rc != PV_OK) {
		json_decref(l.arr);
		vault_answer_fail(&a, rc, NULL);
		vault_answer_send(&a, done, arg);
		return;
	}
	answer_audited(in->v, who, "incident.list", "incidents",
	    json_pack("{s:I}", "count", (json_int_t)json_array_size(l.arr)),
	    json_pack("{s:o}", "incidents", l.arr), NULL, done, arg);
}

/* ---- wiring ---- */

enum pv_rc vault_incidents_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, struct authn_service *authn)
{
	struct vault_incidents *in;
	enum pv_rc rc;

	if (v == NULL || v->incidents != NULL)
		return PV_E_INVALID;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		return PV_E_NOMEM;
	in->v = v;
	in->jobs = r;
	in->authn = authn;
	in->kind = (struct jobs_kind){ KIND_NAME, kind_step, in };
	v->incidents = in;   /* freed by vault_free */
	if (r != NULL && (rc = jobs_kind_register(r, &in->kind)) != PV_OK)
		return rc;
	if (srv != NULL && r != NULL && (rc = vault_routes_incidents(srv, in)) != PV_OK)
		return rc;
	return PV_OK;
}

void vault_incidents_free(struct vault_incidents *in)
{
	free(in);
}
