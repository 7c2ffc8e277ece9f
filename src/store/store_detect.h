/*
 * store/store_detect.h: threat detection's tables (migration 9): alerts and
 * the detector's persisted state (src/detect/, docs/internals/detect.md).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 */
#ifndef PV_STORE_DETECT_H
#define PV_STORE_DETECT_H

#include "store/store_core.h"

/* detect:begin (added by the detection work) */
/*
 * One row per alert. actor is a user or app ID, "anonymous", or "h:<hex>"
 * (the HMAC of a typed username that is no account: never the name); source
 * is an address or a network. status is "open" or "acknowledged"; the ack
 * columns are set once, by the acknowledgement. Times are ms since the epoch.
 */
#define STORE_ALERT_RULE_MAX 32
#define STORE_ALERT_SEVERITY_MAX 16
#define STORE_ALERT_ACTOR_MAX 128
#define STORE_ALERT_SOURCE_MAX 64
#define STORE_ALERT_STATUS_MAX 16
#define STORE_ALERT_NOTE_MAX 1024     /* bytes, without the NUL */
struct store_alert {
	char id[UTIL_ID_MAX];
	char rule[STORE_ALERT_RULE_MAX];
	char severity[STORE_ALERT_SEVERITY_MAX];
	char actor[STORE_ALERT_ACTOR_MAX];
	char source[STORE_ALERT_SOURCE_MAX];
	int64_t first_seen_ms;
	int64_t last_seen_ms;
	int64_t count;
	char status[STORE_ALERT_STATUS_MAX];
	char ack_note[STORE_ALERT_NOTE_MAX + 1];
	char ack_by[UTIL_ID_MAX];
	int64_t ack_ms;
};
/* Insert an open alert (status and ack columns are ignored); PV_E_CONFLICT
 * if the ID exists. */
enum pv_rc store_alert_put(struct store_tx *tx, const struct store_alert *a);
enum pv_rc store_alert_get(struct store_tx *tx, const char *id, struct store_alert *out);
/* count += add, last_seen = max(last_seen, last_seen_ms), only while open:
 * PV_E_NOTFOUND if there is no open alert with that ID. */
enum pv_rc store_alert_bump(struct store_tx *tx, const char *id, int64_t add,
    int64_t last_seen_ms);
/* open -> acknowledged with the note, who and when; PV_E_NOTFOUND if there
 * is no open alert with that ID (the caller tells "none" from "already"). */
enum pv_rc store_alert_ack(struct store_tx *tx, const char *id, const char *note,
    const char *by, int64_t at_ms);
struct store_alert_filter {
	const char *status;          /* NULL: any */
	const char *rule;            /* NULL: any */
	size_t limit;                /* 0: no limit */
};
typedef int (*store_alert_cb)(const struct store_alert *a, void *arg);   /* non-zero stops */
/* Newest last_seen first. */
enum pv_rc store_alert_list(struct store_tx *tx, const struct store_alert_filter *f,
    store_alert_cb cb, void *arg);

/* The detector's named state (JSON text): *value malloc'd; PV_E_NOTFOUND. */
enum pv_rc store_detect_state_get(struct store_tx *tx, const char *key, char **value);
/* Insert or replace. */
enum pv_rc store_detect_state_put(struct store_tx *tx, const char *key, const char *value,
    int64_t now_ms);
/* detect:end */

#endif /* PV_STORE_DETECT_H */
