/* config: defaults (API.md), strict parsing, validation, write/load round trip. */
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

static enum pv_rc
parse_str(struct pv_config *c, const char *text, char *err, size_t errlen)
{
	return config_parse(text, strlen(text), c, err, errlen);
}

/* Field by field: bytes after a string's NUL do not matter. */
static void
assert_config_equal(const struct pv_config *a, const struct pv_config *b)
{
	assert_string_equal(a->datadir, b->datadir);
	assert_string_equal(a->listen, b->listen);
	assert_int_equal(a->max_body_bytes, b->max_body_bytes);
	assert_string_equal(a->region, b->region);
	assert_int_equal(a->threads, b->threads);
	assert_string_equal(a->tls_cert, b->tls_cert);
	assert_string_equal(a->tls_key, b->tls_key);
	assert_string_equal(a->tls_min_version, b->tls_min_version);
	assert_int_equal(a->idle_timeout_s, b->idle_timeout_s);
	assert_int_equal(a->absolute_timeout_s, b->absolute_timeout_s);
	assert_int_equal(a->lockout_threshold, b->lockout_threshold);
	assert_int_equal(a->lockout_window_s, b->lockout_window_s);
	assert_int_equal(a->lockout_duration_s, b->lockout_duration_s);
	assert_int_equal(a->mfa_required, b->mfa_required);
	assert_int_equal(a->password_min_length, b->password_min_length);
	assert_int_equal(a->argon2_opslimit, b->argon2_opslimit);
	assert_int_equal(a->argon2_memlimit, b->argon2_memlimit);
	assert_int_equal(a->checkpoint_every, b->checkpoint_every);
	assert_int_equal(a->checkpoint_interval_s, b->checkpoint_interval_s);
	assert_string_equal(a->store_backend, b->store_backend);
	assert_string_equal(a->store_url, b->store_url);
	assert_string_equal(a->allowed_regions, b->allowed_regions);
}

static void
test_defaults_match_api(void **state)
{
	struct pv_config c;

	(void)state;
	config_defaults(&c, "/srv/phi");
	assert_string_equal(c.datadir, "/srv/phi");
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_int_equal(c.max_body_bytes, 1048576);
	assert_string_equal(c.region, "local");
	assert_int_equal(c.threads, 2);   /* an epoll pool of two by default */
	assert_string_equal(c.tls_cert, "/srv/phi/tls/cert.pem");
	assert_string_equal(c.tls_key, "/srv/phi/tls/key.pem");
	assert_string_equal(c.tls_min_version, "1.2");
	assert_int_equal(c.idle_timeout_s, 900);
	assert_int_equal(c.absolute_timeout_s, 43200);
	assert_int_equal(c.lockout_threshold, 5);
	assert_int_equal(c.lockout_window_s, 900);
	assert_int_equal(c.lockout_duration_s, 900);
	assert_int_equal(c.mfa_required, CONFIG_MFA_ALL);
	assert_int_equal(c.password_min_length, 12);
	assert_int_equal(c.argon2_opslimit, 2);
	assert_int_equal(c.argon2_memlimit, 19456u * 1024u);
	assert_int_equal(c.checkpoint_every, 1000);
	assert_int_equal(c.checkpoint_interval_s, 60);
	assert_string_equal(c.store_backend, "sqlite");
	assert_string_equal(c.store_url, "");
	assert_string_equal(c.allowed_regions, "local");
	/* the defaults are secure: serve accepts them without --dev */
	assert_int_equal(config_validate(&c, false, NULL, 0), PV_OK);
}

