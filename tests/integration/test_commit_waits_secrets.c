/*
 * No request thread waits for a commit (issue 9 item 4) in the secrets,
 * compliance and backup routes, on an epoll pool of two threads
 * ([server] threads = 2). GET /v1/test/commit-waits (the test binary's
 * count of blocking commits started on HTTP request threads) must not move
 * across any of:
 *
 *  - secrets: the first PUT of the data directory (it makes KEK "secrets"),
 *    PUT 201 / 200, If-Match 412 (refused before the submit) and 200,
 *    concurrent writers without If-Match on one path (the lost races are
 *    sealed again on the sweeper thread: every acknowledged version is
 *    distinct and none is lost), a writer without secrets.write (403),
 *    the same PUTs through the CLI (phivault secret put: a version, a lost
 *    --cas, exit 3), DELETE 204, a second DELETE 404 (change_fn's, from inside the
 *    transaction), undelete 200 with the version, destroy 200 and 404;
 *  - compliance: baseline approve, exception add 201 (403 for the admin),
 *    exception remove 204 then 404 "no such exception", the online report;
 *  - backup: POST /v1/sys/backups 202 (the job.create through
 *    jobs_enqueue, held on a request thread), the download of its first page, DELETE inside the
 *    immutability window 409, an unknown one 404, a drill request 202,
 *    the residency refusal 403;
 *
 * and the effects are there afterwards: the values and versions read back,
 * the baseline and the register as written, the backup job done, and the
 * audit entries (allowed, denied, error) of each.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define PW_OFFICER "Amber-orchard-Falcon-58"
#define CFR "164.308(a)(8)"
#define WRITERS 4
#define WRITES 6

struct people {
	char admin[256], dev[256], aud[256], off[256], off_id[64];
};

/* PUT value at path (hdr: an If-Match line or NULL): status; *version if 2xx. */
static long
put(struct h_server *s, const char *tok, const char *path, const char *value, const char *hdr,
    long *version)
{
	char url[256], body[256];
	const char *hdrs[] = { hdr, NULL };
	struct h_resp r;
	long st;

	snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	snprintf(body, sizeof(body), "{\"value\":\"%s\"}", value);
	h_req(s, "PUT", url, tok, body, hdr != NULL ? hdrs : NULL, &r);
	st = r.status;
	if ((st == 200 || st == 201) && version != NULL) {
		CHECK(strcmp(h_jstr(r.json, "path"), path) == 0);
		*version = (long)json_integer_value(json_object_get(r.json, "version"));
	}
	h_resp_free(&r);
	return st;
}

/* GET path at version (0: current): status; the value into v if 200. */
static long
get(struct h_server *s, const char *tok, const char *path, long version, char *v, size_t len)
{
	char url[256];
	struct h_resp r;
	long st;

	if (version > 0)
		snprintf(url, sizeof(url), "/v1/secrets/%s?version=%ld", path, version);
	else
		snprintf(url, sizeof(url), "/v1/secrets/%s", path);
	h_req(s, "GET", url, tok, NULL, NULL, &r);
	st = r.status;
	if (st == 200 && v != NULL)
		snprintf(v, len, "%s", h_jstr(r.json, "value"));
	h_resp_free(&r);
	return st;
}

/* ---- concurrent writers on one path, no If-Match ---- */

struct writer {
	struct h_server *s;
	const char *tok;
	int n;
	long versions[WRITES];
	char values[WRITES][48];
	int ok, conflicts, other;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < WRITES; i++) {
		long v = 0, st;

		snprintf(w->values[i], sizeof(w->values[i]), "race-%d-%d-q8v2", w->n, i);
		st = put(w->s, w->tok, "apps/race/db", w->values[i], NULL, &v);
		if (st == 200 || st == 201)
			w->versions[w->ok++] = v;
		else if (st == 409)
			w->conflicts++;   /* lost three races in a row: allowed, nothing written */
		else
			w->other++;
		if (st != 200 && st != 201)
			w->values[i][0] = '\0';
	}
	return NULL;
}

