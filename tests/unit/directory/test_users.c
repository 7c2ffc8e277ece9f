/*
 * The user operations of the directory (directory.h) called directly,
 * without HTTP, by a system actor and by a user actor: the leaver
 * flow ends sessions at once, separation of duties refuses and audits,
 * and the actor's fields land in the audit entry.
 */
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "directory/directory_fixture.h"
#include "tx_helpers.h"

/* The actor column of the last entry with this action (and reason). */
struct last_actor {
	const char *action;
	const char *reason;
	char actor[512];
	char detail[512];
	int n;
};

static int
last_cb(const struct store_audit_row *row, void *arg)
{
	struct last_actor *l = arg;

	if (strcmp(row->action, l->action) == 0 &&
	    (l->reason == NULL || strcmp(row->reason, l->reason) == 0)) {
		snprintf(l->actor, sizeof(l->actor), "%s", row->actor);
		snprintf(l->detail, sizeof(l->detail), "%s", row->detail);
		l->n++;
	}
	return 0;
}

static void
last_entry(struct af *f, const char *action, const char *reason, struct last_actor *l)
{
	memset(l, 0, sizeof(*l));
	l->action = action;
	l->reason = reason;
	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, last_cb, l)), PV_OK);
}

/* A user actor as authn_authenticate would have made it for a session of
 * user_id that passed MFA at auth_ms. */
static void
user_actor(struct authn_principal *p, const char *user_id, int64_t auth_ms,
    struct pv_actor *a)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->user_id, sizeof(p->user_id), "%s", user_id);
	snprintf(p->session_id, sizeof(p->session_id), "ses_%s", "directorytest");
	snprintf(p->source, sizeof(p->source), "203.0.113.5");
	p->mfa_verified = true;
	p->authenticated_ms = auth_ms;
	authn_actor(p, "203.0.113.99", a);
}

static void
login(struct af *f, const char *name, const char *pw, char token[AUTHN_TOKEN_MAX])
{
	struct af_resp r;
	char body[256];

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", name, pw);
	af_req(f, "POST", "/v1/auth/login", NULL, body, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(af_str(&r, "token"));
	snprintf(token, AUTHN_TOKEN_MAX, "%s", af_str(&r, "token"));
	af_resp_free(&r);
}

static int
session_status(struct af *f, const char *token)
{
	struct af_resp r;
	int st;

	af_req(f, "GET", "/v1/auth/session", token, NULL, &r);
	st = r.status;
	af_resp_free(&r);
	return st;
}

/* joiner by the system, leaver by an administrator: every session of the
 * user ends at once (on this node: no wait for the cache to revalidate),
 * and the entry carries the administrator's actor in full */
static void
test_create_then_disable_ends_sessions(void **state)
{
	struct af *f = *state;
	struct pv_actor sys = audit_actor_system(), adm;
	struct authn_principal p;
	struct directory_user_spec sp = { .username = "Dana", .display_name = "Dana" };
	struct directory_result res, dis;
	struct last_actor l;
	char admin[UTIL_ID_MAX], t1[AUTHN_TOKEN_MAX], otp[AUTHN_OTP_LEN + 1];

	struct directory *d = dir_start(f);

	af_user(f, "adam", "plum velvet harbor 42", "admin", admin);
	assert_int_equal(directory_user_create(d, &sys, &sp, &res), PV_OK);
	assert_string_equal(res.username, "dana");
	assert_int_equal(strlen(res.one_time_password), AUTHN_OTP_LEN);
	snprintf(otp, sizeof(otp), "%s", res.one_time_password);
	directory_result_wipe(&res);
	assert_int_equal(res.one_time_password[0], '\0');
	/* the system's entry keeps its exact form */
	last_entry(f, "user.create", NULL, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.actor, "{\"session_id\":null,\"source\":null,\"user_id\":\"system\"}");
	assert_null(strstr(l.detail, otp));

	login(f, "dana", otp, t1);   /* a restricted session: it must change the password */
	assert_int_equal(session_status(f, t1), 200);

	user_actor(&p, admin, 1700000000000LL, &adm);
	assert_int_equal(directory_user_disable(d, &adm, res.id, &dis), PV_OK);
	assert_true(dis.sessions_ended >= 1);
	assert_int_equal(session_status(f, t1), 401);
	last_entry(f, "user.disable", NULL, &l);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.actor, admin));
	assert_non_null(strstr(l.actor, "\"session_id\":\"ses_directorytest\""));
	assert_non_null(strstr(l.actor, "\"source\":\"203.0.113.5\""));
	assert_non_null(strstr(l.actor, "\"auth\":\"password+mfa\""));
	assert_non_null(strstr(l.actor, "\"auth_time\":\"2023-11-14T22:13:20"));
	/* undone by another: allowed */
	assert_int_equal(directory_user_enable(d, &adm, res.id, &dis), PV_OK);
	assert_int_equal(session_status(f, t1), 401);   /* ended sessions stay ended */
}

