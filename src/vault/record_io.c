/*
 * vault/record_io.c: what the single-record and batch operations share: the
 * write job (envelope + blind-index entries, run by the audit writer), the
 * blind-index entries of a record or a patch, loading a record into its
 * masked view, and audited failures.
 *
 * Invariants:
 *  - A view is built only from a record whose AEAD tag verified.
 *  - phi/pii fields are masked unless the decision point's unmask
 *    obligation names them (records.unmask:<collection>.<field>) or the
 *    schema says mask none;
 *    the audit detail names the fields that left in clear.
 *  - Canonical values used for blind indexes are wiped after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

enum pv_rc vault_write_fn(struct store_tx *tx, void *arg)
{
	struct vault_write_job *j = arg;
	enum pv_rc rc = PV_OK;

	if (j->new_subject != NULL)
		rc = vault_subject_put_tx(tx, j);
	if (rc == PV_OK)
		rc = j->expected_version == 0 ? store_record_put(tx, &j->rec)
		    : store_record_update(tx, &j->rec, j->expected_version);
	/* the version compare is the UPDATE's WHERE clause, in this transaction */
	if (rc == PV_E_CONFLICT && j->if_match)
		rc = PV_E_PRECONDITION;
	for (size_t i = 0; rc == PV_OK && i < j->nbidx; i++) {
		const struct vault_bidx_entry *b = &j->bidx[i];

		if (!j->reindex_all)
			rc = store_bidx_delete(tx, j->rec.collection, j->rec.id, b->field);
		if (rc == PV_OK && b->put)
			rc = store_bidx_put_version(tx, j->rec.collection, b->field, b->mac,
			    j->rec.id, b->mac_version);
	}
	if (rc == PV_OK && j->subject_link) {
		struct store_subject s;

		/* the subject key sealed under must still exist in this
		 * transaction: a shred that committed first wins */
		memset(&s, 0, sizeof(s));
		if (j->subject_ref[0] != '\0') {
			rc = store_subject_get(tx, j->subject_ref, &s);
			if (rc == PV_E_NOTFOUND)
				rc = PV_E_SUBJECT_SHREDDED;
			store_subject_clear(&s);
		}
		if (rc == PV_OK)
			rc = store_subject_link(tx, j->rec.collection, j->rec.id, j->subject_ref);
	}
	return rc;
}

/*
 * Blind-index entries of the searchable fields among `which` (keys of the
 * created record, or of a patch) taking values from `fields` (the record as
 * it will be stored): a field absent there (removed by the patch) is
 * delete-only.
 */
enum pv_rc vault_index_entries(struct vault_ctx *v, const struct vault_collection *c,
    json_t *fields, json_t *which, struct vault_write_job *j)
{
	char *canon = malloc(VAULT_CANON_MAX);
	const char *key;
	json_t *val;
	uint32_t ver = 0;   /* the active "index:<c>" version, read once */
	enum pv_rc rc = PV_OK;

	if (canon == NULL)
		return PV_E_NOMEM;
	j->nbidx = 0;
	json_object_foreach(which, key, val) {
		const struct vault_field *f = vault_collection_field(c, key);
		struct vault_bidx_entry *b;
		json_t *now;

		(void)val;
		if (f == NULL || !f->searchable || j->nbidx == VAULT_MAX_FIELDS)
			continue;
		b = &j->bidx[j->nbidx++];
		util_strlcpy(b->field, f->name, sizeof(b->field));
		now = json_object_get(fields, f->name);
		b->put = now != NULL && !json_is_null(now);
		if (!b->put)
			continue;
		/* the stored value is canonical already: this only renders it */
		rc = vault_value_normalize(f, now, canon, VAULT_CANON_MAX, NULL, 0);
		if (rc == PV_OK)
			rc = ver == 0 ? vault_index_active_version(v, c->name, &ver) : PV_OK;
		if (rc == PV_OK)
			rc = vault_blind_index_version(v->keys, c->name, f->name, ver, canon, b->mac);
		b->mac_version = ver;
		if (rc != PV_OK)
			break;
	}
	vault_wipe(canon, VAULT_CANON_MAX);
	free(canon);
	return rc;
}

