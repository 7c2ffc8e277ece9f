/*
 * app_ca.c: where phivault's app CA lives (issue 10 item 1; the X.509 work
 * is crypto's, x509ca.c).
 *
 *   meta keys.app_ca_key  = box(root, AAD "phivault:app-ca-key:v1", PKCS#8 DER)
 *   meta keys.app_ca_cert = the CA certificate, PEM, in the clear (public)
 *   DIR/tls/app-ca.pem    = the same certificate, 0644 (clients trust it
 *                           only to know whom they talk to; the server
 *                           trusts the store's copy)
 *
 * Made at init (keys_app_ca_ensure from `phivault init`) or, for a data
 * directory older than this, on the first certificate request. Both rows
 * are written in one write transaction that re-checks for an existing CA,
 * so two first callers end with one CA. The private key is only ever in a
 * pv_secret (wiped on free) and under the root key on disk: sealing the
 * vault makes the CA unusable, like every other key.
 */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "keys/keys_int.h"

#define META_CA_KEY "keys.app_ca_key"
#define META_CA_CERT "keys.app_ca_cert"
#define AAD_CA_KEY "phivault:app-ca-key:v1"
#define CA_DER_MAX 1024
#define CA_PEM_MAX 8192
#define CA_DAYS 3650

static char *
pem_copy(const uint8_t *v, size_t len)
{
	char *p;

	if (len == 0 || len > CA_PEM_MAX || (p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, v, len);
	p[len] = '\0';
	return p;
}

static void
ca_file_write(struct keys *k, const char *pem)
{
	char path[4096];
	const char *dir = keys_datadir(k);

	if (dir == NULL || dir[0] == '\0' ||
	    util_path_join(path, sizeof(path), dir, "tls/app-ca.pem") != 0)
		return;
	if (util_file_write_atomic(path, pem, strlen(pem), 0644) != PV_OK)
		log_warn("keys: could not write tls/app-ca.pem (the CA is in the store)");
}

enum pv_rc
keys_app_ca_cert(struct store *st, char **pem)
{
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc;

	if (pem == NULL)
		return PV_E_INVALID;
	STORE_READ(st, rc, store_meta_get(tx, META_CA_CERT, &val, &len));
	if (rc == PV_OK && (*pem = pem_copy(val, len)) == NULL)
		rc = PV_E_INTEGRITY;
	free(val);
	return rc;
}

/* The CA key (DER, a new pv_secret) and certificate, making them if need be. */
static enum pv_rc
ca_get(struct keys *k, bool make, struct pv_secret **der, char **pem)
{
	struct store *st = keys_store(k);
	struct store_tx *wtx = NULL;
	struct pv_secret *fresh = NULL, *d = NULL;
	char *fresh_pem = NULL;
	uint8_t *val = NULL, *box = NULL;
	size_t len = 0;
	enum pv_rc rc;

	if (keys_is_sealed(k))
		return PV_E_SEALED;
	STORE_READ(st, rc, store_meta_get(tx, META_CA_KEY, &val, &len));
	if (rc == PV_E_NOTFOUND && make) {
		if ((rc = crypto_x509_ca_new("phivault app CA", util_now_ms() / 1000, CA_DAYS,
		    &fresh, &fresh_pem)) != PV_OK)
			goto out;
		if ((box = malloc(fresh->len + CRYPTO_BOX_OVERHEAD)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = keys_root_seal(k, AAD_CA_KEY, fresh->buf, fresh->len, box)) != PV_OK ||
		    (rc = store_begin(st, STORE_WR, &wtx)) != PV_OK)
			goto out;
		rc = store_meta_get(wtx, META_CA_KEY, &val, &len);
		if (rc == PV_E_NOTFOUND) {
			rc = store_meta_put(wtx, META_CA_KEY, box, fresh->len + CRYPTO_BOX_OVERHEAD);
			if (rc == PV_OK)
				rc = store_meta_put(wtx, META_CA_CERT, (const uint8_t *)fresh_pem,
				    strlen(fresh_pem));
			if (rc == PV_OK)
				rc = store_commit(wtx);
			store_end(wtx);
			if (rc == PV_OK) {
				log_info("keys: app CA made (ECDSA P-256, %d days)", CA_DAYS);
				ca_file_write(k, fresh_pem);
				*der = fresh;
				*pem = fresh_pem;
				fresh = NULL;
				fresh_pem = NULL;
			}
			goto out;
		}
		store_end(wtx);   /* another caller was first: use theirs */
		if (rc != PV_OK)
			goto out;
	} else if (rc != PV_OK) {
		goto out;
	}
	if (len <= CRYPTO_BOX_OVERHEAD || len > CA_DER_MAX + CRYPTO_BOX_OVERHEAD) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if ((rc = crypto_secret_new(len - CRYPTO_BOX_OVERHEAD, &d)) != PV_OK)
		goto out;
	if ((rc = keys_root_open(k, AAD_CA_KEY, val, len, d->buf)) != PV_OK) {
		log_error("keys: the app CA key does not open under the root key (%s)",
		    pv_rc_name(rc));
		goto out;
	}
	if ((rc = keys_app_ca_cert(st, pem)) != PV_OK)
		goto out;
	*der = d;
	d = NULL;
out:
	crypto_secret_free(fresh);
	crypto_secret_free(d);
	free(fresh_pem);
	free(val);
	free(box);
	return rc;
}

enum pv_rc
keys_app_ca_ensure(struct keys *k)
{
	struct pv_secret *der = NULL;
	char *pem = NULL;
	enum pv_rc rc = ca_get(k, true, &der, &pem);

	if (rc == PV_OK)
		ca_file_write(k, pem);   /* the public copy, (re)written at start */
	crypto_secret_free(der);
	free(pem);
	return rc;
}

enum pv_rc
keys_app_ca_issue(struct keys *k, const char *csr_pem, const char *app_id, int64_t ttl_s,
    struct crypto_client_cert *out, char **cert_pem, char **ca_pem)
{
	struct pv_secret *der = NULL;
	char *pem = NULL;
	enum pv_rc rc;

	if (cert_pem == NULL || ca_pem == NULL)
		return PV_E_INVALID;
	if ((rc = ca_get(k, true, &der, &pem)) != PV_OK)
		goto out;
	rc = crypto_x509_issue_client(der, pem, csr_pem, app_id, util_now_ms() / 1000, ttl_s,
	    out, cert_pem);
	if (rc == PV_OK) {
		*ca_pem = pem;
		pem = NULL;
	}
out:
	crypto_secret_free(der);
	free(pem);
	return rc;
}

enum pv_rc
keys_app_ca_check(struct store *st, const uint8_t *der, size_t len,
    struct crypto_client_cert *out)
{
	char *pem = NULL;
	enum pv_rc rc;

	if (out == NULL)
		return PV_E_INVALID;
	memset(out, 0, sizeof(*out));
	rc = keys_app_ca_cert(st, &pem);
	if (rc == PV_E_NOTFOUND) {
		/* no CA yet: nothing can have been issued */
		util_strlcpy(out->reason, "cert_untrusted", sizeof(out->reason));
		return PV_E_CERT;
	}
	if (rc == PV_OK)
		rc = crypto_x509_client_check(pem, der, len, util_now_ms() / 1000, out);
	free(pem);
	return rc;
}