static void
test_parse_overrides(void **state)
{
	static const char text[] =
	    "\xef\xbb\xbf# a comment\n"
	    "; another\n"
	    "[server]\n"
	    "listen = [::1]:9443\n"
	    "max_body_bytes=2048\n"
	    "region = eu-west ; inline comment\n"
	    "threads = 4\n"
	    "\n"
	    "[tls]\r\n"
	    "cert = certs/server.pem\r\n"
	    "key = /etc/phivault/key.pem\n"
	    "min_version = 1.3\n"
	    "[session]\n"
	    "idle_timeout_s = 600\n"
	    "absolute_timeout_s = 28800\n"
	    "[auth]\n"
	    "lockout_threshold = 3\n"
	    "lockout_window_s = 300\n"
	    "lockout_duration_s = 1800\n"
	    "mfa_required = admins\n"
	    "password_min_length = 16\n"
	    "argon2_opslimit = 3\n"
	    "argon2_memlimit_kib = 65536\n"
	    "[audit]\n"
	    "checkpoint_every = 10\n"
	    "checkpoint_interval_s = 5\n"
	    "[store]\n"
	    "backend = postgres\n"
	    "url = host=db dbname=phivault sslmode=verify-full\n"
	    "[policy]\n"
	    "allowed_regions = eu-west, eu-central\n";
	struct pv_config c;
	char err[256] = "";

	(void)state;
	config_defaults(&c, "/data");
	assert_int_equal(parse_str(&c, text, err, sizeof(err)), PV_OK);
	assert_string_equal(c.listen, "[::1]:9443");
	assert_int_equal(c.max_body_bytes, 2048);
	assert_string_equal(c.region, "eu-west");
	assert_int_equal(c.threads, 4);
	assert_string_equal(c.tls_cert, "/data/certs/server.pem");
	assert_string_equal(c.tls_key, "/etc/phivault/key.pem");
	assert_string_equal(c.tls_min_version, "1.3");
	assert_int_equal(c.idle_timeout_s, 600);
	assert_int_equal(c.absolute_timeout_s, 28800);
	assert_int_equal(c.lockout_threshold, 3);
	assert_int_equal(c.lockout_window_s, 300);
	assert_int_equal(c.lockout_duration_s, 1800);
	assert_int_equal(c.mfa_required, CONFIG_MFA_ADMINS);
	assert_int_equal(c.password_min_length, 16);
	assert_int_equal(c.argon2_opslimit, 3);
	assert_int_equal(c.argon2_memlimit, 65536u * 1024u);
	assert_int_equal(c.checkpoint_every, 10);
	assert_int_equal(c.checkpoint_interval_s, 5);
	assert_string_equal(c.store_backend, "postgres");
	assert_string_equal(c.store_url, "host=db dbname=phivault sslmode=verify-full");
	assert_string_equal(c.allowed_regions, "eu-west, eu-central");
	assert_int_equal(config_validate(&c, false, err, sizeof(err)), PV_OK);

	/* an empty file changes nothing */
	config_defaults(&c, "/data");
	assert_int_equal(parse_str(&c, "", err, sizeof(err)), PV_OK);
	assert_int_equal(c.idle_timeout_s, 900);
}

/* The error for text, which must fail, contains want. */
static void
assert_parse_error(const char *text, size_t len, const char *want)
{
	struct pv_config c, before;
	char err[256] = "";

	config_defaults(&c, "/data");
	before = c;
	assert_int_equal(config_parse(text, len, &c, err, sizeof(err)), PV_E_CONFIG);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	/* nothing is applied on failure */
	assert_memory_equal(&c, &before, sizeof(c));
}

#define PERR(text, want) assert_parse_error((text), sizeof(text) - 1, (want))

static void
test_parse_errors_name_the_line(void **state)
{
	(void)state;
	PERR("[tls]\nmin_versoin = 1.3\n", "phivault.conf:2: unknown key [tls] min_versoin");
	PERR("[server]\nlisten = 1.2.3.4:1\n\n[sever]\nlisten = x\n", "phivault.conf:4: unknown section [sever]");
	PERR("[frobnicate]\n", "phivault.conf:1: unknown section [frobnicate]");
	PERR("listen = 127.0.0.1:1\n", "phivault.conf:1: unknown key [] listen");
	PERR("[server]\nlisten = a:1\nlisten = b:2\n", "phivault.conf:3: duplicate key [server] listen");
	PERR("[session]\nidle_timeout_s = 900\n  5\n", "phivault.conf:3: indented line");
	PERR("[server] listen = 0.0.0.0:1\n", "phivault.conf:1: text after the section header");
	PERR("[server]\nthis is not ini\n", "phivault.conf:2: syntax error");
	PERR("[server\n", "phivault.conf:1: syntax error");
	/* the first error is reported, wherever libinih would stop */
	PERR("[server]\nbroken\n[tls]\nnope = 1\n", "phivault.conf:2:");
	PERR("[server]\nregion = x\n[tls]\nnope = 1\nbroken\n", "phivault.conf:4: unknown key [tls] nope");
}

