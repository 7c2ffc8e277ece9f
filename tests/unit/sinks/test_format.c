/*
 * format.c: what a SIEM receiver gets. RFC 5424 framing (octet counting)
 * and SD-PARAM escaping, splitting by field within max_message_bytes (never
 * inside a value, marked part="k/n" and truncated="..."), CEF escaping and
 * the OCSF classes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sinks/sinks_int.h"

static struct store_audit_row row(void)
{
	return (struct store_audit_row){
		.seq = 42,
		.time = "2026-01-02T03:04:05.678Z",
		.actor = "{\"session_id\":\"ses_1\",\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}",
		.action = "record.read",
		.resource = "collections/patients/records/rec_1",
		.purpose_of_use = "TREAT",
		.outcome = "allowed",
		.reason = "",
		.detail = "{\"fields\":[\"name\"]}",
		.prev_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.hash = "368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211",
	};
}

/* Split an octet-counted stream into its messages (malloc'd, NUL-terminated). */
static size_t unframe(const struct util_buf *b, char **msgs, size_t max)
{
	size_t n = 0, off = 0;

	while (off < b->len) {
		char *end;
		unsigned long len = strtoul(b->p + off, &end, 10);

		assert_true(end > b->p + off);
		assert_int_equal(*end, ' ');
		off = (size_t)(end - b->p) + 1;
		assert_true(off + len <= b->len);
		assert_true(n < max);
		msgs[n] = calloc(1, len + 1);
		assert_non_null(msgs[n]);
		memcpy(msgs[n], b->p + off, len);
		n++;
		off += len;
	}
	assert_int_equal(off, b->len);
	return n;
}

static void free_msgs(char **m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i]);
}

static void test_syslog_one_message(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char *m[4];
	size_t n;

	(void)state;
	assert_int_equal(sinks_format_syslog(&r, "node1", 8192, &b), 1);
	n = unframe(&b, m, 4);
	assert_int_equal(n, 1);
	assert_string_equal(m[0],
	    "<86>1 2026-01-02T03:04:05.678Z node1 phivault - AUDIT [phivault@32473 seq=\"42\" "
	    "action=\"record.read\" outcome=\"allowed\" "
	    "resource=\"collections/patients/records/rec_1\" user=\"usr_a\" session=\"ses_1\" "
	    "src=\"10.0.0.1\" purposeOfUse=\"TREAT\" detail=\"{\\\"fields\\\":[\\\"name\\\"\\]}\" "
	    "hash=\"368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211\"] "
	    "record.read allowed");
	/* the frame's length is the message's byte count */
	assert_int_equal((size_t)atoi(b.p), strlen(m[0]));
	free_msgs(m, n);
	util_buf_free(&b);
}

static void test_syslog_escapes_and_severity(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char *m[4];

	(void)state;
	r.resource = "a\"b\\c]d";
	r.reason = "x\ny";           /* only from a tampered row */
	r.outcome = "denied";
	assert_int_equal(sinks_format_syslog(&r, "h", 8192, &b), 1);
	assert_int_equal(unframe(&b, m, 4), 1);
	assert_true(strncmp(m[0], "<84>1 ", 6) == 0);        /* authpriv.warning */
	assert_non_null(strstr(m[0], " resource=\"a\\\"b\\\\c\\]d\""));
	assert_non_null(strstr(m[0], " reason=\"x?y\""));
	assert_null(strchr(m[0], '\n'));
	free_msgs(m, 1);
	util_buf_free(&b);
	r.outcome = "error";
	assert_int_equal(sinks_format_syslog(&r, "h", 8192, &b), 1);
	assert_int_equal(unframe(&b, m, 4), 1);
	assert_true(strncmp(m[0], "<83>1 ", 6) == 0);        /* authpriv.err */
	free_msgs(m, 1);
	util_buf_free(&b);
}

/* Every part within max, same seq, part="k/n"; each value whole in one part. */
static void test_syslog_split_by_field(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char res[1501], det[1601], *m[8], want[64];
	size_t n, found_res = 0, found_det = 0;

	(void)state;
	memset(res, 'r', sizeof res - 1);
	res[sizeof res - 1] = '\0';
	memcpy(res, "collections/c/records/", 22);
	snprintf(det, sizeof det, "{\"fields\":[\"%0*d\"]}", 1580, 0);
	r.resource = res;
	r.detail = det;
	n = sinks_format_syslog(&r, "h", 2048, &b);
	assert_true(n >= 2);
	assert_int_equal(unframe(&b, m, 8), n);
	for (size_t i = 0; i < n; i++) {
		assert_true(strlen(m[i]) <= 2048);
		assert_non_null(strstr(m[i], "[phivault@32473 seq=\"42\" part=\""));
		snprintf(want, sizeof want, " part=\"%zu/%zu\"", i + 1, n);
		assert_non_null(strstr(m[i], want));
		assert_non_null(strstr(m[i], "] record.read allowed"));
		assert_null(strstr(m[i], "truncated="));
		if (strstr(m[i], res))
			found_res++;
		if (strstr(m[i], " detail=\""))
			found_det++;
	}
	assert_int_equal(found_res, 1);
	assert_int_equal(found_det, 1);
	free_msgs(m, n);
	util_buf_free(&b);
}

/* A value longer than any part can hold is left out and named, never cut. */
static void test_syslog_truncated_field_named(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char res[3001], *m[8];
	size_t n;

	(void)state;
	memset(res, 'q', sizeof res - 1);
	res[sizeof res - 1] = '\0';
	r.resource = res;
	n = sinks_format_syslog(&r, "h", 1024, &b);
	assert_int_equal(n, 1);
	assert_int_equal(unframe(&b, m, 8), 1);
	assert_true(strlen(m[0]) <= 1024);
	assert_null(strstr(m[0], "qqqq"));
	assert_non_null(strstr(m[0], " truncated=\"resource\""));
	assert_non_null(strstr(m[0], " part=\"1/1\""));
	assert_non_null(strstr(m[0], " hash=\"3681"));
	free_msgs(m, n);
	util_buf_free(&b);
}

