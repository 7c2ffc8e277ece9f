/*
 * `phivault login` on a terminal, as a person uses it: tmux gives the
 * command a real pty; the test types the one-time password, a new password
 * twice, reads the TOTP secret off the screen, types the code oathtool
 * computes, and checks that the printed token is a full (unrestricted)
 * session and that the next login asks for the code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NEWPW "plum velvet harbor 42"

static char tmux_sock[600];

static void
tmux(const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "tmux -S %s %s", tmux_sock, args);
	CHECK(h_run(cmd, NULL) == 0);
}

/* Wait until the pane shows `text`; returns the pane's content (malloc'd). */
static char *
wait_screen(const char *text)
{
	char cmd[1024], *out = NULL;
	int i;

	snprintf(cmd, sizeof(cmd), "tmux -S %s capture-pane -p -t pv -S -100", tmux_sock);
	for (i = 0; i < 200; i++) {
		free(out);
		out = NULL;
		if (h_run(cmd, &out) == 0 && strstr(out, text) != NULL)
			return out;
		usleep(50 * 1000);
	}
	fprintf(stderr, "screen never showed '%s'; it shows:\n%s\n", text, out ? out : "");
	h_fail();
}

static void
type_line(const char *text)
{
	char args[1024];

	snprintf(args, sizeof(args), "send-keys -t pv -l '%s'", text);
	tmux(args);
	tmux("send-keys -t pv Enter");
}

int
main(void)
{
	struct h_server s;
	char cmd[2048], outfile[700], *screen, *out = NULL, secret[64], code[16], token[128];
	const char *otp, *p;
	struct h_resp r;
	FILE *f;

	if (h_run("command -v tmux >/dev/null && command -v oathtool >/dev/null", NULL) != 0) {
		printf("test_login_cli: tmux or oathtool missing (make deps installs them)\n");
		return 1;
	}
	h_init(&s, "logincli", NULL);
	h_start(&s, NULL);
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	snprintf(tmux_sock, sizeof(tmux_sock), "%s/../tmux.sock", s.dir);
	snprintf(outfile, sizeof(outfile), "%s/../login.out", s.dir);

	snprintf(cmd, sizeof(cmd), "new-session -d -s pv -x 220 -y 50 "
	    "\"%s login --addr %s --cacert %s admin > %s; sleep 30\"", h_bin(), s.base, s.cacert,
	    outfile);
	tmux(cmd);
	free(wait_screen("Password:"));
	type_line(otp);
	free(wait_screen("New password:"));
	type_line(NEWPW);
	free(wait_screen("Repeat it:"));
	type_line(NEWPW);
	screen = wait_screen("Code from the app:");
	CHECK(strstr(screen, "otpauth://totp/phivault:admin?secret=") != NULL);
	p = strstr(screen, "secret: ");
	CHECK(p != NULL);
	CHECK(sscanf(p + 8, "%63[A-Z2-7]", secret) == 1);
	free(screen);
	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s", secret);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(sscanf(out, "%15s", code) == 1);
	free(out);
	type_line(code);
	screen = wait_screen("done: a full session");
	CHECK(strstr(screen, "Recovery codes") != NULL);
	/* nothing secret was echoed: neither the passwords nor the code */
	CHECK(strstr(screen, NEWPW) == NULL);
	CHECK(strstr(screen, otp) == NULL);
	free(screen);

	/* the printed token is a full session */
	f = fopen(outfile, "r");
	CHECK(f != NULL);
	CHECK(fscanf(f, "export PHIVAULT_TOKEN=%127s", token) == 1);
	fclose(f);
	h_req(&s, "GET", "/v1/auth/session", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "restricted")));
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/users", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	tmux("kill-server");

	/* the new password works and now needs the second factor */
	h_req(&s, "POST", "/v1/auth/login", NULL, "{\"username\":\"admin\",\"password\":\"" NEWPW "\"}",
	    NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_required")));
	h_resp_free(&r);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_login_cli");
	return 0;
}
