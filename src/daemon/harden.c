/*
 * harden: process settings made once at the start of serve/dev, before any
 * secret is read (daemon.h). A core of the server would hold the TLS private
 * key and, unsealed, the root key; ptrace by the same user would read them
 * live. PR_SET_DUMPABLE 0 stops both (and makes /proc/<pid>/ owned by root);
 * RLIMIT_CORE 0 also covers a later setuid/exec that resets dumpable.
 * PR_SET_NO_NEW_PRIVS is what lets an unprivileged process install a seccomp
 * filter, and means nothing exec'd later can gain privileges.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include "daemon/daemon.h"

enum pv_rc
daemon_harden(bool allow_core)
{
	struct rlimit rl = { 0, 0 };

	if (!allow_core) {
		if (setrlimit(RLIMIT_CORE, &rl) != 0) {
			log_error("daemon: setrlimit(RLIMIT_CORE, 0) failed");
			return PV_E_INTERNAL;
		}
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
			log_error("daemon: prctl(PR_SET_DUMPABLE, 0) failed");
			return PV_E_INTERNAL;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("daemon: prctl(PR_SET_NO_NEW_PRIVS) failed");
		return PV_E_INTERNAL;
	}
	return PV_OK;
}
