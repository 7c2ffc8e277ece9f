/*
 * No request thread waits for a commit in authorization administration
 * (issue 9 item 4; docs/internals/authz.md "Commits without a waiting
 * thread"), on an epoll pool of two threads ([server] threads = 2):
 *
 *  1. every route of authz that writes (policies: create, a name taken
 *     meanwhile 409 from inside the transaction, update, delete, 404, a PHI
 *     allow pending; roles: create, a taken name 409 from inside the
 *     transaction, an officer role 403 officer_reserved, a PHI role
 *     pending; approvals: approve, deny, a second approve 409, the
 *     requester 403, unknown 404, an approval whose policy version moved
 *     409 from inside the transaction; elevations: request, a second
 *     request 409, not eligible 403, approve, self-approval 403, revoke,
 *     revoke again 409, deny; explain; the audit list and verify) leaves GET
 *     /v1/test/commit-waits where it was (the directory's set-up does
 *     not wait either: test_commit_waits_directory); the effects are read back (state and
 *     entries) and the generation moved before each answer left: the
 *     request sent right after an approval's 200 is decided under it (a
 *     PHI write, an elevated audit read, and nothing after the revoke);
 *  2. a request settled twice at once (approvals and elevations): the group
 *     of the first is held at its COMMIT (fault file "hold:tx_commit"), so
 *     the second passes the pending check and meets the settled row inside
 *     its own transaction: exactly one 200, the other 409 with its error
 *     entry (not_found); meanwhile both are suspended and a health request
 *     is answered.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PW "plum velvet harbor 42"
#define REQ(role) "{\"role\":\"" role "\",\"justification\":\"INC-9: check the trail\"," \
	"\"ticket\":\"INC-9\",\"duration_s\":600}"

static int
trail(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

/* POST body to path as tok: status want; member key copied into out. */
static void
post(struct h_server *s, const char *path, const char *tok, const char *body, int want,
    const char *key, char *out, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, want);
	if (key != NULL) {
		CHECK(h_jstr(r.json, key) != NULL);
		snprintf(out, len, "%s", h_jstr(r.json, key) != NULL ? h_jstr(r.json, key) : "");
	}
	h_resp_free(&r);
}

/* GET path as tok: 200, and member key equals want. */
static void
get_is(struct h_server *s, const char *path, const char *tok, const char *key,
    const char *want)
{
	struct h_resp r;

	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, key) != NULL && strcmp(h_jstr(r.json, key), want) == 0);
	h_resp_free(&r);
}

static void
user_id_of(struct h_server *s, const char *admin, const char *name, char *out, size_t len)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/users?username=%s", name);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, len, "%s", h_jstr(json_array_get(json_object_get(r.json, "users"), 0),
	    "id"));
	h_resp_free(&r);
}

static bool
role_listed(struct h_server *s, const char *admin, const char *name)
{
	struct h_resp r;
	json_t *o;
	size_t i;
	bool found = false;

	h_req(s, "GET", "/v1/roles", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "roles"), i, o)
		found = found || strcmp(h_jstr(o, "name"), name) == 0;
	h_resp_free(&r);
	return found;
}

/* ---- the race (part 2) ---- */

struct bg_post {
	struct h_server *s;
	const char *path, *tok, *body;
	long status;
};

static void *
bg_post_main(void *arg)
{
	struct bg_post *b = arg;
	struct h_resp r;

	h_req(b->s, "POST", b->path, b->tok, b->body, NULL, &r);
	b->status = r.status;
	h_resp_free(&r);
	return NULL;
}

/* Settle path twice at once as tok: the first's group held at COMMIT, the
 * second submitted meanwhile; exactly one 200, the other 409. */
