/*
 * vault/ops_collections.c: the collection operations (vault.h
 * "operations"): vault_collection_create, _get and _list
 * (routes.c adapts them to API.md "PHI records").
 *
 *   create   collections.manage (the route's)   audited collection.create
 *   list     collections.manage (the route's)
 *   get      the decision point's collections.read: collections.manage, or
 *            records.read / records.write on c
 *
 * A collection is created in one audit_commit job: its two KEKs
 * ("collection:<c>" wraps record DEKs, "index:<c>" derives the blind-index
 * keys) and its row, with the collection.create entry. The schema text is
 * vault_collection_to_json (field names and types, no PHI). Collections are
 * immutable afterwards, which is what lets the schema cache never go stale.
 * Region policy: the region must be one of [policy] allowed_regions, else
 * 403 region_not_allowed (audited, nothing created).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

struct create_job {
	struct vault_ctx *v;
	struct store_collection row;     /* row.schema malloc'd, ours */
	char kek_index[VAULT_KEK_NAME_MAX];
	struct vault_collection c;       /* cached once durable */
	json_t *body;                    /* the answer */
	vault_done_fn done;
	void *arg;
};

static enum pv_rc create_fn(struct store_tx *tx, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = keys_kek_ensure_tx(j->v->keys, tx, j->row.kek_name)) != PV_OK ||
	    (rc = keys_kek_ensure_tx(j->v->keys, tx, j->kek_index)) != PV_OK)
		return rc;
	for (size_t i = 0; i < j->c.nfields; i++)
		if (j->c.fields[i].subject &&
		    (rc = keys_kek_ensure_tx(j->v->keys, tx, VAULT_KEK_SUBJECTS)) != PV_OK)
			return rc;
	return store_collection_put(tx, &j->row);
}

/* On the committer thread once the group is durable (or failed). */
static void create_done(enum pv_rc rc, void *arg)
{
	struct create_job *j = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc == PV_E_CONFLICT) {
		vault_answer_fail(&a, PV_E_CONFLICT, "a collection with this name exists");
	} else if (rc != PV_OK) {
		vault_answer_fail(&a, rc, NULL);
	} else {
		if (vault_coll_cache_put(j->v, &j->c) != PV_OK)
			log_warn("vault: collection cache insert failed (it reloads on use)");
		a.body = j->body;
		j->body = NULL;
	}
	json_decref(j->body);
	free(j->row.schema);
	vault_answer_send(&a, j->done, j->arg);
	free(j);
}

void vault_collection_create(struct vault_ctx *v, const struct vault_caller *who,
    json_t *spec, vault_done_fn done, void *arg)
{
	struct vault_collection c;
	struct vault_answer a;
	struct create_job *job = NULL;
	struct audit_event ev;
	char err[VAULT_ERR_MAX] = "", resource[VAULT_RESOURCE_MAX];
	json_t *out = NULL;
	char *schema = NULL, *detail = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "collection.create";
	ev.resource = "collections";
	rc = vault_collection_from_json(spec, &c, err, sizeof(err));
	if (rc != PV_OK) {
		ev.outcome = AUDIT_ERROR;
		ev.reason = "invalid_request";
		if (audit_record(v->audit, &ev) != PV_OK)
			rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
		else
			rc = vault_answer_fail(&a, rc == PV_E_INVALID ? PV_E_INVALID : rc, err);
		goto done;
	}
	snprintf(resource, sizeof(resource), "collections/%s", c.name);
	ev.resource = resource;
	if (vault_region_check(v->allowed_regions, c.region) != PV_OK) {
		ev.outcome = AUDIT_DENIED;
		ev.reason = "region_not_allowed";
		if (audit_record(v->audit, &ev) != PV_OK)
			rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
		else
			rc = vault_answer_fail(&a, PV_E_REGION,
			    "the collection's region is not in [policy] allowed_regions");
		goto done;
	}
	if ((rc = vault_collection_to_json(&c, &out)) != PV_OK)
		goto done;
	schema = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	{
		json_t *d = json_pack("{s:s, s:i}", "region", c.region, "fields", (int)c.nfields);

		detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
	}
	if (schema == NULL || detail == NULL) {
		rc = PV_E_NOMEM;
		goto done;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		rc = PV_E_NOMEM;
		goto done;
	}
	job->v = v;
	job->c = c;
	job->body = out;
	job->done = done;
	job->arg = arg;
	util_strlcpy(job->row.name, c.name, sizeof(job->row.name));
	job->row.schema = schema;
	util_strlcpy(job->row.region, c.region, sizeof(job->row.region));
	job->row.retention_days = c.retention_days;
	job->row.created_ms = util_now_ms();
	vault_kek_records(c.name, job->row.kek_name, sizeof(job->row.kek_name));
	vault_kek_index(c.name, job->kek_index, sizeof(job->kek_index));
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* create_done answers once the keys, the row and the entry are durable */
	rc = audit_submit(v->audit, &ev, create_fn, job, COMMIT_REQUEST, create_done, job);
	if (rc == PV_OK) {
		free(detail);
		return;   /* create_done owns job, the schema text and the body */
	}
	free(job);
done:
	json_decref(out);
	free(schema);
	free(detail);
	vault_answer_finish(&a, rc, done, arg);
}

struct list_ctx {
	json_t *arr;
	bool failed;
};

static int list_cb(const struct store_collection *c, void *arg)
{
	struct list_ctx *l = arg;
	json_t *o = json_loads(c->schema, JSON_REJECT_DUPLICATES, NULL);

	if (o == NULL || json_array_append_new(l->arr, o) != 0) {
		l->failed = true;
		return 1;
	}
	return 0;
}

void vault_collection_list(struct vault_ctx *v, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct list_ctx l = { json_array(), false };
	struct vault_answer a;
	enum pv_rc rc;

	(void)who;   /* the route's collections.manage decided it */
	vault_answer_init(&a);
	if (l.arr == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
		goto out;
	}
	STORE_READ(v->st, rc, store_collection_list(tx, list_cb, &l));
	if (rc == PV_OK && l.failed)
		rc = PV_E_INTEGRITY;
	if (rc != PV_OK) {
		json_decref(l.arr);
		vault_answer_fail(&a, rc, NULL);
		goto out;
	}
	if ((a.body = json_pack("{s:o}", "collections", l.arr)) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
out:
	vault_answer_send(&a, done, arg);
}

void vault_collection_get(struct vault_ctx *v, const struct vault_caller *who,
    const char *name, vault_done_fn done, void *arg)
{
	const struct vault_collection *c;
	char resource[VAULT_RESOURCE_MAX];
	struct vault_answer a;
	json_t *out = NULL;
	enum pv_rc rc;

	/* The schema holds no PHI: whoever manages collections or may read or
	 * write this one can see it (the decision point's collections.read).
	 * A denial is recorded like every other (the route itself is
	 * "authenticated", so the authorize hook did not decide it). */
	vault_answer_init(&a);
	snprintf(resource, sizeof(resource), "collections/%s",
	    vault_name_valid(name) ? name : "(invalid)");
	if ((rc = vault_decide(v, who, "collection.read", resource, "collections.read",
	    vault_name_valid(name) ? name : NULL, NULL, &a)) != PV_OK)
		goto out;
	if ((rc = vault_coll_get(v, name, &c)) == PV_OK)
		rc = vault_collection_to_json(c, &out);
	if (rc != PV_OK)
		vault_answer_fail(&a, rc, NULL);
	a.body = out;
out:
	vault_answer_send(&a, done, arg);
}
