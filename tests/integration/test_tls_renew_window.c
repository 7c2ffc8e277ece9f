/*
 * The dev certificate's renewal never leaves a client that trusts the file
 * without an answer (the cause of status 0 after a renewal in
 * integ_test_tls_reload and integ_test_disclosures under load: curl 60, the
 * served certificate not in the file the client had just read).
 *
 * The client trusts tls/cert.pem (init's ca_cert), read afresh for every
 * connection. The renewal is held (PHIVAULT_TEST_TLS_HOLD, test binary only)
 * at its two points, so each window is entered for certain, not by luck:
 *  - "overlap": the new pair made, the old certificate still served;
 *  - "reload": the files switched to the new pair, the store not yet
 *    reloaded: the window that failed (only the new certificate was in the
 *    file while the old one was served).
 * In each a new connection trusting the file as it is then is answered and
 * served the old certificate; after the reload it is served the new one,
 * alone (no certificate after a self-signed one), and a client holding a
 * copy of the file from either window still trusts it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define DAY_MS (86400LL * 1000)

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

/* the SHA-256 fingerprint of a PEM certificate, as openssl prints it */
static void
leaf_fingerprint(struct h_server *s, const char *pem, char *fp, size_t fplen)
{
	char tmp[700], cmd[800], *o = NULL, *eq;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/../leaf.pem", s->dir);
	f = fopen(tmp, "w");
	CHECK(f != NULL);
	fputs(pem, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl x509 -noout -fingerprint -sha256 -in %s", tmp);
	CHECK(h_run(cmd, &o) == 0);
	eq = strchr(o, '=');
	CHECK(eq != NULL);
	snprintf(fp, fplen, "%s", eq + 1);
	fp[strcspn(fp, "\n")] = '\0';
	free(o);
}

/* GET /v1/sys/health on a new connection trusting cafile: the status (0:
 * no answer, curl's reason printed), the served chain's length and the
 * leaf's SHA-256 fingerprint as openssl prints it (upper hex with colons). */
static long
health(struct h_server *s, const char *cafile, long *ncerts, char *fp, size_t fplen)
{
	char url[128], err[CURL_ERROR_SIZE] = "";
	struct curl_certinfo *ci = NULL;
	struct curl_slist *l;
	long st = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();

	*ncerts = 0;
	fp[0] = '\0';
	snprintf(url, sizeof(url), "%s/v1/sys/health", s->base);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci != NULL) {
			*ncerts = ci->num_of_certs;
			for (l = ci->num_of_certs > 0 ? ci->certinfo[0] : NULL; l != NULL; l = l->next)
				if (strncmp(l->data, "Cert:", 5) == 0)
					leaf_fingerprint(s, l->data + 5, fp, fplen);
		}
	} else {
		fprintf(stderr, "health with %s: curl %d (%s)\n", cafile, (int)rc, err);
	}
	curl_easy_cleanup(c);
	return st;
}

static void
put(const char *path, const char *text)
{
	char tmp[700];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.t", path);
	f = fopen(tmp, "w");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
	CHECK(rename(tmp, path) == 0);
}

/* until the renewal is held at point (the server wrote it to <hold>.at) */
static void
wait_at(const char *hold, const char *point)
{
	char at[700], buf[32];
	int k;

	snprintf(at, sizeof(at), "%s.at", hold);
	for (k = 0; k < 800; k++) {
		FILE *f = fopen(at, "r");

		buf[0] = '\0';
		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) == NULL)
				buf[0] = '\0';
			fclose(f);
		}
		if (strcmp(buf, point) == 0)
			return;
		h_pause_ms(25);   /* polling the server's marker, not a timing */
	}
	fprintf(stderr, "the renewal never reached %s\n", point);
	h_fail();
}

static void
copy(const char *from, const char *to)
{
	char cmd[1600];

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	CHECK(h_run(cmd, NULL) == 0);
}

static int
count_certs(const char *path)
{
	char cmd[800], *o = NULL;
	int n;

	snprintf(cmd, sizeof(cmd), "grep -c 'BEGIN CERTIFICATE' %s", path);
	(void)h_run(cmd, &o);
	n = o != NULL ? atoi(o) : -1;
	free(o);
	return n;
}

