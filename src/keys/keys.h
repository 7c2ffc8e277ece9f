/*
 * keys: the key hierarchy of DESIGN.md.
 *
 *   seal (key file | Shamir K-of-N shares | PKCS#11 token: pkcs11.c)
 *     -> unseal key (256-bit; from DIR/unseal.key or combined shares)
 *       -> root key (256-bit, random; stored wrapped by the unseal key)
 *         -> KEK "<name>" v1, v2, ... (random; stored wrapped by the root key)
 *             -> DEK per envelope (random; wrapped by one KEK version)
 *         -> MAC keys: HKDF(KEK "<name>" vN, info=purpose) for blind indexes
 *            (the row keeps N; keys_mac alone stays on v1)
 *         -> audit signing key (Ed25519; stored wrapped by the root key)
 *
 * This header is shaped like a message protocol: requests carry plaintext or
 * ciphertext in and results out; no caller ever holds a pointer into key
 * memory. That lets the keyring move into a separate, privilege-separated
 * process (OpenSMTPD's `ca`) without changing a caller.
 *
 * States: SEALED --(unseal key recovered, root key unwrapped)--> UNSEALED
 *         UNSEALED --(keys_seal)--> SEALED (every key wiped)
 * Thread safety: every function may be called from any thread.
 * Persistence: keys_initialize and keys_kek_* write through the calling
 * thread's store connection, so at runtime call them inside an audit writer
 * job (audit_commit), at init time directly.
 */
#ifndef PV_KEYS_H
#define PV_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "util/util.h"

struct keys;

enum keys_seal_type { KEYS_SEAL_KEYFILE = 0, KEYS_SEAL_SHAMIR = 1, KEYS_SEAL_PKCS11 = 2 };
/* The HSM of the pkcs11 seal ([pkcs11] in phivault.conf). */
struct keys_hsm_spec {
	const char *module;        /* PKCS#11 module path (dlopen) */
	const char *token_label;   /* the token, found by label in every slot */
	const char *pin_file;      /* user PIN; a regular file, mode 0600, ours */
	const char *key_label;     /* AES-256 key in the token (made at init if absent) */
};
struct keys_seal_spec {
	enum keys_seal_type type;
	int threshold;   /* K, shamir only; 1 <= K <= N <= 255 (K >= 2 outside tests) */
	int shares;      /* N */
};
/* "keyfile", "shamir:K/N", "pkcs11" (initialized by keys_initialize_pkcs11). */
enum pv_rc keys_seal_parse(const char *s, struct keys_seal_spec *out);

/* File name of the key-file seal inside the data directory. */
#define KEYS_UNSEAL_FILE "unseal.key"

/*
 * Create the hierarchy in an empty store: unseal key, root key, audit
 * signing key. Key file seal: writes DIR/unseal.key (0600), *shares = NULL.
 * Shamir: *shares gets N malloc'd share strings (free with keys_shares_free);
 * nothing that could rebuild the unseal key is written anywhere.
 */
enum pv_rc keys_initialize(struct store *st, const char *datadir,
    const struct keys_seal_spec *spec, char ***shares, size_t *nshares);
void keys_shares_free(char **shares, size_t n);
/* The same with the pkcs11 seal: the unseal key is wrapped inside the token
 * by its AES key hsm->key_label (generated there, non-extractable, if the
 * token has no key of that label) and stored as meta seal.pkcs11_wrapped. */
enum pv_rc keys_initialize_pkcs11(struct store *st, const struct keys_hsm_spec *hsm);

/* Open the keyring of an initialised store, sealed. */
enum pv_rc keys_open(struct store *st, const char *datadir, struct keys **out);
void keys_close(struct keys *k);   /* seals (wipes) first */

struct keys_seal_status {
	bool sealed;
	enum keys_seal_type type;
	int progress;    /* shares received so far */
	int threshold;   /* shares needed */
};
void keys_status(struct keys *k, struct keys_seal_status *out);
bool keys_is_sealed(struct keys *k);

