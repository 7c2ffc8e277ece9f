/*
 * Two phivault nodes on one PostgreSQL database (a throwaway cluster this
 * test starts, tests/pg_cluster.h), the job runner across nodes:
 *  - a keys.reencrypt job run with both nodes alive moves every record
 *    once: done == total == N, the old version's census 0, the new one's N;
 *    exactly one lease was taken for it (phivault_jobs_leases_total summed
 *    over both nodes) and only the node that took it committed steps
 *    (phivault_jobs_steps_total of the other node unchanged), though the
 *    other node's runner looked for work before every rate window
 *    (phivault_jobs_scans_total): no step ran on two nodes;
 *  - one node killed (SIGKILL) under load: a child process keeps sending
 *    requests to the survivor while the other dies; not one of them fails.
 *    A test.count job leased by the dead node stays where it was until its
 *    lease expires on the survivor's (injectable) clock (the survivor's
 *    runner looks three times 20 s on and leaves it), then the survivor
 *    takes it over and finishes it; the job's own trail (each step appends
 *    its item to a meta value in the step's transaction) is exactly
 *    0..n-1: no item done twice, none lost;
 *  - afterwards the combined audit chain of both nodes verifies.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../pg_cluster.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define N_REC 300
#define N_COUNT 300
#define KEY "collection:patients"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static struct pg_cluster pgc;
static struct h_server na, nb;   /* static: the harness keeps pointers */
static unsigned mport_a, mport_b;
static char url[256];

static void
cluster_cleanup(void)
{
	pg_cluster_stop(&pgc);
}

/* One value from the database (psql -At), malloc'd, trailing newline cut. */
static char *
sql_value(const char *sql)
{
	char cmd[1024], *out = NULL;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s/psql -X -At -d '%s' -c \"%s\"", PG_CLUSTER_BIN, url, sql);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(out != NULL);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return out;
}

static double
metric(unsigned port, const char *sample)
{
	double v = h_metric_value(port, sample);

	return v < 0 ? 0 : v;   /* a counter not yet counted is absent */
}

#define LEASES(kind) "phivault_jobs_leases_total{kind=\"" kind "\"}"
#define STEPS(kind) "phivault_jobs_steps_total{kind=\"" kind "\"}"
#define SCANS "phivault_jobs_scans_total"

/* Until the idle runner of the node with metrics on port has looked for a
 * runnable job n more times (it looks every second, or when kicked). */
static void
wait_scans(unsigned port, int n)
{
	double s0 = metric(port, SCANS);

	for (int i = 0; i < 4000 && metric(port, SCANS) < s0 + n; i++)
		h_pause_ms(3);
	CHECK(metric(port, SCANS) >= s0 + n);
}

static void
set_node(struct h_server *s, const char *name, unsigned *mport)
{
	char cmd[1200], mlisten[64];

	snprintf(cmd, sizeof(cmd), "sed -i '/^\\[server\\]/a node = %s' %s/phivault.conf", name,
	    s->dir);
	CHECK(h_run(cmd, NULL) == 0);
	*mport = h_free_port();
	snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%u", *mport);
	h_config_set_in(s, "metrics", "listen", mlisten);
	/* a long lease, so the node_death check has room on a loaded machine */
	h_config_set_in(s, "server", "jobs_lease_s", "120");
}

static long long
job_get(struct h_server *s, const char *tok, const char *id, char st[16], long long *total)
{
	char path[128];
	struct h_resp r;
	long long done;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	snprintf(st, 16, "%s", h_jstr(r.json, "state"));
	done = json_integer_value(json_object_get(r.json, "done"));
	if (total != NULL)
		*total = json_integer_value(json_object_get(r.json, "total"));
	h_resp_free(&r);
	return done;
}

static void
key_census(struct h_server *s, const char *tok, int v, long long *objects)
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;

	*objects = -1;
	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), KEY) != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver)
			if (json_integer_value(json_object_get(ver, "version")) == v)
				*objects = json_integer_value(json_object_get(ver, "objects"));
	}
	h_resp_free(&r);
	CHECK(*objects >= 0);
}

/* Both nodes' clocks moved together: a lease one node wrote stays as long
 * on the other's clock. */
static void
clocks_advance(long long ms)
{
	h_clock_advance(&na, ms);
	h_clock_advance(&nb, ms);
}

