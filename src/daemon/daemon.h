/*
 * daemon: what `serve` and `dev` do to the process around the modules they
 * assemble (cli/server.c is the composition root):
 *  - the data-directory lock: DIR/phivault.lock, flock(2)ed for the life of
 *    the server and holding its PID, so a second server on the same
 *    directory refuses to start (and names the holder) before it writes
 *    anything. Readers (`audit verify`, `audit export`) do not take it.
 *  - hardening at start: no core dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0;
 *    both kept only with `--dev --allow-core`), PR_SET_NO_NEW_PRIVS always;
 *  - the seccomp allowlist once start-up is complete (daemon_seccomp_install):
 *    any system call not on it kills the whole process with SIGSYS;
 *  - the process-wide settings (daemon_process_init) and the signals the main
 *    thread waits for (daemon_signals_block).
 *
 * Start-up order of server_run (cli/server.c), each step refusing to start
 * with a message naming what failed:
 *   harden -> process init -> config -> dictionary -> lock -> signals blocked
 *   -> crypto -> store -> keys (key-file unseal) -> audit writer -> services
 *   and routes -> http listen -> seccomp -> sigwait loop (SIGTERM/SIGINT stop,
 *   SIGHUP ignored) -> drain http -> sys.stop, audit drained -> keys wiped ->
 *   store closed -> lock released.
 */
#ifndef PV_DAEMON_H
#define PV_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/util.h"

#define DAEMON_LOCK_FILE "phivault.lock"

struct daemon_lock;

/*
 * Take DIR/phivault.lock (created 0600 if absent) without waiting.
 * PV_OK: *out holds it until daemon_lock_release. PV_E_LOCKED: another
 * process holds it; *holder is its PID as it wrote it (0 if unreadable).
 * PV_E_IO: the file could not be opened or locked (errno kept).
 */
enum pv_rc daemon_lock_take(const char *datadir, struct daemon_lock **out, pid_t *holder);
void daemon_lock_release(struct daemon_lock *l);

/*
 * RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 unless allow_core; PR_SET_NO_NEW_PRIVS
 * always. PV_E_INTERNAL if the kernel refused one (the caller refuses to start).
 */
enum pv_rc daemon_harden(bool allow_core);

/*
 * Install the allowlist for every thread of the process (TSYNC); default
 * action SCMP_ACT_KILL_PROCESS. PV_E_INTERNAL if libseccomp or the kernel
 * refused. Call after start-up (TLS loaded, store open, threads started).
 */
enum pv_rc daemon_seccomp_install(void);

/*
 * The process-wide settings, once, on the main thread before any other
 * thread starts: jansson frees through a wiping free
 * (daemon_json_wipe_on_free), SIGPIPE ignored, sodium_init. PV_E_INTERNAL if
 * one failed (the caller refuses to start).
 */
enum pv_rc daemon_process_init(void);
/* Only jansson's wiping allocator (also for tests). Safe after JSON exists. */
void daemon_json_wipe_on_free(void);
/*
 * Block SIGTERM, SIGINT, SIGHUP (and extra if > 0) in the calling thread, so
 * every thread made later inherits the mask and only the main thread's
 * sigwait(set) takes them. Call before any thread starts.
 */
void daemon_signals_block(sigset_t *set, int extra);

#endif /* PV_DAEMON_H */
