/*
 * config [metrics]: defaults (enabled = on, no listener of its own), parsing,
 * validation (a plain-HTTP listener only on loopback outside --dev, numeric
 * addresses only, never server.listen) and the write/load round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

static void
refuse(struct pv_config *c, bool dev, const char *want)
{
	char err[256] = "";

	assert_int_equal(config_validate(c, dev, err, sizeof(err)), PV_E_CONFIG);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static void
accept_cfg(struct pv_config *c, bool dev)
{
	char err[256] = "";

	if (config_validate(c, dev, err, sizeof(err)) != PV_OK)
		fail_msg("refused: %s", err);
}

static void
set_listen(struct pv_config *c, const char *v)
{
	config_defaults(c, "/data");
	util_strlcpy(c->metrics_listen, v, sizeof(c->metrics_listen));
}

static void
test_defaults_and_parse(void **state)
{
	static const char text[] = "[metrics]\nenabled = off\nlisten = 127.0.0.1:9464\n";
	struct pv_config c;
	char err[256] = "";

	(void)state;
	config_defaults(&c, "/data");
	assert_string_equal(c.metrics_enabled, "on");
	assert_string_equal(c.metrics_listen, "");
	accept_cfg(&c, false);
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	assert_string_equal(c.metrics_enabled, "off");
	assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
	accept_cfg(&c, false);
	assert_int_equal(config_parse("[metrics]\nport = 1\n", 19, &c, err, sizeof(err)),
	    PV_E_CONFIG);
	assert_non_null(strstr(err, "unknown key [metrics] port"));
}

static void
test_validate(void **state)
{
	struct pv_config c;

	(void)state;
	config_defaults(&c, "/data");
	util_strlcpy(c.metrics_enabled, "yes", sizeof(c.metrics_enabled));
	refuse(&c, false, "metrics.enabled = yes is not on or off");
	refuse(&c, true, "metrics.enabled = yes");

	set_listen(&c, "127.0.0.1:9464");
	accept_cfg(&c, false);
	set_listen(&c, "127.1.2.3:9464");
	accept_cfg(&c, false);
	set_listen(&c, "[::1]:9464");
	accept_cfg(&c, false);
	/* plain HTTP without authentication: loopback only, unless --dev */
	set_listen(&c, "0.0.0.0:9464");
	refuse(&c, false, "metrics.listen = 0.0.0.0:9464 is not a loopback address");
	accept_cfg(&c, true);
	set_listen(&c, "[2001:db8::1]:9464");
	refuse(&c, false, "not a loopback address");
	accept_cfg(&c, true);
	/* numeric only, a port 1 .. 65535 */
	set_listen(&c, "localhost:9464");
	refuse(&c, true, "metrics.listen = localhost:9464 is not IPV4:PORT");
	set_listen(&c, "127.0.0.1");
	refuse(&c, true, "is not IPV4:PORT");
	set_listen(&c, "127.0.0.1:0");
	refuse(&c, true, "is not IPV4:PORT");
	set_listen(&c, "127.0.0.1:65536");
	refuse(&c, true, "is not IPV4:PORT");
	set_listen(&c, "127.0.0.1:94x");
	refuse(&c, true, "is not IPV4:PORT");
	set_listen(&c, "::1:9464");
	refuse(&c, true, "is not IPV4:PORT");
	set_listen(&c, "[::1]9464");
	refuse(&c, true, "is not IPV4:PORT");
	/* never the HTTPS address */
	set_listen(&c, "127.0.0.1:8443");
	refuse(&c, true, "metrics.listen = 127.0.0.1:8443 is server.listen");
}

static void
test_round_trip(void **state)
{
	struct pv_config c, back;
	char dir[512], path[600], err[256] = "";
	const char *base = getenv("PV_TEST_TMP");
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(dir, sizeof(dir), "%s/config-metrics-XXXXXX", base);
	assert_non_null(mkdtemp(dir));
	config_defaults(&c, dir);
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	/* the defaults are written too: every key is in the file init makes */
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(util_file_read(path, 1 << 20, &buf, &len), PV_OK);
	assert_non_null(strstr((char *)buf, "\n[metrics]\n"));
	assert_non_null(strstr((char *)buf, "\nenabled = on\n"));
	assert_non_null(strstr((char *)buf, "\nlisten = \n"));
	free(buf);
	util_strlcpy(c.metrics_enabled, "off", sizeof(c.metrics_enabled));
	util_strlcpy(c.metrics_listen, "[::1]:9464", sizeof(c.metrics_listen));
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_string_equal(back.metrics_enabled, "off");
	assert_string_equal(back.metrics_listen, "[::1]:9464");
	assert_string_equal(back.listen, c.listen);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_parse),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