/* nobody resets, unlocks or enables their own account, nor disables it:
 * refused, audited as a denial, nothing changed */
static void
test_self_reset_refused_and_audited(void **state)
{
	struct af *f = *state;
	struct pv_actor adm, sys = audit_actor_system();
	struct authn_principal p;
	struct directory_result res;
	struct last_actor l;
	char admin[UTIL_ID_MAX], tok[AUTHN_TOKEN_MAX];

	struct directory *d = dir_start(f);

	af_user(f, "adam", "plum velvet harbor 42", "admin", admin);
	login(f, "adam", "plum velvet harbor 42", tok);
	user_actor(&p, admin, util_now_ms(), &adm);

	assert_int_equal(directory_user_reset(d, &adm, admin, &res), PV_E_FORBIDDEN);
	assert_non_null(strstr(res.message, "another administrator"));
	assert_int_equal(res.one_time_password[0], '\0');
	last_entry(f, "user.reset", "self_account", &l);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.actor, admin));
	assert_int_equal(af_count(f, "user.reset", ""), 0);   /* no allowed reset */
	assert_int_equal(session_status(f, tok), 200);        /* its session lives on */

	assert_int_equal(directory_user_unlock(d, &adm, admin, &res), PV_E_FORBIDDEN);
	assert_int_equal(directory_user_enable(d, &adm, admin, &res), PV_E_FORBIDDEN);
	assert_int_equal(af_count(f, "user.unlock", "self_account"), 1);
	assert_int_equal(af_count(f, "user.enable", "self_account"), 1);
	assert_int_equal(directory_user_disable(d, &adm, admin, &res), PV_E_CONFLICT);
	assert_int_equal(af_count(f, "user.disable", NULL), 0);

	/* the same reset by the system: done, every session ended, roles named */
	assert_int_equal(directory_user_reset(d, &sys, admin, &res), PV_OK);
	assert_int_equal(strlen(res.one_time_password), AUTHN_OTP_LEN);
	assert_true(res.sessions_ended >= 1);
	directory_result_wipe(&res);
	assert_int_equal(session_status(f, tok), 401);
	last_entry(f, "user.reset", "", &l);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.detail, "\"roles_not_held\":[\"admin\"]"));
}

/* an administrator cannot grant itself roles or groups; other fields it may
 * change; unknown roles and bad input change nothing */
