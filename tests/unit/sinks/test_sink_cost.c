/*
 * The cost of the sinks per audit entry, over the real lower stack (store,
 * keyring, audit chain): N entries like the benchmark's audited read
 * (record.read by a clinician with a session, purpose TREAT, the fields and
 * the subject reference in the detail) are committed, then
 *
 *  - cost_scan:   read back the way a sender reads a batch (store_audit_scan
 *                 after a cursor, SINKS_BATCH at a time);
 *  - cost_syslog / cost_ocsf: the two formatters of the benchmark's sinks
 *                 over those rows, a batch buffer at a time;
 *  - cost_deliver: a running sinks set (the OCSF file and syslog over TCP to
 *                 a receiver thread of this test) delivering all of them
 *                 from seq 0, with every byte checked at the receiver and in
 *                 the file (one message and one line per entry, in seq order).
 *
 * The callgrind harness of docs/internals/sinks.md "Cost":
 * PV_TEST_NENTRIES={200,1200} valgrind --tool=callgrind
 * --toggle-collect=cost_scan --toggle-collect=cost_syslog
 * --toggle-collect=cost_ocsf --toggle-collect=sender ./unit_sinks_test_sink_cost
 * (sender: the sinks' sender threads, both sinks, store reads included);
 * the marginal Ir of 1000 entries is the difference. Without the variable
 * the test runs 64.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/read_entries.h"

#include "config/config.h"
#include "sinks/sinks_int.h"
#include "stack_fixture.h"

#define NENTRIES 64
#define NMAX 20000

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct sinks *sinks;          /* freed after audit_stop (its subscriber) */
	int n;
};

/* The daemon's jansson allocator (src/daemon/process.c): every block jansson
 * frees is wiped first, so the formatters cost here what they cost there. */
static void wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	const char *env = getenv("PV_TEST_NENTRIES");

	assert_non_null(f);
	f->n = env != NULL ? atoi(env) : NENTRIES;
	if (f->n < 1 || f->n > NMAX)
		f->n = NENTRIES;
	assert_int_equal(pv_stack_open("sinkcost", f->dir, &f->st, &f->keys, &f->audit), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sinks_stop(f->sinks);
	audit_stop(f->audit);
	sinks_free(f->sinks);
	keys_close(f->keys);
	store_close(f->st);
	pv_stack_remove_dir(f->dir);
	free(f);
	return 0;
}

/* n record.read entries, 64 a transaction (the way a busy server's reads
 * share commit groups). */
static void write_reads(struct fx *f, int n)
{
	audit_write_reads(f->audit, n);
}

/* ---- rows in memory ---- */

struct rows {
	struct store_audit_row *r;
	size_t n, cap;
};

static char *dup_or_null(const char *s)
{
	char *d = s != NULL ? strdup(s) : NULL;

	assert_true(s == NULL || d != NULL);
	return d;
}

static int keep_row(const struct store_audit_row *r, void *arg)
{
	struct rows *rs = arg;
	struct store_audit_row *c;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 256;
		rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
		assert_non_null(rs->r);
	}
	c = &rs->r[rs->n++];
	memset(c, 0, sizeof *c);
	c->seq = r->seq;
	c->time = dup_or_null(r->time);
	c->actor = dup_or_null(r->actor);
	c->action = dup_or_null(r->action);
	c->resource = dup_or_null(r->resource);
	c->purpose_of_use = dup_or_null(r->purpose_of_use);
	c->outcome = dup_or_null(r->outcome);
	c->reason = dup_or_null(r->reason);
	c->detail = dup_or_null(r->detail);
	c->prev_hash = dup_or_null(r->prev_hash);
	c->hash = dup_or_null(r->hash);
	return 0;
}

static void rows_free(struct rows *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct store_audit_row *c = &rs->r[i];

		free((char *)c->time);
		free((char *)c->actor);
		free((char *)c->action);
		free((char *)c->resource);
		free((char *)c->purpose_of_use);
		free((char *)c->outcome);
		free((char *)c->reason);
		free((char *)c->detail);
		free((char *)c->prev_hash);
		free((char *)c->hash);
	}
	free(rs->r);
}

