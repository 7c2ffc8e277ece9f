/*
 * Key administration on the real binary over HTTPS (issue 11 items 1-3):
 * 200 records, rotate, re-encrypt (rewrap_dek) as a job killed with
 * SIGKILL twice and resumed, a PATCH while it runs, then every record
 * reads back identical and the census of v1 is 0; retire (409
 * retired_key_in_use while in use), revoke with a wrong and the right
 * typed confirmation, and a read under the revoked version answers 410
 * key_revoked. key_admin does all of it and reads no PHI; a clinician
 * gets 403 on every key route. Every key operation is in the audit trail
 * with the key name and version, and the chain verifies.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Amber-river-Stone-4821"
#define N_REC 200
#define KEY "collection:patients"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

/* After a restart every session is still valid (sessions are in the store). */
struct people {
	char admin[128], kay[128], clin[128];
};

static char ids[N_REC][64];
static char *want[N_REC];   /* each record's fields, canonical JSON */

static void
create_records(struct h_server *s, struct people *p)
{
	struct h_resp r;
	char *body = malloc(64 * 1024);
	size_t off;

	CHECK(body != NULL);
	h_collection_create(s, p->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"mrn\",\"type\":\"mrn\",\"classification\":\"phi\",\"searchable\":true},"
	    "{\"name\":\"ward\",\"type\":\"string\",\"classification\":\"internal\"}]}");
	for (int b = 0; b < N_REC / 100; b++) {
		off = (size_t)snprintf(body, 64 * 1024, "{\"create\":[");
		for (int i = 0; i < 100; i++)
			off += (size_t)snprintf(body + off, 64 * 1024 - off,
			    "%s{\"name\":\"Patient Keys-%03d\",\"mrn\":\"MRN%06d\",\"ward\":\"W%d\"}",
			    i ? "," : "", b * 100 + i, 7000 + b * 100 + i, i % 7);
		snprintf(body + off, 64 * 1024 - off, "]}");
		h_req(s, "POST", "/v1/collections/patients/records:batch", p->clin, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		for (int i = 0; i < 100; i++) {
			json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);

			CHECK(json_integer_value(json_object_get(res, "status")) == 201);
			snprintf(ids[b * 100 + i], 64, "%s", h_jstr(res, "id"));
		}
		h_resp_free(&r);
	}
	free(body);
}

/* Read every record (batch reads of 100); fill want[] or compare with it. */
static void
read_all(struct h_server *s, const char *tok, bool record)
{
	char *body = malloc(16 * 1024);
	struct h_resp r;

	CHECK(body != NULL);
	for (int b = 0; b < N_REC / 100; b++) {
		size_t off = (size_t)snprintf(body, 16 * 1024, "{\"read\":[");

		for (int i = 0; i < 100; i++)
			off += (size_t)snprintf(body + off, 16 * 1024 - off, "%s\"%s\"", i ? "," : "",
			    ids[b * 100 + i]);
		snprintf(body + off, 16 * 1024 - off, "]}");
		h_req(s, "POST", "/v1/collections/patients/records:batch", tok, body, TREAT, &r);
		CHECK_STATUS(&r, 200);
		for (int i = 0; i < 100; i++) {
			json_t *res = json_array_get(json_object_get(r.json, "results"), (size_t)i);
			char *got;

			CHECK(json_integer_value(json_object_get(res, "status")) == 200);
			got = json_dumps(json_object_get(res, "fields"), JSON_COMPACT | JSON_SORT_KEYS);
			CHECK(got != NULL);
			if (record) {
				free(want[b * 100 + i]);
				want[b * 100 + i] = got;
			} else {
				if (strcmp(got, want[b * 100 + i]) != 0)
					fprintf(stderr, "record %d differs after re-encryption\n",
					    b * 100 + i);
				CHECK(strcmp(got, want[b * 100 + i]) == 0);
				free(got);
			}
		}
		h_resp_free(&r);
	}
	free(body);
}

/* The version object of KEY v in GET /v1/keys (as key_admin). */
static void
post(struct h_server *s, const char *tok, const char *path, const char *body, int status,
    const char *code, struct h_resp *out)
{
	struct h_resp r;

	h_req(s, "POST", path, tok, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (out != NULL)
		*out = r;
	else
		h_resp_free(&r);
}

static long long
job_get(struct h_server *s, const char *tok, const char *id, char st[16])
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "kind"), "keys.reencrypt") == 0);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	h_resp_free(&r);
	return done;
}

/* Poll until done >= want or the job ended; max_rps holds the job back, so
 * move the server's clock a second on when a poll sees no progress. */
