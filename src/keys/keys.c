/*
 * keys: the keyring. Owns the seal, the root key, the audit signing key, the
 * in-memory cache of unwrapped KEKs and MAC keys, and envelope encryption.
 * docs/internals/keys.md describes the hierarchy and the formats.
 *
 * Persistent state (store meta, written once by keys_initialize):
 *   seal.type          "keyfile" | "shamir" | "pkcs11"  (written last: its presence
 *                                                 means "initialized")
 *   seal.threshold     decimal K                 (shamir only)
 *   seal.shares        decimal N                 (shamir only)
 *   seal.root_wrapped  box(unseal key, AAD "phivault:root:v1", root key)
 *   audit.signing_key  box(root key, AAD "phivault:audit-signing:v1", Ed25519 seed)
 *   audit.public_key   raw 32-byte Ed25519 public key (readable while sealed)
 *   seal.pkcs11_wrapped  IV | GCM(token key [pkcs11] key_label, AAD
 *                      "phivault:unseal:pkcs11:v1", unseal key) | tag, made and
 *                      opened inside the token (pkcs11 only; provider.c, pkcs11.c)
 *   keys.import_key    box(root key, "phivault:import-key:v1", RSA DER) (import.c)
 *   seal.share_commitments  salt(16) | H_1 .. H_N, 32 bytes each (shamir only;
 *                      keys_share_commit; absent in milestone-1 data dirs)
 * and one store_kek row per (name, version):
 *   box(root key, AAD "phivault:kek:<name>:<version>", KEK)
 * where box = IV || AES-256-GCM ciphertext || tag (crypto_gcmbox_seal).
 *
 * State machine of a struct keys:
 *
 *   SEALED(progress p) --keys_unseal_share, p+1 < K--> SEALED(p+1)
 *   SEALED(K-1) --K-th share, root opens--> UNSEALED
 *   SEALED(K-1) --K-th share, root does not open--> SEALED(0)  [PV_E_INTEGRITY]
 *   SEALED --keys_unseal_keyfile, root opens--> UNSEALED
 *   UNSEALED --keys_seal / keys_close--> SEALED(0)
 * A rejected share (PV_E_SHARE) leaves the state as it was. With commitments
 * every share is checked on its own before it counts (a forged or foreign
 * share is refused and discards nothing); a share equal to one already given
 * is accepted again without counting (idempotent); x outside 1..N is refused.
 *
 * Invariants:
 *  - Key bytes are only in struct pv_secret (locked, non-dumpable, wiped on
 *    free); no function returns a pointer into them. Logs carry KEK names,
 *    versions and codes, never key bytes or shares.
 *  - sealed == true  <=>  root == NULL && audit_priv == NULL && no cached
 *    key bytes. Every operation that needs a key checks `sealed` under
 *    `lock` and uses the key while still holding it, so keys_seal (write
 *    lock) cannot free a key in use.
 *  - Lock order: unseal_mu before lock. unseal_mu serializes seal/unseal and
 *    guards the Shamir progress; lock (rwlock) guards keys and caches.
 *  - The KEK cache is only filled from rows read from the store, never from
 *    a key just created: keys_kek_* run inside an audit writer job that may
 *    roll back, and a cached key whose row was rolled back must not be used.
 *    Creating (name, version) evicts any cached entry of that pair, so a
 *    rolled-back version that is created again is re-read.
 *  - The current version for new envelopes is read from the store on every
 *    seal for the same reason (a rolled-back rotation is never used).
 *  - A revoked version leaves a tombstone in the cache, so a thread that read
 *    the row just before the revocation cannot re-insert its key. If the
 *    revoking transaction rolls back, the tombstone keeps the version closed
 *    until the next seal: fail closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/keys.h"
#include "keys/keys_int.h"

#define META_SEAL_TYPE "seal.type"
#define META_SEAL_THRESHOLD "seal.threshold"
#define META_SEAL_SHARES "seal.shares"
#define META_ROOT_WRAPPED "seal.root_wrapped"
#define META_AUDIT_KEY "audit.signing_key"
#define META_AUDIT_PUB "audit.public_key"
#define META_SHARE_COMMIT "seal.share_commitments"
#define META_P11_WRAPPED "seal.pkcs11_wrapped"

#define AAD_ROOT "phivault:root:v1"
#define AAD_AUDIT "phivault:audit-signing:v1"
#define AAD_P11_UNSEAL "phivault:unseal:pkcs11:v1"

#define WRAPPED_KEY_LEN (CRYPTO_KEY_LEN + CRYPTO_BOX_OVERHEAD)
#define CACHE_BUCKETS 64
#define PURPOSE_MAX 200
#define AAD_MAX 256
/* Key file: 64 hex digits and an optional newline. */
#define KEYFILE_HEX_LEN (2 * CRYPTO_KEY_LEN)
#define KEYFILE_READ_MAX 128
/* One random draw per envelope: DEK | IV of the DEK wrap | IV of the data. */
#define DRAW_DEK 0
#define DRAW_IV_WRAP CRYPTO_KEY_LEN
#define DRAW_IV_DATA (CRYPTO_KEY_LEN + CRYPTO_GCM_IV_LEN)
#define DRAW_LEN (CRYPTO_KEY_LEN + 2 * CRYPTO_GCM_IV_LEN)

struct kek_slot {
	struct kek_slot *next;
	char name[KEYS_KEK_NAME_MAX + 1];
	uint32_t version;
	bool revoked;                /* tombstone: key == NULL */
	struct pv_secret *key;       /* pkcs11: only the MAC seed, never a DEK wrap */
	bool p11;                    /* provider pkcs11: DEKs wrap in the token */
	char outer[KEYS_KEK_NAME_MAX + 1];   /* double encryption: "" or the outer KEK */
};

struct mac_slot {
	struct mac_slot *next;
	char kek_name[KEYS_KEK_NAME_MAX + 1];
	uint32_t version;            /* the KEK version the MAC key derives from */
	char purpose[PURPOSE_MAX + 1];
	struct crypto_hmac_key *key; /* HMAC-SHA256 pads of the HKDF output, locked */
};

struct keys {
	struct store *st;
	char datadir[PATH_MAX];
	enum keys_seal_type type;
	int threshold;               /* K (shamir), 0 otherwise */
	int nshares;                 /* N (shamir), 0 otherwise */

	uint8_t *commit;             /* salt | N x 32 (shamir), NULL in legacy data dirs */
	pthread_mutex_t unseal_mu;   /* guards progress, pending */
	int progress;
	struct pv_secret *pending;   /* threshold x struct keys_share */

	pthread_rwlock_t lock;       /* guards everything below */
	bool sealed;
	struct pv_secret *root;
	struct pv_secret *audit_priv;
	struct kek_slot *keks[CACHE_BUCKETS];
	struct mac_slot *macs[CACHE_BUCKETS];

	struct keys_hsm *hsm;        /* pkcs11 seal: opened by keys_unseal_pkcs11 (under unseal_mu) */
	char hsm_key_label[128];
};

/* ---- locks: a failing lock call is a broken invariant; fail closed ---- */

static void
rd_lock(struct keys *k)
{
	if (pthread_rwlock_rdlock(&k->lock) != 0)
		abort();
}

static void
wr_lock(struct keys *k)
{
	if (pthread_rwlock_wrlock(&k->lock) != 0)
		abort();
}

static void
rw_unlock(struct keys *k)
{
	if (pthread_rwlock_unlock(&k->lock) != 0)
		abort();
}

static void
mu_lock(struct keys *k)
{
	if (pthread_mutex_lock(&k->unseal_mu) != 0)
		abort();
}

static void
mu_unlock(struct keys *k)
{
	if (pthread_mutex_unlock(&k->unseal_mu) != 0)
		abort();
}

/* ---- small helpers ---- */

bool
keys_kek_name_valid(const char *name)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= KEYS_KEK_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' ||
		    c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

static unsigned
bucket_of(const char *a, const char *b, uint32_t v)
{
	uint32_t h = 2166136261u;   /* FNV-1a */
	int i;

	for (; *a; a++)
		h = (h ^ (uint8_t)*a) * 16777619u;
	h = (h ^ 0xFFu) * 16777619u;
	for (; b && *b; b++)
		h = (h ^ (uint8_t)*b) * 16777619u;
	for (i = 0; i < 4; i++)
		h = (h ^ ((v >> (8 * i)) & 0xFFu)) * 16777619u;
	return h % CACHE_BUCKETS;
}

/* "phivault:<what>:<name>:<version>" (what snprintf("%s:%s:%u") wrote,
 * without its cost on every envelope); -1 if it does not fit AAD_MAX. */
static int
fmt_aad(char *buf, const char *what, const char *name, uint32_t version)
{
	size_t wl = strlen(what), nl = strnlen(name, AAD_MAX), n = 0;
	char digits[10];
	int d = 0;

	do {
		digits[d++] = (char)('0' + version % 10);
		version /= 10;
	} while (version != 0);
	if (sizeof("phivault:") - 1 + wl + 1 + nl + 1 + (size_t)d >= AAD_MAX)
		return -1;
	memcpy(buf, "phivault:", sizeof("phivault:") - 1);
	n = sizeof("phivault:") - 1;
	memcpy(buf + n, what, wl);
	n += wl;
	buf[n++] = ':';
	memcpy(buf + n, name, nl);
	n += nl;
	buf[n++] = ':';
	while (d > 0)
		buf[n++] = digits[--d];
	buf[n] = '\0';
	return (int)n;
}

/* Parse a small decimal meta value (K, N). */
static enum pv_rc
meta_get_int(struct store_tx *tx, const char *key, int lo, int hi, int *out)
{
	uint8_t *val = NULL;
	size_t len = 0, i;
	int v = 0;
	enum pv_rc rc;

	rc = store_meta_get(tx, key, &val, &len);
	if (rc != PV_OK)
		return rc;
	rc = PV_E_INTEGRITY;
	if (len == 0 || len > 3)
		goto out;
	for (i = 0; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			goto out;
		v = v * 10 + (val[i] - '0');
	}
	if (v < lo || v > hi)
		goto out;
	*out = v;
	rc = PV_OK;
out:
	free(val);
	return rc;
}

/* Read a meta value that must be exactly len bytes; missing or wrong-size is corruption. */
static enum pv_rc
meta_get_exact(struct store_tx *tx, const char *key, uint8_t *out, size_t want)
{
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc;

	rc = store_meta_get(tx, key, &val, &len);
	if (rc == PV_E_NOTFOUND) {
		log_error("keys: store meta %s missing", key);
		return PV_E_INTEGRITY;
	}
	if (rc != PV_OK)
		return rc;
	if (len != want) {
		log_error("keys: store meta %s has length %zu, want %zu", key, len, want);
		rc = PV_E_INTEGRITY;
	} else {
		memcpy(out, val, want);
	}
	free(val);
	return rc;
}

/* ---- caches (callers hold the write lock to change them) ---- */

/* Wipe what a slot holds of its key. */
static void
slot_drop_key(struct kek_slot *s)
{
	crypto_secret_free(s->key);
	s->key = NULL;
}

