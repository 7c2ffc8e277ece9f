/*
 * Dual control and the security officers over HTTPS (docs/access-control.md
 * "Dual control", "Security officers"): the end-to-end "admin plus puppet
 * approver" path is refused; a PHI-granting change waits for a different
 * access.approve holder (never the requester, not in a second session
 * either); officers are made only with the seal's authority (wrong key
 * file refused, audited, locked out); pending requests expire on the
 * server's clock; an approved group mapping covers new members; the CLI
 * drives approvals and officers. Every decision is in the trail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW "plum velvet harbor 42"
static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* POST body to path as tok: status want; a copy of member key into out. */
static void
post(struct h_server *s, const char *path, const char *tok, const char *body, int want,
    const char *key, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, want);
	if (key != NULL) {
		CHECK(h_jstr(r.json, key) != NULL);
		snprintf(out, len, "%s", h_jstr(r.json, key));
	}
	h_resp_free(&r);
}

static void
decide(struct h_server *s, const char *tok, const char *id, const char *verb, int want,
    const char *code)
{
	char path[160];

	snprintf(path, sizeof(path), "/v1/approvals/%s/%s", id, verb);
	h_expect(s, "POST", path, tok, "{\"note\":\"checked the ticket\"}", NULL, want, code);
}

static const char *
status_of(struct h_server *s, const char *tok, const char *id, char *out, size_t len)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/approvals/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, len, "%s", h_jstr(r.json, "status"));
	h_resp_free(&r);
	return out;
}

