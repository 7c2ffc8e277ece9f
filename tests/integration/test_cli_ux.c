/*
 * The command line as a new user meets it: help on stdout with exit 0 for
 * every command (`phivault --help`, `phivault help [CMD]`, `phivault CMD
 * --help`); option errors in the one form "phivault: ..." on stderr with exit
 * 2, whatever the command; `--format json` for version, login and unseal (and
 * login's `export PHIVAULT_TOKEN=` line by default even into a pipe); and the
 * PHIVAULT_CACERT hint when the server's certificate is not trusted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *cmds[] = { "dev", "init", "serve", "unseal", "audit", "audit verify",
	"audit export", "user", "user add", "user list", "login", "version" };
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Run `phivault ARGS`; *out = stdout, *err = stderr (both malloc'd). */
static int
pv(const char *args, char **out, char **err)
{
	char cmd[4096], errfile[700], *dummy = NULL;
	static int n;
	int code;

	h_tmpdir("cliux-err", errfile, sizeof(errfile) - 8);
	strcat(errfile, "/e");
	snprintf(cmd, sizeof(cmd), "env -u PHIVAULT_CACERT -u PHIVAULT_ADDR %s %s 2>%s", h_bin(),
	    args, errfile);
	code = h_run(cmd, out);
	snprintf(cmd, sizeof(cmd), "cat %s", errfile);
	CHECK(h_run(cmd, err != NULL ? err : &dummy) == 0);
	free(dummy);
	n++;
	return code;
}

static void
help_everywhere(void)
{
	char args[256], *out, *err;
	size_t i;

	CHECK(pv("--help", &out, &err) == 0);
	CHECK(strncmp(out, "usage: phivault <command>", 25) == 0 && *err == '\0');
	free(out), free(err);
	CHECK(pv("help", &out, &err) == 0);
	CHECK(strstr(out, "login") != NULL && *err == '\0');
	free(out), free(err);
	for (i = 0; i < NCMDS; i++) {
		snprintf(args, sizeof(args), "%s --help", cmds[i]);
		if (pv(args, &out, &err) != 0 || strncmp(out, "usage: phivault ", 16) != 0 ||
		    *err != '\0')
			fprintf(stderr, "phivault %s: stdout '%s' stderr '%s'\n", args, out, err);
		CHECK(strncmp(out, "usage: phivault ", 16) == 0);
		CHECK(*err == '\0');
		free(out), free(err);
		if (strchr(cmds[i], ' ') == NULL) {
			snprintf(args, sizeof(args), "help %s", cmds[i]);
			CHECK(pv(args, &out, &err) == 0);
			CHECK(strncmp(out, "usage: phivault ", 16) == 0 && *err == '\0');
			free(out), free(err);
		}
	}
	/* a usage error is not help: stderr, exit 2 */
	CHECK(pv("", &out, &err) == 2);
	CHECK(*out == '\0' && strstr(err, "usage: phivault") != NULL);
	free(out), free(err);
	CHECK(pv("help nosuch", &out, &err) == 2);
	CHECK(strncmp(err, "phivault: ", 10) == 0);
	free(out), free(err);
}

static void
option_errors(void)
{
	char args[256], *out, *err;
	size_t i;

	for (i = 0; i < NCMDS; i++) {
		snprintf(args, sizeof(args), "%s --no-such-option", cmds[i]);
		CHECK(pv(args, &out, &err) == 2);
		if (strncmp(err, "phivault: ", 10) != 0)
			fprintf(stderr, "phivault %s: stderr '%s'\n", args, err);
		CHECK(strncmp(err, "phivault: ", 10) == 0);
		/* `audit X` and `user X` take a subcommand first: they answer with their usage */
		if (strcmp(cmds[i], "audit") != 0 && strcmp(cmds[i], "user") != 0)
			CHECK(strcmp(err, "phivault: unrecognized option '--no-such-option'\n") == 0);
		free(out), free(err);
	}
	CHECK(pv("init --data", &out, &err) == 2);
	CHECK(strcmp(err, "phivault: option '--data' requires an argument\n") == 0);
	free(out), free(err);
	CHECK(pv("login -Z", &out, &err) == 2);
	CHECK(strncmp(err, "phivault: invalid option -- 'Z'", 31) == 0);
	free(out), free(err);
	CHECK(pv("version --format yaml", &out, &err) == 2);
	CHECK(strncmp(err, "phivault: --format must be text or json", 39) == 0);
	free(out), free(err);
}