static struct kek_slot *
kek_find(struct keys *k, const char *name, uint32_t version)
{
	struct kek_slot *s;

	for (s = k->keks[bucket_of(name, NULL, version)]; s; s = s->next)
		if (s->version == version && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

static struct kek_slot *
kek_insert(struct keys *k, const char *name, uint32_t version)
{
	struct kek_slot *s = calloc(1, sizeof(*s));
	unsigned b = bucket_of(name, NULL, version);

	if (s == NULL)
		return NULL;
	util_strlcpy(s->name, name, sizeof(s->name));
	s->version = version;
	s->next = k->keks[b];
	k->keks[b] = s;
	return s;
}

static void
kek_evict(struct keys *k, const char *name, uint32_t version)
{
	struct kek_slot **pp = &k->keks[bucket_of(name, NULL, version)], *s;

	while ((s = *pp) != NULL) {
		if (s->version == version && strcmp(s->name, name) == 0) {
			*pp = s->next;
			slot_drop_key(s);
			free(s);
			return;
		}
		pp = &s->next;
	}
}

static struct mac_slot *
mac_find(struct keys *k, const char *name, uint32_t version, const char *purpose)
{
	struct mac_slot *s;

	for (s = k->macs[bucket_of(name, purpose, version)]; s; s = s->next)
		if (s->version == version && strcmp(s->kek_name, name) == 0 &&
		    strcmp(s->purpose, purpose) == 0)
			return s;
	return NULL;
}

/* Drop every MAC key derived from KEK `name` (a version of it was made
 * or revoked: MAC keys are derived per version). */
static void
mac_evict_name(struct keys *k, const char *name)
{
	unsigned b;

	for (b = 0; b < CACHE_BUCKETS; b++) {
		struct mac_slot **pp = &k->macs[b], *s;

		while ((s = *pp) != NULL) {
			if (strcmp(s->kek_name, name) == 0) {
				*pp = s->next;
				crypto_hmac_key_free(s->key);
				free(s);
			} else {
				pp = &s->next;
			}
		}
	}
}

static void
caches_clear(struct keys *k)
{
	unsigned b;

	for (b = 0; b < CACHE_BUCKETS; b++) {
		struct kek_slot *ks, *kn;
		struct mac_slot *ms, *mn;

		for (ks = k->keks[b]; ks; ks = kn) {
			kn = ks->next;
			slot_drop_key(ks);
			free(ks);
		}
		k->keks[b] = NULL;
		for (ms = k->macs[b]; ms; ms = mn) {
			mn = ms->next;
			crypto_hmac_key_free(ms->key);
			free(ms);
		}
		k->macs[b] = NULL;
	}
}

/*
 * Read (name, version) from the store, unwrap it under the root key and put
 * it in the cache. Takes the write lock itself.
 */
static enum pv_rc
kek_load(struct keys *k, const char *name, uint32_t version)
{
	struct store_kek row;
	struct pv_secret *key = NULL;
	struct kek_slot *s;
	char aad[AAD_MAX];
	int aadlen;
	bool p11;
	enum pv_rc rc;

	memset(&row, 0, sizeof(row));
	STORE_READ(k->st, rc, store_kek_get(tx, name, version, &row));
	if (rc != PV_OK)
		return rc;
	if (row.state == STORE_KEK_REVOKED) {
		rc = PV_E_FORBIDDEN;
		goto out;
	}
	if (row.wrapped_len != WRAPPED_KEY_LEN || row.wrapped == NULL) {
		log_error("keys: kek %s v%u: wrapped key has length %zu", name,
		    (unsigned)version, row.wrapped_len);
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if ((aadlen = fmt_aad(aad, "kek", name, version)) < 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	rc = crypto_secret_new(CRYPTO_KEY_LEN, &key);
	if (rc != PV_OK)
		goto out;
	p11 = strcmp(row.provider, "pkcs11") == 0;

	wr_lock(k);
	if (k->sealed) {
		rc = PV_E_SEALED;
	} else if ((s = kek_find(k, name, version)) != NULL) {
		/* another thread was faster, or the version was revoked meanwhile */
		rc = s->revoked ? PV_E_FORBIDDEN : PV_OK;
	} else {
		rc = crypto_gcmbox_open(k->root->buf, (const uint8_t *)aad, (size_t)aadlen,
		    row.wrapped, row.wrapped_len, key->buf);
		if (rc != PV_OK) {
			log_error("keys: kek %s v%u does not open under the root key (%s)",
			    name, (unsigned)version, pv_rc_name(rc));
		} else if ((s = kek_insert(k, name, version)) == NULL) {
			rc = PV_E_NOMEM;
		} else {
			s->key = key;
			s->p11 = p11;
			util_strlcpy(s->outer, row.outer, sizeof(s->outer));
			key = NULL;
		}
	}
	rw_unlock(k);
out:
	crypto_secret_free(key);
	store_kek_clear(&row);
	return rc;
}

/*
 * Find the unwrapped KEK (name, version), loading it on a miss. On PV_OK the
 * read lock is HELD and *key stays valid until the caller's rw_unlock.
 */
static enum pv_rc
slot_acquire(struct keys *k, const char *name, uint32_t version, const struct kek_slot **out)
{
	int attempt;
	enum pv_rc rc;

	for (attempt = 0; attempt < 3; attempt++) {
		struct kek_slot *s;

		rd_lock(k);
		if (k->sealed) {
			rw_unlock(k);
			return PV_E_SEALED;
		}
		s = kek_find(k, name, version);
		if (s != NULL) {
			if (s->revoked) {
				rw_unlock(k);
				return PV_E_FORBIDDEN;
			}
			*out = s;
			return PV_OK;
		}
		rw_unlock(k);
		rc = kek_load(k, name, version);
		if (rc != PV_OK)
			return rc;
	}
	/* loaded three times and evicted each time: a rotation storm */
	return PV_E_UNAVAILABLE;
}

static enum pv_rc
kek_acquire(struct keys *k, const char *name, uint32_t version, const struct pv_secret **key)
{
	const struct kek_slot *s;
	enum pv_rc rc = slot_acquire(k, name, version, &s);

	if (rc == PV_OK)
		*key = s->key;
	return rc;
}

/* ---- the DEK wrap across providers (docs/internals/keys.md "KEKs in the
 * HSM", "Double encryption") ----
 *
 * A wrapped DEK is always the box IV(12) | GCM ciphertext(32) | tag(16)
 * under the KEK version (name, v) with AAD "phivault:dek:<name>:<v>":
 *   soft   crypto_gcmbox_seal with the KEK bytes in our locked memory;
 *   pkcs11 C_Encrypt(CKM_AES_GCM) inside the token under the key object
 *          labelled phivault-kek-<name>-v<v>; the KEK never leaves it.
 * With double encryption the version's row names an outer KEK O, and the 48
 * bytes after the IV are encrypted once more with AES-256-CTR under O's
 * version v (counter block IV | 00000000; soft: crypto_aes256_ctr, pkcs11:
 * CKM_AES_CTR in the token). Length preserving, so the envelope format is
 * unchanged; the inner GCM tag authenticates everything, so a wrong or
 * missing outer key is PV_E_INTEGRITY, never a wrong DEK. Both keys are
 * needed: without O the GCM box is hidden, without the inner KEK it does
 * not open. The HSM is called without holding the keyring lock. */
#define KEK_LABEL_MAX (KEYS_KEK_NAME_MAX + 32)

static int
kek_label(char *buf, size_t len, const char *name, uint32_t version)
{
	int n = snprintf(buf, len, "phivault-kek-%s-v%u", name, (unsigned)version);

	return (n < 0 || (size_t)n >= len) ? -1 : n;
}

static struct keys_hsm *
hsm_get(struct keys *k)
{
	struct keys_hsm *h;

	mu_lock(k);
	h = k->hsm;
	mu_unlock(k);
	return h;
}

struct kek_use {
	bool p11;
	char outer[KEYS_KEK_NAME_MAX + 1];
};

/* The outer layer over box[IV_LEN..) in place, under (outer, version). */
static enum pv_rc
outer_xcrypt(struct keys *k, const char *outer, uint32_t version,
    uint8_t box[KEYS_WRAPPED_DEK_LEN])
{
	const struct kek_slot *s;
	uint8_t ctr[16];
	char label[KEK_LABEL_MAX];
	bool p11;
	enum pv_rc rc;

	memset(ctr, 0, sizeof(ctr));
	memcpy(ctr, box, CRYPTO_GCM_IV_LEN);
	if ((rc = slot_acquire(k, outer, version, &s)) != PV_OK)
		return rc == PV_E_NOTFOUND ? PV_E_INTEGRITY : rc;
	p11 = s->p11;
	if (s->outer[0] != '\0')
		rc = PV_E_INTEGRITY;             /* one outer layer, never a chain */
	else if (!p11)
		rc = crypto_aes256_ctr(s->key->buf, ctr, box + CRYPTO_GCM_IV_LEN,
		    KEYS_WRAPPED_DEK_LEN - CRYPTO_GCM_IV_LEN, box + CRYPTO_GCM_IV_LEN);
	rw_unlock(k);
	if (rc != PV_OK || !p11)
		return rc;
	if (kek_label(label, sizeof(label), outer, version) < 0)
		return PV_E_INVALID;
	if (hsm_get(k) == NULL)
		return PV_E_HSM;
	return keys_hsm_ctr(hsm_get(k), label, ctr, box + CRYPTO_GCM_IV_LEN,
	    KEYS_WRAPPED_DEK_LEN - CRYPTO_GCM_IV_LEN, box + CRYPTO_GCM_IV_LEN);
}

/* Wrap dek under (name, version); iv: the wrap IV, or NULL for a random one. */
static enum pv_rc
dek_wrap(struct keys *k, const char *name, uint32_t version, const uint8_t *iv,
    const uint8_t *dek, uint8_t out[KEYS_WRAPPED_DEK_LEN])
{
	const struct kek_slot *s;
	struct kek_use use;
	char aad[AAD_MAX], label[KEK_LABEL_MAX];
	int aadlen;
	enum pv_rc rc;

	if ((aadlen = fmt_aad(aad, "dek", name, version)) < 0)
		return PV_E_INVALID;
	if ((rc = slot_acquire(k, name, version, &s)) != PV_OK)
		return rc;
	use.p11 = s->p11;
	util_strlcpy(use.outer, s->outer, sizeof(use.outer));
	if (!use.p11)
		rc = crypto_gcmbox_seal(s->key->buf, iv, (const uint8_t *)aad, (size_t)aadlen,
		    dek, CRYPTO_KEY_LEN, out);
	rw_unlock(k);
	if (rc == PV_OK && use.p11) {
		if (kek_label(label, sizeof(label), name, version) < 0)
			rc = PV_E_INVALID;
		else if (hsm_get(k) == NULL)
			rc = PV_E_HSM;
		else
			rc = keys_provider_pkcs11.wrap(hsm_get(k), label, (const uint8_t *)aad,
			    (size_t)aadlen, dek, CRYPTO_KEY_LEN, out);
	}
	if (rc == PV_OK && use.outer[0] != '\0')
		rc = outer_xcrypt(k, use.outer, version, out);
	if (rc != PV_OK)
		crypto_wipe(out, KEYS_WRAPPED_DEK_LEN);
	return rc;
}

/* Unwrap in (wrapped under (name, version)) into dek (locked memory). */
static enum pv_rc
dek_unwrap(struct keys *k, const char *name, uint32_t version,
    const uint8_t in[KEYS_WRAPPED_DEK_LEN], uint8_t *dek)
{
	const struct kek_slot *s;
	struct kek_use use;
	uint8_t box[KEYS_WRAPPED_DEK_LEN];
	char aad[AAD_MAX], label[KEK_LABEL_MAX];
	int aadlen;
	enum pv_rc rc;

	if ((aadlen = fmt_aad(aad, "dek", name, version)) < 0)
		return PV_E_INVALID;
	if ((rc = slot_acquire(k, name, version, &s)) != PV_OK)
		return rc;
	use.p11 = s->p11;
	util_strlcpy(use.outer, s->outer, sizeof(use.outer));
	if (!use.p11 && use.outer[0] == '\0') {
		/* the common case: one soft KEK, under the lock */
		rc = crypto_gcmbox_open(s->key->buf, (const uint8_t *)aad, (size_t)aadlen,
		    in, KEYS_WRAPPED_DEK_LEN, dek);
		rw_unlock(k);
		return rc;
	}
	rw_unlock(k);
	memcpy(box, in, sizeof(box));
	if (use.outer[0] != '\0' && (rc = outer_xcrypt(k, use.outer, version, box)) != PV_OK)
		goto out;
	if (use.p11) {
		if (kek_label(label, sizeof(label), name, version) < 0)
			rc = PV_E_INVALID;
		else if (hsm_get(k) == NULL)
			rc = PV_E_HSM;
		else
			rc = keys_provider_pkcs11.unwrap(hsm_get(k), label, (const uint8_t *)aad,
			    (size_t)aadlen, box, sizeof(box), dek);
	} else {
		if ((rc = slot_acquire(k, name, version, &s)) != PV_OK)
			goto out;
		rc = s->p11 ? PV_E_INTEGRITY :   /* the provider cannot change under a version */
		    crypto_gcmbox_open(s->key->buf, (const uint8_t *)aad, (size_t)aadlen,
		    box, sizeof(box), dek);
		rw_unlock(k);
	}
out:
	crypto_wipe(box, sizeof(box));
	return rc;
}

/* ---- seal spec ---- */

static int
parse_small_uint(const char *s, size_t len, int *out)
{
	size_t i;
	int v = 0;

	if (len == 0 || len > 3)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

enum pv_rc
keys_seal_parse(const char *s, struct keys_seal_spec *out)
{
	struct keys_seal_spec spec = { KEYS_SEAL_KEYFILE, 0, 0 };
	const char *slash;

	if (s == NULL)
		return PV_E_INVALID;
	if (strcmp(s, "keyfile") == 0) {
		spec.type = KEYS_SEAL_KEYFILE;
	} else if (strcmp(s, "pkcs11") == 0) {
		spec.type = KEYS_SEAL_PKCS11;
	} else if (util_str_has_prefix(s, "shamir:")) {
		s += strlen("shamir:");
		slash = strchr(s, '/');
		if (slash == NULL ||
		    parse_small_uint(s, (size_t)(slash - s), &spec.threshold) != 0 ||
		    parse_small_uint(slash + 1, strlen(slash + 1), &spec.shares) != 0)
			return PV_E_INVALID;
		/* K = 1 would make every share the unseal key itself: refused
		 * here (the operator's path); keys_initialize accepts it for tests. */
		if (spec.threshold < 2 || spec.shares < spec.threshold ||
		    spec.shares > KEYS_SHAMIR_MAX_SHARES)
			return PV_E_INVALID;
		spec.type = KEYS_SEAL_SHAMIR;
	} else {
		return PV_E_INVALID;
	}
	*out = spec;
	return PV_OK;
}

/* ---- initialize ---- */

void
keys_shares_free(char **shares, size_t n)
{
	size_t i;

	if (shares == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (shares[i] != NULL) {
			crypto_wipe(shares[i], strlen(shares[i]));
			free(shares[i]);
		}
	}
	free(shares);
}

static enum pv_rc
write_keyfile(const char *datadir, const struct pv_secret *unseal)
{
	char path[PATH_MAX];
	struct pv_secret *text = NULL;
	enum pv_rc rc;

	if (datadir == NULL || util_path_join(path, sizeof(path), datadir, KEYS_UNSEAL_FILE) != 0)
		return PV_E_INVALID;
	rc = crypto_secret_new(KEYFILE_HEX_LEN + 2, &text);
	if (rc != PV_OK)
		return rc;
	keys_hex_encode_ct(unseal->buf, unseal->len, (char *)text->buf);
	text->buf[KEYFILE_HEX_LEN] = '\n';
	rc = util_file_write_atomic(path, text->buf, KEYFILE_HEX_LEN + 1, 0600);
	if (rc != PV_OK)
		log_error("keys: cannot write %s (%s)", path, pv_rc_name(rc));
	crypto_secret_free(text);
	return rc;
}

static enum pv_rc
make_shares(const struct pv_secret *unseal, int k, int n, char ***out, uint8_t *commit)
{
	struct pv_secret *sh = NULL;
	const struct keys_share *shares;
	char **list = NULL;
	enum pv_rc rc;
	int i;

	rc = crypto_secret_new((size_t)n * sizeof(struct keys_share), &sh);
	if (rc != PV_OK)
		return rc;
	shares = (const struct keys_share *)sh->buf;
	rc = keys_shamir_split(unseal->buf, k, n, (struct keys_share *)sh->buf);
	if (rc != PV_OK)
		goto out;
	list = calloc((size_t)n, sizeof(*list));
	if (list == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = crypto_random(commit, KEYS_COMMIT_SALT_LEN)) != PV_OK)
		goto out;
	for (i = 0; i < n; i++) {
		rc = keys_share_commit(commit, &shares[i],
		    commit + KEYS_COMMIT_SALT_LEN + (size_t)i * 32);
		if (rc != PV_OK)
			goto out;
		list[i] = malloc(KEYS_SHARE_TEXT_LEN + 1);
		if (list[i] == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		rc = keys_share_encode(&shares[i], list[i]);
		if (rc != PV_OK) {
			crypto_wipe(list[i], KEYS_SHARE_TEXT_LEN + 1);
			free(list[i]);
			list[i] = NULL;
			goto out;
		}
	}
	*out = list;
	list = NULL;
out:
	keys_shares_free(list, (size_t)n);
	crypto_secret_free(sh);
	return rc;
}

static enum pv_rc
meta_put_str(struct store_tx *tx, const char *key, const char *val)
{
	return store_meta_put(tx, key, (const uint8_t *)val, strlen(val));
}

static enum pv_rc
initialize(struct store *st, const char *datadir, const struct keys_seal_spec *spec,
    const struct keys_hsm_spec *hsm_spec, char ***shares, size_t *nshares)
{
	struct pv_secret *unseal = NULL, *root = NULL, *audit = NULL;
	uint8_t root_wrapped[WRAPPED_KEY_LEN], audit_wrapped[WRAPPED_KEY_LEN];
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	uint8_t *val = NULL;
	size_t len = 0;
	char **list = NULL, num[16];
	size_t nlist = 0;
	uint8_t *commit = NULL;
	struct store_tx *tx = NULL;
	enum pv_rc rc;

	if (st == NULL || spec == NULL)
		return PV_E_INVALID;
	switch (spec->type) {
	case KEYS_SEAL_KEYFILE:
		if (datadir == NULL)
			return PV_E_INVALID;
		break;
	case KEYS_SEAL_SHAMIR:
		if (spec->threshold < 1 || spec->shares < spec->threshold ||
		    spec->shares > KEYS_SHAMIR_MAX_SHARES || shares == NULL || nshares == NULL)
			return PV_E_INVALID;
		if (spec->threshold == 1)
			log_warn("keys: shamir threshold 1: every share is the unseal key");
		break;
	case KEYS_SEAL_PKCS11:
		if (hsm_spec == NULL || hsm_spec->key_label == NULL) {
			log_error("keys: the pkcs11 seal needs the [pkcs11] HSM settings");
			return PV_E_CONFIG;
		}
		break;
	default:
		return PV_E_INVALID;
	}

	/* One write transaction: the check and every meta value, so a failed
	 * init leaves nothing behind and two inits cannot both pass the check. */
	if ((rc = store_begin(st, STORE_WR, &tx)) != PV_OK)
		return rc;
	rc = store_meta_get(tx, META_SEAL_TYPE, &val, &len);
	free(val);
	val = NULL;
	if (rc == PV_OK) {
		log_error("keys: store is already initialized");
		rc = PV_E_CONFLICT;
		goto out;
	}
	if (rc != PV_E_NOTFOUND)
		goto out;

	if ((rc = crypto_secret_random(CRYPTO_KEY_LEN, &unseal)) != PV_OK ||
	    (rc = crypto_secret_random(CRYPTO_KEY_LEN, &root)) != PV_OK ||
	    (rc = crypto_gcmbox_seal(unseal->buf, NULL, (const uint8_t *)AAD_ROOT,
		strlen(AAD_ROOT), root->buf, root->len, root_wrapped)) != PV_OK ||
	    (rc = crypto_ed25519_keygen(pub, &audit)) != PV_OK ||
	    (rc = crypto_gcmbox_seal(root->buf, NULL, (const uint8_t *)AAD_AUDIT,
		strlen(AAD_AUDIT), audit->buf, audit->len, audit_wrapped)) != PV_OK)
		goto out;

	/* The seal material goes out first: if a meta write fails afterwards the
	 * key file or shares are orphans and init can run again, whereas the
	 * other order could leave an initialized store nobody can unseal. */
	if (spec->type == KEYS_SEAL_KEYFILE) {
		rc = write_keyfile(datadir, unseal);
	} else if (spec->type == KEYS_SEAL_PKCS11) {
		/* the unseal key wrapped inside the token by its AES key (made
		 * there if the label is new): only that token opens this vault */
		uint8_t p11w[WRAPPED_KEY_LEN];
		struct keys_hsm *hsm = NULL;

		rc = keys_hsm_open(hsm_spec, &hsm);
		if (rc == PV_OK)
			rc = keys_hsm_key_ensure(hsm, hsm_spec->key_label);
		if (rc == PV_OK)
			rc = keys_provider_pkcs11.wrap(hsm, hsm_spec->key_label,
			    (const uint8_t *)AAD_P11_UNSEAL, strlen(AAD_P11_UNSEAL), unseal->buf,
			    unseal->len, p11w);
		if (rc == PV_OK)
			rc = store_meta_put(tx, META_P11_WRAPPED, p11w, sizeof(p11w));
		keys_hsm_close(hsm);
	} else {
		commit = malloc(KEYS_COMMIT_SALT_LEN + (size_t)spec->shares * 32);
		rc = commit == NULL ? PV_E_NOMEM :
		    make_shares(unseal, spec->threshold, spec->shares, &list, commit);
		nlist = (size_t)spec->shares;
	}
	if (rc != PV_OK)
		goto out;

	if ((rc = store_meta_put(tx, META_ROOT_WRAPPED, root_wrapped, sizeof(root_wrapped))) != PV_OK ||
	    (rc = store_meta_put(tx, META_AUDIT_KEY, audit_wrapped, sizeof(audit_wrapped))) != PV_OK ||
	    (rc = store_meta_put(tx, META_AUDIT_PUB, pub, sizeof(pub))) != PV_OK)
		goto out;
	if (spec->type == KEYS_SEAL_SHAMIR) {
		snprintf(num, sizeof(num), "%d", spec->threshold);
		if ((rc = meta_put_str(tx, META_SEAL_THRESHOLD, num)) != PV_OK)
			goto out;
		snprintf(num, sizeof(num), "%d", spec->shares);
		if ((rc = meta_put_str(tx, META_SEAL_SHARES, num)) != PV_OK)
			goto out;
		if ((rc = store_meta_put(tx, META_SHARE_COMMIT, commit,
		    KEYS_COMMIT_SALT_LEN + (size_t)spec->shares * 32)) != PV_OK)
			goto out;
	}
	rc = meta_put_str(tx, META_SEAL_TYPE, spec->type == KEYS_SEAL_KEYFILE ? "keyfile" :
	    spec->type == KEYS_SEAL_PKCS11 ? "pkcs11" : "shamir");
	if (rc != PV_OK)
		goto out;
	if ((rc = store_commit(tx)) != PV_OK)
		goto out;

	log_info("keys: initialized (seal %s)", spec->type == KEYS_SEAL_KEYFILE ? "keyfile" :
	    spec->type == KEYS_SEAL_PKCS11 ? "pkcs11" : "shamir");
	if (shares != NULL)
		*shares = list;
	if (nshares != NULL)
		*nshares = list != NULL ? nlist : 0;
	list = NULL;
out:
	store_end(tx);
	keys_shares_free(list, nlist);
	free(commit);
	crypto_secret_free(unseal);
	crypto_secret_free(root);
	crypto_secret_free(audit);
	crypto_wipe(root_wrapped, sizeof(root_wrapped));
	crypto_wipe(audit_wrapped, sizeof(audit_wrapped));
	return rc;
}

enum pv_rc
keys_initialize(struct store *st, const char *datadir,
    const struct keys_seal_spec *spec, char ***shares, size_t *nshares)
{
	return initialize(st, datadir, spec, NULL, shares, nshares);
}

enum pv_rc
keys_initialize_pkcs11(struct store *st, const struct keys_hsm_spec *hsm)
{
	const struct keys_seal_spec spec = { KEYS_SEAL_PKCS11, 0, 0 };

	return initialize(st, NULL, &spec, hsm, NULL, NULL);
}

/* ---- open / close / status ---- */

enum pv_rc
keys_open(struct store *st, const char *datadir, struct keys **out)
{
	struct keys *k = NULL;
	uint8_t *val = NULL;
	size_t len = 0;
	bool mu_init = false, rw_init = false;
	struct store_tx *tx = NULL;
	enum pv_rc rc;

	if (st == NULL || out == NULL)
		return PV_E_INVALID;
	if (datadir != NULL && strlen(datadir) >= PATH_MAX)
		return PV_E_INVALID;
	if ((rc = store_begin(st, STORE_RD, &tx)) != PV_OK)
		return rc;
	rc = store_meta_get(tx, META_SEAL_TYPE, &val, &len);
	if (rc != PV_OK)
		goto out;
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	k->st = st;
	k->sealed = true;
	if (datadir != NULL)
		util_strlcpy(k->datadir, datadir, sizeof(k->datadir));
	if (len == strlen("keyfile") && memcmp(val, "keyfile", len) == 0) {
		k->type = KEYS_SEAL_KEYFILE;
	} else if (len == strlen("pkcs11") && memcmp(val, "pkcs11", len) == 0) {
		k->type = KEYS_SEAL_PKCS11;
	} else if (len == strlen("shamir") && memcmp(val, "shamir", len) == 0) {
		k->type = KEYS_SEAL_SHAMIR;
		if ((rc = meta_get_int(tx, META_SEAL_THRESHOLD, 1, KEYS_SHAMIR_MAX_SHARES,
			&k->threshold)) != PV_OK ||
		    (rc = meta_get_int(tx, META_SEAL_SHARES, k->threshold,
			KEYS_SHAMIR_MAX_SHARES, &k->nshares)) != PV_OK) {
			log_error("keys: shamir seal parameters unreadable (%s)", pv_rc_name(rc));
			if (rc == PV_E_NOTFOUND)
				rc = PV_E_INTEGRITY;
			goto out;
		}
		rc = crypto_secret_new((size_t)k->threshold * sizeof(struct keys_share), &k->pending);
		if (rc != PV_OK)
			goto out;
		free(val);
		val = NULL;
		rc = store_meta_get(tx, META_SHARE_COMMIT, &val, &len);
		if (rc == PV_E_NOTFOUND) {
			log_warn("keys: this data directory has no share commitments (made before "
			    "they existed): shares are not checked one by one, so a forged share "
			    "can reset unseal progress; re-initialise to bind shares to the vault");
		} else if (rc != PV_OK) {
			goto out;
		} else if (len != KEYS_COMMIT_SALT_LEN + (size_t)k->nshares * 32) {
			log_error("keys: share commitments malformed");
			rc = PV_E_INTEGRITY;
			goto out;
		} else {
			k->commit = val;
			val = NULL;
		}
	} else {
		log_error("keys: unknown seal type in store");
		rc = PV_E_CONFIG;
		goto out;
	}
	if (pthread_mutex_init(&k->unseal_mu, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	mu_init = true;
	if (pthread_rwlock_init(&k->lock, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	rw_init = true;
	*out = k;
	k = NULL;
	rc = PV_OK;
out:
	if (k != NULL) {
		if (mu_init)
			pthread_mutex_destroy(&k->unseal_mu);
		if (rw_init)
			pthread_rwlock_destroy(&k->lock);
		crypto_secret_free(k->pending);
		free(k->commit);
		free(k);
	}
	store_end(tx);
	free(val);
	return rc;
}

/* Wipe the Shamir shares collected so far. Caller holds unseal_mu. */
static void
progress_reset(struct keys *k)
{
	if (k->pending != NULL)
		crypto_wipe(k->pending->buf, k->pending->len);
	k->progress = 0;
}

void
keys_seal(struct keys *k)
{
	bool was;

	if (k == NULL)
		return;
	mu_lock(k);
	wr_lock(k);
	was = !k->sealed;
	crypto_secret_free(k->root);
	k->root = NULL;
	crypto_secret_free(k->audit_priv);
	k->audit_priv = NULL;
	caches_clear(k);
	k->sealed = true;
	rw_unlock(k);
	progress_reset(k);
	mu_unlock(k);
	if (was)
		log_info("keys: sealed");
}

void
keys_close(struct keys *k)
{
	if (k == NULL)
		return;
	keys_seal(k);
	keys_hsm_close(k->hsm);
	crypto_secret_free(k->pending);
	free(k->commit);
	pthread_rwlock_destroy(&k->lock);
	pthread_mutex_destroy(&k->unseal_mu);
	free(k);
}

void
keys_access_changed(struct keys *k)
{
	unsigned b;

	if (k == NULL)
		return;
	wr_lock(k);
	for (b = 0; b < CACHE_BUCKETS; b++) {
		struct kek_slot **pp = &k->keks[b], *ks;
		struct mac_slot *ms, *mn;

		while ((ks = *pp) != NULL) {
			if (ks->revoked) {   /* tombstones stay: fail closed */
				pp = &ks->next;
				continue;
			}
			*pp = ks->next;
			slot_drop_key(ks);
			free(ks);
		}
		for (ms = k->macs[b]; ms; ms = mn) {
			mn = ms->next;
			crypto_hmac_key_free(ms->key);
			free(ms);
		}
		k->macs[b] = NULL;
	}
	rw_unlock(k);
}

bool
keys_is_sealed(struct keys *k)
{
	bool s;

	rd_lock(k);
	s = k->sealed;
	rw_unlock(k);
	return s;
}

/* Caller holds unseal_mu. */
static void
status_fill(struct keys *k, struct keys_seal_status *out)
{
	struct keys_seal_status s;

	memset(&s, 0, sizeof(s));
	s.sealed = keys_is_sealed(k);
	s.type = k->type;
	s.threshold = k->threshold;
	s.progress = s.sealed ? k->progress : 0;
	*out = s;
}

void
keys_status(struct keys *k, struct keys_seal_status *out)
{
	mu_lock(k);
	status_fill(k, out);
	mu_unlock(k);
}

/* ---- unseal ---- */

/*
 * With the unseal key recovered: open the root key, then the audit signing
 * key, check the latter against the stored public key, and install both.
 * Caller holds unseal_mu. PV_E_INTEGRITY if the unseal key is wrong.
 */
static enum pv_rc
unseal_with_key(struct keys *k, const uint8_t unseal[CRYPTO_KEY_LEN])
{
	uint8_t wrapped[WRAPPED_KEY_LEN], pub[CRYPTO_ED25519_PUB_LEN], pub2[CRYPTO_ED25519_PUB_LEN];
	struct pv_secret *root = NULL, *audit = NULL;
	enum pv_rc rc;

	STORE_READ(k->st, rc, meta_get_exact(tx, META_ROOT_WRAPPED, wrapped, sizeof(wrapped)));
	if (rc != PV_OK ||
	    (rc = crypto_secret_new(CRYPTO_KEY_LEN, &root)) != PV_OK ||
	    (rc = crypto_secret_new(CRYPTO_ED25519_PRIV_LEN, &audit)) != PV_OK)
		goto out;
	rc = crypto_gcmbox_open(unseal, (const uint8_t *)AAD_ROOT, strlen(AAD_ROOT),
	    wrapped, sizeof(wrapped), root->buf);
	if (rc != PV_OK) {
		log_warn("keys: unseal key does not open the root key (%s)", pv_rc_name(rc));
		goto out;
	}
	STORE_READ(k->st, rc, meta_get_exact(tx, META_AUDIT_KEY, wrapped, sizeof(wrapped)));
	if (rc != PV_OK)
		goto out;
	STORE_READ(k->st, rc, meta_get_exact(tx, META_AUDIT_PUB, pub, sizeof(pub)));
	if (rc != PV_OK)
		goto out;
	rc = crypto_gcmbox_open(root->buf, (const uint8_t *)AAD_AUDIT, strlen(AAD_AUDIT),
	    wrapped, sizeof(wrapped), audit->buf);
	if (rc != PV_OK) {
		log_error("keys: audit signing key does not open under the root key (%s)",
		    pv_rc_name(rc));
		goto out;
	}
	if ((rc = crypto_ed25519_pub_from_priv(audit->buf, pub2)) != PV_OK)
		goto out;
	if (!crypto_memeq(pub, pub2, sizeof(pub))) {
		log_error("keys: audit signing key does not match audit.public_key");
		rc = PV_E_INTEGRITY;
		goto out;
	}
	wr_lock(k);
	if (k->sealed) {
		k->root = root;
		k->audit_priv = audit;
		root = audit = NULL;
		k->sealed = false;
	}
	rw_unlock(k);
	log_info("keys: unsealed");
out:
	crypto_secret_free(root);
	crypto_secret_free(audit);
	crypto_wipe(wrapped, sizeof(wrapped));
	return rc;
}

/* Read DIR/unseal.key into `key`, refusing a file others could read. */
static enum pv_rc
read_keyfile(struct keys *k, struct pv_secret *key)
{
	char path[PATH_MAX];
	struct pv_secret *text = NULL;
	struct stat sb;
	size_t got = 0;
	enum pv_rc rc = PV_E_CONFIG;
	int fd;

	if (k->datadir[0] == '\0' ||
	    util_path_join(path, sizeof(path), k->datadir, KEYS_UNSEAL_FILE) != 0)
		return PV_E_CONFIG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT) {
			log_error("keys: %s does not exist", path);
			return PV_E_NOTFOUND;
		}
		if (errno == ELOOP) {
			log_error("keys: %s is a symbolic link; refused", path);
			return PV_E_CONFIG;
		}
		log_error("keys: cannot open %s (errno %d)", path, errno);
		return PV_E_IO;
	}
	if (fstat(fd, &sb) != 0) {
		rc = PV_E_IO;
		goto out;
	}
	/* The same checks ssh applies to private keys: regular file, owned by
	 * us (or root), no access for group or others. */
	if (!S_ISREG(sb.st_mode)) {
		log_error("keys: %s is not a regular file; refused", path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		log_error("keys: %s has mode %03o, accessible by group or others; "
		    "refused (chmod 600)", path, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		log_error("keys: %s is owned by uid %u, not by this user; refused",
		    path, (unsigned)sb.st_uid);
		goto out;
	}
	if ((rc = crypto_secret_new(KEYFILE_READ_MAX, &text)) != PV_OK)
		goto out;
	for (;;) {
		ssize_t r = read(fd, text->buf + got, text->len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = PV_E_IO;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == text->len)
			break;
	}
	if (got == KEYFILE_HEX_LEN + 1 && text->buf[KEYFILE_HEX_LEN] == '\n')
		got--;
	if (got != KEYFILE_HEX_LEN ||
	    keys_hex_decode_ct((const char *)text->buf, got, key->buf, key->len) != 0) {
		log_error("keys: %s is malformed (want 64 hex digits and a newline)", path);
		rc = PV_E_CONFIG;
		goto out;
	}
	rc = PV_OK;
out:
	crypto_secret_free(text);
	close(fd);
	return rc;
}

enum pv_rc
keys_unseal_keyfile(struct keys *k)
{
	struct pv_secret *key = NULL;
	enum pv_rc rc;

	if (k->type != KEYS_SEAL_KEYFILE)
		return PV_E_STATE;
	mu_lock(k);
	if (!keys_is_sealed(k)) {
		rc = PV_OK;
		goto out;
	}
	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, &key)) != PV_OK ||
	    (rc = read_keyfile(k, key)) != PV_OK)
		goto out;
	rc = unseal_with_key(k, key->buf);
out:
	mu_unlock(k);
	crypto_secret_free(key);
	return rc;
}

enum pv_rc
keys_unseal_share(struct keys *k, const char *share, struct keys_seal_status *out)
{
	struct keys_share *pending;
	struct keys_share one;
	struct pv_secret *key = NULL;
	enum pv_rc rc;
	int i;

	if (k->type != KEYS_SEAL_SHAMIR)
		return PV_E_STATE;
	mu_lock(k);
	if (!keys_is_sealed(k)) {
		rc = PV_OK;
		goto done;
	}
	pending = (struct keys_share *)k->pending->buf;
	rc = keys_share_parse(share, k->threshold, &one);
	if (rc != PV_OK) {
		log_warn("keys: unseal share rejected (%s)", pv_rc_name(rc));
		goto out;
	}
	if (one.x > k->nshares) {
		log_warn("keys: unseal share rejected: index beyond the %d shares issued",
		    k->nshares);
		rc = PV_E_SHARE;
		goto out;
	}
	if (k->commit != NULL) {
		uint8_t h[32];

		rc = keys_share_commit(k->commit, &one, h);
		if (rc == PV_OK && !crypto_memeq(h, k->commit + KEYS_COMMIT_SALT_LEN +
		    (size_t)(one.x - 1) * 32, sizeof(h))) {
			log_warn("keys: unseal share rejected: not a share of this vault");
			rc = PV_E_SHARE;
		}
		if (rc != PV_OK)
			goto out;
	}
	for (i = 0; i < k->progress; i++) {
		if (pending[i].x != one.x)
			continue;
		if (crypto_memeq(pending[i].y, one.y, sizeof(one.y))) {
			/* the same share again: accepted, counted once */
			log_info("keys: unseal share given again; progress %d/%d", k->progress,
			    k->threshold);
			rc = PV_OK;
			goto done;
		}
		log_warn("keys: unseal share rejected: another share with an index already given");
		rc = PV_E_SHARE;
		goto out;
	}
	pending[k->progress++] = one;
	if (k->progress < k->threshold) {
		log_info("keys: unseal progress %d/%d", k->progress, k->threshold);
		goto done;
	}
	rc = crypto_secret_new(CRYPTO_KEY_LEN, &key);
	if (rc == PV_OK)
		rc = keys_shamir_combine(pending, k->threshold, key->buf);
	/* Shares are single-use for this attempt whatever happens next. */
	progress_reset(k);
	if (rc == PV_OK)
		rc = unseal_with_key(k, key->buf);
	if (rc != PV_OK)
		goto out;
done:
	if (out != NULL)
		status_fill(k, out);
out:
	mu_unlock(k);
	crypto_wipe(&one, sizeof(one));
	crypto_secret_free(key);
	return rc;
}

/* The seal's authority (keys.h). Caller holds nothing. */
static enum pv_rc
authority_key(struct keys *k, const char *key_file, const char *const *shares, size_t n,
    uint8_t out[CRYPTO_KEY_LEN])
{
	struct pv_secret *buf = NULL;
	struct keys_share *sh;
	size_t len, i, j;
	enum pv_rc rc;

	if (key_file != NULL) {
		if (k->type != KEYS_SEAL_KEYFILE)
			return PV_E_SEAL_AUTHORITY;
		len = strnlen(key_file, KEYFILE_HEX_LEN + 2);
		if (len == KEYFILE_HEX_LEN + 1 && key_file[KEYFILE_HEX_LEN] == '\n')
			len--;
		if (len != KEYFILE_HEX_LEN ||
		    keys_hex_decode_ct(key_file, len, out, CRYPTO_KEY_LEN) != 0)
			return PV_E_SEAL_AUTHORITY;
		return PV_OK;
	}
	/* at least K shares, each a distinct share of this vault; the first K
	 * rebuild the unseal key */
	if (k->type != KEYS_SEAL_SHAMIR || shares == NULL || n < (size_t)k->threshold ||
	    n > (size_t)k->nshares)
		return PV_E_SEAL_AUTHORITY;
	if ((rc = crypto_secret_new(n * sizeof(*sh), &buf)) != PV_OK)
		return rc;
	sh = (struct keys_share *)buf->buf;
	for (i = 0; i < n; i++) {
		if (shares[i] == NULL ||
		    keys_share_parse(shares[i], k->threshold, &sh[i]) != PV_OK ||
		    sh[i].x > k->nshares) {
			rc = PV_E_SEAL_AUTHORITY;
			goto out;
		}
		for (j = 0; j < i; j++)
			if (sh[j].x == sh[i].x) {
				rc = PV_E_SEAL_AUTHORITY;
				goto out;
			}
	}
	if (k->commit != NULL)
		for (i = 0; i < n; i++) {
			uint8_t h[32];

			if (keys_share_commit(k->commit, &sh[i], h) != PV_OK ||
			    !crypto_memeq(h, k->commit + KEYS_COMMIT_SALT_LEN +
			    (size_t)(sh[i].x - 1) * 32, sizeof(h))) {
				rc = PV_E_SEAL_AUTHORITY;
				goto out;
			}
		}
	rc = keys_shamir_combine(sh, k->threshold, out) == PV_OK ? PV_OK : PV_E_SEAL_AUTHORITY;
out:
	crypto_secret_free(buf);
	return rc;
}

enum pv_rc
keys_seal_authority(struct keys *k, const char *key_file, const char *const *shares,
    size_t nshares)
{
	uint8_t wrapped[WRAPPED_KEY_LEN];
	struct pv_secret *cand = NULL, *root = NULL;
	enum pv_rc rc;

	if (k == NULL || (key_file == NULL) == (shares == NULL))
		return PV_E_SEAL_AUTHORITY;
	if (k->type == KEYS_SEAL_PKCS11)
		return PV_E_STATE;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, &cand)) != PV_OK ||
	    (rc = crypto_secret_new(CRYPTO_KEY_LEN, &root)) != PV_OK)
		goto out;
	if ((rc = authority_key(k, key_file, shares, nshares, cand->buf)) != PV_OK)
		goto out;
	STORE_READ(k->st, rc, meta_get_exact(tx, META_ROOT_WRAPPED, wrapped, sizeof(wrapped)));
	if (rc != PV_OK)
		goto out;
	if (crypto_gcmbox_open(cand->buf, (const uint8_t *)AAD_ROOT, strlen(AAD_ROOT),
	    wrapped, sizeof(wrapped), root->buf) != PV_OK) {
		rc = PV_E_SEAL_AUTHORITY;
		goto out;
	}
	rd_lock(k);
	rc = !k->sealed && crypto_memeq(root->buf, k->root->buf, CRYPTO_KEY_LEN) ?
	    PV_OK : PV_E_SEAL_AUTHORITY;
	rw_unlock(k);
out:
	crypto_secret_free(cand);
	crypto_secret_free(root);
	crypto_wipe(wrapped, sizeof(wrapped));
	return rc;
}

enum pv_rc
keys_seal_authority_pin(struct keys *k, const char *pin)
{
	bool ok;

	if (k == NULL || pin == NULL)
		return PV_E_SEAL_AUTHORITY;
	if (k->type != KEYS_SEAL_PKCS11)
		return PV_E_STATE;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	mu_lock(k);   /* k->hsm is opened under unseal_mu */
	ok = keys_hsm_pin_equal(k->hsm, pin);
	mu_unlock(k);
	return ok ? PV_OK : PV_E_SEAL_AUTHORITY;
}

enum pv_rc
keys_unseal_pkcs11(struct keys *k, const struct keys_hsm_spec *spec)
{
	uint8_t wrapped[WRAPPED_KEY_LEN];
	struct pv_secret *key = NULL;
	enum pv_rc rc;

	if (k->type != KEYS_SEAL_PKCS11)
		return PV_E_STATE;
	if (spec == NULL || spec->key_label == NULL ||
	    strlen(spec->key_label) >= sizeof(k->hsm_key_label))
		return PV_E_CONFIG;
	mu_lock(k);
	if (!keys_is_sealed(k)) {
		rc = PV_OK;
		goto out;
	}
	if (k->hsm == NULL) {
		if ((rc = keys_hsm_open(spec, &k->hsm)) != PV_OK)
			goto out;
		util_strlcpy(k->hsm_key_label, spec->key_label, sizeof(k->hsm_key_label));
	}
	STORE_READ(k->st, rc, meta_get_exact(tx, META_P11_WRAPPED, wrapped, sizeof(wrapped)));
	if (rc != PV_OK ||
	    (rc = crypto_secret_new(CRYPTO_KEY_LEN, &key)) != PV_OK)
		goto out;
	rc = keys_provider_pkcs11.unwrap(k->hsm, k->hsm_key_label,
	    (const uint8_t *)AAD_P11_UNSEAL, strlen(AAD_P11_UNSEAL), wrapped, sizeof(wrapped),
	    key->buf);
	if (rc != PV_OK) {
		log_error("keys: the token's key %s does not open this vault (%s)",
		    k->hsm_key_label, pv_rc_name(rc));
		goto out;
	}
	rc = unseal_with_key(k, key->buf);
out:
	mu_unlock(k);
	crypto_secret_free(key);
	return rc;
}

void
keys_hsm_status(struct keys *k, struct keys_hsm_status *out)
{
	struct keys_hsm *h;

	mu_lock(k);
	h = k->hsm;
	mu_unlock(k);
	keys_hsm_report(h, out);   /* the HSM lives as long as k; it has its own lock */
}

/* ---- KEKs ---- */

/*
 * Make a new random KEK (name, version), wrap it under the root key and store
 * it ACTIVE in tx (the caller's write transaction). Not cached (see the
 * invariants at the top): nothing of it is remembered before tx commits.
 */
static enum pv_rc
kek_create_ex(struct keys *k, struct store_tx *tx, const char *name, uint32_t version,
    const struct pv_secret *material, bool p11, const char *outer);

static enum pv_rc
kek_create_from(struct keys *k, struct store_tx *tx, const char *name, uint32_t version,
    const struct pv_secret *material)
{
	return kek_create_ex(k, tx, name, version, material, false, "");
}

/* material: the KEK's bytes (BYOK import), or NULL for fresh random ones.
 * p11: the version is a key object generated in the token (labelled
 * phivault-kek-<name>-v<version>); the bytes wrapped under the root key are
 * then only its MAC seed (keys_mac), never used to wrap a DEK. outer: the
 * outer KEK of double encryption ("" for none; its same version must exist
 * or be created in tx by the caller). */
static enum pv_rc
kek_create_ex(struct keys *k, struct store_tx *tx, const char *name, uint32_t version,
    const struct pv_secret *material, bool p11, const char *outer)
{
	struct pv_secret *kek = NULL;
	uint8_t wrapped[WRAPPED_KEY_LEN];
	struct store_kek row;
	char aad[AAD_MAX];
	int aadlen;
	enum pv_rc rc;

	if ((aadlen = fmt_aad(aad, "kek", name, version)) < 0)
		return PV_E_INVALID;
	if (material != NULL && material->len != CRYPTO_KEY_LEN)
		return PV_E_INVALID;
	if (p11 && material != NULL)
		return PV_E_INVALID;
	if (p11) {
		char label[KEK_LABEL_MAX];

		if (kek_label(label, sizeof(label), name, version) < 0)
			return PV_E_INVALID;
		if (hsm_get(k) == NULL)
			return PV_E_STATE;   /* no HSM: the pkcs11 seal is not in use */
		if ((rc = keys_hsm_key_generate(hsm_get(k), label)) != PV_OK) {
			log_error("keys: kek %s v%u: cannot generate its key in the token (%s)",
			    name, (unsigned)version, pv_rc_name(rc));
			return rc;
		}
	}
	rc = material != NULL ? crypto_secret_from(material->buf, material->len, &kek) :
	    crypto_secret_random(CRYPTO_KEY_LEN, &kek);
	if (rc != PV_OK)
		return rc;
	rd_lock(k);
	if (k->sealed)
		rc = PV_E_SEALED;
	else
		rc = crypto_gcmbox_seal(k->root->buf, NULL, (const uint8_t *)aad, (size_t)aadlen,
		    kek->buf, kek->len, wrapped);
	rw_unlock(k);
	crypto_secret_free(kek);
	if (rc != PV_OK)
		return rc;

	memset(&row, 0, sizeof(row));
	util_strlcpy(row.name, name, sizeof(row.name));
	row.version = version;
	row.state = STORE_KEK_ACTIVE;
	row.created_ms = util_now_ms();
	row.wrapped = wrapped;
	row.wrapped_len = sizeof(wrapped);
	util_strlcpy(row.provider, p11 ? "pkcs11" : "soft", sizeof(row.provider));
	util_strlcpy(row.outer, outer != NULL ? outer : "", sizeof(row.outer));
	rc = store_kek_put(tx, &row);
	if (rc != PV_OK) {
		log_error("keys: cannot store kek %s v%u (%s)", name, (unsigned)version,
		    pv_rc_name(rc));
		return rc;
	}
	wr_lock(k);
	kek_evict(k, name, version);
	mac_evict_name(k, name);
	rw_unlock(k);
	log_info("keys: kek %s v%u created (%s%s%s)", name, (unsigned)version,
	    p11 ? "pkcs11" : "soft", outer != NULL && outer[0] != '\0' ? ", outer " : "",
	    outer != NULL ? outer : "");
	return PV_OK;
}

/* ---- providers and double encryption of a KEK's versions ---- */

#define OUTER_PREFIX "outer:"

enum pv_rc
keys_kek_outer_name(const char *name, char *out, size_t len)
{
	int n;

	if (!keys_kek_name_valid(name) || strncmp(name, OUTER_PREFIX, strlen(OUTER_PREFIX)) == 0)
		return PV_E_INVALID;
	n = snprintf(out, len, OUTER_PREFIX "%s", name);
	if (n < 0 || (size_t)n >= len || !keys_kek_name_valid(out))
		return PV_E_INVALID;
	return PV_OK;
}

const char *
keys_kek_census_name(const char *name)
{
	if (name != NULL && strncmp(name, OUTER_PREFIX, strlen(OUTER_PREFIX)) == 0)
		return name + strlen(OUTER_PREFIX);
	return name;
}

bool
keys_hsm_configured(struct keys *k)
{
	return k != NULL && hsm_get(k) != NULL;
}

/* Create version v of name with the provider and double encryption of o
 * (resolved: o->provider non-NULL, o->double_enc 0 or 1), the outer KEK's
 * version v first. The outer is held by the other provider when there is an
 * HSM (pkcs11 under a soft KEK, soft under a pkcs11 one), soft otherwise. */
static enum pv_rc
kek_create_opts(struct keys *k, struct store_tx *tx, const char *name, uint32_t v,
    const struct keys_kek_opts *o)
{
	char outer[KEYS_KEK_NAME_MAX + 1] = "";
	bool p11 = strcmp(o->provider, "pkcs11") == 0;
	enum pv_rc rc;

	if (o->double_enc == 1) {
		struct store_kek orow;

		if ((rc = keys_kek_outer_name(name, outer, sizeof(outer))) != PV_OK)
			return rc;
		memset(&orow, 0, sizeof(orow));
		rc = store_kek_get(tx, outer, v, &orow);
		store_kek_clear(&orow);
		if (rc == PV_OK)
			return PV_E_CONFLICT;
		if (rc != PV_E_NOTFOUND)
			return rc;
		if ((rc = kek_create_ex(k, tx, outer, v, NULL, !p11 && keys_hsm_configured(k),
		    "")) != PV_OK)
			return rc;
	}
	return kek_create_ex(k, tx, name, v, NULL, p11, outer);
}

/* o with the NULL / -1 members taken from row (the current version), or
 * from the defaults when there is none. */
static enum pv_rc
opts_resolve(struct keys *k, const struct keys_kek_opts *o, const struct store_kek *row,
    struct keys_kek_opts *out)
{
	out->provider = o != NULL ? o->provider : NULL;
	out->double_enc = o != NULL ? o->double_enc : -1;
	if (out->provider == NULL)
		out->provider = row != NULL && strcmp(row->provider, "pkcs11") == 0 ? "pkcs11" :
		    "soft";
	if (out->double_enc < 0)
		out->double_enc = row != NULL && row->outer[0] != '\0' ? 1 : 0;
	if (strcmp(out->provider, "soft") != 0 && strcmp(out->provider, "pkcs11") != 0)
		return PV_E_INVALID;
	if (strcmp(out->provider, "pkcs11") == 0 && !keys_hsm_configured(k))
		return PV_E_STATE;
	return PV_OK;
}

enum pv_rc
keys_kek_ensure_tx(struct keys *k, struct store_tx *tx, const char *name)
{
	return keys_kek_ensure_opts_tx(k, tx, name, NULL);
}

enum pv_rc
keys_kek_ensure_opts_tx(struct keys *k, struct store_tx *tx, const char *name,
    const struct keys_kek_opts *o)
{
	struct store_kek row;
	struct keys_kek_opts ro;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name) || tx == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, name, &row);
	store_kek_clear(&row);
	if (rc == PV_E_NOTFOUND) {
		if ((rc = opts_resolve(k, o, NULL, &ro)) != PV_OK)
			return rc;
		rc = kek_create_opts(k, tx, name, 1, &ro);
	}
	return rc;
}

enum pv_rc
keys_kek_ensure(struct keys *k, const char *name)
{
	enum pv_rc rc;

	if (!keys_kek_name_valid(name))
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	STORE_WRITE(k->st, rc, keys_kek_ensure_tx(k, tx, name));
	return rc;
}

struct active_list {
	const char *name;
	uint32_t *v;
	size_t n, cap;
	bool nomem;
};

static int
collect_active(const struct store_kek *kk, void *arg)
{
	struct active_list *al = arg;

	if (kk->state != STORE_KEK_ACTIVE || strcmp(kk->name, al->name) != 0)
		return 0;
	if (al->n == al->cap) {
		size_t cap = al->cap ? 2 * al->cap : 8;
		uint32_t *nv = realloc(al->v, cap * sizeof(*nv));

		if (nv == NULL) {
			al->nomem = true;
			return 1;
		}
		al->v = nv;
		al->cap = cap;
	}
	al->v[al->n++] = kk->version;
	return 0;
}

static enum pv_rc
retire_others(struct store_tx *tx, const char *name, uint32_t keep)
{
	struct active_list al = { name, NULL, 0, 0, false };
	size_t i;
	enum pv_rc rc = store_kek_scan(tx, collect_active, &al);

	if (rc == PV_OK && al.nomem)
		rc = PV_E_NOMEM;
	for (i = 0; rc == PV_OK && i < al.n; i++)
		if (al.v[i] != keep)
			rc = store_kek_set_state(tx, name, al.v[i], STORE_KEK_RETIRED);
	free(al.v);
	return rc;
}

enum pv_rc
keys_kek_rotate_tx(struct keys *k, struct store_tx *tx, const char *name, uint32_t *new_version)
{
	return keys_kek_rotate_opts_tx(k, tx, name, NULL, new_version);
}

enum pv_rc
keys_kek_rotate_opts_tx(struct keys *k, struct store_tx *tx, const char *name,
    const struct keys_kek_opts *o, uint32_t *new_version)
{
	struct store_kek row;
	struct keys_kek_opts ro;
	char outer[KEYS_KEK_NAME_MAX + 1];
	uint32_t nv;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name) || tx == NULL || new_version == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, name, &row);
	nv = row.version + 1;
	if (rc == PV_OK)
		rc = opts_resolve(k, o, &row, &ro);
	store_kek_clear(&row);
	if (rc == PV_OK && nv == 0)
		rc = PV_E_CONFLICT;   /* 2^32 - 1 versions: not reachable in practice */
	if (rc == PV_OK)
		rc = kek_create_opts(k, tx, name, nv, &ro);
	/* Older versions keep opening what they wrapped; they just stop
	 * wrapping new DEKs. (Normally only nv - 1 is ACTIVE.) The outer KEK's
	 * versions follow its inner one's. */
	if (rc == PV_OK)
		rc = retire_others(tx, name, nv);
	if (rc == PV_OK && keys_kek_outer_name(name, outer, sizeof(outer)) == PV_OK)
		rc = retire_others(tx, outer, ro.double_enc == 1 ? nv : 0);
	if (rc != PV_OK) {
		log_error("keys: kek %s rotation to v%u failed (%s), nothing changed",
		    name, (unsigned)nv, pv_rc_name(rc));
		return rc;
	}
	*new_version = nv;
	return PV_OK;
}

