/*
 * vault/subject.c: the subject-key level (docs/internals/vault.md
 * "Subjects"). A collection may mark one string field `subject`; a record
 * naming a subject has its KEK-wrapped DEK wrapped once more under that
 * subject's key, so the record opens only while both the collection KEK and
 * the subject key exist. Subjects are known to the store only by their
 * reference, a keyed HMAC of the value.
 *
 * Invariants:
 *  - the subject value never reaches the store, a log or an entry: only
 *    its ref; the MAC input buffer is wiped;
 *  - a subject key is made only if the subject has no tombstone (a
 *    shredded patient never gets a key again: new records for it are
 *    refused with PV_E_SUBJECT_SHREDDED);
 *  - the key bytes stay in the keyring (keys_subject_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define SUBJECT_MAC_PREFIX "phivault:subject:v1|"
#define SUBJECT_KEY_AAD "phivault:subject-key:v1|"
#define SUBJECT_DEK_AAD "phivault:subject-dek:v1|"
#define SUBJECT_VALUE_MAX 4096
#define SUBJECT_AAD_MAX (sizeof(SUBJECT_DEK_AAD) + STORE_SUBJECT_REF_LEN + VAULT_NAME_MAX + \
	STORE_ID_MAX + 16)

enum pv_rc vault_subject_ref(struct keys *k, const char *value,
    char ref[STORE_SUBJECT_REF_LEN + 1])
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	size_t vlen, cap;
	char *in;
	enum pv_rc rc;

	if (value == NULL || (vlen = strlen(value)) == 0 || vlen > SUBJECT_VALUE_MAX)
		return PV_E_INVALID;
	cap = sizeof(SUBJECT_MAC_PREFIX) + vlen;
	if ((in = malloc(cap)) == NULL)
		return PV_E_NOMEM;
	memcpy(in, SUBJECT_MAC_PREFIX, sizeof(SUBJECT_MAC_PREFIX) - 1);
	memcpy(in + sizeof(SUBJECT_MAC_PREFIX) - 1, value, vlen);
	rc = keys_mac(k, VAULT_KEK_SUBJECTS, "ref", (const uint8_t *)in, cap - 1, mac);
	vault_wipe(in, cap);
	free(in);
	if (rc != PV_OK)
		return rc;
	util_hex_encode(mac, sizeof(mac), ref);
	return PV_OK;
}

static size_t key_aad(const char *ref, char *buf, size_t len)
{
	int n = snprintf(buf, len, SUBJECT_KEY_AAD "%s", ref);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

enum pv_rc vault_subject_env_from(const struct store_subject *s, struct vault_subject_env *se)
{
	struct vault_subject_env e;

	memset(&e, 0, sizeof(e));
	if (s->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN ||
	    s->ciphertext_len != KEYS_SUBJECT_KEY_CT_LEN ||
	    strlen(s->kek_name) >= sizeof(e.sk.env.kek_name) || strlen(s->ref) != STORE_SUBJECT_REF_LEN)
		return PV_E_INTEGRITY;
	e.linked = true;
	memcpy(e.ref, s->ref, sizeof(e.ref));
	util_strlcpy(e.sk.env.kek_name, s->kek_name, sizeof(e.sk.env.kek_name));
	e.sk.env.kek_version = s->kek_version;
	memcpy(e.sk.env.wrapped_dek, s->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	memcpy(e.sk.ct, s->ciphertext, KEYS_SUBJECT_KEY_CT_LEN);
	*se = e;
	return PV_OK;
}

/* ---- making a subject's key (in the write's own transaction) ---- */

enum pv_rc vault_subject_put_row_tx(struct store_tx *tx, const struct store_subject *row)
{
	int64_t ms;
	enum pv_rc rc = store_subject_tombstone_get(tx, row->ref, &ms);

	if (rc == PV_OK)
		return PV_E_SUBJECT_SHREDDED;
	if (rc != PV_E_NOTFOUND)
		return rc;
	rc = store_subject_put(tx, row);
	return rc == PV_E_CONFLICT ? PV_OK : rc;   /* another write made it first */
}

static enum pv_rc subject_read(struct store_tx *tx, const char *ref, struct vault_subject_env *out)
{
	struct store_subject s;
	int64_t ms;
	enum pv_rc rc;

	memset(&s, 0, sizeof(s));
	rc = store_subject_get(tx, ref, &s);
	if (rc == PV_OK)
		rc = vault_subject_env_from(&s, out);
	else if (rc == PV_E_NOTFOUND && store_subject_tombstone_get(tx, ref, &ms) == PV_OK)
		rc = PV_E_SUBJECT_SHREDDED;
	store_subject_clear(&s);
	return rc;
}

enum pv_rc vault_subject_for_write(struct vault_ctx *v, const char *ref,
    struct vault_subject_env *out, struct store_subject **row)
{
	struct keys_subject_key sk;
	struct store_subject *r;
	char aad[sizeof(SUBJECT_KEY_AAD) + STORE_SUBJECT_REF_LEN];
	size_t aadlen = key_aad(ref, aad, sizeof(aad));
	enum pv_rc rc;

