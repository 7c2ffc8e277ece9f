/*
 * SIEM sinks on the real binary (issue 13 items 1 and 5) against a real
 * rsyslog (Debian rsyslog + rsyslog-gnutls) that the test starts on free
 * loopback ports with its own configuration (imtcp, plain and with the gtls
 * driver and a test CA made here with openssl; omfile to a temp file) and
 * stops by PID, and a small HTTPS receiver (python3 http.server + ssl) for
 * the webhook:
 *  - every audit entry arrives exactly once, in order, as RFC 5424 (rsyslog
 *    parsed it as protocol version 1), over plain TCP (syslog) and TLS
 *    (CEF), in the OCSF file and at the webhook, through the final sys.stop;
 *  - rsyslog stopped while a client writes records, then restarted: no
 *    request failed, the sink showed its error and lag meanwhile, and
 *    afterwards nothing is missing;
 *  - TLS to a receiver whose certificate another CA signed is refused: the
 *    cursor does not move, last_error names the certificate, the receiver
 *    gets nothing;
 *  - nothing any receiver got holds a PHI value the test wrote.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RSYSLOG_MODDIR "/usr/lib/x86_64-linux-gnu/rsyslog"
#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"

#define NAME1 "Zebediah Quuxworth"
#define SSN1 "123-45-6789"
#define NAME2 "Philomena Vantablack"
#define SSN2 "531-77-2468"
static const char *const needles[] = {
	"Zebediah", "Quuxworth", SSN1, "123456789", "Philomena", "Vantablack", SSN2,
	"531772468", "1961-02-03", PW_ADMIN, PW_USER, NULL
};
static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };

static char tmp[512];

/* Every receiver this test started, stopped by PID at exit (also when a CHECK
 * fails: h_fail exits), never by name. */
static pid_t children[16];

static void
child_add(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == 0) {
			children[i] = pid;
			return;
		}
}

static void
child_gone(pid_t pid)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void
children_stop(void)
{
	for (size_t i = 0; i < sizeof(children) / sizeof(children[0]); i++)
		if (children[i] > 0) {
			kill(children[i], SIGTERM);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	fputs(text, f);
	fclose(f);
}

static char *
read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	CHECK(buf != NULL);
	CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	return buf;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char cmd[4096];
	char *out = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = h_run(cmd, &out);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n%s\n", rc, cmd, out);
	free(out);
	CHECK(rc == 0);
}

/* A CA and a server certificate for 127.0.0.1 signed by it, under tmp/name-*. */
static void
make_ca(const char *name)
{
	char ext[700], pre[700];

	snprintf(pre, sizeof(pre), "%s/%s", tmp, name);
	snprintf(ext, sizeof(ext), "%s/%s-ext.cnf", tmp, name);
	write_file(ext, "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
	    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
	sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout %1$s-ca.key -out %1$s-ca.pem -days 2 -subj /CN=%2$s-test-ca 2>&1", pre, name);
	sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %1$s-srv.key "
	    "-out %1$s-srv.csr -subj /CN=127.0.0.1 2>&1 && openssl x509 -req -in %1$s-srv.csr "
	    "-CA %1$s-ca.pem -CAkey %1$s-ca.key -CAcreateserial -out %1$s-srv.pem -days 2 "
	    "-extfile %2$s 2>&1", pre, ext);
}

/* ---- rsyslog, our own child ---- */

struct rsys {
	char name[32];
	char conf[700], pidfile[700], out[700], log[700], work[700];
	unsigned port;
	const char *tls_ca;           /* the CA that signed its certificate; NULL: plain */
	pid_t pid;
};

static bool
port_open(unsigned port)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "exec 3<>/dev/tcp/127.0.0.1/%u", port);
	/* bash's /dev/tcp: a connect attempt without any extra tool */
	char full[256];

	snprintf(full, sizeof(full), "bash -c '%s' 2>/dev/null", cmd);
	return h_run(full, NULL) == 0;
}

static void
rsys_config(struct rsys *r)
{
	char conf[4096], tlsglobal[2048] = "", tlsmod[256] = "";

	if (r->tls_ca != NULL) {
		snprintf(tlsglobal, sizeof(tlsglobal),
		    "  DefaultNetstreamDriver=\"gtls\"\n"
		    "  DefaultNetstreamDriverCAFile=\"%s/%s-ca.pem\"\n"
		    "  DefaultNetstreamDriverCertFile=\"%s/%s-srv.pem\"\n"
		    "  DefaultNetstreamDriverKeyFile=\"%s/%s-srv.key\"\n",
		    tmp, r->tls_ca, tmp, r->tls_ca, tmp, r->tls_ca);
		snprintf(tlsmod, sizeof(tlsmod),
		    " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\"");
	}
	/* the exact lines docs/monitoring.md shows, with this test's paths */
	snprintf(conf, sizeof(conf),
	    "global(workDirectory=\"%s\"\n%s)\n"
	    "module(load=\"imtcp\"%s)\n"
	    "template(name=\"phivault\" type=\"string\" string=\"%%protocol-version%% %%rawmsg%%\\n\")\n"
	    "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%u\" ruleset=\"phivault\")\n"
	    "ruleset(name=\"phivault\") {\n"
	    "  action(type=\"omfile\" file=\"%s\" template=\"phivault\")\n"
	    "}\n", r->work, tlsglobal, tlsmod, r->port, r->out);
	write_file(r->conf, conf);
}