/* 1a: a re-encryption with both runners alive. */
static void
reencrypt_both_alive(const char *admin, const char *kay, const char *clin_a,
    const char *clin_b)
{
	double leases0 = 0, leases1, steps_a0, steps_b0, steps_a1, steps_b1;
	char id[64], job[64], st[16], sql[200], *owner;
	long long done = 0, last = -1, total = 0, n;
	double scans0;
	unsigned other;
	struct h_resp r;

	for (int i = 0; i < N_REC; i++) {
		struct h_server *s = i % 2 ? &nb : &na;

		h_req(s, "POST", "/v1/collections/patients/records", i % 2 ? clin_b : clin_a,
		    "{\"name\":\"Seeded Patient\"}", NULL, &r);
		CHECK_STATUS(&r, 201);
		snprintf(id, sizeof(id), "%s", h_jstr(r.json, "id"));
		h_resp_free(&r);
	}
	key_census(&nb, kay, 1, &n);
	CHECK(n == N_REC);
	h_req(&na, "POST", "/v1/keys/" KEY "/rotate", kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	leases0 = metric(mport_a, LEASES("keys.reencrypt")) +
	    metric(mport_b, LEASES("keys.reencrypt"));
	steps_a0 = metric(mport_a, STEPS("keys.reencrypt"));
	steps_b0 = metric(mport_b, STEPS("keys.reencrypt"));
	/* 60 records a second: five rate windows, each moved on only after the
	 * other node's runner looked again */
	h_req(&na, "POST", "/v1/keys/" KEY "/reencrypt", kay,
	    "{\"mode\":\"rewrap_dek\",\"max_rps\":60}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	/* the node that leased it, and the other one's runner */
	for (int i = 0; i < 20000; i++) {
		(void)job_get(&na, admin, job, st, NULL);
		if (strcmp(st, "queued") != 0)
			break;
		h_pause_ms(2);
	}
	snprintf(sql, sizeof(sql), "SELECT lease_owner FROM jobs WHERE id = '%s'", job);
	owner = sql_value(sql);
	CHECK(strcmp(owner, "node-a") == 0 || strcmp(owner, "node-b") == 0);
	other = strcmp(owner, "node-a") == 0 ? mport_b : mport_a;
	free(owner);
	scans0 = metric(other, SCANS);
	for (int i = 0; i < 20000; i++) {
		done = job_get(i % 2 ? &nb : &na, admin, job, st, &total);
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			break;
		if (done == last) {
			/* before the next rate window the other node's runner looks
			 * for a runnable job once more: were the lease not kept, it
			 * would take this one there */
			wait_scans(other, 1);
			clocks_advance(1000);   /* the next window, on both nodes */
		}
		last = done;
		h_pause_ms(3);
	}
	CHECK(strcmp(st, "done") == 0);
	fprintf(stderr, "postgres_nodes: the other runner looked %.0f times\n",
	    metric(other, SCANS) - scans0);
	CHECK(metric(other, SCANS) - scans0 >= N_REC / 60 - 1);   /* between windows */
	done = job_get(&nb, admin, job, st, &total);
	fprintf(stderr, "postgres_nodes: reencrypt done=%lld total=%lld\n", done, total);
	CHECK(done == N_REC);
	CHECK(total == N_REC);
	key_census(&na, kay, 1, &n);
	CHECK(n == 0);
	key_census(&nb, kay, 2, &n);
	CHECK(n == N_REC);
	/* one lease for the whole job; the other node never stepped it */
	leases1 = metric(mport_a, LEASES("keys.reencrypt")) +
	    metric(mport_b, LEASES("keys.reencrypt"));
	steps_a1 = metric(mport_a, STEPS("keys.reencrypt"));
	steps_b1 = metric(mport_b, STEPS("keys.reencrypt"));
	fprintf(stderr, "postgres_nodes: leases %.0f, steps A %.0f B %.0f\n", leases1 - leases0,
	    steps_a1 - steps_a0, steps_b1 - steps_b0);
	CHECK(leases1 - leases0 == 1);
	CHECK((steps_a1 - steps_a0 == 0) != (steps_b1 - steps_b0 == 0));
	CHECK(steps_a1 - steps_a0 + steps_b1 - steps_b0 >= N_REC / 60);
	/* every record reads back on both nodes' view: spot check the last */
	{
		char path[160];

		snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
		h_req(&na, "GET", path, clin_a, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
}

/* 1b: the load a child process sends to the survivor while the other node
 * dies: GETs of one record; exit status = number of failures (capped).
 * Returns once the child has had LOAD_UNDERWAY answers, so the kill that
 * follows lands in the middle of the load, not before it. */
#define LOAD_UNDERWAY 10
static pid_t
load_start(struct h_server *s, const char *tok, const char *path, int n)
{
	int fds[2];
	char c;
	pid_t pid;

	CHECK(n > LOAD_UNDERWAY && pipe(fds) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fails = 0;

		close(fds[0]);
		for (int i = 0; i < n; i++) {
			struct h_resp r;

			h_req(s, "GET", path, tok, NULL, TREAT, &r);
			if (r.status != 200) {
				fprintf(stderr, "postgres_nodes: request %d to the survivor: %ld %s\n",
				    i, r.status, h_err_code(&r));
				fails++;
			}
			h_resp_free(&r);
			if (i + 1 == LOAD_UNDERWAY && write(fds[1], "x", 1) != 1)
				_exit(100);
		}
		_exit(fails > 100 ? 100 : fails);
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1);   /* the load is under way */
	close(fds[0]);
	return pid;
}

static void
node_death(const char *admin_a, const char *admin_b, const char *clin_a, const char *clin_b)
{
	char job[64], st[16], owner_sql[200], *owner, *lines, want[4096];
	struct h_server *victim, *surv;
	const char *admin_s, *clin_s;
	unsigned mport_s;
	double leases_s;
	long long done, done_at_kill, total, lease_end, now_s;
	struct h_resp r;
	char rid[64], path[160];
	pid_t load;
	int status;
	size_t o = 0;

	h_req(&na, "POST", "/v1/collections/patients/records", clin_a,
	    "{\"name\":\"Load Patient\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(rid, sizeof(rid), "%s", h_jstr(r.json, "id"));
	h_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", rid);

	h_req(&na, "POST", "/v1/test/jobs", admin_a, "{\"n\":" "300" "}", NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(job, sizeof(job), "%s", h_jstr(r.json, "job"));
	h_resp_free(&r);
	/* wait until it runs and has done some items */
	for (int i = 0; i < 20000; i++) {
		done = job_get(&na, admin_a, job, st, NULL);
		if (done >= 20 || strcmp(st, "done") == 0)
			break;
		h_pause_ms(2);
	}
	CHECK(strcmp(st, "running") == 0);
	/* the node that holds the lease dies; the other one survives */
	snprintf(owner_sql, sizeof(owner_sql), "SELECT lease_owner FROM jobs WHERE id = '%s'", job);
	owner = sql_value(owner_sql);
	fprintf(stderr, "postgres_nodes: %s leased by %s\n", job, owner);
	CHECK(strcmp(owner, "node-a") == 0 || strcmp(owner, "node-b") == 0);
	victim = strcmp(owner, "node-a") == 0 ? &na : &nb;
	surv = victim == &na ? &nb : &na;
	admin_s = victim == &na ? admin_b : admin_a;
	clin_s = victim == &na ? clin_b : clin_a;
	mport_s = victim == &na ? mport_b : mport_a;
	free(owner);
	leases_s = metric(mport_s, LEASES("test.count"));

	/* load on both nodes, then on the survivor from a child process while
	 * the other is killed */
	for (int i = 0; i < 20; i++) {
		h_req(i % 2 ? victim : surv, "GET", path, i % 2 ? (victim == &na ? clin_a : clin_b) :
		    clin_s, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	load = load_start(surv, clin_s, path, 200);
	CHECK(kill(victim->pid, SIGKILL) == 0);
	CHECK(waitpid(victim->pid, &status, 0) == victim->pid);
	victim->pid = 0;
	CHECK(waitpid(load, &status, 0) == load);
	CHECK(WIFEXITED(status));
	fprintf(stderr, "postgres_nodes: %d failed requests to the survivor\n",
	    WEXITSTATUS(status));
	CHECK(WEXITSTATUS(status) == 0);
	/* writes keep working on the survivor too */
	for (int i = 0; i < 20; i++) {
		h_req(surv, "POST", "/v1/collections/patients/records", clin_s,
		    "{\"name\":\"After Death\"}", NULL, &r);
		CHECK_STATUS(&r, 201);
		h_resp_free(&r);
	}

	/* the job stays where the dead node left it while its lease lasts
	 * ([server] jobs_lease_s = 120, set_node): up to 15 s before the lease
	 * ends on the survivor's clock, the survivor's runner (it looks every
	 * second) keeps off it through several of its looks */
	done_at_kill = job_get(surv, admin_s, job, st, NULL);
	CHECK(strcmp(st, "running") == 0);
	/* how far to move: to 15 s before the lease the dead node last wrote
	 * expires, read from the row, not a fixed 20 s: under load the load
	 * phase above can itself take more than 10 s of real time, which a
	 * fixed step would add to the survivor's clock past the lease */
	snprintf(owner_sql, sizeof(owner_sql),
	    "SELECT lease_expires_ms FROM jobs WHERE id = '%s'", job);
	owner = sql_value(owner_sql);
	lease_end = atoll(owner);
	free(owner);
	owner = NULL;
	now_s = h_clock_advance(surv, 0);
	fprintf(stderr, "postgres_nodes: lease ends in %lld ms on the survivor's clock\n",
	    lease_end - now_s);
	CHECK(lease_end - now_s > 15000);
	h_clock_advance(surv, lease_end - now_s - 15000);
	for (int i = 0; i < 3; i++) {
		wait_scans(mport_s, 1);
		CHECK(job_get(surv, admin_s, job, st, NULL) == done_at_kill);
		CHECK(strcmp(st, "running") == 0);
	}
	CHECK(metric(mport_s, LEASES("test.count")) == leases_s);
	/* past the lease on the survivor's clock: it takes the job over */
	h_clock_advance(surv, 16000);
	for (int i = 0; i < 30000; i++) {
		done = job_get(surv, admin_s, job, st, &total);
		if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0)
			break;
		h_pause_ms(3);
	}
	fprintf(stderr, "postgres_nodes: killed at done=%lld, finished %s done=%lld\n",
	    done_at_kill, st, done);
	CHECK(strcmp(st, "done") == 0);
	CHECK(done == N_COUNT);
	CHECK(metric(mport_s, LEASES("test.count")) == leases_s + 1);
	snprintf(owner_sql, sizeof(owner_sql),
	    "SELECT convert_from(value, 'UTF8') FROM meta WHERE key = 'test.count/%s'", job);
	lines = sql_value(owner_sql);
	for (int i = 0; i < N_COUNT; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%d\n", i);
	/* (psql printed the value, whose last line ends in a newline, and its
	 * own row end, which sql_value cut) */
	if (strcmp(lines, want) != 0)
		fprintf(stderr, "postgres_nodes: the job's items: %s\n", lines);
	CHECK(strcmp(lines, want) == 0);   /* each item once, none lost */
	free(lines);
	CHECK(h_stop(surv) == 0);
	/* 1c: both nodes' entries, the dead one's too: one chain */
	{
		char cmd[1024], *out = NULL;

		snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), surv->dir);
		if (h_run(cmd, &out) != 0)
			fprintf(stderr, "audit verify: %s\n", out != NULL ? out : "");
		CHECK(h_run(cmd, NULL) == 0);
		free(out);
	}
}

int
main(void)
{
	char err[512], parent[512], cmd[1600], admin_a[128], admin_b[128], kay[128];
	char clin_a[128], clin_b[128];
	const char *otp;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pg_cluster_start(&pgc, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_postgres_nodes: cannot start the PostgreSQL test cluster: %s\n",
		    err);
		pg_cluster_stop(&pgc);
		return 1;
	}
	atexit(cluster_cleanup);
	CHECK(pg_cluster_createdb(&pgc, "phivault") == 0);
	pg_cluster_url(&pgc, "phivault", url, sizeof(url));
	h_clock_enable();

	/* node A: init (SQLite), the store settings, the first serve moves it */
	h_init(&na, "postgres-nodes", NULL);
	h_config_set(&na, "mfa_required", "off");
	h_config_set_in(&na, "store", "backend", "postgres");
	h_config_set_in(&na, "store", "url", url);
	set_node(&na, "node-a", &mport_a);
	h_start(&na, "--dev");
	otp = json_string_value(json_object_get(na.init, "admin_password"));
	CHECK(otp != NULL);
	h_login_fresh(&na, "admin", otp, PW_ADMIN, admin_a, sizeof(admin_a));
	h_add_user(&na, admin_a, "clara", "clinician", PW_USER, clin_a, sizeof(clin_a));
	h_add_user(&na, admin_a, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_collection_create(&na, admin_a,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");

	/* node B: a copy of A's data directory (seal material, config), its own
	 * name, port, metrics port and lock */
	nb = na;
	nb.pid = 0;
	h_tmpdir("postgres-nodes-b", parent, sizeof(parent));
	snprintf(nb.dir, sizeof(nb.dir), "%s/data", parent);
	snprintf(nb.log, sizeof(nb.log), "%s/server.log", parent);
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/ && rm -f %s/*.lock && "
	    "sed -i '/^node = node-a$/d' %s/phivault.conf", na.dir, nb.dir, nb.dir, nb.dir);
	CHECK(h_run(cmd, NULL) == 0);
	set_node(&nb, "node-b", &mport_b);
	h_start(&nb, "--dev");
	h_login(&nb, "admin", PW_ADMIN, admin_b, sizeof(admin_b));
	h_login(&nb, "clara", PW_USER, clin_b, sizeof(clin_b));
	/* the clocks start together: both at real time plus the same moves */
	{
		long long ta = h_clock_advance(&na, 0), tb = h_clock_advance(&nb, 0);

		if (ta > tb)
			h_clock_advance(&nb, ta - tb);
		else if (tb > ta)
			h_clock_advance(&na, tb - ta);
	}

	reencrypt_both_alive(admin_a, kay, clin_a, clin_b);
	node_death(admin_a, admin_b, clin_a, clin_b);
	if (na.pid != 0)
		CHECK(h_stop(&na) == 0);
	if (nb.pid != 0)
		CHECK(h_stop(&nb) == 0);
	json_decref(na.init);
	pg_cluster_stop(&pgc);
	h_done("postgres_nodes");
	return 0;
}
