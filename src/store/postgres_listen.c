/*
 * postgres_listen.c: the access-epoch listener of a PostgreSQL node
 * (store_epoch_listen, store_epoch_current; docs/scaling.md "The access
 * epoch").
 *
 * Every access-affecting write bumps access_epoch.epoch and, on
 * PostgreSQL, sends NOTIFY phivault_epoch, '<new epoch>' in the same
 * transaction (pg_sql[SQ_EPOCH_BUMP] in postgres.c): the notification is
 * delivered when, and only if, the change commits. One thread per node
 * holds a libpq connection of its own (application_name
 * phivault-listener), LISTENs, reads the row once the LISTEN is in force
 * (so nothing committed in between is missed), and then keeps the newest
 * epoch it has seen in memory: the per-request check (authn) reads that
 * value instead of the row.
 *
 * Correctness never depends on the delivery of a notification:
 *  - the in-memory value is trusted only while the listener is connected
 *    and has confirmed the epoch within STORE_PG_EPOCH_STALE_MS (it reads
 *    the row itself every STORE_PG_EPOCH_HEARTBEAT_MS without traffic);
 *  - otherwise (database down, connection terminated, a silent network
 *    partition, listener not yet connected) store_epoch_current reads the
 *    row on every call, as before the listener existed;
 *  - a lost connection is re-opened with a backoff of 100 ms doubling to
 *    5 s, the row re-read once the LISTEN is back.
 * Liveness uses CLOCK_MONOTONIC directly, not the injectable clock: tests
 * that move util's clock by hours must not make the listener look stale.
 *
 * The thread blocks only in poll(2) (its socket and a stop pipe) and in
 * libpq calls bounded by connect_timeout and statement_timeout; the
 * system calls are the pool's (socket, connect, poll, read/write, pipe2)
 * and are in the seccomp allowlist (src/daemon/seccomp.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_pg.h"
#include "util/metrics.h"

#define PG_STR_(x) #x
#define PG_STR(x) PG_STR_(x)
#define EPOCH_CHANNEL "phivault_epoch"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct store_pg_listener {
	struct store_pg *owner;
	const char **keys, **vals;   /* the pool's conninfo, application_name replaced */
	pthread_t thread;
	int wake[2];                 /* stop pipe: the thread polls wake[0] */
	atomic_bool stop;
	atomic_bool up;              /* connected, LISTENing, row read */
	atomic_int_fast64_t epoch;   /* newest epoch seen */
	atomic_int_fast64_t confirmed_ms;   /* monotonic ms of the last confirmation */
	atomic_uint_fast64_t notifications;
	atomic_uint_fast64_t reconnects;
	atomic_uint_fast64_t row_reads;     /* store_epoch_current fell back to the row */
	/* the connection while a session is up; whoever reads from it holds
	 * conn_mu (the thread, or a request draining what already arrived) */
	pthread_mutex_t conn_mu;
	PGconn *db;
};

