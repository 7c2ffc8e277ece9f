/*
 * The Safe Harbor transform (vault/deid.c), one test per rule of 45 CFR
 * 164.514(b)(2)(i) as docs/storing-phi.md tabulates it, and the keyed
 * pseudonym. The export date is fixed: 2026-06-15 UTC.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ops_fixture.h"
#include "vault_test.h"
#include "vault/vault_int.h"

#define AT_MS INT64_C(1781481600000)   /* 2026-06-15T00:00:00Z */

/* One field of the given definition (JSON members after the name). */
static void one_field(const char *members, struct vault_field *out)
{
	char text[512];
	struct vault_collection c;

	snprintf(text, sizeof(text),
	    "{\"name\":\"p\",\"region\":\"local\",\"fields\":[{\"name\":\"f\",%s}]}", members);
	vt_collection(text, &c);
	*out = c.fields[0];
}

/* The rule for value (JSON text) and the output as compact JSON ("" if dropped). */
static enum vault_deid_rule run(const char *members, const char *value, char *got, size_t len)
{
	struct vault_field f;
	json_t *v = json_loads(value, JSON_DECODE_ANY, NULL), *out = NULL;
	enum vault_deid_rule r;

	assert_non_null(v);
	one_field(members, &f);
	r = vault_deid_value(&f, v, AT_MS, &out);
	got[0] = '\0';
	if (out != NULL) {
		char *s = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);

		assert_non_null(s);
		snprintf(got, len, "%s", s);
		free(s);
	}
	json_decref(out);
	json_decref(v);
	return r;
}

static void expect(const char *members, const char *value, enum vault_deid_rule rule,
    const char *output)
{
	char got[256];
	enum vault_deid_rule r = run(members, value, got, sizeof(got));

	if (r != rule || strcmp(got, output) != 0)
		print_error("%s with %s: rule %s -> '%s', expected %s -> '%s'\n", members, value,
		    vault_deid_rule_name(r), got, vault_deid_rule_name(rule), output);
	assert_int_equal(r, rule);
	assert_string_equal(got, output);
}

static void test_export_date_is_utc_calendar(void **state)
{
	int y, m, d;

	(void)state;
	vault_deid_date_of(AT_MS, &y, &m, &d);
	assert_int_equal(y, 2026);
	assert_int_equal(m, 6);
	assert_int_equal(d, 15);
	vault_deid_date_of(AT_MS - 1, &y, &m, &d);
	assert_int_equal(d, 14);
	vault_deid_date_of(0, &y, &m, &d);
	assert_int_equal(y, 1970);
	vault_deid_date_of(INT64_C(951782400000), &y, &m, &d);   /* 2000-02-29 */
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
}

static void test_names_dropped(void **state)
{
	(void)state;
	expect("\"type\":\"string\",\"identifier\":\"name\"", "\"Ada Lovelace\"",
	    VAULT_DEID_IDENTIFIER, "");
}

static void test_direct_identifiers_dropped(void **state)
{
	static const char *const kinds[] = {
		"phone", "fax", "email", "ssn", "mrn", "health_plan", "account", "license",
		"vehicle", "device", "url", "ip", "biometric", "photo", "other",
	};
	char members[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(members, sizeof(members), "\"type\":\"string\",\"identifier\":\"%s\"",
		    kinds[i]);
		expect(members, "\"X-1234\"", VAULT_DEID_IDENTIFIER, "");
	}
	/* an annotated integer is an identifier all the same */
	expect("\"type\":\"integer\",\"identifier\":\"account\"", "12345", VAULT_DEID_IDENTIFIER,
	    "");
}

static void test_identifier_types_dropped_unannotated(void **state)
{
	(void)state;
	expect("\"type\":\"ssn\"", "\"123-45-6789\"", VAULT_DEID_IDENTIFIER, "");
	expect("\"type\":\"email\"", "\"a@example.org\"", VAULT_DEID_IDENTIFIER, "");
	expect("\"type\":\"phone\"", "\"5550100199\"", VAULT_DEID_IDENTIFIER, "");
	expect("\"type\":\"mrn\"", "\"MRN-7\"", VAULT_DEID_IDENTIFIER, "");
}