static void
rsys_init(struct rsys *r, const char *name, const char *tls_ca)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->conf, sizeof(r->conf), "%s/%s.conf", tmp, name);
	snprintf(r->pidfile, sizeof(r->pidfile), "%s/%s.pid", tmp, name);
	snprintf(r->out, sizeof(r->out), "%s/%s.out", tmp, name);
	snprintf(r->log, sizeof(r->log), "%s/%s.log", tmp, name);
	snprintf(r->work, sizeof(r->work), "%s/%s.work", tmp, name);
	mkdir(r->work, 0700);
	r->tls_ca = tls_ca;
	r->port = h_free_port();
	rsys_config(r);
}

static void
rsys_start(struct rsys *r)
{
	int i;

	r->pid = fork();
	CHECK(r->pid >= 0);
	if (r->pid == 0) {
		int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("rsyslogd", "rsyslogd", "-n", "-f", r->conf, "-i", r->pidfile,
		    "-M", RSYSLOG_MODDIR, (char *)NULL);
		_exit(127);
	}
	child_add(r->pid);
	for (i = 0; i < 4000 && !port_open(r->port); i++) {
		int st;

		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			char *log = read_all(r->log);

			fprintf(stderr, "rsyslogd %s exited: %s\n", r->name, log);
			free(log);
			child_gone(r->pid);
			r->pid = 0;
			CHECK(!"rsyslogd did not start");
		}
		h_pause_ms(5);
	}
	CHECK(port_open(r->port));
}

/* SIGTERM to our child, by its PID; wait for it. */
static void
rsys_stop(struct rsys *r)
{
	int st = 0;

	if (r->pid <= 0)
		return;
	CHECK(kill(r->pid, SIGTERM) == 0);
	CHECK(waitpid(r->pid, &st, 0) == r->pid);
	child_gone(r->pid);
	r->pid = 0;
}

/* ---- the webhook receiver: python3 http.server with TLS ---- */

static pid_t webhook_pid;
static unsigned webhook_port;
static unsigned metrics_port;

static char webhook_out[700];

static void
webhook_start(const char *ca)
{
	char script[700], path[700];
	int i;

	snprintf(script, sizeof(script), "%s/webhook.py", tmp);
	snprintf(webhook_out, sizeof(webhook_out), "%s/webhook.out", tmp);
	write_file(script,
	    "import http.server, os, ssl, sys\n"
	    "out = open(sys.argv[2], 'ab')\n"
	    "class H(http.server.BaseHTTPRequestHandler):\n"
	    "    def do_POST(self):\n"
	    "        n = int(self.headers.get('Content-Length', '0'))\n"
	    "        body = self.rfile.read(n)\n"
	    "        ok = self.headers.get('Content-Type') == 'application/json'\n"
	    "        if os.path.exists(sys.argv[2] + '.fail'):\n"
	    "            self.send_response(503); self.send_header('Content-Length', '0')\n"
	    "            self.end_headers(); return\n"
	    "        if ok:\n"
	    "            out.write(body + b'\\n'); out.flush()\n"
	    "        self.send_response(200 if ok else 415)\n"
	    "        self.send_header('Content-Length', '0'); self.end_headers()\n"
	    "    def log_message(self, *a):\n"
	    "        pass\n"
	    "srv = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H)\n"
	    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	    "ctx.load_cert_chain(sys.argv[3], sys.argv[4])\n"
	    "srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n"
	    "srv.serve_forever()\n");
	webhook_port = h_free_port();
	webhook_pid = fork();
	CHECK(webhook_pid >= 0);
	if (webhook_pid == 0) {
		char port[16], cert[700], key[700];

		snprintf(port, sizeof(port), "%u", webhook_port);
		snprintf(cert, sizeof(cert), "%s/%s-srv.pem", tmp, ca);
		snprintf(key, sizeof(key), "%s/%s-srv.key", tmp, ca);
		snprintf(path, sizeof(path), "%s/webhook.log", tmp);
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("python3", "python3", script, port, webhook_out, cert, key, (char *)NULL);
		_exit(127);
	}
	child_add(webhook_pid);
	for (i = 0; i < 4000 && !port_open(webhook_port); i++)
		h_pause_ms(5);
	CHECK(port_open(webhook_port));
}

