/*
 * compliance: the signed compliance report, offline.
 *   phivault compliance report --data DIR [--format json|md|html] [--out FILE]
 *       opens DIR's store read-only, unseals a keyring in this process only
 *       to sign (key-file seal: DIR/unseal.key; Shamir: K shares on stdin,
 *       one a line; pkcs11: the [pkcs11] token), evaluates and prints or
 *       writes the report (FILE 0600). Needs no running server; a running
 *       one may hold DIR meanwhile (the report reads, it never writes).
 *   phivault compliance verify FILE [--public-key PEM | --data DIR]
 *       exit 0 intact, 1 tampered (stderr names what), 2 usage, 3 runtime.
 *       The key: --public-key (the PEM of GET /v1/audit/public-key), else
 *       the audit public key stored in DIR (--data or PHIVAULT_DATA).
 *   phivault compliance baseline approve|show, compliance exception
 *       add|list|rm: online, in cmd_config.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "compliance/compliance.h"
#include "config/config.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "store/store.h"

#define COMPLIANCE_USAGE "usage: phivault compliance report --data DIR [--format json|md|html] " \
	"[--out FILE]\n" \
	"       phivault compliance verify FILE [--public-key PEM | --data DIR]\n" \
	"       phivault compliance baseline approve|show (online)\n" \
	"       phivault compliance exception add|list|rm ... (online; --help)"

#define REPORT_MAX (64u << 20)

static const struct option copts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "format", required_argument, NULL, 'f' },
	{ "out", required_argument, NULL, 'o' },
	{ "public-key", required_argument, NULL, 'k' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
usage(void)
{
	cli_err("%s", COMPLIANCE_USAGE);
	return CLI_USAGE;
}

/* Unseal k for signing, as serve would (shares from stdin for Shamir). */
static enum pv_rc
unseal_for_signing(struct keys *k, const struct pv_config *cfg)
{
	struct keys_seal_status ss;
	char line[1100];
	enum pv_rc rc = PV_E_SEALED;

	keys_status(k, &ss);
	if (ss.type == KEYS_SEAL_KEYFILE)
		return keys_unseal_keyfile(k);
	if (ss.type == KEYS_SEAL_PKCS11) {
		const struct keys_hsm_spec hs = { cfg->pkcs11_module, cfg->pkcs11_token_label,
			cfg->pkcs11_pin_file, cfg->pkcs11_key_label };

		return keys_unseal_pkcs11(k, &hs);
	}
	while (keys_is_sealed(k) && fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		rc = keys_unseal_share(k, line, &ss);
		crypto_wipe(line, sizeof line);
		if (rc != PV_OK)
			return rc;
	}
	return keys_is_sealed(k) ? PV_E_SEALED : PV_OK;
}

