/*
 * import: BYOK (bring your own key). Owns phivault's RSA-3072 import key
 * and the path from a customer's RSA-OAEP-wrapped AES-256 key to a new
 * active KEK version.
 *
 *   meta keys.import_key = box(root, AAD "phivault:import-key:v1", DER)
 *     made once, on the first keys_import_public_pem, in one write
 *     transaction that re-checks the row (two first callers end with one key)
 *   wrapped (RSA-OAEP, SHA-256, MGF1-SHA-256, RFC 8017 §7.1) -> 32 bytes in
 *     a pv_secret -> keys_kek_install_tx: (name, latest + 1) ACTIVE, under
 *     the root key like every soft KEK; older ACTIVE versions -> RETIRED.
 * The private key and the material are only in pv_secrets, wiped on free;
 * nothing here logs either. A blob that does not decrypt is PV_E_INVALID
 * and changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "keys/keys_int.h"

#define META_IMPORT_KEY "keys.import_key"
#define AAD_IMPORT_KEY "phivault:import-key:v1"
#define IMPORT_DER_MAX 4096

struct keys_import {
	char name[KEYS_KEK_NAME_MAX + 1];
	uint32_t version;
	struct pv_secret *material;
};

/* The private key (DER) into a pv_secret, making it first if need be. */
static enum pv_rc
import_key_get(struct keys *k, struct pv_secret **der)
{
	struct store *st = keys_store(k);
	struct store_tx *wtx = NULL;
	struct pv_secret *fresh = NULL, *d = NULL;
	uint8_t *val = NULL, *box = NULL;
	size_t len = 0;
	enum pv_rc rc;

	STORE_READ(st, rc, store_meta_get(tx, META_IMPORT_KEY, &val, &len));
	if (rc == PV_E_NOTFOUND) {
		/* RSA key generation takes a while: outside the transaction */
		if ((rc = crypto_rsa_keygen(&fresh)) != PV_OK)
			goto out;
		if ((box = malloc(fresh->len + CRYPTO_BOX_OVERHEAD)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = keys_root_seal(k, AAD_IMPORT_KEY, fresh->buf, fresh->len, box)) != PV_OK)
			goto out;
		if ((rc = store_begin(st, STORE_WR, &wtx)) != PV_OK)
			goto out;
		rc = store_meta_get(wtx, META_IMPORT_KEY, &val, &len);
		if (rc == PV_E_NOTFOUND) {
			rc = store_meta_put(wtx, META_IMPORT_KEY, box, fresh->len + CRYPTO_BOX_OVERHEAD);
			if (rc == PV_OK)
				rc = store_commit(wtx);
			if (rc == PV_OK)
				log_info("keys: BYOK import key made (RSA-%d)", CRYPTO_RSA_BITS);
			if (rc == PV_OK) {
				*der = fresh;
				fresh = NULL;
			}
			store_end(wtx);
			goto out;
		}
		store_end(wtx);   /* another caller was first: use theirs */
		if (rc != PV_OK)
			goto out;
	} else if (rc != PV_OK) {
		goto out;
	}
	if (len <= CRYPTO_BOX_OVERHEAD || len > IMPORT_DER_MAX + CRYPTO_BOX_OVERHEAD) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if ((rc = crypto_secret_new(len - CRYPTO_BOX_OVERHEAD, &d)) != PV_OK)
		goto out;
	if ((rc = keys_root_open(k, AAD_IMPORT_KEY, val, len, d->buf)) != PV_OK) {
		log_error("keys: the BYOK import key does not open under the root key (%s)",
		    pv_rc_name(rc));
		goto out;
	}
	*der = d;
	d = NULL;
out:
	crypto_secret_free(fresh);
	crypto_secret_free(d);
	free(val);
	free(box);
	return rc;
}

enum pv_rc
keys_import_public_pem(struct keys *k, char **pem)
{
	struct pv_secret *der = NULL;
	enum pv_rc rc;

	if (pem == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	if ((rc = import_key_get(k, &der)) == PV_OK)
		rc = crypto_rsa_public_pem(der, pem);
	crypto_secret_free(der);
	return rc;
}

enum pv_rc
keys_import_unwrap(struct keys *k, const char *kek_name, const uint8_t *wrapped, size_t len,
    struct keys_import **out)
{
	struct keys_import *imp = NULL;
	struct pv_secret *der = NULL;
	struct store_kek row;
	enum pv_rc rc;

	if (wrapped == NULL || out == NULL)
		return PV_E_INVALID;
	if (!keys_kek_name_valid(kek_name))
		return PV_E_NOTFOUND;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	if ((imp = calloc(1, sizeof(*imp))) == NULL)
		return PV_E_NOMEM;
	util_strlcpy(imp->name, kek_name, sizeof(imp->name));
	/* a new version of a key that exists (PV_E_NOTFOUND otherwise) */
	memset(&row, 0, sizeof(row));
	STORE_READ(keys_store(k), rc, store_kek_latest(tx, kek_name, &row));
	imp->version = row.version + 1;
	store_kek_clear(&row);
	if (rc == PV_OK && imp->version == 0)
		rc = PV_E_CONFLICT;
	if (rc != PV_OK)
		goto out;
	if ((rc = import_key_get(k, &der)) != PV_OK)
		goto out;
	rc = crypto_rsa_oaep_decrypt(der, wrapped, len, &imp->material);
	if (rc == PV_E_INTEGRITY || (rc == PV_OK && imp->material->len != CRYPTO_KEY_LEN))
		rc = PV_E_INVALID;   /* the caller's blob, not our state */
	if (rc != PV_OK)
		goto out;
	*out = imp;
	imp = NULL;
out:
	crypto_secret_free(der);
	keys_import_free(imp);
	return rc;
}

uint32_t
keys_import_version(const struct keys_import *imp)
{
	return imp->version;
}

enum pv_rc
keys_import_commit_tx(struct keys *k, struct store_tx *tx, const struct keys_import *imp)
{
	enum pv_rc rc;

	if (imp == NULL || imp->material == NULL)
		return PV_E_INVALID;
	rc = keys_kek_install_tx(k, tx, imp->name, imp->version, imp->material);
	if (rc == PV_OK)
		log_info("keys: kek %s v%u imported (BYOK)", imp->name, (unsigned)imp->version);
	return rc;
}

void
keys_import_free(struct keys_import *imp)
{
	if (imp == NULL)
		return;
	crypto_secret_free(imp->material);
	crypto_wipe(imp, sizeof(*imp));
	free(imp);
}
