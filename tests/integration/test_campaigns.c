/*
 * Access review campaigns end to end on the real binary over HTTPS (issue 19
 * item 1): a PHI user who keeps access (clara), one who loses it (dan), one
 * never used (uma), an officer who is also a clinician (oscar), an admin
 * and a key admin, a PHI app (billing) and a role-less app (reporter).
 * 91 days pass on the injectable clock, then everyone but uma works again.
 * A campaign of each scope lists the right principals with roles, last use,
 * approver and unused flag; security officers are in none; bad input is
 * refused and changes nothing; a non-officer cannot decide, nobody decides
 * their own item; keep one, revoke one (its very next PHI read is 403);
 * at the due date (the clock again) the unattested ones are removed (uma
 * loses clinician, oscar loses clinician but stays an officer, billing is
 * disabled and its token dies), the campaign closes with a signed result
 * that verifies; the evaluator access_reviews fails before and passes
 * after; an edited result no longer verifies and the evaluator fails;
 * with [reviews] on_due = alert an overdue campaign raises
 * access_review_overdue and removes nothing; the CLI lists, shows and
 * decides; [reviews] campaign_every_s opens a campaign on its own.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define PW_OFF "Olive-crane-Meadow-7305"
#define DAY_MS (86400LL * 1000)

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[256], olga[256], oscar[256], clara[256], dan[256], kim[256], aud[256];
	char app_tok[256];
	char oscar_id[64], clara_id[64], dan_id[64], uma_id[64], kim_id[64], admin_id[64];
	char billing[64], reporter[64], billing_secret[128];
	char record[64];
};

static void
promote(struct h_server *s, struct people *p, const char *user)
{
	char auth[4096], body[4400];
	struct h_resp r;

	h_seal_authority(s, auth, sizeof(auth));
	snprintf(body, sizeof(body), "{\"username\":\"%s\",%s}", user, auth);
	h_req(s, "POST", "/v1/sys/officers", p->admin, body, NULL, &r);
	CHECK(r.status == 200 || r.status == 201);
	h_resp_free(&r);
}

static void
user_id(struct h_server *s, const char *admin, const char *name, char *out)
{
	char path[128];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/users?username=%s", name);
	h_req(s, "GET", path, admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(out, 64, "%s", h_jstr(json_array_get(json_object_get(r.json, "users"), 0), "id"));
	h_resp_free(&r);
}

static void
app_signin(struct h_server *s, struct people *p)
{
	char body[512];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", p->billing,
	    p->billing_secret);
	h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p->app_tok, sizeof(p->app_tok), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

static void
setup(struct h_server *s, struct people *p)
{
	char otp[128], path[128];
	struct h_resp r;

	h_login_fresh(s, "admin", h_jstr(s->init, "admin_password"), PW_ADMIN, p->admin,
	    sizeof(p->admin));
	user_id(s, p->admin, "admin", p->admin_id);
	h_add_officer(s, p->admin, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_add_user(s, p->admin, "clara", "clinician", PW_USER, p->clara, sizeof(p->clara));
	h_add_user(s, p->admin, "dan", "clinician", PW_USER, p->dan, sizeof(p->dan));
	h_add_user(s, p->admin, "kim", "key_admin", PW_USER, p->kim, sizeof(p->kim));
	h_add_user(s, p->admin, "audra", "auditor", PW_USER, p->aud, sizeof(p->aud));
	/* uma: a clinician who never signs in */
	h_user_create(s, p->admin, "uma", "clinician", NULL, p->uma_id, sizeof(p->uma_id), otp,
	    sizeof(otp));
	/* oscar: a clinician and a security officer (the self-review case) */
	h_user_create(s, p->admin, "oscar", "clinician", NULL, p->oscar_id, sizeof(p->oscar_id),
	    otp, sizeof(otp));
	promote(s, p, "oscar");
	h_login_fresh(s, "oscar", otp, PW_USER, p->oscar, sizeof(p->oscar));
	user_id(s, p->admin, "clara", p->clara_id);
	user_id(s, p->admin, "dan", p->dan_id);
	user_id(s, p->admin, "kim", p->kim_id);
	h_app_create(s, p->admin, "{\"name\":\"billing\",\"roles\":[\"clinician\"],"
	    "\"networks\":[\"127.0.0.1/32\"]}", p->billing, sizeof(p->billing));
	h_app_create(s, p->admin, "{\"name\":\"reporter\",\"roles\":[],"
	    "\"networks\":[\"127.0.0.1/32\"]}", p->reporter, sizeof(p->reporter));
	snprintf(path, sizeof(path), "/v1/apps/%s/secrets", p->billing);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(p->billing_secret, sizeof(p->billing_secret), "%s", h_jstr(r.json, "secret"));
	h_resp_free(&r);
	h_collection_create(s, p->admin,
	    "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"note\",\"type\":\"string\",\"classification\":\"phi\",\"mask\":\"full\"}]}");

	/* a quarter passes; everyone but uma comes back */
	h_clock_advance(s, 91 * DAY_MS);
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_login(s, "oscar", PW_USER, p->oscar, sizeof(p->oscar));
	h_login(s, "clara", PW_USER, p->clara, sizeof(p->clara));
	h_login(s, "dan", PW_USER, p->dan, sizeof(p->dan));
	h_login(s, "kim", PW_USER, p->kim, sizeof(p->kim));
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	app_signin(s, p);
	h_req(s, "POST", "/v1/collections/visits/records", p->clara, "{\"note\":\"ok\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(p->record, sizeof(p->record), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
}

