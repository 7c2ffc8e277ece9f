/*
 * bundle.c: the keyring bundle of a backup (src/backup/, docs/internals/
 * backup.md "Restore"). A backup's chunks are sealed under the KEK
 * "backup", whose versions live in the very database the backup holds; a
 * restore on a machine that lost the vault has only the backup file and
 * the seal material (key file, shares or HSM). So each backup carries,
 * inside its signed manifest, the rows that open that KEK from the seal:
 * the seal's meta rows (type, threshold, share commitments, the root key
 * wrapped by the unseal key, the HSM-wrapped unseal key), the audit key
 * pair's rows (the private half wrapped by the root key) and every version
 * of the named KEK (wrapped by the root key). Nothing in it is in clear
 * but the audit public key: it is exactly what phivault.db already holds.
 *
 * Format (big-endian): "PVKB2" (written) or "PVKB1" (read: bundles made
 * before providers and double encryption) then records
 *   0x01 | u16 n | meta key[n] | u32 m | value[m]
 *   0x02 | u16 n | kek name[n] | u32 version | u8 state | i64 created_ms
 *        | u32 m | wrapped[m]                               (PVKB1: soft, no outer)
 *   0x03 | u16 n | kek name[n] | u32 version | u8 state | i64 created_ms
 *        | u8 p | provider[p] | u8 o | outer[o] | u8 l | label[l]
 *        | u32 m | wrapped[m]                               (PVKB2 only)
 * A 0x03 record carries the version's provider ("soft" or "pkcs11") and
 * its outer KEK ("" or "outer:<name>"). For pkcs11, label is the token
 * object's CKA_LABEL (phivault-kek-<name>-v<N>, checked on import): a
 * reference, never key material, which stays in the token; wrapped is, as
 * in the kek row, the version's MAC seed under the root key. PVKB2 also
 * carries every version of the outer KEK of a doubly encrypted key
 * ("outer:<name>"), so both layers open from the seal alone.
 * Import accepts only the meta keys of meta_keys[] and KEKs of the name it
 * is given (and its outer key), into an empty store: a crafted bundle
 * cannot write anything else. An unknown provider is PV_E_INTEGRITY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"

#define MAGIC "PVKB2"
#define MAGIC_V1 "PVKB1"
#define MAGIC_LEN 5
#define BUNDLE_MAX (1024 * 1024)

static const char *const meta_keys[] = {
	"seal.type", "seal.threshold", "seal.shares", "seal.root_wrapped",
	"seal.share_commitments", "seal.pkcs11_wrapped", "audit.signing_key",
	"audit.public_key",
};
#define NMETA (sizeof(meta_keys) / sizeof(meta_keys[0]))

static void
put_u(struct util_buf *b, uint64_t v, int bytes)
{
	uint8_t t[8];

	for (int i = 0; i < bytes; i++)
		t[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	util_buf_put(b, t, (size_t)bytes);
}

struct kek_ctx {
	const char *name;
	char outer[KEYS_KEK_NAME_MAX + 8];   /* "outer:<name>" */
	struct util_buf *b;
};

/* The CKA_LABEL of a pkcs11 version's token object (keys.c kek_label). */
static int
p11_label(char *buf, size_t len, const char *name, uint32_t version)
{
	int n = snprintf(buf, len, "phivault-kek-%s-v%u", name, (unsigned)version);

	return n < 0 || (size_t)n >= len ? -1 : n;
}

static int
each_kek(const struct store_kek *k, void *arg)
{
	struct kek_ctx *x = arg;
	const char *prov = k->provider[0] != '\0' ? k->provider : "soft";
	char label[200] = "";
	size_t n = strlen(k->name), pl = strlen(prov), ol = strlen(k->outer), ll;

	if (strcmp(k->name, x->name) != 0 && strcmp(k->name, x->outer) != 0)
		return 0;
	if (strcmp(prov, "pkcs11") == 0 && p11_label(label, sizeof(label), k->name,
	    k->version) < 0) {
		x->b->failed = true;
		return 1;
	}
	ll = strlen(label);
	if (pl > 255 || ol > 255 || ll > 255) {
		x->b->failed = true;
		return 1;
	}
	put_u(x->b, 3, 1);
	put_u(x->b, n, 2);
	util_buf_put(x->b, k->name, n);
	put_u(x->b, k->version, 4);
	put_u(x->b, (uint64_t)k->state, 1);
	put_u(x->b, (uint64_t)k->created_ms, 8);
	put_u(x->b, pl, 1);
	util_buf_put(x->b, prov, pl);
	put_u(x->b, ol, 1);
	util_buf_put(x->b, k->outer, ol);
	put_u(x->b, ll, 1);
	util_buf_put(x->b, label, ll);
	put_u(x->b, k->wrapped_len, 4);
	util_buf_put(x->b, k->wrapped, k->wrapped_len);
	return 0;
}

