/* rc: names of enum pv_rc values. The table is indexed by value; numbers never change. */
#include "util/util.h"

static const char *const rc_names[PV_E__COUNT] = {
	[PV_OK] = "ok",
	[PV_E_NOMEM] = "nomem",
	[PV_E_INVALID] = "invalid",
	[PV_E_NOTFOUND] = "not_found",
	[PV_E_CONFLICT] = "conflict",
	[PV_E_IO] = "io",
	[PV_E_CRYPTO] = "crypto",
	[PV_E_SEALED] = "sealed",
	[PV_E_UNAUTH] = "unauthenticated",
	[PV_E_FORBIDDEN] = "forbidden",
	[PV_E_TOOBIG] = "toobig",
	[PV_E_AUDIT] = "audit_unavailable",
	[PV_E_INTEGRITY] = "integrity",
	[PV_E_LOCKED] = "locked",
	[PV_E_EXPIRED] = "expired",
	[PV_E_MFA] = "mfa_required",
	[PV_E_RATE] = "rate_limited",
	[PV_E_CONFIG] = "config",
	[PV_E_INTERNAL] = "internal",
	[PV_E_PURPOSE] = "purpose_required",
	[PV_E_REGION] = "region_not_allowed",
	[PV_E_JSON] = "invalid_json",
	[PV_E_SHARE] = "invalid_share",
	[PV_E_STATE] = "state",
	[PV_E_UNAVAILABLE] = "unavailable",
	[PV_E_METHOD] = "method_not_allowed",
	[PV_E_RESTRICTED] = "restricted",
	[PV_E_PRECONDITION] = "precondition_failed",
	[PV_PENDING] = "pending",
	[PV_E_JOB_CONFLICT] = "job_conflict",
	[PV_E_READONLY] = "readonly",
	[PV_E_NETWORK] = "network_not_allowed",
	[PV_E_HOURS] = "outside_hours",
	[PV_E_STEP_UP] = "step_up_required",
	[PV_E_POLICY] = "policy_denied",
	[PV_E_CONDITION] = "condition_not_met",
	[PV_E_RETIRED_KEY_IN_USE] = "retired_key_in_use",
	[PV_E_KEY_REVOKED] = "key_revoked",
	[PV_E_HSM] = "hsm_unavailable",
	[PV_E_UNSUPPORTED] = "unsupported",
	[PV_E_SUBJECT_SHREDDED] = "subject_shredded",
	[PV_E_LEGAL_HOLD] = "legal_hold",
	[PV_E_SECRET_DESTROYED] = "secret_version_destroyed",
	[PV_E_SELF_APPROVAL] = "self_approval",
	[PV_E_SEAL_AUTHORITY] = "seal_authority_required",
	[PV_E_OFFICER_RESERVED] = "officer_reserved",
	[PV_E_WEBAUTHN] = "webauthn_invalid",
	[PV_E_CSRF] = "csrf",
	[PV_E_CERT] = "certificate_invalid",
	[PV_E_CERT_EXPIRED] = "certificate_expired",
	[PV_E_NOT_ELIGIBLE] = "not_eligible",
	[PV_E_CERT_MISMATCH] = "certificate_mismatch",
};

const char *
pv_rc_name(enum pv_rc rc)
{
	if ((int)rc < 0 || rc >= PV_E__COUNT || rc_names[rc] == NULL)
		return "unknown";
	return rc_names[rc];
}
