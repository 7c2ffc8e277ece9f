/*
 * lockout: failed-attempt arithmetic. Two mechanisms, both required by
 * NIST SP 800-63B §5.2.2 ("rate limiting (throttling)"):
 *
 * 1. Per account (struct authn_lockout, persisted by the wiring; a user has
 *    one for password failures and one for MFA failures, so a stolen
 *    password does not let an attacker burn the MFA budget and vice versa).
 *    A fixed window opens at the first failure; `threshold` failures inside
 *    `window_s` lock the account for `duration_s` (423 with Retry-After).
 *    States:  OPEN (failures < threshold, window running or not)
 *             -> LOCKED (now < locked_until) -> OPEN with a fresh count.
 *    A failure while LOCKED is not counted (the attempt was refused
 *    unverified), and does not extend the lock, so an attacker cannot keep
 *    a victim locked out forever by hammering faster.
 *
 * 2. Per source address (struct authn_throttle, in memory, per node): GCRA
 *    (the "generic cell rate algorithm", a token bucket kept as a single
 *    theoretical arrival time `tat`): each failure moves tat forward by
 *    T = window/limit; an attempt is refused while tat - now > window - T,
 *    i.e. once `limit` failures are outstanding. Memory is fixed: a
 *    set-associative table, WAYS entries per bucket, keyed by SipHash-2-4
 *    of the source under a random per-process key (so an attacker cannot
 *    aim sources at one bucket). A full bucket evicts its entry with the
 *    smallest tat: the least-throttled source loses its state first, a
 *    source at its limit keeps it.
 *    Attempts reserve their slot before the credential is verified
 *    (authn_throttle_reserve: check and count under one lock) and give it
 *    back on success (authn_throttle_release), so concurrent attempts can
 *    never all pass the check before any of them is counted.
 *
 * Invariants:
 *  - Nothing here allocates after authn_throttle_new.
 *  - retry_after_s is always >= 1 when an attempt is refused.
 *  - Bad parameters fail closed (threshold < 1 counts as 1, etc.).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "authn/authn.h"
#include "crypto/crypto.h"

#define WAYS 8
#define CAPACITY_MAX ((size_t)1 << 22)
#define SOURCE_MAX_BYTES 256

static int
ceil_seconds(int64_t ms)
{
	int64_t s = (ms + 999) / 1000;

	if (s < 1)
		s = 1;
	if (s > INT32_MAX)
		s = INT32_MAX;
	return (int)s;
}

/* ------------------------------------------------------------ per account */

enum pv_rc
authn_lockout_check(const struct authn_lockout *st, int64_t now_ms, int *retry_after_s)
{
	if (st == NULL)
		return PV_E_INVALID;
	if (now_ms < st->locked_until_ms) {
		if (retry_after_s != NULL)
			*retry_after_s = ceil_seconds(st->locked_until_ms - now_ms);
		return PV_E_LOCKED;
	}
	return PV_OK;
}

bool
authn_lockout_fail(struct authn_lockout *st, int64_t now_ms, int threshold, int window_s,
    int duration_s)
{
	int64_t window_ms, duration_ms;

	if (st == NULL)
		return false;
	if (now_ms < st->locked_until_ms)
		return false;
	if (threshold < 1)
		threshold = 1;
	window_ms = (int64_t)(window_s > 0 ? window_s : 1) * 1000;
	duration_ms = (int64_t)(duration_s > 0 ? duration_s : 1) * 1000;
	/* A window older than window_s, or one "in the future" (clock stepped
	 * back), starts afresh. */
	if (st->failures <= 0 || now_ms - st->window_start_ms >= window_ms ||
	    now_ms < st->window_start_ms) {
		st->failures = 0;
		st->window_start_ms = now_ms;
	}
	st->failures++;
	if (st->failures >= threshold) {
		st->locked_until_ms = now_ms + duration_ms;
		st->failures = 0;
		st->window_start_ms = 0;
		return true;
	}
	return false;
}

void
authn_lockout_success(struct authn_lockout *st)
{
	if (st != NULL) {
		st->failures = 0;
		st->window_start_ms = 0;
		/* A success is only possible when not locked; leave a past
		 * locked_until as it is (harmless, and audit may show it). */
	}
}

/* ------------------------------------------------------------- per source */

struct tentry {
	uint64_t h;                  /* SipHash of the source; 0 = free slot */
	int64_t tat_ms;              /* theoretical arrival time */
};

