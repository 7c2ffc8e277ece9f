/*
 * seccomp: the system-call allowlist of a running server (daemon.h).
 *
 * Built empirically (strace -f -c of `serve` under the whole integration
 * suite, plus the shutdown path) and by what the libraries need after
 * start-up: glibc threads and allocation, libmicrohttpd (epoll/poll, accept4,
 * sockets), GnuTLS and OpenSSL (getrandom), SQLite (openat/pread/pwrite/
 * fsync/fcntl locks/ftruncate/unlink of -wal, -shm, -journal, mmap of -shm),
 * libpq and the sinks (socket/connect), the signal wait and exit.
 * SQLite running as root fchown()s a new -wal/-shm/-journal to the owner
 * of the database; libmicrohttpd names its threads with prctl(PR_SET_NAME),
 * the only prctl allowed.
 * Deliberately absent: execve/execveat, ptrace, process_vm_readv/writev,
 * mount/umount2, pivot_root, chroot, setuid and friends, init_module,
 * kexec_load, bpf, perf_event_open, keyctl, personality, userfaultfd,
 * io_uring_*, kill (signals to other processes). clone/clone3 stay allowed
 * for threads (glibc's clone3 passes its flags in memory, which a filter
 * cannot read); without execve a forked child can only run our own code.
 * Default action: SCMP_ACT_KILL_PROCESS (the whole process dies with
 * SIGSYS; a request can never continue past a forbidden call).
 * Sanitizer builds also allow what LeakSanitizer needs at exit (it stops the
 * world with ptrace from a helper thread); release builds never do.
 */
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>

#include "daemon/daemon.h"

static const char *const allowed[] = {
	/* files and descriptors */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "lseek", "close", "open", "openat", "openat2", "creat",
	"stat", "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs",
	"access", "faccessat", "faccessat2", "fcntl", "flock", "ioctl",
	"fsync", "fdatasync", "sync_file_range", "ftruncate", "fallocate",
	"unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
	"getdents64", "readlink", "readlinkat", "getcwd", "fchmod", "umask",
	"fchown", "dup", "dup2", "dup3", "pipe", "pipe2", "eventfd", "eventfd2",
	/* memory */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "msync",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall", "membarrier",
	/* threads, time, scheduling */
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "clone", "clone3", "exit", "exit_group",
	"sched_yield", "sched_getaffinity", "gettid", "getpid", "getppid", "tgkill",
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
	"gettimeofday", "time", "getrusage", "prlimit64", "getrlimit", "uname",
	"sysinfo", "getuid", "geteuid", "getgid", "getegid", "getrandom",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait",
	"sigaltstack", "restart_syscall",
	/* event loops and sockets */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"socket", "connect", "accept", "accept4", "shutdown", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "recvfrom", "recvmsg", "recvmmsg",
	"sendto", "sendmsg", "sendmmsg", "sendfile", "socketpair",
	/* backups (src/backup/format.c): a finished file gets its name with
	 * link(2), which never replaces an existing backup */
	"link", "linkat",
	/* restore drills remove their scratch directory (src/backup/drill.c) */
	"rmdir",
};

#ifdef PV_SANITIZE_BUILD
static const char *const allowed_sanitizer[] = {
	"ptrace", "wait4", "waitid", "prctl", "kill", "sched_setaffinity", "getpgid",
	"getdents",   /* its thread lister uses the old getdents */
};
#endif

static enum pv_rc
allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;   /* not a system call on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
			log_error("daemon: seccomp: cannot allow %s", names[i]);
			return PV_E_INTERNAL;
		}
	}
	return PV_OK;
}

enum pv_rc
daemon_seccomp_install(void)
{
	scmp_filter_ctx ctx;
	enum pv_rc rc = PV_E_INTERNAL;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		log_error("daemon: seccomp_init failed");
		return PV_E_INTERNAL;
	}
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0) {
		log_error("daemon: seccomp: cannot synchronise threads");
		goto out;
	}
	if ((rc = allow_list(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]))) != PV_OK)
		goto out;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) != 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
	    SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME)) != 0) {
		log_error("daemon: seccomp: cannot allow prctl(PR_SET_NAME)");
		rc = PV_E_INTERNAL;
		goto out;
	}
#ifdef PV_SANITIZE_BUILD
	if ((rc = allow_list(ctx, allowed_sanitizer,
	    sizeof(allowed_sanitizer) / sizeof(allowed_sanitizer[0]))) != PV_OK)
		goto out;
#endif
	if (seccomp_load(ctx) != 0) {
		log_error("daemon: seccomp_load failed");
		rc = PV_E_INTERNAL;
		goto out;
	}
	rc = PV_OK;
out:
	seccomp_release(ctx);
	return rc;
}
