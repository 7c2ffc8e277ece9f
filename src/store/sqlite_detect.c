/*
 * sqlite_detect.c: the detect ops of the SQLite backend (tables `alerts`
 * and `detect_state`, migration 9; SQL in sqlite.c's statement table). Rows
 * are copied out whole or not at all; text that does not fit its field is a
 * damaged row (PV_E_IO), never truncated.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc alert_from_row(struct store_row *s, void *out)
{
	struct store_alert a;

	memset(&a, 0, sizeof(a));
	if (!store_sqlite_col_copy(s, 0, a.id, sizeof(a.id)) ||
	    !store_sqlite_col_copy(s, 1, a.rule, sizeof(a.rule)) ||
	    !store_sqlite_col_copy(s, 2, a.severity, sizeof(a.severity)) ||
	    !store_sqlite_col_copy(s, 3, a.actor, sizeof(a.actor)) ||
	    !store_sqlite_col_copy(s, 4, a.source, sizeof(a.source)) ||
	    !store_sqlite_col_copy(s, 8, a.status, sizeof(a.status)) ||
	    !store_sqlite_col_copy(s, 9, a.ack_note, sizeof(a.ack_note)) ||
	    !store_sqlite_col_copy(s, 10, a.ack_by, sizeof(a.ack_by))) {
		log_error("store: alert_get: damaged row");
		return PV_E_IO;
	}
	a.first_seen_ms = store_row_int64(s, 5);
	a.last_seen_ms = store_row_int64(s, 6);
	a.count = store_row_int64(s, 7);
	a.ack_ms = store_row_int64(s, 11);
	*(struct store_alert *)out = a;
	return PV_OK;
}

static void alert_clear(struct store_alert *a)
{
	(void)a;
}

STORE_SQLITE_EACH_ROW(alert_row, struct store_alert, alert_from_row, alert_clear, store_alert_cb)

static enum pv_rc sq_alert_put(struct store_tx *tx, const struct store_alert *a)
{
	return store_sqlite_exec(tx, SQ_ALERT_PUT, "alert_put",
	    SQP_LIST(SQP_TEXT(a->id), SQP_TEXT(a->rule), SQP_TEXT(a->severity),
		SQP_TEXT(a->actor), SQP_TEXT(a->source), SQP_INT(a->first_seen_ms),
		SQP_INT(a->last_seen_ms), SQP_INT(a->count)), NULL);
}

static enum pv_rc sq_alert_get(struct store_tx *tx, const char *id, struct store_alert *out)
{
	return store_sqlite_get(tx, SQ_ALERT_GET, "alert_get", SQP_LIST(SQP_TEXT(id)),
	    alert_from_row, out);
}

static enum pv_rc sq_alert_bump(struct store_tx *tx, const char *id, int64_t add,
    int64_t last_seen_ms)
{
	return store_sqlite_exec_one(tx, SQ_ALERT_BUMP, "alert_bump",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(add), SQP_INT(last_seen_ms)));
}

static enum pv_rc sq_alert_ack(struct store_tx *tx, const char *id, const char *note,
    const char *by, int64_t at_ms)
{
	return store_sqlite_exec_one(tx, SQ_ALERT_ACK, "alert_ack",
	    SQP_LIST(SQP_TEXT(id), SQP_TEXT(note), SQP_TEXT(by), SQP_INT(at_ms)));
}

static enum pv_rc sq_alert_list(struct store_tx *tx, const struct store_alert_filter *f,
    store_alert_cb cb, void *arg)
{
	struct alert_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_ALERT_LIST, "alert_list",
	    SQP_LIST(SQP_TEXT(f->status), SQP_TEXT(f->rule),
		SQP_INT(f->limit == 0 ? -1 : (int64_t)f->limit)), alert_row, &x);
}

static enum pv_rc state_from_row(struct store_row *s, void *out)
{
	return store_sqlite_col_strdup(s, 0, (char **)out);
}

static enum pv_rc sq_detect_state_get(struct store_tx *tx, const char *key, char **value)
{
	return store_sqlite_get(tx, SQ_DETECT_STATE_GET, "detect_state_get",
	    SQP_LIST(SQP_TEXT(key)), state_from_row, value);
}

static enum pv_rc sq_detect_state_put(struct store_tx *tx, const char *key, const char *value,
    int64_t now_ms)
{
	return store_sqlite_exec(tx, SQ_DETECT_STATE_PUT, "detect_state_put",
	    SQP_LIST(SQP_TEXT(key), SQP_TEXT(value), SQP_INT(now_ms)), NULL);
}

const struct store_detect_ops store_sqlite_detect_ops = {
	/* detect:begin */
	.alert_put = sq_alert_put,
	.alert_get = sq_alert_get,
	.alert_bump = sq_alert_bump,
	.alert_ack = sq_alert_ack,
	.alert_list = sq_alert_list,
	.detect_state_get = sq_detect_state_get,
	.detect_state_put = sq_detect_state_put,
	/* detect:end */
};
