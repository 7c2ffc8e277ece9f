/*
 * test_x509ca: phivault's app CA (x509ca.c). A CA is made, a CSR made here
 * with OpenSSL is turned into a client certificate that X509_verify_cert
 * accepts against the CA (purpose sslclient) with the profile we promise
 * (CN = app ID, SAN URI, EKU clientAuth, CA:FALSE, the CSR's own requests
 * ignored); a CSR with a bad signature or no CSR is refused; the check
 * refuses another CA, expired and not-yet-valid certificates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"

#define APP "app_0123456789abcdefghijklmn"
#define NOW 1900000000LL

/* A CSR for a fresh P-256 key asking for CN=evil, CA:TRUE and another app's SAN. */
static char *
make_csr(EVP_PKEY **keyp)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	BIO *b = BIO_new(BIO_s_mem());
	char *d, *pem;
	long len;

	assert_non_null(k);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"evil", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_subject_name(r, n), 1);
	assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
	    "critical,CA:TRUE"));
	sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
	    "URI:urn:phivault:app:app_other"));
	assert_int_equal(X509_REQ_add_extensions(r, exts), 1);
	assert_true(X509_REQ_sign(r, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509_REQ(b, r), 1);
	len = BIO_get_mem_data(b, &d);
	pem = calloc(1, (size_t)len + 1);
	memcpy(pem, d, (size_t)len);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(r);
	BIO_free(b);
	if (keyp != NULL)
		*keyp = k;
	else
		EVP_PKEY_free(k);
	return pem;
}

/* The same CSR with the last DER byte (the low byte of the ECDSA signature's
 * s) flipped: a base64 character could fall in padding bits and change
 * nothing, so this works on the bytes. */
static char *
tamper_signature(const char *pem)
{
	BIO *in = BIO_new_mem_buf(pem, -1), *out = BIO_new(BIO_s_mem());
	char *name = NULL, *hdr = NULL, *d, *res;
	unsigned char *data = NULL;
	long len = 0, n;

	assert_int_equal(PEM_read_bio(in, &name, &hdr, &data, &len), 1);
	assert_true(len > 8);
	data[len - 1] ^= 0x01;
	assert_true(PEM_write_bio(out, name, hdr, data, len) > 0);
	n = BIO_get_mem_data(out, &d);
	res = calloc(1, (size_t)n + 1);
	memcpy(res, d, (size_t)n);
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(data);
	BIO_free(in);
	BIO_free(out);
	return res;
}

static X509 *
from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(x);
	return x;
}

static uint8_t *
der_of(const char *pem, size_t *len)
{
	X509 *x = from_pem(pem);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	X509_free(x);
	return der;
}

