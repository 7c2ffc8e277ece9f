/*
 * service: the identity wiring's per-node state and the authenticate step.
 *
 * Owns the session cache, the per-source throttle, the authz generation
 * counter and the helpers shared by the route files (session creation,
 * lockout persistence, TOTP secret sealing, recovery-code MACs).
 *
 * Session cache (docs/internals/authn.md "Wiring"):
 *  - keyed by the token's SHA-256 (the token itself is never kept);
 *  - the fast path decides ACTIVE / ENDED from the cached clock on every
 *    request, to the millisecond (authn_session_check); no database write;
 *  - an entry older than AUTHN_CACHE_REVALIDATE_MS, or made under an older
 *    authz generation, is re-read from the store (session row, user row,
 *    memberships): a cheap read that also makes revocations done by another
 *    node visible within 5 s;
 *  - last_seen is persisted lazily (at most every AUTHN_CACHE_PERSIST_MS
 *    per session, a writer job without audit entry). A restart or an
 *    eviction can only make a session look idle earlier, never later;
 *  - revocation on this node (logout, disable, password change) updates
 *    the store and drops / rewrites the entry in the same call;
 *  - a dead entry (expiry noticed) stays cached so the expiry is recorded
 *    once (session.expired) and later requests answer from memory.
 * Bounded: AUTHN_CACHE_MAX entries; when full an entry is evicted (its
 * state is in the store).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authn/authn_int.h"
#include "crypto/crypto.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                       */
/* ------------------------------------------------------------------ */

bool
authn_username_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= 64)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return false;
	}
	return n > 0;
}

bool
authn_username_key(const char *in, char key[AUTHN_USERNAME_KEY_MAX])
{
	size_t i;

	for (i = 0; in != NULL && in[i] != '\0' && i < STORE_USERNAME_MAX - 1; i++)
		key[i] = (char)tolower((unsigned char)in[i]);
	key[i] = '\0';
	if (in == NULL || in[i] != '\0')
		return false;   /* longer than any username */
	return authn_username_valid(key);
}

enum pv_rc
authn_password_generate(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	uint8_t b[64];
	size_t i = 0, k;
	enum pv_rc rc;

	if (out == NULL || len < AUTHN_OTP_LEN + 1)
		return PV_E_INVALID;
	/* 55 symbols: bytes >= 220 (4 * 55) are redrawn, no modulo bias */
	while (i < AUTHN_OTP_LEN) {
		if ((rc = crypto_random(b, sizeof(b))) != PV_OK)
			return rc;
		for (k = 0; k < sizeof(b) && i < AUTHN_OTP_LEN; k++)
			if (b[k] < 220)
				out[i++] = alphabet[b[k] % 55];
	}
	out[i] = '\0';
	crypto_wipe(b, sizeof(b));
	return PV_OK;
}

void
authn_source_key(const char *addr, char out[AUTHN_SOURCE_MAX])
{
	struct in6_addr a6;

	out[0] = '\0';
	if (addr == NULL)
		return;
	if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, &a6) == 1) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a6.s6_addr, mapped, sizeof(mapped)) == 0) {
			inet_ntop(AF_INET, a6.s6_addr + 12, out, AUTHN_SOURCE_MAX);
			return;
		}
		/* one customer usually owns a whole /64: throttle the prefix */
		memset(a6.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a6, out, AUTHN_SOURCE_MAX) != NULL) {
			size_t n = strlen(out);

			if (n + 3 < AUTHN_SOURCE_MAX)
				memcpy(out + n, "/64", 4);
			return;
		}
	}
	util_strlcpy(out, addr, AUTHN_SOURCE_MAX);
}

void
authn_actor(const struct authn_principal *p, const char *source, struct pv_actor *out)
{
	memset(out, 0, sizeof(*out));
	if (p == NULL || p->user_id[0] == '\0') {
		out->kind = PV_ACTOR_ANONYMOUS;
		out->user_id = "anonymous";
		out->source = source;
		return;
	}
	out->kind = p->app ? PV_ACTOR_APP : PV_ACTOR_USER;
	out->user_id = p->user_id;
	out->session_id = p->session_id[0] != '\0' ? p->session_id : NULL;
	out->source = p->source[0] != '\0' ? p->source : source;
	if (p->app) {
		out->auth_method = p->auth_method;
		out->auth_ms = p->authenticated_ms;
	} else if (out->session_id != NULL) {
		out->mfa = p->mfa_verified;
		out->auth_method = p->mfa_verified ? "password+mfa" : "password";
		out->auth_ms = p->authenticated_ms;
	}
	for (size_t i = 0; i < p->nelevations && i < PV_ACTOR_ELEVATIONS_MAX; i++)
		out->elevations[out->nelevations++] = p->elevations[i];
	/* every entry of a principal under a break-glass grant names it */
	if (authn_breakglass_active(p, util_now_ms()))
		out->break_glass = p->break_glass->id;
}

bool
authn_breakglass_active(const struct authn_principal *p, int64_t now_ms)
{
	return p != NULL && p->break_glass != NULL && p->break_glass->id[0] != '\0' &&
	    now_ms < p->break_glass->expires_ms;
}

void
authn_ev_init(struct audit_event *ev, const struct authn_principal *p, const char *source,
    const char *action, const char *resource)
{
	memset(ev, 0, sizeof(*ev));
	authn_actor(p, source, &ev->actor);
	ev->action = action;
	ev->resource = resource;
	ev->outcome = AUDIT_ALLOWED;
}

/* ------------------------------------------------------------------ */
/* service                                                             */
/* ------------------------------------------------------------------ */

