/*
 * rules.c: the detection rules over committed audit entries
 * (docs/internals/detect.md has the table of rules, keys and thresholds).
 *
 * State: three bounded tables keyed by text -- accounts (the account a
 * sign-in names: its user ID, or "h:<hmac>" for a name that is no account),
 * sources (client addresses) and users (actor user IDs) -- each at most
 * DETECT_TABLE_MAX entries, the least recently touched dropped when full.
 * A user's baseline is loaded through io->baseline_load the first time the
 * user is seen and marked dirty when it changes; the engine persists dirty
 * baselines with its position (detect_rules_each_dirty).
 *
 * Everything here is a function of the entries fed in and their times: no
 * clock, no I/O but the two callbacks. Hits carry IDs, addresses, counts
 * and rule names only: never a typed username (unknown names are only ever
 * seen as the HMAC the login entry holds).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect_int.h"

#define DETECT_TABLE_MAX 2048
#define DETECT_TABLE_BUCKETS 1024

struct entry {
	char key[STORE_ALERT_ACTOR_MAX];
	struct entry *hnext;
	struct entry *older, *newer;     /* LRU list */
	/* accounts */
	struct detect_window fail;
	/* sources */
	struct detect_distinct spray;
	/* users */
	struct detect_window mfa, bulk, enumeration, decrypt;
	int64_t changed_ms;              /* last role/group change; 0: none pending */
	bool dirty;
	struct detect_baseline base;
};

struct table {
	struct entry *bucket[DETECT_TABLE_BUCKETS];
	struct entry *oldest, *newest;
	size_t n;
};

struct detect_rules {
	struct detect_thresholds t;
	struct detect_rules_io io;
	struct table accounts, sources, users;
};

void
detect_thresholds_from_config(const struct pv_config *c, struct detect_thresholds *t)
{
	memset(t, 0, sizeof(*t));
	t->brute_force_failures = c->detect_brute_force_failures;
	t->brute_force_window_ms = (int64_t)c->detect_brute_force_window_s * 1000;
	t->spray_accounts = c->detect_spray_accounts;
	t->spray_window_ms = (int64_t)c->detect_spray_window_s * 1000;
	t->baseline_min_logins = c->detect_baseline_min_logins;
	t->unusual_hour_min_logins = c->detect_unusual_hour_min_logins;
	t->unusual_hour_margin_h = c->detect_unusual_hour_margin_h;
	t->mfa_failures = c->detect_mfa_failures;
	t->mfa_window_ms = (int64_t)c->detect_mfa_window_s * 1000;
	t->bulk_read_window_ms = (int64_t)c->detect_bulk_read_window_s * 1000;
	t->bulk_read_max = c->detect_bulk_read_max;
	t->bulk_read_factor = c->detect_bulk_read_factor;
	t->bulk_read_min = c->detect_bulk_read_min;
	t->bulk_read_min_windows = c->detect_bulk_read_min_windows;
	t->enumeration_max = c->detect_enumeration_max;
	t->enumeration_window_ms = (int64_t)c->detect_enumeration_window_s * 1000;
	t->change_read_window_ms = (int64_t)c->detect_change_read_window_s * 1000;
	t->decrypt_failures = c->detect_decrypt_failures;
	t->decrypt_window_ms = (int64_t)c->detect_decrypt_window_s * 1000;
	t->sink_lag_check_ms = (int64_t)c->detect_sink_lag_check_s * 1000;
	t->sink_lag_max = c->detect_sink_lag_max;
	t->sink_lag_for_ms = (int64_t)c->detect_sink_lag_for_s * 1000;
	t->drill_overdue_ms = (int64_t)c->backup_drill_every_s * 2000;
}

/* ---- tables ---- */

static void
lru_unlink(struct table *tb, struct entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		tb->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		tb->newest = e->older;
	e->older = e->newer = NULL;
}

