/*
 * main: dispatch `phivault <command>` to cmd_<command> (cli.h).
 *
 * Help is an answer, not an error: `phivault --help`, `phivault help` and
 * `phivault help CMD` (= `phivault CMD --help`) print on stdout and exit 0;
 * a usage error prints on stderr and exits 2. The command sees argv[0] =
 * "phivault", so getopt's own diagnostics (unknown option, missing argument)
 * read "phivault: unrecognized option '--x'" like every other error (cli_err)
 * in every command.
 */
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
	{ "key", cmd_key, "list, rotate, re-encrypt, retire or revoke keys (online)" },
	{ "job", cmd_job, "list, show, pause, resume or cancel background jobs (online)" },
	{ "app", cmd_app, "create, list, show or disable apps; add or remove their secrets (online)" },
	{ "sinks", cmd_sinks, "show the SIEM sinks: cursor, lag, last error (online)" },
	{ "alert", cmd_alert, "list or acknowledge threat-detection alerts (online)" },
	{ "tls", cmd_tls, "show or reload the server's TLS certificate (online)" },
	{ "policy", cmd_policy, "add, list, show or remove access policies (online)" },
	{ "compliance", cmd_compliance, "the signed compliance report (offline); baseline and exceptions (online)" },
	{ "config", cmd_config, "show the effective configuration and its drift from the baseline (online)" },
	{ "export", cmd_export, "create, list, show, download or delete de-identified exports (online)" },
	{ "backup", cmd_backup, "create, list or delete backups (online); verify or restore them (offline)" },
	{ "subject", cmd_subject, "show, shred, hold or release a patient's records (online)" },
	{ "incident", cmd_incident, "breach scope: who was affected by an incident (online)" },
	{ "retention", cmd_retention, "run retention and disposal now (online)" },
	{ "secret", cmd_secret, "put, get, list, remove, undelete or destroy application secrets (online)" },
	{ "approval", cmd_approval, "list, show, approve or deny pending PHI-granting changes (online)" },
	{ "elevation", cmd_elevation, "request, list, approve, deny or revoke JIT elevations (online)" },
	{ "officer", cmd_officer, "add, remove or list security officers with the seal's authority (online)" },
	{ "passkey", cmd_passkey, "list or remove your own passkeys (online)" },
	{ "breakglass", cmd_breakglass, "activate, end or list break-glass grants (online)" },
	{ "review", cmd_review, "break-glass reviews and access review campaigns (online)" },
	{ "offboard", cmd_offboard, "contract end: export PHI to the customer's key, destroy it all, certify (offline)" },
	{ "version", cmd_version, "print the version" },
	{ "help", NULL, "describe phivault or one command (phivault help CMD)" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: phivault <command> [options]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n`phivault <command> --help` describes a command.\n");
}

static bool
is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static const struct command *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (commands[i].fn != NULL && strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* argv[0] is the command's name here; it becomes "phivault" for getopt. */
static int
run(const struct command *cmd, int argc, char **argv)
{
	static char prog[] = "phivault";

	argv[0] = prog;
	return cmd->fn(argc, argv);
}

int
main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		static char help[] = "--help";
		char *hargv[] = { NULL, help, NULL };

		if (argc == 2 || is_help(argv[1])) {
			usage(stdout);
			return CLI_OK;
		}
		if (argc > 3 || (cmd = find(argv[2])) == NULL) {
			cli_err("no command '%s' (see phivault --help)", argv[2]);
			return CLI_USAGE;
		}
		hargv[0] = argv[2];
		return run(cmd, 2, hargv);
	}
	if (strcmp(argv[1], "--version") == 0)
		return run(find("version"), argc - 1, argv + 1);
	if ((cmd = find(argv[1])) != NULL)
		return run(cmd, argc - 1, argv + 1);
	cli_err("unknown command '%s' (see phivault --help)", argv[1]);
	return CLI_USAGE;
}