enum pv_rc
keys_bundle_export(struct store_tx *tx, const char *kek_name, uint8_t **out, size_t *outlen)
{
	struct util_buf b = { .max = BUNDLE_MAX };   /* failed: no memory or past it */
	struct kek_ctx x = { kek_name, "", &b };
	enum pv_rc rc;

	if ((rc = keys_kek_outer_name(kek_name, x.outer, sizeof(x.outer))) != PV_OK)
		return rc;

	util_buf_put(&b, MAGIC, MAGIC_LEN);
	for (size_t i = 0; i < NMETA; i++) {
		uint8_t *val = NULL;
		size_t len = 0, n = strlen(meta_keys[i]);

		rc = store_meta_get(tx, meta_keys[i], &val, &len);
		if (rc == PV_E_NOTFOUND)
			continue;
		if (rc != PV_OK)
			goto fail;
		put_u(&b, 1, 1);
		put_u(&b, n, 2);
		util_buf_put(&b, meta_keys[i], n);
		put_u(&b, len, 4);
		util_buf_put(&b, val, len);
		free(val);
	}
	if ((rc = store_kek_scan(tx, each_kek, &x)) != PV_OK)
		goto fail;
	if (b.failed) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	*out = (uint8_t *)b.p;
	*outlen = b.len;
	return PV_OK;
fail:
	free(b.p);
	return rc;
}

