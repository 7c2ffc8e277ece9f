/*
 * Masking: what a caller without records.unmask sees, per mask and type, and
 * the response view of a whole record with and without permission.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vault_test.h"

static void check_mask(enum vault_type t, enum vault_mask m, const char *canon,
    const char *expect)
{
	struct vault_field f = vt_field("v", t);
	char out[VAULT_CANON_MAX];

	f.mask = m;
	memset(out, 0, sizeof(out));
	assert_int_equal(vault_mask_value(&f, canon, out, sizeof(out)), PV_OK);
	if (strcmp(out, expect) != 0)
		print_error("%s/%s: got \"%s\", expected \"%s\"\n", vault_type_name(t),
		    vault_mask_name(m), out, expect);
	assert_string_equal(out, expect);
}

static void test_full(void **state)
{
	(void)state;
	check_mask(VAULT_TYPE_SSN, VAULT_MASK_FULL, "123-45-6789", "****");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_FULL, "Ada Lovelace", "****");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_FULL, "", "****");
	check_mask(VAULT_TYPE_DATE, VAULT_MASK_FULL, "1815-12-10", "****");
	check_mask(VAULT_TYPE_EMAIL, VAULT_MASK_FULL, "ada@example.org", "****");
	check_mask(VAULT_TYPE_PHONE, VAULT_MASK_FULL, "+15550100199", "****");
	check_mask(VAULT_TYPE_ZIP, VAULT_MASK_FULL, "12345", "****");
	check_mask(VAULT_TYPE_MRN, VAULT_MASK_FULL, "MRN-7", "****");
	check_mask(VAULT_TYPE_INTEGER, VAULT_MASK_FULL, "42", "****");
}

static void test_last4(void **state)
{
	(void)state;
	/* ssn and phone keep their separators */
	check_mask(VAULT_TYPE_SSN, VAULT_MASK_LAST4, "123-45-6789", "***-**-6789");
	check_mask(VAULT_TYPE_PHONE, VAULT_MASK_LAST4, "+15550100199", "+*******0199");
	check_mask(VAULT_TYPE_PHONE, VAULT_MASK_LAST4, "5550100", "***0100");
	/* others: "****" + the last 4 characters */
	check_mask(VAULT_TYPE_MRN, VAULT_MASK_LAST4, "MRN-00123", "****0123");
	check_mask(VAULT_TYPE_EMAIL, VAULT_MASK_LAST4, "ada@example.org", "****.org");
	check_mask(VAULT_TYPE_ZIP, VAULT_MASK_LAST4, "12345-6789", "****6789");
	check_mask(VAULT_TYPE_ZIP, VAULT_MASK_LAST4, "12345", "****2345");
	check_mask(VAULT_TYPE_DATE, VAULT_MASK_LAST4, "1815-12-10", "****2-10");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "abcde", "****bcde");
	/* multi-byte characters are counted as characters, never cut */
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "h\xc3\xa9llo w\xc3\xb6rld", "****\xc3\xb6rld");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "\xc3\xa9\xc3\xa8\xc3\xaa\xc3\xab\xc3\xa0",
	    "****\xc3\xa8\xc3\xaa\xc3\xab\xc3\xa0");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "ab\xf0\x9f\x98\x80" "cde",
	    "****\xf0\x9f\x98\x80" "cde");
	/* an integer's digits are never partly shown */
	check_mask(VAULT_TYPE_INTEGER, VAULT_MASK_LAST4, "123456789", "****");
}

static void test_short_values_never_shown(void **state)
{
	(void)state;
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "abcd", "****");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "ab", "****");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "", "****");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_LAST4, "\xc3\xa9\xc3\xa8\xc3\xaa\xc3\xab", "****");
	check_mask(VAULT_TYPE_MRN, VAULT_MASK_LAST4, "A1", "****");
	/* 5 characters: the boundary where the last 4 start to show */
	check_mask(VAULT_TYPE_MRN, VAULT_MASK_LAST4, "A-1-2", "****-1-2");
	/* separators do not count as characters to hide behind */
	check_mask(VAULT_TYPE_PHONE, VAULT_MASK_LAST4, "+1234", "****");
}

static void test_none(void **state)
{
	(void)state;
	check_mask(VAULT_TYPE_MRN, VAULT_MASK_NONE, "MRN-7", "MRN-7");
	check_mask(VAULT_TYPE_SSN, VAULT_MASK_NONE, "123-45-6789", "123-45-6789");
	check_mask(VAULT_TYPE_STRING, VAULT_MASK_NONE, "", "");
}

