/*
 * status: the one mapping from enum pv_rc to the stable API error code,
 * HTTP status and default message (API.md "HTTP API"). Codes are part of
 * the contract: never rename one, only add.
 *
 * Invariant: every pv_rc maps to some code; an unknown value is "internal"
 * 500, so a new internal error can never leak as a success or a 4xx.
 */
#include "http/http_int.h"

struct rc_map {
	const char *code;
	int status;
	const char *message;
};

static const struct rc_map rc_table[PV_E__COUNT] = {
	[PV_OK] = { "ok", 200, "OK" },
	[PV_E_NOMEM] = { "internal", 500, "Internal error" },
	[PV_E_INVALID] = { "invalid_request", 400, "The request is invalid" },
	[PV_E_NOTFOUND] = { "not_found", 404, "Not found" },
	[PV_E_CONFLICT] = { "conflict", 409, "Conflict with the current state" },
	[PV_E_IO] = { "internal", 500, "Internal error" },
	[PV_E_CRYPTO] = { "internal", 500, "Internal error" },
	[PV_E_SEALED] = { "sealed", 503, "The vault is sealed" },
	[PV_E_UNAUTH] = { "unauthenticated", 401, "Authentication required" },
	[PV_E_FORBIDDEN] = { "forbidden", 403, "Permission denied" },
	[PV_E_TOOBIG] = { "payload_too_large", 413, "Request body too large" },
	[PV_E_AUDIT] = { "audit_unavailable", 503, "Audit log unavailable; request refused" },
	[PV_E_INTEGRITY] = { "internal", 500, "Internal error" },
	[PV_E_LOCKED] = { "locked", 423, "Account temporarily locked" },
	[PV_E_EXPIRED] = { "session_expired", 401, "Session expired" },
	[PV_E_MFA] = { "mfa_required", 401, "Multi-factor authentication required" },
	[PV_E_RATE] = { "rate_limited", 429, "Too many requests" },
	[PV_E_CONFIG] = { "internal", 500, "Internal error" },
	[PV_E_INTERNAL] = { "internal", 500, "Internal error" },
	[PV_E_PURPOSE] = { "purpose_required", 400, "X-Purpose-Of-Use header required" },
	[PV_E_REGION] = { "region_not_allowed", 403, "Region not allowed by policy" },
	[PV_E_JSON] = { "invalid_json", 400, "Request body is not a valid JSON object" },
	[PV_E_SHARE] = { "invalid_share", 400, "Malformed unseal share" },
	[PV_E_STATE] = { "conflict", 409, "Operation not allowed in the current state" },
	[PV_E_UNAVAILABLE] = { "unavailable", 503, "Service unavailable" },
	[PV_E_METHOD] = { "method_not_allowed", 405, "Method not allowed" },
	[PV_E_RESTRICTED] = { "password_change_required", 403,
	    "Restricted session: change the password or enrol MFA first" },
	[PV_E_PRECONDITION] = { "precondition_failed", 412,
	    "The resource does not match the request's precondition" },
	/* never an answer: http_resume gives the real rc; leaked, it is a 500 */
	[PV_PENDING] = { "internal", 500, "Internal error" },
	[PV_E_JOB_CONFLICT] = { "job_conflict", 409,
	    "The job's state does not allow this change" },
	/* a write on a read transaction is a bug of ours, not the caller's */
	[PV_E_READONLY] = { "internal", 500, "Internal error" },
	[PV_E_NETWORK] = { "network_not_allowed", 403,
	    "Access from this network is not allowed by policy" },
	[PV_E_HOURS] = { "outside_hours", 403, "Access is not allowed at this time by policy" },
	[PV_E_STEP_UP] = { "step_up_required", 401,
	    "A more recent multi-factor authentication is required" },
	[PV_E_POLICY] = { "policy_denied", 403, "Denied by an access policy" },
	[PV_E_CONDITION] = { "condition_not_met", 403,
	    "A condition of your access (attributes, record labels) is not met" },
	[PV_E_RETIRED_KEY_IN_USE] = { "retired_key_in_use", 409,
	    "The key version still protects objects: re-encrypt them first" },
	[PV_E_KEY_REVOKED] = { "key_revoked", 410,
	    "The key version that protected this data was revoked; it cannot be read" },
	[PV_E_HSM] = { "hsm_unavailable", 503,
	    "The HSM (PKCS#11 token) is not available; try again when it is back" },
	[PV_E_UNSUPPORTED] = { "unsupported", 501,
	    "The store backend does not support this operation" },
	[PV_E_SUBJECT_SHREDDED] = { "subject_shredded", 410,
	    "The patient this record is about was crypto-shredded; it cannot be read" },
	[PV_E_LEGAL_HOLD] = { "legal_hold", 409,
	    "The subject is under legal hold: release the hold first" },
	[PV_E_SECRET_DESTROYED] = { "secret_version_destroyed", 410,
	    "That secret version was destroyed; it cannot be read again" },
	[PV_E_SELF_APPROVAL] = { "self_approval", 403,
	    "A request cannot be approved or denied by its requester or by the person it concerns" },
	[PV_E_SEAL_AUTHORITY] = { "seal_authority_required", 403,
	    "This needs the seal's authority: the key file or K unseal shares" },
	[PV_E_OFFICER_RESERVED] = { "officer_reserved", 403,
	    "security_officer and access.approve are set only with the seal's authority "
	    "(phivault officer)" },
	[PV_E_WEBAUTHN] = { "webauthn_invalid", 400,
	    "The passkey response does not verify" },
	[PV_E_CSRF] = { "csrf", 403,
	    "A change made with the session cookie needs the X-CSRF-Token header of its session" },
	[PV_E_CERT] = { "certificate_invalid", 401,
	    "The client certificate was not issued by phivault's app CA or is no longer valid" },
	[PV_E_CERT_EXPIRED] = { "certificate_expired", 401,
	    "The client certificate is expired or not yet valid: ask for a new one" },
	[PV_E_RECIPIENT] = { "invalid_recipient", 400,
	    "X-Disclosure-Recipient must be 1 to 200 printable ASCII characters" },
	[PV_E_OIDC] = { "oidc_invalid", 401,
	    "The identity provider's sign-in could not be verified: sign in again" },
	[PV_E_OIDC_USER] = { "oidc_user_unknown", 403,
	    "No phivault user is linked to this identity: ask an administrator" },
	[PV_E_LOCAL_PASSWORD] = { "local_password_disabled", 403,
	    "Password sign-in is turned off: sign in with your identity provider" },
	[PV_E_OIDC_PROVIDER] = { "oidc_provider_unavailable", 502,
	    "The identity provider could not be reached: try again later" },
	[PV_E_NOT_ELIGIBLE] = { "not_eligible", 403,
	    "You are not eligible for that role: ask an administrator (eligible_roles)" },
	[PV_E_CERT_MISMATCH] = { "certificate_mismatch", 401,
	    "This token is bound to a client certificate: send it over a connection with that "
	    "certificate" },
	[PV_E_TLS_REFUSED] = { "tls_refused", 422,
	    "The certificate and key were refused; the certificate served so far is still served" },
};

static const struct rc_map *
rc_lookup(enum pv_rc rc)
{
	if ((int)rc < 0 || rc >= PV_E__COUNT || rc_table[rc].code == NULL)
		return &rc_table[PV_E_INTERNAL];
	return &rc_table[rc];
}

const char *
http_rc_code(enum pv_rc rc)
{
	return rc_lookup(rc)->code;
}

int
http_rc_status(enum pv_rc rc)
{
	return rc_lookup(rc)->status;
}

const char *
http_rc_message(enum pv_rc rc)
{
	return rc_lookup(rc)->message;
}
