/*
 * The app operations of the directory (directory.h, apps.c) called
 * directly, without HTTP: what an app may never hold (built-in admin, a
 * custom role with roles.manage), network list validation, the two-live
 * secrets limit counted in the transaction, disable ending the app's
 * sessions (the sign-in of authn through the fixture's pipeline), and the
 * audit entries with the actor and no secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "directory/directory_fixture.h"
#include "tx_helpers.h"

struct grep {
	const char *needle;
	const char *action;
	int hits;
	int actions;
};

static int
grep_cb(const struct store_audit_row *row, void *arg)
{
	struct grep *g = arg;

	if (g->needle != NULL && (strstr(row->actor, g->needle) != NULL ||
	    strstr(row->detail, g->needle) != NULL || strstr(row->resource, g->needle) != NULL))
		g->hits++;
	/* allowed ones: a refused commit is recorded too, as an error */
	if (g->action != NULL && strcmp(row->action, g->action) == 0 &&
	    strcmp(row->outcome, "allowed") == 0)
		g->actions++;
	return 0;
}

static struct grep
trail(struct af *f, const char *needle, const char *action)
{
	struct grep g = { needle, action, 0, 0 };

	assert_int_equal(TX_RD(f->st, store_audit_scan(tx, NULL, grep_cb, &g)), PV_OK);
	return g;
}

static enum pv_rc
role_fn(struct store_tx *tx, void *arg)
{
	return store_role_put(tx, arg);
}

static void
test_create_refusals(void **state)
{
	struct af *f = *state;
	struct directory *d = dir_start(f);
	struct pv_actor sys = audit_actor_system();
	struct directory_result res;
	struct store_role r = { "rolemgr", (char *)"[\"roles.manage\"]", (char *)"{}", false, 1 };
	const char *admin[] = { "admin" }, *rolemgr[] = { "rolemgr" }, *clin[] = { "clinician" };
	const char *nets[] = { "10.0.0.0/8" }, *bad[] = { "10.0.0.1/8" };
	struct directory_app_spec sp = { "svc", admin, 1, nets, 1 };

	assert_int_equal(audit_commit(f->audit, NULL, role_fn, &r), PV_OK);
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_INVALID);
	assert_non_null(strstr(res.message, "users.manage"));
	sp.roles = rolemgr;
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_INVALID);
	assert_non_null(strstr(res.message, "roles.manage"));
	sp.roles = clin;
	sp.networks = bad;
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_INVALID);
	sp.nnetworks = 0;
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_INVALID);
	sp.networks = nets;
	sp.nnetworks = 1;
	sp.name = "Bad Name";
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_INVALID);
	assert_int_equal(trail(f, NULL, "app.create").actions, 0);   /* nothing made */
	sp.name = "SVC";
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_OK);
	assert_string_equal(res.username, "svc");                    /* lowercased */
	assert_int_equal(strncmp(res.id, "app_", 4), 0);
	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_E_CONFLICT);
	assert_int_equal(trail(f, NULL, "app.create").actions, 1);
}

static void
test_secrets_and_disable(void **state)
{
	struct af *f = *state;
	struct directory *d = dir_start(f);
	struct pv_actor sys = audit_actor_system();
	struct directory_result res;
	struct directory_app_secret s1, s2, s3;
	const char *roles[] = { "analyst" }, *nets[] = { "192.0.2.0/24" };
	struct directory_app_spec sp = { "svc", roles, 1, nets, 1 };
	char id[UTIL_ID_MAX], body[256], tok[128];
	struct af_resp r;
	json_t *o = NULL;

	assert_int_equal(directory_app_create(d, &sys, &sp, &res), PV_OK);
	snprintf(id, sizeof(id), "%s", res.id);
	assert_int_equal(directory_app_secret_add(d, &sys, id, &s1, &res), PV_OK);
	assert_int_equal(directory_app_secret_add(d, &sys, id, &s2, &res), PV_OK);
	assert_int_equal(directory_app_secret_add(d, &sys, id, &s3, &res), PV_E_CONFLICT);
	assert_string_equal(s3.secret, "");                          /* nothing handed out */
	assert_int_equal(directory_app_secret_remove(d, &sys, id, s1.secret_id, &res), PV_OK);
	assert_int_equal(directory_app_secret_remove(d, &sys, id, s1.secret_id, &res),
	    PV_E_NOTFOUND);
	assert_int_equal(directory_app_secret_add(d, &sys, id, &s3, &res), PV_OK);
	assert_int_equal(directory_app_get(d, &sys, id, &o, &res), PV_OK);
	assert_int_equal(json_array_size(json_object_get(o, "secrets")), 2);
	json_decref(o);
	/* no secret in the trail, in any form */
	assert_int_equal(trail(f, s2.secret + 4, NULL).hits, 0);
	assert_int_equal(trail(f, s3.secret + 4, NULL).hits, 0);
	assert_int_equal(trail(f, NULL, "app.secret_add").actions, 3);

	/* a session, then disable: it ends at once, and no new sign-in */
	snprintf(body, sizeof(body), "{\"app_id\":\"%s\",\"secret\":\"%s\"}", id, s2.secret);
	af_req_from(f, "192.0.2.10", "POST", "/v1/auth/app", NULL, body, &r);
	assert_int_equal(r.status, 200);
	snprintf(tok, sizeof(tok), "%s", af_str(&r, "token"));
	af_resp_free(&r);
	af_req_from(f, "192.0.2.10", "GET", "/v1/test/full", tok, NULL, &r);
	assert_int_equal(r.status, 200);
	af_resp_free(&r);
	assert_int_equal(directory_app_disable(d, &sys, id, &res), PV_OK);
	assert_int_equal(res.sessions_ended, 1);
	af_req_from(f, "192.0.2.10", "GET", "/v1/test/full", tok, NULL, &r);
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
	af_req_from(f, "192.0.2.10", "POST", "/v1/auth/app", NULL, body, &r);
	assert_int_equal(r.status, 401);
	af_resp_free(&r);
	assert_int_equal(directory_app_disable(d, &sys, id, &res), PV_OK);   /* idempotent */
	assert_int_equal(res.sessions_ended, 0);
	assert_int_equal(directory_app_secret_add(d, &sys, id, &s1, &res), PV_E_CONFLICT);
	assert_int_equal(directory_app_get(d, &sys, "app_nosuch", &o, &res), PV_E_NOTFOUND);
	assert_int_equal(directory_app_disable(d, &sys, "usr_x", &res), PV_E_NOTFOUND);
	directory_app_secret_wipe(&s2);
	directory_app_secret_wipe(&s3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_refusals, af_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_secrets_and_disable, af_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