static void test_address_and_city_dropped(void **state)
{
	(void)state;
	expect("\"type\":\"string\",\"identifier\":\"address\"", "\"1 Main St\"",
	    VAULT_DEID_GEOGRAPHIC, "");
	expect("\"type\":\"string\",\"identifier\":\"city\"", "\"Springfield\"",
	    VAULT_DEID_GEOGRAPHIC, "");
	/* a state is kept only as a field its owner declares safe */
	expect("\"type\":\"string\",\"safe\":true", "\"MA\"", VAULT_DEID_KEPT, "\"MA\"");
}

static void test_zip_first_three_digits(void **state)
{
	(void)state;
	expect("\"type\":\"zip\"", "\"02139\"", VAULT_DEID_ZIP3, "\"021\"");
	expect("\"type\":\"zip\"", "\"02139-4307\"", VAULT_DEID_ZIP3, "\"021\"");
	expect("\"type\":\"string\",\"identifier\":\"zip\"", "\"94110\"", VAULT_DEID_ZIP3,
	    "\"941\"");
	/* not a ZIP: dropped, never passed through */
	expect("\"type\":\"string\",\"identifier\":\"zip\"", "\"941\"", VAULT_DEID_UNKNOWN, "");
	expect("\"type\":\"string\",\"identifier\":\"zip\"", "\"SW1A 1AA\"", VAULT_DEID_UNKNOWN,
	    "");
}

static void test_zip_restricted_areas_zeroed(void **state)
{
	static const char *const restricted[] = {
		"036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830",
		"831", "878", "879", "884", "890", "893",
	};
	char value[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(restricted) / sizeof(restricted[0]); i++) {
		assert_true(vault_zip3_restricted(restricted[i]));
		snprintf(value, sizeof(value), "\"%s01\"", restricted[i]);
		expect("\"type\":\"zip\"", value, VAULT_DEID_ZIP3_RESTRICTED, "\"000\"");
	}
	/* neighbours of restricted areas are not */
	assert_false(vault_zip3_restricted("035"));
	assert_false(vault_zip3_restricted("037"));
	assert_false(vault_zip3_restricted("894"));
	assert_false(vault_zip3_restricted("000"));
	expect("\"type\":\"zip\"", "\"89401\"", VAULT_DEID_ZIP3, "\"894\"");
}

static void test_dates_to_year(void **state)
{
	(void)state;
	expect("\"type\":\"date\"", "\"2024-03-09\"", VAULT_DEID_YEAR, "2024");
	expect("\"type\":\"date\",\"identifier\":\"date\"", "\"1999-12-31\"", VAULT_DEID_YEAR,
	    "1999");
	expect("\"type\":\"date\",\"identifier\":\"birth_date\"", "\"1980-07-01\"",
	    VAULT_DEID_YEAR, "1980");
	expect("\"type\":\"string\",\"identifier\":\"date\"", "\"2001-01-01\"", VAULT_DEID_YEAR,
	    "2001");
	/* an annotated string that is not a date: dropped */
	expect("\"type\":\"string\",\"identifier\":\"date\"", "\"last Tuesday\"",
	    VAULT_DEID_UNKNOWN, "");
}

static void test_age_over_89_aggregated(void **state)
{
	(void)state;
	expect("\"type\":\"integer\",\"identifier\":\"age\"", "89", VAULT_DEID_KEPT, "89");
	expect("\"type\":\"integer\",\"identifier\":\"age\"", "90", VAULT_DEID_AGE90, "\"90+\"");
	expect("\"type\":\"integer\",\"identifier\":\"age\"", "95", VAULT_DEID_AGE90, "\"90+\"");
	expect("\"type\":\"string\",\"identifier\":\"age\"", "\"104\"", VAULT_DEID_AGE90,
	    "\"90+\"");
	expect("\"type\":\"string\",\"identifier\":\"age\"", "\"about 40\"", VAULT_DEID_UNKNOWN,
	    "");
}