static void
test_parse_bad_values(void **state)
{
	char longline[400];

	(void)state;
	PERR("[session]\nidle_timeout_s = 15m\n", "phivault.conf:2: [session] idle_timeout_s is not a valid integer");
	PERR("[session]\nidle_timeout_s =\n", "[session] idle_timeout_s");
	PERR("[session]\nidle_timeout_s = 99999999999\n", "[session] idle_timeout_s");
	PERR("[session]\nidle_timeout_s = 0x10\n", "[session] idle_timeout_s");
	PERR("[server]\nmax_body_bytes = -1\n", "[server] max_body_bytes is not a valid non-negative integer");
	PERR("[server]\nthreads = 4294967296\n", "[server] threads");
	PERR("[auth]\nargon2_memlimit_kib = 99999999999999999999\n", "[auth] argon2_memlimit_kib");
	PERR("[auth]\nmfa_required = sometimes\n", "[auth] mfa_required must be all, admins or off");
	PERR("[auth]\nmfa_required = OFF\n", "[auth] mfa_required");
	PERR("[tls]\nmin_version = 1.2.3.4.5.6.7\n", "[tls] min_version: value longer than");
	PERR("[tls]\ncert =\n", "[tls] cert");
	PERR("[server]\nregion = a\0b\n", "NUL byte");

	/* a line too long for libinih is refused, not split in two */
	memset(longline, 'a', sizeof(longline));
	memcpy(longline, "[store]\nurl = ", 14);
	memcpy(longline + sizeof(longline) - 12, " sslmode=x\n", 11);
	longline[sizeof(longline) - 1] = '\0';
	assert_parse_error(longline, strlen(longline), "phivault.conf:2: line longer than");
}

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

#define FRESH(c) config_defaults(&(c), "/data")

