/*
 * test_process: daemon_process_init (jansson's wiping free, SIGPIPE ignored,
 * libsodium ready) and daemon_signals_block (the waited-for signals blocked
 * in the caller and in every thread made after).
 */
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/daemon.h"

static void
test_process_init(void **state)
{
	json_malloc_t m = NULL;
	json_free_t fr = NULL;
	struct sigaction sa;
	json_t *before, *j;
	char *p;

	(void)state;
	/* JSON made under the plain allocator is freed correctly after the switch */
	before = json_pack("{s:s}", "ssn", "123-45-6789");
	assert_non_null(before);
	assert_int_equal(daemon_process_init(), PV_OK);
	json_get_alloc_funcs(&m, &fr);
	assert_ptr_equal(m, malloc);
	assert_non_null(fr);
	assert_ptr_not_equal(fr, free);
	json_decref(before);
	j = json_loads("{\"ssn\":\"123-45-6789\"}", 0, NULL);
	assert_non_null(j);
	p = json_dumps(j, JSON_COMPACT);
	assert_string_equal(p, "{\"ssn\":\"123-45-6789\"}");
	fr(p);
	json_decref(j);
	/* SIGPIPE ignored */
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_IGN);
	/* libsodium already initialised: a second sodium_init says so */
	assert_int_equal(sodium_init(), 1);
	/* idempotent */
	assert_int_equal(daemon_process_init(), PV_OK);
}

static void *
mask_of_thread(void *arg)
{
	sigset_t *out = arg;

	pthread_sigmask(SIG_BLOCK, NULL, out);
	return NULL;
}

static void
test_signals_block(void **state)
{
	sigset_t set, cur, thr;
	pthread_t t;

	(void)state;
	daemon_signals_block(&set, SIGUSR1);
	assert_true(sigismember(&set, SIGTERM) && sigismember(&set, SIGINT) &&
	    sigismember(&set, SIGHUP) && sigismember(&set, SIGUSR1));
	assert_false(sigismember(&set, SIGUSR2));
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	assert_true(sigismember(&cur, SIGTERM) && sigismember(&cur, SIGINT) &&
	    sigismember(&cur, SIGHUP) && sigismember(&cur, SIGUSR1));
	/* a thread made afterwards inherits the mask */
	sigemptyset(&thr);
	assert_int_equal(pthread_create(&t, NULL, mask_of_thread, &thr), 0);
	pthread_join(t, NULL);
	assert_true(sigismember(&thr, SIGTERM) && sigismember(&thr, SIGHUP));
	/* extra 0: only the three */
	daemon_signals_block(&set, 0);
	assert_false(sigismember(&set, SIGUSR1));
	assert_true(sigismember(&set, SIGTERM));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process_init),
		cmocka_unit_test(test_signals_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
