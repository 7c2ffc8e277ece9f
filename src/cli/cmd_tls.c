/*
 * tls: the server's TLS certificate over the API (docs/governance.md
 * "Management plane and TLS certificates").
 *
 *   phivault tls show     the certificate served now (GET /v1/sys/tls)
 *   phivault tls reload   load tls.cert + tls.key again (POST /v1/sys/tls/reload);
 *                         exit 0 with the new certificate, 1 if refused (the old
 *                         one is still served)
 *
 * Common options: --addr URL (PHIVAULT_ADDR: the management listener),
 * --cacert FILE (PHIVAULT_CACERT), --format text|json; the token comes from
 * PHIVAULT_TOKEN only (a key_admin's: the routes need keys.manage). Used as
 * certbot's deploy hook: --deploy-hook 'phivault tls reload'.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define TLS_USAGE "usage: phivault tls show|reload [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"

static void
print_cert(const struct cli_api *c, json_t *o)
{
	if (c->format == CLI_FORMAT_JSON) {
		cli_print_json(o);
		return;
	}
	printf("subject      %s\n", cli_jstr(o, "subject"));
	printf("issuer       %s\n", cli_jstr(o, "issuer"));
	printf("not after    %s (%lld days left)\n", cli_jstr(o, "not_after"),
	    (long long)json_integer_value(json_object_get(o, "days_left")));
	printf("key          %s, signature %s\n", cli_jstr(o, "key"), cli_jstr(o, "sig_alg"));
	printf("fingerprint  sha256 %s\n", cli_jstr(o, "fingerprint"));
	printf("loaded at    %s (generation %lld)\n", cli_jstr(o, "loaded_at"),
	    (long long)json_integer_value(json_object_get(o, "generation")));
	if (json_is_string(json_object_get(o, "weakness")))
		printf("weakness     %s\n", cli_jstr(o, "weakness"));
}

int
cmd_tls(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL;
	const char *sub;
	int c, ret;
	bool show;

	if ((c = cli_subcommand(argc, argv, TLS_USAGE, &on)) != CLI_GO_ON)
		return c;
	sub = argv[1];
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		switch (c) {
		case 'h':
			printf("%s\n", TLS_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (on.bad_format)
		return CLI_USAGE;
	show = strcmp(sub, "show") == 0;
	if ((!show && strcmp(sub, "reload") != 0) || optind != argc) {
		cli_err(TLS_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	ret = show ? cli_api_call(&ctx, "GET", "/v1/sys/tls", NULL, 200, &resp) :
	    cli_api_call(&ctx, "POST", "/v1/sys/tls/reload", NULL, 200, &resp);
	if (ret == CLI_OK) {
		if (!show && ctx.format != CLI_FORMAT_JSON)
			printf("reloaded: new connections get this certificate\n");
		print_cert(&ctx, resp);
	}
	json_decref(resp);
	return ret;
}
