/*
 * compliance/gather.c: reads the state the evaluators look at
 * (struct compliance_state): the store in one read transaction (audit
 * head and its entry's time, users, roles, groups, keys, census, key
 * policies, open alerts, sink cursors, last checkpoint, each user's last
 * audited activity), the audit chain verified, the TLS certificate, the
 * data directory's file modes and what the caller says of the process.
 * It writes nothing. No username, record or secret is copied: users are
 * kept by ID only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "authz/authz.h"
#include "crypto/crypto.h"
#include "keys/keys.h"
#include "secrets/secrets.h"
#include "compliance/compliance_int.h"

void
compliance_state_free(struct compliance_state *s)
{
	free(s->users);
	free(s->roles);
	free(s->keys);
	free(s->elevations);
	s->elevations = NULL;
	json_decref(s->exceptions);
	s->exceptions = NULL;
	s->users = NULL;
	s->roles = NULL;
	s->keys = NULL;
}

struct campaign_scan {
	struct compliance_state *s;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];   /* the audit key */
	bool have_pub;
};

struct gather {
	struct compliance_state *s;
	struct store_tx *tx;
	size_t cap;
	size_t ecap;        /* of s->elevations */
	bool failed;
	json_t *groups;     /* {"group":["role", ...]} */
	struct campaign_scan campaigns;
};

/* ---- roles and groups ---- */

/* The one classifier dual control uses (authz_perm_grants_phi: records
 * read/write/unmask, tokens.detokenize; not records.shred, which destroys
 * and reads nothing), and "*". */
static bool
perm_is_phi(const char *p)
{
	return authz_perm_grants_phi(p) || strcmp(p, "*") == 0;
}

static int
on_role(const struct store_role *r, void *arg)
{
	struct gather *g = arg;
	struct compliance_role *nr;
	json_t *perms;
	size_t i;

	nr = realloc(g->s->roles, (g->s->nroles + 1) * sizeof(*nr));
	if (nr == NULL) {
		g->failed = true;
		return 1;
	}
	g->s->roles = nr;
	nr = &g->s->roles[g->s->nroles++];
	memset(nr, 0, sizeof(*nr));
	util_strlcpy(nr->name, r->name, sizeof(nr->name));
	perms = json_loads(r->permissions != NULL ? r->permissions : "[]", 0, NULL);
	for (i = 0; i < json_array_size(perms); i++) {
		const char *p = json_string_value(json_array_get(perms, i));

		if (p != NULL && perm_is_phi(p))
			nr->phi = true;
	}
	json_decref(perms);
	return 0;
}

static int
on_group(const struct store_group *gr, void *arg)
{
	struct gather *g = arg;
	json_t *roles = json_loads(gr->roles != NULL ? gr->roles : "[]", 0, NULL);

	if (roles != NULL)
		json_object_set_new(g->groups, gr->name, roles);
	return 0;
}

/* ---- users ---- */

static void
add_role(struct compliance_user *u, const char *name)
{
	for (size_t i = 0; i < u->nroles; i++)
		if (strcmp(u->roles[i], name) == 0)
			return;
	if (u->nroles < COMPLIANCE_ROLES_MAX)
		util_strlcpy(u->roles[u->nroles++], name, STORE_ROLE_MAX);
}

struct user_arg {
	struct gather *g;
	struct compliance_user *u;
};

static int
on_user_role(const char *name, void *arg)
{
	struct user_arg *a = arg;

	add_role(a->u, name);
	return 0;
}

static int
on_user_group(const char *name, void *arg)
{
	struct user_arg *a = arg;
	json_t *roles = json_object_get(a->g->groups, name);

	for (size_t i = 0; i < json_array_size(roles); i++)
		if (json_is_string(json_array_get(roles, i)))
			add_role(a->u, json_string_value(json_array_get(roles, i)));
	return 0;
}

static int
on_user(const struct store_user *su, void *arg)
{
	struct gather *g = arg;
	struct compliance_user *nu;

	nu = realloc(g->s->users, (g->s->nusers + 1) * sizeof(*nu));
	if (nu == NULL) {
		g->failed = true;
		return 1;
	}
	g->s->users = nu;
	nu = &g->s->users[g->s->nusers++];
	memset(nu, 0, sizeof(*nu));
	util_strlcpy(nu->id, su->id, sizeof(nu->id));
	util_strlcpy(nu->created_by, su->created_by, sizeof(nu->created_by));
	nu->disabled = su->disabled;
	nu->mfa = su->mfa_enabled;
	nu->created_ms = su->created_ms;
	return 0;
}

