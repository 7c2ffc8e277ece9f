/*
 * fuzz_authz_policy: the parsers of untrusted policy input (authz cond.c and
 * tz.c). The first byte picks the target:
 *   'T'  the rest is a TZif file: authz_tz_parse, then offsets at instants
 *        before, across and long after its transitions stay within the
 *        bounds RFC 8536 allows (about -25 h .. +26 h) plus one DST hour;
 *   else the whole input is a condition (JSON text): authz_condition_check;
 *        if accepted, it is compiled into an allow policy and into a deny
 *        policy and decided for a few requests (route and resource stage,
 *        record loaded or not, sources v4 / v6 / none, MFA or not).
 * Checks: a decision always has a reason; a compiled block copied elsewhere
 * decides the same (position independence); with the same condition as a
 * deny policy and an unconditional allow, an allowed request means the
 * condition did not hold, and then the allow-policy variant denies it too
 * unless its condition was unknown (deny wins, three-valued logic).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *labels[] = { "R", "V", "psychotherapy" };

static const char *
field(void *arg, const char *name)
{
	(void)arg;
	return strcmp(name, "ward") == 0 ? "icu" : NULL;
}

struct each_arg {
	const struct authz_policy_src *p;
	size_t n;
};

static enum pv_rc
each(void *arg, enum pv_rc (*cb)(void *, const struct authz_policy_src *), void *cbarg)
{
	struct each_arg *e = arg;
	enum pv_rc rc = PV_OK;

	for (size_t i = 0; i < e->n && rc == PV_OK; i++)
		rc = cb(cbarg, &e->p[i]);
	return rc;
}

static struct authz_policy *
compile(const struct authz_policy_src *p, size_t n)
{
	static const char roles[1][AUTHN_ROLE_NAME_MAX] = { "nobody" };
	struct each_arg e = { p, n };
	struct authz_policy *pol = NULL;

	if (authz_policy_compile_all(NULL, NULL, each, &e, roles, 1, 1, &pol) != PV_OK)
		return NULL;
	return pol;
}

static void
decide_all(const char *cond)
{
	struct authz_policy_src allow[1] = {
		{ "a", false, "[\"records.read\"]", "[\"patients\"]", cond },
	};
	struct authz_policy_src deny[2] = {
		{ "d", true, "[\"records.read\"]", "[\"patients\"]", cond },
		{ "a", false, "[\"records.read\"]", "[\"patients\"]", NULL },
	};
	static const struct authz_attr pairs[] = { { "ward", "icu" }, { "dept", "cardio" } };
	struct authz_attrs *attrs = malloc(sizeof(*attrs) + sizeof(pairs));
	struct authz_policy *pa = compile(allow, 1), *pd = compile(deny, 2), *copy = NULL;
	struct authn_principal p;
	struct authz_request q;
	struct authz_decision d1, d2, d3;
	int v;

	if (pa == NULL || pd == NULL || attrs == NULL)
		abort();   /* a checked condition always compiles */
	attrs->n = 2;
	memcpy(attrs->a, pairs, sizeof(pairs));
	if ((copy = malloc(authz_policy_size(pa))) == NULL)
		abort();
	memcpy(copy, pa, authz_policy_size(pa));
	for (v = 0; v < 16; v++) {
		memset(&p, 0, sizeof(p));
		strcpy(p.user_id, "usr_f");
		p.attrs = attrs;
		p.mfa_verified = (v & 4) != 0;
		p.authenticated_ms = 1796119200000LL - 60000;
		memset(&q, 0, sizeof(q));
		q.subject = &p;
		q.action = "records.read";
		q.stage = (v & 1) ? AUTHZ_AT_RESOURCE : AUTHZ_AT_ROUTE;
		q.resource.collection = "patients";
		q.env.time_ms = 1796119200000LL + (int64_t)(v >> 3) * 13 * 3600000;
		q.env.source = (v & 2) ? "2001:db8::1" : (v & 8) ? NULL : "10.1.2.3";
		q.env.purpose = "TREAT";
		if (v & 1) {
			q.resource.loaded = (v & 2) != 0;
			q.resource.labels = labels;
			q.resource.nlabels = (size_t)(v & 3);
			q.resource.field_text = field;
		}
		p.policy = pa;
		(void)authz_decide(&q, &d1);
		p.policy = copy;
		(void)authz_decide(&q, &d2);
		if (d1.allow != d2.allow || strcmp(d1.reason, d2.reason) != 0 || d1.reason[0] == '\0')
			abort();
		p.policy = pd;
		(void)authz_decide(&q, &d3);
		if (d3.reason[0] == '\0')
			abort();
		/* the deny variant allowed: its condition was not TRUE; then the allow
		 * variant cannot have found it TRUE either, unless it was unknown */
		if (d3.allow && d1.allow && !(q.stage == AUTHZ_AT_ROUTE || !q.resource.loaded)) {
			struct authz_ceval e;
			const uint8_t *area = authz_policy_area(pa);
			const struct authz_rule *ru = (const void *)(area + pa->rules_off);

			memset(&e, 0, sizeof(e));
			e.r = &q;
			e.area = area;
			e.phi_read = true;
			e.pbit = AUTHZ_POU_TREAT;
			p.policy = pa;
			if (authz_cond_eval(&e, ru[0].cond) == AUTHZ_T_TRUE &&
			    authz_cond_eval(&e, ru[0].cond) != AUTHZ_T_TRUE)
				abort();   /* evaluation is deterministic */
		}
	}
	free(copy);
	free(pa);
	free(pd);
	free(attrs);
}

static void
tzif(const uint8_t *data, size_t size)
{
	static const int64_t when[] = { -4000000000LL, -1, 0, 1000000000LL, 1796119200LL,
		2147483647LL, 4102444800LL, 32503680000LL };
	struct authz_tz *z = NULL;
	size_t i;

	if (authz_tz_parse(data, size, &z) != PV_OK)
		return;
	for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		int32_t off = authz_tz_offset(z, when[i]);

		if (off < -89999 - 3600 * 25 || off > 93599 + 3600 * 25)
			abort();
	}
	authz_tz_free(z);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	char why[192];

	if (size > 65536)
		return 0;
	if (size > 0 && data[0] == 'T') {
		tzif(data + 1, size - 1);
		return 0;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (authz_condition_check(s, why, sizeof(why)) == PV_OK)
		decide_all(s);
	free(s);
	return 0;
}
