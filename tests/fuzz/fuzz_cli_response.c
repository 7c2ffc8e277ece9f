/*
 * fuzz_cli_response: the CLI's handling of what a server answers. A server
 * the CLI talks to (or anything in between, with a trusted certificate
 * stolen or misissued) controls every byte of the responses; the online
 * commands must survive any of them: wrong types, missing fields, huge or
 * odd strings, error bodies of any shape, unexpected statuses.
 *
 * The transport is replaced at link time (-Wl,--wrap=cli_http, CMakeLists.txt):
 * __wrap_cli_http hands out the fuzzer's responses in order and parses each
 * body exactly as cli_http does (json_loadb of the whole body; an empty body
 * is NULL). Everything above it is the real command code.
 *
 * Input: byte 0 picks a command line (user list/show/add/reset/disable in
 * text and json, unseal, login); the rest is responses separated by "\n--\n",
 * each "SSS" (three status digits, else 200) then the body. Standard input
 * holds a password, a share and a code; stdout and stderr go to /dev/null
 * (unless PV_FUZZ_VERBOSE is set).
 * Invariant: the command returns one of the documented exit codes.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
enum pv_rc __wrap_cli_http(const char *base, const char *cacert, const char *token,
    const char *method, const char *path, struct json_t *body, long *status,
    struct json_t **resp);

#define SEP "\n--\n"

static const char *next, *end;

enum pv_rc
__wrap_cli_http(const char *base, const char *cacert, const char *token,
    const char *method, const char *path, struct json_t *body, long *status,
    struct json_t **resp)
{
	const char *p = next, *stop;
	size_t len;

	(void)base;
	(void)cacert;
	(void)token;
	(void)body;
	if (method == NULL || path == NULL || path[0] != '/')
		abort();
	if (p == NULL || p >= end)
		return PV_E_UNAVAILABLE;   /* "cannot reach": the server went away */
	stop = memmem(p, (size_t)(end - p), SEP, strlen(SEP));
	len = stop ? (size_t)(stop - p) : (size_t)(end - p);
	next = stop ? stop + strlen(SEP) : end;
	*status = 200;
	if (len >= 3 && p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9') {
		*status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		p += 3;
		len -= 3;
	}
	*resp = len ? json_loadb(p, len, 0, NULL) : NULL;
	return PV_OK;
}

struct cmdline {
	int (*fn)(int argc, char **argv);
	const char *argv[8];
};

static const struct cmdline cmds[] = {
	{ cmd_user, { "user", "list", "--format", "json" } },
	{ cmd_user, { "user", "list", "--format", "text" } },
	{ cmd_user, { "user", "show", "alice", "--format", "text" } },
	{ cmd_user, { "user", "show", "usr_abc", "--format", "json" } },
	{ cmd_user, { "user", "add", "bob", "--role", "clinician", "--format", "text" } },
	{ cmd_user, { "user", "reset", "alice", "--format", "text" } },
	{ cmd_user, { "user", "disable", "usr_x", "--format", "json" } },
	{ cmd_user, { "user", "unlock", "carol", "--format", "text" } },
	{ cmd_unseal, { "unseal", "--format", "text" } },
	{ cmd_unseal, { "unseal", "--format", "json" } },
	{ cmd_login, { "login", "alice" } },
	{ cmd_login, { "login", "alice", "--format", "json" } },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	static bool verbose;
	static char input[] = "Correct-Horse-Battery-9\nCorrect-Horse-Battery-9\n"
	    "Correct-Horse-Battery-9\n123456\n123456\n";
	const struct cmdline *c;
	char *argv[9];
	FILE *in, *saved_in;
	int argc = 0, out_fd, err_fd, ret;

	if (size == 0)
		return 0;
	if (devnull < 0) {
		setenv("PHIVAULT_ADDR", "https://127.0.0.1:1", 1);
		setenv("PHIVAULT_TOKEN", "pvs_fuzz", 1);
		unsetenv("PHIVAULT_CACERT");
		if ((devnull = open("/dev/null", O_WRONLY)) < 0)
			abort();
		/* PV_FUZZ_VERBOSE=1: keep the command's output (reading a reproducer) */
		verbose = getenv("PV_FUZZ_VERBOSE") != NULL;
	}
	c = &cmds[data[0] % NCMDS];
	while (argc < 8 && c->argv[argc] != NULL) {
		argv[argc] = (char *)c->argv[argc];
		argc++;
	}
	argv[argc] = NULL;
	next = (const char *)data + 1;
	end = (const char *)data + size;

	if ((in = fmemopen(input, strlen(input), "r")) == NULL)
		abort();
	saved_in = stdin;
	stdin = in;
	fflush(stdout);
	fflush(stderr);
	out_fd = dup(1);
	err_fd = dup(2);
	if (!verbose) {
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	optind = 0;   /* getopt starts afresh */
	ret = c->fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(out_fd, 1);
	dup2(err_fd, 2);
	close(out_fd);
	close(err_fd);
	stdin = saved_in;
	fclose(in);
	if (ret != CLI_OK && ret != CLI_CHECK_FAILED && ret != CLI_USAGE && ret != CLI_RUNTIME)
		abort();
	return 0;
}