static void test_cef_escapes(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char *m[4];

	(void)state;
	r.action = "odd|act\\ion";
	r.resource = "a=b\\c\nd|e";
	r.outcome = "denied";
	assert_int_equal(sinks_format_cef(&r, "h", 8192, &b), 1);
	assert_int_equal(unframe(&b, m, 4), 1);
	assert_true(strncmp(m[0], "<84>1 2026-01-02T03:04:05.678Z h phivault - CEF - "
	    "CEF:0|phivault|phivault|" PHIVAULT_VERSION "|odd\\|act\\\\ion|odd\\|act\\\\ion|6|"
	    "cn1Label=seq cn1=42 rt=1767323045678 ", strlen("<84>1 2026-01-02T03:04:05.678Z h "
	    "phivault - CEF - CEF:0|phivault|phivault|" PHIVAULT_VERSION "|odd\\|act\\\\ion|"
	    "odd\\|act\\\\ion|6|cn1Label=seq cn1=42 rt=1767323045678 ")) == 0);
	/* extension values: '=' and '\' escaped, newline as \n, pipe as is */
	assert_non_null(strstr(m[0], " cs1Label=resource cs1=a\\=b\\\\c\\nd|e "));
	assert_non_null(strstr(m[0], " suser=usr_a "));
	assert_non_null(strstr(m[0], " src=10.0.0.1 "));
	assert_non_null(strstr(m[0], " cs2Label=purposeOfUse cs2=TREAT "));
	free_msgs(m, 1);
	util_buf_free(&b);
}

static void test_cef_split(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	char res[1501], det[1601], *m[8];
	size_t n;

	(void)state;
	memset(res, 'r', sizeof res - 1);
	res[sizeof res - 1] = '\0';
	snprintf(det, sizeof det, "{\"fields\":[\"%0*d\"]}", 1580, 0);
	r.resource = res;
	r.detail = det;
	n = sinks_format_cef(&r, "h", 2048, &b);
	assert_true(n >= 2);
	assert_int_equal(unframe(&b, m, 8), n);
	for (size_t i = 0; i < n; i++) {
		assert_true(strlen(m[i]) <= 2048);
		assert_non_null(strstr(m[i], "|3|cn1Label=seq cn1=42 cs5Label=part cs5="));
	}
	free_msgs(m, n);
	util_buf_free(&b);
}

static void test_ocsf_classes(void **state)
{
	struct store_audit_row r = row();
	struct util_buf b = { 0 };
	json_t *o;

	(void)state;
	assert_int_equal(sinks_ocsf_class("auth.login"), 3002);
	assert_int_equal(sinks_ocsf_class("alert.brute_force"), 2004);
	assert_int_equal(sinks_ocsf_class("record.read"), 6003);
	assert_int_equal(sinks_format_ocsf(&r, &b), 1);
	assert_int_equal(b.p[b.len - 1], '\n');
	o = json_loads(b.p, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 6003);
	assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 600302);
	assert_int_equal(json_integer_value(json_object_get(o, "time")), 1767323045678LL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "metadata"),
	    "sequence")), 42);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "src_endpoint"),
	    "ip")), "10.0.0.1");
	json_decref(o);
	util_buf_free(&b);
	r.action = "auth.login";
	r.outcome = "denied";
	assert_int_equal(sinks_format_ocsf(&r, &b), 1);
	o = json_loads(b.p, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 3002);
	assert_int_equal(json_integer_value(json_object_get(o, "type_uid")), 300201);
	assert_int_equal(json_integer_value(json_object_get(o, "status_id")), 2);
	json_decref(o);
	util_buf_free(&b);
	r.action = "alert.brute_force";
	assert_int_equal(sinks_format_ocsf(&r, &b), 1);
	o = json_loads(b.p, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(o, "class_uid")), 2004);
	assert_int_equal(json_integer_value(json_object_get(o, "category_uid")), 2);
	json_decref(o);
	util_buf_free(&b);
}

static void test_target_parse(void **state)
{
	struct sinks_target t;

	(void)state;
	assert_int_equal(sinks_target_parse("tcp://127.0.0.1:514", &t), PV_OK);
	assert_int_equal(t.transport, SINKS_TCP);
	assert_string_equal(t.host, "127.0.0.1");
	assert_string_equal(t.port, "514");
	assert_int_equal(sinks_target_parse("tls://[::1]:6514", &t), PV_OK);
	assert_int_equal(t.transport, SINKS_TLS);
	assert_string_equal(t.host, "::1");
	assert_int_equal(sinks_target_parse("udp://h:514", &t), PV_E_INVALID);
	assert_int_equal(sinks_target_parse("tcp://h", &t), PV_E_INVALID);
	assert_int_equal(sinks_target_parse("tcp://h:51x", &t), PV_E_INVALID);
	assert_int_equal(sinks_target_parse("tcp://:514", &t), PV_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syslog_one_message),
		cmocka_unit_test(test_syslog_escapes_and_severity),
		cmocka_unit_test(test_syslog_split_by_field),
		cmocka_unit_test(test_syslog_truncated_field_named),
		cmocka_unit_test(test_cef_escapes),
		cmocka_unit_test(test_cef_split),
		cmocka_unit_test(test_ocsf_classes),
		cmocka_unit_test(test_target_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