/* Key-file seal: read DIR/unseal.key and unseal. */
enum pv_rc keys_unseal_keyfile(struct keys *k);
/*
 * Shamir seal: add one share. PV_E_SHARE if it is malformed (bad encoding,
 * checksum, index) or repeats an index already given; PV_E_INTEGRITY if K
 * shares combined do not open the root key (progress starts again).
 * PV_OK otherwise, with the new status. Already unsealed: PV_OK, no change.
 */
enum pv_rc keys_unseal_share(struct keys *k, const char *share, struct keys_seal_status *out);
void keys_seal(struct keys *k);
/*
 * Several nodes on one database: the access epoch moved (authn saw it, a
 * change made through another node, which may be a KEK version revoked or
 * destroyed there). Every cached KEK and MAC key is dropped (wiped) and is
 * loaded again from its row at its next use, where a revoked row is refused;
 * tombstones stay. No-op while sealed.
 */
void keys_access_changed(struct keys *k);
/*
 * The seal's authority (API.md "phivault officer", as Vault's generate-root
 * needs unseal keys): does key_file (the text of DIR/unseal.key: 64 hex
 * digits, an optional newline) or the nshares shares (K distinct shares of
 * this vault; more are allowed, each must be one) rebuild the unseal key that
 * opens this keyring's root key?
 * The candidate unseal key must open the stored wrapped root key (AES-GCM
 * authenticates it) and the result must equal the unsealed root key
 * (constant-time compare). Exactly one of key_file / shares is given.
 * PV_OK; PV_E_SEAL_AUTHORITY if it is wrong, malformed or missing;
 * PV_E_SEALED while sealed; PV_E_STATE for a seal without a key file or
 * shares (pkcs11). Nothing is kept: every candidate is wiped.
 */
enum pv_rc keys_seal_authority(struct keys *k, const char *key_file,
    const char *const *shares, size_t nshares);
/* The same for the pkcs11 seal, which has neither: the token's user PIN
 * (the line of [pkcs11] pin_file), compared in constant time with the one
 * the keyring logged in with. PV_E_STATE for another seal. */
enum pv_rc keys_seal_authority_pin(struct keys *k, const char *pin);

/*
 * PKCS#11 seal: open the module and the token named in spec, unwrap the
 * unseal key inside the token and unseal. The HSM stays open (sessions are
 * re-opened by token label when the token goes away and comes back).
 * PV_E_HSM if the token or its key is not there; PV_E_CONFIG for a PIN file
 * others could read; PV_E_INTEGRITY if the token's key does not open it.
 */
enum pv_rc keys_unseal_pkcs11(struct keys *k, const struct keys_hsm_spec *spec);

/* GET /v1/sys/hsm: what the HSM of this keyring reports. */
#define KEYS_HSM_MECH_MAX 8
struct keys_hsm_status {
	bool configured;            /* the pkcs11 seal is in use */
	bool available;             /* a session is open right now */
	char module[256];
	char token_label[33];
	char key_label[128];
	size_t nmechanisms;
	char mechanisms[KEYS_HSM_MECH_MAX][32];   /* "CKM_AES_GCM", ... */
	char last_error[128];       /* "" or e.g. "CKR_TOKEN_NOT_PRESENT in C_OpenSession" */
	int64_t last_error_ms;      /* 0 if none */
};
/* Probes the token (re-opening its session if needed) before it reports. */
void keys_hsm_status(struct keys *k, struct keys_hsm_status *out);

/* ---- key-encryption keys ---- */
/* KEK names: [a-z0-9:._-]{1,120}. */
#define KEYS_KEK_NAME_MAX 120
bool keys_kek_name_valid(const char *name);
/* Create v1 of a KEK if it does not exist yet (idempotent). */
enum pv_rc keys_kek_ensure(struct keys *k, const char *name);
/* The same inside the caller's write transaction tx (a commit fn): the KEK
 * commits with it, or not at all. keys_kek_ensure runs its own, so it must
 * not be called while the caller's thread waits on a write transaction. */
enum pv_rc keys_kek_ensure_tx(struct keys *k, struct store_tx *tx, const char *name);
/* New version for new writes; old versions still open. */
enum pv_rc keys_kek_rotate(struct keys *k, const char *name, uint32_t *new_version);
/* Revoke one version: nothing wrapped by it opens again (crypto-shredding). */
enum pv_rc keys_kek_revoke(struct keys *k, const char *name, uint32_t version);

