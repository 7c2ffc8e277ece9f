/*
 * vault/service.c: the running vault behind the operations. Owns the
 * collection-schema cache, the record envelope (seal/open), the caller and
 * the answer of an operation, the call of the decision point for
 * operations, the audit helpers, and the HTTP
 * adapter's helpers (the caller of a request, the reply to an answer).
 *
 * Invariants:
 *  - A cached schema never changes and is never freed while the vault runs
 *    (collections are immutable), so readers hold plain pointers; the
 *    rwlock guards only the array that lists them.
 *  - Record plaintext exists only in request memory: it is wiped before it
 *    is freed (vault_plaintext_free, the wiping jansson allocator), and
 *    released only after the AEAD tag verified (keys_envelope_open).
 *  - Audit entries carry record IDs, field names and codes, never a value.
 *
 * Authorization is not decided here: vault_decide asks authz_decide (the
 * one decision point: permission, restricted session, purpose of use) and
 * acts on its decision; the decision point audits its denials.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

/* ------------------------------------------------------------------ */
/* context and collection cache                                        */
/* ------------------------------------------------------------------ */

enum pv_rc vault_ctx_new(const struct vault_deps *d, struct vault_ctx **out)
{
	struct vault_ctx *v;

	if (d == NULL || d->st == NULL || d->keys == NULL || d->audit == NULL || out == NULL)
		return PV_E_INVALID;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return PV_E_NOMEM;
	if (pthread_rwlock_init(&v->mu, NULL) != 0) {
		free(v);
		return PV_E_NOMEM;
	}
	v->st = d->st;
	v->keys = d->keys;
	v->audit = d->audit;
	util_strlcpy(v->allowed_regions, d->allowed_regions ? d->allowed_regions : "",
	    sizeof(v->allowed_regions));
	v->kek_default_pkcs11 = d->kek_default_pkcs11;
	*out = v;
	return PV_OK;
}

void vault_free(struct vault_ctx *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->ncolls; i++)
		free(v->colls[i]);
	free(v->colls);
	vault_keyadmin_free(v->keyadmin);
	vault_retention_stop(v);
	vault_retention_free(v->retention);
	vault_breakglass_free(v);
	vault_incidents_free(v->incidents);
	vault_export_free(v);
	pthread_rwlock_destroy(&v->mu);
	free(v);
}

static enum pv_rc keks_fn(struct store_tx *tx, void *arg)
{
	enum pv_rc rc = keys_kek_ensure_tx(arg, tx, VAULT_KEK_TOKENS);

	return rc == PV_OK ? keys_kek_ensure_tx(arg, tx, VAULT_KEK_INCIDENTS) : rc;
}

enum pv_rc vault_keks_ensure(struct vault_ctx *v)
{
	if (v == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(v->keys))
		return PV_E_SEALED;
	return audit_commit(v->audit, NULL, keks_fn, v->keys);
}

static const struct vault_collection *cache_find(struct vault_ctx *v, const char *name)
{
	for (size_t i = 0; i < v->ncolls; i++)
		if (strcmp(v->colls[i]->name, name) == 0)
			return v->colls[i];
	return NULL;
}

