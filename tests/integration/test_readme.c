/*
 * The README's "A five-minute tour" works as written. The ```sh blocks of
 * that section are taken from README.md itself (so an incompatible edit of
 * the README breaks this test), pointed at a server the harness started
 * (address, data directory and binary substituted) and run in one bash
 * shell inside tmux, so `phivault login` gets a real terminal: the test
 * types the one-time password, a new password twice and the TOTP code
 * oathtool computes from the secret on the screen. Every command must
 * succeed (bash -e -o pipefail), no step may be answered with an API error
 * (a curl line exits 0 on a 403) and the steps must show what the README says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NEWPW "plum velvet harbor 42"
#define NEWPW2 "amber lantern meadow 97"

/* Append s to f with every `from` replaced by `to`. */
static void
put_replaced(FILE *f, const char *s, const char *const *from, const char *const *to, size_t n)
{
	size_t i;

	while (*s) {
		for (i = 0; i < n; i++)
			if (strncmp(s, from[i], strlen(from[i])) == 0)
				break;
		if (i < n) {
			fputs(to[i], f);
			s += strlen(from[i]);
		} else
			fputc(*s++, f);
	}
}

/* The tour's ```sh blocks, as a bash script for server s. Returns the number of blocks. */
static int
write_tour(struct h_server *s, const char *script)
{
	const char *src = getenv("PV_SOURCE_DIR"), *rel = getenv("PHIVAULT_RELEASE_BIN");
	/* the tour's commands run the shipped binary, as a user's would */
	const char *from[] = { "https://127.0.0.1:8443", "phivault-data", "build/phivault" };
	const char *to[] = { s->base, s->dir, rel };
	char path[700], *text = NULL, *p, *end, *line;
	int blocks = 0;
	FILE *f;

	CHECK(src != NULL && rel != NULL);
	snprintf(path, sizeof(path), "cat '%s/README.md'", src);
	CHECK(h_run(path, &text) == 0);
	p = strstr(text, "\n## A five-minute tour\n");
	CHECK(p != NULL);
	p++;
	end = strstr(p, "\n## ");
	CHECK(end != NULL);
	*end = '\0';
	f = fopen(script, "w");
	CHECK(f != NULL);
	fprintf(f, "set -e -o pipefail\nunset PHIVAULT_TOKEN\n");
	while ((p = strstr(p, "\n```sh\n")) != NULL) {
		p += 7;
		end = strstr(p, "\n```\n");
		CHECK(end != NULL);
		*end = '\0';
		for (line = strtok(p, "\n"); line != NULL; line = strtok(NULL, "\n")) {
			put_replaced(f, line, from, to, 3);
			fputc('\n', f);
		}
		blocks++;
		p = end + 1;
		*end = '\n';
	}
	fclose(f);
	free(text);
	return blocks;
}

int
main(void)
{
	struct h_server s;
	char cmd[2048], script[700], *screen, officer_otp[128];
	const char *otp;

	if (h_run("command -v tmux >/dev/null && command -v oathtool >/dev/null && "
	    "command -v bash >/dev/null", NULL) != 0) {
		printf("test_readme: tmux, oathtool or bash missing (make deps installs them)\n");
		return 1;
	}
	h_init(&s, "readme", NULL);
	h_start(&s, NULL);
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	snprintf(script, sizeof(script), "%s/../tour.sh", s.dir);
	CHECK(write_tour(&s, script) == 4);
	/* the README's relative paths are from the source tree; ours are absolute */
	snprintf(cmd, sizeof(cmd), "env -u PHIVAULT_ADDR -u PHIVAULT_CACERT bash %s; "
	    "echo TOUR EXIT \\$?; sleep 60", script);
	h_tty_start(&s, 220, cmd);
	screen = h_tty_first_login(otp, NEWPW);
	CHECK(strstr(screen, "Scan the QR code") != NULL);
	free(screen);
	/* the officer the tour made with the key file: its one-time password from
	 * the screen, then its own first login (dual control's approver) */
	screen = h_tty_wait_after("security officer olga", "it must be changed", 400);
	{
		const char *p = strstr(strstr(screen, "security officer olga"), "one-time password: ");

		CHECK(p != NULL);
		CHECK(sscanf(p + 19, "%127s", officer_otp) == 1);
	}
	CHECK(strstr(screen, "pending approval: apr_") != NULL);   /* clara's clinician role */
	free(screen);
	screen = h_tty_first_login_after("security officer olga", officer_otp, NEWPW2);
	free(screen);

	screen = h_tty_wait("TOUR EXIT ", 300);
	if (strstr(screen, "TOUR EXIT 0") == NULL)
		fprintf(stderr, "the tour failed; the screen:\n%s\n", screen);
	CHECK(strstr(screen, "TOUR EXIT 0") != NULL);
	/* no step was answered with an error, whether or not its exit code says so */
	CHECK(strstr(screen, "\"error\":") == NULL);
	CHECK(strstr(screen, "server answered") == NULL);
	CHECK(strstr(screen, "phivault: done: a full session for admin") != NULL);
	CHECK(strstr(screen, "phivault: done: a full session for olga") != NULL);
	CHECK(strstr(screen, "approved") != NULL);                /* approval approve */
	CHECK(strstr(screen, "Recovery codes") != NULL);
	CHECK(strstr(screen, "clara") != NULL);
	CHECK(strstr(screen, "\"action\"") != NULL);     /* audit export lines */
	CHECK(strstr(screen, NEWPW) == NULL);
	CHECK(strstr(screen, NEWPW2) == NULL);
	CHECK(strstr(screen, otp) == NULL);
	free(screen);
	h_tty_stop();
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_readme");
	return 0;
}
