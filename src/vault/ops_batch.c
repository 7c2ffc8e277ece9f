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
 * audit_unavailable and its data is dropped). Every item's transaction is
 * submitted at once (audit_submit), so they share group commits, and the
 * answer is built by the last completion: no thread waits for a group and
 * none is spawned to fill one.
 *
 * The route's permission is "authenticated" because the verb depends on the
 * body; the operation asks the decision point (vault_decide: records.write or
 * records.read on the collection, and a read's purpose of use), which
 * refuses restricted sessions and audits its denials.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

struct batch;

struct item {
	struct batch *b;
	struct vault_job job;
	struct vault_write_job *w;    /* create: the write; NULL otherwise */
	char resource[VAULT_RESOURCE_MAX];
	char id[UTIL_ID_MAX];
	json_t *detail;               /* the entry's detail, as a tree (create and read) */
	json_t *view;                 /* read: the masked record */
	char ref[STORE_SUBJECT_REF_LEN + 1];   /* its subject (accounting of disclosures) */
	const char *refs[1];
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
	    (rc = vault_record_seal_job(v, c, it->id, 1, norm, it->w)) != PV_OK ||
	    (rc = vault_index_entries(v, c, norm, norm, it->w)) != PV_OK)
		goto fail;
	it->w->rec.created_ms = it->w->rec.updated_ms = util_now_ms();
	it->w->reindex_all = true;
	if ((it->detail = vault_detail_fields_tree(norm, NULL)) == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	vault_resource(it->resource, sizeof(it->resource), c->name, it->id);
	it->job.ev.outcome = AUDIT_ALLOWED;
	it->job.ev.detail_obj = it->detail;
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
	it->job.ev.detail_obj = NULL;
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
		rc = vault_record_load_view_ref(v, who, c, id, &it->view, &it->detail,
		    it->ref);
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
	it->job.ev.detail_obj = it->detail;
	it->job.ev.recipient = vault_recipient_valid(who);
	if (it->ref[0] != '\0') {
		it->refs[0] = it->ref;
		it->job.ev.subjects = it->refs;
		it->job.ev.nsubjects = 1;
	}
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

/*
 * The batch in flight: every item's transaction is submitted at once (they
 * share group commits), each completion counts down, and the last one
 * (or the submitter, if it is done after every completion) builds the
 * answer on its thread: no thread waits for a group. pending starts at
 * n + 1, the submitter's own share.
 */
struct batch {
	vault_done_fn done;
	void *arg;
	bool create;
	size_t n;
	atomic_size_t pending;
	struct item items[];
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->items[i].w != NULL) {
			vault_write_job_clear(b->items[i].w);
			free(b->items[i].w);
		}
		json_decref(b->items[i].detail);
		json_decref(b->items[i].view);
	}
	free(b);
}

static void batch_finish(struct batch *b)
{
	struct vault_answer a;
	json_t *results = json_array();
	enum pv_rc rc = results != NULL ? PV_OK : PV_E_NOMEM;

	vault_answer_init(&a);
	for (size_t i = 0; rc == PV_OK && i < b->n; i++) {
		json_t *r = item_result(&b->items[i], b->create);

		if (r == NULL || json_array_append_new(results, r) != 0)
			rc = PV_E_NOMEM;
	}
	if (rc == PV_OK && (a.body = json_pack("{s:O}", "results", results)) == NULL)
		rc = PV_E_NOMEM;
	json_decref(results);
	if (rc != PV_OK)
		vault_answer_fail(&a, rc, NULL);
	vault_answer_send(&a, b->done, b->arg);
	batch_free(b);
}

static void batch_release(struct batch *b)
{
	if (atomic_fetch_sub(&b->pending, 1) == 1)
		batch_finish(b);
}

/* One item's entry (and a create's record) is durable, or its group
 * failed: a read's data is answered only if rc is PV_OK (item_result). */
static void item_done(enum pv_rc rc, void *arg)
{
	struct item *it = arg;

	it->job.rc = rc;
	batch_release(it->b);
}

void vault_record_batch(struct vault_ctx *v, const struct vault_caller *who,
    const char *collection, bool create, json_t *list, vault_done_fn done, void *arg)
{
	const char *cname = collection, *purpose = NULL;
	const struct vault_collection *c;
	json_t *el;
	char resource[VAULT_RESOURCE_MAX];
	const char *action = create ? "record.create" : "record.read";
	struct batch *b = NULL;
	struct vault_answer a;
	size_t n = 0, i;
	enum pv_rc rc;

	vault_answer_init(&a);
	vault_resource(resource, sizeof(resource), cname, NULL);
	n = json_is_array(list) ? json_array_size(list) : 0;
	if (n == 0 || n > VAULT_BATCH_MAX) {
		vault_answer_fail(&a, PV_E_INVALID, "a batch holds 1 to 100 items");
		goto out;
	}
	/* one decision: the permission on the collection, and for a read the
	 * purpose of use */
	if ((rc = vault_decide(v, who, action, resource,
	    create ? "records.write" : "records.read", cname, &purpose, &a)) != PV_OK)
		goto out;
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		vault_fail_audited(v, who, action, resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	if ((b = calloc(1, sizeof(*b) + n * sizeof(b->items[0]))) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	b->done = done;
	b->arg = arg;
	b->create = create;
	b->n = n;
	atomic_init(&b->pending, n + 1);
	json_array_foreach(list, i, el) {
		struct item *it = &b->items[i];

		it->b = b;
		if (create)
			prepare_create(v, who, c, el, purpose, it);
		else
			prepare_read(v, who, c, el, purpose, it);
		/* every item is one entry, a failed one too (outcome error) */
		if (audit_submit(v->audit, &it->job.ev, it->job.fn, it->job.arg, COMMIT_REQUEST,
		    item_done, it) != PV_OK) {
			it->job.rc = PV_E_AUDIT;
			batch_release(b);
		}
	}
	batch_release(b);   /* the submitter's share: the last one answers */
	return;
out:
	vault_answer_send(&a, done, arg);
}
