/*
 * config: DIR/phivault.conf (INI, libinih), its secure defaults (API.md
 * "Configuration"), validation and writing.
 *
 * Invariants:
 *  - Every key has a default equal to API.md; config_defaults is the only
 *    place defaults live.
 *  - Parsing is strict: an unknown section or key, a duplicate key, an
 *    indented (continuation) line, a malformed number, a value too long for
 *    its field, a line too long for libinih or a NUL byte is an error naming
 *    the line ("phivault.conf:7: unknown key [tls] min_versoin"). A typo
 *    never falls back to a default silently.
 *  - config_parse / config_load write *c only on success.
 *  - Relative paths are resolved against the data directory when parsed;
 *    config_write writes them back relative to it.
 *  - config_validate refuses insecure values and names the key and why.
 *    Dev mode relaxes only usability limits (MFA off, session lengths,
 *    password length), never transport security, audit or hashing cost.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ini.h>
#include <jansson.h>

#include "config/config.h"
#include "crypto/crypto.h"

#define CONF_NAME "phivault.conf"
#define CONF_FILE_MAX (1u << 20)

enum key_kind { K_STR, K_PATH, K_SIZE, K_UINT, K_INT, K_ULL, K_KIB, K_MFA };

struct key_def {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off;
	size_t size;   /* buffer size for K_STR / K_PATH */
};

#define F(field) offsetof(struct pv_config, field), sizeof(((struct pv_config *)0)->field)

static const struct key_def keys[] = {
	{ "server", "listen", K_STR, F(listen) },
	{ "server", "max_body_bytes", K_SIZE, F(max_body_bytes) },
	{ "server", "region", K_STR, F(region) },
	{ "server", "threads", K_UINT, F(threads) },
	{ "server", "max_connections_per_ip", K_UINT, F(max_connections_per_ip) },
	{ "server", "handshake_timeout_s", K_UINT, F(handshake_timeout_s) },
	{ "server", "admin_listen", K_STR, F(admin_listen) },
	{ "server", "allow", K_STR, F(server_allow) },
	{ "server", "admin_allow", K_STR, F(admin_allow) },
	{ "server", "public", K_STR, F(server_public) },
	{ "tls", "cert", K_PATH, F(tls_cert) },
	{ "tls", "key", K_PATH, F(tls_key) },
	{ "tls", "min_version", K_STR, F(tls_min_version) },
	{ "session", "idle_timeout_s", K_INT, F(idle_timeout_s) },
	{ "session", "absolute_timeout_s", K_INT, F(absolute_timeout_s) },
	{ "auth", "lockout_threshold", K_INT, F(lockout_threshold) },
	{ "auth", "lockout_window_s", K_INT, F(lockout_window_s) },
	{ "auth", "lockout_duration_s", K_INT, F(lockout_duration_s) },
	{ "auth", "mfa_required", K_MFA, F(mfa_required) },
	{ "auth", "password_min_length", K_INT, F(password_min_length) },
	{ "auth", "argon2_opslimit", K_ULL, F(argon2_opslimit) },
	{ "auth", "argon2_memlimit_kib", K_KIB, F(argon2_memlimit) },
	{ "auth", "one_time_password_ttl_s", K_INT, F(one_time_password_ttl_s) },
	{ "audit", "checkpoint_every", K_INT, F(checkpoint_every) },
	{ "audit", "checkpoint_interval_s", K_INT, F(checkpoint_interval_s) },
	{ "store", "backend", K_STR, F(store_backend) },
	{ "store", "url", K_STR, F(store_url) },
	{ "store", "max_connections", K_UINT, F(store_max_connections) },
	{ "store", "epoch", K_STR, F(store_epoch) },
	{ "policy", "allowed_regions", K_STR, F(allowed_regions) },
	{ "auth", "password_dictionary", K_PATH, F(password_dictionary) },
	{ "server", "seccomp", K_STR, F(seccomp) },
	{ "server", "jobs_step_pause_ms", K_INT, F(jobs_step_pause_ms) },
	{ "server", "jobs_max_steps_per_s", K_INT, F(jobs_max_steps_per_s) },
	{ "server", "jobs_lease_s", K_INT, F(jobs_lease_s) },
	{ "metrics", "enabled", K_STR, F(metrics_enabled) },
	{ "metrics", "listen", K_STR, F(metrics_listen) },
	{ "apps", "token_ttl_s", K_INT, F(app_token_ttl_s) },
	{ "apps", "cert_ttl_s", K_INT, F(app_cert_ttl_s) },
	{ "sinks", "syslog", K_STR, F(sinks_syslog) },
	{ "sinks", "cef", K_STR, F(sinks_cef) },
	{ "sinks", "ocsf_file", K_PATH, F(sinks_ocsf_file) },
	{ "sinks", "webhook", K_STR, F(sinks_webhook) },
	{ "sinks", "ca_file", K_PATH, F(sinks_ca_file) },
	{ "sinks", "max_message_bytes", K_SIZE, F(sinks_max_message_bytes) },
	{ "sinks", "retry_max_ms", K_INT, F(sinks_retry_max_ms) },
	{ "sinks", "timeout_ms", K_INT, F(sinks_timeout_ms) },
	{ "detect", "enabled", K_STR, F(detect_enabled) },
	{ "detect", "brute_force_failures", K_INT, F(detect_brute_force_failures) },
	{ "detect", "brute_force_window_s", K_INT, F(detect_brute_force_window_s) },
	{ "detect", "spray_accounts", K_INT, F(detect_spray_accounts) },
	{ "detect", "spray_window_s", K_INT, F(detect_spray_window_s) },
	{ "detect", "baseline_min_logins", K_INT, F(detect_baseline_min_logins) },
	{ "detect", "unusual_hour_min_logins", K_INT, F(detect_unusual_hour_min_logins) },
	{ "detect", "unusual_hour_margin_h", K_INT, F(detect_unusual_hour_margin_h) },
	{ "detect", "mfa_failures", K_INT, F(detect_mfa_failures) },
	{ "detect", "mfa_window_s", K_INT, F(detect_mfa_window_s) },
	{ "detect", "bulk_read_window_s", K_INT, F(detect_bulk_read_window_s) },
	{ "detect", "bulk_read_max", K_INT, F(detect_bulk_read_max) },
	{ "detect", "bulk_read_factor", K_INT, F(detect_bulk_read_factor) },
	{ "detect", "bulk_read_min", K_INT, F(detect_bulk_read_min) },
	{ "detect", "bulk_read_min_windows", K_INT, F(detect_bulk_read_min_windows) },
	{ "detect", "enumeration_max", K_INT, F(detect_enumeration_max) },
	{ "detect", "enumeration_window_s", K_INT, F(detect_enumeration_window_s) },
	{ "detect", "change_read_window_s", K_INT, F(detect_change_read_window_s) },
	{ "pkcs11", "module", K_PATH, F(pkcs11_module) },
	{ "pkcs11", "token_label", K_STR, F(pkcs11_token_label) },
	{ "pkcs11", "pin_file", K_PATH, F(pkcs11_pin_file) },
	{ "pkcs11", "key_label", K_STR, F(pkcs11_key_label) },
	{ "pkcs11", "kek_default", K_STR, F(pkcs11_kek_default) },
	{ "detect", "decrypt_failures", K_INT, F(detect_decrypt_failures) },
	{ "detect", "decrypt_window_s", K_INT, F(detect_decrypt_window_s) },
	{ "detect", "sink_lag_check_s", K_INT, F(detect_sink_lag_check_s) },
	{ "detect", "sink_lag_max", K_INT, F(detect_sink_lag_max) },
	{ "detect", "sink_lag_for_s", K_INT, F(detect_sink_lag_for_s) },
	{ "compliance", "inactive_days", K_INT, F(compliance_inactive_days) },
	{ "compliance", "key_rotation_days", K_INT, F(compliance_key_rotation_days) },
	{ "backup", "dir", K_PATH, F(backup_dir) },
	{ "backup", "region", K_STR, F(backup_region) },
	{ "backup", "every_s", K_INT, F(backup_every_s) },
	{ "backup", "keep", K_INT, F(backup_keep) },
	{ "backup", "immutable_days", K_INT, F(backup_immutable_days) },
	{ "backup", "drill_every_s", K_INT, F(backup_drill_every_s) },
	{ "server", "public_url", K_STR, F(public_url) },
	{ "retention", "every_s", K_INT, F(retention_every_s) },
	{ "export", "keep_s", K_INT, F(export_keep_s) },
	{ "audit", "retention_days", K_INT, F(audit_retention_days) },
	{ "secrets", "max_versions", K_INT, F(secrets_max_versions) },
	{ "approvals", "expire_s", K_INT, F(approvals_expire_s) },
	{ "elevation", "max_s", K_INT, F(elevation_max_s) },
	{ "server", "node", K_STR, F(node) },
	{ "oidc", "issuer", K_STR, F(oidc_issuer) },
	{ "oidc", "client_id", K_STR, F(oidc_client_id) },
	{ "oidc", "client_secret_file", K_PATH, F(oidc_client_secret_file) },
	{ "oidc", "scopes", K_STR, F(oidc_scopes) },
	{ "oidc", "groups_claim", K_STR, F(oidc_groups_claim) },
	{ "oidc", "ca_file", K_PATH, F(oidc_ca_file) },
	{ "oidc", "mfa_from_amr", K_STR, F(oidc_mfa_from_amr) },
	{ "oidc", "create_users", K_STR, F(oidc_create_users) },
	{ "oidc", "local_passwords", K_STR, F(oidc_local_passwords) },
	{ "oidc", "redirect_url", K_STR, F(oidc_redirect_url) },
	{ "oidc", "group_map", K_STR, F(oidc_group_map) },
	{ "oidc", "clock_skew_s", K_INT, F(oidc_clock_skew_s) },
	{ "breakglass", "max_s", K_INT, F(breakglass_max_s) },
	{ "breakglass", "review_due_s", K_INT, F(breakglass_review_due_s) },
	{ "elevation", "role_max_s", K_STR, F(elevation_role_max_s) },
	{ "reviews", "on_due", K_STR, F(reviews_on_due) },
	{ "reviews", "campaign_every_s", K_INT, F(reviews_campaign_every_s) },
	{ "reviews", "campaign_scope", K_STR, F(reviews_campaign_scope) },
	{ "reviews", "campaign_due_s", K_INT, F(reviews_campaign_due_s) },
	{ "reviews", "unused_days", K_INT, F(reviews_unused_days) },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = { "server", "tls", "session", "auth", "audit", "store", "policy",
	"metrics", "sinks", "detect", "apps", "pkcs11", "compliance", "backup", "retention", "secrets", "approvals", "oidc", "elevation", "breakglass", "export", "reviews" };

void
config_defaults(struct pv_config *c, const char *datadir)
{
	memset(c, 0, sizeof(*c));
	util_strlcpy(c->datadir, datadir && *datadir ? datadir : ".", sizeof(c->datadir));
	util_strlcpy(c->listen, "127.0.0.1:8443", sizeof(c->listen));
	c->max_body_bytes = 1048576;
	util_strlcpy(c->region, "local", sizeof(c->region));
	util_strlcpy(c->public_url, "https://localhost:8443", sizeof(c->public_url));
	c->threads = 2;
	c->max_connections_per_ip = 32;
	c->handshake_timeout_s = 5;
	util_strlcpy(c->server_public, "off", sizeof(c->server_public));
	if (util_path_join(c->tls_cert, sizeof(c->tls_cert), c->datadir, "tls/cert.pem") != 0)
		c->tls_cert[0] = '\0';
	if (util_path_join(c->tls_key, sizeof(c->tls_key), c->datadir, "tls/key.pem") != 0)
		c->tls_key[0] = '\0';
	util_strlcpy(c->tls_min_version, "1.2", sizeof(c->tls_min_version));
	c->idle_timeout_s = 900;
	c->absolute_timeout_s = 43200;
	c->lockout_threshold = 5;
	c->lockout_window_s = 900;
	c->lockout_duration_s = 900;
	c->mfa_required = CONFIG_MFA_ALL;
	c->password_min_length = 12;
	util_strlcpy(c->password_dictionary, "/var/cache/cracklib/cracklib_dict",
	    sizeof(c->password_dictionary));
	util_strlcpy(c->seccomp, "on", sizeof(c->seccomp));
	/* OWASP Password Storage Cheat Sheet: Argon2id m=19 MiB, t=2, p=1 */
	c->argon2_opslimit = 2;
	c->argon2_memlimit = (size_t)19456 * 1024;
	c->one_time_password_ttl_s = 86400;
	c->checkpoint_every = 1000;
	c->checkpoint_interval_s = 60;
	c->retention_every_s = 86400;
	c->export_keep_s = 86400;
	c->audit_retention_days = 2190;
	util_strlcpy(c->store_backend, "sqlite", sizeof(c->store_backend));
	c->store_url[0] = '\0';
	c->store_max_connections = 0;   /* 2 x online CPUs + 2 (store.h) */
	util_strlcpy(c->store_epoch, "row", sizeof(c->store_epoch));
	util_strlcpy(c->allowed_regions, "local", sizeof(c->allowed_regions));
	c->jobs_step_pause_ms = 5;
	c->jobs_max_steps_per_s = 100;
	c->jobs_lease_s = 30;
	util_strlcpy(c->backup_region, "local", sizeof(c->backup_region));
	c->backup_every_s = 0;
	c->backup_keep = 14;
	c->backup_immutable_days = 30;
	c->backup_drill_every_s = 86400;
	util_strlcpy(c->metrics_enabled, "on", sizeof(c->metrics_enabled));
	c->metrics_listen[0] = '\0';
	c->app_token_ttl_s = 900;
	c->approvals_expire_s = 604800;
	util_strlcpy(c->oidc_scopes, "openid profile email", sizeof(c->oidc_scopes));
	util_strlcpy(c->oidc_groups_claim, "groups", sizeof(c->oidc_groups_claim));
	util_strlcpy(c->oidc_mfa_from_amr, "off", sizeof(c->oidc_mfa_from_amr));
	util_strlcpy(c->oidc_create_users, "off", sizeof(c->oidc_create_users));
	util_strlcpy(c->oidc_local_passwords, "on", sizeof(c->oidc_local_passwords));
	c->oidc_clock_skew_s = 60;
	c->elevation_max_s = 3600;
	c->breakglass_max_s = 3600;
	c->breakglass_review_due_s = 259200;
	util_strlcpy(c->reviews_on_due, "remove", sizeof(c->reviews_on_due));
	c->reviews_campaign_every_s = 0;
	util_strlcpy(c->reviews_campaign_scope, "phi_access", sizeof(c->reviews_campaign_scope));
	c->reviews_campaign_due_s = 1209600;
	c->reviews_unused_days = 90;
	c->app_cert_ttl_s = 86400;
	c->sinks_max_message_bytes = 8192;   /* RFC 5425 section 4.3.1: receivers SHOULD take 8192 */
	c->sinks_retry_max_ms = 30000;
	c->sinks_timeout_ms = 5000;
	util_strlcpy(c->detect_enabled, "on", sizeof(c->detect_enabled));
	util_strlcpy(c->pkcs11_kek_default, "off", sizeof(c->pkcs11_kek_default));
	c->detect_brute_force_failures = 10;
	c->detect_brute_force_window_s = 300;
	c->detect_spray_accounts = 10;
	c->detect_spray_window_s = 600;
	c->detect_baseline_min_logins = 5;
	c->detect_unusual_hour_min_logins = 20;
	c->detect_unusual_hour_margin_h = 3;
	c->detect_mfa_failures = 3;
	c->detect_mfa_window_s = 600;
	c->detect_bulk_read_window_s = 300;
	c->detect_bulk_read_max = 1000;
	c->detect_bulk_read_factor = 10;
	c->detect_bulk_read_min = 100;
	c->detect_bulk_read_min_windows = 5;
	c->detect_enumeration_max = 100;
	c->detect_enumeration_window_s = 300;
	c->detect_change_read_window_s = 3600;
	util_strlcpy(c->pkcs11_module, "/usr/lib/softhsm/libsofthsm2.so", sizeof(c->pkcs11_module));
	c->detect_decrypt_failures = 5;
	c->detect_decrypt_window_s = 300;
	c->detect_sink_lag_check_s = 30;
	c->detect_sink_lag_max = 10000;
	c->detect_sink_lag_for_s = 300;
	c->compliance_inactive_days = 90;
	c->compliance_key_rotation_days = 365;
	c->secrets_max_versions = 10;
}

/* ---- parsing ---- */

struct parse_state {
	struct pv_config *c;
	const char *text;          /* NUL-terminated copy */
	const char *pos;
	int line;                  /* line the reader returned last */
	bool indented;             /* that line starts with white space */
	int err_line;
	char err[256];
	bool seen[NKEYS];
};

static void
parse_fail(struct parse_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
parse_fail(struct parse_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err_line != 0)
		return;   /* the first error is the one to fix */
	st->err_line = st->line;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

/* A "[section]" line must name a known section and carry nothing but a
 * comment after it: libinih ignores text after ']' and accepts empty
 * unknown sections, both of which would hide a typo. */
static void
check_section(struct parse_state *st, const char *l, size_t len)
{
	const char *end = l + len, *rb;
	size_t i, n;

	while (l < end && (*l == ' ' || *l == '\t'))
		l++;
	if (l == end || *l != '[')
		return;
	rb = memchr(l, ']', (size_t)(end - l));
	if (rb == NULL)
		return;   /* libinih reports the syntax error */
	n = (size_t)(rb - l - 1);
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strlen(sections[i]) == n && memcmp(sections[i], l + 1, n) == 0)
			break;
	if (i == sizeof(sections) / sizeof(sections[0])) {
		parse_fail(st, "unknown section [%.*s]", (int)(n > 64 ? 64 : n), l + 1);
		return;
	}
	for (rb++; rb < end && (*rb == ' ' || *rb == '\t' || *rb == '\r' || *rb == '\n'); rb++)
		;
	if (rb < end && *rb != ';' && *rb != '#')
		parse_fail(st, "text after the section header [%.*s]", (int)n, l + 1);
}

/* libinih reader: one line per call, so st->line is the handler's line.
 * A line that does not fit libinih's buffer would be split silently, with
 * its tail parsed as a line of its own: refuse it instead. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	const char *nl;
	size_t len, full;

	if (*st->pos == '\0' || num < 4)
		return NULL;
	st->line++;
	nl = strchr(st->pos, '\n');
	full = nl ? (size_t)(nl - st->pos) + 1 : strlen(st->pos);
	if (full > (size_t)num - 2) {
		parse_fail(st, "line longer than %d bytes", num - 3);
		str[0] = '#';   /* hand libinih a comment in its place */
		str[1] = '\0';
		st->pos += full;
		return str;
	}
	len = full;
	check_section(st, st->pos, len);
	memcpy(str, st->pos, len);
	str[len] = '\0';
	st->indented = len > 0 && (st->pos[0] == ' ' || st->pos[0] == '\t');
	st->pos += full;
	return str;
}