/* BYOK (import.c): install material as (name, version) ACTIVE and retire
 * the other ACTIVE versions, in the caller's transaction. version must be
 * the next one (latest + 1, or 1): PV_E_CONFLICT otherwise. */
enum pv_rc
keys_kek_install_tx(struct keys *k, struct store_tx *tx, const char *name, uint32_t version,
    const struct pv_secret *material)
{
	struct store_kek row;
	struct active_list al = { name, NULL, 0, 0, false };
	uint32_t next;
	size_t i;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name) || tx == NULL || material == NULL || version == 0)
		return PV_E_INVALID;
	memset(&row, 0, sizeof(row));
	rc = store_kek_latest(tx, name, &row);
	next = rc == PV_E_NOTFOUND ? 1 : row.version + 1;
	store_kek_clear(&row);
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		return rc;
	if (next != version)
		return PV_E_CONFLICT;
	if ((rc = kek_create_from(k, tx, name, version, material)) != PV_OK)
		return rc;
	rc = store_kek_scan(tx, collect_active, &al);
	if (rc == PV_OK && al.nomem)
		rc = PV_E_NOMEM;
	for (i = 0; rc == PV_OK && i < al.n; i++)
		if (al.v[i] != version)
			rc = store_kek_set_state(tx, name, al.v[i], STORE_KEK_RETIRED);
	free(al.v);
	return rc;
}