static int count_row(const struct store_audit_row *r, void *arg)
{
	int64_t *last = arg;

	*last = r->seq;
	return 0;
}

__attribute__((noinline)) static int64_t cost_scan(struct store *st, int64_t head)
{
	int64_t cur = 0;

	while (cur < head) {
		struct store_audit_filter f = { .since_seq = cur, .limit = SINKS_BATCH };
		int64_t last = cur;
		enum pv_rc rc;

		STORE_READ(st, rc, store_audit_scan(tx, &f, count_row, &last));
		assert_int_equal(rc, PV_OK);
		assert_true(last > cur);
		cur = last;
	}
	return cur;
}

__attribute__((noinline)) static size_t cost_syslog(const struct rows *rs)
{
	size_t bytes = 0;

	for (size_t at = 0; at < rs->n; at += SINKS_BATCH) {
		struct util_buf b = { 0 };

		for (size_t i = at; i < rs->n && i < at + SINKS_BATCH; i++)
			assert_int_equal(sinks_format_syslog(&rs->r[i], "bench-node", 8192, &b), 1);
		assert_false(b.failed);
		bytes += b.len;
		util_buf_free(&b);
	}
	return bytes;
}

__attribute__((noinline)) static size_t cost_ocsf(const struct rows *rs)
{
	size_t bytes = 0;

	for (size_t at = 0; at < rs->n; at += SINKS_BATCH) {
		struct util_buf b = { 0 };

		for (size_t i = at; i < rs->n && i < at + SINKS_BATCH; i++)
			assert_int_equal(sinks_format_ocsf(&rs->r[i], &b), 1);
		assert_false(b.failed);
		bytes += b.len;
		util_buf_free(&b);
	}
	return bytes;
}

static void test_format_cost(void **state)
{
	struct fx *f = *state;
	struct rows rs = { 0 };
	struct store_audit_filter flt = { 0 };
	int64_t head;
	char hash[65];
	enum pv_rc rc;

	json_set_alloc_funcs(malloc, wipe_free);
	write_reads(f, f->n);
	audit_head(f->audit, &head, hash);
	assert_true(head >= f->n);
	assert_int_equal(cost_scan(f->st, head), head);
	STORE_READ(f->st, rc, store_audit_scan(tx, &flt, keep_row, &rs));
	assert_int_equal(rc, PV_OK);
	assert_int_equal((int64_t)rs.n, head);
	/* every entry's message and line is a few hundred bytes */
	assert_true(cost_syslog(&rs) > rs.n * 200);
	assert_true(cost_ocsf(&rs) > rs.n * 200);
	rows_free(&rs);
	json_set_alloc_funcs(malloc, free);
}

/* ---- the whole path: a running sinks set ---- */

struct receiver {
	int lfd;
	unsigned port;
	pthread_t th;
	pthread_mutex_t mu;
	struct util_buf got;
	bool stop;
};