static void
lru_push(struct table *tb, struct entry *e)
{
	e->older = tb->newest;
	e->newer = NULL;
	if (tb->newest)
		tb->newest->newer = e;
	else
		tb->oldest = e;
	tb->newest = e;
}

static void
table_drop(struct table *tb, struct entry *e)
{
	struct entry **pp = &tb->bucket[detect_hash(e->key) % DETECT_TABLE_BUCKETS];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(tb, e);
	tb->n--;
	free(e);
}

static void
table_free(struct table *tb)
{
	while (tb->oldest)
		table_drop(tb, tb->oldest);
}

static void
entry_init(struct detect_rules *r, struct entry *e)
{
	detect_window_init(&e->fail, r->t.brute_force_window_ms);
	detect_window_init(&e->mfa, r->t.mfa_window_ms);
	detect_window_init(&e->bulk, r->t.bulk_read_window_ms);
	detect_window_init(&e->enumeration, r->t.enumeration_window_ms);
	detect_window_init(&e->decrypt, r->t.decrypt_window_ms);
}

/* The entry for key, made if new (NULL: out of memory or key too long). */
static struct entry *
table_get(struct detect_rules *r, struct table *tb, const char *key, bool *made)
{
	size_t b = detect_hash(key) % DETECT_TABLE_BUCKETS;
	struct entry *e;

	*made = false;
	if (strlen(key) >= sizeof(e->key))
		return NULL;
	for (e = tb->bucket[b]; e; e = e->hnext)
		if (strcmp(e->key, key) == 0) {
			lru_unlink(tb, e);
			lru_push(tb, e);
			return e;
		}
	if (tb->n == DETECT_TABLE_MAX)
		table_drop(tb, tb->oldest);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	util_strlcpy(e->key, key, sizeof(e->key));
	entry_init(r, e);
	e->hnext = tb->bucket[b];
	tb->bucket[b] = e;
	lru_push(tb, e);
	tb->n++;
	*made = true;
	return e;
}

static struct entry *
user_get(struct detect_rules *r, const char *user_id)
{
	bool made;
	struct entry *e = table_get(r, &r->users, user_id, &made);

	if (e != NULL && made && r->io.baseline_load != NULL &&
	    !r->io.baseline_load(r->io.arg, user_id, &e->base))
		memset(&e->base, 0, sizeof(e->base));
	return e;
}

enum pv_rc
detect_rules_new(const struct detect_thresholds *t, const struct detect_rules_io *io,
    struct detect_rules **out)
{
	struct detect_rules *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return PV_E_NOMEM;
	r->t = *t;
	if (io != NULL)
		r->io = *io;
	*out = r;
	return PV_OK;
}

void
detect_rules_free(struct detect_rules *r)
{
	if (r == NULL)
		return;
	table_free(&r->accounts);
	table_free(&r->sources);
	table_free(&r->users);
	free(r);
}

void
detect_rules_each_dirty(struct detect_rules *r,
    void (*cb)(void *arg, const char *user_id, const struct detect_baseline *b), void *arg)
{
	for (struct entry *e = r->users.oldest; e; e = e->newer)
		if (e->dirty) {
			cb(arg, e->key, &e->base);
			e->dirty = false;
		}
}

/* ---- events ---- */

bool
detect_is_user_id(const char *id)
{
	return util_str_has_prefix(id, "usr_") || util_str_has_prefix(id, "app_");
}

/* The actor column as the writer makes it: a flat, compact JSON object
 * whose values are strings, numbers, null, or arrays of strings. Copies
 * user_id and source; false (use jansson) on anything else, e.g. an escape. */
static const char *
skip_string(const char *p)
{
	for (p++; *p != '"'; p++)
		if (*p == '\0' || *p == '\\')
			return NULL;
	return p + 1;
}

