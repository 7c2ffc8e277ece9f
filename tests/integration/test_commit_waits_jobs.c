/*
 * The jobs routes answer without a waiting thread (issue 9 item 4), on an
 * epoll pool of two threads ([server] threads = 2): queueing a job
 * (POST /v1/test/jobs, the enqueue every job-making route shares:
 * re-encryption, retention, exports, incidents, backups), pause, resume and
 * cancel, and their refusals (409 job_conflict for a change that does not
 * apply, 404 for an unknown job), leave GET /v1/test/commit-waits'
 * request_thread_waits where it was, while each answer still says what the
 * commit did: the state read back in the change's own transaction, and the
 * job.create / job.pause / job.resume / job.cancel entries in the trail.
 * Then, with every group held at its COMMIT (fault "hold:tx_commit"), a
 * pause on a pool of ONE thread waits suspended while health is answered,
 * and completes once released.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void
enqueue(struct h_server *s, const char *tok, char id[64])
{
	struct h_resp r;

	/* one step a second at most: the job is still running when changed */
	h_req(s, "POST", "/v1/test/jobs", tok, "{\"n\":1000000}", NULL, &r);
	CHECK_STATUS(&r, 202);
	CHECK(h_jstr(r.json, "job") != NULL && strncmp(h_jstr(r.json, "job"), "job_", 4) == 0);
	snprintf(id, 64, "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
}

/* POST /v1/jobs/{id}/{verb}: status, code and (200) the state answered */
static void
change(struct h_server *s, const char *tok, const char *id, const char *verb, int status,
    const char *code, const char *state)
{
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/jobs/%s/%s", id, verb);
	h_req(s, "POST", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL)
		CHECK(strcmp(h_err_code(&r), code) == 0);
	if (state != NULL) {
		CHECK(strcmp(h_jstr(r.json, "id"), id) == 0);
		CHECK(strcmp(h_jstr(r.json, "state"), state) == 0);
	}
	h_resp_free(&r);
}

static void
test_job_routes_do_not_wait(void)
{
	struct h_server s;
	char admin[256], id[64], cmd[900], *out = NULL;
	long long w0;

	h_init(&s, "waits-jobs", NULL);
	h_config_set(&s, "threads", "2");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "jobs_max_steps_per_s", "1");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    admin, sizeof(admin));

	w0 = h_commit_waits_field(&s, "request_thread_waits");
	enqueue(&s, admin, id);
	/* the answer left after the row's commit: the job is there */
	change(&s, admin, id, "pause", 200, NULL, "paused");
	change(&s, admin, id, "pause", 409, "job_conflict", NULL);
	change(&s, admin, id, "resume", 200, NULL, "queued");
	change(&s, admin, id, "resume", 409, "job_conflict", NULL);
	change(&s, admin, id, "cancel", 200, NULL, "cancelled");
	change(&s, admin, id, "cancel", 409, "job_conflict", NULL);
	change(&s, admin, "job_aaaaaaaaaaaaaaaaaaaaaaaaaa", "pause", 404, "not_found", NULL);
	CHECK(h_commit_waits_field(&s, "request_thread_waits") == w0);
	CHECK(h_commit_waits_field(&s, "suspended") == 0);
	CHECK(h_stop(&s) == 0);

	/* every change is in the trail, the refused ones as errors */
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl 2>&1", h_bin(), s.dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(out != NULL && strstr(out, "\"job.create\"") != NULL);
	CHECK(strstr(out, "\"job.pause\"") != NULL && strstr(out, "\"job.resume\"") != NULL &&
	    strstr(out, "\"job.cancel\"") != NULL);
	CHECK(strstr(out, "\"job_conflict\"") != NULL);
	free(out);
	json_decref(s.init);
}

struct bg_change {
	struct h_server *s;
	const char *tok, *id;
	int status;
};

static void *
bg_pause(void *p)
{
	struct bg_change *b = p;
	char path[160];
	struct h_resp r;

	snprintf(path, sizeof(path), "/v1/jobs/%s/pause", b->id);
	h_req(b->s, "POST", path, b->tok, NULL, NULL, &r);
	b->status = r.status;
	h_resp_free(&r);
	return NULL;
}

static void
test_held_pause_frees_the_thread(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[256], id[64], fault[700], cmd[800];
	struct bg_change b;
	pthread_t t;
	FILE *f;
	int i;

	h_init(&s, "waits-jobs-held", NULL);
	snprintf(fault, sizeof(fault), "%s/fault", s.dir);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by the server */
	h_config_set(&s, "threads", "1");
	h_config_set(&s, "mfa_required", "off");
	h_config_set(&s, "jobs_max_steps_per_s", "1");
	h_start(&s, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), "rooted blue mountain 4417",
	    admin, sizeof(admin));
	enqueue(&s, admin, id);

	CHECK((f = fopen(fault, "w")) != NULL);
	fputs("hold:tx_commit\n", f);
	fclose(f);
	b = (struct bg_change){ &s, admin, id, 0 };
	CHECK(pthread_create(&t, NULL, bg_pause, &b) == 0);
	for (i = 0; i < 6000 && h_commit_waits_field(&s, "suspended") < 1; i++)
		h_pause_ms(5);
	CHECK(h_commit_waits_field(&s, "suspended") >= 1);
	/* the only pool thread is free while the pause waits for its group */
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	CHECK(b.status == 0);
	snprintf(cmd, sizeof(cmd), "rm -f '%s'", fault);
	CHECK(system(cmd) == 0);
	pthread_join(t, NULL);
	CHECK(b.status == 200);
	change(&s, admin, id, "resume", 200, NULL, "queued");
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	test_job_routes_do_not_wait();
	test_held_pause_frees_the_thread();
	h_done("commit_waits_jobs");
	return 0;
}
