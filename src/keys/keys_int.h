/*
 * keys_int.h: internals of the keys module, shared by its files and its unit
 * tests. Nothing here is API (keys.h is).
 *
 *  - GF(2^8) arithmetic and Shamir secret sharing (shamir.c)
 *  - the text form of an unseal share (shamir.c)
 *  - constant-time hex for secret bytes (shamir.c)
 */
#ifndef PV_KEYS_INT_H
#define PV_KEYS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys/keys.h"
#include "util/util.h"

/* Shamir shares the 256-bit unseal key, byte-wise. */
#define KEYS_SHAMIR_SECRET_LEN 32
#define KEYS_SHAMIR_MAX_SHARES 255

/*
 * One share: the point (x, y(x)) of each of the 32 byte-polynomials, plus the
 * threshold K so a share names how many of its kind are needed. Only uint8_t
 * members, so an array of shares has no padding and can live in one
 * struct pv_secret buffer.
 */
struct keys_share {
	uint8_t x;          /* 1..255; 0 would be the secret itself */
	uint8_t threshold;  /* K */
	uint8_t y[KEYS_SHAMIR_SECRET_LEN];
};

/*
 * Share text: "pvs1:" + lowercase hex of
 *   x (1) | K (1) | y (32) | SHA-256("pvs1" | x | K | y)[0..4)   = 38 bytes
 * = 5 + 76 = 81 characters.
 */
#define KEYS_SHARE_PREFIX "pvs1:"
#define KEYS_SHARE_BIN_LEN (1 + 1 + KEYS_SHAMIR_SECRET_LEN + 4)
#define KEYS_SHARE_TEXT_LEN (sizeof(KEYS_SHARE_PREFIX) - 1 + 2 * KEYS_SHARE_BIN_LEN)

/* GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (FIPS-197 §4.2),
 * constant time: no table lookups, no data-dependent branches. */
uint8_t keys_gf256_mul(uint8_t a, uint8_t b);
/* Multiplicative inverse a^254 (FIPS-197 §4.2: a^-1 = a^254); 0 maps to 0. */
uint8_t keys_gf256_inv(uint8_t a);

/*
 * Split secret into n shares with threshold k (1 <= k <= n <= 255): for each
 * byte, a random polynomial of degree k-1 with the byte as constant term,
 * evaluated at x = 1..n. out must hold n shares. PV_E_INVALID on bad k/n.
 */
enum pv_rc keys_shamir_split(const uint8_t secret[KEYS_SHAMIR_SECRET_LEN], int k, int n,
    struct keys_share *out);
/*
 * Lagrange interpolation at x = 0 over exactly k shares (the caller decides
 * k; the shares' threshold bytes are not consulted). PV_E_SHARE if an x is 0
 * or repeats. With fewer than the real K shares the result is unrelated to
 * the secret, which the caller finds out when the root key does not open.
 */
enum pv_rc keys_shamir_combine(const struct keys_share *shares, int k,
    uint8_t secret[KEYS_SHAMIR_SECRET_LEN]);

/* out must hold KEYS_SHARE_TEXT_LEN + 1 bytes. */
enum pv_rc keys_share_encode(const struct keys_share *s, char *out);
/*
 * Strict parse of one share text. Leading and trailing ASCII whitespace is
 * ignored (a share pasted or piped from stdin ends in a newline); anything
 * else that is not exactly the format above is PV_E_SHARE, and so is x = 0, a
 * threshold other than `threshold`, or a checksum mismatch. out is written
 * only on success.
 */
enum pv_rc keys_share_parse(const char *text, int threshold, struct keys_share *out);

/*
 * Per-share commitments (the vault binding of shares): at init, for each
 * share, H_x = SHA-256("phivault-share-commit-v1" | salt (16) | x | K | y).
 * Stored in meta "seal.share_commitments" as salt | H_1 | ... | H_N, so the
 * sealed server can check each submitted share on its own: a share that is
 * not the one issued for its x fails. y is 256 random-looking bits (and any
 * K-1 shares leave the others uniform), so the hashes reveal nothing usable.
 */
#define KEYS_COMMIT_SALT_LEN 16
#define KEYS_COMMIT_TAG "phivault-share-commit-v1"
enum pv_rc keys_share_commit(const uint8_t salt[KEYS_COMMIT_SALT_LEN],
    const struct keys_share *s, uint8_t out[32]);

/* Constant-time hex (no table lookups or branches on the data): for secrets.
 * decode: exactly 2*outlen hex digits (either case); -1 otherwise. */
void keys_hex_encode_ct(const uint8_t *in, size_t len, char *out);
int keys_hex_decode_ct(const char *in, size_t inlen, uint8_t *out, size_t outlen);

