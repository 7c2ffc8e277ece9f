/*
 * Serving on PostgreSQL ([store] backend = postgres), end to end on the real
 * binary and a throwaway cluster this test starts (tests/pg_cluster.h):
 *  - init writes its SQLite store; [store] backend/url set afterwards; the
 *    first serve migrates PostgreSQL and moves what init wrote there
 *    (keyring, bootstrap admin, audit genesis): the admin's one-time
 *    password from init works, phivault.db is renamed away;
 *  - users, a collection and records over HTTPS, read back;
 *  - `phivault audit verify --data DIR` verifies the PostgreSQL trail;
 *  - pg_dump of the whole database holds no record field value, in clear
 *    or hex (bytea), nor the admin's password;
 *  - the database stopped mid-load: 503 `unavailable` or
 *    `audit_unavailable` (never a 500, never the record without its audit
 *    entry); it comes back by itself when the database is restarted, and
 *    the chain still verifies;
 *  - a second serve (a restart) finds the data there and moves nothing;
 *  - two nodes: create on one, read on the other; a user disabled on A is
 *    refused on B, B answering from the epoch its listener heard (NOTIFY)
 *    without reading the row (phivault_store_epoch_row_reads_total still);
 *    the listener's connection terminated (pg_terminate_backend) and kept
 *    down (fault file): B reads the row per request and is still right;
 *    it reconnects by itself once it may; a KEK version revoked on A is
 *    unreadable on B at once (410 key_revoked), B's cached key dropped.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "../pg_cluster.h"

#define NAME1 "Bartholomew Zinkwhistle"
#define SSN1 "231-54-7788"
#define NAME2 "Griselda Moonquartz"
#define DOB2 "1947-11-30"

static const char *const needles[] = {
	"Bartholomew", "Zinkwhistle", SSN1, "231547788", "Griselda", "Moonquartz", DOB2, NULL
};

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static struct pg_cluster pgc;

static void
hex_of(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 < cap; s++)
		o += (size_t)snprintf(out + o, cap - o, "%02x", (unsigned char)*s);
	out[o] = '\0';
}

/* Everything the database holds, as pg_dump prints it (bytea in hex). */
static void
assert_dump_clean(const char *extra_needle)
{
	char cmd[512], hex[256], url[256], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s/pg_dump --data-only --no-owner '%s'", PG_CLUSTER_BIN,
	    pg_cluster_url(&pgc, "phivault", url, sizeof(url)));
	CHECK(h_run(cmd, &out) == 0);
	CHECK(out != NULL && strstr(out, "COPY public.records") != NULL);   /* it has the data */
	CHECK(strstr(out, "COPY public.audit") != NULL);
	for (size_t i = 0; needles[i] != NULL; i++) {
		hex_of(needles[i], hex, sizeof(hex));
		if (strstr(out, needles[i]) != NULL || strstr(out, hex) != NULL)
			fprintf(stderr, "plaintext %s found in the PostgreSQL dump\n", needles[i]);
		CHECK(strstr(out, needles[i]) == NULL);
		CHECK(strstr(out, hex) == NULL);
	}
	if (extra_needle != NULL) {
		hex_of(extra_needle, hex, sizeof(hex));
		CHECK(strstr(out, extra_needle) == NULL);
		CHECK(strstr(out, hex) == NULL);
	}
	free(out);
}

static void
audit_verify_ok(struct h_server *s)
{
	char cmd[1024], *out = NULL;

	snprintf(cmd, sizeof(cmd), "%s audit verify --data %s 2>&1", h_bin(), s->dir);
	if (h_run(cmd, &out) != 0)
		fprintf(stderr, "audit verify: %s\n", out != NULL ? out : "");
	CHECK(h_run(cmd, NULL) == 0);
	free(out);
}

static void
create_record(struct h_server *s, const char *token, const char *body, char *id, size_t len)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/collections/patients/records", token, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(id, len, "%s", json_string_value(json_object_get(r.json, "id")));
	CHECK(strncmp(id, "rec_", 4) == 0);
	h_resp_free(&r);
}

static const char *
field(struct h_resp *r, const char *name)
{
	return json_string_value(json_object_get(json_object_get(r->json, "fields"), name));
}

/* A request while the database is down: a 503 with a stable code, never
 * a 500, never a record field. */
