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
 *   callback   read "state" (unknown = replayed or forged) ->
 *              the browser's cookie matches bind (console flows) -> token
 *              request with V (client_secret_basic) -> ID token: signature
 *              (RS256/ES256 from the JWKS, refreshed once on an unknown kid,
 *              at most every AUTHN_OIDC_JWKS_REFRESH_MS), iss, aud/azp,
 *              exp/iat/nbf +- [oidc] clock_skew_s, nonce = N and never seen
 *              before ("seen" item) -> user of (iss, sub) (created if
 *              create_users = on) -> group memberships synced -> item
 *              "grant" key SHA-256(code) for 60 s, with auth.oidc.login
 *              (allowed, reason verified) and the take of "state" (single
 *              use: of two callbacks with one state exactly one takes it)
 *              in the same transaction -> 302 to the console (#oidc_code=)
 *              or the CLI's loopback (?code=)
 *   exchange   read "grant" (a CLI grant needs the verifier of its
 *              cli_challenge) -> take it (single use) in the transaction
 *              of a session (MFA from amr when
 *              mfa_from_amr = on), or phivault's own MFA step (pvm_), or a
 *              restricted session owing MFA enrolment; auth.login reason
 *              oidc / oidc_mfa / mfa_required / restricted
 *   logout     logout token verified like an ID token (no nonce, events,
 *              jti never seen) -> every open session of its sid, or of the
 *              user of its sub, ended in one transaction with
 *              auth.oidc.logout; this node's cache forgets them at once.
 *
 * The callback, the exchange and the logout are operations in steps
 * (pending.c, authn_int.h "Operations in steps"): the checks and the IdP's
 * HTTPS calls on the request thread, then ONE transaction submitted with a
 * completion that answers (on the committer); no thread waits for a
 * commit. A refusal after the state or code was read takes it in the
 * refusal's own transaction (op_refused + take_gone_fn), so a refused or
 * failed flow spends it as before.
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

/* ---- operations in steps: refusals ---------------------------------- */

/* The take of a refusal: the item the flow read is spent (single use, as a
 * refused state or code always was) unless it is gone already. */
static enum pv_rc
take_gone_fn(struct store_tx *tx, void *arg)
{
	struct take_job *j = arg;
	enum pv_rc rc = store_oidc_pending_take(tx, j->key, j->kind, j->now_ms, j->out);

	return rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED ? PV_OK : rc;
}

/* An audited refusal of an operation: the denied entry (with tj, the take
 * of what the flow read, in its transaction), rc and msg (NULL: the
 * default of rc) answered once it is durable, PV_E_AUDIT if it is not. */
static enum pv_rc
op_refused(struct authn_op *op, const char *source, const char *action, const char *reason,
    const char *detail, struct take_job *tj, enum pv_rc rc, const char *msg)
{
	struct audit_event ev;

	authn_ev_init(&ev, NULL, source, action, "auth/oidc");
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason != NULL ? reason : "oidc_malformed";
	ev.detail = detail;
	(void)fail(&op->ar, rc, msg != NULL ? msg : rc == PV_E_OIDC ?
	    "The identity provider's sign-in could not be verified" : "");
	/* nothing of op is touched after this: its completion may run already */
	return authn_op_refuse_tx(op, &ev, tj != NULL ? take_gone_fn : NULL, tj, rc);
}

/* ---- callback: start (request thread) -> committed (committer) -------- */

struct callback_op {
	struct authn_op op;
	const char *source;
	int64_t now;
	char key[STORE_OIDC_KEY_MAX];
	struct store_oidc_pending st;        /* the state as read */
	struct store_oidc_pending taken;     /* the state as taken */
	struct take_job tj;                  /* a refusal's take of it */
	enum pv_rc take_rc;                  /* the sign-in's take: PV_OK, or why not */
	struct store_oidc_pending grant, seen;
	struct signin_job sj;
	struct authn_jwt jwt;
	json_t *sd, *tok;
	const char *cli_redirect;            /* in sd */
	char *detail;
	char gcode[64];
};

static void
callback_release(struct authn_op *op)
{
	struct callback_op *o = (struct callback_op *)op;

	free(o->detail);
	json_decref(o->sj.joined);
	json_decref(o->sj.skipped);
	authn_jwt_clear(&o->jwt);
	json_decref(o->tok);
	json_decref(o->sd);
}

/* One transaction after the IdP's answer: the state taken (single use: of
 * two callbacks with one state, one takes it, the other fails here), the
 * nonce seen, the identity, the groups, the grant. */
static enum pv_rc
callback_fn(struct store_tx *tx, void *arg)
{
	struct callback_op *o = arg;

	o->take_rc = store_oidc_pending_take(tx, o->key, "state", o->now, &o->taken);
	if (o->take_rc != PV_OK)
		return o->take_rc == PV_E_NOTFOUND || o->take_rc == PV_E_EXPIRED ? PV_E_CONFLICT :
		    o->take_rc;
	return signin_fn(tx, &o->sj);
}

static void
callback_committed(struct authn_op *op, enum pv_rc rc)
{
	struct callback_op *o = (struct callback_op *)op;
	const char *why = NULL;
	char *url = NULL;

	if (rc == PV_OK) {
		if (json_array_size(o->sj.joined) > 0 || o->sj.created)
			authn_authz_changed(op->s);
		if (o->cli_redirect[0] != '\0')
			rc = asprintf(&url, "%s%scode=%s", o->cli_redirect,
			    strchr(o->cli_redirect, '?') != NULL ? "&" : "?", o->gcode) < 0 ?
			    PV_E_NOMEM : PV_OK;
		else
			rc = asprintf(&url, "%s#oidc_code=%s", op->s->oidc->console_url, o->gcode) < 0 ?
			    PV_E_NOMEM : PV_OK;
		if (rc != PV_OK)
			url = NULL;
		else
			rc = authn_op_reply(op, json_pack("{s:s}", "redirect", url));
		if (url != NULL) {
			crypto_wipe(url, strlen(url));
			free(url);
		}
		authn_op_finish(op, rc);
		return;
	}
	if (rc == PV_E_CONFLICT && o->take_rc != PV_OK) {
		/* a concurrent callback with the same state took it first */
		authn_op_run(op, op_refused(op, o->source, "auth.oidc.login",
		    o->take_rc == PV_E_EXPIRED ? "oidc_state_expired" : "oidc_state_unknown", NULL,
		    NULL, PV_E_OIDC, NULL));
		return;
	}
	why = rc == PV_E_STATE ? "oidc_nonce_replay" : rc == PV_E_OIDC_USER ? "oidc_unknown_user" :
	    rc == PV_E_FORBIDDEN ? "disabled" : NULL;
	if (why == NULL) {
		authn_op_finish(op, rc);
		return;
	}
	/* the sign-in was rolled back: its refusal spends the state */
	authn_op_run(op, op_refused(op, o->source, "auth.oidc.login", why, o->detail, &o->tj,
	    rc == PV_E_STATE ? PV_E_OIDC : rc == PV_E_FORBIDDEN ? PV_E_UNAUTH : rc,
	    rc == PV_E_FORBIDDEN ? "This account is disabled" : NULL));
}

/* The checks before the write, on the request thread: the state read (not
 * taken yet), the browser's binding, the IdP's answer (libcurl: network
 * I/O, bounded by fetch_json's timeouts), the ID token, the refusals that
 * need the store read first; then ONE transaction. Every refusal after the
 * state was found takes it in the refusal's transaction. */
static enum pv_rc
callback_start(struct callback_op *o, const char *code, const char *state,
    const char *idp_error, const char *bind_cookie)
{
	struct authn_service *s = o->op.s;
	struct authn_oidc *oi = s->oidc;
	struct authn_op *op = &o->op;
	struct authn_jwt_expect ex;
	struct audit_event ev;
	json_t *d = NULL;
	const char *reason = NULL, *nonce, *verifier, *bind_hash;
	char nkey[96], *form = NULL;
	enum pv_rc rc;

	if (oi == NULL)
		return fail(&op->ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (state == NULL || state[0] == '\0' || strlen(state) > 256)
		return op_refused(op, o->source, "auth.oidc.login", "oidc_state_unknown", NULL, NULL,
		    PV_E_OIDC, NULL);
	sha_hex(state, o->key);
	STORE_READ(s->st, rc, store_oidc_pending_get(tx, o->key, "state", o->now, &o->st));
	if (rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED)
		/* unknown: forged, or used already (a replayed callback) */
		return op_refused(op, o->source, "auth.oidc.login", rc == PV_E_EXPIRED ?
		    "oidc_state_expired" : "oidc_state_unknown", NULL, NULL, PV_E_OIDC, NULL);
	if (rc != PV_OK)
		return rc;
	o->tj.key = o->key;
	o->tj.kind = "state";
	o->tj.now_ms = o->now;
	o->tj.out = &o->taken;
	if ((o->sd = json_loads(o->st.data, 0, NULL)) == NULL)
		return PV_E_INTEGRITY;
	nonce = json_string_value(json_object_get(o->sd, "nonce"));
	verifier = json_string_value(json_object_get(o->sd, "verifier"));
	o->cli_redirect = json_string_value(json_object_get(o->sd, "cli_redirect"));
	bind_hash = json_string_value(json_object_get(o->sd, "bind"));
	if (nonce == NULL || verifier == NULL || o->cli_redirect == NULL || bind_hash == NULL)
		return PV_E_INTEGRITY;
	if (bind_hash[0] != '\0') {
		char h[STORE_OIDC_KEY_MAX];

		/* a console flow: the browser that began it must end it (login CSRF) */
		if (bind_cookie != NULL && strlen(bind_cookie) <= 128)
			sha_hex(bind_cookie, h);
		if (bind_cookie == NULL || strlen(bind_cookie) > 128 ||
		    !crypto_memeq(h, bind_hash, STORE_OIDC_KEY_MAX - 1))
			return op_refused(op, o->source, "auth.oidc.login", "oidc_state_mismatch",
			    NULL, &o->tj, PV_E_OIDC, NULL);
	}
	if (idp_error != NULL)
		/* OIDC Core §3.1.2.6: the IdP refused (login_required, access_denied) */
		return op_refused(op, o->source, "auth.oidc.login", "oidc_idp_error", NULL, &o->tj,
		    PV_E_OIDC, NULL);
	if (code == NULL || code[0] == '\0' || strlen(code) > 2048)
		return op_refused(op, o->source, "auth.oidc.login", "oidc_malformed", NULL, &o->tj,
		    PV_E_OIDC, NULL);
	if ((rc = discovery(oi, &d)) != PV_OK)
		return rc;
	if ((form = token_form(oi, code, verifier)) == NULL) {
		json_decref(d);
		return PV_E_NOMEM;
	}
	rc = fetch_json(oi, json_string_value(json_object_get(d, "token_endpoint")), form, true,
	    &o->tok);
	json_decref(d);
	crypto_wipe(form, strlen(form));
	free(form);
	if (rc == PV_E_OIDC)
		return op_refused(op, o->source, "auth.oidc.login", "oidc_token_error", NULL, &o->tj,
		    PV_E_OIDC, NULL);
	if (rc != PV_OK)
		return op_refused(op, o->source, "auth.oidc.login", "oidc_provider_unavailable", NULL,
		    &o->tj, rc, NULL);
	memset(&ex, 0, sizeof(ex));
	ex.issuer = oi->cfg->oidc_issuer;
	ex.client_id = oi->cfg->oidc_client_id;
	ex.now_s = o->now / 1000;
	ex.skew_s = oi->cfg->oidc_clock_skew_s;
	ex.nonce = nonce;
	rc = verify_token(oi, json_string_value(json_object_get(o->tok, "id_token")), &ex, &o->jwt,
	    &reason);
	if (rc != PV_OK)
		return op_refused(op, o->source, "auth.oidc.login", reason, NULL, &o->tj, rc, NULL);
	/* the one-time code for the console or the CLI */
	if ((rc = random_b64(o->gcode)) != PV_OK)
		return rc;
	{
		const char *sid = json_string_value(json_object_get(o->jwt.claims, "sid"));
		bool mfa = strcmp(oi->cfg->oidc_mfa_from_amr, "on") == 0 &&
		    authn_oidc_amr_mfa(o->jwt.claims);
		json_t *g = json_pack("{s:s, s:s, s:s, s:b}", "sid", sid != NULL ? sid : "",
		    "cli_challenge", json_string_value(json_object_get(o->sd, "cli_challenge")),
		    "iss", oi->cfg->oidc_issuer, "mfa", mfa);
		char *t = g != NULL ? json_dumps(g, JSON_COMPACT) : NULL;

		json_decref(g);
		if (t == NULL || strlen(t) >= sizeof(o->grant.data) - 64) {
			free(t);
			return PV_E_NOMEM;
		}
		util_strlcpy(o->grant.data, t, sizeof(o->grant.data));
		free(t);
	}
	sha_hex(o->gcode, o->grant.key);
	util_strlcpy(o->grant.kind, "grant", sizeof(o->grant.kind));
	o->grant.expires_ms = o->now + GRANT_TTL_MS;
	snprintf(nkey, sizeof(nkey), "nonce:%s", nonce);
	sha_hex(nkey, o->seen.key);
	util_strlcpy(o->seen.kind, "seen", sizeof(o->seen.kind));
	util_strlcpy(o->seen.data, "{}", sizeof(o->seen.data));
	{
		const json_t *e = json_object_get(o->jwt.claims, "exp");
		int64_t exp = json_is_integer(e) ? (int64_t)json_integer_value(e) : o->now / 1000;

		o->seen.expires_ms = (exp + ex.skew_s + 1) * 1000;
		if (o->seen.expires_ms < o->now + 1000)
			o->seen.expires_ms = o->now + 1000;
	}
	o->sj.o = oi;
	o->sj.iss = oi->cfg->oidc_issuer;
	o->sj.sub = json_string_value(json_object_get(o->jwt.claims, "sub"));
	o->sj.pref = json_string_value(json_object_get(o->jwt.claims, "preferred_username"));
	o->sj.email = json_string_value(json_object_get(o->jwt.claims, "email"));
	o->sj.name = json_string_value(json_object_get(o->jwt.claims, "name"));
	o->sj.groups = json_object_get(o->jwt.claims, oi->cfg->oidc_groups_claim);
	o->sj.create = strcmp(oi->cfg->oidc_create_users, "on") == 0;
	o->sj.grant = &o->grant;
	o->sj.seen = &o->seen;
	o->sj.now_ms = o->now;
	o->sj.joined = json_array();
	o->sj.skipped = json_array();
	if (o->sj.joined == NULL || o->sj.skipped == NULL)
		return PV_E_NOMEM;
	{
		/* the mapped groups the claim asks for (the gate may refuse some:
		 * a PHI-granting group not approved under dual control) */
		json_t *x = json_array();

		for (size_t k = 0; x != NULL && k < oi->nmap; k++)
			if (claim_has(o->sj.groups, oi->map[k].idp))
				json_array_append_new(x, json_string(oi->map[k].group));
		o->detail = who_detail(o->sj.iss, o->sj.sub, "mapped_groups", x);
		json_decref(x);
	}
	/* refusals decided before the write, so each is one denied entry (the
	 * transaction re-checks them) */
	{
		char uid[UTIL_ID_MAX];
		struct store_user cu;
		bool disabled = false;

		STORE_READ(s->st, rc, store_oidc_identity_get(tx, o->sj.iss, o->sj.sub, uid));
		if (rc == PV_E_NOTFOUND && !o->sj.create)
			return op_refused(op, o->source, "auth.oidc.login", "oidc_unknown_user",
			    o->detail, &o->tj, PV_E_OIDC_USER,
			    "No phivault user is linked to this identity");
		if (rc == PV_OK) {
			memset(&cu, 0, sizeof(cu));
			STORE_READ(s->st, rc, store_user_get(tx, uid, &cu));
			disabled = rc == PV_OK && cu.disabled;
			store_user_clear(&cu);
			if (disabled)
				return op_refused(op, o->source, "auth.oidc.login", "disabled",
				    o->detail, &o->tj, PV_E_UNAUTH, "This account is disabled");
		}
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			return rc;
	}
	authn_ev_init(&ev, NULL, o->source, "auth.oidc.login", "auth/oidc");
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = "verified";
	ev.detail = o->detail;
	return authn_op_submit(op, &ev, callback_fn, o, callback_committed, false);
}

void
authn_oidc_callback_async(struct authn_service *s, const char *source, const char *code,
    const char *state, const char *idp_error, const char *bind_cookie, authn_done_fn done,
    void *arg)
{
	struct callback_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = callback_release;
	o->source = source;
	o->now = util_now_ms();
	authn_op_run(&o->op, callback_start(o, code, state, idp_error, bind_cookie));
}

/* ---- exchange: start (request thread) -> committed (committer) --------- */

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

struct exchange_op {
	struct authn_op op;
	const char *source;
	int64_t now;
	char key[STORE_OIDC_KEY_MAX];
	struct store_oidc_pending g;         /* the grant as read */
	struct store_oidc_pending taken;
	struct take_job tj;
	enum pv_rc take_rc;
	json_t *gd;
	struct store_user u;
	char detail[160];
	struct exchange_job j;
	bool challenge, passkey;
	struct authn_new_session ns;
	struct store_mfa_pending pend;
	char mtok[AUTHN_TOKEN_MAX];
};

static void
exchange_release(struct authn_op *op)
{
	struct exchange_op *o = (struct exchange_op *)op;

	store_user_clear(&o->u);
	json_decref(o->gd);
}

/* One transaction: the grant taken (single use: of two exchanges of one
 * code, one takes it) with the session or the MFA challenge and auth.login. */
static enum pv_rc
exchange_take_fn(struct store_tx *tx, void *arg)
{
	struct exchange_op *o = arg;

	o->take_rc = store_oidc_pending_take(tx, o->key, "grant", o->now, &o->taken);
	if (o->take_rc != PV_OK)
		return o->take_rc == PV_E_NOTFOUND || o->take_rc == PV_E_EXPIRED ? PV_E_CONFLICT :
		    o->take_rc;
	return exchange_fn(tx, &o->j);
}

static void
exchange_committed(struct authn_op *op, enum pv_rc rc)
{
	struct exchange_op *o = (struct exchange_op *)op;

	if (rc == PV_E_CONFLICT && o->take_rc != PV_OK) {
		/* a concurrent exchange of the same code redeemed it first */
		authn_op_run(op, op_refused(op, o->source, "auth.oidc.login",
		    o->take_rc == PV_E_EXPIRED ? "oidc_code_expired" : "oidc_code_unknown", NULL,
		    NULL, PV_E_OIDC, NULL));
		return;
	}
	if (rc == PV_OK && o->challenge)
		rc = authn_op_reply(op, json_pack("{s:b, s:s, s:i, s:[s*s*]}", "mfa_required", 1,
		    "mfa_token", o->mtok, "mfa_expires_in_s", AUTHN_MFA_PENDING_MS / 1000,
		    "mfa_methods", o->u.mfa_enabled ? "totp" : NULL, o->passkey ? "webauthn" : NULL));
	else if (rc == PV_OK)
		rc = authn_op_reply(op, authn_session_reply(op->s, &o->ns));
	authn_op_finish(op, rc);
}

static enum pv_rc
exchange_start(struct exchange_op *o, const char *code, const char *code_verifier)
{
	struct authn_service *s = o->op.s;
	struct authn_op *op = &o->op;
	char res[128];
	struct audit_event ev;
	const char *uid, *chal, *sid, *iss;
	enum authn_login_next next;
	unsigned flags = 0;
	bool mfa;
	enum pv_rc rc;

	if (s->oidc == NULL)
		return fail(&op->ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (code == NULL || code[0] == '\0' || strlen(code) > 128)
		return fail(&op->ar, PV_E_INVALID, "code is required");
	sha_hex(code, o->key);
	STORE_READ(s->st, rc, store_oidc_pending_get(tx, o->key, "grant", o->now, &o->g));
	if (rc == PV_E_NOTFOUND || rc == PV_E_EXPIRED)
		return op_refused(op, o->source, "auth.oidc.login", rc == PV_E_EXPIRED ?
		    "oidc_code_expired" : "oidc_code_unknown", NULL, NULL, PV_E_OIDC, NULL);
	if (rc != PV_OK)
		return rc;
	o->tj.key = o->key;
	o->tj.kind = "grant";
	o->tj.now_ms = o->now;
	o->tj.out = &o->taken;
	if ((o->gd = json_loads(o->g.data, 0, NULL)) == NULL)
		return PV_E_INTEGRITY;
	uid = json_string_value(json_object_get(o->gd, "user_id"));
	chal = json_string_value(json_object_get(o->gd, "cli_challenge"));
	sid = json_string_value(json_object_get(o->gd, "sid"));
	iss = json_string_value(json_object_get(o->gd, "iss"));
	mfa = json_is_true(json_object_get(o->gd, "mfa"));
	if (uid == NULL || chal == NULL || sid == NULL || iss == NULL)
		return PV_E_INTEGRITY;
	if (chal[0] != '\0') {
		char want[64];

		/* a CLI grant: only the process that began the flow can redeem it */
		if (code_verifier == NULL || strlen(code_verifier) < 43 ||
		    strlen(code_verifier) > 128 || s256(code_verifier, want) != PV_OK ||
		    !crypto_memeq(want, chal, 43))
			return op_refused(op, o->source, "auth.oidc.login", "oidc_code_verifier", NULL,
			    &o->tj, PV_E_OIDC, NULL);
	}
	STORE_READ(s->st, rc, store_user_get(tx, uid, &o->u));
	if (rc != PV_OK)
		return rc;
	snprintf(res, sizeof(res), "users/%s", o->u.id);
	snprintf(o->detail, sizeof(o->detail), "{\"username\":\"%s\"}", o->u.username);
	if (o->u.disabled)
		return op_refused(op, o->source, "auth.login", "disabled", o->detail, &o->tj,
		    PV_E_UNAUTH, NULL);
	o->passkey = authn_webauthn_has(s, o->u.id);
	o->j.iss = iss;
	o->j.sid = sid;
	authn_ev_init(&ev, NULL, o->source, "auth.login", res);
	ev.actor.user_id = o->u.id;
	ev.detail = o->detail;
	if (mfa)
		next = AUTHN_LOGIN_SESSION;
	else
		next = authn_login_decide(o->u.mfa_enabled || o->passkey,
		    authn_mfa_required(s, o->u.id), false, &flags);
	if (next == AUTHN_LOGIN_MFA_CHALLENGE) {
		/* phivault's own second factor, as after a password: the existing
		 * POST /v1/auth/mfa or the passkey login finish it */
		if ((rc = authn_token_new(AUTHN_TOKEN_MFA, o->mtok, o->pend.token_hash)) != PV_OK)
			return rc;
		util_strlcpy(o->pend.user_id, o->u.id, sizeof(o->pend.user_id));
		o->pend.expires_ms = o->now + AUTHN_MFA_PENDING_MS;
		o->pend.credential_epoch = o->u.credential_epoch;
		o->j.pending = &o->pend;
		o->challenge = true;
		ev.reason = "mfa_required";
	} else {
		if ((rc = authn_session_prepare(s, &o->u, flags, mfa, o->source, o->now, &o->ns)) !=
		    PV_OK)
			return rc;
		o->j.session = &o->ns.row;
		o->j.method = mfa ? "idp" : NULL;
		ev.actor.session_id = o->ns.row.id;
		ev.reason = mfa ? "oidc_mfa" : flags != 0 ? "restricted" : "oidc";
	}
	return authn_op_submit(op, &ev, exchange_take_fn, o, exchange_committed, false);
}

void
authn_oidc_exchange_async(struct authn_service *s, const char *source, const char *code,
    const char *code_verifier, authn_done_fn done, void *arg)
{
	struct exchange_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = exchange_release;
	o->source = source;
	o->now = util_now_ms();
	authn_op_run(&o->op, exchange_start(o, code, code_verifier));
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

struct logout_op {
	struct authn_op op;
	const char *source;
	struct authn_jwt jwt;
	struct logout_job j;
	struct store_oidc_pending seen;
	char *detail;
};

static void
logout_release(struct authn_op *op)
{
	struct logout_op *o = (struct logout_op *)op;

	free(o->detail);
	json_decref(o->j.sessions);
	json_decref(o->j.users);
	authn_jwt_clear(&o->jwt);
}

/* On the committer, after the transaction: this node's cache forgets the
 * ended sessions (in force at once here; other nodes see the ended rows). */
static void
logout_committed(struct authn_op *op, enum pv_rc rc)
{
	struct logout_op *o = (struct logout_op *)op;
	size_t i;

	if (rc == PV_E_STATE) {
		authn_op_run(op, op_refused(op, o->source, "auth.oidc.logout", "oidc_jti_replay",
		    o->detail, NULL, PV_E_INVALID, "The logout token was used before"));
		return;
	}
	if (rc == PV_OK) {
		for (i = 0; i < json_array_size(o->j.sessions); i++)
			authn_cache_forget_session(op->s,
			    json_string_value(json_array_get(o->j.sessions, i)));
		if (o->j.sid == NULL)
			for (i = 0; i < json_array_size(o->j.users); i++)
				authn_sessions_end_user(op->s,
				    json_string_value(json_array_get(o->j.users, i)), AUTHN_END_LOGOUT);
		rc = authn_op_reply(op, json_object());
	}
	authn_op_finish(op, rc);
}

static enum pv_rc
logout_start(struct logout_op *o, const char *logout_token)
{
	struct authn_oidc *oi = o->op.s->oidc;
	struct authn_op *op = &o->op;
	struct authn_jwt_expect ex;
	struct audit_event ev;
	const char *reason = NULL, *jti;
	char jkey[256];
	int64_t now = util_now_ms();
	enum pv_rc rc;

	if (oi == NULL)
		return fail(&op->ar, PV_E_NOTFOUND, "OIDC sign-in is not configured ([oidc] issuer)");
	if (logout_token == NULL || logout_token[0] == '\0')
		return fail(&op->ar, PV_E_INVALID, "logout_token is required");
	memset(&ex, 0, sizeof(ex));
	ex.issuer = oi->cfg->oidc_issuer;
	ex.client_id = oi->cfg->oidc_client_id;
	ex.now_s = now / 1000;
	ex.skew_s = oi->cfg->oidc_clock_skew_s;
	ex.logout = true;
	ex.max_age_s = LOGOUT_MAX_AGE_S;
	if ((rc = verify_token(oi, logout_token, &ex, &o->jwt, &reason)) != PV_OK)
		/* Back-Channel Logout 1.0 §2.8: a token that does not verify is 400 */
		return op_refused(op, o->source, "auth.oidc.logout", reason, NULL, NULL,
		    rc == PV_E_OIDC ? PV_E_INVALID : rc, rc == PV_E_OIDC ?
		    "The logout token could not be verified" : NULL);
	o->j.iss = oi->cfg->oidc_issuer;
	o->j.sub = json_string_value(json_object_get(o->jwt.claims, "sub"));
	o->j.sid = json_string_value(json_object_get(o->jwt.claims, "sid"));
	jti = json_string_value(json_object_get(o->jwt.claims, "jti"));
	o->j.now_ms = now;
	o->j.sessions = json_array();
	o->j.users = json_array();
	snprintf(jkey, sizeof(jkey), "jti:%.*s", 200, jti);
	sha_hex(jkey, o->seen.key);
	util_strlcpy(o->seen.kind, "seen", sizeof(o->seen.kind));
	util_strlcpy(o->seen.data, "{}", sizeof(o->seen.data));
	o->seen.expires_ms = now + (int64_t)(LOGOUT_MAX_AGE_S + 2 * ex.skew_s + 1) * 1000;
	o->j.seen = &o->seen;
	o->detail = who_detail(o->j.iss, o->j.sub, NULL, NULL);
	if (o->j.sessions == NULL || o->j.users == NULL)
		return PV_E_NOMEM;
	authn_ev_init(&ev, NULL, o->source, "auth.oidc.logout", "auth/oidc");
	ev.outcome = AUDIT_ALLOWED;
	ev.reason = o->j.sid != NULL ? "sid" : "sub";
	ev.detail = o->detail;
	return authn_op_submit(op, &ev, logout_fn, &o->j, logout_committed, false);
}

void
authn_oidc_backchannel_logout_async(struct authn_service *s, const char *source,
    const char *logout_token, authn_done_fn done, void *arg)
{
	struct logout_op *o = authn_op_new(s, sizeof(*o), done, arg);

	if (o == NULL)
		return;
	o->op.release = logout_release;
	o->source = source;
	authn_op_run(&o->op, logout_start(o, logout_token));
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