static void
race(struct h_server *s, struct people *p)
{
	struct writer w[WRITERS];
	pthread_t t[WRITERS];
	long seen[WRITERS * WRITES], head = 0;
	int nseen = 0, conflicts = 0;
	char v[128];

	CHECK(put(s, p->dev, "apps/race/db", "race-start-x1", NULL, &head) == 201 && head == 1);
	for (int i = 0; i < WRITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].s = s;
		w[i].tok = p->dev;
		w[i].n = i;
		CHECK(pthread_create(&t[i], NULL, writer_main, &w[i]) == 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		CHECK(w[i].other == 0);
		conflicts += w[i].conflicts;
		for (int k = 0; k < w[i].ok; k++) {
			for (int m = 0; m < nseen; m++)
				CHECK(seen[m] != w[i].versions[k]);   /* no version given twice */
			seen[nseen++] = w[i].versions[k];
		}
	}
	fprintf(stderr, "commit_waits_secrets: %d racing writes acknowledged, %d conflicts\n",
	    nseen, conflicts);
	CHECK(nseen >= 1);
	/* nothing lost: the head is one past the start per acknowledged write */
	CHECK(get(s, p->dev, "apps/race/db", 0, v, sizeof(v)) == 200);
	{
		struct h_resp r;

		h_req(s, "GET", "/v1/secrets?prefix=apps/race/", p->dev, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(r.json,
		    "secrets"), 0), "version")) == 1 + nseen);
		h_resp_free(&r);
	}
	/* the current value is the one written at the highest version */
	for (int i = 0; i < WRITERS; i++)
		for (int k = 0, ok = 0; k < WRITES; k++) {
			if (w[i].values[k][0] == '\0')
				continue;
			if (w[i].versions[ok] == 1 + nseen)
				CHECK(strcmp(v, w[i].values[k]) == 0);
			ok++;
		}
}

/* ---- the audit trail ---- */

/* How many entries of action have outcome (and reason, if not NULL). */
static size_t
entries(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	char path[160];
	struct h_resp r;
	json_t *e;
	size_t i, n = 0;

	snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=1000", action);
	h_req(s, "GET", path, aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strstr(r.body, "-q8v2") == NULL && strstr(r.body, "plain-") == NULL);  /* no value */
	json_array_foreach(json_object_get(r.json, "entries"), i, e)
		if (strcmp(h_jstr(e, "outcome"), outcome) == 0 &&
		    (reason == NULL || (h_jstr(e, "reason") != NULL &&
		    strcmp(h_jstr(e, "reason"), reason) == 0)))
			n++;
	h_resp_free(&r);
	return n;
}

