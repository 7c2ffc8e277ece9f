/*
 * test_report: the whole report on a real store and keyring (the audit
 * fixture): reproducible bytes, bound to the head seq and its entry's
 * time (not the wall clock), signed so that verify passes on each
 * rendering and fails, naming what, on one changed byte, on the human
 * text of md/html edited apart from the JSON, and on another key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit_fixture.h"
#include "compliance/compliance_int.h"

#define T0 1764547200000LL   /* 2025-12-01T00:00:00.000Z */

struct rfx {
	struct fx f;
	struct pv_config cfg;
	struct compliance_inputs in;
};

static int
setup(void **state)
{
	static struct rfx r;
	struct audit_event ev = fx_event("collections/c/records/rec_1");

	memset(&r, 0, sizeof r);
	util_clock_set_fixed(T0);
	if (fx_open(&r.f) != 0 || fx_start(&r.f, 1000, 3600) != 0)
		return -1;
	if (audit_record(r.f.audit, &ev) != PV_OK)
		return -1;
	util_clock_set_fixed(T0 + 5000);
	if (audit_record(r.f.audit, &ev) != PV_OK)
		return -1;
	audit_stop(r.f.audit);   /* the final checkpoint */
	r.f.audit = NULL;
	config_defaults(&r.cfg, r.f.dir);
	r.in.st = r.f.st;
	r.in.cfg = &r.cfg;
	r.in.datadir = r.f.dir;
	r.in.keys = r.f.keys;
	r.in.mode = "offline";
	*state = &r;
	return 0;
}

static int
teardown(void **state)
{
	struct rfx *r = *state;

	fx_close(&r->f, 0);
	util_clock_reset();
	return 0;
}

static char *
report(struct rfx *r, enum compliance_format fmt, size_t *len)
{
	char *buf = NULL;
	int64_t seq = 0, failed = 0;

	assert_int_equal(compliance_report(&r->in, fmt, &buf, len, &seq, &failed), PV_OK);
	assert_int_equal(seq, 2);
	return buf;
}

static void
verify_ok(const char *buf, size_t len, struct rfx *r)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct compliance_verify_result vr;

	assert_int_equal(keys_audit_public_key(r->f.st, pub), PV_OK);
	assert_int_equal(compliance_verify(buf, len, pub, &vr), PV_OK);
	if (!vr.ok)
		fail_msg("verify: %s", vr.reason);
	assert_int_equal(vr.audit_seq, 2);
}

static const char *
verify_bad(const char *buf, size_t len, struct rfx *r)
{
	static struct compliance_verify_result vr;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];

	assert_int_equal(keys_audit_public_key(r->f.st, pub), PV_OK);
	assert_int_equal(compliance_verify(buf, len, pub, &vr), PV_OK);
	assert_false(vr.ok);
	return vr.reason;
}

static void
test_reproducible_and_bound(void **state)
{
	struct rfx *r = *state;
	size_t n1 = 0, n2 = 0;
	char *a, *b;
	json_t *doc;

	a = report(r, COMPLIANCE_JSON, &n1);
	util_clock_set_fixed(T0 + 86400000LL * 30);   /* the wall clock plays no part */
	b = report(r, COMPLIANCE_JSON, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(a, b, n1);
	doc = json_loadb(a, n1, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(doc, "generated_at")),
	    "2025-12-01T00:00:05.000Z");
	assert_int_equal(json_integer_value(json_object_get(doc, "audit_seq")), 2);
	assert_int_equal(strlen(json_string_value(json_object_get(doc, "audit_head"))), 64);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"),
	    "total")), 59);
	assert_non_null(json_object_get(json_object_get(doc, "signature"), "value"));
	assert_true(json_array_size(json_object_get(doc, "customer_duties")) > 0);
	json_decref(doc);
	verify_ok(a, n1, r);
	free(a);
	free(b);
}

static void
test_tampered_json(void **state)
{
	struct rfx *r = *state;
	size_t n = 0;
	char *a = report(r, COMPLIANCE_JSON, &n), *p;

	/* one status flipped: "pass" -> "fail" is one control changed */
	p = strstr(a, "\"status\": \"pass\"");
	assert_non_null(p);
	memcpy(p + 11, "fail", 4);
	assert_non_null(strstr(verify_bad(a, n, r), "was changed after signing"));
	memcpy(p + 11, "pass", 4);
	verify_ok(a, n, r);
	/* the signature itself */
	p = strstr(a, "\"value\": \"");
	assert_non_null(p);
	p[10] = p[10] == 'A' ? 'B' : 'A';
	assert_non_null(strstr(verify_bad(a, n, r), "signature"));
	free(a);
}

