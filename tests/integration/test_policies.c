/*
 * Access policies over HTTPS (issue 10 item 2): the policy API and its
 * audit, a network condition from another loopback source address, record
 * labels under a deny policy, "a clinician reads only their ward" (a record
 * internal field against a principal attribute), step-up (401 with the RFC
 * 9470 challenge, then a TOTP login passes), a time window driven by the
 * server's injectable clock, explain for the new conditions, and every
 * denial in the audit trail with its reason code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
static long long clock_skew_ms;

static long long
local_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void
advance(struct h_server *s, long long ms)
{
	clock_skew_ms = h_clock_advance(s, ms) - local_ms();
}

static void
totp(const char *secret, char out[16])
{
	h_totp_at(secret, (local_ms() + clock_skew_ms) / 1000, out);
}

static void
login_fresh(struct h_server *s, const char *user, const char *otp, char *token, size_t len)
{
	h_login_fresh(s, user, otp, strcmp(user, "admin") == 0 ? PW_ADMIN : PW_USER, token, len);
}

static void
add_user(struct h_server *s, const char *admin, const char *user, const char *role,
    const char *attrs, char *token, size_t len)
{
	char otp[128];

	h_user_create(s, admin, user, role, attrs != NULL ? attrs : "{}", NULL, 0, otp,
	    sizeof(otp));
	login_fresh(s, user, otp, token, len);
}

static void
create_record(struct h_server *s, const char *token, const char *body, char *id, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/collections/patients/records", token, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, len, "%s", json_string_value(json_object_get(r.json, "id")));
	h_resp_free(&r);
}

/* Entries of the exported trail with this action, outcome and reason. */
static int
audit_count(struct h_server *s, const char *action, const char *outcome, const char *reason)
{
	char cmd[1024], *out = NULL, *line, *save = NULL;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *e = json_loads(line, 0, NULL);
		const char *a = json_string_value(json_object_get(e, "action"));
		const char *o = json_string_value(json_object_get(e, "outcome"));
		const char *rs = json_string_value(json_object_get(e, "reason"));

		if (a != NULL && strcmp(a, action) == 0 && o != NULL && strcmp(o, outcome) == 0 &&
		    (reason == NULL || (rs != NULL && strcmp(rs, reason) == 0)))
			n++;
		json_decref(e);
	}
	free(out);
	return n;
}

static void
test_api(struct h_server *s, const char *admin, const char *clin)
{
	struct h_resp r;

	/* create, read, list, update, delete; every change audited */
	h_req(s, "POST", "/v1/policies", admin,
	    "{\"name\":\"tmp\",\"effect\":\"deny\",\"actions\":[\"records.write\"],"
	    "\"resources\":[\"labs\"],\"condition\":{\"time\":{\"tz\":\"Europe/Paris\","
	    "\"days\":[\"sat\",\"sun\"]}}}", NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "effect")), "deny") == 0);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 1);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "status")), "active") == 0);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"tmp\",\"effect\":\"deny\","
	    "\"actions\":[\"records.write\"]}", NULL, 409, "conflict");
	h_req(s, "GET", "/v1/policies/tmp", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(json_object_get(r.json,
	    "condition"), "time"), "tz")), "Europe/Paris") == 0);
	h_resp_free(&r);
	/* an allow over records.read: under dual control (approved by the harness's officer) */
	h_policy_put_approved(s, admin, "PUT", "/v1/policies/tmp", "{\"effect\":\"allow\","
	    "\"actions\":[\"records.read\"],\"resources\":[\"labs\"],\"condition\":"
	    "{\"source\":[\"10.0.0.0/8\"]}}");
	h_req(s, "GET", "/v1/policies/tmp", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "effect")), "allow") == 0);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/policies", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "policies")) == 1);
	h_resp_free(&r);
	/* bad definitions change nothing */
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"b\",\"effect\":\"maybe\","
	    "\"actions\":[\"records.read\"]}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"b\",\"effect\":\"deny\","
	    "\"actions\":[\"records.read\"],\"condition\":{\"source\":[\"10.0.0.0/99\"]}}", NULL,
	    400, "invalid_request");
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"b\",\"effect\":\"deny\","
	    "\"actions\":[\"records.read\"],\"condition\":{\"time\":{\"tz\":\"../../etc/passwd\"}}}",
	    NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"b\",\"effect\":\"deny\","
	    "\"actions\":[],\"extra\":1}", NULL, 400, "invalid_request");
	h_expect(s, "POST", "/v1/policies", admin, "{not json", NULL, 400, "invalid_json");
	h_expect(s, "PUT", "/v1/policies/tmp", admin, "{\"name\":\"other\",\"effect\":\"deny\","
	    "\"actions\":[\"records.read\"]}", NULL, 400, "invalid_request");
	h_expect(s, "GET", "/v1/policies/b", admin, NULL, NULL, 404, "not_found");
	/* a clinician manages no policy */
	h_expect(s, "POST", "/v1/policies", clin, "{\"name\":\"mine\",\"effect\":\"allow\","
	    "\"actions\":[\"users.manage\"]}", NULL, 403, "forbidden");
	h_expect(s, "DELETE", "/v1/policies/tmp", admin, NULL, NULL, 204, NULL);
	h_expect(s, "GET", "/v1/policies/tmp", admin, NULL, NULL, 404, "not_found");
	h_expect(s, "DELETE", "/v1/policies/tmp", admin, NULL, NULL, 404, "not_found");
	CHECK(audit_count(s, "policy.create", "allowed", NULL) == 1);
	CHECK(audit_count(s, "policy.update", "allowed", NULL) == 0);   /* it was approval.approve */
	CHECK(audit_count(s, "policy.delete", "allowed", NULL) == 1);
	CHECK(audit_count(s, "policy.create", "denied", "missing_permission:roles.manage") == 1);
}

