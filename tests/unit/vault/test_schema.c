/*
 * Collection schemas: what POST /v1/collections accepts, the defaults a user
 * gets, and the error a user sees for each mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vault_test.h"

#define PATIENTS \
	"{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":3650,\"fields\":[" \
	"{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\",\"searchable\":true}," \
	"{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"mask\":\"none\",\"searchable\":true,\"required\":true}," \
	"{\"name\":\"full_name\",\"type\":\"string\",\"classification\":\"phi\"}," \
	"{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"}," \
	"{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"}," \
	"{\"name\":\"phone\",\"type\":\"phone\",\"classification\":\"pii\"}," \
	"{\"name\":\"zip\",\"type\":\"zip\",\"classification\":\"pii\",\"mask\":\"last4\"}," \
	"{\"name\":\"visits\",\"type\":\"integer\",\"classification\":\"internal\"}]}"

static void test_valid_schema_parsed(void **state)
{
	struct vault_collection c;
	const struct vault_field *f;

	(void)state;
	vt_collection(PATIENTS, &c);
	assert_string_equal(c.name, "patients");
	assert_string_equal(c.region, "local");
	assert_int_equal(c.retention_days, 3650);
	assert_int_equal(c.nfields, 8);

	f = vault_collection_field(&c, "ssn");
	assert_non_null(f);
	assert_int_equal(f->type, VAULT_TYPE_SSN);
	assert_int_equal(f->cls, VAULT_CLASS_PHI);
	assert_int_equal(f->mask, VAULT_MASK_LAST4);
	assert_true(f->searchable);
	assert_false(f->required);

	f = vault_collection_field(&c, "mrn");
	assert_non_null(f);
	assert_int_equal(f->mask, VAULT_MASK_NONE);   /* explicit none on phi is allowed */
	assert_true(f->required);

	f = vault_collection_field(&c, "visits");
	assert_non_null(f);
	assert_int_equal(f->type, VAULT_TYPE_INTEGER);
	assert_int_equal(f->cls, VAULT_CLASS_INTERNAL);

	assert_null(vault_collection_field(&c, "nope"));
}

static void test_round_trip(void **state)
{
	struct vault_collection a, b;
	char err[VAULT_ERR_MAX] = "";
	json_t *j = NULL;
	char *text;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vt_collection(PATIENTS, &a);
	assert_int_equal(vault_collection_to_json(&a, &j), PV_OK);

	/* Every key is spelled out, defaults included. */
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	assert_non_null(strstr(text, "{\"name\":\"full_name\",\"type\":\"string\","
	    "\"classification\":\"phi\",\"mask\":\"full\",\"searchable\":false,\"required\":false}"));
	assert_non_null(strstr(text, "\"retention_days\":3650"));
	free(text);

	assert_int_equal(vault_collection_from_json(j, &b, err, sizeof(err)), PV_OK);
	assert_string_equal(a.name, b.name);
	assert_string_equal(a.region, b.region);
	assert_int_equal(a.retention_days, b.retention_days);
	assert_int_equal(a.nfields, b.nfields);
	assert_memory_equal(a.fields, b.fields, sizeof(a.fields));
	json_decref(j);
}

/* "identifier" and "safe" are parsed, shown only when set, and survive the
 * stored schema text. */