enum pv_rc
authn_service_new(const struct authn_service_config *c, struct authn_service **out)
{
	struct authn_service *s;
	enum pv_rc rc;

	if (c == NULL || c->st == NULL || c->keys == NULL || c->audit == NULL || c->cfg == NULL ||
	    out == NULL)
		return PV_E_INVALID;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PV_E_NOMEM;
	s->st = c->st;
	s->keys = c->keys;
	s->audit = c->audit;
	s->cfg = c->cfg;
	s->dev = c->dev;
	atomic_init(&s->authz_gen, 1);
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return PV_E_NOMEM;
	}
	rc = authn_throttle_new(AUTHN_THROTTLE_CAPACITY_DEFAULT, AUTHN_THROTTLE_LIMIT_DEFAULT,
	    AUTHN_THROTTLE_WINDOW_DEFAULT, &s->throttle);
	if (rc != PV_OK) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return rc;
	}
	{
		/* the CPU steps of the operations (pending.c): one a core */
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		rc = authn_workers_start(n < 1 ? 1 : n > AUTHN_WORKERS_MAX ? AUTHN_WORKERS_MAX :
		    (size_t)n, &s->workers);
		if (rc != PV_OK) {
			authn_throttle_free(s->throttle);
			pthread_mutex_destroy(&s->mu);
			free(s);
			return rc;
		}
	}
	/* Make the dummy hash now, so the first unknown-user login costs what
	 * every later one costs (no timing tell on the first probe). */
	(void)authn_password_verify_dummy("warm-up", s->cfg->argon2_opslimit,
	    s->cfg->argon2_memlimit);
	*out = s;
	return PV_OK;
}

void
authn_service_free(struct authn_service *s)
{
	size_t i;

	if (s == NULL)
		return;
	authn_oidc_free(s);
	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		struct authn_cache_entry *e = s->buckets[i], *n;

		for (; e != NULL; e = n) {
			n = e->next;
			crypto_wipe(e, sizeof(*e));
			free(e);
		}
	}
	authn_workers_stop(s->workers);
	authn_throttle_free(s->throttle);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
authn_service_set_privileged(struct authn_service *s, authn_privileged_fn fn, void *arg)
{
	s->privileged = fn;
	s->privileged_arg = arg;
}

struct store *
authn_service_store(struct authn_service *s)
{
	return s->st;
}

struct audit *
authn_service_audit(struct authn_service *s)
{
	return s->audit;
}

struct keys *
authn_service_keys(struct authn_service *s)
{
	return s->keys;
}

void
authn_authz_changed(struct authn_service *s)
{
	atomic_fetch_add(&s->authz_gen, 1);
}

uint64_t
authn_authz_generation(struct authn_service *s)
{
	return atomic_load(&s->authz_gen);
}

/* ------------------------------------------------------------------ */
/* roles                                                               */
/* ------------------------------------------------------------------ */

struct roles_acc {
	char (*roles)[AUTHN_ROLE_NAME_MAX];
	size_t n;
	bool toobig;
	char groups[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX];
	size_t ngroups;
};

static void
roles_add(struct roles_acc *a, const char *name)
{
	size_t i;

	if (strlen(name) >= AUTHN_ROLE_NAME_MAX) {
		a->toobig = true;
		return;
	}
	for (i = 0; i < a->n; i++)
		if (strcmp(a->roles[i], name) == 0)
			return;
	if (a->n >= AUTHN_ROLES_MAX) {
		a->toobig = true;
		return;
	}
	util_strlcpy(a->roles[a->n++], name, AUTHN_ROLE_NAME_MAX);
}

static int
on_role(const char *name, void *arg)
{
	roles_add(arg, name);
	return 0;
}

static int
on_group(const char *name, void *arg)
{
	struct roles_acc *a = arg;

	if (a->ngroups >= AUTHN_ROLES_MAX || strlen(name) >= AUTHN_ROLE_NAME_MAX) {
		a->toobig = true;
		return 1;
	}
	util_strlcpy(a->groups[a->ngroups++], name, AUTHN_ROLE_NAME_MAX);
	return 0;
}

static int
cmp_role(const void *a, const void *b)
{
	return strcmp(a, b);
}

enum pv_rc
authn_user_roles(struct store *st, const char *user_id,
    char roles[AUTHN_ROLES_MAX][AUTHN_ROLE_NAME_MAX], size_t *n)
{
	struct roles_acc *a;
	struct store_tx *tx = NULL;
	enum pv_rc rc;
	size_t i, k;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PV_E_NOMEM;
	a->roles = roles;
	if ((rc = store_begin(st, STORE_RD, &tx)) != PV_OK)
		goto out;
	if ((rc = store_user_roles_get(tx, user_id, on_role, a)) != PV_OK ||
	    (rc = store_user_groups_get(tx, user_id, on_group, a)) != PV_OK)
		goto out;
	for (i = 0; i < a->ngroups; i++) {
		struct store_group g;
		json_t *arr;

		rc = store_group_get(tx, a->groups[i], &g);
		if (rc == PV_E_NOTFOUND)
			continue;
		if (rc != PV_OK)
			goto out;
		arr = json_loads(g.roles, 0, NULL);
		store_group_clear(&g);
		for (k = 0; json_is_array(arr) && k < json_array_size(arr); k++) {
			const char *r = json_string_value(json_array_get(arr, k));

			if (r != NULL)
				roles_add(a, r);
		}
		json_decref(arr);
	}
	if (a->toobig) {
		rc = PV_E_TOOBIG;
		goto out;
	}
	qsort(roles, a->n, AUTHN_ROLE_NAME_MAX, cmp_role);
	*n = a->n;
	rc = PV_OK;
out:
	store_end(tx);
	free(a);
	return rc;
}

/* Does policy require MFA of a user holding these (current) roles? */
static bool
mfa_required_for(struct authn_service *s, const char (*roles)[AUTHN_ROLE_NAME_MAX], size_t n)
{
	size_t i;

	switch (s->cfg->mfa_required) {
	case CONFIG_MFA_ALL:
		return true;
	case CONFIG_MFA_OFF:
		return false;
	case CONFIG_MFA_ADMINS:
		break;
	}
	if (s->privileged != NULL)
		return s->privileged(s->privileged_arg, roles, n);
	for (i = 0; i < n; i++)
		if (strcmp(roles[i], "admin") == 0 || strcmp(roles[i], "key_admin") == 0)
			return true;
	return false;
}

bool
authn_mfa_admins_only(struct authn_service *s)
{
	return s != NULL && s->cfg->mfa_required == CONFIG_MFA_ADMINS;
}

