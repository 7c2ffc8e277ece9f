/*
 * tls.c: the self-signed TLS key and certificate made at `phivault init`
 * for a server that has not been given one.
 *
 * What is made (RFC 5280 profile of an end-entity server certificate):
 *  - key: ECDSA P-256 (EVP_EC_gen), written as PKCS#8 PEM, mode 0600;
 *  - certificate: X.509 v3, random positive 128-bit serial (§4.1.2.2),
 *    notBefore = now - 1 h (clock skew), notAfter = now + days,
 *    subject = issuer = CN=<common_name>, signed ECDSA-SHA256, mode 0644;
 *  - extensions: basicConstraints critical CA:FALSE; keyUsage critical
 *    digitalSignature (ECDHE suites: the key only signs handshakes);
 *    extendedKeyUsage serverAuth; subjectKeyIdentifier; subjectAltName
 *    DNS:localhost, IP:127.0.0.1, IP:::1, plus the common name as a DNS
 *    name (if it is a host name other than localhost) or as an IP address
 *    (if it is an IP literal other than the two loopbacks).
 *
 * Invariants:
 *  - The SAN list is built as GENERAL_NAME structures, never from a config
 *    string, so a common name cannot inject extra names.
 *  - The private key PEM is formatted in a secure-memory BIO (cleared on
 *    free); the key file is created 0600 and fchmod()ed to 0600 before a
 *    byte is written, whatever the umask or a previous file's mode.
 *  - A file that fails half-way is unlinked, not left truncated.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto.h"
#include "crypto/crypto_int.h"

/* RFC 5280 Appendix A: ub-common-name INTEGER ::= 64 */
#define CN_MAX 64
#define DAYS_MAX 36525

/* RFC 1123 host name (letters, digits, hyphens; dot-separated labels of
 * 1..63 bytes, no leading or trailing hyphen), optionally "*." first. */
static bool
is_hostname(const char *s)
{
	size_t label = 0;
	const char *p;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0' || strlen(s) > 253)
		return false;
	for (p = s; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || p[-1] == '-')
				return false;
			if (*p == '\0')
				return true;
			label = 0;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-'))
			return false;
		if (label == 0 && *p == '-')
			return false;
		if (++label > 63)
			return false;
	}
}

static bool
cn_ok(const char *cn)
{
	size_t n = strlen(cn);
	size_t i;

	if (n == 0 || n > CN_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)cn[i] < 0x20 || cn[i] == 0x7f)
			return false;
	return true;
}

static bool
add_dns(GENERAL_NAMES *gens, const char *name)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (g == NULL || s == NULL || ASN1_STRING_set(s, name, -1) != 1)
		goto fail;
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	s = NULL;
	if (sk_GENERAL_NAME_push(gens, g) <= 0)
		goto fail;
	return true;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	return false;
}

/* ip: an already parsed address (octet string of 4 or 16 bytes); taken. */
static bool
add_ip(GENERAL_NAMES *gens, ASN1_OCTET_STRING *ip)
{
	GENERAL_NAME *g = GENERAL_NAME_new();

	if (g == NULL || ip == NULL)
		goto fail;
	GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	ip = NULL;
	if (sk_GENERAL_NAME_push(gens, g) <= 0)
		goto fail;
	return true;
fail:
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(g);
	return false;
}

static bool
add_san(X509 *x, const char *cn)
{
	static const uint8_t lo4[4] = { 127, 0, 0, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	ASN1_OCTET_STRING *ip;
	bool ok = false;

	if (gens == NULL || !add_dns(gens, "localhost") ||
	    !add_ip(gens, a2i_IPADDRESS("127.0.0.1")) ||
	    !add_ip(gens, a2i_IPADDRESS("::1")))
		goto out;
	/* A non-IP common name makes a2i_IPADDRESS fail; drop its error. */
	ip = a2i_IPADDRESS(cn);
	crypto_ossl_clear();
	if (ip != NULL) {
		const uint8_t *d = ASN1_STRING_get0_data(ip);
		int n = ASN1_STRING_length(ip);

		if ((n == 4 && memcmp(d, lo4, 4) == 0) ||
		    (n == 16 && memcmp(d, lo6, 16) == 0))
			ASN1_OCTET_STRING_free(ip);     /* already listed */
		else if (!add_ip(gens, ip))             /* takes ip */
			goto out;
	} else if (is_hostname(cn) && strcasecmp(cn, "localhost") != 0) {
		if (!add_dns(gens, cn))
			goto out;
	}
	/* RFC 5280 §4.2.1.6: non-critical, the subject DN is not empty. */
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

static bool
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
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
set_serial(X509 *x)
{
	uint8_t r[16];
	BIGNUM *bn = NULL;
	bool ok = false;

	/* 128 random bits read as an unsigned number: positive, <= 17 DER
	 * octets (the RFC 5280 limit is 20), zero with probability 2^-128. */
	if (crypto_random(r, sizeof(r)) != PV_OK)
		return false;
	r[sizeof(r) - 1] |= 1;   /* never zero */
	bn = BN_bin2bn(r, sizeof(r), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	ok = true;
out:
	BN_free(bn);
	return ok;
}

/* from_s/until_s: the validity window (seconds since the epoch); until_s
 * 0: `days` from now, notBefore an hour ago (init's form). */
static X509 *
make_cert(EVP_PKEY *pkey, const char *cn, int days, int64_t from_s, int64_t until_s)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	bool ok = false;

	if (x == NULL || name == NULL)
		goto out;
	if (X509_set_version(x, X509_VERSION_3) != 1 || !set_serial(x))
		goto out;
	if (until_s != 0) {
		time_t f = (time_t)from_s, u = (time_t)until_s;

		if (X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &f) == NULL ||
		    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &u) == NULL)
			goto out;
	} else if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL) {
		goto out;
	}
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    X509_set_pubkey(x, pkey) != 1)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(x, &ctx, NID_subject_key_identifier, "hash") ||
	    !add_san(x, cn))
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		goto out;
	ok = true;