enum pv_rc vault_index_active_version(struct vault_ctx *v, const char *collection,
    uint32_t *version)
{
	char kek[sizeof("index:") + VAULT_NAME_MAX];
	struct store_kek row;
	enum pv_rc rc;
	int n = snprintf(kek, sizeof(kek), "index:%s", collection);

	if (n < 0 || (size_t)n >= sizeof(kek))
		return PV_E_INVALID;
	/* read each time (like keys_envelope_seal): a rolled-back rotation is
	 * never used */
	memset(&row, 0, sizeof(row));
	STORE_READ(v->st, rc, store_kek_latest(tx, kek, &row));
	if (rc == PV_OK)
		*version = row.version;
	store_kek_clear(&row);
	return rc;
}

void vault_write_job_clear(struct vault_write_job *j)
{
	store_record_clear(&j->rec);
	vault_wipe(j->bidx, sizeof(j->bidx));
	if (j->new_subject != NULL) {
		store_subject_clear(j->new_subject);
		free(j->new_subject);
		j->new_subject = NULL;
	}
	vault_wipe(&j->cur_se, sizeof(j->cur_se));
}

bool vault_rec_id_ok(const char *id)
{
	return util_id_valid("rec", id);
}

enum pv_rc vault_if_match_parse(const char *h, bool *any, uint32_t *version)
{
	const char *p = h, *end;
	uint64_t v = 0;

	*any = true;
	*version = 0;
	if (h == NULL)
		return PV_OK;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - p == 1 && *p == '*')
		return PV_OK;
	if (end - p > 2 && p[0] == 'W' && p[1] == '/')
		return PV_E_PRECONDITION;
	if (end - p >= 2 && *p == '"' && end[-1] == '"') {
		p++;
		end--;
	}
	if (p == end || end - p > 10 || *p == '0')
		return PV_E_INVALID;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return PV_E_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return PV_E_INVALID;
	*any = false;
	*version = (uint32_t)v;
	return PV_OK;
}

enum pv_rc vault_set_etag(struct http_request *req, uint32_t version)
{
	char tag[16];

	snprintf(tag, sizeof(tag), "\"%u\"", version);
	return http_set_header(req, "ETag", tag);
}

void vault_resource(char *buf, size_t len, const char *c, const char *id)
{
	if (id == NULL)
		snprintf(buf, len, "collections/%s/records", c);
	else
		snprintf(buf, len, "collections/%s/records/%s", c, vault_rec_id_ok(id) ? id : "(invalid)");
}

/* Answer rc (with msg) after recording it; 503 if even that fails. */
enum pv_rc vault_fail_audited(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, enum pv_rc rc,
    const char *msg, struct vault_answer *a)
{
	enum audit_outcome o = vault_rc_denied(rc) || rc == PV_E_PRECONDITION ? AUDIT_DENIED
	    : AUDIT_ERROR;
	/* reasons are the stable API codes; a record that does not decrypt is
	 * "integrity" (answered 500 internal), so detection can tell it apart */
	const char *reason = rc == PV_E_INTEGRITY ? "integrity" : http_rc_code(rc);

	if (vault_audit_refusal(v, who, action, resource, purpose, o, reason) != PV_OK)
		return vault_answer_fail(a, PV_E_AUDIT, NULL);
	return vault_answer_fail(a, rc, msg);
}

/* ------------------------------------------------------------------ */
/* masking                                                             */
/* ------------------------------------------------------------------ */

struct unmask_ctx {
	const struct vault_collection *c;
	uint64_t clear;                  /* the decision's unmask obligation */
};

static bool can_unmask(void *arg, const char *field)
{
	struct unmask_ctx *u = arg;

	for (size_t i = 0; i < u->c->nfields && i < AUTHZ_FIELDS_MAX; i++)
		if (strcmp(u->c->fields[i].name, field) == 0)
			return (u->clear & ((uint64_t)1 << i)) != 0;
	return false;
}

/* The record's attributes for the decision: the text of an internal field
 * (conditions compare only internal fields, never PHI or PII values). */
struct rec_attrs {
	const struct vault_collection *c;
	json_t *fields;
};