/* Strict decimal integer in [min, max]. */
static bool
parse_ll(const char *v, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	if (v == NULL || *v == '\0' || isspace((unsigned char)*v) || *v == '+')
		return false;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static bool
parse_ull(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long n;

	if (v == NULL || *v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return false;
	*out = n;
	return true;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	const struct key_def *k = NULL;
	char *field;
	size_t i;
	long long ll;
	unsigned long long ull;
	bool known_section = false;

	if (st->indented) {
		parse_fail(st, "indented line: continuation lines are not allowed");
		return 0;
	}
	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(section, sections[i]) == 0)
			known_section = true;
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(section, keys[i].section) == 0 && strcmp(name, keys[i].name) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (k == NULL) {
		if (known_section)
			parse_fail(st, "unknown key [%s] %s", section, name);
		else if (section[0] == '\0')
			parse_fail(st, "unknown key [] %s (keys belong in a [section])", name);
		else
			parse_fail(st, "unknown key [%s] %s (no section [%s])", section, name, section);
		return 0;
	}
	if (st->seen[i]) {
		parse_fail(st, "duplicate key [%s] %s", section, name);
		return 0;
	}
	st->seen[i] = true;
	field = (char *)st->c + k->off;

	switch (k->kind) {
	case K_STR:
		if (strlen(value) >= k->size) {
			parse_fail(st, "[%s] %s: value longer than %zu bytes", section, name, k->size - 1);
			return 0;
		}
		memset(field, 0, k->size);
		memcpy(field, value, strlen(value));
		break;
	case K_PATH:
		memset(field, 0, k->size);
		if (value[0] == '\0' ||
		    util_path_join(field, k->size, st->c->datadir, value) != 0) {
			parse_fail(st, "[%s] %s: empty or too long path", section, name);
			return 0;
		}
		break;
	case K_SIZE:
		if (!parse_ull(value, SIZE_MAX, &ull))
			goto bad_number;
		*(size_t *)(void *)field = (size_t)ull;
		break;
	case K_UINT:
		if (!parse_ull(value, UINT_MAX, &ull))
			goto bad_number;
		*(unsigned *)(void *)field = (unsigned)ull;
		break;
	case K_INT:
		if (!parse_ll(value, INT_MIN, INT_MAX, &ll))
			goto bad_number;
		*(int *)(void *)field = (int)ll;
		break;
	case K_ULL:
		if (!parse_ull(value, ULLONG_MAX, &ull))
			goto bad_number;
		*(unsigned long long *)(void *)field = ull;
		break;
	case K_KIB:
		if (!parse_ull(value, SIZE_MAX / 1024, &ull))
			goto bad_number;
		*(size_t *)(void *)field = (size_t)ull * 1024;
		break;
	case K_MFA:
		if (strcmp(value, "all") == 0)
			st->c->mfa_required = CONFIG_MFA_ALL;
		else if (strcmp(value, "admins") == 0)
			st->c->mfa_required = CONFIG_MFA_ADMINS;
		else if (strcmp(value, "off") == 0)
			st->c->mfa_required = CONFIG_MFA_OFF;
		else {
			parse_fail(st, "[%s] %s must be all, admins or off", section, name);
			return 0;
		}
		break;
	}
	return 1;
bad_number:
	parse_fail(st, "[%s] %s is not a valid %s", section, name,
	    k->kind == K_INT ? "integer" : "non-negative integer");
	return 0;
}

static void
set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

enum pv_rc
config_parse(const char *text, size_t len, struct pv_config *c, char *err, size_t errlen)
{
	struct parse_state *st = NULL;
	struct pv_config *tmp = NULL;
	char *copy = NULL;
	enum pv_rc rc = PV_E_NOMEM;
	int r;

	if (text == NULL || c == NULL)
		return PV_E_INVALID;
	if (memchr(text, '\0', len) != NULL) {
		set_err(err, errlen, CONF_NAME ": NUL byte in the file");
		return PV_E_CONFIG;
	}
	copy = malloc(len + 1);
	tmp = malloc(sizeof(*tmp));
	st = calloc(1, sizeof(*st));
	if (copy == NULL || tmp == NULL || st == NULL)
		goto out;
	memcpy(copy, text, len);
	copy[len] = '\0';
	*tmp = *c;
	st->c = tmp;
	st->text = st->pos = copy;

	r = ini_parse_stream(reader, st, handler, st);
	/* libinih returns its first failing line: ours, or a syntax error before it */
	if (st->err_line != 0 && !(r > 0 && r < st->err_line)) {
		set_err(err, errlen, CONF_NAME ":%d: %s", st->err_line, st->err);
		rc = PV_E_CONFIG;
		goto out;
	}
	if (r != 0) {
		if (r > 0)
			set_err(err, errlen, CONF_NAME ":%d: syntax error (expected [section] or key = value)", r);
		else
			set_err(err, errlen, CONF_NAME ": cannot be parsed");
		rc = r == -2 ? PV_E_NOMEM : PV_E_CONFIG;
		goto out;
	}
	*c = *tmp;
	rc = PV_OK;
out:
	free(copy);
	if (tmp != NULL) {
		/* may hold a database password (store.url) */
		explicit_bzero(tmp, sizeof(*tmp));
		free(tmp);
	}
	free(st);
	return rc;
}

enum pv_rc
config_load(const char *datadir, struct pv_config *c, char *err, size_t errlen)
{
	struct pv_config *tmp;
	char path[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pv_rc rc;

	if (datadir == NULL || c == NULL)
		return PV_E_INVALID;
	tmp = malloc(sizeof(*tmp));
	if (tmp == NULL)
		return PV_E_NOMEM;
	config_defaults(tmp, datadir);
	if (util_path_join(path, sizeof(path), tmp->datadir, CONF_NAME) != 0) {
		set_err(err, errlen, "data directory path too long");
		rc = PV_E_CONFIG;
		goto out;
	}
	rc = util_file_read(path, CONF_FILE_MAX, &buf, &len);
	if (rc == PV_E_NOTFOUND) {
		/* no file: every key keeps its secure default */
		rc = PV_OK;
	} else if (rc != PV_OK) {
		set_err(err, errlen, "%s: cannot read (%s)", path, pv_rc_name(rc));
		rc = PV_E_CONFIG;
		goto out;
	} else {
		rc = config_parse((const char *)buf, len, tmp, err, errlen);
		if (rc != PV_OK)
			goto out;
	}
	*c = *tmp;
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	explicit_bzero(tmp, sizeof(*tmp));
	free(tmp);
	return rc;
}

/* ---- validation ---- */

/* OWASP Password Storage Cheat Sheet, Argon2id: equivalent minimum settings
 * (m=47 MiB t=1, 19 MiB t=2, 12 MiB t=3, 9 MiB t=4, 7 MiB t=5). */
static size_t
argon2_min_mem_kib(unsigned long long t)
{
	switch (t) {
	case 0: return SIZE_MAX;
	case 1: return 47104;
	case 2: return 19456;
	case 3: return 12288;
	case 4: return 9216;
	default: return 7168;
	}
}

/* Next comma-separated, trimmed item of *p; false when done. */
static bool
next_region(const char **p, const char **item, size_t *len)
{
	const char *s = *p, *e;

	while (*s != '\0') {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		e = s;
		while (*e != '\0' && *e != ',')
			e++;
		*p = e;
		*item = s;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		*len = (size_t)(e - s);
		if (*len > 0)
			return true;
		s = *p;
	}
	*p = s;
	return false;
}

bool
config_region_allowed(const struct pv_config *c, const char *region)
{
	const char *p = c->allowed_regions, *item;
	size_t len;

	if (region == NULL || *region == '\0')
		return false;
	while (next_region(&p, &item, &len))
		if (len == strlen(region) && memcmp(item, region, len) == 0)
			return true;
	return false;
}

/* ---- [server] admin_listen, allow, admin_allow, public ---- */

bool
config_listen_is_loopback(const char *listen)
{
	char host[128];
	const char *colon;
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (listen == NULL)
		return false;
	if (listen[0] == '[') {
		colon = strchr(listen, ']');
		if (colon == NULL || (n = (size_t)(colon - listen - 1)) >= sizeof(host))
			return false;
		memcpy(host, listen + 1, n);
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL || (n = (size_t)(colon - listen)) >= sizeof(host))
			return false;
		memcpy(host, listen, n);
	}
	host[n] = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;   /* a name other than localhost, 0.0.0.0, [::]: public */
}

bool
config_planes_split(const struct pv_config *c)
{
	return c->admin_listen[0] != '\0' || !config_listen_is_loopback(c->listen);
}

const char *
config_admin_listen(const struct pv_config *c)
{
	return c->admin_listen[0] != '\0' ? c->admin_listen : CONFIG_ADMIN_LISTEN_DEFAULT;
}

/* "CIDR,CIDR,..." with numeric IPv4/IPv6 networks; the item number of the
 * first bad one, or 0 if all parse (http/allow.c matches them). */
static size_t
allow_bad_item(const char *s)
{
	size_t item = 0;

	while (*s != '\0') {
		char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
		unsigned char a[16];
		unsigned long max, p;
		size_t len;

		while (*s == ',' || *s == ' ')
			s++;
		if (*s == '\0')
			break;
		item++;
		len = strcspn(s, ", ");
		if (len >= sizeof(buf))
			return item;
		memcpy(buf, s, len);
		buf[len] = '\0';
		s += len;
		if ((slash = strchr(buf, '/')) != NULL)
			*slash = '\0';
		if (inet_pton(AF_INET, buf, a) == 1)
			max = 32;
		else if (inet_pton(AF_INET6, buf, a) == 1)
			max = 128;
		else
			return item;
		if (slash != NULL) {
			if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
				return item;
			p = strtoul(slash + 1, &end, 10);
			if (*end != '\0' || p > max)
				return item;
		}
	}
	return 0;
}

static enum pv_rc
planes_validate(const struct pv_config *c, char *err, size_t errlen)
{
#define REFUSE(...) do { set_err(err, errlen, __VA_ARGS__); return PV_E_CONFIG; } while (0)
	bool public_on = strcmp(c->server_public, "on") == 0;
	size_t bad;

	if (!public_on && strcmp(c->server_public, "off") != 0)
		REFUSE("server.public = %s is not on or off", c->server_public);
	/* not relaxed by --dev: binding beyond the host is a decision to write down */
	if (!public_on && !config_listen_is_loopback(c->listen))
		REFUSE("server.listen = %s is not a loopback address: set server.public = on to "
		    "serve beyond this host (management routes then go to server.admin_listen, "
		    "default %s)", c->listen, CONFIG_ADMIN_LISTEN_DEFAULT);
	if (c->admin_listen[0] != '\0') {
		if (strchr(c->admin_listen, ':') == NULL)
			REFUSE("server.admin_listen = %s is not ADDRESS:PORT", c->admin_listen);
		if (!public_on && !config_listen_is_loopback(c->admin_listen))
			REFUSE("server.admin_listen = %s is not a loopback address: set "
			    "server.public = on to manage phivault from beyond this host",
			    c->admin_listen);
		if (strcmp(c->admin_listen, c->listen) == 0)
			REFUSE("server.admin_listen = %s is server.listen (leave it empty to serve "
			    "both planes on one loopback listener)", c->admin_listen);
	}
	if (config_planes_split(c) && strcmp(config_admin_listen(c), c->metrics_listen) == 0)
		REFUSE("metrics.listen = %s is the management listener", c->metrics_listen);
	if ((bad = allow_bad_item(c->server_allow)) != 0)
		REFUSE("server.allow: item %zu is not an IPv4 or IPv6 address or CIDR network "
		    "(a.b.c.d/N, x::y/N)", bad);
	if ((bad = allow_bad_item(c->admin_allow)) != 0)
		REFUSE("server.admin_allow: item %zu is not an IPv4 or IPv6 address or CIDR "
		    "network (a.b.c.d/N, x::y/N)", bad);
	if (c->admin_allow[0] != '\0' && !config_planes_split(c))
		REFUSE("server.admin_allow needs a management listener of its own: set "
		    "server.admin_listen (with one loopback listener, server.allow applies)");
	return PV_OK;
#undef REFUSE
}

/* ---- [metrics] listen ---- */

/* A numeric "a.b.c.d:port" or "[v6]:port" (port 1..65535); *loopback for
 * 127.0.0.0/8 and ::1. */
static bool
metrics_listen_parse(const char *s, bool *loopback)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *end;
	struct in_addr a4;
	struct in6_addr a6;
	unsigned long p;
	size_t n;
	char *ep;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return false;
		n = (size_t)(end - s - 1);
		port = end + 2;
		if (n == 0 || n >= sizeof(host))
			return false;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		*loopback = IN6_IS_ADDR_LOOPBACK(&a6);
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			return false;
		n = (size_t)(end - s);
		port = end + 1;
		if (n == 0 || n >= sizeof(host))
			return false;
		memcpy(host, s, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, &a4) != 1)
			return false;
		*loopback = (ntohl(a4.s_addr) >> 24) == 127;
	}
	if (port[0] < '1' || port[0] > '9' || strlen(port) > 5)
		return false;
	errno = 0;
	p = strtoul(port, &ep, 10);
	return errno == 0 && *ep == '\0' && p >= 1 && p <= 65535;
}

