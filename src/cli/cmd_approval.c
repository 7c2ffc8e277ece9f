/*
 * approval: dual control over the API (docs/access-control.md "Dual
 * control").
 *
 *   phivault approval list [--status pending|approved|denied|expired]
 *   phivault approval show ID
 *   phivault approval approve ID [--note TEXT]
 *   phivault approval deny ID [--note TEXT]
 *
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. Who may approve
 * (a security officer, never the requester, never an app) is the server's.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define APPROVAL_USAGE "usage: phivault approval list [--status S] | approval show ID | " \
	"approval approve|deny ID [--note TEXT] [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"

static void
print_one(json_t *a)
{
	char *change = json_dumps(json_object_get(a, "change"), JSON_COMPACT | JSON_SORT_KEYS);

	printf("%-30s %-9s %-13s %-40s by %s expires %s\n", cli_jstr(a, "id"),
	    cli_jstr(a, "status"), cli_jstr(a, "kind"), cli_jstr(a, "target"),
	    cli_jstr(a, "requested_by"), cli_jstr(a, "expires"));
	printf("    change: %s\n", change != NULL ? change : "{}");
	if (*cli_jstr(a, "decided_by") != '\0')
		printf("    decided by %s at %s%s%s\n", cli_jstr(a, "decided_by"),
		    cli_jstr(a, "decided"), *cli_jstr(a, "note") ? ": " : "", cli_jstr(a, "note"));
	free(change);
}

static bool
id_ok(const char *id)
{
	size_t n = strlen(id);

	return n > 4 && n < 64 && strncmp(id, "apr_", 4) == 0 &&
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

int
cmd_approval(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "note", required_argument, NULL, 'n' },
		{ "status", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *note = NULL, *status = NULL, *sub;
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *body, *a;
	char path[160];
	size_t i;
	int c, ret;
	bool list, show, decide;

	if ((c = cli_subcommand(argc, argv, APPROVAL_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'n': note = optarg; break;
		case 's': status = optarg; break;
		case 'h':
			printf("%s\n", APPROVAL_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	list = strcmp(sub, "list") == 0;
	show = strcmp(sub, "show") == 0;
	decide = strcmp(sub, "approve") == 0 || strcmp(sub, "deny") == 0;
	if ((!list && !show && !decide) ||
	    (list ? optind != argc || note != NULL :
	    optind != argc - 1 || !id_ok(argv[optind]) || status != NULL ||
	    (show && note != NULL)) ||
	    (status != NULL && strspn(status, "abcdefghijklmnopqrstuvwxyz") != strlen(status))) {
		cli_err(APPROVAL_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (list) {
		snprintf(path, sizeof(path), "/v1/approvals%s%s", status ? "?status=" : "",
		    status ? status : "");
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			json_array_foreach(json_object_get(resp, "approvals"), i, a)
				print_one(a);
		json_decref(resp);
		return ret;
	}
	if (show) {
		snprintf(path, sizeof(path), "/v1/approvals/%s", argv[optind]);
		ret = cli_api_call(&ctx, "GET", path, NULL, 200, &resp);
	} else {
		snprintf(path, sizeof(path), "/v1/approvals/%s/%s", argv[optind], sub);
		body = note != NULL ? json_pack("{s:s}", "note", note) : json_object();
		if (body == NULL) {
			cli_err("out of memory");
			return CLI_RUNTIME;
		}
		ret = cli_api_call(&ctx, "POST", path, body, 200, &resp);
		json_decref(body);
	}
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (ret == CLI_OK)
		print_one(resp);
	json_decref(resp);
	return ret;
}
