/*
 * oidc.c: sign-in through an OpenID provider (OpenID Connect Core 1.0,
 * authorization code flow with PKCE S256, RFC 7636) and OpenID Connect
 * Back-Channel Logout 1.0, as operations apart from HTTP (routes_oidc.c is
 * the adapter). docs/identity.md "Sign in with your identity provider",
 * docs/internals/authn.md "OIDC".
 *
 * The flow and its states (every arrow is one writer transaction):
 *
 *   begin      state S (random), nonce N, PKCE verifier V; item "state"
 *              key SHA-256(S) = {N, V, cli_redirect, cli_challenge,
 *              bind = SHA-256(browser cookie)} for 10 min -> 302 to the IdP
 *   callback   take "state" (single use; unknown = replayed or forged) ->
 *              the browser's cookie matches bind (console flows) -> token
 *              request with V (client_secret_basic) -> ID token: signature
 *              (RS256/ES256 from the JWKS, refreshed once on an unknown kid,
 *              at most every AUTHN_OIDC_JWKS_REFRESH_MS), iss, aud/azp,
 *              exp/iat/nbf +- [oidc] clock_skew_s, nonce = N and never seen
 *              before ("seen" item) -> user of (iss, sub) (created if
 *              create_users = on) -> group memberships synced -> item
 *              "grant" key SHA-256(code) for 60 s, with auth.oidc.login
 *              (allowed, reason verified) in the same transaction -> 302 to
 *              the console (#oidc_code=) or the CLI's loopback (?code=)
 *   exchange   take "grant" (single use; a CLI grant needs the verifier of
 *              its cli_challenge) -> a session (MFA from amr when
 *              mfa_from_amr = on), or phivault's own MFA step (pvm_), or a
 *              restricted session owing MFA enrolment; auth.login reason
 *              oidc / oidc_mfa / mfa_required / restricted
 *   logout     logout token verified like an ID token (no nonce, events,
 *              jti never seen) -> every open session of its sid, or of the
 *              user of its sub, ended in one transaction with
 *              auth.oidc.logout; this node's cache forgets them at once.
 *
 * Every refusal is audited (auth.oidc.login / auth.oidc.logout denied) with
 * a stable reason; the audit detail carries the issuer and subject, never a
 * token, code, nonce or state. Nothing here logs a claim value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

#define STATE_TTL_MS (10 * 60 * 1000)
#define GRANT_TTL_MS (60 * 1000)
#define HTTP_MAX (256 * 1024)
#define LOGOUT_MAX_AGE_S 300
#define MAP_MAX 64

struct oidc_map {
	char idp[STORE_ROLE_MAX * 2];
	char group[STORE_ROLE_MAX];
};

struct authn_oidc {
	struct authn_service *s;
	const struct pv_config *cfg;
	struct pv_secret *client_secret;
	char redirect_url[600];
	char console_url[300];
	pthread_mutex_t mu;                  /* guards the two caches below */
	json_t *discovery;                   /* the issuer's metadata */
	json_t *jwks;
	int64_t jwks_mono_ms;                /* when the JWKS was fetched */
	size_t nmap;
	struct oidc_map map[MAP_MAX];
	authn_oidc_group_gate_fn gate;
	void *gate_arg;
};

static enum pv_rc
fail(struct authn_result *ar, enum pv_rc rc, const char *msg)
{
	util_strlcpy(ar->message, msg != NULL ? msg : "", sizeof(ar->message));
	return rc;
}

static void
sha_hex(const char *s, char out[STORE_OIDC_KEY_MAX])
{
	uint8_t h[CRYPTO_SHA256_LEN];

	if (crypto_sha256(s, strlen(s), h) != PV_OK)
		memset(h, 0, sizeof(h));
	util_hex_encode(h, sizeof(h), out);
}

/* 32 random bytes, base64url (43 characters). */
static enum pv_rc
random_b64(char out[64])
{
	uint8_t r[32];
	enum pv_rc rc;

	if ((rc = crypto_random(r, sizeof(r))) == PV_OK)
		rc = authn_wa_b64url_encode(r, sizeof(r), out, 64);
	crypto_wipe(r, sizeof(r));
	return rc;
}

/* RFC 7636 §4.2: BASE64URL(SHA256(ASCII(verifier))). */
static enum pv_rc
s256(const char *verifier, char out[64])
{
	uint8_t h[CRYPTO_SHA256_LEN];
	enum pv_rc rc;

	if ((rc = crypto_sha256(verifier, strlen(verifier), h)) != PV_OK)
		return rc;
	return authn_wa_b64url_encode(h, sizeof(h), out, 64);
}

/* ---- setup ---------------------------------------------------------- */

static enum pv_rc
parse_map(struct authn_oidc *o, const char *text, char *err, size_t errlen)
{
	const char *q = text;

	while (*q != '\0') {
		const char *end = strchr(q, ','), *eq;
		size_t len = end != NULL ? (size_t)(end - q) : strlen(q), a, b;
		const char *v;

		while (len > 0 && (*q == ' ' || *q == '\t')) {
			q++;
			len--;
		}
		eq = memchr(q, '=', len);
		if (eq == NULL || o->nmap == MAP_MAX) {
			snprintf(err, errlen, "oidc.group_map: more than %d items or an item without '='",
			    MAP_MAX);
			return PV_E_CONFIG;
		}
		a = (size_t)(eq - q);
		while (a > 0 && (q[a - 1] == ' ' || q[a - 1] == '\t'))
			a--;
		v = eq + 1;
		b = len - (size_t)(v - q);
		while (b > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			b--;
		}
		while (b > 0 && (v[b - 1] == ' ' || v[b - 1] == '\t'))
			b--;
		if (a == 0 || b == 0 || a >= sizeof(o->map[0].idp) || b >= sizeof(o->map[0].group)) {
			snprintf(err, errlen, "oidc.group_map: an item has an empty or too long name");
			return PV_E_CONFIG;
		}
		memcpy(o->map[o->nmap].idp, q, a);
		o->map[o->nmap].idp[a] = '\0';
		memcpy(o->map[o->nmap].group, v, b);
		o->map[o->nmap].group[b] = '\0';
		o->nmap++;
		q = end != NULL ? end + 1 : q + strlen(q);
	}
	return PV_OK;
}

static enum pv_rc
read_secret(const char *path, struct pv_secret **out, char *err, size_t errlen)
{
	char buf[1024];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;
	enum pv_rc rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "oidc.client_secret_file %s cannot be opened", path);
		return PV_E_CONFIG;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != geteuid()) {
		close(fd);
		snprintf(err, errlen, "oidc.client_secret_file %s must be a regular file of ours "
		    "with mode 0600", path);
		return PV_E_CONFIG;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "oidc.client_secret_file %s is empty", path);
		return PV_E_CONFIG;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
		len--;
	if (len == 0) {
		crypto_wipe(buf, sizeof(buf));
		snprintf(err, errlen, "oidc.client_secret_file %s is empty", path);
		return PV_E_CONFIG;
	}
	buf[len] = '\0';
	rc = crypto_secret_from(buf, len + 1, out);
	crypto_wipe(buf, sizeof(buf));
	return rc;
}