static enum pv_rc
read_memberships(struct gather *g)
{
	enum pv_rc rc;

	for (size_t i = 0; i < g->s->nusers; i++) {
		struct user_arg a = { g, &g->s->users[i] };

		if ((rc = store_user_roles_get(g->tx, a.u->id, on_user_role, &a)) != PV_OK)
			return rc;
		if ((rc = store_user_groups_get(g->tx, a.u->id, on_user_group, &a)) != PV_OK)
			return rc;
		{
			char target[16 + UTIL_ID_MAX];

			snprintf(target, sizeof(target), "users/%s", a.u->id);
			if ((rc = store_campaign_approver(g->tx, target, a.u->approved_by,
			    &a.u->approved_ms)) != PV_OK)
				return rc;
		}
	}
	return PV_OK;
}

/* ---- the trail: the head entry's time, each user's last activity ---- */

/* A breach scope report (vault/ops_incidents.c): the newest few by seq. */
static void
note_incident(struct compliance_state *s, const struct store_audit_row *r)
{
	struct compliance_incident *in;
	json_t *d;

	if (strncmp(r->resource, "incidents/", 10) != 0)
		return;
	s->incidents_total++;
	if (s->nincidents == COMPLIANCE_INCIDENTS_MAX) {
		memmove(&s->incidents[0], &s->incidents[1],
		    (COMPLIANCE_INCIDENTS_MAX - 1) * sizeof(s->incidents[0]));
		s->nincidents--;
	}
	in = &s->incidents[s->nincidents++];
	memset(in, 0, sizeof(*in));
	util_strlcpy(in->id, r->resource + 10, sizeof(in->id));
	util_strlcpy(in->created, r->time, sizeof(in->created));
	util_strlcpy(in->state, "open", sizeof(in->state));
	in->seq = r->seq;
	if ((d = json_loads(r->detail, 0, NULL)) != NULL) {
		const char *since = json_string_value(json_object_get(d, "since"));
		const char *until = json_string_value(json_object_get(d, "until"));

		util_strlcpy(in->since, since != NULL ? since : "", sizeof(in->since));
		util_strlcpy(in->until, until != NULL ? until : "", sizeof(in->until));
		json_decref(d);
	}
}

/* Each noted incident's state from its job: closed once the scope is done. */
static enum pv_rc
read_incidents(struct gather *g)
{
	for (size_t i = 0; i < g->s->nincidents; i++) {
		struct compliance_incident *in = &g->s->incidents[i];
		struct store_job j;
		enum pv_rc rc;

		memset(&j, 0, sizeof(j));
		rc = store_job_get(g->tx, in->id, &j);
		if (rc == PV_OK)
			util_strlcpy(in->state, strcmp(j.state, "done") == 0 ? "closed" :
			    strcmp(j.state, "failed") == 0 || strcmp(j.state, "cancelled") == 0 ?
			    "failed" : "open", sizeof(in->state));
		else if (rc == PV_E_NOTFOUND)
			util_strlcpy(in->state, "failed", sizeof(in->state));
		store_job_clear(&j);
		if (rc != PV_OK && rc != PV_E_NOTFOUND)
			return rc;
	}
	return PV_OK;
}

static int
on_audit(const struct store_audit_row *r, void *arg)
{
	struct gather *g = arg;
	struct audit_actor_fields af;
	int64_t t;

	if (r->seq == g->s->head_seq)
		g->s->now_ms = util_time_parse(r->time);
	t = util_time_parse(r->time);
	if (strcmp(r->action, "drill.run") == 0) {
		if (strcmp(r->outcome, "allowed") == 0 && t > g->s->last_drill_ok_ms)
			g->s->last_drill_ok_ms = t;
		else if (strcmp(r->outcome, "error") == 0 && t > g->s->last_drill_fail_ms)
			g->s->last_drill_fail_ms = t;
	}
	if (strcmp(r->outcome, "allowed") != 0)
		return 0;
	if (strcmp(r->action, "incident.create") == 0)
		note_incident(g->s, r);
	if (strcmp(r->action, "backup.create") == 0) {
		g->s->backups++;
		if (t > g->s->last_backup_ms)
			g->s->last_backup_ms = t;
	}
	audit_actor_fields_parse(r->actor, &af);
	if (af.user_id != NULL && t > 0) {
		for (size_t i = 0; i < g->s->nusers; i++)
			if (strcmp(g->s->users[i].id, af.user_id) == 0 &&
			    t > g->s->users[i].last_active_ms)
				g->s->users[i].last_active_ms = t;
	}
	json_decref(af.root);
	return 0;
}

