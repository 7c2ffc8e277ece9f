/*
 * bench/authz_decide: the decision point against 100 access policies
 * (issue 10 item 2: target p99 <= 20 us). Built by CMake (bench_authz_decide),
 * run by `make bench` before bench/run.sh.
 *
 * A clinician (built-in role) with two attributes asks records.read on
 * "patients" at the resource stage with the record loaded (labels and an
 * internal field), from 10.1.2.3 at a fixed time: the 100 policies are 50
 * deny and 50 allow rules over several collections, with source, time (in
 * Europe/Paris and America/New_York), mfa, principal, labels and match
 * conditions, about half of them naming "patients", none of the denies
 * holding (so every rule is evaluated: the worst case for an allow).
 * Two rows: the decision alone, and the per-request work of the wiring too
 * (copying the compiled block into a request arena, then deciding).
 * Each of N samples is one decision timed with CLOCK_MONOTONIC; p50 / p99
 * in microseconds, printed as a Markdown table row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/authz_int.h"

#define NPOL 100
#define SAMPLES 200000

static const char *labels[] = { "R", "cardiology" };

static const char *
field(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "ward") == 0 ? "icu" : NULL;
}

struct each_arg {
	struct authz_policy_src p[NPOL];
	char names[NPOL][16];
};

static enum pv_rc
each(void *arg, enum pv_rc (*cb)(void *, const struct authz_policy_src *), void *cbarg)
{
	struct each_arg *e = arg;
	enum pv_rc rc = PV_OK;

	for (size_t i = 0; i < NPOL && rc == PV_OK; i++)
		rc = cb(cbarg, &e->p[i]);
	return rc;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
row(const char *what, double *s, size_t n)
{
	qsort(s, n, sizeof(*s), cmp);
	printf("| %s | %d | %.2f | %.2f | %.2f |\n", what, NPOL, s[n / 2], s[n * 99 / 100],
	    s[n - 1]);
}

int
main(void)
{
	static const char *const conds[] = {
		"{\"not\":{\"source\":[\"10.0.0.0/8\",\"2001:db8::/32\"]}}",
		"{\"all\":[{\"labels\":{\"any_of\":[\"V\",\"psychotherapy\"]}},"
		"{\"not\":{\"principal\":{\"dept\":\"psychiatry\"}}}]}",
		"{\"not\":{\"time\":{\"tz\":\"Europe/Paris\",\"days\":[\"mon\",\"tue\",\"wed\","
		"\"thu\",\"fri\",\"sat\",\"sun\"],\"from\":\"00:00\",\"to\":\"24:00\"}}}",
		"{\"principal\":{\"dept\":\"oncology\"},\"mfa\":{\"required\":true,\"max_age_s\":60}}",
		"{\"any\":[{\"match\":{\"record\":\"ward\",\"principal\":\"other\"}},"
		"{\"time\":{\"tz\":\"America/New_York\",\"from\":\"22:00\",\"to\":\"04:00\"}}]}",
	};
	static const char *const res[] = { "[\"patients\"]", "[\"labs\"]", "[\"*\"]",
		"[\"billing\",\"patients\"]" };
	static const char roles[1][AUTHN_ROLE_NAME_MAX] = { "clinician" };
	static struct each_arg e;
	struct authz_policy *pol = NULL, *copy;
	struct authn_principal p;
	struct authz_request q;
	struct authz_decision d;
	struct pv_arena *arena;
	double *s = malloc(SAMPLES * sizeof(double));
	size_t i;

	for (i = 0; i < NPOL; i++) {
		snprintf(e.names[i], sizeof(e.names[i]), "p%03zu", i);
		e.p[i].name = e.names[i];
		e.p[i].deny = i % 2 == 0;
		e.p[i].actions = i % 3 == 0 ? "[\"records.*\"]" : "[\"records.read\",\"tokens.detokenize\"]";
		e.p[i].resources = res[i % 4];
		e.p[i].condition = conds[i % 5];
	}
	if (s == NULL || authz_policy_compile_all(NULL, NULL, each, &e, roles, 1, 1, &pol) != PV_OK) {
		fprintf(stderr, "bench: compile failed\n");
		return 1;
	}
	memset(&p, 0, sizeof(p));
	strcpy(p.user_id, "usr_bench");
	p.mfa_verified = true;
	p.authenticated_ms = 1796119200000LL - 600000;
	arena = arena_new(1 << 20);
	if (authz_attrs_parse("{\"dept\":\"cardiology\",\"ward\":\"icu\"}", arena, &p.attrs) != PV_OK)
		return 1;
	p.policy = pol;
	memset(&q, 0, sizeof(q));
	q.subject = &p;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = "patients";
	q.resource.loaded = true;
	q.resource.labels = labels;
	q.resource.nlabels = 2;
	q.resource.field_text = field;
	q.env.time_ms = 1796119200000LL;
	q.env.source = "10.1.2.3";
	q.env.purpose = "TREAT";
	if (authz_decide(&q, &d) != PV_OK) {
		fprintf(stderr, "bench: the request is denied (%s)\n", d.reason);
		return 1;
	}
	for (i = 0; i < 10000; i++)   /* warm up */
		(void)authz_decide(&q, &d);
	for (i = 0; i < SAMPLES; i++) {
		double t0 = now_us();

		(void)authz_decide(&q, &d);
		s[i] = now_us() - t0;
	}
	printf("| decision | policies | p50 us | p99 us | max us |\n|---|---|---|---|---|\n");
	row("authz_decide (resource stage, record loaded)", s, SAMPLES);
	for (i = 0; i < SAMPLES; i++) {
		struct pv_arena *a = arena_new(64 * 1024);
		double t0 = now_us();

		copy = arena_alloc(a, authz_policy_size(pol));
		memcpy(copy, pol, authz_policy_size(pol));
		p.policy = copy;
		(void)authz_decide(&q, &d);
		s[i] = now_us() - t0;
		arena_free(a);
	}
	row("copy into the request arena + authz_decide", s, SAMPLES);
	printf("\ncompiled block: %zu bytes (%zu grants, %zu rules)\n", authz_policy_size(pol),
	    pol->n, pol->nrules);
	free(pol);
	free(s);
	arena_free(arena);
	return 0;
}