bool
authn_mfa_required(struct authn_service *s, const char *user_id)
{
	char (*roles)[AUTHN_ROLE_NAME_MAX];
	size_t n = 0;
	bool req = true;   /* fail closed */

	if (s->cfg->mfa_required == CONFIG_MFA_ALL)
		return true;
	if (s->cfg->mfa_required == CONFIG_MFA_OFF)
		return false;
	if ((roles = calloc(AUTHN_ROLES_MAX, AUTHN_ROLE_NAME_MAX)) == NULL)
		return true;
	if (authn_user_roles(s->st, user_id, roles, &n) == PV_OK)
		req = mfa_required_for(s, (const char (*)[AUTHN_ROLE_NAME_MAX])roles, n);
	free(roles);
	return req;
}

/* ------------------------------------------------------------------ */
/* keyring helpers                                                     */
/* ------------------------------------------------------------------ */

static enum pv_rc
kek_job(struct store_tx *tx, void *arg)
{
	return keys_kek_ensure_tx(arg, tx, AUTHN_KEK);
}

enum pv_rc
authn_kek_start(struct authn_service *s)
{
	enum pv_rc rc;

	if (s == NULL)
		return PV_E_INVALID;
	if (keys_is_sealed(s->keys))
		return PV_OK;   /* made by the unseal (authn_kek_submit) */
	/* start-up, before the listener: no request thread waits for this */
	if ((rc = audit_commit(s->audit, NULL, kek_job, s->keys)) != PV_OK)
		log_error("authn: KEK %s could not be made ready: %s", AUTHN_KEK, pv_rc_name(rc));
	return rc;
}

struct kek_submit {
	void (*done)(enum pv_rc rc, void *arg);
	void *arg;
};

static void
kek_submitted(enum pv_rc rc, void *arg)
{
	struct kek_submit *k = arg;

	if (rc != PV_OK)
		log_error("authn: KEK %s could not be made ready: %s", AUTHN_KEK, pv_rc_name(rc));
	if (k->done != NULL)
		k->done(rc, k->arg);
	free(k);
}

enum pv_rc
authn_kek_submit(struct authn_service *s, void (*done)(enum pv_rc rc, void *arg), void *arg)
{
	struct kek_submit *k;
	enum pv_rc rc;

	if (s == NULL)
		return PV_E_INVALID;
	if ((k = malloc(sizeof(*k))) == NULL)
		return PV_E_NOMEM;
	k->done = done;
	k->arg = arg;
	/* from the committer too: submitting never waits */
	rc = audit_submit(s->audit, NULL, kek_job, s->keys, COMMIT_REQUEST, kek_submitted, k);
	if (rc != PV_OK)
		free(k);
	return rc;
}

enum pv_rc
authn_kek_missing(void)
{
	log_error("authn: KEK %s is missing (made at start-up or by the unseal); the request "
	    "is refused", AUTHN_KEK);
	return PV_E_UNAVAILABLE;
}

/* Serialized keys_envelope: name length (1), name, version (4, BE), wrapped DEK. */
static size_t
env_serialize(const struct keys_envelope *e, uint8_t *out, size_t cap)
{
	size_t nl = strnlen(e->kek_name, sizeof(e->kek_name));
	size_t need = 1 + nl + 4 + KEYS_WRAPPED_DEK_LEN;

	if (nl == 0 || nl > 255 || need > cap)
		return 0;
	out[0] = (uint8_t)nl;
	memcpy(out + 1, e->kek_name, nl);
	out[1 + nl] = (uint8_t)(e->kek_version >> 24);
	out[2 + nl] = (uint8_t)(e->kek_version >> 16);
	out[3 + nl] = (uint8_t)(e->kek_version >> 8);
	out[4 + nl] = (uint8_t)e->kek_version;
	memcpy(out + 5 + nl, e->wrapped_dek, KEYS_WRAPPED_DEK_LEN);
	return need;
}

static bool
env_parse(const uint8_t *in, size_t len, struct keys_envelope *e)
{
	size_t nl;

	memset(e, 0, sizeof(*e));
	if (in == NULL || len < 1)
		return false;
	nl = in[0];
	if (nl == 0 || nl >= sizeof(e->kek_name) || len != 1 + nl + 4 + KEYS_WRAPPED_DEK_LEN)
		return false;
	memcpy(e->kek_name, in + 1, nl);
	e->kek_version = (uint32_t)in[1 + nl] << 24 | (uint32_t)in[2 + nl] << 16 |
	    (uint32_t)in[3 + nl] << 8 | in[4 + nl];
	memcpy(e->wrapped_dek, in + 5 + nl, KEYS_WRAPPED_DEK_LEN);
	return true;
}

enum pv_rc
authn_mfa_seal(struct authn_service *s, const char *user_id,
    const uint8_t secret[AUTHN_TOTP_SECRET_LEN], struct store_user *u)
{
	struct keys_envelope env;
	uint8_t *ct = NULL, *eb = NULL;
	size_t elen;
	enum pv_rc rc;

	ct = malloc(AUTHN_TOTP_SECRET_LEN + CRYPTO_BOX_OVERHEAD);
	eb = malloc(1 + 255 + 4 + KEYS_WRAPPED_DEK_LEN);
	if (ct == NULL || eb == NULL) {
		rc = PV_E_NOMEM;
		goto fail;
	}
	rc = keys_envelope_seal(s->keys, AUTHN_KEK, (const uint8_t *)user_id, strlen(user_id),
	    secret, AUTHN_TOTP_SECRET_LEN, ct, &env);
	if (rc != PV_OK)
		goto fail;
	if ((elen = env_serialize(&env, eb, 1 + 255 + 4 + KEYS_WRAPPED_DEK_LEN)) == 0) {
		rc = PV_E_INTERNAL;
		goto fail;
	}
	free(u->mfa_secret);
	free(u->mfa_env);
	u->mfa_secret = ct;
	u->mfa_secret_len = AUTHN_TOTP_SECRET_LEN + CRYPTO_BOX_OVERHEAD;
	u->mfa_env = eb;
	u->mfa_env_len = elen;
	return PV_OK;
fail:
	free(ct);
	free(eb);
	return rc;
}

