/*
 * config: DIR/phivault.conf (INI, parsed by libinih). Every key has a secure
 * default; serve validates on start and refuses an insecure value unless
 * --dev, naming the key ("tls.min_version = 1.0 is below 1.2").
 * Unknown sections or keys are errors (a typo must not silently fall back to
 * a default). Relative paths are relative to the data directory.
 */
#ifndef PV_CONFIG_H
#define PV_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/util.h"

enum config_mfa { CONFIG_MFA_ALL = 0, CONFIG_MFA_ADMINS = 1, CONFIG_MFA_OFF = 2 };

struct pv_config;

/* where the management routes go when server.listen is not loopback and
 * server.admin_listen is empty */
#define CONFIG_ADMIN_LISTEN_DEFAULT "127.0.0.1:8444"
/* ADDRESS:PORT names a loopback address (127.0.0.0/8, [::1], localhost). */
bool config_listen_is_loopback(const char *listen);
/* Does serve split the planes: a data listener on server.listen and a
 * management listener on *admin (config_admin_listen)? */
bool config_planes_split(const struct pv_config *c);
const char *config_admin_listen(const struct pv_config *c);

struct pv_config {
	char datadir[PATH_MAX];
	/* [server] */
	char listen[128];
	size_t max_body_bytes;
	char region[64];
	unsigned threads;                 /* N: an epoll pool (default 2); 0: a thread per conn. */
	unsigned max_connections_per_ip;  /* http.h; one address never holds more */
	unsigned handshake_timeout_s;     /* TLS handshake + first request's headers */
	/* [server] the management plane apart (docs/governance.md "Management
	 * plane and TLS certificates"): admin_listen "" = management routes on
	 * `listen` if it is loopback, else on CONFIG_ADMIN_LISTEN_DEFAULT;
	 * allow / admin_allow "CIDR,..." ("" any source); public "off" | "on"
	 * (a non-loopback listen or admin_listen needs on). */
	char admin_listen[128];
	char server_allow[1024];
	char admin_allow[1024];
	char server_public[8];
	/* [tls] */
	char tls_cert[PATH_MAX];          /* absolute after load */
	char tls_key[PATH_MAX];
	char tls_min_version[8];          /* "1.2" | "1.3" */
	/* [session] */
	int idle_timeout_s;
	int absolute_timeout_s;
	/* [auth] */
	int lockout_threshold;
	int lockout_window_s;
	int lockout_duration_s;
	enum config_mfa mfa_required;
	int password_min_length;
	unsigned long long argon2_opslimit;   /* libsodium crypto_pwhash opslimit (t) */
	size_t argon2_memlimit;               /* bytes (m) */
	/* [audit] */
	int checkpoint_every;
	int checkpoint_interval_s;
	/* [store] */
	char store_backend[16];           /* "sqlite" | "postgres" */
	char store_url[1024];
	/* [policy] */
	char allowed_regions[512];        /* comma-separated */
	/* [auth] one_time_password_ttl_s: a one-time password is refused this
	 * long after it was issued (default 86400) */
	int one_time_password_ttl_s;
	/* [auth] packed cracklib dictionary (path without .pwd/.pwi/.hwm);
	 * serve refuses to start without it */
	char password_dictionary[PATH_MAX];
	/* [server] "on" | "off": the seccomp allowlist after start-up (off only with --dev) */
	char seccomp[8];
	/* [server] the job runner (src/jobs/): pause between steps, most steps a
	 * second, lease of a running job (docs/operations.md "Jobs") */
	int jobs_step_pause_ms;
	int jobs_max_steps_per_s;
	int jobs_lease_s;
	/* [store] max_connections: bound of the store's connection pool
	 * (0 = 2 x online CPUs + 2); store_pool_set */
	unsigned store_max_connections;
	/* [store] epoch = row | notify (docs/scaling.md "The access epoch"): row
	 * reads the access epoch on every request (strict: a change through
	 * another node holds on this node's next request); notify hears it
	 * through LISTEN/NOTIFY (PostgreSQL only; no read a request, but a
	 * change can reach this node a few milliseconds late) */
	char store_epoch[8];
	/* [metrics] enabled: "on" | "off" (GET /metrics; off: 404 not_found);
	 * listen: "" (none) or ADDRESS:PORT of a plain-HTTP listener serving only
	 * GET /metrics without authentication, loopback only outside --dev */
	char metrics_enabled[8];
	char metrics_listen[128];
	/* [apps] token_ttl_s: lifetime of an app's token (60 .. 3600, default
	 * 900; issue 10: at most one hour) */
	int app_token_ttl_s;
	/* [apps] cert_ttl_s: validity of an app client certificate from
	 * phivault's CA (300 .. 2592000 = 30 days, default 86400) */
	int app_cert_ttl_s;
	/* [sinks] SIEM delivery of the audit trail (src/sinks/, docs/monitoring.md);
	 * an empty target is a sink that is not configured */
	char sinks_syslog[512];           /* tcp://HOST:PORT | tls://HOST:PORT, RFC 5424 */
	char sinks_cef[512];              /* same forms, CEF:0 in RFC 5424 */
	char sinks_ocsf_file[PATH_MAX];   /* OCSF JSON lines; absolute after load */
	char sinks_webhook[1024];         /* https://... (http:// only with --dev) */
	char sinks_ca_file[PATH_MAX];     /* CA bundle for tls:// and https://; "" = system */
	size_t sinks_max_message_bytes;   /* one syslog/CEF message at most (default 8192) */
	int sinks_retry_max_ms;           /* longest back-off between retries (default 30000) */
	int sinks_timeout_ms;             /* connect / write / HTTP timeout (default 5000) */
	/* [detect] threat detection over the committed audit trail (src/detect/,
	 * docs/monitoring.md "Detection and alerts"): on | off, and each rule's
	 * thresholds (counts, seconds, hours; every value >= 1) */
	char detect_enabled[8];
	int detect_brute_force_failures;
	int detect_brute_force_window_s;
	int detect_spray_accounts;
	int detect_spray_window_s;
	int detect_baseline_min_logins;
	int detect_unusual_hour_min_logins;
	int detect_unusual_hour_margin_h;
	int detect_mfa_failures;
	int detect_mfa_window_s;
	int detect_bulk_read_window_s;
	int detect_bulk_read_max;
	int detect_bulk_read_factor;
	int detect_bulk_read_min;
	int detect_bulk_read_min_windows;
	int detect_enumeration_max;
	int detect_enumeration_window_s;
	int detect_change_read_window_s;
	/* [pkcs11] the HSM of the pkcs11 seal (docs/keys.md "HSM (PKCS#11)") */
	char pkcs11_module[PATH_MAX];     /* PKCS#11 module (.so) dlopen'ed by serve */
	char pkcs11_token_label[33];      /* CKA token label, at most 32 bytes */
	char pkcs11_pin_file[PATH_MAX];   /* user PIN, mode 0600; absolute after load */
	char pkcs11_key_label[128];       /* the AES key that seals the unseal key */
	char pkcs11_kek_default[8];       /* "on": new collection KEKs are held in the token */
	int detect_decrypt_failures;       /* records that failed to decrypt, by one actor */
	int detect_decrypt_window_s;
	int detect_sink_lag_check_s;       /* how often the sinks' lag is checked */
	int detect_sink_lag_max;           /* entries behind the head */
	int detect_sink_lag_for_s;         /* ... for longer than this */
	/* [compliance] the report's thresholds (src/compliance/, docs/compliance.md):
	 * an active account with no audited activity for longer than inactive_days
	 * fails inactive_users; a key whose active version is older than its
	 * policy's rotate_every_s, or key_rotation_days without one, fails
	 * key_rotation (1 .. 3650 each; defaults 90 and 365) */
	int compliance_inactive_days;
	int compliance_key_rotation_days;
	/* [backup] encrypted signed backups (src/backup/, docs/operations.md
	 * "Backup and disaster recovery") */
	char backup_dir[PATH_MAX];        /* "" = DIR/backups; absolute after load */
	char backup_region[64];           /* must be in allowed_regions and every collection's */
	int backup_every_s;               /* 0: no scheduled backups */
	int backup_keep;                  /* scheduled pruning keeps this many (never immutable ones) */
	int backup_immutable_days;        /* no delete through phivault inside this window */
	int backup_drill_every_s;         /* restore drills (issue 12 item 6) */
	/* [retention] every_s: how often the retention job runs (default 86400;
	 * docs/operations.md "Retention and disposal") */
	int retention_every_s;
	int export_keep_s;          /* [export] keep_s: a de-identified export is deleted this long after creation */
	/* [audit] retention_days: audit entries are kept at least this long
	 * (default 2190, six years, 45 CFR 164.316(b)(2)(i); lower only with --dev).
	 * The trail has no pruning: it is kept forever; the key bounds any future one. */
	int audit_retention_days;
	/* [secrets] (src/secrets): versions kept per secret; older ones destroyed on write */
	int secrets_max_versions;
	/* [approvals] expire_s: a pending dual-control request expires this long
	 * after it was made (60 .. 2592000, default 604800 = 7 days) */
	int approvals_expire_s;
	/* [elevation] max_s: the longest a JIT elevation may last, for every
	 * role (60 .. 86400, default 3600) */
	int elevation_max_s;
	/* [elevation] role_max_s: "key_admin=1800, auditor=7200", the longest
	 * an elevation to that role may last (60 .. 86400 each), replacing
	 * max_s for it; "" = none (config_role_max_parse) */
	char elevation_role_max_s[1024];
	/* [breakglass] (docs/access-control.md "Break-glass"): a grant lasts at
	 * most max_s (60 .. 86400, default 3600); its review is overdue once
	 * open review_due_s (60 .. 2592000, default 259200 = 72 h) */
	int breakglass_max_s;
	int breakglass_review_due_s;
	/* [reviews] access review campaigns (docs/governance.md "Access
	 * reviews"): what happens to unattested items at the due date
	 * (on_due = remove | alert, default remove); a campaign of
	 * campaign_scope (phi_access | admins | apps, default phi_access) is
	 * opened every campaign_every_s (0 = off, the default; else 3600 ..
	 * 31536000, 60 with --dev), due campaign_due_s later (3600 .. 31536000,
	 * default 1209600 = 14 days; 60 with --dev); principals unused for
	 * unused_days (1 .. 3650, default 90) are flagged in every campaign */
	char reviews_on_due[16];
	int reviews_campaign_every_s;
	char reviews_campaign_scope[16];
	int reviews_campaign_due_s;
	int reviews_unused_days;
	/* [server] public_url: the console's origin, https://HOST[:PORT]
	 * (http:// only with --dev); WebAuthn's RP ID is its host and every
	 * passkey response must come from exactly this origin */
	char public_url[256];
	/* [server] node: this node's name (lease owner of jobs, /v1/sys/health);
	 * empty: the host name. Must differ between nodes on one database. */
	char node[64];
	/* [oidc] sign-in through an OpenID provider (docs/identity.md "Sign in with
	 * your identity provider"; src/authn/oidc*.c). Empty issuer: off. */
	char oidc_issuer[256];            /* https:// URL, equal to the discovery's issuer */
	char oidc_client_id[256];
	char oidc_client_secret_file[PATH_MAX]; /* mode 0600, owned by us; absolute after load */
	char oidc_scopes[256];            /* space-separated, must hold "openid" */
	char oidc_groups_claim[64];       /* ID token claim with the user's IdP groups */
	char oidc_ca_file[PATH_MAX];      /* CA bundle for the issuer's TLS; "" = system */
	char oidc_mfa_from_amr[8];        /* on|off: amr mfa/otp/hwk/swk counts as MFA */
	char oidc_create_users[8];        /* off|on: unknown (iss, sub) creates a user */
	char oidc_local_passwords[24];    /* on|breakglass_only */
	char oidc_redirect_url[512];      /* "" = public_url + /v1/auth/oidc/callback */
	char oidc_group_map[1024];        /* "idp=group, idp2=group2"; "" = same names */
	int oidc_clock_skew_s;            /* exp/iat/nbf leeway, 0 .. 300 (default 60) */
};

