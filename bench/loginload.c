/*
 * loginload: the login load generator of bench/run.sh. wrk's Lua has no
 * HMAC, so the login workload (password + TOTP, API.md "Authentication")
 * is driven from C: libcurl (one keep-alive connection per thread), jansson,
 * and RFC 6238 TOTP computed here with OpenSSL's HMAC-SHA1.
 *
 *   loginload --url URL --cacert PEM setup --admin-token TOK --count N
 *             --prefix NAME --out FILE [--threads J]
 *       creates N users (role auditor: no PHI grant, so no dual-control approval), logs each in with its one-time
 *       password, sets a new password, enrols and confirms TOTP, logs out;
 *       writes "username password base32secret last_step" lines.
 *   loginload --url URL --cacert PEM run --users FILE --seconds S [--threads J]
 *       logs in (POST /v1/auth/login, then POST /v1/auth/mfa) for S seconds.
 *   loginload --url URL --cacert PEM sessions --username U --password P
 *             --count N [--threads J]
 *       N password-only logins (MFA not enrolled): N live sessions.
 *
 * TOTP replay rule: the server accepts each step once per user (RFC 6238
 * section 5.2). A user is therefore used with step s only if s is after the
 * last step it used and s is the current step or the next (the server allows
 * one step of skew each way; "next" stays valid if the step turns while the
 * request is in flight). `run` waits when every user has used its steps
 * ("starved_ms" says how long), so give it enough users: about
 * expected logins/s x seconds / 2.
 *
 * Prints one line of key=value pairs; exit 0 if no request failed.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#define MAX_THREADS 64
#define MAX_USERS 20000
#define MAX_SAMPLES 200000

struct user {
	char name[64];
	char password[64];
	char secret[64];     /* base32 */
	int64_t last_step;
};

struct buf {
	char *p;
	size_t n, cap;
};

struct conn {
	CURL *h;
	struct curl_slist *hdr_json;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
};

static const char *base_url, *cacert;
static struct user *users;
static size_t nusers;
static size_t next_user;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* results */
static double *lat_ms;
static size_t nlat;
static size_t n_ok, n_err, n_starved_waits;
static double starved_ms;
static char first_error[256];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *msg)
{
	fprintf(stderr, "loginload: %s\n", msg);
	exit(3);
}

static void
note_error(const char *what, long status, const char *body)
{
	pthread_mutex_lock(&mu);
	n_err++;
	if (first_error[0] == '\0')
		snprintf(first_error, sizeof(first_error), "%s: HTTP %ld %.160s", what, status,
		    body ? body : "");
	pthread_mutex_unlock(&mu);
}

/* ---- RFC 6238 / RFC 4226 ---- */

static int
b32_decode(const char *in, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (; *in != '\0' && *in != '='; in++) {
		int v;
		char ch = *in;

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= '2' && ch <= '7')
			v = ch - '2' + 26;
		else
			return -1;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (n >= cap)
				return -1;
			out[n++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return (int)n;
}

static int64_t
step_now(void)
{
	return (int64_t)time(NULL) / 30;
}

static void
totp(const char *secret_b32, int64_t step, char code[7])
{
	uint8_t key[64], msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned mlen = 0, off;
	uint32_t v;
	int klen = b32_decode(secret_b32, key, sizeof(key));

	if (klen <= 0)
		die("bad TOTP secret");
	for (int i = 7; i >= 0; i--) {
		msg[i] = (uint8_t)(step & 0xff);
		step >>= 8;
	}
	if (HMAC(EVP_sha1(), key, klen, msg, sizeof(msg), mac, &mlen) == NULL || mlen < 20)
		die("HMAC-SHA1 failed");
	off = mac[mlen - 1] & 0x0f;   /* dynamic truncation, RFC 4226 section 5.3 */
	v = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	snprintf(code, 7, "%06u", v % 1000000u);
}

/* ---- HTTP ---- */

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t len = size * nmemb;

	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *p = realloc(b->p, cap);

		if (p == NULL)
			return 0;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, ptr, len);
	b->n += len;
	b->p[b->n] = '\0';
	return len;
}

static void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->h = curl_easy_init();
	if (c->h == NULL)
		die("curl_easy_init failed");
	curl_easy_setopt(c->h, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
}