enum pv_rc
authn_mfa_open(struct authn_service *s, const struct store_user *u,
    uint8_t secret[AUTHN_TOTP_SECRET_LEN])
{
	struct keys_envelope env;

	if (u->mfa_secret == NULL ||
	    u->mfa_secret_len != AUTHN_TOTP_SECRET_LEN + CRYPTO_BOX_OVERHEAD ||
	    !env_parse(u->mfa_env, u->mfa_env_len, &env))
		return PV_E_INTEGRITY;
	return keys_envelope_open(s->keys, &env, (const uint8_t *)u->id, strlen(u->id),
	    u->mfa_secret, u->mfa_secret_len, secret);
}

enum pv_rc
authn_recovery_mac(struct authn_service *s, const char *sha_hex, uint32_t version,
    char out[AUTHN_HASH_HEX_MAX], uint32_t *made)
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	uint32_t v = version;
	enum pv_rc rc;

	if (version == 0)
		rc = keys_mac_active(s->keys, AUTHN_KEK, "recovery-code", (const uint8_t *)sha_hex,
		    strlen(sha_hex), mac, &v);
	else
		rc = keys_mac_version(s->keys, AUTHN_KEK, version, "recovery-code",
		    (const uint8_t *)sha_hex, strlen(sha_hex), mac);
	if (rc == PV_OK) {
		util_hex_encode(mac, sizeof(mac), out);
		if (made != NULL)
			*made = v;
	}
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

/* ------------------------------------------------------------------ */
/* lockout                                                             */
/* ------------------------------------------------------------------ */

/* On the writer thread, so check-and-count is one step: every attempt is
 * counted as a failure before its credential is verified; a success resets
 * the counter in the same transaction as the session it creates. */
enum pv_rc
authn_lockout_reserve_fn(struct store_tx *tx, void *arg)
{
	struct authn_reserve_job *j = arg;
	const struct pv_config *cfg = j->s->cfg;
	struct store_lockout sl;
	struct authn_lockout l;
	int64_t now = util_now_ms();
	enum pv_rc rc;

	if ((rc = store_lockout_get(tx, j->key, j->kind, &sl)) != PV_OK)
		return rc;
	l.failures = sl.failures;
	l.window_start_ms = sl.window_start_ms;
	l.locked_until_ms = sl.locked_until_ms;
	if ((rc = authn_lockout_check(&l, now, &j->retry_after_s)) != PV_OK)
		return rc;   /* locked: nothing counted, nothing written */
	j->locked_now = authn_lockout_fail(&l, now, cfg->lockout_threshold, cfg->lockout_window_s,
	    cfg->lockout_duration_s);
	sl.failures = l.failures;
	sl.window_start_ms = l.window_start_ms;
	sl.locked_until_ms = l.locked_until_ms;
	return store_lockout_put(tx, j->key, j->kind, &sl);
}

enum pv_rc
authn_lockout_reserved(const struct authn_reserve_job *j, enum pv_rc rc, int *retry_after_s,
    bool *locked_now)
{
	if (rc == PV_E_LOCKED && retry_after_s != NULL)
		*retry_after_s = j->retry_after_s > 0 ? j->retry_after_s : 1;
	if (locked_now != NULL)
		*locked_now = rc == PV_OK && j->locked_now;
	return rc;
}

enum pv_rc
authn_lockout_reserve(struct authn_service *s, const char *key, const char *kind,
    int *retry_after_s, bool *locked_now)
{
	struct authn_reserve_job j = { s, key, kind, 0, false };
	enum pv_rc rc = audit_commit(s->audit, NULL, authn_lockout_reserve_fn, &j);

	return authn_lockout_reserved(&j, rc, retry_after_s, locked_now);
}

/* ------------------------------------------------------------------ */
/* the name a failed login is counted and recorded under               */
/* ------------------------------------------------------------------ */

enum pv_rc
authn_login_key(struct authn_service *s, const char *name, bool valid, bool found,
    char key[STORE_USERNAME_MAX])
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	uint32_t mv;
	enum pv_rc rc;

	if (found)
		return PV_OK;                /* key already holds the stored username */
	if (!valid) {
		util_strlcpy(key, AUTHN_KEY_INVALID, STORE_USERNAME_MAX);
		return PV_OK;
	}
	/* An unknown name may be a password typed into the wrong field: keep
	 * only a keyed hash of it (same name, same counter; nothing readable).
	 * Under the active MAC key version: a rotation of KEK identity starts
	 * these counters afresh (they are a throttle, nothing is stored for
	 * good), and v1 is no longer needed to count failed logins. */
	rc = keys_mac_active(s->keys, AUTHN_KEK, "login-username", (const uint8_t *)name,
	    strlen(name), mac, &mv);
	if (rc == PV_E_NOTFOUND)
		rc = authn_kek_missing();   /* never made here: authn_kek_start */
	if (rc != PV_OK)
		return rc;
	memcpy(key, AUTHN_KEY_HASHED, 2);
	util_hex_encode(mac, AUTHN_KEY_HASH_BYTES, key + 2);
	crypto_wipe(mac, sizeof(mac));
	return PV_OK;
}

/* ------------------------------------------------------------------ */
/* one-time passwords                                                  */
/* ------------------------------------------------------------------ */

void
authn_otp_issue(struct store_user *u, const char *password_hash, int64_t now_ms)
{
	if (password_hash != NULL)
		util_strlcpy(u->password_hash, password_hash, sizeof(u->password_hash));
	u->password_one_time = true;
	u->otp_issued_ms = now_ms > 0 ? now_ms : 1;
	u->otp_used_ms = 0;
}

enum pv_rc
authn_otp_check(const struct store_user *u, int64_t now_ms, int ttl_s)
{
	int64_t issued;

	if (!u->password_one_time)
		return PV_OK;
	if (u->otp_used_ms != 0)
		return PV_E_STATE;
	issued = u->otp_issued_ms != 0 ? u->otp_issued_ms : u->created_ms;
	if (ttl_s <= 0 || now_ms - issued >= (int64_t)ttl_s * 1000 || now_ms < issued - 60000)
		return PV_E_EXPIRED;         /* fail closed; a clock far behind too */
	return PV_OK;
}

