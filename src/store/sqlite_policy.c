/*
 * sqlite_policy.c: the policy ops of the SQLite backend (table `policies`,
 * migration 10; SQL in sqlite.c's statement table). Rows are copied out
 * whole or not at all; a row whose fixed-size text does not fit is a
 * damaged row (PV_E_IO), never truncated.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_sqlite.h"

static enum pv_rc policy_from_row(struct store_row *s, void *out)
{
	struct store_policy p;
	const char *effect = store_row_text(s, 1);
	enum pv_rc rc;

	memset(&p, 0, sizeof(p));
	if (!store_sqlite_col_copy(s, 0, p.name, sizeof(p.name)) ||
	    !store_sqlite_col_copy(s, 5, p.created_by, sizeof(p.created_by)) ||
	    !store_sqlite_col_copy(s, 7, p.updated_by, sizeof(p.updated_by)) || effect == NULL) {
		log_error("store: policy_get: damaged row");
		return PV_E_IO;
	}
	p.deny = strcmp(effect, "deny") == 0;
	if ((rc = store_sqlite_col_strdup(s, 2, &p.actions)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 3, &p.resources)) != PV_OK ||
	    (rc = store_sqlite_col_strdup(s, 4, &p.condition)) != PV_OK) {
		store_policy_clear(&p);
		return rc;
	}
	p.created_ms = store_row_int64(s, 6);
	p.updated_ms = store_row_int64(s, 8);
	p.version = store_row_int64(s, 9);
	*(struct store_policy *)out = p;
	return PV_OK;
}

STORE_SQLITE_EACH_ROW(policy_row, struct store_policy, policy_from_row, store_policy_clear,
    store_policy_cb)

static enum pv_rc policy_put(struct store_tx *tx, const struct store_policy *p)
{
	return store_sqlite_exec(tx, SQ_POLICY_PUT, "policy_put",
	    SQP_LIST(SQP_TEXT(p->name), SQP_TEXT(p->deny ? "deny" : "allow"), SQP_TEXT(p->actions),
		SQP_TEXT(p->resources), SQP_TEXT(p->condition), SQP_TEXT(p->created_by),
		SQP_INT(p->created_ms), SQP_TEXT(p->updated_by), SQP_INT(p->updated_ms),
		SQP_INT(p->version)), NULL);
}

static enum pv_rc policy_get(struct store_tx *tx, const char *name, struct store_policy *out)
{
	return store_sqlite_get(tx, SQ_POLICY_GET, "policy_get", SQP_LIST(SQP_TEXT(name)),
	    policy_from_row, out);
}

static enum pv_rc policy_update(struct store_tx *tx, const struct store_policy *p)
{
	return store_sqlite_exec_one(tx, SQ_POLICY_UPDATE, "policy_update",
	    SQP_LIST(SQP_TEXT(p->name), SQP_TEXT(p->deny ? "deny" : "allow"), SQP_TEXT(p->actions),
		SQP_TEXT(p->resources), SQP_TEXT(p->condition), SQP_TEXT(p->updated_by),
		SQP_INT(p->updated_ms), SQP_INT(p->version)));
}

static enum pv_rc policy_delete(struct store_tx *tx, const char *name)
{
	return store_sqlite_exec_one(tx, SQ_POLICY_DELETE, "policy_delete",
	    SQP_LIST(SQP_TEXT(name)));
}

static enum pv_rc policy_list(struct store_tx *tx, store_policy_cb cb, void *arg)
{
	struct policy_row_ctx x = { cb, arg };

	return store_sqlite_scan(tx, SQ_POLICY_LIST, "policy_list", SQP_NONE, policy_row, &x);
}

static enum pv_rc session_set_mfa(struct store_tx *tx, const char *id, int64_t mfa_at_ms)
{
	return store_sqlite_exec_one(tx, SQ_SESSION_SET_MFA, "session_set_mfa",
	    SQP_LIST(SQP_TEXT(id), SQP_INT(mfa_at_ms)));
}

const struct store_policy_ops store_sqlite_policy_ops = {
	/* policies:begin */
	.policy_put = policy_put,
	.policy_get = policy_get,
	.policy_update = policy_update,
	.policy_delete = policy_delete,
	.policy_list = policy_list,
	.session_set_mfa = session_set_mfa,
	/* policies:end */
};
