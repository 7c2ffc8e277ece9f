/*
 * export.c: what a SIEM receives. Three entries with awkward characters are
 * written through the real writer, then exported in each format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit_fixture.h"

static struct fx g;

static int setup(void **state)
{
	struct audit_event e1 = fx_event("collections/p/records/rec_1");
	struct audit_event e2 = fx_event("a=b|c\\d");
	struct audit_event e3 = fx_event("\"quoted\" ]bracket\\");

	(void)state;
	if (fx_open(&g) != 0 || fx_start(&g, 1000, 3600) != 0)
		return -1;
	e2.action = "odd|action";
	e2.outcome = AUDIT_DENIED;
	e2.reason = "no_permission";
	e2.actor.source = "10.0.0.9";
	e3.outcome = AUDIT_ERROR;
	e3.reason = "io";
	e3.purpose_of_use = NULL;
	e3.actor = audit_actor_system();
	if (audit_record(g.audit, &e1) != PV_OK || audit_record(g.audit, &e2) != PV_OK ||
	    audit_record(g.audit, &e3) != PV_OK)
		return -1;
	audit_stop(g.audit);
	g.audit = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_close(&g, 0);
	return 0;
}

/* Export into memory; lines split in place (at most 8). */
struct lines {
	char *buf;
	size_t len;
	char *line[8];
	int n;
};

static void do_export(const char *fmt, int64_t since, struct lines *l)
{
	FILE *f;
	char *save = NULL, *p;

	memset(l, 0, sizeof *l);
	f = open_memstream(&l->buf, &l->len);
	assert_non_null(f);
	assert_int_equal(audit_export(g.st, fmt, since, f), PV_OK);
	assert_int_equal(fclose(f), 0);
	/* Every line ends with '\n'; nothing after the last. */
	assert_true(l->len == 0 || l->buf[l->len - 1] == '\n');
	for (p = strtok_r(l->buf, "\n", &save); p && l->n < 8; p = strtok_r(NULL, "\n", &save))
		l->line[l->n++] = p;
}

static void test_jsonl(void **state)
{
	struct lines l;
	const char *actions[3] = { "record.read", "odd|action", "record.read" };

	(void)state;
	do_export("jsonl", 0, &l);
	assert_int_equal(l.n, 3);
	for (int i = 0; i < 3; i++) {
		json_error_t err;
		json_t *o = json_loads(l.line[i], 0, &err);

		assert_non_null(o);
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), i + 1);
		assert_string_equal(json_string_value(json_object_get(o, "action")), actions[i]);
		assert_true(json_is_object(json_object_get(o, "actor")));
		assert_true(json_is_object(json_object_get(o, "detail")));
		assert_int_equal(strlen(json_string_value(json_object_get(o, "hash"))), 64);
		assert_int_equal(strlen(json_string_value(json_object_get(o, "prev_hash"))), 64);
		assert_non_null(json_string_value(json_object_get(o, "time")));
		if (i == 1) {
			assert_string_equal(json_string_value(json_object_get(o, "resource")), "a=b|c\\d");
			assert_string_equal(json_string_value(json_object_get(o, "outcome")), "denied");
			assert_string_equal(json_string_value(json_object_get(o, "reason")),
			    "no_permission");
			assert_string_equal(json_string_value(json_object_get(
			    json_object_get(o, "actor"), "source")), "10.0.0.9");
			assert_true(json_is_array(json_object_get(json_object_get(o, "detail"),
			    "fields")));
		}
		json_decref(o);
	}
	free(l.buf);

	do_export("jsonl", 2, &l);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.line[0], "{\"seq\":3,"));
	free(l.buf);

	do_export("jsonl", 3, &l);
	assert_int_equal(l.n, 0);
	free(l.buf);
}

static void test_cef(void **state)
{
	struct lines l;
	char *rt;

	(void)state;
	do_export("cef", 0, &l);
	assert_int_equal(l.n, 3);
	assert_true(util_str_has_prefix(l.line[0],
	    "CEF:0|phivault|phivault|" PHIVAULT_VERSION "|record.read|record.read|3|rt="));
	/* '|' escaped in the header; '=' and '\' escaped in extension values. */
	assert_true(util_str_has_prefix(l.line[1],
	    "CEF:0|phivault|phivault|" PHIVAULT_VERSION "|odd\\|action|odd\\|action|6|rt="));
	assert_non_null(strstr(l.line[1], " cs1Label=resource cs1=a\\=b|c\\\\d "));
	assert_non_null(strstr(l.line[1], " act=odd|action "));
	assert_non_null(strstr(l.line[1], " suser=usr_test "));
	assert_non_null(strstr(l.line[1], " src=10.0.0.9 "));
	assert_non_null(strstr(l.line[1], " outcome=denied "));
	assert_non_null(strstr(l.line[1], " cs2Label=purposeOfUse cs2=TREAT "));
	assert_non_null(strstr(l.line[1], " cs3Label=hash cs3="));
	assert_non_null(strstr(l.line[1], " cn1Label=seq cn1=2"));
	assert_true(util_str_has_prefix(l.line[2],
	    "CEF:0|phivault|phivault|" PHIVAULT_VERSION "|record.read|record.read|8|rt="));
	assert_non_null(strstr(l.line[2], " suser=system "));
	assert_null(strstr(l.line[2], " src="));      /* local actor: no source */
	assert_null(strstr(l.line[2], "cs2Label"));   /* no purpose of use */
	/* rt is the entry time in ms since the epoch */
	rt = strstr(l.line[0], "rt=") + 3;
	assert_true(strtoll(rt, NULL, 10) > 1600000000000LL);
	free(l.buf);
}

static void test_syslog(void **state)
{
	struct lines l;

	(void)state;
	do_export("syslog", 0, &l);
	assert_int_equal(l.n, 3);
	/* authpriv facility: informational, warning, error */
	assert_true(util_str_has_prefix(l.line[0], "<86>1 "));
	assert_true(util_str_has_prefix(l.line[1], "<84>1 "));
	assert_true(util_str_has_prefix(l.line[2], "<83>1 "));
	for (int i = 0; i < 3; i++) {
		char sd[64];

		assert_non_null(strstr(l.line[i], " phivault - AUDIT [phivault@32473 "));
		snprintf(sd, sizeof sd, "[phivault@32473 seq=\"%d\"", i + 1);
		assert_non_null(strstr(l.line[i], sd));
	}
	assert_non_null(strstr(l.line[0], " action=\"record.read\""));
	assert_non_null(strstr(l.line[0], " purposeOfUse=\"TREAT\""));
	assert_non_null(strstr(l.line[1], " resource=\"a=b|c\\\\d\""));
	/* '"', ']' and '\' escaped inside PARAM-VALUE (RFC 5424 6.3.3) */
	assert_non_null(strstr(l.line[2], " resource=\"\\\"quoted\\\" \\]bracket\\\\\""));
	assert_non_null(strstr(l.line[2], " user=\"system\""));
	free(l.buf);
}

static void test_unknown_format(void **state)
{
	FILE *f = tmpfile();

	(void)state;
	assert_non_null(f);
	assert_int_equal(audit_export(g.st, "xml", 0, f), PV_E_INVALID);
	assert_int_equal(audit_export(g.st, "", 0, f), PV_E_INVALID);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_cef),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_unknown_format),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
