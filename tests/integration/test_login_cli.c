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

int
main(void)
{
	struct h_server s;
	char cmd[2048], outfile[700], *screen, token[128];
	const char *otp;
	struct h_resp r;
	FILE *f;

	if (h_run("command -v tmux >/dev/null && command -v oathtool >/dev/null", NULL) != 0) {
		printf("test_login_cli: tmux or oathtool missing (make deps installs them)\n");
		return 1;
	}
	h_init(&s, "logincli", NULL);
	h_start(&s, NULL);
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	snprintf(outfile, sizeof(outfile), "%s/../login.out", s.dir);

	snprintf(cmd, sizeof(cmd), "%s login --addr %s --cacert %s admin > %s; sleep 30", h_bin(),
	    s.base, s.cacert, outfile);
	h_tty_start(&s, 220, cmd);
	screen = h_tty_first_login(otp, NEWPW);
	CHECK(strstr(screen, "otpauth://totp/phivault:admin?secret=") != NULL);
	free(screen);
	screen = h_tty_wait("done: a full session", 100);
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
	h_tty_stop();

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