static bool
actor_fast(const char *p, struct detect_event *ev)
{
	if (*p++ != '{')
		return false;
	if (*p == '}')
		return p[1] == '\0';
	for (;;) {
		const char *k, *v;
		size_t kn;

		if (*p != '"' || (v = skip_string(p)) == NULL)
			return false;
		k = p + 1;
		kn = (size_t)(v - k - 1);
		if (*v++ != ':')
			return false;
		if (*v == '"') {
			const char *e = skip_string(v);
			size_t n;

			if (e == NULL)
				return false;
			n = (size_t)(e - v - 2);
			if (kn == 7 && memcmp(k, "user_id", 7) == 0 && n < sizeof(ev->user_id)) {
				memcpy(ev->user_id, v + 1, n);
				ev->user_id[n] = '\0';
			} else if (kn == 6 && memcmp(k, "source", 6) == 0 &&
			    n < sizeof(ev->source)) {
				memcpy(ev->source, v + 1, n);
				ev->source[n] = '\0';
			}
			p = e;
		} else if (*v == '[') {
			for (v++; *v == '"'; ) {
				if ((v = skip_string(v)) == NULL)
					return false;
				if (*v == ',')
					v++;
			}
			if (*v != ']')
				return false;
			p = v + 1;
		} else {
			/* null, true, false or a number */
			p = v + strspn(v, "0123456789-+.eEnulltruefals");
			if (p == v)
				return false;
		}
		if (*p == '}')
			return p[1] == '\0';
		if (*p++ != ',')
			return false;
	}
}

enum pv_rc
detect_event_from_row(const struct store_audit_row *row, struct detect_event *ev)
{
	json_t *a;
	const char *u, *s;

	memset(ev, 0, sizeof(*ev));
	ev->seq = row->seq;
	if ((ev->t_ms = util_time_parse(row->time)) < 0)
		return PV_E_INVALID;
	ev->action = row->action;
	ev->outcome = row->outcome;
	ev->reason = row->reason;
	ev->resource = row->resource;
	ev->detail = row->detail;
	util_strlcpy(ev->user_id, "anonymous", sizeof(ev->user_id));
	if (row->actor != NULL && actor_fast(row->actor, ev))
		return PV_OK;
	util_strlcpy(ev->user_id, "anonymous", sizeof(ev->user_id));
	ev->source[0] = '\0';
	if (row->actor == NULL || (a = json_loads(row->actor, 0, NULL)) == NULL)
		return PV_E_INVALID;
	u = json_string_value(json_object_get(a, "user_id"));
	s = json_string_value(json_object_get(a, "source"));
	if (u != NULL && strlen(u) < sizeof(ev->user_id))
		util_strlcpy(ev->user_id, u, sizeof(ev->user_id));
	if (s != NULL && strlen(s) < sizeof(ev->source))
		util_strlcpy(ev->source, s, sizeof(ev->source));
	json_decref(a);
	return PV_OK;
}

static bool
is(const char *a, const char *b)
{
	return a != NULL && strcmp(a, b) == 0;
}

/* "users/<id>" -> id (NULL otherwise) */
static const char *
user_of_resource(const char *res)
{
	if (res == NULL || !util_str_has_prefix(res, "users/"))
		return NULL;
	res += strlen("users/");
	return detect_is_user_id(res) && strchr(res, '/') == NULL ? res : NULL;
}

/* The account a failed sign-in names: the user's ID when the entry names
 * it (resource users/<id>, or a known username in detail), else "h:" +
 * the HMAC the entry holds for a name that is no account, else "~invalid". */
