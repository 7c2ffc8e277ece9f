/*
 * vault/schema.c: collection definitions. Owns the JSON form of a collection
 * (POST /v1/collections, GET, and the schema text kept in the store), its
 * validation and defaults, and the region policy check.
 *
 * Invariants:
 *  - A struct vault_collection that came out of vault_collection_from_json
 *    is valid: names match [a-z][a-z0-9_]{0,62}, 1..64 fields with unique
 *    names, enums in range, internal fields unmasked.
 *  - Defaults are the restrictive choice: classification "phi"; mask "last4"
 *    for ssn/phone and "full" for other phi/pii. A phi/pii field is shown
 *    plain only if its definition says "mask":"none" in so many words.
 *  - Unknown keys are errors: a typo ("serachable") must not silently fall
 *    back to a default.
 *  - Error messages name the key and list what is allowed; they do not echo
 *    the offending value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"

static const char *const type_names[VAULT_TYPE__COUNT] = {
	"string", "date", "integer", "ssn", "email", "phone", "zip", "mrn",
};
static const char *const class_names[VAULT_CLASS__COUNT] = { "phi", "pii", "internal" };
static const char *const mask_names[VAULT_MASK__COUNT] = { "full", "last4", "none" };

/* Index = enum vault_ident; [0] (NONE) is never a valid wire value. */
static const char *const ident_names[VAULT_IDENT__COUNT] = {
	"", "name", "address", "city", "zip", "date", "birth_date", "age", "phone", "fax",
	"email", "ssn", "mrn", "health_plan", "account", "license", "vehicle", "device", "url",
	"ip", "biometric", "photo", "other",
};

#define IDENT_LIST "name, address, city, zip, date, birth_date, age, phone, fax, email, ssn, " \
	"mrn, health_plan, account, license, vehicle, device, url, ip, biometric, photo, other"
#define TYPE_LIST "string, date, integer, ssn, email, phone, zip, mrn"
#define CLASS_LIST "phi, pii, internal"
#define MASK_LIST "full, last4, none"

const char *vault_type_name(enum vault_type t)
{
	return (unsigned)t < VAULT_TYPE__COUNT ? type_names[t] : "?";
}

const char *vault_class_name(enum vault_class c)
{
	return (unsigned)c < VAULT_CLASS__COUNT ? class_names[c] : "?";
}

const char *vault_mask_name(enum vault_mask m)
{
	return (unsigned)m < VAULT_MASK__COUNT ? mask_names[m] : "?";
}

const char *vault_ident_name(enum vault_ident i)
{
	return (unsigned)i < VAULT_IDENT__COUNT ? ident_names[i] : "?";
}

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

