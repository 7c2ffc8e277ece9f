/*
 * test_tls: the self-signed TLS material of `phivault init`, checked the way
 * an operator would: two PEM files with the right modes, a certificate that
 * parses and carries the names a client connects to, a P-256 key that
 * matches it, and a self-signature that verifies.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"

struct paths {
	char dir[512], cert[600], key[600];
};

static int
setup(void **state)
{
	const char *base = getenv("PV_TEST_TMP");
	struct paths *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	/* CTest's PV_TEST_TMP may not exist yet. */
	if (mkdir(base, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(p->dir, sizeof(p->dir), "%s/pv-crypto-tls-XXXXXX", base);
	if (mkdtemp(p->dir) == NULL)
		return -1;
	snprintf(p->cert, sizeof(p->cert), "%s/tls.crt", p->dir);
	snprintf(p->key, sizeof(p->key), "%s/tls.key", p->dir);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct paths *p = *state;

	unlink(p->cert);
	unlink(p->key);
	rmdir(p->dir);
	free(p);
	return 0;
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char first[64] = "";
	EVP_PKEY *k;

	assert_non_null(f);
	assert_non_null(fgets(first, sizeof(first), f));
	/* PKCS#8, unencrypted. */
	assert_string_equal(first, "-----BEGIN PRIVATE KEY-----\n");
	rewind(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static bool
san_has_dns(GENERAL_NAMES *gens, const char *name)
{
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS &&
		    (size_t)ASN1_STRING_length(g->d.dNSName) == strlen(name) &&
		    memcmp(ASN1_STRING_get0_data(g->d.dNSName), name, strlen(name)) == 0)
			return true;
	}
	return false;
}

static bool
san_has_ip(GENERAL_NAMES *gens, const uint8_t *ip, size_t len)
{
	int i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_IPADD &&
		    (size_t)ASN1_STRING_length(g->d.iPAddress) == len &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, len) == 0)
			return true;
	}
	return false;
}

static void
test_selfsigned_files(void **state)
{
	struct paths *p = *state;
	struct stat st;

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "localhost", 365), PV_OK);
	assert_int_equal(stat(p->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size > 0);
	assert_int_equal(stat(p->cert, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_true(st.st_size > 0);

	/* Modes are exact whatever the umask, and a pre-existing key file
	 * that was world-readable is not left so. */
	assert_int_equal(chmod(p->key, 0666), 0);
	{
		mode_t old = umask(0777);
		enum pv_rc rc = crypto_tls_selfsigned(p->cert, p->key, "localhost", 365);

		umask(old);
		assert_int_equal(rc, PV_OK);
	}
	assert_int_equal(stat(p->key, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(p->cert, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
}

static void
test_selfsigned_certificate(void **state)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	struct paths *p = *state;
	X509 *x;
	EVP_PKEY *key, *pub;
	GENERAL_NAMES *gens;
	BASIC_CONSTRAINTS *bc;
	EXTENDED_KEY_USAGE *eku;
	char cn[128], group[64];
	size_t glen = 0;
	int crit = -1;
	time_t now = time(NULL), later = now + 29 * 86400, toolate = now + 31 * 86400;

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "vault.example.org", 30),
	    PV_OK);
	x = load_cert(p->cert);
	key = load_key(p->key);

	/* v3, CN, self-issued, valid now and for `days`. */
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "vault.example.org");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &later) > 0);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &toolate) < 0);

	/* Key: EC on P-256, matching the certificate, which it signed. */
	assert_true(EVP_PKEY_is_a(key, "EC"));
	assert_int_equal(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(X509_check_private_key(x, key), 1);
	pub = X509_get0_pubkey(x);
	assert_non_null(pub);
	assert_int_equal(X509_verify(x, pub), 1);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	/* Names a client connects with. */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	assert_non_null(gens);
	assert_int_equal(crit, 0);
	assert_true(san_has_dns(gens, "localhost"));
	assert_true(san_has_dns(gens, "vault.example.org"));
	assert_true(san_has_ip(gens, lo4, sizeof(lo4)));
	assert_true(san_has_ip(gens, lo6, sizeof(lo6)));
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	GENERAL_NAMES_free(gens);

	/* An end-entity server certificate: not a CA, signs, serverAuth. */
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_false(X509_get_key_usage(x) & KU_KEY_CERT_SIGN);
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_server_auth);
	EXTENDED_KEY_USAGE_free(eku);
	assert_int_equal(X509_check_host(x, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_host(x, "evil.example.com", 0, 0, NULL), 0);

	EVP_PKEY_free(key);
	X509_free(x);
}

/* Two runs: fresh key, fresh serial; the second replaces the first. */
static void
test_selfsigned_fresh_each_time(void **state)
{
	struct paths *p = *state;
	X509 *a, *b;

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "localhost", 1), PV_OK);
	a = load_cert(p->cert);
	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "localhost", 1), PV_OK);
	b = load_cert(p->cert);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)), 0);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
	/* The serial is positive (RFC 5280 §4.1.2.2). */
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(b), NULL);

		assert_non_null(bn);
		assert_false(BN_is_negative(bn));
		assert_false(BN_is_zero(bn));
		BN_free(bn);
	}
	X509_free(a);
	X509_free(b);
}

/* An IP literal as common name becomes an IP SAN; a name that is no host
 * name stays in the CN only; a name cannot smuggle extra SAN entries. */
static void
test_selfsigned_common_names(void **state)
{
	static const uint8_t ip[4] = { 10, 1, 2, 3 };
	struct paths *p = *state;
	GENERAL_NAMES *gens;
	X509 *x;

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "10.1.2.3", 10), PV_OK);
	x = load_cert(p->cert);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_true(san_has_ip(gens, ip, sizeof(ip)));
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	GENERAL_NAMES_free(gens);
	X509_free(x);

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key,
	    "a.example,DNS:evil.example", 10), PV_OK);
	x = load_cert(p->cert);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	assert_false(san_has_dns(gens, "evil.example"));
	GENERAL_NAMES_free(gens);
	X509_free(x);
}

static void
test_selfsigned_bad_args(void **state)
{
	struct paths *p = *state;
	char path[700];

	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "localhost", 0), PV_E_INVALID);
	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key, "", 30), PV_E_INVALID);
	assert_int_equal(crypto_tls_selfsigned(p->cert, p->cert, "localhost", 30),
	    PV_E_INVALID);
	assert_int_equal(crypto_tls_selfsigned(p->cert, p->key,
	    "a-common-name-that-is-longer-than-sixty-four-bytes-is-not-allowed-x", 30),
	    PV_E_INVALID);
	/* Unwritable location: an I/O error, nothing left behind. */
	snprintf(path, sizeof(path), "%s/missing/tls.key", p->dir);
	assert_int_equal(crypto_tls_selfsigned(p->cert, path, "localhost", 30), PV_E_IO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_selfsigned_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selfsigned_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selfsigned_fresh_each_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selfsigned_common_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selfsigned_bad_args, setup, teardown),
	};

	if (crypto_init() != PV_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
