/*
 * SCIM provisioning leaves no request thread waiting for a commit, and each
 * SCIM write request is one transaction (docs/internals/scim.md "One
 * transaction a request"):
 *
 *  1. on an epoll pool of two threads, every SCIM write route (Users POST
 *     with active true and false, PATCH, PUT, DELETE; Groups POST with
 *     members, PATCH add / remove, PUT, DELETE) and its error paths (a
 *     userName taken: 409 from the transaction; a member that is not a
 *     user) leave GET /v1/test/commit-waits' request_thread_waits where it
 *     was; state and entries read back;
 *  2. a group PATCH that fails at its third member (a user already in 32
 *     groups) changes nothing: the first two members are not added either
 *     (before, each membership was a commit of its own and stayed);
 *  3. on a pool of ONE thread, with the group's change held inside its
 *     transaction (fault file "hold:user_groups_set"), the PATCH's request
 *     does not hold the thread: health is answered meanwhile. The fault
 *     then fails the second member's change: the whole PATCH is rolled
 *     back (500, nothing changed, its entries recorded as errors), and the
 *     same PATCH afterwards adds all three;
 *  4. the same held pool: a POST /Users with active false (create and
 *     disable, one transaction) answers 201 once released, inactive.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define USER_URN "urn:ietf:params:scim:schemas:core:2.0:User"
#define GROUP_URN "urn:ietf:params:scim:schemas:core:2.0:Group"
#define PATCH_URN "urn:ietf:params:scim:api:messages:2.0:PatchOp"

static const char *SCIM_CT[] = { "Content-Type: application/scim+json", NULL };

struct ctx {
	struct h_server s;
	char admin[256], aud[256], tok[256], app[64];
};

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
scim(struct ctx *c, const char *method, const char *path, const char *body, struct h_resp *r)
{
	h_req(&c->s, method, path, c->tok, body, body != NULL ? SCIM_CT : NULL, r);
}

/* POST /scim/v2/Users {userName}; the new id. */
static void
scim_user(struct ctx *c, const char *name, bool active, char id[64])
{
	struct h_resp r;
	char body[256];

	snprintf(body, sizeof(body), "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"%s\","
	    "\"active\":%s}", name, active ? "true" : "false");
	scim(c, "POST", "/scim/v2/Users", body, &r);
	CHECK_STATUS(&r, 201);
	CHECK(h_jstr(r.json, "id") != NULL && strncmp(h_jstr(r.json, "id"), "usr_", 4) == 0);
	CHECK(json_is_boolean(json_object_get(r.json, "active")) &&
	    json_is_true(json_object_get(r.json, "active")) == active);
	CHECK(json_object_get(json_object_get(r.json, "meta"), "version") != NULL);
	snprintf(id, 64, "%s", h_jstr(r.json, "id") ? h_jstr(r.json, "id") : "");
	h_resp_free(&r);
}

/* The number of members of SCIM group name (GET). */
static size_t
members(struct ctx *c, const char *name)
{
	struct h_resp r;
	char path[160];
	size_t n;

	snprintf(path, sizeof(path), "/scim/v2/Groups/%s", name);
	scim(c, "GET", path, NULL, &r);
	CHECK_STATUS(&r, 200);
	n = json_array_size(json_object_get(r.json, "members"));
	h_resp_free(&r);
	return n;
}

/* phivault's status of user id ("active" / "disabled"), and whether it is
 * in group (NULL: not asked). */
static bool
v1_user(struct ctx *c, const char *id, const char *status, const char *group)
{
	struct h_resp r;
	char path[128];
	json_t *g;
	size_t i;
	bool in = false, ok;

	snprintf(path, sizeof(path), "/v1/users/%s", id);
	h_req(&c->s, "GET", path, c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "groups"), i, g)
		if (group != NULL && strcmp(json_string_value(g), group) == 0)
			in = true;
	ok = h_jstr(r.json, "status") != NULL && strcmp(h_jstr(r.json, "status"), status) == 0;
	h_resp_free(&r);
	return ok && (group == NULL || in);
}

/* Entries of action on users/<id> (NULL: any) with outcome, by the app. */
static int
trail(struct ctx *c, const char *action, const char *id, const char *outcome)
{
	char res[96];

	snprintf(res, sizeof(res), "users/%s", id != NULL ? id : "");
	return h_audit_count(&c->s, c->aud, &(struct h_audit_q){ .action = action,
	    .outcome = outcome, .resource = id != NULL ? res : NULL, .actor_user = c->app });
}

