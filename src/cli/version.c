/* version: `phivault version [--format text|json]`. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"

#define VERSION_USAGE "usage: phivault version [--format text|json]"

int
cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum cli_format format = cli_format_default();
	json_t *v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "F:h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (!cli_format_parse(optarg, &format))
				return CLI_USAGE;
			break;
		case 'h':
			printf("%s\n", VERSION_USAGE);
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind != argc) {
		cli_err(VERSION_USAGE);
		return CLI_USAGE;
	}
	if (format == CLI_FORMAT_TEXT) {
		printf("phivault %s\n", PHIVAULT_VERSION);
		return CLI_OK;
	}
	if ((v = json_pack("{s:s}", "version", PHIVAULT_VERSION)) == NULL)
		return CLI_RUNTIME;
	cli_print_json(v);
	json_decref(v);
	return CLI_OK;
}
