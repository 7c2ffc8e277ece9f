/*
 * vault_test.h: shared helpers for the vault unit tests (header-only).
 * Include after <cmocka.h>.
 */
#ifndef PV_VAULT_TEST_H
#define PV_VAULT_TEST_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vault/vault.h"

/* A distinctive string planted in bad values: no error may contain it. */
#define VT_MARKER "ZQX7MARK"

/* Parse JSON text that the test itself wrote; fail the test if it is bad. */
static inline json_t *vt_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

	assert_non_null(j);
	return j;
}

/* Build a collection from JSON text; fail the test if it is refused. */
static inline void vt_collection(const char *text, struct vault_collection *c)
{
	char err[VAULT_ERR_MAX] = "";
	json_t *j = vt_json(text);
	enum pv_rc rc = vault_collection_from_json(j, c, err, sizeof(err));

	if (rc != PV_OK)
		print_error("collection refused: %s\n", err);
	assert_int_equal(rc, PV_OK);
	json_decref(j);
}

/* A field of the given type for value tests (classification phi). */
static inline struct vault_field vt_field(const char *name, enum vault_type t)
{
	struct vault_field f;

	memset(&f, 0, sizeof(f));
	strncpy(f.name, name, sizeof(f.name) - 1);
	f.type = t;
	f.cls = VAULT_CLASS_PHI;
	f.mask = VAULT_MASK_FULL;
	return f;
}

/* Case-insensitive: a value must not appear even after case normalisation. */
static inline void vt_assert_no_marker(const char *err)
{
	if (strcasestr(err, VT_MARKER) != NULL)
		print_error("error message leaks the value: %s\n", err);
	assert_null(strcasestr(err, VT_MARKER));
}

#endif /* PV_VAULT_TEST_H */
