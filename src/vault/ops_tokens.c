/*
 * vault/ops_tokens.c: tokenization as operations (vault.h "operations"):
 * vault_token_create and vault_token_detokenize (routes.c adapts
 * them to API.md "PHI records").
 *
 *   create       tokens.tokenize:<the spec's collection>    token.create
 *        {"collection","field","value","deterministic":false} -> {"token":"tok_..."}
 *   detokenize   tokens.detokenize:<token's collection>     token.detokenize
 *        {"token"} -> {"value"}                              purpose required
 *
 * Both permissions are scoped to a collection (issue 8 item 7), so the route
 * permission is "authenticated" (restricted sessions are refused there) and
 * the operation asks the decision point (vault_decide): tokenize on the
 * collection named in the body, before
 * the collection is looked up; detokenize on the collection the token was
 * minted in, read from the store (never from the request). A denial is
 * audited (outcome denied, reason missing_permission:<perm>) and answered
 * 403 forbidden. To a caller without tokens.detokenize:* an unknown token is
 * answered exactly like a token of a collection it may not detokenize (403,
 * same message; the entry's reason is missing_permission:tokens.detokenize:*
 * since only a holder of every collection may learn that a token does not
 * exist), so the answer never tells whether a token exists elsewhere. A
 * holder of tokens.detokenize:* gets 404 not_found for an unknown token.
 *
 * The value is validated and normalised with the type of the named field,
 * then stored as an envelope under KEK "tokens" (fresh DEK, AAD
 * "phivault:token:v2|<collection>|<token>", so a value moved to another
 * token, or a token row moved to another collection, does not open; tokens
 * sealed before v2 have AAD "phivault:token:v1|<token>" and are opened with
 * it when the v2 AAD does not verify). Tokens are random IDs by default. A
 * deterministic token is derived from MAC = HMAC(keys_mac("tokens",
 * "det:<type>"), "phivault:token:v2|<collection>|<type>|<canonical value>"):
 * the same value of the same type gets the same token within a collection
 * (joins across its fields) and a different one in every other collection,
 * without the token revealing anything without the key; its first 128 bits
 * in base32 are the token. The MAC is unique in the store, so a second
 * tokenization returns the existing token. Tokens derived before v2 (input
 * "phivault:token:v1|<type>|<canonical value>", the same in every
 * collection) stay valid: they are found by ID as always, and a
 * deterministic tokenization that finds no v2 token reuses the v1 token of
 * the same value if, and only if, that token belongs to the same collection.
 *
 * Detokenization is a PHI read: purpose of use required, and the value is
 * released only after its audit entry is durable. Masking does not apply:
 * tokens.detokenize:<c> is itself the grant to see the value.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "vault/vault_int.h"

#define TOKEN_AAD_PREFIX "phivault:token:v1|"
#define TOKEN_AAD_PREFIX_V2 "phivault:token:v2|"
#define TOKEN_AAD_MAX (sizeof(TOKEN_AAD_PREFIX_V2) + VAULT_NAME_MAX + UTIL_ID_MAX + 1)

struct ensure_job {
	struct keys *keys;
};

static enum pv_rc ensure_fn(struct store_tx *tx, void *arg)
{
	struct ensure_job *j = arg;

	return keys_kek_ensure_tx(j->keys, tx, VAULT_KEK_TOKENS);
}

/* KEK "tokens" is made at serve's start when unsealed (vault_keks_ensure);
 * a vault unsealed later makes it on first use here (the keyring writes
 * through the audit writer, like every runtime write), waiting once. */
static enum pv_rc ensure_tokens_kek(struct vault_ctx *v)
{
	struct ensure_job j = { v->keys };

	return audit_commit(v->audit, NULL, ensure_fn, &j);
}

/* AAD of a token's envelope: v2 binds its collection (collection NULL: the
 * v1 AAD of tokens sealed before). */
