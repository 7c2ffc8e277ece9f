/*
 * The decision point builds the permissions it requires without text
 * (authz_perm_scoped) and unmasks grant by grant (decide.c unmask_set);
 * it used to write every required permission with snprintf and parse it
 * again, field by field. This differential test asks authz_decide over a
 * table of role sets (built-in, custom roles with purpose, source and MFA
 * conditions, break-glass), actions, collections and field names (invalid
 * ones included), purposes, sources and MFA states, and compares each
 * answer with the text form of the same lookup, written here as decide.c
 * did it: "<verb>:<collection>" / "records.unmask:<c>.<f>" by snprintf,
 * matched against each grant's written permission with authz_perm_match,
 * under the grant's condition (authz_cond_eval). Compared: allow, the
 * reason of a missing permission, purposes, matched and the unmask bits.
 *
 * Also: a break-glass grant in force unmasks every field, an elevation
 * owing MFA stops every action but "authenticated", and (over the real
 * wiring, test_epoch_seen) a role or policy change is seen by the next
 * decision once the epoch moves, and only then.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authn/authn_fixture.h"
#include "authz/authz_int.h"

#define NOW 1798000000000LL   /* 2026-12-22, a fixed instant */

static enum pv_rc lookup(void *arg, const char *name, char **perms, char **cond)
{
	static const struct {
		const char *name, *perms, *cond;
	} roles[] = {
		{ "ward_nurse", "[\"records.read:patients\",\"records.unmask:patients.*\"]", NULL },
		{ "researcher", "[\"records.read:*\",\"records.unmask:patients.dob\"]",
		    "{\"purposes\":\"HRESCH\"}" },
		{ "net_notes", "[\"records.read:patients\",\"records.unmask:patients.notes\","
		    "\"records.unmask:labs.*\"]", "{\"source\":[\"10.0.0.0/8\"]}" },
		{ "mfa_ssn", "[\"records.unmask:*.ssn\",\"records.write:labs\"]",
		    "{\"mfa\":{\"required\":true,\"max_age_s\":300}}" },
		{ "billing", "[\"records.read:patients\",\"records.unmask:patients.name\"]",
		    "{\"purposes\":[\"HPAYMT\",\"TREAT\"]}" },
		{ "secrets_apps", "[\"secrets.read:apps/\",\"secrets.write:apps/billing/\"]", NULL },
		{ "exporter", "[\"records.export:patients\",\"tokens.detokenize:patients\","
		    "\"tokens.tokenize\"]", NULL },
		{ "unmask_only", "[\"records.unmask:*.*\"]", NULL },
	};

	(void)arg;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(name, roles[i].name) == 0) {
			*perms = strdup(roles[i].perms);
			*cond = roles[i].cond != NULL ? strdup(roles[i].cond) : NULL;
			return PV_OK;
		}
	return PV_E_NOTFOUND;
}

static const char *const *const ROLESETS[] = {
	(const char *const[]){ "clinician", NULL },
	(const char *const[]){ "analyst", NULL },
	(const char *const[]){ "admin", NULL },
	(const char *const[]){ "auditor", NULL },
	(const char *const[]){ "key_admin", NULL },
	(const char *const[]){ "security_officer", NULL },
	(const char *const[]){ "admin", "clinician", NULL },
	(const char *const[]){ "ward_nurse", NULL },
	(const char *const[]){ "researcher", NULL },
	(const char *const[]){ "clinician", "researcher", NULL },
	(const char *const[]){ "mfa_ssn", "net_notes", "ward_nurse", NULL },
	(const char *const[]){ "billing", "net_notes", NULL },
	(const char *const[]){ "exporter", "secrets_apps", NULL },
	(const char *const[]){ "analyst", "unmask_only", NULL },
	(const char *const[]){ "no_such_role", NULL },
	(const char *const[]){ NULL },
};
#define NROLESETS (sizeof(ROLESETS) / sizeof(ROLESETS[0]))