static long
read_record(struct h_server *s, const char *tok, const char *id)
{
	char path[160];
	struct h_resp r;
	long st;

	snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", id);
	h_req(s, "GET", path, tok, NULL, TREAT, &r);
	st = r.status;
	h_resp_free(&r);
	return st;
}

static char *
campaign_create(struct h_server *s, const char *tok, const char *scope, long due_s)
{
	static char id[4][64];
	static int n;
	char body[256], *out = id[n++ % 4];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"scope\":\"%s\",\"reviewers\":\"officers\",\"due_in_s\":%ld}",
	    scope, due_s);
	h_req(s, "POST", "/v1/reviews/campaigns", tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(out, 64, "%s", h_jstr(r.json, "id"));
	CHECK(strncmp(out, "rvc_", 4) == 0);
	h_resp_free(&r);
	return out;
}

/* GET the campaign (a new reference). */
static json_t *
campaign_get(struct h_server *s, const char *tok, const char *id)
{
	char path[160];
	struct h_resp r;
	json_t *o;

	snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	o = json_incref(r.json);
	h_resp_free(&r);
	return o;
}

/* The item of principal in c (borrowed), NULL if none. */
static json_t *
item_of(json_t *c, const char *principal)
{
	json_t *it;
	size_t i;

	json_array_foreach(json_object_get(c, "items"), i, it)
		if (strcmp(h_jstr(it, "principal"), principal) == 0)
			return it;
	return NULL;
}

static bool
has_name(json_t *arr, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

static void
decide(struct h_server *s, const char *tok, const char *cid, json_t *item, const char *body,
    int status, const char *code)
{
	char path[200];

	snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s/items/%s", cid,
	    h_jstr(item, "item"));
	h_expect(s, "POST", path, tok, body, NULL, status, code);
}

/* The status of evaluator access_reviews under 164.308(a)(4)(ii)(C). */
static char *
evaluator(struct h_server *s, const char *aud)
{
	static char st[16];
	struct h_resp r;
	json_t *c, *e;
	size_t i, k;

	st[0] = '\0';
	h_req(s, "GET", "/v1/compliance/report?format=json", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "controls"), i, c) {
		if (strcmp(h_jstr(c, "cfr"), "164.308(a)(4)(ii)(C)") != 0)
			continue;
		json_array_foreach(json_object_get(c, "evaluations"), k, e)
			if (strcmp(h_jstr(e, "id"), "access_reviews") == 0)
				snprintf(st, sizeof(st), "%s", h_jstr(e, "status"));
	}
	h_resp_free(&r);
	CHECK(st[0] != '\0');
	return st;
}