static enum pv_rc token_aad(const char *collection, const char *token, char *buf, size_t len,
    size_t *outlen)
{
	int n = collection != NULL ? snprintf(buf, len, TOKEN_AAD_PREFIX_V2 "%s|%s", collection,
	    token) : snprintf(buf, len, TOKEN_AAD_PREFIX "%s", token);

	if (n < 0 || (size_t)n >= len)
		return PV_E_INVALID;
	*outlen = (size_t)n;
	return PV_OK;
}

/* The deterministic MAC of canon: v2 (per collection) when collection is not
 * NULL, else the v1 derivation shared by every collection (legacy lookup),
 * under the MAC key of KEK "tokens" version kv (docs/internals/vault.md
 * "Versioned MAC keys"). */
static enum pv_rc det_mac(struct vault_ctx *v, const char *collection,
    const struct vault_field *f, const char *canon, uint32_t kv, uint8_t mac[STORE_MAC_LEN])
{
	char purpose[32];
	size_t cap = sizeof(TOKEN_AAD_PREFIX_V2) + VAULT_NAME_MAX + 16 + strlen(canon) + 3, len;
	char *in = malloc(cap);
	enum pv_rc rc;
	int n;

	if (in == NULL)
		return PV_E_NOMEM;
	snprintf(purpose, sizeof(purpose), "det:%s", vault_type_name(f->type));
	n = collection != NULL ? snprintf(in, cap, TOKEN_AAD_PREFIX_V2 "%s|%s|%s", collection,
	    vault_type_name(f->type), canon) : snprintf(in, cap, TOKEN_AAD_PREFIX "%s|%s",
	    vault_type_name(f->type), canon);
	if (n < 0 || (size_t)n >= cap) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	len = (size_t)n;
	rc = keys_mac_version(v->keys, VAULT_KEK_TOKENS, kv, purpose, (const uint8_t *)in, len, mac);
out:
	vault_wipe(in, cap);
	free(in);
	return rc;
}

