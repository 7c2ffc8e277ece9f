/*
 * vault/mask.c: minimum necessary (45 CFR 164.502(b), 164.514(d)). Owns the
 * masked form of a value and the response view of a record.
 *
 * Invariants:
 *  - A phi/pii field leaves unmasked only if its mask is "none" (an explicit
 *    schema choice) or the caller's can_unmask says yes for that field
 *    (records.unmask:<collection>.<field>). Internal fields are plain.
 *  - A masked value never shows a short value whole: 4 characters or fewer
 *    become "****" whatever the mask. A masked integer is the string "****"
 *    (its digits would give away its magnitude).
 *  - A stored record that does not match the schema (unknown field, wrong
 *    JSON type) yields PV_E_INTERNAL and no view at all: fail closed.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define STARS "****"

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static enum pv_rc put(char *out, size_t outlen, const char *s, size_t n)
{
	if (out == NULL || n >= outlen)
		return PV_E_INTERNAL;
	memcpy(out, s, n);
	out[n] = '\0';
	return PV_OK;
}

/* ssn/phone: every alphanumeric before the last 4 becomes '*', separators stay. */
static enum pv_rc mask_keep_separators(const char *v, char *out, size_t outlen)
{
	size_t i, len = strlen(v), alnum = 0, seen = 0;

	for (i = 0; i < len; i++)
		if (is_alnum(v[i]))
			alnum++;
	if (alnum <= 4)
		return put(out, outlen, STARS, 4);
	if (out == NULL || len >= outlen)
		return PV_E_INTERNAL;
	for (i = 0; i < len; i++) {
		if (is_alnum(v[i]))
			out[i] = ++seen > alnum - 4 ? v[i] : '*';
		else
			out[i] = v[i];
	}
	out[len] = '\0';
	return PV_OK;
}

/* Others: "****" + the last 4 characters (code points, so UTF-8 is not cut). */
static enum pv_rc mask_stars_last4(const char *v, char *out, size_t outlen)
{
	size_t len = strlen(v), i = len, cps = 0;

	while (i > 0 && cps < 5) {
		i--;
		if (((unsigned char)v[i] & 0xc0) != 0x80)
			cps++;
	}
	if (cps <= 4)   /* reached the start: the value is 4 characters or fewer */
		return put(out, outlen, STARS, 4);
	/* v[i] starts the 5th character from the end: skip it. */
	i++;
	while (i < len && ((unsigned char)v[i] & 0xc0) == 0x80)
		i++;
	if (out == NULL || 4 + (len - i) >= outlen)
		return PV_E_INTERNAL;
	memcpy(out, STARS, 4);
	memcpy(out + 4, v + i, len - i);
	out[4 + len - i] = '\0';
	return PV_OK;
}

enum pv_rc vault_mask_value(const struct vault_field *f, const char *canonical,
    char *out, size_t outlen)
{
	if (f == NULL || canonical == NULL)
		return PV_E_INTERNAL;
	switch (f->mask) {
	case VAULT_MASK_NONE:
		return put(out, outlen, canonical, strlen(canonical));
	case VAULT_MASK_FULL:
		return put(out, outlen, STARS, 4);
	case VAULT_MASK_LAST4:
		if (f->type == VAULT_TYPE_INTEGER)
			return put(out, outlen, STARS, 4);
		if (f->type == VAULT_TYPE_SSN || f->type == VAULT_TYPE_PHONE)
			return mask_keep_separators(canonical, out, outlen);
		return mask_stars_last4(canonical, out, outlen);
	case VAULT_MASK__COUNT:
		break;
	}
	return PV_E_INTERNAL;
}

/* Every stored field is a schema field of the schema's JSON type: checked
 * for all of them before anything is masked, so a failure leaves the record
 * as it was. */
static enum pv_rc record_matches(const struct vault_collection *c, json_t *fields)
{
	const char *key;
	json_t *v;

	json_object_foreach(fields, key, v) {
		const struct vault_field *f = vault_collection_field(c, key);

		if (f == NULL || (f->type == VAULT_TYPE_INTEGER ? !json_is_integer(v)
		    : !json_is_string(v)))
			return PV_E_INTERNAL;
	}
	return PV_OK;
}

enum pv_rc vault_record_mask(const struct vault_collection *c, json_t *fields,
    bool (*can_unmask)(void *arg, const char *field), void *arg)
{
	enum pv_rc rc;
	char masked[VAULT_CANON_MAX];
	void *it;

	if (c == NULL || !json_is_object(fields))
		return PV_E_INTERNAL;
	if ((rc = record_matches(c, fields)) != PV_OK)
		return rc;
	for (it = json_object_iter(fields); it != NULL; it = json_object_iter_next(fields, it)) {
		const struct vault_field *f = vault_collection_field(c, json_object_iter_key(it));
		json_t *v = json_object_iter_value(it);

		if (f->cls == VAULT_CLASS_INTERNAL || f->mask == VAULT_MASK_NONE ||
		    (can_unmask != NULL && can_unmask(arg, f->name)))
			continue;   /* left as it is: no copy */
		if (f->type == VAULT_TYPE_INTEGER) {
			/* the pair keeps its place: the view's key order is the record's */
			if (json_object_iter_set_new(fields, it, json_string(STARS)) != 0) {
				rc = PV_E_NOMEM;
				break;
			}
			continue;
		}
		/* the value's own string replaced (the old one is freed, wiped);
		 * what a mask keeps of a value is wiped from the stack at once
		 * (it wrote that string and its NUL, nothing beyond) */
		masked[0] = '\0';   /* a failed mask writes nothing */
		rc = vault_mask_value(f, json_string_value(v), masked, sizeof(masked));
		if (rc == PV_OK && json_string_set(v, masked) != 0)
			rc = PV_E_NOMEM;
		vault_wipe(masked, strnlen(masked, sizeof(masked) - 1) + 1);
		if (rc != PV_OK)
			break;
	}
	return rc;
}

enum pv_rc vault_record_view(const struct vault_collection *c, json_t *record_fields,
    bool (*can_unmask)(void *arg, const char *field), void *arg, json_t **out)
{
	enum pv_rc rc;
	json_t *view;

	if (c == NULL || !json_is_object(record_fields) || out == NULL)
		return PV_E_INTERNAL;
	/* the values too: masking replaces strings in place */
	if ((view = json_deep_copy(record_fields)) == NULL)
		return PV_E_NOMEM;
	if ((rc = vault_record_mask(c, view, can_unmask, arg)) != PV_OK) {
		json_decref(view);
		return rc;
	}
	*out = view;
	return PV_OK;
}
