/*
 * Records: what POST and PATCH accept, the canonical record they store, the
 * PATCH merge, the AEAD associated data and the plaintext encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vault_test.h"

#define SCHEMA \
	"{\"name\":\"patients\",\"region\":\"local\",\"fields\":[" \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"searchable\":true,\"required\":true}," \
	"{\"name\":\"full_name\",\"type\":\"string\",\"required\":true}," \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"searchable\":true}," \
	"{\"name\":\"dob\",\"type\":\"date\"}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"}," \
	"{\"name\":\"visits\",\"type\":\"integer\",\"classification\":\"internal\"}]}"

static int setup(void **state)
{
	struct vault_collection *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	vt_collection(SCHEMA, c);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Validate JSON text; on success return the normalized record as compact sorted text. */
static enum pv_rc validate(const struct vault_collection *c, const char *text, bool partial,
    char **out_text, char *err, size_t errlen)
{
	json_t *in = vt_json(text), *norm = NULL;
	enum pv_rc rc = vault_record_validate(c, in, partial, &norm, err, errlen);

	if (rc == PV_OK) {
		*out_text = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS);
		assert_non_null(*out_text);
		json_decref(norm);
	} else {
		assert_null(norm);
	}
	json_decref(in);
	return rc;
}

static void test_create_normalizes(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "", *out = NULL;

	assert_int_equal(validate(c, "{\"mrn\":\"mrn-7\",\"full_name\":\"Ada Lovelace\","
	    "\"ssn\":\"123456789\",\"dob\":\"1815-12-10\",\"email\":\"ada@Example.ORG\","
	    "\"visits\":3}", false, &out, err, sizeof(err)), PV_OK);
	assert_string_equal(out, "{\"dob\":\"1815-12-10\",\"email\":\"ada@example.org\","
	    "\"full_name\":\"Ada Lovelace\",\"mrn\":\"MRN-7\",\"ssn\":\"123-45-6789\",\"visits\":3}");
	free(out);
}

static void test_unknown_field_named(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "", *out = NULL;

	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"nickname\":\"y\"}",
	    false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "unknown field 'nickname'");

	/* also in a PATCH */
	assert_int_equal(validate(c, "{\"nickname\":\"y\"}", true, &out, err, sizeof(err)),
	    PV_E_INVALID);
	assert_string_equal(err, "unknown field 'nickname'");

	/* A key that is not a valid field name is not echoed (it may be a value). */
	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"123-45-" VT_MARKER "\":1}",
	    false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_non_null(strstr(err, "unknown field"));
	vt_assert_no_marker(err);
}

