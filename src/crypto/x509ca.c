/*
 * x509ca.c: phivault's app CA (issue 10 item 1, mutual TLS for apps): the
 * CA key and certificate, issuing a short-lived client certificate from a
 * PKCS#10 CSR, and checking a presented client certificate.
 *
 * What is made (RFC 5280 profiles):
 *  - CA: ECDSA P-256 key (kept by the caller as PKCS#8 DER in a pv_secret),
 *    self-signed v3 certificate, subject = issuer = CN=<cn>, random positive
 *    128-bit serial, notBefore now - 1 h, notAfter now + days;
 *    basicConstraints critical CA:TRUE, pathlen:0; keyUsage critical
 *    keyCertSign, cRLSign; subjectKeyIdentifier.
 *  - Client leaf: subject CN=<app id> only (the CSR's subject and requested
 *    extensions are ignored: the CSR contributes its public key, after its
 *    self-signature verifies); random positive 128-bit serial; notBefore =
 *    now - 60 s (clock skew), notAfter = now + ttl; basicConstraints critical
 *    CA:FALSE; keyUsage critical digitalSignature; extendedKeyUsage
 *    clientAuth; SAN URI urn:phivault:app:<id> (built as a GENERAL_NAME, never
 *    from a string the caller controls); SKI; AKI keyid; ECDSA-SHA256.
 *  - Check: X509_verify_cert against the CA alone (no system roots), purpose
 *    sslclient, at the caller's time (the injectable clock), then the CN and
 *    the SAN URI must name the same app.
 *
 * Invariants: the CA private key is parsed from and written to secure
 * memory only (BIO_s_secmem / pv_secret); every libcrypto return is checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

#define CSR_PEM_MAX 16384
#define CA_KEY_DER_MAX 1024

static bool
serial_random(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn = NULL;
	bool ok = false;

	if (crypto_random(r, sizeof(r)) != PV_OK)
		return false;
	r[0] &= 0x7f;           /* positive, at most 16 DER octets */
	r[sizeof(r) - 1] |= 1;  /* never zero */
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		ok = true;
	BN_free(bn);
	return ok;
}

static bool
ext_add(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	bool ok;

	if (e == NULL)
		return false;
	ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok;
}

static bool
name_cn(X509_NAME **out, const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	if (n == NULL || X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1) {
		X509_NAME_free(n);
		return false;
	}
	*out = n;
	return true;
}

static bool
times_set(X509 *x, int64_t now_s, int64_t before_s, int64_t after_s)
{
	return X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)-before_s,
	    &(time_t){ (time_t)now_s }) != NULL &&
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)after_s,
	    &(time_t){ (time_t)now_s }) != NULL;
}

