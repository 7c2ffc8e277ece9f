/*
 * passkey: the caller's own WebAuthn passkeys over the API
 * (docs/identity.md "Passkeys").
 *
 *   phivault passkey list
 *   phivault passkey remove [--] ID
 *
 * A credential ID is base64url and may start with '-': put it after "--"
 * (getopt's end of options) so that it is not read as an option.
 * Common options: --addr URL (PHIVAULT_ADDR), --cacert FILE
 * (PHIVAULT_CACERT), --format text|json (default text on a terminal, json
 * otherwise); the token comes from PHIVAULT_TOKEN only. Registering a
 * passkey needs an authenticator, i.e. a browser
 * (navigator.credentials.create): there is no `passkey add`. Removing one
 * needs a session whose last MFA is at most 5 minutes old (the API answers
 * step_up_required otherwise).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define PASSKEY_USAGE "usage: phivault passkey list | passkey remove [--] ID " \
	"[--addr URL] [--cacert FILE] [--format text|json] (token from PHIVAULT_TOKEN)"

/* a credential ID is base64url */
static bool
id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 1400 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == n;
}

static void
print_list(json_t *arr)
{
	json_t *k;
	size_t i;

	printf("%-44s %-20s %-6s %-24s %s\n", "ID", "NAME", "ALG", "CREATED", "LAST USED");
	json_array_foreach(arr, i, k)
		printf("%-44s %-20s %-6s %-24s %s\n", cli_jstr(k, "id"), cli_jstr(k, "name"),
		    cli_jstr(k, "alg"), cli_jstr(k, "created_at"),
		    json_is_string(json_object_get(k, "last_used_at")) ?
		    cli_jstr(k, "last_used_at") : "never");
}

int
cmd_passkey(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	const char *sub;
	char path[1600];
	json_t *resp = NULL;
	int c, nargs, ret;

	if ((c = cli_subcommand(argc, argv, PASSKEY_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'h':
			printf("%s\n", PASSKEY_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	nargs = argc - optind;
	if (strcmp(sub, "list") == 0 ? nargs != 0 :
	    strcmp(sub, "remove") == 0 ? nargs != 1 || !id_ok(argv[optind]) : true) {
		cli_err(PASSKEY_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	if (strcmp(sub, "list") == 0) {
		ret = cli_api_call(&ctx, "GET", "/v1/auth/webauthn/credentials", NULL, 200, &resp);
		if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON)
			cli_print_json(resp);
		else if (ret == CLI_OK)
			print_list(json_object_get(resp, "credentials"));
		json_decref(resp);
		return ret;
	}
	snprintf(path, sizeof(path), "/v1/auth/webauthn/credentials/%s", argv[optind]);
	ret = cli_api_call(&ctx, "DELETE", path, NULL, 204, &resp);
	json_decref(resp);
	resp = NULL;
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON) {
		resp = json_pack("{s:s, s:b}", "id", argv[optind], "removed", 1);
		cli_print_json(resp);
		json_decref(resp);
	} else if (ret == CLI_OK) {
		printf("%s: removed\n", argv[optind]);
	}
	return ret;
}