static void
account_of(struct detect_rules *r, const struct detect_event *ev, char out[STORE_ALERT_ACTOR_MAX])
{
	const char *id = user_of_resource(ev->resource), *v;
	json_t *d;

	util_strlcpy(out, "~invalid", STORE_ALERT_ACTOR_MAX);
	if (id != NULL) {
		util_strlcpy(out, id, STORE_ALERT_ACTOR_MAX);
		return;
	}
	if (ev->detail == NULL || (d = json_loads(ev->detail, 0, NULL)) == NULL)
		return;
	if ((v = json_string_value(json_object_get(d, "username_hmac"))) != NULL &&
	    strlen(v) <= 64) {
		snprintf(out, STORE_ALERT_ACTOR_MAX, "h:%s", v);
	} else if ((v = json_string_value(json_object_get(d, "username"))) != NULL &&
	    strcmp(v, "(invalid)") != 0) {
		/* a known user's name (locked attempts): the entry's own record of
		 * it; the alert carries the ID, or "unknown" if it cannot be found */
		if (r->io.user_by_name == NULL || !r->io.user_by_name(r->io.arg, v, out))
			util_strlcpy(out, "unknown", STORE_ALERT_ACTOR_MAX);
	}
	json_decref(d);
}

static bool
detail_has(const char *detail, const char *key)
{
	json_t *d;
	bool has;

	if (detail == NULL || (d = json_loads(detail, 0, NULL)) == NULL)
		return false;
	has = json_object_get(d, key) != NULL;
	json_decref(d);
	return has;
}

static size_t
hit(struct detect_hit *hits, size_t n, size_t max, const char *rule, const char *sev,
    const char *actor, const char *source, int64_t count, int64_t t_ms)
{
	if (n >= max)
		return n;
	memset(&hits[n], 0, sizeof(hits[n]));
	hits[n].rule = rule;
	hits[n].severity = sev;
	util_strlcpy(hits[n].actor, actor, sizeof(hits[n].actor));
	util_strlcpy(hits[n].source, source, sizeof(hits[n].source));
	hits[n].count = count < 1 ? 1 : count;
	hits[n].t_ms = t_ms;
	return n + 1;
}

static bool
login_failure(const struct detect_event *ev)
{
	return is(ev->action, "auth.login") && is(ev->outcome, "denied") &&
	    (is(ev->reason, "bad_password") || is(ev->reason, "unknown_user") ||
	    is(ev->reason, "locked") || is(ev->reason, "disabled"));
}

static bool
sign_in(const struct detect_event *ev)
{
	return is(ev->outcome, "allowed") && detect_is_user_id(ev->user_id) &&
	    ((is(ev->action, "auth.login") && !is(ev->reason, "mfa_required")) ||
	    is(ev->action, "auth.mfa"));
}

static bool
mfa_failure(const struct detect_event *ev)
{
	return is(ev->action, "auth.mfa") && is(ev->outcome, "denied") &&
	    user_of_resource(ev->resource) != NULL &&
	    (is(ev->reason, "bad_totp") || is(ev->reason, "bad_recovery_code") ||
	    is(ev->reason, "too_many_attempts") || is(ev->reason, "locked"));
}

/* A counted read: PHI (a record, a detokenized value) or an application
 * secret (secret.read: not PHI, but the bulk-read and change-then-read
 * rules watch it the same way). */
static bool
counted_read_action(const char *action)
{
	return is(action, "record.read") || is(action, "token.detokenize") ||
	    is(action, "secret.read");
}

static bool
phi_read(const struct detect_event *ev)
{
	return counted_read_action(ev->action) && is(ev->outcome, "allowed") &&
	    detect_is_user_id(ev->user_id);
}

/* The secrets sweeper's report of a secret past its rotate_every_s
 * (src/secrets/overdue.c): resource secrets/<path>, the system actor. */
static bool
rotation_overdue(const struct detect_event *ev)
{
	return is(ev->action, "secret.rotation_overdue") && is(ev->outcome, "allowed") &&
	    ev->resource != NULL && util_str_has_prefix(ev->resource, "secrets/");
}

/* a read opened something under a key version marked compromised (the
 * vault records it at most once a minute a version) */
static bool
compromised_use(const struct detect_event *ev)
{
	return is(ev->action, "key.compromised_use") && ev->resource != NULL &&
	    util_str_has_prefix(ev->resource, "keys/");
}

