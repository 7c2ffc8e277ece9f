/*
 * net.c: sink targets and the stream transports (tcp://, tls://).
 *
 * Every step is bounded by the sink's timeout: connect is non-blocking with
 * poll, reads and writes have SO_SNDTIMEO / SO_RCVTIMEO, the TLS handshake
 * gnutls_handshake_set_timeout. A receiver that accepts but never reads
 * therefore costs its own sender thread at most the timeout per attempt and
 * nothing else.
 *
 * "Accepted" for a stream (the moment the cursor may move): every byte was
 * written and the peer's TCP acknowledged all of it (SIOCOUTQ reports 0
 * unacknowledged bytes). Bytes the peer's kernel acknowledged and its
 * process never read (it was killed or closed with unread data) cannot be
 * seen from here: docs/internals/sinks.md "Delivery" says what that means.
 *
 * TLS (RFC 5425) with GnuTLS, TLS 1.2 or 1.3 only, the receiver's
 * certificate verified against [sinks] ca_file (or the system trust store)
 * and its name (DNS name or IP address SAN) against HOST.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "sinks/sinks_int.h"

#define ACK_POLL_MS 2

enum pv_rc sinks_target_parse(const char *url, struct sinks_target *t)
{
	const char *hp, *colon, *port;
	size_t n;

	memset(t, 0, sizeof *t);
	if (util_str_has_prefix(url, "tcp://"))
		t->transport = SINKS_TCP;
	else if (util_str_has_prefix(url, "tls://"))
		t->transport = SINKS_TLS;
	else
		return PV_E_INVALID;
	hp = url + 6;
	if (hp[0] == '[') {
		const char *end = strchr(hp, ']');

		if (!end || end[1] != ':')
			return PV_E_INVALID;
		n = (size_t)(end - hp - 1);
		if (n == 0 || n >= sizeof t->host)
			return PV_E_INVALID;
		memcpy(t->host, hp + 1, n);
		port = end + 2;
	} else {
		colon = strrchr(hp, ':');
		if (!colon)
			return PV_E_INVALID;
		n = (size_t)(colon - hp);
		if (n == 0 || n >= sizeof t->host)
			return PV_E_INVALID;
		memcpy(t->host, hp, n);
		port = colon + 1;
	}
	n = strlen(port);
	if (n == 0 || n >= sizeof t->port || strspn(port, "0123456789") != n)
		return PV_E_INVALID;
	memcpy(t->port, port, n + 1);
	return PV_OK;
}

void sinks_conn_init(struct sinks_conn *c)
{
	c->fd = -1;
	c->tls = NULL;
	c->cred = NULL;
	c->reset = false;
}

void sinks_conn_close(struct sinks_conn *c)
{
	if (c->tls) {
		gnutls_deinit((gnutls_session_t)c->tls);
		c->tls = NULL;
	}
	if (c->cred) {
		gnutls_certificate_free_credentials((gnutls_certificate_credentials_t)c->cred);
		c->cred = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reset = false;
}

static void set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err_out)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    ai->ai_protocol), soerr = 0, one = 1;
	socklen_t sl = sizeof soerr;
	struct pollfd p;

	if (fd < 0) {
		*err_out = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			*err_out = errno;
			goto fail;
		}
		p.fd = fd;
		p.events = POLLOUT;
		p.revents = 0;
		if (poll(&p, 1, timeout_ms) != 1) {
			*err_out = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			*err_out = soerr ? soerr : errno;
			goto fail;
		}
	}
	/* blocking from here on, every call bounded by the socket timeouts */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		*err_out = errno;
		goto fail;
	}
	set_timeouts(fd, timeout_ms);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
fail:
	close(fd);
	return -1;
}

static enum pv_rc tls_start(struct sinks_conn *c, const struct sinks_target *t,
    const char *ca_file, int timeout_ms, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t s = NULL;
	int r;

	if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "tls: out of memory");
		return PV_E_NOMEM;
	}
	c->cred = cred;
	r = ca_file && ca_file[0] ?
	    gnutls_certificate_set_x509_trust_file(cred, ca_file, GNUTLS_X509_FMT_PEM) :
	    gnutls_certificate_set_x509_system_trust(cred);
	if (r <= 0) {
		snprintf(err, errlen, "tls: no CA certificate loaded from %s",
		    ca_file && ca_file[0] ? "sinks.ca_file" : "the system trust store");
		return PV_E_CONFIG;
	}
	if (gnutls_init(&s, GNUTLS_CLIENT) != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "tls: out of memory");
		return PV_E_NOMEM;
	}
	c->tls = s;
	if (gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    NULL) != GNUTLS_E_SUCCESS ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) != GNUTLS_E_SUCCESS) {
		snprintf(err, errlen, "tls: cannot set up the session");
		return PV_E_INTERNAL;
	}
	/* SNI only for a DNS name (RFC 6066 section 3: not for an address) */
	if (strspn(t->host, "0123456789.") != strlen(t->host) && !strchr(t->host, ':'))
		(void)gnutls_server_name_set(s, GNUTLS_NAME_DNS, t->host, strlen(t->host));
	gnutls_session_set_verify_cert(s, t->host, 0);
	gnutls_transport_set_int(s, c->fd);
	gnutls_handshake_set_timeout(s, (unsigned)timeout_ms);
	do {
		r = gnutls_handshake(s);
	} while (r < 0 && gnutls_error_is_fatal(r) == 0 && r != GNUTLS_E_AGAIN);
	if (r < 0) {
		if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			unsigned status = gnutls_session_get_verify_cert_status(s);
			gnutls_datum_t out = { NULL, 0 };

			if (gnutls_certificate_verification_status_print(status,
			    GNUTLS_CRT_X509, &out, 0) == GNUTLS_E_SUCCESS && out.data) {
				snprintf(err, errlen, "tls: certificate of %s refused: %s", t->host,
				    (const char *)out.data);
				gnutls_free(out.data);
			} else {
				snprintf(err, errlen, "tls: certificate of %s refused", t->host);
			}
		} else {
			snprintf(err, errlen, "tls: handshake with %s:%s failed: %s", t->host,
			    t->port, gnutls_strerror(r));
		}
		return PV_E_IO;
	}
	return PV_OK;
}