static const char *rec_field_text(void *arg, const char *name)
{
	struct rec_attrs *ra = arg;
	const struct vault_field *f = vault_collection_field(ra->c, name);

	if (f == NULL || f->cls != VAULT_CLASS_INTERNAL)
		return NULL;
	return json_string_value(json_object_get(ra->fields, name));
}

/*
 * The second call of the decision point, once the record is loaded: the
 * record's labels and internal fields are known (record conditions), and
 * which of its fields may leave in clear (bit i = c->fields[i]). A refusal
 * fails the read with the decision's code (a list or search skips the
 * record) and the handler records it.
 */
static enum pv_rc unmask_obligation(const struct vault_caller *who,
    const struct vault_collection *c, json_t *fields, const char *subject_ref, uint64_t *clear)
{
	const char *names[VAULT_MAX_FIELDS], *labels[16];
	json_t *lj = json_object_get(fields, VAULT_LABELS_KEY);
	struct rec_attrs ra = { c, fields };
	struct authz_request q;
	struct authz_decision d;
	size_t i, nl = 0;

	for (i = 0; i < c->nfields && i < VAULT_MAX_FIELDS; i++)
		names[i] = c->fields[i].name;
	for (nl = 0; nl < json_array_size(lj) && nl < 16; nl++)
		labels[nl] = json_string_value(json_array_get(lj, nl));
	memset(&q, 0, sizeof(q));
	q.subject = who->subject;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = c->name;
	q.resource.fields = names;
	q.resource.nfields = i;
	q.resource.loaded = true;
	q.resource.labels = labels;
	q.resource.nlabels = nl;
	q.resource.field_text = rec_field_text;
	q.resource.field_arg = &ra;
	q.resource.subject_ref = subject_ref;
	q.env.source = who->actor->source;
	q.env.purpose = who->purpose;
	q.env.time_ms = util_now_ms();
	if (authz_decide(&q, &d) != PV_OK)
		/* a step-up here answers the challenge without max_age (the
		 * answer carries none from this depth; an MFA-age condition is
		 * decided at the route, where it does) */
		return vault_rc_denied(d.rc) ? d.rc : PV_E_FORBIDDEN;
	*clear = d.unmask;
	return PV_OK;
}

/*
 * The audit detail of a read: {"fields":[the record's field names, in its
 * order], "unmasked":[those that leave in clear]}, as a tree (the writer
 * stores its text, audit_prepare). A name in both arrays is one shared
 * string.
 */
static enum pv_rc read_detail(const struct vault_collection *c, json_t *fields,
    struct unmask_ctx *u, json_t **out)
{
	json_t *d = json_object(), *names = json_array(), *clear = json_array();
	const char *key;
	json_t *val;
	enum pv_rc rc = PV_E_NOMEM;

	if (d == NULL || names == NULL || clear == NULL ||
	    json_object_set(d, "fields", names) != 0 ||
	    json_object_set(d, "unmasked", clear) != 0)
		goto out;
	json_object_foreach(fields, key, val) {
		const struct vault_field *f = vault_collection_field(c, key);
		json_t *name = json_string(key);

		(void)val;
		if (name == NULL || json_array_append_new(names, name) != 0)
			goto out;
		if (f != NULL && f->cls != VAULT_CLASS_INTERNAL &&
		    (f->mask == VAULT_MASK_NONE || can_unmask(u, f->name)) &&
		    json_array_append(clear, name) != 0)
			goto out;
	}
	*out = d;
	d = NULL;
	rc = PV_OK;
out:
	json_decref(d);
	json_decref(names);
	json_decref(clear);
	return rc;
}

/*
 * The masked response object {"id","version","fields"[,"labels"]} of an
 * opened record, and the audit detail naming its fields and those that left
 * in clear. fields (the opened record, ours alone) becomes the view's
 * "fields" itself, masked in place: no second tree of the record.
 */
