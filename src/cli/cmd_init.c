/*
 * init: create a data directory.
 *
 *   DIR/              0700
 *   DIR/phivault.conf 0600  every key at its secure default (config_write)
 *   DIR/tls/          0700  cert.pem (0644), key.pem (0600): ECDSA P-256, self-signed
 *   DIR/phivault.db   0600  schema, sealed root key, audit trail
 *   DIR/unseal.key    0600  key-file seal only
 *
 * Refuses a directory that already holds a config or a database, so init
 * can never overwrite a vault.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "authn/authn.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "directory/directory.h"
#include "keys/keys.h"
#include "store/store.h"

void
cli_init_result_clear(struct cli_init_result *r)
{
	if (r->shares != NULL)
		keys_shares_free(r->shares, r->nshares);
	crypto_wipe(r, sizeof(*r));
}

static int
mkdir_private(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return chmod(path, 0700);
}

static bool
region_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 63)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
			return false;
	return true;
}

/* [pkcs11] paths are stored absolute: serve runs from any directory. */
static int
abs_path(const char *in, char *out, size_t len)
{
	char cwd[4096];

	if (in[0] == '/')
		return util_strlcpy(out, in, len) < len ? 0 : -1;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return util_path_join(out, len, cwd, in);
}

static int init_datadir(const char *data, const char *seal, const char *region,
    const struct keys_hsm_spec *hsm, bool officer, struct cli_init_result *out);

int
cli_init_datadir(const char *data, const char *seal, const char *region,
    struct cli_init_result *out)
{
	return init_datadir(data, seal, region, NULL, false, out);
}

int
cli_init_datadir_dev(const char *data, struct cli_init_result *out)
{
	return init_datadir(data, "keyfile", "local", NULL, true, out);
}

int
cli_init_datadir_hsm(const char *data, const char *seal, const char *region,
    const struct keys_hsm_spec *hsm, struct cli_init_result *out)
{
	return init_datadir(data, seal, region, hsm, false, out);
}

