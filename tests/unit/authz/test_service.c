/*
 * The audit entry of a route-level denial (authz_denial_event) with a fake
 * request: the resource is the route's form with decoded, bounded, escaped
 * parameters (the same form the vault's allowed entries use), it always
 * passes audit validation (a raw 5 KiB path, control bytes or invalid UTF-8
 * used to fail it, so the denial went unrecorded), and the detail names the
 * route pattern, never the raw path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit_int.h"
#include "authz/authz_int.h"

static enum pv_rc no_handler(struct http_request *req)
{
	(void)req;
	return PV_OK;
}

static const struct http_route rec_route = {
	"GET", "/v1/collections/{c}/records/{id}", no_handler, "records.read:{0}",
	"record.read", 0, 0, NULL
};
static const struct http_route plain_route = {
	"GET", "/v1/audit", no_handler, "audit.read", NULL, 0, 0, NULL
};

struct fake {
	struct http_request req;
	struct authn_principal p;
	struct audit_event ev;
	char *detail;
};

static void deny(struct fake *f, const struct http_route *r, const char *c, const char *id,
    enum pv_rc rc)
{
	memset(f, 0, sizeof(*f));
	f->req.arena = arena_new(4096);
	assert_non_null(f->req.arena);
	f->req.method = r->method;
	f->req.path = "/v1/raw/path/that/must/not/appear";
	f->req.route = r;
	f->req.source = "127.0.0.1";
	f->req.params[0] = c;
	f->req.params[1] = id;
	f->req.nparams = c == NULL ? 0 : id == NULL ? 1 : 2;
	strcpy(f->p.user_id, "usr_test");
	f->req.principal = &f->p;
	authz_denial_event(&f->req, "missing_permission:records.read:patients", rc, &f->ev,
	    &f->detail);
	assert_int_equal(f->ev.outcome, AUDIT_DENIED);
	assert_true(audit_text_ok(f->ev.resource, AUDIT_TEXT_MAX));
	assert_null(strstr(f->ev.resource, "raw/path"));
}

static void done(struct fake *f)
{
	free(f->detail);
	arena_free(f->req.arena);
}

static void test_resource_form_matches_vault(void **state)
{
	struct fake f;

	(void)state;
	deny(&f, &rec_route, "patients", "rec_abc", PV_E_FORBIDDEN);
	/* vault_resource()'s form for the allowed read of the same record */
	assert_string_equal(f.ev.resource, "collections/patients/records/rec_abc");
	assert_string_equal(f.ev.action, "record.read");
	assert_string_equal(f.ev.reason, "missing_permission:records.read:patients");
	assert_string_equal(f.ev.actor.user_id, "usr_test");
	assert_string_equal(f.detail,
	    "{\"method\":\"GET\",\"route\":\"/v1/collections/{c}/records/{id}\"}");
	done(&f);
	deny(&f, &plain_route, NULL, NULL, PV_E_RESTRICTED);
	assert_string_equal(f.ev.resource, "audit");
	assert_string_equal(f.ev.action, "access");
	assert_string_equal(f.ev.reason, "restricted_session");
	done(&f);
}

static void test_control_bytes_and_bad_utf8_escaped(void **state)
{
	struct fake f;

	(void)state;
	/* decoded from pat%01%ffients, and %25 (a literal '%'), DEL, C1 NEL */
	deny(&f, &rec_route, "pat\x01\xffients", "a%b\x7f\xc2\x85z", PV_E_FORBIDDEN);
	assert_string_equal(f.ev.resource, "collections/pat%01%FFients/records/a%25b%7F%C2%85z");
	done(&f);
	/* valid UTF-8 stays as it is; a truncated sequence does not */
	deny(&f, &rec_route, "caf\xc3\xa9", "x\xe2\x82", PV_E_FORBIDDEN);
	assert_string_equal(f.ev.resource, "collections/caf\xc3\xa9/records/x%E2%82");
	done(&f);
}

static void test_long_parameters_bounded(void **state)
{
	char *c = malloc(5121), *id = malloc(5121);
	struct fake f;

	(void)state;
	assert_non_null(c);
	assert_non_null(id);
	memset(c, 'a', 5120);
	c[5120] = '\0';
	memset(id, 0x01, 5120);   /* every byte escapes to 3 */
	id[5120] = '\0';
	deny(&f, &rec_route, c, id, PV_E_FORBIDDEN);
	assert_true(strlen(f.ev.resource) <= strlen("collections//records/") +
	    2 * (HTTP_RESOURCE_PARAM_MAX + 3));
	assert_int_equal(strncmp(f.ev.resource, "collections/aaaa", 16), 0);
	assert_non_null(strstr(f.ev.resource, "a.../records/%01%01"));
	assert_int_equal(strcmp(f.ev.resource + strlen(f.ev.resource) - 3, "..."), 0);
	done(&f);
	free(c);
	free(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resource_form_matches_vault),
		cmocka_unit_test(test_control_bytes_and_bad_utf8_escaped),
		cmocka_unit_test(test_long_parameters_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
