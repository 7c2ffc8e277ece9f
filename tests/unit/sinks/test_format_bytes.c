/*
 * The exact bytes every formatter of format.c writes (OCSF line, RFC 5424
 * syslog message, CEF message) for rows that cover each OCSF class and
 * activity, empty and missing columns, an actor that is not JSON or has an
 * escape, details that are not objects, have duplicate keys, reals,
 * escapes, non-ASCII bytes, integers jansson does not read, and nesting.
 * The expected texts are what the formatters write with jansson for every
 * entry: pinned so that a faster writer gives a receiver the same bytes.
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

static const struct store_audit_row rows[] = {
	{ .seq = 42, .time = "2026-01-02T03:04:05.678Z",
	  .actor = "{\"auth_method\":\"password\",\"auth_ms\":1764650000000,\"mfa\":false,\"session_id\":\"ses_1\",\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\"}",
	  .action = "record.read", .resource = "collections/patients/records/rec_1", .purpose_of_use = "TREAT",
	  .outcome = "allowed", .reason = "", .detail = "{\"fields\":[\"dob\",\"name\"],\"subjects\":[\"9f2c\"]}",
	  .prev_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  .hash = "368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211" },
	{ .seq = 7, .time = "2026-01-02T03:04:05.000Z", .actor = "{\"source\":\"::1\",\"user_id\":\"anonymous\"}",
	  .action = "auth.login", .resource = "users/usr_b", .purpose_of_use = "",
	  .outcome = "denied", .reason = "bad_password", .detail = "{\"username_hmac\":\"abcd\"}",
	  .prev_hash = "00", .hash = "11" },
	{ .seq = 8, .time = "2026-01-02T03:04:06.000Z", .actor = "{\"user_id\":\"system\"}",
	  .action = "alert.raised", .resource = "alerts/alt_1", .purpose_of_use = "",
	  .outcome = "allowed", .reason = "bulk_read", .detail = "{\"actor\":\"usr_a\",\"count\":301,\"neg\":-5,\"ok\":true,\"n\":null,\"nest\":{\"a\":[1,{\"b\":\"c\"}],\"z\":[]}}",
	  .prev_hash = "00", .hash = "22" },
	{ .seq = 9, .time = "bad time", .actor = "not json",
	  .action = "user.delete", .resource = "users/us\"er\\x", .purpose_of_use = "",
	  .outcome = "error", .reason = "internal", .detail = "{}",
	  .prev_hash = "00", .hash = "33" },
	{ .seq = 10, .time = "2026-01-02T03:04:06.000Z", .actor = "{\"user_id\":\"usr_\\u00e9\",\"source\":\"10.0.0.2\"}",
	  .action = "auth.logout", .resource = "", .purpose_of_use = NULL,
	  .outcome = "allowed", .reason = NULL, .detail = "{\"x\":1.5,\"t\":\"a\\nb\",\"u\":\"\xc3\xa9\",\"b\":\"z\"}",
	  .prev_hash = "00", .hash = "44" },
	{ .seq = 11, .time = "2026-01-02T03:04:06.000Z", .actor = "{}",
	  .action = "record.create", .resource = "collections/c/records/r", .purpose_of_use = "TREAT",
	  .outcome = "allowed", .reason = "", .detail = "[1,2]",
	  .prev_hash = "00", .hash = "55" },
	{ .seq = 12, .time = "2026-01-02T03:04:06.000Z", .actor = "{\"user_id\":\"usr_c\",\"roles\":[\"a\",\"b\"],\"session_id\":\"s\"}",
	  .action = "auth.mfa", .resource = "users/usr_c", .purpose_of_use = "",
	  .outcome = "denied", .reason = "bad_totp", .detail = "{\"a\":1,\"a\":2}",
	  .prev_hash = "00", .hash = "66" },
	{ .seq = 13, .time = "2026-01-02T03:04:06.000Z", .actor = "{\"user_id\":\"usr_c\"}",
	  .action = "key.rotate", .resource = "keys/k", .purpose_of_use = "",
	  .outcome = "allowed", .reason = "", .detail = "{\"v\":00012,\"w\":123456789012345678901234}",
	  .prev_hash = "00", .hash = "77" },
	{ .seq = 14, .time = NULL, .actor = NULL,
	  .action = NULL, .resource = NULL, .purpose_of_use = NULL,
	  .outcome = NULL, .reason = NULL, .detail = NULL,
	  .prev_hash = NULL, .hash = NULL },
};

struct golden {
	const char *ocsf;             /* the line, with its newline */
	const char *syslog;           /* MSG of the one message (framed "LEN MSG") */
	const char *cef;
};

