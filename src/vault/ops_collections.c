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
 * A collection is created in one audit_submit job (answered from its
 * completion, refusals held: no thread waits for a commit): its two KEKs
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
	struct keys_kek_opts opts;       /* provider and double encryption of kek_name */
	struct vault_collection c;       /* cached once durable */
	json_t *body;                    /* the answer */
	vault_done_fn done;
	void *arg;
};

static enum pv_rc create_fn(struct store_tx *tx, void *arg)
{
	struct create_job *j = arg;
	enum pv_rc rc;

	if ((rc = keys_kek_ensure_opts_tx(j->v->keys, tx, j->row.kek_name, &j->opts)) != PV_OK ||
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

/* Take "kek_provider" and "double_encryption" (docs/keys.md) out of spec
 * (a copy the caller frees) into o; the rest is the schema. */
static enum pv_rc kek_opts_parse(struct vault_ctx *v, json_t *spec, struct keys_kek_opts *o,
    char *err, size_t errlen)
{
	json_t *p = json_object_get(spec, "kek_provider"), *d = json_object_get(spec,
	    "double_encryption");

	o->provider = v->kek_default_pkcs11 && keys_hsm_configured(v->keys) ? "pkcs11" : "soft";
	o->double_enc = 0;
	if (p != NULL) {
		if (!json_is_string(p) || (strcmp(json_string_value(p), "soft") != 0 &&
		    strcmp(json_string_value(p), "pkcs11") != 0)) {
			vault_errf(err, errlen, "kek_provider must be \"soft\" or \"pkcs11\"");
			return PV_E_INVALID;
		}
		o->provider = strcmp(json_string_value(p), "pkcs11") == 0 ? "pkcs11" : "soft";
		if (strcmp(o->provider, "pkcs11") == 0 && !keys_hsm_configured(v->keys)) {
			vault_errf(err, errlen, "kek_provider pkcs11 needs the pkcs11 seal "
			    "(an HSM); this vault has none");
			return PV_E_INVALID;
		}
	}
	if (d != NULL) {
		if (!json_is_boolean(d)) {
			vault_errf(err, errlen, "double_encryption must be true or false");
			return PV_E_INVALID;
		}
		o->double_enc = json_is_true(d) ? 1 : 0;
	}
	json_object_del(spec, "kek_provider");
	json_object_del(spec, "double_encryption");
	return PV_OK;
}

void vault_collection_create(struct vault_ctx *v, const struct vault_caller *who,
    json_t *spec_in, vault_done_fn done, void *arg)
{
	struct keys_kek_opts opts = { "soft", 0 };
	json_t *spec = json_is_object(spec_in) ? json_copy(spec_in) : json_incref(spec_in);
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
	rc = json_is_object(spec) ? kek_opts_parse(v, spec, &opts, err, sizeof(err)) : PV_OK;
	if (rc == PV_OK)
		rc = vault_collection_from_json(spec, &c, err, sizeof(err));
	if (rc != PV_OK) {
		ev.outcome = AUDIT_ERROR;
		ev.reason = "invalid_request";
		/* the refusal leaves once its entry is durable; no thread waits */
		if (audit_record_held(v->audit, &ev, true) != PV_OK)
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
		/* the refusal leaves once its entry is durable; no thread waits */
		if (audit_record_held(v->audit, &ev, true) != PV_OK)
			rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
		else
			rc = vault_answer_fail(&a, PV_E_REGION,
			    "the collection's region is not in [policy] allowed_regions");
		goto done;
	}
	if ((rc = vault_collection_to_json(&c, &out)) != PV_OK)
		goto done;
	schema = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	/* the answer (not the schema text) says where its KEK lives */
	json_object_set_new(out, "kek_provider", json_string(opts.provider));
	json_object_set_new(out, "double_encryption", json_boolean(opts.double_enc == 1));
	{
		json_t *d = json_pack("{s:s, s:i, s:s, s:b}", "region", c.region, "fields",
		    (int)c.nfields, "kek_provider", opts.provider, "double_encryption",
		    opts.double_enc == 1);

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
	job->opts = opts;
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
		json_decref(spec);
		return;   /* create_done owns job, the schema text and the body */
	}
	free(job);
done:
	json_decref(spec);
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
	if (rc == PV_OK) {
		/* where the current version of its record KEK lives */
		char kek[VAULT_KEK_NAME_MAX];
		struct store_kek row;

		memset(&row, 0, sizeof(row));
		vault_kek_records(name, kek, sizeof(kek));
		STORE_READ(v->st, rc, store_kek_latest(tx, kek, &row));
		if (rc == PV_OK) {
			json_object_set_new(out, "kek_provider", json_string(row.provider[0] != '\0' ?
			    row.provider : "soft"));
			json_object_set_new(out, "double_encryption", json_boolean(row.outer[0] !=
			    '\0'));
			json_object_set_new(out, "kek_version", json_integer(row.version));
		}
		store_kek_clear(&row);
	}
	if (rc != PV_OK) {
		json_decref(out);
		out = NULL;
		vault_answer_fail(&a, rc, NULL);
	}
	a.body = out;
out:
	vault_answer_send(&a, done, arg);
}
