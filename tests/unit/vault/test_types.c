/*
 * Field types: which values each type accepts, the canonical form it stores
 * and indexes, and that no error message ever carries the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "vault_test.h"

struct tcase {
	const char *in;
	const char *canon;   /* NULL: must be rejected */
};

/* Run string-valued cases for one type; report the first mismatch by index. */
static void run_cases(enum vault_type t, const struct tcase *cases, size_t n)
{
	struct vault_field f = vt_field("v", t);
	size_t i;

	for (i = 0; i < n; i++) {
		char out[VAULT_CANON_MAX], err[VAULT_ERR_MAX] = "";
		json_t *j = json_string(cases[i].in);
		enum pv_rc rc;

		assert_non_null(j);
		memset(out, 0, sizeof(out));
		rc = vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err));
		if (cases[i].canon != NULL) {
			if (rc != PV_OK || strcmp(out, cases[i].canon) != 0)
				print_error("%s case %zu: rc %d out \"%s\" err \"%s\"\n",
				    vault_type_name(t), i, rc, out, err);
			assert_int_equal(rc, PV_OK);
			assert_string_equal(out, cases[i].canon);
		} else {
			if (rc != PV_E_INVALID)
				print_error("%s case %zu accepted: \"%s\"\n", vault_type_name(t), i, out);
			assert_int_equal(rc, PV_E_INVALID);
			assert_non_null(strstr(err, "field 'v'"));
		}
		json_decref(j);
	}
}

#define RUN(t, cases) run_cases(t, cases, sizeof(cases) / sizeof(cases[0]))

static void test_string(void **state)
{
	static const struct tcase cases[] = {
		{ "hello", "hello" },
		{ " padded ", " padded " },     /* kept as given */
		{ "", "" },
		{ "a\tb", "a\tb" },
		{ "Zo\xc3\xab M\xc3\xbcller", "Zo\xc3\xab M\xc3\xbcller" },
		{ "line\nbreak", NULL },
		{ "cr\r", NULL },
		{ "esc\x1b", NULL },
		{ "del\x7f", NULL },
		{ "c1\xc2\x85", NULL },          /* U+0085 NEL */
		{ "nbsp\xc2\xa0ok", "nbsp\xc2\xa0ok" },
	};
	struct vault_field f = vt_field("v", VAULT_TYPE_STRING);
	char out[VAULT_CANON_MAX], err[VAULT_ERR_MAX];
	char *big;
	json_t *j;

	(void)state;
	RUN(VAULT_TYPE_STRING, cases);

	/* 4096 bytes: accepted; 4097: refused */
	big = malloc(VAULT_STRING_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', VAULT_STRING_MAX + 1);
	big[VAULT_STRING_MAX] = '\0';
	j = json_string(big);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)), PV_OK);
	assert_int_equal(strlen(out), VAULT_STRING_MAX);
	json_decref(j);
	big[VAULT_STRING_MAX] = 'x';
	big[VAULT_STRING_MAX + 1] = '\0';
	j = json_string(big);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	assert_non_null(strstr(err, "field 'v': longer than 4096 bytes"));
	json_decref(j);
	free(big);

	/* Embedded NUL and invalid UTF-8 (possible in a json_t built in code). */
	j = json_stringn("a\0b", 3);
	assert_non_null(j);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = json_string_nocheck("bad \xc3\x28 utf8");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	assert_non_null(strstr(err, "UTF-8"));
	json_decref(j);
	j = json_string_nocheck("overlong \xc0\xaf");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = json_string_nocheck("surrogate \xed\xa0\x80");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);

	/* Wrong JSON types */
	j = json_integer(5);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	assert_non_null(strstr(err, "field 'v': expected a string"));
	json_decref(j);
	assert_int_equal(vault_value_normalize(&f, json_null(), out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	assert_int_equal(vault_value_normalize(&f, json_true(), out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
}

static void test_date(void **state)
{
	static const struct tcase cases[] = {
		{ "2024-02-29", "2024-02-29" },  /* leap year */
		{ "2023-02-29", NULL },
		{ "2000-02-29", "2000-02-29" },  /* divisible by 400 */
		{ "1900-02-29", NULL },          /* divisible by 100 */
		{ "2023-02-28", "2023-02-28" },
		{ "1800-01-01", "1800-01-01" },
		{ "1799-12-31", NULL },
		{ "2200-12-31", "2200-12-31" },
		{ "2201-01-01", NULL },
		{ "2024-04-30", "2024-04-30" },
		{ "2024-04-31", NULL },
		{ "2024-12-31", "2024-12-31" },
		{ "2024-13-01", NULL },
		{ "2024-00-10", NULL },
		{ "2024-01-00", NULL },
		{ "2024-01-32", NULL },
		{ "2024-1-05", NULL },
		{ "2024/01/05", NULL },
		{ "20240105", NULL },
		{ " 2024-01-05", NULL },
		{ "2024-01-05 ", NULL },
		{ "2024-01-05T00:00:00Z", NULL },
		{ "+024-01-05", NULL },
		{ "", NULL },
	};

	(void)state;
	RUN(VAULT_TYPE_DATE, cases);
}

static void test_integer(void **state)
{
	struct vault_field f = vt_field("v", VAULT_TYPE_INTEGER);
	char out[VAULT_CANON_MAX], err[VAULT_ERR_MAX];
	json_t *j;

	(void)state;
	j = json_integer(42);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)), PV_OK);
	assert_string_equal(out, "42");
	json_decref(j);
	j = json_integer(INT64_MIN);
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)), PV_OK);
	assert_string_equal(out, "-9223372036854775808");
	json_decref(j);

	/* From request text: "12" is a string, 1.5 and 1.0 are reals. */
	j = vt_json("\"12\"");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	assert_non_null(strstr(err, "field 'v': expected an integer"));
	json_decref(j);
	j = vt_json("1.5");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = vt_json("1.0");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = vt_json("1e3");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = vt_json("true");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INVALID);
	json_decref(j);
	j = vt_json("9223372036854775807");
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)), PV_OK);
	assert_string_equal(out, "9223372036854775807");
	json_decref(j);
}

