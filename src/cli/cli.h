/*
 * cli: the `phivault` command line (API.md "Command line"). One file per
 * subcommand, each exposing cmd_<name>(argc, argv) and returning an exit code:
 * 0 success, 1 a check failed, 2 usage error, 3 runtime error. Errors go to
 * stderr as one line "phivault: <what went wrong>" (cli_err).
 */
#ifndef PV_CLI_H
#define PV_CLI_H

#include <stdio.h>

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
	char audit_key_fingerprint[80];  /* "SHA256:<64 hex>" of the checkpoint key */
	/* `phivault dev` only: a security officer too (dual control needs an
	 * approver), "" otherwise */
	char officer_username[64];
	char officer_password[64];
};
/* Create a data directory (cmd_init.c); returns a cli exit code. */
int cli_init_datadir(const char *data, const char *seal, const char *region,
    struct cli_init_result *out);
/* The same; with --seal pkcs11, hsm names the module, token, PIN file and key
 * label (written to [pkcs11]); NULL otherwise. */
struct keys_hsm_spec;
int cli_init_datadir_hsm(const char *data, const char *seal, const char *region,
    const struct keys_hsm_spec *hsm, struct cli_init_result *out);
void cli_init_result_clear(struct cli_init_result *r);
/* `phivault dev`: cli_init_datadir with the key-file seal, plus a security
 * officer "officer" with its own one-time password (officer_*). */
int cli_init_datadir_dev(const char *data, struct cli_init_result *out);

/* HTTPS client for the online commands (client.c). base: "https://host:port";
 * CA from --cacert / PHIVAULT_CACERT (else the system store); token may be NULL.
 * On success *status is the HTTP status and *resp the parsed JSON (or NULL). */
struct json_t;
enum pv_rc cli_http(const char *base, const char *cacert, const char *token,
    const char *method, const char *path, struct json_t *body, long *status,
    struct json_t **resp);
/* cli_http with one more request header line ("If-Match: 3"), NULL for none. */
enum pv_rc cli_http_hdr(const char *base, const char *cacert, const char *token,
    const char *method, const char *path, const char *header, struct json_t *body,
    long *status, struct json_t **resp);
/* cli_http with a TLS client certificate (PEM cert and key files: mutual
 * TLS, `phivault login --app --cert --key`); no bearer token. */
enum pv_rc cli_http_client_cert(const char *base, const char *cacert, const char *cert,
    const char *key, const char *method, const char *path, struct json_t *body, long *status,
    struct json_t **resp);
/* GET path: *status, *resp (the body parsed as JSON, or NULL) and *text,
 * the body's exact bytes (malloc'd, NUL-terminated; wipe and free it). */
enum pv_rc cli_http_text(const char *base, const char *cacert, const char *token,
    const char *path, long *status, struct json_t **resp, char **text);
/* Print an API error body as "phivault: <code>: <message>" and return CLI_RUNTIME. */
int cli_api_error(long status, struct json_t *resp);

/* Server options of the online commands (unseal, login, user), common.c:
 * --addr URL (default $PHIVAULT_ADDR) and --cacert FILE (default
 * $PHIVAULT_CACERT). Commands with more options put CLI_ONLINE_LONGOPTS in
 * their getopt_long table and CLI_ONLINE_SHORTOPTS in their short options,
 * start from cli_online_init and hand each option to cli_online_opt. */
enum cli_format { CLI_FORMAT_TEXT = 0, CLI_FORMAT_JSON = 1 };
struct cli_online_opts {
	const char *addr;     /* NULL if neither given nor in the environment */
	const char *cacert;   /* NULL: the system store */
	enum cli_format format; /* --format text|json; default text on a terminal, json otherwise */
	bool bad_format;      /* --format was neither text nor json (a usage error) */
	bool format_given;    /* --format was on the command line (login and unseal default to text) */
};
#define CLI_ONLINE_LONGOPTS \
	{ "addr", required_argument, NULL, 'a' }, \
	{ "cacert", required_argument, NULL, 'c' }, \
	{ "format", required_argument, NULL, 'F' }
#define CLI_ONLINE_SHORTOPTS "a:c:F:"
#define CLI_DEFAULT_ADDR "https://127.0.0.1:8443"
#define CLI_GO_ON (-1)
void cli_online_init(struct cli_online_opts *o);
/* true if c (a getopt_long answer) was --addr, --cacert or --format, now
 * recorded (a bad --format value sets o->bad_format and is reported by
 * cli_online_parse, or by the caller that parses options itself). */
bool cli_online_opt(struct cli_online_opts *o, int c, const char *arg);
/* o->addr, or CLI_DEFAULT_ADDR when unset or empty. */
const char *cli_online_addr(const struct cli_online_opts *o);
/* The whole option parse of a command whose only options are these and
 * --help: CLI_GO_ON with optind at the first operand, else the exit code
 * (CLI_OK after printing usage for --help, CLI_USAGE for an unknown option). */