/*
 * A syslog or CEF target: "tcp://HOST:PORT" or "tls://HOST:PORT" ("" = off).
 * Plain TCP leaves the host only for a loopback receiver (a local relay)
 * unless --dev: audit entries hold no PHI, but who did what is still
 * sensitive in transit (45 CFR 164.312(e)).
 */
static enum pv_rc
sink_target_check(const char *v, const char *key, bool dev, char *err, size_t errlen)
{
	const char *hp, *colon;
	char host[256];
	size_t n;
	unsigned long long port;

	if (v[0] == '\0')
		return PV_OK;
	if (util_str_has_prefix(v, "tcp://"))
		hp = v + 6;
	else if (util_str_has_prefix(v, "tls://"))
		hp = v + 6;
	else {
		set_err(err, errlen, "%s = %s is not tcp://HOST:PORT or tls://HOST:PORT", key, v);
		return PV_E_CONFIG;
	}
	colon = strrchr(hp, ':');
	n = colon != NULL ? (size_t)(colon - hp) : 0;
	if (colon == NULL || n == 0 || n >= sizeof(host) || !parse_ull(colon + 1, 65535, &port) ||
	    port == 0 || strchr(colon + 1, '/') != NULL) {
		set_err(err, errlen, "%s = %s is not tcp://HOST:PORT or tls://HOST:PORT", key, v);
		return PV_E_CONFIG;
	}
	memcpy(host, hp, n);
	host[n] = '\0';
	if (!dev && util_str_has_prefix(v, "tcp://") && strcmp(host, "127.0.0.1") != 0 &&
	    strcmp(host, "localhost") != 0 && strcmp(host, "[::1]") != 0) {
		set_err(err, errlen, "%s = %s: plain tcp:// is allowed only to a loopback "
		    "receiver (use tls://, or --dev)", key, v);
		return PV_E_CONFIG;
	}
	return PV_OK;
}