static json_t *
wait_closed(struct h_server *s, const char *tok, const char *id)
{
	for (int i = 0; i < 3000; i++) {
		json_t *c = campaign_get(s, tok, id);

		if (strcmp(h_jstr(c, "status"), "closed") == 0)
			return c;
		json_decref(c);
		h_pause_ms(5);
	}
	fprintf(stderr, "campaign %s never closed\n", id);
	h_fail();
}

static void
test_scopes(struct h_server *s, struct people *p)
{
	json_t *c, *it;
	char *id;

	/* admins: the admin and the key admin, never a clinician or an officer */
	id = campaign_create(s, p->olga, "admins", 86400);
	c = campaign_get(s, p->olga, id);
	CHECK(strcmp(h_jstr(c, "status"), "open") == 0);
	CHECK((it = item_of(c, p->admin_id)) != NULL);
	CHECK(has_name(json_object_get(it, "roles"), "admin"));
	CHECK(has_name(json_object_get(json_object_get(it, "in_scope"), "roles"), "admin"));
	CHECK((it = item_of(c, p->kim_id)) != NULL);
	CHECK(strcmp(h_jstr(it, "kind"), "user") == 0 && strcmp(h_jstr(it, "name"), "kim") == 0);
	CHECK(item_of(c, p->clara_id) == NULL && item_of(c, p->oscar_id) == NULL);
	CHECK(item_of(c, p->billing) == NULL);
	/* kept, so that the due date changes nothing here */
	decide(s, p->olga, id, item_of(c, p->admin_id), "{\"decision\":\"keep\"}", 200, NULL);
	decide(s, p->olga, id, item_of(c, p->kim_id), "{\"decision\":\"keep\"}", 200, NULL);
	json_decref(c);
	/* apps: every active app, whatever its roles */
	id = campaign_create(s, p->olga, "apps", 86400);
	c = campaign_get(s, p->olga, id);
	CHECK(json_array_size(json_object_get(c, "items")) == 2);
	CHECK((it = item_of(c, p->billing)) != NULL && strcmp(h_jstr(it, "kind"), "app") == 0);
	CHECK(json_is_string(json_object_get(it, "last_used")));   /* it signed in */
	CHECK((it = item_of(c, p->reporter)) != NULL);
	CHECK(json_is_null(json_object_get(it, "last_used")));
	CHECK(json_is_true(json_object_get(it, "unused")));        /* never, created 91 days ago */
	decide(s, p->olga, id, item_of(c, p->billing), "{\"decision\":\"keep\"}", 200, NULL);
	decide(s, p->olga, id, item_of(c, p->reporter), "{\"decision\":\"keep\"}", 200, NULL);
	json_decref(c);
}

static void
test_refusals(struct h_server *s, struct people *p)
{
	struct h_resp r;

	h_expect(s, "POST", "/v1/reviews/campaigns", p->olga,
	    "{\"scope\":\"everyone\",\"reviewers\":\"officers\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/reviews/campaigns", p->olga,
	    "{\"scope\":\"phi_access\",\"reviewers\":\"managers\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/reviews/campaigns", p->olga,
	    "{\"scope\":\"phi_access\",\"due_in_s\":5}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/reviews/campaigns", p->olga,
	    "{\"scope\":\"phi_access\",\"extra\":1}", NULL, 400, NULL);
	h_expect(s, "POST", "/v1/reviews/campaigns", p->olga, "{\"scope\":", NULL, 400,
	    "invalid_json");
	/* officers only: not an admin, not a clinician, not an app */
	h_expect(s, "POST", "/v1/reviews/campaigns", p->admin, "{\"scope\":\"apps\"}", NULL, 403,
	    "forbidden");
	h_expect(s, "GET", "/v1/reviews/campaigns", p->clara, NULL, NULL, 403, "forbidden");
	h_expect(s, "GET", "/v1/reviews/campaigns", p->app_tok, NULL, NULL, 403, "forbidden");
	h_expect(s, "GET", "/v1/reviews/campaigns/rvc_nosuchcampaignnosuchcampaign", p->olga, NULL,
	    NULL, 404, "not_found");
	h_expect(s, "GET", "/v1/reviews/campaigns?status=pending", p->olga, NULL, NULL, 400,
	    "invalid_request");
	/* nothing was made by the refusals: the two of test_scopes only */
	h_req(s, "GET", "/v1/reviews/campaigns", p->olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "campaigns")) == 2);
	h_resp_free(&r);
	/* the break-glass reviews still answer beside the campaigns */
	h_expect(s, "GET", "/v1/reviews", p->olga, NULL, NULL, 200, NULL);
}