static void
expect_down(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body)
{
	struct h_resp r;
	const char *code;

	h_req(s, method, path, token, body, TREAT, &r);
	CHECK_STATUS(&r, 503);
	code = h_err_code(&r);
	CHECK(code != NULL && (strcmp(code, "unavailable") == 0 ||
	    strcmp(code, "audit_unavailable") == 0));
	for (size_t i = 0; needles[i] != NULL; i++)
		CHECK(r.body == NULL || strstr(r.body, needles[i]) == NULL);
	CHECK(json_object_get(r.json, "fields") == NULL);
	h_resp_free(&r);
}

/* Poll a sample of a [metrics] listen listener until it equals want (a few
 * ms between looks, bounded); its last value. */
static double
metric_wait(unsigned port, const char *sample, double want)
{
	double v = -1;

	for (int i = 0; i < 4000; i++) {
		if ((v = h_metric_value(port, sample)) == want)
			break;
		usleep(5000);
	}
	return v;
}

/* A user made on A, logged in on B (so B has the session cached), disabled
 * on A: B's next request with that session is refused. With mport, B's
 * listener is up: a NOTIFY is delivered asynchronously (A answers once its
 * own listener heard it; B's may be a scheduling slice behind on a loaded
 * machine), so B's request waits until B's listener counted one more
 * notification (docs/scaling.md: the window is the delivery time). */
static void
disabled_on_a_refused_on_b(struct h_server *a, struct h_server *b, const char *admin,
    const char *name, const char *path_a, unsigned mport)
{
	char uid[64], otp[64], tok[128], upath[160];
	struct h_resp r;
	double notes = 0;

	h_user_create(a, admin, name, "clinician", NULL, uid, sizeof(uid), otp, sizeof(otp));
	h_login_fresh(b, name, otp, PW_USER, tok, sizeof(tok));
	h_req(b, "GET", path_a, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);   /* B has her session cached now */
	h_resp_free(&r);
	snprintf(upath, sizeof(upath), "/v1/users/%s/disable", uid);
	if (mport != 0)
		notes = h_metric_value(mport, "phivault_store_epoch_notifications_total");
	h_req(a, "POST", upath, admin, NULL, NULL, &r);
	CHECK(r.status == 200 || r.status == 204);
	h_resp_free(&r);
	for (int i = 0; mport != 0 && i < 2000; i++) {
		if (h_metric_value(mport, "phivault_store_epoch_notifications_total") > notes)
			break;
		usleep(1000);
	}
	h_req(b, "GET", path_a, tok, NULL, TREAT, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strstr(r.body, NAME1) == NULL);
	h_resp_free(&r);
}

/* A second node: a data directory with the same phivault.conf store
 * settings and seal material (a copy of the first's, whose phivault.db was
 * moved), its own port and lock. Create on one, read on the other, in turns;
 * the trail both write stays one verifiable chain. */
