/* harness: see harness.h. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

int h_checks;
static struct h_server *live[8];

const char *
h_bin(void)
{
	const char *b = getenv("PHIVAULT_BIN");
	return b ? b : "./build/phivault";
}

void
h_fail(void)
{
	size_t i;

	for (i = 0; i < 8; i++) {
		if (live[i] != NULL && live[i]->pid > 0) {
			char cmd[700];

			fprintf(stderr, "--- server log %s (last lines) ---\n", live[i]->log);
			snprintf(cmd, sizeof(cmd), "tail -n 30 %s >&2", live[i]->log);
			if (system(cmd) != 0)
				fprintf(stderr, "(could not show the log)\n");
			kill(live[i]->pid, SIGKILL);
			waitpid(live[i]->pid, NULL, 0);
		}
	}
	fprintf(stderr, "%d passed, 1 failed\n", h_checks - 1);
	exit(1);
}

void
h_done(const char *name)
{
	printf("%s: %d passed, 0 failed\n", name, h_checks);
}

void
h_tmpdir(const char *name, char *out, size_t len)
{
	const char *base = getenv("PV_TEST_TMP");
	char tmpl[512];

	if (base == NULL)
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(tmpl, sizeof(tmpl), "%s/%s-XXXXXX", base, name);
	CHECK(mkdtemp(tmpl) != NULL);
	snprintf(out, len, "%s", tmpl);
}

void
h_flip_byte(const char *path, long offset)
{
	FILE *f = fopen(path, "r+b");
	int c;

	CHECK(f != NULL);
	CHECK(fseek(f, offset, SEEK_SET) == 0 && (c = fgetc(f)) != EOF);
	CHECK(fseek(f, offset, SEEK_SET) == 0 && fputc(c ^ 0xff, f) != EOF);
	CHECK(fclose(f) == 0);
}

void
h_key_version(struct h_server *s, const char *tok, const char *name, int v, char state[32],
    long long *objects)
{
	struct h_resp r;
	json_t *k, *ver;
	size_t i, j;
	bool found = false;

	h_req(s, "GET", "/v1/keys", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(r.json, i, k) {
		if (strcmp(h_jstr(k, "name"), name) != 0)
			continue;
		json_array_foreach(json_object_get(k, "versions"), j, ver) {
			if (json_integer_value(json_object_get(ver, "version")) != v)
				continue;
			snprintf(state, 32, "%s", h_jstr(ver, "state"));
			*objects = json_integer_value(json_object_get(ver, "objects"));
			found = true;
		}
	}
	h_resp_free(&r);
	CHECK(found);
}

int
h_run(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int st;

	CHECK(p != NULL);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			CHECK(buf != NULL);
		}
		size_t n = fread(buf + len, 1, 4096, p);
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	st = pclose(p);
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void
h_init(struct h_server *s, const char *name, const char *extra)
{
	char cmd[2048], *out = NULL, parent[512];
	const char *ca;
	int code;

	memset(s, 0, sizeof(*s));
	h_tmpdir(name, parent, sizeof(parent));
	snprintf(s->dir, sizeof(s->dir), "%s/data", parent);
	snprintf(s->log, sizeof(s->log), "%s/server.log", parent);
	snprintf(cmd, sizeof(cmd), "%s init --json --data %s %s", h_bin(), s->dir,
	    extra ? extra : "");
	code = h_run(cmd, &out);
	if (code != 0)
		fprintf(stderr, "init exit %d: %s\n", code, out);
	CHECK(code == 0);
	s->init = json_loads(out, 0, NULL);
	free(out);
	CHECK(s->init != NULL);
	ca = json_string_value(json_object_get(s->init, "ca_cert"));
	CHECK(ca != NULL);
	snprintf(s->cacert, sizeof(s->cacert), "%s", ca);
	/* the dictionary the build packed (CMake cracklib_dict), not the machine's */
	if (getenv("PV_CRACKLIB_DICT") != NULL)
		h_config_set(s, "password_dictionary", getenv("PV_CRACKLIB_DICT"));
	/* PV_TEST_SERVER_THREADS=N: the server runs an epoll pool of N threads, where
	 * a pending commit suspends the connection (CTest runs the records and
	 * identity suites once more this way) */
	if (getenv("PV_TEST_SERVER_THREADS") != NULL)
		h_config_set(s, "threads", getenv("PV_TEST_SERVER_THREADS"));
}