static void
test_phi_campaign(struct h_server *s, struct people *p)
{
	json_t *c, *it, *roles;
	char *id, path[200];
	struct h_resp r;

	CHECK(strcmp(evaluator(s, p->aud), "fail") == 0);   /* none closed yet */
	id = campaign_create(s, p->olga, "phi_access", 86400);
	c = campaign_get(s, p->olga, id);
	/* the PHI holders, users and apps; not the admins, not olga */
	CHECK(json_array_size(json_object_get(c, "items")) == 5);
	CHECK(item_of(c, p->admin_id) == NULL && item_of(c, p->kim_id) == NULL);
	CHECK((it = item_of(c, p->clara_id)) != NULL);
	CHECK(has_name(json_object_get(it, "roles"), "clinician"));
	CHECK(json_is_string(json_object_get(it, "last_used")));
	CHECK(json_is_string(json_object_get(it, "approved_by")));   /* dual control's officer */
	CHECK(json_is_false(json_object_get(it, "unused")));
	CHECK(json_is_null(json_object_get(it, "decision")));
	CHECK((it = item_of(c, p->uma_id)) != NULL);
	CHECK(json_is_null(json_object_get(it, "last_used")));
	CHECK(json_is_true(json_object_get(it, "unused")));
	CHECK(json_integer_value(json_object_get(json_object_get(c, "counts"), "unused")) == 1);
	CHECK((it = item_of(c, p->oscar_id)) != NULL);
	/* security_officer is never an in-scope grant */
	CHECK(has_name(json_object_get(it, "roles"), "security_officer"));
	CHECK(!has_name(json_object_get(json_object_get(it, "in_scope"), "roles"),
	    "security_officer"));
	CHECK(item_of(c, p->billing) != NULL && item_of(c, p->dan_id) != NULL);

	/* bad input, a non-officer, a self-review: refused, nothing decided */
	decide(s, p->olga, id, item_of(c, p->clara_id), "{\"decision\":\"maybe\"}", 400,
	    "invalid_request");
	decide(s, p->clara, id, item_of(c, p->dan_id), "{\"decision\":\"revoke\"}", 403,
	    "forbidden");
	decide(s, p->oscar, id, item_of(c, p->oscar_id), "{\"decision\":\"keep\"}", 403,
	    "forbidden");
	snprintf(path, sizeof(path), "/v1/reviews/campaigns/%s/items/rvi_nosuchitemnosuchitem",
	    id);
	h_expect(s, "POST", path, p->olga, "{\"decision\":\"keep\"}", NULL, 404, "not_found");

	/* keep clara; revoke dan: his very next read is refused */
	CHECK(read_record(s, p->dan, p->record) == 200);
	decide(s, p->olga, id, item_of(c, p->clara_id),
	    "{\"decision\":\"keep\",\"note\":\"ward 3 nurse\"}", 200, NULL);
	decide(s, p->olga, id, item_of(c, p->clara_id), "{\"decision\":\"revoke\"}", 409,
	    "conflict");
	decide(s, p->oscar, id, item_of(c, p->dan_id), "{\"decision\":\"revoke\"}", 200, NULL);
	CHECK(read_record(s, p->dan, p->record) == 403);
	CHECK(read_record(s, p->clara, p->record) == 200);
	snprintf(path, sizeof(path), "/v1/users/%s", p->dan_id);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(!has_name(json_object_get(r.json, "roles"), "clinician"));
	h_resp_free(&r);
	json_decref(c);

	/* the due date: uma, oscar (as a clinician) and billing go */
	CHECK(read_record(s, p->app_tok, p->record) == 200);
	h_clock_advance(s, 86401LL * 1000);
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));   /* a day idle */
	c = wait_closed(s, p->olga, id);
	CHECK(strcmp(h_jstr(item_of(c, p->uma_id), "decision"), "removed") == 0);
	CHECK(strcmp(h_jstr(item_of(c, p->oscar_id), "decision"), "removed") == 0);
	CHECK(strcmp(h_jstr(item_of(c, p->billing), "decision"), "removed") == 0);
	CHECK(strcmp(h_jstr(item_of(c, p->clara_id), "decision"), "keep") == 0);
	CHECK(strcmp(h_jstr(item_of(c, p->dan_id), "decision"), "revoke") == 0);
	CHECK(strcmp(h_jstr(item_of(c, p->dan_id), "decided_by"), p->oscar_id) == 0);
	CHECK(json_is_true(json_object_get(c, "signature_valid")));
	CHECK(strlen(h_jstr(c, "signature")) == 128);
	CHECK(strstr(h_jstr(c, "result"), p->uma_id) != NULL);
	json_decref(c);
	h_login(s, "clara", PW_USER, p->clara, sizeof(p->clara));   /* a day idle */
	CHECK(read_record(s, p->clara, p->record) == 200);
	{
		/* disabled: it signs in no more */
		char body[512];

		snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}",
		    p->billing, p->billing_secret);
		h_req(s, "POST", "/v1/auth/app", NULL, body, NULL, &r);
		CHECK(r.status == 401 || r.status == 403);
		h_resp_free(&r);
	}
	h_login(s, "admin", PW_ADMIN, p->admin, sizeof(p->admin));
	snprintf(path, sizeof(path), "/v1/apps/%s", p->billing);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "disabled") == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/users/%s", p->oscar_id);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	roles = json_object_get(r.json, "roles");
	CHECK(!has_name(roles, "clinician") && has_name(roles, "security_officer"));
	h_resp_free(&r);
	/* closed: nothing more is decided */
	c = campaign_get(s, p->olga, id);
	decide(s, p->olga, id, item_of(c, p->uma_id), "{\"decision\":\"keep\"}", 409, "conflict");
	json_decref(c);
	/* the two open ones from test_scopes closed too (a day passed) */
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	CHECK(strcmp(evaluator(s, p->aud), "pass") == 0);

	/* an edited result no longer verifies, and the evaluator says so */
	{
		char cmd[1024], *out = NULL;

		snprintf(cmd, sizeof(cmd), "sqlite3 -cmd '.timeout 5000' %s/phivault.db "
		    "\"UPDATE review_campaigns SET result = replace(result, '\\\"revoke\\\"', "
		    "'\\\"keep\\\"') WHERE id = '%s'\"", s->dir, id);
		CHECK(h_run(cmd, &out) == 0);
		free(out);
	}
	c = campaign_get(s, p->olga, id);
	CHECK(json_is_false(json_object_get(c, "signature_valid")));
	json_decref(c);
	h_req(s, "POST", "/v1/reviews/campaigns", p->olga, "{\"scope\":\"apps\",\"due_in_s\":60}",
	    NULL, &r);   /* a newer entry, so the report is of this state */
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	CHECK(strcmp(evaluator(s, p->aud), "fail") == 0);
}

