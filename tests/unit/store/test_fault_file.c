/*
 * PHIVAULT_FAULT_FILE: integration tests break a running server's store by
 * writing op names into a file. The variable is read once per process, so
 * this test sets it before the first store call, in its own executable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"

struct fx {
	char *dir;
	char file[4096];
	struct store *st;
};

static int group_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = st_tmpdir()) == NULL)
		return -1;
	st_path(f->file, sizeof(f->file), f->dir, "faults");
	if (setenv("PHIVAULT_FAULT_FILE", f->file, 1) != 0)
		return -1;
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	st_rmtree(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static enum pv_rc append(struct store *st, int64_t seq)
{
	struct store_audit_row r = {
		.seq = seq, .time = "t", .actor = "{}", .action = "login", .resource = "",
		.purpose_of_use = "", .outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = "0000000000000000000000000000000000000000000000000000000000000000",
		.hash = "1111111111111111111111111111111111111111111111111111111111111111",
	};

	return TX_WR(st, store_audit_append(tx, &r));
}

static enum pv_rc put(struct store *st)
{
	return TX_WR(st, store_meta_put(tx, "k", (const uint8_t *)"v", 1));
}

static void test_fault_file(void **state)
{
	struct fx *f = *state;
	char h[65];
	int64_t seq = 0;

	/* no file: nothing fails */
	assert_int_equal(append(f->st, 1), PV_OK);
	assert_int_equal(put(f->st), PV_OK);

	/* the op named on a line of its own fails, every time, others do not */
	write_file(f->file, "meta_get\naudit_append\n");
	assert_int_equal(append(f->st, 2), PV_E_IO);
	assert_int_equal(append(f->st, 2), PV_E_IO);
	assert_int_equal(put(f->st), PV_OK);
	assert_int_equal(TX_RD(f->st, store_audit_head(tx, &seq, h)), PV_OK);
	assert_int_equal(seq, 1);

	/* whole lines only (CRLF tolerated); a prefix or a longer name does not match */
	write_file(f->file, "audit_append_x\naudit\r\nmeta_put\r\n");
	assert_int_equal(append(f->st, 2), PV_OK);
	assert_int_equal(put(f->st), PV_E_IO);

	/* the file is re-read on every call: removing it heals the store */
	assert_int_equal(remove(f->file), 0);
	assert_int_equal(put(f->st), PV_OK);
	assert_int_equal(append(f->st, 3), PV_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_file),
	};

#ifndef PV_FAULT_INJECTION
	return 0;   /* built without the hook: nothing to test */
#endif
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
