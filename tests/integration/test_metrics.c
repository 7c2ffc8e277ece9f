/*
 * GET /metrics on the real binary: Prometheus text format 0.0.4, checked by
 * a strict parser written here (no PyPI): HELP/TYPE before a family's
 * samples and once each, families contiguous, label values escaped, no
 * duplicate series, histogram buckets cumulative in increasing le order
 * ending with +Inf equal to _count, counters never negative.
 *
 * Over HTTPS: the request counters move by exactly the requests made, by
 * route template (a record read appears as /v1/collections/{c}/records/{id},
 * never with its collection or record ID) and status; unmatched paths are
 * "(unmatched)"; metrics.read is needed (anonymous 401, a clinician 403, the
 * denial audited), a custom role grants it; sessions, jobs (by state and a
 * running job's progress), commit groups, seal state, audit head and build
 * info are there; and the whole body holds none of the usernames, user and
 * record IDs, PHI values, collection name or source address the test used.
 *
 * [metrics] listen: a plain-HTTP listener on loopback answers GET /metrics
 * (the scrape config of docs/monitoring.md, which this test reads and
 * follows), 404 / 405 otherwise; a non-loopback address is refused outside
 * --dev. [metrics] enabled = off: GET /metrics is 404 not_found for everyone.
 * A Shamir-sealed server answers /metrics (phivault_sealed 1) until unsealed.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "util/util.h"

#define PW_ADMIN "Quiet-harbor-Lantern-91"
#define PW_USER "Copper-meadow-Violin-73"
#define NAME1 "Zebediah Quuxworth"
#define SSN1 "123-45-6789"

static const char *TREAT[] = { "X-Purpose-Of-Use: TREAT", NULL };
#define ROUTE_RECORD "/v1/collections/{c}/records/{id}"

/* ------------------------------------------------------------ strict parser */

struct sample {
	char name[128];
	char labels[512];     /* the text between the braces, as sent ("" none) */
	double value;
	int family;           /* index into families */
};

struct family {
	char name[128];
	char type[16];
	bool help, typed;
};

struct scrape {
	struct sample *s;
	size_t n, cap;
	struct family f[256];
	size_t nf;
};

#define PCHECK(cond, line, why) do { \
	h_checks++; \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: metrics text line %d: %s\n", __FILE__, __LINE__, (line), \
		    (why)); \
		h_fail(); \
	} \
} while (0)

