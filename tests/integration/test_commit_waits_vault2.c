/*
 * The vault and authz routes that still held a request thread on a commit
 * (issue 9, session 8) answer without one, on an epoll pool of ONE thread
 * ([server] threads = 1) with every group held at its COMMIT (fault file
 * line "hold:tx_commit"):
 *
 *  - a break-glass activation (the password re-entry's lockout commits,
 *    then the grant's: authn_password_reconfirm_async);
 *  - a tokenization naming a new subject (its key put in the token's own
 *    transaction; the first token of the vault, KEK tokens made at start);
 *  - a rotation under reencrypt = auto and a version marked compromised,
 *    each answered with the re-encryption job queued from the change's
 *    completion (jobs_enqueue_submit);
 *
 * all four wait suspended (the gauge counts them) while the pool's only
 * thread still answers health and an approval request past its expiry,
 * read as expired with nothing written (no commit can complete while the
 * hold stands, and no approval.expire entry exists until the sweeper's,
 * after the release). Had any of them blocked its thread, health would not
 * be answered. Released, each answers what it did, its effects are read
 * back and GET /v1/test/commit-waits' request_thread_waits never moved.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "rooted blue mountain 4417"
#define PW_USER "clinician pass phrase 42"
#define PW_OFF "officer pass phrase 77"
#define PAT_A "PAT-A-Held-7007"
#define PAT_NEW "PAT-N-Held-8008"

static char *
trail(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	return out;
}

/* Entries of action with outcome (NULL: any) in a jsonl trail. */
static int
count(const char *jsonl, const char *action, const char *outcome)
{
	const char *p = jsonl;
	int n = 0;

	while (p != NULL && *p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		json_t *e = json_loadb(p, len, 0, NULL);

		if (e != NULL) {
			const char *a = json_string_value(json_object_get(e, "action"));
			const char *o = json_string_value(json_object_get(e, "outcome"));

			if (a != NULL && strcmp(a, action) == 0 &&
			    (outcome == NULL || (o != NULL && strcmp(o, outcome) == 0)))
				n++;
			json_decref(e);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

/* The approval.expire entries, read over the API by an auditor. */
static int
expire_entries(struct h_server *s, const char *tok)
{
	struct h_resp r;
	int n;

	h_req(s, "GET", "/v1/audit?action=approval.expire&limit=100", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	n = (int)json_array_size(json_object_get(r.json, "entries"));
	h_resp_free(&r);
	return n;
}

/* One request on its own thread: its status and body once answered. */
struct bg {
	struct h_server *s;
	const char *method, *path, *tok, *body;
	long status;
	json_t *json;
};

static void *
bg_main(void *arg)
{
	struct bg *b = arg;
	struct h_resp r;

	h_req(b->s, b->method, b->path, b->tok, b->body, NULL, &r);
	b->status = r.status;
	b->json = r.json != NULL ? json_incref(r.json) : NULL;
	h_resp_free(&r);
	return NULL;
}

static void
test_held_vault_routes_leave_the_thread_free(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[256], kay[256], clin[256], ned[256], olga[256], aud[256], apr[64], fault[700];
	char cmd[800], path[160];
	struct bg b[4];
	pthread_t t[4];
	long long before;
	char *jsonl;
	FILE *f;
	int i;

	h_clock_enable();
	h_init(&s, "waits-vault2", NULL);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_config_set(&s, "threads", "1");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "idle_timeout_s", "36000");
	h_config_set(&s, "expire_s", "3600");
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "ned", "break_glass", PW_USER, ned, sizeof(ned));
	h_add_officer(&s, admin, "olga", PW_OFF, olga, sizeof(olga));
	h_add_user(&s, admin, "audra", "auditor", PW_USER, aud, sizeof(aud));
	h_collection_create(&s, admin, "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"classification\":\"phi\","
	    "\"subject\":true},{\"name\":\"note\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}");
	h_collection_create(&s, admin, "{\"name\":\"labs\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"test\",\"type\":\"string\"}]}");
	h_expect(&s, "POST", "/v1/collections/visits/records", clin,
	    "{\"patient\":\"" PAT_A "\",\"note\":\"a1\"}", NULL, 201, NULL);
	h_expect(&s, "POST", "/v1/collections/labs/records", clin, "{\"test\":\"k 4.1\"}", NULL,
	    201, NULL);
	/* the rotation of visits' key queues its job (reencrypt = auto) */
	h_expect(&s, "PUT", "/v1/keys/collection:visits/policy", kay,
	    "{\"rotate_every_s\":0,\"reencrypt\":\"auto\"}", NULL, 200, NULL);
	/* a dual-control request, then past its [approvals] expire_s */
	h_req(&s, "POST", "/v1/users", admin, "{\"username\":\"bob\",\"roles\":[\"analyst\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	h_resp_free(&r);
	h_clock_advance(&s, 3601 * 1000LL);
	before = h_commit_waits_field(&s, "request_thread_waits");

	/* hold every group at its COMMIT, then the four writes */
	CHECK((f = fopen(fault, "w")) != NULL);
	fputs("hold:tx_commit\n", f);
	fclose(f);
	b[0] = (struct bg){ &s, "POST", "/v1/breakglass", ned,
	    "{\"subject\":\"" PAT_A "\",\"reason_code\":\"ETREAT\",\"justification\":"
	    "\"unconscious in the ED\",\"password\":\"" PW_USER "\"}", 0, NULL };
	b[1] = (struct bg){ &s, "POST", "/v1/tokenize", clin,
	    "{\"collection\":\"visits\",\"field\":\"note\",\"value\":\"held note\","
	    "\"subject\":\"" PAT_NEW "\"}", 0, NULL };
	b[2] = (struct bg){ &s, "POST", "/v1/keys/collection:visits/rotate", kay, NULL, 0, NULL };
	b[3] = (struct bg){ &s, "POST", "/v1/keys/collection:labs/versions/1/compromised", kay,
	    "{\"confirm\":\"collection:labs:1\"}", 0, NULL };
	for (i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, bg_main, &b[i]) == 0);
	/* all four wait for their group, their connections suspended */
	CHECK(h_suspended_reach(&s, 4));

	/* the pool's one thread is free: health, and the expired request read
	 * as expired although no commit can complete now */
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/approvals/%s", apr);
	h_req(&s, "GET", path, olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "expired") == 0);
	CHECK(strcmp(h_jstr(r.json, "decided_by"), "system") == 0);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/approvals?status=expired", olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, apr) != NULL);
	h_resp_free(&r);
	for (i = 0; i < 4; i++)
		CHECK(b[i].status == 0);   /* none answered before its commit */

	/* released: each answers what its transactions did */
	snprintf(cmd, sizeof(cmd), "rm -f '%s'", fault);
	CHECK(system(cmd) == 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(b[0].status == 201);
	CHECK(b[0].json != NULL && strncmp(h_jstr(b[0].json, "grant"), "bg_", 3) == 0);
	CHECK(b[1].status == 200);
	CHECK(b[1].json != NULL && strncmp(h_jstr(b[1].json, "token"), "tok_", 4) == 0);
	CHECK(b[2].status == 200);
	CHECK(b[2].json != NULL && json_integer_value(json_object_get(b[2].json, "version")) == 2);
	CHECK(b[2].json != NULL && strncmp(h_jstr(b[2].json, "job"), "job_", 4) == 0);
	CHECK(b[3].status == 200);
	CHECK(b[3].json != NULL && strcmp(h_jstr(b[3].json, "state"), "compromised") == 0);
	CHECK(b[3].json != NULL &&
	    json_integer_value(json_object_get(b[3].json, "rotated_to")) == 2);
	CHECK(b[3].json != NULL && strncmp(h_jstr(b[3].json, "job"), "job_", 4) == 0);
	/* the jobs exist as answered */
	for (i = 2; i < 4; i++) {
		snprintf(path, sizeof(path), "/v1/jobs/%s", h_jstr(b[i].json, "job"));
		h_expect(&s, "GET", path, admin, NULL, NULL, 200, NULL);
	}
	/* the grant is in force, the token detokenizes */
	h_req(&s, "GET", "/v1/breakglass", ned, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, h_jstr(b[0].json, "grant")) != NULL);
	h_resp_free(&r);
	{
		static const char *treat[] = { "X-Purpose-Of-Use: TREAT", NULL };
		char body[128];

		snprintf(body, sizeof(body), "{\"token\":\"%s\"}", h_jstr(b[1].json, "token"));
		h_req(&s, "POST", "/v1/detokenize", clin, body, treat, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(h_jstr(r.json, "value"), "held note") == 0);
		h_resp_free(&r);
	}
	/* the expiry is written once, by the sweeper, after the release */
	for (i = 0; i < 600 && expire_entries(&s, aud) < 1; i++)
		h_pause_ms(50);
	CHECK(expire_entries(&s, aud) == 1);
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", apr);
	h_expect(&s, "POST", path, olga, "{}", NULL, 409, "conflict");
	/* no request thread waited for any of it */
	CHECK(h_commit_waits_field(&s, "request_thread_waits") == before);
	CHECK(h_suspended_reach(&s, 0) && h_commit_waits_field(&s, "suspended") == 0);
	CHECK(h_stop(&s) == 0);

	jsonl = trail(&s);
	CHECK(count(jsonl, "breakglass.activate", "allowed") == 1);
	CHECK(count(jsonl, "token.create", "allowed") == 1);
	CHECK(count(jsonl, "key.rotate", "allowed") == 1);
	CHECK(count(jsonl, "key.compromised", "allowed") == 1);
	CHECK(count(jsonl, "job.create", "allowed") >= 2);
	CHECK(count(jsonl, "approval.expire", "allowed") == 1);
	free(jsonl);
	for (i = 0; i < 4; i++)
		json_decref(b[i].json);
	json_decref(s.init);
}

int
main(void)
{
	test_held_vault_routes_leave_the_thread_free();
	h_done("commit_waits_vault2");
	return 0;
}