void config_defaults(struct pv_config *c, const char *datadir);
/* [server] public_url split: origin "scheme://host[:port]" (no path) and
 * host (lowercase, the WebAuthn RP ID). PV_E_INVALID if it is not
 * http(s)://HOST[:PORT][/]. */
enum pv_rc config_public_url_parts(const char *url, char *origin, size_t olen, char *host,
    size_t hlen);
/* Parse INI text over the current values. err names the line and key. */
enum pv_rc config_parse(const char *text, size_t len, struct pv_config *c, char *err, size_t errlen);
/* Defaults + DIR/phivault.conf. PV_E_CONFIG with err on any bad key or value. */
enum pv_rc config_load(const char *datadir, struct pv_config *c, char *err, size_t errlen);
/* Refuse insecure settings unless dev; err names the key and why. */
enum pv_rc config_validate(const struct pv_config *c, bool dev, char *err, size_t errlen);
/* [elevation] role_max_s parsed: PV_E_CONFIG with a message naming the item */
#define CONFIG_ROLE_MAX_N 32
struct config_role_max {
	char role[64];
	int max_s;
};
enum pv_rc config_role_max_parse(const char *s, struct config_role_max *out, size_t *n,
    char *err, size_t errlen);
/* Write a commented config file with the current values (init). */
enum pv_rc config_write(const struct pv_config *c, const char *path);
/* The [oidc] section alone (config_validate calls it). */
enum pv_rc config_oidc_validate(const struct pv_config *c, bool dev, char *err, size_t errlen);
/* Is OIDC sign-in configured ([oidc] issuer set)? */
bool config_oidc_enabled(const struct pv_config *c);
/*
 * The effective configuration (docs/internals/config.md "Effective
 * configuration"): every key of the file as "section.key", defaults
 * included, in one canonical JSON object (compact, keys sorted bytewise;
 * numbers as JSON integers, paths under the data directory relative to it),
 * the secret parts of secret keys (config_key_secret) shown as
 * CONFIG_REDACTED. *out is malloc'd (NUL-terminated, *len bytes); hash gets
 * the SHA-256 of exactly those bytes, lowercase hex. The same settings give
 * the same text whatever the order of the file.
 */
