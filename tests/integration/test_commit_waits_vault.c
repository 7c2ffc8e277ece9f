/*
 * Vault administration answers without a waiting thread (issue 9 item 4),
 * on an epoll pool of two threads ([server] threads = 2): every route
 * converted in src/vault (key rotate / policy / retire / revoke, break-glass
 * activate / end / review decide, subject shred / hold / release, the key
 * list's entry, the collection refusals) is driven through its success AND
 * its refusal paths (404 and 409 found inside the transaction, 403 and 400
 * refusals with their entries), and GET /v1/test/commit-waits
 * (request_thread_waits) must not move across them. The effects are read
 * back: the key versions' states, the grant ended, the review's verdict,
 * the subject shredded, and the audit entries in the trail. A subject's
 * first record (its key made in the record's own transaction) is driven
 * too.
 *
 * Break-glass activation re-enters the holder's password
 * (authn_password_reconfirm, src/authn), which still commits its lockout
 * reservation the blocking way: the activation's own commit is checked by
 * comparing a successful activation's delta with that of one refused 409
 * after the same reconfirmation (an activation that waited for its commit
 * would be one more).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "rooted blue mountain 4417"
#define PW_USER "clinician pass phrase 42"
#define PW_OFF "officer pass phrase 77"
#define PAT_A "PAT-A-Waitless-3003"
#define PAT_B "PAT-B-Waitless-4004"
#define KEY "collection:visits"
#define EMPTY "collection:empty"

static char *
trail(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	return out;
}

/* Entries of action with outcome (NULL: any) and reason (NULL: any). */
static int
count(const char *jsonl, const char *action, const char *outcome, const char *reason)
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
			const char *r = json_string_value(json_object_get(e, "reason"));

			if (a != NULL && strcmp(a, action) == 0 &&
			    (outcome == NULL || (o != NULL && strcmp(o, outcome) == 0)) &&
			    (reason == NULL || (r != NULL && strcmp(r, reason) == 0)))
				n++;
			json_decref(e);
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
	return n;
}

/* The state of version v of key name in GET /v1/keys ("" if absent). */
static void
key_state(struct h_server *s, const char *tok, const char *name, int v, char *out, size_t len)
{
	struct h_resp r;
	size_t i, k;
	json_t *key, *ver;

	out[0] = '\0';
	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, key) {
		if (strcmp(h_jstr(key, "name"), name) != 0)
			continue;
		json_array_foreach(json_object_get(key, "versions"), k, ver)
			if (json_integer_value(json_object_get(ver, "version")) == v)
				snprintf(out, len, "%s", h_jstr(ver, "state"));
	}
	h_resp_free(&r);
}

static void
record(struct h_server *s, const char *tok, const char *body)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/collections/visits/records", tok, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
}

/* One batch, two records of a new subject: the first item puts its key,
 * the second finds it made (in the same transaction) and rewraps its DEK
 * under it; both read back. */
static void
new_subject_batch(struct h_server *s, const char *clin)
{
	static const char *treat[] = { "X-Purpose-Of-Use: TREAT", NULL };
	char ids[2][64], path[160];
	struct h_resp r;

	h_req(s, "POST", "/v1/collections/visits/records:batch", clin,
	    "{\"create\":[{\"patient\":\"PAT-C-Batch-5005\",\"note\":\"c1\"},"
	    "{\"patient\":\"PAT-C-Batch-5005\",\"note\":\"c2\"}]}", NULL, &r);
	CHECK_STATUS(&r, 200);
	for (int i = 0; i < 2; i++) {
		json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);

		CHECK(json_integer_value(json_object_get(res, "status")) == 201);
		snprintf(ids[i], 64, "%s", h_jstr(res, "id"));
	}
	h_resp_free(&r);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/v1/collections/visits/records/%s", ids[i]);
		h_req(s, "GET", path, clin, NULL, treat, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(h_jstr(json_object_get(r.json, "fields"), "note"),
		    i == 0 ? "c1" : "c2") == 0);
		h_resp_free(&r);
	}
}