static enum pv_rc record_view(const struct vault_caller *who, const struct vault_collection *c,
    const struct store_record *r, json_t *fields, const char *subject_ref, json_t **view_out,
    json_t **detail_out)
{
	struct unmask_ctx u = { c, 0 };
	json_t *obj = NULL, *labels = NULL, *detail = NULL;
	enum pv_rc rc;

	if ((rc = unmask_obligation(who, c, fields, subject_ref, &u.clear)) != PV_OK)
		goto out;
	labels = json_incref(json_object_get(fields, VAULT_LABELS_KEY));
	(void)json_object_del(fields, VAULT_LABELS_KEY);   /* not a field: beside them */
	/* the names first: masking does not change them */
	if ((rc = read_detail(c, fields, &u, &detail)) != PV_OK ||
	    (rc = vault_record_mask(c, fields, can_unmask, &u)) != PV_OK)
		goto out;
	rc = PV_E_NOMEM;
	if ((obj = json_object()) == NULL ||
	    json_object_set_new(obj, "id", json_string(r->id)) != 0 ||
	    json_object_set_new(obj, "version", json_integer((json_int_t)r->version)) != 0 ||
	    json_object_set(obj, "fields", fields) != 0 ||
	    (json_is_array(labels) && json_object_set(obj, "labels", labels) != 0))
		goto out;
	*view_out = obj;
	*detail_out = detail;
	obj = NULL;
	detail = NULL;
	rc = PV_OK;
out:
	json_decref(obj);
	json_decref(detail);
	json_decref(labels);
	return rc;
}

/* Load and open one record into its masked view (no audit here). */
enum pv_rc vault_record_load_view(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, const char *id, json_t **view, json_t **detail)
{
	return vault_record_load_view_ref(v, who, c, id, view, detail, NULL);
}

void vault_record_subject_ref(struct vault_ctx *v, const char *collection, const char *id,
    char ref[STORE_SUBJECT_REF_LEN + 1])
{
	struct store_record r;
	struct vault_subject_env se;
	const struct vault_collection *c;
	bool has_subject = false;
	enum pv_rc rc;

	ref[0] = '\0';
	if (!vault_rec_id_ok(id) || vault_coll_get(v, collection, &c) != PV_OK)
		return;
	for (size_t i = 0; i < c->nfields; i++)
		has_subject = has_subject || c->fields[i].subject;
	if (!has_subject)
		return;   /* no record of it names a subject: no read */
	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	STORE_READ(v->st, rc, vault_record_fetch(tx, collection, id, &r, &se));
	if (rc == PV_OK && se.linked)
		util_strlcpy(ref, se.ref, STORE_SUBJECT_REF_LEN + 1);
	vault_wipe(&se, sizeof(se));
	store_record_clear(&r);
}

enum pv_rc vault_record_load_view_ref(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, const char *id, json_t **view, json_t **detail,
    char ref[STORE_SUBJECT_REF_LEN + 1])
{
	struct store_record r;
	struct vault_subject_env se;
	char sref[STORE_SUBJECT_REF_LEN + 1];
	bool linked = false;
	json_t *fields = NULL;
	enum pv_rc rc;

	if (!vault_rec_id_ok(id))
		return PV_E_NOTFOUND;
	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	if (ref != NULL)
		ref[0] = '\0';
	STORE_READ(v->st, rc, vault_record_fetch(tx, c->name, id, &r, &se));
	if (rc == PV_OK && se.linked) {
		/* the subject's keyed reference (not a secret): the decision's
		 * resource attribute for a break-glass grant */
		memcpy(sref, se.ref, sizeof(sref));
		sref[STORE_SUBJECT_REF_LEN] = '\0';
		linked = true;
	}
	if (rc == PV_OK)
		rc = vault_record_open_env(v->keys, &r, &se, &fields);
	if (rc == PV_OK && ref != NULL && se.linked)
		util_strlcpy(ref, se.ref, STORE_SUBJECT_REF_LEN + 1);
	vault_wipe(&se, sizeof(se));
	if (rc == PV_E_INTEGRITY)
		log_error("vault: record %s does not open (integrity)", id);
	if (rc == PV_OK) {
		vault_key_used(v, who, r.kek_name, r.kek_version);
		rc = record_view(who, c, &r, fields, linked ? sref : NULL, view, detail);
	}
	json_decref(fields);
	store_record_clear(&r);
	return rc;
}

