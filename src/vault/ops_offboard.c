/*
 * vault/ops_offboard.c: what the return and destruction of PHI at contract
 * end needs of the vault (issue 19 item 3; docs/governance.md "Return and
 * destruction at contract end"; the offboard module drives it).
 *
 * Offline: a store and a keyring unsealed by the calling process (the
 * server is stopped and its data-directory lock held), so there is no
 * vault_ctx, no principal and no decision point: the seal's authority,
 * checked by the caller, is the authorization.
 *
 *  - export: every live record of a collection opened (subject layer
 *    included) and handed to the caller's callback as a fields object; the
 *    plaintext never touches the disk here.
 *  - subjects: every subject shredded in the caller's transaction (what
 *    DELETE /v1/subjects/{s} does, for all of them); refused with
 *    PV_E_LEGAL_HOLD while any subject is under legal hold.
 *  - verify: try to open every record left and count the subject keys
 *    left; after a destruction both must be zero.
 *
 * No value reaches a log line: record IDs and counts only.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

struct idlist {
	char (*id)[STORE_ID_MAX];
	size_t n, cap;
	bool nomem;
};

static int
each_id(const char *id, void *arg)
{
	struct idlist *x = arg;

	if (util_grow(&x->id, &x->cap, x->n, sizeof(*x->id), 256) != 0) {
		x->nomem = true;
		return 1;
	}
	util_strlcpy(x->id[x->n++], id, STORE_ID_MAX);
	return 0;
}

static enum pv_rc
live_ids(struct store *st, const char *collection, struct idlist *ids)
{
	enum pv_rc rc;

	memset(ids, 0, sizeof(*ids));
	STORE_READ(st, rc, store_record_scan(tx, collection, "", 0, each_id, ids));
	if (rc == PV_OK && ids->nomem)
		rc = PV_E_NOMEM;
	return rc;
}

/* Open one record: its fields (the caller's), or the reason it does not open. */
static enum pv_rc
open_one(struct store *st, struct keys *k, const char *collection, const char *id,
    uint32_t *version, json_t **fields)
{
	struct store_record r;
	struct vault_subject_env se;
	enum pv_rc rc;

	memset(&r, 0, sizeof(r));
	memset(&se, 0, sizeof(se));
	STORE_READ(st, rc, vault_record_fetch(tx, collection, id, &r, &se));
	if (rc == PV_OK) {
		*version = r.version;
		rc = vault_record_open_env(k, &r, &se, fields);
	}
	vault_wipe(&se, sizeof(se));
	store_record_clear(&r);
	return rc;
}

enum pv_rc
vault_offboard_export(struct store *st, struct keys *k, const char *collection,
    vault_offboard_cb cb, void *arg, int64_t *exported)
{
	struct idlist ids;
	int64_t n = 0;
	enum pv_rc rc;

	if (st == NULL || k == NULL || collection == NULL || cb == NULL)
		return PV_E_INVALID;
	if ((rc = live_ids(st, collection, &ids)) != PV_OK)
		goto out;
	for (size_t i = 0; i < ids.n; i++) {
		json_t *fields = NULL;
		uint32_t version = 0;

		rc = open_one(st, k, collection, ids.id[i], &version, &fields);
		if (rc == PV_E_SUBJECT_SHREDDED || rc == PV_E_NOTFOUND) {
			rc = PV_OK;   /* shredded meanwhile: not exported */
			continue;
		}
		if (rc != PV_OK) {
			log_error("vault: offboard export: record %s does not open (%s)", ids.id[i],
			    pv_rc_name(rc));
			break;
		}
		rc = cb(collection, ids.id[i], version, fields, arg);
		json_decref(fields);
		if (rc != PV_OK)
			break;
		n++;
	}
out:
	free(ids.id);
	if (rc == PV_OK && exported != NULL)
		*exported = n;
	return rc;
}

struct names {
	char (*name)[STORE_NAME_MAX];
	size_t n, cap;
	bool nomem;
};

static int
each_coll(const struct store_collection *c, void *arg)
{
	struct names *x = arg;

	if (util_grow(&x->name, &x->cap, x->n, sizeof(*x->name), 16) != 0) {
		x->nomem = true;
		return 1;
	}
	util_strlcpy(x->name[x->n++], c->name, STORE_NAME_MAX);
	return 0;
}