/* ------------------------------------------------------------------ */
/* new sessions                                                        */
/* ------------------------------------------------------------------ */

enum pv_rc
authn_session_prepare(struct authn_service *s, const struct store_user *u,
    unsigned restrict_flags, bool mfa_verified, const char *source, int64_t now_ms,
    struct authn_new_session *ns)
{
	enum pv_rc rc;

	memset(ns, 0, sizeof(*ns));
	if ((rc = authn_token_new(AUTHN_TOKEN_SESSION, ns->token, ns->row.token_hash)) != PV_OK ||
	    (rc = util_id_new("ses", ns->row.id)) != PV_OK)
		return rc;
	util_strlcpy(ns->row.user_id, u->id, sizeof(ns->row.user_id));
	ns->row.created_ms = now_ms;
	ns->row.last_seen_ms = now_ms;
	ns->row.absolute_expires_ms = now_ms + (int64_t)s->cfg->absolute_timeout_s * 1000;
	ns->row.restrict_flags = restrict_flags;
	ns->row.mfa_verified = mfa_verified;
	ns->row.credential_epoch = u->credential_epoch;
	util_strlcpy(ns->row.source, source != NULL ? source : "", sizeof(ns->row.source));
	return PV_OK;
}

static json_t *
restrict_json(unsigned flags)
{
	json_t *a = json_array();

	if (a == NULL)
		return NULL;
	if (flags & AUTHN_RESTRICT_PASSWORD_CHANGE)
		json_array_append_new(a, json_string("change_password"));
	if (flags & AUTHN_RESTRICT_MFA_ENROL)
		json_array_append_new(a, json_string("enrol_mfa"));
	return a;
}

json_t *
authn_session_reply(struct authn_service *s, const struct authn_new_session *ns)
{
	struct authn_session_clock clk = { ns->row.created_ms, ns->row.last_seen_ms,
		ns->row.credential_epoch, AUTHN_END_NONE };
	int64_t idle_end, abs_end;
	char t1[32], t2[32];

	authn_session_expiries(&clk, s->cfg->idle_timeout_s, s->cfg->absolute_timeout_s,
	    &idle_end, &abs_end);
	util_time_fmt(abs_end, t1, sizeof(t1));
	util_time_fmt(idle_end, t2, sizeof(t2));
	return json_pack("{s:s, s:s, s:s, s:i, s:b, s:o}", "token", ns->token, "expires_at", t1,
	    "idle_expires_at", t2, "idle_timeout_s", s->cfg->idle_timeout_s, "restricted",
	    ns->row.restrict_flags != 0, "required_actions", restrict_json(ns->row.restrict_flags));
}

/* ------------------------------------------------------------------ */
/* session cache                                                       */
/* ------------------------------------------------------------------ */

static size_t
bucket_of(const char *token_hash)
{
	/* the key is already a uniform hash: its first hex digits index */
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = token_hash[i];

		v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
	}
	return v % AUTHN_CACHE_BUCKETS;
}

/* Caller holds s->mu. */
static struct authn_cache_entry *
cache_find(struct authn_service *s, const char *token_hash)
{
	struct authn_cache_entry *e;

	for (e = s->buckets[bucket_of(token_hash)]; e != NULL; e = e->next)
		if (strcmp(e->token_hash, token_hash) == 0)
			return e;
	return NULL;
}

static void
entry_free(struct authn_cache_entry *e)
{
	crypto_wipe(e, sizeof(*e));
	free(e);
}

/* Caller holds s->mu. Unlink and free entries matching pred. */
static void
cache_remove_if(struct authn_service *s, bool (*pred)(const struct authn_cache_entry *,
    const void *), const void *arg)
{
	size_t i;

	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		struct authn_cache_entry **pp = &s->buckets[i];

		while (*pp != NULL) {
			struct authn_cache_entry *e = *pp;

			if (pred(e, arg)) {
				*pp = e->next;
				entry_free(e);
				s->count--;
			} else {
				pp = &e->next;
			}
		}
	}
}

/* Caller holds s->mu: make room by dropping one entry (its state is in the
 * store; an unpersisted last_seen only makes the session end earlier). */
static void
cache_evict_one(struct authn_service *s)
{
	size_t i;

	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		size_t b = (s->evict_cursor + i) % AUTHN_CACHE_BUCKETS;
		struct authn_cache_entry *e = s->buckets[b];

		if (e != NULL) {
			s->buckets[b] = e->next;
			entry_free(e);
			s->count--;
			s->evict_cursor = b + 1;
			return;
		}
	}
}

struct forget_arg {
	const char *id;
	const char *except;
};

static bool
match_session(const struct authn_cache_entry *e, const void *arg)
{
	return strcmp(e->session_id, arg) == 0;
}

static bool
match_user(const struct authn_cache_entry *e, const void *arg)
{
	const struct forget_arg *f = arg;

	return strcmp(e->user_id, f->id) == 0 &&
	    (f->except == NULL || strcmp(e->session_id, f->except) != 0);
}

void
authn_cache_forget_session(struct authn_service *s, const char *session_id)
{
	pthread_mutex_lock(&s->mu);
	cache_remove_if(s, match_session, session_id);
	pthread_mutex_unlock(&s->mu);
}

void
authn_cache_forget_user(struct authn_service *s, const char *user_id,
    const char *except_session_id)
{
	struct forget_arg f = { user_id, except_session_id };

	pthread_mutex_lock(&s->mu);
	cache_remove_if(s, match_user, &f);
	pthread_mutex_unlock(&s->mu);
}

void
authn_sessions_end_user(struct authn_service *s, const char *user_id,
    enum authn_session_end reason)
{
	/* the store already says ended: the next request re-reads it */
	authn_cache_forget_user(s, user_id, NULL);
	authn_authz_changed(s);
	log_info("authn: cached sessions of %s dropped (%s)", user_id,
	    authn_session_end_name(reason));
}