/* "tok_" + lowercase base32 of the MAC's first 16 bytes (the ID shape). */
static void det_token(const uint8_t mac[STORE_MAC_LEN], char out[UTIL_ID_MAX])
{
	char b32[32];

	util_b32_encode(mac, 16, b32, sizeof(b32));
	for (char *p = b32; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	snprintf(out, UTIL_ID_MAX, "tok_%s", b32);
}

#define DET_MAC_VERSIONS_MAX 16

/*
 * The deterministic token of canon in collection c: the v2 MAC under the
 * active version of KEK "tokens" (into mac, *mac_version) and its token;
 * *reused if a token of that value exists under any live version (so the
 * same value keeps its token across rotation), or a v1 token of the same
 * value minted in c (before derivations were per collection): then token is
 * the existing one. PV_E_NOTFOUND: no KEK "tokens" yet.
 */
static enum pv_rc det_lookup(struct vault_ctx *v, const struct vault_collection *c,
    const struct vault_field *f, const char *canon, uint8_t mac[STORE_MAC_LEN],
    uint32_t *mac_version, char token[UTIL_ID_MAX], struct store_token *existing,
    bool *reused)
{
	uint8_t legacy[STORE_MAC_LEN], m[STORE_MAC_LEN];
	uint32_t vers[DET_MAC_VERSIONS_MAX];
	size_t nv = 0;
	enum pv_rc rc;

	*reused = false;
	if ((rc = keys_mac_versions(v->keys, VAULT_KEK_TOKENS, vers, DET_MAC_VERSIONS_MAX, &nv)) !=
	    PV_OK)
		return rc;
	for (size_t i = 0; i < nv; i++) {
		rc = det_mac(v, c->name, f, canon, vers[i], i == 0 ? mac : m);
		if (rc == PV_E_FORBIDDEN && i > 0)
			continue;   /* revoked since the list was read */
		if (rc != PV_OK)
			goto out;
		if (i == 0) {
			det_token(mac, token);
			*mac_version = vers[0];
		}
		STORE_READ(v->st, rc, store_token_get_by_mac(tx, i == 0 ? mac : m, existing));
		if (rc == PV_OK) {
			util_strlcpy(token, existing->token, UTIL_ID_MAX);
			*reused = true;
			goto out;
		}
		if (rc != PV_E_NOTFOUND)
			goto out;
	}
	/* the pre-v2 derivation was always under v1 */
	rc = det_mac(v, NULL, f, canon, 1, legacy);
	if (rc == PV_E_FORBIDDEN || rc == PV_E_NOTFOUND) {
		rc = PV_OK;   /* v1 revoked: no legacy token can be found */
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	STORE_READ(v->st, rc, store_token_get_by_mac(tx, legacy, existing));
	if (rc == PV_OK && strcmp(existing->collection, c->name) == 0) {
		util_strlcpy(token, existing->token, UTIL_ID_MAX);
		*reused = true;
	} else if (rc == PV_OK || rc == PV_E_NOTFOUND) {
		/* none, or another collection's: mint the v2 token */
		store_token_clear(existing);
		memset(existing, 0, sizeof(*existing));
		rc = PV_OK;
	}
out:
	vault_wipe(legacy, sizeof(legacy));
	vault_wipe(m, sizeof(m));
	return rc;
}

struct put_job {
	struct store_token t;
	bool link_only;      /* an existing token: only link it to t.subject_ref */
	/* a subject's first token: its key, made in memory, put in the token's
	 * transaction (no commit of its own before it) */
	struct store_subject *new_subject;
};

static void put_job_free(struct put_job *j)
{
	if (j == NULL)
		return;
	store_token_clear(&j->t);
	if (j->new_subject != NULL) {
		store_subject_clear(j->new_subject);
		free(j->new_subject);
	}
	free(j);
}

/* In the token's transaction: a new subject's key row (unless shredded
 * meanwhile: 410), the patient it is linked to must still exist (a shred
 * that committed first wins: 410), then the row or the link. */
static enum pv_rc put_fn(struct store_tx *tx, void *arg)
{
	struct put_job *j = arg;
	enum pv_rc rc;

	if (j->new_subject != NULL && (rc = vault_subject_put_row_tx(tx, j->new_subject)) != PV_OK)
		return rc;
	if (j->t.subject_ref[0] != '\0') {
		struct store_subject s;

		memset(&s, 0, sizeof(s));
		rc = store_subject_get(tx, j->t.subject_ref, &s);
		store_subject_clear(&s);
		if (rc == PV_E_NOTFOUND)
			return PV_E_SUBJECT_SHREDDED;
		if (rc != PV_OK)
			return rc;
	}
	if (j->link_only)
		return store_token_set_subject(tx, j->t.token, j->t.subject_ref);
	return store_token_put(tx, &j->t);
}

/* The subject of a tokenization: its ref, "" without one, and (the
 * subject's first write) its new key's row in *row, for the token's
 * transaction, like a record's. The collection must name a subject field,
 * whose type validates the value. */
static enum pv_rc token_subject(struct vault_ctx *v, const struct vault_collection *c,
    const char *subject, char ref[STORE_SUBJECT_REF_LEN + 1], struct store_subject **row,
    char *err, size_t errlen)
{
	const struct vault_field *sf = NULL;
	struct vault_subject_env se;
	char *canon;
	json_t *val;
	enum pv_rc rc;

	ref[0] = '\0';
	if (subject == NULL)
		return PV_OK;
	for (size_t i = 0; i < c->nfields; i++)
		if (c->fields[i].subject)
			sf = &c->fields[i];
	if (sf == NULL) {
		util_strlcpy(err, "'subject' needs a collection with a subject field", errlen);
		return PV_E_INVALID;
	}
	if (subject[0] == '\0') {
		util_strlcpy(err, "'subject' must not be empty", errlen);
		return PV_E_INVALID;
	}
	if ((canon = malloc(VAULT_CANON_MAX)) == NULL || (val = json_string(subject)) == NULL) {
		free(canon);
		return PV_E_NOMEM;
	}
	rc = vault_value_normalize(sf, val, canon, VAULT_CANON_MAX, err, errlen);
	json_decref(val);
	vault_wipe(canon, VAULT_CANON_MAX);
	free(canon);
	if (rc != PV_OK) {
		util_strlcpy(err, "'subject' is not a valid value of the subject field", errlen);
		return rc;
	}
	memset(&se, 0, sizeof(se));
	/* the ref of the value as a record's subject field holds it */
	if ((rc = vault_subject_ref(v->keys, subject, ref)) == PV_OK)
		rc = vault_subject_for_write(v, ref, &se, row);
	vault_wipe(&se, sizeof(se));
	if (rc != PV_OK)
		ref[0] = '\0';
	return rc;
}

/* The value as JSON text (integers stay integers): what is sealed. */
static char *value_plaintext(const struct vault_field *f, const char *canon)
{
	json_t *j = f->type == VAULT_TYPE_INTEGER ? json_integer(strtoll(canon, NULL, 10))
	    : json_string(canon);
	char *text = j != NULL ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	json_decref(j);
	return text;
}

static enum pv_rc seal_value(struct vault_ctx *v, const char *collection, const char *token,
    const char *pt, struct store_token *t)
{
	struct keys_envelope env;
	char aad[TOKEN_AAD_MAX];
	size_t aadlen = 0, ptlen = strlen(pt);
	enum pv_rc rc;

	if ((rc = token_aad(collection, token, aad, sizeof(aad), &aadlen)) != PV_OK)
		return rc;
	t->ciphertext = malloc(ptlen + CRYPTO_BOX_OVERHEAD);
	t->wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN);
	if (t->ciphertext == NULL || t->wrapped_dek == NULL)
		return PV_E_NOMEM;
	rc = keys_envelope_seal(v->keys, VAULT_KEK_TOKENS, (const uint8_t *)aad, aadlen,
	    (const uint8_t *)pt, ptlen, t->ciphertext, &env);
	if (rc != PV_OK)
		return rc;
	t->ciphertext_len = ptlen + CRYPTO_BOX_OVERHEAD;
	memcpy(t->wrapped_dek, env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	t->wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	util_strlcpy(t->kek_name, env.kek_name, sizeof(t->kek_name));
	t->kek_version = env.kek_version;
	return PV_OK;
}

/* The answer of a tokenization, on the committer thread once the entry
 * (and a new token's row) is durable. */
struct create_done {
	vault_done_fn done;
	void *arg;
	struct put_job *j;             /* NULL: an existing token, entry only */
	bool deterministic;
	char token[UTIL_ID_MAX];
};

static void create_done(enum pv_rc rc, void *arg)
{
	struct create_done *d = arg;
	struct vault_answer a;

	vault_answer_init(&a);
	/* a concurrent tokenization of the same value won the race: the row
	 * holds the same MAC, hence the same token (det_token of it) */
	if (rc == PV_E_CONFLICT && d->deterministic && d->j != NULL)
		rc = PV_OK;
	if (rc != PV_OK)
		vault_answer_fail(&a, rc, NULL);
	else if ((a.body = json_pack("{s:s}", "token", d->token)) == NULL)
		vault_answer_fail(&a, PV_E_NOMEM, NULL);
	put_job_free(d->j);
	vault_answer_send(&a, d->done, d->arg);
	free(d);
}

void vault_token_create(struct vault_ctx *v, const struct vault_caller *who,
    const struct vault_tokenize_spec *spec, vault_done_fn done, void *arg)
{
	const struct vault_collection *c;
	const struct vault_field *f;
	const char *cname = spec->collection, *fname = spec->field;
	struct put_job *j = NULL;
	struct store_token existing;
	struct vault_answer a;
	struct audit_event ev;
	char err[VAULT_ERR_MAX] = "", resource[96], token[UTIL_ID_MAX] = "";
	char sref[STORE_SUBJECT_REF_LEN + 1] = "";
	char *canon = NULL, *pt = NULL, *detail = NULL;
	bool deterministic = spec->deterministic, reused = false, sent = false;
	struct create_done *cd = NULL;
	enum pv_rc rc;

	vault_answer_init(&a);
	memset(&ev, 0, sizeof(ev));
	memset(&existing, 0, sizeof(existing));
	ev.actor = *who->actor;
	ev.action = "token.create";
	ev.resource = "tokens";
	ev.purpose_of_use = vault_purpose_optional(who);
	/* a request that did not parse is recorded like any failed one */
	if ((rc = spec->invalid) != PV_OK) {
		util_strlcpy(err, spec->invalid_message != NULL ? spec->invalid_message : "",
		    sizeof(err));
		goto fail;
	}
	if (!vault_name_valid(cname)) {
		rc = PV_E_INVALID;
		util_strlcpy(err, "'collection' is not a collection name", sizeof(err));
		goto fail;
	}
	/* before the lookup: no answer tells an unauthorised caller whether the
	 * collection exists */
	if ((rc = vault_decide(v, who, ev.action, ev.resource, "tokens.tokenize", cname, NULL,
	    &a)) != PV_OK)
		goto out;
	if ((rc = vault_coll_get(v, cname, &c)) != PV_OK) {
		if (rc == PV_E_NOTFOUND)
			util_strlcpy(err, "no such collection", sizeof(err));
		goto fail;
	}
	if ((f = vault_collection_field(c, fname)) == NULL) {
		rc = PV_E_INVALID;
		snprintf(err, sizeof(err), "unknown field '%s'", vault_safe_key(fname));
		goto fail;
	}
	if (spec->value == NULL) {
		rc = PV_E_INVALID;
		util_strlcpy(err, "'value' is required", sizeof(err));
		goto fail;
	}
	canon = malloc(VAULT_CANON_MAX);
	if (canon == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = vault_value_normalize(f, spec->value, canon, VAULT_CANON_MAX, err, sizeof(err));
	if (rc != PV_OK)
		goto fail;
	if ((pt = value_plaintext(f, canon)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = token_subject(v, c, spec->subject, sref, &j->new_subject, err, sizeof(err))) !=
	    PV_OK)
		goto fail;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (deterministic) {
			rc = det_lookup(v, c, f, canon, j->t.mac, &j->t.mac_version, token, &existing,
			    &reused);
			if (rc == PV_OK && reused)
				break;
		} else {
			rc = util_id_new("tok", token);
		}
		if (rc == PV_OK)
			rc = seal_value(v, c->name, token, pt, &j->t);
		if (rc != PV_E_NOTFOUND || attempt > 0)
			break;
		/* no KEK "tokens" yet: make it, then try again */
		store_token_clear(&j->t);
		if ((rc = ensure_tokens_kek(v)) != PV_OK)
			break;
	}
	if (rc != PV_OK)
		goto out;
	if (reused && sref[0] != '\0' && strcmp(existing.subject_ref, sref) != 0) {
		if (existing.subject_ref[0] != '\0') {
			rc = PV_E_CONFLICT;
			util_strlcpy(err, "the token of this value is linked to another subject",
			    sizeof(err));
			goto fail;
		}
		/* an existing token of the value, not linked yet: link it */
		store_token_clear(&j->t);
		memset(&j->t, 0, sizeof(j->t));
		util_strlcpy(j->t.token, token, sizeof(j->t.token));
		j->link_only = true;
	}
	util_strlcpy(j->t.subject_ref, sref, sizeof(j->t.subject_ref));
	snprintf(resource, sizeof(resource), "tokens/%s", token);
	ev.resource = resource;
	{
		json_t *d = json_pack("{s:[s], s:s, s:b, s:b}", "fields", f->name, "collection",
		    c->name, "deterministic", deterministic, "existing", reused);

		if (d != NULL && sref[0] != '\0')
			json_object_set_new(d, "subject_linked", json_true());

		detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
	}
	if (detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	cd->done = done;
	cd->arg = arg;
	cd->deterministic = deterministic;
	util_strlcpy(cd->token, token, sizeof(cd->token));
	if (j->link_only) {
		cd->j = j;
		cd->deterministic = false;   /* a lost race to link is a conflict */
		reused = false;   /* a transaction to run: the link */
	} else if (!reused) {
		util_strlcpy(j->t.token, token, sizeof(j->t.token));
		util_strlcpy(j->t.collection, c->name, sizeof(j->t.collection));
		util_strlcpy(j->t.field, f->name, sizeof(j->t.field));
		j->t.deterministic = deterministic;
		j->t.created_ms = util_now_ms();
		cd->j = j;
	}
	/* the token is answered by create_done once the group is durable */
	rc = audit_submit(v->audit, &ev, reused ? NULL : put_fn, reused ? NULL : j,
	    COMMIT_REQUEST, create_done, cd);
	if (rc == PV_OK) {
		if (!reused)
			j = NULL;   /* create_done owns it */
		sent = true;
		goto out;
	}
	free(cd);
	goto out;
fail:
	ev.outcome = AUDIT_ERROR;
	ev.reason = http_rc_code(rc);
	/* held: the refusal leaves once its entry is durable, no thread waits */
	if (audit_record_held(v->audit, &ev, true) != PV_OK)
		rc = vault_answer_fail(&a, PV_E_AUDIT, NULL);
	else
		rc = vault_answer_fail(&a, rc, err[0] != '\0' ? err : NULL);
out:
	if (canon != NULL) {
		vault_wipe(canon, VAULT_CANON_MAX);
		free(canon);
	}
	if (pt != NULL) {
		vault_wipe(pt, strlen(pt));
		free(pt);
	}
	put_job_free(j);
	store_token_clear(&existing);
	free(detail);
	if (sent)
		return;
	vault_answer_finish(&a, rc, done, arg);
}

void vault_token_detokenize(struct vault_ctx *v, const struct vault_caller *who,
    const char *token, vault_done_fn done, void *arg)
{
	struct store_token t;
	struct keys_envelope env;
	struct vault_answer a;
	const char *purpose = NULL;
	char resource[96] = "tokens", aad[TOKEN_AAD_MAX];
	uint8_t *pt = NULL;
	size_t aadlen = 0, ptlen = 0;
	json_t *value = NULL, *body = NULL;
	char *detail = NULL;
	bool sent = false;
	enum pv_rc rc;

	memset(&t, 0, sizeof(t));
	vault_answer_init(&a);
	if (util_id_valid("tok", token))
		snprintf(resource, sizeof(resource), "tokens/%s", token);
	/* The permission is on the token's own collection, as stored. An
	 * unknown token needs tokens.detokenize:* to be told so: to anyone else
	 * it looks like a token of a collection they may not read. */
	rc = PV_E_NOTFOUND;
	if (util_id_valid("tok", token))
		STORE_READ(v->st, rc, store_token_get(tx, token, &t));
	if (rc == PV_E_NOTFOUND && util_id_valid("tok", token)) {
		/* shredded with its patient: 410, decided on its collection */
		int64_t ms = 0;
		enum pv_rc trc;

		STORE_READ(v->st, trc, store_token_tombstone_get(tx, token, t.collection, &ms));
		if (trc == PV_OK)
			rc = PV_E_SUBJECT_SHREDDED;
		else if (trc != PV_E_NOTFOUND)
			rc = trc;
	}
	if (rc != PV_OK && rc != PV_E_NOTFOUND && rc != PV_E_SUBJECT_SHREDDED) {
		rc = vault_fail_audited(v, who, "token.detokenize", resource, NULL, rc, NULL, &a);
		goto out;
	}
	{
		/* one decision: the permission on the token's collection, then
		 * the purpose of use (a PHI read) */
		enum pv_rc drc = vault_decide(v, who, "token.detokenize", resource,
		    "tokens.detokenize", rc != PV_E_NOTFOUND ? t.collection : "*", &purpose, &a);

		if (drc != PV_OK) {
			rc = drc;
			goto out;
		}
	}
	if (rc == PV_OK && (t.wrapped_dek_len != KEYS_WRAPPED_DEK_LEN ||
	    t.ciphertext_len <= CRYPTO_BOX_OVERHEAD))
		rc = PV_E_INTEGRITY;
	if (rc == PV_OK)
		rc = token_aad(t.collection, t.token, aad, sizeof(aad), &aadlen);
	if (rc == PV_OK) {
		ptlen = t.ciphertext_len - CRYPTO_BOX_OVERHEAD;
		pt = malloc(ptlen + 1);
		if (pt == NULL)
			rc = PV_E_NOMEM;
	}
	if (rc == PV_OK) {
		memset(&env, 0, sizeof(env));
		util_strlcpy(env.kek_name, t.kek_name, sizeof(env.kek_name));
		env.kek_version = t.kek_version;
		memcpy(env.wrapped_dek, t.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
		rc = keys_envelope_open(v->keys, &env, (const uint8_t *)aad, aadlen, t.ciphertext,
		    t.ciphertext_len, pt);
		/* sealed before v2: the AAD without the collection */
		if (rc == PV_E_INTEGRITY &&
		    (rc = token_aad(NULL, t.token, aad, sizeof(aad), &aadlen)) == PV_OK)
			rc = keys_envelope_open(v->keys, &env, (const uint8_t *)aad, aadlen,
			    t.ciphertext, t.ciphertext_len, pt);
	}
	if (rc == PV_OK) {
		value = json_loadb((const char *)pt, ptlen, JSON_DECODE_ANY, NULL);
		if (value == NULL)
			rc = PV_E_INTEGRITY;
	}
	if (rc == PV_OK)
		vault_key_used(v, who, t.kek_name, t.kek_version);
	if (rc != PV_OK) {
		rc = vault_fail_audited(v, who, "token.detokenize", resource, purpose, rc,
		    rc == PV_E_NOTFOUND ? "no such token" : rc == PV_E_SUBJECT_SHREDDED ?
		    "the token's subject was shredded" : NULL, &a);
		goto out;
	}
	{
		json_t *d = json_pack("{s:[s], s:s}", "fields", t.field, "collection", t.collection);

		detail = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
	}
	if (detail == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((body = json_pack("{s:O}", "value", value)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* fail closed, as for a record read: answered from the completion once
	 * the entry is durable, no thread waiting for the fsync */
	vault_answer_durable(v, who, "token.detokenize", resource, purpose, detail, body, 0, done,
	    arg);
	sent = true;
out:
	if (pt != NULL) {
		vault_wipe(pt, ptlen + 1);
		free(pt);
	}
	json_decref(value);
	store_token_clear(&t);
	free(detail);
	if (sent)
		return;
	vault_answer_finish(&a, rc, done, arg);
}

/* ---- the re-encryption walk of KEK "tokens" (ops_keys.c tokens_step) ---- */

/* The canonical value a token's sealed JSON holds (value_plaintext's
 * inverse): a string as is, an integer in decimal. */
static enum pv_rc canon_of(const uint8_t *pt, size_t len, char *canon, size_t cap)
{
	json_t *j = json_loadb((const char *)pt, len, JSON_DECODE_ANY, NULL);
	enum pv_rc rc = PV_E_INTEGRITY;
	int n = -1;

	if (json_is_string(j) && json_string_length(j) < cap) {
		memcpy(canon, json_string_value(j), json_string_length(j) + 1);
		rc = PV_OK;
	} else if (json_is_integer(j)) {
		n = snprintf(canon, cap, "%lld", (long long)json_integer_value(j));
		rc = n > 0 && (size_t)n < cap ? PV_OK : PV_E_INTEGRITY;
	}
	json_decref(j);
	return rc;
}

enum pv_rc vault_reencrypt_token(struct vault_ctx *v, struct store_tx *tx,
    const struct store_token *t, uint32_t to_version, bool full, bool *moved)
{
	struct store_token nt;
	struct keys_envelope in, re;
	const struct vault_collection *c = NULL;
	const struct vault_field *f = NULL;
	char aad[TOKEN_AAD_MAX];
	uint8_t *pt = NULL;
	char *canon = NULL;
	size_t aadlen = 0, ptlen = 0;
	bool dek = t->kek_version < to_version, mac = t->deterministic &&
	    t->mac_version < to_version;
	enum pv_rc rc = PV_OK;

	*moved = false;
	if (strcmp(t->kek_name, VAULT_KEK_TOKENS) != 0 || (!dek && !mac))
		return PV_OK;
	if (t->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN || t->ciphertext_len <= CRYPTO_BOX_OVERHEAD)
		return PV_E_INTEGRITY;
	nt = *t;
	nt.wrapped_dek = NULL;
	nt.ciphertext = NULL;
	nt.ciphertext_len = 0;
	memset(&in, 0, sizeof(in));
	util_strlcpy(in.kek_name, t->kek_name, sizeof(in.kek_name));
	in.kek_version = t->kek_version;
	memcpy(in.wrapped_dek, t->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	/* the value is needed for a full re-seal and for a new lookup MAC */
	if (full || mac) {
		ptlen = t->ciphertext_len - CRYPTO_BOX_OVERHEAD;
		if ((pt = malloc(ptlen + 1)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = token_aad(t->collection, t->token, aad, sizeof(aad), &aadlen)) != PV_OK)
			goto out;
		rc = keys_envelope_open(v->keys, &in, (const uint8_t *)aad, aadlen, t->ciphertext,
		    t->ciphertext_len, pt);
		if (rc == PV_E_INTEGRITY &&
		    (rc = token_aad(NULL, t->token, aad, sizeof(aad), &aadlen)) == PV_OK)
			rc = keys_envelope_open(v->keys, &in, (const uint8_t *)aad, aadlen,
			    t->ciphertext, t->ciphertext_len, pt);
		if (rc != PV_OK)
			goto out;
	}
	if (mac) {
		if ((rc = vault_coll_get(v, t->collection, &c)) != PV_OK ||
		    (f = vault_collection_field(c, t->field)) == NULL) {
			rc = PV_E_INTEGRITY;   /* its collection or field is gone */
			goto out;
		}
		if ((canon = malloc(VAULT_CANON_MAX)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = canon_of(pt, ptlen, canon, VAULT_CANON_MAX)) != PV_OK ||
		    (rc = det_mac(v, t->collection, f, canon, to_version, nt.mac)) != PV_OK)
			goto out;
		nt.mac_version = to_version;
	}
	if (full) {
		char *text = NULL;

		/* a fresh DEK under the active version, the v2 AAD */
		if ((text = malloc(ptlen + 1)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		memcpy(text, pt, ptlen);
		text[ptlen] = '\0';
		rc = seal_value(v, t->collection, t->token, text, &nt);
		vault_wipe(text, ptlen + 1);
		free(text);
		if (rc == PV_OK && nt.kek_version < to_version)
			rc = PV_E_CONFLICT;   /* the rotation rolled back: leave it */
		if (rc != PV_OK)
			goto out;
	} else if (dek) {
		if ((rc = keys_dek_rewrap(v->keys, &in, to_version, &re)) != PV_OK)
			goto out;
		if ((nt.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		memcpy(nt.wrapped_dek, re.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
		nt.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
		nt.kek_version = re.kek_version;
	} else {
		/* the MAC alone: the DEK stays as it is */
		if ((nt.wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		memcpy(nt.wrapped_dek, t->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
		nt.wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	}
	rc = store_token_rewrap(tx, &nt, t->kek_version, t->mac_version);
	if (rc == PV_OK)
		*moved = true;
out:
	if (rc == PV_E_CONFLICT)
		rc = PV_OK;   /* changed under us (shredded, moved): nothing to do */
	if (pt != NULL) {
		vault_wipe(pt, ptlen + 1);
		free(pt);
	}
	if (canon != NULL) {
		vault_wipe(canon, VAULT_CANON_MAX);
		free(canon);
	}
	vault_wipe(nt.mac, sizeof(nt.mac));
	free(nt.wrapped_dek);
	if (nt.ciphertext != NULL) {
		vault_wipe(nt.ciphertext, nt.ciphertext_len);
		free(nt.ciphertext);
	}
	return rc;
}
