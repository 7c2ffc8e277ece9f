/*
 * vault/ops_export.c: the Safe Harbor de-identified export (HIPAA 45 CFR
 * 164.514(b)(2); API.md "Compliance and disclosures", issue 14 item 5).
 * The transform itself is deid.c; this file is everything around it: the
 * operations, the job kind "export.safe_harbor", where the output lives and
 * its expiry. routes_export.c adapts the operations to HTTP.
 *
 *   create   POST /v1/collections/{c}/export  records.export:<c>  export.create
 *   list     GET  /v1/exports                 (exports the caller may see)
 *   show     GET  /v1/exports/{id}            records.export:<c> | access.approve
 *   file     GET  /v1/exports/{id}/file       records.export:<c>  export.download
 *   delete   DELETE /v1/exports/{id}          records.export:<c> | access.approve
 *                                                                 export.delete
 *   (sweep)  an expired export's chunks are deleted               export.expire
 *
 * Where the output lives: in the store (store_exports.h), never in a file.
 * Each job step turns up to BATCH records into JSON lines (deid.c, plus
 * "_pseudonym" when asked), seals them as ONE chunk (at most about
 * CHUNK_TARGET bytes of plaintext; AES-256-GCM under a fresh DEK wrapped by
 * KEK "export", AAD "phivault:export-chunk:v1|<export id>|<index>", so a
 * chunk moved to another export or index does not open) and writes the
 * chunk, the head row's new counts and the job's cursor in the step's one
 * transaction: after kill -9 the job resumes at the last committed cursor
 * and its next chunk has the next index, so no line is missing or written
 * twice. The plaintext exists only in the step's memory (wiped) and in the
 * memory of a download while it is answered.
 *
 * The job: params {"export","collection","pseudonym","at_ms"}; cursor the
 * last record ID turned into a line ("" at the start). at_ms is the export
 * date, fixed at creation, so every step (and a step done again after a
 * crash) applies the same "age over 89" cut. The last step (fewer than
 * BATCH records left) hashes the whole file (SHA-256 of the concatenated
 * plaintext chunks, what `sha256sum` of the download prints) and marks the
 * export done. The step may run before the create's own transaction (the
 * head row) has committed: it then does nothing for up to MISSING_WAIT_MS
 * and after that finishes with the error export_missing.
 *
 * Export states: queued --first step--> running --last step--> done;
 * a job that failed or was cancelled shows as failed / cancelled;
 * any --delete--> deleted; any --keep_s passed--> expired (the sweep).
 * deleted and expired keep the head row (a tombstone without chunks);
 * the API answers 404 for them.
 *
 * Expiry: [export] keep_s (default 86400). expires_at = created_at + keep_s;
 * from then on the API answers 404, and a sweeper thread (once a second,
 * real time; the injectable clock decides what is due) deletes the chunks
 * and records export.expire as the system actor.
 *
 * No value of the data set ever reaches an audit entry, a log line or an
 * error message: entries carry the export ID, the collection and counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs.h"
#include "util/ticker.h"
#include "vault/vault_int.h"

#define KIND_NAME "export.safe_harbor"
#define MODE "safe_harbor"
#define BATCH 200
#define CHUNK_TARGET (1024 * 1024)
#define MISSING_WAIT_MS 60000
#define AAD_PREFIX "phivault:export-chunk:v1|"
#define EXPORT_RESOURCE_MAX 96

struct vault_export {
	struct vault_ctx *v;
	struct jobs_runner *jobs;
	struct jobs_kind kind;
	int64_t keep_s;
	struct util_ticker sweeper;   /* started with the routes */
};

/* ---- helpers ---- */

static size_t chunk_aad(const char *id, int64_t idx, char *buf, size_t len)
{
	int n = snprintf(buf, len, AAD_PREFIX "%s|%lld", id, (long long)idx);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

static void export_resource(char *buf, size_t len, const char *id)
{
	snprintf(buf, len, "exports/%s", id != NULL && strlen(id) < 64 ? id : "(invalid)");
}

static bool id_ok(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	if (n < 5 || n >= UTIL_ID_MAX || strncmp(id, "exp_", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '_' || id[i] == '-'))
			return false;
	return true;
}

/* Gone for the API: deleted, expired by the sweep, or past its expiry. */
static bool gone(const struct store_export *e, int64_t now)
{
	return strcmp(e->state, "deleted") == 0 || strcmp(e->state, "expired") == 0 ||
	    now >= e->expires_ms;
}

static const enum vault_deid_rule dropped_rules[] = {
	VAULT_DEID_IDENTIFIER, VAULT_DEID_GEOGRAPHIC, VAULT_DEID_FREE_TEXT, VAULT_DEID_SUBJECT,
	VAULT_DEID_UNKNOWN,
};
static const enum vault_deid_rule generalized_rules[] = {
	VAULT_DEID_ZIP3, VAULT_DEID_ZIP3_RESTRICTED, VAULT_DEID_YEAR, VAULT_DEID_AGE90,
};

/* The per-rule counts of the head row (JSON {rule: n}) plus st, as text. */
static char *stats_merge(const char *old, const struct vault_deid_stats *st)
{
	json_t *o = old != NULL ? json_loads(old, 0, NULL) : NULL;
	char *out = NULL;

	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	for (int r = 0; o != NULL && r < VAULT_DEID__COUNT; r++) {
		const char *name = vault_deid_rule_name((enum vault_deid_rule)r);
		json_int_t have = json_integer_value(json_object_get(o, name));

		if (json_object_set_new(o, name, json_integer(have + (json_int_t)st->n[r])) != 0)
			goto out;
	}
	out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
out:
	json_decref(o);
	return out;
}

static json_t *rule_counts(json_t *all, const enum vault_deid_rule *rules, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < n; i++) {
		const char *name = vault_deid_rule_name(rules[i]);

		json_object_set_new(o, name, json_integer(json_integer_value(json_object_get(all,
		    name))));
	}
	return o;
}