/* ---- providers and double encryption (docs/internals/keys.md "KEKs in
 * the HSM", "Double encryption") ----
 * provider "soft": the KEK's bytes wrapped by the root key (as before);
 * "pkcs11": an AES-256 key object generated in the token of the pkcs11 seal
 * (CKA_SENSITIVE, not CKA_EXTRACTABLE, label phivault-kek-<name>-v<N>); DEKs
 * are wrapped in the token (CKM_AES_GCM), the key never leaves it.
 * double_enc: the DEK wrap is wrapped once more under the same version of a
 * second KEK, "outer:<name>" (held by the HSM when there is one and the
 * inner is soft; soft otherwise). Both are needed to read. */
struct keys_kek_opts {
	const char *provider;   /* "soft" | "pkcs11"; NULL: as the current version (or soft) */
	int double_enc;         /* 0 | 1; -1: as the current version (or 0) */
};
/* Is the HSM of the pkcs11 seal open (so "pkcs11" KEKs can be made)? */
bool keys_hsm_configured(struct keys *k);
/* keys_kek_ensure_tx / keys_kek_rotate_tx with these choices for the new
 * version: PV_E_STATE for pkcs11 without an HSM, PV_E_INVALID for another
 * provider name, PV_E_HSM if the token refuses or is absent. */
enum pv_rc keys_kek_ensure_opts_tx(struct keys *k, struct store_tx *tx, const char *name,
    const struct keys_kek_opts *o);
enum pv_rc keys_kek_rotate_opts_tx(struct keys *k, struct store_tx *tx, const char *name,
    const struct keys_kek_opts *o, uint32_t *new_version);
/* "outer:<name>" into out; PV_E_INVALID if name is an outer key or too long. */
enum pv_rc keys_kek_outer_name(const char *name, char *out, size_t len);
/* The KEK whose census counts name's objects: x for "outer:x", else name. */
const char *keys_kek_census_name(const char *name);

struct keys_envelope;
/* ---- key administration inside the caller's write transaction (a commit
 * fn, with the audit entry of the change): all or nothing ---- */
/* keys_kek_rotate in tx. */
enum pv_rc keys_kek_rotate_tx(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t *new_version);
/* Retire a decrypt-only version whose census is 0 (store DISABLED, API
 * "retired"; it still opens, nothing is under it). PV_E_RETIRED_KEY_IN_USE
 * while objects are under it, PV_E_STATE for the active or a revoked
 * version, PV_E_NOTFOUND; PV_OK again on a retired one. */
enum pv_rc keys_kek_retire_tx(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t version);
/* Revoke and destroy: state REVOKED, the wrapped material overwritten in
 * the store, the cached key wiped (tombstone, at once: fail closed even if
 * tx rolls back). PV_E_STATE for the active version (rotate first). */
enum pv_rc keys_kek_destroy_tx(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t version);
/* The same for any version, the active one too (offboarding: nothing is
 * written under the key again; keys_envelope_seal then refuses it, as for
 * any revoked version). A version revoked earlier (keys_kek_revoke keeps
 * the wrapped bytes) has its material overwritten now. */
enum pv_rc keys_kek_erase_tx(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t version);
/* Re-encryption without touching the data: unwrap in's DEK with its KEK
 * version, wrap it again under (in's name, to_version), random wrap IV.
 * The DEK never leaves the keyring. PV_E_FORBIDDEN if either version is
 * revoked, PV_E_INTEGRITY if in's wrapped DEK does not open. */
enum pv_rc keys_dek_rewrap(struct keys *k, const struct keys_envelope *in, uint32_t to_version,
    struct keys_envelope *out);

/* ---- envelope encryption: the DEK never leaves the keyring ---- */
#define KEYS_WRAPPED_DEK_LEN (CRYPTO_KEY_LEN + CRYPTO_BOX_OVERHEAD)
struct keys_envelope {
	char kek_name[128];
	uint32_t kek_version;
	uint8_t wrapped_dek[KEYS_WRAPPED_DEK_LEN];
};
/* Encrypt pt under a fresh DEK wrapped by the KEK's current version.
 * ct must hold ptlen + CRYPTO_BOX_OVERHEAD. One RAND_bytes call draws the DEK and both IVs. */