static void
test_self_role_change_and_validation(void **state)
{
	struct af *f = *state;
	struct pv_actor adm, sys = audit_actor_system();
	struct authn_principal p;
	struct directory_result res;
	static const char *const clin[] = { "clinician" };
	static const char *const ghost[] = { "no_such_role" };
	struct directory_user_spec grant = { .set_roles = true, .roles = clin, .nroles = 1 };
	struct directory_user_spec rename = { .display_name = "Adam A." };
	struct directory_user_spec bad = { .username = "Not A Name!" };
	struct directory_user_spec unknown = { .username = "erin", .set_roles = true,
		.roles = ghost, .nroles = 1 };
	char admin[UTIL_ID_MAX];
	json_t *o = NULL;

	struct directory *d = dir_start(f);

	af_user(f, "adam", "plum velvet harbor 42", "admin", admin);
	user_actor(&p, admin, util_now_ms(), &adm);
	assert_int_equal(directory_user_update(d, &adm, admin, &grant, &res), PV_E_FORBIDDEN);
	assert_int_equal(af_count(f, "user.update", "self_role_change"), 1);
	assert_int_equal(directory_user_update(d, &adm, admin, &rename, &res), PV_OK);
	assert_int_equal(directory_user_get(d, &adm, admin, &o, &res), PV_OK);
	assert_string_equal(json_string_value(json_object_get(o, "display_name")), "Adam A.");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "roles"), 0)),
	    "admin");
	json_decref(o);

	assert_int_equal(directory_user_create(d, &sys, &bad, &res), PV_E_INVALID);
	assert_null(strstr(res.message, "Not A Name"));   /* the typed name is not echoed */
	assert_int_equal(directory_user_create(d, &sys, &unknown, &res), PV_E_INVALID);
	assert_string_equal(res.message, "roles[0] does not exist (see GET /v1/roles)");
	assert_int_equal(af_count(f, "user.create", NULL), 0);
	assert_int_equal(directory_user_list(d, &sys, "erin", &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(directory_user_disable(d, &sys, "usr_nope", &res), PV_E_NOTFOUND);
}

/* groups are directory operations too: bad names and unknown or duplicate
 * roles change nothing; a good group is listed and its entry names the
 * actor and the roles; a second group of the name is a conflict */
static void
test_group_create_and_list(void **state)
{
	struct af *f = *state;
	struct pv_actor adm;
	struct authn_principal p;
	struct directory_result res;
	/* no PHI grant: the group exists at once (a PHI group is a pending
	 * mapping: test_dual_control_groups) */
	static const char *const good[] = { "key_admin", "auditor" };
	static const char *const dup[] = { "clinician", "clinician" };
	static const char *const ghost[] = { "no_such_role" };
	struct directory_group_spec bad_name = { "Ward 7", good, 2 };
	struct directory_group_spec dups = { "ward_7", dup, 2 };
	struct directory_group_spec unknown = { "ward_7", ghost, 1 };
	struct directory_group_spec ok = { "ward_7", good, 2 };
	struct last_actor l;
	char admin[UTIL_ID_MAX];
	json_t *o = NULL;
	struct directory *d = dir_start(f);

	af_user(f, "adam", "plum velvet harbor 42", "admin", admin);
	user_actor(&p, admin, util_now_ms(), &adm);
	assert_int_equal(directory_group_create(d, &adm, &bad_name, &res), PV_E_INVALID);
	assert_string_equal(res.message, "name must match [a-z][a-z0-9_]{0,62}");
	assert_int_equal(directory_group_create(d, &adm, &dups, &res), PV_E_INVALID);
	assert_string_equal(res.message, "roles[1] is a duplicate");
	assert_int_equal(directory_group_create(d, &adm, &unknown, &res), PV_E_INVALID);
	assert_string_equal(res.message, "roles[0] does not exist (see GET /v1/roles)");
	assert_int_equal(directory_group_list(d, &adm, &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(af_count(f, "group.create", NULL), 0);

	assert_int_equal(directory_group_create(d, &adm, &ok, &res), PV_OK);
	assert_int_equal(directory_group_list(d, &adm, &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "name")),
	    "ward_7");
	assert_int_equal(json_array_size(json_object_get(json_array_get(o, 0), "roles")), 2);
	json_decref(o);
	last_entry(f, "group.create", NULL, &l);
	assert_int_equal(l.n, 1);
	assert_non_null(strstr(l.actor, admin));
	assert_string_equal(l.detail, "{\"roles\":[\"key_admin\",\"auditor\"]}");
	assert_int_equal(directory_group_create(d, &adm, &ok, &res), PV_E_CONFLICT);
	assert_string_equal(res.message, "a group with this name exists");
}

/* the officer's principal, with its compiled policy, as the wiring builds it */
static void
officer_principal(struct af *f, const char *id, struct authn_principal *p,
    struct pv_arena *arena)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->user_id, sizeof(p->user_id), "%s", id);
	assert_int_equal(util_id_new("ses", p->session_id), PV_OK);
	snprintf(p->source, sizeof(p->source), "203.0.113.7");
	p->mfa_verified = true;
	assert_int_equal(authn_user_roles(f->st, id, p->roles, &p->nroles), PV_OK);
	assert_int_equal(authz_policy_get(g_authz, (const char (*)[AUTHN_ROLE_NAME_MAX])p->roles,
	    p->nroles, arena, &p->policy), PV_OK);
}