static void
race(struct h_server *s, const char *fault, const char *path, const char *tok,
    const char *body)
{
	struct bg_post a = { s, path, tok, body, 0 }, b = { s, path, tok, body, 0 };
	long long base = h_commit_waits_field(s, "suspended");
	pthread_t ta, tb;
	struct h_resp r;
	char cmd[800];
	FILE *f;

	CHECK((f = fopen(fault, "w")) != NULL);
	fputs("hold:tx_commit\n", f);
	fclose(f);
	CHECK(pthread_create(&ta, NULL, bg_post_main, &a) == 0);
	CHECK(h_suspended_reach(s, base + 1));
	CHECK(pthread_create(&tb, NULL, bg_post_main, &b) == 0);
	CHECK(h_suspended_reach(s, base + 2));
	/* both wait for the commit, and no thread of the pool does */
	h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(a.status == 0 && b.status == 0);
	snprintf(cmd, sizeof(cmd), "rm -f '%s'", fault);
	CHECK(system(cmd) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK((a.status == 200 && b.status == 409) || (a.status == 409 && b.status == 200));
	CHECK(h_suspended_reach(s, 0) && h_commit_waits_field(s, "suspended") == base);
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[256], olga[256], aud[256], clara[256], kim[256], otp[128], fault[700];
	char apr_clara[64], apr_deny[64], apr_role[64], apr_pol[64], apr_race[64];
	char e1[64], e2[64], e3[64], e_olga[64], e_race[64], path[256], kim_id[64], olga_id[64];
	char body[512];
	long long before;

	h_init(&s, "waits-authz", NULL);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "idle_timeout_s", "36000");
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");

	/* ---- set-up through the directory (which answers from its completions
	 * too since the directory's conversion: integ_test_commit_waits_directory;
	 * the count is read again after the set-up) ---- */
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW, admin, sizeof(admin));
	h_add_user(&s, admin, "audra", "auditor", PW, aud, sizeof(aud));
	h_add_officer(&s, admin, "olga", PW, olga, sizeof(olga));
	h_add_user(&s, admin, "kim", "key_admin", PW, kim, sizeof(kim));
	user_id_of(&s, admin, "kim", kim_id, sizeof(kim_id));
	user_id_of(&s, admin, "olga", olga_id, sizeof(olga_id));
	snprintf(path, sizeof(path), "/v1/users/%s", kim_id);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"auditor\"]}", NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/users/%s", olga_id);
	h_expect(&s, "PATCH", path, admin, "{\"eligible_roles\":[\"auditor\"]}", NULL, 200, NULL);
	h_collection_create(&s, admin, "{\"name\":\"notes\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"text\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	/* clara the clinician and bob the analyst: pending (dual control) */
	h_req(&s, "POST", "/v1/users", admin, "{\"username\":\"clara\",\"roles\":[\"clinician\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(apr_clara, sizeof(apr_clara), "%s", h_jstr(r.json, "approval"));
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "clara", otp, PW, clara, sizeof(clara));
	post(&s, "/v1/users", admin, "{\"username\":\"bob\",\"roles\":[\"analyst\"]}", 202,
	    "approval", apr_deny, sizeof(apr_deny));
	post(&s, "/v1/users", admin, "{\"username\":\"cy\",\"roles\":[\"clinician\"]}", 202,
	    "approval", apr_race, sizeof(apr_race));
	h_expect(&s, "POST", "/v1/collections/notes/records", clara, "{\"text\":\"Ada: seen\"}",
	    NULL, 403, "forbidden");
	before = h_commit_waits(&s);

	/* ---- policies ---- */
	h_expect(&s, "POST", "/v1/policies", admin, "{\"name\":\"no_write\",\"effect\":\"deny\","
	    "\"actions\":[\"records.write\"],\"resources\":[\"archive\"]}", NULL, 201, NULL);
	/* no check before the submit: the taken name is the transaction's 409 */
	h_expect(&s, "POST", "/v1/policies", admin, "{\"name\":\"no_write\",\"effect\":\"deny\","
	    "\"actions\":[\"records.write\"]}", NULL, 409, "conflict");
	h_req(&s, "PUT", "/v1/policies/no_write", admin, "{\"effect\":\"deny\","
	    "\"actions\":[\"records.unmask\"],\"resources\":[\"archive\"]}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/policies/no_write", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	/* a PHI allow: pending, against version 2; the policy then moves on */
	h_req(&s, "PUT", "/v1/policies/no_write", admin, "{\"effect\":\"allow\","
	    "\"actions\":[\"records.read\"],\"resources\":[\"notes\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(apr_pol, sizeof(apr_pol), "%s", h_jstr(r.json, "approval"));
	h_resp_free(&r);
	h_expect(&s, "PUT", "/v1/policies/no_write", admin, "{\"effect\":\"deny\","
	    "\"actions\":[\"records.write\"],\"resources\":[\"archive\"]}", NULL, 200, NULL);
	/* the approval's apply finds version 3: the transaction's 409 */
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", apr_pol);
	h_expect(&s, "POST", path, olga, "{}", NULL, 409, "conflict");
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr_pol);
	get_is(&s, path, olga, "status", "pending");   /* rolled back with it */
	h_expect(&s, "DELETE", "/v1/policies/no_write", admin, NULL, NULL, 204, NULL);
	h_expect(&s, "DELETE", "/v1/policies/no_write", admin, NULL, NULL, 404, "not_found");
	h_expect(&s, "GET", "/v1/policies/no_write", admin, NULL, NULL, 404, "not_found");

	/* ---- roles ---- */
	h_expect(&s, "POST", "/v1/roles", admin, "{\"name\":\"trail_reader\","
	    "\"permissions\":[\"audit.read\"]}", NULL, 201, NULL);
	h_expect(&s, "POST", "/v1/roles", admin, "{\"name\":\"trail_reader\","
	    "\"permissions\":[\"audit.read\"]}", NULL, 409, "conflict");
	CHECK(role_listed(&s, admin, "trail_reader"));
	h_expect(&s, "POST", "/v1/roles", admin, "{\"name\":\"approver\","
	    "\"permissions\":[\"access.approve\"]}", NULL, 403, "officer_reserved");
	CHECK(!role_listed(&s, admin, "approver"));
	post(&s, "/v1/roles", admin, "{\"name\":\"note_reader\",\"permissions\":"
	    "[\"records.read:notes\"]}", 202, "approval", apr_role, sizeof(apr_role));
	CHECK(!role_listed(&s, admin, "note_reader"));

	/* ---- approvals ---- */
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", apr_clara);
	h_expect(&s, "POST", path, admin, "{}", NULL, 403, "forbidden");   /* the requester */
	/* clara's session is cached as it is now (AUTHN_CACHE_REVALIDATE_MS):
	 * only the generation makes her next request see the approval */
	h_expect(&s, "POST", "/v1/collections/notes/records", clara, "{\"text\":\"Ada: seen\"}",
	    NULL, 403, "forbidden");
	h_expect(&s, "POST", path, olga, "{\"note\":\"ticket 9\"}", NULL, 200, NULL);
	/* the very next request of clara is decided under the change */
	h_expect(&s, "POST", "/v1/collections/notes/records", clara, "{\"text\":\"Ada: seen\"}",
	    NULL, 201, NULL);
	h_expect(&s, "POST", path, olga, "{}", NULL, 409, "conflict");
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr_clara);
	get_is(&s, path, olga, "status", "approved");
	snprintf(path, sizeof(path), "/v1/approvals/%s/deny", apr_deny);
	h_expect(&s, "POST", path, olga, "{\"note\":\"no\"}", NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr_deny);
	get_is(&s, path, olga, "status", "denied");
	h_expect(&s, "POST", "/v1/approvals/apr_doesnotexist/approve", olga, "{}", NULL, 404,
	    "not_found");
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", apr_role);
	h_expect(&s, "POST", path, olga, "{}", NULL, 200, NULL);
	CHECK(role_listed(&s, admin, "note_reader"));

	/* ---- elevations ---- */
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	post(&s, "/v1/elevations", kim, REQ("clinician"), 403, NULL, NULL, 0);   /* not eligible */
	post(&s, "/v1/elevations", kim, REQ("auditor"), 202, "id", e1, sizeof(e1));
	post(&s, "/v1/elevations", kim, REQ("auditor"), 409, NULL, NULL, 0);
	snprintf(path, sizeof(path), "/v1/elevations/%s", e1);
	get_is(&s, path, kim, "status", "pending");
	snprintf(path, sizeof(path), "/v1/elevations/%s/approve", e1);
	h_expect(&s, "POST", path, kim, NULL, NULL, 403, "forbidden");
	h_expect(&s, "POST", path, olga, NULL, NULL, 200, NULL);
	/* the next request of kim holds the role; after the revoke, not */
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 200, NULL);
	post(&s, "/v1/elevations", olga, REQ("auditor"), 202, "id", e_olga, sizeof(e_olga));
	snprintf(path, sizeof(path), "/v1/elevations/%s/approve", e_olga);
	h_expect(&s, "POST", path, olga, NULL, NULL, 403, "self_approval");
	snprintf(path, sizeof(path), "/v1/elevations/%s/revoke", e1);
	h_expect(&s, "POST", path, kim, NULL, NULL, 200, NULL);
	h_expect(&s, "GET", "/v1/audit?limit=1", kim, NULL, NULL, 403, "forbidden");
	h_expect(&s, "POST", path, kim, NULL, NULL, 409, "conflict");
	snprintf(path, sizeof(path), "/v1/elevations/%s", e1);
	get_is(&s, path, kim, "status", "revoked");
	post(&s, "/v1/elevations", kim, REQ("auditor"), 202, "id", e2, sizeof(e2));
	snprintf(path, sizeof(path), "/v1/elevations/%s/deny", e2);
	h_expect(&s, "POST", path, olga, NULL, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/elevations/%s", e2);
	get_is(&s, path, kim, "status", "denied");
	h_expect(&s, "POST", "/v1/elevations/elv_doesnotexist/approve", olga, NULL, NULL, 404,
	    "not_found");

	/* ---- explain ---- */
	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"audit.read\"}", kim_id);
	h_req(&s, "POST", "/v1/authz/explain", admin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "allow")));
	h_resp_free(&r);

	/* ---- the trail's own reads: list (every trail() below) and verify ---- */
	h_req(&s, "GET", "/v1/audit/verify", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "ok")));
	h_resp_free(&r);

	/* ---- part 2: settled twice at once ---- */
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", apr_race);
	race(&s, fault, path, olga, "{}");
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr_race);
	get_is(&s, path, olga, "status", "approved");
	post(&s, "/v1/elevations", kim, REQ("auditor"), 202, "id", e_race, sizeof(e_race));
	snprintf(path, sizeof(path), "/v1/elevations/%s/approve", e_race);
	race(&s, fault, path, olga, NULL);
	snprintf(path, sizeof(path), "/v1/elevations/%s", e_race);
	get_is(&s, path, kim, "status", "active");
	snprintf(path, sizeof(path), "/v1/elevations/%s/revoke", e_race);
	h_expect(&s, "POST", path, olga, NULL, NULL, 200, NULL);
	post(&s, "/v1/elevations", kim, REQ("auditor"), 202, "id", e3, sizeof(e3));

	/* ---- the trail: every decision, refusal and error is there ---- */
	CHECK(trail(&s, aud, "policy.create", "allowed", NULL) == 1);
	CHECK(trail(&s, aud, "policy.create", "error", "conflict") == 1);
	CHECK(trail(&s, aud, "policy.update", "allowed", NULL) == 2);
	CHECK(trail(&s, aud, "policy.delete", "allowed", NULL) == 1);
	CHECK(trail(&s, aud, "role.create", "allowed", NULL) == 1);
	CHECK(trail(&s, aud, "role.create", "error", "conflict") == 1);
	CHECK(trail(&s, aud, "role.create", "denied", "officer_reserved") == 1);
	CHECK(trail(&s, aud, "approval.request", "allowed", "pending") >= 5);
	CHECK(trail(&s, aud, "approval.approve", "allowed", "approved") == 3);
	CHECK(trail(&s, aud, "approval.approve", "denied", NULL) == 1);
	CHECK(trail(&s, aud, "approval.approve", "error", "not_found") == 2);
	CHECK(trail(&s, aud, "approval.deny", "allowed", "denied") == 1);
	CHECK(trail(&s, aud, "elevation.request", "allowed", "pending") == 5);
	CHECK(trail(&s, aud, "elevation.request", "denied", "not_eligible") == 1);
	CHECK(trail(&s, aud, "elevation.approve", "allowed", "approved") == 2);
	CHECK(trail(&s, aud, "elevation.approve", "denied", "self_approval") == 1);
	CHECK(trail(&s, aud, "elevation.approve", "error", "not_found") == 1);
	CHECK(trail(&s, aud, "elevation.revoke", "allowed", "revoked") == 2);
	CHECK(trail(&s, aud, "elevation.deny", "allowed", "denied") == 1);
	CHECK(trail(&s, aud, "authz.explain", "allowed", NULL) == 1);
	CHECK(trail(&s, aud, "audit.read", "allowed", "list") >= 1);
	CHECK(trail(&s, aud, "audit.read", "allowed", "verify") == 1);
	CHECK(trail(&s, aud, "audit.verify", "allowed", "ok") == 1);

	/* none of it held a request thread for a commit */
	CHECK(h_commit_waits(&s) == before);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("commit_waits_authz");
	return 0;
}
