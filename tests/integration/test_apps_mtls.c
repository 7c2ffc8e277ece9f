/*
 * Mutual TLS for workload identities (issue 10 item 1) on the real binary:
 *  - phivault init makes the app CA: DIR/tls/app-ca.pem (public);
 *  - POST /v1/apps/{id}/certificate {"csr"} (openssl req) -> a leaf that
 *    `openssl verify -purpose sslclient` accepts against that CA, with
 *    CN = app ID, SAN URI urn:phivault:app:<id>, EKU clientAuth, CA:FALSE,
 *    whatever the CSR asked for; a CSR with a bad signature or no CSR is
 *    400 and audits nothing; audited app.certificate;
 *  - POST /v1/auth/app with curl --cert/--key and no secret -> a "pva_"
 *    token that works, at most 1 h; audited auth.app reason mtls;
 *  - refused 401 with stable codes, audited: a certificate from another CA
 *    (certificate_invalid), a disabled app's (certificate_invalid, and it
 *    gets no new one: 409), an expired one (injectable clock past
 *    not_after: certificate_expired);
 *  - the app's network list still applies (127.0.0.2 -> 403);
 *  - a request without a client certificate is unaffected;
 *  - the CLI: phivault app cert, phivault login --app --cert --key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_AUD "Copper-meadow-Violin-73"

static char work[600];

static void
run_ok(const char *cmd)
{
	char full[4096];

	snprintf(full, sizeof(full), "%s >/dev/null 2>&1", cmd);
	CHECK(h_run(full, NULL) == 0);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	CHECK(f != NULL);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	return buf;
}

static void
spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

/* A P-256 key and CSR in work/<name>.key, .csr; the CSR asks for things
 * phivault must not grant (another CN, a SAN of another app, CA:TRUE). */
static void
make_csr(const char *name)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout %s/%s.key -out %s/%s.csr -subj /CN=root-please "
	    "-addext subjectAltName=URI:urn:phivault:app:app_someoneelse "
	    "-addext basicConstraints=critical,CA:TRUE", work, name, work, name);
	run_ok(cmd);
}

/* POST /v1/apps/{id}/certificate with work/<name>.csr -> work/<name>.crt */
static void
get_cert(struct h_server *s, const char *admin, const char *app, const char *name,
    int status, json_t **out)
{
	char path[700], *csr;
	json_t *b;
	char *body;
	struct h_resp r;

	snprintf(path, sizeof(path), "%s/%s.csr", work, name);
	csr = slurp(path);
	b = json_pack("{s:s}", "csr", csr);
	body = json_dumps(b, JSON_COMPACT);
	snprintf(path, sizeof(path), "/v1/apps/%s/certificate", app);
	h_req(s, "POST", path, admin, body, NULL, &r);
	CHECK_STATUS(&r, status);
	if (status == 201) {
		snprintf(path, sizeof(path), "%s/%s.crt", work, name);
		spit(path, h_jstr(r.json, "certificate"));
		if (out != NULL)
			*out = json_incref(r.json);
	}
	h_resp_free(&r);
	free(body);
	json_decref(b);
	free(csr);
}

/* curl with a client certificate: POST /v1/auth/app; the HTTP status, and
 * the body into *out (malloc'd) if out is not NULL. */
static int
mtls_signin(struct h_server *s, const char *name, const char *body, const char *iface,
    char **out)
{
	char cmd[4096], *o = NULL;
	int status = 0;
	char *nl;

	snprintf(cmd, sizeof(cmd), "curl -s --cacert %s %s%s --cert %s/%s.crt --key %s/%s.key "
	    "-H 'Content-Type: application/json' -d '%s' -w '\\n%%{http_code}' %s/v1/auth/app",
	    s->cacert, iface ? "--interface " : "", iface ? iface : "", work, name, work, name,
	    body, s->base);
	CHECK(h_run(cmd, &o) == 0);
	nl = strrchr(o, '\n');
	CHECK(nl != NULL);
	status = atoi(nl + 1);
	*nl = '\0';
	if (out != NULL)
		*out = o;
	else
		free(o);
	return status;
}

/* curl GET path with token, over a connection with certificate name (NULL:
 * none): the HTTP status, the body into *out if not NULL. */