static void test_integer_text(void **state)
{
	static const struct tcase cases[] = {
		{ "12", "12" },
		{ "-7", "-7" },
		{ "0", "0" },
		{ "-0", "0" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "9223372036854775808", NULL },
		{ "012", NULL },
		{ "+5", NULL },
		{ " 5", NULL },
		{ "5 ", NULL },
		{ "1.5", NULL },
		{ "1e3", NULL },
		{ "", NULL },
		{ "-", NULL },
		{ "0x10", NULL },
	};
	struct vault_field f = vt_field("v", VAULT_TYPE_INTEGER);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[VAULT_CANON_MAX] = "", err[VAULT_ERR_MAX] = "";
		enum pv_rc rc = vault_value_normalize_text(&f, cases[i].in, out, sizeof(out),
		    err, sizeof(err));

		if (cases[i].canon != NULL) {
			assert_int_equal(rc, PV_OK);
			assert_string_equal(out, cases[i].canon);
		} else {
			if (rc != PV_E_INVALID)
				print_error("integer text case %zu accepted\n", i);
			assert_int_equal(rc, PV_E_INVALID);
		}
	}
}

static void test_text_path_matches_json_path(void **state)
{
	/* A search parameter and a stored value normalise to the same text. */
	struct vault_field f = vt_field("v", VAULT_TYPE_SSN);
	char a[VAULT_CANON_MAX], b[VAULT_CANON_MAX], err[VAULT_ERR_MAX];
	json_t *j = json_string("123456789");

	(void)state;
	assert_int_equal(vault_value_normalize(&f, j, a, sizeof(a), err, sizeof(err)), PV_OK);
	assert_int_equal(vault_value_normalize_text(&f, "123-45-6789", b, sizeof(b), err,
	    sizeof(err)), PV_OK);
	assert_string_equal(a, b);
	json_decref(j);
}