void
authn_cache_set_state(struct authn_service *s, const char *session_id, unsigned restrict_flags,
    bool mfa_verified, int64_t cred_epoch)
{
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		struct authn_cache_entry *e;

		for (e = s->buckets[i]; e != NULL; e = e->next) {
			if (strcmp(e->session_id, session_id) != 0)
				continue;
			e->restrict_flags = restrict_flags;
			e->mfa_verified = mfa_verified;
			e->cred_epoch = cred_epoch;
			e->user_epoch = cred_epoch;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

void
authn_cache_set_mfa(struct authn_service *s, const char *session_id, int64_t mfa_at_ms)
{
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		struct authn_cache_entry *e;

		for (e = s->buckets[i]; e != NULL; e = e->next)
			if (strcmp(e->session_id, session_id) == 0) {
				e->mfa_verified = true;
				if (mfa_at_ms > e->mfa_at_ms)
					e->mfa_at_ms = mfa_at_ms;
			}
	}
	pthread_mutex_unlock(&s->mu);
}

void
authn_cache_set_mfa_method(struct authn_service *s, const char *session_id, const char *method)
{
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < AUTHN_CACHE_BUCKETS; i++) {
		struct authn_cache_entry *e;

		for (e = s->buckets[i]; e != NULL; e = e->next)
			if (strcmp(e->session_id, session_id) == 0)
				util_strlcpy(e->mfa_method, method, sizeof(e->mfa_method));
	}
	pthread_mutex_unlock(&s->mu);
}

static enum authn_session_end
end_from_name(const char *n)
{
	static const enum authn_session_end all[] = { AUTHN_END_IDLE, AUTHN_END_ABSOLUTE,
		AUTHN_END_LOGOUT, AUTHN_END_DISABLED, AUTHN_END_PASSWORD };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(authn_session_end_name(all[i]), n) == 0)
			return all[i];
	return AUTHN_END_LOGOUT;   /* unknown recorded end: dead all the same */
}

/* Read session + user + roles from the store into a fresh entry. */
static enum pv_rc
entry_load(struct authn_service *s, const char *token_hash, uint64_t gen,
    struct authn_cache_entry **out)
{
	struct authn_cache_entry *e;
	struct store_session row;
	struct store_user u;
	enum pv_rc rc;

	memset(&u, 0, sizeof(u));
	STORE_READ(s->st, rc, store_session_get_by_hash(tx, token_hash, &row));
	if (rc == PV_E_NOTFOUND)
		return PV_E_UNAUTH;
	if (rc != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_user_get(tx, row.user_id, &u));
	if (rc == PV_E_NOTFOUND)
		return PV_E_UNAUTH;
	if (rc != PV_OK)
		return rc;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		store_user_clear(&u);
		return PV_E_NOMEM;
	}
	util_strlcpy(e->token_hash, token_hash, sizeof(e->token_hash));
	util_strlcpy(e->session_id, row.id, sizeof(e->session_id));
	util_strlcpy(e->user_id, row.user_id, sizeof(e->user_id));
	util_strlcpy(e->username, u.username, sizeof(e->username));
	e->created_ms = row.created_ms;
	e->last_seen_ms = row.last_seen_ms;
	e->persisted_seen_ms = row.last_seen_ms;
	e->restrict_flags = row.restrict_flags;
	e->mfa_verified = row.mfa_verified;
	e->mfa_at_ms = row.mfa_at_ms > 0 ? row.mfa_at_ms : row.mfa_verified ? row.created_ms : 0;
	/* sessions from before the column verified TOTP (or a recovery code) */
	util_strlcpy(e->mfa_method, row.mfa_method[0] != '\0' ? row.mfa_method :
	    row.mfa_verified ? "totp" : "", sizeof(e->mfa_method));
	e->cred_epoch = row.credential_epoch;
	e->user_epoch = u.credential_epoch;
	e->user_disabled = u.disabled;
	e->user_mfa_enabled = u.mfa_enabled;
	e->ended = row.ended_ms != 0 ? end_from_name(row.end_reason) : AUTHN_END_NONE;
	e->validated_mono_ms = util_mono_ms();
	e->roles_gen = gen;
	store_user_clear(&u);
	if (e->ended == AUTHN_END_NONE &&
	    (rc = authn_user_roles(s->st, e->user_id, e->roles, &e->nroles)) != PV_OK) {
		entry_free(e);
		return rc;
	}
	/* the MFA requirement follows the CURRENT roles: re-evaluated whenever
	 * they are re-read (authz generation bumped, or every 5 s) */
	e->mfa_needed = mfa_required_for(s, (const char (*)[AUTHN_ROLE_NAME_MAX])e->roles,
	    e->nroles);
	*out = e;
	return PV_OK;
}

struct expire_job {
	const char *session_id;
	const char *reason;
	int64_t now_ms;
};

static enum pv_rc
expire_fn(struct store_tx *tx, void *arg)
{
	struct expire_job *j = arg;
	enum pv_rc rc = store_session_end(tx, j->session_id, j->now_ms, j->reason);

	return rc == PV_E_NOTFOUND ? PV_OK : rc;   /* already ended: nothing to do */
}

/* session.expired on a request: the session's end + entry submitted with a
 * hold on the answer (the 401 leaves after the fsync) and nobody waiting;
 * a failure is logged and the refusal stands, as it did when it blocked. */
struct expire_held {
	char session_id[UTIL_ID_MAX];
	struct expire_job j;
	const struct util_holder *h;
};

static void
expire_done(enum pv_rc rc, void *arg)
{
	struct expire_held *e = arg;
	const struct util_holder *h = e->h;

	if (rc != PV_OK)
		log_error("authn: session %s expiry not recorded", e->session_id);
	free(e);
	util_hold_release(h, PV_OK);
}

static void
expire_record(struct authn_service *s, const struct audit_event *ev, const char *sid,
    const char *reason, int64_t now)
{
	struct expire_held *e = calloc(1, sizeof(*e));
	struct expire_job j = { sid, reason, now };

	if (e != NULL && (e->h = util_request_hold()) != NULL) {
		util_strlcpy(e->session_id, sid, sizeof(e->session_id));
		e->j.session_id = e->session_id;
		e->j.reason = reason;
		e->j.now_ms = now;
		if (audit_submit(s->audit, ev, expire_fn, &e->j, COMMIT_REQUEST, expire_done, e) ==
		    PV_OK)
			return;
		util_hold_release(e->h, PV_OK);   /* not queued: no completion comes */
		free(e);
		log_error("authn: session %s expiry not recorded", sid);
		return;
	}
	free(e);
	/* no request here (or no memory): the blocking form */
	if (audit_commit(s->audit, ev, expire_fn, &j) != PV_OK)
		log_error("authn: session %s expiry not recorded", sid);
}