static long long
wait_done(struct h_server *s, const char *tok, const char *id, long long wantd, char st[16])
{
	long long done = 0, last = -1;

	for (int i = 0; i < 20000; i++) {
		done = job_get(s, tok, id, st);
		if (done >= wantd || strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			return done;
		if (done == last)
			h_clock_advance(s, 1000);
		last = done;
		h_pause_ms(3);
	}
	CHECK(!"re-encryption made no progress");
	return done;
}

static void
test_rotate_reencrypt(struct h_server *s, struct people *p)
{
	char st[32], job[64], path[256];
	long long n = 0, done;
	struct h_resp r;

	h_key_version(s, p->kay, KEY, 1, st, &n);
	CHECK(strcmp(st, "active") == 0);
	CHECK(n == N_REC);
	/* the active version cannot be retired; a version that does not exist */
	post(s, p->kay, "/v1/keys/" KEY "/versions/1/retire", NULL, 409, "conflict", NULL);
	post(s, p->kay, "/v1/keys/" KEY "/versions/9/retire", NULL, 404, "not_found", NULL);
	post(s, p->kay, "/v1/keys/nokey/rotate", NULL, 404, "not_found", NULL);
	/* rotate: v2 active, v1 decrypt_only and still protecting all 200 */
	post(s, p->kay, "/v1/keys/" KEY "/rotate", NULL, 200, NULL, &r);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 2);
	h_resp_free(&r);
	h_key_version(s, p->kay, KEY, 1, st, &n);
	CHECK(strcmp(st, "decrypt_only") == 0 && n == N_REC);
	h_key_version(s, p->kay, KEY, 2, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == 0);
	post(s, p->kay, "/v1/keys/" KEY "/versions/1/retire", NULL, 409, "retired_key_in_use",
	    NULL);
	/* bad re-encryption requests change nothing */
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "{\"mode\":\"fast\"}", 400,
	    "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "{\"max_rps\":0}", 400, "invalid_request",
	    NULL);
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "[1]", 400, "invalid_json", NULL);
	/* 20 records a second: the job takes several steps and windows */
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "{\"mode\":\"rewrap_dek\",\"max_rps\":20}",
	    202, NULL, &r);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	CHECK(strncmp(job, "job_", 4) == 0);
	h_resp_free(&r);
	post(s, p->kay, "/v1/keys/" KEY "/reencrypt", "{}", 409, "job_conflict", NULL);

	done = wait_done(s, p->admin, job, 40, st);
	fprintf(stderr, "keys: kill -9 at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	h_kill9_restart(s, "--dev");
	CHECK(job_get(s, p->admin, job, st) >= done);
	/* a PATCH while the job runs is kept (it lands on v2 by itself) */
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", ids[N_REC - 1]);
	h_req(s, "PATCH", path, p->clin, "{\"ward\":\"W-moved\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	{
		json_t *w = json_loads(want[N_REC - 1], 0, NULL);

		CHECK(w != NULL);
		json_object_set_new(w, "ward", json_string("W-moved"));
		free(want[N_REC - 1]);
		want[N_REC - 1] = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(w);
	}
	done = wait_done(s, p->admin, job, 120, st);
	fprintf(stderr, "keys: kill -9 at done=%lld (%s)\n", done, st);
	CHECK(strcmp(st, "running") == 0 || strcmp(st, "queued") == 0);
	h_kill9_restart(s, "--dev");
	CHECK(job_get(s, p->admin, job, st) >= done);
	done = wait_done(s, p->admin, job, N_REC, st);
	while (strcmp(st, "done") != 0 && strcmp(st, "failed") != 0)
		done = wait_done(s, p->admin, job, N_REC + 1, st);
	CHECK(strcmp(st, "done") == 0);
	/* every record moved exactly once (the patched one moved by its PATCH) */
	CHECK(done == N_REC - 1 || done == N_REC);
	h_key_version(s, p->kay, KEY, 1, st, &n);
	CHECK(n == 0);
	h_key_version(s, p->kay, KEY, 2, st, &n);
	CHECK(n == N_REC);
	read_all(s, p->clin, false);

	/* retire v1 now works, and again (idempotent); v1 shows retired */
	post(s, p->kay, "/v1/keys/" KEY "/versions/1/retire", NULL, 200, NULL, &r);
	CHECK(strcmp(h_jstr(r.json, "state"), "retired") == 0);
	h_resp_free(&r);
	post(s, p->kay, "/v1/keys/" KEY "/versions/1/retire", NULL, 200, NULL, NULL);
	h_key_version(s, p->kay, KEY, 1, st, &n);
	CHECK(strcmp(st, "retired") == 0);
}

