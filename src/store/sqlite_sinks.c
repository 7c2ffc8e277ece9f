/*
 * sqlite_sinks.c: the sinks ops of the SQLite backend (table sink_cursors,
 * migration 8; SQL in sqlite.c's statement table). A row whose text does not
 * fit its field is a damaged row (PV_E_IO), never truncated.
 */
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc cursor_from_row(struct store_row *s, void *out)
{
	struct store_sink_cursor c;

	memset(&c, 0, sizeof(c));
	if (!store_sqlite_col_copy(s, 0, c.name, sizeof(c.name)) ||
	    !store_sqlite_col_copy(s, 3, c.last_error, sizeof(c.last_error))) {
		log_error("store: sink_cursor_get: damaged row");
		return PV_E_IO;
	}
	c.seq = store_row_int64(s, 1);
	c.delivered = store_row_int64(s, 2);
	c.updated_ms = store_row_int64(s, 4);
	*(struct store_sink_cursor *)out = c;
	return PV_OK;
}

static enum pv_rc sq_sink_cursor_get(struct store_tx *tx, const char *name,
    struct store_sink_cursor *out)
{
	return store_sqlite_get(tx, SQ_SINK_CURSOR_GET, "sink_cursor_get",
	    SQP_LIST(SQP_TEXT(name)), cursor_from_row, out);
}

static enum pv_rc sq_sink_cursor_put(struct store_tx *tx, const struct store_sink_cursor *c)
{
	return store_sqlite_exec(tx, SQ_SINK_CURSOR_PUT, "sink_cursor_put",
	    SQP_LIST(SQP_TEXT(c->name), SQP_INT(c->seq), SQP_INT(c->delivered),
		SQP_TEXT(c->last_error), SQP_INT(c->updated_ms)), NULL);
}

const struct store_sinks_ops store_sqlite_sinks_ops = {
	.sink_cursor_get = sq_sink_cursor_get,
	.sink_cursor_put = sq_sink_cursor_put,
};