enum pv_rc
authn_oidc_start(struct authn_service *s, char *err, size_t errlen)
{
	const struct pv_config *cfg = s->cfg;
	struct authn_oidc *o;
	enum pv_rc rc;

	if (!config_oidc_enabled(cfg) || s->oidc != NULL)
		return PV_OK;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return PV_E_NOMEM;
	o->s = s;
	o->cfg = cfg;
	pthread_mutex_init(&o->mu, NULL);
	if ((rc = read_secret(cfg->oidc_client_secret_file, &o->client_secret, err, errlen)) !=
	    PV_OK || (rc = parse_map(o, cfg->oidc_group_map, err, errlen)) != PV_OK)
		goto bad;
	if (cfg->oidc_ca_file[0] != '\0' && access(cfg->oidc_ca_file, R_OK) != 0) {
		snprintf(err, errlen, "oidc.ca_file %s cannot be read", cfg->oidc_ca_file);
		rc = PV_E_CONFIG;
		goto bad;
	}
	if (cfg->oidc_redirect_url[0] != '\0')
		util_strlcpy(o->redirect_url, cfg->oidc_redirect_url, sizeof(o->redirect_url));
	else
		snprintf(o->redirect_url, sizeof(o->redirect_url), "%s/v1/auth/oidc/callback",
		    cfg->public_url);
	snprintf(o->console_url, sizeof(o->console_url), "%s/console/", cfg->public_url);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "oidc: libcurl could not start");
		rc = PV_E_CONFIG;
		goto bad;
	}
	s->oidc = o;
	return PV_OK;
bad:
	crypto_secret_free(o->client_secret);
	pthread_mutex_destroy(&o->mu);
	free(o);
	return rc;
}

void
authn_oidc_free(struct authn_service *s)
{
	struct authn_oidc *o = s != NULL ? s->oidc : NULL;

	if (o == NULL)
		return;
	json_decref(o->discovery);
	json_decref(o->jwks);
	crypto_secret_free(o->client_secret);
	pthread_mutex_destroy(&o->mu);
	free(o);
	s->oidc = NULL;
	curl_global_cleanup();
}

void
authn_oidc_set_group_gate(struct authn_service *s, authn_oidc_group_gate_fn fn, void *arg)
{
	if (s->oidc != NULL) {
		s->oidc->gate = fn;
		s->oidc->gate_arg = arg;
	}
}

bool
authn_oidc_enabled(struct authn_service *s)
{
	return s != NULL && s->oidc != NULL;
}

/* ---- the IdP over HTTPS (libcurl) ------------------------------------ */

struct buf {
	char *p;
	size_t len;
};