static void
app_token(struct ctx *c)
{
	char body[512], path[128];
	struct h_resp r;

	h_expect(&c->s, "POST", "/v1/roles", c->admin, "{\"name\":\"scim_provisioner\","
	    "\"permissions\":[\"scim.provision\"]}", NULL, 201, NULL);
	h_app_create(&c->s, c->admin, "{\"name\":\"entra\",\"roles\":[\"scim_provisioner\"],"
	    "\"networks\":[\"127.0.0.0/8\"]}", c->app, sizeof(c->app));
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", c->app);
	h_req(&c->s, "POST", path, c->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", c->app,
	    h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_req(&c->s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(c->tok, sizeof(c->tok), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

/* fault (700 bytes, NULL: none): the fault file the server reads, in its
 * directory (not there yet) */
static void
start(struct ctx *c, const char *name, const char *threads, char *fault)
{
	h_init(&c->s, name, NULL);
	if (fault != NULL) {
		snprintf(fault, 700, "%s/fault", c->s.dir);
		CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	}
	h_config_set(&c->s, "threads", threads);
	h_config_set(&c->s, "mfa_required", "off");
	h_start(&c->s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_login_fresh(&c->s, "admin", h_jstr(c->s.init, "admin_password"),
	    "rooted blue mountain 4417", c->admin, sizeof(c->admin));
	h_add_user(&c->s, c->admin, "audrey", "auditor", "silver kettle morning 9", c->aud,
	    sizeof(c->aud));
	app_token(c);
}

/* ---- 1. every write route, no waiting thread ---- */

static void
test_routes_do_not_wait(void)
{
	struct ctx c;
	struct h_resp r;
	char amy[64], ben[64], cid[64], path[160], body[640];
	long long before;

	start(&c, "waits-scim", "2", NULL);
	/* the first unknown name makes the auth KEK (a blocking commit of its
	 * own): out of the way before the count is taken */
	CHECK(h_login_status(&c.s, "first-unknown", "whatever", NULL, 0) == 401);
	before = h_commit_waits_field(&c.s, "request_thread_waits");

	scim_user(&c, "amy", true, amy);
	scim_user(&c, "ben", true, ben);
	scim_user(&c, "cid", false, cid);       /* created and disabled: one transaction */
	/* the transaction's 409: the name is taken */
	scim(&c, "POST", "/scim/v2/Users", "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"amy\"}",
	    &r);
	CHECK_STATUS(&r, 409);
	h_resp_free(&r);

	/* PATCH: the answer is the user as the transaction left it */
	snprintf(path, sizeof(path), "/scim/v2/Users/%s", amy);
	scim(&c, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"replace\",\"path\":\"displayName\",\"value\":\"Amy A.\"}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_jstr(r.json, "displayName") != NULL &&
	    strcmp(h_jstr(r.json, "displayName"), "Amy A.") == 0);
	h_resp_free(&r);
	/* a deactivation and a change at once: one transaction, both there */
	scim(&c, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"replace\",\"value\":{\"active\":false,\"displayName\":\"Amy B.\"}}]}", &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_false(json_object_get(r.json, "active")));
	CHECK(h_jstr(r.json, "displayName") != NULL &&
	    strcmp(h_jstr(r.json, "displayName"), "Amy B.") == 0);
	h_resp_free(&r);
	/* PUT: active again */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"amy\","
	    "\"displayName\":\"Amy C.\",\"active\":true}");
	scim(&c, "PUT", path, body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "active")));
	h_resp_free(&r);
	CHECK(v1_user(&c, amy, "active", NULL));
	/* a PATCH that changes nothing commits nothing, and still answers */
	scim(&c, "PATCH", path, "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"replace\",\"path\":\"displayName\",\"value\":\"Amy C.\"}]}", &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);

	/* groups: create with a member, add, remove, PUT, DELETE */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" GROUP_URN "\"],\"displayName\":\"Ward A\","
	    "\"members\":[{\"value\":\"%s\"}]}", amy);
	scim(&c, "POST", "/scim/v2/Groups", body, &r);
	CHECK_STATUS(&r, 201);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 1);
	h_resp_free(&r);
	CHECK(v1_user(&c, amy, "active", "ward_a"));
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"%s\"}]}]}",
	    ben, cid);
	scim(&c, "PATCH", "/scim/v2/Groups/ward_a", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 3);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"remove\",\"path\":\"members[value eq \\\"%s\\\"]\"}]}", amy);
	scim(&c, "PATCH", "/scim/v2/Groups/ward_a", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 2);
	h_resp_free(&r);
	snprintf(body, sizeof(body), "{\"schemas\":[\"" GROUP_URN "\"],\"displayName\":\"ward_a\","
	    "\"members\":[{\"value\":\"%s\"}]}", amy);
	scim(&c, "PUT", "/scim/v2/Groups/ward_a", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 1);
	h_resp_free(&r);
	/* a member that is not a user: refused before anything changes */
	scim(&c, "PATCH", "/scim/v2/Groups/ward_a", "{\"schemas\":[\"" PATCH_URN "\"],"
	    "\"Operations\":[{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":"
	    "\"usr_nobody\"}]}]}", &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	scim(&c, "DELETE", "/scim/v2/Groups/ward_a", NULL, &r);
	CHECK_STATUS(&r, 204);
	h_resp_free(&r);
	CHECK(members(&c, "ward_a") == 0);
	/* DELETE a user: disabled, it stays */
	snprintf(path, sizeof(path), "/scim/v2/Users/%s", ben);
	scim(&c, "DELETE", path, NULL, &r);
	CHECK_STATUS(&r, 204);
	h_resp_free(&r);

	/* not one of them waited on its thread */
	CHECK(h_commit_waits_field(&c.s, "request_thread_waits") == before);

	CHECK(v1_user(&c, ben, "disabled", NULL));
	CHECK(v1_user(&c, cid, "disabled", NULL));
	/* the trail: the directory's entries, the app as actor */
	CHECK(trail(&c, "user.create", cid, "allowed") == 1);
	CHECK(trail(&c, "user.disable", cid, "allowed") == 1);
	CHECK(trail(&c, "user.disable", amy, "allowed") == 1);
	CHECK(trail(&c, "user.enable", amy, "allowed") == 1);
	CHECK(trail(&c, "user.disable", ben, "allowed") == 1);
	CHECK(trail(&c, "user.update", amy, "allowed") == 7);   /* 3 changes, 4 memberships */
	CHECK(trail(&c, "user.create", NULL, "error") == 1);    /* the 409 */
	CHECK(h_stop(&c.s) == 0);
	json_decref(c.s.init);
}