#define CONFIG_REDACTED "[redacted]"
#define CONFIG_HASH_HEX 65
enum pv_rc config_effective_json(const struct pv_config *c, char **out, size_t *len,
    char hash[CONFIG_HASH_HEX]);
/* store.url and sinks.webhook: values that may carry a secret. */
bool config_key_secret(const char *key);
/* The effective (redacted) value of key "section.key" = value into out. */
enum pv_rc config_redact(const char *key, const char *value, char *out, size_t cap);
/*
 * The keys that differ between two effective texts (old, new), as a JSON
 * array text sorted by key: {"key","old","new"} (null on the side where the
 * key is absent), {"key","secret":true} for a secret key (no values, even
 * redacted), {"key","long":true} when a value is longer than
 * CONFIG_DIFF_VALUE_MAX bytes of JSON. Keys listed in skip (NULL-terminated,
 * may be NULL) are left out. *n = the number of changes. PV_E_INVALID if a
 * text is not a JSON object.
 */
#define CONFIG_DIFF_VALUE_MAX 256
enum pv_rc config_effective_diff(const char *old_json, const char *new_json,
    const char *const *skip, char **out, size_t *n);
/* True if region is listed in allowed_regions. */
bool config_region_allowed(const struct pv_config *c, const char *region);

#endif /* PV_CONFIG_H */
