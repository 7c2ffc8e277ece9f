/*
 * config [apps]: token_ttl_s defaults to 900, parses, and is refused
 * outside 60 .. 3600 (an app's token lives at most one hour, issue 10),
 * with or without --dev.
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
test_token_ttl(void **state)
{
	static const char text[] = "[apps]\ntoken_ttl_s = 3600\n";
	static const int bad[] = { 59, 3601, 86400, 0, -1 };
	struct pv_config c;
	char err[256] = "";
	size_t i;

	(void)state;
	config_defaults(&c, "/data");
	assert_int_equal(c.app_token_ttl_s, 900);
	if (config_validate(&c, false, err, sizeof(err)) != PV_OK)
		fail_msg("refused: %s", err);
	if (config_parse(text, strlen(text), &c, err, sizeof(err)) != PV_OK)
		fail_msg("parse: %s", err);
	assert_int_equal(c.app_token_ttl_s, 3600);
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_OK);
	c.app_token_ttl_s = 60;
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.app_token_ttl_s = bad[i];
		err[0] = '\0';
		assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_E_CONFIG);
		assert_non_null(strstr(err, "apps.token_ttl_s"));
		assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_E_CONFIG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