static void
webhook_stop(void)
{
	if (webhook_pid > 0) {
		kill(webhook_pid, SIGTERM);
		waitpid(webhook_pid, NULL, 0);
		child_gone(webhook_pid);
		webhook_pid = 0;
	}
}

/* ---- phivault helpers ---- */

static void
write_records(struct h_server *s, const char *clin, int n, bool quiet_exit)
{
	char body[512], id[64], path[256];
	struct h_resp r;

	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"ssn\":\"%s\",\"dob\":\"1961-02-03\"}",
		    i % 2 ? NAME1 : NAME2, i % 2 ? SSN1 : SSN2);
		h_req(s, "POST", "/v1/collections/patients/records", clin, body, NULL, &r);
		if (quiet_exit && r.status != 201)
			_exit(10);
		CHECK_STATUS(&r, 201);
		snprintf(id, sizeof(id), "%s", h_jstr(r.json, "id"));
		h_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/collections/patients/records/%s", id);
		h_req(s, "GET", path, clin, NULL, TREAT, &r);
		if (quiet_exit && r.status != 200)
			_exit(11);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
}

/* GET /v1/sys/sinks: the object of sink name (a new reference). */
static json_t *
sink_state(struct h_server *s, const char *tok, const char *name)
{
	struct h_resp r;
	json_t *e, *found = NULL;
	size_t i;

	h_req(s, "GET", "/v1/sys/sinks", tok, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(json_is_array(r.json));
	json_array_foreach(r.json, i, e) {
		if (strcmp(h_jstr(e, "name"), name) == 0) {
			found = e;
			json_incref(found);
		}
	}
	h_resp_free(&r);
	CHECK(found != NULL);
	return found;
}

/* Until every sink shows lag 0 and no error (a bound for a loaded machine). */
static void
wait_caught_up(struct h_server *s, const char *tok, const char *const *names)
{
	for (int i = 0; i < 6000; i++) {
		bool all = true;

		for (const char *const *n = names; *n != NULL; n++) {
			json_t *e = sink_state(s, tok, *n);

			if (json_integer_value(json_object_get(e, "lag")) != 0 ||
			    !json_is_null(json_object_get(e, "last_error")))
				all = false;
			json_decref(e);
		}
		if (all)
			return;
		h_pause_ms(10);
	}
	CHECK(!"the sinks did not catch up");
}

/* ---- what the receivers got ---- */

/* The seqs of rsyslog's file: "1 <PRI>1 TIME HOST phivault - MSGID ..." per line
 * (protocol version 1: rsyslog parsed it as RFC 5424); into seqs, returns count. */
static size_t
rsys_seqs(const char *path, const char *marker, long long *seqs, size_t max)
{
	char *text = read_all(path), *line, *save = NULL;
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		int pri = -1, consumed = 0;
		char ts[64], host[300], app[64], procid[64], msgid[64];
		const char *m;
		long long seq;

		CHECK(strncmp(line, "1 <", 3) == 0);
		CHECK(strlen(line + 2) <= 1024);              /* [sinks] max_message_bytes */
		CHECK(sscanf(line + 2, "<%d>1 %63s %299s %63s %63s %63s %n", &pri, ts, host, app,
		    procid, msgid, &consumed) == 6);
		CHECK(pri >= 80 && pri <= 87);                /* authpriv */
		CHECK(strlen(ts) == 24 && ts[23] == 'Z');     /* RFC 3339 with ms, UTC */
		CHECK(strcmp(app, "phivault") == 0 && strcmp(procid, "-") == 0);
		m = strstr(line, marker);
		CHECK(m != NULL);
		CHECK(sscanf(m + strlen(marker), "%lld", &seq) == 1);
		if (strcmp(msgid, "CEF") == 0) {
			/* "- CEF:0|phivault|phivault|VER|sig|name|sev|ext": 7 header
			 * fields split at unescaped pipes, then the extension */
			const char *c = strstr(line, " - CEF:0|");
			char fields[8][300];
			size_t nf = 0, len = 0;

			CHECK(c != NULL);
			for (c += 3; *c && nf < 7; c++) {
				if (*c == '\\' && c[1]) {
					if (len < 299)
						fields[nf][len++] = c[1];
					c++;
				} else if (*c == '|') {
					fields[nf][len] = '\0';
					nf++;
					len = 0;
				} else if (len < 299) {
					fields[nf][len++] = *c;
				}
			}
			CHECK(nf == 7);
			CHECK(strcmp(fields[0], "CEF:0") == 0 && strcmp(fields[1], "phivault") == 0 &&
			    strcmp(fields[2], "phivault") == 0 && strcmp(fields[4], fields[5]) == 0);
			CHECK(strcmp(fields[6], "3") == 0 || strcmp(fields[6], "6") == 0 ||
			    strcmp(fields[6], "8") == 0);
			CHECK(strncmp(c, "cn1Label=seq cn1=", 17) == 0);
			if (strstr(c, " cs5=") == NULL || strstr(c, " cs5=1/") != NULL)
				CHECK(strstr(c, " act=") != NULL && strstr(c, " outcome=") != NULL);
		}
		if (strcmp(msgid, "AUDIT") == 0) {
			/* one SD element, closed before the MSG */
			CHECK(line[2 + consumed] == '[');
			CHECK(strstr(line, "] ") != NULL);
		}
		/* a later part of a split entry: counted once */
		if ((strstr(line, " part=\"") != NULL && strstr(line, " part=\"1/") == NULL) ||
		    (strstr(line, " cs5=") != NULL && strstr(line, " cs5=1/") == NULL))
			continue;
		CHECK(n < max);
		seqs[n++] = seq;
	}
	free(text);
	return n;
}