bool vault_name_valid(const char *s)
{
	size_t i;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		char c = s[i];
		if (i >= VAULT_NAME_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

bool vault_region_valid(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (i >= VAULT_REGION_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* Default mask by type and classification (see the file comment). */
static enum vault_mask default_mask(enum vault_type t, enum vault_class cls)
{
	if (cls == VAULT_CLASS_INTERNAL)
		return VAULT_MASK_NONE;
	if (t == VAULT_TYPE_SSN || t == VAULT_TYPE_PHONE)
		return VAULT_MASK_LAST4;
	return VAULT_MASK_FULL;
}

/* Reads an enum-valued string key; -1 with err set if absent-but-required or bad. */
static int enum_key(json_t *obj, const char *key, const char *const *names, int n,
    const char *list, const char *what, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	int i;

	if (v == NULL)
		return -2;   /* absent: caller decides */
	if (!json_is_string(v) || (i = lookup(names, n, json_string_value(v))) < 0) {
		vault_errf(err, errlen, "%s: '%s' must be one of %s", what, key, list);
		return -1;
	}
	return i;
}

static enum pv_rc field_from_json(json_t *obj, size_t idx, struct vault_field *f,
    char *err, size_t errlen)
{
	static const char *const known[] = {
		"name", "type", "classification", "mask", "searchable", "required", "subject",
		"identifier", "safe",
	};
	char what[VAULT_NAME_MAX + 16];
	const char *key;
	json_t *v;
	int t, cls, mask;

	memset(f, 0, sizeof(*f));
	if (!json_is_object(obj)) {
		vault_errf(err, errlen, "fields[%zu]: must be an object", idx);
		return PV_E_INVALID;
	}
	v = json_object_get(obj, "name");
	if (v == NULL) {
		vault_errf(err, errlen, "fields[%zu]: missing key 'name'", idx);
		return PV_E_INVALID;
	}
	if (!json_is_string(v) || !vault_name_valid(json_string_value(v))) {
		vault_errf(err, errlen, "fields[%zu]: 'name' must match [a-z][a-z0-9_]{0,62}", idx);
		return PV_E_INVALID;
	}
	util_strlcpy(f->name, json_string_value(v), sizeof(f->name));
	snprintf(what, sizeof(what), "field '%s'", f->name);

	json_object_foreach(obj, key, v) {
		if (lookup(known, (int)(sizeof(known) / sizeof(known[0])), key) < 0) {
			vault_errf(err, errlen, "%s: unknown key '%s'", what, vault_safe_key(key));
			return PV_E_INVALID;
		}
	}

	t = enum_key(obj, "type", type_names, VAULT_TYPE__COUNT, TYPE_LIST, what, err, errlen);
	if (t == -2) {
		vault_errf(err, errlen, "%s: missing key 'type'", what);
		return PV_E_INVALID;
	}
	if (t < 0)
		return PV_E_INVALID;
	cls = enum_key(obj, "classification", class_names, VAULT_CLASS__COUNT, CLASS_LIST,
	    what, err, errlen);
	if (cls == -1)
		return PV_E_INVALID;
	if (cls == -2)
		cls = VAULT_CLASS_PHI;   /* the restrictive default */
	mask = enum_key(obj, "mask", mask_names, VAULT_MASK__COUNT, MASK_LIST, what, err, errlen);
	if (mask == -1)
		return PV_E_INVALID;
	if (mask == -2)
		mask = default_mask((enum vault_type)t, (enum vault_class)cls);
	if (cls == VAULT_CLASS_INTERNAL && mask != VAULT_MASK_NONE) {
		/* Internal fields are always returned plain; a mask that would
		 * never apply is refused rather than silently ignored. */
		vault_errf(err, errlen, "%s: 'mask' must be none for an internal field", what);
		return PV_E_INVALID;
	}
	f->type = (enum vault_type)t;
	f->cls = (enum vault_class)cls;
	f->mask = (enum vault_mask)mask;

	v = json_object_get(obj, "searchable");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			vault_errf(err, errlen, "%s: 'searchable' must be true or false", what);
			return PV_E_INVALID;
		}
		f->searchable = json_is_true(v);
	}
	v = json_object_get(obj, "required");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			vault_errf(err, errlen, "%s: 'required' must be true or false", what);
			return PV_E_INVALID;
		}
		f->required = json_is_true(v);
	}
	v = json_object_get(obj, "subject");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			vault_errf(err, errlen, "%s: 'subject' must be true or false", what);
			return PV_E_INVALID;
		}
		f->subject = json_is_true(v);
		if (f->subject && f->type != VAULT_TYPE_STRING) {
			vault_errf(err, errlen, "%s: a subject field must be of type string", what);
			return PV_E_INVALID;
		}
	}
	/* Safe Harbor annotations (docs/storing-phi.md). "" (NONE) is not a
	 * kind one can write: lookup from index 1. */
	v = json_object_get(obj, "identifier");
	if (v != NULL) {
		int k = json_is_string(v) ? lookup(ident_names + 1, VAULT_IDENT__COUNT - 1,
		    json_string_value(v)) : -1;

		if (k < 0) {
			vault_errf(err, errlen, "%s: 'identifier' must be one of " IDENT_LIST, what);
			return PV_E_INVALID;
		}
		f->ident = (enum vault_ident)(k + 1);
	}
	v = json_object_get(obj, "safe");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			vault_errf(err, errlen, "%s: 'safe' must be true or false", what);
			return PV_E_INVALID;
		}
		f->safe = json_is_true(v);
		if (f->safe && (f->type != VAULT_TYPE_STRING || f->ident != VAULT_IDENT_NONE ||
		    f->subject)) {
			vault_errf(err, errlen, "%s: 'safe' is only for a string field that is "
			    "neither an identifier nor the subject", what);
			return PV_E_INVALID;
		}
	}
	return PV_OK;
}

