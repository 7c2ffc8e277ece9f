/* file: whole-file reads with a size cap, atomic writes (temp + fsync + rename), strings. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool
util_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
util_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n;

	if (name[0] == '/')
		n = snprintf(buf, len, "%s", name);
	else
		n = snprintf(buf, len, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

enum pv_rc
util_file_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	enum pv_rc rc = PV_E_IO;
	struct stat sb;
	uint8_t *p = NULL;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PV_E_NOTFOUND : PV_E_IO;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		goto out;
	if ((size_t)sb.st_size > max) {
		rc = PV_E_TOOBIG;
		goto out;
	}
	p = malloc((size_t)sb.st_size + 1);
	if (p == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, p + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	p = NULL;
	rc = PV_OK;
out:
	free(p);
	close(fd);
	return rc;
}

enum pv_rc
util_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	char tmp[4096], dirbuf[4096];
	const unsigned char *p = buf;
	size_t off = 0;
	int fd, dfd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return PV_E_INVALID;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return PV_E_IO;
	if (fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return PV_E_IO;
	}
	/* make the rename durable */
	util_strlcpy(dirbuf, path, sizeof(dirbuf));
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return PV_OK;
fail:
	close(fd);
	unlink(tmp);
	return PV_E_IO;
}