static const char N63[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";
static const char N64[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl";

static const char *const COLLECTIONS[] = { "patients", "labs", "*", "Bad-Name", "", NULL,
	N63, N64, "a.b", "a:b", "apps/", "apps/billing/db", "apps/../x" };
#define NCOLL (sizeof(COLLECTIONS) / sizeof(COLLECTIONS[0]))

static const char *const F_BENCH[] = { "name", "ssn", "mrn", "dob", "notes" };
static const char *const F_ODD[] = { "*", "dob", "", NULL, "Bad", "a.b", N63, N64, "ssn" };
static const char *const F_ONE[] = { "notes" };
static const struct {
	const char *const *f;
	size_t n;
} FIELDSETS[] = { { F_BENCH, 5 }, { F_ODD, 9 }, { F_ONE, 1 }, { NULL, 0 } };
#define NFIELDSETS (sizeof(FIELDSETS) / sizeof(FIELDSETS[0]))

static const char *const PURPOSES[] = { "TREAT", "HRESCH", "HPAYMT" };
static const char *const SOURCES[] = { "10.1.2.3", "192.0.2.1" };

static const char *const PLAIN[] = { "users.manage", "roles.manage", "collections.manage",
	"keys.manage", "audit.read", "alerts.read", "compliance.read", "sys.backup",
	"metrics.read", "apps.manage", "scim.provision", "records.shred", "access.approve",
	"breakglass.activate", "incidents.manage" };
static const char *const SCOPED[] = { "records.read", "records.write", "tokens.tokenize",
	"tokens.detokenize", "secrets.read", "secrets.write", "records.export" };

/* ------------------------------------------------------------ the text form */

struct text_answer {
	bool any, ok;
	unsigned purposes;
	size_t nmatched;
	char matched[AUTHZ_MATCHED_MAX][AUTHZ_RULE_MAX];
};

static void ceval_init(struct authz_ceval *e, const struct authz_request *q,
    const struct authz_policy *pol, bool phi_read)
{
	unsigned bit = 0;

	memset(e, 0, sizeof(*e));
	e->r = q;
	e->area = authz_policy_area(pol);
	e->phi_read = phi_read;
	if (phi_read && q->stage == AUTHZ_AT_RESOURCE &&
	    authz_purpose_parse(q->env.purpose, &bit) == PV_OK)
		e->pbit = bit;
}

static int text_eval(struct authz_ceval *e, int32_t root)
{
	e->fail = AUTHZ_CF_NONE;
	e->max_age = -1;
	return authz_cond_eval(e, root);
}

/* decide.c covered(), on text: the grants whose written permission covers
 * required (written), under their condition */
static void text_covered(const struct authz_policy *pol, const char *required,
    struct authz_ceval *e, struct text_answer *t)
{
	char perm[AUTHZ_PERM_MAX];

	if (!authz_perm_valid(required))
		return;
	for (size_t i = 0; i < pol->n; i++) {
		const struct authz_grant *g = &pol->g[i];

		assert_int_equal(authz_perm_format(&g->perm, perm), PV_OK);
		if (!authz_perm_match(perm, required))
			continue;
		t->any = true;
		if (text_eval(e, g->cond) == AUTHZ_T_FALSE) {
			if (e->fail != AUTHZ_CF_PURPOSE)
				continue;
		} else {
			t->ok = true;
		}
		t->purposes |= g->purposes;
		if (t->nmatched < AUTHZ_MATCHED_MAX)
			snprintf(t->matched[t->nmatched++], AUTHZ_RULE_MAX, "role:%s %s",
			    pol->roles[g->role], perm);
	}
}

/* bit i: "records.unmask:<c>.<fields[i]>" written, covered by a grant that holds */
static uint64_t text_unmask(const struct authz_policy *pol, const struct authz_request *q,
    struct authz_ceval *e)
{
	char perm[AUTHZ_PERM_MAX];
	uint64_t bits = 0;

	for (size_t i = 0; i < q->resource.nfields; i++) {
		struct text_answer t;
		int n = snprintf(perm, sizeof(perm), "records.unmask:%s.%s",
		    q->resource.collection != NULL ? q->resource.collection : "",
		    q->resource.fields[i] != NULL ? q->resource.fields[i] : "");

		memset(&t, 0, sizeof(t));
		if (n > 0 && (size_t)n < sizeof(perm))
			text_covered(pol, perm, e, &t);
		if (t.ok)
			bits |= (uint64_t)1 << i;
	}
	return bits;
}

static void same_matched(const struct authz_decision *d, const struct text_answer *t)
{
	assert_int_equal(d->nmatched, t->nmatched);
	for (size_t i = 0; i < t->nmatched; i++)
		assert_string_equal(d->matched[i], t->matched[i]);
}

/* ------------------------------------------------------------ the table */

struct subject {
	struct authn_principal p;
	struct authz_policy *pol;
};

static void subject_of(struct subject *s, const char *const *roles, const char *source, bool mfa)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->p.user_id, "usr_t");
	strcpy(s->p.source, source);
	for (size_t i = 0; roles[i] != NULL; i++)
		strcpy(s->p.roles[s->p.nroles++], roles[i]);
	s->p.authenticated_ms = NOW - 3600 * 1000;
	s->p.mfa_verified = mfa;
	s->p.mfa_at_ms = mfa ? NOW - 60 * 1000 : 0;
	assert_int_equal(authz_policy_compile(lookup, NULL,
	    (const char (*)[AUTHN_ROLE_NAME_MAX])s->p.roles, s->p.nroles, 1, &s->pol), PV_OK);
	s->p.policy = s->pol;
}

