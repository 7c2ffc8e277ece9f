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

static char tmux_sock[600];

static void
tmux(const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "tmux -S %s %s", tmux_sock, args);
	CHECK(h_run(cmd, NULL) == 0);
}

static char *
wait_screen(const char *text)
{
	char cmd[1024], *out = NULL;
	int i;

	snprintf(cmd, sizeof(cmd), "tmux -S %s capture-pane -p -t pv -S -300", tmux_sock);
	for (i = 0; i < 400; i++) {
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
	const char *src = getenv("PV_SOURCE_DIR");
	const char *from[] = { "https://127.0.0.1:8443", "phivault-data", "build/phivault" };
	const char *to[] = { s->base, s->dir, h_bin() };
	char path[700], *text = NULL, *p, *end, *line;
	int blocks = 0;
	FILE *f;

	CHECK(src != NULL);
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
	char cmd[2048], script[700], *screen, *out = NULL, secret[64], code[16];
	const char *otp, *p;

	if (h_run("command -v tmux >/dev/null && command -v oathtool >/dev/null && "
	    "command -v bash >/dev/null", NULL) != 0) {
		printf("test_readme: tmux, oathtool or bash missing (make deps installs them)\n");
		return 1;
	}
	h_init(&s, "readme", NULL);
	h_start(&s, NULL);
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	snprintf(tmux_sock, sizeof(tmux_sock), "%s/../tmux.sock", s.dir);
	snprintf(script, sizeof(script), "%s/../tour.sh", s.dir);
	CHECK(write_tour(&s, script) == 3);
	/* the README's relative paths are from the source tree; ours are absolute */
	snprintf(cmd, sizeof(cmd), "new-session -d -s pv -x 220 -y 60 "
	    "\"env -u PHIVAULT_ADDR -u PHIVAULT_CACERT bash %s; echo TOUR EXIT \\$?; sleep 60\"",
	    script);
	tmux(cmd);

	free(wait_screen("Password:"));
	type_line(otp);
	free(wait_screen("New password:"));
	type_line(NEWPW);
	free(wait_screen("Repeat it:"));
	type_line(NEWPW);
	screen = wait_screen("Code from the app:");
	CHECK(strstr(screen, "Scan the QR code") != NULL);
	p = strstr(screen, "secret: ");
	CHECK(p != NULL);
	CHECK(sscanf(p + 8, "%63[A-Z2-7]", secret) == 1);
	free(screen);
	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s", secret);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(sscanf(out, "%15s", code) == 1);
	free(out);
	type_line(code);

	screen = wait_screen("TOUR EXIT ");
	if (strstr(screen, "TOUR EXIT 0") == NULL)
		fprintf(stderr, "the tour failed; the screen:\n%s\n", screen);
	CHECK(strstr(screen, "TOUR EXIT 0") != NULL);
	/* no step was answered with an error, whether or not its exit code says so */
	CHECK(strstr(screen, "\"error\":") == NULL);
	CHECK(strstr(screen, "server answered") == NULL);
	CHECK(strstr(screen, "phivault: done: a full session for admin") != NULL);
	CHECK(strstr(screen, "Recovery codes") != NULL);
	CHECK(strstr(screen, "clara") != NULL);
	CHECK(strstr(screen, "\"action\"") != NULL);     /* audit export lines */
	CHECK(strstr(screen, NEWPW) == NULL);
	CHECK(strstr(screen, otp) == NULL);
	free(screen);
	tmux("kill-server");
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_readme");
	return 0;
}