/* KEK names: [a-z0-9:._-]{1,120}. */

/*
 * Key providers (provider.c), a function table like sqlite3_vfs: who holds
 * a wrapping key and runs the wrap. Both produce and take the box format
 * IV(12) | ciphertext | tag(16) of AES-256-GCM (NIST SP 800-38D) with the
 * caller's AAD, so a wrap made by one can be stored like any other.
 *   soft:   ctx = const struct pv_secret * (a key in our locked memory);
 *           label unused.
 *   pkcs11: ctx = struct keys_hsm *; label = CKA_LABEL of an AES key in the
 *           token, which never leaves it (CKM_AES_GCM inside the token).
 * out holds ptlen + CRYPTO_BOX_OVERHEAD; pt holds inlen - CRYPTO_BOX_OVERHEAD.
 */
struct keys_provider {
	const char *name;
	enum pv_rc (*wrap)(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
	    const uint8_t *pt, size_t ptlen, uint8_t *out);
	enum pv_rc (*unwrap)(void *ctx, const char *label, const uint8_t *aad, size_t aadlen,
	    const uint8_t *in, size_t inlen, uint8_t *pt);
};
extern const struct keys_provider keys_provider_soft;
extern const struct keys_provider keys_provider_pkcs11;
/* By name ("soft", "pkcs11"); NULL for any other. */
const struct keys_provider *keys_provider_find(const char *name);

/*
 * The HSM (pkcs11.c): one PKCS#11 module, one token found by label, one
 * logged-in session guarded by a mutex. An operation that finds the session
 * gone (token removed, module restarted) drops it, re-initializes the module
 * if the token is not listed any more, re-opens by label and retries once;
 * while that fails it answers PV_E_HSM and remembers the error for
 * keys_hsm_report.
 */
struct keys_hsm;
enum pv_rc keys_hsm_open(const struct keys_hsm_spec *spec, struct keys_hsm **out);
void keys_hsm_close(struct keys_hsm *h);
/* Is pin the token's user PIN (the pin file's line)? Constant time in the
 * PIN's bytes. */
bool keys_hsm_pin_equal(struct keys_hsm *h, const char *pin);
/* Make an AES-256 key with this label in the token if there is none:
 * CKA_SENSITIVE, not CKA_EXTRACTABLE, CKA_TOKEN. */
enum pv_rc keys_hsm_key_ensure(struct keys_hsm *h, const char *label);
void keys_hsm_report(struct keys_hsm *h, struct keys_hsm_status *out);
/* A fresh AES-256 key labelled `label` (as keys_hsm_key_ensure), any older
 * key of that label destroyed first: an HSM-held KEK version (keys.c). */
enum pv_rc keys_hsm_key_generate(struct keys_hsm *h, const char *label);
/* C_DestroyObject of every secret key labelled `label`; PV_OK if none.
 * PV_E_HSM while the token is absent. */
enum pv_rc keys_hsm_key_destroy(struct keys_hsm *h, const char *label);
/* CKM_AES_CTR inside the token (the 16-byte counter block, 128 counter
 * bits): the same transform as crypto_aes256_ctr. */
enum pv_rc keys_hsm_ctr(struct keys_hsm *h, const char *label, const uint8_t ctr[16],
    const uint8_t *in, size_t len, uint8_t *out);
/* A PIN file: regular, not a link, owned by us (or root), no group/other
 * bits, 1..128 bytes with an optional final newline. Into locked memory. */
enum pv_rc keys_pin_file_read(const char *path, struct pv_secret **out, size_t *len);

/* keys.c, for import.c: see there. */
enum pv_rc keys_kek_install_tx(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t version, const struct pv_secret *material);
enum pv_rc keys_root_seal(struct keys *k, const char *aad, const uint8_t *pt, size_t len,
    uint8_t *out);
enum pv_rc keys_root_open(struct keys *k, const char *aad, const uint8_t *in, size_t len,
    uint8_t *pt);
struct store *keys_store(struct keys *k);
/* The data directory given to keys_open ("" if none), for app_ca.c. */
const char *keys_datadir(struct keys *k);

/* For the unit tests of the caches (docs/internals/keys.md "Cost"): does the
 * keyring hold anything of KEK (name, version) -- its bytes or its keyed
 * GCM contexts -- or the MAC key (name, version, purpose)? A tombstone, an
 * evicted or never loaded version: false. */
bool keys_kek_cached(struct keys *k, const char *name, uint32_t version);
bool keys_mac_cached(struct keys *k, const char *name, uint32_t version, const char *purpose);

#endif /* PV_KEYS_INT_H */