static uint64_t
get_u(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* Walk the records; each is handed to fn (meta: name, value; kek: row). */
typedef enum pv_rc (*rec_fn)(void *arg, const char *meta, const uint8_t *val, size_t len,
    const struct store_kek *kek);

static enum pv_rc
walk(const uint8_t *p, size_t len, rec_fn fn, void *arg)
{
	size_t off = MAGIC_LEN;

	bool v2;

	if (len < MAGIC_LEN || len > BUNDLE_MAX)
		return PV_E_INTEGRITY;
	v2 = memcmp(p, MAGIC, MAGIC_LEN) == 0;
	if (!v2 && memcmp(p, MAGIC_V1, MAGIC_LEN) != 0)
		return PV_E_INTEGRITY;
	while (off < len) {
		uint8_t type = p[off++];
		char name[128];
		size_t n, m;
		enum pv_rc rc;

		if (len - off < 2)
			return PV_E_INTEGRITY;
		n = (size_t)get_u(p + off, 2);
		off += 2;
		if (n == 0 || n >= sizeof(name) || len - off < n)
			return PV_E_INTEGRITY;
		memcpy(name, p + off, n);
		name[n] = '\0';
		off += n;
		if (type == 1) {
			if (len - off < 4)
				return PV_E_INTEGRITY;
			m = (size_t)get_u(p + off, 4);
			off += 4;
			if (len - off < m)
				return PV_E_INTEGRITY;
			if ((rc = fn(arg, name, p + off, m, NULL)) != PV_OK)
				return rc;
			off += m;
		} else if (type == 2 || (type == 3 && v2)) {
			struct store_kek k;
			char label[256] = "", want[200];

			if (len - off < 4 + 1 + 8)
				return PV_E_INTEGRITY;
			memset(&k, 0, sizeof(k));
			memcpy(k.name, name, n + 1);
			k.version = (uint32_t)get_u(p + off, 4);
			k.state = (enum store_kek_state)p[off + 4];
			k.created_ms = (int64_t)get_u(p + off + 5, 8);
			off += 13;
			util_strlcpy(k.provider, "soft", sizeof(k.provider));
			if (type == 3) {
				/* provider, outer, label: u8-length strings */
				char *dst[3] = { k.provider, k.outer, label };
				size_t cap[3] = { sizeof(k.provider), sizeof(k.outer), sizeof(label) };

				for (int f = 0; f < 3; f++) {
					size_t l;

					if (len - off < 1)
						return PV_E_INTEGRITY;
					l = p[off++];
					if (l >= cap[f] || len - off < l)
						return PV_E_INTEGRITY;
					memcpy(dst[f], p + off, l);
					dst[f][l] = '\0';
					off += l;
				}
				if (strcmp(k.provider, "soft") != 0 && strcmp(k.provider, "pkcs11") != 0)
					return PV_E_INTEGRITY;
				/* a pkcs11 version names its own token object, nothing else */
				if (strcmp(k.provider, "pkcs11") == 0 &&
				    (p11_label(want, sizeof(want), k.name, k.version) < 0 ||
				    strcmp(want, label) != 0))
					return PV_E_INTEGRITY;
				if (strcmp(k.provider, "soft") == 0 && label[0] != '\0')
					return PV_E_INTEGRITY;
			}
			if (len - off < 4)
				return PV_E_INTEGRITY;
			m = (size_t)get_u(p + off, 4);
			off += 4;
			if (len - off < m || k.state > STORE_KEK_DISABLED)
				return PV_E_INTEGRITY;
			k.wrapped = (uint8_t *)(uintptr_t)(p + off);
			k.wrapped_len = m;
			if ((rc = fn(arg, NULL, NULL, 0, &k)) != PV_OK)
				return rc;
			off += m;
		} else
			return PV_E_INTEGRITY;
	}
	return PV_OK;
}

struct import_ctx {
	struct store_tx *tx;
	const char *kek_name;
	char outer[KEYS_KEK_NAME_MAX + 8];
};

static enum pv_rc
import_one(void *arg, const char *meta, const uint8_t *val, size_t len,
    const struct store_kek *kek)
{
	struct import_ctx *x = arg;

	if (meta != NULL) {
		bool known = false;

		for (size_t i = 0; i < NMETA && !known; i++)
			known = strcmp(meta, meta_keys[i]) == 0;
		if (!known)
			return PV_E_INTEGRITY;
		return store_meta_put(x->tx, meta, val, len);
	}
	/* the named KEK, whose outer key (if any) is its own outer:<name>, and
	 * that outer key, which has none */
	if (strcmp(kek->name, x->kek_name) == 0) {
		if (kek->outer[0] != '\0' && strcmp(kek->outer, x->outer) != 0)
			return PV_E_INTEGRITY;
	} else if (strcmp(kek->name, x->outer) == 0) {
		if (kek->outer[0] != '\0')
			return PV_E_INTEGRITY;
	} else {
		return PV_E_INTEGRITY;
	}
	return store_kek_put(x->tx, kek);
}

enum pv_rc
keys_bundle_import(struct store_tx *tx, const char *kek_name, const uint8_t *bundle, size_t len)
{
	struct import_ctx x = { tx, kek_name, "" };
	enum pv_rc rc = keys_kek_outer_name(kek_name, x.outer, sizeof(x.outer));

	if (rc != PV_OK)
		return rc;
	return walk(bundle, len, import_one, &x);
}

struct pub_ctx {
	uint8_t *pub;
	bool found;
};

static enum pv_rc
find_pub(void *arg, const char *meta, const uint8_t *val, size_t len,
    const struct store_kek *kek)
{
	struct pub_ctx *x = arg;

	if (meta != NULL && strcmp(meta, "audit.public_key") == 0 &&
	    len == CRYPTO_ED25519_PUB_LEN) {
		memcpy(x->pub, val, len);
		x->found = true;
	}
	return PV_OK;
}

enum pv_rc
keys_bundle_public_key(const uint8_t *bundle, size_t len, uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	struct pub_ctx x = { pub, false };
	enum pv_rc rc = walk(bundle, len, find_pub, &x);

	if (rc != PV_OK)
		return rc;
	return x.found ? PV_OK : PV_E_NOTFOUND;
}
