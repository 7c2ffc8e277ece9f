/*
 * app_cert.c: mutual TLS for workload identities (issue 10 item 1): the
 * certificate an app asks for (issued by phivault's app CA, keys/app_ca.c)
 * and the sign-in with it.
 *
 * Sign-in (authn_app_signin_cert): the listener asks every client for a
 * certificate and accepts any (src/http/server.c); the certificate is
 * checked here, never by GnuTLS, so the injectable clock applies and one
 * place decides: chain to the app CA only (no system roots), purpose
 * clientAuth, validity at util_now_ms(), CN = SAN URI app ID; then the app
 * must exist and be enabled (disabling an app revokes its certificates:
 * credential epoch), the source must be in its networks. Every outcome is
 * one auth.app entry (reason "mtls" on success, else cert_expired,
 * cert_not_yet_valid, cert_untrusted, cert_malformed, unknown_app,
 * disabled, app_mismatch, cert_revoked, network_not_allowed). A success is
 * one transaction: the app session row (method "mtls", bound to the
 * certificate's SHA-256 fingerprint and serial: RFC 8705 x5t#S256) and its
 * entry. The token lives min(token_ttl_s, the certificate's notAfter -
 * now), and works only over a connection that presents the same
 * certificate (authn_app_authenticate: certificate_mismatch). A revoked
 * certificate (store_app_cert_revoked, directory_app_cert_revoke) is
 * refused here and its sessions are ended when it is revoked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

enum pv_rc
authn_app_cert_issue(struct authn_service *s, const char *app_id, const char *csr_pem,
    struct crypto_client_cert *out, char **cert_pem, char **ca_pem)
{
	if (s == NULL)
		return PV_E_INVALID;
	return keys_app_ca_issue(s->keys, csr_pem, app_id, s->cfg->app_cert_ttl_s, out,
	    cert_pem, ca_pem);
}

static enum pv_rc
refuse(struct authn_service *s, const char *app_id, const char *serial, const char *source,
    const char *reason, struct authn_app_signin_result *out, enum pv_rc rc, const char *msg)
{
	struct audit_event ev;
	char res[64 + UTIL_ID_MAX], detail[96];

	authn_ev_init(&ev, NULL, source, "auth.app", "auth");
	if (app_id != NULL) {
		ev.actor.kind = PV_ACTOR_APP;
		ev.actor.user_id = app_id;
		snprintf(res, sizeof(res), "apps/%s", app_id);
		ev.resource = res;
	}
	if (serial != NULL && serial[0] != '\0') {
		snprintf(detail, sizeof(detail), "{\"serial\":\"%s\"}", serial);
		ev.detail = detail;
	}
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	/* the refusal leaves once its entry is durable, PV_E_AUDIT if it is
	 * not; no thread waits for it (audit.h audit_record_held) */
	if (audit_record_held(s->audit, &ev, true) != PV_OK)
		return PV_E_AUDIT;
	util_strlcpy(out->message, msg, sizeof(out->message));
	return rc;
}

static enum pv_rc
session_put_fn(struct store_tx *tx, void *arg)
{
	return store_app_session_put(tx, arg);
}

static void
session_free(void *arg)
{
	crypto_wipe(arg, sizeof(struct store_app_session));
	free(arg);
}