static size_t
ocsf_seqs(const char *path, long long *seqs, size_t max)
{
	char *text = read_all(path), *line, *save = NULL;
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		json_t *md;
		long long cls;
		const char *act;

		CHECK(o != NULL);
		md = json_object_get(o, "metadata");
		cls = json_integer_value(json_object_get(o, "class_uid"));
		act = h_jstr(json_object_get(o, "api") ? json_object_get(o, "api") : o,
		    json_object_get(o, "api") ? "operation" : "message");
		CHECK(act != NULL);
		CHECK(cls == (strncmp(act, "auth.", 5) == 0 ? 3002 :
		    strncmp(act, "alert.", 6) == 0 ? 2004 : 6003));
		CHECK(json_integer_value(json_object_get(o, "type_uid")) ==
		    cls * 100 + json_integer_value(json_object_get(o, "activity_id")));
		CHECK(n < max);
		seqs[n++] = json_integer_value(json_object_get(md, "sequence"));
		json_decref(o);
	}
	free(text);
	return n;
}

static size_t
webhook_seqs(long long *seqs, size_t max)
{
	char *text = read_all(webhook_out), *line, *save = NULL;
	size_t n = 0, i;
	json_t *e;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *arr = json_loads(line, 0, NULL);

		CHECK(json_is_array(arr));
		json_array_foreach(arr, i, e) {
			CHECK(n < max);
			CHECK(json_is_object(json_object_get(e, "actor")));
			CHECK(h_jstr(e, "hash") != NULL && strlen(h_jstr(e, "hash")) == 64);
			seqs[n++] = json_integer_value(json_object_get(e, "seq"));
		}
		json_decref(arr);
	}
	free(text);
	return n;
}

/* Exactly from..to, once each, in order. */
static void
check_range(const char *what, const long long *seqs, size_t n, long long from, long long to)
{
	for (size_t i = 0; i < n; i++)
		if (seqs[i] != from + (long long)i) {
			fprintf(stderr, "%s: entry %zu has seq %lld (want %lld; %zu entries, %lld..%lld)\n",
			    what, i, seqs[i], from + (long long)i, n, from, to);
			break;
		}
	if ((long long)n != to - from + 1)
		fprintf(stderr, "%s: %zu entries, want %lld\n", what, n, to - from + 1);
	CHECK((long long)n == to - from + 1);
	for (size_t i = 0; i < n; i++)
		CHECK(seqs[i] == from + (long long)i);
}

/*
 * Every seq from..to in order with no gap. Exactly once, except for the
 * resends the server announced ("sending again after seq A (up to seq B"
 * in its log: a reset or failed connection, at-least-once by design): a seq
 * in such a range (A, B] may come again. Anything else out of order fails.
 */
static void
check_delivered(const char *what, const char *server_log, const long long *seqs, size_t n,
    long long from, long long to)
{
	char *log = read_all(server_log);
	long long lo[64], hi[64], next = from;
	size_t nr = 0;

	for (const char *p = log; (p = strstr(p, "sending again after seq ")) != NULL && nr < 64;
	    p++) {
		if (sscanf(p, "sending again after seq %lld (up to seq %lld", &lo[nr], &hi[nr]) == 2)
			nr++;
	}
	free(log);
	if (nr == 0) {
		check_range(what, seqs, n, from, to);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool resent = false;

		if (seqs[i] == next) {
			next++;
			continue;
		}
		for (size_t r = 0; r < nr; r++)
			resent |= seqs[i] > lo[r] && seqs[i] <= hi[r] && seqs[i] < next;
		if (!resent)
			fprintf(stderr, "%s: entry %zu has seq %lld, want %lld (no resend covers it)\n",
			    what, i, seqs[i], next);
		CHECK(resent);
	}
	if (next != to + 1)
		fprintf(stderr, "%s: delivered up to %lld, want %lld\n", what, next - 1, to);
	CHECK(next == to + 1);
}