/* A box under the root key (import.c keeps its RSA key so). */
enum pv_rc
keys_root_seal(struct keys *k, const char *aad, const uint8_t *pt, size_t len, uint8_t *out)
{
	enum pv_rc rc;

	rd_lock(k);
	rc = k->sealed ? PV_E_SEALED : crypto_gcmbox_seal(k->root->buf, NULL,
	    (const uint8_t *)aad, strlen(aad), pt, len, out);
	rw_unlock(k);
	return rc;
}

enum pv_rc
keys_root_open(struct keys *k, const char *aad, const uint8_t *in, size_t len, uint8_t *pt)
{
	enum pv_rc rc;

	rd_lock(k);
	rc = k->sealed ? PV_E_SEALED : crypto_gcmbox_open(k->root->buf,
	    (const uint8_t *)aad, strlen(aad), in, len, pt);
	rw_unlock(k);
	return rc;
}

struct store *
keys_store(struct keys *k)
{
	return k->st;
}

const char *
keys_datadir(struct keys *k)
{
	return k->datadir;
}

enum pv_rc
keys_kek_rotate(struct keys *k, const char *name, uint32_t *new_version)
{
	struct store_tx *tx = NULL;
	uint32_t nv = 0;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name))
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	/* One write transaction: the new version and the retirement of the
	 * older ones commit together or not at all. */
	if ((rc = store_begin(k->st, STORE_WR, &tx)) != PV_OK)
		return rc;
	rc = keys_kek_rotate_tx(k, tx, name, &nv);
	if (rc == PV_OK)
		rc = store_commit(tx);
	store_end(tx);
	if (rc != PV_OK)
		return rc;
	*new_version = nv;
	return PV_OK;
}