void
h_config_append(struct h_server *s, const char *text)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/phivault.conf", s->dir);
	f = fopen(path, "a");
	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

void
h_config_set(struct h_server *s, const char *key, const char *value)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "grep -q '^%s *=' %s/phivault.conf && "
	    "sed -i 's|^%s *=.*|%s = %s|' %s/phivault.conf", key, s->dir, key, key, value, s->dir);
	CHECK(h_run(cmd, NULL) == 0);
}

void
h_config_set_in(struct h_server *s, const char *section, const char *key, const char *value)
{
	char cmd[2048];

	/* awk: replace the line in the section, fail if there was none; the file
	 * keeps its mode (rewritten in place) */
	snprintf(cmd, sizeof(cmd), "f=%s/phivault.conf && awk -v sec='[%s]' -v key='%s' "
	    "-v val='%s' 'BEGIN{n=0} /^\\[/{in_s=($0==sec)} "
	    "in_s && $0 ~ \"^\" key \" *=\" {print key \" = \" val; n++; next} {print} "
	    "END{exit n==1?0:1}' \"$f\" > \"$f.new\" && cat \"$f.new\" > \"$f\" && "
	    "rm \"$f.new\"",
	    s->dir, section, key, value);
	CHECK(h_run(cmd, NULL) == 0);
}

unsigned
h_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t
spawn(struct h_server *s, const char *extra)
{
	char listen[64];
	pid_t pid;

	s->port = s->fixed_port != 0 ? s->fixed_port : h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s->port);
	snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%u", s->port);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		char *argv[16];
		int argc = 0;
		char extra_copy[512], *tok, *save = NULL;

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		argv[argc++] = (char *)h_bin();
		argv[argc++] = "serve";
		argv[argc++] = "--data";
		argv[argc++] = s->dir;
		argv[argc++] = "--listen";
		argv[argc++] = listen;
		snprintf(extra_copy, sizeof(extra_copy), "%s", extra ? extra : "");
		for (tok = strtok_r(extra_copy, " ", &save); tok && argc < 15;
		    tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void
h_start(struct h_server *s, const char *extra)
{
	int i;
	size_t k;

	s->pid = spawn(s, extra);
	for (k = 0; k < 8; k++)
		if (live[k] == NULL || live[k] == s) {
			live[k] = s;
			break;
		}
	for (i = 0; i < 200; i++) {
		struct h_resp r;
		int st;

		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			fprintf(stderr, "server exited during start-up\n");
			h_fail();
		}
		h_req(s, "GET", "/v1/sys/health", NULL, NULL, NULL, &r);
		if (r.status == 200 || r.status == 503) {
			h_resp_free(&r);
			return;
		}
		h_resp_free(&r);
		usleep(50 * 1000);
	}
	fprintf(stderr, "server did not answer health within 10 s\n");
	h_fail();
}