/* the loaded record's subject reference (break-glass) */
static const char *ask_subject_ref;

static void ask(const struct subject *s, const char *action, enum authz_stage stage,
    const char *collection, const char *const *fields, size_t nfields, const char *purpose,
    struct authz_request *q, struct authz_decision *d)
{
	memset(q, 0, sizeof(*q));
	q->subject = &s->p;
	q->action = action;
	q->stage = stage;
	q->resource.collection = collection;
	q->resource.fields = fields;
	q->resource.nfields = nfields;
	q->resource.loaded = nfields > 0;
	q->resource.subject_ref = ask_subject_ref;
	q->env.source = s->p.source;
	q->env.purpose = purpose;
	q->env.time_ms = NOW;
	(void)authz_decide(q, d);
}

/* A scoped or plain action at the route stage. */
static void check_route(const struct subject *s, const char *action, const char *collection,
    bool scoped, size_t *allowed)
{
	char required[AUTHZ_PERM_MAX + 64], reason[AUTHZ_REASON_MAX + 64];
	struct authz_request q;
	struct authz_decision d;
	struct authz_ceval e;
	struct text_answer t;
	bool valid;

	ask(s, action, AUTHZ_AT_ROUTE, collection, NULL, 0, NULL, &q, &d);
	if (scoped)
		snprintf(required, sizeof(required), "%s:%s", action,
		    collection != NULL ? collection : "");
	else
		snprintf(required, sizeof(required), "%s", action);
	valid = strlen(required) < AUTHZ_PERM_MAX && authz_perm_valid(required);
	memset(&t, 0, sizeof(t));
	ceval_init(&e, &q, s->pol, false);
	if (valid)
		text_covered(s->pol, required, &e, &t);
	if (!valid) {
		assert_false(d.allow);
		assert_string_equal(d.reason, "missing_permission:(invalid)");
		return;
	}
	/* no policies in the table, no break-glass grant: covered and held */
	assert_int_equal(d.allow, t.any && t.ok);
	if (!t.any) {
		snprintf(reason, sizeof(reason), "missing_permission:%s", required);
		assert_string_equal(d.reason, reason);
		assert_int_equal(d.nmatched, 0);
		return;
	}
	if (d.allow) {
		(*allowed)++;
		assert_int_equal(d.purposes, t.purposes);
		same_matched(&d, &t);
	}
}

/* records.read at the resource stage, the record loaded: the unmask bits;
 * records.unmask over the same fields. */