int cli_online_parse(int argc, char **argv, const char *usage, struct cli_online_opts *o);
/* The start of a command with subcommands (phivault <cmd> <sub> ...): usage
 * on stderr and CLI_USAGE without a subcommand, usage on stdout and CLI_OK
 * for --help or -h as the subcommand; else CLI_GO_ON with *o from
 * cli_online_init and optind at argv[2], for cli_online_getopt. */
int cli_subcommand(int argc, char **argv, const char *usage, struct cli_online_opts *o);
/* getopt_long(argc, argv, shortopts, opts) that records --addr, --cacert
 * and --format in *o itself: the next other option, or -1 at the end. */
struct option;
int cli_online_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
    struct cli_online_opts *o);

/* --format for commands that are not online (version, audit, init): "text" or
 * "json" into *out; false (after cli_err) for anything else. */
bool cli_format_parse(const char *arg, enum cli_format *out);
/* The default --format: text when stdout is a terminal, json otherwise. */
enum cli_format cli_format_default(void);
/* Print v as one line of compact JSON on stdout (the --format json answer). */
struct json_t;
void cli_print_json(struct json_t *v);

/* Draw text as a QR code (libqrencode, error correction M) on f, two module
 * rows per line with UTF-8 upper half blocks whose ANSI colours are set
 * explicitly (black on white, with a quiet zone of 4 modules), so it scans on
 * dark and light terminals alike (qr.c). */
enum pv_rc cli_qr_write(FILE *f, const char *text);

/* An authenticated online command's connection: server options plus the
 * bearer token from PHIVAULT_TOKEN (never argv: every local user can read it).
 * cli_api_init: false (after cli_err) when the token is not set. */
struct cli_api {
	const char *addr;
	const char *cacert;
	const char *token;
	enum cli_format format;
};
bool cli_api_init(struct cli_api *c, const struct cli_online_opts *o);
/* One API call that must answer `want`: CLI_OK with *resp (the caller frees
 * it, also on error), CLI_RUNTIME on a transport error, else the API error
 * printed (cli_api_error). */
int cli_api_call(const struct cli_api *c, const char *method, const char *path,
    struct json_t *body, long want, struct json_t **resp);
/* The same with one more header line (NULL: none); want2 is a second status
 * that also succeeds (0: none), e.g. 200 or 201. */
int cli_api_call_hdr(const struct cli_api *c, const char *method, const char *path,
    const char *header, struct json_t *body, long want, long want2, struct json_t **resp);
/* cli_api_call that accepts want or also (e.g. 201, or 202 when dual
 * control made the change a pending request); *status the one it was. */
int cli_api_call2(const struct cli_api *c, const char *method, const char *path,
    struct json_t *body, long want, long also, long *status, struct json_t **resp);
/* A string member of a JSON object, "" when absent or not a string. */
const char *cli_jstr(struct json_t *o, const char *key);

int cmd_version(int argc, char **argv);
int cmd_offboard(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_sinks(int argc, char **argv);
int cmd_alert(int argc, char **argv);
int cmd_tls(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_subject(int argc, char **argv);
int cmd_incident(int argc, char **argv);
int cmd_retention(int argc, char **argv);
int cmd_app(int argc, char **argv);
int cmd_compliance(int argc, char **argv);
/* cmd_config.c: phivault config show|diff; compliance baseline|exception */
int cmd_config(int argc, char **argv);
int cli_compliance_online(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_approval(int argc, char **argv);
int cmd_elevation(int argc, char **argv);
int cmd_breakglass(int argc, char **argv);
int cmd_review(int argc, char **argv);
/* `review campaign ...` (cmd_campaign.c): argv[0] is "campaign". */
int cli_review_campaign(int argc, char **argv);
int cmd_officer(int argc, char **argv);
int cmd_passkey(int argc, char **argv);   /* cmd_passkey.c */
/* cmd_app.c: `phivault login --app ID [--secret-file F]` (an app's sign-in). */
bool cli_login_is_app(int argc, char **argv);
int cli_login_app(int argc, char **argv);
/* login --sso (cmd_login_sso.c): the identity provider's sign-in through a
 * loopback redirect (RFC 8252). */
bool cli_login_is_sso(int argc, char **argv);
int cli_login_sso(int argc, char **argv);
/* cmd_job.c: the progress line of a job, e.g.
 * "[#######.....] 58% 5800/10000 1200/s eta 3s" (bar of width cells; total
 * 0: no percentage; rate 0: no rate; eta < 0: no eta). Returns buf. */
char *cli_job_progress(long long done, long long total, double rate, long long eta, int width,
    char *buf, size_t len);

#endif /* PV_CLI_H */
