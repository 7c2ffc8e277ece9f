/*
 * The TLS certificate's life (issue 19 item 5) on the real binary:
 *  - reload under load: threads keep sending requests (half on kept-alive
 *    connections, half on a new connection each) while the certificate is
 *    replaced several times, by POST /v1/sys/tls/reload and by SIGHUP: not
 *    one request fails, and a new connection sees the new certificate;
 *  - a key that is not the certificate's is refused (422 tls_refused,
 *    tls.reload recorded as error) and the old certificate is still served;
 *  - GET /v1/sys/tls and `phivault tls show|reload`;
 *  - expiry: advancing the injectable clock to 30, 7 and 1 days left and
 *    past expiry raises the tls_cert_expiry alerts;
 *  - --dev: phivault's own self-signed certificate renews itself at 30 days
 *    left (tls.renew), and the new one is served.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define DAY_MS (86400LL * 1000)
#define LOADERS 6

static atomic_bool load_stop;
static atomic_long load_ok, load_failed;
static struct h_server *load_srv;

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* GET /v1/sys/health until load_stop; odd threads open a new connection
 * for every request, even ones keep theirs alive. */
static void *
loader(void *arg)
{
	long id = (long)arg;
	char url[128];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s/v1/sys/health", load_srv->base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, load_srv->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (id % 2 == 1) {
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	}
	while (!atomic_load(&load_stop)) {
		long st = 0;
		CURLcode rc = curl_easy_perform(c);

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		if (rc == CURLE_OK && st == 200) {
			atomic_fetch_add(&load_ok, 1);
		} else {
			atomic_fetch_add(&load_failed, 1);
			fprintf(stderr, "loader %ld: curl %d (%s), status %ld\n", id, (int)rc,
			    curl_easy_strerror(rc), st);
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* The Subject line of the certificate a new connection (no TLS session
 * reuse) is given, into out. */
static void
served_subject(struct h_server *s, char *out, size_t len)
{
	char url[128];
	struct curl_certinfo *ci = NULL;
	struct curl_slist *l;
	CURL *c = curl_easy_init();

	out[0] = '\0';
	snprintf(url, sizeof(url), "%s/v1/sys/health", s->base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	CHECK(curl_easy_perform(c) == CURLE_OK);
	CHECK(curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci != NULL &&
	    ci->num_of_certs >= 1);
	for (l = ci->certinfo[0]; l != NULL; l = l->next)
		if (strncmp(l->data, "Subject:", 8) == 0)
			snprintf(out, len, "%s", l->data + 8);
	curl_easy_cleanup(c);
	CHECK(out[0] != '\0');
}

/* openssl: a P-256 self-signed certificate for localhost/127.0.0.1 with
 * O=org, valid `days`, as dir/<name>.crt and dir/<name>.key */
static void
make_cert(const char *dir, const char *name, const char *org, int days)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -days %d -subj '/CN=localhost/O=%s' "
	    "-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout %s/%s.key "
	    "-out %s/%s.crt >/dev/null 2>&1", days, org, dir, name, dir, name);
	CHECK(h_run(cmd, NULL) == 0);
}

/* SHA-256 fingerprint of dir/<name>.crt as GET /v1/sys/tls gives it (hex, lower) */
static void
fingerprint(const char *dir, const char *name, char *out, size_t len)
{
	char cmd[1024], *o = NULL;
	size_t i, k = 0;
	const char *eq;

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/%s.crt -noout -fingerprint -sha256",
	    dir, name);
	CHECK(h_run(cmd, &o) == 0);
	eq = strchr(o, '=');
	CHECK(eq != NULL);
	for (i = 1; eq[i] != '\0' && eq[i] != '\n' && k + 1 < len; i++)
		if (eq[i] != ':')
			out[k++] = (char)(eq[i] >= 'A' && eq[i] <= 'F' ? eq[i] + 32 : eq[i]);
	out[k] = '\0';
	free(o);
}

