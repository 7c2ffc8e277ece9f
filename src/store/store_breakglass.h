/*
 * store/store_breakglass.h: break-glass grants and their reviews (table
 * breakglass; src/vault/ops_breakglass.c, docs/internals/authz.md
 * "Break-glass"). One row is one grant and the review item it opened: a
 * break_glass holder's emergency read access to one subject (patient),
 * known here only by its keyed reference, never by its value.
 *
 * Grant states: active (ended_ms 0, now < expires_ms) --end--> ended
 * (end_reason "ended") | --expiry--> expired (end_reason "expired", set by
 * the sweeper; access ends at expires_ms whether or not it has run).
 * Review states: open --decide--> appropriate | inappropriate. Only an
 * active grant ends and only an open review is decided; rows are never
 * deleted. The justification is the holder's own text (stored here for the
 * reviewer, never copied into the audit trail).
 */
#ifndef PV_STORE_BREAKGLASS_H
#define PV_STORE_BREAKGLASS_H

#include "store/store_core.h"
#include "store/store_subjects.h"

#define STORE_BG_CODE_MAX 16
#define STORE_BG_JUSTIFICATION_MAX 1024

struct store_breakglass {
	char id[UTIL_ID_MAX];                        /* bg_... */
	char user_id[UTIL_ID_MAX];                   /* the holder */
	char subject_ref[STORE_SUBJECT_REF_LEN + 1]; /* keyed reference of the subject */
	char reason_code[STORE_BG_CODE_MAX];         /* HL7 code, e.g. ETREAT */
	char *justification;                         /* malloc'd */
	int64_t created_ms;
	int64_t expires_ms;
	int64_t ended_ms;                            /* 0 while active */
	char end_reason[STORE_BG_CODE_MAX];          /* "" | ended | expired */
	int64_t since_seq;                           /* audit head before activation */
	char review_id[UTIL_ID_MAX];                 /* rev_... */
	char review_status[STORE_BG_CODE_MAX];       /* open|appropriate|inappropriate */
	int64_t review_due_ms;
	char reviewed_by[UTIL_ID_MAX];               /* "" while open */
	int64_t reviewed_ms;
	char *review_note;                           /* malloc'd; "" when none */
	bool overdue_reported;                       /* review.overdue recorded */
};
void store_breakglass_clear(struct store_breakglass *g);
/* A new grant with its open review; PV_E_CONFLICT if an ID exists. Bumps
 * the access epoch. */
enum pv_rc store_breakglass_put(struct store_tx *tx, const struct store_breakglass *g);
enum pv_rc store_breakglass_get(struct store_tx *tx, const char *id, struct store_breakglass *out);
enum pv_rc store_breakglass_review_get(struct store_tx *tx, const char *review_id,
    struct store_breakglass *out);
/* The user's newest grant still active at now_ms; PV_E_NOTFOUND if none. */
enum pv_rc store_breakglass_active(struct store_tx *tx, const char *user_id, int64_t now_ms,
    struct store_breakglass *out);
typedef int (*store_breakglass_cb)(const struct store_breakglass *g, void *arg);  /* non-zero stops */
/* Newest first; user_id NULL: every holder; review_status NULL: any. */
enum pv_rc store_breakglass_list(struct store_tx *tx, const char *user_id,
    const char *review_status, store_breakglass_cb cb, void *arg);
/* End an active grant (end_reason ended|expired); PV_E_NOTFOUND if it is
 * not active. Bumps the access epoch. */
enum pv_rc store_breakglass_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *end_reason);
/* Decide an open review (appropriate|inappropriate); PV_E_NOTFOUND if
 * there is no open review of that ID. */
enum pv_rc store_breakglass_review_decide(struct store_tx *tx, const char *review_id,
    const char *status, const char *by, int64_t at_ms, const char *note);
/* Mark an open review's overdue report made; PV_E_NOTFOUND if it is not
 * open or was reported already. */
enum pv_rc store_breakglass_overdue_mark(struct store_tx *tx, const char *review_id);

#endif /* PV_STORE_BREAKGLASS_H */
