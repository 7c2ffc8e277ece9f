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

/* What init made, for `init --json` and `dev`. */
struct cli_init_result {
	char admin_username[64];
	char admin_password[64];
	char **shares;        /* NULL for the key-file seal */
	size_t nshares;
	char ca_cert[4096];
};
/* Create a data directory (cmd_init.c); returns a cli exit code. */
int cli_init_datadir(const char *data, const char *seal, const char *region,
    struct cli_init_result *out);
void cli_init_result_clear(struct cli_init_result *r);

/* HTTPS client for the online commands (client.c). base: "https://host:port";
 * CA from --cacert / PHIVAULT_CACERT (else the system store); token may be NULL.
 * On success *status is the HTTP status and *resp the parsed JSON (or NULL). */
struct json_t;
enum pv_rc cli_http(const char *base, const char *cacert, const char *token,
    const char *method, const char *path, struct json_t *body, long *status,
    struct json_t **resp);
/* Print an API error body as "phivault: <code>: <message>" and return CLI_RUNTIME. */
int cli_api_error(long status, struct json_t *resp);

int cmd_version(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_login(int argc, char **argv);

#endif /* PV_CLI_H */
