/*
 * Shared helpers for the keys unit tests (header-only): temporary data
 * directories and small file helpers.
 */
#ifndef PV_KEYS_TEST_H
#define PV_KEYS_TEST_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int kt_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
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

/* A new empty directory under $PV_TEST_TMP (or /tmp) into out; 0 on success. */
static inline int kt_tmpdir(char *out, size_t len)
{
	const char *base = getenv("PV_TEST_TMP");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	if (kt_mkdir_p(base) != 0)
		return -1;
	if ((size_t)snprintf(out, len, "%s/keys-XXXXXX", base) >= len)
		return -1;
	return mkdtemp(out) != NULL ? 0 : -1;
}

static inline int kt_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void kt_rmtree(const char *dir)
{
	if (dir != NULL && dir[0] != '\0')
		(void)nftw(dir, kt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to path with mode (replacing it). 0 on success. */
static inline int kt_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	FILE *f;
	size_t n;

	(void)unlink(path);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	n = fwrite(buf, 1, len, f);
	if (fclose(f) != 0 || n != len)
		return -1;
	return chmod(path, mode);
}

#endif /* PV_KEYS_TEST_H */