static int
init_datadir(const char *data, const char *seal, const char *region,
    const struct keys_hsm_spec *hsm, bool officer, struct cli_init_result *out)
{
	struct keys_hsm_spec hs;
	struct keys_seal_spec spec;
	struct pv_config cfg;
	struct store *st = NULL;
	struct keys *keys = NULL;
	struct audit *audit = NULL;
	char path[4096], tlsdir[4096], err[256];
	struct stat sb;
	int ret = CLI_RUNTIME;
	enum pv_rc rc;

	memset(out, 0, sizeof(*out));
	if (keys_seal_parse(seal, &spec) != PV_OK) {
		cli_err("--seal must be keyfile, shamir:K/N with 1 <= K <= N <= 255, or pkcs11");
		return CLI_USAGE;
	}
	if (spec.type == KEYS_SEAL_PKCS11 && (hsm == NULL || hsm->token_label == NULL ||
	    hsm->pin_file == NULL)) {
		cli_err("--seal pkcs11 needs --pkcs11-token LABEL and --pkcs11-pin-file FILE "
		    "(--pkcs11-module LIB and --pkcs11-key-label L are optional)");
		return CLI_USAGE;
	}
	if (spec.type != KEYS_SEAL_PKCS11 && hsm != NULL) {
		cli_err("--pkcs11-* options go with --seal pkcs11");
		return CLI_USAGE;
	}
	if (!region_valid(region)) {
		cli_err("--region must be 1-63 characters of a-z, 0-9 and '-'");
		return CLI_USAGE;
	}
	if (util_path_join(path, sizeof(path), data, "phivault.conf") != 0 ||
	    util_path_join(tlsdir, sizeof(tlsdir), data, "tls") != 0) {
		cli_err("data directory path too long");
		return CLI_USAGE;
	}
	if (stat(path, &sb) == 0) {
		cli_err("%s is already initialised (%s exists); refusing to overwrite it", data, path);
		return CLI_RUNTIME;
	}
	if (util_path_join(path, sizeof(path), data, "phivault.db") == 0 && stat(path, &sb) == 0) {
		cli_err("%s already holds a database; refusing to overwrite it", data);
		return CLI_RUNTIME;
	}
	if (crypto_init() != PV_OK) {
		cli_err("libcrypto is not usable");
		return CLI_RUNTIME;
	}
	umask(077);
	if (mkdir_private(data) != 0 || mkdir_private(tlsdir) != 0) {
		cli_err("cannot create %s: %s", data, strerror(errno));
		return CLI_RUNTIME;
	}

	config_defaults(&cfg, data);
	util_strlcpy(cfg.region, region, sizeof(cfg.region));
	if (!config_region_allowed(&cfg, region))
		util_strlcpy(cfg.allowed_regions, region, sizeof(cfg.allowed_regions));
	if (spec.type == KEYS_SEAL_PKCS11) {
		if ((hsm->module != NULL && abs_path(hsm->module, cfg.pkcs11_module,
		    sizeof(cfg.pkcs11_module)) != 0) ||
		    abs_path(hsm->pin_file, cfg.pkcs11_pin_file, sizeof(cfg.pkcs11_pin_file)) != 0 ||
		    util_strlcpy(cfg.pkcs11_token_label, hsm->token_label,
		    sizeof(cfg.pkcs11_token_label)) >= sizeof(cfg.pkcs11_token_label) ||
		    util_strlcpy(cfg.pkcs11_key_label, hsm->key_label ? hsm->key_label :
		    "phivault-seal", sizeof(cfg.pkcs11_key_label)) >= sizeof(cfg.pkcs11_key_label)) {
			cli_err("--pkcs11-*: a path or label is too long (token label: 32 bytes)");
			return CLI_USAGE;
		}
		hs.module = cfg.pkcs11_module;
		hs.token_label = cfg.pkcs11_token_label;
		hs.pin_file = cfg.pkcs11_pin_file;
		hs.key_label = cfg.pkcs11_key_label;
	}
	if (config_validate(&cfg, false, err, sizeof(err)) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}

	if ((rc = crypto_tls_selfsigned(cfg.tls_cert, cfg.tls_key, "localhost", 825)) != PV_OK) {
		cli_err("cannot create the TLS certificate: %s", pv_rc_name(rc));
		goto out;
	}
	if ((rc = store_open(data, cfg.store_backend, cfg.store_url, false, &st)) != PV_OK) {
		cli_err("cannot create the database: %s", pv_rc_name(rc));
		goto out;
	}
	if (spec.type == KEYS_SEAL_PKCS11)
		rc = keys_initialize_pkcs11(st, &hs);
	else
		rc = keys_initialize(st, data, &spec, &out->shares, &out->nshares);
	if (rc != PV_OK) {
		cli_err("cannot create the key hierarchy: %s", pv_rc_name(rc));
		goto out;
	}
	{
		uint8_t pub[CRYPTO_ED25519_PUB_LEN];

		if ((rc = keys_audit_public_key(st, pub)) != PV_OK ||
		    (rc = audit_key_fingerprint(pub, out->audit_key_fingerprint)) != PV_OK) {
			cli_err("cannot read the audit public key: %s", pv_rc_name(rc));
			goto out;
		}
	}
	if ((rc = keys_open(st, data, &keys)) != PV_OK ||
	    (spec.type == KEYS_SEAL_KEYFILE && (rc = keys_unseal_keyfile(keys)) != PV_OK) ||
	    (spec.type == KEYS_SEAL_PKCS11 && (rc = keys_unseal_pkcs11(keys, &hs)) != PV_OK)) {
		cli_err("cannot open the new keyring: %s", pv_rc_name(rc));
		goto out;
	}
	{
		struct audit_config ac = { cfg.checkpoint_every, cfg.checkpoint_interval_s, 0 };
		struct audit_event ev = {
			.actor = audit_actor_system(),
			.action = "sys.init",
			.resource = "sys",
			.outcome = AUDIT_ALLOWED,
			.reason = spec.type == KEYS_SEAL_SHAMIR ? "shamir" :
			    spec.type == KEYS_SEAL_PKCS11 ? "pkcs11" : "keyfile",
		};

		if ((rc = audit_start(st, keys, &ac, &audit)) != PV_OK ||
		    (rc = audit_record(audit, &ev)) != PV_OK) {
			cli_err("cannot start the audit trail: %s", pv_rc_name(rc));
			goto out;
		}
	}
	util_strlcpy(out->admin_username, "admin", sizeof(out->admin_username));
	/* the first administrator: role admin, a random one-time password shown
	 * once here, only its Argon2id hash stored; recorded as user.create */
	rc = authn_password_generate(out->admin_password, sizeof(out->admin_password));
	if (rc == PV_OK)
		rc = directory_bootstrap_admin(st, audit, &cfg, out->admin_username,
		    out->admin_password, NULL);
	if (rc != PV_OK) {
		cli_err("cannot create the bootstrap admin: %s", pv_rc_name(rc));
		goto out;
	}
	/* dev: an approver too, so a newcomer gets a working clinician (dual
	 * control needs a security officer besides the admin) */
	if (officer) {
		util_strlcpy(out->officer_username, "officer", sizeof(out->officer_username));
		rc = authn_password_generate(out->officer_password, sizeof(out->officer_password));
		if (rc == PV_OK)
			rc = directory_bootstrap_officer(st, audit, &cfg, out->officer_username,
			    out->officer_password, NULL);
		if (rc != PV_OK) {
			cli_err("cannot create the security officer: %s", pv_rc_name(rc));
			goto out;
		}
	}
	/* write the config last: its presence marks a complete data directory */
	if (util_path_join(path, sizeof(path), data, "phivault.conf") != 0 ||
	    config_write(&cfg, path) != PV_OK) {
		cli_err("cannot write %s", path);
		goto out;
	}
	util_strlcpy(out->ca_cert, cfg.tls_cert, sizeof(out->ca_cert));
	ret = CLI_OK;
out:
	if (audit != NULL)
		audit_stop(audit);
	if (keys != NULL)
		keys_close(keys);
	store_close(st);
	if (ret != CLI_OK) {
		if (out->shares != NULL)
			keys_shares_free(out->shares, out->nshares);
		out->shares = NULL;
	}
	return ret;
}