static bool
alert_open(struct h_server *s, const char *tok, const char *rule, const char *resource)
{
	char path[128];
	bool found = false;

	snprintf(path, sizeof(path), "/v1/alerts?rule=%s", rule);
	for (int i = 0; i < 3000 && !found; i++) {
		struct h_resp r;
		json_t *a;
		size_t k;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		json_array_foreach(r.json, k, a)
			if (strcmp(h_jstr(a, "rule"), rule) == 0 &&
			    strstr(h_jstr(a, "actor"), resource) != NULL)
				found = true;
		h_resp_free(&r);
		if (!found)
			h_pause_ms(3);
	}
	return found;
}

/* [reviews] on_due = alert: nothing removed, an alert instead. */
static void
test_alert_mode(struct h_server *s, struct people *p)
{
	char *id, res[128];
	json_t *c;

	h_stop(s);
	h_config_set_in(s, "reviews", "on_due", "alert");
	h_start(s, "--dev");
	h_clock_advance(s, 200 * DAY_MS);   /* past every time written before the restart */
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	h_login(s, "clara", PW_USER, p->clara, sizeof(p->clara));
	id = campaign_create(s, p->olga, "phi_access", 3600);
	c = campaign_get(s, p->olga, id);
	CHECK(strcmp(h_jstr(c, "on_due"), "alert") == 0);
	CHECK(item_of(c, p->clara_id) != NULL);
	json_decref(c);
	h_clock_advance(s, 3601LL * 1000);
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	h_login(s, "audra", PW_USER, p->aud, sizeof(p->aud));
	c = wait_closed(s, p->olga, id);
	CHECK(strcmp(h_jstr(item_of(c, p->clara_id), "decision"), "unattested") == 0);
	CHECK(json_is_true(json_object_get(c, "signature_valid")));
	json_decref(c);
	snprintf(res, sizeof(res), "reviews/campaigns/%s", id);
	CHECK(alert_open(s, p->aud, "access_review_overdue", res));
	h_login(s, "clara", PW_USER, p->clara, sizeof(p->clara));
	CHECK(read_record(s, p->clara, p->record) == 200);   /* nothing removed */
}