static int
mtls_get(struct h_server *s, const char *name, const char *path, const char *token,
    char **out)
{
	char cmd[4096], certs[1400], *o = NULL, *nl;
	int status;

	certs[0] = '\0';
	if (name != NULL)
		snprintf(certs, sizeof(certs), "--cert %s/%s.crt --key %s/%s.key", work, name, work,
		    name);
	snprintf(cmd, sizeof(cmd), "curl -s --cacert %s %s -H 'Authorization: Bearer %s' "
	    "-w '\n%%{http_code}' %s%s", s->cacert, certs, token, s->base, path);
	CHECK(h_run(cmd, &o) == 0);
	nl = strrchr(o, '\n');
	CHECK(nl != NULL);
	status = atoi(nl + 1);
	*nl = '\0';
	if (out != NULL)
		*out = o;
	else
		free(o);
	return status;
}

static const char *
err_code(const char *body)
{
	static char code[64];
	json_t *j = json_loads(body, 0, NULL);

	code[0] = '\0';
	if (j != NULL)
		snprintf(code, sizeof(code), "%s",
		    h_jstr(json_object_get(j, "error"), "code") ? h_jstr(json_object_get(j, "error"),
		    "code") : "");
	json_decref(j);
	return code;
}

static int
audit_count(struct h_server *s, const char *aud, const char *action, const char *outcome,
    const char *reason)
{
	return h_audit_count(s, aud, &(struct h_audit_q){ .action = action, .outcome = outcome,
	    .reason = reason });
}

static void
app_create(struct h_server *s, const char *admin, const char *name, char id[64])
{
	char body[256];

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"roles\":[\"analyst\"],"
	    "\"networks\":[\"127.0.0.1/32\"]}", name);
	h_app_create(s, admin, body, id, 64);
}