/* Break-glass (src/vault/ops_breakglass.c): an activation, a review left
 * open past its due time (the sweeper's review.overdue, system actor), and
 * a review that found the use inappropriate (review.decide, reason
 * inappropriate). */
static bool
break_glass_use(const struct detect_event *ev)
{
	return is(ev->action, "breakglass.activate") && is(ev->outcome, "allowed") &&
	    detect_is_user_id(ev->user_id);
}

static bool
review_overdue(const struct detect_event *ev)
{
	return is(ev->action, "review.overdue") && is(ev->outcome, "allowed") &&
	    ev->resource != NULL && util_str_has_prefix(ev->resource, "reviews/");
}

static bool
review_inappropriate(const struct detect_event *ev)
{
	return is(ev->action, "review.decide") && is(ev->outcome, "allowed") &&
	    is(ev->reason, "inappropriate") && ev->resource != NULL &&
	    util_str_has_prefix(ev->resource, "reviews/");
}

/* An access review campaign past its due date with unattested items, when
 * [reviews] on_due = alert (src/directory/campaigns.c: the sweeper's
 * review.campaign.overdue, system actor, once per campaign). */
static bool
access_review_overdue(const struct detect_event *ev)
{
	return is(ev->action, "review.campaign.overdue") && is(ev->outcome, "allowed") &&
	    ev->resource != NULL && util_str_has_prefix(ev->resource, "reviews/campaigns/");
}

/* The TLS watcher's report of the certificate at 30, 7 or 1 days left or
 * expired (src/cli/tls_wire.c): resource tls/<fingerprint>/<reason>, the
 * system actor; one alert per certificate and threshold. */
static const char *
tls_expiry_severity(const struct detect_event *ev)
{
	if (!is(ev->action, "tls.cert_expiring") || !is(ev->outcome, "allowed") ||
	    ev->resource == NULL || !util_str_has_prefix(ev->resource, "tls/"))
		return NULL;
	if (is(ev->reason, "30d"))
		return "medium";
	if (is(ev->reason, "7d"))
		return "high";
	return "critical";   /* 1d, expired */
}

static bool
probe(const struct detect_event *ev)
{
	if (!detect_is_user_id(ev->user_id))
		return false;
	if (is(ev->action, "record.search"))
		return true;
	return counted_read_action(ev->action) && !is(ev->outcome, "allowed") &&
	    is(ev->reason, "not_found");
}

/* A verification over the API that found the trail broken (audit.verify,
 * outcome error: reason chain_broken or signature_bad). */
static bool
verify_failure(const struct detect_event *ev)
{
	return is(ev->action, "audit.verify") && is(ev->outcome, "error");
}

/* An operation that could not decrypt what it read (AEAD tag, envelope):
 * recorded with reason "integrity" (vault_fail_audited), whatever the action. */
static bool
decrypt_failure(const struct detect_event *ev)
{
	return is(ev->outcome, "error") && is(ev->reason, "integrity");
}

static size_t
on_login_failure(struct detect_rules *r, const struct detect_event *ev, struct detect_hit *hits,
    size_t n, size_t max)
{
	char acct[STORE_ALERT_ACTOR_MAX];
	struct entry *e;
	bool made;
	uint32_t c;

	account_of(r, ev, acct);
	if ((e = table_get(r, &r->accounts, acct, &made)) != NULL) {
		detect_window_add(&e->fail, ev->t_ms);
		c = detect_window_count(&e->fail, ev->t_ms);
		if (c >= (uint32_t)r->t.brute_force_failures)
			n = hit(hits, n, max, DETECT_RULE_BRUTE_FORCE, "high", acct, ev->source, c,
			    ev->t_ms);
	}
	if (ev->source[0] != '\0' &&
	    (e = table_get(r, &r->sources, ev->source, &made)) != NULL) {
		size_t d;

		detect_distinct_add(&e->spray, detect_hash(acct), ev->t_ms, r->t.spray_window_ms);
		d = detect_distinct_count(&e->spray, ev->t_ms, r->t.spray_window_ms);
		if (d >= (size_t)r->t.spray_accounts)
			n = hit(hits, n, max, DETECT_RULE_PASSWORD_SPRAY, "high", "anonymous",
			    ev->source, (int64_t)d, ev->t_ms);
	}
	return n;
}

