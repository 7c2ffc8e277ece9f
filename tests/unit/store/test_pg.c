/*
 * The PostgreSQL backend's own rules, apart from the shared contract
 * (test_conformance.c runs that on a real cluster): the url's password is
 * never logged, whatever fails; sslmode=verify-full with sslrootcert is
 * accepted (a connection refusal, not a configuration error); the SQL and
 * DDL translation of the shared op code's statements.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_pg.h"

#define SECRET "Sekr3t-Pw-7f3a"

/* store_open's result, with everything it logged (stderr) in log. */
static enum pv_rc open_logged(const char *url, char *log, size_t cap)
{
	char path[] = "/tmp/pv_test_pg_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct store *st = NULL;
	enum pv_rc rc;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, 2), 2);
	rc = store_open("/nonexistent", "postgres", url, false, &st);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	store_close(st);
	n = pread(fd, log, cap - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return rc;
}

static void test_password_never_logged(void **state)
{
	char log[8192];

	(void)state;
	/* a database that refuses the connection */
	assert_int_equal(open_logged("host=127.0.0.1 port=1 user=vault password=" SECRET
	    " connect_timeout=2", log, sizeof(log)), PV_E_UNAVAILABLE);
	assert_non_null(strstr(log, "host=127.0.0.1 port=1"));   /* where, for the operator */
	assert_null(strstr(log, SECRET));
	/* a url libpq refuses */
	assert_int_equal(open_logged("password=" SECRET " host", log, sizeof(log)), PV_E_CONFIG);
	assert_non_null(strstr(log, "not a valid libpq conninfo"));
	assert_null(strstr(log, SECRET));
	/* the URI form */
	assert_int_equal(open_logged("postgresql://vault:" SECRET "@127.0.0.1:1/pv?connect_timeout=2",
	    log, sizeof(log)), PV_E_UNAVAILABLE);
	assert_null(strstr(log, SECRET));
}

static void test_verify_full_accepted(void **state)
{
	char log[8192];

	(void)state;
	/* parsed and tried (refused by the server side), never a config error */
	assert_int_equal(open_logged("host=127.0.0.1 port=1 sslmode=verify-full "
	    "sslrootcert=/etc/phivault/db-ca.pem connect_timeout=2", log, sizeof(log)),
	    PV_E_UNAVAILABLE);
}

static void test_translate(void **state)
{
	char *s;

	(void)state;
	s = store_pg_translate("SELECT a FROM t WHERE x = ?1 AND y = '?2' AND z = ?12 LIMIT ?3");
	assert_non_null(s);
	assert_string_equal(s, "SELECT a FROM t WHERE x = $1 AND y = '?2' AND z = $12 "
	    "LIMIT NULLIF($3, -1)");
	free(s);
	assert_null(store_pg_translate("SELECT a FROM t WHERE x = ?"));   /* bare ? refused */
	s = store_pg_translate_ddl("CREATE TABLE t(a INTEGER NOT NULL, b BLOB, c TEXT, "
	    "d INTEGERS, e TEXT DEFAULT 'TEXT', PRIMARY KEY(a)) WITHOUT ROWID;");
	assert_non_null(s);
	assert_string_equal(s, "CREATE TABLE t(a BIGINT NOT NULL, b BYTEA, c TEXT COLLATE \"C\", "
	    "d INTEGERS, e TEXT COLLATE \"C\" DEFAULT 'TEXT', PRIMARY KEY(a)) ;");
	free(s);
	/* every statement of the shared op code translates */
	for (int id = 0; id < SQ_STMT__COUNT; id++) {
		const char *sql = store_sqlite_sql((enum store_sqlite_stmt)id);

		if (sql == NULL)
			continue;
		s = store_pg_translate(sql);
		assert_non_null(s);
		assert_null(strchr(s, '?') != NULL && strstr(s, "'") == NULL ? s : NULL);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password_never_logged),
		cmocka_unit_test(test_verify_full_accepted),
		cmocka_unit_test(test_translate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
