/*
 * compliance/tracking.c: configuration change tracking, the approved
 * baseline and the exceptions register (issue 19 item 6; compliance.h,
 * docs/internals/compliance.md "Configuration tracking", docs/governance.md).
 *
 * State (meta values, JSON; see compliance.h for their shapes):
 *   config.effective/<node>   written by compliance_config_track only, in
 *                             the commit of the node's first config.loaded
 *                             or of its config.changed
 *   compliance.baseline       written by compliance_baseline_approve
 *   compliance.exceptions     written by compliance_exception_add / _remove
 * Every write is a read-modify-write inside the commit function of the
 * entry that records it: the committer runs those one at a time, so two
 * concurrent officers never lose each other's change, and no change exists
 * without its entry.
 *
 * The request routes (baseline approve, exception add / remove) submit
 * with audit_commit_held: the answer is built from what the caller knew
 * before (the document, the generated exception ID) and leaves after the
 * fsync, so no request thread waits for it; a register found full, or an
 * ID not in it, is answered with its message from a read before the
 * submit (its error entry audit_record_held), and a change that loses the
 * race to another is the commit function's 409 / 404. Off a request thread
 * (tests) they block as before.
 *
 * What is never written anywhere here: a secret. The effective
 * configuration is redacted by config_effective_json; config.changed names
 * secret keys without values; an exception's free-text reason is kept in
 * the register (and shown in the report) but not copied into the audit
 * entry.
 *
 * Drift ignores server.node: it must differ between the nodes of one vault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compliance/compliance_int.h"

#define META_EFFECTIVE "config.effective/"
#define META_BASELINE "compliance.baseline"
#define META_EXCEPTIONS "compliance.exceptions"
#define EXCEPTIONS_MAX 256
#define REASON_MAX 1024
#define EXPIRY_MAX_MS (366LL * 86400 * 1000)   /* an accepted risk is reviewed yearly */

static const char *const drift_skip[] = { "server.node", NULL };

/* ---- meta helpers ---- */

static enum pv_rc
meta_json(struct store_tx *tx, const char *key, json_t **out)
{
	uint8_t *v = NULL;
	size_t n = 0;
	enum pv_rc rc = store_meta_get(tx, key, &v, &n);
	json_t *j;

	if (rc != PV_OK)
		return rc;
	j = json_loadb((const char *)v, n, 0, NULL);
	free(v);
	if (!json_is_object(j)) {
		json_decref(j);
		log_error("compliance: meta %s is not a JSON object", key);
		return PV_E_INTERNAL;
	}
	*out = j;
	return PV_OK;
}

static enum pv_rc
meta_put_json(struct store_tx *tx, const char *key, const json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	enum pv_rc rc;

	if (t == NULL)
		return PV_E_NOMEM;
	rc = store_meta_put(tx, key, (const uint8_t *)t, strlen(t));
	free(t);
	return rc;
}

static enum pv_rc
read_json(struct store *st, const char *key, json_t **out)
{
	enum pv_rc rc;

	STORE_READ(st, rc, meta_json(tx, key, out));
	return rc;
}

/* ---- tracking ---- */

struct track_put {
	const char *key;
	json_t *doc;
};

static enum pv_rc
put_fn(struct store_tx *tx, void *arg)
{
	const struct track_put *p = arg;

	return meta_put_json(tx, p->key, p->doc);
}

/* An entry's detail is bounded (64 KiB, audit_int.h): when every value of a
 * long change list would not fit, the entry names the keys only. */
#define DETAIL_BUDGET 60000

static bool
names_only(json_t *changes, json_t *d, char **detail)
{
	json_t *c;
	size_t i;

	json_array_foreach(changes, i, c) {
		json_object_del(c, "old");
		json_object_del(c, "new");
	}
	json_object_set_new(d, "values_omitted", json_true());
	free(*detail);
	*detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	return *detail != NULL && strlen(*detail) <= DETAIL_BUDGET;
}