/* [elevation] role_max_s: "role=N, role2=N2" (docs/operations.md). Each
 * role a role name ([a-z][a-z0-9_]{0,62}), at most once; each N 60..86400;
 * at most CONFIG_ROLE_MAX_N items; "" is none. */
enum pv_rc
config_role_max_parse(const char *s, struct config_role_max *out, size_t *n, char *err,
    size_t errlen)
{
#define REFUSE(...) do { set_err(err, errlen, __VA_ARGS__); return PV_E_CONFIG; } while (0)
	const char *q = s != NULL ? s : "";

	*n = 0;
	while (*q != '\0') {
		const char *end, *eq, *a, *b;
		size_t len, rlen, i;
		char num[16], *e;
		long v;

		while (*q == ' ' || *q == '\t')
			q++;
		end = strchr(q, ',');
		len = end != NULL ? (size_t)(end - q) : strlen(q);
		eq = memchr(q, '=', len);
		if (eq == NULL)
			REFUSE("elevation.role_max_s: \"%.*s\" is not ROLE=SECONDS",
			    (int)(len > 64 ? 64 : len), q);
		a = q;
		b = eq;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		rlen = (size_t)(b - a);
		if (rlen == 0 || rlen > 63 || !(a[0] >= 'a' && a[0] <= 'z'))
			REFUSE("elevation.role_max_s: \"%.*s\" is not a role name",
			    (int)(rlen > 64 ? 64 : rlen), a);
		for (i = 0; i < rlen; i++)
			if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= '0' && a[i] <= '9') ||
			    a[i] == '_'))
				REFUSE("elevation.role_max_s: \"%.*s\" is not a role name",
				    (int)rlen, a);
		a = eq + 1;
		b = q + len;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b == a || (size_t)(b - a) >= sizeof(num))
			REFUSE("elevation.role_max_s: %.*s needs a number of seconds", (int)rlen, q);
		memcpy(num, a, (size_t)(b - a));
		num[b - a] = '\0';
		v = strtol(num, &e, 10);
		if (*e != '\0' || num[0] < '0' || num[0] > '9' || v < 60 || v > 86400)
			REFUSE("elevation.role_max_s: %.*s = %s is not from 60 to 86400 (1 day)",
			    (int)rlen, q, num);
		for (i = 0; i < *n; i++)
			if (strlen(out[i].role) == rlen && strncmp(out[i].role, q, rlen) == 0)
				REFUSE("elevation.role_max_s: %.*s is listed twice", (int)rlen, q);
		if (*n >= CONFIG_ROLE_MAX_N)
			REFUSE("elevation.role_max_s: more than %d roles", CONFIG_ROLE_MAX_N);
		memcpy(out[*n].role, q, rlen);
		out[*n].role[rlen] = '\0';
		out[*n].max_s = (int)v;
		(*n)++;
		q += len;
		if (*q == ',') {
			q++;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '\0')
				REFUSE("elevation.role_max_s: ends with a comma%s", "");
		}
	}
	return PV_OK;
#undef REFUSE
}