static void test_date_implying_age_over_89(void **state)
{
	(void)state;
	/* born 1936-06-15: 90 today -> 90+, the year dropped too */
	expect("\"type\":\"date\",\"identifier\":\"birth_date\"", "\"1936-06-15\"",
	    VAULT_DEID_AGE90, "\"90+\"");
	/* born 1936-06-16: 89 until tomorrow -> the year */
	expect("\"type\":\"date\",\"identifier\":\"birth_date\"", "\"1936-06-16\"",
	    VAULT_DEID_YEAR, "1936");
	expect("\"type\":\"date\",\"identifier\":\"birth_date\"", "\"1920-01-01\"",
	    VAULT_DEID_AGE90, "\"90+\"");
	/* any date that old (the conservative reading) */
	expect("\"type\":\"date\"", "\"1930-02-02\"", VAULT_DEID_AGE90, "\"90+\"");
}

static void test_free_text_dropped_unless_safe(void **state)
{
	(void)state;
	expect("\"type\":\"string\"", "\"seen by Dr Smith at 14 Elm St\"", VAULT_DEID_FREE_TEXT,
	    "");
	expect("\"type\":\"string\",\"classification\":\"internal\",\"mask\":\"none\"",
	    "\"ward 7\"", VAULT_DEID_FREE_TEXT, "");
	expect("\"type\":\"string\",\"safe\":true", "\"type 2 diabetes\"", VAULT_DEID_KEPT,
	    "\"type 2 diabetes\"");
}

static void test_numbers_kept(void **state)
{
	(void)state;
	expect("\"type\":\"integer\"", "7", VAULT_DEID_KEPT, "7");
	expect("\"type\":\"integer\",\"classification\":\"internal\",\"mask\":\"none\"", "-3",
	    VAULT_DEID_KEPT, "-3");
	/* not of the field's form: dropped */
	expect("\"type\":\"integer\"", "\"7\"", VAULT_DEID_UNKNOWN, "");
}

static void test_subject_dropped(void **state)
{
	(void)state;
	expect("\"type\":\"string\",\"subject\":true", "\"PAT-1\"", VAULT_DEID_SUBJECT, "");
}

static void test_record_and_stats(void **state)
{
	struct vault_collection c;
	struct vault_deid_stats st;
	json_t *in, *out = NULL;
	char *s;

	(void)state;
	vt_collection("{\"name\":\"p\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true},"
	    "{\"name\":\"full_name\",\"type\":\"string\",\"identifier\":\"name\"},"
	    "{\"name\":\"zip\",\"type\":\"zip\"},"
	    "{\"name\":\"dob\",\"type\":\"date\",\"identifier\":\"birth_date\"},"
	    "{\"name\":\"visits\",\"type\":\"integer\"},"
	    "{\"name\":\"dx\",\"type\":\"string\",\"safe\":true},"
	    "{\"name\":\"notes\",\"type\":\"string\"}]}", &c);
	in = vt_json("{\"patient\":\"PAT-1\",\"full_name\":\"Ada\",\"zip\":\"03601\","
	    "\"dob\":\"1980-07-01\",\"visits\":3,\"dx\":\"flu\",\"notes\":\"call Ada\","
	    "\"_labels\":[\"vip\"],\"stray\":1}");
	memset(&st, 0, sizeof(st));
	assert_int_equal(vault_deid_record(&c, in, AT_MS, &out, &st), PV_OK);
	s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"dob\":1980,\"dx\":\"flu\",\"visits\":3,\"zip\":\"000\"}");
	free(s);
	assert_int_equal(st.n[VAULT_DEID_SUBJECT], 1);
	assert_int_equal(st.n[VAULT_DEID_IDENTIFIER], 1);
	assert_int_equal(st.n[VAULT_DEID_ZIP3_RESTRICTED], 1);
	assert_int_equal(st.n[VAULT_DEID_YEAR], 1);
	assert_int_equal(st.n[VAULT_DEID_KEPT], 2);
	assert_int_equal(st.n[VAULT_DEID_FREE_TEXT], 1);
	assert_int_equal(st.n[VAULT_DEID_UNKNOWN], 1);   /* "stray"; labels are not counted */
	json_decref(out);
	json_decref(in);
}