/* Dual control: an administrator's allow policy over a PHI action does
 * nothing until a security officer approves it; deny policies and deletes
 * stay immediate. */
static void
test_dual_control(struct h_server *s, const char *admin, const char *path)
{
	char nora[128], olga[128], apr[64], apath[160];
	struct h_resp r;

	add_user(s, admin, "nora", "auditor", "{\"team\":\"research\"}", nora, sizeof(nora));
	h_expect(s, "GET", path, nora, NULL, TREAT, 403, "forbidden");
	h_req(s, "POST", "/v1/policies", admin, "{\"name\":\"research_read\",\"effect\":"
	    "\"allow\",\"actions\":[\"records.*\"],\"resources\":[\"patients\"],"
	    "\"condition\":{\"principal\":{\"team\":\"research\"}}}", NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(strcmp(h_jstr(r.json, "status"), "pending") == 0);
	CHECK(strcmp(h_jstr(r.json, "name"), "research_read") == 0);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	h_resp_free(&r);
	/* nothing stored, nothing granted */
	h_expect(s, "GET", "/v1/policies/research_read", admin, NULL, NULL, 404, "not_found");
	h_expect(s, "GET", path, nora, NULL, TREAT, 403, "forbidden");
	/* the admin cannot approve it; the officer can */
	snprintf(apath, sizeof(apath), "/v1/approvals/%s/approve", apr);
	h_expect(s, "POST", apath, admin, "{}", NULL, 403, "forbidden");
	h_add_officer(s, admin, "olga", PW_USER, olga, sizeof(olga));
	h_req(s, "GET", "/v1/approvals?status=pending", olga, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, apr) != NULL && strstr(r.body, "policy.put") != NULL);
	h_resp_free(&r);
	h_expect(s, "POST", apath, olga, "{\"note\":\"IRB-12\"}", NULL, 200, NULL);
	h_req(s, "GET", "/v1/policies/research_read", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 1);
	CHECK(strcmp(h_jstr(r.json, "status"), "active") == 0);
	h_resp_free(&r);
	h_expect(s, "GET", path, nora, NULL, TREAT, 200, NULL);
	/* turning it into a deny is immediate; so is a delete */
	h_expect(s, "PUT", "/v1/policies/research_read", admin, "{\"effect\":\"deny\","
	    "\"actions\":[\"records.write\"],\"resources\":[\"patients\"]}", NULL, 200, NULL);
	h_expect(s, "GET", path, nora, NULL, TREAT, 403, "forbidden");
	h_expect(s, "DELETE", "/v1/policies/research_read", admin, NULL, NULL, 204, NULL);
	/* an approval for a version that changed meanwhile no longer applies */
	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"research_read\",\"effect\":"
	    "\"deny\",\"actions\":[\"records.write\"]}", NULL, 201, NULL);
	h_req(s, "PUT", "/v1/policies/research_read", admin, "{\"effect\":\"allow\","
	    "\"actions\":[\"records.read\"],\"resources\":[\"patients\"]}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(apr, sizeof(apr), "%s", h_jstr(r.json, "approval"));
	h_resp_free(&r);
	h_expect(s, "PUT", "/v1/policies/research_read", admin, "{\"effect\":\"deny\","
	    "\"actions\":[\"records.unmask\"]}", NULL, 200, NULL);
	snprintf(apath, sizeof(apath), "/v1/approvals/%s/approve", apr);
	h_expect(s, "POST", apath, olga, "{}", NULL, 409, "conflict");
	h_expect(s, "GET", path, nora, NULL, TREAT, 403, "forbidden");
	h_expect(s, "DELETE", "/v1/policies/research_read", admin, NULL, NULL, 204, NULL);
	CHECK(audit_count(s, "approval.request", "allowed", "pending") >= 3);
}