/* A receiver that accepts one connection and never reads, with a small
 * receive buffer (a hung receiver: its window fills); on SIGTERM it closes
 * with the unread data still queued, so its kernel resets the connection
 * (what a receiver that dies or drops its buffers looks like). */
static pid_t
blackhole_start(unsigned port)
{
	char script[700], ready[700];
	pid_t pid;

	snprintf(script, sizeof(script), "%s/blackhole.py", tmp);
	snprintf(ready, sizeof(ready), "%s/blackhole.ready", tmp);
	unlink(ready);
	write_file(script,
	    "import signal, socket, sys\n"
	    "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])\n"
	    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
	    "s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n"
	    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n"
	    "open(sys.argv[2], 'w').close()\n"
	    "c, _ = s.accept()\n"
	    "signal.sigwait([signal.SIGTERM])\n"
	    "c.close(); s.close()\n");
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char p[16];

		snprintf(p, sizeof(p), "%u", port);
		execlp("python3", "python3", script, p, ready, (char *)NULL);
		_exit(127);
	}
	child_add(pid);
	for (int i = 0; i < 4000 && access(ready, F_OK) != 0; i++)
		h_pause_ms(5);
	CHECK(access(ready, F_OK) == 0);
	return pid;
}

static long long
export_count(struct h_server *s)
{
	char cmd[1024], *out = NULL;
	long long n = 0;

	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl", h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	for (char *p = out; *p; p++)
		n += *p == '\n';
	free(out);
	return n;
}

static void
assert_no_phi(const char *path)
{
	char *text = read_all(path);

	for (const char *const *n = needles; *n != NULL; n++) {
		if (strstr(text, *n) != NULL)
			fprintf(stderr, "%s holds \"%s\"\n", path, *n);
		CHECK(strstr(text, *n) == NULL);
	}
	free(text);
}

#define MAXSEQ 20000
static long long seqs[MAXSEQ];

