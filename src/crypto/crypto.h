/*
 * crypto: thin wrappers over OpenSSL 3 libcrypto. The only module that runs
 * ciphers; callers hand in key bytes they hold in a struct pv_secret.
 *
 *  AES-256-GCM ......... NIST SP 800-38D, 96-bit IV, 128-bit tag
 *  HKDF-SHA256 ......... RFC 5869
 *  HMAC-SHA256 ......... RFC 2104 / RFC 4231 vectors
 *  SHA-256 ............. FIPS 180-4
 *  Ed25519 ............. RFC 8032
 *  CSPRNG .............. RAND_bytes (OpenSSL DRBG seeded by getrandom)
 *
 * Invariants:
 *  - No plaintext is released before the GCM tag verifies: crypto_aead_open
 *    decrypts into the caller's buffer and wipes it if the tag fails.
 *  - Every libcrypto return value is checked; any failure is PV_E_CRYPTO.
 *  - struct pv_secret memory is mlock()ed, MADV_DONTDUMP, and wiped with
 *    OPENSSL_cleanse before it is freed.
 */
#ifndef PV_CRYPTO_H
#define PV_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_GCM_IV_LEN 12
#define CRYPTO_GCM_TAG_LEN 16
#define CRYPTO_BOX_OVERHEAD (CRYPTO_GCM_IV_LEN + CRYPTO_GCM_TAG_LEN)
#define CRYPTO_SHA256_LEN 32
#define CRYPTO_ED25519_PUB_LEN 32
#define CRYPTO_ED25519_PRIV_LEN 32
#define CRYPTO_ED25519_SIG_LEN 64

/* Key material: only ever in memory from crypto_secret_new. */
struct pv_secret {
	uint8_t *buf;
	size_t len;
};

/* Once per process: checks libcrypto is usable (RNG seeds). */
enum pv_rc crypto_init(void);

enum pv_rc crypto_random(void *buf, size_t len);

/* Locked, non-dumpable, zeroed allocation of len bytes. */
enum pv_rc crypto_secret_new(size_t len, struct pv_secret **out);
/* A new secret holding len random bytes. */
enum pv_rc crypto_secret_random(size_t len, struct pv_secret **out);
/* A new secret holding a copy of buf. */
enum pv_rc crypto_secret_from(const void *buf, size_t len, struct pv_secret **out);
void crypto_secret_free(struct pv_secret *s);   /* NULL ok; wipes first */

void crypto_wipe(void *p, size_t len);
/* Constant-time equality; true if the len bytes match. */
bool crypto_memeq(const void *a, const void *b, size_t len);

/*
 * AES-GCM with explicit IV (key 16/24/32 bytes so NIST vectors of every size
 * can be checked; phivault itself uses 32). ct and pt may alias.
 * open: PV_E_INTEGRITY on tag mismatch, pt wiped.
 */
enum pv_rc crypto_aead_seal(const uint8_t *key, size_t keylen,
    const uint8_t *iv, size_t ivlen, const uint8_t *aad, size_t aadlen,
    const uint8_t *pt, size_t ptlen, uint8_t *ct, uint8_t tag[CRYPTO_GCM_TAG_LEN]);
enum pv_rc crypto_aead_open(const uint8_t *key, size_t keylen,
    const uint8_t *iv, size_t ivlen, const uint8_t *aad, size_t aadlen,
    const uint8_t *ct, size_t ctlen, const uint8_t tag[CRYPTO_GCM_TAG_LEN], uint8_t *pt);

/*
 * Box (named crypto_gcmbox_* because libsodium owns crypto_box_*):
 * AES-256-GCM with a fresh random IV, serialized as IV || CT || TAG.
 * seal: out must hold ptlen + CRYPTO_BOX_OVERHEAD bytes.
 * open: inlen >= CRYPTO_BOX_OVERHEAD, pt must hold inlen - CRYPTO_BOX_OVERHEAD.
 * If iv is non-NULL for seal it is used instead of a random one (the caller
 * drew IVs in bulk; it must never repeat under one key).
 */
enum pv_rc crypto_gcmbox_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen, uint8_t *out);
enum pv_rc crypto_gcmbox_open(const uint8_t key[CRYPTO_KEY_LEN],
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t inlen, uint8_t *pt);

/*
 * AES-256-CTR (NIST SP 800-38A §6.5): out = in XOR keystream, the counter
 * block ctr (16 bytes) incremented as one 128-bit big-endian integer.
 * Unauthenticated and length preserving: only for a layer over something
 * that authenticates itself (keys.c: the outer wrap of double encryption,
 * over a GCM box). Encryption and decryption are the same call; in == out
 * is allowed. len <= 4096.
 */
enum pv_rc crypto_aes256_ctr(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t ctr[16],
    const uint8_t *in, size_t len, uint8_t *out);