enum pv_rc
keys_kek_retire_tx(struct keys *k, struct store_tx *tx, const char *name, uint32_t version)
{
	struct store_kek row;
	enum store_kek_state state;
	int64_t objects = 0;
	enum pv_rc rc;

	(void)k;
	if (!keys_kek_name_valid(name) || tx == NULL || version == 0)
		return PV_E_INVALID;
	memset(&row, 0, sizeof(row));
	rc = store_kek_get(tx, name, version, &row);
	state = row.state;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if (state == STORE_KEK_DISABLED)
		return PV_OK;                    /* idempotent */
	if (state != STORE_KEK_RETIRED)
		return PV_E_STATE;               /* active (rotate first) or revoked */
	if ((rc = store_kek_census(tx, keys_kek_census_name(name), version, &objects)) != PV_OK)
		return rc;
	if (objects > 0)
		return PV_E_RETIRED_KEY_IN_USE;
	return store_kek_set_state(tx, name, version, STORE_KEK_DISABLED);
}

/* The tombstone: the cached key wiped, and no thread may load it again. */
static enum pv_rc
kek_tombstone(struct keys *k, const char *name, uint32_t version)
{
	struct kek_slot *s;
	enum pv_rc rc = PV_OK;

	wr_lock(k);
	s = kek_find(k, name, version);
	if (s == NULL)
		s = kek_insert(k, name, version);
	if (s != NULL) {
		slot_drop_key(s);
		s->revoked = true;
	} else {
		rc = PV_E_NOMEM;   /* row is revoked; only the tombstone is missing */
	}
	mac_evict_name(k, name);
	rw_unlock(k);
	return rc;
}