int
main(void)
{
	struct h_server s;
	struct rsys plain, tls, wrong;
	char conf[4096], admin[128], clin[128], aud[128], ocsf[700];
	const char *names[] = { "syslog", "cef", "ocsf_file", "webhook", NULL };
	const char *syslog_only[] = { "syslog", NULL };
	long long head, cursor_before;
	json_t *e;
	pid_t client;
	int st;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(children_stop);
	CHECK(access(RSYSLOG_MODDIR "/imtcp.so", R_OK) == 0);       /* Debian rsyslog */
	CHECK(access(RSYSLOG_MODDIR "/lmnsd_gtls.so", R_OK) == 0);  /* rsyslog-gnutls */
	h_tmpdir("sinks-rx", tmp, sizeof(tmp));
	make_ca("good");
	make_ca("other");

	rsys_init(&plain, "plain", NULL);
	rsys_init(&tls, "tls", "good");
	rsys_start(&plain);
	rsys_start(&tls);
	webhook_start("good");

	h_init(&s, "sinks", NULL);
	h_config_set(&s, "mfa_required", "off");
	snprintf(ocsf, sizeof(ocsf), "%s/audit.ocsf.jsonl", tmp);
	snprintf(conf, sizeof(conf), "tcp://127.0.0.1:%u", plain.port);
	h_config_set(&s, "syslog", conf);
	snprintf(conf, sizeof(conf), "tls://127.0.0.1:%u", tls.port);
	h_config_set(&s, "cef", conf);
	snprintf(conf, sizeof(conf), "https://127.0.0.1:%u/audit", webhook_port);
	h_config_set(&s, "webhook", conf);
	h_config_set(&s, "retry_max_ms", "200");
	h_config_set(&s, "timeout_ms", "5000");
	h_config_set(&s, "max_message_bytes", "1024");
	metrics_port = h_free_port();
	snprintf(conf, sizeof(conf), "127.0.0.1:%u", metrics_port);
	h_config_set_in(&s, "metrics", "listen", conf);
	snprintf(conf, sizeof(conf), "ocsf_file = %s\nca_file = %s/good-ca.pem\n", ocsf, tmp);
	sh("sed -i 's|^# ocsf_file = .*|%s|' %s/phivault.conf", "", s.dir);
	{
		char line[1500];

		snprintf(line, sizeof(line), "s|^# ca_file = .*|ocsf_file = %s\\nca_file = %s/good-ca.pem|",
		    ocsf, tmp);
		sh("sed -i '%s' %s/phivault.conf", line, s.dir);
	}
	h_start(&s, "--dev");

	/* people and PHI */
	h_login_fresh(&s, "admin", h_jstr(s.init, "admin_password"), PW_ADMIN, admin, sizeof(admin));
	h_add_user(&s, admin, "clara", "clinician", PW_USER, clin, sizeof(clin));
	h_add_user(&s, admin, "audrey", "auditor", PW_USER, aud, sizeof(aud));
	{
		struct h_resp r;

		/* audit.read only: the admin may not see the sinks */
		h_req(&s, "GET", "/v1/sys/sinks", admin, NULL, NULL, &r);
		CHECK_STATUS(&r, 403);
		CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
		h_resp_free(&r);
		h_collection_create(&s, admin,
		    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":30,\"fields\":["
		    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
		    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
		    "\"searchable\":true},"
		    "{\"name\":\"dob\",\"type\":\"date\",\"classification\":\"phi\"}]}");
	}
	write_records(&s, clin, 20, false);
	{
		/* an entry longer than max_message_bytes (1024 here): a read of a record
		 * with 18 long field names, whose detail lists them; split by field */
		char body[8192], rec[8192], id[64], path[256];
		size_t off, roff;
		struct h_resp r;

		off = (size_t)snprintf(body, sizeof(body), "{\"name\":\"wide\",\"region\":\"local\","
		    "\"retention_days\":30,\"fields\":[");
		roff = (size_t)snprintf(rec, sizeof(rec), "{");
		for (int i = 0; i < 18; i++) {
			off += (size_t)snprintf(body + off, sizeof(body) - off, "%s{\"name\":"
			    "\"observation_field_with_a_long_name_%02d\",\"type\":\"string\","
			    "\"classification\":\"internal\"}", i ? "," : "", i);
			roff += (size_t)snprintf(rec + roff, sizeof(rec) - roff,
			    "%s\"observation_field_with_a_long_name_%02d\":\"v\"", i ? "," : "", i);
		}
		snprintf(body + off, sizeof(body) - off, "]}");
		snprintf(rec + roff, sizeof(rec) - roff, "}");
		h_collection_create(&s, admin, body);
		h_req(&s, "POST", "/v1/collections/wide/records", clin, rec, NULL, &r);
		CHECK_STATUS(&r, 201);
		snprintf(id, sizeof(id), "%s", h_jstr(r.json, "id"));
		h_resp_free(&r);
		snprintf(path, sizeof(path), "/v1/collections/wide/records/%s", id);
		h_req(&s, "GET", path, clin, NULL, TREAT, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	wait_caught_up(&s, aud, names);
	{
		char *got = read_all(plain.out);

		CHECK(strstr(got, " part=\"1/") != NULL && strstr(got, " part=\"2/") != NULL);
		free(got);
		got = read_all(tls.out);
		CHECK(strstr(got, " cs5Label=part cs5=1/") != NULL &&
		    strstr(got, " cs5Label=part cs5=2/") != NULL);
		free(got);
	}
	{
		/* the CLI: phivault sinks (text and json; audit.read needed) */
		char cmd[2048], *out = NULL;
		json_t *j;

		snprintf(cmd, sizeof(cmd), "PHIVAULT_TOKEN=%s %s sinks --addr %s --cacert %s "
		    "--format json", aud, h_bin(), s.base, s.cacert);
		CHECK(h_run(cmd, &out) == 0);
		j = json_loads(out, 0, NULL);
		CHECK(json_is_array(j) && json_array_size(j) == 4);
		CHECK(strcmp(h_jstr(json_array_get(j, 0), "name"), "syslog") == 0);
		CHECK(json_is_integer(json_object_get(json_array_get(j, 3), "cursor_seq")));
		json_decref(j);
		free(out);
		snprintf(cmd, sizeof(cmd), "PHIVAULT_TOKEN=%s %s sinks --addr %s --cacert %s "
		    "--format text", aud, h_bin(), s.base, s.cacert);
		CHECK(h_run(cmd, &out) == 0);
		CHECK(strstr(out, "syslog     cursor ") != NULL && strstr(out, "  lag 0  ") != NULL);
		CHECK(strstr(out, "webhook    cursor ") != NULL);
		free(out);
		snprintf(cmd, sizeof(cmd), "PHIVAULT_TOKEN=%s %s sinks --addr %s --cacert %s 2>&1",
		    admin, h_bin(), s.base, s.cacert);
		CHECK(h_run(cmd, &out) == 3);
		CHECK(strstr(out, "forbidden") != NULL);
		free(out);
	}
	e = sink_state(&s, aud, "syslog");
	CHECK(strcmp(h_jstr(e, "kind"), "syslog") == 0);
	CHECK(json_integer_value(json_object_get(e, "delivered")) ==
	    json_integer_value(json_object_get(e, "cursor_seq")));
	json_decref(e);

	/* rsyslog stopped while a client writes; no request fails; restarted: caught up */
	client = fork();
	CHECK(client >= 0);
	if (client == 0) {
		write_records(&s, clin, 60, true);
		_exit(0);
	}
	rsys_stop(&plain);
	{
		bool seen_error = false;

		for (int i = 0; i < 6000 && !seen_error; i++) {
			e = sink_state(&s, aud, "syslog");
			seen_error = json_is_string(json_object_get(e, "last_error")) &&
			    json_integer_value(json_object_get(e, "lag")) > 0;
			json_decref(e);
			if (!seen_error)
				h_pause_ms(5);
		}
		CHECK(seen_error);
	}
	e = sink_state(&s, aud, "syslog");
	cursor_before = json_integer_value(json_object_get(e, "cursor_seq"));
	json_decref(e);
	write_records(&s, clin, 5, false);   /* the receiver is down: requests still work */
	e = sink_state(&s, aud, "syslog");
	CHECK(json_integer_value(json_object_get(e, "cursor_seq")) == cursor_before);
	CHECK(json_integer_value(json_object_get(e, "lag")) > 0);
	json_decref(e);
	/* the same state on GET /metrics: the syslog sink lags and is failing */
	CHECK(h_metric_value(metrics_port, "phivault_sink_lag{sink=\"syslog\"}") > 0);
	CHECK(h_metric_value(metrics_port, "phivault_sink_failing{sink=\"syslog\"}") == 1);
	rsys_start(&plain);
	CHECK(waitpid(client, &st, 0) == client);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);   /* every request of the client succeeded */
	wait_caught_up(&s, aud, names);

	/* the webhook answers 503 for a while: the batch is not counted, the sink
	 * retries with back-off and delivers it once it is accepted */
	{
		char fail[800];
		bool seen = false;

		snprintf(fail, sizeof(fail), "%s.fail", webhook_out);
		write_file(fail, "");
		write_records(&s, clin, 3, false);
		for (int i = 0; i < 6000 && !seen; i++) {
			e = sink_state(&s, aud, "webhook");
			seen = json_is_string(json_object_get(e, "last_error")) &&
			    strcmp(h_jstr(e, "last_error"), "webhook: HTTP 503") == 0 &&
			    json_integer_value(json_object_get(e, "lag")) > 0;
			json_decref(e);
			if (!seen)
				h_pause_ms(5);
		}
		CHECK(seen);
		CHECK(unlink(fail) == 0);
		wait_caught_up(&s, aud, names);
	}

	/* a clean stop: the sinks drain through sys.stop */
	CHECK(h_stop(&s) == 0);
	head = export_count(&s);
	CHECK(head > 150);
	/* exactly once unless the log announced a resend (a reset: at-least-once) */
	check_delivered("syslog (tcp)", s.log, seqs, rsys_seqs(plain.out, "seq=\"", seqs, MAXSEQ),
	    1, head);
	check_delivered("cef (tls)", s.log, seqs, rsys_seqs(tls.out, "cn1=", seqs, MAXSEQ), 1,
	    head);
	check_range("ocsf_file", seqs, ocsf_seqs(ocsf, seqs, MAXSEQ), 1, head);
	check_range("webhook", seqs, webhook_seqs(seqs, MAXSEQ), 1, head);

	/* TLS to a receiver with a certificate of another CA: refused, cursor stays */
	rsys_init(&wrong, "wrong", "other");
	rsys_start(&wrong);
	snprintf(conf, sizeof(conf), "tls://127.0.0.1:%u", wrong.port);
	h_config_set(&s, "syslog", conf);
	h_start(&s, "--dev");
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
	{
		bool seen = false;

		for (int i = 0; i < 6000 && !seen; i++) {
			e = sink_state(&s, aud, "syslog");
			seen = json_is_string(json_object_get(e, "last_error"));
			if (seen) {
				CHECK(strstr(h_jstr(e, "last_error"), "certificate") != NULL);
				CHECK(json_integer_value(json_object_get(e, "cursor_seq")) == head);
				CHECK(json_integer_value(json_object_get(e, "lag")) > 0);
			}
			json_decref(e);
			if (!seen)
				h_pause_ms(5);
		}
		CHECK(seen);
	}
	/* the others go on */
	wait_caught_up(&s, aud, (const char *[]){ "cef", "ocsf_file", "webhook", NULL });
	CHECK(h_stop(&s) == 0);
	rsys_stop(&wrong);
	{
		char *got = read_all(wrong.out);

		CHECK(got[0] == '\0');   /* nothing crossed the refused handshake */
		free(got);
	}

	/* the right CA again: the sink catches up from its cursor, the new receiver
	 * gets exactly what the old one had not */
	snprintf(conf, sizeof(conf), "tcp://127.0.0.1:%u", plain.port);
	h_config_set(&s, "syslog", conf);
	h_start(&s, "--dev");
	h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
	wait_caught_up(&s, aud, syslog_only);
	CHECK(h_stop(&s) == 0);
	head = export_count(&s);
	check_delivered("syslog after the refused TLS run", s.log, seqs,
	    rsys_seqs(plain.out, "seq=\"", seqs, MAXSEQ), 1, head);

	/* a receiver whose kernel acknowledged entries it never read, then reset the
	 * connection: the sink sends them again to the next receiver on that port */
	{
		unsigned port = h_free_port();
		pid_t bh = blackhole_start(port);
		struct rsys late;
		long long before;

		snprintf(conf, sizeof(conf), "tcp://127.0.0.1:%u", port);
		h_config_set(&s, "syslog", conf);
		before = head;
		h_start(&s, "--dev");
		h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
		h_login(&s, "clara", PW_USER, clin, sizeof(clin));
		wait_caught_up(&s, aud, syslog_only);   /* acknowledged by the black hole */
		/* it stops reading (hashicorp/vault#5361): its window fills, the sink
		 * times out and lags; every request still succeeds */
		write_records(&s, clin, 60, false);
		{
			bool stuck = false;

			for (int i = 0; i < 6000 && !stuck; i++) {
				e = sink_state(&s, aud, "syslog");
				stuck = json_is_string(json_object_get(e, "last_error")) &&
				    json_integer_value(json_object_get(e, "lag")) > 0;
				json_decref(e);
				if (!stuck)
					h_pause_ms(5);
			}
			CHECK(stuck);
		}
		write_records(&s, clin, 5, false);
		CHECK(kill(bh, SIGTERM) == 0);
		CHECK(waitpid(bh, &st, 0) == bh && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		child_gone(bh);
		rsys_init(&late, "late", NULL);
		late.port = port;
		rsys_config(&late);
		h_login(&s, "audrey", PW_USER, aud, sizeof(aud));   /* one more entry to send */
		rsys_start(&late);
		wait_caught_up(&s, aud, syslog_only);
		CHECK(h_stop(&s) == 0);
		head = export_count(&s);
		check_delivered("syslog after a reset", s.log, seqs,
		    rsys_seqs(late.out, "seq=\"", seqs, MAXSEQ), before + 1, head);
		rsys_stop(&late);
		assert_no_phi(late.out);
	}

	/* the cursor row cannot be saved (store fault sink_cursor_put): delivery goes
	 * on from the in-memory cursor, requests are untouched, the row keeps the
	 * last saved seq (after a restart that range is sent again: at-least-once) */
	{
		struct rsys fr;
		char fault[700], *out = NULL;
		long long before = head;

		rsys_init(&fr, "fault", NULL);
		rsys_start(&fr);
		snprintf(conf, sizeof(conf), "tcp://127.0.0.1:%u", fr.port);
		h_config_set(&s, "syslog", conf);
		snprintf(fault, sizeof(fault), "%s/fault", tmp);
		write_file(fault, "sink_cursor_put\n");
		CHECK(setenv("PHIVAULT_FAULT_FILE", fault, 1) == 0);
		h_start(&s, "--dev");
		CHECK(unsetenv("PHIVAULT_FAULT_FILE") == 0);
		h_login(&s, "audrey", PW_USER, aud, sizeof(aud));
		h_login(&s, "clara", PW_USER, clin, sizeof(clin));
		write_records(&s, clin, 5, false);
		wait_caught_up(&s, aud, syslog_only);
		CHECK(h_stop(&s) == 0);
		head = export_count(&s);
		check_range("syslog with failing cursor saves", seqs,
		    rsys_seqs(fr.out, "seq=\"", seqs, MAXSEQ), before + 1, head);
		snprintf(conf, sizeof(conf), "sqlite3 %s/phivault.db "
		    "\"SELECT seq FROM sink_cursors WHERE name = 'syslog'\"", s.dir);
		CHECK(h_run(conf, &out) == 0);
		CHECK(atoll(out) == before);   /* the last seq that was saved */
		free(out);
		rsys_stop(&fr);
		assert_no_phi(fr.out);
	}

	/* nothing a receiver got, nor the server log, holds PHI */
	assert_no_phi(plain.out);
	assert_no_phi(tls.out);
	assert_no_phi(ocsf);
	assert_no_phi(webhook_out);
	assert_no_phi(s.log);

	rsys_stop(&plain);
	rsys_stop(&tls);
	webhook_stop();
	json_decref(s.init);
	h_done("test_sinks");
	return 0;
}
