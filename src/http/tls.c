/*
 * tls: the server's certificate and key, swappable while it serves
 * (SIGHUP, POST /v1/sys/tls/reload; docs/governance.md "Management plane
 * and TLS certificates").
 *
 * MHD is started with MHD_OPTION_HTTPS_CERT_CALLBACK instead of a
 * certificate in memory: GnuTLS asks cert_retrieve() for the certificate and
 * key at every handshake (gnutls_certificate_set_retrieve_function2), so a
 * reload changes what new handshakes get while every established connection,
 * kept alive or mid-request, keeps its session untouched.
 *
 * State: one struct http_tls per certificate (a server and its sibling
 * listeners share the primary's). It holds generations, newest first; `cur`
 * is the one handed out. A reload builds a whole new generation (chain +
 * key, checked to belong together) and publishes it with one atomic store;
 * a bad pair never gets that far, so the old one stays. Old generations are
 * kept until the store is freed: GnuTLS keeps pointers to the pcert and key
 * for the life of a session that used them, and we cannot tell when the last
 * such session ends. A generation is a few KB and a reload happens every
 * few weeks (ACME), so the bound is HTTP_TLS_GENERATIONS_MAX reloads per run;
 * past it a reload is refused (restart to reset) rather than leaking without
 * bound.
 *
 * The callback has no user pointer, so a registry maps a listening port to
 * its store: with one store registered (every phivault serve: the admin
 * listener shares the data listener's) it is taken without a system call;
 * with several (unit tests) the connection's local port is read with
 * getsockname on the fd GnuTLS was given (MHD: gnutls_transport_set_int).
 *
 * The private key is read into memory, imported into a gnutls_privkey_t and
 * the file bytes wiped at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "http/http_int.h"

#define TLS_FILE_MAX (1u << 20)
#define TLS_CHAIN_MAX 8
#define TLS_REGISTRY_MAX 16

struct tls_gen {
	struct tls_gen *older;
	gnutls_pcert_st pcert[TLS_CHAIN_MAX];
	unsigned npcert;
	gnutls_privkey_t key;
	struct http_tls_info info;
};

struct http_tls {
	pthread_mutex_t mu;          /* reloads, gens list; never taken by a handshake */
	_Atomic(struct tls_gen *) cur;
	struct tls_gen *gens;        /* newest first, cur among them */
	unsigned ngens;
	char cert_path[PATH_MAX];
	char key_path[PATH_MAX];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	unsigned port;
	struct http_tls *tls;
} reg[TLS_REGISTRY_MAX];
static unsigned nreg;

void
http_tls_register(struct http_tls *t, unsigned port)
{
	pthread_mutex_lock(&reg_mu);
	if (nreg < TLS_REGISTRY_MAX) {
		reg[nreg].port = port;
		reg[nreg].tls = t;
		nreg++;
	} else {
		log_error("http: too many TLS listeners in one process");
	}
	pthread_mutex_unlock(&reg_mu);
}

