/*
 * unseal: `phivault unseal --addr URL [--cacert FILE] [--format text|json]`,
 * one share read from stdin. Text ("share accepted: k of K; still sealed" or
 * "unsealed") is the default even when stdout is not a terminal, as before
 * --format existed; --format json prints the server's answer
 * {"sealed":bool,"progress":k,"threshold":K}.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define UNSEAL_USAGE "usage: phivault unseal --addr URL [--cacert FILE] [--format text|json] < share"

int
cmd_unseal(int argc, char **argv)
{
	struct cli_online_opts on;
	char share[1100];
	json_t *body, *resp = NULL;
	long status = 0;
	int c, ret = CLI_RUNTIME, sealed = 1, progress = 0, threshold = 0;
	size_t n;

	if ((c = cli_online_parse(argc, argv, UNSEAL_USAGE, &on)) != CLI_GO_ON)
		return c;
	if (!on.format_given)
		on.format = CLI_FORMAT_TEXT;
	if (on.addr == NULL || optind != argc) {
		cli_err(UNSEAL_USAGE);
		return CLI_USAGE;
	}
	if (fgets(share, sizeof(share), stdin) == NULL) {
		cli_err("no share on standard input");
		return CLI_USAGE;
	}
	n = strcspn(share, "\r\n");
	share[n] = '\0';
	body = json_pack("{s:s}", "share", share);
	crypto_wipe(share, sizeof(share));
	if (body == NULL)
		return CLI_RUNTIME;
	if (cli_http(on.addr, on.cacert, NULL, "POST", "/v1/sys/unseal", body, &status, &resp) != PV_OK)
		goto out;
	if (status != 200) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	json_unpack(resp, "{s:b, s:i, s:i}", "sealed", &sealed, "progress", &progress,
	    "threshold", &threshold);
	if (on.format == CLI_FORMAT_JSON)
		cli_print_json(resp);
	else if (sealed)
		printf("share accepted: %d of %d; still sealed\n", progress, threshold);
	else
		printf("unsealed\n");
	ret = CLI_OK;
out:
	{
		/* the share is inside the body object: wipe it before freeing */
		json_t *s = json_object_get(body, "share");
		if (s != NULL && json_string_value(s) != NULL)
			crypto_wipe((void *)json_string_value(s), json_string_length(s));
	}
	json_decref(body);
	json_decref(resp);
	return ret;
}