static void notice_drop(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;   /* notices may quote values: never printed */
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void epoch_raise(struct store_pg_listener *l, int64_t e)
{
	int_fast64_t cur = atomic_load(&l->epoch);

	while (e > cur && !atomic_compare_exchange_weak(&l->epoch, &cur, e))
		;
}

/* Wait up to ms for the stop pipe; true when asked to stop. */
static bool nap(struct store_pg_listener *l, int ms)
{
	struct pollfd p = { .fd = l->wake[0], .events = POLLIN };

	if (atomic_load(&l->stop))
		return true;
	(void)poll(&p, 1, ms);
	return atomic_load(&l->stop);
}

/* Connect without blocking past the stop pipe (PQconnectStartParams +
 * PQconnectPoll; libpq's connect_timeout bounds it too). */
static PGconn *listen_connect(struct store_pg_listener *l)
{
	PGconn *db;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	int64_t deadline = mono_ms() + 1000 * atoi(STORE_PG_CONNECT_TIMEOUT_S);

	/* test builds: "epoch_listen" in PHIVAULT_FAULT_FILE keeps it down */
	if (store_fault_check("epoch_listen") != PV_OK)
		return NULL;
	if ((db = PQconnectStartParams(l->keys, l->vals, 0)) == NULL)
		return NULL;
	if (PQstatus(db) == CONNECTION_BAD)
		goto fail;
	while (ps != PGRES_POLLING_OK) {
		struct pollfd p[2] = {
			{ .fd = PQsocket(db), .events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT },
			{ .fd = l->wake[0], .events = POLLIN },
		};
		int64_t left = deadline - mono_ms();

		if (ps == PGRES_POLLING_FAILED || left <= 0 || p[0].fd < 0)
			goto fail;
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			goto fail;
		if (atomic_load(&l->stop))
			goto fail;
		if (p[0].revents != 0)
			ps = PQconnectPoll(db);
	}
	return db;
fail:
	PQfinish(db);
	return NULL;
}

/* One row, one int64 column. */
static bool query_int(PGconn *db, const char *sql, int64_t *out)
{
	PGresult *r = PQexec(db, sql);
	bool ok = r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !PQgetisnull(r, 0, 0);

	if (ok)
		*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return ok;
}

static bool confirm_row(struct store_pg_listener *l, PGconn *db)
{
	int64_t e;

	if (!query_int(db, "SELECT epoch FROM access_epoch WHERE id = 1", &e))
		return false;
	epoch_raise(l, e);
	atomic_store(&l->confirmed_ms, mono_ms());
	return true;
}

/* Take every notification libpq has read. */
static void drain(struct store_pg_listener *l, PGconn *db)
{
	PGnotify *n;

	while ((n = PQnotifies(db)) != NULL) {
		if (strcmp(n->relname, EPOCH_CHANNEL) == 0 && n->extra != NULL) {
			char *end;
			long long e = strtoll(n->extra, &end, 10);

			if (end != n->extra && *end == '\0')
				epoch_raise(l, e);
			atomic_fetch_add(&l->notifications, 1);
			atomic_store(&l->confirmed_ms, mono_ms());
		}
		PQfreemem(n);
	}
}

/* What already arrived on the listener's socket, taken now by the calling
 * thread (one non-blocking poll, no round trip); skipped while the
 * listener thread itself reads. */
static void drain_pending(struct store_pg_listener *l)
{
	if (pthread_mutex_trylock(&l->conn_mu) != 0)
		return;
	if (l->db != NULL) {
		struct pollfd p = { .fd = PQsocket(l->db), .events = POLLIN };

		if (p.fd >= 0 && poll(&p, 1, 0) > 0 && PQconsumeInput(l->db) != 0)
			drain(l, l->db);
	}
	pthread_mutex_unlock(&l->conn_mu);
}

/* Serve one connection until it fails or stop; true if it ever was up. */
static bool listen_session(struct store_pg_listener *l, PGconn *db)
{
	PGresult *r;
	bool ok;

	r = PQexec(db, "SET statement_timeout = " PG_STR(STORE_PG_STATEMENT_TIMEOUT_MS)
	    "; LISTEN " EPOCH_CHANNEL);
	ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	/* the LISTEN is in force: a change committed from here on notifies us,
	 * one committed before is in the row */
	if (!ok || !confirm_row(l, db))
		return false;
	pthread_mutex_lock(&l->conn_mu);
	l->db = db;
	pthread_mutex_unlock(&l->conn_mu);
	atomic_store(&l->up, true);
	log_info("store: postgres epoch listener up (epoch %" PRId64 ")",
	    (int64_t)atomic_load(&l->epoch));
	while (!atomic_load(&l->stop)) {
		struct pollfd p[2] = {
			{ .fd = PQsocket(db), .events = POLLIN },
			{ .fd = l->wake[0], .events = POLLIN },
		};
		int n = poll(p, 2, STORE_PG_EPOCH_HEARTBEAT_MS);

		if (n < 0 && errno != EINTR)
			break;
		bool alive = true;

		if (atomic_load(&l->stop))
			break;
		pthread_mutex_lock(&l->conn_mu);
		if (n > 0 && p[0].revents != 0) {
			/* 0: terminated, or the database went away */
			alive = PQconsumeInput(db) != 0;
		} else if (n == 0) {
			/* quiet for a heartbeat: read the row ourselves, which also
			 * proves the connection still answers */
			alive = confirm_row(l, db);
		}
		if (alive)
			drain(l, db);
		alive = alive && PQstatus(db) == CONNECTION_OK;
		pthread_mutex_unlock(&l->conn_mu);
		if (!alive)
			break;
	}
	atomic_store(&l->up, false);
	pthread_mutex_lock(&l->conn_mu);
	l->db = NULL;
	pthread_mutex_unlock(&l->conn_mu);
	return true;
}

static void *listen_main(void *arg)
{
	struct store_pg_listener *l = arg;
	int backoff = BACKOFF_MIN_MS;
	bool first = true;

	while (!atomic_load(&l->stop)) {
		PGconn *db = listen_connect(l);
		bool was_up = false;

		if (!first)
			atomic_fetch_add(&l->reconnects, 1);
		first = false;
		if (db != NULL && PQstatus(db) == CONNECTION_OK) {
			PQsetNoticeProcessor(db, notice_drop, NULL);
			was_up = listen_session(l, db);
		}
		PQfinish(db);
		if (atomic_load(&l->stop))
			break;
		if (was_up) {
			log_warn("store: postgres epoch listener lost its connection; "
			    "every request reads the epoch row until it is back");
			backoff = BACKOFF_MIN_MS;
		}
		if (nap(l, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	return NULL;
}

static void collect(struct util_metrics_writer *w, void *arg)
{
	struct store_pg_listener *l = arg;
	bool up = atomic_load(&l->up);

	util_metrics_emit(w, "phivault_store_epoch_listener_up",
	    "1 while this node's LISTEN connection for the access epoch is up",
	    UTIL_METRIC_GAUGE, NULL, NULL, up ? 1 : 0);
	util_metrics_emit(w, "phivault_store_epoch_listener_lag_ms",
	    "Milliseconds since the listener last confirmed the access epoch",
	    UTIL_METRIC_GAUGE, NULL, NULL,
	    (double)(mono_ms() - (int64_t)atomic_load(&l->confirmed_ms)));
	util_metrics_emit(w, "phivault_store_epoch_notifications_total",
	    "Access-epoch notifications received", UTIL_METRIC_COUNTER, NULL, NULL,
	    (double)atomic_load(&l->notifications));
	util_metrics_emit(w, "phivault_store_epoch_listener_reconnects_total",
	    "Times the epoch listener opened its connection again", UTIL_METRIC_COUNTER,
	    NULL, NULL, (double)atomic_load(&l->reconnects));
	util_metrics_emit(w, "phivault_store_epoch_row_reads_total",
	    "Requests that read the access-epoch row (the listener was down or stale)",
	    UTIL_METRIC_COUNTER, NULL, NULL, (double)atomic_load(&l->row_reads));
}

enum pv_rc store_pg_listen_start(struct store *st)
{
	struct store_pg *s = (struct store_pg *)st;
	struct store_pg_listener *l;
	size_t n = 0;

	if (s->listener != NULL)
		return PV_OK;
	if (s->read_only)
		return PV_E_READONLY;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return PV_E_NOMEM;
	l->owner = s;
	while (s->keys[n] != NULL)
		n++;
	l->keys = calloc(n + 1, sizeof(char *));
	l->vals = calloc(n + 1, sizeof(char *));
	if (l->keys == NULL || l->vals == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		l->keys[i] = s->keys[i];
		l->vals[i] = strcmp(s->keys[i], "application_name") == 0 ? "phivault-listener" :
		    s->vals[i];
	}
	if (pthread_mutex_init(&l->conn_mu, NULL) != 0)
		goto nomem;
	if (pipe2(l->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		pthread_mutex_destroy(&l->conn_mu);
		goto nomem;
	}
	atomic_store(&l->confirmed_ms, mono_ms());
	if (pthread_create(&l->thread, NULL, listen_main, l) != 0) {
		close(l->wake[0]);
		close(l->wake[1]);
		pthread_mutex_destroy(&l->conn_mu);
		goto nomem;
	}
	s->listener = l;
	if (util_metrics_collector_add(util_metrics_default(), collect, l) != PV_OK)
		log_warn("store: epoch listener metrics not registered");
	return PV_OK;
nomem:
	free(l->keys);
	free(l->vals);
	free(l);
	return PV_E_NOMEM;
}

void store_pg_listen_stop(struct store_pg *s)
{
	struct store_pg_listener *l = s->listener;
	ssize_t w;

	if (l == NULL)
		return;
	util_metrics_collector_remove(util_metrics_default(), collect, l);
	atomic_store(&l->stop, true);
	w = write(l->wake[1], "x", 1);
	(void)w;
	pthread_join(l->thread, NULL);
	close(l->wake[0]);
	close(l->wake[1]);
	pthread_mutex_destroy(&l->conn_mu);
	free(l->keys);
	free(l->vals);
	free(l);
	s->listener = NULL;
}

bool store_pg_listen_known(struct store *st, int64_t *epoch)
{
	struct store_pg_listener *l = ((struct store_pg *)st)->listener;

	if (l == NULL)
		return false;
	if (!atomic_load(&l->up) ||
	    mono_ms() - (int64_t)atomic_load(&l->confirmed_ms) > STORE_PG_EPOCH_STALE_MS) {
		atomic_fetch_add(&l->row_reads, 1);
		return false;
	}
	/* A notification already on our socket (the change committed, the
	 * listener thread not yet scheduled) counts for this request: one
	 * non-blocking poll, no round trip. Skipped while the thread reads. */
	drain_pending(l);
	*epoch = (int64_t)atomic_load(&l->epoch);
	return true;
}

void store_pg_listen_await(struct store *st, int64_t want)
{
	struct store_pg_listener *l = ((struct store_pg *)st)->listener;
	int64_t deadline = mono_ms() + STORE_PG_EPOCH_AWAIT_MS;
	const struct timespec nap_ts = { 0, 100000 };   /* 0.1 ms */

	if (l == NULL)
		return;
	while (atomic_load(&l->up) && (int64_t)atomic_load(&l->epoch) < want &&
	    mono_ms() < deadline) {
		drain_pending(l);
		if ((int64_t)atomic_load(&l->epoch) < want)
			nanosleep(&nap_ts, NULL);
	}
}
