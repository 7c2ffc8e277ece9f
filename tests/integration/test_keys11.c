/*
 * Issue 11 item 2 on the real binary over HTTPS, what integ_test_keys
 * leaves out:
 *  - the progress of a re-encryption job through GET /v1/jobs/{id}: total
 *    is the census the job set out to move, done grows to it, rate_per_s
 *    (on the server's injected clock) and eta_s = ceil((total - done) /
 *    rate) while it runs; under policy reencrypt = manual the emptied
 *    version stays decrypt_only;
 *  - policy reencrypt = auto: a rotation queues the job (its ID in the
 *    rotate answer) and the job's end retires every decrypt_only version
 *    whose census is 0, each with its own key.retire entry (actor system,
 *    reason policy, the version in the resource) in the trail, which
 *    verifies; every record still reads back identical.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_REC 60
#define KEY "collection:patients"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

struct people {
	char admin[128], kay[128], clin[128], aud[128];
};

static char ids[N_REC][64];
static char *want[N_REC];

static void
create_records(struct h_server *s, struct people *p)
{
	char body[8192];
	size_t off = (size_t)snprintf(body, sizeof(body), "{\"create\":[");
	struct h_resp r;

	h_collection_create(s, p->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
	for (int i = 0; i < N_REC; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off,
		    "%s{\"name\":\"Patient Eleven-%03d\",\"ward\":\"W%d\"}", i ? "," : "", i, i % 5);
	snprintf(body + off, sizeof(body) - off, "]}");
	h_req(s, "POST", "/v1/collections/patients/records:batch", p->clin, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	for (int i = 0; i < N_REC; i++) {
		json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);

		CHECK(json_integer_value(json_object_get(res, "status")) == 201);
		snprintf(ids[i], sizeof(ids[i]), "%s", h_jstr(res, "id"));
	}
	h_resp_free(&r);
}

/* Read every record in one batch; fill want[] or compare with it. */
static void
read_all(struct h_server *s, const char *tok, bool record)
{
	char body[8192];
	size_t off = (size_t)snprintf(body, sizeof(body), "{\"read\":[");
	struct h_resp r;

	for (int i = 0; i < N_REC; i++)
		off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\"%s\"", i ? "," : "",
		    ids[i]);
	snprintf(body + off, sizeof(body) - off, "]}");
	h_req(s, "POST", "/v1/collections/patients/records:batch", tok, body, TREAT, &r);
	CHECK_STATUS(&r, 200);
	for (int i = 0; i < N_REC; i++) {
		json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);
		char *got;

		CHECK(json_integer_value(json_object_get(res, "status")) == 200);
		got = json_dumps(json_object_get(res, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
		CHECK(got != NULL);
		if (record) {
			want[i] = got;
		} else {
			CHECK(strcmp(got, want[i]) == 0);
			free(got);
		}
	}
	h_resp_free(&r);
}

/* State and census of KEY version v (GET /v1/keys as key_admin). */
static void
post(struct h_server *s, const char *tok, const char *path, const char *body, int status,
    char *job, size_t joblen)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (job != NULL) {
		CHECK(h_jstr(r.json, "job") != NULL);
		snprintf(job, joblen, "%s", h_jstr(r.json, "job"));
		CHECK(strncmp(job, "job_", 4) == 0);
	}
	h_resp_free(&r);
}

/* Poll the job until it is done, checking its progress fields at every
 * look; move the server's clock a second on when a look sees no progress
 * (max_rps holds the job to its window). *saw_rate: a look while running
 * had a rate, and the ETA that follows from it. */