static void test_short_buffer(void **state)
{
	struct vault_field f = vt_field("v", VAULT_TYPE_SSN);
	char out[8];

	(void)state;
	f.mask = VAULT_MASK_LAST4;
	assert_int_equal(vault_mask_value(&f, "123-45-6789", out, sizeof(out)), PV_E_INTERNAL);
	f.mask = VAULT_MASK_NONE;
	assert_int_equal(vault_mask_value(&f, "123-45-6789", out, sizeof(out)), PV_E_INTERNAL);
	f.mask = VAULT_MASK_FULL;
	assert_int_equal(vault_mask_value(&f, "123-45-6789", out, 4), PV_E_INTERNAL);
}

/* ---- record view ---- */

#define SCHEMA \
	"{\"name\":\"patients\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"ssn\",\"type\":\"ssn\"}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"mask\":\"none\"}," \
	"{\"name\":\"weight\",\"type\":\"integer\"}," \
	"{\"name\":\"visits\",\"type\":\"integer\",\"classification\":\"internal\"}," \
	"{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}"

#define RECORD \
	"{\"ssn\":\"123-45-6789\",\"email\":\"ada@example.org\",\"mrn\":\"MRN-7\"," \
	"\"weight\":71,\"visits\":3,\"ward\":\"B2\"}"

static bool allow_none(void *arg, const char *field)
{
	(void)arg;
	(void)field;
	return false;
}

static bool allow_all(void *arg, const char *field)
{
	(void)arg;
	(void)field;
	return true;
}

/* arg: the one field the caller may unmask */
static bool allow_one(void *arg, const char *field)
{
	return strcmp((const char *)arg, field) == 0;
}

static char *view_text(const char *record, bool (*can)(void *, const char *), void *arg)
{
	struct vault_collection *c = calloc(1, sizeof(*c));
	json_t *rec = vt_json(record), *view = NULL;
	char *text;

	assert_non_null(c);
	vt_collection(SCHEMA, c);
	assert_int_equal(vault_record_view(c, rec, can, arg, &view), PV_OK);
	text = json_dumps(view, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(text);
	json_decref(view);
	json_decref(rec);
	free(c);
	return text;
}

static void test_view_without_unmask(void **state)
{
	const char *masked = "{\"email\":\"****\",\"mrn\":\"MRN-7\",\"ssn\":\"***-**-6789\","
	    "\"visits\":3,\"ward\":\"B2\",\"weight\":\"****\"}";
	char *t;

	(void)state;
	t = view_text(RECORD, allow_none, NULL);
	assert_string_equal(t, masked);
	free(t);
	/* no callback at all: nothing is unmasked */
	t = view_text(RECORD, NULL, NULL);
	assert_string_equal(t, masked);
	free(t);
}

static void test_view_with_unmask(void **state)
{
	char *t;

	(void)state;
	t = view_text(RECORD, allow_all, NULL);
	assert_string_equal(t, "{\"email\":\"ada@example.org\",\"mrn\":\"MRN-7\","
	    "\"ssn\":\"123-45-6789\",\"visits\":3,\"ward\":\"B2\",\"weight\":71}");
	free(t);
	/* permission is per field: records.unmask:patients.ssn shows only the SSN */
	t = view_text(RECORD, allow_one, (void *)"ssn");
	assert_string_equal(t, "{\"email\":\"****\",\"mrn\":\"MRN-7\",\"ssn\":\"123-45-6789\","
	    "\"visits\":3,\"ward\":\"B2\",\"weight\":\"****\"}");
	free(t);
	t = view_text(RECORD, allow_one, (void *)"weight");
	assert_string_equal(t, "{\"email\":\"****\",\"mrn\":\"MRN-7\",\"ssn\":\"***-**-6789\","
	    "\"visits\":3,\"ward\":\"B2\",\"weight\":71}");
	free(t);
}

static void test_view_fails_closed(void **state)
{
	struct vault_collection *c = calloc(1, sizeof(*c));
	json_t *rec, *view = NULL;

	(void)state;
	assert_non_null(c);
	vt_collection(SCHEMA, c);
	/* a stored field the schema does not know */
	rec = vt_json("{\"ssn\":\"123-45-6789\",\"extra\":\"x\"}");
	assert_int_equal(vault_record_view(c, rec, allow_all, NULL, &view), PV_E_INTERNAL);
	assert_null(view);
	json_decref(rec);
	/* a stored value of the wrong JSON type */
	rec = vt_json("{\"weight\":\"71\"}");
	assert_int_equal(vault_record_view(c, rec, allow_none, NULL, &view), PV_E_INTERNAL);
	json_decref(rec);
	rec = vt_json("{\"ssn\":123456789}");
	assert_int_equal(vault_record_view(c, rec, allow_none, NULL, &view), PV_E_INTERNAL);
	assert_null(view);
	json_decref(rec);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_last4),
		cmocka_unit_test(test_short_values_never_shown),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_view_without_unmask),
		cmocka_unit_test(test_view_with_unmask),
		cmocka_unit_test(test_view_fails_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
