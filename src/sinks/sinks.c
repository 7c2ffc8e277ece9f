/*
 * sinks.c: the sender threads, their cursors and the commit-queue
 * subscriber (sinks.h has the state machine).
 *
 * Threads and locks: one sender thread per sink does all of that sink's I/O
 * (store reads, the network, the file, the cursor commit). s->mu guards the
 * known head, the stop flag and every sink's shown state (cursor, delivered,
 * last_error); nobody holds it across I/O. The subscriber runs on the
 * committer thread and only raises the known head and broadcasts s->cv.
 *
 * Cursor: read from the store at start (no row: 0, so a new sink gets the
 * whole trail from seq 1). After a batch is accepted the in-memory cursor
 * moves at once and the row is committed through the audit queue as a
 * background transaction without an audit entry (audit_commit_at with no
 * event). If that commit fails the sink keeps going from its in-memory
 * cursor and the next batch's commit carries the row; after a crash in that
 * window the batch is sent again (at-least-once after a crash, never a gap).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sinks/sinks_int.h"

enum sink_kind { KIND_SYSLOG, KIND_CEF, KIND_OCSF, KIND_WEBHOOK };
static const char *const kind_names[] = { "syslog", "cef", "ocsf_file", "webhook" };

struct sink {
	struct sinks *owner;
	enum sink_kind kind;
	struct sinks_target target;
	pthread_t th;
	bool started;
	/* guarded by owner->mu */
	struct store_sink_cursor cur;
	int64_t wake_at;              /* the head at which on_commit wakes this sender:
	                               * cursor + 1 while it waits idle, cursor +
	                               * SINKS_BATCH while it lingers, INT64_MAX while
	                               * it sends or backs off (no wake-up a commit) */
	/* sender thread only */
	struct sinks_conn conn;
	struct {                      /* the last batches on this connection */
		int64_t from;             /* the cursor before the batch */
	} sent[SINKS_RESEND_RING];
	size_t nsent, next_sent;
	int fd;                       /* ocsf_file */
	CURL *curl;                   /* webhook */
	bool failing;
	int backoff_ms;
	int64_t saved_seq;            /* the cursor as last committed */
	int64_t last_send_ms;         /* monotonic: the last batch sent (linger) */
	int64_t last_cursor_ms;       /* monotonic: the last cursor commit */
};

struct sinks {
	struct store *st;
	struct audit *audit;
	char host[256];
	char ca_file[4096];
	size_t max_message;
	int retry_max_ms;
	int timeout_ms;
	bool allow_http;              /* webhook = http://... (config allows it only with --dev) */
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* CLOCK_MONOTONIC */
	int64_t head;                 /* highest committed seq seen */
	bool stop;
	bool subscribed;              /* the queue holds on_commit(s) until audit_stop */
	bool curl_global;             /* curl_global_init done (a webhook) */
	int64_t drain_until;          /* mono ms, set by sinks_stop */
	struct sinks_counts counts;   /* sinks_counts_get (tests) */
	struct sink sink[SINKS_MAX];
	size_t n;
};

/* ---- waiting ---- */

static void wait_ms(struct sinks *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		s->counts.woken++;
}

/* Committer thread: raise the known head; wake the senders only when one
 * waits for a head this high (a wake-up per batch, not per commit group: a
 * sender that lingers or backs off is not woken by every commit). */