static size_t
roles_of(struct directory *d, const struct pv_actor *a, const char *id, const char *key)
{
	struct directory_result res;
	json_t *o = NULL;
	size_t n;

	assert_int_equal(directory_user_get(d, a, id, &o, &res), PV_OK);
	n = json_array_size(json_object_get(o, key));
	json_decref(o);
	return n;
}

/* dual control: a user created with a PHI role exists at once without it
 * (the rest is a pending request); security_officer is never assigned
 * here; a PHI group is a pending mapping, and once approved it covers new
 * members without another approval */
static void
test_dual_control(void **state)
{
	struct af *f = *state;
	struct pv_actor adm;
	struct authn_principal p, so;
	struct authz_caller cs;
	struct authz_result ares;
	struct directory_result res;
	static const char *const clin[] = { "clinician" };
	static const char *const officer[] = { "security_officer" };
	static const char *const ward[] = { "ward_7" };
	struct directory_user_spec carl = { .username = "carl", .set_roles = true,
		.roles = clin, .nroles = 1 };
	struct directory_user_spec eve = { .username = "eve", .set_roles = true,
		.roles = officer, .nroles = 1 };
	struct directory_user_spec dora = { .username = "dora" };
	struct directory_user_spec join = { .set_groups = true, .groups = ward, .ngroups = 1 };
	struct directory_user_spec promote = { .set_roles = true, .roles = officer, .nroles = 1 };
	struct directory_group_spec g7 = { "ward_7", clin, 1 };
	struct pv_arena *arena = arena_new(1 << 16);
	char admin[UTIL_ID_MAX], sol[UTIL_ID_MAX], carl_id[UTIL_ID_MAX], gapr[UTIL_ID_MAX];
	char dora_id[UTIL_ID_MAX];
	json_t *o = NULL;
	struct directory *d = dir_start(f);

	assert_non_null(arena);
	af_user(f, "adam", "plum velvet harbor 42", "admin", admin);
	af_user(f, "sol", "plum velvet harbor 42", "security_officer", sol);
	user_actor(&p, admin, util_now_ms(), &adm);
	officer_principal(f, sol, &so, arena);
	cs = (struct authz_caller){ &so, so.source };

	assert_int_equal(directory_user_create(d, &adm, &carl, &res), PV_OK);
	assert_true(res.approval[0] != '\0');
	assert_true(res.one_time_password[0] != '\0');
	snprintf(carl_id, sizeof(carl_id), "%s", res.id);
	directory_result_wipe(&res);
	assert_int_equal(roles_of(d, &adm, carl_id, "roles"), 0);   /* no PHI yet */
	assert_int_equal(af_count(f, "approval.request", "pending"), 1);

	assert_int_equal(directory_user_create(d, &adm, &eve, &res), PV_E_OFFICER_RESERVED);
	assert_int_equal(af_count(f, "user.create", "officer_reserved"), 1);
	assert_int_equal(directory_user_list(d, &adm, "eve", &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	assert_int_equal(directory_user_update(d, &adm, carl_id, &promote, &res),
	    PV_E_OFFICER_RESERVED);

	/* the group: pending, then approved; a new member needs no approval */
	assert_int_equal(directory_group_create(d, &adm, &g7, &res), PV_OK);
	assert_true(res.approval[0] != '\0');
	snprintf(gapr, sizeof(gapr), "%s", res.approval);
	assert_int_equal(directory_group_list(d, &adm, &o, &res), PV_OK);
	assert_int_equal(json_array_size(o), 0);
	json_decref(o);
	o = NULL;
	assert_int_equal(directory_user_create(d, &adm, &dora, &res), PV_OK);
	snprintf(dora_id, sizeof(dora_id), "%s", res.id);
	directory_result_wipe(&res);
	/* the group does not exist until approved */
	assert_int_equal(directory_user_update(d, &adm, dora_id, &join, &res), PV_E_INVALID);
	assert_int_equal(authz_approval_settle(g_authz, &cs, gapr, true, NULL, &o, &ares),
	    PV_OK);
	json_decref(o);
	assert_int_equal(directory_user_update(d, &adm, dora_id, &join, &res), PV_OK);
	assert_true(res.approval[0] == '\0');
	assert_int_equal(roles_of(d, &adm, dora_id, "groups"), 1);
	arena_free(arena);
}

/* ---- answers from a completion (directory.md "Commits") ---- */

struct waiter {
	sem_t sem;
	enum pv_rc rc;
	struct directory_result *res;
};

static void
on_done(enum pv_rc rc, struct directory_result *res, void *arg)
{
	struct waiter *w = arg;

	w->rc = rc;
	w->res = res;
	sem_post(&w->sem);
}

static void
waiter_arm(struct waiter *w, struct directory_result *res)
{
	memset(res, 0, sizeof(*res));
	res->done = on_done;
	res->done_arg = w;
	w->rc = PV_E_INTERNAL;
	w->res = NULL;
}

static enum pv_rc
waiter_wait(struct waiter *w, struct directory_result *res)
{
	while (sem_wait(&w->sem) != 0)
		;
	assert_ptr_equal(w->res, res);
	return w->rc;
}

/* On a request thread with done set, a write returns PV_PENDING and its
 * answer (the new user's ID, the transaction's 409 with its message, the
 * sessions the leaver ended, the user as the update left it) comes through
 * done once the commit is durable; without done it waits, as before. */
static void
test_write_completion(void **state)
{
	struct af *f = *state;
	struct pv_actor sys = audit_actor_system();
	struct directory_user_spec sp = { .username = "erin" };
	const char *fields[] = { "display_name" };
	struct directory_user_spec up = { .display_name = "Erin E.", .fields = fields,
		.nfields = 1 };
	struct directory_result *res = calloc(1, sizeof(*res));
	struct directory_result now = { .done = NULL };
	struct waiter w;
	char id[UTIL_ID_MAX], t1[AUTHN_TOKEN_MAX], otp[AUTHN_OTP_LEN + 1];
	struct directory *d = dir_start(f);

	assert_non_null(res);
	assert_int_equal(sem_init(&w.sem, 0, 0), 0);
	util_request_thread_set(true);
	/* create: pending, then the ID and the one-time password */
	waiter_arm(&w, res);
	assert_int_equal(directory_user_create(d, &sys, &sp, res), PV_PENDING);
	assert_int_equal(waiter_wait(&w, res), PV_OK);
	assert_int_equal(strncmp(res->id, "usr_", 4), 0);
	assert_string_equal(res->username, "erin");
	snprintf(id, sizeof(id), "%s", res->id);
	snprintf(otp, sizeof(otp), "%s", res->one_time_password);
	directory_result_wipe(res);
	/* the same name: the transaction's 409, its message, no password */
	waiter_arm(&w, res);
	assert_int_equal(directory_user_create(d, &sys, &sp, res), PV_PENDING);
	assert_int_equal(waiter_wait(&w, res), PV_E_CONFLICT);
	assert_string_equal(res->message, "a user with this username exists");
	assert_int_equal(res->one_time_password[0], '\0');
	/* update: the user as its own transaction left it */
	waiter_arm(&w, res);
	assert_int_equal(directory_user_update(d, &sys, id, &up, res), PV_PENDING);
	assert_int_equal(waiter_wait(&w, res), PV_OK);
	assert_non_null(res->object);
	assert_string_equal(json_string_value(json_object_get(res->object, "display_name")),
	    "Erin E.");
	json_decref(res->object);
	res->object = NULL;
	/* the leaver: the sessions its transaction ended, refused at once */
	util_request_thread_set(false);
	login(f, "erin", otp, t1);
	util_request_thread_set(true);
	waiter_arm(&w, res);
	assert_int_equal(directory_user_disable(d, &sys, id, res), PV_PENDING);
	assert_int_equal(waiter_wait(&w, res), PV_OK);
	assert_true(res->sessions_ended >= 1);
	util_request_thread_set(false);
	assert_int_equal(session_status(f, t1), 401);
	/* without done: waits and answers at once */
	util_request_thread_set(true);
	assert_int_equal(directory_user_enable(d, &sys, id, &now), PV_OK);
	assert_string_equal(now.id, id);
	util_request_thread_set(false);
	sem_destroy(&w.sem);
	free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_then_disable_ends_sessions, af_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_self_reset_refused_and_audited, af_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_self_role_change_and_validation, af_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_dual_control, af_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_group_create_and_list, af_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_write_completion, af_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