static void
test_md_html(void **state)
{
	struct rfx *r = *state;
	size_t n = 0;
	char *p, *a;

	a = report(r, COMPLIANCE_MD, &n);
	assert_true(strncmp(a, "# phivault compliance report", 28) == 0);
	verify_ok(a, n, r);
	/* the human text edited, the JSON it carries left alone */
	p = strstr(a, "**pass**");
	assert_non_null(p);
	memcpy(p + 2, "fail", 4);
	assert_non_null(strstr(verify_bad(a, n, r), "md text differs"));
	free(a);
	a = report(r, COMPLIANCE_HTML, &n);
	assert_true(strncmp(a, "<!DOCTYPE html>", 15) == 0);
	verify_ok(a, n, r);
	p = strstr(a, "class=\"pass\">pass<");
	assert_non_null(p);
	memcpy(p + 13, "fail", 4);
	assert_non_null(strstr(verify_bad(a, n, r), "html text differs"));
	free(a);
}

static void
test_other_key_and_garbage(void **state)
{
	struct rfx *r = *state;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	struct pv_secret *priv = NULL;
	struct compliance_verify_result vr;
	size_t n = 0;
	char *a = report(r, COMPLIANCE_JSON, &n);

	assert_int_equal(crypto_ed25519_keygen(pub, &priv), PV_OK);
	crypto_secret_free(priv);
	assert_int_equal(compliance_verify(a, n, pub, &vr), PV_OK);
	assert_false(vr.ok);
	assert_non_null(strstr(vr.reason, "another key"));
	assert_int_equal(compliance_verify("{}", 2, pub, &vr), PV_E_INVALID);
	assert_int_equal(compliance_verify("not json", 8, pub, &vr), PV_E_INVALID);
	free(a);
}

/* The register and the baseline (tracking.c), written as the operations
 * would: a failing control under a live exception is "excepted", one
 * whose exception expired before the report's clock fails and is a
 * finding; every rendering still verifies and the bytes are reproducible. */
static void
test_exceptions_register(void **state)
{
	struct rfx *r = *state;
	const char *reg = "{\"items\":["
	    "{\"id\":\"exc_live\",\"control\":\"164.308(a)(8)\",\"reason\":\"pilot <b>\","
	    "\"owner\":\"usr_owner\",\"expires_at\":\"2025-12-02T00:00:00.000Z\"},"
	    "{\"id\":\"exc_old\",\"control\":\"164.316(b)(1)\",\"reason\":\"old\","
	    "\"owner\":\"usr_owner\",\"expires_at\":\"2025-12-01T00:00:01.000Z\"}]}";
	const char *base = "{\"config\":{\"session.idle_timeout_s\":1},\"hash\":\"00\","
	    "\"node\":\"n1\",\"approved_by\":\"usr_off\",\"approved_at\":\"2025-11-30T00:00:00.000Z\"}";
	json_t *doc, *c, *f;
	size_t n = 0, m = 0, i;
	char *a, *b;
	enum pv_rc rc;

	STORE_WRITE(r->f.st, rc, store_meta_put(tx, "compliance.exceptions",
	    (const uint8_t *)reg, strlen(reg)));
	assert_int_equal(rc, PV_OK);
	STORE_WRITE(r->f.st, rc, store_meta_put(tx, "compliance.baseline",
	    (const uint8_t *)base, strlen(base)));
	assert_int_equal(rc, PV_OK);
	a = report(r, COMPLIANCE_JSON, &n);
	b = report(r, COMPLIANCE_JSON, &m);
	assert_int_equal(n, m);
	assert_memory_equal(a, b, n);
	free(b);
	verify_ok(a, n, r);
	doc = json_loads(a, 0, NULL);
	assert_non_null(doc);
	json_array_foreach(json_object_get(doc, "controls"), i, c) {
		const char *cfr = json_string_value(json_object_get(c, "cfr"));

		if (strcmp(cfr, "164.308(a)(8)") == 0) {
			assert_string_equal(json_string_value(json_object_get(c, "status")), "excepted");
			assert_string_equal(json_string_value(json_object_get(json_object_get(c,
			    "exception"), "id")), "exc_live");
		} else if (strcmp(cfr, "164.316(b)(1)") == 0) {
			assert_string_equal(json_string_value(json_object_get(c, "status")), "fail");
			assert_null(json_object_get(c, "exception"));
		}
	}
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"),
	    "excepted")), 1);
	f = json_object_get(doc, "findings");
	assert_int_equal(json_array_size(f), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "exception")),
	    "exc_old");
	assert_int_equal(json_array_size(json_object_get(doc, "exceptions")), 2);
	json_decref(doc);
	free(a);
	a = report(r, COMPLIANCE_MD, &n);
	assert_non_null(strstr(a, "## Exceptions register"));
	assert_non_null(strstr(a, "exception_expired: `exc_old`"));
	verify_ok(a, n, r);
	free(a);
	a = report(r, COMPLIANCE_HTML, &n);
	assert_non_null(strstr(a, "pilot &lt;b&gt;"));
	verify_ok(a, n, r);
	free(a);
}

static void
test_sealed_refused(void **state)
{
	struct rfx *r = *state;
	char *buf = NULL;
	size_t n = 0;
	int64_t seq, failed;

	keys_seal(r->f.keys);
	assert_int_equal(compliance_report(&r->in, COMPLIANCE_JSON, &buf, &n, &seq, &failed),
	    PV_E_SEALED);
	assert_null(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reproducible_and_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_md_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_and_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exceptions_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
