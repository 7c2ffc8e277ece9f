/*
 * The directory's writes leave no request thread waiting for a commit
 * (issue 9 item 4), on an epoll pool of two threads ([server] threads = 2):
 * every converted route, its success and its refusal or error paths (a 409
 * or 404 that the transaction itself finds, a 403 recorded as a denial),
 * leaves GET /v1/test/commit-waits' request_thread_waits where it was,
 * and its effects are there: state read back, audit entries present.
 *
 *  - users: create (201; a second of the same name: 409 from the
 *    transaction), update (200 with the user as the transaction left it;
 *    own roles: 403 self_role_change), disable (the leaver: 200 with the
 *    sessions it ended, and that session is refused), enable (own account:
 *    403 self_account), unlock, reset (200; of a disabled user: 409 from
 *    the transaction, recorded as an error); a role reserved to officers:
 *    403 officer_reserved;
 *  - groups: create (201; again: 409);
 *  - apps: create (201; again: 409), secrets (two 201, a third 409 from the
 *    transaction; remove 204, again 404), certificate revocation (200;
 *    again: 409; of an unknown app: 404, both from the transaction),
 *    disable (200; then a secret: 409);
 *  - officers: add without the seal's authority (403, its denial and the
 *    lockout count committed together), add and remove with it;
 *  - campaigns: create (201), decide (200; the same item again: 409).
 *
 * Not here: SCIM (/scim/v2), whose requests are directory change sets
 * (test_commit_waits_scim.c), and the changes that become a dual-control
 * request (test_commit_waits_dual.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The waits of the trail's own reads: GET /v1/audit records its audit.read
 * entry waiting (authz's, not the directory's), so the count it adds is
 * measured around each read and left out of the directory's. */
static long long trail_waits;

/* How many entries of action on resource with outcome (and reason). */
static int
trail(struct h_server *s, const char *aud, const char *action, const char *resource,
    const char *outcome, const char *reason)
{
	long long w = h_commit_waits(s);
	int n = h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason, .resource = resource });

	trail_waits += h_commit_waits(s) - w;
	return n;
}

/* POST path with body: status; the string member key copied to out. */
static void
post_get(struct h_server *s, const char *tok, const char *path, const char *body, int status,
    const char *key, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, status);
	CHECK(h_jstr(r.json, key) != NULL);
	snprintf(out, len, "%s", h_jstr(r.json, key));
	h_resp_free(&r);
}

struct people {
	char admin[256], admin_id[64], aud[256], olga[256];
};

static void
users(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char id[64], otp[128], tok[256], path[160], res[96], body[256];

	/* create; the same name again is the transaction's 409 */
	h_req(s, "POST", "/v1/users", p->admin, "{\"username\":\"uma\",\"roles\":[\"auditor\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, sizeof(id), "%s", h_jstr(r.json, "id"));
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	CHECK(strncmp(id, "usr_", 4) == 0 && strcmp(h_jstr(r.json, "username"), "uma") == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/users", p->admin, "{\"username\":\"uma\"}", NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strcmp(h_err_code(&r), "conflict") == 0);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "exists") != NULL);
	h_resp_free(&r);
	/* a role reserved to officers: refused and recorded */
	h_expect(s, "POST", "/v1/users", p->admin,
	    "{\"username\":\"mallory\",\"roles\":[\"security_officer\"]}", NULL, 403,
	    "officer_reserved");

	/* update: the answer is the user as the update's transaction left it */
	snprintf(path, sizeof(path), "/v1/users/%s", id);
	h_req(s, "PATCH", path, p->admin, "{\"display_name\":\"Uma Auditor\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "display_name"), "Uma Auditor") == 0);
	CHECK(strcmp(h_jstr(r.json, "id"), id) == 0);
	h_resp_free(&r);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "display_name"), "Uma Auditor") == 0);
	h_resp_free(&r);
	h_expect(s, "PATCH", "/v1/users/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", p->admin,
	    "{\"display_name\":\"x\"}", NULL, 404, NULL);
	/* own roles: a denial */
	snprintf(body, sizeof(body), "/v1/users/%s", p->admin_id);
	h_expect(s, "PATCH", body, p->admin, "{\"roles\":[\"auditor\"]}", NULL, 403, NULL);

	/* the leaver: uma's session ends with the disable */
	h_login_fresh(s, "uma", otp, "granite harbor window 31", tok, sizeof(tok));
	snprintf(path, sizeof(path), "/v1/users/%s/disable", id);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	CHECK(json_integer_value(json_object_get(r.json, "sessions_ended")) >= 1);
	h_resp_free(&r);
	h_expect(s, "GET", "/v1/auth/session", tok, NULL, NULL, 401, NULL);
	snprintf(path, sizeof(path), "/v1/users/%s", id);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	h_resp_free(&r);
	/* reset of a disabled user: the transaction's 409, an error entry */
	snprintf(path, sizeof(path), "/v1/users/%s/reset", id);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "enable it first") !=
	    NULL);
	h_resp_free(&r);
	/* enable, unlock, reset */
	snprintf(path, sizeof(path), "/v1/users/%s/enable", id);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s/unlock", id);
	h_expect(s, "POST", path, p->admin, NULL, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/users/%s/reset", id);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "one_time_password") != NULL);
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	/* the new one-time password is the one that works */
	CHECK(h_login_status(s, "uma", otp, NULL, 0) == 200);
	/* own account: a denial */
	snprintf(path, sizeof(path), "/v1/users/%s/enable", p->admin_id);
	h_expect(s, "POST", path, p->admin, NULL, NULL, 403, NULL);

	/* the trail */
	snprintf(res, sizeof(res), "users/%s", id);
	CHECK(trail(s, p->aud, "user.create", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "user.create", "users", "denied", "officer_reserved") == 1);
	CHECK(trail(s, p->aud, "user.update", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "user.disable", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "user.reset", res, "error", "conflict") == 1);
	CHECK(trail(s, p->aud, "user.reset", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "user.enable", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "user.unlock", res, "allowed", NULL) == 1);
	snprintf(res, sizeof(res), "users/%s", p->admin_id);
	CHECK(trail(s, p->aud, "user.update", res, "denied", "self_role_change") == 1);
	CHECK(trail(s, p->aud, "user.enable", res, "denied", "self_account") == 1);
}