	*row = NULL;
	STORE_READ(v->st, rc, subject_read(tx, ref, out));
	if (rc != PV_E_NOTFOUND)
		return rc;
	if (aadlen == 0)
		return PV_E_INVALID;
	if ((rc = keys_subject_key_new(v->keys, VAULT_KEK_SUBJECTS, (const uint8_t *)aad, aadlen,
	    &sk)) != PV_OK)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->wrapped_dek = malloc(KEYS_WRAPPED_DEK_LEN)) == NULL ||
	    (r->ciphertext = malloc(KEYS_SUBJECT_KEY_CT_LEN)) == NULL) {
		if (r != NULL)
			free(r->wrapped_dek);
		free(r);
		vault_wipe(&sk, sizeof(sk));
		return PV_E_NOMEM;
	}
	util_strlcpy(r->ref, ref, sizeof(r->ref));
	util_strlcpy(r->kek_name, sk.env.kek_name, sizeof(r->kek_name));
	r->kek_version = sk.env.kek_version;
	memcpy(r->wrapped_dek, sk.env.wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	r->wrapped_dek_len = KEYS_WRAPPED_DEK_LEN;
	memcpy(r->ciphertext, sk.ct, KEYS_SUBJECT_KEY_CT_LEN);
	r->ciphertext_len = KEYS_SUBJECT_KEY_CT_LEN;
	r->created_ms = util_now_ms();
	vault_wipe(&sk, sizeof(sk));
	if ((rc = vault_subject_env_from(r, out)) != PV_OK) {
		store_subject_clear(r);
		free(r);
		return rc;
	}
	*row = r;
	return PV_OK;
}

static bool env_same(const struct vault_subject_env *a, const struct vault_subject_env *b)
{
	return memcmp(a->sk.ct, b->sk.ct, sizeof(a->sk.ct)) == 0 &&
	    memcmp(a->sk.env.wrapped_dek, b->sk.env.wrapped_dek, sizeof(a->sk.env.wrapped_dek)) == 0;
}

enum pv_rc vault_subject_put_tx(struct store_tx *tx, struct vault_write_job *j)
{
	struct vault_subject_env want;
	struct store_subject s;
	uint8_t inner[KEYS_WRAPPED_DEK_LEN], *w = NULL;
	size_t wlen = 0;
	int64_t ms;
	enum pv_rc rc = store_subject_tombstone_get(tx, j->new_subject->ref, &ms);

	if (rc == PV_OK)
		return PV_E_SUBJECT_SHREDDED;
	if (rc != PV_E_NOTFOUND)
		return rc;
	memset(&want, 0, sizeof(want));
	memset(&s, 0, sizeof(s));
	rc = store_subject_put(tx, j->new_subject);
	if (rc == PV_OK) {
		rc = vault_subject_env_from(j->new_subject, &want);
	} else if (rc == PV_E_CONFLICT) {
		/* another write made it first (a record committed meanwhile, or an
		 * earlier item of this batch): the stored key is the one */
		rc = store_subject_get(tx, j->new_subject->ref, &s);
		if (rc == PV_OK)
			rc = vault_subject_env_from(&s, &want);
		store_subject_clear(&s);
	}
	if (rc == PV_OK && !env_same(&want, &j->cur_se)) {
		rc = vault_subject_dek_peel(j->keys, &j->rec, &j->cur_se, inner);
		if (rc == PV_OK)
			rc = vault_subject_dek_wrap(j->keys, j->rec.collection, j->rec.id,
			    j->rec.version, &want, inner, &w, &wlen);
		vault_wipe(inner, sizeof(inner));
		if (rc == PV_OK) {
			free(j->rec.wrapped_dek);
			j->rec.wrapped_dek = w;
			j->rec.wrapped_dek_len = wlen;
			j->cur_se = want;
		}
	}
	vault_wipe(&want, sizeof(want));
	return rc;
}

/* ---- loading and opening a record with its subject ---- */

enum pv_rc vault_record_fetch(struct store_tx *tx, const char *collection, const char *id,
    struct store_record *r, struct vault_subject_env *se)
{
	char ref[STORE_SUBJECT_REF_LEN + 1];
	enum pv_rc rc;

	memset(se, 0, sizeof(*se));
	if ((rc = store_record_get(tx, collection, id, r)) != PV_OK)
		return rc;
	rc = store_subject_of_record(tx, collection, id, ref);
	if (rc == PV_E_NOTFOUND)
		return PV_OK;   /* no subject: an ordinary record */
	if (rc == PV_OK) {
		rc = subject_read(tx, ref, se);
		/* a record shredded on its own, its subject gone for another
		 * reason, is simply shredded */
		if (rc == PV_E_NOTFOUND && r->deleted_ms != 0)
			rc = PV_OK;
		else if (rc == PV_E_NOTFOUND)
			rc = PV_E_INTEGRITY;
	}
	if (rc != PV_OK)
		store_record_clear(r);
	return rc;
}