static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], *out = NULL, id[64] = "", item[64] = "";
	json_t *j, *it;
	size_t i;

	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review campaign create --scope admins --due-in 7200 --format json", s->base,
	    s->cacert, p->olga, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	snprintf(id, sizeof(id), "%s", h_jstr(j, "id"));
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review campaign list --status open", s->base, s->cacert, p->olga, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, id) != NULL && strstr(out, "admins") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review campaign show %s --format json", s->base, s->cacert, p->olga, h_bin(), id);
	CHECK(h_run(cmd, &out) == 0);
	CHECK((j = json_loads(out, 0, NULL)) != NULL);
	json_array_foreach(json_object_get(j, "items"), i, it)
		if (strcmp(h_jstr(it, "principal"), p->kim_id) == 0)
			snprintf(item, sizeof(item), "%s", h_jstr(it, "item"));
	json_decref(j);
	free(out);
	CHECK(item[0] != '\0');
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review campaign decide %s %s --decision keep --note 'on call'", s->base, s->cacert,
	    p->olga, h_bin(), id, item);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "keep") != NULL);
	free(out);
	/* a usage error exits 2; the break-glass review commands are untouched */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_TOKEN=x %s review campaign decide %s %s "
	    "--decision maybe", h_bin(), id, item);
	CHECK(h_run(cmd, &out) == 2);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s review list", s->base, s->cacert, p->olga, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	free(out);
}

/* [reviews] campaign_every_s: the server opens campaigns on its own. */
static void
test_schedule(struct h_server *s, struct people *p)
{
	bool found = false;

	h_stop(s);
	h_config_set_in(s, "reviews", "campaign_every_s", "3600");
	h_config_set_in(s, "reviews", "campaign_scope", "apps");
	h_config_set_in(s, "reviews", "campaign_due_s", "7200");
	h_start(s, "--dev");
	h_clock_advance(s, 400 * DAY_MS);   /* past every time written before */
	h_login(s, "olga", PW_OFF, p->olga, sizeof(p->olga));
	for (int i = 0; i < 3000 && !found; i++) {
		struct h_resp r;
		json_t *c;
		size_t k;

		h_req(s, "GET", "/v1/reviews/campaigns?status=open", p->olga, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		json_array_foreach(json_object_get(r.json, "campaigns"), k, c)
			if (strcmp(h_jstr(c, "created_by"), "system") == 0 &&
			    strcmp(h_jstr(c, "scope"), "apps") == 0)
				found = true;
		h_resp_free(&r);
		if (!found)
			h_pause_ms(5);
	}
	CHECK(found);
}

int
main(void)
{
	struct h_server s;
	struct people p;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&p, 0, sizeof(p));
	h_clock_enable();
	h_init(&s, "campaigns", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	setup(&s, &p);
	test_scopes(&s, &p);
	test_refusals(&s, &p);
	test_phi_campaign(&s, &p);
	test_alert_mode(&s, &p);
	test_cli(&s, &p);
	test_schedule(&s, &p);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("campaigns");
	return 0;
}
