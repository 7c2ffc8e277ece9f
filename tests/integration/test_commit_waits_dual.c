/*
 * A change that becomes a dual-control request leaves no request thread
 * waiting for a commit, and is one transaction (issue 9; docs/internals/
 * directory.md "Dual control"): the user (or app, or the rest of a patch),
 * its entry, and the approval request naming it with its approval.request
 * entry commit together or not at all, and the answer (202, naming both)
 * leaves from the commit's completion. On an epoll pool of ONE thread
 * ([server] threads = 1), so that a handler that blocked on its commit would
 * leave no thread for anything else:
 *
 *  1. with every group held at its COMMIT (fault file line
 *     "hold:tx_commit"), a user create with a PHI role, an app create with
 *     one, and a patch adding a PHI role and a PHI eligible role are all
 *     suspended while a health request is answered; released, each answers
 *     202 with its approval(s), and the rows and the entries are there: the
 *     user / app without the PHI role, the pending request(s) naming it;
 *  2. with the approval's insert failing (fault file line "approval_put"),
 *     the same creates answer 500 and nothing of them exists: no user, no
 *     app, no request; the trail has the attempts as error entries (both
 *     entries of each transaction);
 *  3. none of it moved GET /v1/test/commit-waits' request_thread_waits
 *     (only the trail's own reads, measured around them, do).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static bool
log_has(struct h_server *s, const char *text)
{
	char *buf = NULL, cmd[800];
	bool has;

	snprintf(cmd, sizeof(cmd), "cat '%s'", s->log);
	h_run(cmd, &buf);
	has = buf != NULL && strstr(buf, text) != NULL;
	free(buf);
	return has;
}

static void
fault_write(const char *path, const char *line)
{
	FILE *f;

	CHECK((f = fopen(path, "w")) != NULL);
	fputs(line, f);
	fclose(f);
}

static void
fault_clear(const char *path)
{
	CHECK(unlink(path) == 0);
}

/* The waits of the trail's own reads (GET /v1/audit records its audit.read
 * entry waiting: authz's, not the directory's), left out of the count. */
static long long trail_waits;

/* How many entries of action (on resource, if not NULL) with outcome. */
static int
trail(struct h_server *s, const char *aud, const char *action, const char *resource,
    const char *outcome)
{
	long long w = h_commit_waits(s);
	int n = h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .resource = resource });

	trail_waits += h_commit_waits(s) - w;
	return n;
}

/* A request sent from a thread of its own: its status and body. */
struct bg {
	struct h_server *s;
	const char *method, *path, *token, *body;
	long status;
	json_t *json;
	pthread_t t;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	struct h_resp r;

	h_req(b->s, b->method, b->path, b->token, b->body, NULL, &r);
	b->status = r.status;
	b->json = json_incref(r.json);
	h_resp_free(&r);
	return NULL;
}

static void
bg_start(struct bg *b, struct h_server *s, const char *method, const char *path,
    const char *token, const char *body)
{
	*b = (struct bg){ s, method, path, token, body, 0, NULL, 0 };
	CHECK(pthread_create(&b->t, NULL, bg_main, b) == 0);
}

/* The request id as tok sees it: its kind, status and target (copied). */
static void
approval(struct h_server *s, const char *tok, const char *id, const char *kind,
    const char *target)
{
	struct h_resp r;
	char path[160];

	snprintf(path, sizeof(path), "/v1/approvals/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kind"), kind) == 0);
	CHECK(strcmp(h_jstr(r.json, "status"), "pending") == 0);
	CHECK(strcmp(h_jstr(r.json, "target"), target) == 0);
	h_resp_free(&r);
}

/* How many requests (any state) the caller made. */
static size_t
approvals(struct h_server *s, const char *tok)
{
	struct h_resp r;
	size_t n;

	h_req(s, "GET", "/v1/approvals", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	n = json_array_size(json_object_get(r.json, "approvals"));
	h_resp_free(&r);
	return n;
}

/* Does role appear in the array key of the object at path? */
static bool
has_role(struct h_server *s, const char *tok, const char *path, const char *key,
    const char *role)
{
	struct h_resp r;
	json_t *v;
	size_t i;
	bool hit = false;

	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, key), i, v)
		if (strcmp(json_string_value(v), role) == 0)
			hit = true;
	h_resp_free(&r);
	return hit;
}

