/* util buf.c: the growable buffer (bound, sticky failure, wipe mode keeps the
 * bytes across growth), RFC 4180 fields (its section 2 rules 5-7), and
 * util_grow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"

static void
test_buf_grows_and_terminates(void **state)
{
	struct util_buf b = { 0 };
	char chunk[100];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 50; i++)      /* 5,000 bytes: several growths */
		util_buf_put(&b, chunk, sizeof(chunk));
	util_buf_puts(&b, "end");
	assert_false(b.failed);
	assert_int_equal(b.len, 5003);
	assert_true(b.cap > b.len);
	assert_int_equal(b.p[b.len], '\0');
	assert_string_equal(b.p + 5000, "end");
	util_buf_put(&b, "", 0);          /* nothing: still terminated, same length */
	assert_int_equal(b.len, 5003);
	util_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void
test_buf_bound_is_sticky(void **state)
{
	struct util_buf b = { .max = 10 };

	(void)state;
	util_buf_puts(&b, "0123456789");   /* exactly max: fits */
	assert_false(b.failed);
	util_buf_puts(&b, "a");            /* one past: failed, toobig, unchanged */
	assert_true(b.failed);
	assert_true(b.toobig);
	assert_int_equal(b.len, 10);
	util_buf_free(&b);
	assert_int_equal(b.max, 10);       /* the settings stay */
	assert_false(b.failed);
	util_buf_puts(&b, "a");
	util_buf_puts(&b, "0123456789");   /* 11 > 10 */
	assert_true(b.failed);
	util_buf_puts(&b, "");             /* sticky: later puts change nothing */
	assert_int_equal(b.len, 1);
	assert_string_equal(b.p, "a");
	util_buf_free(&b);
}

static void
test_buf_wipe_keeps_bytes(void **state)
{
	struct util_buf b = { .wipe = true };
	char want[3000];

	(void)state;
	for (size_t i = 0; i < sizeof(want) - 1; i++)
		want[i] = (char)('a' + i % 26);
	want[sizeof(want) - 1] = '\0';
	for (size_t i = 0; i < sizeof(want) - 1; i += 7)
		util_buf_put(&b, want + i, i + 7 < sizeof(want) - 1 ? 7 : sizeof(want) - 1 - i);
	assert_false(b.failed);
	assert_string_equal(b.p, want);
	util_buf_free(&b);
	assert_true(b.wipe);
}

/* RFC 4180 section 2: fields with commas, quotes or line breaks are quoted
 * (6), a quote inside is doubled (7), rows end with CRLF (1). */
static void
test_csv_cells(void **state)
{
	struct util_buf b = { 0 };

	(void)state;
	util_csv_cell(&b, "plain", false);
	util_csv_cell(&b, "a,b", false);
	util_csv_cell(&b, "say \"hi\"", false);
	util_csv_cell(&b, "two\r\nlines", false);
	util_csv_cell(&b, NULL, false);
	util_csv_cell(&b, "", true);
	util_csv_cell(&b, "x", true);
	assert_false(b.failed);
	assert_string_equal(b.p, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",,\r\nx\r\n");
	util_buf_free(&b);
}

static void
test_grow(void **state)
{
	int *a = NULL;
	size_t cap = 0, n;

	(void)state;
	for (n = 0; n < 100; n++) {
		assert_int_equal(util_grow(&a, &cap, n, sizeof(*a), 4), 0);
		assert_true(cap > n);
		a[n] = (int)n;
	}
	assert_int_equal(cap, 128);          /* 4, 8, ..., 128 */
	for (n = 0; n < 100; n++)
		assert_int_equal(a[n], (int)n);
	assert_int_equal(util_grow(&a, &cap, 5, sizeof(*a), 4), 0);   /* room: unchanged */
	assert_int_equal(cap, 128);
	/* a size that cannot be allocated: -1, the array and cap unchanged */
	size_t huge = SIZE_MAX / 2 + 1;
	int *before = a;

	cap = 128;
	assert_int_equal(util_grow(&a, &cap, 128, huge / 128, 4), -1);
	assert_ptr_equal(a, before);
	assert_int_equal(cap, 128);
	free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows_and_terminates),
		cmocka_unit_test(test_buf_bound_is_sticky),
		cmocka_unit_test(test_buf_wipe_keeps_bytes),
		cmocka_unit_test(test_csv_cells),
		cmocka_unit_test(test_grow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
