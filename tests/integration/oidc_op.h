/*
 * oidc_op.h: the provider side of the OIDC integration tests (test_oidc.c,
 * test_commit_waits_oidc.c): npm oidc-provider and its hand-written /fake OP
 * (tests/oidc/oidc_provider.mjs) started on a loopback port over HTTPS with
 * a throwaway certificate, stopped by its PID (also at exit); and a small
 * browser, libcurl with a cookie engine trusting `bundle` (the OP's
 * certificate and phivault's). The includer defines CLIENT_ID and
 * CLIENT_SECRET and fills tmp (h_tmpdir) before op_start.
 */
#ifndef PV_TEST_OIDC_OP_H
#define PV_TEST_OIDC_OP_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

static char tmp[512], bundle[700], op_base[64];
static pid_t op_pid = -1;

/* ---- a small browser: libcurl with a cookie engine, trusting both certs ---- */

struct body {
	char *p;
	size_t n;
};

static inline size_t
on_body(char *d, size_t sz, size_t n, void *arg)
{
	struct body *b = arg;
	char *np = realloc(b->p, b->n + sz * n + 1);

	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, sz * n);
	b->n += sz * n;
	b->p[b->n] = '\0';
	return sz * n;
}

static CURL *browser;

static inline long
fetch(const char *method, const char *url, const char *body, const char *ctype, char **location,
    char **out)
{
	struct body b = { NULL, 0 };
	struct curl_slist *hl = NULL;
	char *loc = NULL, hdr[128];
	long status = 0;

	if (browser == NULL) {
		browser = curl_easy_init();
		curl_easy_setopt(browser, CURLOPT_COOKIEFILE, "");
	}
	curl_easy_setopt(browser, CURLOPT_URL, url);
	curl_easy_setopt(browser, CURLOPT_CAINFO, bundle);
	curl_easy_setopt(browser, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(browser, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(browser, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(browser, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(browser, CURLOPT_TIMEOUT, 30L);
	if (body != NULL) {
		curl_easy_setopt(browser, CURLOPT_POSTFIELDS, body);
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		hl = curl_slist_append(hl, hdr);
	} else {
		curl_easy_setopt(browser, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(browser, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(browser, CURLOPT_HTTPHEADER, hl);
	if (curl_easy_perform(browser) != CURLE_OK) {
		fprintf(stderr, "test_oidc: request to %s failed\n", url);
		h_fail();
	}
	curl_easy_getinfo(browser, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(browser, CURLINFO_REDIRECT_URL, &loc);
	if (location != NULL)
		*location = loc != NULL ? strdup(loc) : NULL;
	curl_slist_free_all(hl);
	curl_easy_setopt(browser, CURLOPT_POSTFIELDS, NULL);
	if (out != NULL)
		*out = b.p;
	else
		free(b.p);
	return status;
}

/* Follow redirects from url until one points at a URL starting with stop
 * (returned, malloc'd) or a page answers without one (NULL). */
static inline char *
browse(const char *url, const char *stop)
{
	char *cur = strdup(url), *next = NULL;

	for (int i = 0; i < 20 && cur != NULL; i++) {
		if (strncmp(cur, stop, strlen(stop)) == 0)
			return cur;
		(void)fetch("GET", cur, NULL, NULL, &next, NULL);
		free(cur);
		cur = next;
		next = NULL;
	}
	free(cur);
	return NULL;
}

static inline json_t *
op_call(const char *path, const char *json_body)
{
	char url[256], *out = NULL;
	json_t *j;
	long st;

	snprintf(url, sizeof(url), "%s%s", op_base, path);
	/* a new account state: the provider's session (its cookie) starts over,
	 * so the next flow signs in again with the new amr */
	if (browser != NULL && strcmp(path, "/test/account") == 0)
		curl_easy_setopt(browser, CURLOPT_COOKIELIST, "ALL");
	st = fetch("POST", url, json_body, "application/json", NULL, &out);
	CHECK(st == 200);
	j = json_loads(out, 0, NULL);
	CHECK(j != NULL);
	free(out);
	return j;
}

static inline void op_stop(void);

static inline void
op_start(unsigned port, unsigned phv_port)
{
	char cert[600], key[600], cmd[2400], redirect[128], portbuf[16], ready[700];
	int fd;
	char *out = NULL;

	snprintf(cert, sizeof(cert), "%s/op-cert.pem", tmp);
	snprintf(key, sizeof(key), "%s/op-key.pem", tmp);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 "
	    "-keyout '%s' -out '%s' 2>&1", key, cert);
	CHECK(h_run(cmd, &out) == 0);
	free(out);
	snprintf(redirect, sizeof(redirect), "https://127.0.0.1:%u/v1/auth/oidc/callback", phv_port);
	snprintf(portbuf, sizeof(portbuf), "%u", port);
	snprintf(ready, sizeof(ready), "%s/op.log", tmp);
	snprintf(op_base, sizeof(op_base), "https://127.0.0.1:%u", port);
	op_pid = fork();
	CHECK(op_pid >= 0);
	if (op_pid == 0) {
		char script[600];

		snprintf(script, sizeof(script), "%s/tests/oidc/oidc_provider.mjs",
		    getenv("PV_SOURCE_DIR"));
		fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("node", "node", script, portbuf, cert, key, CLIENT_ID, CLIENT_SECRET, redirect,
		    (char *)NULL);
		_exit(127);
	}
	atexit(op_stop);   /* h_fail exits: the provider never outlives the test */
	/* wait for "ready" (bounded: 90 s of 10 ms polls; node starts slowly on a
	 * loaded machine) */
	for (int i = 0; i < 9000; i++) {
		FILE *f = fopen(ready, "r");
		char line[256] = "";
		bool ok = false;

		if (f != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				ok = ok || strncmp(line, "ready", 5) == 0;
			fclose(f);
		}
		if (ok)
			return;
		CHECK(waitpid(op_pid, NULL, WNOHANG) == 0);   /* the provider must not die */
		h_pause_ms(10);
	}
	fprintf(stderr, "test_oidc: the provider did not start (see %s)\n", ready);
	h_fail();
}

static inline void
op_stop(void)
{
	if (op_pid > 0) {
		kill(op_pid, SIGTERM);
		waitpid(op_pid, NULL, 0);
		op_pid = -1;
	}
}

#endif /* PV_TEST_OIDC_OP_H */
