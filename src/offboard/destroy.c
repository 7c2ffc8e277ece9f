/*
 * offboard/destroy.c: the destruction of PHI at contract end and its
 * certificate (offboard.h "destroy"; NIST SP 800-88 Rev. 1 §2.6 and
 * Table A-8: cryptographic erase, "sanitize the encryption key ... so the
 * data can no longer be recovered").
 *
 * States: CHECKED (confirmation "destroy <vault-id>", no legal hold) ->
 * DESTROYED (one transaction with its offboard.destroy entry: every KEK
 * version erased -- wrapped material overwritten, state revoked, HSM
 * objects C_DestroyObject'ed --, every subject shredded, every secret
 * version destroyed) -> VERIFIED (the keyring's caches dropped, so every
 * key is read again from its row: every live record, every secret version
 * and every listed backup is tried; all must fail) -> CERTIFIED (the
 * signed certificate written). A refusal before DESTROYED changes nothing
 * and a confirmation mismatch records nothing; a failed commit rolls back
 * (but a KEK version tombstoned in this process stays closed here and an
 * HSM object destroyed stays destroyed: fail closed).
 *
 * What survives, on purpose: the root key and the seal (so the vault still
 * opens and shows it holds nothing) and the Ed25519 audit key (wrapped by
 * the root key), so the trail and the certificate stay verifiable.
 *
 * Certificate (signed, OFFBOARD_CERT_TAG):
 *  {"format":1,"kind":"phivault-certificate-of-destruction",
 *   "method":"NIST SP 800-88 Rev. 1 cryptographic erase","vault_id",
 *   "destroyed_at","by":{"authority":"seal","seal"},
 *   "destroyed":{"kek_versions":[{"name","version","provider"}],
 *     "kek_version_count","subjects","secret_versions","hsm_objects"},
 *   "survives":[...],"verification":{"records":{"tried","opened"},
 *     "secrets":{"tried","opened"},"subject_keys_left","kek_material_left",
 *     "tokens":{"kek_versions","revoked"},"backups":[{"file","id",
 *     "restorable","reason"}],"ok"},
 *   "audit_head":{"seq","hash"},"audit_public_key","signature"}
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "crypto/crypto.h"
#include "offboard/offboard_int.h"
#include "secrets/secrets.h"
#include "vault/vault.h"

#define TOKENS_KEK "tokens"

struct kv {
	char name[128];
	uint32_t version;
	char provider[16];
	bool material;      /* wrapped bytes still stored */
	bool revoked;
};

struct kvs {
	struct kv *v;
	size_t n, cap;
	bool nomem;
};

static int
each_kek(const struct store_kek *k, void *arg)
{
	struct kvs *x = arg;

	if (util_grow(&x->v, &x->cap, x->n, sizeof(*x->v), 64) != 0) {
		x->nomem = true;
		return 1;
	}
	memset(&x->v[x->n], 0, sizeof(x->v[x->n]));
	util_strlcpy(x->v[x->n].name, k->name, sizeof(x->v[x->n].name));
	x->v[x->n].version = k->version;
	util_strlcpy(x->v[x->n].provider, k->provider[0] ? k->provider : "soft",
	    sizeof(x->v[x->n].provider));
	x->v[x->n].material = k->wrapped != NULL && k->wrapped_len > 0;
	x->v[x->n].revoked = k->state == STORE_KEK_REVOKED;
	x->n++;
	return 0;
}

static enum pv_rc
kek_list(struct store *st, struct kvs *x)
{
	enum pv_rc rc;

	memset(x, 0, sizeof(*x));
	STORE_READ(st, rc, store_kek_scan(tx, each_kek, x));
	if (rc == PV_OK && x->nomem)
		rc = PV_E_NOMEM;
	return rc;
}

struct destroy_job {
	const struct offboard_ctx *c;
	const struct kvs *keks;
	int64_t now;
	int64_t subjects, secret_versions;
};