/* ---- the pseudonym: keyed, stable, not the reference ---- */

static const char *const ADMIN[] = { "admin", NULL };

static void make_subjects(struct vf *f)
{
	struct op_caller adm;
	struct answer w;
	json_t *schema = json_loads("{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"subject\":true}]}", 0, NULL);

	caller(f, &adm, "usr_admin", ADMIN, NULL);
	answer_init(&w);
	vault_collection_create(f->v, &adm.who, schema, on_done, &w);
	answer_wait(&w);
	assert_int_equal(w.rc, PV_OK);
	answer_free(&w);
	json_decref(schema);
	caller_free(&adm);
}

static void test_pseudonym_keyed_and_stable(void **state)
{
	struct vf *f = *state;
	char ra[STORE_SUBJECT_REF_LEN + 1], rb[STORE_SUBJECT_REF_LEN + 1];
	char pa[VAULT_PSEUDONYM_LEN + 1], pa2[VAULT_PSEUDONYM_LEN + 1], pb[VAULT_PSEUDONYM_LEN + 1];
	uint8_t mac[CRYPTO_SHA256_LEN];
	char hex[VAULT_PSEUDONYM_LEN + 1];
	char in[128];
	int n;

	make_subjects(f);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-1", ra), PV_OK);
	assert_int_equal(vault_subject_ref(f->keys, "PAT-2", rb), PV_OK);
	assert_int_equal(vault_deid_pseudonym(f->keys, ra, pa), PV_OK);
	assert_int_equal(vault_deid_pseudonym(f->keys, ra, pa2), PV_OK);
	assert_int_equal(vault_deid_pseudonym(f->keys, rb, pb), PV_OK);
	assert_int_equal(strlen(pa), VAULT_PSEUDONYM_LEN);
	assert_string_equal(pa, pa2);          /* stable */
	assert_string_not_equal(pa, pb);       /* per subject */
	assert_string_not_equal(pa, ra);       /* not the reference */
	/* not the reference MAC of the ref either: a key of its own */
	n = snprintf(in, sizeof(in), "phivault:pseudonym:v1|%s", ra);
	assert_int_equal(keys_mac(f->keys, VAULT_KEK_SUBJECTS, "ref", (const uint8_t *)in,
	    (size_t)n, mac), PV_OK);
	util_hex_encode(mac, sizeof(mac), hex);
	assert_string_not_equal(pa, hex);
	/* ... but exactly the dedicated purpose's */
	assert_int_equal(keys_mac(f->keys, VAULT_KEK_SUBJECTS, "export-pseudonym",
	    (const uint8_t *)in, (size_t)n, mac), PV_OK);
	util_hex_encode(mac, sizeof(mac), hex);
	assert_string_equal(pa, hex);
	assert_int_equal(vault_deid_pseudonym(f->keys, "PAT-1", pa), PV_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_export_date_is_utc_calendar),
		cmocka_unit_test(test_names_dropped),
		cmocka_unit_test(test_direct_identifiers_dropped),
		cmocka_unit_test(test_identifier_types_dropped_unannotated),
		cmocka_unit_test(test_address_and_city_dropped),
		cmocka_unit_test(test_zip_first_three_digits),
		cmocka_unit_test(test_zip_restricted_areas_zeroed),
		cmocka_unit_test(test_dates_to_year),
		cmocka_unit_test(test_age_over_89_aggregated),
		cmocka_unit_test(test_date_implying_age_over_89),
		cmocka_unit_test(test_free_text_dropped_unless_safe),
		cmocka_unit_test(test_numbers_kept),
		cmocka_unit_test(test_subject_dropped),
		cmocka_unit_test(test_record_and_stats),
		cmocka_unit_test_setup_teardown(test_pseudonym_keyed_and_stable, vf_setup,
		    vf_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