/* Insert a copy unless the name is cached already; *out the cached entry. */
static enum pv_rc cache_insert(struct vault_ctx *v, const struct vault_collection *c,
    const struct vault_collection **out)
{
	const struct vault_collection *have;
	struct vault_collection *copy;
	enum pv_rc rc = PV_OK;

	pthread_rwlock_wrlock(&v->mu);
	if ((have = cache_find(v, c->name)) != NULL) {
		*out = have;
		goto out;
	}
	if (v->ncolls == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct vault_collection **nc = reallocarray(v->colls, cap, sizeof(*nc));

		if (nc == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		v->colls = nc;
		v->cap = cap;
	}
	copy = malloc(sizeof(*copy));
	if (copy == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*copy = *c;
	v->colls[v->ncolls++] = copy;
	*out = copy;
out:
	pthread_rwlock_unlock(&v->mu);
	return rc;
}

enum pv_rc vault_coll_cache_put(struct vault_ctx *v, const struct vault_collection *c)
{
	const struct vault_collection *dummy;

	return cache_insert(v, c, &dummy);
}

enum pv_rc vault_coll_get(struct vault_ctx *v, const char *name,
    const struct vault_collection **out)
{
	const struct vault_collection *have;
	struct store_collection row;
	struct vault_collection *c = NULL;
	json_t *schema = NULL;
	char err[VAULT_ERR_MAX];
	enum pv_rc rc;

	if (!vault_name_valid(name))
		return PV_E_NOTFOUND;
	pthread_rwlock_rdlock(&v->mu);
	have = cache_find(v, name);
	pthread_rwlock_unlock(&v->mu);
	if (have != NULL) {
		*out = have;
		return PV_OK;
	}
	memset(&row, 0, sizeof(row));
	STORE_READ(v->st, rc, store_collection_get(tx, name, &row));
	if (rc != PV_OK)
		goto out;
	c = malloc(sizeof(*c));
	schema = json_loads(row.schema, JSON_REJECT_DUPLICATES, NULL);
	if (c == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (schema == NULL || vault_collection_from_json(schema, c, err, sizeof(err)) != PV_OK ||
	    strcmp(c->name, name) != 0) {
		log_error("vault: stored schema of a collection does not parse");
		rc = PV_E_INTEGRITY;
		goto out;
	}
	rc = cache_insert(v, c, out);
out:
	json_decref(schema);
	free(c);
	store_collection_clear(&row);
	return rc;
}

void vault_kek_records(const char *collection, char *buf, size_t len)
{
	snprintf(buf, len, VAULT_KEK_RECORDS_PREFIX "%s", collection);
}

void vault_kek_index(const char *collection, char *buf, size_t len)
{
	snprintf(buf, len, VAULT_KEK_INDEX_PREFIX "%s", collection);
}

/* ------------------------------------------------------------------ */
/* record envelope                                                     */
/* ------------------------------------------------------------------ */

enum pv_rc vault_record_seal_env(struct keys *k, const char *collection, const char *id,
    uint32_t version, json_t *fields, const struct vault_subject_env *se,
    struct store_record *out)
{
	struct store_record r;
	uint8_t *w = NULL;
	size_t wlen = 0;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if ((rc = vault_record_seal(k, collection, id, version, fields, &r)) != PV_OK)
		return rc;
	if (se == NULL || !se->linked) {
		*out = r;
		return PV_OK;
	}
	rc = vault_subject_dek_wrap(k, collection, id, version, se, r.wrapped_dek, &w, &wlen);
	if (rc != PV_OK) {
		store_record_clear(&r);
		return rc;
	}
	vault_wipe(r.wrapped_dek, r.wrapped_dek_len);
	free(r.wrapped_dek);
	r.wrapped_dek = w;
	r.wrapped_dek_len = wlen;
	*out = r;
	return PV_OK;
}

enum pv_rc vault_record_seal(struct keys *k, const char *collection, const char *id,
    uint32_t version, json_t *fields, struct store_record *out)
{
	struct store_record r;
	struct keys_envelope env;
	char aad[VAULT_AAD_MAX], kek[VAULT_KEK_NAME_MAX];
	char *pt = NULL;
	size_t aadlen = 0, ptlen = 0;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	if (strlen(id) >= sizeof(r.id) || strlen(collection) >= sizeof(r.collection))
		return PV_E_INVALID;
	if ((rc = vault_record_aad(collection, id, version, aad, sizeof(aad), &aadlen)) != PV_OK)
		return rc;
	vault_kek_records(collection, kek, sizeof(kek));
	if ((rc = vault_record_plaintext(fields, &pt, &ptlen)) != PV_OK)
		return rc;
	r.ciphertext = malloc(ptlen + CRYPTO_BOX_OVERHEAD);
	r.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN);
	if (r.ciphertext == NULL || r.wrapped_dek == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = keys_envelope_seal(k, kek, (const uint8_t *)aad, aadlen, (const uint8_t *)pt, ptlen,
	    r.ciphertext, &env);
	if (rc != PV_OK)
		goto out;
	r.ciphertext_len = ptlen + CRYPTO_BOX_OVERHEAD;
	memcpy(r.wrapped_dek, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	r.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	util_strlcpy(r.id, id, sizeof(r.id));
	util_strlcpy(r.collection, collection, sizeof(r.collection));
	util_strlcpy(r.kek_name, env.kek_name, sizeof(r.kek_name));
	r.kek_version = env.kek_version;
	r.version = version;
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	vault_plaintext_free(pt, ptlen);
	store_record_clear(&r);
	return rc;
}

enum pv_rc vault_record_open(struct keys *k, const struct store_record *r, json_t **fields_out)
{
	return vault_record_open_env(k, r, NULL, fields_out);
}

enum pv_rc vault_record_open_env(struct keys *k, const struct store_record *r,
    const struct vault_subject_env *se, json_t **fields_out)
{
	struct keys_envelope env;
	char aad[VAULT_AAD_MAX];
	uint8_t *pt = NULL;
	size_t aadlen = 0, ptlen = 0;
	enum pv_rc rc;

	if (r->deleted_ms != 0 || r->ciphertext == NULL || r->wrapped_dek == NULL)
		return PV_E_NOTFOUND;
	if (r->ciphertext_len <= CRYPTO_BOX_OVERHEAD || strlen(r->kek_name) >= sizeof(env.kek_name))
		return PV_E_INTEGRITY;
	if ((rc = vault_record_aad(r->collection, r->id, r->version, aad, sizeof(aad), &aadlen)) !=
	    PV_OK)
		return PV_E_INTEGRITY;
	memset(&env, 0, sizeof(env));
	util_strlcpy(env.kek_name, r->kek_name, sizeof(env.kek_name));
	env.kek_version = r->kek_version;
	/* a record under a subject key opens only through it */
	if ((rc = vault_subject_dek_peel(k, r, se, env.wrapped_dek)) != PV_OK)
		return rc;
	ptlen = r->ciphertext_len - CRYPTO_BOX_OVERHEAD;
	pt = malloc(ptlen);
	if (pt == NULL)
		return PV_E_NOMEM;
	rc = keys_envelope_open(k, &env, (const uint8_t *)aad, aadlen, r->ciphertext,
	    r->ciphertext_len, pt);
	if (rc == PV_E_FORBIDDEN)
		rc = PV_E_KEY_REVOKED;   /* its KEK version was revoked: gone for good */
	if (rc == PV_OK)
		rc = vault_record_from_plaintext((const char *)pt, ptlen, fields_out);
	vault_plaintext_free((char *)pt, ptlen);
	return rc;
}

/* ------------------------------------------------------------------ */
/* the caller and the answer                                           */
/* ------------------------------------------------------------------ */

enum pv_rc vault_audit(struct vault_ctx *v, const struct vault_caller *who, const char *action,
    const char *resource, const char *purpose, enum audit_outcome outcome, const char *reason,
    const char *detail)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = resource;
	ev.purpose_of_use = purpose;
	ev.outcome = outcome;
	ev.reason = reason;
	ev.detail = detail;
	/* on a request thread the answer, not the thread, waits for the entry
	 * (fail closed: PV_E_AUDIT if it is not durable); elsewhere audit_record */
	return audit_record_held(v->audit, &ev, true);
}

enum pv_rc vault_audit_note(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, enum audit_outcome outcome, const char *detail)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = resource;
	ev.outcome = outcome;
	ev.detail = detail;
	/* the answer stands if the entry fails (logged by the writer) */
	return audit_record_held(v->audit, &ev, false);
}

/* ---- writes answered from their completion (vault_op) ---- */

static void op_release(struct vault_op *op)
{
	if (op->release != NULL)
		op->release(op);
	else
		free(op);
}

static void op_refusal_done(enum pv_rc rc, void *arg)
{
	struct vault_op *op = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK)
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	else
		vault_answer_fail(&a, op->refuse_rc, op->refuse_msg[0] != '\0' ? op->refuse_msg : NULL);
	vault_answer_send(&a, op->done, op->done_arg);
	op_release(op);
}

static void op_done(enum pv_rc rc, void *arg)
{
	struct vault_op *op = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	op->refuse = false;
	op->again = false;
	op->finish(op, rc, &a);
	if (op->again) {
		/* finish asked for another attempt: resubmit answers from here on */
		json_decref(a.body);
		free(a.text);
		op->resubmit(op);
		return;
	}
	if (op->refuse) {
		struct audit_event ev;
		enum pv_rc r;

		memset(&ev, 0, sizeof(ev));
		ev.actor = op->actor;
		ev.action = op->refuse_action;
		ev.resource = op->refuse_resource;
		ev.outcome = op->refuse_outcome;
		ev.reason = op->refuse_reason;
		json_decref(a.body);
		free(a.text);
		/* chained: the refusal's entry, then the answer (no thread waits) */
		r = audit_submit(op->v->audit, &ev, NULL, NULL, COMMIT_REQUEST, op_refusal_done, op);
		if (r == PV_OK)
			return;
		vault_answer_init(&a);
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	}
	vault_answer_send(&a, op->done, op->done_arg);
	op_release(op);
}

void vault_op_complete(struct vault_op *op, enum pv_rc rc)
{
	op_done(rc, op);
}

void vault_op_refuse(struct vault_op *op, const char *action, const char *resource,
    enum pv_rc rc, const char *msg)
{
	vault_op_refuse_as(op, action, resource, rc == PV_E_FORBIDDEN ? AUDIT_DENIED :
	    AUDIT_ERROR, pv_rc_name(rc), rc, msg);
}

void vault_op_refuse_as(struct vault_op *op, const char *action, const char *resource,
    enum audit_outcome outcome, const char *reason, enum pv_rc rc, const char *msg)
{
	op->refuse = true;
	op->refuse_outcome = outcome;
	util_strlcpy(op->refuse_reason, reason, sizeof(op->refuse_reason));
	op->refuse_rc = rc;
	util_strlcpy(op->refuse_action, action, sizeof(op->refuse_action));
	util_strlcpy(op->refuse_resource, resource, sizeof(op->refuse_resource));
	util_strlcpy(op->refuse_msg, msg != NULL ? msg : "", sizeof(op->refuse_msg));
}

void vault_op_submit(struct vault_op *op, const struct audit_event *ev, audit_job_fn fn,
    void *fn_arg)
{
	enum pv_rc rc;

	op->actor = ev->actor;
	rc = audit_submit(op->v->audit, ev, fn, fn_arg, COMMIT_REQUEST, op_done, op);
	if (rc != PV_OK) {
		/* not queued: no completion comes; answer now, nothing changed */
		struct vault_answer a;

		vault_answer_init(&a);
		vault_answer_fail(&a, rc == PV_E_INVALID || rc == PV_E_UNAVAILABLE ? rc : PV_E_AUDIT,
		    NULL);
		vault_answer_send(&a, op->done, op->done_arg);
		op_release(op);
	}
}

enum pv_rc vault_audit_refusal(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, enum audit_outcome outcome,
    const char *reason)
{
	struct audit_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = action;
	ev.resource = resource;
	ev.purpose_of_use = purpose;
	ev.outcome = outcome;
	ev.reason = reason;
	/* the refusal leaves once its entry is durable (PV_E_AUDIT if it is
	 * not); no request thread waits for it */
	return audit_record_held(v->audit, &ev, true);
}

json_t *vault_detail_fields_tree(json_t *obj, json_t *extra)
{
	json_t *d = json_object(), *names = json_array();
	const char *key;
	json_t *val;

	if (d == NULL || names == NULL)
		goto fail;
	if (json_is_object(obj)) {
		json_object_foreach(obj, key, val) {
			(void)val;
			/* a key is valid UTF-8 (jansson checked it, or it is a
			 * field name): no second check */
			if (json_array_append_new(names, json_string_nocheck(key)) != 0)
				goto fail;
		}
	}
	if (json_object_set_new_nocheck(d, "fields", names) != 0) {
		names = NULL;
		goto fail;
	}
	names = NULL;
	if (extra != NULL && json_object_update(d, extra) != 0)
		goto fail;
	json_decref(extra);
	return d;
fail:
	json_decref(extra);
	json_decref(names);
	json_decref(d);
	return NULL;
}

char *vault_detail_fields(json_t *obj, json_t *extra)
{
	json_t *d = vault_detail_fields_tree(obj, extra);
	char *text = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(d);
	return text;
}

void vault_answer_init(struct vault_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->step_up_max_age_s = -1;
}

enum pv_rc vault_answer_fail(struct vault_answer *a, enum pv_rc rc, const char *msg)
{
	a->rc = rc;
	util_strlcpy(a->message, msg != NULL ? msg : "", sizeof(a->message));
	json_decref(a->body);
	a->body = NULL;
	free(a->text);
	a->text = NULL;
	return rc;
}

void vault_answer_finish(struct vault_answer *a, enum pv_rc rc, vault_done_fn done, void *arg)
{
	if (a->rc == PV_OK && rc != PV_OK)
		vault_answer_fail(a, rc, NULL);
	vault_answer_send(a, done, arg);
}

void vault_answer_send(struct vault_answer *a, vault_done_fn done, void *arg)
{
	done(a, arg);
	json_decref(a->body);
	a->body = NULL;
	free(a->text);
	a->text = NULL;
}

/* Answers body once its entry is durable (committer thread). */
struct durable {
	vault_done_fn done;
	void *arg;
	json_t *body;
	uint32_t version;
};

static void durable_done(enum pv_rc rc, void *arg)
{
	struct durable *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK) {
		/* fail closed: the body never leaves (the allocator wipes it) */
		json_decref(d->body);
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else {
		a.body = d->body;
		a.version = d->version;
	}
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_answer_durable(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, const char *detail,
    json_t *body, uint32_t version, vault_done_fn done, void *arg)
{
	vault_answer_durable_phi(v, who, action, resource, purpose, detail, NULL, 0, body, version,
	    done, arg);
}

void vault_answer_durable_phi(struct vault_ctx *v, const struct vault_caller *who,
    const char *action, const char *resource, const char *purpose, const char *detail,
    const char *const *refs, size_t nrefs, json_t *body, uint32_t version, vault_done_fn done,
    void *arg)
{
	struct audit_event ev;
	struct vault_answer a;
	struct durable *d = malloc(sizeof(*d));

	vault_event_phi(&ev, who, refs, nrefs);
	ev.action = action;
	ev.resource = resource;
	ev.purpose_of_use = purpose;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	if (d != NULL) {
		d->done = done;
		d->arg = arg;
		d->body = body;
		d->version = version;
		if (audit_submit(v->audit, &ev, NULL, NULL, COMMIT_REQUEST, durable_done, d) ==
		    PV_OK)
			return;   /* durable_done owns d and the body, and may have run */
		free(d);
	}
	json_decref(body);
	vault_answer_init(&a);
	vault_answer_fail(&a, PV_E_AUDIT, NULL);
	vault_answer_send(&a, done, arg);
}

/* ------------------------------------------------------------------ */
/* purpose of use and the decision point                               */
/* ------------------------------------------------------------------ */

const char *vault_purpose_optional(const struct vault_caller *who)
{
	return authz_purpose_valid(who->purpose) ? who->purpose : NULL;
}

enum pv_rc vault_decide(struct vault_ctx *v, const struct vault_caller *who,
    const char *audit_action, const char *resource, const char *action,
    const char *collection, const char **purpose, struct vault_answer *a)
{
	struct authz_request q;
	struct authz_decision d;

	memset(&q, 0, sizeof(q));
	q.subject = who->subject;
	q.action = action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = collection;
	q.env.source = who->actor->source;
	q.env.purpose = who->purpose;
	q.env.time_ms = util_now_ms();
	q.audit = v->audit;
	q.audit_action = audit_action;
	q.audit_resource = resource;
	if (authz_decide(&q, &d) == PV_OK) {
		if (purpose != NULL)
			*purpose = vault_purpose_optional(who);
		/* a PHI read may name its outside recipient: bad input is refused
		 * (recorded, nothing read) */
		if (who->recipient != NULL && vault_recipient_valid(who) == NULL &&
		    (strcmp(action, "records.read") == 0 || strcmp(action, "tokens.detokenize") == 0))
			return vault_fail_audited(v, who, audit_action, resource,
			    vault_purpose_optional(who), PV_E_RECIPIENT, NULL, a);
		return PV_OK;
	}
	if (d.audit_failed)
		return vault_answer_fail(a, PV_E_AUDIT, NULL);
	if (d.rc == PV_E_STEP_UP)
		a->step_up_max_age_s = d.step_up_max_age_s;
	return vault_answer_fail(a, d.rc, d.message);
}

bool vault_decide_quiet(const struct vault_caller *who, const char *action,
    const char *collection)
{
	struct authz_request q;
	struct authz_decision d;

	memset(&q, 0, sizeof(q));
	q.subject = who->subject;
	q.action = action;
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = collection;
	q.env.source = who->actor->source;
	q.env.purpose = who->purpose;
	q.env.time_ms = util_now_ms();
	return authz_decide(&q, &d) == PV_OK && d.allow;
}

/* ------------------------------------------------------------------ */
/* the HTTP adapter's side (routes.c)                                  */
/* ------------------------------------------------------------------ */

void vault_caller_from(struct http_request *req, struct pv_actor *actor,
    struct vault_caller *who)
{
	authn_actor(req->principal, req->source, actor);
	who->subject = req->principal;
	who->actor = actor;
	who->purpose = http_header(req, AUTHZ_PURPOSE_HEADER);
	who->recipient = http_header(req, VAULT_RECIPIENT_HEADER);
}

struct vault_reply {
	struct http_request *req;
	int status;
};

struct vault_reply *vault_reply_new(struct http_request *req, int status)
{
	struct vault_reply *r = arena_alloc(req->arena, sizeof(*r));

	if (r != NULL) {
		r->req = req;
		r->status = status;
	}
	return r;
}

enum pv_rc vault_call_begin(struct http_request *req, int status, struct vault_call *c)
{
	if ((c->reply = vault_reply_new(req, status)) == NULL)
		return PV_E_NOMEM;
	vault_caller_from(req, &c->actor, &c->who);
	return PV_OK;
}

/* On the thread that completed the operation: nobody else touches req
 * until http_resume. */
void vault_reply_done(struct vault_answer *a, void *arg)
{
	struct vault_reply *r = arg;
	struct http_request *req = r->req;
	enum pv_rc rc = a->rc;

	if (rc == PV_OK && a->version != 0)
		rc = vault_set_etag(req, a->version);
	if (rc == PV_E_STEP_UP)
		authz_step_up_header(req, a->step_up_max_age_s);   /* RFC 9470 challenge */
	if (rc == PV_OK && a->text != NULL) {
		/* a text answer (CSV, FHIR JSON): its exact bytes */
		req->resp_text = arena_strdup(req->arena, a->text);
		req->resp_type = a->text_type;
		req->status = r->status;
		rc = req->resp_text != NULL ? PV_OK : PV_E_NOMEM;
	} else if (rc == PV_OK) {
		rc = http_reply(req, r->status, a->body);
		a->body = NULL;
	} else if (rc == a->rc) {
		rc = http_fail(req, rc, a->message[0] != '\0' ?
		    arena_strdup(req->arena, a->message) : NULL);
	}
	http_resume(req, rc);
}

/* ------------------------------------------------------------------ */
/* registration                                                        */
/* ------------------------------------------------------------------ */

enum pv_rc vault_routes(struct http_server *srv, const struct vault_deps *deps,
    struct vault_ctx **out)
{
	struct vault_ctx *v = NULL;
	enum pv_rc rc;

	if (srv == NULL || out == NULL)
		return PV_E_INVALID;
	if ((rc = vault_ctx_new(deps, &v)) != PV_OK)
		return rc;
	if ((rc = vault_routes_collections(srv, v)) != PV_OK ||
	    (rc = vault_routes_records(srv, v)) != PV_OK ||
	    (rc = vault_routes_batch(srv, v)) != PV_OK ||
	    (rc = vault_routes_tokens(srv, v)) != PV_OK ||
	    (rc = vault_routes_subjects(srv, v)) != PV_OK) {
		vault_free(v);
		return rc;
	}
	*out = v;
	return PV_OK;
}