static void
two_nodes(struct h_server *a, const char *admin, const char *clin, const char *path_a)
{
	static struct h_server b;
	char parent[512], cmd[1600], id[64], path[160], tok_b[128], mlisten[64], fault[600];
	double reads, notes, reconn;
	unsigned mport;
	struct h_resp r;

	b = *a;   /* static: the harness keeps a pointer to a started server */
	h_tmpdir("postgres-b", parent, sizeof(parent));
	snprintf(b.dir, sizeof(b.dir), "%s/data", parent);
	snprintf(b.log, sizeof(b.log), "%s/server.log", parent);
	snprintf(cmd, sizeof(cmd), "cp -a %s/. %s/ && rm -f %s/*.lock", a->dir, b.dir, b.dir);
	CHECK(h_run(cmd, NULL) == 0);
	/* its own name: the lease owner of its jobs, shown by health */
	snprintf(cmd, sizeof(cmd), "sed -i '/^\\[server\\]/a node = node-b' %s/phivault.conf", b.dir);
	CHECK(h_run(cmd, NULL) == 0);
	/* its metrics on a port of its own (the epoch listener's state) */
	mport = h_free_port();
	snprintf(mlisten, sizeof(mlisten), "127.0.0.1:%u", mport);
	h_config_set_in(&b, "metrics", "listen", mlisten);
	/* a fault file only B reads (test builds): "epoch_listen" in it keeps
	 * B's listener from reconnecting */
	snprintf(fault, sizeof(fault), "%s/fault", parent);
	CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);   /* inherited by B */
	h_start(&b, "--dev");
	unsetenv("PHIVAULT_FAULT_FILE");
	h_req(&b, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "node"), "node-b") == 0);
	h_resp_free(&r);
	h_req(a, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(h_jstr(r.json, "node"), "node-b") != 0);
	h_resp_free(&r);
	/* the session made on A works on B: one vault */
	h_req(&b, "GET", path_a, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	h_resp_free(&r);
	h_login(&b, "clara", PW_USER, tok_b, sizeof(tok_b));
	for (int i = 0; i < 6; i++) {
		struct h_server *w = i % 2 ? &b : a, *rd = i % 2 ? a : &b;

		create_record(w, i % 2 ? tok_b : clin, "{\"name\":\"" NAME2 "\"}", id, sizeof(id));
		snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
		h_req(rd, "GET", path, i % 2 ? clin : tok_b, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		CHECK(strcmp(field(&r, "name"), NAME2) == 0);
		h_resp_free(&r);
	}
	/* a user disabled through A is refused on B's very next request (the
	 * access epoch moved in the disabling transaction and NOTIFYed B's
	 * listener): B answers from the epoch it heard, without reading the row */
	CHECK(metric_wait(mport, "phivault_store_epoch_listener_up", 1) == 1);
	reads = h_metric_value(mport, "phivault_store_epoch_row_reads_total");
	notes = h_metric_value(mport, "phivault_store_epoch_notifications_total");
	CHECK(reads >= 0 && notes >= 0);
	disabled_on_a_refused_on_b(a, &b, admin, "dora", path_a, mport);
	CHECK(h_metric_value(mport, "phivault_store_epoch_row_reads_total") == reads);
	CHECK(h_metric_value(mport, "phivault_store_epoch_notifications_total") > notes);
	/* the listener's connection terminated by the database and kept from
	 * coming back (fault file): B reads the row on every request and is
	 * still right */
	snprintf(cmd, sizeof(cmd), "echo epoch_listen > %s", fault);
	CHECK(h_run(cmd, NULL) == 0);
	CHECK(pg_cluster_sql(&pgc, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE application_name = 'phivault-listener'") == 0);
	CHECK(metric_wait(mport, "phivault_store_epoch_listener_up", 0) == 0);
	reads = h_metric_value(mport, "phivault_store_epoch_row_reads_total");
	disabled_on_a_refused_on_b(a, &b, admin, "edna", path_a, 0);
	CHECK(h_metric_value(mport, "phivault_store_epoch_row_reads_total") > reads);
	/* ... and once it may, it reconnects by itself (backoff) */
	reconn = h_metric_value(mport, "phivault_store_epoch_listener_reconnects_total");
	CHECK(reconn >= 1);
	CHECK(unlink(fault) == 0);
	CHECK(metric_wait(mport, "phivault_store_epoch_listener_up", 1) == 1);
	CHECK(h_metric_value(mport, "phivault_store_epoch_listener_reconnects_total") > reconn);
	reads = h_metric_value(mport, "phivault_store_epoch_row_reads_total");
	disabled_on_a_refused_on_b(a, &b, admin, "fern", path_a, mport);
	CHECK(h_metric_value(mport, "phivault_store_epoch_row_reads_total") == reads);
	/* a KEK version revoked through A is unreadable on B at once, though B
	 * had it cached (it just read a record under it): the epoch move drops
	 * B's unwrapped keys (keys_access_changed) */
	{
		char kay[128], rid[64], rpath[160];

		h_add_user(a, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
		create_record(a, clin, "{\"name\":\"" NAME2 "\"}", rid, sizeof(rid));
		snprintf(rpath, sizeof(rpath), "/v1/collections/patients/records/%s", rid);
		h_req(&b, "GET", rpath, tok_b, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
		h_req(a, "POST", "/v1/keys/collection:patients/rotate", kay, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
		notes = h_metric_value(mport, "phivault_store_epoch_notifications_total");
		h_req(a, "POST", "/v1/keys/collection:patients/versions/1/revoke", kay,
		    "{\"confirm\":\"collection:patients:1\"}", NULL, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
		for (int i = 0; i < 2000; i++) {   /* delivery is asynchronous (above) */
			if (h_metric_value(mport, "phivault_store_epoch_notifications_total") > notes)
				break;
			usleep(1000);
		}
		h_req(&b, "GET", rpath, tok_b, NULL, TREAT, &r);
		CHECK_STATUS(&r, 410);
		CHECK(strcmp(h_err_code(&r), "key_revoked") == 0);
		CHECK(strstr(r.body, NAME2) == NULL);
		h_resp_free(&r);
	}
	CHECK(h_stop(&b) == 0);
	audit_verify_ok(a);          /* both nodes' entries: one chain */
	assert_dump_clean(NULL);
}

/* A failed CHECK exits (h_fail): the cluster goes with the process. */
static void
cluster_cleanup(void)
{
	pg_cluster_stop(&pgc);
}

int
main(void)
{
	struct h_server s;
	char err[512], url[256], admin[128], clin[128], id1[64], id2[64], path[160];
	char moved[700], db[700];
	const char *otp;
	struct h_resp r;
	struct stat sb;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pg_cluster_start(&pgc, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_postgres: cannot start the PostgreSQL test cluster: %s\n", err);
		pg_cluster_stop(&pgc);
		return 1;
	}
	atexit(cluster_cleanup);
	CHECK(pg_cluster_createdb(&pgc, "phivault") == 0);

	/* init (SQLite), then the store settings, then the first serve */
	h_init(&s, "postgres", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_config_set_in(&s, "store", "backend", "postgres");
	h_config_set_in(&s, "store", "epoch", "notify");   /* B copies it */
	h_config_set_in(&s, "store", "url", pg_cluster_url(&pgc, "phivault", url, sizeof(url)));
	h_start(&s, "--dev");
	snprintf(db, sizeof(db), "%s/phivault.db", s.dir);
	snprintf(moved, sizeof(moved), "%s/phivault.db.moved-to-postgres", s.dir);
	CHECK(stat(db, &sb) != 0);        /* no longer the vault */
	CHECK(stat(moved, &sb) == 0);

	/* the bootstrap admin init made, now in PostgreSQL */
	otp = json_string_value(json_object_get(s.init, "admin_password"));
	CHECK(otp != NULL);
	h_login_fresh(&s, "admin", otp, PW_ADMIN, admin, sizeof(admin));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_collection_create(&s, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
	    "\"searchable\":true},"
	    "{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"}]}");
	create_record(&s, clin, "{\"name\":\"" NAME1 "\",\"ssn\":\"" SSN1 "\"}", id1, sizeof(id1));
	create_record(&s, clin, "{\"name\":\"" NAME2 "\",\"dob\":\"" DOB2 "\"}", id2, sizeof(id2));
	snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id1);
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	CHECK(strcmp(field(&r, "ssn"), SSN1) == 0);
	h_resp_free(&r);
	/* the blind index works on PostgreSQL too */
	h_req(&s, "GET", "/v1/collections/patients/records?ssn=" SSN1, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "records")) == 1);
	h_resp_free(&r);

	audit_verify_ok(&s);         /* while serving: the configured store */
	assert_dump_clean(PW_ADMIN);

	/* a database restart between two requests: the pooled connections it
	 * dropped are replaced, the next request is served */
	pg_cluster_stop_server(&pgc);
	CHECK(pg_cluster_start_server(&pgc, err, sizeof(err)) == 0);
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	h_resp_free(&r);

	/* the database goes away mid-load */
	pg_cluster_stop_server(&pgc);
	expect_down(&s, "GET", path, clin, NULL);
	expect_down(&s, "POST", "/v1/collections/patients/records", clin, "{\"name\":\"x\"}");
	expect_down(&s, "GET", path, clin, NULL);
	/* ... and comes back: served again without a restart of phivault */
	CHECK(pg_cluster_start_server(&pgc, err, sizeof(err)) == 0);
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "name"), NAME1) == 0);
	h_resp_free(&r);
	create_record(&s, clin, "{\"name\":\"after\"}", id2, sizeof(id2));
	audit_verify_ok(&s);

	/* a restart finds its data in PostgreSQL and moves nothing */
	CHECK(h_stop(&s) == 0);
	h_start(&s, "--dev");
	h_login(&s, "clara", PW_USER, clin, sizeof(clin));
	h_req(&s, "GET", path, clin, NULL, TREAT, &r);
	CHECK_STATUS(&r, 200);
	CHECK(strcmp(field(&r, "ssn"), SSN1) == 0);
	h_resp_free(&r);
	h_login(&s, "admin", PW_ADMIN, admin, sizeof(admin));
	two_nodes(&s, admin, clin, path);
	CHECK(h_stop(&s) == 0);
	audit_verify_ok(&s);
	json_decref(s.init);
	pg_cluster_stop(&pgc);
	h_done("postgres");
	return 0;
}