static void
test_validate_refuses_insecure(void **state)
{
	struct pv_config c;

	(void)state;
	FRESH(c); util_strlcpy(c.tls_min_version, "1.0", sizeof(c.tls_min_version));
	refuse(&c, false, "tls.min_version = 1.0 is below 1.2");
	refuse(&c, true, "tls.min_version = 1.0 is below 1.2");   /* dev relaxes nothing about TLS */
	FRESH(c); util_strlcpy(c.tls_min_version, "1.1", sizeof(c.tls_min_version));
	refuse(&c, true, "tls.min_version = 1.1 is below 1.2");
	FRESH(c); util_strlcpy(c.tls_min_version, "2", sizeof(c.tls_min_version));
	refuse(&c, false, "tls.min_version");
	FRESH(c); c.mfa_required = CONFIG_MFA_OFF;
	refuse(&c, false, "auth.mfa_required = off");
	FRESH(c); c.idle_timeout_s = 0;
	refuse(&c, false, "session.idle_timeout_s");
	refuse(&c, true, "session.idle_timeout_s");
	FRESH(c); c.idle_timeout_s = 7200; c.absolute_timeout_s = 43200;
	refuse(&c, false, "session.idle_timeout_s = 7200");
	FRESH(c); c.absolute_timeout_s = 600;
	refuse(&c, false, "session.absolute_timeout_s = 600 is below session.idle_timeout_s");
	FRESH(c); c.absolute_timeout_s = 90000;
	refuse(&c, false, "session.absolute_timeout_s = 90000");
	FRESH(c); c.password_min_length = 6;
	refuse(&c, false, "auth.password_min_length = 6");
	FRESH(c); c.password_min_length = 65;
	refuse(&c, false, "auth.password_min_length = 65");
	FRESH(c); c.lockout_threshold = 0;
	refuse(&c, false, "auth.lockout_threshold = 0");
	refuse(&c, true, "auth.lockout_threshold = 0");
	FRESH(c); c.lockout_threshold = 1000;
	refuse(&c, false, "auth.lockout_threshold");
	FRESH(c); c.lockout_duration_s = 0;
	refuse(&c, false, "auth.lockout_duration_s");
	FRESH(c); c.max_body_bytes = 100;
	refuse(&c, false, "server.max_body_bytes = 100");
	FRESH(c); c.max_body_bytes = (size_t)65 << 20;
	refuse(&c, false, "server.max_body_bytes");
	FRESH(c); util_strlcpy(c.store_backend, "mysql", sizeof(c.store_backend));
	refuse(&c, false, "store.backend = mysql");
	FRESH(c); util_strlcpy(c.store_backend, "postgres", sizeof(c.store_backend));
	refuse(&c, false, "store.url is required");
	FRESH(c); c.argon2_opslimit = 0;
	refuse(&c, true, "auth.argon2_opslimit");
	FRESH(c); c.argon2_memlimit = 8192 * 1024;   /* 8 MiB with t=2: below OWASP */
	refuse(&c, false, "auth.argon2_memlimit_kib = 8192");
	refuse(&c, true, "auth.argon2_memlimit_kib = 8192");
	FRESH(c); c.argon2_opslimit = 1; c.argon2_memlimit = 19456 * 1024;
	refuse(&c, false, "auth.argon2_memlimit_kib");
	FRESH(c); c.argon2_opslimit = 5; c.argon2_memlimit = 7168 * 1024;
	accept_cfg(&c, false);
	FRESH(c); util_strlcpy(c.allowed_regions, " , ", sizeof(c.allowed_regions));
	refuse(&c, false, "policy.allowed_regions is empty");
	FRESH(c); util_strlcpy(c.region, "us-east", sizeof(c.region));
	refuse(&c, false, "server.region = us-east is not in policy.allowed_regions");
	FRESH(c); c.checkpoint_every = 0;
	refuse(&c, false, "audit.checkpoint_every");
	FRESH(c); c.checkpoint_interval_s = -1;
	refuse(&c, false, "audit.checkpoint_interval_s");
	FRESH(c); util_strlcpy(c.listen, "8443", sizeof(c.listen));
	refuse(&c, false, "server.listen");
}

static void
test_validate_dev_relaxations(void **state)
{
	struct pv_config c;

	(void)state;
	FRESH(c); c.mfa_required = CONFIG_MFA_OFF;
	accept_cfg(&c, true);
	FRESH(c); c.idle_timeout_s = 7200;
	accept_cfg(&c, true);
	FRESH(c); c.idle_timeout_s = 1; c.absolute_timeout_s = 200000;
	accept_cfg(&c, true);
	FRESH(c); c.password_min_length = 4;
	accept_cfg(&c, true);
	refuse(&c, false, "auth.password_min_length = 4");
	FRESH(c); c.mfa_required = CONFIG_MFA_ADMINS;
	accept_cfg(&c, false);
	FRESH(c); util_strlcpy(c.tls_min_version, "1.3", sizeof(c.tls_min_version));
	accept_cfg(&c, false);
}

static void
test_region_allowed(void **state)
{
	struct pv_config c;

	(void)state;
	FRESH(c);
	util_strlcpy(c.allowed_regions, " eu-west ,us-east,, local\t", sizeof(c.allowed_regions));
	assert_true(config_region_allowed(&c, "eu-west"));
	assert_true(config_region_allowed(&c, "us-east"));
	assert_true(config_region_allowed(&c, "local"));
	assert_false(config_region_allowed(&c, "eu"));
	assert_false(config_region_allowed(&c, "eu-west,us-east"));
	assert_false(config_region_allowed(&c, ""));
	assert_false(config_region_allowed(&c, NULL));
	util_strlcpy(c.allowed_regions, "", sizeof(c.allowed_regions));
	assert_false(config_region_allowed(&c, "local"));
}

static void
make_tmpdir(char *dir, size_t len)
{
	const char *base = getenv("PV_TEST_TMP");

	if (base == NULL || *base == '\0')
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(dir, len, "%s/config-XXXXXX", base);
	assert_non_null(mkdtemp(dir));
}