static void on_commit(const struct store_audit_row *const *rows, size_t n, void *arg)
{
	struct sinks *s = arg;
	bool wake = false;

	if (n == 0)
		return;
	pthread_mutex_lock(&s->mu);
	if (rows[n - 1]->seq > s->head)
		s->head = rows[n - 1]->seq;
	for (size_t i = 0; i < s->n; i++)
		if (s->sink[i].wake_at <= s->head) {
			s->sink[i].wake_at = INT64_MAX;   /* once: it runs before it waits again */
			wake = true;
		}
	if (wake)
		pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* under s->mu: wait up to ms, woken by on_commit once the head reaches at */
static void wait_head(struct sink *k, int64_t at, int ms)
{
	k->wake_at = at;
	wait_ms(k->owner, ms);
	k->wake_at = INT64_MAX;
}

/* ---- one batch ---- */

struct batch {
	struct sink *k;
	struct util_buf out;         /* the bytes (stream, file) */
	json_t *arr;                  /* webhook: the entries */
	int64_t last_seq;
	int64_t n;
	enum pv_rc rc;
};

static int batch_row(const struct store_audit_row *r, void *arg)
{
	struct batch *b = arg;
	struct sinks *s = b->k->owner;
	size_t m = 1;

	switch (b->k->kind) {
	case KIND_SYSLOG:
		m = sinks_format_syslog(r, s->host, s->max_message, &b->out);
		break;
	case KIND_CEF:
		m = sinks_format_cef(r, s->host, s->max_message, &b->out);
		break;
	case KIND_OCSF:
		m = sinks_format_ocsf(r, &b->out);
		break;
	case KIND_WEBHOOK: {
		json_t *o = sinks_entry_json(r);

		if (!o || json_array_append_new(b->arr, o) != 0)
			m = 0;
		break;
	}
	}
	if (m == 0 || b->out.failed) {
		b->rc = PV_E_NOMEM;
		return 1;
	}
	b->last_seq = r->seq;
	b->n++;
	return 0;
}

static enum pv_rc send_file(struct sink *k, const struct batch *b, char *err, size_t errlen)
{
	const char *p = b->out.p;
	size_t n = b->out.len;

	if (k->fd < 0) {
		k->fd = open(k->target.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (k->fd < 0) {
			snprintf(err, errlen, "open sinks.ocsf_file: %s", strerror(errno));
			return PV_E_IO;
		}
	}
	while (n > 0) {
		ssize_t w = write(k->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "write sinks.ocsf_file: %s", strerror(errno));
			goto fail;
		}
		p += w;
		n -= (size_t)w;
	}
	if (fdatasync(k->fd) != 0) {
		snprintf(err, errlen, "fdatasync sinks.ocsf_file: %s", strerror(errno));
		goto fail;
	}
	return PV_OK;
fail:
	close(k->fd);
	k->fd = -1;
	return PV_E_IO;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static enum pv_rc send_webhook(struct sink *k, const struct batch *b, char *err, size_t errlen)
{
	struct sinks *s = k->owner;
	struct curl_slist *hl = NULL;
	char *body = json_dumps(b->arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	long status = 0;
	CURLcode cr;
	enum pv_rc rc = PV_E_IO;

	if (!body) {
		snprintf(err, errlen, "out of memory");
		return PV_E_NOMEM;
	}
	if (!k->curl && !(k->curl = curl_easy_init())) {
		snprintf(err, errlen, "webhook: cannot make a libcurl handle");
		goto out;
	}
	curl_easy_reset(k->curl);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	curl_easy_setopt(k->curl, CURLOPT_URL, k->target.path);
	curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, s->allow_http ? "https,http" : "https");
	curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(k->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(k->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca_file[0])
		curl_easy_setopt(k->curl, CURLOPT_CAINFO, s->ca_file);
	cr = curl_easy_perform(k->curl);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "webhook: %s", curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "webhook: HTTP %ld", status);
		goto out;
	}
	rc = PV_OK;
out:
	curl_slist_free_all(hl);
	free(body);
	return rc;
}

static void cursor_commit(struct sink *k);

/*
 * The connection was reset, or a send on it failed and we drop it: what its
 * TCP acknowledged may have been dropped unread by the receiver (Linux
 * resets a socket closed with unread data; a receiver that stopped reading
 * keeps it in a buffer that our close discards).
 * Move the cursor back to before the oldest of the last SINKS_RESEND_RING
 * batches sent on this connection, so those entries are sent again:
 * at-least-once, never a gap within that bound. A clean close (FIN,
 * close_notify) rewinds nothing: the receiver read everything before it.
 */
static void rewind_after_reset(struct sink *k)
{
	struct sinks *s = k->owner;
	int64_t back = -1, cur;

	for (size_t i = 0; i < k->nsent; i++)
		if (back < 0 || k->sent[i].from < back)
			back = k->sent[i].from;
	k->nsent = 0;
	k->next_sent = 0;
	pthread_mutex_lock(&s->mu);
	cur = k->cur.seq;
	if (back >= 0 && back < cur) {
		k->cur.delivered = k->cur.delivered > cur - back ? k->cur.delivered - (cur - back) : 0;
		k->cur.seq = back;
	}
	pthread_mutex_unlock(&s->mu);
	if (back >= 0 && back < cur) {
		log_warn("sinks: %s: the connection %s; sending again after seq %lld "
		    "(up to seq %lld may arrive twice)", kind_names[k->kind],
		    k->conn.reset ? "was reset" : "failed", (long long)back, (long long)cur);
		cursor_commit(k);   /* a stop before the resend must not skip them */
	}
}

/* Before a batch: a receiver that went away is dropped (and a reset rewinds),
 * so no batch is written into a connection that is already closing. */
static void check_peer(struct sink *k)
{
	enum sinks_peer p;

	if (k->conn.fd < 0)
		return;
	p = sinks_conn_peer(&k->conn);
	if (p == SINKS_PEER_OPEN)
		return;
	if (p == SINKS_PEER_RESET)
		rewind_after_reset(k);
	sinks_conn_close(&k->conn);
	k->nsent = 0;
	k->next_sent = 0;
}

static enum pv_rc send_stream(struct sink *k, const struct batch *b, int64_t from, char *err,
    size_t errlen)
{
	struct sinks *s = k->owner;
	enum pv_rc rc;

	if (k->conn.fd < 0) {
		k->nsent = 0;
		k->next_sent = 0;
		if ((rc = sinks_conn_open(&k->conn, &k->target, s->ca_file, s->timeout_ms, err,
		    errlen)) != PV_OK)
			return rc;
	}
	rc = sinks_conn_send(&k->conn, b->out.p, b->out.len, s->timeout_ms, err, errlen);
	if (rc != PV_OK) {
		/* reset, or dropped by us (a receiver that stopped reading): what it
		 * acknowledged earlier may sit unread in its buffer, so it is
		 * unconfirmed too */
		rewind_after_reset(k);
		sinks_conn_close(&k->conn);
		return rc;
	}
	k->sent[k->next_sent].from = from;
	k->next_sent = (k->next_sent + 1) % SINKS_RESEND_RING;
	if (k->nsent < SINKS_RESEND_RING)
		k->nsent++;
	return PV_OK;
}

static enum pv_rc cursor_put(struct store_tx *tx, void *arg)
{
	return store_sink_cursor_put(tx, arg);
}

/* Commit the sink's row as it is now (a background transaction, no entry). */
static void cursor_commit(struct sink *k)
{
	struct sinks *s = k->owner;
	struct store_sink_cursor row;
	enum pv_rc rc;

	pthread_mutex_lock(&s->mu);
	row = k->cur;
	pthread_mutex_unlock(&s->mu);
	row.updated_ms = util_now_ms();
	k->last_cursor_ms = util_mono_ms();
	rc = audit_commit_at(s->audit, NULL, cursor_put, &row, COMMIT_BACKGROUND);
	if (rc == PV_OK)
		k->saved_seq = row.seq;
	else
		log_warn("sinks: %s: cursor at seq %lld not saved (%s); kept in memory",
		    kind_names[k->kind], (long long)row.seq, pv_rc_name(rc));
}

/* Read and send the next batch. PV_OK with *sent 0: nothing after the cursor. */
static enum pv_rc step(struct sink *k, int64_t *sent)
{
	struct sinks *s = k->owner;
	struct batch b;
	struct store_audit_filter f;
	char err[STORE_SINK_ERROR_MAX] = "";
	enum pv_rc rc;

	*sent = 0;
	memset(&b, 0, sizeof b);
	b.k = k;
	if (k->kind == KIND_WEBHOOK && !(b.arr = json_array()))
		return PV_E_NOMEM;
	if (k->kind == KIND_SYSLOG || k->kind == KIND_CEF)
		check_peer(k);
	memset(&f, 0, sizeof f);
	pthread_mutex_lock(&s->mu);
	f.since_seq = k->cur.seq;
	pthread_mutex_unlock(&s->mu);
	f.limit = SINKS_BATCH;
	STORE_READ(s->st, rc, store_audit_scan(tx, &f, batch_row, &b));
	if (rc == PV_OK)
		rc = b.rc;
	if (rc != PV_OK) {
		snprintf(err, sizeof err, "reading the audit trail: %s", pv_rc_name(rc));
		goto out;
	}
	if (b.n == 0)
		goto out;
	switch (k->kind) {
	case KIND_SYSLOG:
	case KIND_CEF:
		rc = send_stream(k, &b, f.since_seq, err, sizeof err);
		break;
	case KIND_OCSF:
		rc = send_file(k, &b, err, sizeof err);
		break;
	case KIND_WEBHOOK:
		rc = send_webhook(k, &b, err, sizeof err);
		break;
	}
	if (rc == PV_OK)
		*sent = b.n;
out:
	pthread_mutex_lock(&s->mu);
	if (rc == PV_OK && b.n > 0) {
		s->counts.batches++;
		k->cur.seq = b.last_seq;
		k->cur.delivered += b.n;
		k->cur.last_error[0] = '\0';
	} else if (rc != PV_OK) {
		util_strlcpy(k->cur.last_error, err[0] ? err : pv_rc_name(rc),
		    sizeof k->cur.last_error);
	}
	pthread_mutex_unlock(&s->mu);
	if (rc != PV_OK && !k->failing)
		log_warn("sinks: %s: delivery after seq %lld failed: %s", kind_names[k->kind],
		    (long long)f.since_seq, err[0] ? err : pv_rc_name(rc));
	if (b.n > 0)
		k->last_send_ms = util_mono_ms();
	/* a failure (once) and a recovery are saved at once; plain progress at
	 * most every SINKS_CURSOR_EVERY_MS (the idle loop saves the rest) */
	if ((rc != PV_OK && !k->failing) || (rc == PV_OK && b.n > 0 && (k->failing ||
	    util_mono_ms() - k->last_cursor_ms >= SINKS_CURSOR_EVERY_MS)))
		cursor_commit(k);
	if (rc == PV_OK && b.n > 0 && k->failing)
		log_info("sinks: %s: delivering again from seq %lld", kind_names[k->kind],
		    (long long)f.since_seq + 1);
	k->failing = rc != PV_OK;
	util_buf_free(&b.out);
	json_decref(b.arr);
	return rc;
}

static void *sender(void *arg)
{
	struct sink *k = arg;
	struct sinks *s = k->owner;
	char name[16];

	/* pv-sink-syslog ...: its CPU apart in top -H and /proc (prctl
	 * PR_SET_NAME, allowed by seccomp like pv-detect's) */
	snprintf(name, sizeof name, "pv-sink-%.7s", kind_names[k->kind]);
	(void)pthread_setname_np(pthread_self(), name);

	for (;;) {
		int64_t sent = 0, head, cursor, retry_at;
		bool stop;
		enum pv_rc rc;

		for (;;) {
			int64_t linger;

			/* progress not saved yet, and the sink idle: save it now */
			if (k->cur.seq != k->saved_seq && !k->failing &&
			    util_mono_ms() - k->last_cursor_ms >= SINKS_CURSOR_EVERY_MS)
				cursor_commit(k);
			/* outside s->mu: the audit lock is never taken under ours */
			audit_head(s->audit, &head, NULL);
			pthread_mutex_lock(&s->mu);
			if (head > s->head)
				s->head = head;
			head = s->head;
			cursor = k->cur.seq;
			stop = s->stop;
			linger = k->last_send_ms + SINKS_LINGER_MS - util_mono_ms();
			if (!stop && head <= cursor)
				wait_head(k, cursor + 1, 1000);   /* the second is a safety net */
			else if (!stop && head - cursor < SINKS_BATCH && linger > 0) {
				/* a small backlog just after a send: let it grow a little
				 * (woken early only when a full batch is there) */
				while (!s->stop && linger > 0 && s->head - cursor < SINKS_BATCH) {
					wait_head(k, cursor + SINKS_BATCH, (int)linger);
					linger = k->last_send_ms + SINKS_LINGER_MS - util_mono_ms();
				}
				head = s->head;
				stop = s->stop;
			}
			pthread_mutex_unlock(&s->mu);
			if (stop || head > cursor)
				break;
		}
		/* draining: only a healthy sink gets the rest, and only for a while */
		if (stop && (k->failing || head <= cursor || util_mono_ms() >= s->drain_until))
			break;
		rc = step(k, &sent);
		if (rc == PV_OK) {
			k->backoff_ms = 0;
			if (sent == 0) {
				/* a head without rows after the cursor (a damaged trail):
				 * wait for the next commit instead of spinning */
				pthread_mutex_lock(&s->mu);
				if (!s->stop)
					wait_head(k, s->head + 1, 1000);
				pthread_mutex_unlock(&s->mu);
				if (stop)
					break;
			}
			continue;
		}
		/* bounded exponential back-off: 250 ms, 500 ms, ... retry_max_ms; new
		 * commits do not shorten it (a dead receiver is not retried per request) */
		k->backoff_ms = k->backoff_ms == 0 ? SINKS_BACKOFF_MIN_MS : k->backoff_ms * 2;
		if (k->backoff_ms > s->retry_max_ms)
			k->backoff_ms = s->retry_max_ms;
		retry_at = util_mono_ms() + k->backoff_ms;
		pthread_mutex_lock(&s->mu);
		while (!s->stop) {
			int64_t left = retry_at - util_mono_ms();

			if (left <= 0)
				break;
			wait_ms(s, (int)left);
		}
		pthread_mutex_unlock(&s->mu);
	}
	/* a cursor moved back, or one whose commit failed: saved before we go */
	if (k->cur.seq != k->saved_seq)
		cursor_commit(k);
	sinks_conn_close(&k->conn);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	k->curl = NULL;
	return NULL;
}

/* ---- lifecycle ---- */

static enum pv_rc add_sink(struct sinks *s, enum sink_kind kind, const char *target)
{
	struct sink *k = &s->sink[s->n];
	enum pv_rc rc;

	memset(k, 0, sizeof *k);
	k->owner = s;
	k->kind = kind;
	k->fd = -1;
	k->wake_at = INT64_MAX;
	sinks_conn_init(&k->conn);
	if (kind == KIND_SYSLOG || kind == KIND_CEF) {
		if (sinks_target_parse(target, &k->target) != PV_OK) {
			log_error("sinks: sinks.%s is not tcp://HOST:PORT or tls://HOST:PORT",
			    kind_names[kind]);
			return PV_E_CONFIG;
		}
	} else {
		k->target.transport = kind == KIND_OCSF ? SINKS_FILE : SINKS_HTTP;
		util_strlcpy(k->target.path, target, sizeof k->target.path);
	}
	util_strlcpy(k->cur.name, kind_names[kind], sizeof k->cur.name);
	STORE_READ(s->st, rc, store_sink_cursor_get(tx, k->cur.name, &k->cur));
	if (rc == PV_E_NOTFOUND) {
		memset(&k->cur, 0, sizeof k->cur);
		util_strlcpy(k->cur.name, kind_names[kind], sizeof k->cur.name);
		rc = PV_OK;
	}
	if (rc != PV_OK)
		return rc;
	k->saved_seq = k->cur.seq;
	s->n++;
	return PV_OK;
}

static int cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int r;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	r = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 ? pthread_cond_init(cv, &a) : -1;
	pthread_condattr_destroy(&a);
	return r;
}