static void test_wrong_type_named(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "", *out = NULL;

	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"visits\":\"12\"}",
	    false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'visits': expected an integer");
	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"dob\":19800101}",
	    false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'dob': expected a string");
	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"ssn\":\"000-12-3456\"}",
	    false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'ssn': not a valid SSN");
	assert_int_equal(validate(c, "[1,2]", false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_non_null(strstr(err, "JSON object"));
}

static void test_required_fields(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "", *out = NULL;

	assert_int_equal(validate(c, "{\"full_name\":\"x\"}", false, &out, err, sizeof(err)),
	    PV_E_INVALID);
	assert_string_equal(err, "missing required field 'mrn'");
	assert_int_equal(validate(c, "{}", false, &out, err, sizeof(err)), PV_E_INVALID);
	assert_non_null(strstr(err, "missing required field"));
	/* null is not a value at create */
	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\",\"dob\":null}", false,
	    &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'dob': must not be null");
	/* the minimum record */
	assert_int_equal(validate(c, "{\"mrn\":\"A1\",\"full_name\":\"x\"}", false, &out, err,
	    sizeof(err)), PV_OK);
	assert_string_equal(out, "{\"full_name\":\"x\",\"mrn\":\"A1\"}");
	free(out);
}

static void test_partial_patch(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "", *out = NULL;

	/* a subset without the required fields is fine in a PATCH */
	assert_int_equal(validate(c, "{\"ssn\":\"321-54-9876\"}", true, &out, err, sizeof(err)),
	    PV_OK);
	assert_string_equal(out, "{\"ssn\":\"321-54-9876\"}");
	free(out);
	/* null removes an optional field and is kept as the removal marker */
	assert_int_equal(validate(c, "{\"email\":null,\"dob\":\"2001-01-01\"}", true, &out, err,
	    sizeof(err)), PV_OK);
	assert_string_equal(out, "{\"dob\":\"2001-01-01\",\"email\":null}");
	free(out);
	/* a required field cannot be removed */
	assert_int_equal(validate(c, "{\"mrn\":null}", true, &out, err, sizeof(err)), PV_E_INVALID);
	assert_string_equal(err, "field 'mrn': is required and cannot be removed");
	/* values are still checked */
	assert_int_equal(validate(c, "{\"dob\":\"2023-02-29\"}", true, &out, err, sizeof(err)),
	    PV_E_INVALID);
	assert_non_null(strstr(err, "field 'dob'"));
}

static void test_merge(void **state)
{
	const struct vault_collection *c = *state;
	char err[VAULT_ERR_MAX] = "";
	json_t *in_old, *in_patch, *old = NULL, *patch = NULL, *merged = NULL;
	char *text;

	in_old = vt_json("{\"mrn\":\"A1\",\"full_name\":\"x\",\"email\":\"a@b.org\",\"ssn\":\"123-45-6789\"}");
	in_patch = vt_json("{\"ssn\":\"321549876\",\"email\":null,\"dob\":\"1990-05-01\",\"visits\":2}");
	assert_int_equal(vault_record_validate(c, in_old, false, &old, err, sizeof(err)), PV_OK);
	assert_int_equal(vault_record_validate(c, in_patch, true, &patch, err, sizeof(err)), PV_OK);
	assert_int_equal(vault_record_merge(old, patch, &merged), PV_OK);

	text = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"dob\":\"1990-05-01\",\"full_name\":\"x\",\"mrn\":\"A1\","
	    "\"ssn\":\"321-54-9876\",\"visits\":2}");
	free(text);
	/* the old version is untouched */
	text = json_dumps(old, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"email\":\"a@b.org\",\"full_name\":\"x\",\"mrn\":\"A1\","
	    "\"ssn\":\"123-45-6789\"}");
	free(text);
	/* the merged record is itself a valid full record */
	{
		json_t *again = NULL;

		assert_int_equal(vault_record_validate(c, merged, false, &again, err, sizeof(err)),
		    PV_OK);
		assert_true(json_equal(again, merged));
		json_decref(again);
	}
	/* removing a field that is not there is not an error */
	{
		json_t *p2 = vt_json("{\"dob\":null}"), *m2 = NULL;

		assert_int_equal(vault_record_merge(old, p2, &m2), PV_OK);
		assert_true(json_equal(m2, old));
		json_decref(m2);
		json_decref(p2);
	}
	assert_int_equal(vault_record_merge(old, json_null(), &merged), PV_E_INVALID);

	json_decref(merged);
	json_decref(patch);
	json_decref(old);
	json_decref(in_patch);
	json_decref(in_old);
}

static void test_aad_format(void **state)
{
	char buf[VAULT_AAD_MAX];
	size_t n = 0;

	(void)state;
	assert_int_equal(vault_record_aad("patients", "rec_abc123", 3, buf, sizeof(buf), &n), PV_OK);
	assert_string_equal(buf, "phivault:record:v1|patients|rec_abc123|3");
	assert_int_equal(n, strlen("phivault:record:v1|patients|rec_abc123|3"));
	assert_int_equal(vault_record_aad("p", "r", UINT32_MAX, buf, sizeof(buf), &n), PV_OK);
	assert_string_equal(buf, "phivault:record:v1|p|r|4294967295");

	/* Different record, collection or version: different AAD. */
	{
		char b2[VAULT_AAD_MAX];

		assert_int_equal(vault_record_aad("patients", "rec_abc123", 4, b2, sizeof(b2), &n), PV_OK);
		assert_string_not_equal(buf, b2);
	}

	/* Components that would make the encoding ambiguous are refused. */
	assert_int_equal(vault_record_aad("pat|ients", "r", 1, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_record_aad("Patients", "r", 1, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_record_aad("p", "r|2", 1, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_record_aad("p", "", 1, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_record_aad("p", NULL, 1, buf, sizeof(buf), &n), PV_E_INVALID);
	assert_int_equal(vault_record_aad("p", "r", 0, buf, sizeof(buf), &n), PV_E_INVALID);

	/* Too small a buffer: refused, buffer untouched. */
	{
		char small[20];

		memset(small, 'Z', sizeof(small));
		assert_int_equal(vault_record_aad("patients", "rec_abc123", 3, small, sizeof(small), &n),
		    PV_E_INVALID);
		assert_int_equal(small[0], 'Z');
	}
}

static void test_plaintext(void **state)
{
	json_t *fields = vt_json("{\"ssn\":\"123-45-6789\",\"b\":1,\"a\":\"x y\"}"), *back = NULL;
	char *p = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(vault_record_plaintext(fields, &p, &n), PV_OK);
	assert_string_equal(p, "{\"a\":\"x y\",\"b\":1,\"ssn\":\"123-45-6789\"}");
	assert_int_equal(n, strlen(p));
	assert_int_equal(vault_record_from_plaintext(p, n, &back), PV_OK);
	assert_true(json_equal(back, fields));
	vault_plaintext_free(p, n);
	json_decref(back);
	json_decref(fields);

	back = NULL;
	assert_int_equal(vault_record_from_plaintext("[1]", 3, &back), PV_E_INTEGRITY);
	assert_int_equal(vault_record_from_plaintext("{\"a\":", 5, &back), PV_E_INTEGRITY);
	assert_int_equal(vault_record_from_plaintext("{\"a\":1,\"a\":2}", 13, &back), PV_E_INTEGRITY);
	assert_null(back);
	assert_int_equal(vault_record_plaintext(json_null(), &p, &n), PV_E_INVALID);
}

static void test_record_errors_never_echo_value(void **state)
{
	const struct vault_collection *c = *state;
	static const char *const bodies[] = {
		"{\"mrn\":\"" VT_MARKER "_\",\"full_name\":\"x\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"" VT_MARKER "\\n\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"x\",\"ssn\":\"" VT_MARKER "\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"x\",\"dob\":\"" VT_MARKER "\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"x\",\"email\":\"" VT_MARKER "\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"x\",\"visits\":\"" VT_MARKER "\"}",
		"{\"mrn\":\"A1\",\"full_name\":\"x\",\"visits\":[\"" VT_MARKER "\"]}",
		"{\"" VT_MARKER "\":\"" VT_MARKER "\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char err[VAULT_ERR_MAX] = "", *out = NULL;

		assert_int_equal(validate(c, bodies[i], false, &out, err, sizeof(err)), PV_E_INVALID);
		assert_true(err[0] != '\0');
		vt_assert_no_marker(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_normalizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_field_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_patch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
		cmocka_unit_test(test_aad_format),
		cmocka_unit_test(test_plaintext),
		cmocka_unit_test_setup_teardown(test_record_errors_never_echo_value, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