/* [detect]: the documented defaults, parsed, written, refused out of range */
static void
test_detect_keys(void **state)
{
	static const char text[] = "[detect]\nenabled = off\nbulk_read_max = 20\n"
	    "brute_force_window_s = 60\n";
	struct pv_config c, back;
	char err[256] = "", dir[512], path[600];

	(void)state;
	FRESH(c);
	assert_string_equal(c.detect_enabled, "on");
	assert_int_equal(c.detect_brute_force_failures, 10);
	assert_int_equal(c.detect_brute_force_window_s, 300);
	assert_int_equal(c.detect_spray_accounts, 10);
	assert_int_equal(c.detect_bulk_read_max, 1000);
	assert_int_equal(c.detect_change_read_window_s, 3600);
	assert_int_equal(c.detect_decrypt_failures, 5);
	assert_int_equal(c.detect_decrypt_window_s, 300);
	assert_int_equal(c.detect_sink_lag_check_s, 30);
	assert_int_equal(c.detect_sink_lag_max, 10000);
	assert_int_equal(c.detect_sink_lag_for_s, 300);
	accept_cfg(&c, false);
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	assert_string_equal(c.detect_enabled, "off");
	assert_int_equal(c.detect_bulk_read_max, 20);
	assert_int_equal(c.detect_brute_force_window_s, 60);
	accept_cfg(&c, false);
	assert_int_equal(config_parse("[detect]\nbulk_reads = 5\n", 24, &c, err, sizeof(err)),
	    PV_E_CONFIG);
	assert_non_null(strstr(err, "unknown key [detect] bulk_reads"));
	FRESH(c); util_strlcpy(c.detect_enabled, "maybe", sizeof(c.detect_enabled));
	refuse(&c, true, "detect.enabled = maybe is not on or off");
	FRESH(c); c.detect_brute_force_failures = 0;
	refuse(&c, true, "detect.brute_force_failures = 0 is not from 1 to");
	FRESH(c); c.detect_unusual_hour_margin_h = 12;
	refuse(&c, false, "detect.unusual_hour_margin_h = 12 is not from 1 to 11");
	FRESH(c); c.detect_mfa_window_s = 2592001;
	refuse(&c, false, "detect.mfa_window_s");
	FRESH(c); c.detect_sink_lag_max = 0;
	refuse(&c, false, "detect.sink_lag_max = 0 is not from 1 to");
	FRESH(c); c.detect_decrypt_failures = 0;
	refuse(&c, false, "detect.decrypt_failures = 0 is not from 1 to");
	/* written by init, read back the same */
	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	c.detect_enumeration_max = 15;
	c.detect_sink_lag_for_s = 42;
	c.detect_decrypt_window_s = 43;
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_int_equal(back.detect_enumeration_max, 15);
	assert_int_equal(back.detect_sink_lag_for_s, 42);
	assert_int_equal(back.detect_decrypt_window_s, 43);
	assert_config_equal(&back, &c);
	unlink(path);
	rmdir(dir);
}

/* [secrets] max_versions: default 10, parsed, written by init, 1..1000 */
static void
test_secrets_keys(void **state)
{
	static const char text[] = "[secrets]\nmax_versions = 3\n";
	struct pv_config c, back;
	char err[256] = "", dir[512], path[600];

	(void)state;
	FRESH(c);
	assert_int_equal(c.secrets_max_versions, 10);
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	assert_int_equal(c.secrets_max_versions, 3);
	accept_cfg(&c, false);
	FRESH(c); c.secrets_max_versions = 0;
	refuse(&c, true, "secrets.max_versions = 0 is not from 1 to 1000");
	FRESH(c); c.secrets_max_versions = 1001;
	refuse(&c, false, "secrets.max_versions = 1001 is not from 1 to 1000");
	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	c.secrets_max_versions = 7;
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_int_equal(back.secrets_max_versions, 7);
	unlink(path);
	rmdir(dir);
}

/* [elevation] role_max_s: "" = none; ROLE=SECONDS items, each 60..86400,
 * each role once; validated at start with a message naming the item;
 * written by init and read back */
