/*
 * login: `phivault login [--addr URL] [--cacert FILE] [--format text|json] [USERNAME]`.
 *
 * Walks a person through the password and, when the account has MFA, the
 * TOTP code (or a recovery code), then prints one line on stdout:
 *   export PHIVAULT_TOKEN=pvt_...
 * so `eval "$(phivault login admin)"` logs a shell in. That text line is the
 * default even when stdout is not a terminal (eval captures stdout);
 * --format json prints {"token":"pvt_...","restricted":bool,
 * "required_actions":[...]} instead. Prompts go to
 * stderr; the password is read without echo (termios) from a terminal, or
 * as one line from stdin otherwise (scripts, tests).
 *
 * First login on a terminal: a restricted session (one-time password, MFA
 * required but not enrolled) is walked through what it needs, in order:
 *   change_password: new password twice -> POST /v1/auth/password
 *   enrol_mfa: POST /v1/auth/mfa/enroll (shows the otpauth:// URI as a QR
 *     code when stderr is a terminal, the URI and the secret) -> code from the app -> POST /v1/auth/mfa/confirm (shows the
 *     recovery codes once)
 * so a new user ends with a full session. Without a terminal the restriction
 * is only reported on stderr, with what to do next. Secrets are wiped from
 * memory after use.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define LOGIN_USAGE "usage: phivault login [--addr URL] [--cacert FILE] [--format text|json] " \
	"[USERNAME] | login --app APP_ID [--secret-file FILE] | login --sso [--no-browser]"

static void wipe_json_string(json_t *o, const char *key);

/* Read one line; no echo if stdin is a terminal. false on EOF. */
static bool
read_line(const char *prompt, bool secret, char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) != 0, restore = false, ok;

	if (tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	if (tty && secret && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	ok = fgets(buf, (int)len, stdin) != NULL;
	if (restore)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	if (!ok)
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

static bool
has_action(json_t *sess, const char *action)
{
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(sess, "required_actions"), i, v)
		if (json_string_value(v) != NULL && strcmp(json_string_value(v), action) == 0)
			return true;
	return false;
}

/* One authenticated call of the walkthrough; prints the API error on failure.
 * *resp is replaced (the old one freed). */
static bool
walk_call(const char *addr, const char *cacert, const char *token, const char *method,
    const char *path, json_t *body, json_t **resp)
{
	long status = 0;

	json_decref(*resp);
	*resp = NULL;
	if (cli_http(addr, cacert, token, method, path, body, &status, resp) != PV_OK)
		return false;
	if (status != 200) {
		(void)cli_api_error(status, *resp);
		return false;
	}
	return true;
}

/* The one-time password must go: ask for a new one (twice), up to 3 tries. */
static bool
walk_password(const char *addr, const char *cacert, const char *token, const char *current)
{
	char pw1[1100], pw2[1100];
	json_t *body, *resp = NULL;
	bool ok = false;
	int tries;

	fprintf(stderr, "This is a one-time password: choose your own (at least 12 characters; "
	    "a passphrase of several words is good).\n");
	for (tries = 0; tries < 3 && !ok; tries++) {
		if (!read_line("New password: ", true, pw1, sizeof(pw1)) ||
		    !read_line("Repeat it: ", true, pw2, sizeof(pw2)))
			break;
		if (strcmp(pw1, pw2) != 0) {
			fprintf(stderr, "The two entries differ; again.\n");
			continue;
		}
		body = json_pack("{s:s, s:s}", "current_password", current, "new_password", pw1);
		ok = body != NULL &&
		    walk_call(addr, cacert, token, "POST", "/v1/auth/password", body, &resp);
		wipe_json_string(body, "current_password");
		wipe_json_string(body, "new_password");
		json_decref(body);
	}
	crypto_wipe(pw1, sizeof(pw1));
	crypto_wipe(pw2, sizeof(pw2));
	json_decref(resp);
	return ok;
}

/* Enrol TOTP: show the URI and secret, confirm with a code, show the recovery codes. */
static bool
walk_mfa(const char *addr, const char *cacert, const char *token)
{
	json_t *resp = NULL, *body, *v;
	char code[64];
	bool ok = false;
	size_t i;
	int tries;

	if (!walk_call(addr, cacert, token, "POST", "/v1/auth/mfa/enroll", NULL, &resp))
		return false;
	fprintf(stderr, "Multi-factor authentication is required. Add this account to an "
	    "authenticator app:\n");
	if (isatty(STDERR_FILENO) &&
	    json_string_value(json_object_get(resp, "otpauth_uri")) != NULL &&
	    cli_qr_write(stderr, json_string_value(json_object_get(resp, "otpauth_uri"))) == PV_OK)
		fprintf(stderr, "Scan the QR code, or add the URI:\n");
	fprintf(stderr, "  %s\n  (or type the secret: %s)\n",
	    json_string_value(json_object_get(resp, "otpauth_uri")),
	    json_string_value(json_object_get(resp, "secret")));
	wipe_json_string(resp, "otpauth_uri");
	wipe_json_string(resp, "secret");
	for (tries = 0; tries < 3 && !ok; tries++) {
		if (!read_line("Code from the app: ", true, code, sizeof(code)))
			break;
		body = json_pack("{s:s}", "code", code);
		crypto_wipe(code, sizeof(code));
		ok = body != NULL &&
		    walk_call(addr, cacert, token, "POST", "/v1/auth/mfa/confirm", body, &resp);
		json_decref(body);
	}
	if (ok) {
		fprintf(stderr, "Recovery codes (each works once if the app is lost; store them "
		    "now, they are not shown again):\n");
		json_array_foreach(json_object_get(resp, "recovery_codes"), i, v) {
			fprintf(stderr, "  %s\n", json_string_value(v));
			crypto_wipe((void *)json_string_value(v), json_string_length(v));
		}
	}
	json_decref(resp);
	return ok;
}

static void
wipe_json_string(json_t *o, const char *key)
{
	json_t *s = json_object_get(o, key);

	if (json_string_value(s) != NULL)
		crypto_wipe((void *)json_string_value(s), json_string_length(s));
}

int
cmd_login(int argc, char **argv)
{
	struct cli_online_opts on;
	const char *addr, *cacert;
	char user[128], pw[4200], code[64];
	json_t *body = NULL, *resp = NULL, *body2 = NULL, *resp2 = NULL, *sess, *now = NULL;
	long status = 0;
	int c, ret = CLI_RUNTIME;
	bool full = false;

	if (cli_login_is_app(argc, argv))
		return cli_login_app(argc, argv);   /* an app: cmd_app.c */
	if (cli_login_is_sso(argc, argv))
		return cli_login_sso(argc, argv);   /* the identity provider: cmd_login_sso.c */
	memset(pw, 0, sizeof(pw));
	memset(code, 0, sizeof(code));
	if ((c = cli_online_parse(argc, argv, LOGIN_USAGE, &on)) != CLI_GO_ON)
		return c;
	if (!on.format_given)
		on.format = CLI_FORMAT_TEXT;
	if (optind < argc - 1) {
		cli_err(LOGIN_USAGE);
		return CLI_USAGE;
	}
	addr = cli_online_addr(&on);
	cacert = on.cacert;
	if (optind == argc - 1) {
		util_strlcpy(user, argv[optind], sizeof(user));
	} else if (!read_line("Username: ", false, user, sizeof(user)) || user[0] == '\0') {
		cli_err("no username given");
		return CLI_USAGE;
	}
	if (!read_line("Password: ", true, pw, sizeof(pw))) {
		cli_err("no password given");
		return CLI_USAGE;
	}
	body = json_pack("{s:s, s:s}", "username", user, "password", pw);
	if (body == NULL)
		goto out;
	if (cli_http(addr, cacert, NULL, "POST", "/v1/auth/login", body, &status, &resp) != PV_OK)
		goto out;
	if (status != 200) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	sess = resp;
	if (json_is_true(json_object_get(resp, "mfa_required"))) {
		const char *mt = json_string_value(json_object_get(resp, "mfa_token"));

		if (mt == NULL || !read_line("Authenticator code (or recovery code): ", true, code,
		    sizeof(code))) {
			cli_err("no MFA code given");
			ret = CLI_USAGE;
			goto out;
		}
		body2 = json_pack("{s:s, s:s}", "mfa_token", mt, "code", code);
		crypto_wipe(code, sizeof(code));
		if (body2 == NULL ||
		    cli_http(addr, cacert, NULL, "POST", "/v1/auth/mfa", body2, &status, &resp2) !=
		    PV_OK)
			goto out;
		if (status != 200) {
			ret = cli_api_error(status, resp2);
			goto out;
		}
		sess = resp2;
	}
	if (json_string_value(json_object_get(sess, "token")) == NULL) {
		cli_err("the server answered without a token");
		goto out;
	}
	if (json_is_true(json_object_get(sess, "restricted")) && isatty(STDIN_FILENO)) {
		const char *tok = json_string_value(json_object_get(sess, "token"));

		if (has_action(sess, "change_password") && !walk_password(addr, cacert, tok, pw))
			goto out;
		crypto_wipe(pw, sizeof(pw));
		if (has_action(sess, "enrol_mfa") && !walk_mfa(addr, cacert, tok))
			goto out;
		if (!walk_call(addr, cacert, tok, "GET", "/v1/auth/session", NULL, &now))
			goto out;
		/* said once the token is written (below), so that "done" means it is there */
		full = !json_is_true(json_object_get(now, "restricted"));
	} else if (json_is_true(json_object_get(sess, "restricted"))) {
		json_t *a = json_object_get(sess, "required_actions"), *v;
		size_t i;

		fprintf(stderr, "phivault: restricted session: it may only");
		json_array_foreach(a, i, v)
			fprintf(stderr, "%s%s", i ? " and" : "",
			    strcmp(json_string_value(v) ? json_string_value(v) : "", "enrol_mfa") == 0 ?
			    " enrol MFA (POST /v1/auth/mfa/enroll, /v1/auth/mfa/confirm)" :
			    " change the password (POST /v1/auth/password)");
		fprintf(stderr, "\n");
	}
	if (on.format == CLI_FORMAT_JSON) {
		/* after a walkthrough, the session as it is now */
		json_t *st = now != NULL ? now : sess;
		json_t *out = json_pack("{s:s, s:b, s:O?}", "token",
		    json_string_value(json_object_get(sess, "token")),
		    "restricted", json_is_true(json_object_get(st, "restricted")),
		    "required_actions", json_object_get(st, "required_actions"));

		if (out == NULL)
			goto out;
		cli_print_json(out);
		wipe_json_string(out, "token");
		json_decref(out);
	} else
		printf("export PHIVAULT_TOKEN=%s\n",
		    json_string_value(json_object_get(sess, "token")));
	if (fflush(stdout) != 0) {
		cli_err("cannot write the token to standard output");
		goto out;
	}
	if (full)
		fprintf(stderr, "phivault: done: a full session for %s\n", user);
	ret = CLI_OK;
out:
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(code, sizeof(code));
	wipe_json_string(body, "password");
	wipe_json_string(body2, "code");
	wipe_json_string(resp, "token");
	wipe_json_string(resp, "mfa_token");
	wipe_json_string(resp2, "token");
	json_decref(body);
	json_decref(resp);
	json_decref(body2);
	json_decref(resp2);
	json_decref(now);
	return ret;
}