static void
conn_free(struct conn *c)
{
	curl_easy_cleanup(c->h);
	free(c->body.p);
}

/* method "GET"/"POST"; body may be NULL; token may be NULL. Returns the HTTP
 * status (0 on a transport error); the response body is in c->body.p. */
static long
request(struct conn *c, const char *method, const char *path, const char *token,
    const char *body)
{
	char url[512], auth[600];
	struct curl_slist *hdr = NULL;
	long status = 0;
	CURLcode cc;

	snprintf(url, sizeof(url), "%s%s", base_url, path);
	c->body.n = 0;
	if (c->body.p != NULL)
		c->body.p[0] = '\0';
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdr = curl_slist_append(hdr, auth);
	}
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, 0L);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(c->h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	else if (c->body.p == NULL || c->body.n == 0)
		on_write(c->errbuf, 1, strlen(c->errbuf), &c->body);
	curl_slist_free_all(hdr);
	return status;
}

/* The string member key of the JSON body, copied into out. */
static bool
json_str(const char *text, const char *key, char *out, size_t cap)
{
	json_error_t e;
	json_t *o = json_loads(text ? text : "", 0, &e), *v;
	bool ok = false;

	if (o == NULL)
		return false;
	v = json_object_get(o, key);
	if (json_is_string(v) && strlen(json_string_value(v)) < cap) {
		strcpy(out, json_string_value(v));
		ok = true;
	}
	json_decref(o);
	return ok;
}

static char *
json_body(const char *fmt, ...)
{
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, fmt);
	o = json_vpack_ex(NULL, 0, fmt, ap);
	va_end(ap);
	if (o == NULL)
		die("json_pack failed");
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s == NULL)
		die("json_dumps failed");
	return s;
}

static void
record_latency(double ms)
{
	pthread_mutex_lock(&mu);
	if (nlat < MAX_SAMPLES)
		lat_ms[nlat++] = ms;
	n_ok++;
	pthread_mutex_unlock(&mu);
}

/* ---- setup ---- */

static const char *admin_token, *prefix, *out_path;
static const char pw_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static size_t setup_count;

static void
new_password(char out[64])
{
	uint8_t rnd[20];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		die("RAND_bytes failed");
	for (size_t k = 0; k < sizeof(rnd); k++)
		out[k] = pw_alphabet[rnd[k] & 63];
	out[sizeof(rnd)] = '\0';
}

static void *
setup_worker(void *arg)
{
	struct conn c;
	char *b;
	char id[128], otp[128], tok[512], secret[64], code[7];
	size_t i;
	long st;

	(void)arg;
	conn_init(&c);
	for (;;) {
		struct user *u;
		int64_t step;

		pthread_mutex_lock(&mu);
		i = next_user < setup_count ? next_user++ : SIZE_MAX;
		pthread_mutex_unlock(&mu);
		if (i == SIZE_MAX)
			break;
		u = &users[i];
		snprintf(u->name, sizeof(u->name), "%s%05zu", prefix, i);
		b = json_body("{s:s, s:s, s:s, s:[s]}", "username", u->name, "display_name",
		    "Login load user", "email", "loginload@example.invalid", "roles", "auditor");
		st = request(&c, "POST", "/v1/users", admin_token, b);
		free(b);
		if (st != 201 || !json_str(c.body.p, "id", id, sizeof(id)) ||
		    !json_str(c.body.p, "one_time_password", otp, sizeof(otp))) {
			note_error("setup: create user", st, c.body.p);
			continue;
		}
		b = json_body("{s:s, s:s}", "username", u->name, "password", otp);
		st = request(&c, "POST", "/v1/auth/login", NULL, b);
		free(b);
		if (st != 200 || !json_str(c.body.p, "token", tok, sizeof(tok))) {
			note_error("setup: first login", st, c.body.p);
			continue;
		}
		/* 20 random characters of 64; cracklib's "systematic" check
		 * refuses the odd one, so try a few */
		for (int attempt = 0; attempt < 5; attempt++) {
			new_password(u->password);
			b = json_body("{s:s, s:s}", "current_password", otp, "new_password",
			    u->password);
			st = request(&c, "POST", "/v1/auth/password", tok, b);
			free(b);
			if (st != 400)
				break;
		}
		if (st != 200 && st != 204) {
			note_error("setup: password change", st, c.body.p);
			continue;
		}
		st = request(&c, "POST", "/v1/auth/mfa/enroll", tok, NULL);
		if (st != 200 || !json_str(c.body.p, "secret", secret, sizeof(secret))) {
			note_error("setup: mfa enroll", st, c.body.p);
			continue;
		}
		step = step_now();
		totp(secret, step, code);
		b = json_body("{s:s}", "code", code);
		st = request(&c, "POST", "/v1/auth/mfa/confirm", tok, b);
		free(b);
		if (st != 200) {
			note_error("setup: mfa confirm", st, c.body.p);
			continue;
		}
		(void)request(&c, "POST", "/v1/auth/logout", tok, NULL);
		snprintf(u->secret, sizeof(u->secret), "%s", secret);
		u->last_step = step;
		pthread_mutex_lock(&mu);
		n_ok++;
		pthread_mutex_unlock(&mu);
	}
	conn_free(&c);
	return NULL;
}

