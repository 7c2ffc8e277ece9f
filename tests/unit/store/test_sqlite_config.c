/*
 * The SQLite backend's process-wide configuration (sqlite.c, sq_config):
 * the first store_open, before SQLite initializes, turns memory statistics
 * off, so no sqlite3_malloc or sqlite3_free takes SQLite's process-wide
 * memory mutex. A binary of its own: nothing may touch SQLite before the
 * store does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"

static void test_memory_statistics_off(void **state)
{
	struct st_fx *f = NULL;
	uint8_t *v = NULL;
	size_t len = 0;
	sqlite3_int64 cur = -1, hi = -1;

	(void)state;
	assert_int_equal(st_fx_setup((void **)&f), 0);   /* the first SQLite use */
	assert_non_null(f);
	assert_int_equal(TX_WR(f->st, store_meta_put(tx, "k", (const uint8_t *)"v", 1)), PV_OK);
	assert_int_equal(TX_RD(f->st, store_meta_get(tx, "k", &v, &len)), PV_OK);
	assert_int_equal(len, 1);
	free(v);
	/* migrations, a write and a read allocated plenty; none was counted */
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MALLOC_COUNT, &cur, &hi, 0), SQLITE_OK);
	assert_int_equal(cur, 0);
	assert_int_equal(hi, 0);
	assert_int_equal(sqlite3_memory_used(), 0);
	assert_int_equal(st_fx_teardown((void **)&f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_statistics_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
