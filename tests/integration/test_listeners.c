/*
 * The management plane apart (issue 19 item 4) on the real binary:
 *  - two listeners ([server] admin_listen): a management route on the data
 *    listener is 404 not_found exactly like an unknown route (any method),
 *    and recorded as http.wrong_listener with the route pattern, no token,
 *    no path value; data routes and sign-in work there; management works on
 *    the admin listener and data routes are 404 there;
 *  - each listener its own allowlist ([server] allow, admin_allow): a
 *    source outside it cannot connect, is recorded as http.refused and
 *    counted in phivault_http_connections_refused_total;
 *  - [server] public = off (the default) refuses a non-loopback listen or
 *    admin_listen, --dev included; public = on starts, and the non-loopback
 *    listener then serves data routes only;
 *  - one loopback listener without admin_listen still serves both planes
 *    (every other test file relies on it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

/* s's twin aimed at another port on 127.0.0.1 (the admin listener). */
static void
twin(const struct h_server *s, unsigned port, struct h_server *out)
{
	*out = *s;
	out->port = port;
	snprintf(out->base, sizeof(out->base), "https://127.0.0.1:%u", port);
}

/* Entries of action in the trail (as the auditor, on the admin listener). */
static json_t *
audit_of(struct h_server *adm, const char *auditor, const char *action)
{
	char path[256];
	struct h_resp r;
	json_t *e;

	snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=1000", action);
	h_req(adm, "GET", path, auditor, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	e = json_incref(json_object_get(r.json, "entries"));
	h_resp_free(&r);
	CHECK(json_is_array(e));
	return e;
}

static void
test_two_listeners(void)
{
	static const char *treat[] = { "X-Purpose-Of-Use: TREAT", NULL };
	struct h_server s, adm;
	char listen[64], admin[128], aud[128], clara[128], metrics[64];
	char *dump;
	unsigned aport, mport;
	struct h_resp r, u;
	json_t *e;
	size_t i;

	h_init(&s, "listeners", NULL);
	h_config_set(&s, "mfa_required", "off");
	aport = h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", aport);
	h_config_set_in(&s, "server", "admin_listen", listen);
	mport = h_free_port();
	snprintf(metrics, sizeof(metrics), "127.0.0.1:%u", mport);
	h_config_set_in(&s, "metrics", "listen", metrics);
	h_start(&s, "--dev");
	twin(&s, aport, &adm);

	/* sign-in works on both; the admin creates people on the admin listener */
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&adm, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	h_add_user(&adm, admin, "clara", "clinician", PW_USER, clara, sizeof(clara));
	h_collection_create(&adm, admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"}]}");

	/* management on the data listener: 404 not_found, the same body as a
	 * path nobody serves, whatever the method, with or without a token */
	h_req(&s, "GET", "/v1/no-such-route", admin, NULL, NULL, &u);
	CHECK_STATUS(&u, 404);
	h_req(&s, "GET", "/v1/users", admin, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	CHECK(strcmp(r.body, u.body) == 0);
	h_resp_free(&r);
	h_resp_free(&u);
	h_expect(&s, "POST", "/v1/users", admin, "{\"username\":\"mallory\"}", NULL, 404,
	    "not_found");
	h_expect(&s, "DELETE", "/v1/users/usr_x", NULL, NULL, NULL, 404, "not_found");
	h_expect(&s, "GET", "/v1/audit", aud, NULL, NULL, 404, "not_found");
	h_expect(&s, "POST", "/v1/sys/tls/reload", admin, NULL, NULL, 404, "not_found");
	h_expect(&s, "GET", "/console/", NULL, NULL, NULL, 404, "not_found");
	/* ... and served on the admin listener */
	h_expect(&adm, "GET", "/v1/users", admin, NULL, NULL, 200, NULL);
	h_expect(&adm, "GET", "/v1/audit?limit=1", aud, NULL, NULL, 200, NULL);

	/* data routes on the data listener, not on the admin listener */
	h_req(&s, "POST", "/v1/collections/patients/records", clara,
	    "{\"name\":\"Pat Example\"}", NULL, &r);
	CHECK_STATUS(&r, 201);
	h_resp_free(&r);
	h_expect(&s, "GET", "/v1/collections/patients/records?limit=5", clara, NULL, treat, 200,
	    NULL);
	h_expect(&adm, "GET", "/v1/collections/patients/records?limit=5", clara, NULL, treat,
	    404, "not_found");
	h_expect(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, 200, NULL);
	h_expect(&adm, "GET", "/v1/sys/health", NULL, NULL, NULL, 200, NULL);

	/* recorded: the route's pattern, never the path's values, no token */
	e = audit_of(&adm, aud, "http.wrong_listener");
	CHECK(json_array_size(e) >= 6);
	dump = json_dumps(e, 0);
	CHECK(dump != NULL);
	CHECK(strstr(dump, "\"users/{id}\"") != NULL);
	CHECK(strstr(dump, "usr_x") == NULL);
	CHECK(strstr(dump, admin) == NULL);
	CHECK(strstr(dump, "mallory") == NULL);
	for (i = 0; i < json_array_size(e); i++)
		CHECK(strcmp(h_jstr(json_array_get(e, i), "outcome"), "denied") == 0);
	free(dump);
	json_decref(e);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

static void
test_allowlists(void)
{
	struct h_server s, adm;
	char listen[64], admin[128], aud[128], metrics[64], sample[128];
	unsigned aport, mport;
	struct h_resp r;
	json_t *e;
	double refused;

	h_init(&s, "listeners_allow", NULL);
	h_config_set(&s, "mfa_required", "off");
	aport = h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", aport);
	h_config_set_in(&s, "server", "admin_listen", listen);
	/* data only from 127.0.0.2, management only from 127.0.0.1 */
	h_config_set_in(&s, "server", "allow", "127.0.0.2/32");
	h_config_set_in(&s, "server", "admin_allow", "127.0.0.1, ::1");
	mport = h_free_port();
	snprintf(metrics, sizeof(metrics), "127.0.0.1:%u", mport);
	h_config_set_in(&s, "metrics", "listen", metrics);
	h_source_set("127.0.0.2");
	h_start(&s, "--dev");
	twin(&s, aport, &adm);
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));

	/* 127.0.0.2 reaches data, not management */
	h_expect(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, 200, NULL);
	h_req(&adm, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK(r.status == 0);   /* closed before TLS: no HTTP answer at all */
	h_resp_free(&r);

	/* 127.0.0.1 reaches management, not data */
	h_source_set("127.0.0.1");
	h_add_user(&adm, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	h_req(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
	CHECK(r.status == 0);
	h_resp_free(&r);

	snprintf(sample, sizeof(sample),
	    "phivault_http_connections_refused_total{listener=\"data\"}");
	refused = h_metric_value(mport, sample);
	CHECK(refused >= 1);
	snprintf(sample, sizeof(sample),
	    "phivault_http_connections_refused_total{listener=\"admin\"}");
	CHECK(h_metric_value(mport, sample) >= 1);
	e = audit_of(&adm, aud, "http.refused");
	CHECK(json_array_size(e) >= 2);
	{
		char *dump = json_dumps(e, 0);

		CHECK(strstr(dump, "listeners/data") != NULL);
		CHECK(strstr(dump, "listeners/admin") != NULL);
		CHECK(strstr(dump, "127.0.0.2") != NULL);   /* the refused source */
		free(dump);
	}
	json_decref(e);
	h_stop(&s);

	/* a bad allowlist: refused at start, naming the key */
	h_config_set_in(&s, "server", "allow", "10.0.0.0/8, not-a-network");
	CHECK(h_start_expect_exit(&s, "--dev") != 0);
	{
		char cmd[1024], *out = NULL;

		snprintf(cmd, sizeof(cmd), "cat %s", s.log);
		CHECK(h_run(cmd, &out) == 0);
		CHECK(strstr(out, "server.allow: item 2 is not an IPv4 or IPv6") != NULL);
		free(out);
	}
	json_decref(s.init);
}

static void
test_public(void)
{
	struct h_server s, adm;
	char extra[128], listen[64], cmd[1024], admin[128], *out = NULL;
	unsigned port, aport;

	h_init(&s, "listeners_public", NULL);
	h_config_set(&s, "mfa_required", "off");
	port = h_free_port();
	/* the harness gives --listen 127.0.0.1:P first; the later one wins */
	snprintf(extra, sizeof(extra), "--dev --listen 0.0.0.0:%u", port);
	CHECK(h_start_expect_exit(&s, extra) != 0);
	snprintf(cmd, sizeof(cmd), "cat %s", s.log);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "server.listen = 0.0.0.0:") != NULL);
	CHECK(strstr(out, "set server.public = on") != NULL);
	free(out);

	/* a non-loopback admin_listen is refused as well */
	aport = h_free_port();
	snprintf(listen, sizeof(listen), "0.0.0.0:%u", aport);
	h_config_set_in(&s, "server", "admin_listen", listen);
	CHECK(h_start_expect_exit(&s, "--dev") != 0);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "server.admin_listen = 0.0.0.0:") != NULL);
	free(out);

	/* public = on: it starts; the public listener serves data only */
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", aport);
	h_config_set_in(&s, "server", "admin_listen", listen);
	h_config_set_in(&s, "server", "public", "on");
	s.fixed_port = port;
	snprintf(extra, sizeof(extra), "--dev --listen 0.0.0.0:%u", port);
	h_start(&s, extra);
	twin(&s, aport, &adm);
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_expect(&s, "GET", "/v1/users", admin, NULL, NULL, 404, "not_found");
	h_expect(&adm, "GET", "/v1/users", admin, NULL, NULL, 200, NULL);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

/* no admin_listen, loopback listen: one listener, both planes */
static void
test_one_listener(void)
{
	struct h_server s;
	char admin[128];

	h_init(&s, "listeners_one", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_expect(&s, "GET", "/v1/users", admin, NULL, NULL, 200, NULL);
	h_expect(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, 200, NULL);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

int
main(void)
{
	test_one_listener();
	test_two_listeners();
	test_allowlists();
	test_public();
	h_done("listeners");
	return 0;
}