static enum pv_rc
pem_of(X509 *x, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d = NULL, *p;
	long n;
	enum pv_rc rc = PV_E_CRYPTO;

	if (b == NULL || PEM_write_bio_X509(b, x) != 1 || (n = BIO_get_mem_data(b, &d)) <= 0)
		goto out;
	if ((p = malloc((size_t)n + 1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memcpy(p, d, (size_t)n);
	p[n] = '\0';
	*out = p;
	rc = PV_OK;
out:
	BIO_free(b);
	return rc;
}

static X509 *
x509_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

static EVP_PKEY *
key_from_der(const struct pv_secret *der)
{
	const unsigned char *p = der->buf;

	return d2i_AutoPrivateKey(NULL, &p, (long)der->len);
}

enum pv_rc
crypto_x509_ca_new(const char *cn, int64_t now_s, int days, struct pv_secret **key_der,
    char **cert_pem)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	struct pv_secret *d = NULL;
	unsigned char *buf = NULL;
	int len;
	enum pv_rc rc = PV_E_INVALID;

	if (cn == NULL || *cn == '\0' || strlen(cn) > 64 || days < 1 || days > 36525 ||
	    key_der == NULL || cert_pem == NULL)
		return rc;
	rc = PV_E_CRYPTO;
	if ((pkey = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL ||
	    !name_cn(&name, cn))
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 || !serial_random(x) ||
	    !times_set(x, now_s, 3600, (int64_t)days * 86400) ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!ext_add(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !ext_add(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
	    X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto out;
	/* PKCS#8 DER straight into locked memory */
	if ((len = i2d_PrivateKey(pkey, NULL)) <= 0 || len > CA_KEY_DER_MAX)
		goto out;
	if ((rc = crypto_secret_new((size_t)len, &d)) != PV_OK)
		goto out;
	buf = d->buf;
	rc = PV_E_CRYPTO;
	if (i2d_PrivateKey(pkey, &buf) != len)
		goto out;
	if ((rc = pem_of(x, cert_pem)) != PV_OK)
		goto out;
	*key_der = d;
	d = NULL;
out:
	if (rc == PV_E_CRYPTO)
		crypto_ossl_fail("app CA");
	crypto_secret_free(d);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

static bool
san_uri_add(X509 *x, const char *uri)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	bool ok = false;

	if (gens == NULL || g == NULL || s == NULL || ASN1_STRING_set(s, uri, -1) != 1)
		goto out;
	GENERAL_NAME_set0_value(g, GEN_URI, s);
	s = NULL;
	if (sk_GENERAL_NAME_push(gens, g) <= 0)
		goto out;
	g = NULL;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	GENERAL_NAMES_free(gens);
	return ok;
}

static void
serial_hex(X509 *x, char out[CRYPTO_SERIAL_HEX_MAX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = bn != NULL ? BN_bn2hex(bn) : NULL;
	size_t i;

	out[0] = '\0';
	if (h != NULL && strlen(h) < CRYPTO_SERIAL_HEX_MAX) {
		for (i = 0; h[i] != '\0'; i++)
			out[i] = (h[i] >= 'A' && h[i] <= 'F') ? (char)(h[i] - 'A' + 'a') : h[i];
		out[i] = '\0';
	}
	OPENSSL_free(h);
	BN_free(bn);
}

static int64_t
asn1_time_s(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

enum pv_rc
crypto_x509_issue_client(const struct pv_secret *ca_key_der, const char *ca_cert_pem,
    const char *csr_pem, const char *app_id, int64_t now_s, int64_t ttl_s,
    struct crypto_client_cert *out, char **cert_pem)
{
	BIO *b = NULL;
	X509_REQ *req = NULL;
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *pub = NULL;
	X509_NAME *name = NULL;
	X509V3_CTX ctx;
	char uri[128];
	enum pv_rc rc = PV_E_INVALID;

	if (ca_key_der == NULL || ca_cert_pem == NULL || csr_pem == NULL || app_id == NULL ||
	    out == NULL || cert_pem == NULL || ttl_s < 60 || strlen(app_id) > 64 ||
	    strlen(csr_pem) > CSR_PEM_MAX)
		return rc;
	memset(out, 0, sizeof(*out));
	snprintf(uri, sizeof(uri), "urn:phivault:app:%s", app_id);
	if ((b = BIO_new_mem_buf(csr_pem, -1)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	if (req == NULL || (pub = X509_REQ_get_pubkey(req)) == NULL) {
		crypto_ossl_clear();
		rc = PV_E_INVALID;   /* not a CSR */
		goto out;
	}
	/* PKCS#10 §3: the self-signature proves possession of the key */
	if (X509_REQ_verify(req, pub) != 1) {
		crypto_ossl_clear();
		rc = PV_E_INTEGRITY;
		goto out;
	}
	rc = PV_E_CRYPTO;
	if ((ca = x509_from_pem(ca_cert_pem)) == NULL || (cakey = key_from_der(ca_key_der)) == NULL ||
	    (x = X509_new()) == NULL || !name_cn(&name, app_id))
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 || !serial_random(x) ||
	    !times_set(x, now_s, 60, ttl_s) || X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    X509_set_pubkey(x, pub) != 1)
		goto out;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (!ext_add(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !ext_add(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !ext_add(x, &ctx, NID_ext_key_usage, "clientAuth") ||
	    !ext_add(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !ext_add(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
	    !san_uri_add(x, uri) || X509_sign(x, cakey, EVP_sha256()) <= 0)
		goto out;
	if ((rc = pem_of(x, cert_pem)) != PV_OK)
		goto out;
	serial_hex(x, out->serial);
	out->not_before_s = asn1_time_s(X509_get0_notBefore(x));
	out->not_after_s = asn1_time_s(X509_get0_notAfter(x));
	util_strlcpy(out->app_id, app_id, sizeof(out->app_id));
	rc = PV_OK;
out:
	if (rc == PV_E_CRYPTO)
		crypto_ossl_fail("app certificate");
	BIO_free(b);
	X509_REQ_free(req);
	X509_NAME_free(name);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(cakey);
	return rc;
}

/* The app named by the leaf: CN, which the SAN URI must repeat. */
static bool
leaf_app(X509 *x, char id[CRYPTO_APP_ID_MAX])
{
	X509_NAME *n = X509_get_subject_name(x);
	GENERAL_NAMES *gens;
	char cn[CRYPTO_APP_ID_MAX], uri[128];
	int i, len;
	bool ok = false;

	len = X509_NAME_get_text_by_NID(n, NID_commonName, cn, sizeof(cn));
	if (len <= 0 || (size_t)len != strlen(cn))
		return false;
	snprintf(uri, sizeof(uri), "urn:phivault:app:%s", cn);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_URI &&
		    (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier) == strlen(uri) &&
		    memcmp(ASN1_STRING_get0_data(g->d.uniformResourceIdentifier), uri,
		    strlen(uri)) == 0)
			ok = true;
	}
	GENERAL_NAMES_free(gens);
	if (ok)
		util_strlcpy(id, cn, CRYPTO_APP_ID_MAX);
	return ok;
}

enum pv_rc
crypto_x509_client_check(const char *ca_cert_pem, const uint8_t *der, size_t len,
    int64_t now_s, struct crypto_client_cert *out)
{
	const unsigned char *p = der;
	X509 *ca = NULL, *x = NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *vctx = NULL;
	uint8_t md[CRYPTO_SHA256_LEN];
	unsigned int mdlen = 0;
	int err;
	enum pv_rc rc = PV_E_CERT;

	if (ca_cert_pem == NULL || der == NULL || len == 0 || len > 16384 || out == NULL)
		return PV_E_CERT;
	memset(out, 0, sizeof(*out));
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		util_strlcpy(out->reason, "cert_malformed", sizeof(out->reason));
		goto out;
	}
	if ((ca = x509_from_pem(ca_cert_pem)) == NULL || (store = X509_STORE_new()) == NULL ||
	    (vctx = X509_STORE_CTX_new()) == NULL || X509_STORE_add_cert(store, ca) != 1 ||
	    X509_STORE_CTX_init(vctx, store, x, NULL) != 1) {
		rc = PV_E_CRYPTO;
		goto out;
	}
	X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_time(vctx, 0, (time_t)now_s);
	if (X509_verify_cert(vctx) != 1) {
		err = X509_STORE_CTX_get_error(vctx);
		if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
			util_strlcpy(out->reason, "cert_expired", sizeof(out->reason));
			rc = PV_E_CERT_EXPIRED;
		} else if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
			util_strlcpy(out->reason, "cert_not_yet_valid", sizeof(out->reason));
			rc = PV_E_CERT_EXPIRED;
		} else {
			util_strlcpy(out->reason, "cert_untrusted", sizeof(out->reason));
		}
		goto out;
	}
	if (!leaf_app(x, out->app_id)) {
		util_strlcpy(out->reason, "cert_malformed", sizeof(out->reason));
		goto out;
	}
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != sizeof(md)) {
		rc = PV_E_CRYPTO;
		goto out;
	}
	util_hex_encode(md, sizeof(md), out->fingerprint);
	serial_hex(x, out->serial);
	out->not_before_s = asn1_time_s(X509_get0_notBefore(x));
	out->not_after_s = asn1_time_s(X509_get0_notAfter(x));
	rc = PV_OK;
out:
	if (rc == PV_E_CRYPTO)
		crypto_ossl_fail("client certificate check");
	crypto_ossl_clear();
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(x);
	return rc;
}
