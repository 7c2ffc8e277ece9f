/*
 * net.c over loopback: a receiver that read everything and closed is CLOSED
 * (a FIN: nothing to send again); one that closed with data unread is RESET
 * (what it acknowledged may be lost: the sender rewinds); a send completes
 * only once the peer acknowledged every byte; connect to a closed port fails
 * with a reason and no entry content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sinks/sinks_int.h"

static int listener(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void target(struct sinks_target *t, unsigned port)
{
	char url[64];

	snprintf(url, sizeof url, "tcp://127.0.0.1:%u", port);
	assert_int_equal(sinks_target_parse(url, t), PV_OK);
}

/* Until the peer state is not OPEN (the close takes a moment to arrive). */
static enum sinks_peer wait_peer(struct sinks_conn *c)
{
	for (int i = 0; i < 2000; i++) {
		enum sinks_peer p = sinks_conn_peer(c);

		if (p != SINKS_PEER_OPEN)
			return p;
		(void)poll(NULL, 0, 1);
	}
	return SINKS_PEER_OPEN;
}

static void test_clean_close_and_reset(void **state)
{
	struct sinks_target t;
	struct sinks_conn c;
	char err[256] = "", buf[64];
	unsigned port;
	int lfd = listener(&port), peer;

	(void)state;
	target(&t, port);
	sinks_conn_init(&c);
	assert_int_equal(sinks_conn_open(&c, &t, "", 2000, err, sizeof err), PV_OK);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(sinks_conn_peer(&c), SINKS_PEER_OPEN);
	assert_int_equal(sinks_conn_send(&c, "5 hello", 7, 2000, err, sizeof err), PV_OK);
	assert_int_equal(recv(peer, buf, sizeof buf, 0), 7);
	close(peer);                                   /* read everything: a FIN */
	assert_int_equal(wait_peer(&c), SINKS_PEER_CLOSED);
	assert_false(c.reset);
	sinks_conn_close(&c);

	assert_int_equal(sinks_conn_open(&c, &t, "", 2000, err, sizeof err), PV_OK);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	/* acknowledged by the peer's TCP, never read by its process */
	assert_int_equal(sinks_conn_send(&c, "5 hello", 7, 2000, err, sizeof err), PV_OK);
	close(peer);                                   /* unread data: a reset */
	assert_int_equal(wait_peer(&c), SINKS_PEER_RESET);
	assert_true(c.reset);
	assert_false(sinks_conn_alive(&c));
	assert_int_equal(sinks_conn_send(&c, "5 again", 7, 2000, err, sizeof err), PV_E_IO);
	sinks_conn_close(&c);
	close(lfd);
}

static void test_connect_refused(void **state)
{
	struct sinks_target t;
	struct sinks_conn c;
	char err[256] = "";
	unsigned port;
	int lfd = listener(&port);

	(void)state;
	close(lfd);                                    /* nothing listens there now */
	target(&t, port);
	sinks_conn_init(&c);
	assert_int_equal(sinks_conn_open(&c, &t, "", 500, err, sizeof err), PV_E_IO);
	assert_non_null(strstr(err, "connect 127.0.0.1:"));
	assert_int_equal(c.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_close_and_reset),
		cmocka_unit_test(test_connect_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