static enum pv_rc
destroy_fn(struct store_tx *tx, void *arg)
{
	struct destroy_job *j = arg;
	enum pv_rc rc;

	/* the subjects first: store_subject_shred reads nothing under a KEK */
	if ((rc = vault_offboard_shred_subjects_tx(tx, j->now, &j->subjects)) != PV_OK)
		return rc;
	if ((rc = secrets_offboard_destroy_tx(tx, j->now, &j->secret_versions)) != PV_OK)
		return rc;
	for (size_t i = 0; i < j->keks->n; i++) {
		const struct kv *v = &j->keks->v[i];

		if ((rc = keys_kek_erase_tx(j->c->keys, tx, v->name, v->version)) != PV_OK) {
			log_error("offboard: kek %s v%u not erased: %s", v->name,
			    (unsigned)v->version, pv_rc_name(rc));
			return rc;
		}
	}
	return PV_OK;
}

static int
count_secret(const struct store_secret *s, void *arg)
{
	(*(int64_t *)arg) += s->current_version;
	return 0;
}

static int
count_ref(const char *ref, void *arg)
{
	(void)ref;
	(*(int64_t *)arg)++;
	return 0;
}

/* Every *.pvbak of dir tried with the (reloaded) keyring. */
static enum pv_rc
check_backups(const struct offboard_ctx *c, const char *dir, json_t *arr,
    struct offboard_destroy_result *r)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct dirent *e;
	DIR *d;
	size_t sl = strlen(BACKUP_SUFFIX);
	enum pv_rc rc;

	if (dir == NULL)
		return PV_OK;
	if ((rc = keys_audit_public_key(c->st, pub)) != PV_OK)
		return rc;
	if ((d = opendir(dir)) == NULL) {
		snprintf(r->message, sizeof(r->message), "cannot read the backup directory");
		return PV_E_NOTFOUND;
	}
	while ((e = readdir(d)) != NULL) {
		struct backup_verify_result vr;
		char path[4400];
		size_t l = strlen(e->d_name);
		bool restorable;

		if (e->d_name[0] == '.' || l <= sl || strcmp(e->d_name + l - sl, BACKUP_SUFFIX) != 0)
			continue;
		if (util_path_join(path, sizeof(path), dir, e->d_name) != 0)
			continue;
		memset(&vr, 0, sizeof(vr));
		rc = backup_verify_file(path, pub, c->st, c->keys, -1, &vr);
		restorable = rc == PV_OK && vr.signature_ok && vr.chunks_ok && vr.decrypt_ok &&
		    vr.keys_ok;
		r->backups++;
		if (restorable)
			r->backups_restorable++;
		if (json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s}", "file", e->d_name,
		    "id", vr.id, "restorable", restorable, "reason",
		    rc != PV_OK ? pv_rc_name(rc) : vr.message)) != 0) {
			closedir(d);
			return PV_E_NOMEM;
		}
	}
	closedir(d);
	return PV_OK;
}

enum pv_rc
offboard_destroy(const struct offboard_ctx *c, const struct offboard_destroy_spec *s,
    struct offboard_destroy_result *out)
{
	struct offboard_destroy_result res;
	struct destroy_job j;
	struct kvs keks = { 0 }, after = { 0 };
	struct vault_offboard_check vc;
	char want[OFFBOARD_VAULT_ID_MAX + 16], detail[256], hash[65], now[40];
	char pubhex[2 * CRYPTO_ED25519_PUB_LEN + 1], *text = NULL;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	json_t *cert = NULL, *versions = NULL, *backups = NULL;
	int64_t pre_subjects = 0, pre_secrets = 0, held = 0, seq = 0, hsm = 0, left = 0;
	int64_t tok = 0, tok_revoked = 0;
	enum pv_rc rc;