static void test_ssn(void **state)
{
	static const struct tcase cases[] = {
		{ "123-45-6789", "123-45-6789" },
		{ "123456789", "123-45-6789" },
		{ "001-01-0001", "001-01-0001" },
		{ "665-12-3456", "665-12-3456" },
		{ "667-12-3456", "667-12-3456" },
		{ "899-99-9999", "899-99-9999" },
		{ "000-12-3456", NULL },          /* area 000 */
		{ "000123456", NULL },
		{ "666-12-3456", NULL },          /* area 666 */
		{ "900-12-3456", NULL },          /* area 900-999 */
		{ "999-12-3456", NULL },
		{ "123-00-4567", NULL },          /* group 00 */
		{ "123-45-0000", NULL },          /* serial 0000 */
		{ "123450000", NULL },
		{ "123-456789", NULL },
		{ "12-345-6789", NULL },
		{ "123 45 6789", NULL },
		{ "1234567890", NULL },
		{ "12345678", NULL },
		{ "abc-de-fghi", NULL },
		{ "123-45-678a", NULL },
		{ "", NULL },
	};

	(void)state;
	RUN(VAULT_TYPE_SSN, cases);
}

/* 64-char local part, 63-char label */
#define L64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define D63 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_email(void **state)
{
	static const struct tcase cases[] = {
		{ "Alice.Smith@Example.COM", "Alice.Smith@example.com" },  /* local part kept */
		{ "a@b.co", "a@b.co" },
		{ "user+tag@sub.example.org", "user+tag@sub.example.org" },
		{ "o'brien@x-ray.example", "o'brien@x-ray.example" },
		{ "a1@123.example", "a1@123.example" },
		{ L64 "@example.com", L64 "@example.com" },
		{ "a" L64 "@example.com", NULL },                        /* local 65 */
		{ "a@" D63 ".com", "a@" D63 ".com" },
		{ "a@b" D63 ".com", NULL },                              /* label 64 */
		{ "plain", NULL },
		{ "a@@b.com", NULL },
		{ "a@b@c.com", NULL },
		{ "@b.com", NULL },
		{ "a@", NULL },
		{ "a@b", NULL },                                         /* one label */
		{ ".a@b.com", NULL },
		{ "a.@b.com", NULL },
		{ "a..b@c.com", NULL },
		{ "a@-b.com", NULL },
		{ "a@b-.com", NULL },
		{ "a@b..com", NULL },
		{ "a@.b.com", NULL },
		{ "a@b.com.", NULL },
		{ "a b@c.com", NULL },
		{ "a@b_c.com", NULL },
		{ "\"a\"@b.com", NULL },
		{ "a@[127.0.0.1]", NULL },
		{ "", NULL },
	};
	/* total 254 accepted, 255 refused: 64 + 1 + 63+1+63+1+61 = 254 */
	char buf254[300], buf255[300];
	struct tcase len_cases[2];

	(void)state;
	RUN(VAULT_TYPE_EMAIL, cases);
	snprintf(buf254, sizeof(buf254), "%s@%s.%s.%.61s", L64, D63, D63, D63);
	snprintf(buf255, sizeof(buf255), "%s@%s.%s.%.62s", L64, D63, D63, D63);
	assert_int_equal(strlen(buf254), 254);
	assert_int_equal(strlen(buf255), 255);
	len_cases[0].in = buf254;
	len_cases[0].canon = buf254;
	len_cases[1].in = buf255;
	len_cases[1].canon = NULL;
	RUN(VAULT_TYPE_EMAIL, len_cases);
}

static void test_phone(void **state)
{
	static const struct tcase cases[] = {
		{ "+1 (555) 010-0199", "+15550100199" },
		{ "555.010.0199", "5550100199" },
		{ "(555) 010 0199", "5550100199" },
		{ "5550100", "5550100" },                 /* 7 digits */
		{ "555010", NULL },                        /* 6 digits */
		{ "+441234567890123", "+441234567890123" }, /* 15 digits */
		{ "+4412345678901234", NULL },             /* 16 digits */
		{ "+", NULL },
		{ "1+5550100199", NULL },
		{ "++15550100199", NULL },
		{ "555-0100 ext 2", NULL },
		{ "((555)) 0100199", NULL },
		{ "(555 0100199", NULL },
		{ "555) 010 (0199", NULL },
		{ "555/010/0199", NULL },
		{ "", NULL },
	};

	(void)state;
	RUN(VAULT_TYPE_PHONE, cases);
}

static void test_zip(void **state)
{
	static const struct tcase cases[] = {
		{ "12345", "12345" },
		{ "02134", "02134" },
		{ "12345-6789", "12345-6789" },
		{ "1234", NULL },
		{ "123456", NULL },
		{ "123456789", NULL },
		{ "12345 6789", NULL },
		{ "12345-678", NULL },
		{ "1234a", NULL },
		{ "", NULL },
	};

	(void)state;
	RUN(VAULT_TYPE_ZIP, cases);
}