static bool
metric_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];
		bool a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';

		if (!a && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool
label_name_ok(const char *s, size_t n)
{
	return metric_name_ok(s, n) && memchr(s, ':', n) == NULL;
}

/* Go's strconv.ParseFloat forms Prometheus reads: decimal, NaN, +Inf, -Inf. */
static bool
value_parse(const char *s, double *out)
{
	char *end;

	if (strcmp(s, "NaN") == 0) {
		*out = NAN;
		return true;
	}
	if (strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0) {
		*out = s[0] == '+' ? INFINITY : -INFINITY;
		return true;
	}
	if (*s == '\0' || strpbrk(s, "xXnNiI") != NULL)
		return false;
	*out = strtod(s, &end);
	return *end == '\0';
}

static struct family *
family_find(struct scrape *sc, const char *name)
{
	size_t i;

	for (i = 0; i < sc->nf; i++)
		if (strcmp(sc->f[i].name, name) == 0)
			return &sc->f[i];
	return NULL;
}

/* The label set of a bucket without its le pair; *le its value. */
static void
split_le(const char *labels, char *rest, size_t len, char *le, size_t lelen)
{
	const char *p = strstr(labels, "le=\"");

	le[0] = '\0';
	snprintf(rest, len, "%s", labels);
	if (p == NULL || (p != labels && p[-1] != ','))
		return;
	snprintf(le, lelen, "%.*s", (int)strcspn(p + 4, "\""), p + 4);
	/* le is the last pair in what phivault sends; anything else is refused */
	if (p == labels)
		rest[0] = '\0';
	else
		rest[p - labels - 1] = '\0';
}

static void
check_histograms(struct scrape *sc)
{
	size_t i, k;

	for (i = 0; i < sc->nf; i++) {
		struct family *f = &sc->f[i];
		char bucket[160], sum[160], count[160];

		if (strcmp(f->type, "histogram") != 0)
			continue;
		snprintf(bucket, sizeof(bucket), "%s_bucket", f->name);
		snprintf(sum, sizeof(sum), "%s_sum", f->name);
		snprintf(count, sizeof(count), "%s_count", f->name);
		for (k = 0; k < sc->n; k++) {
			char rest[512], le[64], r2[512], le2[64];
			double prev_le = -INFINITY, prev = 0, lev;
			bool inf = false, have_sum = false, have_count = false;
			size_t j;

			if ((size_t)sc->s[k].family != i || strcmp(sc->s[k].name, bucket) != 0)
				continue;
			split_le(sc->s[k].labels, rest, sizeof(rest), le, sizeof(le));
			/* the first bucket of a series: walk the whole series from here */
			if (k > 0 && (size_t)sc->s[k - 1].family == i &&
			    strcmp(sc->s[k - 1].name, bucket) == 0) {
				split_le(sc->s[k - 1].labels, r2, sizeof(r2), le2, sizeof(le2));
				if (strcmp(r2, rest) == 0)
					continue;
			}
			for (j = k; j < sc->n && strcmp(sc->s[j].name, bucket) == 0; j++) {
				split_le(sc->s[j].labels, r2, sizeof(r2), le2, sizeof(le2));
				if (strcmp(r2, rest) != 0)
					break;
				PCHECK(le2[0] != '\0' && value_parse(le2, &lev), (int)j, "bucket without le");
				PCHECK(lev > prev_le, (int)j, "le not increasing");
				PCHECK(sc->s[j].value >= prev, (int)j, "buckets not cumulative");
				PCHECK(!inf, (int)j, "bucket after +Inf");
				inf = isinf(lev) && lev > 0;
				prev_le = lev;
				prev = sc->s[j].value;
			}
			PCHECK(inf, (int)k, "histogram series without le=\"+Inf\"");
			for (j = 0; j < sc->n; j++) {
				if (strcmp(sc->s[j].labels, rest) != 0)
					continue;
				if (strcmp(sc->s[j].name, sum) == 0)
					have_sum = true;
				if (strcmp(sc->s[j].name, count) == 0) {
					have_count = true;
					PCHECK(sc->s[j].value == prev, (int)j, "_count is not the +Inf bucket");
				}
			}
			PCHECK(have_sum && have_count, (int)k, "histogram series without _sum/_count");
		}
	}
}

/* Parse text strictly into sc (every violation fails the test). */
static void
parse_strict(const char *text, struct scrape *sc)
{
	const char *p = text;
	int line = 0, cur = -1;

	memset(sc, 0, sizeof(*sc));
	CHECK(text != NULL && *text != '\0');
	CHECK(text[strlen(text) - 1] == '\n');
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);
		char buf[4096];

		line++;
		PCHECK(nl != NULL, line, "no newline at the end");
		PCHECK(len > 0 && len < sizeof(buf), line, "empty or overlong line");
		memcpy(buf, p, len);
		buf[len] = '\0';
		p = nl + 1;
		PCHECK(strchr(buf, '\r') == NULL, line, "carriage return");
		if (buf[0] == '#') {
			char *kw = buf + 2, *name, *rest;
			struct family *f;

			if (strncmp(buf, "# HELP ", 7) != 0 && strncmp(buf, "# TYPE ", 7) != 0)
				continue;   /* other comments are allowed */
			name = buf + 7;
			rest = strchr(name, ' ');
			PCHECK(rest != NULL, line, "HELP/TYPE without text");
			*rest++ = '\0';
			PCHECK(metric_name_ok(name, strlen(name)), line, "bad metric name");
			f = family_find(sc, name);
			if (f == NULL) {
				PCHECK(sc->nf < 256, line, "too many families");
				f = &sc->f[sc->nf++];
				snprintf(f->name, sizeof(f->name), "%s", name);
			} else {
				/* a family's metadata and samples are one block */
				PCHECK(f == &sc->f[cur], line, "family not contiguous");
			}
			cur = (int)(f - sc->f);
			if (strncmp(kw, "HELP", 4) == 0) {
				const char *q;

				PCHECK(!f->help, line, "second HELP");
				for (q = rest; *q != '\0'; q++)
					if (*q == '\\') {
						PCHECK(q[1] == '\\' || q[1] == 'n', line, "bad escape in HELP");
						q++;
					}
				f->help = true;
			} else {
				PCHECK(!f->typed, line, "second TYPE");
				PCHECK(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
				    strcmp(rest, "histogram") == 0 || strcmp(rest, "summary") == 0 ||
				    strcmp(rest, "untyped") == 0, line, "unknown TYPE");
				snprintf(f->type, sizeof(f->type), "%s", rest);
				f->typed = true;
			}
			continue;
		}
		{
			struct sample smp;
			struct family *f;
			char *q = buf, *brace, *sp;
			size_t nlen, i;

			memset(&smp, 0, sizeof(smp));
			nlen = strcspn(q, "{ ");
			PCHECK(metric_name_ok(q, nlen) && nlen < sizeof(smp.name), line,
			    "bad sample name");
			memcpy(smp.name, q, nlen);
			q += nlen;
			if (*q == '{') {
				brace = q + 1;
				q = brace;
				while (*q != '}') {
					const char *ln = q;
					size_t ll = strcspn(q, "=");

					PCHECK(label_name_ok(ln, ll), line, "bad label name");
					q += ll;
					PCHECK(q[0] == '=' && q[1] == '"', line, "label without =\"");
					q += 2;
					while (*q != '"') {
						PCHECK(*q != '\0', line, "unterminated label value");
						if (*q == '\\') {
							PCHECK(q[1] == '\\' || q[1] == '"' || q[1] == 'n', line,
							    "bad escape in a label value");
							q++;
						}
						q++;
					}
					q++;
					PCHECK(*q == ',' || *q == '}', line, "label not followed by , or }");
					if (*q == ',')
						q++;
					PCHECK(*q != '\0', line, "unterminated label set");
				}
				PCHECK((size_t)(q - brace) < sizeof(smp.labels), line, "labels too long");
				memcpy(smp.labels, brace, (size_t)(q - brace));
				q++;
			}
			PCHECK(*q == ' ', line, "no space before the value");
			q++;
			sp = strchr(q, ' ');
			PCHECK(sp == NULL, line, "timestamp or trailing text");
			PCHECK(value_parse(q, &smp.value), line, "bad value");
			/* the sample belongs to the family whose TYPE came last */
			PCHECK(cur >= 0, line, "sample before any TYPE");
			f = &sc->f[cur];
			PCHECK(f->typed, line, "sample before its TYPE");
			if (strcmp(f->type, "histogram") == 0) {
				char b[160], s[160], c[160];

				snprintf(b, sizeof(b), "%s_bucket", f->name);
				snprintf(s, sizeof(s), "%s_sum", f->name);
				snprintf(c, sizeof(c), "%s_count", f->name);
				PCHECK(strcmp(smp.name, b) == 0 || strcmp(smp.name, s) == 0 ||
				    strcmp(smp.name, c) == 0, line, "sample outside its histogram family");
			} else {
				PCHECK(strcmp(smp.name, f->name) == 0, line, "sample outside its family");
			}
			if (strcmp(f->type, "counter") == 0)
				PCHECK(!isnan(smp.value) && smp.value >= 0, line, "negative counter");
			for (i = 0; i < sc->n; i++)
				PCHECK(strcmp(sc->s[i].name, smp.name) != 0 ||
				    strcmp(sc->s[i].labels, smp.labels) != 0, line, "duplicate series");
			smp.family = cur;
			if (sc->n == sc->cap) {
				sc->cap = sc->cap ? sc->cap * 2 : 256;
				sc->s = realloc(sc->s, sc->cap * sizeof(*sc->s));
				CHECK(sc->s != NULL);
			}
			sc->s[sc->n++] = smp;
		}
	}
	check_histograms(sc);
}