/* ---- run: password + TOTP ---- */

static double run_seconds = 10, t_start;

/* Take a user and a step it may use now; false (and a wait) if none. */
static bool
take_user(struct user **out, int64_t *step)
{
	int64_t now = step_now();

	pthread_mutex_lock(&mu);
	for (size_t k = 0; k < nusers; k++) {
		struct user *u = &users[(next_user + k) % nusers];
		int64_t s = u->last_step + 1 > now ? u->last_step + 1 : now;

		if (s <= now + 1) {
			u->last_step = s;
			next_user = (next_user + k + 1) % nusers;
			pthread_mutex_unlock(&mu);
			*out = u;
			*step = s;
			return true;
		}
	}
	pthread_mutex_unlock(&mu);
	return false;
}

static void *
run_worker(void *arg)
{
	struct conn c;
	char mfa_tok[512], tok[512], code[7];
	char *b;
	long st;

	(void)arg;
	conn_init(&c);
	while (now_s() - t_start < run_seconds) {
		struct user *u;
		int64_t step;
		double t0;

		if (!take_user(&u, &step)) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
			pthread_mutex_lock(&mu);
			n_starved_waits++;
			starved_ms += 20;
			pthread_mutex_unlock(&mu);
			continue;
		}
		t0 = now_s();
		b = json_body("{s:s, s:s}", "username", u->name, "password", u->password);
		st = request(&c, "POST", "/v1/auth/login", NULL, b);
		free(b);
		if (st != 200 || !json_str(c.body.p, "mfa_token", mfa_tok, sizeof(mfa_tok))) {
			note_error("login", st, c.body.p);
			continue;
		}
		totp(u->secret, step, code);
		b = json_body("{s:s, s:s}", "mfa_token", mfa_tok, "code", code);
		st = request(&c, "POST", "/v1/auth/mfa", NULL, b);
		free(b);
		if (st != 200 || !json_str(c.body.p, "token", tok, sizeof(tok))) {
			note_error("mfa", st, c.body.p);
			continue;
		}
		record_latency((now_s() - t0) * 1000.0);
	}
	conn_free(&c);
	return NULL;
}

/* ---- sessions: password only ---- */

static const char *sess_user, *sess_password;
static size_t sess_count, sess_next;

static void *
sessions_worker(void *arg)
{
	struct conn c;
	char tok[512];
	char *b = json_body("{s:s, s:s}", "username", sess_user, "password", sess_password);
	long st;

	(void)arg;
	conn_init(&c);
	for (;;) {
		double t0;

		pthread_mutex_lock(&mu);
		if (sess_next >= sess_count) {
			pthread_mutex_unlock(&mu);
			break;
		}
		sess_next++;
		pthread_mutex_unlock(&mu);
		t0 = now_s();
		st = request(&c, "POST", "/v1/auth/login", NULL, b);
		if (st != 200 || !json_str(c.body.p, "token", tok, sizeof(tok))) {
			note_error("login", st, c.body.p);
			continue;
		}
		record_latency((now_s() - t0) * 1000.0);
	}
	free(b);
	conn_free(&c);
	return NULL;
}