enum pv_rc sinks_start(const struct sinks_deps *d, struct sinks **out)
{
	struct sinks *s;
	const struct pv_config *c;
	enum pv_rc rc = PV_OK;

	if (!d || !d->st || !d->audit || !d->cfg || !out)
		return PV_E_INVALID;
	c = d->cfg;
	s = calloc(1, sizeof *s);
	if (!s)
		return PV_E_NOMEM;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return PV_E_INTERNAL;
	}
	if (cond_init(&s->cv) != 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return PV_E_INTERNAL;
	}
	s->st = d->st;
	s->audit = d->audit;
	util_strlcpy(s->host, d->host && d->host[0] ? d->host : "-", sizeof s->host);
	for (size_t i = 0; s->host[i]; i++)   /* RFC 5424 HOSTNAME: PRINTUSASCII */
		if ((unsigned char)s->host[i] <= 0x20 || (unsigned char)s->host[i] >= 0x7f)
			s->host[i] = '-';
	util_strlcpy(s->ca_file, c->sinks_ca_file, sizeof s->ca_file);
	s->max_message = c->sinks_max_message_bytes;
	s->retry_max_ms = c->sinks_retry_max_ms;
	s->timeout_ms = c->sinks_timeout_ms;
	s->allow_http = util_str_has_prefix(c->sinks_webhook, "http://");
	audit_head(s->audit, &s->head, NULL);
	if (c->sinks_syslog[0])
		rc = add_sink(s, KIND_SYSLOG, c->sinks_syslog);
	if (rc == PV_OK && c->sinks_cef[0])
		rc = add_sink(s, KIND_CEF, c->sinks_cef);
	if (rc == PV_OK && c->sinks_ocsf_file[0])
		rc = add_sink(s, KIND_OCSF, c->sinks_ocsf_file);
	if (rc == PV_OK && c->sinks_webhook[0]) {
		/* before the sender thread: libcurl's global state is not ours to race */
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			rc = PV_E_INTERNAL;
		else
			s->curl_global = true;
		if (rc == PV_OK)
			rc = add_sink(s, KIND_WEBHOOK, c->sinks_webhook);
	}
	if (rc == PV_OK && s->n > 0) {
		rc = commit_subscribe(audit_queue(s->audit), on_commit, s);
		s->subscribed = rc == PV_OK;
	}
	for (size_t i = 0; rc == PV_OK && i < s->n; i++) {
		log_info("sinks: %s: delivering after seq %lld", kind_names[s->sink[i].kind],
		    (long long)s->sink[i].cur.seq);
		if (pthread_create(&s->sink[i].th, NULL, sender, &s->sink[i]) != 0) {
			rc = PV_E_INTERNAL;
			break;
		}
		s->sink[i].started = true;
	}
	if (rc != PV_OK) {
		sinks_stop(s);
		if (s->subscribed) {
			/* subscribed: the queue keeps a pointer until audit_stop */
			*out = s;
			return rc;
		}
		sinks_free(s);
		return rc;
	}
	*out = s;
	return PV_OK;
}