static void
keys_part(struct h_server *s, const char *kay)
{
	struct h_resp r;
	char st[32];

	/* rotate: 200 with the version the transaction assigned; 404 found in it */
	h_req(s, "POST", "/v1/keys/" KEY "/rotate", kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/keys/collection:nosuch/rotate", kay, NULL, NULL, 404,
	    "not_found");
	key_state(s, kay, KEY, 2, st, sizeof(st));
	CHECK(strcmp(st, "active") == 0);
	key_state(s, kay, KEY, 1, st, sizeof(st));
	CHECK(strcmp(st, "decrypt_only") == 0);

	/* policy: 200, 404 from the transaction, 400 before it */
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", kay,
	    "{\"rotate_every_s\":0,\"reencrypt\":\"manual\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "policy"), "reencrypt"), "manual") == 0);
	h_resp_free(&r);
	h_expect(s, "PUT", "/v1/keys/collection:nosuch/policy", kay, "{\"rotate_every_s\":0}",
	    NULL, 404, "not_found");
	h_expect(s, "PUT", "/v1/keys/" KEY "/policy", kay, "{\"colour\":\"blue\"}", NULL, 400,
	    "invalid_request");

	/* retire: v1 still protects the records (409 from inside the
	 * transaction), the active v2 cannot be retired, no v9 */
	h_expect(s, "POST", "/v1/keys/" KEY "/versions/1/retire", kay, NULL, NULL, 409,
	    "retired_key_in_use");
	h_expect(s, "POST", "/v1/keys/" KEY "/versions/2/retire", kay, NULL, NULL, 409, NULL);
	h_expect(s, "POST", "/v1/keys/" KEY "/versions/9/retire", kay, NULL, NULL, 404,
	    "not_found");
	key_state(s, kay, KEY, 1, st, sizeof(st));
	CHECK(strcmp(st, "decrypt_only") == 0);   /* nothing changed */

	/* revoke: the typed confirmation, the active version, then the empty
	 * collection's key: rotate, retire v1 (census 0), revoke it */
	h_expect(s, "POST", "/v1/keys/" KEY "/versions/1/revoke", kay,
	    "{\"confirm\":\"" KEY ":2\"}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/keys/" KEY "/versions/2/revoke", kay,
	    "{\"confirm\":\"" KEY ":2\"}", NULL, 409, NULL);
	h_expect(s, "POST", "/v1/keys/" EMPTY "/rotate", kay, NULL, NULL, 200, NULL);
	h_req(s, "POST", "/v1/keys/" EMPTY "/versions/1/retire", kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "retired") == 0);
	h_resp_free(&r);
	h_req(s, "POST", "/v1/keys/" EMPTY "/versions/1/revoke", kay,
	    "{\"confirm\":\"" EMPTY ":1\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "revoked") == 0);
	h_resp_free(&r);
	key_state(s, kay, EMPTY, 1, st, sizeof(st));
	CHECK(strcmp(st, "revoked") == 0);
}

static const char *
activate_body(char *buf, size_t len, const char *subject)
{
	snprintf(buf, len, "{\"subject\":\"%s\",\"reason_code\":\"ETREAT\","
	    "\"justification\":\"unconscious in the ED\",\"password\":\"%s\"}", subject, PW_USER);
	return buf;
}

