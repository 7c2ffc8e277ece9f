/*
 * A sender is woken by a commit only when it waits for that head (sinks.c
 * on_commit): a sink backing off from a dead receiver is not woken by the
 * commits that keep coming (before: every commit group woke every sender),
 * and a lingering sender is woken once a batch, not once a commit. The
 * sender threads carry their sink's name (pv-sink-<kind>).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>

#include <cmocka.h>

#include "config/config.h"
#include "sinks/sinks_int.h"
#include "stack_fixture.h"

struct fx {
	char dir[PATH_MAX];
	struct store *st;
	struct keys *keys;
	struct audit *audit;
	struct pv_config cfg;
	struct sinks *sinks;          /* freed after audit_stop (its subscriber) */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(pv_stack_open("sinkwake", f->dir, &f->st, &f->keys, &f->audit), 0);
	config_defaults(&f->cfg, f->dir);
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

static void start(struct fx *f)
{
	struct sinks_deps d = { .st = f->st, .audit = f->audit, .cfg = &f->cfg, .host = "h" };

	assert_int_equal(sinks_start(&d, &f->sinks), PV_OK);
}

/* n entries, each its own commit (a commit group each) */
static void reads(struct fx *f, int n)
{
	for (int i = 0; i < n; i++) {
		struct audit_event ev = {
			.actor = { .kind = PV_ACTOR_USER, .user_id = "usr_a", .source = "127.0.0.1" },
			.action = "record.read",
			.resource = "collections/c/records/rec_1",
			.outcome = AUDIT_ALLOWED,
		};

		assert_int_equal(audit_record(f->audit, &ev), PV_OK);
	}
}

static struct sinks_status status0(struct fx *f)
{
	struct sinks_status ss[SINKS_MAX];

	assert_int_equal(sinks_status(f->sinks, ss, SINKS_MAX), 1);
	return ss[0];
}

/* A TCP port on loopback nothing listens on. */
static unsigned dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A thread of this process named name (/proc/self/task/TID/comm). */
static bool has_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	assert_non_null(d);
	while (!found && (e = readdir(d)) != NULL) {
		char path[300], comm[32] = "";
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof comm, fp) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(fp);
		found = strcmp(comm, name) == 0;
	}
	closedir(d);
	return found;
}

static void test_backoff_not_woken(void **state)
{
	struct fx *f = *state;
	struct sinks_counts c0, c1;
	int i;

	snprintf(f->cfg.sinks_syslog, sizeof f->cfg.sinks_syslog, "tcp://127.0.0.1:%u",
	    dead_port());
	start(f);
	reads(f, 1);
	/* the first attempt failed: the sender is backing off (30 s at most) */
	for (i = 0; i < 10000 && status0(f).last_error[0] == '\0'; i++)
		(void)poll(NULL, 0, 1);
	assert_true(status0(f).last_error[0] != '\0');
	assert_true(has_thread("pv-sink-syslog"));
	sinks_counts_get(f->sinks, &c0);
	reads(f, 100);
	sinks_counts_get(f->sinks, &c1);
	assert_int_equal(c1.batches, 0);
	/* 100 commit groups; the waits in between end by their time only */
	assert_true(c1.woken - c0.woken <= 2);
	assert_true(status0(f).lag >= 100);
}

static void test_linger_woken_per_batch(void **state)
{
	struct fx *f = *state;
	struct sinks_counts c;
	int64_t head;
	char hash[65];
	int i;

	assert_true(strlen(f->dir) + sizeof "/ocsf.jsonl" <= sizeof f->cfg.sinks_ocsf_file);
	strcpy(f->cfg.sinks_ocsf_file, f->dir);
	strcat(f->cfg.sinks_ocsf_file, "/ocsf.jsonl");
	start(f);
	reads(f, 300);
	audit_head(f->audit, &head, hash);
	for (i = 0; i < 60000 && status0(f).cursor_seq < head; i++)
		(void)poll(NULL, 0, 1);
	assert_int_equal(status0(f).cursor_seq, head);
	assert_true(has_thread("pv-sink-ocsf_fi"));
	sinks_counts_get(f->sinks, &c);
	/* every wake-up is followed by a batch (an idle sender woken by the
	 * first entry, a lingering one by a full batch) */
	assert_true(c.batches >= 2);
	assert_true(c.woken <= c.batches);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backoff_not_woken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linger_woken_per_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