struct authn_throttle {
	pthread_mutex_t lock;
	size_t nbuckets;             /* power of two */
	struct tentry *e;            /* nbuckets * WAYS */
	int64_t t_ms;                /* emission interval: window / limit */
	int64_t window_ms;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

enum pv_rc
authn_throttle_new(size_t capacity, int limit, int window_s, struct authn_throttle **out)
{
	struct authn_throttle *t = NULL;
	size_t nb = 1;
	enum pv_rc rc;

	if (out == NULL || capacity == 0 || capacity > CAPACITY_MAX || limit < 1 || window_s < 1) {
		rc = PV_E_INVALID;
		goto out;
	}
	while (nb * WAYS < capacity)
		nb <<= 1;
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->e = calloc(nb * WAYS, sizeof(*t->e))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (sodium_init() < 0) {     /* SipHash below; idempotent, thread-safe */
		rc = PV_E_CRYPTO;
		goto out;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		rc = PV_E_INTERNAL;
		goto out;
	}
	if ((rc = crypto_random(t->key, sizeof(t->key))) != PV_OK) {
		pthread_mutex_destroy(&t->lock);
		goto out;
	}
	t->nbuckets = nb;
	t->window_ms = (int64_t)window_s * 1000;
	t->t_ms = t->window_ms / limit > 0 ? t->window_ms / limit : 1;
	*out = t;
	t = NULL;
	rc = PV_OK;
out:
	if (t != NULL) {
		free(t->e);
		free(t);
	}
	return rc;
}

void
authn_throttle_free(struct authn_throttle *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	crypto_wipe(t->key, sizeof(t->key));
	free(t->e);
	free(t);
}

static uint64_t
source_hash(const struct authn_throttle *t, const char *source)
{
	uint8_t h8[crypto_shorthash_BYTES];
	uint64_t h = 0;
	size_t i, len;

	if (source == NULL)
		source = "";
	len = strnlen(source, SOURCE_MAX_BYTES);
	crypto_shorthash(h8, (const unsigned char *)source, len, t->key);
	for (i = 0; i < sizeof(h8); i++)
		h = h << 8 | h8[i];
	return h != 0 ? h : 1;       /* 0 marks a free slot */
}

static struct tentry *
lookup(struct authn_throttle *t, uint64_t h)
{
	struct tentry *b = &t->e[(h & (t->nbuckets - 1)) * WAYS];
	size_t i;

	for (i = 0; i < WAYS; i++)
		if (b[i].h == h)
			return &b[i];
	return NULL;
}

/* A slot for h in its bucket: free, or refilled (tat <= now: the entry
 * holds no state worth keeping), or else the least throttled. */
static struct tentry *
insert(struct authn_throttle *t, uint64_t h, int64_t now_ms)
{
	struct tentry *b = &t->e[(h & (t->nbuckets - 1)) * WAYS], *victim = &b[0];
	size_t i;

	for (i = 0; i < WAYS; i++) {
		if (b[i].h == 0 || b[i].tat_ms <= now_ms) {
			victim = &b[i];
			break;
		}
		if (b[i].tat_ms < victim->tat_ms)
			victim = &b[i];
	}
	victim->h = h;
	victim->tat_ms = now_ms;
	return victim;
}

/* Would one more failure at now exceed the limit? */
static enum pv_rc
verdict(const struct authn_throttle *t, const struct tentry *e, int64_t now_ms,
    int *retry_after_s)
{
	int64_t tat = e != NULL && e->tat_ms > now_ms ? e->tat_ms : now_ms;
	int64_t next = tat + t->t_ms;

	if (next - now_ms > t->window_ms) {
		if (retry_after_s != NULL)
			*retry_after_s = ceil_seconds(next - t->window_ms - now_ms);
		return PV_E_RATE;
	}
	return PV_OK;
}

enum pv_rc
authn_throttle_check(struct authn_throttle *t, const char *source, int64_t now_ms,
    int *retry_after_s)
{
	enum pv_rc rc;
	uint64_t h;

	if (t == NULL)
		return PV_E_INVALID;
	h = source_hash(t, source);
	if (pthread_mutex_lock(&t->lock) != 0)
		return PV_E_INTERNAL;
	rc = verdict(t, lookup(t, h), now_ms, retry_after_s);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

enum pv_rc
authn_throttle_reserve(struct authn_throttle *t, const char *source, int64_t now_ms,
    int *retry_after_s)
{
	struct tentry *e;
	enum pv_rc rc;
	uint64_t h;

	if (t == NULL)
		return PV_E_INVALID;
	h = source_hash(t, source);
	if (pthread_mutex_lock(&t->lock) != 0)
		return PV_E_INTERNAL;
	e = lookup(t, h);
	/* check and count under one lock: N concurrent callers get at most
	 * `limit` slots, whatever the interleaving */
	if ((rc = verdict(t, e, now_ms, retry_after_s)) == PV_OK) {
		if (e == NULL)
			e = insert(t, h, now_ms);
		e->tat_ms = (e->tat_ms > now_ms ? e->tat_ms : now_ms) + t->t_ms;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void
authn_throttle_release(struct authn_throttle *t, const char *source, int64_t now_ms)
{
	struct tentry *e;
	uint64_t h;

	if (t == NULL)
		return;
	h = source_hash(t, source);
	if (pthread_mutex_lock(&t->lock) != 0)
		return;
	if ((e = lookup(t, h)) != NULL && e->tat_ms > now_ms) {
		e->tat_ms -= t->t_ms;
		if (e->tat_ms < now_ms)
			e->tat_ms = now_ms;
	}
	pthread_mutex_unlock(&t->lock);
}

size_t
authn_throttle_count(struct authn_throttle *t)
{
	size_t i, n = 0;

	if (t == NULL || pthread_mutex_lock(&t->lock) != 0)
		return 0;
	for (i = 0; i < t->nbuckets * WAYS; i++)
		if (t->e[i].h != 0)
			n++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t
authn_throttle_capacity(struct authn_throttle *t)
{
	return t != NULL ? t->nbuckets * WAYS : 0;
}