enum pv_rc
config_validate(const struct pv_config *c, bool dev, char *err, size_t errlen)
{
	const char *p = c->allowed_regions, *item;
	size_t len;

#define REFUSE(...) do { set_err(err, errlen, __VA_ARGS__); return PV_E_CONFIG; } while (0)
	/* transport security: never relaxed (NIST SP 800-52r2 section 3.1) */
	if (strcmp(c->tls_min_version, "1.2") != 0 && strcmp(c->tls_min_version, "1.3") != 0) {
		if (strcmp(c->tls_min_version, "1.0") == 0 || strcmp(c->tls_min_version, "1.1") == 0)
			REFUSE("tls.min_version = %s is below 1.2", c->tls_min_version);
		REFUSE("tls.min_version = %s is not 1.2 or 1.3", c->tls_min_version);
	}
	if (c->tls_cert[0] == '\0')
		REFUSE("tls.cert is empty");
	if (c->tls_key[0] == '\0')
		REFUSE("tls.key is empty");
	if (c->listen[0] == '\0' || strchr(c->listen, ':') == NULL)
		REFUSE("server.listen = %s is not ADDRESS:PORT", c->listen);
	if (planes_validate(c, err, errlen) != PV_OK)
		return PV_E_CONFIG;
	if (c->max_body_bytes < 1024 || c->max_body_bytes > (size_t)64 << 20)
		REFUSE("server.max_body_bytes = %zu is outside 1024 .. 67108864", c->max_body_bytes);
	if (c->threads > 1024)
		REFUSE("server.threads = %u is above 1024", c->threads);
	if (c->max_connections_per_ip < 1 || c->max_connections_per_ip > 1024)
		REFUSE("server.max_connections_per_ip = %u is outside 1 .. 1024",
		    c->max_connections_per_ip);
	if (c->handshake_timeout_s < 1 || c->handshake_timeout_s > 30)
		REFUSE("server.handshake_timeout_s = %u is outside 1 .. 30", c->handshake_timeout_s);

	/* automatic logoff, 45 CFR 164.312(a)(2)(iii) */
	if (c->idle_timeout_s <= 0)
		REFUSE("session.idle_timeout_s = %d disables automatic logoff", c->idle_timeout_s);
	if (!dev && c->idle_timeout_s > 3600)
		REFUSE("session.idle_timeout_s = %d is above 3600 (allowed only with --dev)",
		    c->idle_timeout_s);
	if (c->absolute_timeout_s < c->idle_timeout_s)
		REFUSE("session.absolute_timeout_s = %d is below session.idle_timeout_s = %d",
		    c->absolute_timeout_s, c->idle_timeout_s);
	if (!dev && c->absolute_timeout_s > 86400)
		REFUSE("session.absolute_timeout_s = %d is above 86400 (allowed only with --dev)",
		    c->absolute_timeout_s);

	if (c->mfa_required == CONFIG_MFA_OFF && !dev)
		REFUSE("auth.mfa_required = off is allowed only with --dev");
	if (c->mfa_required != CONFIG_MFA_ALL && c->mfa_required != CONFIG_MFA_ADMINS &&
	    c->mfa_required != CONFIG_MFA_OFF)
		REFUSE("auth.mfa_required has an unknown value");
	/* NIST SP 800-63B section 5.1.1.2: at least 8, allow at least 64 */
	if (c->password_min_length < (dev ? 1 : 8))
		REFUSE("auth.password_min_length = %d is below %d", c->password_min_length, dev ? 1 : 8);
	if (c->password_min_length > 64)
		REFUSE("auth.password_min_length = %d is above 64", c->password_min_length);
	if (c->lockout_threshold < 1 || c->lockout_threshold > 100)
		REFUSE("auth.lockout_threshold = %d is outside 1 .. 100", c->lockout_threshold);
	if (c->lockout_window_s < 1)
		REFUSE("auth.lockout_window_s = %d must be at least 1", c->lockout_window_s);
	if (c->lockout_duration_s < 1)
		REFUSE("auth.lockout_duration_s = %d must be at least 1", c->lockout_duration_s);
	if (c->one_time_password_ttl_s < 60 || c->one_time_password_ttl_s > 30 * 86400)
		REFUSE("auth.one_time_password_ttl_s = %d is outside 60 .. 2592000",
		    c->one_time_password_ttl_s);
	if (c->argon2_opslimit < 1)
		REFUSE("auth.argon2_opslimit = %llu is below 1", c->argon2_opslimit);
	if (c->argon2_memlimit / 1024 < argon2_min_mem_kib(c->argon2_opslimit))
		REFUSE("auth.argon2_memlimit_kib = %zu is below the OWASP minimum of %zu for "
		    "argon2_opslimit = %llu", c->argon2_memlimit / 1024,
		    argon2_min_mem_kib(c->argon2_opslimit), c->argon2_opslimit);

	if (c->checkpoint_every < 1)
		REFUSE("audit.checkpoint_every = %d must be at least 1", c->checkpoint_every);
	if (c->checkpoint_interval_s < 1)
		REFUSE("audit.checkpoint_interval_s = %d must be at least 1", c->checkpoint_interval_s);
	/* six years (45 CFR 164.316(b)(2)(i)); upward only outside --dev */
	if (c->audit_retention_days < (dev ? 1 : 2190) || c->audit_retention_days > 36500)
		REFUSE("audit.retention_days = %d is outside %d .. 36500 (HIPAA keeps six years)",
		    c->audit_retention_days, dev ? 1 : 2190);
	if (c->retention_every_s < (dev ? 1 : 60) || c->retention_every_s > 31536000)
		REFUSE("retention.every_s = %d is outside %d .. 31536000", c->retention_every_s,
		    dev ? 1 : 60);
	/* an export is bulk patient-derived data: kept at most 30 days */
	if (c->export_keep_s < 60 || c->export_keep_s > 2592000)
		REFUSE("export.keep_s = %d is outside 60 .. 2592000 (30 days)", c->export_keep_s);

	if (strcmp(c->store_backend, "sqlite") != 0 && strcmp(c->store_backend, "postgres") != 0)
		REFUSE("store.backend = %s is not sqlite or postgres", c->store_backend);
	if (strcmp(c->store_backend, "postgres") == 0 && c->store_url[0] == '\0')
		REFUSE("store.url is required with store.backend = postgres");
	if (c->store_max_connections > 1024)
		REFUSE("store.max_connections = %u is above 1024", c->store_max_connections);
	if (strcmp(c->store_epoch, "row") != 0 && strcmp(c->store_epoch, "notify") != 0)
		REFUSE("store.epoch = %s is not row or notify", c->store_epoch);
	for (const char *q = c->node; *q != '\0'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == '_'))
			REFUSE("server.node may hold only letters, digits, '.', '-' and '_'");

	if (!next_region(&p, &item, &len))
		REFUSE("policy.allowed_regions is empty");
	if (!config_region_allowed(c, c->region))
		REFUSE("server.region = %s is not in policy.allowed_regions", c->region);
	if (c->password_dictionary[0] == '\0')
		REFUSE("auth.password_dictionary is empty");
	if (strcmp(c->seccomp, "on") != 0 && strcmp(c->seccomp, "off") != 0)
		REFUSE("server.seccomp = %s is not on or off", c->seccomp);
	if (c->backup_every_s < 0 || c->backup_every_s > 31622400)
		REFUSE("backup.every_s = %d is not from 0 (off) to 31622400", c->backup_every_s);
	if (c->backup_keep < 1 || c->backup_keep > 100000)
		REFUSE("backup.keep = %d is not from 1 to 100000", c->backup_keep);
	if (c->backup_immutable_days < 0 || c->backup_immutable_days > 36500)
		REFUSE("backup.immutable_days = %d is not from 0 to 36500", c->backup_immutable_days);
	if (c->backup_drill_every_s < 0 || c->backup_drill_every_s > 31622400)
		REFUSE("backup.drill_every_s = %d is not from 0 (off) to 31622400",
		    c->backup_drill_every_s);
	if (c->backup_region[0] == '\0')
		REFUSE("backup.region is empty");
	{
		char o[256], h[256];

		if (config_public_url_parts(c->public_url, o, sizeof(o), h, sizeof(h)) != PV_OK)
			REFUSE("server.public_url = %s is not https://HOST[:PORT]", c->public_url);
		if (!dev && strncmp(c->public_url, "https://", 8) != 0)
			REFUSE("server.public_url = %s must be https:// (http:// only with --dev)",
			    c->public_url);
	}
	if (!dev && strcmp(c->seccomp, "off") == 0)
		REFUSE("server.seccomp = off is allowed only with --dev");
	if (c->jobs_step_pause_ms < 0 || c->jobs_step_pause_ms > 60000)
		REFUSE("server.jobs_step_pause_ms = %d is not from 0 to 60000", c->jobs_step_pause_ms);
	if (c->jobs_max_steps_per_s < 1 || c->jobs_max_steps_per_s > 100000)
		REFUSE("server.jobs_max_steps_per_s = %d is not from 1 to 100000",
		    c->jobs_max_steps_per_s);
	if (c->jobs_lease_s < 1 || c->jobs_lease_s > 86400)
		REFUSE("server.jobs_lease_s = %d is not from 1 to 86400", c->jobs_lease_s);
	if (strcmp(c->metrics_enabled, "on") != 0 && strcmp(c->metrics_enabled, "off") != 0)
		REFUSE("metrics.enabled = %s is not on or off", c->metrics_enabled);
	if (c->app_token_ttl_s < 60 || c->app_token_ttl_s > 3600)
		REFUSE("apps.token_ttl_s = %d is not from 60 to 3600 (an app token lives at most "
		    "one hour)", c->app_token_ttl_s);
	if (c->approvals_expire_s < 60 || c->approvals_expire_s > 2592000)
		REFUSE("approvals.expire_s = %d is not from 60 to 2592000 (30 days)",
		    c->approvals_expire_s);
	if (c->elevation_max_s < 60 || c->elevation_max_s > 86400)
		REFUSE("elevation.max_s = %d is not from 60 to 86400 (1 day)", c->elevation_max_s);
	{
		struct config_role_max rm[CONFIG_ROLE_MAX_N];
		size_t nrm;

		if (config_role_max_parse(c->elevation_role_max_s, rm, &nrm, err, errlen) != PV_OK)
			return PV_E_CONFIG;
	}
	if (c->breakglass_max_s < 60 || c->breakglass_max_s > 86400)
		REFUSE("breakglass.max_s = %d is not from 60 to 86400 (a break-glass grant lasts "
		    "at most one day)", c->breakglass_max_s);
	if (c->breakglass_review_due_s < 60 || c->breakglass_review_due_s > 2592000)
		REFUSE("breakglass.review_due_s = %d is not from 60 to 2592000 (30 days)",
		    c->breakglass_review_due_s);
	if (strcmp(c->reviews_on_due, "remove") != 0 && strcmp(c->reviews_on_due, "alert") != 0)
		REFUSE("reviews.on_due = %s is neither remove nor alert", c->reviews_on_due);
	if (strcmp(c->reviews_campaign_scope, "phi_access") != 0 &&
	    strcmp(c->reviews_campaign_scope, "admins") != 0 &&
	    strcmp(c->reviews_campaign_scope, "apps") != 0)
		REFUSE("reviews.campaign_scope = %s is not phi_access, admins or apps",
		    c->reviews_campaign_scope);
	if (c->reviews_campaign_every_s != 0 &&
	    (c->reviews_campaign_every_s < (dev ? 60 : 3600) ||
	    c->reviews_campaign_every_s > 31536000))
		REFUSE("reviews.campaign_every_s = %d is neither 0 (off) nor from %d to 31536000",
		    c->reviews_campaign_every_s, dev ? 60 : 3600);
	if (c->reviews_campaign_due_s < (dev ? 60 : 3600) || c->reviews_campaign_due_s > 31536000)
		REFUSE("reviews.campaign_due_s = %d is not from %d to 31536000",
		    c->reviews_campaign_due_s, dev ? 60 : 3600);
	if (c->reviews_unused_days < 1 || c->reviews_unused_days > 3650)
		REFUSE("reviews.unused_days = %d is not from 1 to 3650", c->reviews_unused_days);
	if (c->app_cert_ttl_s < 300 || c->app_cert_ttl_s > 2592000)
		REFUSE("apps.cert_ttl_s = %d is not from 300 to 2592000 (an app certificate lives "
		    "at most 30 days)", c->app_cert_ttl_s);
	if (c->metrics_listen[0] != '\0') {
		bool loopback;

		if (!metrics_listen_parse(c->metrics_listen, &loopback))
			REFUSE("metrics.listen = %s is not IPV4:PORT or [IPV6]:PORT (numeric, port "
			    "1 .. 65535)", c->metrics_listen);
		if (!loopback && !dev)
			REFUSE("metrics.listen = %s is not a loopback address (plain HTTP without "
			    "authentication; allowed only with --dev)", c->metrics_listen);
		if (strcmp(c->metrics_listen, c->listen) == 0)
			REFUSE("metrics.listen = %s is server.listen", c->metrics_listen);
	}
	if (c->public_url[0] != '\0') {
		size_t i, n = strlen(c->public_url);

		if (strncmp(c->public_url, "https://", 8) != 0 &&
		    !(dev && strncmp(c->public_url, "http://", 7) == 0))
			REFUSE("server.public_url = %s is not an https:// URL", c->public_url);
		for (i = 0; i < n; i++)
			if ((unsigned char)c->public_url[i] <= ' ' || c->public_url[i] == '"' ||
			    c->public_url[i] == '\\' || c->public_url[i] == 0x7f ||
			    c->public_url[i] == '?' || c->public_url[i] == '#')
				REFUSE("server.public_url has a character a URL base cannot hold%s", "");
		if (c->public_url[n - 1] == '/')
			REFUSE("server.public_url = %s ends with '/'", c->public_url);
	}
	if (sink_target_check(c->sinks_syslog, "sinks.syslog", dev, err, errlen) != PV_OK ||
	    sink_target_check(c->sinks_cef, "sinks.cef", dev, err, errlen) != PV_OK)
		return PV_E_CONFIG;
	if (c->sinks_webhook[0] != '\0' && !util_str_has_prefix(c->sinks_webhook, "https://") &&
	    !(dev && util_str_has_prefix(c->sinks_webhook, "http://")))
		REFUSE("sinks.webhook = %s is not an https:// URL%s", c->sinks_webhook,
		    util_str_has_prefix(c->sinks_webhook, "http://") ?
		    " (http:// is allowed only with --dev)" : "");
	if (c->sinks_max_message_bytes < 1024 || c->sinks_max_message_bytes > 65536)
		REFUSE("sinks.max_message_bytes = %zu is outside 1024 .. 65536",
		    c->sinks_max_message_bytes);
	if (c->sinks_retry_max_ms < 100 || c->sinks_retry_max_ms > 3600000)
		REFUSE("sinks.retry_max_ms = %d is outside 100 .. 3600000", c->sinks_retry_max_ms);
	if (c->sinks_timeout_ms < 100 || c->sinks_timeout_ms > 60000)
		REFUSE("sinks.timeout_ms = %d is outside 100 .. 60000", c->sinks_timeout_ms);
	if (strcmp(c->detect_enabled, "on") != 0 && strcmp(c->detect_enabled, "off") != 0)
		REFUSE("detect.enabled = %s is not on or off", c->detect_enabled);
	if (strcmp(c->pkcs11_kek_default, "on") != 0 && strcmp(c->pkcs11_kek_default, "off") != 0)
		REFUSE("pkcs11.kek_default = %s is not on or off", c->pkcs11_kek_default);
	{
		/* every threshold is a count, seconds or hours: 1 .. 30 days of seconds */
		const struct { const char *name; int v, max; } t[] = {
			{ "brute_force_failures", c->detect_brute_force_failures, 2592000 },
			{ "brute_force_window_s", c->detect_brute_force_window_s, 2592000 },
			{ "spray_accounts", c->detect_spray_accounts, 2592000 },
			{ "spray_window_s", c->detect_spray_window_s, 2592000 },
			{ "baseline_min_logins", c->detect_baseline_min_logins, 2592000 },
			{ "unusual_hour_min_logins", c->detect_unusual_hour_min_logins, 2592000 },
			{ "unusual_hour_margin_h", c->detect_unusual_hour_margin_h, 11 },
			{ "mfa_failures", c->detect_mfa_failures, 2592000 },
			{ "mfa_window_s", c->detect_mfa_window_s, 2592000 },
			{ "bulk_read_window_s", c->detect_bulk_read_window_s, 2592000 },
			{ "bulk_read_max", c->detect_bulk_read_max, 2592000 },
			{ "bulk_read_factor", c->detect_bulk_read_factor, 2592000 },
			{ "bulk_read_min", c->detect_bulk_read_min, 2592000 },
			{ "bulk_read_min_windows", c->detect_bulk_read_min_windows, 2592000 },
			{ "enumeration_max", c->detect_enumeration_max, 2592000 },
			{ "enumeration_window_s", c->detect_enumeration_window_s, 2592000 },
			{ "change_read_window_s", c->detect_change_read_window_s, 2592000 },
			{ "decrypt_failures", c->detect_decrypt_failures, 2592000 },
			{ "decrypt_window_s", c->detect_decrypt_window_s, 2592000 },
			{ "sink_lag_check_s", c->detect_sink_lag_check_s, 2592000 },
			{ "sink_lag_max", c->detect_sink_lag_max, 2592000 },
			{ "sink_lag_for_s", c->detect_sink_lag_for_s, 2592000 },
		};
		size_t i;

		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			if (t[i].v < 1 || t[i].v > t[i].max)
				REFUSE("detect.%s = %d is not from 1 to %d", t[i].name, t[i].v, t[i].max);
	}
	if (c->compliance_inactive_days < 1 || c->compliance_inactive_days > 3650)
		REFUSE("compliance.inactive_days = %d is not from 1 to 3650",
		    c->compliance_inactive_days);
	if (c->compliance_key_rotation_days < 1 || c->compliance_key_rotation_days > 3650)
		REFUSE("compliance.key_rotation_days = %d is not from 1 to 3650",
		    c->compliance_key_rotation_days);
	if (c->secrets_max_versions < 1 || c->secrets_max_versions > 1000)
		REFUSE("secrets.max_versions = %d is not from 1 to 1000", c->secrets_max_versions);
	if (config_oidc_validate(c, dev, err, errlen) != PV_OK)
		return PV_E_CONFIG;
#undef REFUSE
	return PV_OK;
}

bool
config_oidc_enabled(const struct pv_config *c)
{
	return c != NULL && c->oidc_issuer[0] != '\0';
}

/* A URL phivault redirects to or fetches: https:// (http:// only with --dev),
 * no whitespace, quote, backslash or fragment. */
static bool
oidc_url_ok(const char *u, bool dev)
{
	if (strncmp(u, "https://", 8) != 0 && !(dev && strncmp(u, "http://", 7) == 0))
		return false;
	for (; *u != '\0'; u++)
		if ((unsigned char)*u <= ' ' || *u == '"' || *u == '\\' || *u == 0x7f || *u == '#')
			return false;
	return true;
}