static size_t dek_aad(const char *ref, const char *collection, const char *id,
    uint32_t version, char *buf, size_t len)
{
	int n = snprintf(buf, len, SUBJECT_DEK_AAD "%s|%s|%s|%u", ref, collection, id, version);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

enum pv_rc vault_subject_dek_peel(struct keys *k, const struct store_record *r,
    const struct vault_subject_env *se, uint8_t inner[KEYS_WRAPPED_DEK_LEN])
{
	char kaad[sizeof(SUBJECT_KEY_AAD) + STORE_SUBJECT_REF_LEN], waad[SUBJECT_AAD_MAX];
	size_t klen, wlen;
	enum pv_rc rc;

	if (se == NULL || !se->linked) {
		if (r->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN)
			return PV_E_INTEGRITY;   /* e.g. a subject record opened without its key */
		memcpy(inner, r->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
		return PV_OK;
	}
	if (r->wrapped_dek_len != KEYS_WRAPPED_DEK_LEN + CRYPTO_BOX_OVERHEAD ||
	    (klen = key_aad(se->ref, kaad, sizeof(kaad))) == 0 ||
	    (wlen = dek_aad(se->ref, r->collection, r->id, r->version, waad, sizeof(waad))) == 0)
		return PV_E_INTEGRITY;
	rc = keys_subject_unwrap(k, &se->sk, (const uint8_t *)kaad, klen, (const uint8_t *)waad,
	    wlen, r->wrapped_dek, r->wrapped_dek_len, inner);
	if (rc == PV_E_FORBIDDEN)
		rc = PV_E_KEY_REVOKED;   /* the subjects KEK version was revoked */
	return rc;
}

enum pv_rc vault_subject_dek_wrap(struct keys *k, const char *collection, const char *id,
    uint32_t version, const struct vault_subject_env *se,
    const uint8_t inner[KEYS_WRAPPED_DEK_LEN], uint8_t **out, size_t *outlen)
{
	char kaad[sizeof(SUBJECT_KEY_AAD) + STORE_SUBJECT_REF_LEN], waad[SUBJECT_AAD_MAX];
	size_t klen, wlen;
	uint8_t *w;
	enum pv_rc rc;

	if ((klen = key_aad(se->ref, kaad, sizeof(kaad))) == 0 ||
	    (wlen = dek_aad(se->ref, collection, id, version, waad, sizeof(waad))) == 0)
		return PV_E_INVALID;
	if ((w = malloc(KEYS_WRAPPED_DEK_LEN + CRYPTO_BOX_OVERHEAD)) == NULL)
		return PV_E_NOMEM;
	rc = keys_subject_wrap(k, &se->sk, (const uint8_t *)kaad, klen, (const uint8_t *)waad, wlen,
	    inner, KEYS_WRAPPED_DEK_LEN, w);
	if (rc != PV_OK) {
		free(w);
		return rc == PV_E_FORBIDDEN ? PV_E_KEY_REVOKED : rc;
	}
	*out = w;
	*outlen = KEYS_WRAPPED_DEK_LEN + CRYPTO_BOX_OVERHEAD;
	return PV_OK;
}

/* ---- sealing a record for a write job ---- */

enum pv_rc vault_record_seal_job(struct vault_ctx *v, const struct vault_collection *c,
    const char *id, uint32_t version, json_t *fields, struct vault_write_job *j)
{
	const struct vault_field *sf = NULL;
	struct vault_subject_env se;
	const char *value;
	enum pv_rc rc;

	for (size_t i = 0; i < c->nfields; i++)
		if (c->fields[i].subject)
			sf = &c->fields[i];
	memset(&se, 0, sizeof(se));
	j->subject_link = sf != NULL;
	j->subject_ref[0] = '\0';
	value = sf != NULL ? json_string_value(json_object_get(fields, sf->name)) : NULL;
	if (value != NULL && value[0] != '\0') {
		char ref[STORE_SUBJECT_REF_LEN + 1];

		struct store_subject *row = NULL;

		rc = vault_subject_ref(v->keys, value, ref);
		/* no commit here: a new subject's row goes with the record */
		if (rc == PV_OK)
			rc = vault_subject_for_write(v, ref, &se, &row);
		if (rc != PV_OK)
			return rc;
		memcpy(j->subject_ref, ref, sizeof(ref));
		if (row != NULL) {
			if (j->new_subject != NULL) {
				store_subject_clear(j->new_subject);
				free(j->new_subject);
			}
			j->new_subject = row;
			j->cur_se = se;
			j->keys = v->keys;
		}
	}
	rc = vault_record_seal_env(v->keys, c->name, id, version, fields, &se, &j->rec);
	vault_wipe(&se, sizeof(se));
	return rc;
}
