/*
 * vault/record.c: a record's fields against its collection's schema, the
 * PATCH merge, the AEAD associated data and the plaintext encoding.
 *
 * Invariants:
 *  - vault_record_validate either fails (nothing allocated, err names the
 *    field) or returns an object whose keys are all schema fields and whose
 *    values are all canonical (or null, in a partial patch only).
 *  - A required field can be neither missing at create nor removed by PATCH,
 *    so a merged record always has every required field.
 *  - The plaintext is deterministic for the same fields (sorted keys, compact)
 *    and is wiped before it is freed.
 *
 * AAD (NIST SP 800-38D section 5.2.1.1: authenticated, not encrypted):
 *   "phivault:record:v1|<collection>|<record_id>|<version>"
 * Binding the collection, the ID and the version means a ciphertext copied to
 * another record, moved to another collection or rolled back to an older
 * version fails the GCM tag. "v1" is the format of this string, not the
 * record version; '|' cannot occur in a component, so it is injective.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

#define AAD_PREFIX "phivault:record:v1|"

/*
 * The stored value of a string-typed field whose canonical text is canon:
 * the given value itself (one more reference) when the text is the same,
 * as it is for most values (a string, a date, a ZIP, a canonical SSN), else
 * a new string. No copy and no second UTF-8 check (json_string's): canon
 * is valid UTF-8, the type checked it (a string) or wrote ASCII (the rest).
 */
static json_t *canonical_string(json_t *given, const char *canon)
{
	size_t n = strlen(canon);

	if (n == json_string_length(given) && memcmp(json_string_value(given), canon, n) == 0)
		return json_incref(given);
	return json_stringn_nocheck(canon, n);
}

enum pv_rc vault_record_validate(const struct vault_collection *c, json_t *fields_in,
    bool partial, json_t **normalized_out, char *err, size_t errlen)
{
	enum pv_rc rc = PV_E_INVALID;
	json_t *norm = NULL, *v;
	char *canon = NULL;
	const char *key;
	size_t i;

	if (c == NULL || normalized_out == NULL)
		return PV_E_INTERNAL;
	if (!json_is_object(fields_in)) {
		vault_errf(err, errlen, "record fields must be a JSON object");
		goto out;
	}
	norm = json_object();
	canon = malloc(VAULT_CANON_MAX);
	if (norm == NULL || canon == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	json_object_foreach(fields_in, key, v) {
		const struct vault_field *f = vault_collection_field(c, key);
		json_t *nv;

		if (f == NULL) {
			vault_errf(err, errlen, "unknown field '%s'", vault_safe_key(key));
			rc = PV_E_INVALID;
			goto out;
		}
		if (json_is_null(v)) {
			if (!partial) {
				vault_errf(err, errlen, "field '%s': must not be null", f->name);
				rc = PV_E_INVALID;
				goto out;
			}
			if (f->required) {
				vault_errf(err, errlen, "field '%s': is required and cannot be removed",
				    f->name);
				rc = PV_E_INVALID;
				goto out;
			}
			nv = json_null();   /* PATCH: remove this field */
		} else {
			rc = vault_value_normalize(f, v, canon, VAULT_CANON_MAX, err, errlen);
			if (rc != PV_OK)
				goto out;
			nv = f->type == VAULT_TYPE_INTEGER ? json_integer(json_integer_value(v))
			    : canonical_string(v, canon);
		}
		/* f->name is a valid name: no UTF-8 check of the key */
		if (nv == NULL || json_object_set_new_nocheck(norm, f->name, nv) != 0) {
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	if (!partial) {
		for (i = 0; i < c->nfields; i++) {
			if (c->fields[i].required && json_object_get(norm, c->fields[i].name) == NULL) {
				vault_errf(err, errlen, "missing required field '%s'", c->fields[i].name);
				rc = PV_E_INVALID;
				goto out;
			}
		}
	}
	*normalized_out = norm;
	norm = NULL;
	rc = PV_OK;
out:
	if (canon != NULL) {
		vault_wipe(canon, VAULT_CANON_MAX);
		free(canon);
	}
	json_decref(norm);
	return rc;
}

enum pv_rc vault_record_merge(json_t *old, json_t *patch, json_t **out)
{
	json_t *m, *v;
	const char *key;

	if (!json_is_object(old) || !json_is_object(patch) || out == NULL)
		return PV_E_INVALID;
	/* A shallow copy is enough: values are scalars and never mutated; only
	 * the new object's key set changes. */
	m = json_copy(old);
	if (m == NULL)
		return PV_E_NOMEM;
	json_object_foreach(patch, key, v) {
		if (json_is_null(v)) {
			(void)json_object_del(m, key);   /* absent already: nothing to remove */
		} else if (json_object_set(m, key, v) != 0) {
			json_decref(m);
			return PV_E_NOMEM;
		}
	}
	*out = m;
	return PV_OK;
}

enum pv_rc vault_record_aad(const char *collection, const char *record_id, uint32_t version,
    char *buf, size_t len, size_t *outlen)
{
	char tmp[VAULT_AAD_MAX];
	int n;

	if (!vault_name_valid(collection) || record_id == NULL || record_id[0] == '\0' ||
	    strchr(record_id, '|') != NULL || version == 0 || buf == NULL)
		return PV_E_INVALID;
	n = snprintf(tmp, sizeof(tmp), AAD_PREFIX "%s|%s|%" PRIu32, collection, record_id,
	    version);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= len)
		return PV_E_INVALID;
	memcpy(buf, tmp, (size_t)n + 1);
	if (outlen != NULL)
		*outlen = (size_t)n;
	return PV_OK;
}

/*
 * The plaintext is json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS), byte
 * for byte (tests/unit/vault/test_plaintext.c compares the two), written here
 * for what a record holds: string and integer members and the labels, an
 * array of strings. jansson's encoder walks each string one UTF-8 character
 * at a time through a callback and grows its buffer from 16 bytes by
 * doubling (every step a block the daemon's allocator wipes): ~70 of a 1 KiB
 * create's ~330 thousand instructions (docs/performance.md, "The record
 * create's CPU"). Two passes instead, the length then the bytes, into one
 * block of that size. Anything else (a real, a nested object, more members
 * than a schema has) goes to json_dumps as before.
 */
#define PT_MEMBERS_MAX (VAULT_MAX_FIELDS + 1)   /* the fields and "_labels" */

struct pt_member {
	const char *key;
	size_t klen;
	json_t *v;
};

static int pt_member_cmp(const void *a, const void *b)
{
	/* jansson's JSON_SORT_KEYS order: strcmp of the keys */
	return strcmp(((const struct pt_member *)a)->key, ((const struct pt_member *)b)->key);
}

/* The text of a member's value, or SIZE_MAX if it is not a record's. */
static size_t pt_value_len(json_t *v)
{
	char num[32];
	size_t n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return util_json_string_len(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	case JSON_ARRAY:
		n = 2;
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			if (!json_is_string(e))
				return SIZE_MAX;
			n += (i > 0 ? 1 : 0) + util_json_string_len(json_string_value(e),
			    json_string_length(e));
		}
		return n;
	default:
		return SIZE_MAX;
	}
}

static char *pt_value_put(char *p, json_t *v)
{
	char num[32];
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return util_json_string_put(p, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		memcpy(p, num, (size_t)n);
		return p + n;
	default:   /* an array of strings: pt_value_len said so */
		*p++ = '[';
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			if (i > 0)
				*p++ = ',';
			p = util_json_string_put(p, json_string_value(e), json_string_length(e));
		}
		*p++ = ']';
		return p;
	}
}

