/*
 * The server process as an operator and an attacker would see it:
 *  - the shipped binary (PHIVAULT_RELEASE_BIN) holds no fault-injection hook
 *    and ignores PHIVAULT_FAULT_FILE, which the test build obeys;
 *  - a running server has no core dumps, no_new_privs and a seccomp filter,
 *    and a forbidden system call (test-build hook: SIGUSR1 -> execve) kills
 *    it with SIGSYS;
 *  - a second server on a held data directory refuses, naming the holder's
 *    PID, and the first keeps serving with an intact audit chain; `audit
 *    verify` works while the server runs;
 *  - serve refuses to start without its password dictionary (--dev warns);
 *  - the "--dev relaxes" hint only when --dev would accept the setting;
 *  - `dev --listen` applies to that run only and says so.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* malloc'd contents of a file (NULL if unreadable); *len its size. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			CHECK(buf != NULL);
		}
		got = fread(buf + n, 1, 65536, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static bool
file_has(const char *path, const char *needle)
{
	size_t len;
	char *b = slurp(path, &len);
	bool hit = b != NULL && memmem(b, len, needle, strlen(needle)) != NULL;

	free(b);
	return hit;
}

static void
release_has_no_fault_hook(void)
{
	const char *rel = getenv("PHIVAULT_RELEASE_BIN");
	char test_bin[512], fault[700];
	struct h_server s;
	FILE *f;

	CHECK(rel != NULL);
	snprintf(test_bin, sizeof(test_bin), "%s", h_bin());
	CHECK(strcmp(rel, test_bin) != 0);
	/* the environment variable's name is in the hook, nowhere else */
	CHECK(file_has(test_bin, "PHIVAULT_FAULT_FILE"));
	CHECK(!file_has(rel, "PHIVAULT_FAULT_FILE"));
	CHECK(!file_has(rel, "test hook"));
	CHECK(file_has(test_bin, "PHIVAULT_TEST_CLOCK"));
	CHECK(!file_has(rel, "PHIVAULT_TEST_CLOCK"));
	CHECK(!file_has(rel, "/v1/test/clock"));

	/* and it behaves so: a fault the test build obeys does nothing to it */
	h_init(&s, "daemon-fault", NULL);
	snprintf(fault, sizeof(fault), "%s/../faults", s.dir);
	f = fopen(fault, "w");
	CHECK(f != NULL);
	fputs("audit_head\n", f);
	fclose(f);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);
	CHECK(h_start_expect_exit(&s, NULL) == 3);         /* test build: injected */
	CHECK(setenv("PHIVAULT_BIN", rel, 1) == 0);
	h_start(&s, NULL);                                  /* release: ignored */
	CHECK(h_stop(&s) == 0);
	/* nor has it the test clock, even when asked for it */
	unsetenv("PHIVAULT_FAULT_FILE");
	h_clock_enable();
	h_start(&s, NULL);
	{
		struct h_resp r;

		h_req(&s, "POST", "/v1/test/clock", NULL, "{\"advance_ms\":1000}", NULL, &r);
		CHECK_STATUS(&r, 404);
		h_resp_free(&r);
	}
	CHECK(h_stop(&s) == 0);
	unsetenv("PHIVAULT_TEST_CLOCK");
	CHECK(setenv("PHIVAULT_BIN", test_bin, 1) == 0);
	unsetenv("PHIVAULT_FAULT_FILE");
	json_decref(s.init);
}

static bool
proc_has(pid_t pid, const char *file, const char *line_prefix)
{
	char path[64], line[512];
	FILE *f;
	bool hit = false;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	f = fopen(path, "r");
	CHECK(f != NULL);
	while (!hit && fgets(line, sizeof(line), f) != NULL)
		hit = strncmp(line, line_prefix, strlen(line_prefix)) == 0;
	fclose(f);
	return hit;
}

static void
hardened_and_seccomp_kills(void)
{
	struct h_server s;
	struct h_resp r;
	int st = 0, i;
	pid_t pid;

	h_init(&s, "daemon-harden", NULL);
	h_start(&s, NULL);
	CHECK(proc_has(s.pid, "status", "NoNewPrivs:\t1"));
	CHECK(proc_has(s.pid, "status", "Seccomp:\t2"));
	CHECK(proc_has(s.pid, "limits", "Max core file size        0                    0"));
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* without PHIVAULT_TEST_CLOCK=1 even the test build has no clock route */
	h_req(&s, "POST", "/v1/test/clock", NULL, "{\"advance_ms\":1000}", NULL, &r);
	CHECK_STATUS(&r, 404);
	h_resp_free(&r);

	/* the test build's hook: SIGUSR1 makes the server call execve */
	pid = s.pid;
	CHECK(kill(pid, SIGUSR1) == 0);
	for (i = 0; i < 2000; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		usleep(5 * 1000);
	}
	CHECK(i < 2000);
	s.pid = 0;
	CHECK(WIFSIGNALED(st));
	CHECK(WTERMSIG(st) == SIGSYS);

	/* --allow-core only with --dev */
	CHECK(h_start_expect_exit(&s, "--allow-core") == 2);
	json_decref(s.init);
}