static void
test_revoke(struct h_server *s, struct people *p)
{
	char st[32], path[256];
	long long n = 0;
	struct h_resp r;

	post(s, p->kay, "/v1/keys/" KEY "/rotate", NULL, 200, NULL, NULL);   /* v3 */
	/* the active version cannot be revoked */
	post(s, p->kay, "/v1/keys/" KEY "/versions/3/revoke",
	    "{\"confirm\":\"" KEY ":3\"}", 409, "conflict", NULL);
	/* wrong confirmations: 400, nothing changes */
	post(s, p->kay, "/v1/keys/" KEY "/versions/2/revoke", "{}", 400, "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/" KEY "/versions/2/revoke", "{\"confirm\":\"" KEY ":3\"}", 400,
	    "invalid_request", NULL);
	post(s, p->kay, "/v1/keys/" KEY "/versions/2/revoke", "{\"confirm\":\"yes\"}", 400,
	    "invalid_request", NULL);
	h_key_version(s, p->kay, KEY, 2, st, &n);
	CHECK(strcmp(st, "decrypt_only") == 0 && n == N_REC);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", ids[0]);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* the right one: v2's material is destroyed */
	post(s, p->kay, "/v1/keys/" KEY "/versions/2/revoke", "{\"confirm\":\"" KEY ":2\"}", 200,
	    NULL, &r);
	CHECK(strcmp(h_jstr(r.json, "state"), "revoked") == 0);
	h_resp_free(&r);
	h_key_version(s, p->kay, KEY, 2, st, &n);
	CHECK(strcmp(st, "revoked") == 0);
	/* a record under it: 410 key_revoked, never 500; also after a restart */
	for (int round = 0; round < 2; round++) {
		h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
		CHECK_STATUS(&r, 410);
		CHECK(strcmp(h_err_code(&r), "key_revoked") == 0);
		h_resp_free(&r);
		if (round == 0)
			h_kill9_restart(s, "--dev");
	}
	/* a new record is sealed under v3 and reads */
	h_req(s, "POST", "/v1/collections/patients/records", p->clin,
	    "{\"name\":\"After Revoke\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	h_req(s, "GET", path, p->clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_key_version(s, p->kay, KEY, 3, st, &n);
	CHECK(strcmp(st, "active") == 0 && n == 1);
}

static void
test_separation(struct h_server *s, struct people *p)
{
	static const char *routes[][3] = {
		{ "GET", "/v1/keys", NULL },
		{ "POST", "/v1/keys/" KEY "/rotate", NULL },
		{ "PUT", "/v1/keys/" KEY "/policy", "{\"reencrypt\":\"auto\"}" },
		{ "POST", "/v1/keys/" KEY "/reencrypt", "{}" },
		{ "POST", "/v1/keys/" KEY "/versions/1/retire", NULL },
		{ "POST", "/v1/keys/" KEY "/versions/1/revoke", "{\"confirm\":\"" KEY ":1\"}" },
	};
	char path[256];
	struct h_resp r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		h_req(s, routes[i][0], routes[i][1], p->clin, routes[i][2], NULL, &r);
		CHECK_STATUS(&r, 403);
		CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
		h_resp_free(&r);
	}
	/* key_admin reads no PHI */
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", ids[1]);
	h_req(s, "GET", path, p->kay, NULL, TREAT, &r);
	CHECK_STATUS(&r, 403);
	h_resp_free(&r);
	/* the policy */
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay,
	    "{\"rotate_every_s\":7776000,\"reencrypt\":\"auto\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(json_object_get(r.json, "policy"), "reencrypt"), "auto") == 0);
	h_resp_free(&r);
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay, "{\"reencrypt\":\"sometimes\"}", NULL,
	    &r);
	CHECK_STATUS(&r, 400);
	CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
	h_resp_free(&r);
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay, "{\"color\":1}", NULL, &r);
	CHECK_STATUS(&r, 400);
	h_resp_free(&r);
}

/* jsonl export: every key operation with name and version */
static void
test_audit(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>&1", h_bin(),
	    s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"action\":\"key.rotate\"") != NULL);
	CHECK(strstr(out, "keys/" KEY "/versions/2") != NULL);
	CHECK(strstr(out, "\"action\":\"key.revoke\"") != NULL);
	CHECK(strstr(out, "\"action\":\"key.retire\"") != NULL);
	CHECK(strstr(out, "retired_key_in_use") != NULL);
	CHECK(strstr(out, "\"action\":\"key.reencrypt\"") != NULL);
	CHECK(strstr(out, "\"action\":\"key.policy\"") != NULL);
	CHECK(strstr(out, "Patient Keys-") == NULL);   /* no PHI */
	free(out);
}