static void
follow(struct h_server *s, const char *tok, const char *id, long long total, bool *saw_rate)
{
	char path[128];
	long long last = -1;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	*saw_rate = false;
	for (int i = 0; i < 20000; i++) {
		struct h_resp r;
		long long done, t;
		double rate;
		json_t *eta;
		char st[16];

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(h_jstr(r.json, "kind"), "keys.reencrypt") == 0);
		snprintf(st, sizeof(st), "%s", h_jstr(r.json, "state"));
		done = json_integer_value(json_object_get(r.json, "done"));
		t = json_integer_value(json_object_get(r.json, "total"));
		CHECK(json_is_number(json_object_get(r.json, "rate_per_s")));
		rate = json_number_value(json_object_get(r.json, "rate_per_s"));
		eta = json_object_get(r.json, "eta_s");
		CHECK(json_is_null(eta) || json_is_integer(eta));
		CHECK(t == total);
		CHECK(done >= 0 && done <= total);
		CHECK(done >= last);
		if (strcmp(st, "running") == 0 && rate > 0 && done < total) {
			long long want_eta = (long long)((double)(total - done) / rate + 0.999);

			CHECK(json_is_integer(eta));
			CHECK(json_integer_value(eta) == want_eta && want_eta >= 1);
			*saw_rate = true;
		}
		h_resp_free(&r);
		CHECK(strcmp(st, "failed") != 0 && strcmp(st, "cancelled") != 0);
		if (strcmp(st, "done") == 0) {
			CHECK(done == total);
			return;
		}
		if (done == last)
			h_clock_advance(s, 1000);
		last = done;
		h_pause_ms(3);
	}
	CHECK(!"re-encryption made no progress");
}

static void
test_progress_manual(struct h_server *s, struct people *p)
{
	char job[64], st[32];
	long long n = 0;
	bool saw_rate = false;

	post(s, p->kay, "/v1/keys/" KEY "/rotate", NULL, 200, NULL, 0);
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "{\"mode\":\"rewrap_dek\",\"max_rps\":20}",
	    202, job, sizeof(job));
	follow(s, p->admin, job, N_REC, &saw_rate);
	CHECK(saw_rate);
	h_key_version(s, p->kay, KEY, 1, st, &n);
	CHECK(n == 0);
	CHECK(strcmp(st, "decrypt_only") == 0);   /* manual: nothing retires by itself */
	h_key_version(s, p->kay, KEY, 2, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == N_REC);
	read_all(s, p->clin, false);
}

static void
test_auto_retire(struct h_server *s, struct people *p)
{
	char job[64], st[32];
	long long n = 0;
	bool saw_rate = false;
	struct h_resp r;

	CHECK(h_audit_count(s, p->aud, &(struct h_audit_q){ .action = "key.retire",
	    .reason = "policy" }) == 0);
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay, "{\"reencrypt\":\"auto\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* the rotation queues the job; its end retires v1 and v2 (census 0) */
	post(s, p->kay, "/v1/keys/" KEY "/rotate", NULL, 200, job, sizeof(job));
	follow(s, p->admin, job, N_REC, &saw_rate);
	for (int v = 1; v <= 2; v++) {
		char res[128];

		h_key_version(s, p->kay, KEY, v, st, &n);
		CHECK(n == 0);
		CHECK(strcmp(st, "retired") == 0);
		snprintf(res, sizeof(res), "keys/" KEY "/versions/%d", v);
		CHECK(h_audit_count(s, p->aud, &(struct h_audit_q){ .action = "key.retire",
		    .outcome = "allowed", .reason = "policy", .resource = res,
		    .actor_user = "system" }) == 1);
	}
	h_key_version(s, p->kay, KEY, 3, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == N_REC);
	read_all(s, p->clin, false);
	/* a retired version still opens nothing it should not: revoking it
	 * loses nothing (the records are on v3) */
	post(s, p->kay, "/v1/keys/" KEY "/versions/1/revoke", "{\"confirm\":\"" KEY ":1\"}", 200,
	    NULL, 0);
	read_all(s, p->clin, false);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char cmd[1024], otp[128], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "keys11", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	h_req(&s, "POST", "/v1/users", p.admin, "{\"username\":\"audra\",\"roles\":[\"auditor\"]}",
	    NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(otp, sizeof(otp), "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
	h_login_fresh(&s, "audra", otp, PW_USER, p.aud, sizeof(p.aud));
	create_records(&s, &p);
	read_all(&s, p.clin, true);
	test_progress_manual(&s, &p);
	test_auto_retire(&s, &p);
	CHECK(h_stop(&s) == 0);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	for (int i = 0; i < N_REC; i++)
		free(want[i]);
	json_decref(s.init);
	h_done("keys11");
	return 0;
}