static void
time_fmt(long long ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void
secrets_routes(struct h_server *s, struct people *p)
{
	char v[128];
	long ver = 0;
	struct h_resp r;

	/* the first write of the data directory makes KEK "secrets" */
	CHECK(put(s, p->dev, "apps/a/db", "plain-one", NULL, &ver) == 201 && ver == 1);
	CHECK(put(s, p->dev, "apps/a/db", "plain-two", NULL, &ver) == 200 && ver == 2);
	CHECK(put(s, p->dev, "apps/a/db", "plain-lost", "If-Match: 1", NULL) == 412);
	CHECK(put(s, p->dev, "apps/b/db", "plain-lost", "If-Match: 3", NULL) == 412);
	CHECK(put(s, p->dev, "apps/a/db", "plain-three", "If-Match: 2", &ver) == 200 && ver == 3);
	CHECK(put(s, p->dev, "apps/c/db", "plain-new", "If-Match: 0", &ver) == 201 && ver == 1);
	/* the CLI writes through the same route: a version, then a lost If-Match (exit 3) */
	{
		char cmd[2048], *out = NULL;
		json_t *j;

		snprintf(cmd, sizeof(cmd), "printf 'plain-cli' | PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s "
		    "PHIVAULT_TOKEN=%s %s secret put apps/cli/db --format json", s->base, s->cacert,
		    p->dev, h_bin());
		CHECK(h_run(cmd, &out) == 0);
		CHECK((j = json_loads(out, 0, NULL)) != NULL);
		CHECK(json_integer_value(json_object_get(j, "version")) == 1);
		json_decref(j);
		free(out);
		snprintf(cmd, sizeof(cmd), "printf 'plain-cli' | PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s "
		    "PHIVAULT_TOKEN=%s %s secret put apps/cli/db --cas 7 2>&1", s->base, s->cacert,
		    p->dev, h_bin());
		CHECK(h_run(cmd, &out) == 3);
		CHECK(strstr(out, "precondition_failed") != NULL);
		free(out);
	}
	/* no secrets.write: 403, recorded by the decision point */
	CHECK(put(s, p->aud, "apps/a/db", "plain-denied", NULL, NULL) == 403);
	race(s, p);
	/* delete, a second delete (404 from change_fn), undelete with the version */
	h_expect(s, "DELETE", "/v1/secrets/apps/a/db", p->dev, NULL, NULL, 204, NULL);
	CHECK(get(s, p->dev, "apps/a/db", 0, NULL, 0) == 404);
	h_req(s, "DELETE", "/v1/secrets/apps/a/db", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	CHECK(strstr(r.body, "no such secret or version") != NULL);
	h_resp_free(&r);
	h_expect(s, "DELETE", "/v1/secrets/apps/nothing/here", p->dev, NULL, NULL, 404,
	    "not_found");
	h_req(s, "POST", "/v1/secrets/apps/a/db/undelete", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 3);
	h_resp_free(&r);
	CHECK(get(s, p->dev, "apps/a/db", 0, v, sizeof(v)) == 200 && strcmp(v, "plain-three") == 0);
	/* destroy one version: 410 after; a version past the head: 404 */
	h_req(s, "POST", "/v1/secrets/apps/a/db/versions/1/destroy", p->dev, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_true(json_object_get(r.json, "destroyed")));
	CHECK(json_integer_value(json_object_get(r.json, "version")) == 1);
	h_resp_free(&r);
	CHECK(get(s, p->dev, "apps/a/db", 1, NULL, 0) == 410);
	CHECK(get(s, p->dev, "apps/a/db", 2, v, sizeof(v)) == 200 && strcmp(v, "plain-two") == 0);
	h_expect(s, "POST", "/v1/secrets/apps/a/db/versions/9/destroy", p->dev, NULL, NULL, 404,
	    "not_found");
	h_expect(s, "POST", "/v1/secrets/apps/a/db/versions/1/destroy", p->aud, NULL, NULL, 403,
	    NULL);
}

static void
compliance_routes(struct h_server *s, struct people *p, char exc_id[64], char hash[80])
{
	char body[512], exp[40], path[160];
	struct h_resp r;

	h_req(s, "POST", "/v1/compliance/baseline", p->off, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(hash, 80, "%s", h_jstr(r.json, "hash"));
	CHECK(strlen(hash) > 10);
	h_resp_free(&r);
	time_fmt(h_clock_advance(s, 0) + 86400LL * 1000, exp, sizeof(exp));
	snprintf(body, sizeof(body), "{\"control\":\"%s\",\"reason\":\"pilot ward\",\"owner\":"
	    "\"%s\",\"expires_at\":\"%s\"}", CFR, p->off_id, exp);
	h_expect(s, "POST", "/v1/compliance/exceptions", p->admin, body, NULL, 403, "forbidden");
	h_req(s, "POST", "/v1/compliance/exceptions", p->off, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(exc_id, 64, "%s", h_jstr(r.json, "id"));
	CHECK(strncmp(exc_id, "exc_", 4) == 0);
	CHECK(strcmp(h_jstr(r.json, "state"), "live") == 0);
	h_resp_free(&r);
	/* a second one, removed below */
	h_req(s, "POST", "/v1/compliance/exceptions", p->off, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(path, sizeof(path), "/v1/compliance/exceptions/%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	h_expect(s, "DELETE", path, p->off, NULL, NULL, 204, NULL);
	h_req(s, "DELETE", path, p->off, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	CHECK(strstr(r.body, "no such exception") != NULL);
	h_resp_free(&r);
	h_req(s, "GET", "/v1/compliance/report", p->aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_array(json_object_get(r.json, "controls")));
	h_resp_free(&r);
}

static void
backup_routes(struct h_server *s, struct people *p, char job[64], char bkp[64])
{
	struct h_resp r;

	h_req(s, "POST", "/v1/sys/backups", p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, 64, "%s", h_jstr(r.json, "job"));
	snprintf(bkp, 64, "%s", h_jstr(r.json, "backup"));
	CHECK(strncmp(job, "job_", 4) == 0 && strncmp(bkp, "bkp_", 4) == 0);
	h_resp_free(&r);
	h_expect(s, "POST", "/v1/sys/backups", p->dev, NULL, NULL, 403, NULL);
	h_expect(s, "DELETE", "/v1/sys/backups/bkp_nosuchbackup", p->admin, NULL, NULL, 404,
	    "not_found");
}

/* The backup's file exists once its job is done (polled; a bound, not a timing). */
static void
job_wait(struct h_server *s, const char *tok, const char *job)
{
	char path[128], state[16] = "";

	snprintf(path, sizeof(path), "/v1/jobs/%s", job);
	for (int i = 0; i < 4000; i++) {
		struct h_resp r;

		h_req(s, "GET", path, tok, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(state, sizeof(state), "%s", h_jstr(r.json, "state"));
		h_resp_free(&r);
		if (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)
			break;
		h_pause_ms(5);
	}
	CHECK(strcmp(state, "done") == 0);
}

static void
backup_file_routes(struct h_server *s, struct people *p, const char *bkp, char drill[64])
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/sys/backups/%s/file", bkp);
	h_req(s, "GET", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "size")) > 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/sys/backups/%s", bkp);
	h_expect(s, "DELETE", path, p->admin, NULL, NULL, 409, "conflict");
	snprintf(path, sizeof(path), "/v1/sys/backups/%s/drill", bkp);
	h_req(s, "POST", path, p->admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(drill, 64, "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
}

int
main(void)
{
	struct h_server s;
	struct people p;
	struct h_resp r;
	char exc_id[64], hash[80], job[64], bkp[64], drill[64], path[160];
	long long before, mid, moved = 0;

	h_clock_enable();
	h_init(&s, "waits-secrets", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "allowed_regions", "local,eu");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, p.admin,
	    sizeof(p.admin));
	h_expect(&s, "POST", "/v1/roles", p.admin,
	    "{\"name\":\"secrets_admin\",\"permissions\":[\"secrets.read:*\",\"secrets.write:*\"]}",
	    NULL, 201, NULL);
	h_add_user(&s, p.admin, "dev", "secrets_admin", PW_USER, p.dev, sizeof(p.dev));
	h_add_user(&s, p.admin, "audra", "auditor", PW_USER, p.aud, sizeof(p.aud));
	h_add_officer(&s, p.admin, "olive", PW_OFFICER, p.off, sizeof(p.off));
	h_req(&s, "GET", "/v1/auth/session", p.off, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(p.off_id, sizeof(p.off_id), "%s", h_jstr(r.json, "user_id"));
	h_resp_free(&r);

	before = h_commit_waits(&s);
	secrets_routes(&s, &p);
	compliance_routes(&s, &p, exc_id, hash);
	backup_routes(&s, &p, job, bkp);
	moved += h_commit_waits(&s) - before;
	/* (the job's GET belongs to the jobs module: not counted here) */
	job_wait(&s, p.admin, job);
	mid = h_commit_waits(&s);
	backup_file_routes(&s, &p, bkp, drill);
	moved += h_commit_waits(&s) - mid;
	job_wait(&s, p.admin, drill);
	/* the residency refusal: a collection in another region (the vault's
	 * creation is not counted) */
	h_collection_create(&s, p.admin,
	    "{\"name\":\"eu_patients\",\"region\":\"eu\",\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");
	mid = h_commit_waits(&s);
	h_expect(&s, "POST", "/v1/sys/backups", p.admin, NULL, NULL, 403, "region_not_allowed");
	moved += h_commit_waits(&s) - mid;
	fprintf(stderr, "commit_waits_secrets: request_thread_waits moved by %lld\n", moved);
	CHECK(moved == 0);

	/* the effects: state read back */
	h_req(&s, "GET", "/v1/compliance/baseline", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "hash"), hash) == 0);
	CHECK(strcmp(h_jstr(r.json, "approved_by"), p.off_id) == 0);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/compliance/exceptions", p.aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "exceptions")) == 1);
	CHECK(strcmp(h_jstr(json_array_get(json_object_get(r.json, "exceptions"), 0), "id"),
	    exc_id) == 0);
	h_resp_free(&r);
	snprintf(path, sizeof(path), "%s/backups/%s.pvbak", s.dir, bkp);
	{
		FILE *f = fopen(path, "rb");

		CHECK(f != NULL);
		fclose(f);
	}

	/* the effects: the audit entries, allowed, denied and error */
	CHECK(entries(&s, p.aud, "secret.write", "allowed", NULL) >= 6);
	CHECK(entries(&s, p.aud, "secret.write", "denied", "precondition_failed") == 3);
	CHECK(entries(&s, p.aud, "secret.write", "denied", NULL) == 4);   /* + the 403 */
	CHECK(entries(&s, p.aud, "secret.delete", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "secret.delete", "error", NULL) == 2);   /* the two 404 */
	CHECK(entries(&s, p.aud, "secret.undelete", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "secret.destroy", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "secret.destroy", "error", NULL) == 1);
	CHECK(entries(&s, p.aud, "secret.destroy", "denied", NULL) == 1);
	CHECK(entries(&s, p.aud, "config.baseline", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "exception.create", "allowed", NULL) == 2);
	CHECK(entries(&s, p.aud, "exception.create", "denied", NULL) == 1);
	CHECK(entries(&s, p.aud, "exception.delete", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "exception.delete", "error", NULL) == 1);
	CHECK(entries(&s, p.aud, "compliance.report", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "backup.download", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "backup.delete", "denied", "immutable") == 1);
	CHECK(entries(&s, p.aud, "backup.create", "denied", "region_not_allowed") == 1);
	CHECK(entries(&s, p.aud, "backup.create", "allowed", NULL) == 1);
	CHECK(entries(&s, p.aud, "job.create", "allowed", NULL) >= 2);
	CHECK(entries(&s, p.aud, "drill.run", "allowed", NULL) == 1);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
	h_done("commit_waits_secrets");
	return 0;
}