static void check_read(const struct subject *s, const char *collection, const char *const *f,
    size_t nf, const char *purpose, size_t *unmasked)
{
	char required[AUTHZ_PERM_MAX + 64];
	struct authz_request q;
	struct authz_decision d;
	struct authz_ceval e;
	struct text_answer t;
	uint64_t bits;

	ask(s, "records.read", AUTHZ_AT_RESOURCE, collection, f, nf, purpose, &q, &d);
	snprintf(required, sizeof(required), "records.read:%s", collection != NULL ? collection :
	    "");
	memset(&t, 0, sizeof(t));
	ceval_init(&e, &q, s->pol, true);
	if (strlen(required) < AUTHZ_PERM_MAX && authz_perm_valid(required))
		text_covered(s->pol, required, &e, &t);
	assert_int_equal(d.allow, t.any && t.ok);
	if (d.allow) {
		assert_int_equal(d.purposes, t.purposes);
		same_matched(&d, &t);
		ceval_init(&e, &q, s->pol, true);
		bits = nf > 0 ? text_unmask(s->pol, &q, &e) : 0;
		assert_int_equal(d.unmask, bits);
		if (bits != 0)
			(*unmasked)++;
	}
	/* the obligation alone (records.unmask: every field or a refusal) */
	ask(s, "records.unmask", AUTHZ_AT_RESOURCE, collection, f, nf, purpose, &q, &d);
	ceval_init(&e, &q, s->pol, false);
	bits = text_unmask(s->pol, &q, &e);
	assert_int_equal(d.allow, nf > 0 && bits == ((uint64_t)1 << nf) - 1);
	if (d.allow) {
		assert_int_equal(d.unmask, bits);
	} else if (nf > 0) {
		char reason[AUTHZ_REASON_MAX + 192];
		size_t i;

		for (i = 0; i < nf && (bits & ((uint64_t)1 << i)) != 0; i++)
			;
		snprintf(reason, sizeof(reason), "missing_permission:records.unmask:%s.%s",
		    collection != NULL ? collection : "", f[i] != NULL ? f[i] : "");
		if (strlen(reason) >= AUTHZ_REASON_MAX ||
		    !authz_perm_valid(reason + strlen("missing_permission:")))
			snprintf(reason, sizeof(reason), "missing_permission:(invalid)");
		assert_string_equal(d.reason, reason);
	}
}

static void test_compiled_matches_text(void **state)
{
	size_t allowed = 0, unmasked = 0, cases = 0;

	(void)state;
	for (size_t r = 0; r < NROLESETS; r++)
		for (size_t src = 0; src < 2; src++)
			for (int mfa = 0; mfa < 2; mfa++) {
				struct subject s;

				subject_of(&s, ROLESETS[r], SOURCES[src], mfa != 0);
				for (size_t c = 0; c < NCOLL; c++) {
					for (size_t a = 0; a < sizeof(SCOPED) / sizeof(SCOPED[0]); a++)
						check_route(&s, SCOPED[a], COLLECTIONS[c], true,
						    &allowed);
					for (size_t fs = 0; fs < NFIELDSETS; fs++)
						for (size_t pu = 0; pu < 3; pu++) {
							check_read(&s, COLLECTIONS[c],
							    FIELDSETS[fs].f, FIELDSETS[fs].n,
							    PURPOSES[pu], &unmasked);
							cases++;
						}
				}
				for (size_t a = 0; a < sizeof(PLAIN) / sizeof(PLAIN[0]); a++)
					check_route(&s, PLAIN[a], NULL, false, &allowed);
				free(s.pol);
			}
	/* the table reaches both answers (not everything denied) */
	assert_true(allowed > 100);
	assert_true(unmasked > 50);
	assert_true(cases > 1000);
}

/* collections.read and authz.explain are any-of actions: reason
 * "forbidden", the grants of the alternatives in matched */
static void test_any_of(void **state)
{
	struct subject s;
	struct authz_request q;
	struct authz_decision d;

	(void)state;
	subject_of(&s, (const char *const[]){ "mfa_ssn", NULL }, "192.0.2.1", true);
	ask(&s, "collections.read", AUTHZ_AT_ROUTE, "labs", NULL, 0, NULL, &q, &d);
	assert_true(d.allow);
	assert_string_equal(d.matched[0], "role:mfa_ssn records.write:labs");
	ask(&s, "collections.read", AUTHZ_AT_ROUTE, "patients", NULL, 0, NULL, &q, &d);
	assert_false(d.allow);
	assert_string_equal(d.reason, "forbidden");
	ask(&s, "collections.read", AUTHZ_AT_ROUTE, "Bad-Name", NULL, 0, NULL, &q, &d);
	assert_string_equal(d.reason, "forbidden");
	free(s.pol);
	subject_of(&s, (const char *const[]){ "auditor", NULL }, "192.0.2.1", false);
	ask(&s, "authz.explain", AUTHZ_AT_ROUTE, NULL, NULL, 0, NULL, &q, &d);
	assert_true(d.allow);
	assert_string_equal(d.matched[0], "role:auditor audit.read");
	free(s.pol);
	subject_of(&s, (const char *const[]){ "admin", NULL }, "192.0.2.1", false);
	ask(&s, "authz.explain", AUTHZ_AT_ROUTE, NULL, NULL, 0, NULL, &q, &d);
	assert_string_equal(d.matched[0], "role:admin roles.manage");
	ask(&s, "collections.read", AUTHZ_AT_ROUTE, "*", NULL, 0, NULL, &q, &d);
	assert_string_equal(d.matched[0], "role:admin collections.manage");
	free(s.pol);
}