static void test_safe_harbor_annotations(void **state)
{
	static const char *const kinds[] = {
		"name", "address", "city", "zip", "date", "birth_date", "age", "phone", "fax",
		"email", "ssn", "mrn", "health_plan", "account", "license", "vehicle", "device",
		"url", "ip", "biometric", "photo", "other",
	};
	struct vault_collection a, b;
	char err[VAULT_ERR_MAX] = "", text[4096];
	json_t *j = NULL;
	char *dump;
	size_t i;
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "{\"name\":\"p\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"notes\",\"type\":\"string\",\"safe\":true},"
	    "{\"name\":\"plain\",\"type\":\"string\",\"safe\":false}");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    ",{\"name\":\"f_%s\",\"type\":\"string\",\"identifier\":\"%s\"}", kinds[i],
		    kinds[i]);
	snprintf(text + n, sizeof(text) - (size_t)n, "]}");
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	vt_collection(text, &a);
	assert_int_equal(a.nfields, 2 + sizeof(kinds) / sizeof(kinds[0]));
	assert_true(a.fields[0].safe);
	assert_int_equal(a.fields[0].ident, VAULT_IDENT_NONE);
	assert_false(a.fields[1].safe);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(a.fields[2 + i].ident, (int)(VAULT_IDENT_NAME + i));
		assert_string_equal(vault_ident_name(a.fields[2 + i].ident), kinds[i]);
		assert_false(a.fields[2 + i].safe);
	}

	assert_int_equal(vault_collection_to_json(&a, &j), PV_OK);
	dump = json_dumps(j, JSON_COMPACT);
	assert_non_null(dump);
	assert_non_null(strstr(dump, "{\"name\":\"notes\",\"type\":\"string\",\"classification\":"
	    "\"phi\",\"mask\":\"full\",\"searchable\":false,\"required\":false,\"safe\":true}"));
	assert_non_null(strstr(dump, "\"mask\":\"full\",\"searchable\":false,\"required\":false},"));
	assert_non_null(strstr(dump, "\"name\":\"f_birth_date\",\"type\":\"string\",\"classification\":"
	    "\"phi\",\"mask\":\"full\",\"searchable\":false,\"required\":false,"
	    "\"identifier\":\"birth_date\"}"));
	free(dump);
	assert_int_equal(vault_collection_from_json(j, &b, err, sizeof(err)), PV_OK);
	assert_memory_equal(a.fields, b.fields, sizeof(a.fields));
	json_decref(j);
}

static void test_defaults(void **state)
{
	struct vault_collection c;

	(void)state;
	vt_collection("{\"name\":\"p\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"ssn\",\"type\":\"ssn\"},"
	    "{\"name\":\"phone\",\"type\":\"phone\",\"classification\":\"pii\"},"
	    "{\"name\":\"email\",\"type\":\"email\",\"classification\":\"pii\"},"
	    "{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"},"
	    "{\"name\":\"n\",\"type\":\"integer\"},"
	    "{\"name\":\"note\",\"type\":\"string\",\"classification\":\"internal\"}]}", &c);
	assert_int_equal(c.retention_days, 2190);
	/* classification defaults to phi: the restrictive choice */
	assert_int_equal(c.fields[0].cls, VAULT_CLASS_PHI);
	assert_int_equal(c.fields[0].mask, VAULT_MASK_LAST4);
	assert_int_equal(c.fields[1].mask, VAULT_MASK_LAST4);
	assert_int_equal(c.fields[2].mask, VAULT_MASK_FULL);
	assert_int_equal(c.fields[3].mask, VAULT_MASK_FULL);
	assert_int_equal(c.fields[4].cls, VAULT_CLASS_PHI);
	assert_int_equal(c.fields[4].mask, VAULT_MASK_FULL);
	assert_int_equal(c.fields[5].mask, VAULT_MASK_NONE);
	assert_false(c.fields[0].searchable);
	assert_false(c.fields[0].required);
}

struct bad_case {
	const char *json;
	const char *expect;   /* substring the error message must contain */
};

#define F1 "\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]"
#define REG "\"region\":\"local\""

