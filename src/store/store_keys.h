/*
 * store/store_keys.h: key-encryption keys (table kek).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_KEYS_H
#define PV_STORE_KEYS_H

#include "store/store_core.h"

/* ---- key-encryption keys, stored wrapped by the root key ---- */
enum store_kek_state { STORE_KEK_ACTIVE = 0, STORE_KEK_RETIRED = 1, STORE_KEK_REVOKED = 2 };
struct store_kek {
	char name[128];
	uint32_t version;
	enum store_kek_state state;
	int64_t created_ms;
	uint8_t *wrapped;      /* malloc'd */
	size_t wrapped_len;
};
void store_kek_clear(struct store_kek *k);
enum pv_rc store_kek_put(struct store_tx *tx, const struct store_kek *k);   /* PV_E_CONFLICT if (name,version) exists */
enum pv_rc store_kek_get(struct store_tx *tx, const char *name, uint32_t version, struct store_kek *out);
enum pv_rc store_kek_latest(struct store_tx *tx, const char *name, struct store_kek *out);
enum pv_rc store_kek_set_state(struct store_tx *tx, const char *name, uint32_t version,
    enum store_kek_state state);
typedef int (*store_kek_cb)(const struct store_kek *k, void *arg);   /* non-zero stops */
enum pv_rc store_kek_scan(struct store_tx *tx, store_kek_cb cb, void *arg);


#endif /* PV_STORE_KEYS_H */