/* [oidc]: checked only when issuer is set; the files (client secret mode
 * 0600, CA bundle) are read by serve at start (authn_oidc_new). */
enum pv_rc
config_oidc_validate(const struct pv_config *c, bool dev, char *err, size_t errlen)
{
#define REFUSE(...) do { set_err(err, errlen, __VA_ARGS__); return PV_E_CONFIG; } while (0)
	const char *p;

	if (strcmp(c->oidc_mfa_from_amr, "on") != 0 && strcmp(c->oidc_mfa_from_amr, "off") != 0)
		REFUSE("oidc.mfa_from_amr = %s is not on or off", c->oidc_mfa_from_amr);
	if (strcmp(c->oidc_create_users, "on") != 0 && strcmp(c->oidc_create_users, "off") != 0)
		REFUSE("oidc.create_users = %s is not on or off", c->oidc_create_users);
	if (strcmp(c->oidc_local_passwords, "on") != 0 &&
	    strcmp(c->oidc_local_passwords, "breakglass_only") != 0)
		REFUSE("oidc.local_passwords = %s is not on or breakglass_only",
		    c->oidc_local_passwords);
	if (c->oidc_clock_skew_s < 0 || c->oidc_clock_skew_s > 300)
		REFUSE("oidc.clock_skew_s = %d is not from 0 to 300", c->oidc_clock_skew_s);
	if (!config_oidc_enabled(c)) {
		if (strcmp(c->oidc_local_passwords, "on") != 0)
			REFUSE("oidc.local_passwords = %s needs oidc.issuer (nobody could sign in)",
			    c->oidc_local_passwords);
		return PV_OK;
	}
	if (!oidc_url_ok(c->oidc_issuer, dev) || strchr(c->oidc_issuer, '?') != NULL)
		REFUSE("oidc.issuer = %s is not an https:// URL without query or fragment%s",
		    c->oidc_issuer, dev ? "" : " (http:// only with --dev)");
	if (c->oidc_client_id[0] == '\0')
		REFUSE("oidc.client_id is empty (oidc.issuer is set)");
	for (p = c->oidc_client_id; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == 0x7f)
			REFUSE("oidc.client_id has a space, quote or control character%s", "");
	if (c->oidc_client_secret_file[0] == '\0')
		REFUSE("oidc.client_secret_file is empty (a confidential client is required)%s", "");
	if (strstr(c->oidc_scopes, "openid") == NULL)
		REFUSE("oidc.scopes = %s does not hold openid", c->oidc_scopes);
	for (p = c->oidc_scopes; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(" _-.:/", *p) == NULL)
			REFUSE("oidc.scopes has a character a scope cannot hold%s", "");
	if (c->oidc_groups_claim[0] == '\0')
		REFUSE("oidc.groups_claim is empty%s", "");
	if (c->oidc_redirect_url[0] != '\0' && !oidc_url_ok(c->oidc_redirect_url, dev))
		REFUSE("oidc.redirect_url = %s is not an https:// URL", c->oidc_redirect_url);
	if (c->oidc_group_map[0] != '\0') {
		/* "idp=phivault, idp2=phivault2": every item has a '=' with a name on
		 * both sides (authn/oidc.c parses it the same way) */
		const char *q = c->oidc_group_map;

		while (*q != '\0') {
			const char *end = strchr(q, ','), *eq;
			size_t len = end != NULL ? (size_t)(end - q) : strlen(q);

			eq = memchr(q, '=', len);
			if (eq == NULL || eq == q || eq + 1 == q + len)
				REFUSE("oidc.group_map: \"%.*s\" is not IDP_GROUP=PHIVAULT_GROUP",
				    (int)(len > 64 ? 64 : len), q);
			q += len;
			if (*q == ',')
				q++;
		}
	}
	return PV_OK;
#undef REFUSE
}

/* ---- writing ---- */

/* A path under datadir is written relative to it, as API.md shows it. */
static const char *
rel_path(const struct pv_config *c, const char *path)
{
	size_t n = strlen(c->datadir);

	if (n > 0 && strncmp(path, c->datadir, n) == 0 && path[n] == '/' && path[n + 1] != '\0')
		return path + n + 1;
	return path;
}

static bool
writable(const char *v)
{
	/* no line breaks; no " ;" which libinih would read as a comment */
	return strpbrk(v, "\r\n") == NULL && strstr(v, " ;") == NULL && strstr(v, "\t;") == NULL;
}

static const char *
mfa_name(enum config_mfa m)
{
	return m == CONFIG_MFA_OFF ? "off" : m == CONFIG_MFA_ADMINS ? "admins" : "all";
}