static void
second_server_refused(void)
{
	struct h_server a, b;
	struct h_resp r;
	char cmd[1200], want[64], *out = NULL;

	h_init(&a, "daemon-lock", NULL);
	h_start(&a, NULL);
	b = a;
	b.init = NULL;
	snprintf(b.log, sizeof(b.log), "%s/../second.log", a.dir);
	CHECK(h_start_expect_exit(&b, NULL) == 3);
	snprintf(want, sizeof(want), "PID %ld", (long)a.pid);
	CHECK(file_has(b.log, want));
	CHECK(file_has(b.log, "phivault.lock"));
	/* also with --dev (what `phivault dev` runs) */
	CHECK(h_start_expect_exit(&b, "--dev") == 3);

	/* the first server is untouched; verify (read-only) works meanwhile */
	h_req(&a, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), a.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	CHECK(h_stop(&a) == 0);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	/* one start and one stop: the refused servers wrote nothing */
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/phivault.db \"select count(*) from audit "
	    "where action = 'sys.start'\"", a.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strcmp(out, "1\n") == 0);
	free(out);
	/* released on exit: it starts again */
	h_start(&a, NULL);
	CHECK(h_stop(&a) == 0);
	json_decref(a.init);
}

static void
dictionary_required(void)
{
	struct h_server s;

	h_init(&s, "daemon-dict", NULL);
	h_config_set(&s, "password_dictionary", "/nonexistent/phivault/pw_dict");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(file_has(s.log, "auth.password_dictionary = /nonexistent/phivault/pw_dict"));
	CHECK(file_has(s.log, "cracklib-packer"));
	/* --dev warns and serves */
	h_start(&s, "--dev");
	CHECK(h_stop(&s) == 0);
	CHECK(file_has(s.log, "--dev continues with the shipped blocklist only"));
	json_decref(s.init);
}

static void
dev_hint_only_when_true(void)
{
	struct h_server s;

	h_init(&s, "daemon-hint", NULL);
	h_config_set(&s, "mfa_required", "off");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(file_has(s.log, "auth.mfa_required = off is allowed only with --dev"));
	CHECK(file_has(s.log, "(--dev relaxes this setting)"));
	json_decref(s.init);

	h_init(&s, "daemon-hint2", NULL);
	h_config_set(&s, "min_version", "1.0");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(file_has(s.log, "tls.min_version = 1.0 is below 1.2"));
	CHECK(!file_has(s.log, "--dev relaxes"));
	/* both wrong: --dev would still refuse, so no hint */
	h_config_set(&s, "mfa_required", "off");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(!file_has(s.log, "--dev relaxes"));
	/* seccomp = off only with --dev */
	h_config_set(&s, "min_version", "1.2");
	h_config_set(&s, "mfa_required", "all");
	h_config_set(&s, "seccomp", "off");
	CHECK(h_start_expect_exit(&s, NULL) == 3);
	CHECK(file_has(s.log, "server.seccomp = off is allowed only with --dev"));
	h_start(&s, "--dev");
	CHECK(!proc_has(s.pid, "status", "Seccomp:\t2"));
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

/* `phivault dev --listen`: for this run only, said so, not written to the config. */
static void
dev_listen_not_saved(void)
{
	struct h_server s;
	char parent[512], out[700], conf[700], listen[64];
	pid_t pid;
	int i, st;

	memset(&s, 0, sizeof(s));
	h_tmpdir("daemon-devlisten", parent, sizeof(parent));
	snprintf(s.dir, sizeof(s.dir), "%s/data", parent);
	snprintf(s.log, sizeof(s.log), "%s/server.log", parent);
	snprintf(s.cacert, sizeof(s.cacert), "%s/tls/cert.pem", s.dir);
	snprintf(out, sizeof(out), "%s/stdout", parent);
	s.port = h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s.port);
	snprintf(s.base, sizeof(s.base), "https://%s", listen);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(h_bin(), h_bin(), "dev", "--data", s.dir, "--listen", listen, (char *)NULL);
		_exit(127);
	}
	s.pid = pid;
	for (i = 0; i < 400; i++) {
		struct h_resp r;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			s.pid = 0;
			fprintf(stderr, "dev exited\n");
			h_fail();
		}
		if (access(s.cacert, R_OK) == 0) {
			h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
			if (r.status == 200) {
				h_resp_free(&r);
				break;
			}
			h_resp_free(&r);
		}
		usleep(25 * 1000);
	}
	CHECK(i < 400);
	CHECK(h_stop(&s) == 0);
	CHECK(file_has(out, "applies to this run only"));
	snprintf(conf, sizeof(conf), "%s/phivault.conf", s.dir);
	CHECK(file_has(conf, "listen = 127.0.0.1:8443\n"));
	CHECK(!file_has(conf, listen));
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	release_has_no_fault_hook();
	hardened_and_seccomp_kills();
	second_server_refused();
	dictionary_required();
	dev_hint_only_when_true();
	dev_listen_not_saved();
	curl_global_cleanup();
	h_done("test_daemon");
	return 0;
}