enum pv_rc vault_collection_from_json(json_t *obj, struct vault_collection *out,
    char *err, size_t errlen)
{
	static const char *const known[] = { "name", "region", "retention_days", "fields" };
	struct vault_collection *c = NULL;
	enum pv_rc rc = PV_E_INVALID;
	const char *key;
	json_t *v, *fields;
	size_t i, j;

	if (!json_is_object(obj)) {
		vault_errf(err, errlen, "collection must be a JSON object");
		goto out;
	}
	json_object_foreach(obj, key, v) {
		if (lookup(known, (int)(sizeof(known) / sizeof(known[0])), key) < 0) {
			vault_errf(err, errlen, "unknown key '%s'", vault_safe_key(key));
			goto out;
		}
	}
	/* The struct is ~6 KB: build it on the heap, copy out only on success. */
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}

	v = json_object_get(obj, "name");
	if (v == NULL) {
		vault_errf(err, errlen, "missing key 'name'");
		goto out;
	}
	if (!json_is_string(v) || !vault_name_valid(json_string_value(v))) {
		vault_errf(err, errlen, "'name' must match [a-z][a-z0-9_]{0,62}");
		goto out;
	}
	util_strlcpy(c->name, json_string_value(v), sizeof(c->name));

	v = json_object_get(obj, "region");
	if (v == NULL) {
		vault_errf(err, errlen, "missing key 'region'");
		goto out;
	}
	if (!json_is_string(v) || !vault_region_valid(json_string_value(v))) {
		vault_errf(err, errlen, "'region' must match [a-z0-9-]{1,63}");
		goto out;
	}
	util_strlcpy(c->region, json_string_value(v), sizeof(c->region));

	c->retention_days = VAULT_RETENTION_DEFAULT;
	v = json_object_get(obj, "retention_days");
	if (v != NULL) {
		json_int_t d;

		if (!json_is_integer(v) || (d = json_integer_value(v)) < 1 ||
		    d > VAULT_RETENTION_MAX) {
			vault_errf(err, errlen, "'retention_days' must be an integer from 1 to %d",
			    VAULT_RETENTION_MAX);
			goto out;
		}
		c->retention_days = (int)d;
	}

	fields = json_object_get(obj, "fields");
	if (fields == NULL) {
		vault_errf(err, errlen, "missing key 'fields'");
		goto out;
	}
	if (!json_is_array(fields) || json_array_size(fields) < 1 ||
	    json_array_size(fields) > VAULT_MAX_FIELDS) {
		vault_errf(err, errlen, "'fields' must be an array of 1 to %d field objects",
		    VAULT_MAX_FIELDS);
		goto out;
	}
	for (i = 0; i < json_array_size(fields); i++) {
		rc = field_from_json(json_array_get(fields, i), i, &c->fields[i], err, errlen);
		if (rc != PV_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(c->fields[j].name, c->fields[i].name) == 0) {
				vault_errf(err, errlen, "duplicate field '%s'", c->fields[i].name);
				rc = PV_E_INVALID;
				goto out;
			}
			if (c->fields[j].subject && c->fields[i].subject) {
				vault_errf(err, errlen, "field '%s': only one field may be the subject",
				    c->fields[i].name);
				rc = PV_E_INVALID;
				goto out;
			}
		}
		c->nfields = i + 1;
	}
	memcpy(out, c, sizeof(*c));
	rc = PV_OK;
out:
	free(c);
	return rc;
}

enum pv_rc vault_collection_to_json(const struct vault_collection *c, json_t **out)
{
	enum pv_rc rc = PV_E_NOMEM;
	json_t *obj = NULL, *fields = NULL, *f = NULL;
	size_t i;

	if (c == NULL || c->nfields > VAULT_MAX_FIELDS)
		return PV_E_INVALID;
	obj = json_object();
	fields = json_array();
	if (obj == NULL || fields == NULL)
		goto out;
	if (json_object_set_new(obj, "name", json_string(c->name)) != 0 ||
	    json_object_set_new(obj, "region", json_string(c->region)) != 0 ||
	    json_object_set_new(obj, "retention_days", json_integer(c->retention_days)) != 0)
		goto out;
	for (i = 0; i < c->nfields; i++) {
		const struct vault_field *fd = &c->fields[i];

		f = json_object();
		if (f == NULL ||
		    json_object_set_new(f, "name", json_string(fd->name)) != 0 ||
		    json_object_set_new(f, "type", json_string(vault_type_name(fd->type))) != 0 ||
		    json_object_set_new(f, "classification",
			json_string(vault_class_name(fd->cls))) != 0 ||
		    json_object_set_new(f, "mask", json_string(vault_mask_name(fd->mask))) != 0 ||
		    json_object_set_new(f, "searchable", json_boolean(fd->searchable)) != 0 ||
		    json_object_set_new(f, "required", json_boolean(fd->required)) != 0 ||
		    (fd->subject && json_object_set_new(f, "subject", json_true()) != 0) ||
		    (fd->ident != VAULT_IDENT_NONE && json_object_set_new(f, "identifier",
			json_string(vault_ident_name(fd->ident))) != 0) ||
		    (fd->safe && json_object_set_new(f, "safe", json_true()) != 0))
			goto out;
		if (json_array_append_new(fields, f) != 0) {
			f = NULL;   /* append_new consumed it even on failure */
			goto out;
		}
		f = NULL;
	}
	if (json_object_set_new(obj, "fields", fields) != 0) {
		fields = NULL;
		goto out;
	}
	fields = NULL;
	*out = obj;
	obj = NULL;
	rc = PV_OK;
out:
	json_decref(f);
	json_decref(fields);
	json_decref(obj);
	return rc;
}

const struct vault_field *vault_collection_field(const struct vault_collection *c,
    const char *name)
{
	size_t i;

	if (c == NULL || name == NULL)
		return NULL;
	for (i = 0; i < c->nfields && i < VAULT_MAX_FIELDS; i++)
		if (strcmp(c->fields[i].name, name) == 0)
			return &c->fields[i];
	return NULL;
}

enum pv_rc vault_region_check(const char *allowed_csv, const char *region)
{
	const char *p, *end;
	size_t rlen;

	if (allowed_csv == NULL || region == NULL || region[0] == '\0')
		return PV_E_REGION;
	rlen = strlen(region);
	p = allowed_csv;
	for (;;) {
		const char *a, *b;

		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		a = p;
		b = end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if ((size_t)(b - a) == rlen && memcmp(a, region, rlen) == 0)
			return PV_OK;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return PV_E_REGION;
}
