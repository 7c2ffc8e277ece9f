/*
 * lockout_clear: an administrator's unlock (POST /v1/users/{id}/unlock and
 * the reset that gives a user a new password). Kept apart from lockout.c,
 * which owns the lockout arithmetic, and from the login's reading and
 * counting of attempts: whatever shape the persisted counters take, this is
 * the one place that forgets them for an account.
 *
 * Invariant: runs on the audit writer (inside the job of an audit_commit),
 * so the unlock and its user.unlock / user.reset entry are one transaction
 * and a failure counted concurrently is either before it (cleared) or after
 * it (counted afresh).
 */
#include "authn/authn_int.h"

enum pv_rc
authn_lockout_clear(struct store_tx *tx, const char *username)
{
	char key[STORE_USERNAME_MAX];

	/* the counters are keyed by the lowercased name the login was typed as */
	if (!authn_username_key(username, key))
		return PV_E_INVALID;
	return store_lockout_clear(tx, key);
}
