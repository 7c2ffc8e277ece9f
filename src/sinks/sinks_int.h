/*
 * sinks internals: the formatters (format.c) and transports (net.c), for the
 * module's own files and its unit tests. Not API.
 */
#ifndef PV_SINKS_INT_H
#define PV_SINKS_INT_H

#include <jansson.h>

#include "sinks/sinks.h"
#include "util/util.h"

/*
 * RFC 5424 messages of one entry, each framed by octet counting (RFC 6587
 * section 3.4.1, RFC 5425 section 4.3: "LEN SP MSG"), appended to out.
 * Each message is at most max bytes (MSG, without the "LEN SP" frame). An
 * entry that does not fit is split by field into parts carrying the same seq
 * and part="k/n"; a field longer than a part can hold is left out and named
 * in truncated="a,b". A value is never cut. Returns the number of messages.
 */
size_t sinks_format_syslog(const struct store_audit_row *r, const char *host, size_t max,
    struct util_buf *out);
/* The same with a CEF:0 record as the MSG (APP-NAME phivault, MSGID CEF):
 * extensions split the same way (cs5=part k/n, cs6=the fields left out). */
size_t sinks_format_cef(const struct store_audit_row *r, const char *host, size_t max,
    struct util_buf *out);
/* One OCSF 1.1 event as a JSON line ("\n"-terminated) appended to out:
 * Authentication (3002) for auth.*, Detection Finding (2004) for alert.*,
 * API Activity (6003) for everything else. Returns 1, or 0 on OOM. */
size_t sinks_format_ocsf(const struct store_audit_row *r, struct util_buf *out);
/* The same line built with jansson for every row: what sinks_format_ocsf
 * writes for a row its direct writer does not take (an escape, a non-ASCII
 * byte, a detail jansson would rewrite), and the reference its tests
 * compare the direct writer with. */
size_t sinks_format_ocsf_jansson(const struct store_audit_row *r, struct util_buf *out);
/* The entry as the JSON object of `audit export --format jsonl` (webhook). */
json_t *sinks_entry_json(const struct store_audit_row *r);
/* The OCSF class of an action: 3002, 2004 or 6003. */
int sinks_ocsf_class(const char *action);

/* Tests: over the set's life, the waits of its senders that a wake-up
 * ended (not a timeout), and the batches they sent. A sender is woken only
 * when it waits for the head a commit reached (idle: one entry; lingering:
 * a full batch; backing off: never). */
struct sinks_counts {
	uint64_t woken;
	uint64_t batches;
};
void sinks_counts_get(struct sinks *s, struct sinks_counts *out);

/* ---- targets and transports (net.c) ---- */
enum sinks_transport { SINKS_TCP, SINKS_TLS, SINKS_FILE, SINKS_HTTP };
struct sinks_target {
	enum sinks_transport transport;
	char host[256];
	char port[8];
	char path[4096];              /* file path or webhook URL */
};
/* "tcp://H:P" / "tls://H:P" (also "[v6]:P"); PV_E_INVALID otherwise. */
enum pv_rc sinks_target_parse(const char *url, struct sinks_target *t);

struct sinks_conn {
	int fd;                       /* -1: not connected */
	void *tls;                    /* gnutls_session_t or NULL */
	void *cred;                   /* gnutls_certificate_credentials_t or NULL */
	bool reset;                   /* the peer reset the connection (sticky until close) */
};
void sinks_conn_init(struct sinks_conn *c);
/* Connect (and for TLS: handshake, verifying the receiver's certificate
 * against ca_file, or the system store when "", and its name against host),
 * each step bounded by timeout_ms. err: a short reason, no entry content. */
enum pv_rc sinks_conn_open(struct sinks_conn *c, const struct sinks_target *t,
    const char *ca_file, int timeout_ms, char *err, size_t errlen);
/* Write all of buf, then wait (bounded) until the peer's TCP acknowledged
 * every byte (SIOCOUTQ = 0). Any failure: PV_E_IO with err. */
enum pv_rc sinks_conn_send(struct sinks_conn *c, const void *buf, size_t n, int timeout_ms,
    char *err, size_t errlen);
/*
 * What the peer did (a receiver never sends). CLOSED: it closed after
 * reading everything it was sent (a FIN, or a TLS close_notify). RESET: the
 * connection was reset, as Linux does when a socket is closed with unread
 * data: bytes its TCP acknowledged may never have reached the receiver.
 * RESET also sets c->reset.
 */
enum sinks_peer { SINKS_PEER_OPEN, SINKS_PEER_CLOSED, SINKS_PEER_RESET };
enum sinks_peer sinks_conn_peer(struct sinks_conn *c);
bool sinks_conn_alive(struct sinks_conn *c);
void sinks_conn_close(struct sinks_conn *c);

#endif /* PV_SINKS_INT_H */
