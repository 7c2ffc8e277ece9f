/* util_utf8_next and util_is_control: the one UTF-8 decoder (RFC 3629 section 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/util.h"

static size_t
next(const char *s, size_t n, uint32_t *cp)
{
	return util_utf8_next((const unsigned char *)s, n, cp);
}

static void
test_valid(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(next("A", 1, &cp), 1);
	assert_int_equal(cp, 0x41);
	assert_int_equal(next("\xc3\xa9", 2, &cp), 2);          /* U+00E9 */
	assert_int_equal(cp, 0xe9);
	assert_int_equal(next("\xe2\x82\xac", 3, &cp), 3);      /* U+20AC */
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(next("\xf0\x9f\x98\x80", 4, &cp), 4);  /* U+1F600 */
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(next("\xf4\x8f\xbf\xbf", 4, &cp), 4);  /* U+10FFFF */
	assert_int_equal(cp, 0x10ffff);
}

static void
test_invalid(void **state)
{
	uint32_t cp = 0;

	(void)state;
	assert_int_equal(next("", 0, &cp), 0);
	assert_int_equal(next("\x80", 1, &cp), 0);                /* lone continuation */
	assert_int_equal(next("\xc0\xaf", 2, &cp), 0);            /* overlong '/' */
	assert_int_equal(next("\xc1\xbf", 2, &cp), 0);
	assert_int_equal(next("\xe0\x80\xaf", 3, &cp), 0);        /* overlong, 3 bytes */
	assert_int_equal(next("\xf0\x80\x80\xaf", 4, &cp), 0);    /* overlong, 4 bytes */
	assert_int_equal(next("\xed\xa0\x80", 3, &cp), 0);        /* surrogate U+D800 */
	assert_int_equal(next("\xf4\x90\x80\x80", 4, &cp), 0);    /* U+110000 */
	assert_int_equal(next("\xf5\x80\x80\x80", 4, &cp), 0);
	assert_int_equal(next("\xff", 1, &cp), 0);
	assert_int_equal(next("\xe2\x82", 2, &cp), 0);            /* cut by n */
	assert_int_equal(next("\xe2\x82\xac", 2, &cp), 0);        /* cut by n, bytes beyond */
	assert_int_equal(next("\xc3\x28", 2, &cp), 0);            /* bad continuation */
}

static void
test_controls(void **state)
{
	(void)state;
	assert_true(util_is_control(0x00));
	assert_true(util_is_control(0x1f));
	assert_true(util_is_control(0x7f));
	assert_true(util_is_control(0x80));
	assert_true(util_is_control(0x9f));
	assert_false(util_is_control(0x20));
	assert_false(util_is_control(0x7e));
	assert_false(util_is_control(0xa0));
	assert_false(util_is_control(0x20ac));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_controls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
