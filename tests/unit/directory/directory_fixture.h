/*
 * directory_fixture.h: the directory over the authn fixture's service
 * (header-only; include after <cmocka.h>). dir_start makes the service
 * (af_start) and one directory over it in g_dir; dir_teardown frees the
 * directory, then the rest of the fixture. One directory a test.
 */
#ifndef PV_DIRECTORY_FIXTURE_H
#define PV_DIRECTORY_FIXTURE_H

#include "authn/authn_fixture.h"
#include "authz/authz.h"
#include "directory/directory.h"

static struct directory *g_dir;
static struct authz_service *g_authz;   /* dual control: where pending requests go */

static struct directory *
dir_start(struct af *f)
{
	struct directory_config dc = { f->svc, f->st, f->audit, &f->cfg, NULL, NULL };

	af_start(f);
	dc.authn = f->svc;
	assert_int_equal(authz_service_new(f->svc, &g_authz), PV_OK);
	dc.authz = g_authz;
	assert_int_equal(directory_new(&dc, &g_dir), PV_OK);
	return g_dir;
}

static int
dir_teardown(void **state)
{
	directory_free(g_dir);
	g_dir = NULL;
	authz_service_free(g_authz);
	g_authz = NULL;
	return af_teardown(state);
}

#endif