enum pv_rc keys_envelope_seal(struct keys *k, const char *kek_name,
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
    uint8_t *ct, struct keys_envelope *env);
/* pt must hold ctlen - CRYPTO_BOX_OVERHEAD. PV_E_INTEGRITY on any mismatch
 * (wrong AAD, tampered ciphertext or wrapped DEK), PV_E_FORBIDDEN if the KEK
 * version is revoked, PV_E_SEALED while sealed. */
enum pv_rc keys_envelope_open(struct keys *k, const struct keys_envelope *env,
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *pt);

/* HMAC-SHA256 under the MAC key derived from KEK <kek_name> v1 with `purpose`
 * as HKDF info: keys_mac_version(k, kek_name, 1, ...). For MACs whose rows
 * cannot carry a version (subject references, login throttling, app
 * secrets): they keep v1. */
enum pv_rc keys_mac(struct keys *k, const char *kek_name, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* The same under HKDF(KEK <kek_name> version, info "phivault:mac:<purpose>")
 * (RFC 5869). Versioned MACs (blind indexes, deterministic tokens) store the
 * version with the row. PV_E_FORBIDDEN if that version is revoked,
 * PV_E_NOTFOUND if it does not exist. */
enum pv_rc keys_mac_version(struct keys *k, const char *kek_name, uint32_t version,
    const char *purpose, const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* Under the active (latest) version, read from the store on every call;
 * *version says which. */
enum pv_rc keys_mac_active(struct keys *k, const char *kek_name, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN], uint32_t *version);
/* The versions a lookup must try: every version of kek_name not revoked,
 * the active one first, then newest first (at most max). PV_E_NOTFOUND if
 * there is none. A search MACs its query once per version. */
enum pv_rc keys_mac_versions(struct keys *k, const char *kek_name, uint32_t *versions,
    size_t max, size_t *n);

/* ---- subject keys (subject.c): one key per patient between the KEK and
 * the record DEKs. The subject key (32 random bytes) is sealed like data
 * under an envelope of KEK kek_name (aad names the subject), so it rotates,
 * re-encrypts (keys_dek_rewrap on sk->env) and is counted like any
 * envelope. A record's KEK-wrapped DEK is wrapped once more under it
 * (keys_subject_wrap): without the subject key the DEK never opens, so
 * deleting the subject key shreds every record of that patient at once.
 * The key bytes exist only in locked memory inside these calls. ---- */
#define KEYS_SUBJECT_KEY_CT_LEN (CRYPTO_KEY_LEN + CRYPTO_BOX_OVERHEAD)
struct keys_subject_key {
	struct keys_envelope env;
	uint8_t ct[KEYS_SUBJECT_KEY_CT_LEN];
};
/* A fresh subject key sealed under kek_name's current version with aad. */
enum pv_rc keys_subject_key_new(struct keys *k, const char *kek_name,
    const uint8_t *aad, size_t aadlen, struct keys_subject_key *out);
/* out (inlen + CRYPTO_BOX_OVERHEAD) = box(subject key, wrap_aad, in); the
 * subject key is opened with key_aad. Errors of keys_envelope_open. */
enum pv_rc keys_subject_wrap(struct keys *k, const struct keys_subject_key *sk,
    const uint8_t *key_aad, size_t key_aadlen, const uint8_t *wrap_aad, size_t wrap_aadlen,
    const uint8_t *in, size_t inlen, uint8_t *out);
/* The inverse: out holds inlen - CRYPTO_BOX_OVERHEAD; PV_E_INTEGRITY if in
 * was not wrapped by this subject key with wrap_aad. */
enum pv_rc keys_subject_unwrap(struct keys *k, const struct keys_subject_key *sk,
    const uint8_t *key_aad, size_t key_aadlen, const uint8_t *wrap_aad, size_t wrap_aadlen,
    const uint8_t *in, size_t inlen, uint8_t *out);

/* ---- BYOK import (import.c) ----
 * phivault's import key is RSA-3072, made on first use and kept as meta
 * keys.import_key = box(root key, "phivault:import-key:v1", PKCS#1 DER).
 * Customer material: 32 bytes (AES-256) RSA-OAEP-wrapped (SHA-256,
 * MGF1-SHA-256, no label) to it; it becomes the KEK's next version, ACTIVE,
 * soft provider (wrapped under the root key like any KEK). */
/* The import key's public half (SubjectPublicKeyInfo PEM, malloc'd). */
enum pv_rc keys_import_public_pem(struct keys *k, char **pem);
struct keys_import;   /* unwrapped material, in locked memory until freed */
/* PV_E_NOTFOUND if the KEK has no version yet (import adds a version to a
 * key that exists); PV_E_INVALID if wrapped does not decrypt under the
 * import key to exactly 32 bytes (any byte changed, other padding or hash,
 * other key). The version it will become (latest + 1) is fixed here. */
enum pv_rc keys_import_unwrap(struct keys *k, const char *kek_name, const uint8_t *wrapped,
    size_t len, struct keys_import **out);
uint32_t keys_import_version(const struct keys_import *imp);
/* Install it inside the caller's write transaction (an audit_commit fn):
 * PV_E_CONFLICT if another version appeared meanwhile. */
enum pv_rc keys_import_commit_tx(struct keys *k, struct store_tx *tx,
    const struct keys_import *imp);
void keys_import_free(struct keys_import *imp);   /* wipes; NULL ok */

/* ---- phivault's app CA (app_ca.c, docs/internals/keys.md "App CA") ----
 * The CA key is sealed under the root key in the store; its certificate is
 * public (store and DIR/tls/app-ca.pem). */
/* Make the CA if there is none (unsealed; idempotent). */
enum pv_rc keys_app_ca_ensure(struct keys *k);
/* The CA certificate (PEM, malloc'd); works sealed. PV_E_NOTFOUND if none. */
enum pv_rc keys_app_ca_cert(struct store *st, char **pem);
/* Issue a client certificate for app_id from a CSR (crypto_x509_issue_client),
 * making the CA first if need be. *cert_pem and *ca_pem malloc'd. */
enum pv_rc keys_app_ca_issue(struct keys *k, const char *csr_pem, const char *app_id,
    int64_t ttl_s, struct crypto_client_cert *out, char **cert_pem, char **ca_pem);
/* Check a presented client certificate (DER) against the CA at util_now_ms():
 * see crypto_x509_client_check; PV_E_CERT if there is no CA yet. */
enum pv_rc keys_app_ca_check(struct store *st, const uint8_t *der, size_t len,
    struct crypto_client_cert *out);

/* ---- audit checkpoint signing ---- */
enum pv_rc keys_audit_sign(struct keys *k, const uint8_t *msg, size_t len,
    uint8_t sig[CRYPTO_ED25519_SIG_LEN]);
/* Public key; works while sealed (it is stored in the clear). */
enum pv_rc keys_audit_public_key(struct store *st, uint8_t pub[CRYPTO_ED25519_PUB_LEN]);

/* ---- backup keyring bundle (bundle.c) ----
 * What a restore needs to open KEK kek_name from the seal alone: the seal's
 * and the audit key's meta rows and every version of the KEK, all as
 * stored (wrapped). *out malloc'd. */
enum pv_rc keys_bundle_export(struct store_tx *tx, const char *kek_name, uint8_t **out,
    size_t *outlen);
/* Write a bundle into an empty store in tx (a restore's scratch keyring);
 * PV_E_INTEGRITY for a damaged bundle or a row it may not carry. */
enum pv_rc keys_bundle_import(struct store_tx *tx, const char *kek_name, const uint8_t *bundle,
    size_t len);
/* The audit public key a bundle carries; PV_E_NOTFOUND if none. */
enum pv_rc keys_bundle_public_key(const uint8_t *bundle, size_t len,
    uint8_t pub[CRYPTO_ED25519_PUB_LEN]);

#endif /* PV_KEYS_H */