static enum pv_rc kek_destroy(struct keys *k, struct store_tx *tx, const char *name,
    uint32_t version, bool allow_active);

enum pv_rc
keys_kek_destroy_tx(struct keys *k, struct store_tx *tx, const char *name, uint32_t version)
{
	return kek_destroy(k, tx, name, version, false);
}

enum pv_rc
keys_kek_erase_tx(struct keys *k, struct store_tx *tx, const char *name, uint32_t version)
{
	return kek_destroy(k, tx, name, version, true);
}

static enum pv_rc
kek_destroy(struct keys *k, struct store_tx *tx, const char *name, uint32_t version,
    bool allow_active)
{
	struct store_kek row;
	enum store_kek_state state;
	bool p11;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name) || tx == NULL || version == 0)
		return PV_E_INVALID;
	memset(&row, 0, sizeof(row));
	rc = store_kek_get(tx, name, version, &row);
	state = row.state;
	p11 = strcmp(row.provider, "pkcs11") == 0;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if (state == STORE_KEK_ACTIVE && !allow_active)
		return PV_E_STATE;               /* rotate first: new writes need a key */
	/* Fail closed before the commit: if tx rolls back, the version stays
	 * closed in this process until the next seal (like keys_kek_revoke). */
	if ((rc = kek_tombstone(k, name, version)) != PV_OK)
		return rc;
	if ((rc = store_kek_destroy(tx, name, version)) != PV_OK)
		return rc;
	if (p11) {
		/* the token object too (C_DestroyObject): then nothing anywhere
		 * opens what it wrapped. Token absent: PV_E_HSM, tx rolls back,
		 * the tombstone keeps the version closed here. */
		char label[KEK_LABEL_MAX];

		if (kek_label(label, sizeof(label), name, version) < 0)
			return PV_E_INVALID;
		if (hsm_get(k) == NULL)
			return PV_E_HSM;
		if ((rc = keys_hsm_key_destroy(hsm_get(k), label)) != PV_OK)
			return rc;
	}
	log_info("keys: kek %s v%u revoked, material destroyed", name, (unsigned)version);
	return PV_OK;
}

