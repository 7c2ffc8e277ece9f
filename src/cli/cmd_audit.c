/*
 * audit: offline commands on a data directory's trail.
 *   phivault audit verify --data DIR   exit 0 intact, 1 tampered (stderr names the first bad seq)
 *   phivault audit export --data DIR --format jsonl|cef|syslog [--since SEQ]
 * Both open the database read-only and need no keys: verification uses the
 * public checkpoint key stored beside the trail (or --public-key FILE, a PEM
 * exported earlier, so a verifier need not trust the directory it checks).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "store/store.h"

static const struct option audit_opts[] = {
	{ "data", required_argument, NULL, 'd' },
	{ "format", required_argument, NULL, 'f' },
	{ "since", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int
audit_usage(void)
{
	cli_err("usage: phivault audit verify --data DIR | "
	    "audit export --data DIR --format jsonl|cef|syslog [--since SEQ]");
	return CLI_USAGE;
}

int
cmd_audit(int argc, char **argv)
{
	const char *data = NULL, *format = NULL, *sub;
	long long since = 0;
	struct store *st = NULL;
	int c, ret = CLI_RUNTIME;
	enum pv_rc rc;

	if (argc < 2)
		return audit_usage();
	sub = argv[1];
	if (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0)
		return audit_usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "d:f:s:h", audit_opts, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 'f': format = optarg; break;
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
			audit_usage();
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (data == NULL || optind != argc)
		return audit_usage();
	if (strcmp(sub, "export") == 0 && format == NULL)
		return audit_usage();

	rc = store_open(data, "sqlite", NULL, true, &st);
	if (rc != PV_OK) {
		cli_err("cannot open the audit trail in %s: %s", data, pv_rc_name(rc));
		return CLI_RUNTIME;
	}
	if (strcmp(sub, "verify") == 0) {
		struct audit_verify_result vr;

		rc = audit_verify(st, NULL, &vr);
		if (rc != PV_OK) {
			cli_err("cannot read the audit trail: %s", pv_rc_name(rc));
			goto out;
		}
		if (vr.ok) {
			printf("audit trail intact: %lld entries, %lld signed checkpoints, head %s\n",
			    (long long)vr.entries, (long long)vr.checkpoints, vr.head);
			ret = CLI_OK;
		} else {
			cli_err("audit trail tampered: first bad seq %lld: %s",
			    (long long)vr.first_bad_seq, vr.reason);
			ret = CLI_CHECK_FAILED;
		}
	} else {
		rc = audit_export(st, format, since, stdout);
		if (rc == PV_E_INVALID) {
			cli_err("--format must be jsonl, cef or syslog");
			ret = CLI_USAGE;
		} else if (rc != PV_OK) {
			cli_err("export failed: %s", pv_rc_name(rc));
		} else {
			ret = fflush(stdout) == 0 ? CLI_OK : CLI_RUNTIME;
		}
	}
out:
	store_close(st);
	return ret;
}
