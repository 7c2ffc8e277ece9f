/*
 * config [audit] retention_days and [retention] every_s: defaults 2190 and
 * 86400; audit entries are kept at least six years (45 CFR 164.316(b)(2)(i)),
 * so retention_days below 2190 is refused outside --dev (upward only) and
 * accepted from 1 with it; every_s is 60 .. 31536000 (from 1 with --dev).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"

static void
test_audit_retention_days(void **state)
{
	static const char text[] = "[audit]\nretention_days = 3650\n[retention]\nevery_s = 3600\n";
	struct pv_config c;
	char err[256] = "";

	(void)state;
	config_defaults(&c, "/data");
	assert_int_equal(c.audit_retention_days, 2190);
	assert_int_equal(c.retention_every_s, 86400);
	if (config_validate(&c, false, err, sizeof(err)) != PV_OK)
		fail_msg("refused: %s", err);
	if (config_parse(text, strlen(text), &c, err, sizeof(err)) != PV_OK)
		fail_msg("parse: %s", err);
	assert_int_equal(c.audit_retention_days, 3650);
	assert_int_equal(c.retention_every_s, 3600);
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_OK);
	/* downward: only with --dev */
	c.audit_retention_days = 2189;
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_E_CONFIG);
	assert_non_null(strstr(err, "audit.retention_days"));
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_OK);
	c.audit_retention_days = 1;
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_OK);
	c.audit_retention_days = 0;
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_E_CONFIG);
	c.audit_retention_days = 36501;
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_E_CONFIG);
	c.audit_retention_days = 2190;
	/* the schedule */
	c.retention_every_s = 59;
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_E_CONFIG);
	assert_non_null(strstr(err, "retention.every_s"));
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_OK);
	c.retention_every_s = 0;
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_E_CONFIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_retention_days),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
