/*
 * audit: offline commands on a data directory's trail.
 *   phivault audit verify --data DIR [--public-key FILE | --public-key-fingerprint SHA256:HEX]
 *                         [--expect-head SEQ:HASH] [--format text|json]
 *       exit 0 intact, 1 tampered (stderr names the first bad seq)
 *   phivault audit export --data DIR --format jsonl|cef|syslog [--since SEQ]
 * Both open the database read-only and need no keys. Verification uses the
 * public checkpoint key stored beside the trail unless the operator brings
 * the one recorded at init: --public-key FILE (the PEM of GET
 * /v1/audit/public-key) or --public-key-fingerprint (printed by init), so a
 * verifier need not trust the directory it checks. --expect-head is the
 * head a previous verify printed: the chain must still hold it.
 * verify --format defaults to text (also when stdout is not a terminal).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "config/config.h"
#include "keys/keys.h"
#include "store/store.h"

static const struct option audit_opts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "format", required_argument, NULL, 'f' },
	{ "since", required_argument, NULL, 's' },
	{ "public-key", required_argument, NULL, 'k' },
	{ "public-key-fingerprint", required_argument, NULL, 'p' },
	{ "expect-head", required_argument, NULL, 'e' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define AUDIT_USAGE "usage: phivault audit verify --data DIR [--public-key FILE | " \
	"--public-key-fingerprint SHA256:HEX] [--expect-head SEQ:HASH] [--format text|json]\n" \
	"       phivault audit export --data DIR --format jsonl|cef|syslog [--since SEQ]"

/* A usage error: the usage on stderr, exit 2 (--help prints it on stdout, exit 0). */
static int
audit_usage(void)
{
	cli_err("%s", AUDIT_USAGE);
	return CLI_USAGE;
}

