/*
 * vault/ops_records.c: the record operations (vault.h "operations"):
 * vault_record_create, _read, _update, _shred, _list and _search, apart
 * from HTTP (routes.c adapts them to API.md "PHI records").
 *
 *   create  records.write:{c}  record.create
 *   read    records.read:{c}   record.read    purpose
 *   search  records.read:{c}   record.search  purpose
 *   list    records.read:{c}   record.list    purpose
 *   update  records.write:{c}  record.update
 *   shred   records.write:{c}  record.delete
 *
 * The route hook decided the permission; a read, search and list ask the
 * decision point again here (vault_decide: purpose of use, restricted
 * session) and once more after the collection is loaded, for the unmask
 * set (vault_record_load_view).
 *
 * Writes: validate and seal in the caller's thread (fresh DEK per version,
 * AAD naming collection, record ID and version), then one audit_submit
 * transaction stores the envelope and the blind-index entries together with
 * the audit entry: both durable, or neither. Create, update and shred answer
 * from its completion (the committer thread), so no thread waits for the
 * fsync; the If-Match compare of an update is the UPDATE's, inside that
 * transaction.
 *
 * Reads (fail closed): load, open (tag verified before any plaintext is
 * used), build the masked view in the caller's memory, THEN make the audit
 * entry durable; only if that succeeds is the view answered. Otherwise the
 * view is dropped (the jansson allocator wipes it) and the answer is
 * PV_E_AUDIT with no data.
 *
 * Masking: phi/pii fields are masked unless the caller holds
 * records.unmask:<c>.<field>; the entry lists which fields left in clear.
 * Every entry carries field names and record IDs only, never a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

/* The allowed entry of a record operation by who: action on resource for
 * purpose, with detail (JSON text or NULL), for a write or a read that
 * concerns subjects (refs[0..n), "" entries skipped): indexed for the
 * accounting of disclosures; a read also records the caller's recipient. */
static void
subject_event(struct audit_event *ev, const struct vault_caller *who, const char *action,
    const char *resource, const char *purpose, const char *detail, const char **refs,
    size_t n, bool read)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (refs[i] != NULL && refs[i][0] != '\0')
			refs[k++] = refs[i];
	vault_event_phi(ev, who, refs, k);
	if (!read)
		ev->recipient = NULL;
	ev->action = action;
	ev->resource = resource;
	ev->purpose_of_use = purpose;
	ev->outcome = AUDIT_ALLOWED;
	ev->detail = detail;
}

/* ------------------------------------------------------------------ */
/* operations                                                          */
/* ------------------------------------------------------------------ */

/*
 * Writes and single reads answer from the commit completion (committer
 * thread): the caller's connection waits for the group's fsync, not a
 * thread. Nothing is answered before the completion says durable.
 */
struct create_done {
	vault_done_fn done;
	void *arg;
	struct vault_write_job *j;
	char id[UTIL_ID_MAX];
};