static void
test_renewal_windows(void)
{
	struct h_server s;
	char admin[128], kay[128], aud[128], hold[700], snap1[700], snap2[700], fp_old[128], fp[128];
	char fp_new[128];
	long long left;
	long n;
	struct h_resp r;
	int k;

	h_init(&s, "tls_window", NULL);
	h_config_set(&s, "mfa_required", "off");
	h_clock_enable();
	snprintf(hold, sizeof(hold), "%s/../hold", s.dir);
	snprintf(snap1, sizeof(snap1), "%s/../trust-overlap.pem", s.dir);
	snprintf(snap2, sizeof(snap2), "%s/../trust-reload.pem", s.dir);
	CHECK(setenv("PHIVAULT_TEST_TLS_HOLD", hold, 1) == 0);
	put(hold, "overlap");
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin,
	    sizeof(admin));
	h_add_user(&s, admin, "kay", "key_admin", PW_USER, kay, sizeof(kay));
	h_add_user(&s, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	h_req(&s, "GET", "/v1/sys/tls", kay, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	left = json_integer_value(json_object_get(r.json, "days_left"));
	h_resp_free(&r);
	CHECK(health(&s, s.cacert, &n, fp_old, sizeof(fp_old)) == 200);
	CHECK(n == 1 && fp_old[0] != '\0');
	CHECK(count_certs(s.cacert) == 1);

	/* 29 days left: the renewal starts and is held after its first step */
	h_clock_advance(&s, 400 * DAY_MS);
	h_clock_advance(&s, (left - 400 - 29) * DAY_MS);
	wait_at(hold, "overlap");
	h_login(&s, "kay", PW_USER, kay, sizeof(kay));   /* the clock moved on */
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
	copy(s.cacert, snap1);
	CHECK(count_certs(snap1) == 2);
	CHECK(health(&s, s.cacert, &n, fp, sizeof(fp)) == 200);
	CHECK(strcmp(fp, fp_old) == 0 && n == 1);   /* still the old one, alone */

	/* the switch: files renamed, the store not reloaded yet */
	put(hold, "reload");
	wait_at(hold, "reload");
	copy(s.cacert, snap2);
	CHECK(count_certs(snap2) == 2);
	/* the window that failed: the file changed, the served certificate not */
	CHECK(health(&s, s.cacert, &n, fp, sizeof(fp)) == 200);
	CHECK(strcmp(fp, fp_old) == 0);
	h_req(&s, "GET", "/v1/sys/tls", kay, NULL, NULL, &r);   /* trusts the file too */
	CHECK_STATUS(&r, 200);
	CHECK(json_integer_value(json_object_get(r.json, "generation")) == 1);
	h_resp_free(&r);

	/* released: reloaded, the new certificate served alone */
	CHECK(unlink(hold) == 0);
	for (k = 0; k < 400; k++) {
		h_req(&s, "GET", "/v1/sys/tls", kay, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (json_integer_value(json_object_get(r.json, "generation")) == 2) {
			h_resp_free(&r);
			break;
		}
		h_resp_free(&r);
		h_pause_ms(25);   /* polling */
	}
	CHECK(k < 400);
	CHECK(health(&s, s.cacert, &n, fp_new, sizeof(fp_new)) == 200);
	CHECK(strcmp(fp_new, fp_old) != 0 && n == 1);
	/* a client that copied the file in either window trusts the new one */
	CHECK(health(&s, snap1, &n, fp, sizeof(fp)) == 200 && strcmp(fp, fp_new) == 0);
	CHECK(health(&s, snap2, &n, fp, sizeof(fp)) == 200 && strcmp(fp, fp_new) == 0);
	/* one renewal recorded, no expiry alert for the old certificate */
	h_req(&s, "GET", "/v1/audit?action=tls.renew", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(json_object_get(r.json, "entries")) == 1);
	h_resp_free(&r);
	h_req(&s, "GET", "/v1/alerts?rule=tls_cert_expiry", aud, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_array_size(r.json) == 0);
	h_resp_free(&r);
	h_stop(&s);
	json_decref(s.init);
	unsetenv("PHIVAULT_TEST_TLS_HOLD");
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	test_renewal_windows();
	h_done("tls_renew_window");
	return 0;
}
