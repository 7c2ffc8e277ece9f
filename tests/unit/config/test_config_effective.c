/* config: the effective configuration (canonical, redacted), its hash and
 * the diff of two of them (config_effective_json, config_effective_diff). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"

static void
effective(const char *ini, char **text, char hash[CONFIG_HASH_HEX])
{
	struct pv_config c;
	char err[256];
	size_t len = 0;

	config_defaults(&c, "/srv/phi");
	assert_int_equal(config_parse(ini, strlen(ini), &c, err, sizeof err), PV_OK);
	assert_int_equal(config_effective_json(&c, text, &len, hash), PV_OK);
	assert_int_equal(strlen(*text), len);
	assert_int_equal(strlen(hash), 64);
}

/* The same settings in any order of the file give the same bytes; every
 * key is there (defaults too), sorted, paths relative to the data dir. */
static void
test_canonical_order(void **state)
{
	char *a, *b, ha[CONFIG_HASH_HEX], hb[CONFIG_HASH_HEX];
	json_t *o;
	const char *k, *prev = "";
	json_t *v;

	(void)state;
	effective("[session]\nidle_timeout_s = 600\n[server]\nregion = east\n"
	    "[policy]\nallowed_regions = east\n", &a, ha);
	effective("[policy]\nallowed_regions = east\n[server]\nregion = east\n"
	    "[session]\nidle_timeout_s = 600\n", &b, hb);
	assert_string_equal(a, b);
	assert_string_equal(ha, hb);
	o = json_loads(a, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "session.idle_timeout_s")), 600);
	assert_string_equal(json_string_value(json_object_get(o, "server.region")), "east");
	/* a default that the file does not set */
	assert_int_equal(json_integer_value(json_object_get(o, "session.absolute_timeout_s")),
	    43200);
	assert_string_equal(json_string_value(json_object_get(o, "auth.mfa_required")), "all");
	assert_string_equal(json_string_value(json_object_get(o, "tls.cert")), "tls/cert.pem");
	assert_true(json_object_size(o) > 100);
	/* compact, keys in bytewise order */
	assert_null(strstr(a, ", "));
	json_object_foreach(o, k, v) {
		assert_true(strcmp(prev, k) < 0);
		prev = k;
	}
	json_decref(o);
	free(a);
	free(b);
}

/* Secrets never appear: the password of a conninfo or URI, the path and
 * query of a webhook. What is not secret stays. */
static void
test_secrets_redacted(void **state)
{
	char *t, h[CONFIG_HASH_HEX], out[512];
	json_t *o;

	(void)state;
	effective("[store]\nbackend = postgres\nurl = host=db1 dbname=pv password='s3cr et' user=pv\n"
	    "[sinks]\nwebhook = https://hooks.example.com:8443/T0KEN/xyz?sig=ABC\n", &t, h);
	assert_null(strstr(t, "s3cr"));
	assert_null(strstr(t, "T0KEN"));
	assert_null(strstr(t, "ABC"));
	o = json_loads(t, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "store.url")),
	    "host=db1 dbname=pv password=" CONFIG_REDACTED " user=pv");
	assert_string_equal(json_string_value(json_object_get(o, "sinks.webhook")),
	    "https://hooks.example.com:8443/" CONFIG_REDACTED);
	json_decref(o);
	free(t);

	assert_int_equal(config_redact("store.url", "postgresql://pv:Hunter2@db:5432/pv?"
	    "sslmode=verify-full&password=Hunter3", out, sizeof out), PV_OK);
	assert_string_equal(out, "postgresql://pv:" CONFIG_REDACTED "@db:5432/pv?"
	    "sslmode=verify-full&password=" CONFIG_REDACTED);
	assert_int_equal(config_redact("sinks.webhook", "https://u:p@h/x", out, sizeof out), PV_OK);
	assert_string_equal(out, "https://" CONFIG_REDACTED "@h/" CONFIG_REDACTED);
	/* a conninfo that does not parse is redacted whole */
	assert_int_equal(config_redact("store.url", "host=db password='unterminated", out,
	    sizeof out), PV_OK);
	assert_string_equal(out, CONFIG_REDACTED);
	/* not a secret key: as is */
	assert_int_equal(config_redact("server.region", "local", out, sizeof out), PV_OK);
	assert_string_equal(out, "local");
	assert_true(config_key_secret("store.url"));
	assert_true(config_key_secret("sinks.webhook"));
	assert_false(config_key_secret("oidc.client_secret_file"));
}

/* One key changed: another hash, and the diff names exactly that key with
 * its old and new values. */
static void
test_one_key_diff(void **state)
{
	char *a, *b, *d, ha[CONFIG_HASH_HEX], hb[CONFIG_HASH_HEX];
	size_t n = 0;
	json_t *arr, *ch;

	(void)state;
	effective("[session]\nidle_timeout_s = 900\n", &a, ha);
	effective("[session]\nidle_timeout_s = 600\n", &b, hb);
	assert_string_not_equal(ha, hb);
	assert_int_equal(config_effective_diff(a, b, NULL, &d, &n), PV_OK);
	assert_int_equal(n, 1);
	arr = json_loads(d, 0, NULL);
	assert_int_equal(json_array_size(arr), 1);
	ch = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(ch, "key")),
	    "session.idle_timeout_s");
	assert_int_equal(json_integer_value(json_object_get(ch, "old")), 900);
	assert_int_equal(json_integer_value(json_object_get(ch, "new")), 600);
	json_decref(arr);
	free(d);
	/* identical: no change */
	assert_int_equal(config_effective_diff(a, a, NULL, &d, &n), PV_OK);
	assert_int_equal(n, 0);
	assert_string_equal(d, "[]");
	free(d);
	/* a skipped key is not reported */
	{
		const char *const skip[] = { "session.idle_timeout_s", NULL };

		assert_int_equal(config_effective_diff(a, b, skip, &d, &n), PV_OK);
		assert_int_equal(n, 0);
		free(d);
	}
	assert_int_equal(config_effective_diff("[1]", b, NULL, &d, &n), PV_E_INVALID);
	free(a);
	free(b);
}

/* A secret key that changed is named, without values (not even redacted
 * ones); a key only on one side is a change with null on the other. */
static void
test_secret_diff(void **state)
{
	char *a, *b, *d, ha[CONFIG_HASH_HEX], hb[CONFIG_HASH_HEX];
	size_t n = 0;
	json_t *arr, *ch;

	(void)state;
	effective("[store]\nurl = host=db1 password=one\n", &a, ha);
	effective("[store]\nurl = host=db2 password=two\n", &b, hb);
	assert_string_not_equal(ha, hb);
	assert_int_equal(config_effective_diff(a, b, NULL, &d, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_null(strstr(d, "db1"));
	assert_null(strstr(d, "one"));
	arr = json_loads(d, 0, NULL);
	ch = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(ch, "key")), "store.url");
	assert_true(json_is_true(json_object_get(ch, "secret")));
	assert_null(json_object_get(ch, "old"));
	json_decref(arr);
	free(d);
	assert_int_equal(config_effective_diff("{\"x.y\":1}", "{}", NULL, &d, &n), PV_OK);
	assert_int_equal(n, 1);
	assert_string_equal(d, "[{\"key\":\"x.y\",\"new\":null,\"old\":1}]");
	free(d);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_order),
		cmocka_unit_test(test_secrets_redacted),
		cmocka_unit_test(test_one_key_diff),
		cmocka_unit_test(test_secret_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