static const struct bad_case bad_cases[] = {
	{ "[1]", "must be a JSON object" },
	{ "{" REG "," F1 "}", "missing key 'name'" },
	{ "{\"name\":\"Patients\"," REG "," F1 "}", "'name'" },
	{ "{\"name\":\"1p\"," REG "," F1 "}", "'name'" },
	{ "{\"name\":\"\"," REG "," F1 "}", "'name'" },
	{ "{\"name\":7," REG "," F1 "}", "'name'" },
	{ "{\"name\":\"p-q\"," REG "," F1 "}", "'name'" },
	{ "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	  REG "," F1 "}", "'name'" },   /* 64 chars */
	{ "{\"name\":\"p\"," F1 "}", "missing key 'region'" },
	{ "{\"name\":\"p\",\"region\":\"\"," F1 "}", "'region'" },
	{ "{\"name\":\"p\",\"region\":\"EU_West\"," F1 "}", "'region'" },
	{ "{\"name\":\"p\",\"region\":[]," F1 "}", "'region'" },
	{ "{\"name\":\"p\"," REG ",\"retention_days\":0," F1 "}", "'retention_days'" },
	{ "{\"name\":\"p\"," REG ",\"retention_days\":36501," F1 "}", "'retention_days'" },
	{ "{\"name\":\"p\"," REG ",\"retention_days\":-5," F1 "}", "'retention_days'" },
	{ "{\"name\":\"p\"," REG ",\"retention_days\":\"30\"," F1 "}", "'retention_days'" },
	{ "{\"name\":\"p\"," REG ",\"retention_days\":30.5," F1 "}", "'retention_days'" },
	{ "{\"name\":\"p\"," REG "}", "missing key 'fields'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[]}", "'fields'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":{}}", "'fields'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[3]}", "fields[0]: must be an object" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"type\":\"string\"}]}", "fields[0]: missing key 'name'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"B\",\"type\":\"string\"}]}",
	  "fields[1]: 'name'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\"}]}", "field 'a': missing key 'type'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"text\"}]}", "field 'a': 'type' must be one of" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":1}]}", "field 'a': 'type'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"classification\":\"secret\"}]}",
	  "field 'a': 'classification'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"mask\":\"partial\"}]}",
	  "field 'a': 'mask'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"classification\":\"internal\",\"mask\":\"full\"}]}",
	  "field 'a': 'mask' must be none for an internal field" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"searchable\":\"yes\"}]}",
	  "field 'a': 'searchable'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"required\":1}]}",
	  "field 'a': 'required'" },
	{ "{\"name\":\"p\"," REG ",\"owner\":\"x\"," F1 "}", "unknown key 'owner'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"serachable\":true}]}",
	  "field 'a': unknown key 'serachable'" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"ssn\",\"type\":\"ssn\"},{\"name\":\"ssn\",\"type\":\"string\"}]}",
	  "duplicate field 'ssn'" },
	/* Safe Harbor annotations: a kind outside the 164.514(b)(2)(i) list,
	 * "" (not annotated is absence), a non-string, and "safe" where it
	 * would contradict the field. */
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"identifier\":\"surname\"}]}",
	  "field 'a': 'identifier' must be one of name, address" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"identifier\":\"\"}]}",
	  "field 'a': 'identifier' must be one of" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"identifier\":3}]}",
	  "field 'a': 'identifier' must be one of" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"safe\":\"yes\"}]}",
	  "field 'a': 'safe' must be true or false" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"date\",\"safe\":true}]}",
	  "field 'a': 'safe' is only for a string field" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"identifier\":\"name\",\"safe\":true}]}",
	  "field 'a': 'safe' is only for a string field" },
	{ "{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"subject\":true,\"safe\":true}]}",
	  "field 'a': 'safe' is only for a string field" },
};

static void test_invalid_rejected_naming_key(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct vault_collection c, before;
		char err[VAULT_ERR_MAX] = "";
		json_t *j = vt_json(bad_cases[i].json);
		enum pv_rc rc;

		memset(&c, 0xab, sizeof(c));
		memcpy(&before, &c, sizeof(c));
		rc = vault_collection_from_json(j, &c, err, sizeof(err));
		if (rc != PV_E_INVALID || strstr(err, bad_cases[i].expect) == NULL)
			print_error("case %zu: rc %d, err \"%s\", expected \"%s\"\n", i, rc, err,
			    bad_cases[i].expect);
		assert_int_equal(rc, PV_E_INVALID);
		assert_non_null(strstr(err, bad_cases[i].expect));
		/* out-parameters are written only on success */
		assert_memory_equal(&c, &before, sizeof(c));
		json_decref(j);
	}
}

static void test_boundaries_accepted(void **state)
{
	struct vault_collection c;
	char buf[8192];
	size_t i, n;

	(void)state;
	/* 63-char names, retention 1 and 36500, 64 fields */
	vt_collection("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"region\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
	    "\"retention_days\":1," F1 "}", &c);
	assert_int_equal(strlen(c.name), 63);
	assert_int_equal(strlen(c.region), 63);
	assert_int_equal(c.retention_days, 1);
	vt_collection("{\"name\":\"p\"," REG ",\"retention_days\":36500," F1 "}", &c);
	assert_int_equal(c.retention_days, 36500);

	n = (size_t)snprintf(buf, sizeof(buf), "{\"name\":\"p\"," REG ",\"fields\":[");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s{\"name\":\"f%zu\",\"type\":\"string\"}",
		    i ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "]}");
	vt_collection(buf, &c);
	assert_int_equal(c.nfields, 64);

	/* 65 fields: refused */
	{
		char err[VAULT_ERR_MAX] = "";
		json_t *j;

		n = strlen(buf) - 2;
		snprintf(buf + n, sizeof(buf) - n, ",{\"name\":\"f64\",\"type\":\"string\"}]}");
		j = vt_json(buf);
		assert_int_equal(vault_collection_from_json(j, &c, err, sizeof(err)), PV_E_INVALID);
		assert_non_null(strstr(err, "'fields'"));
		json_decref(j);
	}
}