static int
on_checkpoint(const struct store_checkpoint *cp, void *arg)
{
	struct gather *g = arg;

	if (cp->seq >= g->s->last_checkpoint_seq) {
		g->s->last_checkpoint_seq = cp->seq;
		g->s->last_checkpoint_ms = util_time_parse(cp->time);
	}
	return 0;
}

/* ---- keys ---- */

static const char *
kek_state(enum store_kek_state st)
{
	switch (st) {
	case STORE_KEK_ACTIVE: return "active";
	case STORE_KEK_RETIRED: return "decrypt_only";
	case STORE_KEK_REVOKED: return "revoked";
	case STORE_KEK_DISABLED: return "retired";
	}
	return "unknown";
}

static int
on_kek(const struct store_kek *k, void *arg)
{
	struct gather *g = arg;
	struct compliance_key *ck = NULL;
	size_t i;

	for (i = 0; i < g->s->nkeys; i++)
		if (strcmp(g->s->keys[i].name, k->name) == 0)
			ck = &g->s->keys[i];
	if (ck == NULL) {
		struct compliance_key *nk = realloc(g->s->keys, (g->s->nkeys + 1) * sizeof(*nk));

		if (nk == NULL) {
			g->failed = true;
			return 1;
		}
		g->s->keys = nk;
		ck = &g->s->keys[g->s->nkeys++];
		memset(ck, 0, sizeof(*ck));
		util_strlcpy(ck->name, k->name, sizeof(ck->name));
	}
	if (k->state == STORE_KEK_ACTIVE) {
		ck->active_version = k->version;
		ck->active_created_ms = k->created_ms;
	}
	if (ck->nversions < COMPLIANCE_VERSIONS_MAX) {
		ck->versions[ck->nversions].version = k->version;
		ck->versions[ck->nversions].state = kek_state(k->state);
		ck->nversions++;
	}
	return 0;
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct compliance_key *)a)->name,
	    ((const struct compliance_key *)b)->name);
}