enum pv_rc
keys_dek_rewrap(struct keys *k, const struct keys_envelope *in, uint32_t to_version,
    struct keys_envelope *out)
{
	struct pv_secret *dek = NULL;
	struct keys_envelope e;
	char aad[AAD_MAX];
	int aadlen;
	enum pv_rc rc;

	if (in == NULL || out == NULL || to_version == 0 ||
	    memchr(in->kek_name, '\0', sizeof(in->kek_name)) == NULL ||
	    !keys_kek_name_valid(in->kek_name) || in->kek_version == 0)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	if ((rc = crypto_secret_new(CRYPTO_KEY_LEN, &dek)) != PV_OK)
		return rc;
	if ((aadlen = fmt_aad(aad, "dek", in->kek_name, in->kek_version)) < 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	rc = dek_unwrap(k, in->kek_name, in->kek_version, in->wrapped_dek, dek->buf);
	if (rc == PV_E_NOTFOUND)
		rc = PV_E_INTEGRITY;
	if (rc != PV_OK)
		goto out;
	memset(&e, 0, sizeof(e));
	util_strlcpy(e.kek_name, in->kek_name, sizeof(e.kek_name));
	e.kek_version = to_version;
	if ((aadlen = fmt_aad(aad, "dek", e.kek_name, to_version)) < 0) {
		rc = PV_E_INVALID;
		goto out;
	}
	/* a random wrap IV, as in keys_envelope_seal (SP 800-38D §8.3) */
	rc = dek_wrap(k, e.kek_name, to_version, NULL, dek->buf, e.wrapped_dek);
	if (rc == PV_OK)
		*out = e;
out:
	crypto_secret_free(dek);
	return rc;
}

enum pv_rc
keys_kek_revoke(struct keys *k, const char *name, uint32_t version)
{
	struct store_kek row;
	enum store_kek_state state;
	enum pv_rc rc;

	if (!keys_kek_name_valid(name) || version == 0)
		return PV_E_INVALID;
	memset(&row, 0, sizeof(row));
	STORE_READ(k->st, rc, store_kek_get(tx, name, version, &row));
	state = row.state;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if (state != STORE_KEK_REVOKED) {
		STORE_WRITE(k->st, rc, store_kek_set_state(tx, name, version, STORE_KEK_REVOKED));
		if (rc != PV_OK)
			return rc;
	}
	rc = kek_tombstone(k, name, version);
	log_info("keys: kek %s v%u revoked", name, (unsigned)version);
	return rc;
}

/* ---- envelopes ---- */

enum pv_rc
keys_envelope_seal(struct keys *k, const char *kek_name,
    const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t ptlen,
    uint8_t *ct, struct keys_envelope *env)
{
	struct keys_envelope e;
	struct store_kek row;
	struct pv_secret *draw = NULL;
	enum pv_rc rc;

	if (!keys_kek_name_valid(kek_name) || env == NULL || ct == NULL ||
	    (pt == NULL && ptlen > 0) || (aad == NULL && aadlen > 0))
		return PV_E_INVALID;
	if (ptlen > SIZE_MAX - CRYPTO_BOX_OVERHEAD)
		return PV_E_TOOBIG;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	memset(&row, 0, sizeof(row));
	STORE_READ(k->st, rc, store_kek_latest(tx, kek_name, &row));
	memset(&e, 0, sizeof(e));
	e.kek_version = row.version;
	if (rc == PV_OK && row.state == STORE_KEK_REVOKED)
		rc = PV_E_FORBIDDEN;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	util_strlcpy(e.kek_name, kek_name, sizeof(e.kek_name));

	/* DEK and both IVs in one draw. The wrap IV is random under a KEK that
	 * wraps many DEKs: NIST SP 800-38D §8.3 bounds that to 2^32 wraps per
	 * KEK version; rotate long before. The data IV is under a fresh key. */
	rc = crypto_secret_random(DRAW_LEN, &draw);
	if (rc != PV_OK)
		return rc;
	rc = dek_wrap(k, kek_name, e.kek_version, draw->buf + DRAW_IV_WRAP, draw->buf + DRAW_DEK,
	    e.wrapped_dek);
	if (rc != PV_OK)
		goto out;
	rc = crypto_gcmbox_seal(draw->buf + DRAW_DEK, draw->buf + DRAW_IV_DATA, aad, aadlen,
	    pt, ptlen, ct);
	if (rc != PV_OK)
		goto out;
	*env = e;
out:
	crypto_secret_free(draw);
	return rc;
}

enum pv_rc
keys_envelope_open(struct keys *k, const struct keys_envelope *env,
    const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t ctlen, uint8_t *pt)
{
	struct pv_secret *dek = NULL;
	enum pv_rc rc;

	if (env == NULL || ct == NULL || (aad == NULL && aadlen > 0) ||
	    memchr(env->kek_name, '\0', sizeof(env->kek_name)) == NULL ||
	    !keys_kek_name_valid(env->kek_name))
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	if (ctlen < CRYPTO_BOX_OVERHEAD || env->kek_version == 0)
		return PV_E_INTEGRITY;
	if (pt == NULL && ctlen > CRYPTO_BOX_OVERHEAD)
		return PV_E_INVALID;
	rc = crypto_secret_new(CRYPTO_KEY_LEN, &dek);
	if (rc != PV_OK)
		return rc;
	rc = dek_unwrap(k, env->kek_name, env->kek_version, env->wrapped_dek, dek->buf);
	if (rc == PV_E_NOTFOUND) {
		/* an envelope naming a KEK version that never existed is damaged */
		log_warn("keys: envelope names kek %s v%u, which does not exist",
		    env->kek_name, (unsigned)env->kek_version);
		rc = PV_E_INTEGRITY;
	}
	if (rc != PV_OK)
		goto out;
	rc = crypto_gcmbox_open(dek->buf, aad, aadlen, ct, ctlen, pt);
out:
	crypto_secret_free(dek);
	return rc;
}

/* ---- what the caches hold (keys_int.h, for the tests) ---- */

bool
keys_kek_cached(struct keys *k, const char *name, uint32_t version)
{
	const struct kek_slot *s;
	bool held;

	rd_lock(k);
	s = kek_find(k, name, version);
	held = s != NULL && s->key != NULL;
	rw_unlock(k);
	return held;
}

bool
keys_mac_cached(struct keys *k, const char *name, uint32_t version, const char *purpose)
{
	bool held;

	rd_lock(k);
	held = mac_find(k, name, version, purpose) != NULL;
	rw_unlock(k);
	return held;
}

/* ---- MAC keys ---- */

enum pv_rc
keys_mac(struct keys *k, const char *kek_name, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	return keys_mac_version(k, kek_name, 1, purpose, msg, len, out);
}

enum pv_rc
keys_mac_version(struct keys *k, const char *kek_name, uint32_t version, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	struct pv_secret *mk = NULL;
	struct crypto_hmac_key *hk = NULL;
	const struct pv_secret *kek;
	struct mac_slot *m;
	struct kek_slot *ks;
	char info[AAD_MAX];
	int infolen = -1, attempt;
	enum pv_rc rc;

	/* PURPOSE_MAX keeps "phivault:mac:<purpose>" within info */
	_Static_assert(sizeof("phivault:mac:") + PURPOSE_MAX <= AAD_MAX, "info fits");
	if (!keys_kek_name_valid(kek_name) || version == 0 || purpose == NULL || purpose[0] == '\0' ||
	    strnlen(purpose, PURPOSE_MAX + 1) > PURPOSE_MAX || (msg == NULL && len > 0))
		return PV_E_INVALID;

	for (attempt = 0; attempt < 3; attempt++) {
		rd_lock(k);
		if (k->sealed) {
			rw_unlock(k);
			rc = PV_E_SEALED;
			goto out;
		}
		m = mac_find(k, kek_name, version, purpose);
		if (m != NULL) {
			rc = crypto_hmac_key_sha256(m->key, msg, len, out);
			rw_unlock(k);
			goto out;
		}
		rw_unlock(k);

		/* RFC 5869 HKDF with no salt: the KEK is already uniformly random,
		 * the info string separates purposes. Per KEK version: a row
		 * made under version v (blind index, deterministic token) names
		 * v, so rotation re-indexes instead of breaking lookups. */
		if (mk == NULL && (rc = crypto_secret_new(CRYPTO_KEY_LEN, &mk)) != PV_OK)
			goto out;
		if (infolen < 0 && (infolen = snprintf(info, sizeof(info), "phivault:mac:%s",
		    purpose)) < 0) {
			rc = PV_E_INVALID;
			goto out;
		}
		rc = kek_acquire(k, kek_name, version, &kek);
		if (rc != PV_OK)
			goto out;
		rc = crypto_hkdf_sha256(NULL, 0, kek->buf, kek->len, (const uint8_t *)info,
		    (size_t)infolen, mk->buf, mk->len);
		rw_unlock(k);
		if (rc != PV_OK)
			goto out;
		/* the HMAC pads of the MAC key, hashed once (locked memory) */
		crypto_hmac_key_free(hk);
		hk = NULL;
		if ((rc = crypto_hmac_key_new(mk->buf, mk->len, &hk)) != PV_OK)
			goto out;

		wr_lock(k);
		if (k->sealed) {
			rc = PV_E_SEALED;
		} else if ((ks = kek_find(k, kek_name, version)) != NULL && ks->revoked) {
			rc = PV_E_FORBIDDEN;   /* revoked while we derived */
		} else if (mac_find(k, kek_name, version, purpose) == NULL) {
			m = calloc(1, sizeof(*m));
			if (m == NULL) {
				rc = PV_E_NOMEM;
			} else {
				unsigned b = bucket_of(kek_name, purpose, version);

				util_strlcpy(m->kek_name, kek_name, sizeof(m->kek_name));
				util_strlcpy(m->purpose, purpose, sizeof(m->purpose));
				m->version = version;
				m->key = hk;
				hk = NULL;
				m->next = k->macs[b];
				k->macs[b] = m;
			}
		}
		rw_unlock(k);
		if (rc != PV_OK)
			goto out;
	}
	rc = PV_E_UNAVAILABLE;
out:
	crypto_hmac_key_free(hk);
	crypto_secret_free(mk);
	return rc;
}

struct mac_versions {
	const char *name;
	uint32_t *v;
	size_t max, n;
	uint32_t active;
};

static int
mac_version_cb(const struct store_kek *row, void *arg)
{
	struct mac_versions *m = arg;

	if (strcmp(row->name, m->name) != 0 || row->state == STORE_KEK_REVOKED)
		return 0;
	if (row->state == STORE_KEK_ACTIVE && row->version > m->active)
		m->active = row->version;
	if (m->n < m->max)
		m->v[m->n++] = row->version;
	return 0;
}

enum pv_rc
keys_mac_versions(struct keys *k, const char *kek_name, uint32_t *versions, size_t max,
    size_t *n)
{
	struct mac_versions m = { kek_name, versions, max, 0, 0 };
	enum pv_rc rc;

	if (!keys_kek_name_valid(kek_name) || versions == NULL || max == 0 || n == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	STORE_READ(k->st, rc, store_kek_scan(tx, mac_version_cb, &m));
	if (rc != PV_OK)
		return rc;
	if (m.n == 0)
		return PV_E_NOTFOUND;
	/* active first, then the others newest first (scan order is ascending) */
	for (size_t i = 0; i < m.n / 2; i++) {
		uint32_t t = m.v[i];

		m.v[i] = m.v[m.n - 1 - i];
		m.v[m.n - 1 - i] = t;
	}
	for (size_t i = 0; i < m.n; i++) {
		if (m.v[i] == m.active && i > 0) {
			memmove(&m.v[1], &m.v[0], i * sizeof(m.v[0]));
			m.v[0] = m.active;
			break;
		}
	}
	*n = m.n;
	return PV_OK;
}

enum pv_rc
keys_mac_active(struct keys *k, const char *kek_name, const char *purpose,
    const uint8_t *msg, size_t len, uint8_t out[CRYPTO_SHA256_LEN], uint32_t *version)
{
	struct store_kek row;
	uint32_t v;
	enum pv_rc rc;

	if (!keys_kek_name_valid(kek_name) || version == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(k))
		return PV_E_SEALED;
	/* read from the store every time, like keys_envelope_seal: a rotation
	 * that rolled back is never used */
	memset(&row, 0, sizeof(row));
	STORE_READ(k->st, rc, store_kek_latest(tx, kek_name, &row));
	v = row.version;
	store_kek_clear(&row);
	if (rc != PV_OK)
		return rc;
	if ((rc = keys_mac_version(k, kek_name, v, purpose, msg, len, out)) != PV_OK)
		return rc;
	*version = v;
	return PV_OK;
}

/* ---- audit signing ---- */

enum pv_rc
keys_audit_sign(struct keys *k, const uint8_t *msg, size_t len,
    uint8_t sig[CRYPTO_ED25519_SIG_LEN])
{
	enum pv_rc rc;

	if (msg == NULL && len > 0)
		return PV_E_INVALID;
	rd_lock(k);
	if (k->sealed)
		rc = PV_E_SEALED;
	else
		rc = crypto_ed25519_sign(k->audit_priv->buf, msg, len, sig);
	rw_unlock(k);
	return rc;
}

enum pv_rc
keys_audit_public_key(struct store *st, uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	uint8_t tmp[CRYPTO_ED25519_PUB_LEN];
	uint8_t *val = NULL;
	size_t len = 0;
	enum pv_rc rc;

	STORE_READ(st, rc, store_meta_get(tx, META_AUDIT_PUB, &val, &len));
	if (rc != PV_OK)
		return rc;
	if (len != sizeof(tmp)) {
		rc = PV_E_INTEGRITY;
	} else {
		memcpy(tmp, val, sizeof(tmp));
		memcpy(pub, tmp, sizeof(tmp));
	}
	free(val);
	return rc;
}