/* ---- 2. a group change that fails at its third member changes nothing ---- */

static void
test_group_all_or_nothing(void)
{
	struct ctx c;
	struct h_resp r;
	char amy[64], ben[64], zed[64], path[160], body[2048];
	size_t i, o;

	start(&c, "scim-atomic", "2", NULL);
	scim_user(&c, "amy", true, amy);
	scim_user(&c, "ben", true, ben);
	scim_user(&c, "zed", true, zed);
	/* zed is in 32 groups already: the most a user has */
	o = (size_t)snprintf(body, sizeof(body), "{\"groups\":[");
	for (i = 0; i < 32; i++) {
		char g[96];

		snprintf(g, sizeof(g), "{\"name\":\"g%02zu\"}", i);
		h_expect(&c.s, "POST", "/v1/groups", c.admin, g, NULL, 201, NULL);
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%s\"g%02zu\"", i ? "," : "", i);
	}
	snprintf(body + o, sizeof(body) - o, "]}");
	snprintf(path, sizeof(path), "/v1/users/%s", zed);
	h_expect(&c.s, "PATCH", path, c.admin, body, NULL, 200, NULL);
	scim(&c, "POST", "/scim/v2/Groups", "{\"schemas\":[\"" GROUP_URN "\"],"
	    "\"displayName\":\"ward_b\"}", &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);

	/* amy and ben first (username order), zed third: refused, and so is all */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"%s\"},"
	    "{\"value\":\"%s\"}]}]}", amy, ben, zed);
	scim(&c, "PATCH", "/scim/v2/Groups/ward_b", body, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
	CHECK(members(&c, "ward_b") == 0);
	CHECK(!v1_user(&c, amy, "active", "ward_b") && v1_user(&c, amy, "active", NULL));
	CHECK(!v1_user(&c, ben, "active", "ward_b") && v1_user(&c, ben, "active", NULL));
	CHECK(trail(&c, "user.update", amy, "allowed") == 0);
	CHECK(trail(&c, "user.update", ben, "allowed") == 0);
	/* without zed the same change goes through, whole */
	snprintf(body, sizeof(body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"%s\"}]}]}",
	    amy, ben);
	scim(&c, "PATCH", "/scim/v2/Groups/ward_b", body, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "members")) == 2);
	h_resp_free(&r);
	CHECK(v1_user(&c, amy, "active", "ward_b") && v1_user(&c, ben, "active", "ward_b"));
	CHECK(h_stop(&c.s) == 0);
	json_decref(c.s.init);
}