static const struct golden gold[] = {
	{ /* row 0 */
	    "{\"class_uid\":6003,\"category_uid\":6,\"activity_id\":2,\"type_uid\":600302,\"time"
	    "\":1767323045678,\"severity_id\":1,\"status\":\"Success\",\"status_id\":1,\"message"
	    "\":\"record.read\",\"status_detail\":null,\"actor\":{\"user\":{\"uid\":\"usr_a\"},\""
	    "session\":{\"uid\":\"ses_1\"}},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"na"
	    "me\":\"phivault\",\"vendor_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211\",\"s"
	    "equence\":42,\"log_name\":\"audit\"},\"src_endpoint\":{\"ip\":\"10.0.0.1\"},\"api\":"
	    "{\"operation\":\"record.read\"},\"resources\":[{\"uid\":\"collections/patients/recor"
	    "ds/rec_1\"}],\"unmapped\":{\"resource\":\"collections/patients/records/rec_1\",\"out"
	    "come\":\"allowed\",\"purpose_of_use\":\"TREAT\",\"detail\":{\"fields\":[\"dob\",\"na"
	    "me\"],\"subjects\":[\"9f2c\"]}}}" "\n",
	    "<86>1 2026-01-02T03:04:05.678Z h phivault - AUDIT [phivault@32473 seq=\"42\" action="
	    "\"record.read\" outcome=\"allowed\" resource=\"collections/patients/records/rec_1\" "
	    "user=\"usr_a\" session=\"ses_1\" src=\"10.0.0.1\" purposeOfUse=\"TREAT\" detail=\"{"
	    "\\\"fields\\\":[\\\"dob\\\",\\\"name\\\"\\],\\\"subjects\\\":[\\\"9f2c\\\"\\]}\" has"
	    "h=\"368142032200b5f28e83008ae8624f2047a08011d42c6c7b90570651be3e1211\"] record.read "
	    "allowed",
	    "<86>1 2026-01-02T03:04:05.678Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|record.read|record.read|3|cn1Label=seq cn1=42 rt=1767323045678 act=record.read outc"
	    "ome=allowed cs1Label=resource cs1=collections/patients/records/rec_1 suser=usr_a cs4"
	    "Label=sessionId cs4=ses_1 src=10.0.0.1 cs2Label=purposeOfUse cs2=TREAT msg={\"fields"
	    "\":[\"dob\",\"name\"],\"subjects\":[\"9f2c\"]} cs3Label=hash cs3=368142032200b5f28e8"
	    "3008ae8624f2047a08011d42c6c7b90570651be3e1211" },
	{ /* row 1 */
	    "{\"class_uid\":3002,\"category_uid\":3,\"activity_id\":1,\"type_uid\":300201,\"time"
	    "\":1767323045000,\"severity_id\":3,\"status\":\"Failure\",\"status_id\":2,\"message"
	    "\":\"auth.login\",\"status_detail\":\"bad_password\",\"actor\":{\"user\":{\"uid\":\""
	    "anonymous\"}},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\""
	    ",\"vendor_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"11\",\"sequence\":7,\"log_name\":\"audit\"},\"src_endpoint\":{\"ip\":"
	    "\"::1\"},\"user\":{\"uid\":\"anonymous\"},\"unmapped\":{\"resource\":\"users/usr_b\""
	    ",\"outcome\":\"denied\",\"purpose_of_use\":\"\",\"detail\":{\"username_hmac\":\"abcd"
	    "\"}}}" "\n",
	    "<84>1 2026-01-02T03:04:05.000Z h phivault - AUDIT [phivault@32473 seq=\"7\" action="
	    "\"auth.login\" outcome=\"denied\" reason=\"bad_password\" resource=\"users/usr_b\" u"
	    "ser=\"anonymous\" src=\"::1\" detail=\"{\\\"username_hmac\\\":\\\"abcd\\\"}\" hash="
	    "\"11\"] auth.login denied",
	    "<84>1 2026-01-02T03:04:05.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|auth.login|auth.login|6|cn1Label=seq cn1=7 rt=1767323045000 act=auth.login outcome="
	    "denied reason=bad_password cs1Label=resource cs1=users/usr_b suser=anonymous src=::1"
	    " msg={\"username_hmac\":\"abcd\"} cs3Label=hash cs3=11" },
	{ /* row 2 */
	    "{\"class_uid\":2004,\"category_uid\":2,\"activity_id\":1,\"type_uid\":200401,\"time"
	    "\":1767323046000,\"severity_id\":1,\"status\":\"Success\",\"status_id\":1,\"message"
	    "\":\"alert.raised\",\"status_detail\":\"bulk_read\",\"actor\":{\"user\":{\"uid\":\"s"
	    "ystem\"}},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\",\"v"
	    "endor_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"22\",\"sequence\":8,\"log_name\":\"audit\"},\"finding_info\":{\"uid\":"
	    "\"alerts/alt_1\",\"title\":\"alert.raised\",\"types\":[\"alert.raised\"]},\"unmapped"
	    "\":{\"resource\":\"alerts/alt_1\",\"outcome\":\"allowed\",\"purpose_of_use\":\"\",\""
	    "detail\":{\"actor\":\"usr_a\",\"count\":301,\"neg\":-5,\"ok\":true,\"n\":null,\"nest"
	    "\":{\"a\":[1,{\"b\":\"c\"}],\"z\":[]}}}}" "\n",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - AUDIT [phivault@32473 seq=\"8\" action="
	    "\"alert.raised\" outcome=\"allowed\" reason=\"bulk_read\" resource=\"alerts/alt_1\" "
	    "user=\"system\" detail=\"{\\\"actor\\\":\\\"usr_a\\\",\\\"count\\\":301,\\\"neg\\\":"
	    "-5,\\\"ok\\\":true,\\\"n\\\":null,\\\"nest\\\":{\\\"a\\\":[1,{\\\"b\\\":\\\"c\\\"}\\"
	    "],\\\"z\\\":[\\]}}\" hash=\"22\"] alert.raised allowed",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|alert.raised|alert.raised|3|cn1Label=seq cn1=8 rt=1767323046000 act=alert.raised ou"
	    "tcome=allowed reason=bulk_read cs1Label=resource cs1=alerts/alt_1 suser=system msg={"
	    "\"actor\":\"usr_a\",\"count\":301,\"neg\":-5,\"ok\":true,\"n\":null,\"nest\":{\"a\":"
	    "[1,{\"b\":\"c\"}],\"z\":[]}} cs3Label=hash cs3=22" },
	{ /* row 3 */
	    "{\"class_uid\":6003,\"category_uid\":6,\"activity_id\":4,\"type_uid\":600304,\"time"
	    "\":0,\"severity_id\":4,\"status\":\"Failure\",\"status_id\":2,\"message\":\"user.del"
	    "ete\",\"status_detail\":\"internal\",\"actor\":{\"user\":{\"uid\":null}},\"metadata"
	    "\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\",\"vendor_name\":\"phiva"
	    "ult\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"33\",\"sequence\":9,\"log_name\":\"audit\"},\"api\":{\"operation\":\"u"
	    "ser.delete\"},\"resources\":[{\"uid\":\"users/us\\\"er\\\\x\"}],\"unmapped\":{\"reso"
	    "urce\":\"users/us\\\"er\\\\x\",\"outcome\":\"error\",\"purpose_of_use\":\"\",\"detai"
	    "l\":{}}}" "\n",
	    "<83>1 - h phivault - AUDIT [phivault@32473 seq=\"9\" action=\"user.delete\" outcome="
	    "\"error\" reason=\"internal\" resource=\"users/us\\\"er\\\\x\" hash=\"33\"] user.del"
	    "ete error",
	    "<83>1 - h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|user.delete|user.delete|8|cn1Label=seq cn1=9 act=user.delete outcome=error reason=i"
	    "nternal cs1Label=resource cs1=users/us\"er\\\\x cs3Label=hash cs3=33" },
	{ /* row 4 */
	    "{\"class_uid\":3002,\"category_uid\":3,\"activity_id\":2,\"type_uid\":300202,\"time"
	    "\":1767323046000,\"severity_id\":1,\"status\":\"Success\",\"status_id\":1,\"message"
	    "\":\"auth.logout\",\"status_detail\":null,\"actor\":{\"user\":{\"uid\":\"usr_\xc3"
	    "\xa9"
	    "\"}},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\",\"vendor"
	    "_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"44\",\"sequence\":10,\"log_name\":\"audit\"},\"src_endpoint\":{\"ip\":"
	    "\"10.0.0.2\"},\"user\":{\"uid\":\"usr_\xc3"
	    "\xa9"
	    "\"},\"unmapped\":{\"resource\":\"\",\"outcome\":\"allowed\",\"purpose_of_use\":\"\","
	    "\"detail\":{\"x\":1.5,\"t\":\"a\\nb\",\"u\":\"\xc3"
	    "\xa9"
	    "\",\"b\":\"z\"}}}" "\n",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - AUDIT [phivault@32473 seq=\"10\" action="
	    "\"auth.logout\" outcome=\"allowed\" user=\"usr_\xc3"
	    "\xa9"
	    "\" src=\"10.0.0.2\" detail=\"{\\\"x\\\":1.5,\\\"t\\\":\\\"a\\\\nb\\\",\\\"u\\\":\\\""
	    "\xc3"
	    "\xa9"
	    "\\\",\\\"b\\\":\\\"z\\\"}\" hash=\"44\"] auth.logout allowed",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|auth.logout|auth.logout|3|cn1Label=seq cn1=10 rt=1767323046000 act=auth.logout outc"
	    "ome=allowed suser=usr_\xc3"
	    "\xa9"
	    " src=10.0.0.2 msg={\"x\":1.5,\"t\":\"a\\\\nb\",\"u\":\"\xc3"
	    "\xa9"
	    "\",\"b\":\"z\"} cs3Label=hash cs3=44" },
	{ /* row 5 */
	    "{\"class_uid\":6003,\"category_uid\":6,\"activity_id\":1,\"type_uid\":600301,\"time"
	    "\":1767323046000,\"severity_id\":1,\"status\":\"Success\",\"status_id\":1,\"message"
	    "\":\"record.create\",\"status_detail\":null,\"actor\":{\"user\":{\"uid\":null}},\"me"
	    "tadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\",\"vendor_name\":"
	    "\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"55\",\"sequence\":11,\"log_name\":\"audit\"},\"api\":{\"operation\":\""
	    "record.create\"},\"resources\":[{\"uid\":\"collections/c/records/r\"}],\"unmapped\":"
	    "{\"resource\":\"collections/c/records/r\",\"outcome\":\"allowed\",\"purpose_of_use\""
	    ":\"TREAT\",\"detail\":\"[1,2]\"}}" "\n",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - AUDIT [phivault@32473 seq=\"11\" action="
	    "\"record.create\" outcome=\"allowed\" resource=\"collections/c/records/r\" purposeOf"
	    "Use=\"TREAT\" detail=\"[1,2\\]\" hash=\"55\"] record.create allowed",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|record.create|record.create|3|cn1Label=seq cn1=11 rt=1767323046000 act=record.creat"
	    "e outcome=allowed cs1Label=resource cs1=collections/c/records/r cs2Label=purposeOfUs"
	    "e cs2=TREAT msg=[1,2] cs3Label=hash cs3=55" },
	{ /* row 6 */
	    "{\"class_uid\":3002,\"category_uid\":3,\"activity_id\":1,\"type_uid\":300201,\"time"
	    "\":1767323046000,\"severity_id\":3,\"status\":\"Failure\",\"status_id\":2,\"message"
	    "\":\"auth.mfa\",\"status_detail\":\"bad_totp\",\"actor\":{\"user\":{\"uid\":\"usr_c"
	    "\"},\"session\":{\"uid\":\"s\"}},\"metadata\":{\"version\":\"1.1.0\",\"product\":{\""
	    "name\":\"phivault\",\"vendor_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"66\",\"sequence\":12,\"log_name\":\"audit\"},\"user\":{\"uid\":\"usr_c"
	    "\"},\"unmapped\":{\"resource\":\"users/usr_c\",\"outcome\":\"denied\",\"purpose_of_u"
	    "se\":\"\",\"detail\":{\"a\":2}}}" "\n",
	    "<84>1 2026-01-02T03:04:06.000Z h phivault - AUDIT [phivault@32473 seq=\"12\" action="
	    "\"auth.mfa\" outcome=\"denied\" reason=\"bad_totp\" resource=\"users/usr_c\" user=\""
	    "usr_c\" session=\"s\" detail=\"{\\\"a\\\":1,\\\"a\\\":2}\" hash=\"66\"] auth.mfa den"
	    "ied",
	    "<84>1 2026-01-02T03:04:06.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|auth.mfa|auth.mfa|6|cn1Label=seq cn1=12 rt=1767323046000 act=auth.mfa outcome=denie"
	    "d reason=bad_totp cs1Label=resource cs1=users/usr_c suser=usr_c cs4Label=sessionId c"
	    "s4=s msg={\"a\":1,\"a\":2} cs3Label=hash cs3=66" },
	{ /* row 7 */
	    "{\"class_uid\":6003,\"category_uid\":6,\"activity_id\":3,\"type_uid\":600303,\"time"
	    "\":1767323046000,\"severity_id\":1,\"status\":\"Success\",\"status_id\":1,\"message"
	    "\":\"key.rotate\",\"status_detail\":null,\"actor\":{\"user\":{\"uid\":\"usr_c\"}},\""
	    "metadata\":{\"version\":\"1.1.0\",\"product\":{\"name\":\"phivault\",\"vendor_name\""
	    ":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"77\",\"sequence\":13,\"log_name\":\"audit\"},\"api\":{\"operation\":\""
	    "key.rotate\"},\"resources\":[{\"uid\":\"keys/k\"}],\"unmapped\":{\"resource\":\"keys"
	    "/k\",\"outcome\":\"allowed\",\"purpose_of_use\":\"\",\"detail\":\"{\\\"v\\\":00012,"
	    "\\\"w\\\":123456789012345678901234}\"}}" "\n",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - AUDIT [phivault@32473 seq=\"13\" action="
	    "\"key.rotate\" outcome=\"allowed\" resource=\"keys/k\" user=\"usr_c\" detail=\"{\\\""
	    "v\\\":00012,\\\"w\\\":123456789012345678901234}\" hash=\"77\"] key.rotate allowed",
	    "<86>1 2026-01-02T03:04:06.000Z h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|key.rotate|key.rotate|3|cn1Label=seq cn1=13 rt=1767323046000 act=key.rotate outcome"
	    "=allowed cs1Label=resource cs1=keys/k suser=usr_c msg={\"v\":00012,\"w\":12345678901"
	    "2345678901234} cs3Label=hash cs3=77" },
	{ /* row 8 */
	    "{\"class_uid\":6003,\"category_uid\":6,\"activity_id\":99,\"type_uid\":600399,\"time"
	    "\":0,\"severity_id\":4,\"status\":\"Failure\",\"status_id\":2,\"message\":\"\",\"sta"
	    "tus_detail\":null,\"actor\":{\"user\":{\"uid\":null}},\"metadata\":{\"version\":\"1."
	    "1.0\",\"product\":{\"name\":\"phivault\",\"vendor_name\":\"phivault\",\"version\":\""
	    PHIVAULT_VERSION
	    "\"},\"uid\":\"\",\"sequence\":14,\"log_name\":\"audit\"},\"api\":{\"operation\":\"\""
	    "},\"resources\":[{\"uid\":\"\"}],\"unmapped\":{\"resource\":\"\",\"outcome\":\"\",\""
	    "purpose_of_use\":\"\",\"detail\":\"\"}}" "\n",
	    "<83>1 - h phivault - AUDIT [phivault@32473 seq=\"14\"]  ",
	    "<83>1 - h phivault - CEF - CEF:0|phivault|phivault|"
	    PHIVAULT_VERSION
	    "|||8|cn1Label=seq cn1=14" },
};

static void check_framed(const struct util_buf *b, const char *msg)
{
	char want[32];
	size_t n = strlen(msg);

	snprintf(want, sizeof want, "%zu ", n);
	assert_int_equal(b->len, strlen(want) + n);
	assert_memory_equal(b->p, want, strlen(want));
	assert_memory_equal(b->p + strlen(want), msg, n);
}

static void test_golden_bytes(void **state)
{
	(void)state;
	_Static_assert(sizeof rows / sizeof rows[0] == sizeof gold / sizeof gold[0],
	    "a golden text per row");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct util_buf b = { 0 };

		print_message("row %zu\n", i);
		assert_int_equal(sinks_format_ocsf(&rows[i], &b), 1);
		assert_int_equal(b.len, strlen(gold[i].ocsf));
		assert_memory_equal(b.p, gold[i].ocsf, b.len);
		util_buf_free(&b);
		assert_int_equal(sinks_format_syslog(&rows[i], "h", 8192, &b), 1);
		check_framed(&b, gold[i].syslog);
		util_buf_free(&b);
		assert_int_equal(sinks_format_cef(&rows[i], "h", 8192, &b), 1);
		check_framed(&b, gold[i].cef);
		util_buf_free(&b);
	}
}

/* Appending to a buffer that already holds a batch adds exactly the bytes
 * of the entry alone. */
static void test_appends(void **state)
{
	struct util_buf all = { 0 }, one = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t at = all.len;

		assert_int_equal(sinks_format_ocsf(&rows[i], &all), 1);
		assert_int_equal(sinks_format_ocsf(&rows[i], &one), 1);
		assert_int_equal(all.len - at, one.len);
		assert_memory_equal(all.p + at, one.p, one.len);
		util_buf_free(&one);
		at = all.len;
		assert_int_equal(sinks_format_syslog(&rows[i], "h", 8192, &all), 1);
		assert_int_equal(sinks_format_syslog(&rows[i], "h", 8192, &one), 1);
		assert_int_equal(all.len - at, one.len);
		assert_memory_equal(all.p + at, one.p, one.len);
		util_buf_free(&one);
	}
	util_buf_free(&all);
}

/* The direct OCSF writer against the jansson one, byte for byte, over
 * every combination of actors, details and actions below: texts it takes
 * (sorted compact objects, nulls, nesting, integers) and texts it must hand
 * to jansson (escapes, non-ASCII, reals, -0, leading zeros, big integers,
 * duplicate or unsorted keys, whitespace, arrays, broken JSON). */
static void test_ocsf_direct_is_jansson(void **state)
{
	static const char *const actors[] = {
		NULL, "{}", "not json", "{\"user_id\":\"usr_a\"}",
		"{\"auth\":\"password\",\"auth_time\":\"2026-12-02T05:57:59.169Z\","
		    "\"session_id\":\"ses_w6\",\"source\":\"127.0.0.1\",\"user_id\":\"usr_s2\"}",
		"{\"session_id\":null,\"source\":null,\"user_id\":\"system\"}",
		"{\"session_id\":\"\",\"source\":\"::1\",\"user_id\":\"\"}",
		"{\"user_id\":\"usr_a\",\"source\":\"10.0.0.1\"}",
		"{\"source\":\"10.0.0.1\",\"user_id\":\"usr_a\",\"user_id\":\"usr_b\"}",
		"{\"source\":\"10.0.0.1\",\"user_id\":\"usr_\\u0041\"}",
		"{\"source\":\"10.0.0.1\",\"user_id\":\"usr_\xc3\xa9\"}",
		"{\"mfa\":true,\"n\":12,\"roles\":[\"a\",\"b\"],\"user_id\":5}",
		"{\"user_id\":\"usr_a\"} ",
		"{\"user_id\":\"usr_a\"",
	};
	static const char *const details[] = {
		NULL, "{}", "{\"fields\":[\"dob\",\"mrn\",\"name\",\"notes\",\"ssn\"],"
		    "\"unmasked\":[\"dob\"]}",
		"{\"a\":{\"b\":[1,-2,0,{\"c\":null}],\"d\":true},\"e\":false,\"f\":[]}",
		"{\"a\":-0}", "{\"a\":012}", "{\"a\":1.5}", "{\"a\":1e5}", "{\"a\":-1}",
		"{\"a\":123456789012345678}", "{\"a\":1234567890123456789012}",
		"{\"a\":\"x\\ny\"}", "{\"a\":\"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}",
		"{\"a\":\"\x7f\"}", "{\"b\":1,\"a\":2}", "{\"a\":1,\"a\":2}", "{ \"a\":1}",
		"[1,2]", "\"s\"", "{\"a\":}", "{\"a\":1}x", "",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"ab\":1,\"abc\":2}", "{\"abc\":1,\"ab\":2}",
	};
	static const char *const actions[] = {
		NULL, "", "auth.login", "auth.logout", "auth.mfa", "auth.other", "alert.raised",
		"record.read", "record.create", "user.update", "user.delete", "key.rotate",
		"token.detokenize", "x.search", "x.list", "x.tokenize", "x.shred", "x.revoke",
		"sys.start", "odd\"action", "odd\\\\action",
	};
	static const char *const outcomes[] = { "allowed", "denied", "error", NULL, "" };
	static const char *const texts[] = { NULL, "", "TREAT", "users/usr_b", "us\"er", "\xc3\xa9",
	    "tab\there" };
	size_t i = 0;

	(void)state;
	for (size_t ac = 0; ac < sizeof actors / sizeof actors[0]; ac++)
		for (size_t de = 0; de < sizeof details / sizeof details[0]; de++)
			for (size_t an = 0; an < sizeof actions / sizeof actions[0]; an++, i++) {
				struct store_audit_row r = {
					.seq = (int64_t)i + 1,
					.time = i % 5 ? "2026-01-02T03:04:05.678Z" : i % 2 ? NULL : "bad",
					.actor = actors[ac],
					.action = actions[an],
					.resource = texts[i % 7],
					.purpose_of_use = texts[(i / 7) % 7],
					.outcome = outcomes[i % 5],
					.reason = texts[(i / 3) % 7],
					.detail = details[de],
					.prev_hash = "00",
					.hash = i % 11 ? "368142032200b5f28e83008ae8624f2047a08011d42c6c" :
					    texts[i % 7],
				};
				struct util_buf a = { 0 }, b = { 0 };
				size_t na = sinks_format_ocsf(&r, &a), nb = sinks_format_ocsf_jansson(&r, &b);

				if (na != nb || a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
					fail_msg("row %zu (actor %zu, detail %zu, action %zu):\n%s\n%s", i,
					    ac, de, an, a.p ? a.p : "", b.p ? b.p : "");
				util_buf_free(&a);
				util_buf_free(&b);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_ocsf_direct_is_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
