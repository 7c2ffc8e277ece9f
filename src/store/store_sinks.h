/*
 * store/store_sinks.h: the delivery cursors of the SIEM sinks (table
 * sink_cursors, migration 8; src/sinks/). One row per configured sink name:
 * the seq of the last audit entry the receiver accepted, how many entries
 * were delivered in all, the last error (a short text of codes and host
 * names, never an entry's content; "" after a success) and when the row
 * last changed. Part of the store interface (store.h includes every
 * store_*.h); the backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_SINKS_H
#define PV_STORE_SINKS_H

#include "store/store_core.h"

#define STORE_SINK_NAME_MAX 64
#define STORE_SINK_ERROR_MAX 256
struct store_sink_cursor {
	char name[STORE_SINK_NAME_MAX];
	int64_t seq;                        /* last delivered seq; 0: none yet */
	int64_t delivered;                  /* entries delivered since the row was made */
	char last_error[STORE_SINK_ERROR_MAX];
	int64_t updated_ms;
};
/* PV_E_NOTFOUND if the sink has no row yet. */
enum pv_rc store_sink_cursor_get(struct store_tx *tx, const char *name,
    struct store_sink_cursor *out);
/* Insert or replace the row of c->name. */
enum pv_rc store_sink_cursor_put(struct store_tx *tx, const struct store_sink_cursor *c);

#endif /* PV_STORE_SINKS_H */
