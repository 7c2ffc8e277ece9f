/*
 * store/store_campaigns.h: access review campaigns (tables
 * review_campaigns and review_campaign_items; src/directory/campaigns.c,
 * docs/internals/directory.md "Access review campaigns", docs/governance.md).
 * Part of the store interface (store.h includes every store_*.h); the
 * backend's table for this domain is in store_int.h.
 *
 * A campaign lists principals (users, apps) with what they hold; each item
 * is decided once. States:
 *   campaign  open --close (result + signature)--> closed
 *   item      pending ("") --decide--> keep | revoke      (a reviewer)
 *             pending      --due---->  removed | unattested (the system, at the
 *                                      due date: [reviews] on_due remove | alert)
 * Only the expected state changes (store_campaign_close / _item_decide:
 * PV_E_NOTFOUND otherwise), so two deciders cannot both win. Rows are never
 * deleted. Nothing here is a secret or PHI: principals by ID and name,
 * roles, groups, times; the note is the reviewer's own words.
 *
 * Two reads of other domains' tables live here because only campaigns
 * need them and they are cheap aggregates: the last use of a principal
 * (the newest session activity of a user, the newest sign-in of an app)
 * and the approver of a principal's grants (the newest approved dual-
 * control request naming it).
 */
#ifndef PV_STORE_CAMPAIGNS_H
#define PV_STORE_CAMPAIGNS_H

#include "store/store_core.h"

#define STORE_CAMPAIGN_WORD_MAX 16     /* scope, reviewers, status, on_due, decision */
#define STORE_CAMPAIGN_NAME_MAX 128

struct store_campaign {
	char id[UTIL_ID_MAX];                          /* rvc_... */
	char scope[STORE_CAMPAIGN_WORD_MAX];           /* phi_access|admins|apps */
	char reviewers[STORE_CAMPAIGN_WORD_MAX];       /* officers */
	char status[STORE_CAMPAIGN_WORD_MAX];          /* open|closed */
	char on_due[STORE_CAMPAIGN_WORD_MAX];          /* remove|alert */
	char created_by[UTIL_ID_MAX];                  /* a user ID, or "system" (schedule) */
	int64_t created_ms;
	int64_t due_ms;
	int64_t closed_ms;                             /* 0 while open */
	char *result;                                  /* malloc'd; "" while open */
	char signature[129];                           /* hex Ed25519; "" while open */
};
void store_campaign_clear(struct store_campaign *c);

struct store_campaign_item {
	char campaign_id[UTIL_ID_MAX];
	char item_id[UTIL_ID_MAX];                     /* rvi_... */
	char kind[STORE_CAMPAIGN_WORD_MAX];            /* user|app */
	char principal_id[UTIL_ID_MAX];
	char principal_name[STORE_CAMPAIGN_NAME_MAX];
	char *detail;                                  /* malloc'd JSON object (the snapshot) */
	bool unused;
	char decision[STORE_CAMPAIGN_WORD_MAX];        /* ""|keep|revoke|removed|unattested */
	char decided_by[UTIL_ID_MAX];
	int64_t decided_ms;
	char *note;                                    /* malloc'd; "" if none */
};
void store_campaign_item_clear(struct store_campaign_item *i);

/* PV_E_CONFLICT if the ID exists. */
enum pv_rc store_campaign_put(struct store_tx *tx, const struct store_campaign *c);
enum pv_rc store_campaign_get(struct store_tx *tx, const char *id, struct store_campaign *out);
typedef int (*store_campaign_cb)(const struct store_campaign *c, void *arg);  /* non-zero stops */
/* Newest first; status NULL: every state. */
enum pv_rc store_campaign_list(struct store_tx *tx, const char *status, store_campaign_cb cb,
    void *arg);
/* open -> closed with the signed result; PV_E_NOTFOUND if not open. */
enum pv_rc store_campaign_close(struct store_tx *tx, const char *id, int64_t closed_ms,
    const char *result, const char *signature);

/* PV_E_CONFLICT if (campaign, item) exists. */
enum pv_rc store_campaign_item_put(struct store_tx *tx, const struct store_campaign_item *i);
enum pv_rc store_campaign_item_get(struct store_tx *tx, const char *campaign_id,
    const char *item_id, struct store_campaign_item *out);
typedef int (*store_campaign_item_cb)(const struct store_campaign_item *i, void *arg);
/* In item ID order. */
enum pv_rc store_campaign_items(struct store_tx *tx, const char *campaign_id,
    store_campaign_item_cb cb, void *arg);
/* pending -> decision with who, when and note; PV_E_NOTFOUND if the item
 * is not pending. */
enum pv_rc store_campaign_item_decide(struct store_tx *tx, const char *campaign_id,
    const char *item_id, const char *decision, const char *by, int64_t at_ms,
    const char *note);

/* kind "user": the newest last_seen of its sessions; "app": the newest
 * sign-in (app session created). 0 if never. */
enum pv_rc store_campaign_last_use(struct store_tx *tx, const char *kind, const char *id,
    int64_t *ms);
/* The decider of the newest approved request whose target is target
 * ("users/<id>", "apps/<id>"), into by ("" and 0 if none). */
enum pv_rc store_campaign_approver(struct store_tx *tx, const char *target,
    char by[UTIL_ID_MAX], int64_t *ms);

#endif /* PV_STORE_CAMPAIGNS_H */
