/*
 * vault/blind.c: the input of a blind index (exact-match search over
 * encrypted fields). The index of a value is
 *
 *   HMAC-SHA256(index key of <collection>.<field>,
 *               "phivault:bidx:v1|<collection>|<field>|<canonical value>")
 *
 * (RFC 2104; the key comes from keys_mac, see blind_index.c). The store keeps
 * only the MAC, so equal canonical values of the same field match and nothing
 * else can be learnt without the key.
 *
 * Invariants:
 *  - The value is canonical (vault_value_normalize), so every spelling of
 *    the same SSN or phone number has one index.
 *  - Collection and field are valid names, which cannot hold '|': with the
 *    value last, the encoding is injective, and the collection and field in
 *    the input keep one field's index from matching another's even if their
 *    keys were ever the same.
 *  - The buffer holds PHI: callers wipe it (vault_blind_index does).
 */
#include <string.h>

#include "vault/vault_int.h"

#define BIDX_PREFIX "phivault:bidx:v1|"

enum pv_rc vault_blind_input(const char *collection, const char *field, const char *canonical,
    uint8_t *buf, size_t len, size_t *outlen)
{
	size_t lp = sizeof(BIDX_PREFIX) - 1, lc, lf, lv, total;
	uint8_t *p;

	if (!vault_name_valid(collection) || !vault_name_valid(field) || canonical == NULL ||
	    buf == NULL || outlen == NULL)
		return PV_E_INVALID;
	lc = strlen(collection);
	lf = strlen(field);
	lv = strlen(canonical);
	if (lv > VAULT_CANON_MAX - 1)
		return PV_E_INVALID;
	total = lp + lc + 1 + lf + 1 + lv;   /* every term bounded above: no overflow */
	if (total > len)
		return PV_E_INVALID;
	p = buf;
	memcpy(p, BIDX_PREFIX, lp);
	p += lp;
	memcpy(p, collection, lc);
	p += lc;
	*p++ = '|';
	memcpy(p, field, lf);
	p += lf;
	*p++ = '|';
	memcpy(p, canonical, lv);
	*outlen = total;
	return PV_OK;
}