static void
test_dual_control_does_not_wait(void)
{
	struct h_server s;
	struct h_resp r;
	struct bg user, app, patch;
	char admin[256], aud[256], pat[64], path[160], target[160], fault[700];
	char uid[64], uapr[64], aid[64], aapr[64];
	long long before;
	size_t nreq;
	int i;

	h_init(&s, "waits-dual", NULL);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_config_set(&s, "threads", "1");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    admin, sizeof(admin));
	h_add_user(&s, admin, "audrey", "auditor", "silver kettle morning 9", aud, sizeof(aud));
	h_req(&s, "POST", "/v1/users", admin, "{\"username\":\"pat\",\"roles\":[\"auditor\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(pat, sizeof(pat), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	/* the first unknown name makes the auth KEK (a blocking commit of
	 * authn's): out of the way before the count is taken */
	CHECK(h_login_status(&s, "first-unknown", "whatever", NULL, 0) == 401);
	before = h_commit_waits(&s);

	/* ---- 1. held at COMMIT: suspended, the one thread free ---- */
	fault_write(fault, "hold:tx_commit\n");
	bg_start(&user, &s, "POST", "/v1/users", admin,
	    "{\"username\":\"carol\",\"roles\":[\"auditor\",\"clinician\"]}");
	for (i = 0; i < 6000 && !log_has(&s, "injected hold op=tx_commit"); i++)
		h_pause_ms(5);
	CHECK(log_has(&s, "injected hold op=tx_commit"));
	/* a create that blocked its thread would leave none for this */
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(h_suspended_reach(&s, 1));
	bg_start(&app, &s, "POST", "/v1/apps", admin,
	    "{\"name\":\"billing\",\"roles\":[\"clinician\"],\"networks\":[\"127.0.0.1/32\"]}");
	CHECK(h_suspended_reach(&s, 2));
	snprintf(path, sizeof(path), "/v1/users/%s", pat);
	bg_start(&patch, &s, "PATCH", path, admin,
	    "{\"roles\":[\"auditor\",\"clinician\"],\"eligible_roles\":[\"clinician\"]}");
	CHECK(h_suspended_reach(&s, 3));
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* nothing answered before its commit */
	CHECK(user.status == 0 && app.status == 0 && patch.status == 0);
	fault_clear(fault);
	pthread_join(user.t, NULL);
	pthread_join(app.t, NULL);
	pthread_join(patch.t, NULL);

	/* the user without the PHI role, and the request naming it */
	CHECK(user.status == 202);
	CHECK(strcmp(h_jstr(user.json, "status"), "pending") == 0);
	CHECK(strcmp(h_jstr(user.json, "username"), "carol") == 0);
	CHECK(h_jstr(user.json, "one_time_password") != NULL);
	snprintf(uid, sizeof(uid), "%s", h_jstr(user.json, "id"));
	snprintf(uapr, sizeof(uapr), "%s", h_jstr(user.json, "approval"));
	CHECK(strncmp(uid, "usr_", 4) == 0 && strncmp(uapr, "apr_", 4) == 0);
	snprintf(path, sizeof(path), "/v1/users/%s", uid);
	CHECK(has_role(&s, admin, path, "roles", "auditor"));
	CHECK(!has_role(&s, admin, path, "roles", "clinician"));
	snprintf(target, sizeof(target), "users/%s", uid);
	approval(&s, admin, uapr, "user.roles", target);
	/* the app likewise */
	CHECK(app.status == 202);
	CHECK(strcmp(h_jstr(app.json, "status"), "pending") == 0);
	snprintf(aid, sizeof(aid), "%s", h_jstr(app.json, "id"));
	snprintf(aapr, sizeof(aapr), "%s", h_jstr(app.json, "approval"));
	CHECK(strncmp(aid, "app_", 4) == 0 && strncmp(aapr, "apr_", 4) == 0);
	snprintf(path, sizeof(path), "/v1/apps/%s", aid);
	CHECK(!has_role(&s, admin, path, "roles", "clinician"));
	snprintf(target, sizeof(target), "apps/%s", aid);
	approval(&s, admin, aapr, "app.roles", target);
	/* the patch: the user as its transaction left it, and two requests
	 * (roles, then eligible roles: the answer names the last) */
	CHECK(patch.status == 202);
	CHECK(strcmp(h_jstr(json_object_get(patch.json, "user"), "id"), pat) == 0);
	snprintf(target, sizeof(target), "users/%s", pat);
	approval(&s, admin, h_jstr(patch.json, "approval"), "user.eligible", target);
	snprintf(path, sizeof(path), "/v1/users/%s", pat);
	CHECK(!has_role(&s, admin, path, "roles", "clinician"));
	CHECK(!has_role(&s, admin, path, "eligible_roles", "clinician"));
	nreq = approvals(&s, admin);
	CHECK(nreq == 4);   /* carol's, billing's, pat's two */
	json_decref(user.json);
	json_decref(app.json);
	json_decref(patch.json);

	/* ---- 2. the request cannot be stored: nothing of the change is ---- */
	fault_write(fault, "approval_put\n");
	h_expect(&s, "POST", "/v1/users", admin,
	    "{\"username\":\"dave\",\"roles\":[\"clinician\"]}", NULL, 500, NULL);
	h_expect(&s, "POST", "/v1/apps", admin,
	    "{\"name\":\"payroll\",\"roles\":[\"clinician\"],\"networks\":[\"127.0.0.1/32\"]}",
	    NULL, 500, NULL);
	fault_clear(fault);
	h_req(&s, "GET", "/v1/users?username=dave", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "users")) == 0);   /* not made */
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/apps", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "apps")) == 1);    /* billing only */
	h_resp_free(&r);
	CHECK(approvals(&s, admin) == nreq);
	CHECK(h_commit_waits(&s) == before);

	/* ---- the trail: both entries of each transaction ---- */
	snprintf(target, sizeof(target), "users/%s", uid);
	CHECK(trail(&s, aud, "user.create", target, "allowed") == 1);
	snprintf(target, sizeof(target), "approvals/%s", uapr);
	CHECK(trail(&s, aud, "approval.request", target, "allowed") == 1);
	snprintf(target, sizeof(target), "apps/%s", aid);
	CHECK(trail(&s, aud, "app.create", target, "allowed") == 1);
	snprintf(target, sizeof(target), "approvals/%s", aapr);
	CHECK(trail(&s, aud, "approval.request", target, "allowed") == 1);
	CHECK(trail(&s, aud, "approval.request", NULL, "allowed") == 4);
	/* the failed ones: the change's entry and the request's, both errors */
	CHECK(trail(&s, aud, "user.create", NULL, "error") == 1);
	CHECK(trail(&s, aud, "app.create", NULL, "error") == 1);
	CHECK(trail(&s, aud, "approval.request", NULL, "error") == 2);

	/* not one of them waited on its thread (only the trail's reads did) */
	CHECK(h_commit_waits(&s) == before + trail_waits);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_dual_control_does_not_wait();
	h_done("commit_waits_dual");
	return 0;
}