int
h_start_expect_exit(struct h_server *s, const char *extra)
{
	pid_t pid = spawn(s, extra);
	int st, i;

	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(50 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int
h_stop(struct h_server *s)
{
	int st = 0, i;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (i = 0; i < 300; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(50 * 1000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	return -1;
}

struct buf {
	char *p;
	size_t len;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;

	b->p = realloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static size_t
on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct h_resp *r = arg;
	size_t n = size * nmemb, have = strlen(r->headers);

	if (have + n + 1 < sizeof(r->headers)) {
		memcpy(r->headers + have, ptr, n);
		r->headers[have + n] = '\0';
	}
	return n;
}

/* h_source_set: the local address requests leave from (NULL: the default) */
static char h_source[64];

void
h_source_set(const char *addr)
{
	snprintf(h_source, sizeof(h_source), "%s", addr != NULL ? addr : "");
}

void
h_req(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body, const char **hdrs, struct h_resp *r)
{
	struct curl_slist *hl = NULL;
	struct buf b = { 0 };
	char url[16384], auth[600];   /* long paths: the 5 KiB denial tests */
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", s->base, path);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (h_source[0] != '\0')
		curl_easy_setopt(c, CURLOPT_INTERFACE, h_source);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hl = curl_slist_append(hl, auth);
	}
	if (body != NULL) {
		const char **h;
		bool own_type = false;   /* the caller sends its own Content-Type */

		for (h = hdrs; h != NULL && *h != NULL; h++)
			if (strncasecmp(*h, "Content-Type:", 13) == 0)
				own_type = true;
		if (!own_type)
			hl = curl_slist_append(hl, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	for (; hdrs != NULL && *hdrs != NULL; hdrs++)
		hl = curl_slist_append(hl, *hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &r->num_connects);
	} else {
		/* status 0: say why (reset, handshake, verification, timeout) */
		r->curl_rc = (int)cc;
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &r->os_errno);
		snprintf(r->curl_err, sizeof(r->curl_err), "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
	}
	r->body = b.p;
	if (b.p != NULL)
		r->json = json_loads(b.p, 0, NULL);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

void
h_resp_free(struct h_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *
h_err_code(struct h_resp *r)
{
	json_t *e = json_object_get(r->json, "error");
	const char *c = json_string_value(json_object_get(e, "code"));

	return c ? c : "";
}

bool
h_has_header(struct h_resp *r, const char *prefix)
{
	const char *p = r->headers;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (strncasecmp(p, prefix, n) == 0)
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* ---- a real terminal (tmux) ---- */

static char tty_sock[700];

static void
tty_cmd(const char *args)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "tmux -S %s %s", tty_sock, args);
	CHECK(h_run(cmd, NULL) == 0);
}

void
h_tty_start(struct h_server *s, int width, const char *cmd)
{
	char args[4096];

	CHECK(h_run("command -v tmux >/dev/null && command -v oathtool >/dev/null", NULL) == 0);
	snprintf(tty_sock, sizeof(tty_sock), "%s/../tmux.sock", s->dir);
	snprintf(args, sizeof(args), "new-session -d -s pv -x %d -y 60 \"%s\"", width, cmd);
	tty_cmd(args);
}

char *
h_tty_wait(const char *text, int history)
{
	char cmd[1024], *out = NULL;
	int i;

	snprintf(cmd, sizeof(cmd), "tmux -S %s capture-pane -p -t pv -S -%d", tty_sock, history);
	for (i = 0; i < 1200; i++) {
		free(out);
		out = NULL;
		if (h_run(cmd, &out) == 0 && strstr(out, text) != NULL)
			return out;
		usleep(50 * 1000);
	}
	fprintf(stderr, "screen never showed '%s'; it shows:\n%s\n", text, out ? out : "");
	h_fail();
}

void
h_tty_type(const char *text)
{
	char args[1024];

	snprintf(args, sizeof(args), "send-keys -t pv -l '%s'", text);
	tty_cmd(args);
	tty_cmd("send-keys -t pv Enter");
}

char *
h_tty_wait_after(const char *marker, const char *text, int history)
{
	char cmd[1024], *out = NULL;
	const char *m, *p;
	int i;

	snprintf(cmd, sizeof(cmd), "tmux -S %s capture-pane -p -t pv -S -%d", tty_sock, history);
	for (i = 0; i < 1200; i++) {
		free(out);
		out = NULL;
		if (h_run(cmd, &out) == 0 && (m = strstr(out, marker)) != NULL) {
			while ((p = strstr(m + 1, marker)) != NULL)
				m = p;
			if (strstr(m, text) != NULL)
				return out;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "screen never showed '%s' after '%s'; it shows:\n%s\n", text, marker,
	    out ? out : "");
	h_fail();
}

char *
h_tty_first_login_after(const char *marker, const char *otp, const char *newpw)
{
	char cmd[256], secret[64], code[16], *screen, *out = NULL;
	const char *p, *m;

	free(h_tty_wait_after(marker, "Password:", 400));
	h_tty_type(otp);
	free(h_tty_wait_after(marker, "New password:", 400));
	h_tty_type(newpw);
	free(h_tty_wait_after(marker, "Repeat it:", 400));
	h_tty_type(newpw);
	screen = h_tty_wait_after(marker, "Code from the app:", 400);
	m = strstr(screen, marker);
	while ((p = strstr(m + 1, marker)) != NULL)
		m = p;
	p = strstr(m, "secret: ");
	CHECK(p != NULL);
	CHECK(sscanf(p + 8, "%63[A-Z2-7]", secret) == 1);
	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s", secret);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(sscanf(out, "%15s", code) == 1);
	free(out);
	h_tty_type(code);
	return screen;
}

char *
h_tty_first_login(const char *otp, const char *newpw)
{
	char cmd[256], secret[64], code[16], *screen, *out = NULL;
	const char *p;

	free(h_tty_wait("Password:", 100));
	h_tty_type(otp);
	free(h_tty_wait("New password:", 100));
	h_tty_type(newpw);
	free(h_tty_wait("Repeat it:", 100));
	h_tty_type(newpw);
	screen = h_tty_wait("Code from the app:", 300);
	p = strstr(screen, "secret: ");
	CHECK(p != NULL);
	CHECK(sscanf(p + 8, "%63[A-Z2-7]", secret) == 1);
	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s", secret);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(sscanf(out, "%15s", code) == 1);
	free(out);
	h_tty_type(code);
	return screen;
}

void
h_tty_stop(void)
{
	tty_cmd("kill-server");
}

void
h_clock_enable(void)
{
	CHECK(setenv("PHIVAULT_TEST_CLOCK", "1", 1) == 0);
}

long long
h_clock_advance(struct h_server *s, long long ms)
{
	struct h_resp r;
	char body[64];
	long long now;

	snprintf(body, sizeof(body), "{\"advance_ms\":%lld}", ms);
	h_req(s, "POST", "/v1/test/clock", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_integer(json_object_get(r.json, "now_ms")));
	now = (long long)json_integer_value(json_object_get(r.json, "now_ms"));
	h_resp_free(&r);
	return now;
}

/* The value of one sample (NAME{LABELS} exactly) on the [metrics] listener,
 * or -1 when it is absent. */
double
h_metric_value(unsigned port, const char *sample)
{
	char cmd[256], *out = NULL, *p;
	double v = -1;
	size_t n = strlen(sample);

	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 10 http://127.0.0.1:%u/metrics", port);
	if (h_run(cmd, &out) != 0 || out == NULL) {
		free(out);
		return -1;
	}
	for (p = out; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, sample, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(out);
	return v;
}

/* ---- the commit path and the trail, as tests observe them ---- */

long long
h_commit_waits_field(struct h_server *s, const char *field)
{
	struct h_resp r;
	long long n;

	h_req(s, "GET", "/v1/test/commit-waits", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_integer(json_object_get(r.json, field)));
	n = json_integer_value(json_object_get(r.json, field));
	h_resp_free(&r);
	return n;
}

long long
h_commit_waits(struct h_server *s)
{
	return h_commit_waits_field(s, "request_thread_waits");
}

bool
h_suspended_reach(struct h_server *s, long long n)
{
	for (int i = 0; i < 6000; i++) {
		if (h_commit_waits_field(s, "suspended") >= n)
			return true;
		h_pause_ms(5);
	}
	return false;
}

/* a member of e equal to want (want NULL: any; an absent member never equals) */
static bool
audit_member_is(json_t *e, const char *key, const char *want)
{
	const char *v = json_string_value(json_object_get(e, key));

	return want == NULL || (v != NULL && strcmp(v, want) == 0);
}

int
h_audit_count(struct h_server *s, const char *tok, const struct h_audit_q *q)
{
	char path[256];
	struct h_resp r;
	json_t *e;
	size_t i;
	int n = 0;

	CHECK(q->action != NULL);
	snprintf(path, sizeof(path), "/v1/audit?action=%s&limit=1000", q->action);
	h_req(s, "GET", path, tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		CHECK(audit_member_is(e, "action", q->action));   /* the filter holds */
		if (audit_member_is(e, "outcome", q->outcome) &&
		    audit_member_is(e, "reason", q->reason) &&
		    audit_member_is(e, "resource", q->resource) &&
		    audit_member_is(json_object_get(e, "actor"), "user_id", q->actor_user))
			n++;
	}
	h_resp_free(&r);
	return n;
}

/* ---- accounts: the set-up steps most tests share ---- */

const char *
h_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

long
h_login_status(struct h_server *s, const char *user, const char *pw, char *token, size_t len)
{
	char body[512];
	struct h_resp r;
	long st;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	st = r.status;
	if (token != NULL && st == 200)
		snprintf(token, len, "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
	return st;
}

void
h_login(struct h_server *s, const char *user, const char *pw, char *token, size_t len)
{
	CHECK(h_login_status(s, user, pw, token, len) == 200);
	CHECK(token[0] != '\0');
}

void
h_login_fresh(struct h_server *s, const char *user, const char *otp, const char *newpw,
    char *token, size_t len)
{
	char body[512];
	struct h_resp r;

	h_login(s, user, otp, token, len);
	snprintf(body, sizeof(body), "{\"current_password\":\"%s\",\"new_password\":\"%s\"}",
	    otp, newpw);
	h_req(s, "POST", "/v1/auth/password", token, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
	/* a fresh login with the new password: an unrestricted session */
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, newpw);
	h_req(s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(!json_is_true(json_object_get(r.json, "restricted")));
	CHECK(h_jstr(r.json, "token") != NULL);
	snprintf(token, len, "%s", h_jstr(r.json, "token"));
	h_resp_free(&r);
}

void
h_user_create(struct h_server *s, const char *admin, const char *user, const char *role,
    const char *attrs, char *id, size_t idlen, char *otp, size_t otplen)
{
	char body[768];
	struct h_resp r;

	if (attrs != NULL)
		snprintf(body, sizeof(body), "{\"username\":\"%s\",\"display_name\":\"%s\","
		    "\"email\":\"%s@hospital.test\",\"roles\":[\"%s\"],\"attributes\":%s}",
		    user, user, user, role, attrs);
	else
		snprintf(body, sizeof(body), "{\"username\":\"%s\",\"display_name\":\"%s\","
		    "\"email\":\"%s@hospital.test\",\"roles\":[\"%s\"]}", user, user, user, role);
	h_req(s, "POST", "/v1/users", admin, body, NULL, &r);
	if (r.status == 202 && h_jstr(r.json, "approval") != NULL)
		h_officer_approve(s, admin, h_jstr(r.json, "approval"));   /* dual control */
	else
		CHECK_STATUS(&r, 201);
	if (id != NULL)
		snprintf(id, idlen, "%s", h_jstr(r.json, "id"));
	if (otp != NULL)
		snprintf(otp, otplen, "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
}

void
h_add_user(struct h_server *s, const char *admin, const char *user, const char *role,
    const char *newpw, char *token, size_t len)
{
	char otp[128];

	h_user_create(s, admin, user, role, NULL, NULL, 0, otp, sizeof(otp));
	h_login_fresh(s, user, otp, newpw, token, len);
}

void
h_seal_authority(struct h_server *s, char *out, size_t len)
{
	char path[700], key[128];
	json_t *shares = json_object_get(s->init, "unseal_shares");
	FILE *f;
	size_t n, i, used;

	snprintf(path, sizeof(path), "%s/unseal.key", s->dir);
	if ((f = fopen(path, "r")) != NULL) {
		CHECK(fgets(key, sizeof(key), f) != NULL);
		fclose(f);
		key[strcspn(key, "\n")] = '\0';
		snprintf(out, len, "\"key_file\":\"%s\"", key);
		return;
	}
	if (!json_is_array(shares) || json_array_size(shares) == 0) {
		/* the pkcs11 seal: the token's user PIN, from [pkcs11] pin_file */
		char conf[700], line[1024], pin[256] = "";

		snprintf(conf, sizeof(conf), "%s/phivault.conf", s->dir);
		CHECK((f = fopen(conf, "r")) != NULL);
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "pin_file = ", 11) == 0) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(path, sizeof(path), "%s", line + 11);
			}
		fclose(f);
		if (path[0] != '/') {
			char rel[700];

			snprintf(rel, sizeof(rel), "%s", path);
			snprintf(path, sizeof(path), "%s/%s", s->dir, rel);
		}
		CHECK((f = fopen(path, "r")) != NULL);
		CHECK(fgets(pin, sizeof(pin), f) != NULL);
		fclose(f);
		pin[strcspn(pin, "\r\n")] = '\0';
		snprintf(out, len, "\"pin\":\"%s\"", pin);
		return;
	}
	n = json_array_size(shares);
	used = (size_t)snprintf(out, len, "\"shares\":[");
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s\"%s\"", i ? "," : "",
		    json_string_value(json_array_get(shares, i)));
	CHECK(used + 2 < len);
	snprintf(out + used, len - used, "]");
}

/* POST /v1/sys/officers for user; its one-time password into otp. */
static void
officer_create(struct h_server *s, const char *admin, const char *user, char *otp,
    size_t otplen)
{
	char auth[4096], body[4400];
	struct h_resp r;

	h_seal_authority(s, auth, sizeof(auth));
	snprintf(body, sizeof(body), "{\"username\":\"%s\",%s}", user, auth);
	h_req(s, "POST", "/v1/sys/officers", admin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	CHECK(h_jstr(r.json, "one_time_password") != NULL);
	snprintf(otp, otplen, "%s", h_jstr(r.json, "one_time_password"));
	h_resp_free(&r);
}

void
h_add_officer(struct h_server *s, const char *admin, const char *user, const char *newpw,
    char *token, size_t len)
{
	char otp[128];

	officer_create(s, admin, user, otp, sizeof(otp));
	h_login_fresh(s, user, otp, newpw, token, len);
}

#define H_OFFICER "h_officer"
#define H_OFFICER_PW "harness officer approves 7731 quietly"

void
h_officer_approve(struct h_server *s, const char *admin, const char *id)
{
	char path[160];
	struct h_resp r;
	int attempt;

	if (s->officer_token[0] == '\0')
		h_add_officer(s, admin, H_OFFICER, H_OFFICER_PW, s->officer_token,
		    sizeof(s->officer_token));
	snprintf(path, sizeof(path), "/v1/approvals/%s/approve", id);
	for (attempt = 0; attempt < 2; attempt++) {
		h_req(s, "POST", path, s->officer_token, "{\"note\":\"harness\"}", NULL, &r);
		if (r.status != 401 || attempt == 1)
			break;
		/* the session ended (a moved clock, a restart): log in again */
		h_resp_free(&r);
		h_login(s, H_OFFICER, H_OFFICER_PW, s->officer_token, sizeof(s->officer_token));
	}
	CHECK_STATUS(&r, 200);
	h_resp_free(&r);
}

void
h_create_approved(struct h_server *s, const char *admin, const char *path, const char *body)
{
	struct h_resp r;

	h_req(s, "POST", path, admin, body, NULL, &r);
	if (r.status == 202 && h_jstr(r.json, "approval") != NULL)
		h_officer_approve(s, admin, h_jstr(r.json, "approval"));
	else
		CHECK_STATUS(&r, 201);
	h_resp_free(&r);
}

void
h_policy_put_approved(struct h_server *s, const char *admin, const char *method,
    const char *path, const char *body)
{
	struct h_resp r;

	h_req(s, method, path, admin, body, NULL, &r);
	if (r.status == 202 && h_jstr(r.json, "approval") != NULL)
		h_officer_approve(s, admin, h_jstr(r.json, "approval"));
	else
		CHECK_STATUS(&r, strcmp(method, "POST") == 0 ? 201 : 200);
	h_resp_free(&r);
}

void
h_expect(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body, const char **hdrs, int status, const char *code)
{
	struct h_resp r;

	h_req(s, method, path, token, body, hdrs, &r);
	CHECK_STATUS(&r, status);
	if (code != NULL && strcmp(h_err_code(&r), code) != 0) {
		fprintf(stderr, "%s %s: code %s, want %s\n", method, path, h_err_code(&r), code);
		CHECK(strcmp(h_err_code(&r), code) == 0);
	}
	h_resp_free(&r);
}

void
h_collection_create(struct h_server *s, const char *token, const char *body)
{
	h_expect(s, "POST", "/v1/collections", token, body, NULL, 201, NULL);
}

void
h_pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void
h_kill9_restart(struct h_server *s, const char *extra_args)
{
	int status = 0;

	CHECK(kill(s->pid, SIGKILL) == 0);
	CHECK(waitpid(s->pid, &status, 0) == s->pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	h_start(s, extra_args);
}

void
h_totp_at(const char *secret, long long unix_s, char out[16])
{
	char cmd[256], *o = NULL;

	snprintf(cmd, sizeof(cmd), "oathtool --totp -b %s -N @%lld", secret, unix_s);
	CHECK(h_run(cmd, &o) == 0);
	CHECK(strlen(o) >= 6);
	memcpy(out, o, 6);
	out[6] = '\0';
	free(o);
}

void
h_app_create(struct h_server *s, const char *admin, const char *body, char *id, size_t idlen)
{
	struct h_resp r;

	h_req(s, "POST", "/v1/apps", admin, body, NULL, &r);
	if (r.status != 202)
		CHECK_STATUS(&r, 201);
	snprintf(id, idlen, "%s", h_jstr(r.json, "id"));
	if (r.status == 202)
		h_officer_approve(s, admin, h_jstr(r.json, "approval"));
	h_resp_free(&r);
}