static int
report_cmd(const char *data, const char *format, const char *outpath)
{
	struct pv_config cfg;
	struct store *st = NULL;
	struct keys *k = NULL;
	struct compliance_inputs in;
	enum compliance_format fmt;
	char err[512], *buf = NULL;
	size_t len = 0;
	int64_t seq = 0, failed = 0;
	int ret = CLI_RUNTIME;
	enum pv_rc rc;

	if (!compliance_format_parse(format, &fmt)) {
		cli_err("--format must be json, md or html");
		return CLI_USAGE;
	}
	if (crypto_init() != PV_OK) {
		cli_err("libcrypto is not usable");
		return CLI_RUNTIME;
	}
	if (config_load(data, &cfg, err, sizeof err) != PV_OK) {
		cli_err("%s", err);
		return CLI_RUNTIME;
	}
	if ((rc = store_open(data, cfg.store_backend, cfg.store_url, true, &st)) != PV_OK) {
		cli_err("cannot open the store of %s: %s", data, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	if ((rc = keys_open(st, data, &k)) != PV_OK) {
		cli_err("cannot open the keyring of %s: %s", data, pv_rc_name(rc));
		goto out;
	}
	if ((rc = unseal_for_signing(k, &cfg)) != PV_OK) {
		cli_err("cannot unseal the audit key to sign the report: %s (key-file seal: "
		    "%s/%s; Shamir: K shares on stdin, one a line; or ask a running server: "
		    "GET /v1/compliance/report)", pv_rc_name(rc), data, KEYS_UNSEAL_FILE);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.st = st;
	in.cfg = &cfg;
	in.datadir = data;
	in.keys = k;
	in.proc = NULL;
	in.mode = "offline";
	if ((rc = compliance_report(&in, fmt, &buf, &len, &seq, &failed)) != PV_OK) {
		cli_err("cannot build the report: %s", pv_rc_name(rc));
		goto out;
	}
	if (outpath != NULL) {
		if ((rc = util_file_write_atomic(outpath, buf, len, 0600)) != PV_OK) {
			cli_err("cannot write %s: %s", outpath, pv_rc_name(rc));
			goto out;
		}
	} else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
		goto out;
	}
	ret = CLI_OK;
out:
	free(buf);
	keys_close(k);
	store_close(st);
	return ret;
}

static int
verify_cmd(const char *path, const char *pemfile, const char *data)
{
	uint8_t pub[CRYPTO_ED25519_PUB_LEN], *buf = NULL;
	struct compliance_verify_result vr;
	size_t len = 0;
	enum pv_rc rc;

	if (pemfile != NULL) {
		if ((rc = util_file_read(pemfile, 4096, &buf, &len)) != PV_OK) {
			cli_err("cannot read --public-key %s: %s", pemfile, pv_rc_name(rc));
			return CLI_USAGE;
		}
		rc = audit_public_key_from_pem((const char *)buf, len, pub);
		free(buf);
		buf = NULL;
		if (rc != PV_OK) {
			cli_err("--public-key %s is not an Ed25519 public key PEM "
			    "(the answer of GET /v1/audit/public-key)", pemfile);
			return CLI_USAGE;
		}
	} else {
		struct pv_config cfg;
		struct store *st = NULL;
		char err[512];

		if (data == NULL) {
			cli_err("give --public-key PEM or --data DIR (or PHIVAULT_DATA): the audit "
			    "public key the report must be signed with");
			return CLI_USAGE;
		}
		if (config_load(data, &cfg, err, sizeof err) != PV_OK) {
			cli_err("%s", err);
			return CLI_RUNTIME;
		}
		if ((rc = store_open(data, cfg.store_backend, cfg.store_url, true, &st)) != PV_OK) {
			cli_err("cannot open the store of %s: %s", data, pv_rc_name(rc));
			return CLI_RUNTIME;
		}
		rc = keys_audit_public_key(st, pub);
		store_close(st);
		if (rc != PV_OK) {
			cli_err("cannot read the audit public key of %s: %s", data, pv_rc_name(rc));
			return CLI_RUNTIME;
		}
	}
	if ((rc = util_file_read(path, REPORT_MAX, &buf, &len)) != PV_OK) {
		cli_err("cannot read %s: %s", path, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	rc = compliance_verify((const char *)buf, len, pub, &vr);
	free(buf);
	if (rc == PV_E_INVALID) {
		cli_err("compliance report tampered: %s is not a phivault compliance report "
		    "(no signed JSON document found)", path);
		return CLI_CHECK_FAILED;
	}
	if (rc != PV_OK) {
		cli_err("cannot verify %s: %s", path, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	if (!vr.ok) {
		cli_err("compliance report tampered: %s", vr.reason);
		return CLI_CHECK_FAILED;
	}
	printf("compliance report intact: %s, signed, bound to audit seq %lld\n", vr.format,
	    (long long)vr.audit_seq);
	return fflush(stdout) == 0 ? CLI_OK : CLI_RUNTIME;
}

int
cmd_compliance(int argc, char **argv)
{
	const char *data = getenv("PHIVAULT_DATA"), *format = NULL, *out = NULL, *pem = NULL;
	const char *sub;
	int c;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n", COMPLIANCE_USAGE);
		return CLI_OK;
	}
	if (argc < 2)
		return usage();
	sub = argv[1];
	if (strcmp(sub, "baseline") == 0 || strcmp(sub, "exception") == 0)
		return cli_compliance_online(argc - 1, argv + 1);   /* cmd_config.c */
	if (strcmp(sub, "report") != 0 && strcmp(sub, "verify") != 0)
		return usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "d:f:o:k:h", copts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'f': format = optarg; break;
		case 'o': out = optarg; break;
		case 'k': pem = optarg; break;
		case 'h':
			printf("%s\n", COMPLIANCE_USAGE);
			return CLI_OK;
		default:
			return usage();
		}
	}
	if (strcmp(sub, "report") == 0) {
		if (data == NULL || data[0] == '\0' || optind != argc || pem != NULL)
			return usage();
		return report_cmd(data, format, out);
	}
	if (optind + 1 != argc || format != NULL || out != NULL)
		return usage();
	return verify_cmd(argv[optind], pem, data != NULL && data[0] != '\0' ? data : NULL);
}