static void
test_elevation_role_max(void **state)
{
	static const char text[] = "[elevation]\nrole_max_s = key_admin=1800, auditor = 7200\n";
	struct config_role_max rm[CONFIG_ROLE_MAX_N];
	struct pv_config c, back;
	char err[256] = "", dir[512], path[600];
	size_t n = 99;

	(void)state;
	FRESH(c);
	assert_string_equal(c.elevation_role_max_s, "");
	assert_int_equal(config_role_max_parse("", rm, &n, err, sizeof(err)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	accept_cfg(&c, false);
	assert_int_equal(config_role_max_parse(c.elevation_role_max_s, rm, &n, err, sizeof(err)),
	    PV_OK);
	assert_int_equal(n, 2);
	assert_string_equal(rm[0].role, "key_admin");
	assert_int_equal(rm[0].max_s, 1800);
	assert_string_equal(rm[1].role, "auditor");
	assert_int_equal(rm[1].max_s, 7200);
	FRESH(c);
	util_strlcpy(c.elevation_role_max_s, "key_admin=86401", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: key_admin = 86401 is not from 60 to 86400 (1 day)");
	util_strlcpy(c.elevation_role_max_s, "auditor=59", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: auditor = 59 is not from 60 to 86400 (1 day)");
	util_strlcpy(c.elevation_role_max_s, "key_admin 1800", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: \"key_admin 1800\" is not ROLE=SECONDS");
	util_strlcpy(c.elevation_role_max_s, "Key-Admin=1800", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: \"Key-Admin\" is not a role name");
	util_strlcpy(c.elevation_role_max_s, "auditor=600, auditor=900",
	    sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: auditor is listed twice");
	util_strlcpy(c.elevation_role_max_s, "auditor=1h", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: auditor = 1h is not from 60 to 86400 (1 day)");
	util_strlcpy(c.elevation_role_max_s, "auditor=", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: auditor needs a number of seconds");
	util_strlcpy(c.elevation_role_max_s, "auditor=600,", sizeof(c.elevation_role_max_s));
	refuse(&c, false, "elevation.role_max_s: ends with a comma");
	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_string_equal(back.elevation_role_max_s, "");
	util_strlcpy(c.elevation_role_max_s, "key_admin=1800", sizeof(c.elevation_role_max_s));
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_string_equal(back.elevation_role_max_s, "key_admin=1800");
	unlink(path);
	rmdir(dir);
}

static void
test_write_load_round_trip(void **state)
{
	struct pv_config c, back;
	char dir[512], path[600], err[256] = "";
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat sb;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	util_strlcpy(c.region, "eu-west", sizeof(c.region));
	util_strlcpy(c.allowed_regions, "eu-west, local", sizeof(c.allowed_regions));
	util_strlcpy(c.store_url, "host=db password=a;b", sizeof(c.store_url));
	util_strlcpy(c.tls_key, "/etc/phivault/key.pem", sizeof(c.tls_key));
	c.mfa_required = CONFIG_MFA_ADMINS;
	c.argon2_memlimit = 65536 * 1024;
	c.threads = 3;
	c.store_max_connections = 7;
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);

	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(util_file_read(path, 1 << 20, &buf, &len), PV_OK);
	/* paths under the data directory are written relative to it */
	assert_non_null(strstr((char *)buf, "\ncert = tls/cert.pem\n"));
	assert_non_null(strstr((char *)buf, "\nkey = /etc/phivault/key.pem\n"));
	assert_non_null(strstr((char *)buf, "\nmfa_required = admins\n"));
	assert_non_null(strstr((char *)buf, "\nargon2_memlimit_kib = 65536\n"));
	assert_non_null(strstr((char *)buf, "\nmax_connections = 7\n"));
	free(buf);

	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_config_equal(&back, &c);
	assert_int_equal(config_validate(&back, false, err, sizeof(err)), PV_OK);

	/* values that cannot live on one INI line are refused */
	util_strlcpy(c.store_url, "host=db\n[auth]\nmfa_required = off", sizeof(c.store_url));
	assert_int_equal(config_write(&c, path), PV_E_INVALID);

	unlink(path);
	rmdir(dir);
}

static void
test_load(void **state)
{
	struct pv_config c, before;
	char dir[512], path[600], err[256] = "";
	FILE *f;

	(void)state;
	make_tmpdir(dir, sizeof(dir));
	/* no file: secure defaults */
	assert_int_equal(config_load(dir, &c, err, sizeof(err)), PV_OK);
	config_defaults(&before, dir);
	assert_config_equal(&c, &before);

	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[session]\nidle_timeout_s = 300\n[tls]\nmin_verison = 1.3\n", f);
	fclose(f);
	before = c;
	assert_int_equal(config_load(dir, &c, err, sizeof(err)), PV_E_CONFIG);
	assert_string_equal(err, "phivault.conf:4: unknown key [tls] min_verison");
	assert_memory_equal(&c, &before, sizeof(c));

	unlink(path);
	rmdir(dir);
}

/* [sinks]: targets, plain TCP only to loopback (or --dev), https webhooks
 * (http:// only with --dev), bounds; the keys parse and round-trip. */
static void
test_sinks_keys(void **state)
{
	struct pv_config c, back;
	char err[256] = "", dir[512], path[600];
	const char *text = "[sinks]\nsyslog = tls://siem.example:6514\n"
	    "cef = tcp://127.0.0.1:1514\nocsf_file = audit.ocsf.jsonl\n"
	    "webhook = https://hooks.example/audit\nca_file = /etc/ssl/siem-ca.pem\n"
	    "max_message_bytes = 4096\nretry_max_ms = 1000\ntimeout_ms = 250\n";

	(void)state;
	FRESH(c);
	assert_int_equal(c.sinks_max_message_bytes, 8192);
	assert_int_equal(c.sinks_retry_max_ms, 30000);
	assert_int_equal(c.sinks_timeout_ms, 5000);
	assert_string_equal(c.sinks_syslog, "");
	accept_cfg(&c, false);
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	assert_string_equal(c.sinks_syslog, "tls://siem.example:6514");
	assert_string_equal(c.sinks_ocsf_file, "/data/audit.ocsf.jsonl");
	assert_int_equal(c.sinks_max_message_bytes, 4096);
	accept_cfg(&c, false);

	FRESH(c); util_strlcpy(c.sinks_syslog, "udp://h:514", sizeof(c.sinks_syslog));
	refuse(&c, true, "sinks.syslog = udp://h:514 is not tcp://HOST:PORT");
	FRESH(c); util_strlcpy(c.sinks_cef, "tls://h", sizeof(c.sinks_cef));
	refuse(&c, true, "sinks.cef = tls://h is not");
	FRESH(c); util_strlcpy(c.sinks_cef, "tls://h:0", sizeof(c.sinks_cef));
	refuse(&c, true, "sinks.cef");
	FRESH(c); util_strlcpy(c.sinks_syslog, "tcp://siem.example:514", sizeof(c.sinks_syslog));
	refuse(&c, false, "plain tcp:// is allowed only to a loopback receiver");
	accept_cfg(&c, true);
	FRESH(c); util_strlcpy(c.sinks_webhook, "http://hooks.example/a", sizeof(c.sinks_webhook));
	refuse(&c, false, "sinks.webhook = http://hooks.example/a is not an https:// URL "
	    "(http:// is allowed only with --dev)");
	accept_cfg(&c, true);
	FRESH(c); util_strlcpy(c.sinks_webhook, "ftp://x", sizeof(c.sinks_webhook));
	refuse(&c, true, "sinks.webhook");
	FRESH(c); c.sinks_max_message_bytes = 512;
	refuse(&c, false, "sinks.max_message_bytes = 512");
	FRESH(c); c.sinks_retry_max_ms = 10;
	refuse(&c, false, "sinks.retry_max_ms = 10");
	FRESH(c); c.sinks_timeout_ms = 0;
	refuse(&c, false, "sinks.timeout_ms = 0");

	/* written by init and read back */
	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	util_strlcpy(c.sinks_syslog, "tls://siem.example:6514", sizeof(c.sinks_syslog));
	snprintf(c.sinks_ocsf_file, sizeof(c.sinks_ocsf_file), "%s/audit.ocsf.jsonl", dir);
	util_strlcpy(c.sinks_ca_file, "/etc/ssl/siem-ca.pem", sizeof(c.sinks_ca_file));
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_config_equal(&back, &c);
	config_defaults(&c, dir);   /* unset paths are written as comments */
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_config_equal(&back, &c);
	unlink(path);
	rmdir(dir);
}

/* [pkcs11]: the HSM of the pkcs11 seal; parses, and round-trips through
 * config_write (unset labels and PIN file are left out, not written empty). */
/* [server] node (issue 15): empty = the host name; names only. */
static void
test_server_node(void **state)
{
	struct pv_config c;
	char err[256] = "";

	(void)state;
	FRESH(c);
	assert_string_equal(c.node, "");
	accept_cfg(&c, false);
	assert_int_equal(parse_str(&c, "[server]\nnode = node-b.eu_1\n", err, sizeof(err)), PV_OK);
	assert_string_equal(c.node, "node-b.eu_1");
	accept_cfg(&c, false);
	FRESH(c);
	util_strlcpy(c.node, "node b", sizeof(c.node));
	refuse(&c, true, "server.node may hold only letters");
	FRESH(c);
	util_strlcpy(c.node, "a/b", sizeof(c.node));
	refuse(&c, false, "server.node may hold only letters");
}

static void
test_pkcs11_keys(void **state)
{
	struct pv_config c, back;
	char err[256] = "", dir[512], path[600];
	const char *text = "[pkcs11]\nmodule = /usr/lib/softhsm/libsofthsm2.so\n"
	    "token_label = phivault\npin_file = hsm.pin\nkey_label = phivault-seal\n";
	const char *toolong = "[pkcs11]\ntoken_label = 0123456789abcdef0123456789abcdefX\n";

	(void)state;
	FRESH(c);
	assert_string_equal(c.pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so");
	assert_string_equal(c.pkcs11_token_label, "");
	assert_int_equal(config_parse(text, strlen(text), &c, err, sizeof(err)), PV_OK);
	assert_string_equal(c.pkcs11_token_label, "phivault");
	assert_string_equal(c.pkcs11_pin_file, "/data/hsm.pin");
	assert_string_equal(c.pkcs11_key_label, "phivault-seal");
	accept_cfg(&c, false);
	FRESH(c);
	assert_int_not_equal(config_parse(toolong, strlen(toolong), &c, err, sizeof(err)), PV_OK);

	make_tmpdir(dir, sizeof(dir));
	config_defaults(&c, dir);
	snprintf(path, sizeof(path), "%s/phivault.conf", dir);
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_config_equal(&back, &c);
	util_strlcpy(c.pkcs11_token_label, "phivault", sizeof(c.pkcs11_token_label));
	util_strlcpy(c.pkcs11_key_label, "phivault-seal", sizeof(c.pkcs11_key_label));
	snprintf(c.pkcs11_pin_file, sizeof(c.pkcs11_pin_file), "/etc/phivault/hsm.pin");
	assert_int_equal(config_write(&c, path), PV_OK);
	assert_int_equal(config_load(dir, &back, err, sizeof(err)), PV_OK);
	assert_config_equal(&back, &c);
	assert_string_equal(back.pkcs11_module, c.pkcs11_module);
	assert_string_equal(back.pkcs11_token_label, "phivault");
	assert_string_equal(back.pkcs11_pin_file, "/etc/phivault/hsm.pin");
	assert_string_equal(back.pkcs11_key_label, "phivault-seal");
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_api),
		cmocka_unit_test(test_parse_overrides),
		cmocka_unit_test(test_parse_errors_name_the_line),
		cmocka_unit_test(test_parse_bad_values),
		cmocka_unit_test(test_validate_refuses_insecure),
		cmocka_unit_test(test_validate_dev_relaxations),
		cmocka_unit_test(test_region_allowed),
		cmocka_unit_test(test_sinks_keys),
		cmocka_unit_test(test_pkcs11_keys),
		cmocka_unit_test(test_server_node),
		cmocka_unit_test(test_write_load_round_trip),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_detect_keys),
		cmocka_unit_test(test_secrets_keys),
		cmocka_unit_test(test_elevation_role_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