struct touch_job {
	char session_id[UTIL_ID_MAX];
	int64_t seen_ms;
};

static enum pv_rc
touch_fn(struct store_tx *tx, void *arg)
{
	struct touch_job *j = arg;
	enum pv_rc rc = store_session_touch(tx, j->session_id, j->seen_ms);

	return rc == PV_E_NOTFOUND ? PV_OK : rc;
}

/* The touch is submitted and nobody waits for it: the request goes on at
 * once (a touch lost to a crash only makes the idle limit stricter). */
static void
touch_done(enum pv_rc rc, void *arg)
{
	struct touch_job *j = arg;

	if (rc != PV_OK)
		log_warn("authn: session %s last activity not persisted", j->session_id);
	free(j);
}

static void
touch_submit(struct authn_service *s, const char *sid, int64_t seen_ms)
{
	struct touch_job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		log_warn("authn: session %s last activity not persisted", sid);
		return;
	}
	util_strlcpy(j->session_id, sid, sizeof(j->session_id));
	j->seen_ms = seen_ms;
	if (audit_submit(s->audit, NULL, touch_fn, j, COMMIT_REQUEST, touch_done, j) != PV_OK) {
		log_warn("authn: session %s last activity not persisted", sid);
		free(j);
	}
}

static const char *
restricted_message(unsigned flags)
{
	if ((flags & AUTHN_RESTRICT_PASSWORD_CHANGE) && (flags & AUTHN_RESTRICT_MFA_ENROL))
		return "Restricted session: change the one-time password (POST /v1/auth/password) "
		    "and enrol MFA (POST /v1/auth/mfa/enroll, then /v1/auth/mfa/confirm) first";
	if (flags & AUTHN_RESTRICT_PASSWORD_CHANGE)
		return "Restricted session: change the one-time password first "
		    "(POST /v1/auth/password)";
	return "Restricted session: enrol MFA first (POST /v1/auth/mfa/enroll, "
	    "then /v1/auth/mfa/confirm)";
}

/* A denial of an authenticated request, in the resource form of every other
 * denial (http_route_resource: the route pattern with bounded, escaped
 * parameters; never the raw path, which may not pass audit validation). */
static void
record_denial(struct authn_service *s, const struct authn_principal *p,
    struct http_request *req, const char *reason)
{
	struct audit_event ev;

	authn_ev_init(&ev, p, req->source,
	    req->route->audit_action ? req->route->audit_action : "access",
	    http_route_resource(req));
	ev.outcome = AUDIT_DENIED;
	ev.reason = reason;
	/* the refusal leaves once its entry is durable; no thread waits */
	if (audit_record_held(s->audit, &ev, false) != PV_OK)
		log_error("authn: %s denial not recorded", reason);
}

/* Several nodes on one database (store_shared): a change made through
 * another node (user disabled, password, roles...) moved the access
 * epoch; what this node cached is re-read before this decision. */
static enum pv_rc
access_epoch_refresh(struct authn_service *s, uint64_t *gen)
{
	int64_t epoch = 0;
	enum pv_rc rc;

	if (!store_shared(s->st))
		return PV_OK;
	/* from memory while this node's listener is up (LISTEN/NOTIFY), else
	 * the row (store_cluster.h) */
	if ((rc = store_epoch_current(s->st, &epoch)) != PV_OK)
		return rc;
	if (atomic_exchange(&s->access_epoch, epoch) != epoch) {
		authn_authz_changed(s);
		/* a KEK version revoked through another node: this node's
		 * unwrapped copies go too (re-read, and refused, at next use) */
		keys_access_changed(s->keys);
	}
	*gen = authn_authz_generation(s);
	return PV_OK;
}

enum pv_rc
authn_authenticate(struct authn_service *s, struct http_request *req,
    struct authn_principal **out)
{
	const char *hdr = http_header(req, "Authorization");
	char hash[AUTHN_HASH_HEX_MAX];
	struct authn_cache_entry *e, *fresh = NULL;
	struct authn_principal *p;
	struct authn_session_clock clk;
	enum authn_session_end why = AUTHN_END_NONE;
	uint64_t gen = authn_authz_generation(s);
	int64_t now, idle_end, abs_end;
	bool record_expiry = false, persist = false, mfa_stale = false;
	char sid[UTIL_ID_MAX], uid[UTIL_ID_MAX];
	int64_t seen = 0;
	enum pv_rc rc;

	bool via_cookie = false;

	/* no Authorization header: the console's cookie (cookie.c), which
	 * carries user sessions only and changes nothing without its CSRF token */
	if (hdr == NULL && (hdr = authn_cookie_session(req)) != NULL) {
		via_cookie = true;
		if (strncmp(hdr, "pva_", 4) == 0)
			return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
		if ((rc = access_epoch_refresh(s, &gen)) != PV_OK)
			return rc;
	} else {
		if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
			return http_fail(req, PV_E_UNAUTH, "Authentication required: send "
			    "Authorization: Bearer <token> (POST /v1/auth/login)");
		if ((rc = access_epoch_refresh(s, &gen)) != PV_OK)
			return rc;
		hdr += 7;
		while (*hdr == ' ')
			hdr++;
		if (strncmp(hdr, "pva_", 4) == 0)
			return authn_app_authenticate(s, req, hdr, out);   /* app.c */
	}
	if (authn_token_hash(AUTHN_TOKEN_SESSION, hdr, hash) != PV_OK)
		return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
	if ((p = arena_alloc(req->arena, sizeof(*p))) == NULL)
		return PV_E_NOMEM;

