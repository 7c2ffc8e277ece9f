/* main: dispatch `phivault <command>` to cmd_<command> (cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
};

static const struct command commands[] = {
	{ "dev", cmd_dev, "initialise a data directory if new and serve it (try it out)" },
	{ "init", cmd_init, "create a data directory: config, database, certificate, sealed root key" },
	{ "serve", cmd_serve, "run the server in the foreground" },
	{ "unseal", cmd_unseal, "send one unseal share (read from stdin) to a server" },
	{ "audit", cmd_audit, "verify or export the audit trail (offline)" },
	{ "user", cmd_user, "add, list, show or disable users (online)" },
	{ "login", cmd_login, "log in and print the token export line" },
	{ "version", cmd_version, "print the version" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: phivault <command> [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`phivault <command> --help` describes a command.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	cli_err("unknown command '%s' (see phivault --help)", argv[1]);
	return CLI_USAGE;
}