static void
scrape_free(struct scrape *sc)
{
	free(sc->s);
	memset(sc, 0, sizeof(*sc));
}

/* A sample's value; NAN if absent. */
static double
get(const struct scrape *sc, const char *name, const char *labels)
{
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 && strcmp(sc->s[i].labels, labels) == 0)
			return sc->s[i].value;
	return NAN;
}

/* 0 when absent (a counter not created yet). */
static double
get0(const struct scrape *sc, const char *name, const char *labels)
{
	double v = get(sc, name, labels);

	return isnan(v) ? 0 : v;
}

static double
reqs(const struct scrape *sc, const char *method, const char *route, const char *code)
{
	char l[512];

	snprintf(l, sizeof(l), "method=\"%s\",route=\"%s\",code=\"%s\"", method, route, code);
	return get0(sc, "phivault_http_requests_total", l);
}

/* ------------------------------------------------------------ the server */

static void
add_user(struct h_server *s, const char *admin, const char *user, const char *role,
    char *id, size_t idlen, char *token, size_t len)
{
	char otp[128];

	h_user_create(s, admin, user, role, NULL, id, idlen, otp, sizeof(otp));
	h_login_fresh(s, user, otp, PW_USER, token, len);
}

/* GET /metrics with token: 200, the exposition content type, strictly parsed. */
static char *
scrape(struct h_server *s, const char *token, struct scrape *sc)
{
	struct h_resp r;
	char *body;

	h_req(s, "GET", "/metrics", token, NULL, NULL, &r);
	CHECK_STATUS(&r, 200);
	CHECK(h_has_header(&r, "Content-Type: text/plain; version=0.0.4\r"));
	CHECK(h_has_header(&r, "Cache-Control: no-store\r"));
	parse_strict(r.body, sc);
	body = r.body;
	r.body = NULL;
	h_resp_free(&r);
	return body;
}