static void
explain(struct h_server *s, const char *admin, const char *who, const char *resource,
    const char *context, bool allow, const char *reason, const char *policy)
{
	char body[1024];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"principal\":\"%s\",\"action\":\"records.read\","
	    "\"resource\":%s,\"context\":%s}", who, resource, context);
	h_req(s, "POST", "/v1/authz/explain", admin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "allow")) == allow);
	CHECK(strcmp(json_string_value(json_object_get(r.json, "reason")), reason) == 0);
	if (policy != NULL)
		CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "policies"),
		    0)), policy) == 0);
	h_resp_free(&r);
}

/* The CLI: phivault policy add|list|show|rm, text and json. */
static void
test_cli(struct h_server *s, const char *admin)
{
	char cmd[2048], env[1024], *out = NULL;
	json_t *j;

	snprintf(env, sizeof(env), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s",
	    s->base, s->cacert, admin);
	snprintf(cmd, sizeof(cmd), "%s %s policy add cli_night --effect deny --actions "
	    "'records.write,tokens.*' --resources patients --condition "
	    "'{\"time\":{\"tz\":\"UTC\",\"from\":\"23:00\",\"to\":\"05:00\"}}' --format json",
	    env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strcmp(json_string_value(json_object_get(j, "name")), "cli_night") == 0);
	CHECK(json_array_size(json_object_get(j, "actions")) == 2);
	json_decref(j);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s policy list --format text", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "cli_night") != NULL && strstr(out, "deny") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s policy show cli_night --format json", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"tz\":\"UTC\"") != NULL);
	free(out);
	/* the server's refusal is the CLI's error; a usage error is exit 2 */
	snprintf(cmd, sizeof(cmd), "%s %s policy add bad --effect maybe --actions x 2>&1", env,
	    h_bin());
	CHECK(h_run(cmd, &out) == 3 || strstr(out, "effect") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s policy add --effect deny 2>/dev/null", env, h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s policy rm cli_night --format text", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "cli_night: deleted") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s policy show cli_night 2>&1", env, h_bin());
	CHECK(h_run(cmd, &out) != 0);
	free(out);
}