static void
groups(struct h_server *s, struct people *p)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/groups", p->admin, "{\"name\":\"night_audit\",\"roles\":[\"auditor\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strcmp(h_jstr(r.json, "name"), "night_audit") == 0);
	CHECK(json_array_size(json_object_get(r.json, "roles")) == 1);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/groups", p->admin, "{\"name\":\"night_audit\"}", NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "exists") != NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/groups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, "night_audit") != NULL);
	h_resp_free(&r);
	CHECK(trail(s, p->aud, "group.create", "groups/night_audit", "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "group.create", "groups/night_audit", "error", "conflict") == 1);
}

static void
apps(struct h_server *s, struct people *p, char *app, size_t applen)
{
	struct h_resp r;
	char path[200], sid[64], res[160];

	post_get(s, p->admin, "/v1/apps", "{\"name\":\"lab-feed\",\"roles\":[\"auditor\"],"
	    "\"networks\":[\"127.0.0.0/8\"]}", 201,
	    "id", app, applen);
	h_expect(s, "POST", "/v1/apps", p->admin,
	    "{\"name\":\"lab-feed\",\"networks\":[\"127.0.0.0/8\"]}", NULL, 409, "conflict");
	/* two live secrets; the third is the transaction's 409 */
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	post_get(s, p->admin, path, NULL, 201, "secret_id", sid, sizeof(sid));
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strncmp(h_jstr(r.json, "secret"), "pvs_", 4) == 0);
	h_resp_free(&r);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "two live") != NULL);
	h_resp_free(&r);
	/* remove one; again: the transaction's 404 */
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets/%s", app, sid);
	h_expect(s, "DELETE", path, p->admin, NULL, NULL, 204, NULL);
	h_expect(s, "DELETE", path, p->admin, NULL, NULL, 404, "not_found");
	/* a serial revoked (its sessions counted); again: the transaction's 409;
	 * of an app that does not exist: its 404 */
	snprintf(path, sizeof(path), "/v1/apps/%s/certificate/0123abcd/revoke", app);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "revoked")));
	CHECK(json_integer_value(json_object_get(r.json, "sessions_ended")) == 0);
	h_resp_free(&r);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "revoked already") !=
	    NULL);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/apps/app_aaaaaaaaaaaaaaaaaaaaaaaaaa/certificate/0123abcd/revoke",
	    p->admin, NULL, NULL, 404, "not_found");
	/* disable; a secret for a disabled app: 409 */
	snprintf(path, sizeof(path), "/v1/apps/%s/disable", app);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", app);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 409);
	CHECK(strstr(h_jstr(json_object_get(r.json, "error"), "message"), "disabled") != NULL);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/apps/%s", app);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	h_resp_free(&r);
	snprintf(res, sizeof(res), "apps/%s", app);
	CHECK(trail(s, p->aud, "app.create", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "app.disable", res, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "app.secret_add", NULL, "allowed", NULL) == 2);
	CHECK(trail(s, p->aud, "app.secret_add", NULL, "error", NULL) == 2);
	CHECK(trail(s, p->aud, "app.secret_remove", NULL, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "app.secret_remove", NULL, "error", "not_found") == 1);
	CHECK(trail(s, p->aud, "app.cert_revoke", NULL, "allowed", "revoked") == 1);
	CHECK(trail(s, p->aud, "app.cert_revoke", NULL, "error", "conflict") == 1);
	CHECK(trail(s, p->aud, "app.cert_revoke", NULL, "error", "not_found") == 1);
}

