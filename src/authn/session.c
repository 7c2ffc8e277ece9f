/*
 * session: the session clock and the login decision, as pure functions of
 * what the wiring loaded (the state machine is in authn.h).
 *
 * Limits (NIST SP 800-63B §4.2.3 / §7.2 reauthentication; HIPAA 164.312
 * (a)(2)(iii) automatic logoff): a session ends after idle_timeout_s without
 * a request and absolute_timeout_s after login, whichever comes first. Both
 * are enforced here, server-side, on every request; the client's clock and
 * cookies play no part.
 *
 * Invariants:
 *  - A non-positive timeout ends the session (fail closed: config
 *    validation refuses it, this is the last line).
 *  - The ends are computed from the recorded creation and last request,
 *    never from `now`, so a clock that jumped back cannot move them; the
 *    idle end is never later than the absolute end.
 */
#include "authn/authn.h"

const char *
authn_session_end_name(enum authn_session_end e)
{
	switch (e) {
	case AUTHN_END_NONE:
		return "active";
	case AUTHN_END_IDLE:
		return "idle";
	case AUTHN_END_ABSOLUTE:
		return "absolute";
	case AUTHN_END_LOGOUT:
		return "logout";
	case AUTHN_END_DISABLED:
		return "disabled";
	case AUTHN_END_PASSWORD:
		return "password";
	}
	return "unknown";
}

enum pv_rc
authn_session_check(const struct authn_session_clock *s, int64_t user_cred_epoch,
    bool user_disabled, int64_t now_ms, int idle_timeout_s, int absolute_timeout_s,
    enum authn_session_end *why)
{
	enum authn_session_end end = AUTHN_END_NONE;
	int64_t idle_end, abs_end;
	enum pv_rc rc;

	if (s == NULL || why == NULL)
		return PV_E_UNAUTH;
	authn_session_expiries(s, idle_timeout_s, absolute_timeout_s, &idle_end, &abs_end);
	if (s->ended != AUTHN_END_NONE)
		end = s->ended;
	else if (user_disabled)
		end = AUTHN_END_DISABLED;
	else if (s->cred_epoch != user_cred_epoch)
		end = AUTHN_END_PASSWORD;
	else if (now_ms >= abs_end)
		end = AUTHN_END_ABSOLUTE;
	else if (now_ms >= idle_end)
		end = AUTHN_END_IDLE;

	switch (end) {
	case AUTHN_END_NONE:
		rc = PV_OK;
		break;
	case AUTHN_END_IDLE:
	case AUTHN_END_ABSOLUTE:
		rc = PV_E_EXPIRED;
		break;
	default:
		rc = PV_E_UNAUTH;
		break;
	}
	*why = end;
	return rc;
}

void
authn_session_expiries(const struct authn_session_clock *s, int idle_timeout_s,
    int absolute_timeout_s, int64_t *idle_expires_at_ms, int64_t *expires_at_ms)
{
	int64_t seen = s->last_seen_ms > s->created_ms ? s->last_seen_ms : s->created_ms;
	int64_t abs_end = s->created_ms + (absolute_timeout_s > 0 ? (int64_t)absolute_timeout_s * 1000 : 0);
	int64_t idle_end = seen + (idle_timeout_s > 0 ? (int64_t)idle_timeout_s * 1000 : 0);

	if (idle_timeout_s <= 0)
		idle_end = s->created_ms;
	if (idle_end > abs_end)
		idle_end = abs_end;
	*idle_expires_at_ms = idle_end;
	*expires_at_ms = abs_end;
}

enum authn_login_next
authn_login_decide(bool mfa_enrolled, bool mfa_required, bool must_change_password,
    unsigned *restrict_flags)
{
	unsigned flags = 0;

	if (must_change_password)
		flags |= AUTHN_RESTRICT_PASSWORD_CHANGE;
	if (mfa_required && !mfa_enrolled)
		flags |= AUTHN_RESTRICT_MFA_ENROL;
	if (restrict_flags != NULL)
		*restrict_flags = flags;
	/* An enrolled factor is always asked for, whatever else is owed:
	 * a password alone never yields a session for an MFA user. */
	if (mfa_enrolled)
		return AUTHN_LOGIN_MFA_CHALLENGE;
	return flags != 0 ? AUTHN_LOGIN_RESTRICTED : AUTHN_LOGIN_SESSION;
}
