/*
 * detect_fixture.h: the detector over the real lower stack (store, keyring,
 * audit chain) in a fresh temporary directory (header-only; include after
 * <cmocka.h>). detect_fx_setup(state, name) opens the stack under a
 * directory named after name, the default configuration, and a running
 * detector; detect_fx_teardown stops the detector before the audit writer
 * that feeds it, then frees everything and removes the directory.
 */
#ifndef PV_DETECT_FIXTURE_H
#define PV_DETECT_FIXTURE_H

#include <limits.h>
#include <stdlib.h>

#include "detect/detect_int.h"
#include "stack_fixture.h"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct pv_config cfg;
	struct detect *d;
};

static int
detect_fx_setup(void **state, const char *name)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(pv_stack_open(name, f->dir, &f->st, &f->keys, &f->audit), 0);
	config_defaults(&f->cfg, f->dir);
	assert_int_equal(detect_start(f->st, f->audit, NULL, &f->cfg, &f->d), PV_OK);
	*state = f;
	return 0;
}

static int
detect_fx_teardown(void **state)
{
	struct fx *f = *state;

	detect_stop(f->d);
	audit_stop(f->audit);
	detect_free(f->d);
	keys_close(f->keys);
	store_close(f->st);
	pv_stack_remove_dir(f->dir);
	free(f);
	return 0;
}

#endif