enum pv_rc sinks_conn_open(struct sinks_conn *c, const struct sinks_target *t,
    const char *ca_file, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int r, e = 0;
	enum pv_rc rc;

	sinks_conn_close(c);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(t->host, t->port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "resolve %s: %s", t->host, gai_strerror(r));
		return PV_E_IO;
	}
	for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
		c->fd = connect_one(ai, timeout_ms, &e);
	freeaddrinfo(res);
	if (c->fd < 0) {
		snprintf(err, errlen, "connect %s:%s: %s", t->host, t->port, strerror(e));
		return PV_E_IO;
	}
	if (t->transport == SINKS_TLS &&
	    (rc = tls_start(c, t, ca_file, timeout_ms, err, errlen)) != PV_OK) {
		sinks_conn_close(c);
		return rc;
	}
	return PV_OK;
}

/* Until the peer acknowledged every byte sent (bounded by timeout_ms). */
static enum pv_rc wait_acked(struct sinks_conn *c, int timeout_ms, char *err, size_t errlen)
{
	int64_t end = util_mono_ms() + timeout_ms;
	int outq = 0;

	for (;;) {
		if (ioctl(c->fd, SIOCOUTQ, &outq) != 0) {
			snprintf(err, errlen, "send: %s", strerror(errno));
			return PV_E_IO;
		}
		if (outq == 0)
			return PV_OK;
		if (!sinks_conn_alive(c)) {
			snprintf(err, errlen, "send: the receiver %s the connection",
			    c->reset ? "reset" : "closed");
			return PV_E_IO;
		}
		if (util_mono_ms() >= end) {
			snprintf(err, errlen, "send: the receiver did not acknowledge within %d ms",
			    timeout_ms);
			return PV_E_IO;
		}
		(void)poll(NULL, 0, ACK_POLL_MS);
	}
}

enum pv_rc sinks_conn_send(struct sinks_conn *c, const void *buf, size_t n, int timeout_ms,
    char *err, size_t errlen)
{
	const char *p = buf;

	if (c->fd < 0) {
		snprintf(err, errlen, "send: not connected");
		return PV_E_IO;
	}
	while (n > 0) {
		ssize_t w;

		if (c->tls) {
			w = gnutls_record_send((gnutls_session_t)c->tls, p, n);
			if (w == GNUTLS_E_INTERRUPTED)
				continue;
			if (w < 0) {
				if (errno == ECONNRESET || errno == EPIPE)
					c->reset = true;
				snprintf(err, errlen, "send: %s", w == GNUTLS_E_AGAIN ?
				    "timed out" : gnutls_strerror((int)w));
				return PV_E_IO;
			}
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				if (errno == ECONNRESET || errno == EPIPE)
					c->reset = true;
				snprintf(err, errlen, "send: %s", errno == EAGAIN ||
				    errno == EWOULDBLOCK ? "timed out" : strerror(errno));
				return PV_E_IO;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return wait_acked(c, timeout_ms, err, errlen);
}

static enum sinks_peer peer_reset(struct sinks_conn *c)
{
	c->reset = true;
	return SINKS_PEER_RESET;
}

enum sinks_peer sinks_conn_peer(struct sinks_conn *c)
{
	for (int i = 0; i < 16; i++) {
		struct pollfd p = { c->fd, POLLIN | POLLRDHUP, 0 };
		char junk[512];
		int fl, soerr = 0;
		socklen_t sl = sizeof soerr;
		ssize_t r;

		if (c->reset)
			return SINKS_PEER_RESET;
		if (c->fd < 0 || poll(&p, 1, 0) < 0)
			return SINKS_PEER_CLOSED;
		if (p.revents & POLLERR) {
			(void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			return peer_reset(c);
		}
		if (!(p.revents & (POLLIN | POLLRDHUP | POLLHUP)))
			return SINKS_PEER_OPEN;
		if (!c->tls) {
			/* plain: readable means a FIN (0) or a reset; data is dropped */
			r = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
			if (r < 0 && (errno == ECONNRESET || errno == EPIPE))
				return peer_reset(c);
			if (r <= 0)
				return r == 0 || (errno != EAGAIN && errno != EINTR) ?
				    SINKS_PEER_CLOSED : SINKS_PEER_OPEN;
			continue;   /* a receiver that talks: ignored */
		}
		/* TLS 1.3 servers send session tickets after the handshake: let GnuTLS
		 * take them without waiting for more (non-blocking for this read) */
		fl = fcntl(c->fd, F_GETFL);
		if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
			return SINKS_PEER_CLOSED;
		errno = 0;
		r = gnutls_record_recv((gnutls_session_t)c->tls, junk, sizeof junk);
		(void)fcntl(c->fd, F_SETFL, fl);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return SINKS_PEER_OPEN;
		if (r == 0)
			return SINKS_PEER_CLOSED;              /* close_notify */
		if (r < 0 && r != GNUTLS_E_REHANDSHAKE)
			return errno == ECONNRESET || errno == EPIPE ? peer_reset(c) :
			    SINKS_PEER_CLOSED;
		/* application data from a receiver: ignored */
	}
	return SINKS_PEER_OPEN;
}

bool sinks_conn_alive(struct sinks_conn *c)
{
	return sinks_conn_peer(c) == SINKS_PEER_OPEN;
}