static const struct option init_opts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "seal", required_argument, NULL, 's' },
	{ "region", required_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "pkcs11-module", required_argument, NULL, 'M' },
	{ "pkcs11-token", required_argument, NULL, 'T' },
	{ "pkcs11-pin-file", required_argument, NULL, 'P' },
	{ "pkcs11-key-label", required_argument, NULL, 'L' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
cmd_init(int argc, char **argv)
{
	const char *data = NULL, *seal = "keyfile", *region = "local";
	struct cli_init_result res;
	struct keys_hsm_spec hsm = { NULL, NULL, NULL, NULL };
	bool as_json = false, have_hsm = false;
	int c, ret;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:s:r:jh", init_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 's': seal = optarg; break;
		case 'r': region = optarg; break;
		case 'j': as_json = true; break;
		case 'M': hsm.module = optarg; have_hsm = true; break;
		case 'T': hsm.token_label = optarg; have_hsm = true; break;
		case 'P': hsm.pin_file = optarg; have_hsm = true; break;
		case 'L': hsm.key_label = optarg; have_hsm = true; break;
		case 'h':
			printf("usage: phivault init --data DIR [--seal keyfile|shamir:K/N|pkcs11] "
			    "[--region REGION] [--json]\n"
			    "       [--pkcs11-module LIB --pkcs11-token LABEL --pkcs11-pin-file FILE "
			    "[--pkcs11-key-label L]]\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (data == NULL || optind != argc) {
		cli_err("usage: phivault init --data DIR [--seal keyfile|shamir:K/N|pkcs11] "
		    "[--region REGION] [--json] [--pkcs11-module LIB --pkcs11-token LABEL "
		    "--pkcs11-pin-file FILE [--pkcs11-key-label L]]");
		return CLI_USAGE;
	}
	if ((ret = cli_init_datadir_hsm(data, seal, region, have_hsm ? &hsm : NULL,
	    &res)) != CLI_OK)
		return ret;
	if (as_json) {
		json_t *o = json_object(), *sh = json_array();
		char *txt;

		for (i = 0; i < res.nshares; i++)
			json_array_append_new(sh, json_string(res.shares[i]));
		json_object_set_new(o, "admin_username", json_string(res.admin_username));
		json_object_set_new(o, "admin_password", json_string(res.admin_password));
		json_object_set_new(o, "unseal_shares", sh);
		json_object_set_new(o, "ca_cert", json_string(res.ca_cert));
		json_object_set_new(o, "audit_key_fingerprint",
		    json_string(res.audit_key_fingerprint));
		txt = json_dumps(o, JSON_COMPACT);
		if (txt != NULL) {
			printf("%s\n", txt);
			crypto_wipe(txt, strlen(txt));
			free(txt);
		}
		json_decref(o);
	} else {
		printf("initialised %s\n", data);
		printf("bootstrap admin: %s, one-time password: %s (change it at first login)\n",
		    res.admin_username, res.admin_password);
		if (res.nshares > 0) {
			printf("unseal shares (give one to each key holder; they are not stored):\n");
			for (i = 0; i < res.nshares; i++)
				printf("  %s\n", res.shares[i]);
		} else if (strcmp(seal, "pkcs11") == 0) {
			printf("pkcs11 seal: the token's key unseals the vault at start "
			    "([pkcs11] in %s/phivault.conf)\n", data);
		} else {
			printf("key-file seal: %s/%s unseals the vault at start (dev and tests; "
			    "use --seal shamir:K/N in production)\n", data, KEYS_UNSEAL_FILE);
		}
		printf("CA certificate: %s\n", res.ca_cert);
		printf("audit key fingerprint: %s\n"
		    "  (keep it off this machine; `phivault audit verify "
		    "--public-key-fingerprint` checks the trail against it)\n",
		    res.audit_key_fingerprint);
	}
	cli_init_result_clear(&res);
	return CLI_OK;
}
