/*
 * vault/ops_batch.c: vault_record_batch, many creates or many reads of one
 * collection in one call (routes.c adapts it to
 * POST /v1/collections/{c}/records:batch).
 *
 *   create: [{...fields}, ...]   needs records.write:<c>
 *   read:   ["rec_...", ...]     needs records.read:<c> and a purpose of use
 *   -> {"results": [ per item, in order ]}
 *      create item: {"status":201,"id","version":1} | {"status":4xx/5xx,"error":{...}}
 *      read item:   {"status":200,"id","version","fields"} | {"status":..,"error":{...}}
 *
 * At most VAULT_BATCH_MAX (100) items. One audit entry per record (create:
 * in the same job as the record's write; read: the entry must be durable
 * before that record's data is put in the answer, else the item is 503
 * audit_unavailable and its data is dropped). The entries are submitted
 * several at a time (vault_commit_many) so they share group commits.
 *
 * The route's permission is "authenticated" because the verb depends on the
 * body; the operation asks the decision point (vault_decide: records.write or
 * records.read on the collection, and a read's purpose of use), which
 * refuses restricted sessions and audits its denials.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

struct item {
	struct vault_job job;
	struct vault_write_job *w;    /* create: the write; NULL otherwise */
	char resource[VAULT_RESOURCE_MAX];
	char id[UTIL_ID_MAX];
	char *detail;
	json_t *view;                 /* read: the masked record */
	enum pv_rc pre;               /* failure before the commit (PV_OK if none) */
	char err[VAULT_ERR_MAX];
};

static json_t *item_error(enum pv_rc rc, const char *msg)
{
	return json_pack("{s:i, s:{s:s, s:s}}", "status", http_rc_status(rc), "error",
	    "code", http_rc_code(rc), "message", msg != NULL && msg[0] != '\0' ? msg
	    : pv_rc_name(rc));
}

static void prepare_create(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, json_t *fields, const char *purpose, struct item *it)
{
	json_t *norm = NULL;
	enum pv_rc rc;

	vault_resource(it->resource, sizeof(it->resource), c->name, NULL);
	it->job.ev.actor = *who->actor;
	it->job.ev.action = "record.create";
	it->job.ev.resource = it->resource;
	it->job.ev.purpose_of_use = purpose;
	rc = vault_record_validate(c, fields, false, &norm, it->err, sizeof(it->err));
	if (rc != PV_OK)
		goto fail;
	it->w = calloc(1, sizeof(*it->w));
	if (it->w == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	if ((rc = util_id_new("rec", it->id)) != PV_OK ||
	    (rc = vault_record_seal(v->keys, c->name, it->id, 1, norm, &it->w->rec)) != PV_OK ||
	    (rc = vault_index_entries(v, c, norm, norm, it->w)) != PV_OK)
		goto fail;
	it->w->rec.created_ms = it->w->rec.updated_ms = util_now_ms();
	it->w->reindex_all = true;
	if ((it->detail = vault_detail_fields(norm, NULL)) == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	vault_resource(it->resource, sizeof(it->resource), c->name, it->id);
	it->job.ev.outcome = AUDIT_ALLOWED;
	it->job.ev.detail = it->detail;
	it->job.fn = vault_write_fn;
	it->job.arg = it->w;
	json_decref(norm);
	return;
fail:
	/* still one entry for this item, as an error without data */
	json_decref(norm);
	it->pre = rc;
	it->job.ev.outcome = AUDIT_ERROR;
	it->job.ev.reason = http_rc_code(rc);
	it->job.ev.detail = NULL;
	it->job.fn = NULL;
}

static void prepare_read(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_collection *c, json_t *idv, const char *purpose, struct item *it)
{
	const char *id = json_string_value(idv);
	enum pv_rc rc;

	vault_resource(it->resource, sizeof(it->resource), c->name, id != NULL ? id : "");
	it->job.ev.actor = *who->actor;
	it->job.ev.action = "record.read";
	it->job.ev.resource = it->resource;
	it->job.ev.purpose_of_use = purpose;
	if (id == NULL) {
		rc = PV_E_INVALID;
		util_strlcpy(it->err, "read items must be record IDs (strings)", sizeof(it->err));
	} else {
		util_strlcpy(it->id, vault_rec_id_ok(id) ? id : "", sizeof(it->id));
		rc = vault_record_load_view(v, who, c, id, &it->view, &it->detail);
		if (rc == PV_E_NOTFOUND)
			util_strlcpy(it->err, "no such record", sizeof(it->err));
	}
	if (rc != PV_OK) {
		it->pre = rc;
		it->job.ev.outcome = AUDIT_ERROR;
		it->job.ev.reason = http_rc_code(rc);
		return;
	}
	it->job.ev.outcome = AUDIT_ALLOWED;
	it->job.ev.detail = it->detail;
}

static json_t *item_result(struct item *it, bool create)
{
	enum pv_rc rc = it->pre != PV_OK ? it->pre : it->job.rc;
	json_t *o;

	if (rc != PV_OK) {
		/* a read whose entry is not durable sends nothing of the record */
		return item_error(rc, it->pre != PV_OK ? it->err : NULL);
	}
	if (create)
		return json_pack("{s:i, s:s, s:i}", "status", 201, "id", it->id, "version", 1);
	o = it->view;
	it->view = NULL;
	if (o != NULL && json_object_set_new(o, "status", json_integer(200)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

void vault_record_batch(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, bool create, json_t *list, vault_done_fn done, void *arg)
{
	const char *cname = collection, *purpose = NULL;
	const struct vault_collection *c;
	json_t *results = NULL, *el;
	char resource[VAULT_RESOURCE_MAX];
	const char *action = create ? "record.create" : "record.read";
	struct item *items = NULL;
	struct vault_job *jobs = NULL;
	struct vault_answer a;
	size_t n = 0, i;
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, NULL);
	n = json_is_array(list) ? json_array_size(list) : 0;
	if (n == 0 || n > VAULT_BATCH_MAX) {
		rc = vault_answer_fail(&a, PV_E_INVALID, "a batch holds 1 to 100 items");
		goto out;
	}
	/* one decision: the permission on the collection, and for a read the
	 * purpose of use */
	if ((rc = vault_decide(v, who, action, resource,
	    create ? "records.write" : "records.read", cname, &purpose, &a)) != PV_OK)
		goto out;
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, action, resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}

	items = calloc(n, sizeof(*items));
	jobs = calloc(n, sizeof(*jobs));
	results = json_array();
	if (items == NULL || jobs == NULL || results == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_array_foreach(list, i, el) {
		if (create)
			prepare_create(v, who, c, el, purpose, &items[i]);
		else
			prepare_read(v, who, c, el, purpose, &items[i]);
		jobs[i] = items[i].job;
	}
	vault_commit_many(v, jobs, n);
	for (i = 0; i < n; i++) {
		json_t *r;

		items[i].job.rc = jobs[i].rc;
		r = item_result(&items[i], create);
		if (r == NULL || json_array_append_new(results, r) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	if ((a.body = json_pack("{s:O}", "results", results)) == NULL)
		rc = PV_E_NOMEM;
out:
	for (i = 0; items != NULL && i < n; i++) {
		if (items[i].w != NULL) {
			vault_write_job_clear(items[i].w);
			free(items[i].w);
		}
		free(items[i].detail);
		json_decref(items[i].view);
	}
	free(items);
	free(jobs);
	json_decref(results);
	if (a.rc == PV_OK && rc != PV_OK)
		vault_answer_fail(&a, rc, NULL);
	vault_answer_send(&a, done, arg);
}