/* Deny from anywhere but 127.0.0.1; connect from 127.0.0.2. */
static void
test_network(struct h_server *s, const char *admin, const char *clin, const char *clin_id,
    const char *path)
{
	struct h_resp r;

	h_expect(s, "POST", "/v1/policies", admin, "{\"name\":\"office_only\",\"effect\":\"deny\","
	    "\"actions\":[\"records.*\"],\"resources\":[\"*\"],\"condition\":{\"not\":"
	    "{\"source\":[\"127.0.0.1/32\",\"::1/128\"]}}}", NULL, 201, NULL);
	h_expect(s, "GET", path, clin, NULL, TREAT, 200, NULL);   /* from 127.0.0.1 */
	h_source_set("127.0.0.2");
	h_expect(s, "GET", path, clin, NULL, TREAT, 403, "network_not_allowed");
	h_expect(s, "GET", "/v1/collections/patients/records?limit=5", clin, NULL, TREAT, 403,
	    "network_not_allowed");
	h_source_set(NULL);
	CHECK(audit_count(s, "record.read", "denied", "network_not_allowed") == 1);
	CHECK(audit_count(s, "record.search", "denied", "network_not_allowed") == 1);
	/* explain says why, with no side effect */
	explain(s, admin, clin_id, "{\"collection\":\"patients\"}",
	    "{\"source\":\"127.0.0.2\",\"purpose\":\"TREAT\"}", false, "network_not_allowed",
	    "policy:office_only");
	explain(s, admin, clin_id, "{\"collection\":\"patients\"}",
	    "{\"source\":\"127.0.0.1\",\"purpose\":\"TREAT\"}", true, "allowed", NULL);
	CHECK(audit_count(s, "record.read", "denied", "network_not_allowed") == 1);
	/* the change reaches the very next request: drop the policy, read from .2 */
	h_expect(s, "DELETE", "/v1/policies/office_only", admin, NULL, NULL, 204, NULL);
	h_source_set("127.0.0.2");
	h_req(s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_source_set(NULL);
}

static const char *
user_id(struct h_server *s, const char *token)
{
	static char id[64];
	struct h_resp r;

	h_req(s, "GET", "/v1/auth/session", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "user_id")));
	h_resp_free(&r);
	return id;
}