enum pv_rc
compliance_config_track(struct audit *a, struct store *st, const struct pv_config *cfg,
    const char *node, const char *why, bool *changed)
{
	char key[160], hash[CONFIG_HASH_HEX], *text = NULL, *diff = NULL, *detail = NULL;
	json_t *prev = NULL, *doc = NULL, *cfgobj = NULL, *d = NULL;
	struct track_put put;
	struct audit_event ev;
	const char *phash = NULL;
	size_t len = 0, n = 0;
	enum pv_rc rc;

	if (changed != NULL)
		*changed = false;
	snprintf(key, sizeof key, META_EFFECTIVE "%s", node);
	if ((rc = config_effective_json(cfg, &text, &len, hash)) != PV_OK)
		return rc;
	rc = read_json(st, key, &prev);
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		goto out;
	if ((cfgobj = json_loadb(text, len, 0, NULL)) == NULL ||
	    (doc = json_pack("{s:O, s:s}", "config", cfgobj, "hash", hash)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if (prev != NULL)
		phash = json_string_value(json_object_get(prev, "hash"));
	put.key = key;
	put.doc = doc;
	memset(&ev, 0, sizeof(ev));
	ev.actor = audit_actor_system();
	ev.action = "config.loaded";
	ev.resource = "config";
	ev.outcome = AUDIT_ALLOWED;
	if ((d = json_pack("{s:s, s:s, s:s}", "hash", hash, "node", node, "reason", why)) == NULL ||
	    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	ev.detail = detail;
	/* the first run of this node: its copy goes with config.loaded */
	rc = audit_commit(a, &ev, prev == NULL ? put_fn : NULL, &put);
	if (rc != PV_OK || prev == NULL || (phash != NULL && strcmp(phash, hash) == 0))
		goto out;
	{
		char *old = json_dumps(json_object_get(prev, "config"), JSON_COMPACT | JSON_SORT_KEYS);
		json_t *ch;

		if (old == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		rc = config_effective_diff(old, text, NULL, &diff, &n);
		free(old);
		if (rc != PV_OK)
			goto out;
		json_decref(d);
		free(detail);
		detail = NULL;
		if ((ch = json_loads(diff, 0, NULL)) == NULL ||
		    (d = json_pack("{s:s, s:s, s:s, s:O}", "hash", hash, "previous_hash",
		    phash != NULL ? phash : "", "node", node, "changed", ch)) == NULL ||
		    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
		    (strlen(detail) > DETAIL_BUDGET && !names_only(ch, d, &detail))) {
			json_decref(ch);
			rc = PV_E_NOMEM;
			goto out;
		}
		json_decref(ch);
	}
	ev.action = "config.changed";
	ev.detail = detail;
	if ((rc = audit_commit(a, &ev, put_fn, &put)) == PV_OK && changed != NULL)
		*changed = true;
	if (rc == PV_OK)
		log_info("config: %zu key(s) changed since the last run of node %s (config.changed)",
		    n, node);
out:
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		log_error("config: could not record the effective configuration: %s",
		    pv_rc_name(rc));
	free(text);
	free(diff);
	free(detail);
	json_decref(d);
	json_decref(doc);
	json_decref(cfgobj);
	json_decref(prev);
	return rc == PV_E_NOTFOUND ? PV_OK : rc;
}


/* The baseline's config object as canonical text, for the diff. */
static char *
baseline_text(const json_t *b)
{
	return json_dumps(json_object_get(b, "config"), JSON_COMPACT | JSON_SORT_KEYS);
}

enum pv_rc
compliance_sys_config(struct compliance_service *s, json_t **out)
{
	char hash[CONFIG_HASH_HEX], *text = NULL, *old = NULL, *diff = NULL;
	json_t *b = NULL, *o = NULL, *bl = json_null(), *dr = NULL, *cfg = NULL;
	size_t len = 0, n = 0;
	enum pv_rc rc;

	if ((rc = config_effective_json(s->d.cfg, &text, &len, hash)) != PV_OK)
		return rc;
	rc = read_json(s->d.st, META_BASELINE, &b);
	if (rc == PV_OK) {
		if ((old = baseline_text(b)) == NULL) {
			rc = PV_E_NOMEM;
			goto out;
		}
		if ((rc = config_effective_diff(old, text, drift_skip, &diff, &n)) != PV_OK)
			goto out;
		dr = json_loads(diff, 0, NULL);
		json_decref(bl);
		bl = json_pack("{s:O, s:O, s:O, s:O}", "hash", json_object_get(b, "hash"),
		    "approved_at", json_object_get(b, "approved_at"), "approved_by",
		    json_object_get(b, "approved_by"), "node", json_object_get(b, "node"));
	} else if (rc == PV_E_NOTFOUND) {
		dr = json_array();
		rc = PV_OK;
	} else
		goto out;
	cfg = json_loadb(text, len, 0, NULL);
	if (cfg == NULL || dr == NULL || bl == NULL ||
	    (o = json_pack("{s:s, s:s, s:O, s:O, s:O}", "node", s->d.node ? s->d.node : "",
	    "hash", hash, "config", cfg, "baseline", bl, "drift", dr)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	*out = o;
out:
	json_decref(cfg);
	json_decref(dr);
	json_decref(bl);
	json_decref(b);
	free(text);
	free(old);
	free(diff);
	return rc;
}

static enum pv_rc
baseline_fn(struct store_tx *tx, void *arg)
{
	return meta_put_json(tx, META_BASELINE, arg);
}

static void
json_arg_free(void *arg)
{
	json_decref(arg);
}

enum pv_rc
compliance_baseline_approve(struct compliance_service *s, const struct pv_actor *actor,
    json_t **out)
{
	char hash[CONFIG_HASH_HEX], when[40], *text = NULL, detail[200];
	json_t *cfg = NULL, *doc = NULL, *prev = NULL, *copy = NULL;
	struct audit_event ev;
	size_t len = 0;
	enum pv_rc rc;

	if ((rc = config_effective_json(s->d.cfg, &text, &len, hash)) != PV_OK)
		return rc;
	rc = read_json(s->d.st, META_BASELINE, &prev);
	if (rc != PV_OK && rc != PV_E_NOTFOUND)
		goto out;
	util_time_fmt(util_now_ms(), when, sizeof when);
	if ((cfg = json_loadb(text, len, 0, NULL)) == NULL ||
	    (doc = json_pack("{s:O, s:s, s:s, s:s, s:s}", "config", cfg, "hash", hash, "node",
	    s->d.node ? s->d.node : "", "approved_by", actor->user_id ? actor->user_id :
	    "anonymous", "approved_at", when)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	snprintf(detail, sizeof detail, "{\"hash\":\"%s\",\"previous_hash\":\"%s\"}", hash,
	    prev != NULL && json_is_string(json_object_get(prev, "hash")) ?
	    json_string_value(json_object_get(prev, "hash")) : "");
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "config.baseline";
	ev.resource = "compliance/baseline";
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	/* the committer writes its own copy; the answer is doc (not fn's) */
	if ((copy = json_deep_copy(doc)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = audit_commit_held(s->d.audit, &ev, baseline_fn, copy, json_arg_free)) != PV_OK)
		goto out;
	*out = doc;
	doc = NULL;
out:
	free(text);
	json_decref(cfg);
	json_decref(doc);
	json_decref(prev);
	return rc;
}

enum pv_rc
compliance_baseline_get(struct compliance_service *s, json_t **out)
{
	return read_json(s->d.st, META_BASELINE, out);
}

/* ---- the exceptions register ---- */

const char *
compliance_exception_state(const json_t *exc, int64_t now_ms)
{
	int64_t exp = util_time_parse(json_string_value(json_object_get(exc, "expires_at")));

	return exp > now_ms ? "live" : "expired";
}

const json_t *
compliance_exception_live(const json_t *reg, const char *cfr, int64_t now_ms)
{
	const json_t *best = NULL, *e;
	int64_t best_exp = 0;
	size_t i;

	json_array_foreach(reg, i, e) {
		int64_t exp;

		if (!json_is_string(json_object_get(e, "control")) ||
		    strcmp(json_string_value(json_object_get(e, "control")), cfr) != 0)
			continue;
		exp = util_time_parse(json_string_value(json_object_get(e, "expires_at")));
		if (exp > now_ms && exp > best_exp) {
			best = e;
			best_exp = exp;
		}
	}
	return best;
}

static bool
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool
control_known(const char *cfr)
{
	json_t *cat = NULL, *c;
	bool found = false;
	size_t i;

	if (compliance_catalog(&cat) != PV_OK)
		return false;
	json_array_foreach(json_object_get(cat, "controls"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "cfr")), cfr) == 0)
			found = true;
	json_decref(cat);
	return found;
}

struct exc_change {
	json_t *item;        /* add: the new exception */
	const char *id;      /* remove: its id */
	bool full, missing;
	char idbuf[UTIL_ID_MAX];   /* a held remove's own copy of id */
};

static void
exc_change_free(void *arg)
{
	struct exc_change *c = arg;

	json_decref(c->item);
	free(c);
}

/* The register as the store holds it now (outside the commit): *n items,
 * and whether id is one of them (id may be NULL). */
static enum pv_rc
exc_peek(struct compliance_service *s, const char *id, size_t *n, bool *has)
{
	json_t *reg = NULL, *e;
	size_t i;
	enum pv_rc rc = read_json(s->d.st, META_EXCEPTIONS, &reg);

	*n = 0;
	*has = false;
	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	*n = json_array_size(json_object_get(reg, "items"));
	json_array_foreach(json_object_get(reg, "items"), i, e)
		if (id != NULL && json_is_string(json_object_get(e, "id")) &&
		    strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
			*has = true;
	json_decref(reg);
	return PV_OK;
}

/* The error entry a refused register change records (as audit_commit
 * records one whose commit function failed: outcome error, reason the
 * rc's name), answered once durable. */
static enum pv_rc
exc_refuse(struct compliance_service *s, struct audit_event *ev, enum pv_rc rc)
{
	ev->outcome = AUDIT_ERROR;
	ev->reason = pv_rc_name(rc);
	return audit_record_held(s->d.audit, ev, true) == PV_OK ? rc : PV_E_AUDIT;
}

static enum pv_rc
exc_fn(struct store_tx *tx, void *arg)
{
	struct exc_change *c = arg;
	json_t *reg = NULL, *items, *e;
	size_t i;
	enum pv_rc rc = meta_json(tx, META_EXCEPTIONS, &reg);

	if (rc == PV_E_NOTFOUND) {
		if ((reg = json_pack("{s:[]}", "items")) == NULL)
			return PV_E_NOMEM;
	} else if (rc != PV_OK)
		return rc;
	items = json_object_get(reg, "items");
	if (!json_is_array(items)) {
		json_decref(reg);
		return PV_E_INTERNAL;
	}
	if (c->item != NULL) {
		if (json_array_size(items) >= EXCEPTIONS_MAX) {
			c->full = true;
			json_decref(reg);
			return PV_E_CONFLICT;
		}
		json_array_append(items, c->item);
	} else {
		c->missing = true;
		json_array_foreach(items, i, e)
			if (strcmp(json_string_value(json_object_get(e, "id")), c->id) == 0) {
				json_array_remove(items, i);
				c->missing = false;
				break;
			}
		if (c->missing) {
			json_decref(reg);
			return PV_E_NOTFOUND;
		}
	}
	rc = meta_put_json(tx, META_EXCEPTIONS, reg);
	json_decref(reg);
	return rc;
}

#define FAIL(r, m) do { rc = (r); if (msg != NULL) *msg = (m); goto out; } while (0)

enum pv_rc
compliance_exception_add(struct compliance_service *s, const struct pv_actor *actor,
    const json_t *body, json_t **out, const char **msg)
{
	const char *control = json_string_value(json_object_get(body, "control"));
	const char *reason = json_string_value(json_object_get(body, "reason"));
	const char *owner = json_string_value(json_object_get(body, "owner"));
	const char *expires = json_string_value(json_object_get(body, "expires_at"));
	char id[UTIL_ID_MAX], when[40], exp_s[40], detail[400], res[96];
	struct exc_change ch = { NULL, NULL, false, false, "" }, *held = NULL;
	struct store_user u;
	size_t nreg = 0;
	bool has = false;
	struct audit_event ev;
	int64_t now = util_now_ms(), exp;
	bool disabled;
	enum pv_rc rc;

	if (control == NULL || !text_ok(control, 64) || !control_known(control))
		FAIL(PV_E_INVALID, "control: the 45 CFR reference of a control of the catalog, "
		    "e.g. 164.308(a)(8)");
	if (reason == NULL || !text_ok(reason, REASON_MAX))
		FAIL(PV_E_INVALID, "reason: 1 to 1024 bytes of text, no control characters");
	if (owner == NULL || !util_id_valid("usr", owner))
		FAIL(PV_E_INVALID, "owner: the ID (usr_...) of the user who owns the risk");
	if (expires == NULL || (exp = util_time_parse(expires)) < 0)
		FAIL(PV_E_INVALID, "expires_at: RFC 3339 UTC with milliseconds, "
		    "e.g. 2027-01-31T00:00:00.000Z");
	if (exp <= now || exp - now > EXPIRY_MAX_MS)
		FAIL(PV_E_INVALID, "expires_at: in the future, at most 366 days from now");
	STORE_READ(s->d.st, rc, store_user_get(tx, owner, &u));
	if (rc == PV_E_NOTFOUND)
		FAIL(PV_E_INVALID, "owner: no such user");
	if (rc != PV_OK)
		goto out;
	disabled = u.disabled;
	store_user_clear(&u);
	if (disabled)
		FAIL(PV_E_INVALID, "owner: that user is disabled");
	if ((rc = util_id_new("exc", id)) != PV_OK)
		goto out;
	util_time_fmt(now, when, sizeof when);
	util_time_fmt(exp, exp_s, sizeof exp_s);
	ch.item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "control", control,
	    "reason", reason, "owner", owner, "expires_at", exp_s, "created_by",
	    actor->user_id ? actor->user_id : "anonymous", "created_at", when);
	if (ch.item == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	/* the reason stays out of the trail: free text, written by a person */
	snprintf(detail, sizeof detail, "{\"control\":\"%s\",\"expires_at\":\"%s\",\"owner\":\"%s\"}",
	    control, exp_s, owner);
	snprintf(res, sizeof res, "compliance/exceptions/%s", id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "exception.create";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	ev.detail = detail;
	if ((rc = exc_peek(s, NULL, &nreg, &has)) != PV_OK)
		goto out;
	if (nreg >= EXCEPTIONS_MAX) {
		rc = exc_refuse(s, &ev, PV_E_CONFLICT);
		FAIL(rc, rc == PV_E_AUDIT ? NULL :
		    "the register holds 256 exceptions: remove expired ones first");
	}
	/* the committer appends its own copy; the answer is ch.item */
	if ((held = calloc(1, sizeof(*held))) == NULL ||
	    (held->item = json_deep_copy(ch.item)) == NULL) {
		free(held);
		rc = PV_E_NOMEM;
		goto out;
	}
	rc = audit_commit_held(s->d.audit, &ev, exc_fn, held, exc_change_free);
	if (rc == PV_E_CONFLICT)   /* off a request thread: fn's own answer */
		FAIL(PV_E_CONFLICT, "the register holds 256 exceptions: remove expired ones first");
	if (rc != PV_OK)
		goto out;
	json_object_set_new(ch.item, "state", json_string("live"));
	*out = ch.item;
	ch.item = NULL;
out:
	json_decref(ch.item);
	return rc;
}

enum pv_rc
compliance_exception_list(struct compliance_service *s, json_t **out)
{
	json_t *reg = NULL, *arr, *e;
	int64_t now = util_now_ms();
	size_t i;
	enum pv_rc rc = read_json(s->d.st, META_EXCEPTIONS, &reg);

	if (rc == PV_E_NOTFOUND)
		reg = json_pack("{s:[]}", "items");
	else if (rc != PV_OK)
		return rc;
	if (reg == NULL)
		return PV_E_NOMEM;
	arr = json_deep_copy(json_object_get(reg, "items"));
	json_decref(reg);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return PV_E_NOMEM;
	}
	json_array_foreach(arr, i, e)
		json_object_set_new(e, "state", json_string(compliance_exception_state(e, now)));
	*out = json_pack("{s:o}", "exceptions", arr);
	return *out != NULL ? PV_OK : PV_E_NOMEM;
}

enum pv_rc
compliance_exception_remove(struct compliance_service *s, const struct pv_actor *actor,
    const char *id, const char **msg)
{
	struct exc_change *ch = NULL;
	struct audit_event ev;
	char res[96];
	size_t nreg = 0;
	bool has = false;
	enum pv_rc rc;

	if (!util_id_valid("exc", id))
		FAIL(PV_E_NOTFOUND, "no such exception");
	snprintf(res, sizeof res, "compliance/exceptions/%s", id);
	memset(&ev, 0, sizeof(ev));
	ev.actor = *actor;
	ev.action = "exception.delete";
	ev.resource = res;
	ev.outcome = AUDIT_ALLOWED;
	if ((rc = exc_peek(s, id, &nreg, &has)) != PV_OK)
		goto out;
	if (!has) {
		rc = exc_refuse(s, &ev, PV_E_NOTFOUND);
		FAIL(rc, rc == PV_E_AUDIT ? NULL : "no such exception");
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		FAIL(PV_E_NOMEM, NULL);
	util_strlcpy(ch->idbuf, id, sizeof(ch->idbuf));
	ch->id = ch->idbuf;
	rc = audit_commit_held(s->d.audit, &ev, exc_fn, ch, exc_change_free);
	if (rc == PV_E_NOTFOUND)   /* off a request thread: fn's own answer */
		FAIL(PV_E_NOTFOUND, "no such exception");
out:
	return rc;
}

/* ---- the report's part (gather) ---- */

static const char *
str_of(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

enum pv_rc
compliance_tracking_gather(struct store_tx *tx, struct compliance_state *s)
{
	char *text = NULL, *old = NULL, *diff = NULL;
	json_t *b = NULL, *reg = NULL, *d = NULL, *e;
	size_t len = 0, n = 0, i;
	enum pv_rc rc;

	rc = meta_json(tx, META_EXCEPTIONS, &reg);
	if (rc == PV_OK)
		s->exceptions = json_incref(json_object_get(reg, "items"));
	else if (rc != PV_E_NOTFOUND)
		return rc;
	json_decref(reg);
	if (s->exceptions == NULL && (s->exceptions = json_array()) == NULL)
		return PV_E_NOMEM;
	if (s->cfg == NULL)
		return PV_OK;
	if ((rc = config_effective_json(s->cfg, &text, &len, s->config_hash)) != PV_OK)
		return rc;
	rc = meta_json(tx, META_BASELINE, &b);
	if (rc == PV_E_NOTFOUND) {
		rc = PV_OK;
		goto out;
	}
	if (rc != PV_OK)
		goto out;
	s->baseline_set = true;
	util_strlcpy(s->baseline_hash, str_of(b, "hash"),
	    sizeof s->baseline_hash);
	util_strlcpy(s->baseline_approved_at,
	    str_of(b, "approved_at"),
	    sizeof s->baseline_approved_at);
	util_strlcpy(s->baseline_approved_by,
	    str_of(b, "approved_by"),
	    sizeof s->baseline_approved_by);
	if ((old = baseline_text(b)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	if ((rc = config_effective_diff(old, text, drift_skip, &diff, &n)) != PV_OK)
		goto out;
	if ((d = json_loads(diff, 0, NULL)) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	s->ndrift = n;
	json_array_foreach(d, i, e)
		if (i < COMPLIANCE_DRIFT_MAX)
			util_strlcpy(s->drift_keys[i], json_string_value(json_object_get(e, "key")),
			    sizeof s->drift_keys[i]);
out:
	json_decref(d);
	json_decref(b);
	free(text);
	free(old);
	free(diff);
	return rc;
}
