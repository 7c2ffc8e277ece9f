/*
 * test_lock: the data-directory lock. A second taker is refused and told the
 * holder's PID; the lock is free again once released; the file is 0600.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/daemon.h"

static void
tmpdir(char *out, size_t len)
{
	const char *base = getenv("PV_TEST_TMP");

	if (base == NULL)
		base = "/tmp";
	(void)mkdir(base, 0700);
	assert_true((size_t)snprintf(out, len, "%s/lock-XXXXXX", base) < len);
	assert_non_null(mkdtemp(out));
}

static void
test_lock_refuses_second(void **state)
{
	struct daemon_lock *a = NULL, *b = NULL;
	char dir[512], path[600], buf[32];
	struct stat sb;
	pid_t holder = 0;
	FILE *f;

	(void)state;
	tmpdir(dir, sizeof(dir));
	assert_int_equal(daemon_lock_take(dir, &a, &holder), PV_OK);
	assert_non_null(a);

	snprintf(path, sizeof(path), "%s/%s", dir, DAEMON_LOCK_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(strtol(buf, NULL, 10), (long)getpid());

	/* flock conflicts between open file descriptions, even in one process */
	assert_int_equal(daemon_lock_take(dir, &b, &holder), PV_E_LOCKED);
	assert_null(b);
	assert_int_equal((long)holder, (long)getpid());

	daemon_lock_release(a);
	assert_int_equal(daemon_lock_take(dir, &b, &holder), PV_OK);
	daemon_lock_release(b);
}

static void
test_lock_bad_dir(void **state)
{
	struct daemon_lock *l = NULL;

	(void)state;
	assert_int_equal(daemon_lock_take("/nonexistent/phivault-dir", &l, NULL), PV_E_IO);
	assert_null(l);
	assert_int_equal(daemon_lock_take(NULL, &l, NULL), PV_E_INVALID);
	daemon_lock_release(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_refuses_second),
		cmocka_unit_test(test_lock_bad_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