static void
breakglass_part(struct h_server *s, const char *ned, const char *clin, char *grant,
    char *review)
{
	char body[512];
	long long w0, d_ok, d_conflict;
	struct h_resp r;

	/* a clinician holds no break_glass: 403, audited */
	h_expect(s, "POST", "/v1/breakglass", clin, activate_body(body, sizeof(body), PAT_B),
	    NULL, 403, NULL);
	/* activation (201) and one refused 409 after the same reconfirmation */
	w0 = h_commit_waits(s);
	h_req(s, "POST", "/v1/breakglass", ned, activate_body(body, sizeof(body), PAT_B), NULL,
	    &r);
	CHECK_STATUS(&r, 201);
	snprintf(grant, 64, "%s", h_jstr(r.json, "grant"));
	snprintf(review, 64, "%s", h_jstr(r.json, "review"));
	h_resp_free(&r);
	d_ok = h_commit_waits(s) - w0;
	w0 = h_commit_waits(s);
	h_expect(s, "POST", "/v1/breakglass", ned, activate_body(body, sizeof(body), PAT_B), NULL,
	    409, "conflict");
	d_conflict = h_commit_waits(s) - w0;
	CHECK(d_ok == d_conflict);
	/* the grant is in force (its holder's next request loads it) */
	h_req(s, "GET", "/v1/breakglass", ned, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, grant) != NULL);
	h_resp_free(&r);
}

static void
breakglass_end_review(struct h_server *s, const char *ned, const char *olga, const char *clin,
    const char *grant, const char *review)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/breakglass/%s/end", grant);
	h_expect(s, "POST", path, clin, NULL, NULL, 403, "forbidden");
	h_req(s, "POST", path, ned, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "ended") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", path, ned, NULL, NULL, 409, "conflict");
	h_expect(s, "POST", "/v1/breakglass/bg_nosuchgrant/end", ned, NULL, NULL, 404, NULL);

	/* the review: 403 for a clinician, 400, 200 with the verdict, then 409 */
	snprintf(path, sizeof(path), "/v1/reviews/%s", review);
	h_expect(s, "POST", path, clin, "{\"verdict\":\"appropriate\"}", NULL, 403, "forbidden");
	h_expect(s, "POST", path, olga, "{\"verdict\":\"maybe\"}", NULL, 400, "invalid_request");
	h_req(s, "POST", path, olga, "{\"verdict\":\"appropriate\",\"note\":\"checked\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "appropriate") == 0);
	CHECK(strcmp(h_jstr(r.json, "note"), "checked") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", path, olga, "{\"verdict\":\"inappropriate\"}", NULL, 409, "conflict");
	h_req(s, "GET", path, olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "status"), "appropriate") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/reviews/rev_nosuchreview", olga,
	    "{\"verdict\":\"appropriate\"}", NULL, 404, NULL);
}

static void
subjects_part(struct h_server *s, const char *olga, const char *clin)
{
	struct h_resp r;

	/* a clinician holds no records.shred */
	h_expect(s, "DELETE", "/v1/subjects/" PAT_A, clin, NULL, NULL, 403, "forbidden");
	/* hold B, then its shred is 409 legal_hold from inside the transaction */
	h_expect(s, "POST", "/v1/subjects/" PAT_B "/hold", olga, "{}", NULL, 400,
	    "invalid_request");
	h_req(s, "POST", "/v1/subjects/" PAT_B "/hold", olga, "{\"reason\":\"litigation\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "hold")));
	h_resp_free(&r);
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B, olga, NULL, NULL, 409, "legal_hold");
	h_expect(s, "DELETE", "/v1/subjects/" PAT_B "/hold", olga, NULL, NULL, 200, NULL);
	h_expect(s, "POST", "/v1/subjects/nobody-ever-stored/hold", olga,
	    "{\"reason\":\"x\"}", NULL, 404, NULL);
	/* shred A: 200 once durable, then it is gone */
	h_req(s, "DELETE", "/v1/subjects/" PAT_A, olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "shredded") == 0);
	CHECK(json_integer_value(json_object_get(json_object_get(r.json, "collections"),
	    "visits")) == 2);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/subjects/" PAT_A, olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "state"), "shredded") == 0);
	h_resp_free(&r);
	h_expect(s, "DELETE", "/v1/subjects/" PAT_A, olga, NULL, NULL, 410, "subject_shredded");
	/* a hold on a shredded subject: refused from inside the transaction */
	h_expect(s, "POST", "/v1/subjects/" PAT_A "/hold", olga, "{\"reason\":\"late\"}", NULL,
	    410, "subject_shredded");
}