	pthread_mutex_lock(&s->mu);
	e = cache_find(s, hash);
	if (e == NULL || (e->ended == AUTHN_END_NONE &&
	    (util_mono_ms() - e->validated_mono_ms >= AUTHN_CACHE_REVALIDATE_MS ||
	    e->roles_gen != gen))) {
		pthread_mutex_unlock(&s->mu);
		rc = entry_load(s, hash, gen, &fresh);
		if (rc == PV_E_UNAUTH)
			return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
		if (rc != PV_OK)
			return rc;
		pthread_mutex_lock(&s->mu);
		e = cache_find(s, hash);
		if (e != NULL) {
			/* keep what this node saw and noticed meanwhile */
			if (e->last_seen_ms > fresh->last_seen_ms)
				fresh->last_seen_ms = e->last_seen_ms;
			if (e->persisted_seen_ms > fresh->persisted_seen_ms)
				fresh->persisted_seen_ms = e->persisted_seen_ms;
			if (e->ended != AUTHN_END_NONE && fresh->ended == AUTHN_END_NONE)
				fresh->ended = e->ended;
			if (e->mfa_at_ms > fresh->mfa_at_ms) {
				fresh->mfa_at_ms = e->mfa_at_ms;
				util_strlcpy(fresh->mfa_method, e->mfa_method,
				    sizeof(fresh->mfa_method));
			}
			{
				struct authn_cache_entry *next = e->next;

				*e = *fresh;   /* refresh in place, keep the chain link */
				e->next = next;
			}
		}
		if (e == NULL) {
			if (s->count >= AUTHN_CACHE_MAX)
				cache_evict_one(s);
			fresh->next = s->buckets[bucket_of(hash)];
			s->buckets[bucket_of(hash)] = fresh;
			s->count++;
			e = fresh;
			fresh = NULL;
		}
	}
	now = util_now_ms();
	clk.created_ms = e->created_ms;
	clk.last_seen_ms = e->last_seen_ms;
	clk.cred_epoch = e->cred_epoch;
	clk.ended = e->ended;
	rc = authn_session_check(&clk, e->user_epoch, e->user_disabled, now, s->cfg->idle_timeout_s,
	    s->cfg->absolute_timeout_s, &why);
	if (rc != PV_OK) {
		if (e->ended == AUTHN_END_NONE) {
			e->ended = why;
			record_expiry = rc == PV_E_EXPIRED;
			util_strlcpy(sid, e->session_id, sizeof(sid));
			util_strlcpy(uid, e->user_id, sizeof(uid));
		}
		pthread_mutex_unlock(&s->mu);
		if (fresh != NULL)
			entry_free(fresh);
		if (record_expiry) {
			struct audit_event ev;
			char res[64 + UTIL_ID_MAX];

			snprintf(res, sizeof(res), "sessions/%s", sid);
			memset(&ev, 0, sizeof(ev));
			ev.actor.kind = PV_ACTOR_USER;
			ev.actor.user_id = uid;
			ev.actor.session_id = sid;
			ev.actor.source = req->source;
			ev.action = "session.expired";
			ev.resource = res;
			ev.outcome = AUDIT_ALLOWED;
			ev.reason = authn_session_end_name(why);
			expire_record(s, &ev, sid, authn_session_end_name(why), now);
		}
		if (rc == PV_E_EXPIRED)
			return http_fail(req, PV_E_EXPIRED, "Session expired: log in again");
		return http_fail(req, PV_E_UNAUTH, "Invalid or expired token");
	}
	/* ACTIVE: this request is the new last activity */
	e->last_seen_ms = now;
	if (now - e->persisted_seen_ms >= AUTHN_CACHE_PERSIST_MS) {
		e->persisted_seen_ms = now;
		persist = true;
		seen = now;
	}
	memset(p, 0, sizeof(*p));
	util_strlcpy(p->user_id, e->user_id, sizeof(p->user_id));
	util_strlcpy(p->session_id, e->session_id, sizeof(p->session_id));
	util_strlcpy(p->username, e->username, sizeof(p->username));
	util_strlcpy(p->source, req->source != NULL ? req->source : "", sizeof(p->source));
	p->restrict_flags = e->restrict_flags;
	if (e->mfa_needed && !e->mfa_verified) {
		/* a session opened without MFA whose user now needs it (e.g. given
		 * an admin role): not enrolled yet -> restricted to enrolment;
		 * enrolled since -> it must log in again with the second factor */
		if (e->user_mfa_enabled)
			mfa_stale = true;
		p->restrict_flags |= AUTHN_RESTRICT_MFA_ENROL;
	}
	p->restricted = p->restrict_flags != 0;
	p->mfa_verified = e->mfa_verified;
	p->mfa_enrolled = e->user_mfa_enabled;
	p->authenticated_ms = e->created_ms;
	p->mfa_at_ms = e->mfa_verified ? e->mfa_at_ms : 0;
	util_strlcpy(p->mfa_method, e->mfa_verified ? e->mfa_method : "", sizeof(p->mfa_method));
	clk.last_seen_ms = now;
	authn_session_expiries(&clk, s->cfg->idle_timeout_s, s->cfg->absolute_timeout_s,
	    &idle_end, &abs_end);
	p->expires_at_ms = abs_end;
	p->idle_expires_at_ms = idle_end;
	p->nroles = e->nroles;
	memcpy(p->roles, e->roles, sizeof(p->roles));
	util_strlcpy(sid, e->session_id, sizeof(sid));
	pthread_mutex_unlock(&s->mu);
	if (fresh != NULL)
		entry_free(fresh);
	if (persist)
		touch_submit(s, sid, seen);
	if (via_cookie && authn_method_changes(req->method) && !authn_csrf_ok(req, hdr)) {
		record_denial(s, p, req, "csrf");
		return http_fail(req, PV_E_CSRF, "A change made with the session cookie needs "
		    "the X-CSRF-Token header its login returned");
	}
	if (mfa_stale) {
		record_denial(s, p, req, "mfa_required");
		return http_fail(req, PV_E_MFA, "Your roles now require MFA: log in again with "
		    "the password and a code from your authenticator");
	}
	if (p->restricted && !(req->route->flags & HTTP_ROUTE_RESTRICTED_OK)) {
		record_denial(s, p, req, "restricted_session");
		return http_fail(req, PV_E_RESTRICTED, restricted_message(p->restrict_flags));
	}
	*out = p;
	return PV_OK;
}
