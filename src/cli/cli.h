/*
 * cli: the `phivault` command line (API.md "Command line"). One file per
 * subcommand, each exposing cmd_<name>(argc, argv) and returning an exit code:
 * 0 success, 1 a check failed, 2 usage error, 3 runtime error. Errors go to
 * stderr as one line "phivault: <what went wrong>" (cli_err).
 */
#ifndef PV_CLI_H
#define PV_CLI_H

#include "util/util.h"

enum cli_exit { CLI_OK = 0, CLI_CHECK_FAILED = 1, CLI_USAGE = 2, CLI_RUNTIME = 3 };

void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cmd_version(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_login(int argc, char **argv);

#endif /* PV_CLI_H */