static void *receive(void *arg)
{
	struct receiver *rv = arg;
	int fd = -1;
	char buf[65536];

	for (;;) {
		struct pollfd p = { .fd = fd >= 0 ? fd : rv->lfd, .events = POLLIN };
		bool stop;

		pthread_mutex_lock(&rv->mu);
		stop = rv->stop;
		pthread_mutex_unlock(&rv->mu);
		if (stop)
			break;
		if (poll(&p, 1, 20) <= 0)
			continue;
		if (fd < 0) {
			fd = accept(rv->lfd, NULL, NULL);
			continue;
		}
		ssize_t n = read(fd, buf, sizeof buf);

		if (n <= 0) {
			close(fd);
			fd = -1;
			continue;
		}
		pthread_mutex_lock(&rv->mu);
		util_buf_put(&rv->got, buf, (size_t)n);
		pthread_mutex_unlock(&rv->mu);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void receiver_start(struct receiver *rv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;

	memset(rv, 0, sizeof *rv);
	rv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(rv->lfd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rv->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(rv->lfd, 4), 0);
	assert_int_equal(getsockname(rv->lfd, (struct sockaddr *)&a, &al), 0);
	rv->port = ntohs(a.sin_port);
	pthread_mutex_init(&rv->mu, NULL);
	assert_int_equal(pthread_create(&rv->th, NULL, receive, rv), 0);
}

static void receiver_stop(struct receiver *rv)
{
	pthread_mutex_lock(&rv->mu);
	rv->stop = true;
	pthread_mutex_unlock(&rv->mu);
	pthread_join(rv->th, NULL);
	close(rv->lfd);
	util_buf_free(&rv->got);
	pthread_mutex_destroy(&rv->mu);
}

/* Every sink's cursor at head (status), or false after about 60 s. */
static bool wait_delivered(struct sinks *s, int64_t head)
{
	for (int i = 0; i < 60000; i++) {
		struct sinks_status ss[SINKS_MAX];
		size_t n = sinks_status(s, ss, SINKS_MAX), ok = 0;

		for (size_t k = 0; k < n; k++)
			if (ss[k].cursor_seq >= head)
				ok++;
		if (n > 0 && ok == n)
			return true;
		(void)poll(NULL, 0, 1);
	}
	return false;
}

__attribute__((noinline)) static void cost_deliver(const struct sinks_deps *d, int64_t head,
    struct sinks **out)
{
	assert_int_equal(sinks_start(d, out), PV_OK);
	assert_true(wait_delivered(*out, head));
}

/* "seq=\"N\"" of the k-th message of an octet-counted stream, in order. */
static void check_stream(const struct util_buf *b, int64_t head)
{
	size_t off = 0;
	int64_t want = 1;

	while (off < b->len) {
		char *end, key[48];
		unsigned long len = strtoul(b->p + off, &end, 10);

		assert_int_equal(*end, ' ');
		off = (size_t)(end - b->p) + 1;
		assert_true(off + len <= b->len);
		snprintf(key, sizeof key, " seq=\"%lld\" ", (long long)want);
		assert_non_null(memmem(b->p + off, len, key, strlen(key)));
		off += len;
		want++;
	}
	assert_int_equal(want - 1, head);
}

static void check_file(const char *path, int64_t head)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int64_t want = 1;

	assert_non_null(fp);
	while (getline(&line, &cap, fp) > 0) {
		json_t *o = json_loads(line, 0, NULL);

		assert_non_null(o);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "metadata"),
		    "sequence")), want);
		json_decref(o);
		want++;
	}
	free(line);
	fclose(fp);
	assert_int_equal(want - 1, head);
}

static void test_deliver_cost(void **state)
{
	struct fx *f = *state;
	struct receiver rv;
	struct pv_config cfg;
	struct sinks_deps d = { 0 };
	struct sinks *s;
	int64_t head;
	char hash[65];

	json_set_alloc_funcs(malloc, wipe_free);
	write_reads(f, f->n);
	audit_head(f->audit, &head, hash);
	receiver_start(&rv);
	config_defaults(&cfg, f->dir);
	snprintf(cfg.sinks_syslog, sizeof cfg.sinks_syslog, "tcp://127.0.0.1:%u", rv.port);
	assert_true(strlen(f->dir) + sizeof "/ocsf.jsonl" <= sizeof cfg.sinks_ocsf_file);
	strcpy(cfg.sinks_ocsf_file, f->dir);
	strcat(cfg.sinks_ocsf_file, "/ocsf.jsonl");
	d.st = f->st;
	d.audit = f->audit;
	d.cfg = &cfg;
	d.host = "bench-node";
	cost_deliver(&d, head, &f->sinks);
	s = f->sinks;
	sinks_stop(s);
	/* the receiver has what the sender's TCP had acknowledged */
	for (int i = 0; i < 5000; i++) {
		size_t len;

		pthread_mutex_lock(&rv.mu);
		len = rv.got.len;
		pthread_mutex_unlock(&rv.mu);
		if (len > 0 && rv.got.p[len - 1] != ' ')
			break;
		(void)poll(NULL, 0, 1);
	}
	pthread_mutex_lock(&rv.mu);
	check_stream(&rv.got, head);
	pthread_mutex_unlock(&rv.mu);
	check_file(cfg.sinks_ocsf_file, head);
	receiver_stop(&rv);
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_cost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_cost, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
