/*
 * config [server] public_url (SCIM meta.location, docs/scim.md): https://localhost:8443 by
 * default, parses, https:// only outside --dev, no trailing '/', no
 * character that a URL base cannot hold (quotes, spaces, controls, ?, #).
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
test_public_url(void **state)
{
	static const char text[] = "[server]\npublic_url = https://vault.example.org:8443\n";
	static const char *const bad[] = { "ftp://x", "vault.example.org", "https://x/",
		"https://x y", "https://x\"y", "https://x?a=1", "https://x#f", "https://x\\y" };
	struct pv_config c;
	char err[256] = "";
	size_t i;

	(void)state;
	config_defaults(&c, "/data");
	assert_string_equal(c.public_url, "https://localhost:8443");   /* API.md default */
	if (config_validate(&c, false, err, sizeof(err)) != PV_OK)
		fail_msg("refused: %s", err);
	if (config_parse(text, strlen(text), &c, err, sizeof(err)) != PV_OK)
		fail_msg("parse: %s", err);
	assert_string_equal(c.public_url, "https://vault.example.org:8443");
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_OK);
	/* http:// only in dev */
	snprintf(c.public_url, sizeof(c.public_url), "http://127.0.0.1:8443");
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_E_CONFIG);
	assert_non_null(strstr(err, "server.public_url"));
	assert_int_equal(config_validate(&c, true, err, sizeof(err)), PV_OK);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(c.public_url, sizeof(c.public_url), "%s", bad[i]);
		err[0] = '\0';
		if (config_validate(&c, true, err, sizeof(err)) != PV_E_CONFIG)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(strstr(err, "server.public_url"));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
