/*
 * lock: the data-directory lock (daemon.h). flock(2) on DIR/phivault.lock:
 * the kernel drops it when the holder exits, even on kill -9, so a stale
 * file never blocks a restart. The file's content is only the holder's PID,
 * for the refusal message; the lock itself is what counts. The file is never
 * unlinked (unlinking a locked file would let a second server lock a new
 * inode at the same path).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "daemon/daemon.h"

struct daemon_lock {
	int fd;
};

static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long v;
	char *end;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || v <= 0)
		return 0;
	return (pid_t)v;
}

enum pv_rc
daemon_lock_take(const char *datadir, struct daemon_lock **out, pid_t *holder)
{
	struct daemon_lock *l = NULL;
	char path[4096], pid[32];
	int fd = -1, n;
	enum pv_rc rc;

	if (datadir == NULL || out == NULL)
		return PV_E_INVALID;
	if (util_path_join(path, sizeof(path), datadir, DAEMON_LOCK_FILE) != 0)
		return PV_E_INVALID;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = PV_E_IO;
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			if (holder != NULL)
				*holder = read_pid(fd);
			rc = PV_E_LOCKED;
		} else {
			rc = PV_E_IO;
		}
		goto out;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		rc = PV_E_IO;
		goto out;
	}
	if ((l = malloc(sizeof(*l))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	l->fd = fd;
	fd = -1;
	*out = l;
	rc = PV_OK;
out:
	if (fd >= 0) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return rc;
}

void
daemon_lock_release(struct daemon_lock *l)
{
	if (l == NULL)
		return;
	/* empty the PID first: a reader between the two calls sees no holder */
	if (ftruncate(l->fd, 0) != 0)
		log_warn("daemon: could not clear %s", DAEMON_LOCK_FILE);
	close(l->fd);
	free(l);
}