enum pv_rc
vault_offboard_collections(struct store *st, char (**names)[STORE_NAME_MAX], size_t *n)
{
	struct names x = { 0 };
	enum pv_rc rc;

	STORE_READ(st, rc, store_collection_list(tx, each_coll, &x));
	if (rc == PV_OK && x.nomem)
		rc = PV_E_NOMEM;
	if (rc != PV_OK) {
		free(x.name);
		return rc;
	}
	*names = x.name;
	*n = x.n;
	return PV_OK;
}

struct refs {
	char (*ref)[STORE_SUBJECT_REF_LEN + 1];
	size_t n, cap;
	bool nomem;
};

static int
each_ref(const char *ref, void *arg)
{
	struct refs *x = arg;

	if (util_grow(&x->ref, &x->cap, x->n, sizeof(*x->ref), 64) != 0) {
		x->nomem = true;
		return 1;
	}
	util_strlcpy(x->ref[x->n++], ref, STORE_SUBJECT_REF_LEN + 1);
	return 0;
}

static enum pv_rc
subject_refs(struct store_tx *tx, struct refs *x)
{
	enum pv_rc rc;

	memset(x, 0, sizeof(*x));
	rc = store_subject_scan(tx, "", 0, each_ref, x);
	if (rc == PV_OK && x->nomem)
		rc = PV_E_NOMEM;
	return rc;
}

enum pv_rc
vault_offboard_shred_subjects_tx(struct store_tx *tx, int64_t now_ms, int64_t *shredded)
{
	struct refs x;
	enum pv_rc rc;

	if ((rc = subject_refs(tx, &x)) != PV_OK)
		goto out;
	/* a legal hold wins over the contract's end: nothing is shredded */
	for (size_t i = 0; i < x.n; i++) {
		struct store_subject s;

		memset(&s, 0, sizeof(s));
		rc = store_subject_get(tx, x.ref[i], &s);
		if (rc == PV_OK && s.hold_ms != 0)
			rc = PV_E_LEGAL_HOLD;
		store_subject_clear(&s);
		if (rc != PV_OK)
			goto out;
	}
	for (size_t i = 0; rc == PV_OK && i < x.n; i++)
		rc = store_subject_shred(tx, x.ref[i], now_ms, NULL, NULL);
out:
	free(x.ref);
	if (rc == PV_OK && shredded != NULL)
		*shredded = (int64_t)x.n;
	return rc;
}

enum pv_rc
vault_offboard_holds(struct store *st, int64_t *held)
{
	struct refs x;
	int64_t n = 0;
	enum pv_rc rc;

	STORE_READ(st, rc, subject_refs(tx, &x));
	for (size_t i = 0; rc == PV_OK && i < x.n; i++) {
		struct store_subject s;

		memset(&s, 0, sizeof(s));
		STORE_READ(st, rc, store_subject_get(tx, x.ref[i], &s));
		if (rc == PV_OK && s.hold_ms != 0)
			n++;
		store_subject_clear(&s);
	}
	free(x.ref);
	if (rc == PV_OK)
		*held = n;
	return rc;
}

enum pv_rc
vault_offboard_verify(struct store *st, struct keys *k, struct vault_offboard_check *out)
{
	struct vault_offboard_check c;
	char (*names)[STORE_NAME_MAX] = NULL;
	struct refs x;
	size_t nn = 0;
	enum pv_rc rc;

	memset(&c, 0, sizeof(c));
	if ((rc = vault_offboard_collections(st, &names, &nn)) != PV_OK)
		return rc;
	for (size_t i = 0; rc == PV_OK && i < nn; i++) {
		struct idlist ids;

		if ((rc = live_ids(st, names[i], &ids)) == PV_OK) {
			for (size_t j = 0; j < ids.n; j++) {
				json_t *fields = NULL;
				uint32_t version = 0;
				enum pv_rc orc = open_one(st, k, names[i], ids.id[j], &version, &fields);

				c.records_tried++;
				if (orc == PV_OK)
					c.records_opened++;
				json_decref(fields);
			}
		}
		free(ids.id);
	}
	free(names);
	if (rc != PV_OK)
		return rc;
	STORE_READ(st, rc, subject_refs(tx, &x));
	if (rc == PV_OK)
		c.subject_keys_left = (int64_t)x.n;
	free(x.ref);
	if (rc == PV_OK)
		*out = c;
	return rc;
}
