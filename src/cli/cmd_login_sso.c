/*
 * login --sso: `phivault login --sso [--no-browser] [--addr URL] [--cacert FILE]
 * [--format text|json]` signs in through the organisation's identity
 * provider (docs/identity.md "Sign in with your identity provider").
 *
 * RFC 8252 (OAuth 2.0 for native apps) with phivault as the broker:
 *  1. listen on 127.0.0.1:0 (a random free port, loopback only);
 *  2. a verifier (32 random bytes, base64url) and its S256 challenge;
 *  3. GET /v1/auth/oidc/start?cli_redirect=http://127.0.0.1:PORT/callback
 *     &cli_challenge=...: phivault answers the IdP's authorization URL;
 *  4. the URL on stderr, and xdg-open runs it unless --no-browser or there
 *     is no xdg-open (a headless machine: open it anywhere that reaches the
 *     loopback listener, e.g. over an SSH port forward);
 *  5. the browser lands on the listener with ?code=...: one request, a
 *     short page, the listener closes (5 minutes at most);
 *  6. POST /v1/auth/oidc/exchange {code, code_verifier}: only this process
 *     knows the verifier, so a code seen by anyone else is worthless;
 *  7. phivault's own MFA step if the IdP's does not count (TOTP code read
 *     as for a password login), then `export PHIVAULT_TOKEN=...` on stdout,
 *     as `phivault login` prints it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

#define SSO_USAGE "usage: phivault login --sso [--no-browser] [--addr URL] [--cacert FILE] " \
	"[--format text|json]"
#define SSO_WAIT_MS (5 * 60 * 1000)

bool
cli_login_is_sso(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--sso") == 0)
			return true;
	return false;
}

static bool
b64url_random(char out[64])
{
	uint8_t r[32];

	if (crypto_random(r, sizeof(r)) != PV_OK)
		return false;
	sodium_bin2base64(out, 64, r, sizeof(r), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_wipe(r, sizeof(r));
	return true;
}

static bool
s256(const char *v, char out[64])
{
	uint8_t h[CRYPTO_SHA256_LEN];

	if (crypto_sha256(v, strlen(v), h) != PV_OK)
		return false;
	sodium_bin2base64(out, 64, h, sizeof(h), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return true;
}

/* Run xdg-open URL in the background, output discarded; false if absent. */
static bool
open_browser(const char *url)
{
	pid_t pid;

	if (access("/usr/bin/xdg-open", X_OK) != 0)
		return false;
	if ((pid = fork()) < 0)
		return false;
	if (pid == 0) {
		FILE *n1 = freopen("/dev/null", "w", stdout), *n2 = freopen("/dev/null", "w", stderr);

		(void)n1;
		(void)n2;
		execl("/usr/bin/xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
	return true;
}

/* The code of the first "GET /callback?...code=..." on the listener. */
static bool
wait_code(int ls, char *code, size_t len)
{
	int64_t deadline = util_mono_ms() + SSO_WAIT_MS;

	while (util_mono_ms() < deadline) {
		struct pollfd pfd = { ls, POLLIN, 0 };
		char req[4096], *p, *e;
		ssize_t n;
		int fd;
		bool ok = false;
		static const char page[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8"
		    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
		    "phivault: signed in. You can close this window.\n";
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
		    "Connection: close\r\n\r\nphivault: no code in this request.\n";

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((fd = accept(ls, NULL, NULL)) < 0)
			continue;
		n = recv(fd, req, sizeof(req) - 1, 0);
		if (n > 0) {
			req[n] = '\0';
			if (strncmp(req, "GET /callback?", 14) == 0 &&
			    (p = strstr(req, "code=")) != NULL && (p == req + 14 || p[-1] == '&')) {
				p += 5;
				e = p + strcspn(p, "& \r\n");
				if (e > p && (size_t)(e - p) < len) {
					memcpy(code, p, (size_t)(e - p));
					code[e - p] = '\0';
					ok = true;
				}
			}
			if (send(fd, ok ? page : bad, strlen(ok ? page : bad), MSG_NOSIGNAL) < 0)
				ok = ok && true;
		}
		close(fd);
		if (ok)
			return true;
	}
	return false;
}

static bool
read_code(char *buf, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) != 0, restore = false, ok;

	if (tty) {
		fprintf(stderr, "Authenticator code (or recovery code): ");
		fflush(stderr);
	}
	if (tty && tcgetattr(STDIN_FILENO, &old) == 0) {
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
	return buf[0] != '\0';
}

int
cli_login_sso(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_ONLINE_LONGOPTS,
		{ "sso", no_argument, NULL, 's' },
		{ "no-browser", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_online_opts on;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char verifier[64], challenge[64], code[256], mfa[64], path[512], redirect[64];
	const char *addr, *url;
	json_t *resp = NULL, *body = NULL, *sess = NULL, *resp2 = NULL, *body2 = NULL;
	bool no_browser = false;
	long status = 0;
	int c, ls = -1, ret = CLI_RUNTIME;
	char *ered = NULL, *echal = NULL;
	CURL *cu = NULL;

	memset(code, 0, sizeof(code));
	memset(mfa, 0, sizeof(mfa));
	memset(verifier, 0, sizeof(verifier));
	cli_online_init(&on);
	optind = 1;
	while ((c = cli_online_getopt(argc, argv, CLI_ONLINE_SHORTOPTS "h", opts, &on)) != -1) {
		if (c == 's')
			continue;
		if (c == 'n') {
			no_browser = true;
			continue;
		}
		if (c == 'h') {
			printf("%s\n", SSO_USAGE);
			return CLI_OK;
		}
		cli_err(SSO_USAGE);
		return CLI_USAGE;
	}
	if (on.bad_format || optind != argc) {
		cli_err(SSO_USAGE);
		return CLI_USAGE;
	}
	if (!on.format_given)
		on.format = CLI_FORMAT_TEXT;
	addr = cli_online_addr(&on);
	/* 1: the loopback listener */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 4) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
		cli_err("cannot listen on 127.0.0.1: %s", strerror(errno));
		goto out;
	}
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%u/callback",
	    (unsigned)ntohs(sa.sin_port));
	/* 2, 3 */
	if (!b64url_random(verifier) || !s256(verifier, challenge) ||
	    (cu = curl_easy_init()) == NULL ||
	    (ered = curl_easy_escape(cu, redirect, 0)) == NULL ||
	    (echal = curl_easy_escape(cu, challenge, 0)) == NULL)
		goto out;
	snprintf(path, sizeof(path), "/v1/auth/oidc/start?cli_redirect=%s&cli_challenge=%s", ered,
	    echal);
	if (cli_http(addr, on.cacert, NULL, "GET", path, NULL, &status, &resp) != PV_OK)
		goto out;
	if (status != 302 || (url = json_string_value(json_object_get(resp, "redirect"))) == NULL) {
		ret = cli_api_error(status, resp);
		goto out;
	}
	/* 4 */
	fprintf(stderr, "Sign in with your identity provider: open this URL in a browser\n"
	    "  %s\n", url);
	if (!no_browser && open_browser(url))
		fprintf(stderr, "(opened in your browser)\n");
	fprintf(stderr, "Waiting for the sign-in (5 minutes)...\n");
	fflush(stderr);
	/* 5 */
	if (!wait_code(ls, code, sizeof(code))) {
		cli_err("no sign-in arrived on %s", redirect);
		goto out;
	}
	/* 6 */
	if ((body = json_pack("{s:s, s:s}", "code", code, "code_verifier", verifier)) == NULL ||
	    cli_http(addr, on.cacert, NULL, "POST", "/v1/auth/oidc/exchange", body, &status,
	    &resp2) != PV_OK)
		goto out;
	if (status != 200) {
		ret = cli_api_error(status, resp2);
		goto out;
	}
	sess = resp2;
	/* 7 */
	if (json_is_true(json_object_get(resp2, "mfa_required"))) {
		const char *mt = json_string_value(json_object_get(resp2, "mfa_token"));
		json_t *r3 = NULL;

		if (mt == NULL || !read_code(mfa, sizeof(mfa))) {
			cli_err("no MFA code given");
			ret = CLI_USAGE;
			goto out;
		}
		body2 = json_pack("{s:s, s:s}", "mfa_token", mt, "code", mfa);
		crypto_wipe(mfa, sizeof(mfa));
		if (body2 == NULL || cli_http(addr, on.cacert, NULL, "POST", "/v1/auth/mfa", body2,
		    &status, &r3) != PV_OK)
			goto out;
		if (status != 200) {
			ret = cli_api_error(status, r3);
			json_decref(r3);
			goto out;
		}
		json_decref(resp);
		resp = r3;   /* freed below */
		sess = r3;
	}
	if (json_string_value(json_object_get(sess, "token")) == NULL) {
		cli_err("the server answered without a token");
		goto out;
	}
	if (json_is_true(json_object_get(sess, "restricted")))
		fprintf(stderr, "phivault: restricted session: enrol MFA (POST /v1/auth/mfa/enroll, "
		    "/v1/auth/mfa/confirm)\n");
	if (on.format == CLI_FORMAT_JSON) {
		json_t *o = json_pack("{s:s, s:b, s:O?}", "token",
		    json_string_value(json_object_get(sess, "token")), "restricted",
		    json_is_true(json_object_get(sess, "restricted")), "required_actions",
		    json_object_get(sess, "required_actions"));

		if (o == NULL)
			goto out;
		cli_print_json(o);
		json_decref(o);
	} else {
		printf("export PHIVAULT_TOKEN=%s\n", json_string_value(json_object_get(sess, "token")));
	}
	fflush(stdout);
	ret = CLI_OK;
out:
	if (ls >= 0)
		close(ls);
	crypto_wipe(verifier, sizeof(verifier));
	crypto_wipe(code, sizeof(code));
	crypto_wipe(mfa, sizeof(mfa));
	curl_free(ered);
	curl_free(echal);
	curl_easy_cleanup(cu);
	json_decref(body);
	json_decref(body2);
	json_decref(resp);
	json_decref(resp2);
	return ret;
}