static int
cmp_version(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static enum pv_rc
read_keys(struct gather *g)
{
	enum pv_rc rc;

	if ((rc = store_kek_scan(g->tx, on_kek, g)) != PV_OK)
		return rc;
	if (g->failed)
		return PV_E_NOMEM;
	if (g->s->nkeys > 0)
		qsort(g->s->keys, g->s->nkeys, sizeof(g->s->keys[0]), cmp_key);
	for (size_t i = 0; i < g->s->nkeys; i++) {
		struct compliance_key *k = &g->s->keys[i];
		char mkey[160];
		uint8_t *val = NULL;
		size_t vlen = 0;

		/* versions[] starts with the version number: sort by it */
		qsort(k->versions, k->nversions, sizeof(k->versions[0]), cmp_version);
		for (size_t j = 0; j < k->nversions; j++)
			if ((rc = store_kek_census(g->tx, k->name, k->versions[j].version,
			    &k->versions[j].objects)) != PV_OK)
				return rc;
		snprintf(mkey, sizeof mkey, "keys.policy/%s", k->name);
		rc = store_meta_get(g->tx, mkey, &val, &vlen);
		if (rc == PV_OK) {
			json_t *p = json_loadb((const char *)val, vlen, 0, NULL);

			if (json_is_integer(json_object_get(p, "rotate_every_s")))
				k->rotate_every_s = json_integer_value(json_object_get(p,
				    "rotate_every_s"));
			json_decref(p);
			free(val);
		} else if (rc != PV_E_NOTFOUND) {
			return rc;
		}
	}
	return PV_OK;
}

/* ---- alerts, sinks ---- */

static int
on_alert(const struct store_alert *a, void *arg)
{
	struct compliance_state *s = arg;

	if (strcmp(a->severity, "critical") == 0)
		s->alerts_open_critical++;
	else if (strcmp(a->severity, "high") == 0)
		s->alerts_open_high++;
	else if (strcmp(a->severity, "medium") == 0)
		s->alerts_open_medium++;
	else
		s->alerts_open_low++;
	return 0;
}

/* ---- break-glass reviews ---- */

static int
on_breakglass(const struct store_breakglass *b, void *arg)
{
	struct compliance_state *s = arg;

	s->bg_grants++;
	if (strcmp(b->review_status, "inappropriate") == 0)
		s->bg_inappropriate++;
	if (strcmp(b->review_status, "open") != 0)
		return 0;
	s->bg_reviews_open++;
	if (s->now_ms >= b->review_due_ms) {
		if (s->bg_reviews_overdue < 8)
			util_strlcpy(s->bg_overdue_ids[s->bg_reviews_overdue], b->review_id,
			    sizeof(s->bg_overdue_ids[0]));
		s->bg_reviews_overdue++;
	}
	return 0;
}

/* ---- access review campaigns ---- */

/* The tag src/directory/campaigns.c signs under (directory.h
 * DIRECTORY_CAMPAIGN_SIG_TAG; compliance sits below directory, so it is
 * repeated here: a format constant, versioned by its own text). */
#define CAMPAIGN_SIG_TAG "phivault-review-campaign-v1\n"

/* Does hex sign CAMPAIGN_SIG_TAG || text under pub? */
static bool
campaign_signature_ok(const uint8_t *pub, const char *text, const char *hex)
{
	uint8_t sig[CRYPTO_ED25519_SIG_LEN];
	size_t tl = strlen(CAMPAIGN_SIG_TAG), n;
	char *msg;
	bool ok;

	if (text == NULL || strlen(hex) != 2 * sizeof(sig) ||
	    util_hex_decode(hex, sig, sizeof(sig)) != 0)
		return false;
	n = strlen(text);
	if ((msg = malloc(tl + n + 1)) == NULL)
		return false;
	memcpy(msg, CAMPAIGN_SIG_TAG, tl);
	memcpy(msg + tl, text, n + 1);
	ok = crypto_ed25519_verify(pub, (const uint8_t *)msg, tl + n, sig) == PV_OK;
	free(msg);
	return ok;
}

/* Every closed campaign's signed result is checked, not only the newest:
 * an edited old result is as much a broken record as a new one. */
static int
on_campaign(const struct store_campaign *c, void *arg)
{
	struct campaign_scan *x = arg;
	struct compliance_state *s = x->s;

	s->rv_campaigns++;
	if (strcmp(c->status, "open") == 0) {
		if (s->now_ms >= c->due_ms)
			s->rv_overdue++;
		return 0;
	}
	if (!x->have_pub || !campaign_signature_ok(x->pub, c->result, c->signature)) {
		if (s->rv_bad_signatures == 0)
			util_strlcpy(s->rv_bad_id, c->id, sizeof(s->rv_bad_id));
		s->rv_bad_signatures++;
	}
	if (c->closed_ms <= s->rv_last_closed_ms)
		return 0;
	s->rv_last_closed_ms = c->closed_ms;
	util_strlcpy(s->rv_last_id, c->id, sizeof(s->rv_last_id));
	util_strlcpy(s->rv_last_signature, c->signature, sizeof(s->rv_last_signature));
	return 0;
}

static enum pv_rc
read_sinks(struct gather *g)
{
	const struct pv_config *c = g->s->cfg;
	const struct { const char *name; const char *target; } t[] = {
		{ "syslog", c->sinks_syslog }, { "cef", c->sinks_cef },
		{ "ocsf_file", c->sinks_ocsf_file }, { "webhook", c->sinks_webhook },
	};
	enum pv_rc rc;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct compliance_sink *k;
		struct store_sink_cursor cur;

		if (t[i].target[0] == '\0')
			continue;
		k = &g->s->sinks[g->s->nsinks++];
		memset(k, 0, sizeof(*k));
		util_strlcpy(k->name, t[i].name, sizeof(k->name));
		rc = store_sink_cursor_get(g->tx, t[i].name, &cur);
		if (rc == PV_OK) {
			k->has_row = true;
			k->cursor_seq = cur.seq;
			util_strlcpy(k->last_error, cur.last_error, sizeof(k->last_error));
		} else if (rc != PV_E_NOTFOUND) {
			return rc;
		}
		k->lag = g->s->head_seq - k->cursor_seq;
	}
	return PV_OK;
}