	memset(&res, 0, sizeof(res));
	memset(&j, 0, sizeof(j));
	if ((rc = offboard_vault_id(c->st, res.vault_id)) != PV_OK)
		goto out;
	snprintf(want, sizeof(want), "destroy %s", res.vault_id);
	if (s->confirm == NULL || strcmp(s->confirm, want) != 0) {
		snprintf(res.message, sizeof(res.message), "the confirmation must be exactly "
		    "\"destroy %s\"", res.vault_id);
		rc = PV_E_INVALID;
		goto out;
	}
	if ((rc = vault_offboard_holds(c->st, &held)) != PV_OK)
		goto out;
	if (held > 0) {
		snprintf(res.message, sizeof(res.message), "%lld subjects are under legal hold: "
		    "release the holds first (nothing was destroyed)", (long long)held);
		rc = PV_E_LEGAL_HOLD;
		goto out;
	}
	if ((rc = kek_list(c->st, &keks)) != PV_OK)
		goto out;
	STORE_READ(c->st, rc, store_subject_scan(tx, "", 0, count_ref, &pre_subjects));
	if (rc == PV_OK)
		STORE_READ(c->st, rc, store_secret_list(tx, "", count_secret, &pre_secrets));
	if (rc != PV_OK)
		goto out;
	for (size_t i = 0; i < keks.n; i++)
		hsm += strcmp(keks.v[i].provider, "pkcs11") == 0;
	/* "subjects" is the writer's own key (the disclosure index): not ours */
	snprintf(detail, sizeof(detail), "{\"kek_versions\":%zu,\"subject_keys\":%lld,"
	    "\"secret_versions\":%lld,\"hsm_objects\":%lld}", keks.n,
	    (long long)pre_subjects, (long long)pre_secrets, (long long)hsm);
	j.c = c;
	j.keks = &keks;
	j.now = util_now_ms();
	{
		struct audit_event ev = {
			.actor = audit_actor_system(),
			.action = "offboard.destroy",
			.resource = "sys/offboard",
			.outcome = AUDIT_ALLOWED,
			.reason = c->seal,
			.detail = detail,
		};

		if ((rc = audit_commit(c->audit, &ev, destroy_fn, &j)) != PV_OK) {
			snprintf(res.message, sizeof(res.message), "the destruction did not commit: %s",
			    pv_rc_name(rc));
			goto out;
		}
	}
	audit_head(c->audit, &seq, hash);
	res.kek_versions = (int64_t)keks.n;
	res.subjects = j.subjects;
	res.secret_versions = j.secret_versions;

	/* VERIFIED: nothing cached, every key read again from its row */
	keys_access_changed(c->keys);
	memset(&vc, 0, sizeof(vc));
	if ((rc = vault_offboard_verify(c->st, c->keys, &vc)) != PV_OK ||
	    (rc = secrets_offboard_verify(c->st, c->keys, &res.secrets_tried,
	    &res.secrets_opened)) != PV_OK || (rc = kek_list(c->st, &after)) != PV_OK)
		goto out;
	res.records_tried = vc.records_tried;
	res.records_opened = vc.records_opened;
	for (size_t i = 0; i < after.n; i++) {
		left += after.v[i].material || !after.v[i].revoked;
		if (strcmp(after.v[i].name, TOKENS_KEK) == 0) {
			tok++;
			tok_revoked += after.v[i].revoked && !after.v[i].material;
		}
	}
	if ((backups = json_array()) == NULL || (versions = json_array()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = check_backups(c, s->backups, backups, &res)) != PV_OK)
		goto out;
	res.verified = res.records_opened == 0 && res.secrets_opened == 0 &&
	    vc.subject_keys_left == 0 && left == 0 && res.backups_restorable == 0;