static void
test_cli(struct h_server *s, struct people *p)
{
	char cmd[2048], *out = NULL;
	const char *env;

	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=https://127.0.0.1:%u PHIVAULT_CACERT=%s/tls/cert.pem "
	    "PHIVAULT_TOKEN=%s", s->port, s->dir, p->kay);
	env = strdup(cmd);
	CHECK(env != NULL);
	snprintf(cmd, sizeof(cmd), "%s %s key list --format json", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"" KEY "\"") != NULL && strstr(out, "\"revoked\"") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key list --format text", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strncmp(out, "KEY ", 4) == 0);   /* the table's header, then a row a version */
	CHECK(strstr(out, KEY " ") != NULL && strstr(out, "revoked") != NULL &&
	    strstr(out, "retired") != NULL && strstr(out, "active") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key rotate " KEY " --format json", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"version\": 4") != NULL || strstr(out, "\"version\":4") != NULL);
	{
		/* policy auto: the rotation queued a rewrap_dek job at the default
		 * rate (20 records a step): let it end before asking for another */
		const char *j = strstr(out, "job_");
		char jid[64], st[32];

		CHECK(j != NULL);
		snprintf(jid, sizeof(jid), "%.*s",
		    (int)strspn(j, "abcdefghijklmnopqrstuvwxyz0123456789_"), j);
		wait_done(s, p->admin, jid, 1000000, st);
		CHECK(strcmp(st, "done") == 0);
	}
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key policy " KEY " --reencrypt manual --format json",
	    env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "manual") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key reencrypt " KEY " --mode full --max-rps 1000 "
	    "--format json", env, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "job_") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key revoke " KEY " 1 --confirm wrong 2>&1", env,
	    h_bin());
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "invalid_request") != NULL || strstr(out, "confirm") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "%s %s key retire " KEY " notanumber 2>&1", env, h_bin());
	CHECK(h_run(cmd, &out) == 2);
	free(out);
	free((void *)env);
}

/* rotate_every_s: the sweeper rotates a key whose active version is older
 * than that, on the server's (injected) clock; nobody calls rotate. */
static void
test_scheduled_rotation(struct h_server *s, struct people *p)
{
	char st[32], body[256];
	long long n = 0;
	struct h_resp r;
	bool rotated = false;

	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay,
	    "{\"rotate_every_s\":86400,\"reencrypt\":\"manual\"}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	h_key_version(s, p->kay, KEY, 4, st, &n);
	CHECK(strcmp(st, "active") == 0);
	/* a day and a bit later (sessions have idled out: log in again) */
	h_clock_advance(s, 86401LL * 1000);
	snprintf(body, sizeof(body), "{\"username\":\"kay\",\"password\":\"%s\"}", PW_USER);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p->kay, sizeof(p->kay), "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	for (int i = 0; i < 5000 && !rotated; i++) {
		struct h_resp k;
		json_t *key, *ver;
		size_t a, b;

		h_req(s, "GET", "/v1/keys", p->kay, NULL, NULL, &k);
		CHECK_STATUS(&k, 200);
		json_array_foreach(k.json, a, key)
			if (strcmp(h_jstr(key, "name"), KEY) == 0)
				json_array_foreach(json_object_get(key, "versions"), b, ver)
					if (json_integer_value(json_object_get(ver, "version")) == 5)
						rotated = true;
		h_resp_free(&k);
		if (!rotated)
			h_pause_ms(3);
	}
	CHECK(rotated);
	h_key_version(s, p->kay, KEY, 5, st, &n);
	CHECK(strcmp(st, "active") == 0);
	h_key_version(s, p->kay, KEY, 4, st, &n);
	CHECK(strcmp(st, "decrypt_only") == 0);
	/* once: v5 is new, so no second rotation follows */
	h_req(s, "PUT", "/v1/keys/" KEY "/policy", p->kay, "{\"rotate_every_s\":0}", NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	char cmd[1024], *out = NULL;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_clock_enable();
	h_init(&s, "keys", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_add_user(&s, p.admin, "kay", "key_admin", PW_USER, p.kay, sizeof(p.kay));
	h_add_user(&s, p.admin, "clara", "clinician", PW_USER, p.clin, sizeof(p.clin));
	create_records(&s, &p);
	read_all(&s, p.clin, true);
	test_rotate_reencrypt(&s, &p);
	test_revoke(&s, &p);
	test_separation(&s, &p);
	test_cli(&s, &p);
	test_scheduled_rotation(&s, &p);
	CHECK(h_stop(&s) == 0);
	test_audit(&s);
	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	for (int i = 0; i < N_REC; i++)
		free(want[i]);
	json_decref(s.init);
	h_done("keys");
	return 0;
}
