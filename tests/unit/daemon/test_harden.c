/*
 * test_harden: daemon_harden and daemon_seccomp_install, each in a forked
 * child (they change the whole process for good): no core dumps, not
 * dumpable, no_new_privs; under the allowlist ordinary work goes on and a
 * forbidden system call kills the process with SIGSYS.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"

/* Run fn in a child; return its wait status. */
static int
in_child(int (*fn)(void))
{
	pid_t pid;
	int st = 0;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int
harden_no_core(void)
{
	struct rlimit rl;

	if (daemon_harden(false) != PV_OK)
		return 10;
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
		return 11;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 12;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 13;
	return 0;
}

static int
harden_allow_core(void)
{
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		return 20;
	if (daemon_harden(true) != PV_OK)
		return 21;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		return 22;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return 23;
	return 0;
}

static void
test_harden(void **state)
{
	int st;

	(void)state;
	st = in_child(harden_no_core);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(harden_allow_core);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* What a server does after start-up still works under the filter. */
static int
seccomp_allowed_work(void)
{
	char buf[64], path[64];
	int fd, p[2];
	FILE *f;

	if (daemon_harden(false) != PV_OK || daemon_seccomp_install() != PV_OK)
		return 30;
	f = fopen("/proc/self/status", "re");
	if (f == NULL)
		return 31;
	while (fgets(buf, sizeof(buf), f) != NULL && strncmp(buf, "Seccomp:", 8) != 0)
		;
	fclose(f);
	if (strncmp(buf, "Seccomp:\t2", 10) != 0)
		return 32;
	if (pipe(p) != 0 || write(p[1], "x", 1) != 1 || read(p[0], buf, 1) != 1)
		return 33;
	snprintf(path, sizeof(path), "/tmp/pv-seccomp-%ld", (long)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, "y", 1, 0) != 1 || fsync(fd) != 0 || close(fd) != 0 ||
	    unlink(path) != 0)
		return 34;
	if (prctl(PR_SET_NAME, "pv-test", 0, 0, 0) != 0)
		return 35;
	return 0;
}

static int
seccomp_execve(void)
{
	char *const argv[] = { (char *)"true", NULL };

	if (daemon_seccomp_install() != PV_OK)
		return 40;
	(void)syscall(SYS_execve, "/nonexistent/pv-probe", argv, argv + 1);
	return 41;   /* reached only if execve was allowed */
}

static int
seccomp_prctl_other(void)
{
	if (daemon_seccomp_install() != PV_OK)
		return 50;
	/* only PR_SET_NAME / PR_GET_NAME are allowed */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return 51;
}

static void
test_seccomp(void **state)
{
	int st;

	(void)state;
	st = in_child(seccomp_allowed_work);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	st = in_child(seccomp_execve);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);

#ifndef PV_SANITIZE_BUILD   /* LeakSanitizer needs any prctl */
	st = in_child(seccomp_prctl_other);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
#else
	(void)seccomp_prctl_other;
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_harden),
		cmocka_unit_test(test_seccomp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