enum pv_rc
config_write(const struct pv_config *c, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	enum pv_rc rc;

	if (c == NULL || path == NULL)
		return PV_E_INVALID;
	if (!writable(c->listen) || !writable(c->admin_listen) || !writable(c->server_allow) ||
	    !writable(c->admin_allow) || !writable(c->server_public) ||
	    !writable(c->region) || !writable(c->tls_cert) ||
	    !writable(c->tls_key) || !writable(c->tls_min_version) ||
	    !writable(c->store_backend) || !writable(c->store_url) ||
	    !writable(c->allowed_regions) || !writable(c->password_dictionary) ||
	    !writable(c->seccomp) || !writable(c->metrics_enabled) ||
	    !writable(c->metrics_listen) || !writable(c->sinks_syslog) || !writable(c->sinks_cef) ||
	    !writable(c->sinks_webhook) || !writable(c->sinks_ocsf_file) ||
	    !writable(c->sinks_ca_file) || !writable(c->detect_enabled) || !writable(c->pkcs11_module) ||
	    !writable(c->pkcs11_token_label) || !writable(c->pkcs11_pin_file) ||
	    !writable(c->pkcs11_key_label) || !writable(c->public_url) ||
	    !writable(c->pkcs11_kek_default)) {
		log_error("config: a value cannot be written to an INI line");
		return PV_E_INVALID;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return PV_E_NOMEM;
	fprintf(f,
	    "# phivault configuration. Every key has a secure default; `phivault serve`\n"
	    "# refuses an insecure value unless --dev and names the key. Relative paths\n"
	    "# are relative to the data directory. Unknown keys are errors.\n"
	    "\n[server]\n"
	    "# ADDRESS:PORT for HTTPS ([v6]:PORT for IPv6)\n"
	    "listen = %s\n"
	    "# largest request body in bytes (1024 .. 67108864)\n"
	    "max_body_bytes = %zu\n"
	    "# this node's region; must be listed in [policy] allowed_regions\n"
	    "region = %s\n"
	    "# N = a pool of N threads (default 2: connections wait for their commit\n"
	    "# suspended, not on a thread), 0 = a thread per connection\n"
	    "threads = %u\n"
	    "# on | off: after start-up the process may make only the system calls it\n"
	    "# needs (seccomp allowlist); off only with --dev\n"
	    "seccomp = %s\n"
	    "# the console's origin https://HOST[:PORT]; passkeys (WebAuthn) are bound to\n"
	    "# its host (the RP ID) and accepted only from exactly this origin\n"
	    "public_url = %s\n",
	    c->listen, c->max_body_bytes, c->region, c->threads, c->seccomp, c->public_url);
	fprintf(f,
	    "# the job runner: pause between steps (ms), most steps a second, and how\n"
	    "# long a running job stays leased to this node without a step (s)\n"
	    "jobs_step_pause_ms = %d\n"
	    "jobs_max_steps_per_s = %d\n"
	    "jobs_lease_s = %d\n",
	    c->jobs_step_pause_ms, c->jobs_max_steps_per_s, c->jobs_lease_s);
	fprintf(f,
	    "# the management plane apart (docs/governance.md): empty = the management\n"
	    "# routes are served on listen when it is loopback, else on %s;\n"
	    "# set it to serve them on an address of their own (listen then serves data only)\n"
	    "admin_listen = %s\n"
	    "# CIDR,CIDR,...: the only sources that may connect to listen / admin_listen\n"
	    "# (empty = any); others are closed before TLS, audited and counted\n"
	    "allow = %s\n"
	    "admin_allow = %s\n"
	    "# off | on: on is required to listen on a non-loopback address\n"
	    "public = %s\n",
	    CONFIG_ADMIN_LISTEN_DEFAULT, c->admin_listen, c->server_allow, c->admin_allow,
	    c->server_public);
	fprintf(f,
	    "\n[tls]\n"
	    "cert = %s\n"
	    "key = %s\n"
	    "# 1.2 or 1.3; lower versions are refused\n"
	    "min_version = %s\n",
	    rel_path(c, c->tls_cert), rel_path(c, c->tls_key), c->tls_min_version);
	fprintf(f,
	    "\n[session]\n"
	    "# automatic logoff after inactivity (1 .. 3600)\n"
	    "idle_timeout_s = %d\n"
	    "# hard session limit (idle_timeout_s .. 86400)\n"
	    "absolute_timeout_s = %d\n",
	    c->idle_timeout_s, c->absolute_timeout_s);
	fprintf(f,
	    "\n[auth]\n"
	    "# failed logins within lockout_window_s that lock the account\n"
	    "lockout_threshold = %d\n"
	    "lockout_window_s = %d\n"
	    "lockout_duration_s = %d\n"
	    "# all | admins | off (off only with --dev)\n"
	    "mfa_required = %s\n"
	    "# 8 .. 64 (NIST SP 800-63B)\n"
	    "password_min_length = %d\n"
	    "# Argon2id cost (OWASP minimum: t=2 with 19456 KiB)\n"
	    "argon2_opslimit = %llu\n"
	    "argon2_memlimit_kib = %zu\n"
	    "# packed cracklib dictionary (cracklib-packer output, without .pwd/.pwi/.hwm);\n"
	    "# serve refuses to start if it is missing\n"
	    "password_dictionary = %s\n",
	    c->lockout_threshold, c->lockout_window_s, c->lockout_duration_s,
	    mfa_name(c->mfa_required), c->password_min_length,
	    c->argon2_opslimit, c->argon2_memlimit / 1024, rel_path(c, c->password_dictionary));
	fprintf(f,
	    "# a one-time password (new user, reset) is refused this long after issue\n"
	    "one_time_password_ttl_s = %d\n",
	    c->one_time_password_ttl_s);
	fprintf(f,
	    "\n[audit]\n"
	    "# sign a checkpoint every N entries or T seconds\n"
	    "checkpoint_every = %d\n"
	    "checkpoint_interval_s = %d\n",
	    c->checkpoint_every, c->checkpoint_interval_s);
	fprintf(f,
	    "# audit entries are kept at least this many days (six years: 2190; lower\n"
	    "# only with --dev); the trail is never pruned today\n"
	    "retention_days = %d\n",
	    c->audit_retention_days);
	fprintf(f,
	    "\n[store]\n"
	    "# sqlite | postgres\n"
	    "backend = %s\n"
	    "# postgres conninfo (with backend = postgres)\n"
	    "url = %s\n"
	    "# open database connections at most (0: 2 x CPUs + 2)\n"
	    "max_connections = %u\n"
	    "# the access epoch: row (read on every request: strict) | notify\n"
	    "# (postgres: heard through LISTEN/NOTIFY, no read a request)\n"
	    "epoch = %s\n",
	    c->store_backend, c->store_url, c->store_max_connections, c->store_epoch);
	fprintf(f,
	    "\n[policy]\n"
	    "# comma-separated regions where data may live\n"
	    "allowed_regions = %s\n",
	    c->allowed_regions);
	fprintf(f,
	    "\n[metrics]\n"
	    "# on | off: GET /metrics (Prometheus text format; permission metrics.read)\n"
	    "enabled = %s\n"
	    "# empty, or ADDRESS:PORT of a plain-HTTP listener that serves only GET /metrics\n"
	    "# without authentication (loopback only, unless --dev), e.g. 127.0.0.1:9464\n"
	    "listen = %s\n",
	    c->metrics_enabled, c->metrics_listen);
	fprintf(f,
	    "\n[sinks]\n"
	    "# the audit trail streamed to a SIEM after commit (docs/monitoring.md);\n"
	    "# empty = off. syslog and cef: tcp://HOST:PORT (loopback only) or\n"
	    "# tls://HOST:PORT; ocsf_file = PATH; webhook = https://...\n"
	    "syslog = %s\n"
	    "cef = %s\n"
	    "webhook = %s\n",
	    c->sinks_syslog, c->sinks_cef, c->sinks_webhook);
	if (c->sinks_ocsf_file[0] != '\0')
		fprintf(f, "ocsf_file = %s\n", rel_path(c, c->sinks_ocsf_file));
	else
		fprintf(f, "# ocsf_file = audit.ocsf.jsonl\n");
	if (c->sinks_ca_file[0] != '\0')
		fprintf(f, "ca_file = %s\n", rel_path(c, c->sinks_ca_file));
	else
		fprintf(f, "# CA bundle for tls:// and https:// (default: the system's)\n"
		    "# ca_file = /etc/ssl/certs/siem-ca.pem\n");
	fprintf(f,
	    "# largest syslog/CEF message (1024 .. 65536); longer entries are split by field\n"
	    "max_message_bytes = %zu\n"
	    "# longest pause between retries of a failing sink, and the I/O timeout (ms)\n"
	    "retry_max_ms = %d\n"
	    "timeout_ms = %d\n",
	    c->sinks_max_message_bytes, c->sinks_retry_max_ms, c->sinks_timeout_ms);
	fprintf(f,
	    "\n[detect]\n"
	    "# threat detection over the committed audit trail (docs/monitoring.md):\n"
	    "# on | off, then each rule's thresholds\n"
	    "enabled = %s\n"
	    "# brute force: failed logins on one account within the window\n"
	    "brute_force_failures = %d\n"
	    "brute_force_window_s = %d\n"
	    "# password spray: accounts failing from one source within the window\n"
	    "spray_accounts = %d\n"
	    "spray_window_s = %d\n"
	    "# sign-in baseline: logins before a new network alerts; logins before an\n"
	    "# unusual hour alerts, and how many hours from any usual hour is unusual\n"
	    "baseline_min_logins = %d\n"
	    "unusual_hour_min_logins = %d\n"
	    "unusual_hour_margin_h = %d\n"
	    "# MFA failures after a correct password within the window\n"
	    "mfa_failures = %d\n"
	    "mfa_window_s = %d\n"
	    "# bulk reads per window: an absolute ceiling, or factor x the actor's own\n"
	    "# average (at least bulk_read_min reads, after bulk_read_min_windows windows)\n"
	    "bulk_read_window_s = %d\n"
	    "bulk_read_max = %d\n"
	    "bulk_read_factor = %d\n"
	    "bulk_read_min = %d\n"
	    "bulk_read_min_windows = %d\n"
	    "# enumeration: searches and not-found reads within the window\n"
	    "enumeration_max = %d\n"
	    "enumeration_window_s = %d\n"
	    "# a role or group change, then a read by that principal within this time\n"
	    "change_read_window_s = %d\n",
	    c->detect_enabled, c->detect_brute_force_failures, c->detect_brute_force_window_s, c->detect_spray_accounts, c->detect_spray_window_s, c->detect_baseline_min_logins, c->detect_unusual_hour_min_logins, c->detect_unusual_hour_margin_h, c->detect_mfa_failures, c->detect_mfa_window_s, c->detect_bulk_read_window_s, c->detect_bulk_read_max, c->detect_bulk_read_factor, c->detect_bulk_read_min, c->detect_bulk_read_min_windows, c->detect_enumeration_max, c->detect_enumeration_window_s, c->detect_change_read_window_s);
	fprintf(f,
	    "# decrypt failures: records that failed to decrypt (integrity), by one actor,\n"
	    "# within the window\n"
	    "decrypt_failures = %d\n"
	    "decrypt_window_s = %d\n"
	    "# a SIEM sink more than sink_lag_max entries behind for longer than\n"
	    "# sink_lag_for_s, checked every sink_lag_check_s\n"
	    "sink_lag_check_s = %d\n"
	    "sink_lag_max = %d\n"
	    "sink_lag_for_s = %d\n",
	    c->detect_decrypt_failures, c->detect_decrypt_window_s, c->detect_sink_lag_check_s,
	    c->detect_sink_lag_max, c->detect_sink_lag_for_s);
	fprintf(f,
	    "\n[pkcs11]\n"
	    "# the HSM of `init --seal pkcs11` (docs/keys.md): module, token label, a PIN\n"
	    "# file (mode 0600, owned by this user) and the label of the AES sealing key\n"
	    "module = %s\n", rel_path(c, c->pkcs11_module));
	if (c->pkcs11_token_label[0] != '\0')
		fprintf(f, "token_label = %s\n", c->pkcs11_token_label);
	if (c->pkcs11_pin_file[0] != '\0')
		fprintf(f, "pin_file = %s\n", rel_path(c, c->pkcs11_pin_file));
	if (c->pkcs11_key_label[0] != '\0')
		fprintf(f, "key_label = %s\n", c->pkcs11_key_label);
	fprintf(f, "# on: every new collection KEK is an AES key held in the token\n"
	    "kek_default = %s\n", c->pkcs11_kek_default);
	fprintf(f,
	    "\n[compliance]\n"
	    "# the compliance report (docs/compliance.md): accounts with no activity for\n"
	    "# longer than inactive_days, keys unrotated for longer than key_rotation_days\n"
	    "# (when their own policy sets no rotate_every_s) fail their controls\n"
	    "inactive_days = %d\n"
	    "key_rotation_days = %d\n",
	    c->compliance_inactive_days, c->compliance_key_rotation_days);
	fprintf(f,
	    "\n[backup]\n"
	    "# encrypted, signed backups (docs/operations.md \"Backup and disaster recovery\")\n");
	if (c->backup_dir[0] != '\0')
		fprintf(f, "dir = %s\n", rel_path(c, c->backup_dir));
	else
		fprintf(f, "# where backups are written (default: backups in the data directory)\n"
		    "# dir = /mnt/worm/phivault\n");
	fprintf(f,
	    "# must be in [policy] allowed_regions and the region of every collection\n"
	    "region = %s\n"
	    "# scheduled backups every N seconds (0: off), keeping the newest `keep`\n"
	    "every_s = %d\n"
	    "keep = %d\n"
	    "# no backup can be deleted through phivault within this many days\n"
	    "immutable_days = %d\n"
	    "# restore drills every N seconds (0: off)\n"
	    "drill_every_s = %d\n",
	    c->backup_region, c->backup_every_s, c->backup_keep, c->backup_immutable_days,
	    c->backup_drill_every_s);
	fprintf(f,
	    "\n[retention]\n"
	    "# run retention and disposal (each collection's retention_days) this often\n"
	    "every_s = %d\n",
	    c->retention_every_s);
	fprintf(f,
	    "\n[export]\n"
	    "# de-identified exports (docs/storing-phi.md) are deleted this long after creation\n"
	    "keep_s = %d\n",
	    c->export_keep_s);
	fprintf(f,
	    "\n[secrets]\n"
	    "# application secrets (docs/secrets.md): versions kept per secret (1 .. 1000);\n"
	    "# a write beyond it destroys the oldest\n"
	    "max_versions = %d\n", c->secrets_max_versions);
	fprintf(f,
	    "\n[approvals]\n"
	    "# dual control (docs/access-control.md): a pending request that would grant\n"
	    "# PHI access expires this many seconds after it was made (60 .. 2592000)\n"
	    "expire_s = %d\n", c->approvals_expire_s);
	fprintf(f,
	    "\n[elevation]\n"
	    "# JIT elevation (docs/access-control.md): the longest an approved elevation\n"
	    "# may last, in seconds (60 .. 86400)\n"
	    "max_s = %d\n", c->elevation_max_s);
	fprintf(f, "# per role, replacing max_s for that role (empty: none), e.g.\n"
	    "# role_max_s = key_admin=1800, auditor=7200\n"
	    "role_max_s = %s\n", c->elevation_role_max_s);
	fprintf(f,
	    "\n[breakglass]\n"
	    "# emergency access (docs/access-control.md): a grant lasts at most max_s\n"
	    "# (60 .. 86400); its review is overdue once open review_due_s (60 .. 2592000)\n"
	    "max_s = %d\n"
	    "review_due_s = %d\n", c->breakglass_max_s, c->breakglass_review_due_s);
	fprintf(f,
	    "\n[reviews]\n"
	    "# access review campaigns (docs/governance.md): at the due date unattested\n"
	    "# access is removed (remove) or only alerted (alert)\n"
	    "on_due = %s\n"
	    "# open a campaign of campaign_scope (phi_access, admins, apps) every\n"
	    "# campaign_every_s seconds (0: off), due campaign_due_s after it opens\n"
	    "campaign_every_s = %d\n"
	    "campaign_scope = %s\n"
	    "campaign_due_s = %d\n"
	    "# principals unused this many days are flagged in every campaign\n"
	    "unused_days = %d\n", c->reviews_on_due, c->reviews_campaign_every_s,
	    c->reviews_campaign_scope, c->reviews_campaign_due_s, c->reviews_unused_days);
	if (ferror(f)) {
		fclose(f);
		rc = PV_E_NOMEM;
		goto out;
	}
	if (fclose(f) != 0) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = util_file_write_atomic(path, buf, len, 0600);
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return rc;
}

enum pv_rc
config_public_url_parts(const char *url, char *origin, size_t olen, char *host, size_t hlen)
{
	const char *h, *e, *port = NULL;
	size_t n, i, hl;

	if (url == NULL)
		return PV_E_INVALID;
	if (strncmp(url, "https://", 8) == 0)
		h = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return PV_E_INVALID;
	n = strlen(url);
	e = url + n;
	if (e > h && e[-1] == '/')
		e--;
	for (i = 0; h + i < e; i++) {
		char ch = h[i];

		if (ch == ':' && port == NULL) {
			port = h + i;
			continue;
		}
		if (port != NULL ? (ch < '0' || ch > '9') :
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return PV_E_INVALID;
	}
	hl = (size_t)((port != NULL ? port : e) - h);
	if (hl == 0 || (port != NULL && e - port < 2) || (port != NULL && e - port > 6))
		return PV_E_INVALID;
	if ((size_t)(e - url) + 1 > olen || hl + 1 > hlen)
		return PV_E_INVALID;
	for (i = 0; i < hl; i++)
		host[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] - 'A' + 'a' : h[i]);
	host[hl] = '\0';
	/* the origin as a browser serialises it: lowercase scheme and host */
	n = (size_t)(h - url);
	memcpy(origin, url, n);
	memcpy(origin + n, host, hl);
	memcpy(origin + n + hl, h + hl, (size_t)(e - (h + hl)));
	origin[(size_t)(e - url)] = '\0';
	return PV_OK;
}

/* ---- the effective configuration (docs/internals/config.md "Effective
 * configuration"): every key of the table, defaults included, as one
 * canonical JSON object, secrets redacted ---- */

/* The keys whose value may carry a secret: store.url (a libpq conninfo or
 * URI may hold a password) and sinks.webhook (many webhook URLs are bearer
 * capabilities in their path or query). Their effective value keeps what is
 * not secret (host, database, user; scheme and authority) and shows the
 * secret part as CONFIG_REDACTED. Secret *files* (oidc.client_secret_file,
 * pkcs11.pin_file) are paths: the path is shown, the content never read. */
static const char *const secret_keys[] = { "store.url", "sinks.webhook", NULL };

bool
config_key_secret(const char *key)
{
	size_t i;

	for (i = 0; secret_keys[i] != NULL; i++)
		if (strcmp(key, secret_keys[i]) == 0)
			return true;
	return false;
}

/* Append n bytes of s to the buffer (bounded: false when full). */
static bool
buf_add(char *out, size_t cap, size_t *off, const char *s, size_t n)
{
	if (*off + n >= cap)
		return false;
	memcpy(out + *off, s, n);
	*off += n;
	out[*off] = '\0';
	return true;
}

static bool
is_password_word(const char *s, size_t n)
{
	return n == 8 && strncasecmp(s, "password", 8) == 0;
}

/* A URI ("postgresql://user:pw@host/db?password=pw" or "https://h/p?q"):
 * the password of the userinfo and, for store.url, any password= query
 * parameter; for the webhook everything after the authority. */
static bool
redact_uri(const char *v, bool webhook, char *out, size_t cap)
{
	const char *p = strstr(v, "://"), *auth, *end, *at, *colon, *q;
	size_t off = 0;

	if (p == NULL)
		return false;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	if (!buf_add(out, cap, &off, v, (size_t)(auth - v)))
		return false;
	at = NULL;
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		colon = memchr(auth, ':', (size_t)(at - auth));
		if (webhook) {
			if (!buf_add(out, cap, &off, CONFIG_REDACTED "@", strlen(CONFIG_REDACTED) + 1))
				return false;
		} else if (colon != NULL) {
			if (!buf_add(out, cap, &off, auth, (size_t)(colon - auth) + 1) ||
			    !buf_add(out, cap, &off, CONFIG_REDACTED, strlen(CONFIG_REDACTED)) ||
			    !buf_add(out, cap, &off, at, 1))
				return false;
		} else if (!buf_add(out, cap, &off, auth, (size_t)(at - auth) + 1))
			return false;
		auth = at + 1;
	}
	if (!buf_add(out, cap, &off, auth, (size_t)(end - auth)))
		return false;
	if (*end == '\0')
		return true;
	if (webhook)
		return buf_add(out, cap, &off, "/" CONFIG_REDACTED, strlen(CONFIG_REDACTED) + 1);
	/* store.url: path as is; in the query, password=... redacted; no fragment */
	q = strchr(end, '?');
	if (!buf_add(out, cap, &off, end, q != NULL ? (size_t)(q - end) : strcspn(end, "#")))
		return false;
	if (q == NULL)
		return true;
	for (p = q + 1;; ) {
		size_t n = strcspn(p, "&#");
		const char *eq = memchr(p, '=', n);

		if (!buf_add(out, cap, &off, p == q + 1 ? "?" : "&", 1))
			return false;
		if (eq != NULL && is_password_word(p, (size_t)(eq - p))) {
			if (!buf_add(out, cap, &off, p, (size_t)(eq - p) + 1) ||
			    !buf_add(out, cap, &off, CONFIG_REDACTED, strlen(CONFIG_REDACTED)))
				return false;
		} else if (!buf_add(out, cap, &off, p, n))
			return false;
		if (p[n] != '&')
			break;
		p += n + 1;
	}
	return true;
}