/* The PEM of GET /v1/audit/public-key, from a file, into pub. */
static int
read_public_key(const char *path, uint8_t pub[CRYPTO_ED25519_PUB_LEN])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pv_rc rc;

	rc = util_file_read(path, 4096, &buf, &len);
	if (rc != PV_OK) {
		cli_err("cannot read --public-key %s: %s", path, pv_rc_name(rc));
		return CLI_USAGE;
	}
	rc = audit_public_key_from_pem((const char *)buf, len, pub);
	free(buf);
	if (rc != PV_OK) {
		cli_err("--public-key %s is not an Ed25519 public key PEM "
		    "(the answer of GET /v1/audit/public-key)", path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

static void
verify_print(const struct audit_verify_result *vr, enum cli_format fmt)
{
	if (fmt == CLI_FORMAT_JSON) {
		char head[96];
		json_t *o;

		snprintf(head, sizeof head, "%lld:%s", (long long)vr->head_seq, vr->head);
		o = json_pack("{s:b, s:I, s:s, s:I}", "ok", vr->ok, "entries",
		    (json_int_t)vr->entries, "head", head, "checkpoints",
		    (json_int_t)vr->checkpoints);
		if (o != NULL) {
			json_object_set_new(o, "first_bad_seq", vr->ok ? json_null() :
			    json_integer((json_int_t)vr->first_bad_seq));
			if (!vr->ok)
				json_object_set_new(o, "reason", json_string(vr->reason));
			cli_print_json(o);
			json_decref(o);
		}
	} else if (vr->ok) {
		printf("audit trail intact: %lld entries, %lld signed checkpoints, head %lld:%s\n",
		    (long long)vr->entries, (long long)vr->checkpoints, (long long)vr->head_seq,
		    vr->head);
	}
	if (!vr->ok)
		cli_err("audit trail tampered: first bad seq %lld: %s",
		    (long long)vr->first_bad_seq, vr->reason);
}

/* The store DIR's config names ([store] backend, url; API.md "Several
 * nodes"), read-only. */
static enum pv_rc open_configured_store(const char *data, struct store **st)
{
	struct pv_config *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	enum pv_rc rc;

	if (cfg == NULL)
		return PV_E_NOMEM;
	rc = config_load(data, cfg, err, sizeof(err));
	if (rc != PV_OK)
		cli_err("%s", err);
	else
		rc = store_open(data, cfg->store_backend, cfg->store_url, true, st);
	explicit_bzero(cfg, sizeof(*cfg));   /* the url may hold a password */
	free(cfg);
	return rc;
}

static int
audit_verify_cmd(const char *data, const char *format, const char *keyfile,
    const char *fingerprint, const char *expect)
{
	struct audit_verify_opts vo = { 0 };
	struct audit_verify_result vr;
	enum cli_format fmt = CLI_FORMAT_TEXT;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	char head_hash[65];
	struct store *st = NULL;
	int ret;
	enum pv_rc rc;

	if (format != NULL && !cli_format_parse(format, &fmt))
		return CLI_USAGE;
	if (keyfile != NULL && fingerprint != NULL) {
		cli_err("give --public-key or --public-key-fingerprint, not both");
		return CLI_USAGE;
	}
	if (keyfile != NULL) {
		if ((ret = read_public_key(keyfile, pub)) != CLI_OK)
			return ret;
		vo.pub = pub;
	}
	if (fingerprint != NULL && (strncmp(fingerprint, "SHA256:", 7) != 0 ||
	    strlen(fingerprint) != AUDIT_FINGERPRINT_LEN)) {
		cli_err("--public-key-fingerprint must be SHA256: and 64 hex digits, "
		    "as init printed it");
		return CLI_USAGE;
	}
	if (expect != NULL) {
		if (audit_head_parse(expect, &vo.expect_seq, head_hash) != PV_OK) {
			cli_err("--expect-head must be SEQ:HASH (seq >= 1, 64 lowercase hex digits), "
			    "as a previous verify printed it");
			return CLI_USAGE;
		}
		vo.expect_hash = head_hash;
	}
	vo.fingerprint = fingerprint;
	rc = open_configured_store(data, &st);
	if (rc != PV_OK) {
		cli_err("cannot open the audit trail in %s: %s", data, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	rc = audit_verify_with(st, &vo, &vr);
	store_close(st);
	if (rc != PV_OK) {
		cli_err("cannot read the audit trail: %s", pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	verify_print(&vr, fmt);
	if (fflush(stdout) != 0)
		return CLI_RUNTIME;
	return vr.ok ? CLI_OK : CLI_CHECK_FAILED;
}

int
cmd_audit(int argc, char **argv)
{
	const char *data = NULL, *format = NULL, *sub, *keyfile = NULL, *fingerprint = NULL;
	const char *expect = NULL;
	long long since = 0;
	struct store *st = NULL;
	int c, ret = CLI_RUNTIME;
	enum pv_rc rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n", AUDIT_USAGE);
		return CLI_OK;
	}
	if (argc < 2)
		return audit_usage();
	sub = argv[1];
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0)
		return audit_usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "d:f:s:k:p:e:h", audit_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'f': format = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'p': fingerprint = optarg; break;
		case 'e': expect = optarg; break;
		case 's': {
			char *end;
			errno = 0;
			since = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || since < 0) {
				cli_err("--since must be a sequence number >= 0");
				return CLI_USAGE;
			}
			break;
		}
		case 'h':
			printf("%s\n", AUDIT_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (data == NULL || optind != argc)
		return audit_usage();
	if (strcmp(sub, "export") == 0 && (format == NULL || keyfile || fingerprint || expect))
		return audit_usage();
	if (strcmp(sub, "verify") == 0)
		return audit_verify_cmd(data, format, keyfile, fingerprint, expect);

	rc = open_configured_store(data, &st);
	if (rc != PV_OK) {
		cli_err("cannot open the audit trail in %s: %s", data, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	rc = audit_export(st, format, since, stdout);
	if (rc == PV_E_INVALID) {
		cli_err("--format must be jsonl, cef or syslog");
		ret = CLI_USAGE;
	} else if (rc != PV_OK) {
		cli_err("export failed: %s", pv_rc_name(rc));
	} else {
		ret = fflush(stdout) == 0 ? CLI_OK : CLI_RUNTIME;
	}
	store_close(st);
	return ret;
}