out:
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Create or replace path with exactly `mode`, write all of buf, fsync. */
static enum pv_rc
write_file(const char *path, const char *buf, size_t len, mode_t mode)
{
	enum pv_rc rc = PV_E_IO;
	size_t off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		log_error("crypto: cannot create TLS file errno=%d", errno);
		return PV_E_IO;
	}
	if (fchmod(fd, mode) != 0)
		goto out;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	rc = PV_OK;
out:
	if (close(fd) != 0 && rc == PV_OK)
		rc = PV_E_IO;
	if (rc != PV_OK) {
		log_error("crypto: writing TLS file failed errno=%d", errno);
		unlink(path);
	}
	return rc;
}

static enum pv_rc selfsigned(const char *cert_path, const char *key_path,
    const char *common_name, int days, int64_t from_s, int64_t until_s);

enum pv_rc
crypto_tls_selfsigned(const char *cert_path, const char *key_path,
    const char *common_name, int days)
{
	return selfsigned(cert_path, key_path, common_name, days, 0, 0);
}

enum pv_rc
crypto_tls_selfsigned_span(const char *cert_path, const char *key_path,
    const char *common_name, int64_t from_s, int64_t until_s)
{
	if (from_s <= 0 || until_s <= from_s || until_s - from_s > (int64_t)DAYS_MAX * 86400)
		return PV_E_INVALID;
	return selfsigned(cert_path, key_path, common_name,
	    (int)((until_s - from_s) / 86400) + 1, from_s, until_s);
}

static enum pv_rc
selfsigned(const char *cert_path, const char *key_path,
    const char *common_name, int days, int64_t from_s, int64_t until_s)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	BIO *kbio = NULL, *cbio = NULL;
	char *kdata = NULL, *cdata = NULL;
	long klen, clen;
	enum pv_rc rc = PV_E_INVALID;

	if (cert_path == NULL || key_path == NULL || common_name == NULL ||
	    !cn_ok(common_name) || days < 1 || days > DAYS_MAX ||
	    strcmp(cert_path, key_path) == 0)
		goto out;
	rc = PV_E_CRYPTO;
	pkey = EVP_EC_gen("P-256");
	if (pkey == NULL) {
		crypto_ossl_fail("EC P-256 keygen");
		goto out;
	}
	x = make_cert(pkey, common_name, days, from_s, until_s);
	if (x == NULL) {
		crypto_ossl_fail("X.509 certificate");
		goto out;
	}
	/* Secure-memory BIO: its buffer is cleansed when freed. */
	kbio = BIO_new(BIO_s_secmem());
	cbio = BIO_new(BIO_s_mem());
	if (kbio == NULL || cbio == NULL ||
	    PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cbio, x) != 1) {
		crypto_ossl_fail("PEM encode");
		goto out;
	}
	klen = BIO_get_mem_data(kbio, &kdata);
	clen = BIO_get_mem_data(cbio, &cdata);
	if (klen <= 0 || clen <= 0 || kdata == NULL || cdata == NULL)
		goto out;
	if (until_s != 0) {
		/* a replacement: both written beside, then renamed over, so a
		 * crash leaves the old pair or the new one, never half a file */
		char kn[PATH_MAX], cn[PATH_MAX];

		rc = PV_E_INVALID;
		if ((size_t)snprintf(kn, sizeof(kn), "%s.new", key_path) >= sizeof(kn) ||
		    (size_t)snprintf(cn, sizeof(cn), "%s.new", cert_path) >= sizeof(cn))
			goto out;
		if ((rc = write_file(kn, kdata, (size_t)klen, 0600)) != PV_OK)
			goto out;
		if ((rc = write_file(cn, cdata, (size_t)clen, 0644)) != PV_OK) {
			unlink(kn);
			goto out;
		}
		if (rename(kn, key_path) != 0 || rename(cn, cert_path) != 0) {
			log_error("crypto: cannot replace the TLS files errno=%d", errno);
			unlink(kn);
			unlink(cn);
			rc = PV_E_IO;
			goto out;
		}
		log_info("crypto: self-signed TLS certificate renewed (P-256)");
		goto out;
	}
	rc = write_file(key_path, kdata, (size_t)klen, 0600);
	if (rc != PV_OK)
		goto out;
	rc = write_file(cert_path, cdata, (size_t)clen, 0644);
	if (rc != PV_OK) {
		unlink(key_path);   /* a key without its certificate is useless */
		goto out;
	}
	log_info("crypto: self-signed TLS certificate written (P-256, %d days)", days);
out:
	BIO_free(kbio);
	BIO_free(cbio);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}