	/* CERTIFIED */
	for (size_t i = 0; i < keks.n; i++)
		if (json_array_append_new(versions, json_pack("{s:s,s:I,s:s}", "name",
		    keks.v[i].name, "version", (json_int_t)keks.v[i].version, "provider",
		    keks.v[i].provider)) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	if ((rc = keys_audit_public_key(c->st, pub)) != PV_OK)
		goto out;
	util_hex_encode(pub, sizeof(pub), pubhex);
	util_time_fmt(j.now, now, sizeof(now));
	cert = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:s},"
	    "s:{s:O,s:I,s:I,s:I,s:I},"
	    "s:[s,s,s],"
	    "s:{s:{s:I,s:I},s:{s:I,s:I},s:I,s:I,s:{s:I,s:I},s:O,s:b},"
	    "s:{s:I,s:s},s:s}",
	    "format", OFFBOARD_FORMAT, "kind", "phivault-certificate-of-destruction",
	    "method", "NIST SP 800-88 Rev. 1 cryptographic erase", "vault_id", res.vault_id,
	    "destroyed_at", now, "by", "authority", "seal", "seal", c->seal,
	    "destroyed", "kek_versions", versions, "kek_version_count", (json_int_t)keks.n,
	    "subjects", (json_int_t)res.subjects, "secret_versions",
	    (json_int_t)res.secret_versions, "hsm_objects", (json_int_t)hsm,
	    "survives", "audit signing key (Ed25519): the trail and this certificate stay verifiable",
	    "root key and seal: the vault still opens and shows it holds nothing",
	    "the audit trail (no PHI: IDs, actions and counts)",
	    "verification", "records", "tried", (json_int_t)res.records_tried, "opened",
	    (json_int_t)res.records_opened, "secrets", "tried", (json_int_t)res.secrets_tried,
	    "opened", (json_int_t)res.secrets_opened, "subject_keys_left",
	    (json_int_t)vc.subject_keys_left, "kek_material_left", (json_int_t)left,
	    "tokens", "kek_versions", (json_int_t)tok, "revoked", (json_int_t)tok_revoked,
	    "backups", backups, "ok", res.verified,
	    "audit_head", "seq", (json_int_t)seq, "hash", hash, "audit_public_key", pubhex);
	if (cert == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = offboard_sign(c->keys, cert, OFFBOARD_CERT_TAG)) != PV_OK)
		goto out;
	if ((text = json_dumps(cert, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = util_file_write_atomic(s->cert_path, text, strlen(text), 0644)) != PV_OK)
		snprintf(res.message, sizeof(res.message), "the certificate could not be written");
	if (rc == PV_OK && !res.verified)
		snprintf(res.message, sizeof(res.message), "the verification pass found something "
		    "that still decrypts: see the certificate");
out:
	free(text);
	free(keks.v);
	free(after.v);
	json_decref(cert);
	json_decref(versions);
	json_decref(backups);
	if (rc != PV_OK && res.message[0] == '\0')
		snprintf(res.message, sizeof(res.message), "%s", pv_rc_name(rc));
	*out = res;
	return rc;
}

enum pv_rc
offboard_certificate_verify(const char *text, size_t len, const uint8_t *pub,
    struct offboard_cert_check *out)
{
	struct offboard_cert_check r;
	json_error_t je;
	json_t *cert = json_loadb(text, len, 0, &je);

	memset(&r, 0, sizeof(r));
	if (cert == NULL || !json_is_object(cert) ||
	    json_integer_value(json_object_get(cert, "format")) != OFFBOARD_FORMAT ||
	    !json_is_string(json_object_get(cert, "kind")) ||
	    strcmp(json_string_value(json_object_get(cert, "kind")),
	    "phivault-certificate-of-destruction") != 0) {
		json_decref(cert);
		snprintf(r.message, sizeof(r.message), "not a phivault certificate of destruction");
		*out = r;
		return PV_E_INVALID;
	}
	r.signature_ok = offboard_signature_ok(cert, OFFBOARD_CERT_TAG, pub, r.fingerprint,
	    sizeof(r.fingerprint));
	r.verified = json_is_true(json_object_get(json_object_get(cert, "verification"), "ok"));
	util_strlcpy(r.vault_id, json_string_value(json_object_get(cert, "vault_id")) ?
	    json_string_value(json_object_get(cert, "vault_id")) : "", sizeof(r.vault_id));
	util_strlcpy(r.destroyed_at, json_string_value(json_object_get(cert, "destroyed_at")) ?
	    json_string_value(json_object_get(cert, "destroyed_at")) : "", sizeof(r.destroyed_at));
	if (!r.signature_ok)
		snprintf(r.message, sizeof(r.message), "the signature does not verify (altered, or "
		    "signed by another key)");
	else if (!r.verified)
		snprintf(r.message, sizeof(r.message), "signed, but its verification pass found "
		    "data that still decrypts");
	json_decref(cert);
	*out = r;
	return PV_OK;
}