static size_t
on_sign_in(struct detect_rules *r, const struct detect_event *ev, struct detect_hit *hits,
    size_t n, size_t max)
{
	struct entry *e;
	char net[DETECT_NET_MAX];
	bool made, have_net;
	int hour = (int)((ev->t_ms / 3600000) % 24);

	/* a user who mistyped and then signed in is not part of a spray */
	if (ev->source[0] != '\0' && (e = table_get(r, &r->sources, ev->source, &made)) != NULL)
		detect_distinct_remove(&e->spray, detect_hash(ev->user_id));
	if ((e = user_get(r, ev->user_id)) == NULL)
		return n;
	have_net = detect_network_of(ev->source, net);
	if (have_net && e->base.logins >= r->t.baseline_min_logins &&
	    !detect_baseline_knows(&e->base, net))
		n = hit(hits, n, max, DETECT_RULE_NEW_NETWORK, "medium", ev->user_id, ev->source, 1,
		    ev->t_ms);
	if (e->base.logins >= r->t.unusual_hour_min_logins &&
	    detect_baseline_hour_distance(&e->base, hour) > r->t.unusual_hour_margin_h)
		n = hit(hits, n, max, DETECT_RULE_UNUSUAL_HOUR, "low", ev->user_id, ev->source, 1,
		    ev->t_ms);
	detect_baseline_learn(&e->base, have_net ? net : NULL, hour);
	e->dirty = true;
	return n;
}

static size_t
on_read(struct detect_rules *r, const struct detect_event *ev, struct detect_hit *hits,
    size_t n, size_t max)
{
	struct entry *e = user_get(r, ev->user_id);
	struct detect_baseline *b;
	int64_t period;
	uint32_t c;

	if (e == NULL)
		return n;
	b = &e->base;
	/* the actor's own baseline: reads per active window, averaged
	 * (exponentially, weight 1/5) over the windows it read in */
	period = ev->t_ms / r->t.bulk_read_window_ms;
	if (period != b->bulk_period) {
		if (b->bulk_period_reads > 0) {
			b->bulk_avg = b->bulk_windows == 0 ? (double)b->bulk_period_reads :
			    b->bulk_avg * 0.8 + (double)b->bulk_period_reads * 0.2;
			b->bulk_windows++;
		}
		b->bulk_period = period;
		b->bulk_period_reads = 0;
	}
	b->bulk_period_reads++;
	e->dirty = true;
	detect_window_add(&e->bulk, ev->t_ms);
	c = detect_window_count(&e->bulk, ev->t_ms);
	if (c > (uint32_t)r->t.bulk_read_max ||
	    (b->bulk_windows >= r->t.bulk_read_min_windows && c >= (uint32_t)r->t.bulk_read_min &&
	    (double)c > (double)r->t.bulk_read_factor * (b->bulk_avg < 1 ? 1 : b->bulk_avg)))
		n = hit(hits, n, max, DETECT_RULE_BULK_READ, "high", ev->user_id, ev->source, c,
		    ev->t_ms);
	if (e->changed_ms != 0) {
		if (ev->t_ms - e->changed_ms <= r->t.change_read_window_ms)
			n = hit(hits, n, max, DETECT_RULE_CHANGE_THEN_READ, "medium", ev->user_id,
			    ev->source, 1, ev->t_ms);
		e->changed_ms = 0;
	}
	return n;
}

size_t
detect_rules_feed(struct detect_rules *r, const struct detect_event *ev,
    struct detect_hit *hits, size_t max)
{
	size_t n = 0;
	struct entry *e;
	const char *target, *sev;
	uint32_t c;

