/*
 * process: the process-wide settings of `serve` / `dev`, made in one place,
 * once, on the main thread before any other thread exists (daemon.h has the
 * whole start-up order). No module below sets process-wide state.
 *  - jansson's allocator: malloc, and a free that wipes each block first
 *    (malloc_usable_size + explicit_bzero): decoded request bodies, record
 *    plaintext being dumped and json_dumps' growing buffers pass through
 *    jansson, which frees them with plain free. malloc stays malloc, so
 *    blocks allocated before the switch are still freed correctly after it.
 *  - SIGPIPE ignored: a client that goes away mid-response is an EPIPE on
 *    that connection, not the death of the server.
 *  - libsodium initialised (sodium_init is idempotent; modules that call it
 *    again before use keep working, but the first call is made here, before
 *    threads, as libsodium asks).
 */
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"

static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void
daemon_json_wipe_on_free(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

enum pv_rc
daemon_process_init(void)
{
	daemon_json_wipe_on_free();
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_error("daemon: cannot ignore SIGPIPE");
		return PV_E_INTERNAL;
	}
	if (sodium_init() < 0) {
		log_error("daemon: sodium_init failed");
		return PV_E_INTERNAL;
	}
	return PV_OK;
}

void
daemon_signals_block(sigset_t *set, int extra)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	if (extra > 0)
		sigaddset(set, extra);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}