/* Break-glass (ETREAT, a grant in force): every field, valid or not, in
 * clear; the elevation that owes MFA stops everything but "authenticated". */
static void test_breakglass_and_elevation(void **state)
{
	struct authn_breakglass g;
	struct subject s;
	struct authz_request q;
	struct authz_decision d;
	char ref[65];

	(void)state;
	memset(ref, 'a', 64);
	ref[64] = '\0';
	memset(&g, 0, sizeof(g));
	strcpy(g.id, "bg_1");
	memcpy(g.subject_ref, ref, sizeof(ref));
	g.expires_ms = NOW + 1000;
	subject_of(&s, (const char *const[]){ "break_glass", NULL }, "192.0.2.1", true);
	s.p.break_glass = &g;
	ask_subject_ref = ref;
	ask(&s, "records.read", AUTHZ_AT_RESOURCE, "patients", F_ODD, 9, "ETREAT", &q, &d);
	ask_subject_ref = NULL;
	assert_true(d.allow);
	assert_int_equal(d.unmask, 0x1ff);
	assert_string_equal(d.matched[0], "breakglass:bg_1");
	ask(&s, "records.read", AUTHZ_AT_RESOURCE, "patients", F_BENCH, 5, "TREAT", &q, &d);
	assert_string_equal(d.reason, "purpose_not_allowed");
	free(s.pol);

	subject_of(&s, (const char *const[]){ "admin", "clinician", NULL }, "192.0.2.1", false);
	s.p.elevation_mfa_owed = true;
	ask(&s, "records.read", AUTHZ_AT_RESOURCE, "patients", F_BENCH, 5, "TREAT", &q, &d);
	assert_string_equal(d.reason, "step_up_required");
	assert_int_equal(d.unmask, 0);
	ask(&s, "users.manage", AUTHZ_AT_ROUTE, NULL, NULL, 0, NULL, &q, &d);
	assert_string_equal(d.reason, "step_up_required");
	ask(&s, "authenticated", AUTHZ_AT_ROUTE, NULL, NULL, 0, NULL, &q, &d);
	assert_true(d.allow);
	s.p.elevation_mfa_owed = false;
	ask(&s, "records.read", AUTHZ_AT_RESOURCE, "patients", F_BENCH, 5, "TREAT", &q, &d);
	assert_true(d.allow);
	assert_int_equal(d.unmask, 0x1f);
	free(s.pol);
}

/* ------------------------------------------------- the epoch, over the wiring */

static void put_role(struct af *f, const char *name, const char *perms)
{
	struct store_role r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.permissions = (char *)perms;
	assert_int_equal(TX_WR(f->st, store_role_put(tx, &r)), PV_OK);
}

static void put_deny_unmask(struct af *f)
{
	struct store_policy p;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "no_unmask");
	p.deny = true;
	p.actions = (char *)"[\"records.unmask\"]";
	p.resources = (char *)"[\"patients\"]";
	p.condition = (char *)"{}";
	p.version = 1;
	assert_int_equal(TX_WR(f->st, store_policy_put(tx, &p)), PV_OK);
}

static const struct http_route read_route = {
	"GET", "/v1/collections/{c}/records/{id}", NULL, "records.read:{0}", "record.read", 0, 0,
	NULL
};

/* One request of the session: authenticate, then the read's decision with
 * the record's fields; the unmask bits (-1: not allowed). */
static int64_t read_bits(struct af *f, struct authz_service *z, const char *auth)
{
	const char *hdrs[] = { "Authorization", auth, NULL };
	struct http_ctx *ctx = NULL;
	struct authz_request q;
	struct authz_decision d;
	int64_t bits;

	assert_int_equal(http_ctx_new(f->srv, "/v1/collections/patients/records/r", &ctx), PV_OK);
	ctx->test_headers = hdrs;
	ctx->req.method = "GET";
	ctx->req.source = "198.51.100.4";
	ctx->req.route = &read_route;
	assert_int_equal(authz_authenticate(z, &ctx->req), PV_OK);
	/* the request's permission set: its entries, read like a full set */
	assert_true(authz_check(ctx->req.principal, "records.read:patients", false) == PV_OK ||
	    authz_check(ctx->req.principal, "records.unmask:patients.name", false) == PV_OK);
	memset(&q, 0, sizeof(q));
	q.subject = ctx->req.principal;
	q.action = "records.read";
	q.stage = AUTHZ_AT_RESOURCE;
	q.resource.collection = "patients";
	q.resource.fields = F_BENCH;
	q.resource.nfields = 5;
	q.resource.loaded = true;
	q.env.source = "198.51.100.4";
	q.env.purpose = "TREAT";
	q.env.time_ms = util_now_ms();
	bits = authz_decide(&q, &d) == PV_OK ? (int64_t)d.unmask : -1;
	http_ctx_free(ctx);
	return bits;
}