static void
officers(struct h_server *s, struct people *p, const char *auth)
{
	struct h_resp r;
	char body[1024];

	/* without the seal's authority: the denial and the failure count commit
	 * together, answered once durable */
	h_expect(s, "POST", "/v1/sys/officers", p->admin, "{\"username\":\"puppet\",\"key_file\":"
	    "\"00000000000000000000000000000000000000000000000000000000000000ff\"}", NULL, 403,
	    "seal_authority_required");
	CHECK(trail(s, p->aud, "officer.add", "sys/officers", "denied",
	    "seal_authority_required") == 1);
	/* with it: a new officer, then removed */
	snprintf(body, sizeof(body), "{\"username\":\"otto\",%s}", auth);
	h_req(s, "POST", "/v1/sys/officers", p->admin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(h_jstr(r.json, "one_time_password") != NULL);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{%s}", auth);
	h_req(s, "DELETE", "/v1/sys/officers/otto", p->admin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "username"), "otto") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/sys/officers", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, "\"otto\"") == NULL);
	h_resp_free(&r);
	CHECK(trail(s, p->aud, "officer.remove", NULL, "allowed", NULL) == 1);
}

static void
campaigns(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char cid[64], path[200], body[160];
	json_t *it, *item = NULL;
	size_t i;

	snprintf(body, sizeof(body), "{\"scope\":\"admins\",\"reviewers\":\"officers\","
	    "\"due_in_s\":86400}");
	post_get(s, p->olga, "/v1/reviews/campaigns", body, 201, "id", cid, sizeof(cid));
	snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s", cid);
	h_req(s, "GET", path, p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "items"), i, it)
		if (strcmp(h_jstr(it, "principal"), p->admin_id) == 0)
			item = json_incref(it);
	h_resp_free(&r);
	CHECK(item != NULL);
	snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s/items/%s", cid,
	    h_jstr(item, "item"));
	h_req(s, "POST", path, p->olga, "{\"decision\":\"keep\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "decision"), "keep") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", path, p->olga, "{\"decision\":\"revoke\"}", NULL, 409, "conflict");
	json_decref(item);
	snprintf(path, sizeof(path), "reviews/campaigns/%s", cid);
	CHECK(trail(s, p->aud, "review.campaign.create", path, "allowed", NULL) == 1);
	CHECK(trail(s, p->aud, "review.campaign.decide", NULL, "allowed", "keep") == 1);
}

static void
test_directory_does_not_wait(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char auth[1024], app[64];
	long long before;

	h_init(&s, "waits-directory", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    p.admin, sizeof(p.admin));
	h_req(&s, "GET", "/v1/auth/session", p.admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p.admin_id, sizeof(p.admin_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);
	h_add_user(&s, p.admin, "audrey", "auditor", "silver kettle morning 9", p.aud,
	    sizeof(p.aud));
	h_add_officer(&s, p.admin, "olga", "copper lantern evening 77", p.olga, sizeof(p.olga));
	h_seal_authority(&s, auth, sizeof(auth));
	/* the first unknown name makes the auth KEK (still a blocking commit):
	 * out of the way before the count is taken */
	CHECK(h_login_status(&s, "first-unknown", "whatever", NULL, 0) == 401);
	before = h_commit_waits(&s);

	users(&s, &p);
	groups(&s, &p);
	apps(&s, &p, app, sizeof(app));
	officers(&s, &p, auth);
	campaigns(&s, &p);

	/* not one of them waited on its thread (only the trail's reads did) */
	CHECK(h_commit_waits(&s) == before + trail_waits);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_directory_does_not_wait();
	h_done("commit_waits_directory");
	return 0;
}