int
main(void)
{
	struct h_server s;
	struct h_resp r;
	char admin[128], aud[128], app[64], app2[64], tok[128], path[700], cmd[4096];
	char *out = NULL, *ca, *body = NULL;
	json_t *j, *cert = NULL;
	long long now;
	int n;

	h_clock_enable();
	h_init(&s, "apps_mtls", NULL);
	h_config_set(&s, "mfa_required", "off");
	snprintf(work, sizeof(work), "%s/mtls", s.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", work);
	run_ok(cmd);
	/* the CA was made at init: public certificate, and no key beside it */
	snprintf(path, sizeof(path), "%s/tls/app-ca.pem", s.dir);
	ca = slurp(path);
	CHECK(strstr(ca, "-----BEGIN CERTIFICATE-----") != NULL);
	snprintf(cmd, sizeof(cmd), "grep -rl 'PRIVATE KEY' %s/tls | grep -v key.pem", s.dir);
	CHECK(h_run(cmd, NULL) != 0);
	h_start(&s, "--dev");
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, 128);
	h_add_user(&s, admin, "audra", "auditor", PW_AUD, aud, 128);
	app_create(&s, admin, "lab-feed", app);

	/* ---- a request without a client certificate is unaffected ---- */
	h_expect(&s, "GET", "/v1/auth/session", admin, NULL, NULL, 200, NULL);
	/* no secret and no certificate: the secret is still required */
	h_expect(&s, "POST", "/v1/auth/app", NULL, "{}", NULL, 400, "invalid_request");

	/* ---- the certificate ---- */
	make_csr("a");
	get_cert(&s, admin, app, "a", 201, &cert);
	CHECK(strcmp(h_jstr(cert, "ca"), ca) == 0);
	CHECK(strlen(h_jstr(cert, "serial")) >= 16);
	now = h_clock_advance(&s, 0);
	{
		struct tm tm;
		time_t na;

		memset(&tm, 0, sizeof(tm));
		CHECK(strptime(h_jstr(cert, "not_after"), "%Y-%m-%dT%H:%M:%S", &tm) != NULL);
		na = timegm(&tm);
		/* [apps] cert_ttl_s default: one day from the server's clock */
		CHECK(na >= now / 1000 + 86400 - 5 && na <= now / 1000 + 86400 + 5);
	}
	snprintf(path, sizeof(path), "%s/ca.pem", work);
	spit(path, ca);
	snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s/ca.pem -purpose sslclient "
	    "-attime %lld %s/a.crt", work, now / 1000 + 60, work);
	run_ok(cmd);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s/a.crt -noout -text -nameopt RFC2253 "
	    "-certopt no_pubkey,no_sigdump", work);
	CHECK(h_run(cmd, &out) == 0);
	snprintf(path, sizeof(path), "URI:urn:phivault:app:%s", app);
	CHECK(strstr(out, path) != NULL);
	snprintf(path, sizeof(path), "Subject: CN=%s\n", app);
	CHECK(strstr(out, path) != NULL);
	CHECK(strstr(out, "TLS Web Client Authentication") != NULL);
	CHECK(strstr(out, "CA:FALSE") != NULL && strstr(out, "CA:TRUE") == NULL);
	CHECK(strstr(out, "Digital Signature") != NULL);
	CHECK(strstr(out, "root-please") == NULL && strstr(out, "someoneelse") == NULL);
	free(out);
	CHECK(audit_count(&s, aud, "app.certificate", "allowed", NULL) == 1);

	/* bad CSRs: 400, nothing issued, nothing audited */
	snprintf(path, sizeof(path), "/v1/apps/%s/certificate", app);
	h_expect(&s, "POST", path, admin, "{\"csr\":\"hello\"}", NULL, 400, "invalid_request");
	{
		/* flip the last DER byte (the low byte of the signature's s) */
		char p2[700], *csr, *b;
		unsigned char der[4096];
		size_t dlen;
		json_t *o;
		FILE *f;

		snprintf(cmd, sizeof(cmd), "openssl req -in %s/a.csr -outform DER -out %s/a.der",
		    work, work);
		run_ok(cmd);
		snprintf(p2, sizeof(p2), "%s/a.der", work);
		CHECK((f = fopen(p2, "rb")) != NULL);
		dlen = fread(der, 1, sizeof(der), f);
		fclose(f);
		CHECK(dlen > 8 && dlen < sizeof(der));
		der[dlen - 1] ^= 0x01;
		CHECK((f = fopen(p2, "wb")) != NULL);
		CHECK(fwrite(der, 1, dlen, f) == dlen);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "openssl req -inform DER -in %s/a.der -outform PEM "
		    "-out %s/bad.csr", work, work);
		run_ok(cmd);
		snprintf(p2, sizeof(p2), "%s/bad.csr", work);
		csr = slurp(p2);
		o = json_pack("{s:s}", "csr", csr);
		b = json_dumps(o, JSON_COMPACT);
		h_req(&s, "POST", path, admin, b, NULL, &r);
		CHECK_STATUS(&r, 400);
		CHECK(strcmp(h_err_code(&r), "invalid_request") == 0);
		CHECK(strstr(r.body, "signature") != NULL);
		h_resp_free(&r);
		free(b);
		json_decref(o);
		free(csr);
	}
	CHECK(audit_count(&s, aud, "app.certificate", "allowed", NULL) == 1);
	h_expect(&s, "POST", "/v1/apps/app_nosuchapp00000000000000/certificate", admin,
	    "{\"csr\":\"x\"}", NULL, 404, NULL);
	h_expect(&s, "POST", path, aud, "{\"csr\":\"x\"}", NULL, 403, "forbidden");

	/* ---- sign in with it ---- */
	CHECK(mtls_signin(&s, "a", "{}", NULL, &out) == 200);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && strncmp(h_jstr(j, "token"), "pva_", 4) == 0);
	CHECK(strcmp(h_jstr(j, "app_id"), app) == 0);
	snprintf(tok, sizeof(tok), "%s", h_jstr(j, "token"));
	{
		struct tm tm;

		memset(&tm, 0, sizeof(tm));
		CHECK(strptime(h_jstr(j, "expires_at"), "%Y-%m-%dT%H:%M:%S", &tm) != NULL);
		CHECK(timegm(&tm) <= now / 1000 + 3600 + 5);
	}
	json_decref(j);
	free(out);
	/* the token is bound to the certificate (RFC 8705): over a connection
	 * without it, or with another one, refused and recorded */
	CHECK(mtls_get(&s, "a", "/v1/auth/session", tok, NULL) == 200);
	h_req(&s, "GET", "/v1/auth/session", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "certificate_mismatch") == 0);
	h_resp_free(&r);
	CHECK(audit_count(&s, aud, "auth.app", "denied", "certificate_mismatch") == 1);
	CHECK(audit_count(&s, aud, "auth.app", "allowed", "mtls") == 1);
	/* naming the same app is fine, another is not */
	snprintf(cmd, sizeof(cmd), "{\"app_id\":\"%s\"}", app);
	CHECK(mtls_signin(&s, "a", cmd, NULL, NULL) == 200);
	CHECK(mtls_signin(&s, "a", "{\"app_id\":\"app_other000000000000000000\"}", NULL, &out) ==
	    401);
	CHECK(strcmp(err_code(out), "certificate_invalid") == 0);
	free(out);
	/* the network list still applies */
	CHECK(mtls_signin(&s, "a", "{}", "127.0.0.2", &out) == 403);
	CHECK(strcmp(err_code(out), "network_not_allowed") == 0);
	free(out);

	/* ---- a certificate from another CA, with the same names ---- */
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout %s/evilca.key -out %s/evilca.pem -subj '/CN=phivault app CA' -days 2",
	    work, work);
	run_ok(cmd);
	snprintf(cmd, sizeof(cmd), "printf 'subjectAltName=URI:urn:phivault:app:%s\\n"
	    "extendedKeyUsage=clientAuth\\n' > %s/ext.cnf && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/evil.key -out %s/evil.csr "
	    "-subj /CN=%s && openssl x509 -req -in %s/evil.csr -CA %s/evilca.pem "
	    "-CAkey %s/evilca.key -set_serial 7 -days 1 -extfile %s/ext.cnf -out %s/evil.crt",
	    app, work, work, work, app, work, work, work, work, work);
	run_ok(cmd);
	CHECK(mtls_signin(&s, "evil", "{}", NULL, &out) == 401);
	CHECK(strcmp(err_code(out), "certificate_invalid") == 0);
	free(out);
	CHECK(audit_count(&s, aud, "auth.app", "denied", "cert_untrusted") == 1);

	/* ---- the CLI: phivault app cert, phivault login --app --cert --key ---- */
	make_csr("c");
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s app "
	    "cert %s --csr %s/c.csr --out %s/c.crt --format json", s.base, s.cacert, admin, h_bin(),
	    app, work, work);
	CHECK(h_run(cmd, &out) == 0);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL && h_jstr(j, "serial") != NULL && h_jstr(j, "not_after") != NULL);
	json_decref(j);
	free(out);
	snprintf(path, sizeof(path), "%s/c.crt", work);
	out = slurp(path);
	CHECK(strncmp(out, "-----BEGIN CERTIFICATE-----", 27) == 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "--cert %s/c.crt --key %s/c.key", s.base, s.cacert, h_bin(), app, work, work);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(strncmp(out, "export PHIVAULT_TOKEN=pva_", 26) == 0);
	free(out);
	/* the foreign certificate: refused, exit 3 (401) */
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "--cert %s/evil.crt --key %s/evil.key 2>&1", s.base, s.cacert, h_bin(), app, work,
	    work);
	CHECK(h_run(cmd, &out) == 3);
	CHECK(strstr(out, "app CA") != NULL);
	free(out);
	snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s %s login --app %s "
	    "--cert %s/c.crt 2>/dev/null", s.base, s.cacert, h_bin(), app, work);
	CHECK(h_run(cmd, NULL) == 2);                        /* --cert without --key */

	/* ---- revoking one certificate: refused at sign-in, its sessions end ---- */
	{
		char tok2[128], tok3[128], serial[64];
		json_t *ce = NULL;

		make_csr("e");
		get_cert(&s, admin, app, "e", 201, &ce);
		snprintf(serial, sizeof(serial), "%s", h_jstr(ce, "serial"));
		json_decref(ce);
		CHECK(mtls_signin(&s, "e", "{}", NULL, &out) == 200);
		j = json_loads(out, 0, NULL);
		snprintf(tok2, sizeof(tok2), "%s", h_jstr(j, "token"));
		json_decref(j);
		free(out);
		CHECK(mtls_signin(&s, "c", "{}", NULL, &out) == 200);   /* another certificate */
		j = json_loads(out, 0, NULL);
		snprintf(tok3, sizeof(tok3), "%s", h_jstr(j, "token"));
		json_decref(j);
		free(out);
		/* a token bound to c does not work with e */
		CHECK(mtls_get(&s, "e", "/v1/auth/session", tok3, &out) == 401);
		CHECK(strcmp(err_code(out), "certificate_mismatch") == 0);
		free(out);
		CHECK(mtls_get(&s, "e", "/v1/auth/session", tok2, NULL) == 200);
		snprintf(path, sizeof(path), "/v1/apps/%s/certificate/%s/revoke", app, serial);
		h_expect(&s, "POST", path, aud, NULL, NULL, 403, "forbidden");
		snprintf(cmd, sizeof(cmd), "PHIVAULT_ADDR=%s PHIVAULT_CACERT=%s PHIVAULT_TOKEN=%s %s "
		    "app cert-revoke %s %s --format json", s.base, s.cacert, admin, h_bin(), app,
		    serial);
		CHECK(h_run(cmd, &out) == 0);
		j = json_loads(out, 0, NULL);
		CHECK(j != NULL && json_integer_value(json_object_get(j, "sessions_ended")) == 1);
		json_decref(j);
		free(out);
		CHECK(mtls_get(&s, "e", "/v1/auth/session", tok2, NULL) == 401);   /* ended */
		CHECK(mtls_get(&s, "c", "/v1/auth/session", tok3, NULL) == 200);   /* untouched */
		CHECK(mtls_signin(&s, "e", "{}", NULL, &out) == 401);
		CHECK(strcmp(err_code(out), "certificate_invalid") == 0);
		free(out);
		CHECK(audit_count(&s, aud, "auth.app", "denied", "cert_revoked") == 1);
		h_expect(&s, "POST", path, admin, NULL, NULL, 409, "conflict");
		snprintf(path, sizeof(path), "/v1/apps/%s/certificate/NOT-HEX/revoke", app);
		h_expect(&s, "POST", path, admin, NULL, NULL, 404, "not_found");
		CHECK(audit_count(&s, aud, "app.cert_revoke", "allowed", "revoked") == 1);
	}

	/* ---- a disabled app's certificate ---- */
	app_create(&s, admin, "old-feed", app2);
	make_csr("d");
	get_cert(&s, admin, app2, "d", 201, NULL);
	CHECK(mtls_signin(&s, "d", "{}", NULL, NULL) == 200);
	snprintf(path, sizeof(path), "/v1/apps/%s/disable", app2);
	h_expect(&s, "POST", path, admin, NULL, NULL, 200, NULL);
	CHECK(mtls_signin(&s, "d", "{}", NULL, &out) == 401);
	CHECK(strcmp(err_code(out), "certificate_invalid") == 0);
	free(out);
	CHECK(audit_count(&s, aud, "auth.app", "denied", "disabled") == 1);
	get_cert(&s, admin, app2, "d", 409, NULL);   /* and it gets no new one */

	/* ---- expired: the server's clock past not_after ---- */
	h_clock_advance(&s, 86400 * 1000LL + 120 * 1000LL);
	CHECK(mtls_signin(&s, "a", "{}", NULL, &out) == 401);
	CHECK(strcmp(err_code(out), "certificate_expired") == 0);
	free(out);
	h_login(&s, "audra", PW_AUD, aud, sizeof(aud));
	CHECK(audit_count(&s, aud, "auth.app", "denied", "cert_expired") == 1);
	/* the token it had is gone too: it never outlives the certificate */
	h_expect(&s, "GET", "/v1/auth/session", tok, NULL, NULL, 401, NULL);

	/* no key material in the log */
	snprintf(cmd, sizeof(cmd), "grep -c 'PRIVATE KEY' %s", s.log);
	CHECK(h_run(cmd, NULL) != 0);
	n = h_stop(&s);
	CHECK(n == 0);
	json_decref(cert);
	json_decref(s.init);
	free(body);
	free(ca);
	h_done("apps_mtls");
	return 0;
}