static void test_mrn(void **state)
{
	static const struct tcase cases[] = {
		{ "mrn-00123", "MRN-00123" },
		{ "A", "A" },
		{ "abcdefghijklmnopqrstuvwxyz012345", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" }, /* 32 */
		{ "abcdefghijklmnopqrstuvwxyz0123456", NULL },                              /* 33 */
		{ "", NULL },
		{ "MRN 1", NULL },
		{ "MRN_1", NULL },
		{ "\xc3\x84" "1", NULL },
	};

	(void)state;
	RUN(VAULT_TYPE_MRN, cases);
}

static void test_short_output_buffer(void **state)
{
	struct vault_field f = vt_field("v", VAULT_TYPE_SSN);
	char out[8], err[VAULT_ERR_MAX];
	json_t *j = json_string("123-45-6789");

	(void)state;
	assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
	    PV_E_INTERNAL);
	json_decref(j);
}

/* Bad values that carry the marker; every one must be refused without it in err. */
static void test_errors_never_echo_value(void **state)
{
	static const struct {
		enum vault_type t;
		const char *value;
	} bad[] = {
		{ VAULT_TYPE_STRING, VT_MARKER "\n" },
		{ VAULT_TYPE_STRING, "\x01" VT_MARKER },
		{ VAULT_TYPE_DATE, VT_MARKER },
		{ VAULT_TYPE_DATE, "2023-02-29" VT_MARKER },
		{ VAULT_TYPE_INTEGER, VT_MARKER },
		{ VAULT_TYPE_INTEGER, "12" VT_MARKER },
		{ VAULT_TYPE_SSN, VT_MARKER },
		{ VAULT_TYPE_SSN, "123-45-" VT_MARKER },
		{ VAULT_TYPE_EMAIL, VT_MARKER "@@example.com" },
		{ VAULT_TYPE_EMAIL, "a@" VT_MARKER },
		{ VAULT_TYPE_EMAIL, VT_MARKER },
		{ VAULT_TYPE_PHONE, "+1 " VT_MARKER },
		{ VAULT_TYPE_ZIP, VT_MARKER },
		{ VAULT_TYPE_MRN, VT_MARKER "_1" },
		{ VAULT_TYPE_MRN, VT_MARKER VT_MARKER VT_MARKER VT_MARKER VT_MARKER },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vault_field f = vt_field("patient_field", bad[i].t);
		char out[VAULT_CANON_MAX], err[VAULT_ERR_MAX] = "";
		json_t *j = json_string(bad[i].value);

		/* through JSON */
		assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
		    PV_E_INVALID);
		assert_non_null(strstr(err, "field 'patient_field'"));
		vt_assert_no_marker(err);
		/* and through the search-parameter path */
		err[0] = '\0';
		assert_int_equal(vault_value_normalize_text(&f, bad[i].value, out, sizeof(out), err,
		    sizeof(err)), PV_E_INVALID);
		assert_non_null(strstr(err, "field 'patient_field'"));
		vt_assert_no_marker(err);
		json_decref(j);
	}

	/* an over-long string full of the marker */
	{
		struct vault_field f = vt_field("notes", VAULT_TYPE_STRING);
		char out[VAULT_CANON_MAX], err[VAULT_ERR_MAX] = "";
		size_t n = 5000, k;
		char *big = malloc(n + 1);
		json_t *j;

		assert_non_null(big);
		for (k = 0; k < n; k++)
			big[k] = VT_MARKER[k % (sizeof(VT_MARKER) - 1)];
		big[n] = '\0';
		j = json_string(big);
		assert_int_equal(vault_value_normalize(&f, j, out, sizeof(out), err, sizeof(err)),
		    PV_E_INVALID);
		vt_assert_no_marker(err);
		json_decref(j);
		free(big);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_integer),
		cmocka_unit_test(test_integer_text),
		cmocka_unit_test(test_text_path_matches_json_path),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_zip),
		cmocka_unit_test(test_mrn),
		cmocka_unit_test(test_short_output_buffer),
		cmocka_unit_test(test_errors_never_echo_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