/* ---- outside the store ---- */

static void
read_cert(struct compliance_state *s)
{
	FILE *f = fopen(s->cfg->tls_cert, "r");
	X509 *x;
	EVP_PKEY *pk;
	struct tm tm;

	if (f == NULL)
		return;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return;
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		s->cert_not_after_ms = (int64_t)timegm(&tm) * 1000;
		s->cert_read = true;
	}
	if ((pk = X509_get0_pubkey(x)) != NULL) {
		int id = EVP_PKEY_get_base_id(pk);

		util_strlcpy(s->cert_key_type, id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_RSA ?
		    "RSA" : id == EVP_PKEY_ED25519 ? "Ed25519" : "other",
		    sizeof(s->cert_key_type));
		s->cert_key_bits = EVP_PKEY_get_bits(pk);
	}
	{
		int sig = X509_get_signature_nid(x);

		s->cert_sig_sha1 = sig == NID_sha1WithRSAEncryption || sig == NID_ecdsa_with_SHA1 ||
		    sig == NID_dsaWithSHA1;
	}
	X509_free(x);
}

static void
read_modes(struct compliance_state *s, const char *datadir)
{
	static const struct { const char *path; unsigned max; } t[] = {
		{ ".", 0700 }, { "phivault.db", 0600 }, { "phivault.db-wal", 0600 },
		{ "phivault.conf", 0600 }, { "tls/key.pem", 0600 }, { KEYS_UNSEAL_FILE, 0600 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && i < COMPLIANCE_FILES_MAX; i++) {
		struct compliance_file *f = &s->files[s->nfiles++];
		char path[4096];
		struct stat sb;

		util_strlcpy(f->path, t[i].path, sizeof(f->path));
		f->max_mode = t[i].max;
		snprintf(path, sizeof path, "%s/%s", datadir, t[i].path);
		if (stat(path, &sb) == 0) {
			f->present = true;
			f->mode = (unsigned)sb.st_mode & 07777;
		}
	}
}

/* When the retention job last ran (ops_retention.c keeps it in meta). */
static enum pv_rc
read_retention(struct gather *g)
{
	uint8_t *v = NULL;
	size_t n = 0;
	char buf[32];
	enum pv_rc rc = store_meta_get(g->tx, "retention.last_run_ms", &v, &n);

	if (rc == PV_E_NOTFOUND)
		return PV_OK;
	if (rc != PV_OK)
		return rc;
	if (n > 0 && n < sizeof(buf)) {
		memcpy(buf, v, n);
		buf[n] = '\0';
		g->s->retention_last_run_ms = strtoll(buf, NULL, 10);
	}
	free(v);
	return PV_OK;
}

static int
on_overdue(const char *path, uint32_t version, int64_t due_ms, void *arg)
{
	struct compliance_state *s = arg;

	(void)version;
	(void)due_ms;
	if (s->secrets_overdue < 8)
		util_strlcpy(s->secrets_overdue_paths[s->secrets_overdue], path,
		    sizeof(s->secrets_overdue_paths[0]));
	s->secrets_overdue++;
	return 0;
}

/* Granted JIT elevations (approved at some point), newest first. */
static int
on_elevation(const struct store_elevation *e, void *arg)
{
	struct gather *g = arg;
	struct compliance_state *s = g->s;
	struct compliance_elevation *v, *ce;
	size_t cap;

	if (e->starts_ms == 0)
		return 0;
	if (s->nelevations == g->ecap) {
		cap = g->ecap ? g->ecap * 2 : 16;
		if ((v = realloc(s->elevations, cap * sizeof(*v))) == NULL) {
			g->failed = true;
			return 1;
		}
		s->elevations = v;
		g->ecap = cap;
	}
	ce = &s->elevations[s->nelevations++];
	memset(ce, 0, sizeof(*ce));
	util_strlcpy(ce->id, e->id, sizeof(ce->id));
	util_strlcpy(ce->user_id, e->user_id, sizeof(ce->user_id));
	util_strlcpy(ce->role, e->role, sizeof(ce->role));
	util_strlcpy(ce->status, e->status, sizeof(ce->status));
	util_strlcpy(ce->approved_by, e->approved_by, sizeof(ce->approved_by));
	ce->starts_ms = e->starts_ms;
	ce->expires_ms = e->expires_ms;
	ce->duration_s = e->duration_s;
	return 0;
}

static enum pv_rc
read_store(struct gather *g)
{
	struct store_audit_filter af = { 0 };
	struct store_alert_filter alf = { "open", NULL, 0 };
	enum pv_rc rc;

	if ((rc = store_audit_head(g->tx, &g->s->head_seq, g->s->head)) != PV_OK)
		return rc;
	if ((rc = store_role_list(g->tx, on_role, g)) != PV_OK)
		return rc;
	if ((rc = store_group_list(g->tx, on_group, g)) != PV_OK)
		return rc;
	if ((rc = store_user_list(g->tx, on_user, g)) != PV_OK)
		return rc;
	if (g->failed)
		return PV_E_NOMEM;
	if ((rc = read_memberships(g)) != PV_OK)
		return rc;
	/* entries up to the head only: the report is bound to head_seq */
	af.limit = g->s->head_seq > 0 ? (size_t)g->s->head_seq : 1;
	if ((rc = store_audit_scan(g->tx, &af, on_audit, g)) != PV_OK)
		return rc;
	if ((rc = store_checkpoint_scan(g->tx, on_checkpoint, g)) != PV_OK)
		return rc;
	if ((rc = read_keys(g)) != PV_OK)
		return rc;
	if ((rc = store_alert_list(g->tx, &alf, on_alert, g->s)) != PV_OK)
		return rc;
	/* after the trail: now_ms is the head entry's time */
	if ((rc = store_breakglass_list(g->tx, NULL, NULL, on_breakglass, g->s)) != PV_OK)
		return rc;
	if ((rc = read_retention(g)) != PV_OK)
		return rc;
	if ((rc = read_incidents(g)) != PV_OK)
		return rc;
	if ((rc = store_elevation_list(g->tx, NULL, NULL, on_elevation, g)) != PV_OK)
		return rc;
	if ((rc = compliance_tracking_gather(g->tx, g->s)) != PV_OK)
		return rc;
	if ((rc = store_campaign_list(g->tx, NULL, on_campaign, &g->campaigns)) != PV_OK)
		return rc;
	return read_sinks(g);
}

enum pv_rc
compliance_gather(const struct compliance_inputs *in, struct compliance_state *out)
{
	struct gather g;
	struct audit_verify_result vr;
	enum pv_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	out->cfg = in->cfg;
	g.s = out;
	g.campaigns.s = out;
	g.campaigns.have_pub = keys_audit_public_key(in->st, g.campaigns.pub) == PV_OK;
	if ((g.groups = json_object()) == NULL)
		return PV_E_NOMEM;
	if ((rc = store_begin(in->st, STORE_RD, &g.tx)) != PV_OK)
		goto out;
	rc = read_store(&g);
	store_end(g.tx);
	if (rc == PV_OK && g.failed)
		rc = PV_E_NOMEM;
	if (rc != PV_OK)
		goto out;
	if ((rc = audit_verify(in->st, NULL, &vr)) != PV_OK)
		goto out;
	out->audit_ok = vr.ok;
	out->audit_entries = vr.entries;
	out->audit_checkpoints = vr.checkpoints;
	out->audit_first_bad_seq = vr.ok ? 0 : vr.first_bad_seq;
	/* at the report's own time (the head entry's), so it is reproducible */
	if ((rc = secrets_overdue(in->st, out->now_ms, on_overdue, out)) != PV_OK)
		goto out;
	read_cert(out);
	read_modes(out, in->datadir);
	if (in->proc != NULL)
		out->proc = *in->proc;
out:
	json_decref(g.groups);
	if (rc != PV_OK)
		compliance_state_free(out);
	return rc;
}
