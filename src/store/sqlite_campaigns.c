/*
 * sqlite_campaigns.c: the access review campaign ops of the SQL backends
 * (tables review_campaigns, review_campaign_items; SQL in sqlite.c's
 * statement table, common dialect, so PostgreSQL runs the same code through
 * its runners). A row whose text does not fit its field is a damaged row
 * (PV_E_INTEGRITY), never truncated. Nothing here logs a bound value.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

void store_campaign_clear(struct store_campaign *c)
{
	if (c == NULL)
		return;
	free(c->result);
	memset(c, 0, sizeof(*c));
}

void store_campaign_item_clear(struct store_campaign_item *i)
{
	if (i == NULL)
		return;
	free(i->detail);
	free(i->note);
	memset(i, 0, sizeof(*i));
}

static enum pv_rc campaign_from_row(struct store_row *s, void *out)
{
	struct store_campaign c;
	enum pv_rc rc;

	memset(&c, 0, sizeof(c));
	if (!store_sqlite_col_copy(s, 0, c.id, sizeof(c.id)) ||
	    !store_sqlite_col_copy(s, 1, c.scope, sizeof(c.scope)) ||
	    !store_sqlite_col_copy(s, 2, c.reviewers, sizeof(c.reviewers)) ||
	    !store_sqlite_col_copy(s, 3, c.status, sizeof(c.status)) ||
	    !store_sqlite_col_copy(s, 4, c.on_due, sizeof(c.on_due)) ||
	    !store_sqlite_col_copy(s, 5, c.created_by, sizeof(c.created_by)) ||
	    !store_sqlite_col_copy(s, 10, c.signature, sizeof(c.signature))) {
		log_error("store: campaign row out of range");
		return PV_E_INTEGRITY;
	}
	c.created_ms = store_row_int64(s, 6);
	c.due_ms = store_row_int64(s, 7);
	c.closed_ms = store_row_int64(s, 8);
	if ((rc = store_sqlite_col_strdup(s, 9, &c.result)) != PV_OK)
		return rc;
	*(struct store_campaign *)out = c;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(campaign_row, struct store_campaign, campaign_from_row,
    store_campaign_clear, store_campaign_cb)

static enum pv_rc item_from_row(struct store_row *s, void *out)
{
	struct store_campaign_item i;
	enum pv_rc rc;

	memset(&i, 0, sizeof(i));
	if (!store_sqlite_col_copy(s, 0, i.campaign_id, sizeof(i.campaign_id)) ||
	    !store_sqlite_col_copy(s, 1, i.item_id, sizeof(i.item_id)) ||
	    !store_sqlite_col_copy(s, 2, i.kind, sizeof(i.kind)) ||
	    !store_sqlite_col_copy(s, 3, i.principal_id, sizeof(i.principal_id)) ||
	    !store_sqlite_col_copy(s, 4, i.principal_name, sizeof(i.principal_name)) ||
	    !store_sqlite_col_copy(s, 7, i.decision, sizeof(i.decision)) ||
	    !store_sqlite_col_copy(s, 8, i.decided_by, sizeof(i.decided_by))) {
		log_error("store: campaign item row out of range");
		return PV_E_INTEGRITY;
	}
	i.unused = store_row_int64(s, 6) != 0;
	i.decided_ms = store_row_int64(s, 9);
	if ((rc = store_sqlite_col_strdup(s, 5, &i.detail)) != PV_OK)
		return rc;
	if ((rc = store_sqlite_col_strdup(s, 10, &i.note)) != PV_OK) {
		free(i.detail);
		return rc;
	}
	*(struct store_campaign_item *)out = i;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(item_row, struct store_campaign_item, item_from_row,
    store_campaign_item_clear, store_campaign_item_cb)

static enum pv_rc sq_campaign_put(struct store_tx *tx, const struct store_campaign *c)
{
	return store_sqlite_exec(tx, SQ_CAMPAIGN_PUT, "campaign_put",
	    SQP_LIST(SQP_TEXT(c->id), SQP_TEXT(c->scope), SQP_TEXT(c->reviewers),
		SQP_TEXT(c->status), SQP_TEXT(c->on_due), SQP_TEXT(c->created_by),
		SQP_INT(c->created_ms), SQP_INT(c->due_ms), SQP_INT(c->closed_ms),
		SQP_TEXT(c->result != NULL ? c->result : ""), SQP_TEXT(c->signature)), NULL);
}

static enum pv_rc sq_campaign_get(struct store_tx *tx, const char *id,
    struct store_campaign *out)
{
	return store_sqlite_get(tx, SQ_CAMPAIGN_GET, "campaign_get", SQP_LIST(SQP_TEXT(id)),
	    campaign_from_row, out);
}

static enum pv_rc sq_campaign_list(struct store_tx *tx, const char *status,
    store_campaign_cb cb, void *arg)
{
	struct campaign_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_CAMPAIGN_LIST, "campaign_list",
	    SQP_LIST(status != NULL ? SQP_TEXT(status) : SQP_NULL()), campaign_row, &x);
}

static enum pv_rc sq_campaign_close(struct store_tx *tx, const char *id, int64_t closed_ms,
    const char *result, const char *signature)
{
	return store_sqlite_exec_one(tx, SQ_CAMPAIGN_CLOSE, "campaign_close",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(closed_ms), SQP_TEXT(result), SQP_TEXT(signature)));
}

static enum pv_rc sq_item_put(struct store_tx *tx, const struct store_campaign_item *i)
{
	return store_sqlite_exec(tx, SQ_CAMPAIGN_ITEM_PUT, "campaign_item_put",
	    SQP_LIST(SQP_TEXT(i->campaign_id), SQP_TEXT(i->item_id), SQP_TEXT(i->kind),
		SQP_TEXT(i->principal_id), SQP_TEXT(i->principal_name), SQP_TEXT(i->detail),
		SQP_INT(i->unused ? 1 : 0), SQP_TEXT(i->decision), SQP_TEXT(i->decided_by),
		SQP_INT(i->decided_ms), SQP_TEXT(i->note != NULL ? i->note : "")), NULL);
}

static enum pv_rc sq_item_get(struct store_tx *tx, const char *campaign_id,
    const char *item_id, struct store_campaign_item *out)
{
	return store_sqlite_get(tx, SQ_CAMPAIGN_ITEM_GET, "campaign_item_get",
	    SQP_LIST(SQP_TEXT(campaign_id), SQP_TEXT(item_id)), item_from_row, out);
}

static enum pv_rc sq_items(struct store_tx *tx, const char *campaign_id,
    store_campaign_item_cb cb, void *arg)
{
	struct item_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_CAMPAIGN_ITEMS, "campaign_items",
	    SQP_LIST(SQP_TEXT(campaign_id)), item_row, &x);
}

static enum pv_rc sq_item_decide(struct store_tx *tx, const char *campaign_id,
    const char *item_id, const char *decision, const char *by, int64_t at_ms,
    const char *note)
{
	return store_sqlite_exec_one(tx, SQ_CAMPAIGN_ITEM_DECIDE, "campaign_item_decide",
	    SQP_LIST(SQP_TEXT(campaign_id), SQP_TEXT(item_id), SQP_TEXT(decision), SQP_TEXT(by),
		SQP_INT(at_ms), SQP_TEXT(note != NULL ? note : "")));
}

static enum pv_rc int_from_row(struct store_row *s, void *out)
{
	*(int64_t *)out = store_row_int64(s, 0);
	return PV_OK;
}

static enum pv_rc sq_last_use(struct store_tx *tx, const char *kind, const char *id,
    int64_t *ms)
{
	int64_t v = 0;
	enum pv_rc rc;

	rc = store_sqlite_get(tx, strcmp(kind, "app") == 0 ? SQ_CAMPAIGN_LAST_USE_APP :
	    SQ_CAMPAIGN_LAST_USE_USER, "campaign_last_use", SQP_LIST(SQP_TEXT(id)), int_from_row,
	    &v);
	if (rc == PV_E_NOTFOUND)
		rc = PV_OK;
	if (rc == PV_OK)
		*ms = v;
	return rc;
}

struct approver_out {
	char by[UTIL_ID_MAX];
	int64_t ms;
};

static enum pv_rc approver_from_row(struct store_row *s, void *out)
{
	struct approver_out *a = out;

	if (!store_sqlite_col_copy(s, 0, a->by, sizeof(a->by)))
		return PV_E_INTEGRITY;
	a->ms = store_row_int64(s, 1);
	return PV_OK;
}

static enum pv_rc sq_approver(struct store_tx *tx, const char *target, char by[UTIL_ID_MAX],
    int64_t *ms)
{
	struct approver_out a;
	enum pv_rc rc;

	memset(&a, 0, sizeof(a));
	rc = store_sqlite_get(tx, SQ_CAMPAIGN_APPROVER, "campaign_approver",
	    SQP_LIST(SQP_TEXT(target)), approver_from_row, &a);
	if (rc == PV_E_NOTFOUND) {
		memset(&a, 0, sizeof(a));
		rc = PV_OK;
	}
	if (rc == PV_OK) {
		memcpy(by, a.by, UTIL_ID_MAX);
		*ms = a.ms;
	}
	return rc;
}

const struct store_campaigns_ops store_sqlite_campaigns_ops = {
	.campaign_put = sq_campaign_put,
	.campaign_get = sq_campaign_get,
	.campaign_list = sq_campaign_list,
	.campaign_close = sq_campaign_close,
	.item_put = sq_item_put,
	.item_get = sq_item_get,
	.items = sq_items,
	.item_decide = sq_item_decide,
	.last_use = sq_last_use,
	.approver = sq_approver,
};