static void
formats(void)
{
	json_t *j;
	char *out, *err;

	CHECK(pv("version --format json", &out, &err) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(json_string_value(json_object_get(j, "version")) != NULL);
	json_decref(j);
	free(out), free(err);
	CHECK(pv("version --format text", &out, &err) == 0);
	CHECK(strncmp(out, "phivault ", 9) == 0);
	free(out), free(err);
}

/* DIR/../name holds line (secrets go through files, not argv) */
static void
put(struct h_server *s, const char *name, const char *line)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/../%s", s->dir, name);
	f = fopen(path, "w");
	CHECK(f != NULL && line != NULL);
	fprintf(f, "%s\n", line);
	fclose(f);
}

static void
online(void)
{
	struct h_server s;
	struct h_resp r;
	char args[2048], token[128], *out, *err;
	const char *otp;
	json_t *j, *shares;

	h_init(&s, "cliux", "--seal shamir:2/3");
	h_start(&s, NULL);
	shares = json_object_get(s.init, "unseal_shares");
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	put(&s, "share0", json_string_value(json_array_get(shares, 0)));
	put(&s, "share1", json_string_value(json_array_get(shares, 1)));
	put(&s, "otp", otp);
	/* unseal: json on request, text by default even into a pipe */
	snprintf(args, sizeof(args), "unseal --addr %s --cacert %s --format json < %s/../share0",
	    s.base, s.cacert, s.dir);
	CHECK(pv(args, &out, &err) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(json_is_true(json_object_get(j, "sealed")));
	CHECK(json_integer_value(json_object_get(j, "progress")) == 1);
	CHECK(json_integer_value(json_object_get(j, "threshold")) == 2);
	json_decref(j);
	free(out), free(err);
	/* no CA given: the certificate is not trusted, and the error says what to set */
	snprintf(args, sizeof(args), "unseal --addr %s < %s/../share1", s.base, s.dir);
	CHECK(pv(args, &out, &err) == 3);
	CHECK(strcmp(err, "phivault: TLS: the server's certificate is not trusted; "
	    "set PHIVAULT_CACERT=DIR/tls/cert.pem (or --cacert)\n") == 0);
	free(out), free(err);
	snprintf(args, sizeof(args), "unseal --addr %s --cacert %s < %s/../share1", s.base,
	    s.cacert, s.dir);
	CHECK(pv(args, &out, &err) == 0);
	CHECK(strcmp(out, "unsealed\n") == 0);
	free(out), free(err);

	snprintf(args, sizeof(args), "login --addr %s admin < %s/../otp", s.base, s.dir);
	CHECK(pv(args, &out, &err) == 3);
	CHECK(strstr(err, "set PHIVAULT_CACERT=DIR/tls/cert.pem (or --cacert)") != NULL);
	free(out), free(err);
	/* login: the eval line by default, into a pipe too */
	snprintf(args, sizeof(args), "login --addr %s --cacert %s admin < %s/../otp", s.base,
	    s.cacert, s.dir);
	CHECK(pv(args, &out, &err) == 0);
	CHECK(sscanf(out, "export PHIVAULT_TOKEN=%127s", token) == 1);
	free(out), free(err);
	h_req(&s, "GET", "/v1/auth/session", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* the one-time password is single use: a second login with it is refused */
	CHECK(pv(args, &out, &err) == 3);
	CHECK(strstr(err, "one-time password") != NULL);
	free(out), free(err);
	/* the restricted session changes the password; login --format json with it */
	{
		char body[256];

		snprintf(body, sizeof(body), "{\"current_password\":\"%s\","
		    "\"new_password\":\"plum velvet harbor 42\"}", otp);
		h_req(&s, "POST", "/v1/auth/password", token, body, NULL, &r);
		CHECK(r.status == 200 || r.status == 204);
		h_resp_free(&r);
	}
	put(&s, "newpw", "plum velvet harbor 42");
	snprintf(args, sizeof(args), "login --addr %s --cacert %s --format json admin < %s/../newpw",
	    s.base, s.cacert, s.dir);
	CHECK(pv(args, &out, &err) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL);
	CHECK(json_is_true(json_object_get(j, "restricted")));
	CHECK(json_array_size(json_object_get(j, "required_actions")) == 1);
	h_req(&s, "GET", "/v1/auth/session", json_string_value(json_object_get(j, "token")), NULL,
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "restricted")));
	h_resp_free(&r);
	json_decref(j);
	free(out), free(err);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	help_everywhere();
	option_errors();
	formats();
	online();
	h_done("test_cli_ux");
	return 0;
}