	if (ev->action == NULL || util_str_has_prefix(ev->action, "alert."))
		return 0;   /* the detector's own entries and alert reads */
	if (login_failure(ev))
		return on_login_failure(r, ev, hits, n, max);
	if (sign_in(ev))
		return on_sign_in(r, ev, hits, n, max);
	if (mfa_failure(ev)) {
		target = user_of_resource(ev->resource);
		if ((e = user_get(r, target)) != NULL) {
			detect_window_add(&e->mfa, ev->t_ms);
			c = detect_window_count(&e->mfa, ev->t_ms);
			if (c >= (uint32_t)r->t.mfa_failures)
				n = hit(hits, n, max, DETECT_RULE_MFA_FAILURES, "high", target,
				    ev->source, c, ev->t_ms);
		}
		return n;
	}
	if (rotation_overdue(ev))
		return hit(hits, n, max, DETECT_RULE_SECRET_ROTATION_OVERDUE, "medium",
		    ev->resource, "", 1, ev->t_ms);
	if (compromised_use(ev))
		return hit(hits, n, max, DETECT_RULE_KEY_COMPROMISED_USE, "critical", ev->resource,
		    ev->source, 1, ev->t_ms);
	if (verify_failure(ev))
		return hit(hits, n, max, DETECT_RULE_AUDIT_VERIFY_FAILURE, "critical", ev->user_id,
		    ev->source, 1, ev->t_ms);
	if (break_glass_use(ev))
		return hit(hits, n, max, DETECT_RULE_BREAK_GLASS_USE, "high", ev->user_id,
		    ev->source, 1, ev->t_ms);
	if ((sev = tls_expiry_severity(ev)) != NULL)
		return hit(hits, n, max, DETECT_RULE_TLS_CERT_EXPIRY, sev, ev->resource, "", 1,
		    ev->t_ms);
	if (review_overdue(ev))
		return hit(hits, n, max, DETECT_RULE_REVIEW_OVERDUE, "medium", ev->resource, "", 1,
		    ev->t_ms);
	if (access_review_overdue(ev))
		return hit(hits, n, max, DETECT_RULE_ACCESS_REVIEW_OVERDUE, "medium", ev->resource,
		    "", 1, ev->t_ms);
	if (review_inappropriate(ev))
		return hit(hits, n, max, DETECT_RULE_BREAKGLASS_INAPPROPRIATE, "high", ev->resource,
		    ev->source, 1, ev->t_ms);
	if (decrypt_failure(ev)) {
		if ((e = user_get(r, ev->user_id)) != NULL) {
			detect_window_add(&e->decrypt, ev->t_ms);
			c = detect_window_count(&e->decrypt, ev->t_ms);
			if (c >= (uint32_t)r->t.decrypt_failures)
				n = hit(hits, n, max, DETECT_RULE_DECRYPT_FAILURES, "high", ev->user_id,
				    ev->source, c, ev->t_ms);
		}
		return n;
	}
	if (phi_read(ev))
		return on_read(r, ev, hits, n, max);
	if (probe(ev)) {
		if ((e = user_get(r, ev->user_id)) != NULL) {
			detect_window_add(&e->enumeration, ev->t_ms);
			c = detect_window_count(&e->enumeration, ev->t_ms);
			if (c >= (uint32_t)r->t.enumeration_max)
				n = hit(hits, n, max, DETECT_RULE_ENUMERATION, "medium", ev->user_id,
				    ev->source, c, ev->t_ms);
		}
		return n;
	}
	/* a change of what a principal may do: roles or groups of a user */
	if (is(ev->action, "user.update") && is(ev->outcome, "allowed") &&
	    (target = user_of_resource(ev->resource)) != NULL &&
	    (detail_has(ev->detail, "roles") || detail_has(ev->detail, "groups"))) {
		if ((e = user_get(r, target)) != NULL)
			e->changed_ms = ev->t_ms > 0 ? ev->t_ms : 1;
	}
	return n;
}