enum pv_rc
authn_app_signin_cert(struct authn_service *s, const uint8_t *der, size_t len,
    const char *claimed_app_id, const char *source, struct authn_app_signin_result *out)
{
	struct crypto_client_cert c;
	struct authn_cidr nets[AUTHN_APP_NETWORKS_MAX];
	struct store_app a;
	struct store_app_session row, *held;
	struct audit_event ev;
	char res[64 + UTIL_ID_MAX], detail[160];
	size_t nnets = 0;
	int64_t now = util_now_ms(), end;
	enum pv_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	rc = keys_app_ca_check(s->st, der, len, &c);
	if (rc == PV_E_CERT_EXPIRED)
		return refuse(s, c.app_id[0] != '\0' ? c.app_id : NULL, c.serial, source, c.reason,
		    out, rc, "The client certificate is expired or not yet valid: ask for a new "
		    "one (POST /v1/apps/{id}/certificate)");
	if (rc == PV_E_CERT)
		return refuse(s, NULL, NULL, source, c.reason[0] ? c.reason : "cert_untrusted", out,
		    rc, "The client certificate was not issued by phivault's app CA");
	if (rc != PV_OK)
		return rc;
	if (!util_id_valid("app", c.app_id))
		return refuse(s, NULL, c.serial, source, "cert_malformed", out, PV_E_CERT,
		    "The client certificate does not name an app");
	if (claimed_app_id != NULL && strcmp(claimed_app_id, c.app_id) != 0)
		return refuse(s, c.app_id, c.serial, source, "app_mismatch", out, PV_E_CERT,
		    "app_id does not match the app the client certificate names");
	{
		bool revoked = false;

		STORE_READ(s->st, rc, store_app_cert_revoked(tx, c.serial, &revoked));
		if (rc != PV_OK)
			return rc;
		if (revoked)
			return refuse(s, c.app_id, c.serial, source, "cert_revoked", out, PV_E_CERT,
			    "The client certificate has been revoked");
	}
	STORE_READ(s->st, rc, store_app_get(tx, c.app_id, &a));
	if (rc == PV_E_NOTFOUND)
		return refuse(s, NULL, c.serial, source, "unknown_app", out, PV_E_CERT,
		    "The client certificate names no app");
	if (rc != PV_OK)
		return rc;
	if (a.disabled) {
		rc = refuse(s, a.id, c.serial, source, "disabled", out, PV_E_CERT,
		    "The app of this client certificate is disabled");
		goto out;
	}
	if (!authn_app_networks(a.networks, nets, &nnets) ||
	    !authn_app_source_allowed(nets, nnets, source)) {
		rc = refuse(s, a.id, c.serial, source, "network_not_allowed", out, PV_E_NETWORK,
		    "This app may not sign in from this network");
		goto out;
	}
	memset(&row, 0, sizeof(row));
	if ((rc = authn_token_new(AUTHN_TOKEN_APP, out->token, row.token_hash)) != PV_OK ||
	    (rc = util_id_new("ses", row.id)) != PV_OK)
		goto out;
	end = now + (int64_t)s->cfg->app_token_ttl_s * 1000;
	if (c.not_after_s * 1000 < end)
		end = c.not_after_s * 1000;   /* never past the certificate */
	util_strlcpy(row.app_id, a.id, sizeof(row.app_id));
	row.created_ms = now;
	row.expires_ms = end;
	row.credential_epoch = a.credential_epoch;
	util_strlcpy(row.source, source != NULL ? source : "", sizeof(row.source));
	util_strlcpy(row.method, "mtls", sizeof(row.method));
	/* the token is bound to this certificate (RFC 8705 x5t#S256) */
	util_strlcpy(row.cert_fingerprint, c.fingerprint, sizeof(row.cert_fingerprint));
	util_strlcpy(row.cert_serial, c.serial, sizeof(row.cert_serial));
	snprintf(res, sizeof(res), "apps/%s", a.id);
	snprintf(detail, sizeof(detail), "{\"serial\":\"%s\",\"fingerprint\":\"%s\"}", c.serial,
	    c.fingerprint);
	authn_ev_init(&ev, NULL, source, "auth.app", res);
	ev.actor.kind = PV_ACTOR_APP;
	ev.actor.user_id = a.id;
	ev.actor.session_id = row.id;
	ev.actor.auth_method = "mtls";
	ev.actor.auth_ms = now;
	ev.reason = "mtls";
	ev.detail = detail;
	/* the session row + its entry, with nobody waiting: the answer (built
	 * from what is known now) leaves after the fsync, or becomes the
	 * commit's failure (audit.h audit_commit_held); the job owns a copy */
	if ((held = malloc(sizeof(*held))) == NULL) {
		crypto_wipe(out->token, sizeof(out->token));
		rc = PV_E_NOMEM;
		goto out;
	}
	*held = row;
	if ((rc = audit_commit_held(s->audit, &ev, session_put_fn, held, session_free)) !=
	    PV_OK) {
		crypto_wipe(out->token, sizeof(out->token));
		goto out;
	}
	out->expires_ms = row.expires_ms;
	util_strlcpy(out->app_id, a.id, sizeof(out->app_id));
out:
	store_app_clear(&a);
	return rc;
}