/* put dir/<cert>.crt and dir/<key>.key in place as s's tls/cert.pem, key.pem */
static void
install(struct h_server *s, const char *dir, const char *cert, const char *key)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cp %s/%s.key %s/tls/key.pem.tmp && cp %s/%s.crt "
	    "%s/tls/cert.pem.tmp && mv %s/tls/key.pem.tmp %s/tls/key.pem && "
	    "mv %s/tls/cert.pem.tmp %s/tls/cert.pem", dir, key, s->dir, dir, cert, s->dir,
	    s->dir, s->dir, s->dir, s->dir);
	CHECK(h_run(cmd, NULL) == 0);
}

static json_t *
tls_info(struct h_server *s, const char *tok)
{
	struct h_resp r;
	json_t *o;

	h_req(s, "GET", "/v1/sys/tls", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	o = json_incref(r.json);
	h_resp_free(&r);
	return o;
}

static long long
generation(struct h_server *s, const char *tok)
{
	json_t *o = tls_info(s, tok);
	long long g = json_integer_value(json_object_get(o, "generation"));

	json_decref(o);
	return g;
}

static void
test_reload(void)
{
	struct h_server s;
	char dir[600], bundle[700], cmd[4096], admin[128], kay[128], aud[128];
	char subj[512], fp2[80], fp3[80], *out = NULL;
	pthread_t th[LOADERS];
	struct h_resp r;
	long long g;
	json_t *o, *e;
	int i;

	h_init(&s, "tls_reload", NULL);
	h_config_set(&s, "mfa_required", "off");
	snprintf(dir, sizeof(dir), "%s/../certs", s.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", dir);
	CHECK(h_run(cmd, NULL) == 0);
	make_cert(dir, "c2", "gen2", 90);
	make_cert(dir, "c3", "gen3", 90);
	fingerprint(dir, "c2", fp2, sizeof(fp2));
	fingerprint(dir, "c3", fp3, sizeof(fp3));
	/* the client trusts the original certificate and both new ones */
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", dir);
	snprintf(cmd, sizeof(cmd), "cat %s %s/c2.crt %s/c3.crt > %s", s.cacert, dir, dir, bundle);
	CHECK(h_run(cmd, NULL) == 0);
	snprintf(s.cacert, sizeof(s.cacert), "%s", bundle);
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	served_subject(&s, subj, sizeof(subj));
	CHECK(strstr(subj, "gen") == NULL);
	g = generation(&s, kay);
	CHECK(g == 1);
	/* only a keys.manage holder reloads */
	h_expect(&s, "POST", "/v1/sys/tls/reload", admin, NULL, NULL, 403, NULL);

	load_srv = &s;
	curl_global_init(CURL_GLOBAL_ALL);
	for (i = 0; i < LOADERS; i++)
		CHECK(pthread_create(&th[i], NULL, loader, (void *)(long)i) == 0);
	for (i = 0; i < 6; i++) {
		const char *name = i % 2 == 0 ? "c2" : "c3";
		const char *fp = i % 2 == 0 ? fp2 : fp3;
		int k;

		install(&s, dir, name, name);
		if (i % 3 != 2) {
			h_req(&s, "POST", "/v1/sys/tls/reload", kay, NULL, NULL, &r);
			CHECK_STATUS(&r, 200);
			CHECK(strcmp(h_jstr(r.json, "fingerprint"), fp) == 0);
			h_resp_free(&r);
		} else {
			CHECK(kill(s.pid, SIGHUP) == 0);
			for (k = 0; k < 400 && generation(&s, kay) == g; k++)
				h_pause_ms(25);   /* polling, not a timing */
		}
		CHECK(generation(&s, kay) == g + 1);
		g++;
		served_subject(&s, subj, sizeof(subj));
		CHECK(strstr(subj, i % 2 == 0 ? "gen2" : "gen3") != NULL);
		h_pause_ms(100);   /* let the load run across the swap */
	}
	atomic_store(&load_stop, true);
	for (i = 0; i < LOADERS; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "load: %ld requests answered, %ld failed, across 6 reloads\n",
	    atomic_load(&load_ok), atomic_load(&load_failed));
	CHECK(atomic_load(&load_failed) == 0);
	CHECK(atomic_load(&load_ok) >= 60);

	/* a key that is not the certificate's: refused, the old one stays */
	install(&s, dir, "c2", "c3");
	h_req(&s, "POST", "/v1/sys/tls/reload", kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 422);
	CHECK(strcmp(h_err_code(&r), "tls_refused") == 0);
	CHECK(strstr(r.body, "does not belong to the certificate") != NULL);
	h_resp_free(&r);
	served_subject(&s, subj, sizeof(subj));
	CHECK(strstr(subj, "gen3") != NULL);
	o = tls_info(&s, kay);
	CHECK(strcmp(h_jstr(o, "fingerprint"), fp3) == 0);
	CHECK(json_integer_value(json_object_get(o, "days_left")) >= 88);
	CHECK(strcmp(h_jstr(o, "key"), "EC 256") == 0);
	CHECK(strstr(h_jstr(o, "subject"), "gen3") != NULL);
	CHECK(h_jstr(o, "loaded_at") != NULL && h_jstr(o, "not_after") != NULL);
	json_decref(o);
	h_req(&s, "GET", "/v1/audit?action=tls.reload&limit=100", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	e = json_object_get(r.json, "entries");
	/* the admin's denial, six reloads, the refusal */
	CHECK(json_array_size(e) == 8);
	CHECK(strcmp(h_jstr(json_array_get(e, 0), "outcome"), "denied") == 0);
	for (i = 1; i < 7; i++)
		CHECK(strcmp(h_jstr(json_array_get(e, (size_t)i), "outcome"), "allowed") == 0);
	CHECK(strcmp(h_jstr(json_array_get(e, 7), "outcome"), "error") == 0);
	CHECK(strcmp(h_jstr(json_array_get(e, 7), "reason"), "tls_refused") == 0);
	h_resp_free(&r);

	/* the CLI: show, and reload once the pair is right again */
	install(&s, dir, "c2", "c2");
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s tls reload && PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s tls show",
	    s.base, bundle, kay, h_bin(), s.base, bundle, kay, h_bin());
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strstr(out, "\"generation\":8") != NULL);   /* not a terminal: JSON */
	CHECK(strstr(out, fp2) != NULL);
	free(out);
	install(&s, dir, "c3", "c2");
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s "
	    "%s tls reload 2>&1", s.base, bundle, kay, h_bin());
	CHECK(h_run(cmd, &out) != 0);
	CHECK(strstr(out, "tls_refused") != NULL);
	free(out);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

/* alerts of rule tls_cert_expiry (as the auditor) once there are n */
static json_t *
expiry_alerts(struct h_server *s, size_t n)
{
	struct h_resp r;
	json_t *a = NULL;
	char aud[128];
	int k;

	h_login(s, "audrey", PW_USER, aud, sizeof(aud));   /* the clock moved on */
	for (k = 0; k < 400; k++) {
		h_req(s, "GET", "/v1/alerts?rule=tls_cert_expiry", aud, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (json_array_size(r.json) >= n) {
			a = json_incref(r.json);
			h_resp_free(&r);
			break;
		}
		h_resp_free(&r);
		h_pause_ms(50);   /* the watcher looks once a second */
	}
	CHECK(a != NULL);
	CHECK(json_array_size(a) == n);
	return a;
}

static bool
has_severity(json_t *a, const char *sev)
{
	size_t i;

	for (i = 0; i < json_array_size(a); i++)
		if (strcmp(h_jstr(json_array_get(a, i), "severity"), sev) == 0)
			return true;
	return false;
}

static void
test_expiry(void)
{
	struct h_server s;
	char admin[128], kay[128], aud[128], cmd[2048];
	long long left;
	json_t *o, *a;

	h_init(&s, "tls_expiry", NULL);
	h_config_set(&s, "mfa_required", "off");
	/* a copy of the certificate outside tls/: not phivault's own, no renewal */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/tls2 && cp %s/tls/cert.pem %s/tls/key.pem %s/tls2/",
	    s.dir, s.dir, s.dir, s.dir);
	CHECK(h_run(cmd, NULL) == 0);
	h_config_set_in(&s, "tls", "cert", "tls2/cert.pem");
	h_config_set_in(&s, "tls", "key", "tls2/key.pem");
	h_clock_enable();
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	o = tls_info(&s, kay);
	left = json_integer_value(json_object_get(o, "days_left"));
	json_decref(o);
	CHECK(left > 100);
	a = expiry_alerts(&s, 0);
	json_decref(a);

	/* to just under 30 days left */
	h_clock_advance(&s, 400 * DAY_MS);
	h_clock_advance(&s, (left - 400 - 30) * DAY_MS + DAY_MS);   /* days_left is floored */
	a = expiry_alerts(&s, 1);
	CHECK(has_severity(a, "medium"));
	json_decref(a);
	h_clock_advance(&s, 23 * DAY_MS);   /* 7 days left */
	a = expiry_alerts(&s, 2);
	CHECK(has_severity(a, "high"));
	json_decref(a);
	h_clock_advance(&s, 6 * DAY_MS);    /* 1 day left */
	a = expiry_alerts(&s, 3);
	CHECK(has_severity(a, "critical"));
	json_decref(a);
	h_clock_advance(&s, 2 * DAY_MS);    /* expired */
	a = expiry_alerts(&s, 4);
	json_decref(a);
	h_login(&s, "kay", PW_USER, kay, sizeof(kay));
	o = tls_info(&s, kay);
	CHECK(json_integer_value(json_object_get(o, "days_left")) < 0);
	json_decref(o);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

static void
test_dev_renewal(void)
{
	struct h_server s;
	char admin[128], kay[128], aud[128], fp[80];
	long long left;
	struct h_resp r;
	json_t *o;
	int k;

	h_init(&s, "tls_renew", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_clock_enable();
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	o = tls_info(&s, kay);
	left = json_integer_value(json_object_get(o, "days_left"));
	snprintf(fp, sizeof(fp), "%s", h_jstr(o, "fingerprint"));
	CHECK(json_is_true(json_object_get(o, "self_signed")));
	json_decref(o);
	/* 31 days left: nothing yet */
	h_clock_advance(&s, 400 * DAY_MS);
	h_clock_advance(&s, (left - 400 - 31) * DAY_MS);
	h_pause_ms(1500);
	h_login(&s, "kay", PW_USER, kay, sizeof(kay));
	CHECK(generation(&s, kay) == 1);
	/* 29 days left: renewed (and so never an expiry alert in dev) */
	h_clock_advance(&s, 2 * DAY_MS);
	h_login(&s, "kay", PW_USER, kay, sizeof(kay));
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
	for (k = 0; k < 400 && generation(&s, kay) == 1; k++)
		h_pause_ms(25);
	o = tls_info(&s, kay);
	CHECK(json_integer_value(json_object_get(o, "generation")) == 2);
	CHECK(strcmp(h_jstr(o, "fingerprint"), fp) != 0);
	CHECK(json_integer_value(json_object_get(o, "days_left")) >= 800);
	json_decref(o);
	/* the renewed one is what a new connection gets (the harness trusts the file) */
	h_expect(&s, "GET", "/v1/sys/health", NULL, NULL, NULL, 200, NULL);
	h_req(&s, "GET", "/v1/audit?action=tls.renew", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 1);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/alerts?rule=tls_cert_expiry", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) == 0);
	h_resp_free(&r);
	h_stop(&s);
	json_decref(s.init);   /* each test its own server */
}

int
main(void)
{
	test_reload();
	test_expiry();
	test_dev_renewal();
	h_done("tls_reload");
	return 0;
}