static void
expect(struct h_server *s, const char *method, const char *path, const char *token,
    const char *body, const char **hdrs, int status)
{
	h_expect(s, method, path, token, body, hdrs, status, NULL);
}

/* Poll GET /v1/jobs/{id} (a few ms apart) until pred holds; bounded. */
static json_t *
job_wait(struct h_server *s, const char *admin, const char *id, const char *state,
    long min_done)
{
	char path[128];
	int i;

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	for (i = 0; i < 20000; i++) {
		struct h_resp r;

		h_req(s, "GET", path, admin, NULL, NULL, &r);
		CHECK_STATUS(&r, 200);
		if (strcmp(json_string_value(json_object_get(r.json, "state")), state) == 0 &&
		    json_integer_value(json_object_get(r.json, "done")) >= min_done) {
			json_t *j = json_incref(r.json);

			h_resp_free(&r);
			return j;
		}
		h_resp_free(&r);
		h_pause_ms(5);
	}
	CHECK(!"job never reached the state");
	return NULL;
}

static const char *
job_create(struct h_server *s, const char *admin, long n, char *id, size_t len)
{
	char body[64];
	struct h_resp r;

	snprintf(body, sizeof(body), "{\"n\":%ld}", n);
	h_req(s, "POST", "/v1/test/jobs", admin, body, NULL, &r);
	CHECK_STATUS(&r, 202);
	snprintf(id, len, "%s", json_string_value(json_object_get(r.json, "job")));
	h_resp_free(&r);
	return id;
}

/* ------------------------------------------------------------ tests */

struct ctx {
	char admin[128], clin[128], mon[128], spare[128];
	char clin_id[64], mon_id[64];
	char rec[64], path[256];
};

static void
setup(struct h_server *s, struct ctx *c)
{
	const char *otp = json_string_value(json_object_get(s->init, "admin_password"));
	char body[512];
	struct h_resp r;

	h_login_fresh(s, "admin", otp, PW_ADMIN, c->admin, sizeof(c->admin));
	/* metrics.read is in no built-in role: a role of its own for the scraper */
	expect(s, "POST", "/v1/roles", c->admin,
	    "{\"name\":\"metrics_reader\",\"permissions\":[\"metrics.read\"]}", NULL, 201);
	add_user(s, c->admin, "clara", "clinician", c->clin_id, sizeof(c->clin_id), c->clin,
	    sizeof(c->clin));
	add_user(s, c->admin, "promwatch", "metrics_reader", c->mon_id, sizeof(c->mon_id),
	    c->mon, sizeof(c->mon));
	h_collection_create(s, c->admin,
	    "{\"name\":\"patients\",\"region\":\"local\",\"retention_days\":2190,\"fields\":["
	    "{\"name\":\"name\",\"type\":\"string\",\"classification\":\"phi\"},"
	    "{\"name\":\"ssn\",\"type\":\"ssn\",\"classification\":\"phi\",\"mask\":\"last4\","
	    "\"searchable\":true}]}");
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"ssn\":\"%s\"}", NAME1, SSN1);
	h_req(s, "POST", "/v1/collections/patients/records", c->clin, body, NULL, &r);
	CHECK_STATUS(&r, 201);
	snprintf(c->rec, sizeof(c->rec), "%s", json_string_value(json_object_get(r.json, "id")));
	h_resp_free(&r);
	snprintf(c->path, sizeof(c->path), "/v1/collections/patients/records/%s", c->rec);
}