static void test_epoch_seen(void **state)
{
	struct af *f = *state;
	struct authz_service *z = NULL;
	struct authn_result res;
	char uid[UTIL_ID_MAX], auth[AUTHN_TOKEN_MAX + 16];
	json_t *out = NULL;
	uint64_t reads;

	f->cfg.mfa_required = CONFIG_MFA_OFF;
	af_start(f);
	assert_int_equal(authz_service_new(f->svc, &z), PV_OK);
	put_role(f, "reader_name", "[\"records.read:patients\",\"records.unmask:patients.name\"]");
	put_role(f, "reader_all", "[\"records.read:patients\",\"records.unmask:patients.*\"]");
	af_user(f, "nora", "plum velvet harbor 42", "reader_name", uid);
	assert_int_equal(authn_login(f->svc, "198.51.100.4", "nora", "plum velvet harbor 42",
	    &out, &res), PV_OK);
	snprintf(auth, sizeof(auth), "Bearer %s",
	    json_string_value(json_object_get(out, "token")));
	json_decref(out);

	assert_int_equal(read_bits(f, z, auth), 0x1);   /* name */
	reads = authz_service_role_reads(z);
	assert_int_equal(read_bits(f, z, auth), 0x1);
	assert_int_equal(authz_service_role_reads(z), reads);   /* compiled once */

	/* a role change bumps the epoch (af_set_role): the next request sees it */
	af_set_role(f, uid, "reader_all");
	assert_int_equal(read_bits(f, z, auth), 0x1f);

	/* a policy stored without the bump is not seen; with it, it is */
	put_deny_unmask(f);
	assert_int_equal(read_bits(f, z, auth), 0x1f);
	authn_authz_changed(f->svc);
	assert_int_equal(read_bits(f, z, auth), 0);

	authz_service_free(z);
}

/* The request's permission set (authz_permset_copy): its entries only,
 * answering as the set it copies. */
static void test_permset_copy(void **state)
{
	static const char *const perms[] = { "records.read:*", "records.unmask:patients.*",
		"users.manage", "secrets.read:apps/", "tokens.tokenize" };
	static const char *const asked[] = { "records.read:labs", "records.read:*",
		"records.unmask:patients.ssn", "records.unmask:labs.ssn", "users.manage",
		"roles.manage", "secrets.read:apps/x", "secrets.read:app", "tokens.tokenize:x",
		"records.write:labs", "not a permission" };
	struct authz_permset *s = malloc(sizeof(*s));
	struct pv_arena *a = arena_new(1024);
	const struct authz_permset *c;

	(void)state;
	assert_non_null(s);
	assert_non_null(a);
	authz_permset_init(s);
	for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++)
		assert_int_equal(authz_permset_add(s, perms[i]), PV_OK);
	c = authz_permset_copy(s, a);
	assert_non_null(c);
	assert_int_equal(c->n, s->n);
	assert_memory_equal(c->p, s->p, s->n * sizeof(s->p[0]));
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++)
		assert_int_equal(authz_permset_has(c, asked[i]), authz_permset_has(s, asked[i]));
	assert_true(authz_permset_is_privileged(c));
	assert_null(authz_permset_copy(NULL, a));
	authz_permset_init(s);
	c = authz_permset_copy(s, a);   /* empty: a header, nothing granted */
	assert_non_null(c);
	assert_false(authz_permset_has(c, "records.read:labs"));
	free(s);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compiled_matches_text),
		cmocka_unit_test(test_any_of),
		cmocka_unit_test(test_breakglass_and_elevation),
		cmocka_unit_test(test_permset_copy),
		cmocka_unit_test_setup_teardown(test_epoch_seen, af_setup, af_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
