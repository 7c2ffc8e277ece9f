/*
 * authz/held.c: authz_commit_held (authz_int.h), the one way the
 * administration operations of authz (approvals, elevations, roles,
 * policies) commit a change with its entry from a request: no thread
 * waits for the fsync (docs/internals/commit.md "Who submits how";
 * docs/internals/authz.md "Commits without a waiting thread").
 *
 * It is audit_commit_held with a completion of its own, because two things
 * happen between the commit and the answer that audit_commit_held does not
 * know: the authz generation moves (a committed policy, role, approval or
 * elevation: the next decision of every session sees it, and a PHI read
 * sent after the 200 is decided under it), and a row that left its state
 * meanwhile (fn's PV_E_NOTFOUND: settled twice, ended meanwhile) answers
 * 409 while its error entry keeps the store's reason (not_found), as the
 * blocking form did.
 */
#include <stdlib.h>

#include "authz/authz_int.h"

struct held {
	struct authz_service *z;
	const struct util_holder *h;
	void *arg;
	void (*arg_free)(void *arg);
	unsigned flags;
};

/* What the answer becomes for a commit that returned rc. */
static enum pv_rc
outcome(struct authz_service *z, unsigned flags, enum pv_rc rc)
{
	if (rc == PV_OK && (flags & AUTHZ_HELD_BUMP) != 0)
		authn_authz_changed(z->authn);
	if (rc == PV_E_NOTFOUND && (flags & AUTHZ_HELD_LOST_IS_CONFLICT) != 0)
		return PV_E_CONFLICT;
	return rc;
}

/* On the committer, after the group's fsync (fn has run): cheap work only. */
static void
held_done(enum pv_rc rc, void *p)
{
	struct held *c = p;
	const struct util_holder *h = c->h;

	rc = outcome(c->z, c->flags, rc);
	if (c->arg_free != NULL)
		c->arg_free(c->arg);
	free(c);
	util_hold_release(h, rc);   /* last: the answer may leave now */
}

enum pv_rc
authz_commit_held(struct authz_service *z, const struct audit_event *ev, audit_job_fn fn,
    void *arg, void (*arg_free)(void *arg), unsigned flags)
{
	struct held *c = NULL;
	enum pv_rc rc;

	if (z == NULL || (ev == NULL && fn == NULL)) {
		rc = PV_E_INVALID;
		goto sync_out;
	}
	if (!util_request_thread() || (c = calloc(1, sizeof(*c))) == NULL ||
	    (c->h = util_request_hold()) == NULL) {
		free(c);
		/* blocking: the caller reads fn's rc itself (its messages) */
		rc = audit_commit(z->audit, ev, fn, arg);
		(void)outcome(z, flags, rc);
		goto sync_out;
	}
	c->z = z;
	c->arg = arg;
	c->arg_free = arg_free;
	c->flags = flags;
	rc = audit_submit(z->audit, ev, fn, arg, COMMIT_REQUEST, held_done, c);
	if (rc != PV_OK) {
		/* not queued: no completion will come; the answer is not held */
		util_hold_release(c->h, PV_OK);
		free(c);
		if (arg_free != NULL)
			arg_free(arg);
		return rc == PV_E_INVALID || rc == PV_E_UNAVAILABLE ? rc : PV_E_AUDIT;
	}
	return PV_OK;
sync_out:
	if (arg_free != NULL)
		arg_free(arg);
	return rc;
}