static void create_done(enum pv_rc rc, void *arg)
{
	struct create_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc == PV_OK && (a.body = json_pack("{s:s, s:i}", "id", d->id, "version", 1)) == NULL)
		rc = PV_E_NOMEM;
	a.rc = rc;
	a.version = rc == PV_OK ? 1 : 0;
	vault_write_job_clear(d->j);
	free(d->j);
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_record_create(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, json_t *fields, vault_done_fn done, void *arg)
{
	const char *cname = collection, *purpose = vault_purpose_optional(who);
	const struct vault_collection *c;
	struct vault_write_job *j = NULL;
	struct vault_answer a;
	struct audit_event ev;
	char err[VAULT_ERR_MAX] = "", resource[VAULT_RESOURCE_MAX], id[UTIL_ID_MAX];
	json_t *norm = NULL, *labels = NULL, *detail = NULL;
	struct create_done *d = NULL;
	const char *refs[1];
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, NULL);
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.create", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	if ((rc = vault_labels_take(c, fields, &labels, err, sizeof(err))) == PV_OK)
		rc = vault_record_validate(c, fields, false, &norm, err, sizeof(err));
	if (rc == PV_OK && json_is_array(labels))
		rc = vault_labels_put(norm, labels);
	json_decref(labels);
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "record.create", resource, purpose, rc, err, &a);
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = util_id_new("rec", id)) != PV_OK ||
	    (rc = vault_record_seal_job(v, c, id, 1, norm, j)) != PV_OK ||
	    (rc = vault_index_entries(v, c, norm, norm, j)) != PV_OK)
		goto out;
	j->rec.created_ms = j->rec.updated_ms = util_now_ms();
	j->reindex_all = true;
	if ((detail = vault_detail_fields_tree(norm, NULL)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	vault_resource(resource, sizeof(resource), cname, id);
	/* refs lives to the audit_submit below, which copies them */
	refs[0] = j->subject_ref;
	subject_event(&ev, who, "record.create", resource, purpose, NULL, refs, 1, false);
	ev.detail_obj = detail;   /* borrowed by audit_submit, which stores its text */
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	d->done = done;
	d->arg = arg;
	d->j = j;
	util_strlcpy(d->id, id, sizeof(d->id));
	rc = audit_submit(v->audit, &ev, vault_write_fn, j, COMMIT_REQUEST, create_done, d);
	if (rc == PV_OK) {
		/* the completion owns j and d, and may already have run: arg is not ours */
		json_decref(detail);
		json_decref(norm);
		return;
	}
	free(d);
out:
	if (j != NULL)
		vault_write_job_clear(j);
	free(j);
	json_decref(detail);
	json_decref(norm);
	if (a.rc == PV_OK)
		a.rc = rc;
	vault_answer_send(&a, done, arg);
}

struct read_done {
	vault_done_fn done;
	void *arg;
	json_t *view;
};

static void read_done(enum pv_rc rc, void *arg)
{
	struct read_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	/* fail closed: nothing leaves unless the entry is durable */
	if (rc != PV_OK) {
		json_decref(d->view);   /* wiped on free */
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else {
		a.version = (uint32_t)json_integer_value(json_object_get(d->view, "version"));
		a.body = d->view;
	}
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_record_read(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, vault_done_fn done, void *arg)
{
	const char *cname = collection, *purpose = NULL;
	const struct vault_collection *c;
	char resource[VAULT_RESOURCE_MAX];
	json_t *view = NULL, *detail = NULL;
	struct read_done *d;
	struct vault_answer a;
	struct audit_event ev;
	char ref[STORE_SUBJECT_REF_LEN + 1] = "";
	const char *refs[1] = { ref };
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, id);
	if ((rc = vault_decide(v, who, "record.read", resource, "records.read", cname, &purpose,
	    &a)) != PV_OK)
		goto out;
	if ((rc = vault_coll_get(v, cname, &c)) == PV_OK)
		rc = vault_record_load_view_ref(v, who, c, id, &view, &detail, ref);
	if (rc != PV_OK) {
		vault_fail_audited(v, who, "record.read", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such record" : NULL, &a);
		goto out;
	}
	/* fail closed: the view is answered by read_done only once the entry is durable */
	if ((d = malloc(sizeof(*d))) == NULL) {
		json_decref(detail);
		json_decref(view);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	d->done = done;
	d->arg = arg;
	d->view = view;
	subject_event(&ev, who, "record.read", resource, purpose, NULL, refs, 1, true);
	ev.detail_obj = detail;   /* its text is written once, by audit_prepare */
	rc = audit_submit(v->audit, &ev, NULL, NULL, COMMIT_REQUEST, read_done, d);
	json_decref(detail);
	if (rc == PV_OK)
		return;   /* read_done owns d and the view */
	free(d);
	json_decref(view);
	vault_answer_fail(&a, PV_E_AUDIT, NULL);
out:
	vault_answer_send(&a, done, arg);
}

struct id_list {
	char (*ids)[UTIL_ID_MAX];
	size_t n;
};

static int id_cb(const char *record_id, void *arg)
{
	struct id_list *l = arg;

	if (l->n < VAULT_SEARCH_MAX && strlen(record_id) < UTIL_ID_MAX)
		util_strlcpy(l->ids[l->n++], record_id, UTIL_ID_MAX);
	return l->n >= VAULT_SEARCH_MAX;
}

/* id_cb for the second and later MAC versions of a search: an ID found
 * under two versions (a PATCH racing the re-index) is listed once. */
static int id_cb_unique(const char *record_id, void *arg)
{
	struct id_list *l = arg;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->ids[i], record_id) == 0)
			return 0;
	return id_cb(record_id, arg);
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

#define SEARCH_MAC_VERSIONS_MAX 16

/*
 * The IDs whose entry for (c, f) is the blind index of canon under any live
 * version of KEK "index:<c>" (active first; normally one): the same records
 * before, during and after a re-index. In ID order.
 */
static enum pv_rc search_ids(struct vault_ctx *v, const struct vault_collection *c,
    const struct vault_field *f, const char *canon, struct id_list *ids)
{
	char kek[sizeof("index:") + VAULT_NAME_MAX];
	uint32_t vers[SEARCH_MAC_VERSIONS_MAX];
	uint8_t mac[VAULT_BLIND_LEN];
	size_t nv = 0, looked = 0;
	enum pv_rc rc;

	snprintf(kek, sizeof(kek), "index:%s", c->name);
	if ((rc = keys_mac_versions(v->keys, kek, vers, SEARCH_MAC_VERSIONS_MAX, &nv)) != PV_OK)
		return rc;
	for (size_t i = 0; i < nv; i++) {
		rc = vault_blind_index_version(v->keys, c->name, f->name, vers[i], canon, mac);
		if (rc == PV_E_FORBIDDEN) {
			rc = PV_OK;
			continue;   /* revoked since the list was read */
		}
		if (rc != PV_OK)
			break;
		STORE_READ(v->st, rc, store_bidx_lookup(tx, c->name, f->name, mac, VAULT_SEARCH_MAX,
		    looked == 0 ? id_cb : id_cb_unique, ids));
		if (rc != PV_OK)
			break;
		looked++;
	}
	vault_wipe(mac, sizeof(mac));
	if (rc == PV_OK && looked == 0)
		rc = PV_E_FORBIDDEN;   /* every version revoked: the index is shredded */
	if (rc == PV_OK && looked > 1)
		qsort(ids->ids, ids->n, UTIL_ID_MAX, id_cmp);
	return rc;
}

/* ---- listing: keyset pagination in ID order ---- */

/* The cursor is base64url (RFC 4648 section 5, no padding) of the last
 * record ID of the previous page: opaque to clients, checked on the way in. */
static void cursor_encode(const char *id, char *out, size_t cap)
{
	char b64[2 * UTIL_ID_MAX];
	size_t len = strlen(id), o = 0;

	if (util_b64_len(len) + 1 > sizeof(b64)) {
		out[0] = '\0';
		return;
	}
	util_b64_encode((const uint8_t *)id, len, b64);
	for (size_t i = 0; b64[i] != '\0' && b64[i] != '=' && o + 1 < cap; i++)
		out[o++] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	out[o] = '\0';
}

/* PV_E_INVALID unless cursor is the canonical encoding of a record ID. */
static enum pv_rc cursor_decode(const char *cursor, char id[UTIL_ID_MAX])
{
	char b64[2 * UTIL_ID_MAX + 4], again[2 * UTIL_ID_MAX];
	uint8_t raw[2 * UTIL_ID_MAX];
	size_t len = strlen(cursor), n = 0;

	if (len == 0 || len > 2 * UTIL_ID_MAX - 4 || len % 4 == 1)
		return PV_E_INVALID;
	for (size_t i = 0; i < len; i++) {
		char c = cursor[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return PV_E_INVALID;
		b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (len % 4 != 0)
		b64[len++] = '=';
	b64[len] = '\0';
	n = sizeof(raw) - 1;
	if (util_b64_decode(b64, raw, &n) != 0 || n >= UTIL_ID_MAX)
		return PV_E_INVALID;
	raw[n] = '\0';
	if (memchr(raw, '\0', n) != NULL || !vault_rec_id_ok((const char *)raw))
		return PV_E_INVALID;
	cursor_encode((const char *)raw, again, sizeof(again));
	if (strcmp(again, cursor) != 0)
		return PV_E_INVALID;   /* one spelling per cursor */
	memcpy(id, raw, n + 1);
	return PV_OK;
}

/* limit: 1..VAULT_LIST_MAX, decimal, default VAULT_LIST_DEFAULT. */
static enum pv_rc limit_parse(const char *s, size_t *out)
{
	size_t v = 0;

	if (s == NULL) {
		*out = VAULT_LIST_DEFAULT;
		return PV_OK;
	}
	if (*s == '\0' || *s == '0' || strlen(s) > 3)
		return PV_E_INVALID;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return PV_E_INVALID;
		v = v * 10 + (size_t)(*s - '0');
	}
	if (v > VAULT_LIST_MAX)
		return PV_E_INVALID;
	*out = v;
	return PV_OK;
}

static int scan_cb(const char *record_id, void *arg)
{
	struct id_list *l = arg;

	if (l->n <= VAULT_LIST_MAX && strlen(record_id) < UTIL_ID_MAX)
		util_strlcpy(l->ids[l->n++], record_id, UTIL_ID_MAX);
	return l->n > VAULT_LIST_MAX;
}

/* One page of records in ID order, masked as for a read; one record.list
 * entry naming them. */
void vault_record_list(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *limit_text, const char *cursor, vault_done_fn done,
    void *arg)
{
	const char *cname = collection, *purpose = NULL, *cur = cursor;
	const struct vault_collection *c;
	struct vault_answer a;
	struct id_list ids = { NULL, 0 };
	char resource[VAULT_RESOURCE_MAX], after[UTIL_ID_MAX] = "";
	char next[2 * UTIL_ID_MAX];
	json_t *records = NULL, *found = NULL, *names = NULL, *page = NULL;
	char *detail = NULL;
	size_t limit = 0, shown;
	bool sent = false;
	struct vault_refs refs = { NULL, NULL, 0, 0 };
	char ref[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, NULL);
	if ((rc = vault_decide(v, who, "record.list", resource, "records.read", cname, &purpose,
	    &a)) != PV_OK)
		goto out;
	if (limit_parse(limit_text, &limit) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.list", resource, purpose, PV_E_INVALID,
		    "limit must be an integer from 1 to 500", &a);
		goto out;
	}
	if (cur != NULL && cursor_decode(cur, after) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.list", resource, purpose, PV_E_INVALID,
		    "cursor is not one this server returned", &a);
		goto out;
	}
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.list", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	ids.ids = calloc(VAULT_LIST_MAX + 1, UTIL_ID_MAX);
	records = json_array();
	found = json_array();
	names = json_object();
	if (ids.ids == NULL || records == NULL || found == NULL || names == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* one more than the page: is there a next one? */
	STORE_READ(v->st, rc, store_record_scan(tx, c->name, after, limit + 1, scan_cb, &ids));
	if (rc != PV_OK)
		goto out;
	shown = ids.n < limit ? ids.n : limit;
	for (size_t i = 0; i < shown; i++) {
		json_t *view = NULL, *d = NULL, *name;
		size_t k;

		rc = vault_record_load_view_ref(v, who, c, ids.ids[i], &view, &d, ref);
		if (rc == PV_E_NOTFOUND || vault_rc_denied(rc))
			continue;   /* shredded meanwhile, or refused by a record condition */
		if (rc == PV_OK)
			rc = vault_refs_add(&refs, ref);
		if (rc != PV_OK) {
			json_decref(view);
			json_decref(d);
			goto out;
		}
		json_array_foreach(json_object_get(d, "fields"), k, name)
			json_object_set(names, json_string_value(name), json_true());
		json_decref(d);
		if (json_array_append_new(records, view) != 0 ||
		    json_array_append_new(found, json_string(ids.ids[i])) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	rc = PV_OK;
	if (ids.n > limit)
		cursor_encode(ids.ids[limit - 1], next, sizeof(next));
	detail = vault_detail_fields(names, json_pack("{s:O, s:I, s:I, s:b}", "records", found,
	    "count", (json_int_t)json_array_size(found), "limit", (json_int_t)limit,
	    "cursor", cur != NULL));
	page = json_pack("{s:O, s:o}", "records", records, "next_cursor",
	    ids.n > limit ? json_string(next) : json_null());
	if (detail == NULL || page == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* fail closed: the page is answered from the completion, once the
	 * entry is durable; no thread waits for the fsync */
	vault_answer_durable_phi(v, who, "record.list", resource, purpose, detail, refs.ptr,
	    refs.n, page, 0, done, arg);
	page = NULL;
	sent = true;
out:
	vault_refs_free(&refs);
	free(ids.ids);
	free(detail);
	json_decref(page);
	json_decref(records);
	json_decref(found);
	json_decref(names);
	if (sent)
		return;
	vault_answer_finish(&a, rc, done, arg);
}

void vault_record_search(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const struct vault_match *m, size_t n, vault_done_fn done,
    void *arg)
{
	const char *cname = collection, *purpose = NULL;
	const struct vault_collection *c;
	const struct vault_field *f;
	struct vault_match q = { NULL, NULL };
	struct vault_answer a;
	struct id_list ids = { NULL, 0 };
	char resource[VAULT_RESOURCE_MAX], err[VAULT_ERR_MAX] = "";
	json_t *records = NULL, *found = NULL, *names = NULL, *body = NULL;
	char *canon = NULL, *detail = NULL;
	bool sent = false;
	struct vault_refs refs = { NULL, NULL, 0, 0 };
	char ref[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, NULL);
	if ((rc = vault_decide(v, who, "record.search", resource, "records.read", cname, &purpose,
	    &a)) != PV_OK)
		goto out;
	if (n != 1) {
		rc = vault_fail_audited(v, who, "record.search", resource, purpose, PV_E_INVALID,
		    "search takes exactly one searchable field as a query parameter", &a);
		goto out;
	}
	q = m[0];
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.search", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	f = vault_collection_field(c, q.field);
	if (f == NULL) {
		snprintf(err, sizeof(err), "unknown field '%s'", vault_safe_key(q.field));
		rc = vault_fail_audited(v, who, "record.search", resource, purpose, PV_E_INVALID, err,
		    &a);
		goto out;
	}
	if (!f->searchable) {
		snprintf(err, sizeof(err), "field '%s' is not searchable", f->name);
		rc = vault_fail_audited(v, who, "record.search", resource, purpose, PV_E_INVALID, err,
		    &a);
		goto out;
	}
	canon = malloc(VAULT_CANON_MAX);
	ids.ids = calloc(VAULT_SEARCH_MAX, UTIL_ID_MAX);
	records = json_array();
	found = json_array();
	names = json_object();
	if (canon == NULL || ids.ids == NULL || records == NULL || found == NULL || names == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = vault_value_normalize_text(f, q.value, canon, VAULT_CANON_MAX, err, sizeof(err));
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "record.search", resource, purpose, rc, err, &a);
		goto out;
	}
	if ((rc = search_ids(v, c, f, canon, &ids)) != PV_OK)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		json_t *view = NULL, *d = NULL, *name;
		size_t k;

		rc = vault_record_load_view_ref(v, who, c, ids.ids[i], &view, &d, ref);
		if (rc == PV_E_NOTFOUND || vault_rc_denied(rc))
			continue;   /* shredded meanwhile, or refused by a record condition */
		if (rc == PV_OK)
			rc = vault_refs_add(&refs, ref);
		if (rc != PV_OK) {
			json_decref(view);
			json_decref(d);
			goto out;
		}
		/* union of the field names touched, for the one search entry */
		json_array_foreach(json_object_get(d, "fields"), k, name)
			json_object_set(names, json_string_value(name), json_true());
		json_decref(d);
		if (json_array_append_new(records, view) != 0 ||
		    json_array_append_new(found, json_string(ids.ids[i])) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	detail = vault_detail_fields(names, json_pack("{s:s, s:O, s:I}", "query_field", f->name,
	    "records", found, "count", (json_int_t)json_array_size(found)));
	if (detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((body = json_pack("{s:O}", "records", records)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* fail closed: answered from the completion once the entry is durable */
	vault_answer_durable_phi(v, who, "record.search", resource, purpose, detail, refs.ptr,
	    refs.n, body, 0, done, arg);
	sent = true;
out:
	vault_refs_free(&refs);
	if (canon != NULL) {
		vault_wipe(canon, VAULT_CANON_MAX);
		free(canon);
	}
	free(ids.ids);
	free(detail);
	json_decref(records);
	json_decref(found);
	json_decref(names);
	if (sent)
		return;
	vault_answer_finish(&a, rc, done, arg);
}

struct patch_done {
	vault_done_fn done;
	void *arg;
	struct vault_write_job *j;
	uint32_t version;              /* the new version */
	char id[UTIL_ID_MAX];
};

/* The write's rc as audit_commit would return it; answers on the committer thread. */
static void patch_done(enum pv_rc rc, void *arg)
{
	struct patch_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc == PV_E_CONFLICT)
		vault_answer_fail(&a, rc, "the record changed meanwhile; read it and retry");
	else if (rc == PV_E_PRECONDITION)
		vault_answer_fail(&a, rc, "the record is not at the version named by If-Match");
	else if (rc == PV_E_NOTFOUND)
		vault_answer_fail(&a, rc, "no such record");
	else if (rc != PV_OK)
		vault_answer_fail(&a, rc, NULL);
	else if ((a.body = json_pack("{s:s, s:I}", "id", d->id, "version",
	    (json_int_t)d->version)) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
	else
		a.version = d->version;
	vault_write_job_clear(d->j);
	free(d->j);
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_record_update(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, const char *if_match, json_t *changes,
    vault_done_fn done, void *arg)
{
	const char *cname = collection;
	const char *purpose = vault_purpose_optional(who);
	const struct vault_collection *c;
	struct vault_answer a;
	struct store_record cur;
	struct vault_subject_env cur_se;
	struct vault_write_job *j = NULL;
	struct audit_event ev;
	char err[VAULT_ERR_MAX] = "", resource[VAULT_RESOURCE_MAX];
	json_t *patch = NULL, *old = NULL, *merged = NULL, *labels = NULL;
	char *detail = NULL;
	uint32_t want = 0;
	bool any = true;
	struct patch_done *d = NULL;
	char old_ref[STORE_SUBJECT_REF_LEN + 1] = "";
	const char *refs[2];
	enum pv_rc rc;

	memset(&cur, 0, sizeof(cur));
	memset(&cur_se, 0, sizeof(cur_se));
	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, id);
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, "record.update", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	rc = vault_if_match_parse(if_match, &any, &want);
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "record.update", resource, purpose, rc,
		    rc == PV_E_INVALID ? "If-Match must be one version: 3, \"3\" or *"
		    : "a weak entity tag never matches If-Match", &a);
		goto out;
	}
	if ((rc = vault_labels_take(c, changes, &labels, err, sizeof(err))) == PV_OK)
		rc = vault_record_validate(c, changes, true, &patch, err, sizeof(err));
	if (rc == PV_OK)
		rc = vault_labels_put(patch, labels);
	json_decref(labels);
	if (rc == PV_OK && json_object_size(patch) == 0) {
		rc = PV_E_INVALID;
		util_strlcpy(err, "a PATCH must name at least one field", sizeof(err));
	}
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "record.update", resource, purpose, rc, err, &a);
		goto out;
	}
	rc = PV_E_NOTFOUND;
	if (vault_rec_id_ok(id))
		STORE_READ(v->st, rc, vault_record_fetch(tx, c->name, id, &cur, &cur_se));
	if (rc == PV_OK)
		rc = vault_record_open_env(v->keys, &cur, &cur_se, &old);
	if (rc == PV_OK && cur_se.linked)
		util_strlcpy(old_ref, cur_se.ref, sizeof(old_ref));
	vault_wipe(&cur_se, sizeof(cur_se));
	if (rc == PV_OK)
		rc = vault_record_merge(old, patch, &merged);
	if (rc == PV_OK && cur.version == UINT32_MAX)
		rc = PV_E_CONFLICT;
	/* early answer only; the compare that counts is the store's, in the
	 * write transaction (expected_version below) */
	if (rc == PV_OK && !any && cur.version != want)
		rc = PV_E_PRECONDITION;
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "record.update", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such record" : rc == PV_E_PRECONDITION ?
		    "the record is not at the version named by If-Match" : NULL, &a);
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* a new version under a fresh DEK, its AAD naming the new version */
	if ((rc = vault_record_seal_job(v, c, cur.id, cur.version + 1, merged, j)) != PV_OK ||
	    (rc = vault_index_entries(v, c, merged, patch, j)) != PV_OK)
		goto out;
	j->rec.created_ms = cur.created_ms;
	j->rec.updated_ms = util_now_ms();
	j->expected_version = cur.version;
	j->if_match = !any;
	if ((detail = vault_detail_fields(patch, json_pack("{s:I}", "version",
	    (json_int_t)cur.version + 1))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	refs[0] = old_ref;
	refs[1] = j->subject_ref;
	subject_event(&ev, who, "record.update", resource, purpose, detail, refs, 2, false);
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	d->done = done;
	d->arg = arg;
	d->j = j;
	d->version = cur.version + 1;
	util_strlcpy(d->id, cur.id, sizeof(d->id));
	/* the If-Match compare that counts runs in the group's transaction
	 * (vault_write_fn); patch_done answers once the group is durable */
	rc = audit_submit(v->audit, &ev, vault_write_fn, j, COMMIT_REQUEST, patch_done, d);
	if (rc == PV_OK) {
		/* the completion owns j and d, and may already have run: arg is not ours */
		j = NULL;
		rc = PV_PENDING;
		goto out;
	}
	free(d);
out:
	if (j != NULL)
		vault_write_job_clear(j);
	free(j);
	free(detail);
	store_record_clear(&cur);
	json_decref(patch);
	json_decref(old);
	json_decref(merged);
	if (rc == PV_PENDING)
		return;
	vault_answer_finish(&a, rc, done, arg);
}

struct shred_job {
	vault_done_fn done;
	void *arg;
	char *collection;
	char id[UTIL_ID_MAX];
	int64_t now;
	char ref[STORE_SUBJECT_REF_LEN + 1];   /* the record's subject, for the index */
};

static enum pv_rc shred_fn(struct store_tx *tx, void *arg)
{
	struct shred_job *j = arg;

	return store_record_shred(tx, j->collection, j->id, j->now);
}

static void shred_done(enum pv_rc rc, void *arg)
{
	struct shred_job *j = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	vault_answer_fail(&a, rc, rc == PV_E_NOTFOUND ? "no such record" : NULL);
	free(j->collection);
	vault_answer_send(&a, j->done, j->arg);
	free(j);
}

void vault_record_shred(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, const char *id, vault_done_fn done, void *arg)
{
	const char *cname = collection;
	struct shred_job *j;
	struct vault_answer a;
	struct audit_event ev;
	char resource[VAULT_RESOURCE_MAX];
	const char *refs[1];
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, id);
	if (!vault_rec_id_ok(id) || strlen(id) >= UTIL_ID_MAX) {
		vault_fail_audited(v, who, "record.delete", resource, vault_purpose_optional(who),
		    PV_E_NOTFOUND, "no such record", &a);
		goto out;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL || (j->collection = strdup(cname)) == NULL) {
		free(j);
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	j->done = done;
	j->arg = arg;
	util_strlcpy(j->id, id, sizeof(j->id));
	j->now = util_now_ms();
	vault_record_subject_ref(v, cname, id, j->ref);
	refs[0] = j->ref;
	subject_event(&ev, who, "record.delete", resource, vault_purpose_optional(who),
	    "{\"shredded\":true}", refs, 1, false);
	/* the DEK and ciphertext are dropped and the index entries deleted in
	 * the entry's transaction; NOTFOUND is recorded as an error entry.
	 * shred_done answers once the group is durable. */
	rc = audit_submit(v->audit, &ev, shred_fn, j, COMMIT_REQUEST, shred_done, j);
	if (rc == PV_OK)
		return;   /* shred_done owns j */
	free(j->collection);
	free(j);
	vault_answer_fail(&a, rc, NULL);
out:
	vault_answer_send(&a, done, arg);
}