/* A libpq keyword/value conninfo ("host=db password='x y' dbname=pv"):
 * normalised to "key=value" pairs joined by one space, password's value
 * redacted. false if it does not parse (the caller redacts it whole). */
static bool
redact_conninfo(const char *v, char *out, size_t cap)
{
	const char *p = v;
	size_t off = 0;

	for (;;) {
		const char *k, *val;
		size_t kn, vn;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return true;
		k = p;
		while (*p != '\0' && *p != '=' && !isspace((unsigned char)*p))
			p++;
		kn = (size_t)(p - k);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=' || kn == 0)
			return false;
		p++;
		while (isspace((unsigned char)*p))
			p++;
		val = p;
		if (*p == '\'') {
			for (p++; *p != '\0' && *p != '\''; p++)
				if (*p == '\\' && p[1] != '\0')
					p++;
			if (*p != '\'')
				return false;
			p++;
		} else {
			while (*p != '\0' && !isspace((unsigned char)*p))
				p++;
		}
		vn = (size_t)(p - val);
		if ((off > 0 && !buf_add(out, cap, &off, " ", 1)) ||
		    !buf_add(out, cap, &off, k, kn) || !buf_add(out, cap, &off, "=", 1))
			return false;
		if (is_password_word(k, kn)) {
			if (!buf_add(out, cap, &off, CONFIG_REDACTED, strlen(CONFIG_REDACTED)))
				return false;
		} else if (!buf_add(out, cap, &off, val, vn))
			return false;
	}
}

enum pv_rc
config_redact(const char *key, const char *value, char *out, size_t cap)
{
	bool ok;

	if (cap == 0)
		return PV_E_INVALID;
	out[0] = '\0';
	if (!config_key_secret(key) || value[0] == '\0')
		return util_strlcpy(out, value, cap) < cap ? PV_OK : PV_E_INVALID;
	if (strcmp(key, "sinks.webhook") == 0)
		ok = redact_uri(value, true, out, cap);
	else if (strstr(value, "://") != NULL)
		ok = redact_uri(value, false, out, cap);
	else
		ok = redact_conninfo(value, out, cap);
	if (!ok)   /* not understood: nothing of it is shown */
		util_strlcpy(out, CONFIG_REDACTED, cap);
	return PV_OK;
}

static json_t *
key_value(const struct pv_config *c, const struct key_def *k, const char *name)
{
	const char *field = (const char *)c + k->off;
	char red[2 * PATH_MAX];

	switch (k->kind) {
	case K_STR:
		if (config_redact(name, field, red, sizeof red) != PV_OK)
			return NULL;
		return json_string(red);
	case K_PATH:
		return json_string(field[0] != '\0' ? rel_path(c, field) : "");
	case K_SIZE:
		return json_integer((json_int_t)*(const size_t *)(const void *)field);
	case K_UINT:
		return json_integer((json_int_t)*(const unsigned *)(const void *)field);
	case K_INT:
		return json_integer((json_int_t)*(const int *)(const void *)field);
	case K_ULL:
		return json_integer((json_int_t)*(const unsigned long long *)(const void *)field);
	case K_KIB:
		return json_integer((json_int_t)(*(const size_t *)(const void *)field / 1024));
	case K_MFA:
		return json_string(mfa_name(c->mfa_required));
	}
	return NULL;
}

enum pv_rc
config_effective_json(const struct pv_config *c, char **out, size_t *len,
    char hash[CONFIG_HASH_HEX])
{
	json_t *o = json_object();
	uint8_t d[CRYPTO_SHA256_LEN];
	char *text = NULL, name[96];
	size_t i;
	enum pv_rc rc = PV_E_NOMEM;

	if (o == NULL)
		return PV_E_NOMEM;
	for (i = 0; i < NKEYS; i++) {
		json_t *v;

		snprintf(name, sizeof name, "%s.%s", keys[i].section, keys[i].name);
		if ((v = key_value(c, &keys[i], name)) == NULL ||
		    json_object_set_new(o, name, v) != 0)
			goto out;
	}
	if ((text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	if ((rc = crypto_sha256(text, strlen(text), d)) != PV_OK)
		goto out;
	util_hex_encode(d, sizeof d, hash);
	*len = strlen(text);
	*out = text;
	text = NULL;
	rc = PV_OK;
out:
	free(text);
	json_decref(o);
	return rc;
}

static bool
skipped(const char *key, const char *const *skip)
{
	for (; skip != NULL && *skip != NULL; skip++)
		if (strcmp(*skip, key) == 0)
			return true;
	return false;
}

/* One change: {"key"} + "old"/"new" (null when absent on that side) for a
 * non-secret key whose values are short enough; "secret":true otherwise. */
static int
add_change(json_t *arr, const char *key, json_t *a, json_t *b)
{
	json_t *ch = json_pack("{s:s}", "key", key);
	char *ta = a ? json_dumps(a, JSON_ENCODE_ANY) : NULL;
	char *tb = b ? json_dumps(b, JSON_ENCODE_ANY) : NULL;
	bool short_enough = (ta == NULL || strlen(ta) <= CONFIG_DIFF_VALUE_MAX) &&
	    (tb == NULL || strlen(tb) <= CONFIG_DIFF_VALUE_MAX);

	free(ta);
	free(tb);
	if (ch == NULL)
		return -1;
	if (config_key_secret(key))
		json_object_set_new(ch, "secret", json_true());
	else if (!short_enough)
		json_object_set_new(ch, "long", json_true());
	else {
		json_object_set_new(ch, "old", a ? json_incref(a) : json_null());
		json_object_set_new(ch, "new", b ? json_incref(b) : json_null());
	}
	return json_array_append_new(arr, ch);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum pv_rc
config_effective_diff(const char *old_json, const char *new_json, const char *const *skip,
    char **out, size_t *n)
{
	json_t *a = json_loads(old_json, 0, NULL), *b = json_loads(new_json, 0, NULL);
	json_t *arr = json_array(), *v;
	const char **names = NULL, *k;
	size_t cnt = 0, i, cap;
	enum pv_rc rc = PV_E_INVALID;

	if (!json_is_object(a) || !json_is_object(b) || arr == NULL)
		goto out;
	rc = PV_E_NOMEM;
	cap = json_object_size(a) + json_object_size(b);
	if (cap > 0 && (names = calloc(cap, sizeof(*names))) == NULL)
		goto out;
	json_object_foreach(a, k, v)
		names[cnt++] = k;
	json_object_foreach(b, k, v)
		if (json_object_get(a, k) == NULL)
			names[cnt++] = k;
	if (cnt > 0)
		qsort(names, cnt, sizeof(*names), cmp_str);
	for (i = 0; i < cnt; i++) {
		json_t *va = json_object_get(a, names[i]), *vb = json_object_get(b, names[i]);

		if (skipped(names[i], skip) || (va != NULL && vb != NULL && json_equal(va, vb)))
			continue;
		if (add_change(arr, names[i], va, vb) != 0)
			goto out;
	}
	if ((*out = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	*n = json_array_size(arr);
	rc = PV_OK;
out:
	free(names);
	json_decref(arr);
	json_decref(a);
	json_decref(b);
	return rc;
}