int
main(void)
{
	struct h_server s;
	char admin[128], clin[128], wendy[128], paula[128], sam[128], dana[128];
	char r_icu[64], r_er[64], r_psy[64], path[256], secret[64], code[16], body[512];
	char clin_id[64], wendy_id[64], mtok[128];
	const char *otp;
	struct h_resp r;
	long long now;
	int mins;

	h_clock_enable();
	h_init(&s, "policies", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "idle_timeout_s", "36000");
	h_start(&s, "--dev");
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	CHECK(otp != NULL);
	login_fresh(&s, "admin", otp, admin, sizeof(admin));
	add_user(&s, admin, "clara", "clinician", NULL, clin, sizeof(clin));
	snprintf(clin_id, sizeof(clin_id), "%s", user_id(&s, clin));
	h_collection_create(&s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
	create_record(&s, clin, "{\"name\":\"Ada Quuxworth\",\"ward\":\"icu\"}", r_icu,
	    sizeof(r_icu));
	create_record(&s, clin, "{\"name\":\"Bo Zephyrine\",\"ward\":\"er\"}", r_er, sizeof(r_er));
	create_record(&s, clin, "{\"name\":\"Cy Wobblethorpe\",\"ward\":\"icu\","
	    "\"labels\":[\"R\",\"psychotherapy\"]}", r_psy, sizeof(r_psy));
	h_expect(&s, "POST", "/v1/collections/patients/records", clin,
	    "{\"name\":\"x\",\"labels\":[\"bad label\"]}", NULL, 400, "invalid_request");

	test_api(&s, admin, clin);
	test_cli(&s, admin);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", r_icu);
	test_network(&s, admin, clin, clin_id, path);
	test_dual_control(&s, admin, path);

	/* labels: psychotherapy notes only for psychiatry */
	h_expect(&s, "POST", "/v1/policies", admin, "{\"name\":\"psy_only\",\"effect\":\"deny\","
	    "\"actions\":[\"records.read\"],\"resources\":[\"patients\"],\"condition\":{\"all\":["
	    "{\"labels\":{\"any_of\":[\"psychotherapy\"]}},{\"not\":{\"principal\":{\"dept\":"
	    "\"psychiatry\"}}}]}}", NULL, 201, NULL);
	add_user(&s, admin, "paula", "clinician", "{\"dept\":\"psychiatry\"}", paula,
	    sizeof(paula));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", r_psy);
	h_expect(&s, "GET", path, clin, NULL, TREAT, 403, "policy_denied");
	CHECK(audit_count(&s, "record.read", "denied", "policy_denied") == 1);
	h_req(&s, "GET", path, paula, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(r.json, "labels"), 1)),
	    "psychotherapy") == 0);
	CHECK(json_object_get(json_object_get(r.json, "fields"), "_labels") == NULL);
	h_resp_free(&r);
	/* a list leaves the denied record out */
	h_req(&s, "GET", "/v1/collections/patients/records?limit=10", clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 2);
	CHECK(strstr(r.body, r_psy) == NULL);
	h_resp_free(&r);
	explain(&s, admin, clin_id, "{\"collection\":\"patients\",\"labels\":[\"psychotherapy\"]}",
	    "{\"purpose\":\"TREAT\"}", false, "policy_denied", "policy:psy_only");
	explain(&s, admin, clin_id, "{\"collection\":\"patients\",\"labels\":[\"R\"]}",
	    "{\"purpose\":\"TREAT\"}", true, "allowed", NULL);
	/* a patch relabels: the record is readable again */
	snprintf(body, sizeof(body), "{\"labels\":[\"R\"]}");
	h_expect(&s, "PATCH", path, paula, body, NULL, 200, NULL);
	h_expect(&s, "GET", path, clin, NULL, TREAT, 200, NULL);

	/* a clinician reads only their ward */
	h_create_approved(&s, admin, "/v1/roles", "{\"name\":\"ward_clinician\",\"permissions\":"
	    "[\"records.read:patients\"],\"condition\":{\"match\":{\"record\":\"ward\","
	    "\"principal\":\"ward\"}}}");
	add_user(&s, admin, "wendy", "ward_clinician", "{\"ward\":\"icu\"}", wendy, sizeof(wendy));
	snprintf(wendy_id, sizeof(wendy_id), "%s", user_id(&s, wendy));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", r_icu);
	h_expect(&s, "GET", path, wendy, NULL, TREAT, 200, NULL);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", r_er);
	h_expect(&s, "GET", path, wendy, NULL, TREAT, 403, "condition_not_met");
	CHECK(audit_count(&s, "record.read", "denied", "condition_not_met") == 1);
	h_req(&s, "GET", "/v1/collections/patients/records?limit=10", wendy, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 2);   /* both icu */
	CHECK(strstr(r.body, r_er) == NULL);
	h_resp_free(&r);
	explain(&s, admin, wendy_id, "{\"collection\":\"patients\",\"internal\":{\"ward\":\"er\"}}",
	    "{\"purpose\":\"TREAT\"}", false, "condition_not_met", NULL);
	/* moving wendy to the er ward takes effect on her next request */
	snprintf(body, sizeof(body), "{\"attributes\":{\"ward\":\"er\"}}");
	snprintf(path, sizeof(path), "/v1/users/%s", wendy_id);
	h_expect(&s, "PATCH", path, admin, body, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", r_er);
	h_expect(&s, "GET", path, wendy, NULL, TREAT, 200, NULL);

	/* step-up: a role whose grant needs MFA done in the last 5 minutes */
	h_create_approved(&s, admin, "/v1/roles", "{\"name\":\"fresh_reader\",\"permissions\":"
	    "[\"records.read:patients\"],\"condition\":{\"mfa\":{\"required\":true,"
	    "\"max_age_s\":300}}}");
	add_user(&s, admin, "sam", "fresh_reader", NULL, sam, sizeof(sam));
	h_expect(&s, "GET", path, sam, NULL, TREAT, 401, "step_up_required");   /* no MFA yet */
	h_req(&s, "POST", "/v1/auth/mfa/enroll", sam, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(secret, sizeof(secret), "%s", json_string_value(json_object_get(r.json, "secret")));
	h_resp_free(&r);
	advance(&s, 0);
	totp(secret, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_expect(&s, "POST", "/v1/auth/mfa/confirm", sam, body, NULL, 200, NULL);
	advance(&s, 30000);   /* a fresh TOTP step for the login */
	snprintf(body, sizeof(body), "{\"username\":\"sam\",\"password\":\"%s\"}", PW_USER);
	h_req(&s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(mtok, sizeof(mtok), "%s", json_string_value(json_object_get(r.json, "mfa_token")));
	h_resp_free(&r);
	totp(secret, code);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mtok, code);
	h_req(&s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(sam, sizeof(sam), "%s", json_string_value(json_object_get(r.json, "token")));
	h_resp_free(&r);
	h_expect(&s, "GET", path, sam, NULL, TREAT, 200, NULL);
	advance(&s, 301000);
	h_req(&s, "GET", path, sam, NULL, TREAT, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "step_up_required") == 0);
	CHECK(h_has_header(&r, "WWW-Authenticate: Bearer error=\"insufficient_user_authentication\""));
	CHECK(strstr(r.headers, "max_age=300") != NULL);
	CHECK(strstr(r.body, "Zephyrine") == NULL);
	h_resp_free(&r);
	CHECK(audit_count(&s, "record.read", "denied", "step_up_required") >= 1);
	/* the same session steps up with a TOTP code: a wrong one is refused */
	h_expect(&s, "POST", "/v1/auth/step-up", sam, "{\"code\":\"000000x\"}", NULL, 401,
	    "unauthenticated");
	CHECK(audit_count(&s, "auth.step_up", "denied", "bad_totp") == 1);
	advance(&s, 30000);   /* a step not used yet */
	totp(secret, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	h_req(&s, "POST", "/v1/auth/step-up", sam, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "mfa_verified")));
	h_resp_free(&r);
	h_expect(&s, "GET", path, sam, NULL, TREAT, 200, NULL);   /* same token */
	CHECK(audit_count(&s, "auth.step_up", "allowed", "totp") == 1);
	/* the code is single use */
	h_expect(&s, "POST", "/v1/auth/step-up", sam, body, NULL, 401, "unauthenticated");
	advance(&s, 301000);
	h_expect(&s, "GET", path, sam, NULL, TREAT, 401, "step_up_required");
	/* authenticating again with TOTP (a new login) passes too */
	advance(&s, 30000);
	snprintf(body, sizeof(body), "{\"username\":\"sam\",\"password\":\"%s\"}", PW_USER);
	h_req(&s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(mtok, sizeof(mtok), "%s", json_string_value(json_object_get(r.json, "mfa_token")));
	h_resp_free(&r);
	totp(secret, code);
	snprintf(body, sizeof(body), "{\"mfa_token\":\"%s\",\"code\":\"%s\"}", mtok, code);
	h_req(&s, "POST", "/v1/auth/mfa", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(sam, sizeof(sam), "%s", json_string_value(json_object_get(r.json, "token")));
	h_resp_free(&r);
	h_expect(&s, "GET", path, sam, NULL, TREAT, 200, NULL);

	/* a time window: the next hour (UTC) from the server's clock, then 2 h later */
	now = h_clock_advance(&s, 0);
	mins = (int)((now / 60000) % 1440);
	snprintf(body, sizeof(body), "{\"name\":\"day_reader\",\"permissions\":"
	    "[\"records.read:patients\"],\"condition\":{\"time\":{\"tz\":\"UTC\",\"from\":"
	    "\"%02d:%02d\",\"to\":\"%02d:%02d\"}}}", ((mins + 1439) % 1440) / 60,
	    ((mins + 1439) % 1440) % 60, ((mins + 60) % 1440) / 60, ((mins + 60) % 1440) % 60);
	h_create_approved(&s, admin, "/v1/roles", body);
	add_user(&s, admin, "dana", "day_reader", NULL, dana, sizeof(dana));
	h_expect(&s, "GET", path, dana, NULL, TREAT, 200, NULL);
	advance(&s, 2 * 3600 * 1000LL);
	h_expect(&s, "GET", path, dana, NULL, TREAT, 403, "outside_hours");
	h_expect(&s, "GET", "/v1/collections/patients/records?limit=3", dana, NULL, TREAT, 403,
	    "outside_hours");
	CHECK(audit_count(&s, "record.read", "denied", "outside_hours") == 1);
	CHECK(audit_count(&s, "record.search", "denied", "outside_hours") == 1);

	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("policies");
	return 0;
}