/* ---- main ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
load_users(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (f == NULL)
		die("cannot open the users file");
	while (fgets(line, sizeof(line), f) != NULL && nusers < MAX_USERS) {
		struct user *u = &users[nusers];
		long long step;

		if (sscanf(line, "%63s %63s %63s %lld", u->name, u->password, u->secret, &step) == 4) {
			u->last_step = step;
			nusers++;
		}
	}
	fclose(f);
	if (nusers == 0)
		die("no users in the users file");
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loginload --url URL --cacert PEM setup --admin-token T --count N --prefix P --out F [--threads J]\n"
	    "       loginload --url URL --cacert PEM run --users F --seconds S [--threads J]\n"
	    "       loginload --url URL --cacert PEM sessions --username U --password P --count N [--threads J]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *mode = NULL, *users_path = NULL;
	unsigned threads = 4;
	pthread_t tid[MAX_THREADS];
	void *(*fn)(void *) = NULL;
	double elapsed;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(name) (strcmp(a, name) == 0 && v != NULL && (i++, 1))
		if (OPT("--url")) base_url = v;
		else if (OPT("--cacert")) cacert = v;
		else if (OPT("--admin-token")) admin_token = v;
		else if (OPT("--count")) setup_count = sess_count = strtoul(v, NULL, 10);
		else if (OPT("--prefix")) prefix = v;
		else if (OPT("--out")) out_path = v;
		else if (OPT("--users")) users_path = v;
		else if (OPT("--seconds")) run_seconds = strtod(v, NULL);
		else if (OPT("--threads")) threads = (unsigned)strtoul(v, NULL, 10);
		else if (OPT("--username")) sess_user = v;
		else if (OPT("--password")) sess_password = v;
		else if (a[0] != '-' && mode == NULL) mode = a;
		else usage();
#undef OPT
	}
	if (base_url == NULL || cacert == NULL || mode == NULL || threads == 0)
		usage();
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die("curl_global_init failed");
	users = calloc(MAX_USERS, sizeof(*users));
	lat_ms = calloc(MAX_SAMPLES, sizeof(double));
	if (users == NULL || lat_ms == NULL)
		die("out of memory");

	if (strcmp(mode, "setup") == 0) {
		if (admin_token == NULL || prefix == NULL || out_path == NULL || setup_count == 0 ||
		    setup_count > MAX_USERS)
			usage();
		fn = setup_worker;
	} else if (strcmp(mode, "run") == 0) {
		if (users_path == NULL)
			usage();
		load_users(users_path);
		fn = run_worker;
	} else if (strcmp(mode, "sessions") == 0) {
		if (sess_user == NULL || sess_password == NULL || sess_count == 0)
			usage();
		fn = sessions_worker;
	} else {
		usage();
	}

	t_start = now_s();
	for (unsigned k = 0; k < threads; k++)
		if (pthread_create(&tid[k], NULL, fn, NULL) != 0)
			die("cannot start a thread");
	for (unsigned k = 0; k < threads; k++)
		pthread_join(tid[k], NULL);
	elapsed = now_s() - t_start;

	if (strcmp(mode, "setup") == 0) {
		FILE *f = fopen(out_path, "w");

		if (f == NULL)
			die("cannot write the users file");
		for (size_t k = 0; k < setup_count; k++)
			if (users[k].secret[0] != '\0')
				fprintf(f, "%s %s %s %" PRId64 "\n", users[k].name, users[k].password,
				    users[k].secret, users[k].last_step);
		if (fclose(f) != 0)
			die("cannot write the users file");
		printf("users=%zu seconds=%.3f errors=%zu%s%s\n", n_ok, elapsed, n_err,
		    first_error[0] ? " first_error=" : "", first_error);
	} else {
		qsort(lat_ms, nlat, sizeof(double), cmp_double);
		printf("logins=%zu seconds=%.3f rate=%.2f p50_ms=%.2f p99_ms=%.2f errors=%zu "
		    "starved_ms=%.0f%s%s\n",
		    n_ok, elapsed, (double)n_ok / elapsed, nlat ? lat_ms[nlat / 2] : 0.0,
		    nlat ? lat_ms[(size_t)((double)(nlat - 1) * 0.99)] : 0.0, n_err, starved_ms,
		    first_error[0] ? " first_error=" : "", first_error);
	}
	curl_global_cleanup();
	return n_err == 0 ? 0 : 1;
}