static int
trail(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* The authz sweeper writes expiries about a second after their instant
 * (reads answer them at once): wait (polling; a bound for a loaded machine,
 * not a timing) until action's entries reach n, then say whether exactly n. */
static bool
trail_reaches(struct h_server *s, const char *tok, const char *action, const char *outcome,
    const char *reason, int n)
{
	int i, got = 0;

	for (i = 0; i < 600 && (got = trail(s, tok, action, outcome, reason)) < n; i++)
		h_pause_ms(50);
	return got == n;
}

static void
write_record(struct h_server *s, const char *tok, int want)
{
	h_expect(s, "POST", "/v1/collections/notes/records", tok, "{\"text\":\"Ada: seen\"}",
	    NULL, want, want == 403 ? "forbidden" : NULL);
}

int
main(void)
{
	struct h_server s;
	char admin[128], admin2[128], clara[128], olga[128], aud[128], dan[128];
	char otp[128], apr[64], apr2[64], apr3[64], grp[64], st[32], auth[4096], body[4400];
	char cmd[4096], *out = NULL, keypath[700];
	struct h_resp r;
	json_t *j;
	int i;

	h_clock_enable();
	h_init(&s, "dualctl", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "idle_timeout_s", "36000");
	h_config_set(&s, "expire_s", "3600");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW, admin, sizeof(admin));
	h_add_user(&s, admin, "audra", "auditor", PW, aud, sizeof(aud));   /* no PHI: 201 */
	h_collection_create(&s, admin, "{\"name\":\"notes\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"text\",\"type\":\"string\",\"classification\":\"phi\"}]}");

	/* ---- the admin makes a clinician: pending; she reads no PHI yet ---- */
	h_req(&s, "POST", "/v1/users", admin, "{\"username\":\"clara\",\"roles\":[\"clinician\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(strcmp(h_jstr(r.json, "status"), "pending") == 0);
	CHECK(strncmp(h_jstr(r.json, "approval"), "apr_", 4) == 0);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "clara", otp, PW, clara, sizeof(clara));
	write_record(&s, clara, 403);

	/* ---- ... and tries a puppet approver: every way is refused ---- */
	h_expect(&s, "POST", "/v1/users", admin,
	    "{\"username\":\"puppet\",\"roles\":[\"security_officer\"]}", NULL, 403,
	    "officer_reserved");
	h_user_create(&s, admin, "puppet", "auditor", NULL, NULL, 0, NULL, 0);
	h_req(&s, "GET", "/v1/users?username=puppet", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(cmd, sizeof(cmd), "/v1/users/%s",
	    h_jstr(json_array_get(json_object_get(r.json, "users"), 0), "id"));
	h_resp_free(&r);
	h_expect(&s, "PATCH", cmd, admin, "{\"roles\":[\"auditor\",\"security_officer\"]}", NULL,
	    403, "officer_reserved");
	h_expect(&s, "POST", "/v1/roles", admin,
	    "{\"name\":\"approver\",\"permissions\":[\"access.approve\"]}", NULL, 403,
	    "officer_reserved");
	h_expect(&s, "POST", "/v1/groups", admin,
	    "{\"name\":\"approvers\",\"roles\":[\"security_officer\"]}", NULL, 403,
	    "officer_reserved");
	/* without the seal's authority there is no officer either */
	h_expect(&s, "POST", "/v1/sys/officers", admin, "{\"username\":\"puppet\"}", NULL, 403,
	    "seal_authority_required");
	h_expect(&s, "POST", "/v1/sys/officers", admin, "{\"username\":\"puppet\",\"key_file\":"
	    "\"00000000000000000000000000000000000000000000000000000000000000ff\"}", NULL, 403,
	    "seal_authority_required");
	/* the admin approves its own request: no access.approve */
	decide(&s, admin, apr, "approve", 403, "forbidden");
	write_record(&s, clara, 403);

	/* ---- the seal's authority: the key file makes olga an officer ---- */
	h_seal_authority(&s, auth, sizeof(auth));
	snprintf(body, sizeof(body), "{\"username\":\"olga\",%s}", auth);
	h_req(&s, "POST", "/v1/sys/officers", admin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "olga", otp, PW, olga, sizeof(olga));

	/* the requester, even as an officer and in a second session, cannot
	 * approve its own request */
	snprintf(body, sizeof(body), "{\"username\":\"admin\",%s}", auth);
	h_req(&s, "POST", "/v1/sys/officers", admin, body, NULL, &r);
	CHECK_STATUS(&r, 200);   /* promoted: no one-time password */
	CHECK(json_is_null(json_object_get(r.json, "one_time_password")));
	h_resp_free(&r);
	h_login(&s, "admin", PW, admin2, sizeof(admin2));
	decide(&s, admin2, apr, "approve", 403, "self_approval");
	decide(&s, admin2, apr, "deny", 403, "self_approval");
	snprintf(body, sizeof(body), "{%s}", auth);
	h_expect(&s, "DELETE", "/v1/sys/officers/admin", admin, body, NULL, 200, NULL);
	decide(&s, admin2, apr, "approve", 403, "forbidden");
	write_record(&s, clara, 403);
	/* the requester sees its request; another user sees none of it */
	h_req(&s, "GET", "/v1/approvals?status=pending", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "approvals")) == 1);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/approvals", clara, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "approvals")) == 0);
	h_resp_free(&r);
	snprintf(cmd, sizeof(cmd), "/v1/approvals/%s", apr);
	h_expect(&s, "GET", cmd, clara, NULL, NULL, 404, "not_found");
	h_expect(&s, "GET", "/v1/approvals?status=maybe", olga, NULL, NULL, 400,
	    "invalid_request");

	/* ---- a real officer approves: the very next request of clara writes ---- */
	decide(&s, olga, apr, "approve", 200, NULL);
	CHECK(strcmp(status_of(&s, olga, apr, st, sizeof(st)), "approved") == 0);
	write_record(&s, clara, 201);
	decide(&s, olga, apr, "approve", 409, "conflict");
	decide(&s, olga, "apr_doesnotexist", "deny", 404, "not_found");

	/* ---- a pending request expires ([approvals] expire_s) ---- */
	post(&s, "/v1/users", admin, "{\"username\":\"bob\",\"roles\":[\"analyst\"]}", 202,
	    "approval", apr2, sizeof(apr2));
	h_clock_advance(&s, 3599 * 1000LL);
	CHECK(strcmp(status_of(&s, olga, apr2, st, sizeof(st)), "pending") == 0);
	h_clock_advance(&s, 1000);
	CHECK(strcmp(status_of(&s, olga, apr2, st, sizeof(st)), "expired") == 0);
	decide(&s, olga, apr2, "approve", 409, "conflict");

	/* ---- an approved group mapping covers its members ---- */
	post(&s, "/v1/groups", admin, "{\"name\":\"ward_7\",\"roles\":[\"clinician\"]}", 202,
	    "approval", grp, sizeof(grp));
	h_expect(&s, "POST", "/v1/users", admin,
	    "{\"username\":\"dan\",\"groups\":[\"ward_7\"]}", NULL, 400, "invalid_request");
	decide(&s, olga, grp, "approve", 200, NULL);
	post(&s, "/v1/users", admin, "{\"username\":\"dan\",\"groups\":[\"ward_7\"]}", 201,
	    "one_time_password", otp, sizeof(otp));
	h_login_fresh(&s, "dan", otp, PW, dan, sizeof(dan));
	write_record(&s, dan, 201);
	h_expect(&s, "GET", "/v1/collections/notes/records?limit=1", dan, NULL, TREAT, 200, NULL);

	/* ---- the CLI: approval list / deny, officer add / list ---- */
	post(&s, "/v1/users", admin, "{\"username\":\"eve\",\"roles\":[\"clinician\"]}", 202,
	    "approval", apr3, sizeof(apr3));
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "approval list --status pending --format json", s.base, s.cacert, olga, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, apr3) != NULL && strstr(out, apr) == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "approval deny %s --note 'no ticket' --format json", s.base, s.cacert, olga, h_bin(),
	    apr3);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strcmp(h_jstr(j, "status"), "denied") == 0);
	CHECK(strcmp(h_jstr(j, "note"), "no ticket") == 0);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "approval approve %s 2>&1", s.base, s.cacert, admin, h_bin(), apr3);
	CHECK(h_run(cmd, &out) == 3);   /* not an officer: forbidden */
	CHECK(strstr(out, "forbidden") != NULL);
	free(out);
	snprintf(keypath, sizeof(keypath), "%s/unseal.key", s.dir);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "officer add otto --key-file %s --format json", s.base, s.cacert, admin, h_bin(),
	    keypath);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	CHECK(strlen(h_jstr(j, "one_time_password")) >= 16);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "officer list", s.base, s.cacert, admin, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "olga") != NULL && strstr(out, "otto") != NULL &&
	    strstr(out, "admin") == NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
	    "officer add mallory --shares 2>&1 </dev/null", s.base, s.cacert, admin, h_bin());
	CHECK(h_run(cmd, &out) == 3);   /* no shares on stdin */
	free(out);

	/* ---- the trail ---- */
	CHECK(trail(&s, aud, "approval.request", "allowed", "pending") == 4);   /* clara, bob, ward_7, eve */
	CHECK(trail(&s, aud, "approval.approve", "allowed", "approved") == 2);
	CHECK(trail(&s, aud, "approval.approve", "denied", "self_approval") == 1);
	CHECK(trail(&s, aud, "approval.deny", "denied", "self_approval") == 1);
	CHECK(trail(&s, aud, "approval.approve", "denied", "missing_permission:access.approve")
	    >= 2);
	CHECK(trail_reaches(&s, aud, "approval.expire", "allowed", "expired", 1));
	CHECK(trail(&s, aud, "approval.deny", "allowed", "denied") == 1);
	CHECK(trail(&s, aud, "user.create", "denied", "officer_reserved") == 1);
	CHECK(trail(&s, aud, "user.update", "denied", "officer_reserved") == 1);
	CHECK(trail(&s, aud, "role.create", "denied", "officer_reserved") == 1);
	CHECK(trail(&s, aud, "group.create", "denied", "officer_reserved") == 1);
	CHECK(trail(&s, aud, "officer.add", "denied", "seal_authority_required") == 1);
	CHECK(trail(&s, aud, "officer.add", "allowed", NULL) == 3);   /* olga, admin, otto */
	CHECK(trail(&s, aud, "officer.remove", "allowed", NULL) == 1);

	/* ---- guessing the authority is locked out like passwords ---- */
	for (i = 0; i < 5; i++)
		h_expect(&s, "POST", "/v1/sys/officers", admin, "{\"username\":\"x\",\"key_file\":"
		    "\"11111111111111111111111111111111111111111111111111111111111111ff\"}", NULL,
		    403, "seal_authority_required");
	snprintf(body, sizeof(body), "{\"username\":\"late\",%s}", auth);
	h_expect(&s, "POST", "/v1/sys/officers", admin, body, NULL, 423, "locked");

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("test_dualctl");
	return 0;
}
