/*
 * store/store_keys.h: key-encryption keys (table kek).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_KEYS_H
#define PV_STORE_KEYS_H

#include "store/store_core.h"

/* ---- key-encryption keys, stored wrapped by the root key ---- */
/* ACTIVE wraps new DEKs; RETIRED opens what it wrapped (API "decrypt_only");
 * REVOKED: material destroyed; DISABLED: retired by the key admin once its
 * census was 0 (API "retired"; the material is kept and still opens). */
enum store_kek_state { STORE_KEK_ACTIVE = 0, STORE_KEK_RETIRED = 1, STORE_KEK_REVOKED = 2,
	STORE_KEK_DISABLED = 3 };
struct store_kek {
	char name[128];
	uint32_t version;
	enum store_kek_state state;
	int64_t created_ms;
	uint8_t *wrapped;      /* malloc'd */
	size_t wrapped_len;
	char provider[16];     /* "soft" ("" is read as soft) or "pkcs11" */
	char outer[128];       /* double encryption: the outer KEK's name, "" for none */
};
void store_kek_clear(struct store_kek *k);
enum pv_rc store_kek_put(struct store_tx *tx, const struct store_kek *k);   /* PV_E_CONFLICT if (name,version) exists */
enum pv_rc store_kek_get(struct store_tx *tx, const char *name, uint32_t version, struct store_kek *out);
enum pv_rc store_kek_latest(struct store_tx *tx, const char *name, struct store_kek *out);
enum pv_rc store_kek_set_state(struct store_tx *tx, const char *name, uint32_t version,
    enum store_kek_state state);
typedef int (*store_kek_cb)(const struct store_kek *k, void *arg);   /* non-zero stops */
enum pv_rc store_kek_scan(struct store_tx *tx, store_kek_cb cb, void *arg);
/* keys-admin: the census, how many live objects (records and tokens) hold a
 * DEK wrapped by (name, version). Kept exact by the backend in the same
 * transaction as every record / token write (migration 12): never a scan.
 * Plus (migration 20) the rows whose MAC derives from that version: the
 * blind-index entries of "index:<c>" and the deterministic tokens' lookup
 * MACs, counted on their (collection|kek_name, mac_version) indexes.
 * 0 for a version nothing ever used. */
enum pv_rc store_kek_census(struct store_tx *tx, const char *name, uint32_t version,
    int64_t *objects);
/* Revocation: state REVOKED and the wrapped material overwritten with an
 * empty value, in tx. PV_E_NOTFOUND if there is no such version. */
enum pv_rc store_kek_destroy(struct store_tx *tx, const char *name, uint32_t version);


#endif /* PV_STORE_KEYS_H */