void sinks_stop(struct sinks *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->stop = true;
	s->drain_until = util_mono_ms() + SINKS_DRAIN_MS;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		if (s->sink[i].started) {
			pthread_join(s->sink[i].th, NULL);
			s->sink[i].started = false;
		}
}

void sinks_free(struct sinks *s)
{
	if (!s)
		return;
	sinks_stop(s);
	if (s->curl_global)
		curl_global_cleanup();
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void sinks_counts_get(struct sinks *s, struct sinks_counts *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->counts;
	pthread_mutex_unlock(&s->mu);
}

size_t sinks_status(struct sinks *s, struct sinks_status *out, size_t max)
{
	size_t n = 0;
	int64_t head;

	if (!s)
		return 0;
	audit_head(s->audit, &head, NULL);
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n && n < max; i++, n++) {
		const struct sink *k = &s->sink[i];

		memset(&out[n], 0, sizeof out[n]);
		util_strlcpy(out[n].name, kind_names[k->kind], sizeof out[n].name);
		util_strlcpy(out[n].kind, kind_names[k->kind], sizeof out[n].kind);
		out[n].cursor_seq = k->cur.seq;
		out[n].lag = head > k->cur.seq ? head - k->cur.seq : 0;
		util_strlcpy(out[n].last_error, k->cur.last_error, sizeof out[n].last_error);
		out[n].delivered = k->cur.delivered;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}