static void
test_issue_verifies(void **state)
{
	struct pv_secret *cakey = NULL;
	char *capem = NULL, *csr, *cert = NULL, cn[80];
	struct crypto_client_cert out;
	X509 *ca, *leaf;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	EVP_PKEY *key = NULL, *lpub;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	BASIC_CONSTRAINTS *bc;

	(void)state;
	assert_int_equal(crypto_x509_ca_new("phivault app CA", NOW, 3650, &cakey, &capem), PV_OK);
	csr = make_csr(&key);
	assert_int_equal(crypto_x509_issue_client(cakey, capem, csr, APP, NOW, 86400, &out, &cert),
	    PV_OK);
	assert_int_equal(out.not_after_s, NOW + 86400);
	assert_int_equal(out.not_before_s, NOW - 60);
	assert_true(strlen(out.serial) >= 16);
	ca = from_pem(capem);
	leaf = from_pem(cert);
	/* OpenSSL's own chain verification, at a time inside the window */
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	X509_STORE_CTX_set_time(ctx, 0, (time_t)(NOW + 10));
	assert_int_equal(X509_verify_cert(ctx), 1);
	/* the profile: our names, not the CSR's */
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn,
	    sizeof(cn)) > 0);
	assert_string_equal(cn, APP);
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
	    "urn:phivault:app:" APP);
	GENERAL_NAMES_free(gens);
	bc = X509_get_ext_d2i(leaf, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_int_equal(bc->ca, 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
	assert_true(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(leaf) & KU_KEY_CERT_SIGN);
	lpub = X509_get0_pubkey(leaf);
	assert_int_equal(EVP_PKEY_eq(lpub, key), 1);   /* the CSR's key */
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(key);
	free(csr);
	free(cert);
	free(capem);
	crypto_secret_free(cakey);
}

static void
test_bad_csr(void **state)
{
	struct pv_secret *cakey = NULL;
	char *capem = NULL, *good, *csr, *cert = NULL;
	struct crypto_client_cert out;

	(void)state;
	assert_int_equal(crypto_x509_ca_new("phivault app CA", NOW, 10, &cakey, &capem), PV_OK);
	good = make_csr(NULL);
	csr = tamper_signature(good);
	free(good);
	assert_int_equal(crypto_x509_issue_client(cakey, capem, csr, APP, NOW, 86400, &out, &cert),
	    PV_E_INTEGRITY);
	assert_null(cert);
	assert_int_equal(crypto_x509_issue_client(cakey, capem, "not a csr", APP, NOW, 86400, &out,
	    &cert), PV_E_INVALID);
	assert_int_equal(crypto_x509_issue_client(cakey, capem, capem, APP, NOW, 86400, &out,
	    &cert), PV_E_INVALID);   /* a certificate is not a CSR */
	assert_null(cert);
	free(csr);
	free(capem);
	crypto_secret_free(cakey);
}

static void
test_check(void **state)
{
	struct pv_secret *cakey = NULL, *otherkey = NULL;
	char *capem = NULL, *otherpem = NULL, *csr, *cert = NULL, *forged = NULL;
	struct crypto_client_cert out, chk;
	uint8_t *der;
	size_t len;

	(void)state;
	assert_int_equal(crypto_x509_ca_new("phivault app CA", NOW, 3650, &cakey, &capem), PV_OK);
	assert_int_equal(crypto_x509_ca_new("phivault app CA", NOW, 3650, &otherkey, &otherpem),
	    PV_OK);
	csr = make_csr(NULL);
	assert_int_equal(crypto_x509_issue_client(cakey, capem, csr, APP, NOW, 3600, &out, &cert),
	    PV_OK);
	der = der_of(cert, &len);
	assert_int_equal(crypto_x509_client_check(capem, der, len, NOW + 5, &chk), PV_OK);
	assert_string_equal(chk.app_id, APP);
	assert_string_equal(chk.serial, out.serial);
	assert_int_equal(chk.not_after_s, NOW + 3600);
	assert_int_equal(strlen(chk.fingerprint), 64);
	assert_int_equal(crypto_x509_client_check(capem, der, len, NOW + 3601, &chk),
	    PV_E_CERT_EXPIRED);
	assert_string_equal(chk.reason, "cert_expired");
	assert_int_equal(crypto_x509_client_check(capem, der, len, NOW - 120, &chk),
	    PV_E_CERT_EXPIRED);
	assert_string_equal(chk.reason, "cert_not_yet_valid");
	/* another CA with the same name does not do */
	assert_int_equal(crypto_x509_client_check(otherpem, der, len, NOW + 5, &chk), PV_E_CERT);
	assert_string_equal(chk.reason, "cert_untrusted");
	OPENSSL_free(der);
	/* the same names signed by the other CA: refused by ours */
	assert_int_equal(crypto_x509_issue_client(otherkey, otherpem, csr, APP, NOW, 3600, &out,
	    &forged), PV_OK);
	der = der_of(forged, &len);
	assert_int_equal(crypto_x509_client_check(capem, der, len, NOW + 5, &chk), PV_E_CERT);
	/* a truncated certificate */
	assert_int_equal(crypto_x509_client_check(capem, der, len - 1, NOW + 5, &chk), PV_E_CERT);
	assert_string_equal(chk.reason, "cert_malformed");
	OPENSSL_free(der);
	free(forged);
	free(cert);
	free(csr);
	free(capem);
	free(otherpem);
	crypto_secret_free(cakey);
	crypto_secret_free(otherkey);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_verifies),
		cmocka_unit_test(test_bad_csr),
		cmocka_unit_test(test_check),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
