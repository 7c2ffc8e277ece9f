/* The progress line of `phivault job show` (cli_job_progress). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cli/cli.h"

static void
test_bar(void **state)
{
	char buf[160];

	(void)state;
	assert_string_equal(cli_job_progress(5800, 10000, 1200, 3, 12, buf, sizeof(buf)),
	    "[######......] 58% 5800/10000 1200/s eta 3s");
	assert_string_equal(cli_job_progress(0, 10, 0, -1, 4, buf, sizeof(buf)), "[....] 0% 0/10");
	assert_string_equal(cli_job_progress(10, 10, 0, -1, 4, buf, sizeof(buf)),
	    "[####] 100% 10/10");
	/* done past total (a kind that undercounted) never overflows the bar */
	assert_string_equal(cli_job_progress(12, 10, 0, -1, 4, buf, sizeof(buf)),
	    "[####] 100% 12/10");
	/* total unknown: a count, no percentage */
	assert_string_equal(cli_job_progress(7, 0, 2.4, -1, 3, buf, sizeof(buf)), "[...] 7 2/s");
	/* a short buffer holds what fits, NUL-terminated */
	assert_string_equal(cli_job_progress(5800, 10000, 1200, 3, 12, buf, 8), "[######");
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_bar) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
