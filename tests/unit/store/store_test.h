/*
 * Shared helpers for the store unit tests (header-only): a fresh temporary
 * data directory per test and its removal, and the per-test fixture (a
 * store opened read-write on a fresh directory) most of them use.
 */
#ifndef PV_STORE_TEST_H
#define PV_STORE_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

/* mkdir -p for a short path; 0 on success. */
static inline int st_mkdir_p(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && access(buf, F_OK) != 0)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && access(buf, F_OK) != 0)
		return -1;
	return 0;
}

/* A new empty directory under $PV_TEST_TMP (or /tmp); malloc'd path or NULL. */
static inline char *st_tmpdir(void)
{
	const char *base = getenv("PV_TEST_TMP");
	char tmpl[4096];

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (st_mkdir_p(base) != 0)
		return NULL;
	if (snprintf(tmpl, sizeof(tmpl), "%s/store-XXXXXX", base) >= (int)sizeof(tmpl))
		return NULL;
	if (mkdtemp(tmpl) == NULL)
		return NULL;
	return strdup(tmpl);
}

static inline int st_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void st_rmtree(char *dir)
{
	if (dir == NULL)
		return;
	nftw(dir, st_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

/* "<dir>/<name>" into buf. */
static inline const char *st_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir ? dir : "", name ? name : "");
	return buf;
}

/* Per-test fixture for cmocka setup/teardown: a read-write SQLite store in
 * a fresh directory. Teardown also clears any armed fault injection. */
struct st_fx {
	char *dir;
	struct store *st;
};

static inline int st_fx_setup(void **state)
{
	struct st_fx *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->dir = st_tmpdir()) == NULL)
		return -1;
	if (store_open(f->dir, "sqlite", NULL, false, &f->st) != PV_OK)
		return -1;
	*state = f;
	return 0;
}

static inline int st_fx_teardown(void **state)
{
	struct st_fx *f = *state;

	store_fault_clear_all();
	store_close(f->st);
	st_rmtree(f->dir);
	free(f);
	return 0;
}

#endif /* PV_STORE_TEST_H */