static void
test_access(struct h_server *s, struct ctx *c)
{
	struct h_resp r;
	char *out = NULL, cmd[1024];

	h_req(s, "GET", "/metrics", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	CHECK(strcmp(h_err_code(&r), "unauthenticated") == 0);
	h_resp_free(&r);
	/* a clinician reads PHI, not metrics; the denial is in the audit trail */
	h_req(s, "GET", "/metrics", c->clin, NULL, NULL, &r);
	CHECK_STATUS(&r, 403);
	CHECK(strcmp(h_err_code(&r), "forbidden") == 0);
	h_resp_free(&r);
	/* admin and auditor duties do not include it either (docs/identity.md) */
	expect(s, "GET", "/metrics", c->admin, NULL, NULL, 403);
	/* a route that takes no body */
	expect(s, "GET", "/metrics", c->mon, "{\"x\":1}", NULL, 400);
	snprintf(cmd, sizeof(cmd), "%s audit export --data %s --format jsonl | grep -c "
	    "'\"action\":\"metrics.read\".*\"outcome\":\"denied\".*missing_permission:metrics.read'",
	    h_bin(), s->dir);
	CHECK(h_run(cmd, &out) == 0);
	CHECK(atoi(out) == 2);
	free(out);
}

static void
test_counts(struct h_server *s, struct ctx *c)
{
	struct scrape a, b;
	char *text, *t2;
	char missing[256];
	double seq_a, seq_b, v;
	int i;

	text = scrape(s, c->mon, &a);
	free(text);
	/* exactly these requests between the two scrapes */
	for (i = 0; i < 3; i++)
		expect(s, "GET", c->path, c->clin, NULL, TREAT, 200);
	for (i = 0; i < 2; i++)
		expect(s, "GET", c->path, c->clin, NULL, NULL, 400);   /* purpose_required */
	snprintf(missing, sizeof(missing), "/v1/collections/patients/records/%s",
	    "rec_aaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect(s, "GET", missing, c->clin, NULL, TREAT, 404);
	expect(s, "GET", "/v1/no/such/route", NULL, NULL, NULL, 404);
	expect(s, "GET", "/v1/no/such/route/either", c->clin, NULL, NULL, 404);
	expect(s, "BREW", "/v1/coffee", NULL, NULL, NULL, 404);
	expect(s, "GET", "/metrics", c->clin, NULL, NULL, 403);
	text = scrape(s, c->mon, &b);

	CHECK(reqs(&b, "GET", ROUTE_RECORD, "200") - reqs(&a, "GET", ROUTE_RECORD, "200") == 3);
	CHECK(reqs(&b, "GET", ROUTE_RECORD, "400") - reqs(&a, "GET", ROUTE_RECORD, "400") == 2);
	CHECK(reqs(&b, "GET", ROUTE_RECORD, "404") - reqs(&a, "GET", ROUTE_RECORD, "404") == 1);
	CHECK(reqs(&b, "GET", "(unmatched)", "404") - reqs(&a, "GET", "(unmatched)", "404") == 2);
	CHECK(reqs(&b, "other", "(unmatched)", "404") - reqs(&a, "other", "(unmatched)", "404") == 1);
	/* the first scrape is counted in the second; the second is not yet */
	CHECK(reqs(&b, "GET", "/metrics", "200") - reqs(&a, "GET", "/metrics", "200") == 1);
	CHECK(reqs(&b, "GET", "/metrics", "403") - reqs(&a, "GET", "/metrics", "403") == 1);
	/* nothing else moved: the sum over all series grew by exactly 11 */
	{
		double sa = 0, sb = 0;
		size_t k;

		for (k = 0; k < a.n; k++)
			if (strcmp(a.s[k].name, "phivault_http_requests_total") == 0)
				sa += a.s[k].value;
		for (k = 0; k < b.n; k++)
			if (strcmp(b.s[k].name, "phivault_http_requests_total") == 0)
				sb += b.s[k].value;
		CHECK(sb - sa == 11);
	}
	/* durations: the record route's histogram counted the 6 reads */
	v = get0(&b, "phivault_http_request_duration_seconds_count",
	    "method=\"GET\",route=\"" ROUTE_RECORD "\"") -
	    get0(&a, "phivault_http_request_duration_seconds_count",
	    "method=\"GET\",route=\"" ROUTE_RECORD "\"");
	CHECK(v == 6);
	/* the reads were audited: the head moved by at least the 3 allowed reads */
	seq_a = get(&a, "phivault_audit_head_seq", "");
	seq_b = get(&b, "phivault_audit_head_seq", "");
	CHECK(!isnan(seq_a) && seq_b >= seq_a + 3);
	/* commit groups: committed ones have a size and a time each */
	CHECK(get(&b, "phivault_commit_groups_total", "result=\"committed\"") >
	    get(&a, "phivault_commit_groups_total", "result=\"committed\""));
	CHECK(get(&b, "phivault_commit_groups_total", "result=\"committed\"") ==
	    get(&b, "phivault_commit_group_size_count", ""));
	CHECK(get(&b, "phivault_commit_groups_total", "result=\"committed\"") ==
	    get(&b, "phivault_commit_fsync_seconds_count", ""));
	CHECK(get(&b, "phivault_commit_group_size_sum", "") >=
	    get(&b, "phivault_commit_group_size_count", ""));
	CHECK(get(&b, "phivault_sealed", "") == 0);
	CHECK(get(&b, "phivault_build_info", "version=\"" PHIVAULT_VERSION "\"") == 1);
	CHECK(get(&b, "phivault_process_start_time_seconds", "") <= (double)time(NULL) + 1);
	CHECK(get(&b, "phivault_process_start_time_seconds", "") > (double)time(NULL) - 3600);
	CHECK(get(&b, "phivault_metrics_dropped_samples", "") == 0);

	/* no PHI, names, IDs, collection or address anywhere in the body */
	{
		const char *const needles[] = { "clara", "promwatch", "admin", c->clin_id, c->mon_id,
			c->rec, "rec_", "usr_", "ses_", "Zebediah", "Quuxworth", SSN1, "123456789",
			"patients", "127.0.0.1", "/v1/no/such", "BREW", "coffee", c->clin, c->mon, NULL };

		for (i = 0; needles[i] != NULL; i++) {
			if (strstr(text, needles[i]) != NULL) {
				fprintf(stderr, "/metrics holds \"%s\"\n", needles[i]);
				CHECK(!"a name, ID, value or address in /metrics");
			}
		}
	}
	/* a record read appears only as its template */
	CHECK(strstr(text, "route=\"" ROUTE_RECORD "\"") != NULL);

	/* sessions: logging out one session lowers the count by exactly one */
	t2 = NULL;
	expect(s, "POST", "/v1/auth/logout", c->spare, NULL, NULL, 204);
	{
		struct scrape d;

		t2 = scrape(s, c->mon, &d);
		CHECK(get(&b, "phivault_sessions_active", "") >= 3);
		CHECK(get(&b, "phivault_sessions_active", "") -
		    get(&d, "phivault_sessions_active", "") == 1);
		scrape_free(&d);
	}
	free(t2);
	free(text);
	scrape_free(&a);
	scrape_free(&b);
}

static void
test_jobs(struct h_server *s, struct ctx *c)
{
	struct scrape a, b, d;
	char id[64], path[128], *text;
	json_t *j;

	text = scrape(s, c->mon, &a);
	free(text);
	/* all six states are always there */
	CHECK(!isnan(get(&a, "phivault_jobs", "state=\"queued\"")));
	CHECK(!isnan(get(&a, "phivault_jobs", "state=\"running\"")));
	CHECK(!isnan(get(&a, "phivault_jobs", "state=\"paused\"")));
	CHECK(!isnan(get(&a, "phivault_jobs", "state=\"failed\"")));
	CHECK(!isnan(get(&a, "phivault_jobs", "state=\"cancelled\"")));
	/* a short job runs to done */
	job_create(s, c->admin, 3, id, sizeof(id));
	json_decref(job_wait(s, c->admin, id, "done", 3));
	/* a long one is caught running: its kind's progress is shown */
	job_create(s, c->admin, 100000, id, sizeof(id));
	json_decref(job_wait(s, c->admin, id, "running", 1));
	text = scrape(s, c->mon, &b);
	CHECK(get(&b, "phivault_jobs", "state=\"done\"") -
	    get(&a, "phivault_jobs", "state=\"done\"") == 1);
	CHECK(get(&b, "phivault_jobs", "state=\"running\"") == 1);
	CHECK(get(&b, "phivault_job_items_total", "kind=\"test.count\"") == 100000);
	CHECK(get(&b, "phivault_job_items_done", "kind=\"test.count\"") >= 1);
	CHECK(get(&b, "phivault_job_items_done", "kind=\"test.count\"") < 100000);
	CHECK(strstr(text, id) == NULL);   /* no job IDs */
	free(text);
	snprintf(path, sizeof(path), "/v1/jobs/%s/cancel", id);
	expect(s, "POST", path, c->admin, NULL, NULL, 200);
	j = job_wait(s, c->admin, id, "cancelled", 0);
	json_decref(j);
	text = scrape(s, c->mon, &d);
	CHECK(get(&d, "phivault_jobs", "state=\"cancelled\"") -
	    get(&a, "phivault_jobs", "state=\"cancelled\"") == 1);
	CHECK(get(&d, "phivault_jobs", "state=\"running\"") == 0);
	CHECK(isnan(get(&d, "phivault_job_items_total", "kind=\"test.count\"")));
	free(text);
	scrape_free(&a);
	scrape_free(&b);
	scrape_free(&d);
}

/* ---- [metrics] listen ---- */

struct body {
	char *p;
	size_t n;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *np = realloc(b->p, b->n + n + 1);

	if (np == NULL)
		return 0;
	memcpy(np + b->n, ptr, n);
	b->n += n;
	np[b->n] = '\0';
	b->p = np;
	return n;
}

/* A plain-HTTP request as Prometheus makes it; returns the status. */
static long
plain_get(const char *url, const char *method, char **body, char *ctype, size_t ctlen)
{
	struct body b = { NULL, 0 };
	struct curl_slist *hl = NULL;
	CURL *c = curl_easy_init();
	char *ct = NULL;
	long st = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	/* what Prometheus 2.x sends */
	hl = curl_slist_append(hl, "Accept: application/openmetrics-text;version=1.0.0,"
	    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
	    "*/*;q=0.1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ctype != NULL)
			snprintf(ctype, ctlen, "%s", ct ? ct : "");
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	if (body != NULL)
		*body = b.p;
	else
		free(b.p);
	return st;
}

/* The scrape config docs/monitoring.md shows, with this test's address. */
static void
test_listener(struct h_server *s, struct ctx *c, unsigned port)
{
	char url[128], ct[128], *body = NULL, *doc = NULL, path[1024];
	struct scrape a, b;
	const char *src = getenv("PV_SOURCE_DIR");
	size_t dlen;

	/* docs/monitoring.md holds the scrape config this follows */
	CHECK(src != NULL);
	snprintf(path, sizeof(path), "%s/docs/monitoring.md", src);
	CHECK(util_file_read(path, 1 << 20, (uint8_t **)&doc, &dlen) == PV_OK);
	CHECK(strstr(doc,
	    "  - job_name: phivault\n"
	    "    scheme: http\n"
	    "    metrics_path: /metrics\n"
	    "    static_configs:\n"
	    "      - targets: ['127.0.0.1:9464']\n") != NULL);
	CHECK(strstr(doc, "[metrics]\nenabled = on\nlisten = 127.0.0.1:9464\n") != NULL);
	free(doc);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	CHECK(plain_get(url, "GET", &body, ct, sizeof(ct)) == 200);
	CHECK(strcmp(ct, "text/plain; version=0.0.4") == 0);
	parse_strict(body, &a);
	CHECK(get(&a, "phivault_sealed", "") == 0);
	free(body);
	/* the listener's own scrapes are not API requests */
	CHECK(plain_get(url, "GET", &body, NULL, 0) == 200);
	parse_strict(body, &b);
	CHECK(reqs(&b, "GET", "/metrics", "200") == reqs(&a, "GET", "/metrics", "200"));
	free(body);
	scrape_free(&a);
	scrape_free(&b);
	CHECK(plain_get(url, "POST", NULL, NULL, 0) == 405);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/sys/health", port);
	CHECK(plain_get(url, "GET", &body, ct, sizeof(ct)) == 404);
	CHECK(strstr(body, "\"code\":\"not_found\"") != NULL);
	free(body);
	/* plain HTTP only: no TLS there, and no plain HTTP on the API port */
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/metrics", port);
	CHECK(plain_get(url, "GET", NULL, NULL, 0) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", s->port);
	CHECK(plain_get(url, "GET", NULL, NULL, 0) != 200);
	(void)c;
}

static void
test_off_and_refused(void)
{
	struct h_server s;
	char listen[64], *log = NULL;
	struct h_resp r;
	size_t len;
	int rc;

	h_init(&s, "metrics-off", NULL);
	/* a plain listener off loopback: refused without --dev, naming the key */
	h_config_set_in(&s, "metrics", "listen", "0.0.0.0:9464");
	rc = h_start_expect_exit(&s, NULL);
	CHECK(rc == 3);
	CHECK(util_file_read(s.log, 1 << 20, (uint8_t **)&log, &len) == PV_OK);
	CHECK(strstr(log, "metrics.listen = 0.0.0.0:9464 is not a loopback address") != NULL);
	free(log);
	/* enabled = off: 404 not_found for everyone, and no listener */
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", h_free_port());
	h_config_set_in(&s, "metrics", "listen", listen);
	h_config_set_in(&s, "metrics", "enabled", "off");
	h_start(&s, NULL);
	h_req(&s, "GET", "/metrics", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 404);
	CHECK(strcmp(h_err_code(&r), "not_found") == 0);
	h_resp_free(&r);
	{
		char url[128];

		snprintf(url, sizeof(url), "http://%s/metrics", listen);
		CHECK(plain_get(url, "GET", NULL, NULL, 0) == 0);
	}
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

/* A Shamir-sealed server: /metrics answers while sealed (401 without a session,
 * not 503), and the listener shows phivault_sealed 1 until K shares are in. */
static void
test_sealed(void)
{
	struct h_server s;
	struct scrape a;
	char listen[64], url[128], body[1024], *text = NULL;
	json_t *shares;
	struct h_resp r;
	unsigned port = h_free_port();
	size_t i;

	h_init(&s, "metrics-sealed", "--seal shamir:2/3");
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	h_config_set_in(&s, "metrics", "listen", listen);
	h_start(&s, NULL);
	snprintf(url, sizeof(url), "http://%s/metrics", listen);
	CHECK(plain_get(url, "GET", &text, NULL, 0) == 200);
	parse_strict(text, &a);
	CHECK(get(&a, "phivault_sealed", "") == 1);
	free(text);
	scrape_free(&a);
	h_req(&s, "GET", "/metrics", NULL, NULL, NULL, &r);
	CHECK_STATUS(&r, 401);
	h_resp_free(&r);
	shares = json_object_get(s.init, "unseal_shares");
	for (i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"share\":\"%s\"}",
		    json_string_value(json_array_get(shares, i)));
		h_req(&s, "POST", "/v1/sys/unseal", NULL, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		h_resp_free(&r);
	}
	CHECK(plain_get(url, "GET", &text, NULL, 0) == 200);
	parse_strict(text, &a);
	CHECK(get(&a, "phivault_sealed", "") == 0);
	free(text);
	scrape_free(&a);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);
}

int
main(void)
{
	struct h_server s;
	struct ctx c;
	char listen[64];
	unsigned port;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&c, 0, sizeof(c));
	h_init(&s, "metrics", NULL);
	h_config_set(&s, "mfa_required", "off");
	port = h_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	h_config_set_in(&s, "metrics", "listen", listen);
	h_start(&s, "--dev");
	setup(&s, &c);
	{
		/* a second session of the scraper, to log out in test_counts */
		char body[256];
		struct h_resp r;

		snprintf(body, sizeof(body), "{\"username\":\"promwatch\",\"password\":\"%s\"}",
		    PW_USER);
		h_req(&s, "POST", "/v1/auth/login", NULL, body, NULL, &r);
		CHECK_STATUS(&r, 200);
		snprintf(c.spare, sizeof(c.spare), "%s",
		    json_string_value(json_object_get(r.json, "token")));
		h_resp_free(&r);
	}
	test_access(&s, &c);
	test_counts(&s, &c);
	test_jobs(&s, &c);
	test_listener(&s, &c, port);
	CHECK(h_stop(&s) == 0);
	json_decref(s.init);

	test_off_and_refused();
	test_sealed();
	h_done("test_metrics");
	return 0;
}