static void test_unknown_key_not_a_name_not_echoed(void **state)
{
	struct vault_collection c;
	char err[VAULT_ERR_MAX] = "";
	json_t *j;

	(void)state;
	/* A key that is not a field name might be a value pasted in the wrong place. */
	j = vt_json("{\"name\":\"p\"," REG ",\"123-45-" VT_MARKER "\":1," F1 "}");
	assert_int_equal(vault_collection_from_json(j, &c, err, sizeof(err)), PV_E_INVALID);
	assert_non_null(strstr(err, "unknown key"));
	vt_assert_no_marker(err);
	json_decref(j);

	j = vt_json("{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"" VT_MARKER "\":1}]}");
	assert_int_equal(vault_collection_from_json(j, &c, err, sizeof(err)), PV_E_INVALID);
	assert_non_null(strstr(err, "field 'a': unknown key"));
	vt_assert_no_marker(err);
	json_decref(j);

	/* A bad enum value is not echoed either. */
	j = vt_json("{\"name\":\"p\"," REG ",\"fields\":[{\"name\":\"a\",\"type\":\"" VT_MARKER "\"}]}");
	assert_int_equal(vault_collection_from_json(j, &c, err, sizeof(err)), PV_E_INVALID);
	vt_assert_no_marker(err);
	json_decref(j);
}

static void test_region_check(void **state)
{
	(void)state;
	assert_int_equal(vault_region_check("local", "local"), PV_OK);
	assert_int_equal(vault_region_check("us-east,eu-west", "eu-west"), PV_OK);
	assert_int_equal(vault_region_check(" us-east , eu-west ,local", "eu-west"), PV_OK);
	assert_int_equal(vault_region_check(" us-east , eu-west ,local", "local"), PV_OK);
	assert_int_equal(vault_region_check("us-east,eu-west", "eu"), PV_E_REGION);
	assert_int_equal(vault_region_check("us-east,eu-west", "eu-west-2"), PV_E_REGION);
	assert_int_equal(vault_region_check("local", "LOCAL"), PV_E_REGION);
	assert_int_equal(vault_region_check("", "local"), PV_E_REGION);
	assert_int_equal(vault_region_check(",,", "local"), PV_E_REGION);
	assert_int_equal(vault_region_check("local,", ""), PV_E_REGION);
	assert_int_equal(vault_region_check(NULL, "local"), PV_E_REGION);
	assert_int_equal(vault_region_check("local", NULL), PV_E_REGION);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(vault_name_valid("a"));
	assert_true(vault_name_valid("patient_2024"));
	assert_false(vault_name_valid(""));
	assert_false(vault_name_valid("_a"));
	assert_false(vault_name_valid("a|b"));
	assert_false(vault_name_valid("a.b"));
	assert_false(vault_name_valid(NULL));
	assert_true(vault_region_valid("us-east-1"));
	assert_false(vault_region_valid("us east"));
	assert_string_equal(vault_type_name(VAULT_TYPE_MRN), "mrn");
	assert_string_equal(vault_class_name(VAULT_CLASS_INTERNAL), "internal");
	assert_string_equal(vault_mask_name(VAULT_MASK_LAST4), "last4");
	assert_string_equal(vault_type_name((enum vault_type)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_schema_parsed),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_safe_harbor_annotations),
		cmocka_unit_test(test_invalid_rejected_naming_key),
		cmocka_unit_test(test_boundaries_accepted),
		cmocka_unit_test(test_unknown_key_not_a_name_not_echoed),
		cmocka_unit_test(test_region_check),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