/* RFC 5869. outlen <= 255*32. salt may be NULL. */
enum pv_rc crypto_hkdf_sha256(const uint8_t *salt, size_t saltlen,
    const uint8_t *ikm, size_t ikmlen, const uint8_t *info, size_t infolen,
    uint8_t *out, size_t outlen);

enum pv_rc crypto_hmac_sha256(const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[CRYPTO_SHA256_LEN]);
/* HMAC-SHA256 under a key kept for many messages (hmac_key.c): the pads'
 * SHA-256 states computed once, in locked memory. Same bytes as
 * crypto_hmac_sha256 with that key; thread-safe to use, free when unused. */
struct crypto_hmac_key;
enum pv_rc crypto_hmac_key_new(const uint8_t *key, size_t keylen, struct crypto_hmac_key **out);
enum pv_rc crypto_hmac_key_sha256(const struct crypto_hmac_key *hk, const uint8_t *msg,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_hmac_key_free(struct crypto_hmac_key *hk);   /* NULL ok; wipes */
/* HMAC-SHA1 for TOTP (RFC 6238 / RFC 4226 use SHA-1 by default). */
enum pv_rc crypto_hmac_sha1(const uint8_t *key, size_t keylen,
    const uint8_t *msg, size_t msglen, uint8_t out[20]);

enum pv_rc crypto_sha256(const void *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* SHA-256 over two concatenated parts (the audit chain: prev_hash || entry). */
enum pv_rc crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[CRYPTO_SHA256_LEN]);

/* SHA-256 of a message that arrives in pieces (an export file chunk by
 * chunk): begin, update any number of times, end (which frees; free alone
 * abandons). */
struct crypto_sha256_stream;
enum pv_rc crypto_sha256_begin(struct crypto_sha256_stream **out);
enum pv_rc crypto_sha256_update(struct crypto_sha256_stream *h, const void *msg, size_t len);
enum pv_rc crypto_sha256_end(struct crypto_sha256_stream *h, uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_sha256_free(struct crypto_sha256_stream *h);

/* RFC 8032 Ed25519. The private key is the 32-byte seed. */
enum pv_rc crypto_ed25519_keygen(uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    struct pv_secret **priv);
enum pv_rc crypto_ed25519_pub_from_priv(const uint8_t priv[CRYPTO_ED25519_PRIV_LEN],
    uint8_t pub[CRYPTO_ED25519_PUB_LEN]);
enum pv_rc crypto_ed25519_sign(const uint8_t priv[CRYPTO_ED25519_PRIV_LEN],
    const uint8_t *msg, size_t len, uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
/* PV_OK if valid, PV_E_INTEGRITY if not. */
enum pv_rc crypto_ed25519_verify(const uint8_t pub[CRYPTO_ED25519_PUB_LEN],
    const uint8_t *msg, size_t len, const uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
/* SubjectPublicKeyInfo PEM of a raw public key; *pem is malloc'd, NUL-terminated. */
enum pv_rc crypto_ed25519_pub_pem(const uint8_t pub[CRYPTO_ED25519_PUB_LEN], char **pem);

/*
 * TLS material made at init: an ECDSA P-256 key and a self-signed X.509 v3
 * certificate (SAN DNS:localhost, IP:127.0.0.1, IP:::1; serverAuth; valid
 * `days`), written as PEM to cert_path (0644) and key_path (0600).
 */
enum pv_rc crypto_tls_selfsigned(const char *cert_path, const char *key_path,
    const char *common_name, int days);
/* The same valid from from_s to until_s (seconds since the epoch): the dev
 * renewal (cli/tls_wire.c), whose window follows the injectable clock. The
 * files are replaced whole (written beside, then renamed). */
enum pv_rc crypto_tls_selfsigned_span(const char *cert_path, const char *key_path,
    const char *common_name, int64_t from_s, int64_t until_s);

/*
 * RSA for BYOK import (rsa.c): a 3072-bit key pair whose private half is
 * kept as DER (PKCS#1 RSAPrivateKey) in a pv_secret, the SubjectPublicKeyInfo
 * PEM of its public half, and RSAES-OAEP decryption with SHA-256 and
 * MGF1-SHA-256 and an empty label (RFC 8017 §7.1.2), interoperable with
 * `openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep
 * -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256`.
 */
#define CRYPTO_RSA_BITS 3072
enum pv_rc crypto_rsa_keygen(struct pv_secret **priv_der);
/* *pem malloc'd, NUL-terminated. PV_E_INTEGRITY if der is not an RSA key. */
enum pv_rc crypto_rsa_public_pem(const struct pv_secret *priv_der, char **pem);
/* Decrypt into a new secret (*out, exactly the message). PV_E_INTEGRITY if
 * the ciphertext does not decrypt (wrong key, wrong padding or hash, any
 * byte changed); the cause is not told apart (RFC 8017 §7.1.2 note). */
enum pv_rc crypto_rsa_oaep_decrypt(const struct pv_secret *priv_der, const uint8_t *ct,
    size_t ctlen, struct pv_secret **out);

/*
 * phivault's app CA (x509ca.c; docs/internals/crypto.md "App CA"): an
 * ECDSA P-256 CA whose key the caller keeps as PKCS#8 DER in a pv_secret,
 * and short-lived client certificates for mutual TLS (CN = app ID, SAN URI
 * urn:phivault:app:<id>, EKU clientAuth, keyUsage digitalSignature).
 */
#define CRYPTO_SERIAL_HEX_MAX 41
#define CRYPTO_APP_ID_MAX 65
struct crypto_client_cert {
	char app_id[CRYPTO_APP_ID_MAX];
	char serial[CRYPTO_SERIAL_HEX_MAX];          /* lower-case hex */
	char fingerprint[CRYPTO_SHA256_LEN * 2 + 1]; /* hex SHA-256 of the DER */
	int64_t not_before_s, not_after_s;
	char reason[24];   /* check failures: cert_expired, cert_not_yet_valid, cert_untrusted, cert_malformed */
};
/* A new CA: *key_der (locked memory), *cert_pem (malloc'd), valid `days` from now_s. */
enum pv_rc crypto_x509_ca_new(const char *cn, int64_t now_s, int days,
    struct pv_secret **key_der, char **cert_pem);
/* Issue a client certificate for app_id from csr_pem, valid [now_s - 60, now_s + ttl_s].
 * Only the CSR's public key is used, after its self-signature verifies.
 * PV_E_INVALID: not a PEM CSR; PV_E_INTEGRITY: its signature does not verify.
 * out: serial, not_before_s, not_after_s, app_id; *cert_pem malloc'd. */
enum pv_rc crypto_x509_issue_client(const struct pv_secret *ca_key_der, const char *ca_cert_pem,
    const char *csr_pem, const char *app_id, int64_t now_s, int64_t ttl_s,
    struct crypto_client_cert *out, char **cert_pem);
/* Check a presented client certificate (DER) against the CA at now_s:
 * PV_OK with out filled; PV_E_CERT_EXPIRED (expired / not yet valid) or
 * PV_E_CERT (another CA, bad signature, damaged, CN and SAN disagree), with
 * out->reason saying which. */
enum pv_rc crypto_x509_client_check(const char *ca_cert_pem, const uint8_t *der, size_t len,
    int64_t now_s, struct crypto_client_cert *out);

/* ---- recipient encryption (recipient.c): the return of PHI at contract
 * end, to a public key the customer gives (X25519, age-style, or RSA-OAEP
 * SHA-256 wrapping a file key; format at the top of recipient.c) ---- */
#define CRYPTO_X25519_LEN 32
#define CRYPTO_RCPT_CHUNK 65536
/* RFC 7748 §5 X25519(priv, pub) and the public key of priv. */
enum pv_rc crypto_x25519(const uint8_t priv[CRYPTO_X25519_LEN],
    const uint8_t pub[CRYPTO_X25519_LEN], uint8_t out[CRYPTO_X25519_LEN]);
enum pv_rc crypto_x25519_public(const uint8_t priv[CRYPTO_X25519_LEN],
    uint8_t pub[CRYPTO_X25519_LEN]);
struct crypto_recipient;
/* A SubjectPublicKeyInfo PEM: X25519 or RSA (2048..8192 bits); anything
 * else PV_E_INVALID. */
enum pv_rc crypto_recipient_load(const char *pem, size_t len, struct crypto_recipient **out);
const char *crypto_recipient_kind(const struct crypto_recipient *r);  /* "x25519" | "rsa-oaep-sha256" */
void crypto_recipient_free(struct crypto_recipient *r);   /* NULL ok */
/* Streaming writer to fd: new writes the header, write buffers and seals
 * full chunks, finish seals the last one. Nothing in clear reaches fd. */
struct crypto_rcpt_writer;
enum pv_rc crypto_rcpt_writer_new(const struct crypto_recipient *r, int fd,
    struct crypto_rcpt_writer **out);
enum pv_rc crypto_rcpt_write(struct crypto_rcpt_writer *w, const void *data, size_t len);
enum pv_rc crypto_rcpt_finish(struct crypto_rcpt_writer *w);
void crypto_rcpt_writer_free(struct crypto_rcpt_writer *w);   /* wipes; NULL ok */
/* The customer's side: open in_fd with the private key (PKCS#8 PEM), each
 * chunk's plaintext to sink once its tag verified. PV_E_INTEGRITY if the
 * file was made for another key or altered, cut or extended anywhere (the
 * sink may have seen earlier chunks then: discard them); PV_E_INVALID for a
 * key that is not X25519 or RSA. */
typedef enum pv_rc (*crypto_rcpt_sink)(const uint8_t *pt, size_t len, void *arg);
enum pv_rc crypto_rcpt_open(const char *priv_pem, size_t pemlen, int in_fd,
    crypto_rcpt_sink sink, void *arg);

#endif /* PV_CRYPTO_H */
