/* common: helpers shared by the subcommands (errors, the online commands' server options). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("phivault: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_online_init(struct cli_online_opts *o)
{
	o->addr = getenv("PHIVAULT_ADDR");
	o->cacert = getenv("PHIVAULT_CACERT");
}

bool
cli_online_opt(struct cli_online_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'a': o->addr = arg; return true;
	case 'c': o->cacert = arg; return true;
	default: return false;
	}
}

const char *
cli_online_addr(const struct cli_online_opts *o)
{
	return o->addr != NULL && *o->addr != '\0' ? o->addr : CLI_DEFAULT_ADDR;
}

int
cli_online_parse(int argc, char **argv, const char *usage, struct cli_online_opts *o)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	cli_online_init(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, NULL)) != -1) {
		if (cli_online_opt(o, c, optarg))
			continue;
		if (c == 'h') {
			printf("%s\n", usage);
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	return CLI_GO_ON;
}