static void
test_vault_routes_do_not_wait(void)
{
	struct h_server s;
	char admin[256], kay[256], clin[256], ned[256], olga[256], grant[64], review[64];
	long long before;
	char *jsonl;

	h_init(&s, "waits-vault", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "ned", "break_glass", PW_USER, ned, sizeof(ned));
	h_add_officer(&s, admin, "olga", PW_OFF, olga, sizeof(olga));
	h_collection_create(&s, admin, "{\"name\":\"visits\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"patient\",\"type\":\"string\",\"classification\":\"phi\","
	    "\"subject\":true},{\"name\":\"note\",\"type\":\"string\","
	    "\"classification\":\"phi\"}]}");
	h_collection_create(&s, admin, "{\"name\":\"empty\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"x\",\"type\":\"string\"}]}");
	h_expect(&s, "GET", "/v1/keys", kay, NULL, NULL, 200, NULL);
	before = h_commit_waits(&s);
	/* a subject's first record puts its key in the record's own
	 * transaction: no commit of its own, no waiting thread */
	record(&s, clin, "{\"patient\":\"" PAT_A "\",\"note\":\"a1\"}");
	record(&s, clin, "{\"patient\":\"" PAT_A "\",\"note\":\"a2\"}");
	record(&s, clin, "{\"patient\":\"" PAT_B "\",\"note\":\"b1\"}");
	CHECK(h_commit_waits(&s) == before);
	new_subject_batch(&s, clin);

	keys_part(&s, kay);
	/* collection refusals: 400 and 403, answered once their entry is durable */
	h_expect(&s, "POST", "/v1/collections", admin, "{\"name\":\"bad name!\"}", NULL, 400,
	    "invalid_request");
	h_expect(&s, "POST", "/v1/collections", admin, "{\"name\":\"far\",\"region\":\"mars\","
	    "\"fields\":[{\"name\":\"x\",\"type\":\"string\"}]}", NULL, 403, NULL);
	subjects_part(&s, olga, clin);
	CHECK(h_commit_waits(&s) == before);

	breakglass_part(&s, ned, clin, grant, review);
	before = h_commit_waits(&s);
	breakglass_end_review(&s, ned, olga, clin, grant, review);
	CHECK(h_commit_waits(&s) == before);

	/* the entries, in the trail */
	jsonl = trail(&s);
	CHECK(count(jsonl, "key.rotate", "allowed", NULL) >= 2);
	CHECK(count(jsonl, "key.rotate", "error", "not_found") >= 1);
	CHECK(count(jsonl, "key.policy", "allowed", NULL) >= 1);
	CHECK(count(jsonl, "key.retire", "error", "retired_key_in_use") >= 1);
	CHECK(count(jsonl, "key.retire", "allowed", NULL) >= 1);
	CHECK(count(jsonl, "key.revoke", "allowed", NULL) >= 1);
	CHECK(count(jsonl, "key.revoke", "error", "invalid_request") +
	    count(jsonl, "key.revoke", "error", "invalid") >= 1);
	CHECK(count(jsonl, "collection.create", "error", "invalid_request") >= 1);
	CHECK(count(jsonl, "collection.create", "denied", "region_not_allowed") >= 1);
	CHECK(count(jsonl, "subject.shred", "allowed", NULL) == 1);
	CHECK(count(jsonl, "subject.shred", "error", "legal_hold") >= 1);
	CHECK(count(jsonl, "subject.hold", "allowed", NULL) == 1);
	CHECK(count(jsonl, "subject.release", "allowed", NULL) == 1);
	CHECK(count(jsonl, "breakglass.activate", "allowed", NULL) == 1);
	CHECK(count(jsonl, "breakglass.end", "allowed", NULL) == 1);
	CHECK(count(jsonl, "review.decide", "allowed", "appropriate") == 1);
	free(jsonl);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_vault_routes_do_not_wait();
	h_done("commit_waits_vault");
	return 0;
}