void
http_tls_port_set(struct http_tls *t, unsigned port)
{
	unsigned i;

	pthread_mutex_lock(&reg_mu);
	for (i = 0; i < nreg; i++)
		if (reg[i].tls == t && reg[i].port == 0) {
			reg[i].port = port;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
}

/* every entry of t (all) or one entry of t with that port */
static void
unregister(struct http_tls *t, bool all, unsigned port)
{
	unsigned i = 0;

	pthread_mutex_lock(&reg_mu);
	while (i < nreg) {
		if (reg[i].tls == t && (all || reg[i].port == port)) {
			reg[i] = reg[nreg - 1];
			nreg--;
			if (!all)
				break;
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

void
http_tls_unregister(struct http_tls *t, unsigned port)
{
	unregister(t, false, port);
}

static unsigned
local_port(gnutls_session_t s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = gnutls_transport_get_int(s);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static struct http_tls *
tls_of_session(gnutls_session_t s)
{
	struct http_tls *t = NULL;
	unsigned i, port = 0;
	bool one = true;

	pthread_mutex_lock(&reg_mu);
	for (i = 1; i < nreg; i++)
		if (reg[i].tls != reg[0].tls)
			one = false;
	if (nreg > 0 && one) {
		t = reg[0].tls;
		pthread_mutex_unlock(&reg_mu);
		return t;
	}
	pthread_mutex_unlock(&reg_mu);
	port = local_port(s);
	pthread_mutex_lock(&reg_mu);
	for (i = 0; i < nreg && t == NULL; i++)
		if (reg[i].port == port)
			t = reg[i].tls;
	pthread_mutex_unlock(&reg_mu);
	return t;
}

/* gnutls_certificate_retrieve_function2: the current generation. GnuTLS
 * neither copies nor frees what it is given (the pointers must live as long
 * as the session: see the header comment). */
int
http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct http_tls *t;
	struct tls_gen *g;

	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	t = tls_of_session(session);
	g = t != NULL ? atomic_load(&t->cur) : NULL;
	if (g == NULL)
		return -1;
	*pcert = g->pcert;
	*pcert_length = g->npcert;
	*privkey = g->key;
	return 0;
}

static void
gen_free(struct tls_gen *g)
{
	unsigned i;

	if (g == NULL)
		return;
	for (i = 0; i < g->npcert; i++)
		gnutls_pcert_deinit(&g->pcert[i]);
	if (g->key != NULL)
		gnutls_privkey_deinit(g->key);
	free(g);
}

static void
hex_of(const uint8_t *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* DER of a public key, for comparing the certificate's with the key's. */
static int
pub_der(gnutls_pubkey_t pk, gnutls_datum_t *out)
{
	return gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, out);
}

/* Fill info from the leaf certificate. */
static enum pv_rc
describe(struct tls_gen *g)
{
	struct http_tls_info *in = &g->info;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { NULL, 0 };
	uint8_t fp[32];
	size_t fplen = sizeof(fp);
	unsigned bits = 0;
	int alg, sig;
	time_t t;
	enum pv_rc rc = PV_E_INVALID;

	if (gnutls_x509_crt_init(&crt) < 0)
		return PV_E_NOMEM;
	if (gnutls_x509_crt_import(crt, &g->pcert[0].cert, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if (gnutls_x509_crt_get_dn3(crt, &d, 0) >= 0 && d.data != NULL) {
		util_strlcpy(in->subject, (const char *)d.data, sizeof(in->subject));
		gnutls_free(d.data);
		d.data = NULL;
	}
	if (gnutls_x509_crt_get_issuer_dn3(crt, &d, 0) >= 0 && d.data != NULL) {
		util_strlcpy(in->issuer, (const char *)d.data, sizeof(in->issuer));
		gnutls_free(d.data);
		d.data = NULL;
	}
	in->self_signed = strcmp(in->subject, in->issuer) == 0;
	if ((t = gnutls_x509_crt_get_expiration_time(crt)) == (time_t)-1)
		goto out;
	in->not_after_ms = (int64_t)t * 1000;
	if ((t = gnutls_x509_crt_get_activation_time(crt)) == (time_t)-1)
		goto out;
	in->not_before_ms = (int64_t)t * 1000;
	alg = gnutls_x509_crt_get_pk_algorithm(crt, &bits);
	in->key_bits = (int)bits;
	switch (alg) {
	case GNUTLS_PK_RSA:
		util_strlcpy(in->key_type, "RSA", sizeof(in->key_type));
		break;
	case GNUTLS_PK_EC:
		util_strlcpy(in->key_type, "EC", sizeof(in->key_type));
		break;
	case GNUTLS_PK_EDDSA_ED25519:
		util_strlcpy(in->key_type, "Ed25519", sizeof(in->key_type));
		break;
	default:
		util_strlcpy(in->key_type, "other", sizeof(in->key_type));
		break;
	}
	sig = gnutls_x509_crt_get_signature_algorithm(crt);
	util_strlcpy(in->sig_alg, sig >= 0 && gnutls_sign_get_name(sig) != NULL ?
	    gnutls_sign_get_name(sig) : "unknown", sizeof(in->sig_alg));
	in->sig_sha1 = sig == GNUTLS_SIGN_RSA_SHA1 || sig == GNUTLS_SIGN_DSA_SHA1 ||
	    sig == GNUTLS_SIGN_ECDSA_SHA1;
	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fplen) < 0 ||
	    fplen != sizeof(fp))
		goto out;
	hex_of(fp, sizeof(fp), in->fingerprint);
	rc = PV_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return rc;
}

/* How many of the n certificates of a file are the chain to send: up to
 * and with the first self-issued one (subject = issuer: a root, or the dev
 * certificate, whose file holds its predecessor after a renewal, see
 * cli/tls_wire.c); nothing after a root can be an issuer a client needs. */
static unsigned
chain_length(const gnutls_pcert_st *pc, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		gnutls_x509_crt_t crt = NULL;
		bool root = false;

		if (gnutls_x509_crt_init(&crt) < 0)
			return n;
		if (gnutls_x509_crt_import(crt, &pc[i].cert, GNUTLS_X509_FMT_DER) >= 0)
			root = gnutls_x509_crt_check_issuer(crt, crt) == 1;
		gnutls_x509_crt_deinit(crt);
		if (root)
			return i + 1;
	}
	return n;
}

/* Read and check one generation from the files. msg names what is wrong
 * (no file contents, no key bytes). */
static enum pv_rc
gen_load(const char *cert_path, const char *key_path, struct tls_gen **out, char *msg,
    size_t msglen)
{
	uint8_t *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	gnutls_datum_t cd, kd, a = { NULL, 0 }, b = { NULL, 0 };
	gnutls_pubkey_t kpub = NULL;
	struct tls_gen *g;
	unsigned n = TLS_CHAIN_MAX;
	enum pv_rc rc;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return PV_E_NOMEM;
	rc = util_file_read(cert_path, TLS_FILE_MAX, &cert, &cert_len);
	if (rc != PV_OK) {
		snprintf(msg, msglen, "cannot read the certificate file tls.cert (%s)",
		    pv_rc_name(rc));
		goto out;
	}
	rc = util_file_read(key_path, TLS_FILE_MAX, &key, &key_len);
	if (rc != PV_OK) {
		snprintf(msg, msglen, "cannot read the key file tls.key (%s)", pv_rc_name(rc));
		goto out;
	}
	rc = PV_E_TLS_REFUSED;
	cd.data = cert;
	cd.size = (unsigned)cert_len;
	if (gnutls_pcert_list_import_x509_raw(g->pcert, &n, &cd, GNUTLS_X509_FMT_PEM, 0) < 0 ||
	    n == 0) {
		snprintf(msg, msglen, "tls.cert holds no PEM certificate GnuTLS can read "
		    "(or more than %d in the chain)", TLS_CHAIN_MAX);
		goto out;
	}
	g->npcert = chain_length(g->pcert, n);
	for (unsigned i = g->npcert; i < n; i++)
		gnutls_pcert_deinit(&g->pcert[i]);
	kd.data = key;
	kd.size = (unsigned)key_len;
	if (gnutls_privkey_init(&g->key) < 0) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (gnutls_privkey_import_x509_raw(g->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		snprintf(msg, msglen, "tls.key holds no unencrypted PEM private key GnuTLS can read");
		goto out;
	}
	if (gnutls_pubkey_init(&kpub) < 0 ||
	    gnutls_pubkey_import_privkey(kpub, g->key, 0, 0) < 0 ||
	    pub_der(kpub, &a) < 0 || pub_der(g->pcert[0].pubkey, &b) < 0 ||
	    a.size != b.size || memcmp(a.data, b.data, a.size) != 0) {
		snprintf(msg, msglen, "tls.key does not belong to the certificate in tls.cert");
		goto out;
	}
	if ((rc = describe(g)) != PV_OK) {
		snprintf(msg, msglen, "the certificate in tls.cert could not be read");
		rc = PV_E_TLS_REFUSED;
		goto out;
	}
	g->info.loaded_at_ms = util_now_ms();
	*out = g;
	g = NULL;
	rc = PV_OK;
out:
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (kpub != NULL)
		gnutls_pubkey_deinit(kpub);
	if (key != NULL) {
		explicit_bzero(key, key_len);
		free(key);
	}
	free(cert);
	gen_free(g);
	return rc;
}

enum pv_rc
http_tls_new(const char *cert_path, const char *key_path, struct http_tls **out, char *msg,
    size_t msglen)
{
	struct http_tls *t;
	struct tls_gen *g = NULL;
	enum pv_rc rc;

	if (strlen(cert_path) >= PATH_MAX || strlen(key_path) >= PATH_MAX)
		return PV_E_INVALID;
	if ((rc = gen_load(cert_path, key_path, &g, msg, msglen)) != PV_OK)
		return rc;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		gen_free(g);
		return PV_E_NOMEM;
	}
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		gen_free(g);
		free(t);
		return PV_E_NOMEM;
	}
	util_strlcpy(t->cert_path, cert_path, sizeof(t->cert_path));
	util_strlcpy(t->key_path, key_path, sizeof(t->key_path));
	g->info.generation = 1;
	t->gens = g;
	t->ngens = 1;
	atomic_init(&t->cur, g);
	*out = t;
	return PV_OK;
}

enum pv_rc
http_tls_reload_store(struct http_tls *t, struct http_tls_info *info, char *msg, size_t msglen)
{
	struct tls_gen *g = NULL;
	enum pv_rc rc;

	pthread_mutex_lock(&t->mu);
	if (t->ngens >= HTTP_TLS_GENERATIONS_MAX) {
		snprintf(msg, msglen, "%d reloads since start: restart phivault to reload again",
		    HTTP_TLS_GENERATIONS_MAX - 1);
		rc = PV_E_TLS_REFUSED;
		goto out;
	}
	if ((rc = gen_load(t->cert_path, t->key_path, &g, msg, msglen)) != PV_OK)
		goto out;
	g->info.generation = t->gens->info.generation + 1;
	g->older = t->gens;
	t->gens = g;
	t->ngens++;
	atomic_store(&t->cur, g);   /* the next handshake gets it */
	if (info != NULL)
		*info = g->info;
out:
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void
http_tls_current(struct http_tls *t, struct http_tls_info *info)
{
	struct tls_gen *g = atomic_load(&t->cur);

	*info = g->info;
}

void
http_tls_free(struct http_tls *t)
{
	struct tls_gen *g, *next;

	if (t == NULL)
		return;
	unregister(t, true, 0);
	for (g = t->gens; g != NULL; g = next) {
		next = g->older;
		gen_free(g);
	}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* ---- the public surface (http.h) ---- */

enum pv_rc
http_server_tls_reload(struct http_server *srv, struct http_tls_info *info, char *msg,
    size_t msglen)
{
	if (srv == NULL || srv->tls == NULL) {
		snprintf(msg, msglen, "the server has not started");
		return PV_E_STATE;
	}
	return http_tls_reload_store(srv->tls, info, msg, msglen);
}

enum pv_rc
http_server_tls_info(struct http_server *srv, struct http_tls_info *info)
{
	if (srv == NULL || srv->tls == NULL)
		return PV_E_STATE;
	http_tls_current(srv->tls, info);
	return PV_OK;
}

enum pv_rc
http_tls_file_info(const char *cert_path, const char *key_path, struct http_tls_info *info,
    char *msg, size_t msglen)
{
	struct tls_gen *g = NULL;
	enum pv_rc rc = gen_load(cert_path, key_path, &g, msg, msglen);

	if (rc != PV_OK)
		return rc;
	*info = g->info;
	gen_free(g);
	return PV_OK;
}

const char *
http_tls_weakness(const struct http_tls_info *in)
{
	if (strcmp(in->key_type, "RSA") == 0 && in->key_bits < 2048)
		return "RSA key below 2048 bits";
	if (strcmp(in->key_type, "EC") == 0 && in->key_bits < 256)
		return "EC key below 256 bits";
	if (strcmp(in->key_type, "other") == 0)
		return "key type other than RSA, EC or Ed25519";
	if (in->sig_sha1)
		return "SHA-1 signature";
	return NULL;
}