static size_t
on_data(char *d, size_t sz, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = sz * n;
	char *np;

	if (add > HTTP_MAX || b->len + add > HTTP_MAX)
		return 0;
	if ((np = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, d, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* GET url (form == NULL) or POST form with HTTP Basic client authentication
 * (RFC 6749 §2.3.1); a JSON object answer with 200. */
static enum pv_rc
fetch_json(struct authn_oidc *o, const char *url, const char *form, bool basic, json_t **out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct buf b = { NULL, 0 };
	long status = 0;
	char *uid = NULL, *usec = NULL, *cred = NULL;
	enum pv_rc rc = PV_E_OIDC_PROVIDER;
	CURLcode cr;

	if (c == NULL)
		return PV_E_NOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, strncmp(o->cfg->oidc_issuer, "http://", 7) == 0 ?
	    "https,http" : "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (o->cfg->oidc_ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cfg->oidc_ca_file);
	hl = curl_slist_append(hl, "Accept: application/json");
	if (form != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
		if (basic) {
			/* RFC 6749 §2.3.1: both form-urlencoded, then Basic */
			uid = curl_easy_escape(c, o->cfg->oidc_client_id, 0);
			usec = curl_easy_escape(c, (const char *)o->client_secret->buf, 0);
			if (uid == NULL || usec == NULL ||
			    asprintf(&cred, "%s:%s", uid, usec) < 0) {
				cred = NULL;
				rc = PV_E_NOMEM;
				goto out;
			}
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERPWD, cred);
		}
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		log_warn("oidc: request to the provider failed: %s", curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (b.p != NULL && (*out = json_loadb(b.p, b.len, JSON_REJECT_DUPLICATES, NULL)) != NULL &&
	    json_is_object(*out)) {
		if (status == 200) {
			rc = PV_OK;
		} else {
			log_warn("oidc: the provider answered HTTP %ld", status);
			json_decref(*out);
			*out = NULL;
			rc = form != NULL ? PV_E_OIDC : PV_E_OIDC_PROVIDER;
		}
	} else {
		if (b.p != NULL)
			json_decref(*out);
		*out = NULL;
		log_warn("oidc: the provider's answer (HTTP %ld) is not a JSON object", status);
	}
out:
	if (cred != NULL) {
		crypto_wipe(cred, strlen(cred));
		free(cred);
	}
	if (usec != NULL) {
		crypto_wipe(usec, strlen(usec));
		curl_free(usec);
	}
	curl_free(uid);
	if (b.p != NULL) {
		crypto_wipe(b.p, b.len);   /* a token response holds tokens */
		free(b.p);
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}

/* The discovery document (OIDC Discovery 1.0 §4), fetched once and kept;
 * its issuer must be ours byte for byte (§4.3). A new reference in *out. */
static enum pv_rc
discovery(struct authn_oidc *o, json_t **out)
{
	char url[600];
	json_t *d = NULL;
	const char *iss;
	size_t n = strlen(o->cfg->oidc_issuer);
	enum pv_rc rc;

	pthread_mutex_lock(&o->mu);
	if (o->discovery != NULL) {
		*out = json_incref(o->discovery);
		pthread_mutex_unlock(&o->mu);
		return PV_OK;
	}
	pthread_mutex_unlock(&o->mu);
	snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
	    (int)(n > 0 && o->cfg->oidc_issuer[n - 1] == '/' ? n - 1 : n), o->cfg->oidc_issuer);
	if ((rc = fetch_json(o, url, NULL, false, &d)) != PV_OK)
		return rc;
	iss = json_string_value(json_object_get(d, "issuer"));
	if (iss == NULL || strcmp(iss, o->cfg->oidc_issuer) != 0 ||
	    json_string_value(json_object_get(d, "authorization_endpoint")) == NULL ||
	    json_string_value(json_object_get(d, "token_endpoint")) == NULL ||
	    json_string_value(json_object_get(d, "jwks_uri")) == NULL) {
		log_error("oidc: the discovery document's issuer is not oidc.issuer, or an "
		    "endpoint is missing");
		json_decref(d);
		return PV_E_OIDC_PROVIDER;
	}
	pthread_mutex_lock(&o->mu);
	if (o->discovery == NULL)
		o->discovery = json_incref(d);
	pthread_mutex_unlock(&o->mu);
	*out = d;
	return PV_OK;
}

/* The verification key of j: from the cached JWKS, fetched again when the
 * kid is unknown (a key rollover), at most every AUTHN_OIDC_JWKS_REFRESH_MS. */
static enum pv_rc
signing_key(struct authn_oidc *o, const struct authn_jwt *j, EVP_PKEY **key)
{
	json_t *d = NULL, *ks = NULL;
	int64_t now = util_mono_ms();
	bool fetch;
	enum pv_rc rc;

	pthread_mutex_lock(&o->mu);
	if (o->jwks != NULL && authn_jwks_find(o->jwks, j->kid, j->alg, key) == PV_OK) {
		pthread_mutex_unlock(&o->mu);
		return PV_OK;
	}
	fetch = o->jwks == NULL || now - o->jwks_mono_ms >= AUTHN_OIDC_JWKS_REFRESH_MS;
	if (fetch)
		o->jwks_mono_ms = now;
	pthread_mutex_unlock(&o->mu);
	if (!fetch)
		return PV_E_NOTFOUND;
	if ((rc = discovery(o, &d)) != PV_OK)
		return rc;
	rc = fetch_json(o, json_string_value(json_object_get(d, "jwks_uri")), NULL, false, &ks);
	json_decref(d);
	if (rc != PV_OK)
		return rc;
	pthread_mutex_lock(&o->mu);
	json_decref(o->jwks);
	o->jwks = ks;
	rc = authn_jwks_find(o->jwks, j->kid, j->alg, key);
	pthread_mutex_unlock(&o->mu);
	return rc;
}

/* Parse, find the key, verify the signature and the claims. */
static enum pv_rc
verify_token(struct authn_oidc *o, const char *token, const struct authn_jwt_expect *e,
    struct authn_jwt *out, const char **reason)
{
	EVP_PKEY *key = NULL;
	enum pv_rc rc;

	if ((rc = authn_jwt_parse(token, out, reason)) != PV_OK)
		return PV_E_OIDC;
	rc = signing_key(o, out, &key);
	if (rc == PV_E_OIDC_PROVIDER) {
		*reason = "oidc_provider_unavailable";
		goto bad;
	}
	if (rc != PV_OK) {
		*reason = "oidc_unknown_key";
		rc = PV_E_OIDC;
		goto bad;
	}
	rc = authn_jwt_verify(out, token, key);
	EVP_PKEY_free(key);
	if (rc != PV_OK) {
		*reason = "oidc_bad_signature";
		rc = PV_E_OIDC;
		goto bad;
	}
	if ((rc = authn_jwt_claims_check(out, e, reason)) != PV_OK)
		goto bad;
	return PV_OK;
bad:
	authn_jwt_clear(out);
	return rc;
}

/* ---- audit ------------------------------------------------------------ */

static enum pv_rc
refused(struct authn_oidc *o, const char *source, const char *action, const char *reason,
    const char *detail, enum pv_rc rc, struct authn_result *ar)
{
	struct audit_event ev;

	authn_ev_init(&ev, NULL, source, action, "auth/oidc");
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason != NULL ? reason : "oidc_malformed";
	ev.detail = detail;
	/* the refusal leaves once its entry is durable (PV_E_AUDIT if it is
	 * not), with no thread waiting for it (audit.h audit_record_held) */
	if (audit_record_held(o->s->audit, &ev, true) != PV_OK)
		return PV_E_AUDIT;
	return fail(ar, rc, rc == PV_E_OIDC ?
	    "The identity provider's sign-in could not be verified" : "");
}

/* {"iss":..,"sub":..} for an audit detail (claims are the IdP's, not PHI;
 * json_dumps escapes them). */
static char *
who_detail(const char *iss, const char *sub, const char *extra_key, json_t *extra)
{
	json_t *d = json_pack("{s:s, s:s}", "iss", iss != NULL ? iss : "",
	    "sub", sub != NULL ? sub : "");
	char *t;

	if (d != NULL && extra_key != NULL && extra != NULL)
		json_object_set(d, extra_key, extra);
	t = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	return t;
}

/* ---- begin ------------------------------------------------------------ */

/* authn_oidc_begin's state row, owned by its held commit (heap). */
struct pending_held {
	struct store_oidc_pending p;
	int64_t now_ms;
};

static enum pv_rc
pending_held_fn(struct store_tx *tx, void *arg)
{
	struct pending_held *h = arg;

	return store_oidc_pending_put(tx, &h->p, h->now_ms);
}

static void
pending_free(void *arg)
{
	crypto_wipe(arg, sizeof(struct pending_held));
	free(arg);
}

/* RFC 8252 §7.3: a loopback redirect, http://127.0.0.1:PORT/... or [::1]. */
static bool
loopback_ok(const char *u)
{
	const char *p;
	long port;
	char *end;

	if (strncmp(u, "http://127.0.0.1:", 17) == 0)
		p = u + 17;
	else if (strncmp(u, "http://[::1]:", 13) == 0)
		p = u + 13;
	else
		return false;
	port = strtol(p, &end, 10);
	if (end == p || port < 1 || port > 65535 || (*end != '/' && *end != '\0'))
		return false;
	if (strlen(u) > 200)
		return false;
	for (p = u; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' ||
		    *p == '\\' || *p == '#' || *p == '<' || *p == '>')
			return false;
	return true;
}

static bool
b64url43(const char *s)
{
	if (s == NULL || strlen(s) != 43)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

enum pv_rc
authn_oidc_begin(struct authn_service *s, const char *source, const char *cli_redirect,
    const char *cli_challenge, char bind[64], char **location, struct authn_result *ar)
{
	struct authn_oidc *o = s->oidc;
	char state[64], nonce[64], verifier[64], challenge[64];
	struct store_oidc_pending p;
	struct pending_held *ph;
	json_t *d = NULL, *data = NULL;
	char *txt = NULL, *url = NULL, *e[7] = { NULL };
	CURL *c = NULL;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	bind[0] = '\0';
	if (o == NULL)
		return fail(ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (cli_redirect != NULL && !loopback_ok(cli_redirect))
		return fail(ar, PV_E_INVALID,
		    "cli_redirect must be http://127.0.0.1:PORT/... or http://[::1]:PORT/...");
	if ((cli_redirect != NULL) != (cli_challenge != NULL) ||
	    (cli_challenge != NULL && !b64url43(cli_challenge)))
		return fail(ar, PV_E_INVALID, "cli_redirect and cli_challenge (base64url of the "
		    "SHA-256 of a verifier, 43 characters) go together");
	if ((rc = discovery(o, &d)) != PV_OK)
		return fail(ar, rc, "");
	if ((rc = random_b64(state)) != PV_OK || (rc = random_b64(nonce)) != PV_OK ||
	    (rc = random_b64(verifier)) != PV_OK || (rc = s256(verifier, challenge)) != PV_OK ||
	    (cli_redirect == NULL && (rc = random_b64(bind)) != PV_OK))
		goto out;
	{
		char bh[STORE_OIDC_KEY_MAX] = "";

		if (cli_redirect == NULL)
			sha_hex(bind, bh);
		data = json_pack("{s:s, s:s, s:s, s:s, s:s}", "nonce", nonce, "verifier", verifier,
		    "cli_redirect", cli_redirect != NULL ? cli_redirect : "",
		    "cli_challenge", cli_challenge != NULL ? cli_challenge : "", "bind", bh);
	}
	if (data == NULL || (txt = json_dumps(data, JSON_COMPACT)) == NULL ||
	    strlen(txt) >= sizeof(p.data)) {
		rc = PV_E_NOMEM;
		goto out;
	}
	memset(&p, 0, sizeof(p));
	sha_hex(state, p.key);
	util_strlcpy(p.kind, "state", sizeof(p.kind));
	util_strlcpy(p.data, txt, sizeof(p.data));
	p.expires_ms = now + STATE_TTL_MS;
	/* the state row with nobody waiting: the redirect (built from what is
	 * known now) leaves after the fsync, or becomes the commit's failure
	 * (audit.h audit_commit_held); the job owns a heap copy */
	if ((ph = malloc(sizeof(*ph))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ph->p = p;
	ph->now_ms = now;
	if ((rc = audit_commit_held(s->audit, NULL, pending_held_fn, ph, pending_free)) != PV_OK)
		goto out;
	if ((c = curl_easy_init()) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	e[0] = curl_easy_escape(c, o->cfg->oidc_client_id, 0);
	e[1] = curl_easy_escape(c, o->redirect_url, 0);
	e[2] = curl_easy_escape(c, o->cfg->oidc_scopes, 0);
	e[3] = curl_easy_escape(c, state, 0);
	e[4] = curl_easy_escape(c, nonce, 0);
	e[5] = curl_easy_escape(c, challenge, 0);
	for (int i = 0; i < 6; i++)
		if (e[i] == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
	{
		const char *ae = json_string_value(json_object_get(d, "authorization_endpoint"));

		if (asprintf(&url, "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s"
		    "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256", ae,
		    strchr(ae, '?') != NULL ? "&" : "?", e[0], e[1], e[2], e[3], e[4], e[5]) < 0) {
			url = NULL;
			rc = PV_E_NOMEM;
			goto out;
		}
	}
	*location = url;
	url = NULL;
	rc = PV_OK;
out:
	for (int i = 0; i < 7; i++)
		curl_free(e[i]);
	curl_easy_cleanup(c);
	free(url);
	if (txt != NULL) {
		crypto_wipe(txt, strlen(txt));
		free(txt);
	}
	json_decref(data);
	json_decref(d);
	crypto_wipe(verifier, sizeof(verifier));
	crypto_wipe(nonce, sizeof(nonce));
	crypto_wipe(state, sizeof(state));
	if (rc != PV_OK)
		bind[0] = '\0';
	return rc;
}

/* ---- callback --------------------------------------------------------- */

struct take_job {
	const char *key;
	const char *kind;
	int64_t now_ms;
	struct store_oidc_pending *out;
};

static enum pv_rc
take_fn(struct store_tx *tx, void *arg)
{
	struct take_job *j = arg;

	return store_oidc_pending_take(tx, j->key, j->kind, j->now_ms, j->out);
}

/* A username from preferred_username (else the subject): lowercase,
 * [a-z0-9._-] kept, anything else '-', at most 64 characters. */
static void
username_from(const char *pref, const char *sub, char out[STORE_USERNAME_MAX])
{
	const char *src = pref != NULL && pref[0] != '\0' ? pref : sub;
	size_t i, n = 0;

	for (i = 0; src[i] != '\0' && n < STORE_USERNAME_MAX - 1; i++) {
		char ch = src[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '@')
			break;   /* an e-mail form: its local part */
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		    ch == '_' || ch == '-'))
			ch = '-';
		out[n++] = ch;
	}
	out[n] = '\0';
	if (n == 0)
		util_strlcpy(out, "oidc-user", STORE_USERNAME_MAX);
}

struct signin_job {
	struct authn_oidc *o;
	const char *iss, *sub;
	const char *pref;                 /* preferred_username or NULL */
	const char *email, *name;
	const json_t *groups;             /* the groups claim (array of strings) or NULL */
	bool create;
	const struct store_oidc_pending *grant;
	const struct store_oidc_pending *seen;
	int64_t now_ms;
	/* out */
	char user_id[UTIL_ID_MAX];
	char username[STORE_USERNAME_MAX];
	bool created;
	bool disabled;
	json_t *joined;                   /* groups synced in */
	json_t *skipped;                  /* mapped groups refused (dual control) */
	struct store_oidc_pending grant_copy;
};

static int
collect_name(const char *name, void *arg)
{
	json_array_append_new(arg, json_string(name));
	return 0;
}

static bool
claim_has(const json_t *groups, const char *name)
{
	size_t i;

	for (i = 0; json_is_array(groups) && i < json_array_size(groups); i++) {
		const char *g = json_string_value(json_array_get(groups, i));

		if (g != NULL && strcmp(g, name) == 0)
			return true;
	}
	return false;
}

/* The user's groups after a sign-in: those phivault manages outside the
 * map stay; of the map's targets, exactly those whose IdP group is in the
 * claim, and only if the gate (dual control) allows the group. */
static enum pv_rc
sync_groups(struct store_tx *tx, struct signin_job *j)
{
	struct authn_oidc *o = j->o;
	json_t *cur = json_array();
	const char *names[AUTHN_ROLES_MAX];
	size_t n = 0, i, k;
	enum pv_rc rc;

	if (cur == NULL)
		return PV_E_NOMEM;
	if (o->nmap == 0) {
		json_decref(cur);
		return PV_OK;
	}
	if ((rc = store_user_groups_get(tx, j->user_id, collect_name, cur)) != PV_OK)
		goto out;
	for (i = 0; i < json_array_size(cur); i++) {
		const char *g = json_string_value(json_array_get(cur, i));
		bool managed = false;

		for (k = 0; k < o->nmap; k++)
			managed = managed || strcmp(o->map[k].group, g) == 0;
		if (!managed && n < AUTHN_ROLES_MAX)
			names[n++] = g;
	}
	for (k = 0; k < o->nmap; k++) {
		bool allowed = false, dup = false;
		struct store_group grp;

		if (!claim_has(j->groups, o->map[k].idp))
			continue;
		for (i = 0; i < n; i++)
			dup = dup || strcmp(names[i], o->map[k].group) == 0;
		if (dup)
			continue;
		rc = store_group_get(tx, o->map[k].group, &grp);
		if (rc == PV_E_NOTFOUND) {
			json_array_append_new(j->skipped, json_string(o->map[k].group));
			continue;
		}
		if (rc != PV_OK)
			goto out;
		store_group_clear(&grp);
		/* fail closed: without the directory's gate no group is joined */
		if (o->gate != NULL && (rc = o->gate(o->gate_arg, tx, o->map[k].group, &allowed)) !=
		    PV_OK)
			goto out;
		if (!allowed) {
			json_array_append_new(j->skipped, json_string(o->map[k].group));
			continue;
		}
		if (n == AUTHN_ROLES_MAX) {
			rc = PV_E_TOOBIG;
			goto out;
		}
		names[n++] = o->map[k].group;
		json_array_append_new(j->joined, json_string(o->map[k].group));
	}
	rc = store_user_groups_set(tx, j->user_id, names, n);
out:
	json_decref(cur);
	return rc;
}

static enum pv_rc
signin_fn(struct store_tx *tx, void *arg)
{
	struct signin_job *j = arg;
	struct store_user u;
	enum pv_rc rc;

	memset(&u, 0, sizeof(u));
	if ((rc = store_oidc_pending_put(tx, j->seen, j->now_ms)) != PV_OK)
		return rc == PV_E_CONFLICT ? PV_E_STATE : rc;   /* the nonce was used before */
	rc = store_oidc_identity_get(tx, j->iss, j->sub, j->user_id);
	if (rc == PV_E_NOTFOUND) {
		if (!j->create)
			return PV_E_OIDC_USER;
		if ((rc = util_id_new("usr", u.id)) != PV_OK)
			return rc;
		username_from(j->pref, j->sub, u.username);
		if (j->email != NULL && strlen(j->email) < sizeof(u.email))
			util_strlcpy(u.email, j->email, sizeof(u.email));
		if (j->name != NULL && strlen(j->name) < sizeof(u.display_name))
			util_strlcpy(u.display_name, j->name, sizeof(u.display_name));
		/* no password: "!" is no Argon2id string, so a password never verifies */
		util_strlcpy(u.password_hash, "!oidc", sizeof(u.password_hash));
		u.mfa_last_step = -1;
		u.created_ms = u.updated_ms = j->now_ms;
		if ((u.attributes = strdup("{}")) == NULL)
			return PV_E_NOMEM;
		rc = store_user_put(tx, &u);
		if (rc == PV_E_CONFLICT) {
			/* the name is taken: never merged, a suffix of the ID instead */
			size_t l = strlen(u.username);

			snprintf(u.username + (l > 50 ? 50 : l), sizeof(u.username) - (l > 50 ? 50 : l),
			    "-%s", u.id + strlen(u.id) - 6);
			rc = store_user_put(tx, &u);
		}
		if (rc == PV_OK)
			rc = store_oidc_identity_put(tx, j->iss, j->sub, u.id, j->now_ms);
		util_strlcpy(j->user_id, u.id, sizeof(j->user_id));
		util_strlcpy(j->username, u.username, sizeof(j->username));
		store_user_clear(&u);
		if (rc != PV_OK)
			return rc;
		j->created = true;
	} else if (rc != PV_OK) {
		return rc;
	} else {
		if ((rc = store_user_get(tx, j->user_id, &u)) != PV_OK)
			return rc;
		util_strlcpy(j->username, u.username, sizeof(j->username));
		j->disabled = u.disabled;
		store_user_clear(&u);
		if (j->disabled)
			return PV_E_FORBIDDEN;
	}
	if ((rc = sync_groups(tx, j)) != PV_OK)
		return rc;
	/* the grant names the user: rebuilt here, where the user is known */
	{
		json_t *g = json_loads(j->grant->data, 0, NULL);
		char *t;

		if (g == NULL)
			return PV_E_NOMEM;
		json_object_set_new(g, "user_id", json_string(j->user_id));
		t = json_dumps(g, JSON_COMPACT);
		json_decref(g);
		if (t == NULL || strlen(t) >= sizeof(j->grant_copy.data)) {
			free(t);
			return PV_E_NOMEM;
		}
		j->grant_copy = *j->grant;
		util_strlcpy(j->grant_copy.data, t, sizeof(j->grant_copy.data));
		free(t);
	}
	return store_oidc_pending_put(tx, &j->grant_copy, j->now_ms);
}

/* The form body of the token request (RFC 6749 §4.1.3 + RFC 7636 §4.5). */
static char *
token_form(struct authn_oidc *o, const char *code, const char *verifier)
{
	CURL *c = curl_easy_init();
	char *ec = NULL, *er = NULL, *ev = NULL, *f = NULL;

	if (c == NULL)
		return NULL;
	ec = curl_easy_escape(c, code, 0);
	er = curl_easy_escape(c, o->redirect_url, 0);
	ev = curl_easy_escape(c, verifier, 0);
	if (ec != NULL && er != NULL && ev != NULL &&
	    asprintf(&f, "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s",
	    ec, er, ev) < 0)
		f = NULL;
	curl_free(ec);
	curl_free(er);
	if (ev != NULL) {
		crypto_wipe(ev, strlen(ev));
		curl_free(ev);
	}
	curl_easy_cleanup(c);
	return f;
}

enum pv_rc
authn_oidc_callback(struct authn_service *s, const char *source, const char *code,
    const char *state, const char *idp_error, const char *bind_cookie, char **location,
    struct authn_result *ar)
{
	struct authn_oidc *o = s->oidc;
	char key[STORE_OIDC_KEY_MAX], gcode[64], nkey[96];
	struct store_oidc_pending st, grant, seen;
	struct take_job tj;
	struct signin_job sj;
	struct authn_jwt jwt;
	struct authn_jwt_expect ex;
	struct audit_event ev;
	json_t *sd = NULL, *d = NULL, *tok = NULL;
	const char *reason = NULL, *nonce, *verifier, *cli_redirect, *bind_hash;
	char *form = NULL, *detail = NULL, *url = NULL;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&jwt, 0, sizeof(jwt));
	memset(&sj, 0, sizeof(sj));
	if (o == NULL)
		return fail(ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (state == NULL || state[0] == '\0' || strlen(state) > 256)
		return refused(o, source, "auth.oidc.login", "oidc_state_unknown", NULL, PV_E_OIDC,
		    ar);
	sha_hex(state, key);
	memset(&st, 0, sizeof(st));
	tj.key = key;
	tj.kind = "state";
	tj.now_ms = now;
	tj.out = &st;
	rc = audit_commit(s->audit, NULL, take_fn, &tj);
	if (rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED)
		/* unknown: forged, or used already (a replayed callback) */
		return refused(o, source, "auth.oidc.login", rc == PV_E_EXPIRED ?
		    "oidc_state_expired" : "oidc_state_unknown", NULL, PV_E_OIDC, ar);
	if (rc != PV_OK)
		return rc;
	if ((sd = json_loads(st.data, 0, NULL)) == NULL) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	nonce = json_string_value(json_object_get(sd, "nonce"));
	verifier = json_string_value(json_object_get(sd, "verifier"));
	cli_redirect = json_string_value(json_object_get(sd, "cli_redirect"));
	bind_hash = json_string_value(json_object_get(sd, "bind"));
	if (nonce == NULL || verifier == NULL || cli_redirect == NULL || bind_hash == NULL) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if (bind_hash[0] != '\0') {
		char h[STORE_OIDC_KEY_MAX];

		/* a console flow: the browser that began it must end it (login CSRF) */
		if (bind_cookie == NULL || strlen(bind_cookie) > 128) {
			rc = refused(o, source, "auth.oidc.login", "oidc_state_mismatch", NULL,
			    PV_E_OIDC, ar);
			goto out;
		}
		sha_hex(bind_cookie, h);
		if (!crypto_memeq(h, bind_hash, STORE_OIDC_KEY_MAX - 1)) {
			rc = refused(o, source, "auth.oidc.login", "oidc_state_mismatch", NULL,
			    PV_E_OIDC, ar);
			goto out;
		}
	}
	if (idp_error != NULL) {
		/* OIDC Core §3.1.2.6: the IdP refused (login_required, access_denied) */
		rc = refused(o, source, "auth.oidc.login", "oidc_idp_error", NULL, PV_E_OIDC, ar);
		goto out;
	}
	if (code == NULL || code[0] == '\0' || strlen(code) > 2048) {
		rc = refused(o, source, "auth.oidc.login", "oidc_malformed", NULL, PV_E_OIDC, ar);
		goto out;
	}
	if ((rc = discovery(o, &d)) != PV_OK)
		goto out;
	if ((form = token_form(o, code, verifier)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = fetch_json(o, json_string_value(json_object_get(d, "token_endpoint")), form, true,
	    &tok);
	if (rc == PV_E_OIDC) {
		rc = refused(o, source, "auth.oidc.login", "oidc_token_error", NULL, PV_E_OIDC, ar);
		goto out;
	}
	if (rc != PV_OK) {
		rc = refused(o, source, "auth.oidc.login", "oidc_provider_unavailable", NULL, rc, ar);
		goto out;
	}
	memset(&ex, 0, sizeof(ex));
	ex.issuer = o->cfg->oidc_issuer;
	ex.client_id = o->cfg->oidc_client_id;
	ex.now_s = now / 1000;
	ex.skew_s = o->cfg->oidc_clock_skew_s;
	ex.nonce = nonce;
	rc = verify_token(o, json_string_value(json_object_get(tok, "id_token")), &ex, &jwt,
	    &reason);
	if (rc != PV_OK) {
		rc = refused(o, source, "auth.oidc.login", reason, NULL, rc, ar);
		goto out;
	}
	/* the one-time code for the console or the CLI */
	if ((rc = random_b64(gcode)) != PV_OK)
		goto out;
	{
		const char *sid = json_string_value(json_object_get(jwt.claims, "sid"));
		bool mfa = strcmp(o->cfg->oidc_mfa_from_amr, "on") == 0 &&
		    authn_oidc_amr_mfa(jwt.claims);
		json_t *g = json_pack("{s:s, s:s, s:s, s:b}", "sid", sid != NULL ? sid : "",
		    "cli_challenge", json_string_value(json_object_get(sd, "cli_challenge")),
		    "iss", o->cfg->oidc_issuer, "mfa", mfa);
		char *t = g != NULL ? json_dumps(g, JSON_COMPACT) : NULL;

		json_decref(g);
		memset(&grant, 0, sizeof(grant));
		if (t == NULL || strlen(t) >= sizeof(grant.data) - 64) {
			free(t);
			rc = PV_E_NOMEM;
			goto out;
		}
		util_strlcpy(grant.data, t, sizeof(grant.data));
		free(t);
	}
	sha_hex(gcode, grant.key);
	util_strlcpy(grant.kind, "grant", sizeof(grant.kind));
	grant.expires_ms = now + GRANT_TTL_MS;
	memset(&seen, 0, sizeof(seen));
	snprintf(nkey, sizeof(nkey), "nonce:%s", nonce);
	sha_hex(nkey, seen.key);
	util_strlcpy(seen.kind, "seen", sizeof(seen.kind));
	util_strlcpy(seen.data, "{}", sizeof(seen.data));
	{
		int64_t exp = 0;
		const json_t *e = json_object_get(jwt.claims, "exp");

		exp = json_is_integer(e) ? (int64_t)json_integer_value(e) : now / 1000;
		seen.expires_ms = (exp + ex.skew_s + 1) * 1000;
		if (seen.expires_ms < now + 1000)
			seen.expires_ms = now + 1000;
	}
	sj.o = o;
	sj.iss = o->cfg->oidc_issuer;
	sj.sub = json_string_value(json_object_get(jwt.claims, "sub"));
	sj.pref = json_string_value(json_object_get(jwt.claims, "preferred_username"));
	sj.email = json_string_value(json_object_get(jwt.claims, "email"));
	sj.name = json_string_value(json_object_get(jwt.claims, "name"));
	sj.groups = json_object_get(jwt.claims, o->cfg->oidc_groups_claim);
	sj.create = strcmp(o->cfg->oidc_create_users, "on") == 0;
	sj.grant = &grant;
	sj.seen = &seen;
	sj.now_ms = now;
	sj.joined = json_array();
	sj.skipped = json_array();
	if (sj.joined == NULL || sj.skipped == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	{
		/* the mapped groups the claim asks for (the gate may refuse some:
		 * a PHI-granting group not approved under dual control) */
		json_t *x = json_array();

		for (size_t k = 0; x != NULL && k < o->nmap; k++)
			if (claim_has(sj.groups, o->map[k].idp))
				json_array_append_new(x, json_string(o->map[k].group));
		detail = who_detail(sj.iss, sj.sub, "mapped_groups", x);
		json_decref(x);
	}
	/* refusals decided before the write, so each is one denied entry (the
	 * job re-checks them on the writer) */
	{
		char uid[UTIL_ID_MAX];
		struct store_user cu;

		STORE_READ(s->st, rc, store_oidc_identity_get(tx, sj.iss, sj.sub, uid));
		if (rc == PV_E_NOTFOUND && !sj.create) {
			rc = refused(o, source, "auth.oidc.login", "oidc_unknown_user", detail,
			    PV_E_OIDC_USER, ar);
			(void)fail(ar, rc, "No phivault user is linked to this identity");
			goto out;
		}
		if (rc == PV_OK) {
			memset(&cu, 0, sizeof(cu));
			STORE_READ(s->st, rc, store_user_get(tx, uid, &cu));
			if (rc == PV_OK && cu.disabled) {
				store_user_clear(&cu);
				rc = refused(o, source, "auth.oidc.login", "disabled", detail,
				    PV_E_UNAUTH, ar);
				(void)fail(ar, rc, "This account is disabled");
				goto out;
			}
			store_user_clear(&cu);
		}
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			goto out;
	}
	authn_ev_init(&ev, NULL, source, "auth.oidc.login", "auth/oidc");
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "verified";
	ev.detail = detail;
	rc = audit_commit(s->audit, &ev, signin_fn, &sj);
	if (rc != PV_OK) {
		const char *why = rc == PV_E_STATE ? "oidc_nonce_replay" :
		    rc == PV_E_OIDC_USER ? "oidc_unknown_user" :
		    rc == PV_E_FORBIDDEN ? "disabled" : NULL;

		if (why != NULL)
			rc = refused(o, source, "auth.oidc.login", why, detail,
			    rc == PV_E_STATE ? PV_E_OIDC : rc == PV_E_FORBIDDEN ? PV_E_UNAUTH : rc,
			    ar);
		if (rc == PV_E_UNAUTH)
			(void)fail(ar, rc, "This account is disabled");
		goto out;
	}
	if (json_array_size(sj.joined) > 0 || sj.created)
		authn_authz_changed(s);
	if (cli_redirect[0] != '\0')
		rc = asprintf(&url, "%s%scode=%s", cli_redirect,
		    strchr(cli_redirect, '?') != NULL ? "&" : "?", gcode) < 0 ? PV_E_NOMEM : PV_OK;
	else
		rc = asprintf(&url, "%s#oidc_code=%s", o->console_url, gcode) < 0 ? PV_E_NOMEM :
		    PV_OK;
	if (rc != PV_OK) {
		url = NULL;
		goto out;
	}
	*location = url;
	url = NULL;
out:
	free(url);
	free(detail);
	free(form);
	json_decref(sj.joined);
	json_decref(sj.skipped);
	authn_jwt_clear(&jwt);
	json_decref(tok);
	json_decref(d);
	json_decref(sd);
	crypto_wipe(&st, sizeof(st));
	crypto_wipe(gcode, sizeof(gcode));
	return rc;
}

/* ---- exchange --------------------------------------------------------- */

struct exchange_job {
	const struct store_session *session;
	const struct store_mfa_pending *pending;
	const char *iss, *sid;
	const char *method;               /* "idp" when the IdP's MFA counts */
};

static enum pv_rc
exchange_fn(struct store_tx *tx, void *arg)
{
	struct exchange_job *j = arg;
	enum pv_rc rc;

	if (j->pending != NULL)
		return store_mfa_pending_put(tx, j->pending);
	if ((rc = store_session_put(tx, j->session)) != PV_OK)
		return rc;
	if (j->method != NULL &&
	    (rc = store_session_set_mfa_method(tx, j->session->id, j->method)) != PV_OK)
		return rc;
	if (j->sid != NULL && j->sid[0] != '\0')
		return store_oidc_session_put(tx, j->session->id, j->iss, j->sid);
	return PV_OK;
}

/* The exchange's write, owned by its held commit (heap): the session or
 * the MFA challenge row, the IdP's sid. */
struct exchange_held {
	struct exchange_job j;
	struct store_session session;
	struct store_mfa_pending pending;
	char *iss, *sid;
};

static enum pv_rc
exchange_held_fn(struct store_tx *tx, void *arg)
{
	return exchange_fn(tx, &((struct exchange_held *)arg)->j);
}

static void
exchange_held_free(void *arg)
{
	struct exchange_held *h = arg;

	free(h->iss);
	free(h->sid);
	crypto_wipe(h, sizeof(*h));
	free(h);
}

/* The session (j->session) or challenge (j->pending) and its auth.login
 * entry, with nobody waiting: the answer, built from what is known now (the
 * token made before the submit), leaves after the fsync or becomes the
 * commit's failure (audit.h audit_commit_held). Off a request thread it is
 * audit_commit. */
static enum pv_rc
exchange_commit(struct authn_service *s, const struct audit_event *ev,
    const struct exchange_job *j)
{
	struct exchange_held *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return PV_E_NOMEM;
	h->iss = strdup(j->iss != NULL ? j->iss : "");
	h->sid = strdup(j->sid != NULL ? j->sid : "");
	if (h->iss == NULL || h->sid == NULL) {
		exchange_held_free(h);
		return PV_E_NOMEM;
	}
	h->j.iss = h->iss;
	h->j.sid = h->sid;
	h->j.method = j->method;   /* a literal */
	if (j->session != NULL) {
		h->session = *j->session;
		h->j.session = &h->session;
	}
	if (j->pending != NULL) {
		h->pending = *j->pending;
		h->j.pending = &h->pending;
	}
	return audit_commit_held(s->audit, ev, exchange_held_fn, h, exchange_held_free);
}

enum pv_rc
authn_oidc_exchange(struct authn_service *s, const char *source, const char *code,
    const char *code_verifier, json_t **out, struct authn_result *ar)
{
	struct authn_oidc *o = s->oidc;
	char key[STORE_OIDC_KEY_MAX], res[128], detail[160];
	struct store_oidc_pending g;
	struct take_job tj;
	struct store_user u;
	struct audit_event ev;
	json_t *gd = NULL, *o_json = NULL;
	const char *uid, *chal, *sid, *iss;
	bool mfa;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&u, 0, sizeof(u));
	if (o == NULL)
		return fail(ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (code == NULL || code[0] == '\0' || strlen(code) > 128)
		return fail(ar, PV_E_INVALID, "code is required");
	sha_hex(code, key);
	memset(&g, 0, sizeof(g));
	tj.key = key;
	tj.kind = "grant";
	tj.now_ms = now;
	tj.out = &g;
	rc = audit_commit(s->audit, NULL, take_fn, &tj);
	if (rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED)
		return refused(o, source, "auth.oidc.login", rc == PV_E_EXPIRED ?
		    "oidc_code_expired" : "oidc_code_unknown", NULL, PV_E_OIDC, ar);
	if (rc != PV_OK)
		return rc;
	if ((gd = json_loads(g.data, 0, NULL)) == NULL) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	uid = json_string_value(json_object_get(gd, "user_id"));
	chal = json_string_value(json_object_get(gd, "cli_challenge"));
	sid = json_string_value(json_object_get(gd, "sid"));
	iss = json_string_value(json_object_get(gd, "iss"));
	mfa = json_is_true(json_object_get(gd, "mfa"));
	if (uid == NULL || chal == NULL || sid == NULL || iss == NULL) {
		rc = PV_E_INTEGRITY;
		goto out;
	}
	if (chal[0] != '\0') {
		char want[64];

		/* a CLI grant: only the process that began the flow can redeem it */
		if (code_verifier == NULL || strlen(code_verifier) < 43 ||
		    strlen(code_verifier) > 128 || s256(code_verifier, want) != PV_OK ||
		    !crypto_memeq(want, chal, 43)) {
			rc = refused(o, source, "auth.oidc.login", "oidc_code_verifier", NULL,
			    PV_E_OIDC, ar);
			goto out;
		}
	}
	STORE_READ(s->st, rc, store_user_get(tx, uid, &u));
	if (rc != PV_OK)
		goto out;
	snprintf(res, sizeof(res), "users/%s", u.id);
	snprintf(detail, sizeof(detail), "{\"username\":\"%s\"}", u.username);
	if (u.disabled) {
		rc = refused(o, source, "auth.login", "disabled", detail, PV_E_UNAUTH, ar);
		goto out;
	}
	{
		struct authn_new_session ns;
		struct store_mfa_pending pend;
		struct exchange_job j;
		enum authn_login_next next;
		unsigned flags = 0;
		char mtok[AUTHN_TOKEN_MAX];
		bool passkey = authn_webauthn_has(s, u.id);

		memset(&j, 0, sizeof(j));
		j.iss = iss;
		j.sid = sid;
		authn_ev_init(&ev, NULL, source, "auth.login", res);
		ev.actor.user_id = u.id;
		ev.detail = detail;
		if (mfa) {
			next = AUTHN_LOGIN_SESSION;
		} else {
			next = authn_login_decide(u.mfa_enabled || passkey,
			    authn_mfa_required(s, u.id), false, &flags);
		}
		if (next == AUTHN_LOGIN_MFA_CHALLENGE) {
			/* phivault's own second factor, as after a password: the
			 * existing POST /v1/auth/mfa or the passkey login finish it */
			memset(&pend, 0, sizeof(pend));
			if ((rc = authn_token_new(AUTHN_TOKEN_MFA, mtok, pend.token_hash)) != PV_OK)
				goto out;
			util_strlcpy(pend.user_id, u.id, sizeof(pend.user_id));
			pend.expires_ms = now + AUTHN_MFA_PENDING_MS;
			pend.credential_epoch = u.credential_epoch;
			j.pending = &pend;
			ev.reason = "mfa_required";
			if ((rc = exchange_commit(s, &ev, &j)) != PV_OK) {
				crypto_wipe(mtok, sizeof(mtok));
				goto out;
			}
			o_json = json_pack("{s:b, s:s, s:i, s:[s*s*]}", "mfa_required", 1,
			    "mfa_token", mtok, "mfa_expires_in_s", AUTHN_MFA_PENDING_MS / 1000,
			    "mfa_methods", u.mfa_enabled ? "totp" : NULL,
			    passkey ? "webauthn" : NULL);
			crypto_wipe(mtok, sizeof(mtok));
		} else {
			if ((rc = authn_session_prepare(s, &u, flags, mfa, source, now, &ns)) != PV_OK)
				goto out;
			j.session = &ns.row;
			j.method = mfa ? "idp" : NULL;
			ev.actor.session_id = ns.row.id;
			ev.reason = mfa ? "oidc_mfa" : flags != 0 ? "restricted" : "oidc";
			rc = exchange_commit(s, &ev, &j);
			if (rc != PV_OK) {
				crypto_wipe(&ns, sizeof(ns));
				goto out;
			}
			o_json = authn_session_reply(s, &ns);
			crypto_wipe(&ns, sizeof(ns));
		}
		if (o_json == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		*out = o_json;
		rc = PV_OK;
	}
out:
	store_user_clear(&u);
	json_decref(gd);
	crypto_wipe(&g, sizeof(g));
	return rc;
}

/* ---- back-channel logout ---------------------------------------------- */

struct logout_job {
	const char *iss, *sub, *sid;
	const struct store_oidc_pending *seen;
	int64_t now_ms;
	char user_id[UTIL_ID_MAX];        /* the sub's user, "" if none */
	json_t *sessions;                 /* ended session IDs */
	json_t *users;                    /* their users */
};

static int
on_sid(const char *session_id, const char *user_id, void *arg)
{
	struct logout_job *j = arg;

	/* with both sub and sid, only that user's sessions of that sid */
	if (j->sub != NULL && strcmp(j->user_id, user_id) != 0)
		return 0;
	json_array_append_new(j->sessions, json_string(session_id));
	json_array_append_new(j->users, json_string(user_id));
	return 0;
}

static enum pv_rc
logout_fn(struct store_tx *tx, void *arg)
{
	struct logout_job *j = arg;
	size_t i, n = 0;
	enum pv_rc rc;

	if ((rc = store_oidc_pending_put(tx, j->seen, j->now_ms)) != PV_OK)
		return rc == PV_E_CONFLICT ? PV_E_STATE : rc;   /* a replayed jti */
	if (j->sub != NULL) {
		rc = store_oidc_identity_get(tx, j->iss, j->sub, j->user_id);
		if (rc == PV_E_NOTFOUND)
			return PV_OK;   /* nobody here: nothing to end (spec: still 200) */
		if (rc != PV_OK)
			return rc;
	}
	if (j->sid != NULL) {
		if ((rc = store_oidc_session_by_sid(tx, j->iss, j->sid, on_sid, j)) != PV_OK)
			return rc;
		for (i = 0; i < json_array_size(j->sessions); i++) {
			rc = store_session_end(tx, json_string_value(json_array_get(j->sessions, i)),
			    j->now_ms, authn_session_end_name(AUTHN_END_LOGOUT));
			if (rc != PV_OK && rc != PV_E_NOTFOUND)
				return rc;
		}
		return PV_OK;
	}
	rc = store_session_end_all_for_user(tx, j->user_id, NULL, j->now_ms,
	    authn_session_end_name(AUTHN_END_LOGOUT), &n);
	if (rc == PV_OK && n > 0)
		json_array_append_new(j->users, json_string(j->user_id));
	return rc;
}

enum pv_rc
authn_oidc_backchannel_logout(struct authn_service *s, const char *source,
    const char *logout_token, json_t **out, struct authn_result *ar)
{
	struct authn_oidc *o = s->oidc;
	struct authn_jwt jwt;
	struct authn_jwt_expect ex;
	struct logout_job j;
	struct store_oidc_pending seen;
	struct audit_event ev;
	const char *reason = NULL, *jti;
	char jkey[256];
	char *detail = NULL;
	int64_t now = util_now_ms();
	size_t i;
	enum pv_rc rc;

	memset(ar, 0, sizeof(*ar));
	memset(&jwt, 0, sizeof(jwt));
	memset(&j, 0, sizeof(j));
	if (o == NULL)
		return fail(ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (logout_token == NULL || logout_token[0] == '\0')
		return fail(ar, PV_E_INVALID, "logout_token is required");
	memset(&ex, 0, sizeof(ex));
	ex.issuer = o->cfg->oidc_issuer;
	ex.client_id = o->cfg->oidc_client_id;
	ex.now_s = now / 1000;
	ex.skew_s = o->cfg->oidc_clock_skew_s;
	ex.logout = true;
	ex.max_age_s = LOGOUT_MAX_AGE_S;
	if ((rc = verify_token(o, logout_token, &ex, &jwt, &reason)) != PV_OK) {
		/* Back-Channel Logout 1.0 §2.8: a token that does not verify is 400 */
		rc = refused(o, source, "auth.oidc.logout", reason, NULL,
		    rc == PV_E_OIDC ? PV_E_INVALID : rc, ar);
		if (rc == PV_E_INVALID)
			(void)fail(ar, rc, "The logout token could not be verified");
		return rc;
	}
	j.iss = o->cfg->oidc_issuer;
	j.sub = json_string_value(json_object_get(jwt.claims, "sub"));
	j.sid = json_string_value(json_object_get(jwt.claims, "sid"));
	jti = json_string_value(json_object_get(jwt.claims, "jti"));
	j.now_ms = now;
	j.sessions = json_array();
	j.users = json_array();
	memset(&seen, 0, sizeof(seen));
	snprintf(jkey, sizeof(jkey), "jti:%.*s", 200, jti);
	sha_hex(jkey, seen.key);
	util_strlcpy(seen.kind, "seen", sizeof(seen.kind));
	util_strlcpy(seen.data, "{}", sizeof(seen.data));
	seen.expires_ms = now + (int64_t)(LOGOUT_MAX_AGE_S + 2 * ex.skew_s + 1) * 1000;
	j.seen = &seen;
	detail = who_detail(j.iss, j.sub, NULL, NULL);
	authn_ev_init(&ev, NULL, source, "auth.oidc.logout", "auth/oidc");
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = j.sid != NULL ? "sid" : "sub";
	ev.detail = detail;
	if (j.sessions == NULL || j.users == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = audit_commit(s->audit, &ev, logout_fn, &j);
	if (rc == PV_E_STATE) {
		rc = refused(o, source, "auth.oidc.logout", "oidc_jti_replay", detail, PV_E_INVALID,
		    ar);
		(void)fail(ar, rc, "The logout token was used before");
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	/* in force at once on this node; other nodes see the ended rows */
	for (i = 0; i < json_array_size(j.sessions); i++)
		authn_cache_forget_session(s, json_string_value(json_array_get(j.sessions, i)));
	if (j.sid == NULL)
		for (i = 0; i < json_array_size(j.users); i++)
			authn_sessions_end_user(s, json_string_value(json_array_get(j.users, i)),
			    AUTHN_END_LOGOUT);
	*out = json_object();
	rc = *out != NULL ? PV_OK : PV_E_NOMEM;
out:
	free(detail);
	json_decref(j.sessions);
	json_decref(j.users);
	authn_jwt_clear(&jwt);
	return rc;
}

/* ---- local passwords ---------------------------------------------------- */

enum pv_rc
authn_local_password_allowed(struct authn_service *s, const struct store_user *u, bool *allowed)
{
	char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX];
	size_t n = 0, i;
	enum pv_rc rc;

	*allowed = true;
	if (strcmp(s->cfg->oidc_local_passwords, "breakglass_only") != 0)
		return PV_OK;
	if ((rc = authn_user_roles(s->st, u->id, roles, &n)) != PV_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (strcmp(roles[i], "break_glass") == 0)
			return PV_OK;
	*allowed = false;
	return PV_OK;
}