static enum pv_rc pt_dumps(json_t *fields, char **out, size_t *outlen)
{
	char *p = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);

	if (p == NULL)
		return PV_E_NOMEM;
	*out = p;
	*outlen = strlen(p);
	return PV_OK;
}

enum pv_rc vault_record_plaintext(json_t *fields, char **out, size_t *outlen)
{
	struct pt_member m[PT_MEMBERS_MAX];
	size_t nm = 0, len = 2, vlen;
	json_malloc_t malloc_fn = NULL;
	const char *key;
	json_t *val;
	char *text, *p;

	if (!json_is_object(fields) || out == NULL || outlen == NULL)
		return PV_E_INVALID;
	if (json_object_size(fields) > PT_MEMBERS_MAX)
		return pt_dumps(fields, out, outlen);
	json_object_foreach(fields, key, val) {
		if ((vlen = pt_value_len(val)) == SIZE_MAX)
			return pt_dumps(fields, out, outlen);
		m[nm].key = key;
		m[nm].klen = strlen(key);
		m[nm].v = val;
		len += (nm > 0 ? 1 : 0) + util_json_string_len(key, m[nm].klen) + 1 + vlen;
		nm++;
	}
	qsort(m, nm, sizeof(m[0]), pt_member_cmp);
	/* jansson's allocator, as json_dumps': vault_plaintext_free frees both */
	json_get_alloc_funcs(&malloc_fn, NULL);
	if ((text = malloc_fn != NULL ? malloc_fn(len + 1) : malloc(len + 1)) == NULL)
		return PV_E_NOMEM;
	p = text;
	*p++ = '{';
	for (size_t i = 0; i < nm; i++) {
		if (i > 0)
			*p++ = ',';
		p = util_json_string_put(p, m[i].key, m[i].klen);
		*p++ = ':';
		p = pt_value_put(p, m[i].v);
	}
	*p++ = '}';
	*p = '\0';
	*out = text;
	*outlen = len;
	return PV_OK;
}

void vault_plaintext_free(char *p, size_t len)
{
	json_free_t free_fn = NULL;

	if (p == NULL)
		return;
	vault_wipe(p, len);
	/* json_dumps allocated it with jansson's allocator: free it with the same. */
	json_get_alloc_funcs(NULL, &free_fn);
	if (free_fn != NULL)
		free_fn(p);
	else
		free(p);
}

enum pv_rc vault_record_from_plaintext(const char *p, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *obj;

	if (p == NULL || out == NULL)
		return PV_E_INVALID;
	obj = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
	/* jerr.text can quote the input near the error: it is PHI and is dropped. */
	vault_wipe(&jerr, sizeof(jerr));
	if (!json_is_object(obj)) {
		json_decref(obj);
		return PV_E_INTEGRITY;
	}
	*out = obj;
	return PV_OK;
}