/* ---- 3, 4. one thread, the change held inside its transaction ---- */

struct bg {
	struct ctx *c;
	const char *method, *path;
	char body[1024];
	int status;
	bool active;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	struct h_resp r;

	scim(b->c, b->method, b->path, b->body, &r);
	b->status = r.status;
	b->active = json_is_true(json_object_get(r.json, "active"));
	h_resp_free(&r);
	return NULL;
}

static void
fault_write(const char *file, const char *text)
{
	char tmp[800];
	FILE *f;

	/* whole lines at once: the server reads the file as it is written */
	snprintf(tmp, sizeof(tmp), "%s.new", file);
	CHECK((f = fopen(tmp, "w")) != NULL);
	fputs(text, f);
	fclose(f);
	CHECK(rename(tmp, file) == 0);
}

static void
test_held_change_leaves_thread_free(void)
{
	struct ctx c;
	struct h_resp r;
	struct bg b;
	pthread_t t;
	char amy[64], ben[64], cid[64], fault[700];
	int i;

	memset(&c, 0, sizeof(c));
	start(&c, "scim-held", "1", fault);
	scim_user(&c, "amy", true, amy);
	scim_user(&c, "ben", true, ben);
	scim_user(&c, "cid", true, cid);
	scim(&c, "POST", "/scim/v2/Groups", "{\"schemas\":[\"" GROUP_URN "\"],"
	    "\"displayName\":\"ward_c\"}", &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);

	/* the membership changes held inside the PATCH's transaction */
	fault_write(fault, "hold:user_groups_set\n");
	memset(&b, 0, sizeof(b));
	b.c = &c;
	b.method = "PATCH";
	b.path = "/scim/v2/Groups/ward_c";
	snprintf(b.body, sizeof(b.body), "{\"schemas\":[\"" PATCH_URN "\"],\"Operations\":[{\"op\":"
	    "\"add\",\"path\":\"members\",\"value\":[{\"value\":\"%s\"},{\"value\":\"%s\"},"
	    "{\"value\":\"%s\"}]}]}", amy, ben, cid);
	CHECK(pthread_create(&t, NULL, bg_main, &b) == 0);
	for (i = 0; i < 6000 && !log_has(&c.s, "injected hold op=user_groups_set"); i++)
		h_pause_ms(5);
	CHECK(log_has(&c.s, "injected hold op=user_groups_set"));
	CHECK(h_suspended_reach(&c.s, 1));
	/* the pool's one thread is free: health is answered while the PATCH waits */
	h_req(&c.s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(b.status == 0);
	/* released into a fault: the second member's change fails, so does all */
	fault_write(fault, "user_groups_set\n");
	pthread_join(t, NULL);
	CHECK(b.status == 500);
	unlink(fault);
	CHECK(members(&c, "ward_c") == 0);
	CHECK(!v1_user(&c, amy, "active", "ward_c"));
	CHECK(trail(&c, "user.update", amy, "allowed") == 0);
	CHECK(trail(&c, "user.update", amy, "error") == 1);   /* recorded, rolled back */
	CHECK(trail(&c, "user.update", cid, "error") == 1);
	/* the same PATCH again: all three */
	bg_main(&b);
	CHECK(b.status == 200);
	CHECK(members(&c, "ward_c") == 3);

	/* 4. a user created inactive, held: answered once released */
	fault_write(fault, "hold:tx_commit\n");
	memset(&b, 0, sizeof(b));
	b.c = &c;
	b.method = "POST";
	b.path = "/scim/v2/Users";
	snprintf(b.body, sizeof(b.body), "{\"schemas\":[\"" USER_URN "\"],\"userName\":\"dan\","
	    "\"active\":false}");
	b.active = true;
	CHECK(pthread_create(&t, NULL, bg_main, &b) == 0);
	for (i = 0; i < 6000 && !log_has(&c.s, "injected hold op=tx_commit"); i++)
		h_pause_ms(5);
	CHECK(h_suspended_reach(&c.s, 1));
	h_req(&c.s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(b.status == 0);
	unlink(fault);
	pthread_join(t, NULL);
	CHECK(b.status == 201);
	CHECK(!b.active);
	CHECK(h_suspended_reach(&c.s, 0) && h_commit_waits_field(&c.s, "suspended") == 0);
	CHECK(h_stop(&c.s) == 0);
	json_decref(c.s.init);
}

int
main(void)
{
	test_routes_do_not_wait();
	test_group_all_or_nothing();
	test_held_change_leaves_thread_free();
	h_done("commit_waits_scim");
	return 0;
}