static json_t *time_or_null(int64_t ms)
{
	char buf[32];

	if (ms <= 0)
		return json_null();
	util_time_fmt(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* The export as the API shows it; job_state: the job's state ("" unknown). */
static json_t *export_json(const struct store_export *e, const char *job_state)
{
	json_t *all = json_loads(e->dropped != NULL ? e->dropped : "{}", 0, NULL), *o;
	const char *state = e->state;

	if ((strcmp(state, "queued") == 0 || strcmp(state, "running") == 0) &&
	    (strcmp(job_state, "failed") == 0 || strcmp(job_state, "cancelled") == 0))
		state = job_state;
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o, "
	    "s:o, s:o, s:s}",
	    "id", e->id, "collection", e->collection, "mode", e->mode, "pseudonym", e->pseudonym,
	    "job", e->job_id, "state", state, "rows", (json_int_t)e->rows,
	    "chunks", (json_int_t)e->chunks, "bytes", (json_int_t)e->bytes,
	    "dropped_fields", rule_counts(all, dropped_rules,
		sizeof(dropped_rules) / sizeof(dropped_rules[0])),
	    "generalized_fields", rule_counts(all, generalized_rules,
		sizeof(generalized_rules) / sizeof(generalized_rules[0])),
	    "kept_fields", (json_int_t)json_integer_value(json_object_get(all, "kept")),
	    "created_at", time_or_null(e->created_ms), "expires_at", time_or_null(e->expires_ms),
	    "finished_at", time_or_null(e->finished_ms),
	    "sha256", e->sha256[0] != '\0' ? json_string(e->sha256) : json_null(),
	    "created_by", e->created_by);
	json_decref(all);
	return o;
}

static bool allowed_quiet(const struct vault_caller *who, const char *action,
    const char *collection)
{
	return vault_decide_quiet(who, action, collection);
}

/* Exporters of the collection and security officers see an export. */
static bool may_see(const struct vault_caller *who, const char *collection)
{
	return allowed_quiet(who, "records.export", collection) ||
	    allowed_quiet(who, "access.approve", NULL);
}

/* ---- create ---- */

struct create_ctx {
	struct keys *keys;
	struct store_export e;
	vault_done_fn done;
	void *arg;
	char *detail;
};

static enum pv_rc create_fn(struct store_tx *tx, void *arg)
{
	struct create_ctx *c = arg;
	enum pv_rc rc;

	/* the KEK the chunks are sealed under exists once the head row does
	 * (a key made in a step's own transaction is not usable before it
	 * commits) */
	if ((rc = keys_kek_ensure_tx(c->keys, tx, STORE_EXPORT_KEK)) != PV_OK)
		return rc;
	return store_export_put(tx, &c->e);
}

static void create_done(enum pv_rc rc, void *arg)
{
	struct create_ctx *c = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK)
		vault_answer_fail(&a, rc == PV_E_AUDIT ? PV_E_AUDIT : rc, NULL);
	else if ((a.body = json_pack("{s:s, s:s}", "job", c->e.job_id, "export", c->e.id)) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
	vault_answer_send(&a, c->done, c->arg);
	free(c->detail);
	free(c);
}

static int count_cb(const char *id, void *arg)
{
	(void)id;
	(*(int64_t *)arg)++;
	return 0;
}

void vault_export_create(struct vault_export *ve, const struct vault_caller *who,
    const char *collection, json_t *body, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ve->v;
	struct vault_answer a;
	const struct vault_collection *c = NULL;
	char res[EXPORT_RESOURCE_MAX], job[UTIL_ID_MAX] = "", id[UTIL_ID_MAX] = "";
	struct create_ctx *cc = NULL;
	struct audit_event ev;
	json_t *params = NULL, *val;
	char *ptext = NULL;
	const char *k, *msg = NULL;
	bool pseudonym = false, have_mode = false;
	int64_t total = 0, now = util_now_ms();
	enum pv_rc rc;

	vault_answer_init(&a);
	snprintf(res, sizeof(res), "collections/%s/export",
	    vault_name_valid(collection) ? collection : "(invalid)");
	if ((rc = vault_decide(v, who, "export.create", res, "records.export", collection, NULL,
	    &a)) != PV_OK)
		goto out;
	rc = PV_OK;
	json_object_foreach(body, k, val) {
		if (strcmp(k, "mode") == 0 && json_is_string(val) &&
		    strcmp(json_string_value(val), MODE) == 0)
			have_mode = true;
		else if (strcmp(k, "pseudonym") == 0 && json_is_boolean(val))
			pseudonym = json_is_true(val);
		else
			rc = PV_E_INVALID;
	}
	if (rc != PV_OK || !have_mode) {
		rc = vault_fail_audited(v, who, "export.create", res, NULL, PV_E_INVALID,
		    "the body must be {\"mode\":\"safe_harbor\"} with an optional "
		    "\"pseudonym\":true|false (safe_harbor is the one mode)", &a);
		goto out;
	}
	if ((rc = vault_coll_get(v, collection, &c)) != PV_OK) {
		rc = vault_fail_audited(v, who, "export.create", res, NULL, rc,
		    rc == PV_E_NOTFOUND ? "no such collection" : NULL, &a);
		goto out;
	}
	if (ve->jobs == NULL) {
		rc = PV_E_UNAVAILABLE;
		goto out;
	}
	STORE_READ(v->st, rc, store_record_scan(tx, c->name, "", 0, count_cb, &total));
	if (rc != PV_OK)
		goto out;
	if ((rc = util_id_new("exp", id)) != PV_OK)
		goto out;
	params = json_pack("{s:s, s:s, s:b, s:I}", "export", id, "collection", c->name,
	    "pseudonym", pseudonym, "at_ms", (json_int_t)now);
	if (params == NULL || (ptext = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = jobs_enqueue(ve->jobs, who->actor, KIND_NAME, ptext, total, job)) != PV_OK)
		goto out;
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(cc->e.id, id, sizeof(cc->e.id));
	util_strlcpy(cc->e.collection, c->name, sizeof(cc->e.collection));
	util_strlcpy(cc->e.job_id, job, sizeof(cc->e.job_id));
	util_strlcpy(cc->e.state, "queued", sizeof(cc->e.state));
	util_strlcpy(cc->e.mode, MODE, sizeof(cc->e.mode));
	cc->e.pseudonym = pseudonym;
	util_strlcpy(cc->e.created_by, who->actor->user_id != NULL ? who->actor->user_id :
	    "system", sizeof(cc->e.created_by));
	cc->e.created_ms = now;
	cc->e.expires_ms = now + ve->keep_s * 1000;
	cc->e.dropped = NULL;
	cc->keys = v->keys;
	cc->done = done;
	cc->arg = arg;
	{
		json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I}", "export", id,
		    "collection", c->name, "job", job, "mode", MODE, "pseudonym", pseudonym,
		    "records", (json_int_t)total, "keep_s", (json_int_t)ve->keep_s);

		cc->detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
	}
	if (cc->detail == NULL) {
		free(cc);
		cc = NULL;
		rc = PV_E_NOMEM;
		goto out;
	}
	export_resource(res, sizeof(res), id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "export.create";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = cc->detail;
	/* the head row and its entry commit together; the answer leaves once
	 * they are durable (the job finds no row until then: kind_step) */
	if ((rc = audit_submit(v->audit, &ev, create_fn, cc, COMMIT_REQUEST, create_done, cc)) ==
	    PV_OK) {
		json_decref(params);
		free(ptext);
		return;
	}
	log_warn("export: %s queued as job %s, its head row was not submitted (%s)", id, job,
	    pv_rc_name(rc));
	free(cc->detail);
	free(cc);
	rc = vault_answer_fail(&a, PV_E_AUDIT, msg);
out:
	json_decref(params);
	free(ptext);
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- the job kind ---- */

struct idl {
	char id[BATCH][STORE_ID_MAX];
	size_t n;
};

static int idl_cb(const char *id, void *arg)
{
	struct idl *l = arg;

	if (l->n < BATCH)
		util_strlcpy(l->id[l->n++], id, STORE_ID_MAX);
	return 0;
}

/* The export's bytes are PHI: a buffer that held them is wiped when it
 * grows and when it is freed (util_buf's wipe). */
static enum pv_rc buf_put(struct util_buf *b, const char *s, size_t n)
{
	b->wipe = true;
	util_buf_put(b, s, n);
	return b->failed ? PV_E_NOMEM : PV_OK;
}

/* One record into one line of b. *skip: nothing to write (shredded). */
static enum pv_rc record_line(struct vault_ctx *v, struct store_tx *tx,
    const struct vault_collection *c, const char *id, int64_t at_ms, bool pseudonym,
    struct vault_deid_stats *st, struct util_buf *b, bool *skip)
{
	struct store_record r;
	struct vault_subject_env se;
	json_t *fields = NULL, *out = NULL;
	char ps[VAULT_PSEUDONYM_LEN + 1];
	char *line = NULL;
	enum pv_rc rc;

	*skip = false;
	memset(&r, 0, sizeof(r));
	rc = vault_record_fetch(tx, c->name, id, &r, &se);
	if (rc == PV_E_NOTFOUND || rc == PV_E_SUBJECT_SHREDDED) {
		*skip = true;
		return PV_OK;
	}
	if (rc != PV_OK)
		return rc;
	if (r.deleted_ms != 0) {
		*skip = true;
		goto out;
	}
	if ((rc = vault_record_open_env(v->keys, &r, &se, &fields)) != PV_OK) {
		if (rc == PV_E_NOTFOUND || rc == PV_E_SUBJECT_SHREDDED) {
			*skip = true;
			rc = PV_OK;
		}
		goto out;
	}
	if ((rc = vault_deid_record(c, fields, at_ms, &out, st)) != PV_OK)
		goto out;
	if (pseudonym && se.linked) {
		if ((rc = vault_deid_pseudonym(v->keys, se.ref, ps)) != PV_OK)
			goto out;
		if (json_object_set_new(out, "_pseudonym", json_string(ps)) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	if ((line = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = buf_put(b, line, strlen(line))) == PV_OK)
		rc = buf_put(b, "\n", 1);
out:
	if (line != NULL) {
		vault_wipe(line, strlen(line));
		free(line);
	}
	json_decref(out);
	json_decref(fields);
	store_record_clear(&r);
	return rc;
}

/* Seal b as chunk e->chunks of e and write it. */
static enum pv_rc chunk_write(struct vault_ctx *v, struct store_tx *tx, struct store_export *e,
    const struct util_buf *b, int64_t rows)
{
	struct store_export_chunk ch;
	struct keys_envelope env;
	char aad[160];
	size_t aadlen = chunk_aad(e->id, e->chunks, aad, sizeof(aad));
	enum pv_rc rc;

	memset(&ch, 0, sizeof(ch));
	if (aadlen == 0)
		return PV_E_INVALID;
	if ((ch.ciphertext = malloc(b->len + CRYPTO_BOX_OVERHEAD)) == NULL)
		return PV_E_NOMEM;
	rc = keys_envelope_seal(v->keys, STORE_EXPORT_KEK, (const uint8_t *)aad, aadlen,
	    (const uint8_t *)b->p, b->len, ch.ciphertext, &env);
	if (rc != PV_OK)
		goto out;
	util_strlcpy(ch.export_id, e->id, sizeof(ch.export_id));
	ch.idx = e->chunks;
	ch.rows = rows;
	util_strlcpy(ch.kek_name, env.kek_name, sizeof(ch.kek_name));
	ch.kek_version = env.kek_version;
	ch.wrapped_dek = env.wrapped_dek;
	ch.wrapped_dek_len = sizeof(env.wrapped_dek);
	ch.ciphertext_len = b->len + CRYPTO_BOX_OVERHEAD;
	if ((rc = store_export_chunk_put(tx, &ch)) != PV_OK)
		goto out;
	e->chunks++;
	e->rows += rows;
	e->bytes += (int64_t)b->len;
out:
	free(ch.ciphertext);
	return rc;
}

/* Open chunk idx of e into *pt (malloc'd, wipe and free; *ptlen bytes). */
static enum pv_rc chunk_open(struct vault_ctx *v, struct store_tx *tx, const char *export_id,
    int64_t idx, uint8_t **pt, size_t *ptlen)
{
	struct store_export_chunk ch;
	struct keys_envelope env;
	char aad[160];
	size_t aadlen = chunk_aad(export_id, idx, aad, sizeof(aad));
	uint8_t *p = NULL;
	enum pv_rc rc;

	memset(&ch, 0, sizeof(ch));
	if (aadlen == 0)
		return PV_E_INVALID;
	if ((rc = store_export_chunk_get(tx, export_id, idx, &ch)) != PV_OK)
		return rc;
	if (ch.ciphertext_len < CRYPTO_BOX_OVERHEAD ||
	    ch.wrapped_dek_len != KEYS_WRAPPED_DEK_LEN) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	memset(&env, 0, sizeof(env));
	util_strlcpy(env.kek_name, ch.kek_name, sizeof(env.kek_name));
	env.kek_version = ch.kek_version;
	memcpy(env.wrapped_dek, ch.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	if ((p = malloc(ch.ciphertext_len - CRYPTO_BOX_OVERHEAD + 1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = keys_envelope_open(v->keys, &env, (const uint8_t *)aad, aadlen, ch.ciphertext,
	    ch.ciphertext_len, p);
	if (rc != PV_OK) {
		free(p);
		goto out;
	}
	*pt = p;
	*ptlen = ch.ciphertext_len - CRYPTO_BOX_OVERHEAD;
out:
	store_export_chunk_clear(&ch);
	return rc;
}

/* SHA-256 of the whole file, chunk by chunk, into e->sha256. */
static enum pv_rc file_hash(struct vault_ctx *v, struct store_tx *tx, struct store_export *e)
{
	struct crypto_sha256_stream *h = NULL;
	uint8_t md[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	if ((rc = crypto_sha256_begin(&h)) != PV_OK)
		return rc;
	for (int64_t i = 0; i < e->chunks; i++) {
		uint8_t *pt = NULL;
		size_t n = 0;

		if ((rc = chunk_open(v, tx, e->id, i, &pt, &n)) != PV_OK)
			goto fail;
		rc = crypto_sha256_update(h, pt, n);
		vault_wipe(pt, n);
		free(pt);
		if (rc != PV_OK)
			goto fail;
	}
	if ((rc = crypto_sha256_end(h, md)) != PV_OK)
		return rc;
	util_hex_encode(md, sizeof(md), e->sha256);
	return PV_OK;
fail:
	crypto_sha256_free(h);
	return rc;
}

static enum pv_rc kind_step(const struct jobs_step_ctx *ctx, const char *cursor,
    struct jobs_step_out *out)
{
	struct vault_export *ve = ctx->kind_arg;
	struct vault_ctx *v = ve->v;
	json_t *p = json_loads(ctx->params, 0, NULL);
	const struct vault_collection *c = NULL;
	struct store_export e;
	struct vault_deid_stats st;
	struct idl *ids = NULL;
	struct util_buf b = { 0 };
	char last[STORE_ID_MAX] = "";
	const char *id, *coll;
	char *merged = NULL;
	int64_t at_ms, rows = 0;
	bool pseudonym, full = false;
	size_t i;
	enum pv_rc rc;

	memset(&e, 0, sizeof(e));
	memset(&st, 0, sizeof(st));
	if (p == NULL || !json_is_string(json_object_get(p, "export")) ||
	    !json_is_string(json_object_get(p, "collection")) ||
	    !json_is_integer(json_object_get(p, "at_ms")) || cursor == NULL ||
	    strlen(cursor) >= sizeof(last)) {
		rc = PV_E_INVALID;
		goto out;
	}
	id = json_string_value(json_object_get(p, "export"));
	coll = json_string_value(json_object_get(p, "collection"));
	at_ms = json_integer_value(json_object_get(p, "at_ms"));
	pseudonym = json_is_true(json_object_get(p, "pseudonym"));
	util_strlcpy(last, cursor, sizeof(last));
	util_strlcpy(out->cursor, cursor, sizeof(out->cursor));
	rc = store_export_get(ctx->tx, id, &e);
	if (rc == PV_E_NOTFOUND) {
		/* the create's head row is not durable yet (or never will be) */
		rc = PV_OK;
		if (util_now_ms() - at_ms >= MISSING_WAIT_MS) {
			util_strlcpy(out->error_code, "export_missing", sizeof(out->error_code));
			out->finished = true;
		}
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	if (strcmp(e.state, "queued") != 0 && strcmp(e.state, "running") != 0) {
		out->finished = true;   /* deleted or expired meanwhile: nothing more to write */
		goto out;
	}
	if ((rc = vault_coll_get(v, coll, &c)) != PV_OK)
		goto out;
	if ((ids = calloc(1, sizeof(*ids))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = store_record_scan(ctx->tx, coll, last, BATCH, idl_cb, ids)) != PV_OK)
		goto out;
	for (i = 0; i < ids->n; i++) {
		bool skip;

		rc = record_line(v, ctx->tx, c, ids->id[i], at_ms, pseudonym, &st, &b, &skip);
		if (rc == PV_E_FORBIDDEN || rc == PV_E_KEY_REVOKED || rc == PV_E_INTEGRITY) {
			/* under a revoked key or damaged: no line; say which (an ID
			 * and a code, never a value) and go on */
			util_strlcpy(out->error_code, rc == PV_E_INTEGRITY ? "integrity" :
			    "key_revoked", sizeof(out->error_code));
			util_strlcpy(out->error_item, ids->id[i], sizeof(out->error_item));
			skip = true;
			rc = PV_OK;
		}
		if (rc != PV_OK)
			goto out;
		rows += skip ? 0 : 1;
		util_strlcpy(last, ids->id[i], sizeof(last));
		out->done++;
		if (b.len >= CHUNK_TARGET) {
			full = true;
			break;
		}
	}
	if (rows > 0 && (rc = chunk_write(v, ctx->tx, &e, &b, rows)) != PV_OK)
		goto out;
	if ((merged = stats_merge(e.dropped, &st)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	free(e.dropped);
	e.dropped = merged;
	merged = NULL;
	util_strlcpy(e.state, "running", sizeof(e.state));
	if (!full && ids->n < BATCH) {
		if ((rc = file_hash(v, ctx->tx, &e)) != PV_OK)
			goto out;
		util_strlcpy(e.state, "done", sizeof(e.state));
		e.finished_ms = util_now_ms();
		out->finished = true;
	}
	if ((rc = store_export_update(ctx->tx, &e)) != PV_OK)
		goto out;
	util_strlcpy(out->cursor, last, sizeof(out->cursor));
	out->total = -1;
out:
	util_buf_free(&b);
	free(merged);
	free(ids);
	store_export_clear(&e);
	json_decref(p);
	return rc;
}

/* ---- reads: list, show ---- */

struct list_ctx {
	const struct vault_caller *who;
	struct store_tx *tx;
	json_t *arr;
	int64_t now;
	enum pv_rc rc;
};

static const char *job_state_of(struct store_tx *tx, const char *job, char *buf, size_t len)
{
	struct store_job j;

	memset(&j, 0, sizeof(j));
	buf[0] = '\0';
	if (store_job_get(tx, job, &j) == PV_OK)
		util_strlcpy(buf, j.state, len);
	store_job_clear(&j);
	return buf;
}

static int list_cb(const struct store_export *e, void *arg)
{
	struct list_ctx *l = arg;
	char js[STORE_JOB_STATE_MAX];
	json_t *o;

	if (gone(e, l->now) || !may_see(l->who, e->collection))
		return 0;
	o = export_json(e, job_state_of(l->tx, e->job_id, js, sizeof(js)));
	if (o == NULL || json_array_append_new(l->arr, o) != 0) {
		l->rc = PV_E_NOMEM;
		return 1;
	}
	return 0;
}

static enum pv_rc list_tx(struct store_tx *tx, struct list_ctx *l)
{
	enum pv_rc rc;

	l->tx = tx;
	rc = store_export_list(tx, list_cb, l);
	return rc != PV_OK ? rc : l->rc;
}

void vault_export_list(struct vault_export *ve, const struct vault_caller *who,
    vault_done_fn done, void *arg)
{
	struct list_ctx l = { who, NULL, json_array(), util_now_ms(), PV_OK };
	struct vault_answer a;
	enum pv_rc rc;

	vault_answer_init(&a);
	if (l.arr == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	STORE_READ(ve->v->st, rc, list_tx(tx, &l));
	if (rc != PV_OK)
		goto out;
	if ((a.body = json_pack("{s:o}", "exports", l.arr)) == NULL)
		rc = PV_E_NOMEM;
	l.arr = NULL;
out:
	json_decref(l.arr);
	vault_answer_finish(&a, rc, done, arg);
}

struct one_ctx {
	const char *id;
	struct store_export e;
	char job_state[STORE_JOB_STATE_MAX];
};

static enum pv_rc one_tx(struct store_tx *tx, struct one_ctx *o)
{
	enum pv_rc rc = store_export_get(tx, o->id, &o->e);

	if (rc == PV_OK)
		job_state_of(tx, o->e.job_id, o->job_state, sizeof(o->job_state));
	return rc;
}

/* The live export id into o (PV_E_NOTFOUND for a bad ID, a tombstone or
 * one past its expiry). */
static enum pv_rc load_live(struct vault_ctx *v, const char *id, struct one_ctx *o)
{
	enum pv_rc rc;

	memset(o, 0, sizeof(*o));
	o->id = id;
	if (!id_ok(id))
		return PV_E_NOTFOUND;
	STORE_READ(v->st, rc, one_tx(tx, o));
	if (rc == PV_OK && gone(&o->e, util_now_ms()))
		rc = PV_E_NOTFOUND;
	return rc;
}

void vault_export_get(struct vault_export *ve, const struct vault_caller *who, const char *id,
    vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ve->v;
	struct vault_answer a;
	struct one_ctx o;
	char res[EXPORT_RESOURCE_MAX];
	enum pv_rc rc;

	vault_answer_init(&a);
	export_resource(res, sizeof(res), id);
	if ((rc = load_live(v, id, &o)) != PV_OK) {
		if (rc == PV_E_NOTFOUND)
			vault_answer_fail(&a, rc, "no such export");
		goto out;
	}
	if (!may_see(who, o.e.collection)) {
		/* the refusal is recorded by the decision point */
		if ((rc = vault_decide(v, who, "export.read", res, "records.export",
		    o.e.collection, NULL, &a)) != PV_OK)
			goto out;
	}
	if ((a.body = export_json(&o.e, o.job_state)) == NULL)
		rc = PV_E_NOMEM;
out:
	store_export_clear(&o.e);
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- download ---- */

struct file_ctx {
	struct vault_ctx *v;
	const struct store_export *e;
	int64_t from, to;           /* chunk indexes [from, to) */
	struct util_buf b;
};

static enum pv_rc file_tx(struct store_tx *tx, struct file_ctx *f)
{
	enum pv_rc rc = PV_OK;

	for (int64_t i = f->from; rc == PV_OK && i < f->to; i++) {
		uint8_t *pt = NULL;
		size_t n = 0;

		if ((rc = chunk_open(f->v, tx, f->e->id, i, &pt, &n)) != PV_OK)
			break;
		rc = buf_put(&f->b, (const char *)pt, n);
		vault_wipe(pt, n);
		free(pt);
	}
	return rc;
}

struct file_done {
	vault_done_fn done;
	void *arg;
	struct util_buf b;
	char *detail;
};

static void file_done(enum pv_rc rc, void *arg)
{
	struct file_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK) {
		vault_answer_fail(&a, PV_E_AUDIT, NULL);
	} else if ((a.text = malloc(d->b.len + 1)) == NULL) {
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
	} else {
		if (d->b.len > 0)
			memcpy(a.text, d->b.p, d->b.len);
		a.text[d->b.len] = '\0';
		a.text_type = "application/x-ndjson";
	}
	util_buf_free(&d->b);
	vault_answer_send(&a, d->done, d->arg);
	free(d->detail);
	free(d);
}

void vault_export_file(struct vault_export *ve, const struct vault_caller *who, const char *id,
    const char *chunk, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ve->v;
	struct vault_answer a;
	struct one_ctx o;
	struct file_ctx f;
	struct file_done *d = NULL;
	struct audit_event ev;
	char res[EXPORT_RESOURCE_MAX];
	char *end = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&f, 0, sizeof(f));
	export_resource(res, sizeof(res), id);
	if ((rc = load_live(v, id, &o)) != PV_OK) {
		if (rc == PV_E_NOTFOUND)
			rc = vault_fail_audited(v, who, "export.download", res, NULL, rc,
			    "no such export", &a);
		goto out;
	}
	if ((rc = vault_decide(v, who, "export.download", res, "records.export", o.e.collection,
	    NULL, &a)) != PV_OK)
		goto out;
	if (strcmp(o.e.state, "done") != 0) {
		rc = vault_fail_audited(v, who, "export.download", res, NULL, PV_E_STATE,
		    "the export is not finished yet (GET /v1/exports/{id} shows its state)", &a);
		goto out;
	}
	f.v = v;
	f.e = &o.e;
	f.from = 0;
	f.to = o.e.chunks;
	if (chunk != NULL) {
		long long n = strtoll(chunk, &end, 10);

		if (chunk[0] < '0' || chunk[0] > '9' || *end != '\0' || n < 0 || n >= o.e.chunks) {
			rc = vault_fail_audited(v, who, "export.download", res, NULL, PV_E_INVALID,
			    "chunk must be an index from 0 to the export's chunks - 1", &a);
			goto out;
		}
		f.from = n;
		f.to = n + 1;
	}
	STORE_READ(v->st, rc, file_tx(tx, &f));
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "export.download", res, NULL, rc, NULL, &a);
		goto out;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	{
		json_t *dj = json_pack("{s:s, s:s, s:I, s:I, s:I}", "export", o.e.id, "collection",
		    o.e.collection, "chunk", (json_int_t)(chunk != NULL ? f.from : -1),
		    "chunks", (json_int_t)(f.to - f.from), "bytes", (json_int_t)f.b.len);

		d->detail = dj != NULL ? json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(dj);
	}
	if (d->detail == NULL) {
		free(d);
		d = NULL;
		rc = PV_E_NOMEM;
		goto out;
	}
	d->done = done;
	d->arg = arg;
	d->b = f.b;
	memset(&f.b, 0, sizeof(f.b));
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "export.download";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = d->detail;
	/* the file leaves once its entry is durable (fail closed) */
	if ((rc = audit_submit(v->audit, &ev, NULL, NULL, COMMIT_REQUEST, file_done, d)) ==
	    PV_OK) {
		store_export_clear(&o.e);
		return;
	}
	util_buf_free(&d->b);
	free(d->detail);
	free(d);
	rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
out:
	util_buf_free(&f.b);
	store_export_clear(&o.e);
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- delete and expiry ---- */

struct drop_ctx {
	char id[UTIL_ID_MAX];
	const char *state;          /* "deleted" | "expired" */
	int64_t chunks;             /* out: chunks deleted */
	vault_done_fn done;
	void *arg;
	char detail[192];
};

static enum pv_rc drop_fn(struct store_tx *tx, void *arg)
{
	struct drop_ctx *d = arg;
	struct store_export e;
	enum pv_rc rc;

	memset(&e, 0, sizeof(e));
	if ((rc = store_export_get(tx, d->id, &e)) != PV_OK)
		return rc;
	if (strcmp(e.state, "deleted") == 0 || strcmp(e.state, "expired") == 0) {
		rc = PV_E_NOTFOUND;   /* gone meanwhile */
		goto out;
	}
	if ((rc = store_export_chunks_delete(tx, d->id, &d->chunks)) != PV_OK)
		goto out;
	util_strlcpy(e.state, d->state, sizeof(e.state));
	rc = store_export_update(tx, &e);
out:
	store_export_clear(&e);
	return rc;
}

static void delete_done(enum pv_rc rc, void *arg)
{
	struct drop_ctx *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	if (rc != PV_OK)
		vault_answer_fail(&a, rc == PV_E_NOTFOUND ? rc : PV_E_AUDIT,
		    rc == PV_E_NOTFOUND ? "no such export" : NULL);
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_export_delete(struct vault_export *ve, const struct vault_caller *who,
    const char *id, vault_done_fn done, void *arg)
{
	struct vault_ctx *v = ve->v;
	struct vault_answer a;
	struct one_ctx o;
	struct drop_ctx *d = NULL;
	struct audit_event ev;
	char res[EXPORT_RESOURCE_MAX];
	enum pv_rc rc;

	vault_answer_init(&a);
	export_resource(res, sizeof(res), id);
	if ((rc = load_live(v, id, &o)) != PV_OK) {
		if (rc == PV_E_NOTFOUND)
			rc = vault_fail_audited(v, who, "export.delete", res, NULL, rc,
			    "no such export", &a);
		goto out;
	}
	if (!allowed_quiet(who, "access.approve", NULL) &&
	    (rc = vault_decide(v, who, "export.delete", res, "records.export", o.e.collection,
	    NULL, &a)) != PV_OK)
		goto out;
	/* a job still writing stops at its next step (it sees the tombstone);
	 * cancelling it says so in the job list too */
	if (ve->jobs != NULL && (strcmp(o.e.state, "queued") == 0 ||
	    strcmp(o.e.state, "running") == 0))
		(void)jobs_change(ve->jobs, who->actor, o.e.job_id, JOBS_CANCEL);
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(d->id, o.e.id, sizeof(d->id));
	d->state = "deleted";
	d->done = done;
	d->arg = arg;
	snprintf(d->detail, sizeof(d->detail),
	    "{\"chunks\":%lld,\"collection\":\"%s\",\"export\":\"%s\",\"rows\":%lld}",
	    (long long)o.e.chunks, o.e.collection, o.e.id, (long long)o.e.rows);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *who->actor;
	ev.action = "export.delete";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = d->detail;
	if ((rc = audit_submit(v->audit, &ev, drop_fn, d, COMMIT_REQUEST, delete_done, d)) ==
	    PV_OK) {
		store_export_clear(&o.e);
		return;
	}
	free(d);
	rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
out:
	store_export_clear(&o.e);
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- the sweep ---- */

#define SWEEP_MAX 64

struct due {
	char id[SWEEP_MAX][UTIL_ID_MAX];
	char coll[SWEEP_MAX][STORE_EXPORT_COLL_MAX];
	int64_t rows[SWEEP_MAX];
	size_t n;
	int64_t now;
};

static int due_cb(const struct store_export *e, void *arg)
{
	struct due *d = arg;

	if (strcmp(e->state, "deleted") == 0 || strcmp(e->state, "expired") == 0 ||
	    e->expires_ms > d->now)
		return 0;
	util_strlcpy(d->id[d->n], e->id, UTIL_ID_MAX);
	util_strlcpy(d->coll[d->n], e->collection, STORE_EXPORT_COLL_MAX);
	d->rows[d->n] = e->rows;
	return ++d->n >= SWEEP_MAX;
}

enum pv_rc vault_export_sweep(struct vault_ctx *v, int64_t now, size_t *expired)
{
	struct vault_export *ve = v != NULL ? v->exporter : NULL;
	struct due *due;
	enum pv_rc rc;

	if (expired != NULL)
		*expired = 0;
	if (ve == NULL)
		return PV_E_INVALID;
	if ((due = calloc(1, sizeof(*due))) == NULL)
		return PV_E_NOMEM;
	due->now = now;
	STORE_READ(v->st, rc, store_export_list(tx, due_cb, due));
	for (size_t i = 0; rc == PV_OK && i < due->n; i++) {
		struct drop_ctx d;
		struct audit_event ev;
		char res[EXPORT_RESOURCE_MAX];
		enum pv_rc r;

		memset(&d, 0, sizeof(d));
		util_strlcpy(d.id, due->id[i], sizeof(d.id));
		d.state = "expired";
		snprintf(d.detail, sizeof(d.detail),
		    "{\"collection\":\"%s\",\"export\":\"%s\",\"rows\":%lld}", due->coll[i],
		    due->id[i], (long long)due->rows[i]);
		export_resource(res, sizeof(res), due->id[i]);
		memset(&ev, 0, sizeof(ev));
		ev.actor = audit_actor_system();
		ev.action = "export.expire";
		ev.resource = res;
		ev.outcome = AUDIT_ALLOWED;
		ev.detail = d.detail;
		r = audit_commit_at(v->audit, &ev, drop_fn, &d, COMMIT_BACKGROUND);
		if (r == PV_OK && expired != NULL)
			(*expired)++;
		else if (r != PV_OK && r != PV_E_NOTFOUND)
			log_warn("export: %s did not expire (%s); the next sweep retries", due->id[i],
			    pv_rc_name(r));
	}
	free(due);
	return rc;
}

/* the ticker's call, once a second: sweep what expired (injectable clock) */
static void sweep_tick(void *arg)
{
	struct vault_export *ve = arg;

	if (!keys_is_sealed(ve->v->keys))
		(void)vault_export_sweep(ve->v, util_now_ms(), NULL);
}

/* ---- wiring ---- */

enum pv_rc vault_export_install(struct vault_ctx *v, struct jobs_runner *r,
    struct http_server *srv, int64_t keep_s)
{
	struct vault_export *ve;
	enum pv_rc rc;

	if (v == NULL || v->exporter != NULL || keep_s < 1)
		return PV_E_INVALID;
	if ((ve = calloc(1, sizeof(*ve))) == NULL)
		return PV_E_NOMEM;
	ve->v = v;
	ve->jobs = r;
	ve->keep_s = keep_s;
	ve->kind = (struct jobs_kind){ KIND_NAME, kind_step, ve };
	v->exporter = ve;   /* freed by vault_free */
	if (r != NULL && (rc = jobs_kind_register(r, &ve->kind)) != PV_OK)
		return rc;
	if (srv != NULL && (rc = vault_routes_export(srv, ve)) != PV_OK)
		return rc;
	if (srv != NULL)
		return util_ticker_start(&ve->sweeper, sweep_tick, ve);
	return PV_OK;
}

void vault_export_stop(struct vault_ctx *v)
{
	struct vault_export *ve = v != NULL ? v->exporter : NULL;

	if (ve != NULL)
		util_ticker_stop(&ve->sweeper);
}

void vault_export_free(struct vault_ctx *v)
{
	struct vault_export *ve = v != NULL ? v->exporter : NULL;

	if (ve == NULL)
		return;
	vault_export_stop(v);
	free(ve);
	v->exporter = NULL;
}
