/*
 * sinks: the SIEM sinks of a running server (GET /v1/sys/sinks, needs
 * audit.read: the auditor role; docs/monitoring.md).
 *
 *   phivault sinks [--addr URL] [--cacert FILE] [--format text|json]
 *
 * Text: one line a sink, "NAME  cursor SEQ  lag N  delivered N  ok|error: ...".
 * --format json prints the API's answer as one line. The default is text on
 * a terminal, json otherwise; the token comes from PHIVAULT_TOKEN.
 */
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"

#define SINKS_USAGE "usage: phivault sinks [--addr URL] [--cacert FILE] " \
	"[--format text|json] (token from PHIVAULT_TOKEN)"

int
cmd_sinks(int argc, char **argv)
{
	struct cli_online_opts on;
	struct cli_api ctx;
	json_t *resp = NULL, *e;
	size_t i;
	int ret;

	cli_online_init(&on);
	if ((ret = cli_online_parse(argc, argv, SINKS_USAGE, &on)) != CLI_GO_ON)
		return ret;
	if (optind != argc) {
		cli_err(SINKS_USAGE);
		return CLI_USAGE;
	}
	if (!cli_api_init(&ctx, &on))
		return CLI_USAGE;
	ret = cli_api_call(&ctx, "GET", "/v1/sys/sinks", NULL, 200, &resp);
	if (ret == CLI_OK && ctx.format == CLI_FORMAT_JSON) {
		cli_print_json(resp);
	} else if (ret == CLI_OK) {
		if (json_array_size(resp) == 0)
			printf("no sinks configured ([sinks] in phivault.conf)\n");
		json_array_foreach(resp, i, e) {
			const char *err = cli_jstr(e, "last_error");

			printf("%-10s cursor %lld  lag %lld  delivered %lld  %s%s\n",
			    cli_jstr(e, "name"),
			    (long long)json_integer_value(json_object_get(e, "cursor_seq")),
			    (long long)json_integer_value(json_object_get(e, "lag")),
			    (long long)json_integer_value(json_object_get(e, "delivered")),
			    err[0] ? "error: " : "ok", err);
		}
	}
	json_decref(resp);
	return ret;
}
