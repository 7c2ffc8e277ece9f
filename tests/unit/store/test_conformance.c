/*
 * Store conformance: the store contract, backend-neutral, written against
 * the public headers only (store/store.h; no backend type, no SQL). Every
 * case in cases[] runs once per entry of backends[] on a fresh store, so a
 * second backend is one more line there (issue 15: PostgreSQL) and passes
 * when it keeps the same contract:
 *   - every domain: meta, users / memberships / sessions / recovery codes /
 *     lockouts / pending MFA, roles and groups, collections / records /
 *     blind index / record cursor scan, tokens, KEKs, audit trail and
 *     checkpoints, jobs (put, lease via runnable, advance), apps (rows,
 *     secrets and their revocation, app sessions), application secrets
 *     (heads, versions, check-and-set, prefix list, soft delete, destroy,
 *     scan, rewrap, prune, the census of the secrets KEK);
 *   - transactions: what is not committed is gone, a read transaction is a
 *     snapshot and refuses every write op (changing nothing), a transaction
 *     begun on one thread is ended on another, a busy pool answers
 *     PV_E_UNAVAILABLE, savepoint rollback undoes only its own part, a
 *     committed handle takes no more ops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_test.h"
#include "tx_helpers.h"
#include "../../pg_cluster.h"

/* ---- the backends the contract runs on ---- */

struct backend {
	const char *name;   /* store_open's backend */
	const char *url;    /* its url (NULL: none) */
};

static const struct backend backends[] = {
	{ "sqlite", NULL },
	/* a database of its own per case in the cluster main() starts */
	{ "postgres", NULL },
};

/* The executable's throwaway PostgreSQL cluster (tests/pg_cluster.h). */
static struct pg_cluster pgc;

/* ---- helpers ---- */

static const uint8_t MAC_A[STORE_MAC_LEN] = { 0xa1, 0xa2, 0xa3 };
static const uint8_t MAC_B[STORE_MAC_LEN] = { 0xb1, 0xb2, 0xb3 };

static void user_init(struct store_user *u, const char *id, const char *name)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "%s", id);
	snprintf(u->username, sizeof(u->username), "%s", name);
	snprintf(u->password_hash, sizeof(u->password_hash), "$argon2id$v=19$m=19456,t=2,p=1$x$y");
	u->attributes = (char *)"{}";
	u->credential_epoch = 1;
	u->mfa_last_step = -1;
	u->created_ms = 1000;
	u->updated_ms = 1000;
}

static void session_init(struct store_session *s, const char *id, const char *hash,
    const char *user)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->token_hash, sizeof(s->token_hash), "%s", hash);
	snprintf(s->user_id, sizeof(s->user_id), "%s", user);
	s->created_ms = 1000;
	s->last_seen_ms = 1000;
	s->absolute_expires_ms = 100000;
	s->credential_epoch = 1;
	snprintf(s->source, sizeof(s->source), "192.0.2.1");
}

static void coll_init(struct store_collection *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->schema = (char *)"{\"fields\":[]}";
	snprintf(c->region, sizeof(c->region), "us");
	snprintf(c->kek_name, sizeof(c->kek_name), "collection:%s", name);
	c->created_ms = 1000;
}

/* A live record envelope; the byte buffers are static (never freed). */
static void rec_init(struct store_record *r, const char *coll, const char *id, uint32_t version,
    uint8_t fill)
{
	static uint8_t dek[4][40], ct[4][16];
	static int slot;
	int k = slot++ % 4;

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->collection, sizeof(r->collection), "%s", coll);
	snprintf(r->kek_name, sizeof(r->kek_name), "collection:%s", coll);
	r->version = version;
	r->kek_version = 1;
	memset(dek[k], fill, sizeof(dek[k]));
	memset(ct[k], fill ^ 0x5a, sizeof(ct[k]));
	r->wrapped_dek = dek[k];
	r->wrapped_dek_len = sizeof(dek[k]);
	r->ciphertext = ct[k];
	r->ciphertext_len = sizeof(ct[k]);
	r->created_ms = 1000;
	r->updated_ms = 1000;
}

static void job_init(struct store_job *j, const char *id, int64_t created)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->kind, sizeof(j->kind), "test.count");
	snprintf(j->state, sizeof(j->state), "queued");
	j->cursor = (char *)"";
	j->params = (char *)"{\"n\":3}";
	j->errors = (char *)"[]";
	j->total = 3;
	j->created_ms = created;
	j->updated_ms = created;
	snprintf(j->created_by, sizeof(j->created_by), "system");
}

static void audit_row_init(struct store_audit_row *r, int64_t seq, const char *action,
    const char *actor, char hash[65], char prev[65])
{
	memset(hash, 'a' + (int)(seq % 6), 64);
	hash[64] = '\0';
	if (seq == 1) {
		memset(prev, '0', 64);
	} else {
		memset(prev, 'a' + (int)((seq - 1) % 6), 64);
	}
	prev[64] = '\0';
	*r = (struct store_audit_row){
		.seq = seq, .time = "2026-01-01T00:00:00.000Z", .actor = actor,
		.action = action, .resource = "rec_1", .purpose_of_use = "",
		.outcome = "allowed", .reason = "", .detail = "{}",
		.prev_hash = prev, .hash = hash,
	};
}

/* Collects names (roles, groups, record IDs, recovery hashes) as "a,b,". */
struct names {
	char buf[512];
};

static int names_cb(const char *name, void *arg)
{
	struct names *n = arg;
	size_t l = strlen(n->buf);

	snprintf(n->buf + l, sizeof(n->buf) - l, "%s,", name);
	return 0;
}

static int count_user(const struct store_user *u, void *arg)
{
	(void)u;
	(*(int *)arg)++;
	return 0;
}

static int count_audit(const struct store_audit_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int count_cp(const struct store_checkpoint *cp, void *arg)
{
	(void)cp;
	(*(int *)arg)++;
	return 0;
}

static int job_ids(const struct store_job *j, void *arg)
{
	return names_cb(j->id, arg);
}

static int kek_versions(const struct store_kek *k, void *arg)
{
	char v[160];

	snprintf(v, sizeof(v), "%s/%u/%d", k->name, (unsigned)k->version, (int)k->state);
	return names_cb(v, arg);
}

static int role_names(const struct store_role *r, void *arg)
{
	return names_cb(r->name, arg);
}

static int group_names(const struct store_group *g, void *arg)
{
	return names_cb(g->name, arg);
}

static int coll_names(const struct store_collection *c, void *arg)
{
	return names_cb(c->name, arg);
}

/* meta value as a C string ("" if missing) */
static bool meta_is(struct store *st, const char *key, const char *want)
{
	uint8_t *v = NULL;
	size_t n = 0;
	enum pv_rc rc = TX_RD(st, store_meta_get(tx, key, &v, &n));
	bool ok;

	if (want == NULL)
		ok = rc == PV_E_NOTFOUND;
	else
		ok = rc == PV_OK && n == strlen(want) && memcmp(v, want, n) == 0;
	free(v);
	return ok;
}

static enum pv_rc meta_put_s(struct store_tx *tx, const char *key, const char *val)
{
	return store_meta_put(tx, key, (const uint8_t *)val, strlen(val));
}

/* ---- domains ---- */

static void c_meta(struct store *st)
{
	uint8_t *v = NULL;
	size_t n = 99;

	assert_true(meta_is(st, "k", NULL));
	assert_int_equal(TX_WR(st, meta_put_s(tx, "k", "one")), PV_OK);
	assert_true(meta_is(st, "k", "one"));
	assert_int_equal(TX_WR(st, meta_put_s(tx, "k", "two")), PV_OK);   /* overwrite */
	assert_true(meta_is(st, "k", "two"));
	/* an empty value is a value, not a missing one */
	assert_int_equal(TX_WR(st, store_meta_put(tx, "empty", NULL, 0)), PV_OK);
	assert_int_equal(TX_RD(st, store_meta_get(tx, "empty", &v, &n)), PV_OK);
	assert_int_equal(n, 0);
	free(v);
}

static void c_users_sessions(struct store *st)
{
	struct store_user u, got;
	struct store_session s, gs;
	struct store_lockout l;
	struct store_mfa_pending p, gp;
	struct names nm;
	const char *roles[] = { "clinician", "auditor" };
	const char *codes[] = { "h1", "h2" };
	size_t ended = 0;
	int n = 0;

	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	user_init(&u, "usr_b", "alice");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_E_CONFLICT);   /* username */
	user_init(&u, "usr_b", "bob");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(st, store_user_get(tx, "usr_zz", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_user_get_by_username(tx, "bob", &got)), PV_OK);
	assert_string_equal(got.id, "usr_b");
	got.disabled = true;
	got.disabled_ms = 5000;
	got.credential_epoch = 2;
	assert_int_equal(TX_WR(st, store_user_update(tx, &got)), PV_OK);
	store_user_clear(&got);
	assert_int_equal(TX_RD(st, store_user_get(tx, "usr_b", &got)), PV_OK);
	assert_true(got.disabled);
	assert_int_equal(got.credential_epoch, 2);
	store_user_clear(&got);
	user_init(&u, "usr_none", "nobody");
	assert_int_equal(TX_WR(st, store_user_update(tx, &u)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_user_list(tx, count_user, &n)), PV_OK);
	assert_int_equal(n, 2);

	/* memberships replace the whole set */
	assert_int_equal(TX_WR(st, store_user_roles_set(tx, "usr_a", roles, 2)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_user_roles_get(tx, "usr_a", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "auditor,clinician,");
	assert_int_equal(TX_WR(st, store_user_roles_set(tx, "usr_a", roles, 1)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_user_roles_get(tx, "usr_a", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "clinician,");

	/* sessions: touch never lowers, end once, end all but one */
	session_init(&s, "ses_1", "th1", "usr_a");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	session_init(&s, "ses_2", "th2", "usr_a");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	session_init(&s, "ses_3", "th3", "usr_a");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(st, store_session_touch(tx, "ses_1", 3000)), PV_OK);
	assert_int_equal(TX_WR(st, store_session_touch(tx, "ses_1", 2000)), PV_OK);
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th1", &gs)), PV_OK);
	assert_int_equal(gs.last_seen_ms, 3000);
	assert_int_equal(TX_WR(st, store_session_set_state(tx, "ses_1", 1, true, 7)), PV_OK);
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th1", &gs)), PV_OK);
	assert_int_equal(gs.restrict_flags, 1);
	assert_true(gs.mfa_verified);
	assert_int_equal(TX_WR(st, store_session_end(tx, "ses_1", 4000, "logout")), PV_OK);
	assert_int_equal(TX_WR(st, store_session_end(tx, "ses_1", 4001, "logout")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_session_end_all_for_user(tx, "usr_a", "ses_2", 5000,
	    "disabled", &ended)), PV_OK);
	assert_int_equal(ended, 1);   /* ses_3; ses_1 was ended, ses_2 kept */
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th2", &gs)), PV_OK);
	assert_int_equal(gs.ended_ms, 0);
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th3", &gs)), PV_OK);
	assert_int_equal(gs.ended_ms, 5000);

	/* recovery codes: single use, each set with its MAC key version */
	{
		uint32_t mv = 0;

		assert_int_equal(TX_RD(st, store_recovery_version(tx, "usr_a", &mv)), PV_E_NOTFOUND);
		assert_int_equal(TX_WR(st, store_recovery_set(tx, "usr_a", codes, 2, 0)), PV_E_INVALID);
		assert_int_equal(TX_WR(st, store_recovery_set(tx, "usr_a", codes, 2, 3)), PV_OK);
		assert_int_equal(TX_RD(st, store_recovery_version(tx, "usr_a", &mv)), PV_OK);
		assert_int_equal(mv, 3);
		assert_int_equal(TX_WR(st, store_recovery_set(tx, "usr_a", codes, 2, 1)), PV_OK);
		assert_int_equal(TX_RD(st, store_recovery_version(tx, "usr_a", &mv)), PV_OK);
		assert_int_equal(mv, 1);
	}
	assert_int_equal(TX_WR(st, store_recovery_use(tx, "usr_a", "h1", 6000)), PV_OK);
	assert_int_equal(TX_WR(st, store_recovery_use(tx, "usr_a", "h1", 6001)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_recovery_unused(tx, "usr_a", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "h2,");

	/* lockouts: a missing row reads as zero; clear forgets both kinds */
	assert_int_equal(TX_RD(st, store_lockout_get(tx, "ghost", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 0);
	l = (struct store_lockout){ 3, 100, 200 };
	assert_int_equal(TX_WR(st, store_lockout_put(tx, "alice", "password", &l)), PV_OK);
	assert_int_equal(TX_WR(st, store_lockout_put(tx, "alice", "mfa", &l)), PV_OK);
	assert_int_equal(TX_RD(st, store_lockout_get(tx, "alice", "password", &l)), PV_OK);
	assert_int_equal(l.failures, 3);
	assert_int_equal(TX_WR(st, store_lockout_clear(tx, "alice")), PV_OK);
	assert_int_equal(TX_RD(st, store_lockout_get(tx, "alice", "mfa", &l)), PV_OK);
	assert_int_equal(l.failures, 0);

	/* pending MFA logins */
	memset(&p, 0, sizeof(p));
	snprintf(p.token_hash, sizeof(p.token_hash), "mh1");
	snprintf(p.user_id, sizeof(p.user_id), "usr_a");
	p.expires_ms = 9000;
	assert_int_equal(TX_WR(st, store_mfa_pending_put(tx, &p)), PV_OK);
	assert_int_equal(TX_WR(st, store_mfa_pending_attempt(tx, "mh1")), PV_OK);
	assert_int_equal(TX_RD(st, store_mfa_pending_get(tx, "mh1", &gp)), PV_OK);
	assert_int_equal(gp.attempts, 1);
	assert_int_equal(TX_WR(st, store_mfa_pending_delete(tx, "mh1", 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_mfa_pending_delete(tx, "mh1", 1000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_mfa_pending_attempt(tx, "mh1")), PV_E_NOTFOUND);
}

static void c_roles_groups(struct store *st)
{
	struct store_role r, gr;
	struct store_group g, gg;
	struct names nm;

	/* the built-in roles are there from the start */
	assert_int_equal(TX_RD(st, store_role_get(tx, "clinician", &gr)), PV_OK);
	assert_true(gr.builtin);
	store_role_clear(&gr);
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "nurse");
	r.permissions = (char *)"[\"records.read:*\"]";
	r.condition = (char *)"{}";
	assert_int_equal(TX_WR(st, store_role_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(st, store_role_put(tx, &r)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_role_get(tx, "nurse", &gr)), PV_OK);
	assert_false(gr.builtin);
	assert_string_equal(gr.permissions, "[\"records.read:*\"]");
	store_role_clear(&gr);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_role_list(tx, role_names, &nm)), PV_OK);
	assert_non_null(strstr(nm.buf, "nurse,"));

	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "ward-b");
	g.roles = (char *)"[\"nurse\"]";
	assert_int_equal(TX_WR(st, store_group_put(tx, &g)), PV_OK);
	assert_int_equal(TX_WR(st, store_group_put(tx, &g)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_group_get(tx, "ward-b", &gg)), PV_OK);
	assert_string_equal(gg.roles, "[\"nurse\"]");
	store_group_clear(&gg);
	assert_int_equal(TX_RD(st, store_group_get(tx, "ward-x", &gg)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_group_list(tx, group_names, &nm)), PV_OK);
	assert_string_equal(nm.buf, "ward-b,");
}

static void c_vault(struct store *st)
{
	struct store_collection c, gc;
	struct store_record r, g;
	struct names nm;

	coll_init(&c, "patients");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_E_CONFLICT);
	coll_init(&c, "staff");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	assert_int_equal(TX_RD(st, store_collection_get(tx, "patients", &gc)), PV_OK);
	assert_string_equal(gc.region, "us");
	store_collection_clear(&gc);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_collection_list(tx, coll_names, &nm)), PV_OK);
	assert_string_equal(nm.buf, "patients,staff,");

	for (int i = 1; i <= 4; i++) {
		char id[16];

		snprintf(id, sizeof(id), "rec_%d", i);
		rec_init(&r, "patients", id, 1, (uint8_t)i);
		assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	}
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_E_CONFLICT);
	/* optimistic update */
	rec_init(&r, "patients", "rec_1", 2, 0x77);
	assert_int_equal(TX_WR(st, store_record_update(tx, &r, 1)), PV_OK);
	rec_init(&r, "patients", "rec_1", 2, 0x78);
	assert_int_equal(TX_WR(st, store_record_update(tx, &r, 1)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_1", &g)), PV_OK);
	assert_int_equal(g.version, 2);
	assert_int_equal(g.wrapped_dek[0], 0x77);
	store_record_clear(&g);

	/* blind index: idempotent put, lookup in ID order, shred drops entries */
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "patients", "ssn", MAC_A, "rec_2")), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "patients", "ssn", MAC_A, "rec_1")), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "patients", "ssn", MAC_A, "rec_1")), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "patients", "mrn", MAC_B, "rec_1")), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "patients", "ssn", MAC_A, 0, names_cb,
	    &nm)), PV_OK);
	assert_string_equal(nm.buf, "rec_1,rec_2,");
	assert_int_equal(TX_WR(st, store_bidx_delete(tx, "patients", "rec_1", "mrn")), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "patients", "mrn", MAC_B, 0, names_cb,
	    &nm)), PV_OK);
	assert_string_equal(nm.buf, "");
	assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_2", 7000)), PV_OK);
	assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_2", 7001)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_2", &g)), PV_OK);
	assert_int_equal(g.deleted_ms, 7000);
	assert_null(g.wrapped_dek);
	assert_null(g.ciphertext);
	store_record_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "patients", "ssn", MAC_A, 0, names_cb,
	    &nm)), PV_OK);
	assert_string_equal(nm.buf, "rec_1,");

	/* cursor scan: live IDs after the cursor, in ID order, bounded */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_record_scan(tx, "patients", "", 2, names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "rec_1,rec_3,");
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_record_scan(tx, "patients", "rec_3", 0, names_cb, &nm)),
	    PV_OK);
	assert_string_equal(nm.buf, "rec_4,");
}

static void c_tokens(struct store *st)
{
	struct store_token t, g;
	static uint8_t dek[40], ct[8];

	memset(&t, 0, sizeof(t));
	snprintf(t.token, sizeof(t.token), "tok_1");
	snprintf(t.collection, sizeof(t.collection), "patients");
	snprintf(t.field, sizeof(t.field), "ssn");
	snprintf(t.kek_name, sizeof(t.kek_name), "tokens");
	t.kek_version = 1;
	t.deterministic = true;
	memcpy(t.mac, MAC_A, STORE_MAC_LEN);
	t.wrapped_dek = dek;
	t.wrapped_dek_len = sizeof(dek);
	t.ciphertext = ct;
	t.ciphertext_len = sizeof(ct);
	t.created_ms = 1000;
	assert_int_equal(TX_WR(st, store_token_put(tx, &t)), PV_OK);
	snprintf(t.token, sizeof(t.token), "tok_2");
	assert_int_equal(TX_WR(st, store_token_put(tx, &t)), PV_E_CONFLICT);   /* same mac */
	t.deterministic = false;
	assert_int_equal(TX_WR(st, store_token_put(tx, &t)), PV_OK);
	assert_int_equal(TX_RD(st, store_token_get_by_mac(tx, MAC_A, &g)), PV_OK);
	assert_string_equal(g.token, "tok_1");
	store_token_clear(&g);
	assert_int_equal(TX_RD(st, store_token_get(tx, "tok_2", &g)), PV_OK);
	assert_false(g.deterministic);
	store_token_clear(&g);
	assert_int_equal(TX_RD(st, store_token_get_by_mac(tx, MAC_B, &g)), PV_E_NOTFOUND);
}

static void c_keys(struct store *st)
{
	struct store_kek k, g;
	uint8_t w[32];
	struct names nm;

	memset(w, 0x42, sizeof(w));
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "collection:patients");
	k.wrapped = w;
	k.wrapped_len = sizeof(w);
	k.version = 1;
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_E_CONFLICT);
	k.version = 2;
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_RD(st, store_kek_latest(tx, "collection:patients", &g)), PV_OK);
	assert_int_equal(g.version, 2);
	assert_int_equal(g.wrapped_len, sizeof(w));
	/* a version put without a provider is soft, without an outer key single */
	assert_string_equal(g.provider, "soft");
	assert_string_equal(g.outer, "");
	store_kek_clear(&g);
	/* provider and outer key (hsm: double encryption) round-trip */
	k.version = 3;
	snprintf(k.provider, sizeof(k.provider), "pkcs11");
	snprintf(k.outer, sizeof(k.outer), "outer:collection:patients");
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_RD(st, store_kek_get(tx, "collection:patients", 3, &g)), PV_OK);
	assert_string_equal(g.provider, "pkcs11");
	assert_string_equal(g.outer, "outer:collection:patients");
	store_kek_clear(&g);
	assert_int_equal(TX_RD(st, store_kek_get(tx, "collection:patients", 1, &g)), PV_OK);
	assert_string_equal(g.provider, "soft");
	store_kek_clear(&g);
	k.provider[0] = k.outer[0] = '\0';
	assert_int_equal(TX_WR(st, store_kek_set_state(tx, "collection:patients", 1,
	    STORE_KEK_RETIRED)), PV_OK);
	assert_int_equal(TX_WR(st, store_kek_set_state(tx, "collection:patients", 9,
	    STORE_KEK_REVOKED)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_kek_get(tx, "collection:patients", 1, &g)), PV_OK);
	assert_int_equal(g.state, STORE_KEK_RETIRED);
	store_kek_clear(&g);
	assert_int_equal(TX_RD(st, store_kek_latest(tx, "nope", &g)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_kek_scan(tx, kek_versions, &nm)), PV_OK);
	assert_string_equal(nm.buf, "collection:patients/1/1,collection:patients/2/0,"
	    "collection:patients/3/0,");
}

static void c_audit(struct store *st)
{
	struct store_audit_row r;
	struct store_audit_filter f;
	struct store_checkpoint cp;
	char hash[65], prev[65], head[65];
	int64_t seq = -1, ncp = -1;
	int n;
	const char *alice = "{\"user_id\":\"usr_a\",\"session_id\":\"\",\"source\":\"\"}";
	const char *bob = "{\"user_id\":\"usr_b\",\"session_id\":\"\",\"source\":\"\"}";

	/* empty trail: the genesis head */
	assert_int_equal(TX_RD(st, store_audit_head(tx, &seq, head)), PV_OK);
	assert_int_equal(seq, 0);
	assert_int_equal(strspn(head, "0"), 64);
	for (int64_t i = 1; i <= 5; i++) {
		audit_row_init(&r, i, i % 2 ? "record.read" : "record.write", i < 4 ? alice : bob,
		    hash, prev);
		assert_int_equal(TX_WR(st, store_audit_append(tx, &r)), PV_OK);
	}
	assert_int_equal(TX_WR(st, store_audit_append(tx, &r)), PV_E_CONFLICT);   /* seq 5 again */
	assert_int_equal(TX_RD(st, store_audit_head(tx, &seq, head)), PV_OK);
	assert_int_equal(seq, 5);
	assert_string_equal(head, hash);

	memset(&f, 0, sizeof(f));
	n = 0;
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, count_audit, &n)), PV_OK);
	assert_int_equal(n, 5);
	f.since_seq = 2;
	n = 0;
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, count_audit, &n)), PV_OK);
	assert_int_equal(n, 3);
	f.since_seq = 0;
	f.action = "record.read";
	n = 0;
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, count_audit, &n)), PV_OK);
	assert_int_equal(n, 3);   /* seq 1, 3, 5 */
	f.action = NULL;
	f.actor_user_id = "usr_b";
	n = 0;
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, count_audit, &n)), PV_OK);
	assert_int_equal(n, 2);   /* seq 4, 5 */
	f.actor_user_id = NULL;
	f.limit = 2;
	n = 0;
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, count_audit, &n)), PV_OK);
	assert_int_equal(n, 2);

	cp = (struct store_checkpoint){ 5, hash, "2026-01-01T00:00:00.000Z", "sig", "kid" };
	assert_int_equal(TX_WR(st, store_checkpoint_put(tx, &cp)), PV_OK);
	assert_int_equal(TX_RD(st, store_checkpoint_count(tx, &ncp)), PV_OK);
	assert_int_equal(ncp, 1);
	n = 0;
	assert_int_equal(TX_RD(st, store_checkpoint_scan(tx, count_cp, &n)), PV_OK);
	assert_int_equal(n, 1);
}

/* The subject index: entries of one ref in seq order, joined on the trail,
 * filtered by seq and time; another ref's entries never listed. */
struct subj_seen {
	int64_t seqs[8];
	int n;
};

static int subj_cb(const struct store_audit_row *row, void *arg)
{
	struct subj_seen *s = arg;

	if (s->n < 8)
		s->seqs[s->n++] = row->seq;
	return 0;
}

static void c_audit_subjects(struct store *st)
{
	struct store_audit_row r;
	struct store_audit_subject_filter f;
	struct subj_seen seen;
	char hash[65], prev[65], a[65], b[65];
	const char *actor = "{\"user_id\":\"usr_a\",\"session_id\":\"\",\"source\":\"\"}";
	const char *times[] = { "2020-01-01T00:00:00.000Z", "2021-06-01T00:00:00.000Z",
		"2022-01-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z" };

	memset(a, 'a', 64);
	a[64] = '\0';
	memset(b, 'b', 64);
	b[64] = '\0';
	for (int64_t i = 1; i <= 4; i++) {
		audit_row_init(&r, i, "record.read", actor, hash, prev);
		r.time = times[i - 1];
		assert_int_equal(TX_WR(st, store_audit_append(tx, &r)), PV_OK);
	}
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 1, a)), PV_OK);
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 2, b)), PV_OK);
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 3, a)), PV_OK);
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 3, b)), PV_OK);
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 4, a)), PV_OK);
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 4, a)), PV_OK);   /* no-op */
	assert_int_equal(TX_WR(st, store_audit_subject_put(tx, 4, "not-a-ref")), PV_E_INVALID);

	memset(&f, 0, sizeof(f));
	f.subject_ref = a;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_audit_subject_scan(tx, &f, subj_cb, &seen)), PV_OK);
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.seqs[0], 1);
	assert_int_equal(seen.seqs[1], 3);
	assert_int_equal(seen.seqs[2], 4);
	f.time_from = "2021-01-01T00:00:00.000Z";
	f.time_to = "2023-01-01T00:00:00.000Z";
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_audit_subject_scan(tx, &f, subj_cb, &seen)), PV_OK);
	assert_int_equal(seen.n, 1);   /* seq 3: from inclusive, to exclusive */
	assert_int_equal(seen.seqs[0], 3);
	f.time_from = f.time_to = NULL;
	f.since_seq = 1;
	f.limit = 1;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_audit_subject_scan(tx, &f, subj_cb, &seen)), PV_OK);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.seqs[0], 3);
	f.subject_ref = b;
	f.since_seq = 0;
	f.limit = 0;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_audit_subject_scan(tx, &f, subj_cb, &seen)), PV_OK);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seqs[0], 2);
	assert_int_equal(seen.seqs[1], 3);
}

static void c_jobs(struct store *st)
{
	struct store_job j, g;
	struct names nm;

	job_init(&j, "job_1", 1000);
	assert_int_equal(TX_WR(st, store_job_put(tx, &j)), PV_OK);
	assert_int_equal(TX_WR(st, store_job_put(tx, &j)), PV_E_CONFLICT);
	job_init(&j, "job_2", 2000);
	assert_int_equal(TX_WR(st, store_job_put(tx, &j)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_job_list(tx, job_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "job_2,job_1,");   /* newest first */

	/* lease job_1 for node-a until 5000: runnable for a, not for b */
	assert_int_equal(TX_RD(st, store_job_get(tx, "job_1", &g)), PV_OK);
	snprintf(g.state, sizeof(g.state), "running");
	snprintf(g.lease_owner, sizeof(g.lease_owner), "node-a");
	g.lease_expires_ms = 5000;
	assert_int_equal(TX_WR(st, store_job_update(tx, &g)), PV_OK);
	store_job_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_job_runnable(tx, "node-b", 3000, job_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "job_2,");
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_job_runnable(tx, "node-a", 3000, job_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "job_1,job_2,");   /* oldest first */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_job_runnable(tx, "node-b", 6000, job_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "job_1,job_2,");   /* the lease expired */

	/* advance: cursor and progress; done is no longer runnable */
	assert_int_equal(TX_RD(st, store_job_get(tx, "job_1", &g)), PV_OK);
	free(g.cursor);
	g.cursor = strdup("2");
	assert_non_null(g.cursor);
	g.done = 2;
	snprintf(g.state, sizeof(g.state), "done");
	assert_int_equal(TX_WR(st, store_job_update(tx, &g)), PV_OK);
	store_job_clear(&g);
	assert_int_equal(TX_RD(st, store_job_get(tx, "job_1", &g)), PV_OK);
	assert_string_equal(g.cursor, "2");
	assert_int_equal(g.done, 2);
	store_job_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_job_runnable(tx, "node-a", 3000, job_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "job_2,");
	job_init(&j, "job_9", 1);
	assert_int_equal(TX_WR(st, store_job_update(tx, &j)), PV_E_NOTFOUND);
}

/* ---- approvals (store_approvals.h) ---- */

static int approval_ids(const struct store_approval *a, void *arg)
{
	return names_cb(a->id, arg);
}

static void approval_init(struct store_approval *a, const char *id, int64_t created)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->kind, sizeof(a->kind), "group.create");
	snprintf(a->status, sizeof(a->status), "pending");
	snprintf(a->requested_by, sizeof(a->requested_by), "usr_admin");
	snprintf(a->target, sizeof(a->target), "groups/ward_a");
	a->change = (char *)"{\"name\":\"ward_a\",\"roles\":[\"clinician\"]}";
	a->created_ms = created;
	a->expires_ms = created + 1000;
}

static void c_approvals(struct store *st)
{
	struct store_approval a, g;
	struct names nm;
	bool found = true;

	approval_init(&a, "apr_1", 1000);
	assert_int_equal(TX_WR(st, store_approval_put(tx, &a)), PV_OK);
	assert_int_equal(TX_WR(st, store_approval_put(tx, &a)), PV_E_CONFLICT);
	approval_init(&a, "apr_2", 2000);
	assert_int_equal(TX_WR(st, store_approval_put(tx, &a)), PV_OK);
	assert_int_equal(TX_RD(st, store_approval_get(tx, "apr_1", &g)), PV_OK);
	assert_string_equal(g.status, "pending");
	assert_string_equal(g.change, a.change);
	assert_string_equal(g.note, "");
	assert_int_equal(g.expires_ms, 2000);
	store_approval_clear(&g);
	assert_int_equal(TX_RD(st, store_approval_get(tx, "apr_9", &g)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_approval_list(tx, NULL, approval_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "apr_2,apr_1,");   /* newest first */
	assert_int_equal(TX_RD(st, store_approval_applied(tx, "group.create", "groups/ward_a",
	    &found)), PV_OK);
	assert_false(found);
	/* only a pending request changes state, once */
	assert_int_equal(TX_WR(st, store_approval_decide(tx, "apr_1", "approved", "usr_so", 3000,
	    "ok")), PV_OK);
	assert_int_equal(TX_WR(st, store_approval_decide(tx, "apr_1", "denied", "usr_so", 3001,
	    "")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_approval_decide(tx, "apr_9", "denied", "usr_so", 3001,
	    "")), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_approval_get(tx, "apr_1", &g)), PV_OK);
	assert_string_equal(g.status, "approved");
	assert_string_equal(g.decided_by, "usr_so");
	assert_int_equal(g.decided_ms, 3000);
	assert_string_equal(g.note, "ok");
	store_approval_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_approval_list(tx, "pending", approval_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "apr_2,");
	assert_int_equal(TX_RD(st, store_approval_applied(tx, "group.create", "groups/ward_a",
	    &found)), PV_OK);
	assert_true(found);
	assert_int_equal(TX_RD(st, store_approval_applied(tx, "group.create", "groups/ward_b",
	    &found)), PV_OK);
	assert_false(found);
}

/* ---- elevations (store_elevations.h) ---- */

static int elevation_ids(const struct store_elevation *e, void *arg)
{
	return names_cb(e->id, arg);
}

static void elevation_init(struct store_elevation *e, const char *id, const char *user,
    int64_t created)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->user_id, sizeof(e->user_id), "%s", user);
	snprintf(e->role, sizeof(e->role), "key_admin");
	snprintf(e->status, sizeof(e->status), "pending");
	snprintf(e->ticket, sizeof(e->ticket), "CHG-1");
	e->justification = (char *)"rotate the patients key";
	e->duration_s = 600;
	e->created_ms = created;
	e->request_expires_ms = created + 1000;
}

static void c_elevations(struct store *st)
{
	struct store_elevation e, g;
	const char *roles[] = { "key_admin", "auditor" };
	const char *dup[] = { "auditor", "auditor" };
	struct names nm;

	elevation_init(&e, "elv_1", "usr_a", 1000);
	assert_int_equal(TX_WR(st, store_elevation_put(tx, &e)), PV_OK);
	assert_int_equal(TX_WR(st, store_elevation_put(tx, &e)), PV_E_CONFLICT);
	elevation_init(&e, "elv_2", "usr_b", 2000);
	assert_int_equal(TX_WR(st, store_elevation_put(tx, &e)), PV_OK);
	elevation_init(&e, "elv_3", "usr_a", 3000);
	assert_int_equal(TX_WR(st, store_elevation_put(tx, &e)), PV_OK);
	assert_int_equal(TX_RD(st, store_elevation_get(tx, "elv_1", &g)), PV_OK);
	assert_string_equal(g.status, "pending");
	assert_string_equal(g.justification, "rotate the patients key");
	assert_string_equal(g.ticket, "CHG-1");
	assert_int_equal(g.duration_s, 600);
	assert_int_equal(g.request_expires_ms, 2000);
	assert_int_equal(g.expires_ms, 0);
	store_elevation_clear(&g);
	assert_int_equal(TX_RD(st, store_elevation_get(tx, "elv_9", &g)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_elevation_list(tx, NULL, NULL, elevation_ids, &nm)),
	    PV_OK);
	assert_string_equal(nm.buf, "elv_3,elv_2,elv_1,");   /* newest first */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_elevation_list(tx, "usr_a", NULL, elevation_ids, &nm)),
	    PV_OK);
	assert_string_equal(nm.buf, "elv_3,elv_1,");
	/* pending -> active once; only from the state named */
	assert_int_equal(TX_WR(st, store_elevation_approve(tx, "elv_1", "usr_so", 5000, 605000)),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_elevation_approve(tx, "elv_1", "usr_so", 5001, 605001)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_elevation_end(tx, "elv_1", "pending", "denied", "usr_so",
	    5002)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_elevation_get(tx, "elv_1", &g)), PV_OK);
	assert_string_equal(g.status, "active");
	assert_string_equal(g.approved_by, "usr_so");
	assert_int_equal(g.starts_ms, 5000);
	assert_int_equal(g.expires_ms, 605000);
	store_elevation_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_elevation_list(tx, "usr_a", "active", elevation_ids,
	    &nm)), PV_OK);
	assert_string_equal(nm.buf, "elv_1,");
	assert_int_equal(TX_WR(st, store_elevation_end(tx, "elv_1", "active", "revoked", "usr_a",
	    6000)), PV_OK);
	assert_int_equal(TX_WR(st, store_elevation_end(tx, "elv_1", "active", "expired", "system",
	    6001)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_elevation_get(tx, "elv_1", &g)), PV_OK);
	assert_string_equal(g.status, "revoked");
	assert_string_equal(g.ended_by, "usr_a");
	assert_int_equal(g.ended_ms, 6000);
	store_elevation_clear(&g);
	assert_int_equal(TX_WR(st, store_elevation_end(tx, "elv_2", "pending", "active", "x",
	    6000)), PV_E_INVALID);
	/* eligibility: a set, replaced */
	assert_int_equal(TX_WR(st, store_eligible_set(tx, "usr_a", roles, 2)), PV_OK);
	assert_int_equal(TX_WR(st, store_eligible_set(tx, "usr_b", dup, 2)), PV_E_INVALID);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_eligible_get(tx, "usr_a", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "auditor,key_admin,");
	assert_int_equal(TX_WR(st, store_eligible_set(tx, "usr_a", roles, 1)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_eligible_get(tx, "usr_a", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "key_admin,");
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_eligible_get(tx, "usr_b", names_cb, &nm)), PV_OK);
	assert_string_equal(nm.buf, "");
}

/* ---- apps (store_apps.h) ---- */

static int app_names(const struct store_app *a, void *arg)
{
	return names_cb(a->name, arg);
}

static int secret_ids(const struct store_app_secret *s, void *arg)
{
	return names_cb(s->secret_id, arg);
}

/* the MAC key versions of the listed secrets, in list order (two slots) */
static int secret_versions(const struct store_app_secret *s, void *arg)
{
	uint32_t *v = arg;

	v[v[0] == 0 ? 0 : 1] = s->mac_version;
	return 0;
}

static void app_init(struct store_app *a, const char *id, const char *name)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->roles = (char *)"[\"clinician\"]";
	a->networks = (char *)"[\"10.0.0.0/8\"]";
	snprintf(a->created_by, sizeof(a->created_by), "usr_admin");
	a->created_ms = 1000;
	a->credential_epoch = 1;
}

static void secret_init(struct store_app_secret *s, const char *id, const char *app,
    int64_t created)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->secret_id, sizeof(s->secret_id), "%s", id);
	snprintf(s->app_id, sizeof(s->app_id), "%s", app);
	memset(s->hash, 'a', 64);
	s->created_ms = created;
}

static void c_apps(struct store *st)
{
	struct store_app a, g;
	struct store_app_secret sec;
	struct store_app_session ses, sg;
	struct names nm;
	size_t n = 0;

	app_init(&a, "app_1", "billing");
	assert_int_equal(TX_WR(st, store_app_put(tx, &a)), PV_OK);
	assert_int_equal(TX_WR(st, store_app_put(tx, &a)), PV_E_CONFLICT);        /* same ID */
	app_init(&a, "app_2", "billing");
	assert_int_equal(TX_WR(st, store_app_put(tx, &a)), PV_E_CONFLICT);        /* same name */
	app_init(&a, "app_2", "archive");
	assert_int_equal(TX_WR(st, store_app_put(tx, &a)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_app_list(tx, app_names, &nm)), PV_OK);
	assert_string_equal(nm.buf, "archive,billing,");   /* name order */
	assert_int_equal(TX_RD(st, store_app_get(tx, "app_1", &g)), PV_OK);
	assert_string_equal(g.roles, "[\"clinician\"]");
	assert_string_equal(g.networks, "[\"10.0.0.0/8\"]");
	assert_string_equal(g.created_by, "usr_admin");
	assert_false(g.disabled);
	/* update: roles, networks, disabled, epoch; never the name */
	free(g.networks);
	g.networks = strdup("[\"192.0.2.0/24\"]");
	assert_non_null(g.networks);
	g.disabled = true;
	g.disabled_ms = 5000;
	g.credential_epoch = 2;
	assert_int_equal(TX_WR(st, store_app_update(tx, &g)), PV_OK);
	store_app_clear(&g);
	assert_int_equal(TX_RD(st, store_app_get(tx, "app_1", &g)), PV_OK);
	assert_true(g.disabled);
	assert_int_equal(g.disabled_ms, 5000);
	assert_int_equal(g.credential_epoch, 2);
	assert_string_equal(g.networks, "[\"192.0.2.0/24\"]");
	assert_string_equal(g.name, "billing");
	store_app_clear(&g);
	assert_int_equal(TX_RD(st, store_app_get(tx, "app_9", &g)), PV_E_NOTFOUND);
	app_init(&a, "app_9", "ghost");
	assert_int_equal(TX_WR(st, store_app_update(tx, &a)), PV_E_NOTFOUND);

	/* secrets: oldest first, revoked ones gone from the list */
	secret_init(&sec, "aps_b", "app_1", 2000);
	assert_int_equal(TX_WR(st, store_app_secret_put(tx, &sec)), PV_OK);
	assert_int_equal(TX_WR(st, store_app_secret_put(tx, &sec)), PV_E_CONFLICT);
	secret_init(&sec, "aps_a", "app_1", 3000);
	sec.mac_version = 3;   /* under identity v3: kept, and counted by its census */
	assert_int_equal(TX_WR(st, store_app_secret_put(tx, &sec)), PV_OK);
	{
		int64_t cen = -1;
		uint32_t vers[2] = { 0, 0 };

		assert_int_equal(TX_RD(st, store_kek_census(tx, "identity", 3, &cen)), PV_OK);
		assert_int_equal(cen, 1);
		assert_int_equal(TX_RD(st, store_app_secret_list(tx, "app_1", secret_versions,
		    vers)), PV_OK);
		assert_int_equal(vers[0], 1);   /* aps_b: put without one, read as v1 */
		assert_int_equal(vers[1], 3);
	}
	secret_init(&sec, "aps_c", "app_2", 1000);
	assert_int_equal(TX_WR(st, store_app_secret_put(tx, &sec)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_app_secret_list(tx, "app_1", secret_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "aps_b,aps_a,");
	assert_int_equal(TX_WR(st, store_app_secret_revoke(tx, "app_1", "aps_b", 4000)), PV_OK);
	assert_int_equal(TX_WR(st, store_app_secret_revoke(tx, "app_1", "aps_b", 4000)),
	    PV_E_NOTFOUND);                                 /* revoked already */
	assert_int_equal(TX_WR(st, store_app_secret_revoke(tx, "app_2", "aps_a", 4000)),
	    PV_E_NOTFOUND);                                 /* not that app's */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_app_secret_list(tx, "app_1", secret_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "aps_a,");
	secret_init(&sec, "aps_x", "app_none", 1000);
	assert_int_equal(TX_WR(st, store_app_secret_put(tx, &sec)), PV_E_IO);   /* no such app */

	/* sessions: by token hash; end all of one app */
	memset(&ses, 0, sizeof(ses));
	snprintf(ses.id, sizeof(ses.id), "ses_a1");
	memset(ses.token_hash, 'b', 64);
	snprintf(ses.app_id, sizeof(ses.app_id), "app_1");
	ses.created_ms = 1000;
	ses.expires_ms = 901000;
	ses.credential_epoch = 2;
	snprintf(ses.source, sizeof(ses.source), "10.1.2.3");
	snprintf(ses.method, sizeof(ses.method), "secret");
	assert_int_equal(TX_WR(st, store_app_session_put(tx, &ses)), PV_OK);
	snprintf(ses.id, sizeof(ses.id), "ses_a2");
	memset(ses.token_hash, 'c', 64);
	assert_int_equal(TX_WR(st, store_app_session_put(tx, &ses)), PV_OK);
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, ses.token_hash, &sg)), PV_OK);
	assert_string_equal(sg.id, "ses_a2");
	assert_string_equal(sg.app_id, "app_1");
	assert_string_equal(sg.method, "secret");
	assert_int_equal(sg.expires_ms, 901000);
	assert_int_equal(sg.ended_ms, 0);
	assert_int_equal(TX_WR(st, store_app_session_end(tx, "ses_a1", 4000, "logout")), PV_OK);
	assert_int_equal(TX_WR(st, store_app_session_end(tx, "ses_a1", 4500, "logout")),
	    PV_E_NOTFOUND);                                 /* ended already */
	assert_int_equal(TX_WR(st, store_app_session_end_all(tx, "app_1", 5000, "disabled", &n)),
	    PV_OK);
	assert_int_equal(n, 1);                             /* the other one */
	assert_int_equal(TX_WR(st, store_app_session_end_all(tx, "app_1", 6000, "disabled", &n)),
	    PV_OK);
	assert_int_equal(n, 0);                             /* ended ones stay ended */
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, ses.token_hash, &sg)), PV_OK);
	assert_int_equal(sg.ended_ms, 5000);
	assert_string_equal(sg.end_reason, "disabled");
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, "nope", &sg)), PV_E_NOTFOUND);
	/* a read transaction refuses every write */
	assert_int_equal(TX_RD(st, store_app_put(tx, &a)), PV_E_READONLY);
	assert_int_equal(TX_RD(st, store_app_secret_revoke(tx, "app_1", "aps_a", 7000)),
	    PV_E_READONLY);
}

/* ---- certificate-bound app sessions and revoked certificates ---- */

static void c_app_certs(struct store *st)
{
	struct store_app_session ses, sg;
	struct store_app a;
	bool revoked = true;
	size_t n = 9;

	app_init(&a, "app_1", "billing");
	assert_int_equal(TX_WR(st, store_app_put(tx, &a)), PV_OK);
	memset(&ses, 0, sizeof(ses));
	snprintf(ses.id, sizeof(ses.id), "ses_m1");
	memset(ses.token_hash, 'd', 64);
	snprintf(ses.app_id, sizeof(ses.app_id), "app_1");
	ses.created_ms = 1000;
	ses.expires_ms = 901000;
	ses.credential_epoch = 1;
	snprintf(ses.method, sizeof(ses.method), "mtls");
	memset(ses.cert_fingerprint, 'f', 64);
	snprintf(ses.cert_serial, sizeof(ses.cert_serial), "0a1b");
	assert_int_equal(TX_WR(st, store_app_session_put(tx, &ses)), PV_OK);
	snprintf(ses.id, sizeof(ses.id), "ses_m2");
	memset(ses.token_hash, 'e', 64);
	snprintf(ses.cert_serial, sizeof(ses.cert_serial), "0c2d");
	assert_int_equal(TX_WR(st, store_app_session_put(tx, &ses)), PV_OK);
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, ses.token_hash, &sg)), PV_OK);
	assert_string_equal(sg.cert_fingerprint, ses.cert_fingerprint);
	assert_string_equal(sg.cert_serial, "0c2d");
	assert_int_equal(TX_RD(st, store_app_cert_revoked(tx, "0a1b", &revoked)), PV_OK);
	assert_false(revoked);
	assert_int_equal(TX_WR(st, store_app_cert_revoke(tx, "app_1", "0a1b", 2000, "usr_a")),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_app_cert_revoke(tx, "app_1", "0a1b", 2001, "usr_a")),
	    PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_app_cert_revoke(tx, "app_1", "XYZ", 2001, "usr_a")),
	    PV_E_INVALID);
	assert_int_equal(TX_RD(st, store_app_cert_revoked(tx, "0a1b", &revoked)), PV_OK);
	assert_true(revoked);
	/* only the sessions bound to that certificate end */
	assert_int_equal(TX_WR(st, store_app_session_end_cert(tx, "app_1", "0a1b", 3000,
	    "cert_revoked", &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, ses.token_hash, &sg)), PV_OK);
	assert_int_equal(sg.ended_ms, 0);
	memset(ses.token_hash, 'd', 64);
	assert_int_equal(TX_RD(st, store_app_session_get_by_hash(tx, ses.token_hash, &sg)), PV_OK);
	assert_int_equal(sg.ended_ms, 3000);
	assert_string_equal(sg.end_reason, "cert_revoked");
}


/* ---- transactions ---- */

/* Not committed: nothing of it is left, in any domain. */
static void c_tx_rollback(struct store *st)
{
	struct store_tx *h;
	struct store_user u, g;
	struct store_collection c;
	int64_t seq = -1;
	char head[65], hash[65], prev[65];
	struct store_audit_row r;

	assert_int_equal(store_begin(st, STORE_WR, &h), PV_OK);
	assert_int_equal(store_tx_store(h), st);
	assert_int_equal(store_tx_mode(h), STORE_WR);
	user_init(&u, "usr_r", "rolled");
	assert_int_equal(store_user_put(h, &u), PV_OK);
	coll_init(&c, "gone");
	assert_int_equal(store_collection_put(h, &c), PV_OK);
	assert_int_equal(meta_put_s(h, "gone", "x"), PV_OK);
	audit_row_init(&r, 1, "record.read", "{}", hash, prev);
	assert_int_equal(store_audit_append(h, &r), PV_OK);
	/* its own writes are visible inside it */
	assert_int_equal(store_user_get(h, "usr_r", &g), PV_OK);
	store_user_clear(&g);
	store_end(h);

	assert_int_equal(TX_RD(st, store_user_get(tx, "usr_r", &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_collection_get(tx, "gone", &c)), PV_E_NOTFOUND);
	assert_true(meta_is(st, "gone", NULL));
	assert_int_equal(TX_RD(st, store_audit_head(tx, &seq, head)), PV_OK);
	assert_int_equal(seq, 0);
}

/* A committed write is visible to every later transaction; a read
 * transaction is a snapshot from its first read on. */
static void c_tx_commit_snapshot(struct store *st)
{
	struct store_tx *rd, *wr;
	uint8_t *v = NULL;
	size_t n = 0;

	assert_int_equal(TX_WR(st, meta_put_s(tx, "k", "old")), PV_OK);
	assert_int_equal(store_begin(st, STORE_RD, &rd), PV_OK);
	assert_int_equal(store_tx_mode(rd), STORE_RD);
	assert_int_equal(store_meta_get(rd, "k", &v, &n), PV_OK);
	free(v);
	assert_int_equal(store_begin(st, STORE_WR, &wr), PV_OK);
	assert_int_equal(meta_put_s(wr, "k", "new"), PV_OK);
	/* not visible before its commit, even to a new reader */
	assert_true(meta_is(st, "k", "old"));
	assert_int_equal(store_commit(wr), PV_OK);
	store_end(wr);
	assert_true(meta_is(st, "k", "new"));
	/* the reader that started before still sees its snapshot */
	v = NULL;
	assert_int_equal(store_meta_get(rd, "k", &v, &n), PV_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(v, "old", 3);
	free(v);
	/* a read transaction may commit too */
	assert_int_equal(store_commit(rd), PV_OK);
	store_end(rd);
}

/* Every write op on a read transaction fails with PV_E_READONLY and changes
 * nothing; reads on it still work. */
static void c_tx_read_refuses_writes(struct store *st)
{
	struct store_tx *h;
	struct store_user u;
	struct store_role r;
	struct store_group g;
	struct store_session s;
	struct store_lockout l = { 1, 1, 1 };
	struct store_mfa_pending p;
	struct store_collection c;
	struct store_record rec;
	struct store_token t;
	struct store_kek k;
	struct store_audit_row ar;
	struct store_checkpoint cp;
	struct store_job j;
	const char *names[] = { "clinician" };
	char hash[65], prev[65];
	uint8_t w[8] = { 1 };
	size_t ended = 0;
	int64_t seq = -1;
	char head[65];

	/* rows the updates could change, if they ran */
	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	coll_init(&c, "patients");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	rec_init(&rec, "patients", "rec_1", 1, 1);
	assert_int_equal(TX_WR(st, store_record_put(tx, &rec)), PV_OK);
	session_init(&s, "ses_1", "th1", "usr_a");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	job_init(&j, "job_1", 1000);
	assert_int_equal(TX_WR(st, store_job_put(tx, &j)), PV_OK);

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "nurse");
	r.permissions = (char *)"[]";
	r.condition = (char *)"{}";
	memset(&g, 0, sizeof(g));
	snprintf(g.name, sizeof(g.name), "ward");
	g.roles = (char *)"[]";
	memset(&p, 0, sizeof(p));
	snprintf(p.token_hash, sizeof(p.token_hash), "mh");
	snprintf(p.user_id, sizeof(p.user_id), "usr_a");
	memset(&t, 0, sizeof(t));
	snprintf(t.token, sizeof(t.token), "tok_1");
	snprintf(t.collection, sizeof(t.collection), "patients");
	snprintf(t.field, sizeof(t.field), "ssn");
	snprintf(t.kek_name, sizeof(t.kek_name), "tokens");
	t.kek_version = 1;
	t.wrapped_dek = w;
	t.wrapped_dek_len = sizeof(w);
	t.ciphertext = w;
	t.ciphertext_len = sizeof(w);
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "kek");
	k.version = 1;
	k.wrapped = w;
	k.wrapped_len = sizeof(w);
	audit_row_init(&ar, 1, "record.read", "{}", hash, prev);
	cp = (struct store_checkpoint){ 1, hash, "2026-01-01T00:00:00.000Z", "sig", "kid" };

	assert_int_equal(store_begin(st, STORE_RD, &h), PV_OK);
	user_init(&u, "usr_b", "bob");
	assert_int_equal(meta_put_s(h, "k", "v"), PV_E_READONLY);
	assert_int_equal(store_kek_put(h, &k), PV_E_READONLY);
	assert_int_equal(store_kek_set_state(h, "kek", 1, STORE_KEK_REVOKED), PV_E_READONLY);
	assert_int_equal(store_audit_append(h, &ar), PV_E_READONLY);
	assert_int_equal(store_checkpoint_put(h, &cp), PV_E_READONLY);
	assert_int_equal(store_user_put(h, &u), PV_E_READONLY);
	user_init(&u, "usr_a", "alice");
	u.disabled = true;
	assert_int_equal(store_user_update(h, &u), PV_E_READONLY);
	assert_int_equal(store_user_roles_set(h, "usr_a", names, 1), PV_E_READONLY);
	assert_int_equal(store_user_groups_set(h, "usr_a", NULL, 0), PV_E_READONLY);
	assert_int_equal(store_role_put(h, &r), PV_E_READONLY);
	assert_int_equal(store_group_put(h, &g), PV_E_READONLY);
	session_init(&s, "ses_2", "th2", "usr_a");
	assert_int_equal(store_session_put(h, &s), PV_E_READONLY);
	assert_int_equal(store_session_touch(h, "ses_1", 9000), PV_E_READONLY);
	assert_int_equal(store_session_set_state(h, "ses_1", 1, true, 2), PV_E_READONLY);
	assert_int_equal(store_session_end(h, "ses_1", 9000, "logout"), PV_E_READONLY);
	assert_int_equal(store_session_end_all_for_user(h, "usr_a", NULL, 9000, "disabled",
	    &ended), PV_E_READONLY);
	assert_int_equal(store_recovery_set(h, "usr_a", names, 1, 1), PV_E_READONLY);
	assert_int_equal(store_recovery_use(h, "usr_a", "clinician", 9000), PV_E_READONLY);
	assert_int_equal(store_lockout_put(h, "alice", "password", &l), PV_E_READONLY);
	assert_int_equal(store_lockout_clear(h, "alice"), PV_E_READONLY);
	assert_int_equal(store_mfa_pending_put(h, &p), PV_E_READONLY);
	assert_int_equal(store_mfa_pending_attempt(h, "mh"), PV_E_READONLY);
	assert_int_equal(store_mfa_pending_delete(h, "mh", 9000), PV_E_READONLY);
	coll_init(&c, "other");
	assert_int_equal(store_collection_put(h, &c), PV_E_READONLY);
	rec_init(&rec, "patients", "rec_2", 1, 2);
	assert_int_equal(store_record_put(h, &rec), PV_E_READONLY);
	rec_init(&rec, "patients", "rec_1", 2, 3);
	assert_int_equal(store_record_update(h, &rec, 1), PV_E_READONLY);
	assert_int_equal(store_record_shred(h, "patients", "rec_1", 9000), PV_E_READONLY);
	assert_int_equal(store_bidx_put(h, "patients", "ssn", MAC_A, "rec_1"), PV_E_READONLY);
	assert_int_equal(store_bidx_delete(h, "patients", "rec_1", NULL), PV_E_READONLY);
	assert_int_equal(store_token_put(h, &t), PV_E_READONLY);
	job_init(&j, "job_2", 2000);
	assert_int_equal(store_job_put(h, &j), PV_E_READONLY);
	job_init(&j, "job_1", 1000);
	snprintf(j.state, sizeof(j.state), "cancelled");
	assert_int_equal(store_job_update(h, &j), PV_E_READONLY);
	/* reads on it still work */
	assert_int_equal(store_audit_head(h, &seq, head), PV_OK);
	store_end(h);

	/* nothing changed */
	assert_true(meta_is(st, "k", NULL));
	assert_int_equal(TX_RD(st, store_user_get(tx, "usr_b", &u)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_user_get(tx, "usr_a", &u)), PV_OK);
	assert_false(u.disabled);
	store_user_clear(&u);
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_1", &rec)), PV_OK);
	assert_int_equal(rec.version, 1);
	assert_int_equal(rec.deleted_ms, 0);
	store_record_clear(&rec);
	assert_int_equal(TX_RD(st, store_job_get(tx, "job_1", &j)), PV_OK);
	assert_string_equal(j.state, "queued");
	store_job_clear(&j);
	assert_int_equal(TX_RD(st, store_audit_head(tx, &seq, head)), PV_OK);
	assert_int_equal(seq, 0);
}

struct thread_tx {
	struct store *st;
	struct store_tx *tx;
	enum pv_rc rc;
	bool commit;
};

static void *begin_and_write(void *arg)
{
	struct thread_tx *t = arg;

	t->rc = store_begin(t->st, STORE_WR, &t->tx);
	if (t->rc == PV_OK)
		t->rc = meta_put_s(t->tx, "from-thread", "1");
	return NULL;
}

static void *commit_and_end(void *arg)
{
	struct thread_tx *t = arg;

	t->rc = meta_put_s(t->tx, "from-other", "2");
	if (t->rc == PV_OK && t->commit)
		t->rc = store_commit(t->tx);
	store_end(t->tx);
	return NULL;
}

/* A transaction begun on one thread is continued and ended on another; the
 * thread that began it has exited by then. */
static void c_tx_other_thread(struct store *st)
{
	struct thread_tx t = { st, NULL, PV_E_INTERNAL, true };
	pthread_t a, b;

	for (int round = 0; round < 2; round++) {
		t.commit = round == 1;   /* first ended without commit, then committed */
		t.tx = NULL;
		assert_int_equal(pthread_create(&a, NULL, begin_and_write, &t), 0);
		assert_int_equal(pthread_join(a, NULL), 0);
		assert_int_equal(t.rc, PV_OK);
		assert_true(meta_is(st, "from-thread", NULL));   /* open, not committed */
		assert_int_equal(pthread_create(&b, NULL, commit_and_end, &t), 0);
		assert_int_equal(pthread_join(b, NULL), 0);
		assert_int_equal(t.rc, PV_OK);
		assert_true(meta_is(st, "from-thread", t.commit ? "1" : NULL));
		assert_true(meta_is(st, "from-other", t.commit ? "2" : NULL));
	}
}

/* All connections held: store_begin waits (bounded) and then answers
 * PV_E_UNAVAILABLE; the end of one transaction frees its connection. */
static void c_tx_pool_exhausted(struct store *st)
{
	struct store_tx *a, *b, *c;

	store_pool_set(st, 2, 5);
	assert_int_equal(store_begin(st, STORE_RD, &a), PV_OK);
	assert_int_equal(store_begin(st, STORE_WR, &b), PV_OK);
	c = NULL;
	assert_int_equal(store_begin(st, STORE_RD, &c), PV_E_UNAVAILABLE);
	assert_null(c);
	assert_int_equal(store_commit(b), PV_OK);   /* committed, still held */
	assert_int_equal(store_begin(st, STORE_RD, &c), PV_E_UNAVAILABLE);
	store_end(b);
	assert_int_equal(store_begin(st, STORE_RD, &c), PV_OK);
	store_end(c);
	store_end(a);
}

/* Savepoint rollback undoes only what followed the savepoint. */
static void c_tx_savepoint(struct store *st)
{
	struct store_tx *h;

	assert_int_equal(store_begin(st, STORE_WR, &h), PV_OK);
	assert_int_equal(meta_put_s(h, "a", "1"), PV_OK);
	assert_int_equal(store_savepoint(h), PV_OK);
	assert_int_equal(meta_put_s(h, "b", "1"), PV_OK);
	assert_int_equal(meta_put_s(h, "a", "2"), PV_OK);
	store_rollback_savepoint(h);
	assert_int_equal(store_savepoint(h), PV_OK);
	assert_int_equal(meta_put_s(h, "c", "1"), PV_OK);
	assert_int_equal(store_release(h), PV_OK);
	assert_int_equal(store_commit(h), PV_OK);
	store_end(h);
	assert_true(meta_is(st, "a", "1"));
	assert_true(meta_is(st, "b", NULL));
	assert_true(meta_is(st, "c", "1"));
}

/* After commit only store_end is left; ops on the handle are refused. */
static void c_tx_after_commit(struct store *st)
{
	struct store_tx *h;

	assert_int_equal(store_begin(st, STORE_WR, &h), PV_OK);
	assert_int_equal(store_commit(h), PV_OK);
	assert_int_equal(meta_put_s(h, "late", "1"), PV_E_INVALID);
	assert_int_equal(store_commit(h), PV_E_INVALID);
	assert_int_equal(store_savepoint(h), PV_E_INVALID);
	store_end(h);
	store_end(NULL);
	assert_true(meta_is(st, "late", NULL));
	assert_int_equal(store_begin(NULL, STORE_RD, &h), PV_E_INVALID);
	assert_int_equal(store_meta_get(NULL, "k", NULL, NULL), PV_E_INVALID);
}

/* ---- the table and its runner ---- */

/* keys-admin: the census follows every write of a record in its own
 * transaction; the re-envelope is conditional; destroy wipes the material. */
static int64_t census_of(struct store *st, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, "collection:patients", v, &n)), PV_OK);
	return n;
}

/* ---- writers are serialised: concurrent chain appends never fork ----
 * Each thread appends entries as the audit writer does: in one STORE_WR
 * transaction, read the head, append head + 1 chained to its hash. If two
 * write transactions could both read the same head (no writer lock), one
 * would append the same seq (PV_E_CONFLICT) or fork the chain. */
#define CHAIN_THREADS 4
#define CHAIN_EACH 15

struct chain_arg {
	struct store *st;
	int failures;
};

static void *chain_writer(void *p)
{
	struct chain_arg *a = p;

	for (int i = 0; i < CHAIN_EACH; i++) {
		struct store_tx *tx = NULL;
		struct store_audit_row r;
		char head[65], hash[65];
		int64_t seq = 0;
		enum pv_rc rc = store_begin(a->st, STORE_WR, &tx);

		if (rc == PV_OK)
			rc = store_audit_head(tx, &seq, head);
		if (rc == PV_OK) {
			snprintf(hash, sizeof(hash), "%064lld", (long long)(seq + 1));
			r = (struct store_audit_row){
				.seq = seq + 1, .time = "2026-01-01T00:00:00.000Z", .actor = "{}",
				.action = "test.chain", .resource = "", .purpose_of_use = "",
				.outcome = "allowed", .reason = "", .detail = "{}",
				.prev_hash = head, .hash = hash,
			};
			rc = store_audit_append(tx, &r);
		}
		if (rc == PV_OK)
			rc = store_commit(tx);
		store_end(tx);
		if (rc != PV_OK)
			a->failures++;
	}
	return NULL;
}

struct chain_check {
	int64_t next;
	char prev[65];
	bool ok;
};

static int chain_row(const struct store_audit_row *r, void *arg)
{
	struct chain_check *c = arg;

	if (r->seq != c->next || strcmp(r->prev_hash, c->prev) != 0)
		c->ok = false;
	util_strlcpy(c->prev, r->hash, sizeof(c->prev));
	c->next++;
	return 0;
}

static void c_tx_writers_serialise(struct store *st)
{
	struct chain_arg args[CHAIN_THREADS];
	pthread_t th[CHAIN_THREADS];
	struct store_audit_filter f;
	struct chain_check c = { 1, "", true };

	memset(c.prev, '0', 64);
	store_pool_set(st, CHAIN_THREADS + 1, 20000);
	for (int i = 0; i < CHAIN_THREADS; i++) {
		args[i] = (struct chain_arg){ st, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, chain_writer, &args[i]), 0);
	}
	for (int i = 0; i < CHAIN_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	memset(&f, 0, sizeof(f));
	assert_int_equal(TX_RD(st, store_audit_scan(tx, &f, chain_row, &c)), PV_OK);
	assert_true(c.ok);
	assert_int_equal(c.next - 1, CHAIN_THREADS * CHAIN_EACH);
}

/* ---- fault injection: an injected failure writes nothing, on every
 * backend (the runners call store_fault_check before each statement) ---- */
static void c_fault_injection(struct store *st)
{
	struct store_collection c;
	struct store_record r, got;
	struct store_tx *t1 = NULL;

	coll_init(&c, "patients");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	/* an op's first statement */
	store_fault_set("record_put", 1);
	rec_init(&r, "patients", "rec_f1", 1, 1);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_E_IO);
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_f1", &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);   /* fired once */
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "patients", "name", MAC_A, "rec_f1")), PV_OK);
	/* a later step of an op, in one transaction: the whole shred rolls back */
	store_fault_set("record_shred/bidx", 1);
	assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_f1", 5000)), PV_E_IO);
	memset(&got, 0, sizeof(got));
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_f1", &got)), PV_OK);
	assert_int_equal(got.deleted_ms, 0);
	assert_non_null(got.wrapped_dek);
	store_record_clear(&got);
	/* the commit itself: nothing of the transaction stays */
	store_fault_set("tx_commit", 1);
	assert_int_equal(store_begin(st, STORE_WR, &t1), PV_OK);
	assert_int_equal(store_meta_put(t1, "fault", (const uint8_t *)"x", 1), PV_OK);
	assert_int_equal(store_commit(t1), PV_E_IO);
	store_end(t1);
	assert_true(meta_is(st, "fault", NULL));
	/* beginning: no transaction, nothing held (the pool is whole after) */
	store_fault_set("tx_begin", 1);
	t1 = NULL;
	assert_int_equal(store_begin(st, STORE_WR, &t1), PV_E_IO);
	store_fault_set("tx_begin_rd", -1);
	assert_false(meta_is(st, "fault", NULL));   /* the read fails: IO, not NOTFOUND */
	store_fault_clear_all();
	assert_int_equal(TX_WR(st, store_meta_put(tx, "fault", (const uint8_t *)"y", 1)), PV_OK);
	assert_true(meta_is(st, "fault", "y"));
}

/* ---- the access epoch (store_cluster.h): explicit bumps on every backend;
 * on a shared store (PostgreSQL) every access-affecting write bumps it in
 * its own transaction (a rolled-back one does not) ---- */
static int64_t epoch_of(struct store *st)
{
	int64_t e = -1;

	assert_int_equal(TX_RD(st, store_epoch_get(tx, &e)), PV_OK);
	return e;
}

static void c_access_epoch(struct store *st)
{
	struct store_user u;
	struct store_tx *t1 = NULL;
	int64_t base;

	assert_int_equal(epoch_of(st), 0);
	assert_int_equal(TX_WR(st, store_epoch_bump(tx)), PV_OK);
	assert_int_equal(epoch_of(st), 1);
	assert_int_equal(TX_RD(st, store_epoch_bump(tx)), PV_E_READONLY);
	user_init(&u, "usr_e", "erin");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	base = epoch_of(st);
	assert_int_equal(base, 1);   /* a new user changes nobody's access */
	u.disabled = true;
	u.disabled_ms = 2000;
	assert_int_equal(TX_WR(st, store_user_update(tx, &u)), PV_OK);
	assert_int_equal(epoch_of(st), store_shared(st) ? base + 1 : base);
	/* rolled back with its change */
	assert_int_equal(store_begin(st, STORE_WR, &t1), PV_OK);
	assert_int_equal(store_user_update(t1, &u), PV_OK);
	store_end(t1);
	assert_int_equal(epoch_of(st), store_shared(st) ? base + 1 : base);
}

static void c_census(struct store *st)
{
	struct store_collection c;
	struct store_record r, g;
	struct store_kek k, gk;
	uint8_t w[32];

	coll_init(&c, "patients");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	assert_int_equal(census_of(st, 1), 0);
	for (int i = 1; i <= 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "rec_%d", i);
		rec_init(&r, "patients", id, 1, (uint8_t)i);
		assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	}
	assert_int_equal(census_of(st, 1), 5);
	/* a write that rolls back leaves the census as it was */
	{
		struct store_tx *tx = NULL;

		rec_init(&r, "patients", "rec_9", 1, 9);
		assert_int_equal(store_begin(st, STORE_WR, &tx), PV_OK);
		assert_int_equal(store_record_put(tx, &r), PV_OK);
		store_end(tx);
	}
	assert_int_equal(census_of(st, 1), 5);
	/* a patch under v2 moves one; a shred drops one */
	rec_init(&r, "patients", "rec_1", 2, 0x21);
	r.kek_version = 2;
	assert_int_equal(TX_WR(st, store_record_update(tx, &r, 1)), PV_OK);
	assert_int_equal(TX_WR(st, store_record_shred(tx, "patients", "rec_2", 2000)), PV_OK);
	assert_int_equal(census_of(st, 1), 3);
	assert_int_equal(census_of(st, 2), 1);
	/* re-envelope of rec_3 to v2, data kept (ciphertext NULL) */
	rec_init(&r, "patients", "rec_3", 1, 0x33);
	r.kek_version = 2;
	r.ciphertext = NULL;
	r.ciphertext_len = 0;
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &r, 1)), PV_OK);
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &r, 1)), PV_E_CONFLICT); /* moved */
	memset(&g, 0, sizeof(g));
	assert_int_equal(TX_RD(st, store_record_get(tx, "patients", "rec_3", &g)), PV_OK);
	assert_int_equal(g.kek_version, 2);
	assert_int_equal(g.version, 1);
	assert_int_equal(g.ciphertext_len, 16);
	assert_int_equal(g.ciphertext[0], 3 ^ 0x5a);   /* rec_init's data of rec_3 */
	assert_int_equal(g.wrapped_dek[0], 0x33);
	store_record_clear(&g);
	/* not at the version read (rec_1 is at 2), shredded (rec_2): conflict */
	rec_init(&r, "patients", "rec_1", 1, 0x44);
	r.kek_version = 3;
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &r, 2)), PV_E_CONFLICT);
	rec_init(&r, "patients", "rec_2", 1, 0x44);
	r.kek_version = 3;
	assert_int_equal(TX_WR(st, store_record_rewrap(tx, &r, 1)), PV_E_CONFLICT);
	assert_int_equal(census_of(st, 1), 2);
	assert_int_equal(census_of(st, 2), 2);
	assert_int_equal(census_of(st, 3), 0);

	/* destroy: REVOKED and no material left */
	memset(w, 0x42, sizeof(w));
	memset(&k, 0, sizeof(k));
	snprintf(k.name, sizeof(k.name), "collection:patients");
	k.wrapped = w;
	k.wrapped_len = sizeof(w);
	k.version = 1;
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_OK);
	k.version = 2;
	k.state = STORE_KEK_DISABLED;
	assert_int_equal(TX_WR(st, store_kek_put(tx, &k)), PV_OK);
	assert_int_equal(TX_WR(st, store_kek_destroy(tx, "collection:patients", 1)), PV_OK);
	assert_int_equal(TX_WR(st, store_kek_destroy(tx, "collection:patients", 7)),
	    PV_E_NOTFOUND);
	memset(&gk, 0, sizeof(gk));
	assert_int_equal(TX_RD(st, store_kek_get(tx, "collection:patients", 1, &gk)), PV_OK);
	assert_int_equal(gk.state, STORE_KEK_REVOKED);
	assert_int_equal(gk.wrapped_len, 0);
	store_kek_clear(&gk);
	assert_int_equal(TX_RD(st, store_kek_get(tx, "collection:patients", 2, &gk)), PV_OK);
	assert_int_equal(gk.state, STORE_KEK_DISABLED);
	store_kek_clear(&gk);
}

/* ---- secrets (store_secrets.h) ---- */

static int secret_paths(const struct store_secret *h, void *arg)
{
	struct names *n = arg;
	size_t len = strlen(n->buf);

	snprintf(n->buf + len, sizeof(n->buf) - len, "%s@%u%s,", h->path,
	    (unsigned)h->current_version, h->deleted_ms != 0 ? "d" : "");
	return 0;
}

struct sv_seen {
	int64_t last_seq;
	char buf[256];
};

static int sv_paths(const struct store_secret_version *v, void *arg)
{
	struct sv_seen *n = arg;
	size_t len = strlen(n->buf);

	n->last_seq = v->seq;
	snprintf(n->buf + len, sizeof(n->buf) - len, "%s@%u,", v->path, (unsigned)v->version);
	return 0;
}

static void sv_init(struct store_secret *h, struct store_secret_version *v, const char *path,
    uint32_t version, int64_t now, uint8_t fill)
{
	static uint8_t dek[4][40], ct[4][20];
	static int slot;
	int k = slot++ % 4;

	memset(h, 0, sizeof(*h));
	memset(v, 0, sizeof(*v));
	snprintf(h->path, sizeof(h->path), "%s", path);
	h->current_version = version;
	h->rotate_every_s = 60;
	h->updated_ms = now;
	h->metadata = (char *)"{\"owner\":\"billing\"}";
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->version = version;
	snprintf(v->kek_name, sizeof(v->kek_name), "secrets");
	v->kek_version = 1;
	memset(dek[k], fill, sizeof(dek[k]));
	memset(ct[k], fill ^ 0x5a, sizeof(ct[k]));
	v->wrapped_dek = dek[k];
	v->wrapped_dek_len = sizeof(dek[k]);
	v->ciphertext = ct[k];
	v->ciphertext_len = sizeof(ct[k]);
	v->metadata = h->metadata;
	v->created_ms = now;
}

static int64_t secrets_census(struct store *st, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, "secrets", v, &n)), PV_OK);
	return n;
}

static void c_secrets(struct store *st)
{
	struct store_secret h, g;
	struct store_secret_version v, gv;
	struct names nm;
	struct sv_seen seen;
	size_t n = 0;

	/* create: expected 0 only while the path does not exist */
	sv_init(&h, &v, "apps/billing/db", 1, 1000, 0x11);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 0)), PV_OK);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 0)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_secret_get(tx, "apps/billing/db", &g)), PV_OK);
	assert_int_equal(g.current_version, 1);
	assert_int_equal(g.rotate_every_s, 60);
	assert_int_equal(g.created_ms, 1000);
	assert_int_equal(g.updated_ms, 1000);
	assert_int_equal(g.deleted_ms, 0);
	assert_string_equal(g.metadata, "{\"owner\":\"billing\"}");
	store_secret_clear(&g);
	assert_int_equal(TX_RD(st, store_secret_get(tx, "apps/none", &g)), PV_E_NOTFOUND);
	/* new versions: check-and-set on the current one */
	sv_init(&h, &v, "apps/billing/db", 2, 2000, 0x22);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 3)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 1)), PV_OK);
	sv_init(&h, &v, "apps/billing/db", 3, 3000, 0x33);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 1)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 2)), PV_OK);
	sv_init(&h, &v, "apps/hr/x", 1, 1500, 0x44);
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 0)), PV_OK);
	assert_int_equal(TX_RD(st, store_secret_get(tx, "apps/billing/db", &g)), PV_OK);
	assert_int_equal(g.current_version, 3);
	assert_int_equal(g.created_ms, 1000);
	assert_int_equal(g.updated_ms, 3000);
	store_secret_clear(&g);
	assert_int_equal(TX_RD(st, store_secret_version_get(tx, "apps/billing/db", 2, &gv)), PV_OK);
	assert_int_equal(gv.version, 2);
	assert_int_equal(gv.kek_version, 1);
	assert_string_equal(gv.kek_name, "secrets");
	assert_int_equal(gv.wrapped_dek_len, 40);
	assert_int_equal(gv.wrapped_dek[0], 0x22);
	assert_int_equal(gv.ciphertext_len, 20);
	assert_int_equal(gv.created_ms, 2000);
	assert_int_equal(gv.destroyed_ms, 0);
	store_secret_version_clear(&gv);
	assert_int_equal(TX_RD(st, store_secret_version_get(tx, "apps/billing/db", 9, &gv)),
	    PV_E_NOTFOUND);
	assert_int_equal(secrets_census(st, 1), 4);
	/* list by prefix, path order */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_secret_list(tx, "", secret_paths, &nm)), PV_OK);
	assert_string_equal(nm.buf, "apps/billing/db@3,apps/hr/x@1,");
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_secret_list(tx, "apps/hr/", secret_paths, &nm)), PV_OK);
	assert_string_equal(nm.buf, "apps/hr/x@1,");
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_secret_list(tx, "apps/h%", secret_paths, &nm)), PV_OK);
	assert_string_equal(nm.buf, "");                 /* a prefix, not a pattern */
	/* soft delete and undelete */
	assert_int_equal(TX_WR(st, store_secret_set_deleted(tx, "apps/hr/x", 4000)), PV_OK);
	assert_int_equal(TX_WR(st, store_secret_set_deleted(tx, "apps/none", 4000)),
	    PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_secret_list(tx, "apps/", secret_paths, &nm)), PV_OK);
	assert_string_equal(nm.buf, "apps/billing/db@3,apps/hr/x@1d,");
	assert_int_equal(TX_WR(st, store_secret_set_deleted(tx, "apps/hr/x", 0)), PV_OK);
	/* destroy: DEK and ciphertext gone, the row kept; once */
	assert_int_equal(TX_WR(st, store_secret_version_destroy(tx, "apps/billing/db", 1, 5000)),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_secret_version_destroy(tx, "apps/billing/db", 1, 5000)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_secret_version_get(tx, "apps/billing/db", 1, &gv)), PV_OK);
	assert_null(gv.wrapped_dek);
	assert_null(gv.ciphertext);
	assert_int_equal(gv.destroyed_ms, 5000);
	store_secret_version_clear(&gv);
	assert_int_equal(secrets_census(st, 1), 3);
	/* scan: live versions in seq order, after a cursor */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_secret_version_scan(tx, 0, 10, sv_paths, &seen)), PV_OK);
	assert_string_equal(seen.buf, "apps/billing/db@2,apps/billing/db@3,apps/hr/x@1,");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(TX_RD(st, store_secret_version_scan(tx, 0, 1, sv_paths, &seen)), PV_OK);
	assert_string_equal(seen.buf, "apps/billing/db@2,");
	seen.buf[0] = '\0';
	assert_int_equal(TX_RD(st, store_secret_version_scan(tx, seen.last_seq, 10, sv_paths,
	    &seen)), PV_OK);
	assert_string_equal(seen.buf, "apps/billing/db@3,apps/hr/x@1,");
	/* rewrap: only from the KEK version read; the census moves */
	sv_init(&h, &v, "apps/billing/db", 2, 2000, 0x77);
	v.kek_version = 2;
	assert_int_equal(TX_WR(st, store_secret_version_rewrap(tx, &v, 2)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_secret_version_rewrap(tx, &v, 1)), PV_OK);
	assert_int_equal(TX_WR(st, store_secret_version_rewrap(tx, &v, 1)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_secret_version_get(tx, "apps/billing/db", 2, &gv)), PV_OK);
	assert_int_equal(gv.kek_version, 2);
	assert_int_equal(gv.wrapped_dek[0], 0x77);
	store_secret_version_clear(&gv);
	assert_int_equal(secrets_census(st, 1), 2);
	assert_int_equal(secrets_census(st, 2), 1);
	sv_init(&h, &v, "apps/billing/db", 1, 2000, 0x78);
	assert_int_equal(TX_WR(st, store_secret_version_rewrap(tx, &v, 1)), PV_E_CONFLICT);
	/* prune: every live version below */
	assert_int_equal(TX_WR(st, store_secret_versions_prune(tx, "apps/billing/db", 3, 6000,
	    &n)), PV_OK);
	assert_int_equal(n, 1);                          /* v2 (v1 was destroyed already) */
	assert_int_equal(secrets_census(st, 2), 0);
	assert_int_equal(secrets_census(st, 1), 2);      /* db v3, hr/x v1 */
	/* a read transaction refuses every write op */
	assert_int_equal(TX_RD(st, store_secret_set_deleted(tx, "apps/hr/x", 1)), PV_E_READONLY);
	/* bad arguments */
	sv_init(&h, &v, "apps/billing/db", 4, 7000, 0x55);
	v.version = 5;                                   /* head and version disagree */
	assert_int_equal(TX_WR(st, store_secret_write(tx, &h, &v, 3)), PV_E_INVALID);
	assert_int_equal(TX_RD(st, store_secret_get(tx, "", &g)), PV_E_INVALID);
}

/* ---- webauthn (store_webauthn.h) ---- */

static int cred_ids(const struct store_webauthn_cred *c, void *arg)
{
	return names_cb(c->id, arg);
}

static void cred_init(struct store_webauthn_cred *c, const char *id, const char *user,
    int64_t created)
{
	static uint8_t key[] = { 0xa4, 0x01, 0x01, 0x03, 0x27 };

	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->user_id, sizeof(c->user_id), "%s", user);
	c->public_key = key;
	c->public_key_len = sizeof(key);
	c->alg = -8;
	c->sign_count = 5;
	snprintf(c->name, sizeof(c->name), "laptop");
	c->created_ms = created;
}

static void c_webauthn(struct store *st)
{
	struct store_webauthn_cred c, g;
	struct store_webauthn_challenge ch, gch;
	struct store_session s, gs;
	struct store_user u;
	struct names nm;
	char handle[STORE_WEBAUTHN_HANDLE_MAX];
	size_t n = 0;

	user_init(&u, "usr_a", "alice");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	user_init(&u, "usr_b", "bob");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	/* credentials: unique ID across users, oldest first, key bytes kept */
	cred_init(&c, "cred-b", "usr_a", 2000);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_E_CONFLICT);
	cred_init(&c, "cred-b", "usr_b", 2000);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_E_CONFLICT);
	cred_init(&c, "cred-a", "usr_a", 3000);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	cred_init(&c, "cred-c", "usr_b", 1000);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_webauthn_cred_list(tx, "usr_a", cred_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "cred-b,cred-a,");
	assert_int_equal(TX_RD(st, store_webauthn_cred_get(tx, "cred-a", &g)), PV_OK);
	assert_string_equal(g.user_id, "usr_a");
	assert_int_equal(g.public_key_len, 5);
	assert_memory_equal(g.public_key, c.public_key, 5);
	assert_int_equal(g.alg, -8);
	assert_int_equal(g.sign_count, 5);
	assert_string_equal(g.name, "laptop");
	assert_int_equal(g.last_used_ms, 0);
	store_webauthn_cred_clear(&g);
	assert_int_equal(TX_RD(st, store_webauthn_cred_get(tx, "nope", &g)), PV_E_NOTFOUND);
	/* the counter moves only forward */
	assert_int_equal(TX_WR(st, store_webauthn_cred_use(tx, "cred-a", 5, 9000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_cred_use(tx, "cred-a", 4, 9000)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_cred_use(tx, "cred-a", 6, 9000)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_cred_use(tx, "nope", 6, 9000)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_webauthn_cred_get(tx, "cred-a", &g)), PV_OK);
	assert_int_equal(g.sign_count, 6);
	assert_int_equal(g.last_used_ms, 9000);
	store_webauthn_cred_clear(&g);
	cred_init(&c, "cred-z", "usr_b", 1000);
	c.sign_count = 0;
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_cred_use(tx, "cred-z", 0, 9000)), PV_OK);
	/* delete: only the owner's; delete_user: all of them */
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete(tx, "usr_b", "cred-a")),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete(tx, "usr_a", "cred-a")), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete(tx, "usr_a", "cred-a")),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete_user(tx, "usr_b", &n)), PV_OK);
	assert_int_equal(n, 2);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_webauthn_cred_list(tx, "usr_a", cred_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "cred-b,");
	/* user handles: one per user, unique */
	assert_int_equal(TX_RD(st, store_webauthn_handle_get(tx, "usr_a", handle)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_handle_put(tx, "usr_a", "h-a")), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_handle_put(tx, "usr_a", "h-x")), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_webauthn_handle_put(tx, "usr_b", "h-a")), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_webauthn_handle_get(tx, "usr_a", handle)), PV_OK);
	assert_string_equal(handle, "h-a");
	/* challenges: single use, expiry, purge */
	memset(&ch, 0, sizeof(ch));
	snprintf(ch.challenge, sizeof(ch.challenge), "c1");
	snprintf(ch.kind, sizeof(ch.kind), "login");
	snprintf(ch.user_id, sizeof(ch.user_id), "usr_a");
	snprintf(ch.bind, sizeof(ch.bind), "pending-hash");
	ch.expires_ms = 5000;
	assert_int_equal(TX_WR(st, store_webauthn_challenge_put(tx, &ch, 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_put(tx, &ch, 1000)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_take(tx, "c1", 4999, &gch)), PV_OK);
	assert_string_equal(gch.kind, "login");
	assert_string_equal(gch.user_id, "usr_a");
	assert_string_equal(gch.bind, "pending-hash");
	assert_int_equal(gch.expires_ms, 5000);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_take(tx, "c1", 4999, &gch)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_put(tx, &ch, 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_take(tx, "c1", 5000, &gch)),
	    PV_E_EXPIRED);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_take(tx, "c1", 6000, &gch)),
	    PV_E_EXPIRED);    /* and stays so until a put purges it */
	snprintf(ch.challenge, sizeof(ch.challenge), "c2");
	assert_int_equal(TX_WR(st, store_webauthn_challenge_put(tx, &ch, 6000)), PV_OK);
	assert_int_equal(TX_WR(st, store_webauthn_challenge_take(tx, "c1", 1000, &gch)),
	    PV_E_NOTFOUND);   /* purged by the later put */
	/* a session's MFA method */
	session_init(&s, "ses_1", "th1", "usr_a");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th1", &gs)), PV_OK);
	assert_string_equal(gs.mfa_method, "");
	assert_int_equal(TX_WR(st, store_session_set_mfa_method(tx, "ses_1", "webauthn")), PV_OK);
	assert_int_equal(TX_RD(st, store_session_get_by_hash(tx, "th1", &gs)), PV_OK);
	assert_string_equal(gs.mfa_method, "webauthn");
	assert_int_equal(TX_WR(st, store_session_set_mfa_method(tx, "ses_9", "totp")),
	    PV_E_NOTFOUND);
	/* a read transaction refuses the writes */
	assert_int_equal(TX_RD(st, store_webauthn_cred_put(tx, &c)), PV_E_READONLY);
	assert_int_equal(TX_RD(st, store_webauthn_challenge_take(tx, "c2", 1, &gch)),
	    PV_E_READONLY);
}

/* ---- the access epoch and the domains merged after it: an applied
 * approval, a passkey removed (one or all of a user's), a session's MFA
 * method and a subject crypto-shredded each move it on a shared store, in
 * their own transaction; adding a passkey or a pending request does not ---- */
static void c_access_epoch_domains(struct store *st)
{
	struct store_approval a;
	struct store_webauthn_cred c;
	struct store_session s;
	struct store_user u;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	int64_t e, step = store_shared(st) ? 1 : 0;
	size_t n = 0;

	user_init(&u, "usr_d", "dora");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	session_init(&s, "ses_d", "hash_d", "usr_d");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	e = epoch_of(st);
	approval_init(&a, "apr_e", 1000);
	assert_int_equal(TX_WR(st, store_approval_put(tx, &a)), PV_OK);
	cred_init(&c, "cred-e1", "usr_d", 1000);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	cred_init(&c, "cred-e2", "usr_d", 1001);
	assert_int_equal(TX_WR(st, store_webauthn_cred_put(tx, &c)), PV_OK);
	assert_int_equal(epoch_of(st), e);
	assert_int_equal(TX_WR(st, store_approval_decide(tx, "apr_e", "approved", "usr_so", 2000,
	    "ok")), PV_OK);
	assert_int_equal(epoch_of(st), e += step);
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete(tx, "usr_d", "cred-e1")), PV_OK);
	assert_int_equal(epoch_of(st), e += step);
	assert_int_equal(TX_WR(st, store_webauthn_cred_delete_user(tx, "usr_d", &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(epoch_of(st), e += step);
	assert_int_equal(TX_WR(st, store_session_set_mfa_method(tx, "ses_d", "webauthn")), PV_OK);
	assert_int_equal(epoch_of(st), e += step);
	memset(ref, 'a', STORE_SUBJECT_REF_LEN);
	ref[STORE_SUBJECT_REF_LEN] = '\0';
	assert_int_equal(TX_WR(st, store_subject_shred(tx, ref, 3000, NULL, NULL)), PV_OK);
	assert_int_equal(epoch_of(st), e += step);
}

/* ---- exports (store_exports.h) ---- */

static int export_ids(const struct store_export *e, void *arg)
{
	return names_cb(e->id, arg);
}

static void export_init(struct store_export *e, const char *id, int64_t created)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(e->collection, sizeof(e->collection), "visits");
	snprintf(e->job_id, sizeof(e->job_id), "job_%s", id);
	snprintf(e->state, sizeof(e->state), "queued");
	snprintf(e->mode, sizeof(e->mode), "safe_harbor");
	snprintf(e->created_by, sizeof(e->created_by), "usr_x");
	e->pseudonym = true;
	e->created_ms = created;
	e->expires_ms = created + 86400000;
}

static void c_exports(struct store *st)
{
	struct store_export a, e;
	struct store_export_chunk ch, got;
	uint8_t dek[60], ct[40];
	struct names nm;
	int64_t n = -1;

	export_init(&a, "exp_1", 1000);
	assert_int_equal(TX_WR(st, store_export_put(tx, &a)), PV_OK);
	assert_int_equal(TX_WR(st, store_export_put(tx, &a)), PV_E_CONFLICT);
	export_init(&a, "exp_2", 2000);
	assert_int_equal(TX_WR(st, store_export_put(tx, &a)), PV_OK);
	assert_int_equal(TX_RD(st, store_export_get(tx, "exp_1", &e)), PV_OK);
	assert_string_equal(e.job_id, "job_exp_1");
	assert_string_equal(e.dropped, "{}");
	assert_string_equal(e.sha256, "");
	assert_true(e.pseudonym);
	assert_int_equal(e.expires_ms, 1000 + 86400000);
	/* the counts move with a step */
	snprintf(e.state, sizeof(e.state), "done");
	e.rows = 4;
	e.chunks = 1;
	e.bytes = 40;
	e.finished_ms = 1500;
	free(e.dropped);
	e.dropped = strdup("{\"identifier\":3}");
	memset(e.sha256, 'a', 64);
	assert_int_equal(TX_WR(st, store_export_update(tx, &e)), PV_OK);
	store_export_clear(&e);
	assert_int_equal(TX_RD(st, store_export_get(tx, "exp_1", &e)), PV_OK);
	assert_string_equal(e.state, "done");
	assert_int_equal(e.rows, 4);
	assert_int_equal(e.bytes, 40);
	assert_string_equal(e.dropped, "{\"identifier\":3}");
	assert_int_equal(strlen(e.sha256), 64);
	store_export_clear(&e);
	assert_int_equal(TX_RD(st, store_export_get(tx, "exp_9", &e)), PV_E_NOTFOUND);
	export_init(&a, "exp_9", 1);
	assert_int_equal(TX_WR(st, store_export_update(tx, &a)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_export_list(tx, export_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "exp_2,exp_1,");   /* newest first */
	/* chunks: ciphertext and wrapped DEK round-trip, once per index */
	memset(dek, 7, sizeof(dek));
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] = (uint8_t)i;
	memset(&ch, 0, sizeof(ch));
	snprintf(ch.export_id, sizeof(ch.export_id), "exp_1");
	snprintf(ch.kek_name, sizeof(ch.kek_name), STORE_EXPORT_KEK);
	ch.kek_version = 2;
	ch.rows = 4;
	ch.wrapped_dek = dek;
	ch.wrapped_dek_len = sizeof(dek);
	ch.ciphertext = ct;
	ch.ciphertext_len = sizeof(ct);
	assert_int_equal(TX_WR(st, store_export_chunk_put(tx, &ch)), PV_OK);
	assert_int_equal(TX_WR(st, store_export_chunk_put(tx, &ch)), PV_E_CONFLICT);
	ch.idx = 1;
	assert_int_equal(TX_WR(st, store_export_chunk_put(tx, &ch)), PV_OK);
	assert_int_equal(TX_RD(st, store_export_chunk_get(tx, "exp_1", 0, &got)), PV_OK);
	assert_int_equal(got.kek_version, 2);
	assert_int_equal(got.rows, 4);
	assert_int_equal(got.ciphertext_len, sizeof(ct));
	assert_memory_equal(got.ciphertext, ct, sizeof(ct));
	assert_int_equal(got.wrapped_dek_len, sizeof(dek));
	assert_memory_equal(got.wrapped_dek, dek, sizeof(dek));
	store_export_chunk_clear(&got);
	assert_int_equal(TX_RD(st, store_export_chunk_get(tx, "exp_1", 2, &got)), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_export_chunks_delete(tx, "exp_1", &n)), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(TX_RD(st, store_export_chunk_get(tx, "exp_1", 0, &got)), PV_E_NOTFOUND);
	/* a read transaction refuses writes */
	assert_int_equal(TX_RD(st, store_export_chunks_delete(tx, "exp_2", NULL)), PV_E_READONLY);
}

/* ---- campaigns (store_campaigns.h) ---- */

static int cmp_ids(const struct store_campaign *c, void *arg)
{
	return names_cb(c->id, arg);
}

static int cmp_items(const struct store_campaign_item *i, void *arg)
{
	return names_cb(i->decision[0] != '\0' ? i->decision : "pending", arg);
}

static void cmp_init(struct store_campaign *c, const char *id, int64_t created)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->scope, sizeof(c->scope), "phi_access");
	snprintf(c->reviewers, sizeof(c->reviewers), "officers");
	snprintf(c->status, sizeof(c->status), "open");
	snprintf(c->on_due, sizeof(c->on_due), "remove");
	snprintf(c->created_by, sizeof(c->created_by), "usr_so");
	c->created_ms = created;
	c->due_ms = created + 5000;
}

static void c_campaigns(struct store *st)
{
	struct store_campaign c, g;
	struct store_campaign_item it, gi;
	struct names nm;
	char by[UTIL_ID_MAX];
	int64_t ms = -1;

	cmp_init(&c, "rvc_1", 1000);
	assert_int_equal(TX_WR(st, store_campaign_put(tx, &c)), PV_OK);
	assert_int_equal(TX_WR(st, store_campaign_put(tx, &c)), PV_E_CONFLICT);
	cmp_init(&c, "rvc_2", 2000);
	assert_int_equal(TX_WR(st, store_campaign_put(tx, &c)), PV_OK);
	snprintf(c.scope, sizeof(c.scope), "everyone");
	assert_int_equal(TX_WR(st, store_campaign_put(tx, &c)), PV_E_INVALID);
	memset(&it, 0, sizeof(it));
	snprintf(it.campaign_id, sizeof(it.campaign_id), "rvc_1");
	snprintf(it.item_id, sizeof(it.item_id), "rvi_a");
	snprintf(it.kind, sizeof(it.kind), "user");
	snprintf(it.principal_id, sizeof(it.principal_id), "usr_a");
	snprintf(it.principal_name, sizeof(it.principal_name), "alice");
	it.detail = (char *)"{\"roles\":[\"clinician\"]}";
	it.unused = true;
	assert_int_equal(TX_WR(st, store_campaign_item_put(tx, &it)), PV_OK);
	assert_int_equal(TX_WR(st, store_campaign_item_put(tx, &it)), PV_E_CONFLICT);
	snprintf(it.item_id, sizeof(it.item_id), "rvi_b");
	snprintf(it.kind, sizeof(it.kind), "app");
	it.unused = false;
	assert_int_equal(TX_WR(st, store_campaign_item_put(tx, &it)), PV_OK);
	assert_int_equal(TX_RD(st, store_campaign_item_get(tx, "rvc_1", "rvi_a", &gi)), PV_OK);
	assert_string_equal(gi.principal_name, "alice");
	assert_string_equal(gi.detail, "{\"roles\":[\"clinician\"]}");
	assert_true(gi.unused);
	assert_string_equal(gi.decision, "");
	store_campaign_item_clear(&gi);
	/* decided once */
	assert_int_equal(TX_WR(st, store_campaign_item_decide(tx, "rvc_1", "rvi_a", "keep",
	    "usr_so", 3000, "ok")), PV_OK);
	assert_int_equal(TX_WR(st, store_campaign_item_decide(tx, "rvc_1", "rvi_a", "revoke",
	    "usr_so", 3001, "")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_campaign_item_decide(tx, "rvc_1", "rvi_b", "maybe",
	    "usr_so", 3001, "")), PV_E_INVALID);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_campaign_items(tx, "rvc_1", cmp_items, &nm)), PV_OK);
	assert_string_equal(nm.buf, "keep,pending,");
	/* closed once, with its result */
	assert_int_equal(TX_WR(st, store_campaign_close(tx, "rvc_1", 4000, "{\"r\":1}", "ab")),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_campaign_close(tx, "rvc_1", 4001, "{}", "cd")),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_campaign_get(tx, "rvc_1", &g)), PV_OK);
	assert_string_equal(g.status, "closed");
	assert_string_equal(g.result, "{\"r\":1}");
	assert_string_equal(g.signature, "ab");
	assert_int_equal(g.closed_ms, 4000);
	store_campaign_clear(&g);
	assert_int_equal(TX_RD(st, store_campaign_get(tx, "rvc_9", &g)), PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_campaign_list(tx, NULL, cmp_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "rvc_2,rvc_1,");   /* newest first */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_campaign_list(tx, "open", cmp_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "rvc_2,");
	/* the aggregates: nothing known is 0 / "" */
	assert_int_equal(TX_RD(st, store_campaign_last_use(tx, "user", "usr_none", &ms)), PV_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(TX_RD(st, store_campaign_last_use(tx, "robot", "x", &ms)), PV_E_INVALID);
	memset(by, 'x', sizeof(by));
	assert_int_equal(TX_RD(st, store_campaign_approver(tx, "users/usr_none", by, &ms)), PV_OK);
	assert_string_equal(by, "");
	assert_int_equal(ms, 0);
}

/* ---- breakglass (store_breakglass.h) ---- */

static int bg_ids(const struct store_breakglass *g, void *arg)
{
	return names_cb(g->id, arg);
}

static void bg_init(struct store_breakglass *g, const char *id, const char *user,
    int64_t created)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->id, sizeof(g->id), "%s", id);
	snprintf(g->user_id, sizeof(g->user_id), "%s", user);
	memset(g->subject_ref, 'b', STORE_SUBJECT_REF_LEN);
	snprintf(g->reason_code, sizeof(g->reason_code), "ETREAT");
	g->justification = (char *)"unconscious in the ED";
	g->created_ms = created;
	g->expires_ms = created + 1000;
	g->since_seq = 7;
	snprintf(g->review_id, sizeof(g->review_id), "rev_%s", id);
	snprintf(g->review_status, sizeof(g->review_status), "open");
	g->review_due_ms = created + 5000;
}

static void c_breakglass(struct store *st)
{
	struct store_breakglass a, g;
	struct names nm;
	int64_t e, step = store_shared(st) ? 1 : 0;

	e = epoch_of(st);
	bg_init(&a, "bg_1", "usr_h", 1000);
	assert_int_equal(TX_WR(st, store_breakglass_put(tx, &a)), PV_OK);
	assert_int_equal(epoch_of(st), e += step);   /* access changed */
	assert_int_equal(TX_WR(st, store_breakglass_put(tx, &a)), PV_E_CONFLICT);
	bg_init(&a, "bg_2", "usr_h", 2000);
	assert_int_equal(TX_WR(st, store_breakglass_put(tx, &a)), PV_OK);
	bg_init(&a, "bg_3", "usr_k", 1500);
	assert_int_equal(TX_WR(st, store_breakglass_put(tx, &a)), PV_OK);
	assert_int_equal(TX_RD(st, store_breakglass_get(tx, "bg_1", &g)), PV_OK);
	assert_string_equal(g.user_id, "usr_h");
	assert_string_equal(g.justification, "unconscious in the ED");
	assert_string_equal(g.review_note, "");
	assert_int_equal(g.expires_ms, 2000);
	assert_int_equal(g.since_seq, 7);
	assert_int_equal(strlen(g.subject_ref), STORE_SUBJECT_REF_LEN);
	assert_false(g.overdue_reported);
	store_breakglass_clear(&g);
	assert_int_equal(TX_RD(st, store_breakglass_get(tx, "bg_9", &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_breakglass_review_get(tx, "rev_bg_2", &g)), PV_OK);
	assert_string_equal(g.id, "bg_2");
	store_breakglass_clear(&g);
	/* the newest grant still active at the time asked */
	assert_int_equal(TX_RD(st, store_breakglass_active(tx, "usr_h", 2500, &g)), PV_OK);
	assert_string_equal(g.id, "bg_2");
	store_breakglass_clear(&g);
	assert_int_equal(TX_RD(st, store_breakglass_active(tx, "usr_h", 1500, &g)), PV_OK);
	assert_string_equal(g.id, "bg_2");
	store_breakglass_clear(&g);
	assert_int_equal(TX_RD(st, store_breakglass_active(tx, "usr_h", 3000, &g)),
	    PV_E_NOTFOUND);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_breakglass_list(tx, NULL, NULL, bg_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "bg_2,bg_3,bg_1,");   /* newest first */
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_breakglass_list(tx, "usr_h", NULL, bg_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "bg_2,bg_1,");
	/* ending: once, and it moves the epoch */
	e = epoch_of(st);
	assert_int_equal(TX_WR(st, store_breakglass_end(tx, "bg_2", 2100, "ended")), PV_OK);
	assert_int_equal(epoch_of(st), e += step);
	assert_int_equal(TX_WR(st, store_breakglass_end(tx, "bg_2", 2200, "expired")),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_breakglass_active(tx, "usr_h", 2500, &g)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_breakglass_get(tx, "bg_2", &g)), PV_OK);
	assert_string_equal(g.end_reason, "ended");
	assert_int_equal(g.ended_ms, 2100);
	store_breakglass_clear(&g);
	/* reviews: the overdue mark once, the verdict once */
	assert_int_equal(TX_WR(st, store_breakglass_overdue_mark(tx, "rev_bg_1")), PV_OK);
	assert_int_equal(TX_WR(st, store_breakglass_overdue_mark(tx, "rev_bg_1")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_breakglass_review_decide(tx, "rev_bg_1", "appropriate",
	    "usr_so", 4000, "seen")), PV_OK);
	assert_int_equal(TX_WR(st, store_breakglass_review_decide(tx, "rev_bg_1", "inappropriate",
	    "usr_so", 4001, "")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_breakglass_review_decide(tx, "rev_bg_9", "appropriate",
	    "usr_so", 4001, "")), PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_breakglass_review_decide(tx, "rev_bg_2", "maybe",
	    "usr_so", 4001, "")), PV_E_INVALID);
	assert_int_equal(TX_RD(st, store_breakglass_review_get(tx, "rev_bg_1", &g)), PV_OK);
	assert_string_equal(g.review_status, "appropriate");
	assert_string_equal(g.reviewed_by, "usr_so");
	assert_int_equal(g.reviewed_ms, 4000);
	assert_string_equal(g.review_note, "seen");
	assert_true(g.overdue_reported);
	store_breakglass_clear(&g);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_breakglass_list(tx, NULL, "open", bg_ids, &nm)), PV_OK);
	assert_string_equal(nm.buf, "bg_2,bg_3,");
}

/* ---- the cases, run per backend ---- */

struct conf_case {
	const char *name;
	void (*run)(struct store *st);
};


/* ---- backup: store_snapshot ---- */

struct image {
	uint8_t *p;
	size_t len;
};

static enum pv_rc image_write(void *arg, const uint8_t *buf, size_t len)
{
	struct image *im = arg;
	uint8_t *np = realloc(im->p, im->len + len);

	if (np == NULL)
		return PV_E_NOMEM;
	memcpy(np + im->len, buf, len);
	im->p = np;
	im->len += len;
	return PV_OK;
}

static bool meta_is_tx(struct store_tx *tx, const char *key, const char *want)
{
	uint8_t *v = NULL;
	size_t n = 0;
	enum pv_rc rc = store_meta_get(tx, key, &v, &n);
	bool ok = rc == PV_OK && n == strlen(want) && memcmp(v, want, n) == 0;

	free(v);
	return ok;
}

/* The image is the state the read transaction saw (a write committed after
 * its first read is not in it), counts describe that state, the image opens
 * as a store of its own, and a write transaction is refused. (A backend
 * without snapshots answers PV_E_UNSUPPORTED, store_backup.h: PostgreSQL
 * for now.) */
static void c_snapshot(struct store *st)
{
	struct store_snapshot_info info;
	struct image im = { NULL, 0 };
	struct store_snapshot_sink sink = { .write = image_write, .arg = &im, .pages_per_step = 1 };
	struct store_tx *rd = NULL;
	struct store *copy = NULL;
	char *dir, path[4096];
	int64_t meta_rows = -1;
	FILE *f;

	assert_int_equal(TX_WR(st, meta_put_s(tx, "before", "1")), PV_OK);
	if (store_shared(st)) {
		/* PostgreSQL: no online snapshots yet (pg_basebackup, docs/scaling.md):
		 * refused, nothing written to the sink */
		memset(&info, 0, sizeof(info));
		assert_int_equal(TX_RD(st, store_snapshot(tx, &sink, &info)), PV_E_UNSUPPORTED);
		assert_int_equal(im.len, 0);
		assert_int_equal(info.ntables, 0);
		return;
	}
	assert_int_equal(store_begin(st, STORE_RD, &rd), PV_OK);
	assert_true(meta_is_tx(rd, "before", "1"));             /* pins the snapshot */
	assert_int_equal(TX_WR(st, meta_put_s(tx, "after", "1")), PV_OK);
	assert_int_equal(store_snapshot(rd, &sink, &info), PV_OK);
	store_end(rd);
	assert_true(im.len > 0 && (int64_t)im.len == info.bytes);
	for (size_t i = 0; i < info.ntables; i++)
		if (strcmp(info.tables[i].name, "meta") == 0)
			meta_rows = info.tables[i].rows;
	assert_true(meta_rows >= 1);
	{
		int64_t now_rows = -1;
		struct image im2 = { NULL, 0 };
		struct store_snapshot_info i2;
		struct store_snapshot_sink s2 = { .write = image_write, .arg = &im2 };

		assert_int_equal(TX_RD(st, store_snapshot(tx, &s2, &i2)), PV_OK);
		for (size_t i = 0; i < i2.ntables; i++)
			if (strcmp(i2.tables[i].name, "meta") == 0)
				now_rows = i2.tables[i].rows;
		assert_int_equal(now_rows, meta_rows + 1);          /* "after" */
		free(im2.p);
	}
	/* the image is a store: "before" is there, "after" is not */
	dir = st_tmpdir();
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/phivault.db", dir);
	assert_non_null(f = fopen(path, "wb"));
	assert_int_equal(fwrite(im.p, 1, im.len, f), im.len);
	fclose(f);
	assert_int_equal(store_open(dir, "sqlite", NULL, true, &copy), PV_OK);
	assert_true(meta_is(copy, "before", "1"));
	assert_true(meta_is(copy, "after", NULL));
	store_close(copy);
	st_rmtree(dir);
	free(im.p);
	/* only in a read transaction */
	assert_int_equal(TX_WR(st, store_snapshot(tx, &sink, &info)), PV_E_INVALID);
}

/* ---- subjects: keys, links, counts, shred, tombstones, census ---- */

#define REF_A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define REF_B "bbbb000000000000000000000000000000000000000000000000000000000002"

static void subj_init(struct store_subject *s, const char *ref, uint32_t kv, uint8_t fill)
{
	static uint8_t w[2][60], ct[2][60];
	static int slot;
	int k = slot++ % 2;

	memset(s, 0, sizeof(*s));
	snprintf(s->ref, sizeof(s->ref), "%s", ref);
	snprintf(s->kek_name, sizeof(s->kek_name), "subjects");
	s->kek_version = kv;
	memset(w[k], fill, sizeof(w[k]));
	memset(ct[k], fill ^ 0x33, sizeof(ct[k]));
	s->wrapped_dek = w[k];
	s->wrapped_dek_len = sizeof(w[k]);
	s->ciphertext = ct[k];
	s->ciphertext_len = sizeof(ct[k]);
	s->created_ms = 1000;
}

static int64_t subj_census(struct store *st, uint32_t v)
{
	int64_t n = -1;

	assert_int_equal(TX_RD(st, store_kek_census(tx, "subjects", v, &n)), PV_OK);
	return n;
}

struct subj_counts {
	char coll[4][32];
	uint64_t n[4];
	size_t k;
};

static int subj_count_cb(const char *collection, uint64_t n, void *arg)
{
	struct subj_counts *c = arg;

	if (c->k < 4) {
		snprintf(c->coll[c->k], sizeof(c->coll[c->k]), "%s", collection);
		c->n[c->k++] = n;
	}
	return 0;
}

static int subj_rec_cb(const char *collection, const char *id, void *arg)
{
	size_t *n = arg;

	(void)collection;
	(void)id;
	(*n)++;
	return 0;
}

struct tombs {
	char ref[4][65];
	int64_t ms[4];
	size_t n;
};

static int tomb_cb(const char *ref, int64_t ms, void *arg)
{
	struct tombs *t = arg;

	if (t->n < 4) {
		snprintf(t->ref[t->n], sizeof(t->ref[t->n]), "%s", ref);
		t->ms[t->n++] = ms;
	}
	return 0;
}

static int bidx_found_cb(const char *id, void *arg)
{
	(void)id;
	*(bool *)arg = true;
	return 0;
}

static int subj_scan_cb(const char *ref, void *arg)
{
	(void)ref;
	(*(size_t *)arg)++;
	return 0;
}

static void c_subjects(struct store *st)
{
	struct store_collection c1, c2;
	struct store_subject s, g;
	struct store_record r, gr;
	struct subj_counts cnt;
	struct tombs tb;
	char ref[STORE_SUBJECT_REF_LEN + 1];
	uint8_t mac[STORE_MAC_LEN] = { 7 };
	int64_t ms = 0;
	size_t n = 0;
	bool found = false;

	coll_init(&c1, "visits");
	coll_init(&c2, "labs");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c1)), PV_OK);
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c2)), PV_OK);
	/* a subject row; the same ref again is a conflict; a bad ref is refused */
	subj_init(&s, REF_A, 1, 0x11);
	assert_int_equal(TX_WR(st, store_subject_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_put(tx, &s)), PV_E_CONFLICT);
	subj_init(&s, "not-hex", 1, 0x11);
	assert_int_equal(TX_WR(st, store_subject_put(tx, &s)), PV_E_INVALID);
	subj_init(&s, REF_B, 1, 0x22);
	assert_int_equal(TX_WR(st, store_subject_put(tx, &s)), PV_OK);
	assert_int_equal(subj_census(st, 1), 2);
	memset(&g, 0, sizeof(g));
	assert_int_equal(TX_RD(st, store_subject_get(tx, REF_A, &g)), PV_OK);
	assert_int_equal(g.kek_version, 1);
	assert_int_equal(g.wrapped_dek_len, 60);
	assert_int_equal(g.wrapped_dek[0], 0x11);
	assert_int_equal(g.ciphertext[0], 0x11 ^ 0x33);
	assert_int_equal(g.hold_ms, 0);
	store_subject_clear(&g);
	assert_int_equal(TX_RD(st, store_subject_hold(tx, REF_A, "x", "usr_1", 5)),
	    PV_E_READONLY);
	/* hold and release */
	assert_int_equal(TX_WR(st, store_subject_hold(tx, REF_B, "litigation", "usr_1", 5000)),
	    PV_OK);
	assert_int_equal(TX_RD(st, store_subject_get(tx, REF_B, &g)), PV_OK);
	assert_int_equal(g.hold_ms, 5000);
	assert_string_equal(g.hold_reason, "litigation");
	assert_string_equal(g.hold_by, "usr_1");
	store_subject_clear(&g);
	assert_int_equal(TX_WR(st, store_subject_hold(tx, REF_B, NULL, NULL, 6000)), PV_OK);
	assert_int_equal(TX_RD(st, store_subject_get(tx, REF_B, &g)), PV_OK);
	assert_int_equal(g.hold_ms, 0);
	assert_string_equal(g.hold_reason, "");
	store_subject_clear(&g);
	assert_int_equal(TX_WR(st, store_subject_hold(tx, REF_B, "", "usr_1", 1)), PV_E_INVALID);
	/* rewrap: conditional on the KEK version read; moves the census */
	subj_init(&s, REF_B, 2, 0x23);
	assert_int_equal(TX_WR(st, store_subject_rewrap(tx, &s, 1)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_rewrap(tx, &s, 1)), PV_E_CONFLICT);
	assert_int_equal(subj_census(st, 1), 1);
	assert_int_equal(subj_census(st, 2), 1);
	/* records of A in two collections, one of B, one without */
	rec_init(&r, "visits", "rec_a1", 1, 1);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	rec_init(&r, "visits", "rec_a2", 1, 2);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	rec_init(&r, "labs", "rec_a3", 1, 3);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	rec_init(&r, "labs", "rec_b1", 1, 4);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	rec_init(&r, "labs", "rec_n1", 1, 5);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "visits", "rec_a1", REF_A)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "visits", "rec_a2", REF_B)), PV_OK);
	/* relinking moves it (a PATCH of the subject field) */
	assert_int_equal(TX_WR(st, store_subject_link(tx, "visits", "rec_a2", REF_A)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "labs", "rec_a3", REF_A)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "labs", "rec_b1", REF_B)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "labs", "rec_n1", REF_B)), PV_OK);
	assert_int_equal(TX_WR(st, store_subject_link(tx, "labs", "rec_n1", "")), PV_OK);
	assert_int_equal(TX_RD(st, store_subject_of_record(tx, "labs", "rec_n1", ref)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_subject_of_record(tx, "visits", "rec_a2", ref)), PV_OK);
	assert_string_equal(ref, REF_A);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "visits", "mrn", mac, "rec_a1")), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "labs", "mrn", mac, "rec_b1")), PV_OK);
	memset(&cnt, 0, sizeof(cnt));
	assert_int_equal(TX_RD(st, store_subject_counts(tx, REF_A, subj_count_cb, &cnt)), PV_OK);
	assert_int_equal(cnt.k, 2);
	assert_string_equal(cnt.coll[0], "labs");
	assert_int_equal(cnt.n[0], 1);
	assert_string_equal(cnt.coll[1], "visits");
	assert_int_equal(cnt.n[1], 2);
	/* a shred that rolls back changes nothing */
	{
		struct store_tx *tx = NULL;

		assert_int_equal(store_begin(st, STORE_WR, &tx), PV_OK);
		assert_int_equal(store_subject_shred(tx, REF_A, 7000, NULL, NULL), PV_OK);
		store_end(tx);
	}
	assert_int_equal(TX_RD(st, store_subject_get(tx, REF_A, &g)), PV_OK);
	store_subject_clear(&g);
	/* shred A: its three records, its index entries, its key; a tombstone */
	assert_int_equal(TX_WR(st, store_subject_shred(tx, REF_A, 7000, subj_rec_cb, &n)), PV_OK);
	assert_int_equal(n, 3);
	assert_int_equal(TX_RD(st, store_subject_get(tx, REF_A, &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_subject_tombstone_get(tx, REF_A, &ms)), PV_OK);
	assert_int_equal(ms, 7000);
	assert_int_equal(TX_RD(st, store_subject_tombstone_get(tx, REF_B, &ms)), PV_E_NOTFOUND);
	memset(&gr, 0, sizeof(gr));
	assert_int_equal(TX_RD(st, store_record_get(tx, "labs", "rec_a3", &gr)), PV_OK);
	assert_true(gr.deleted_ms == 7000 && gr.wrapped_dek == NULL && gr.ciphertext == NULL);
	store_record_clear(&gr);
	assert_int_equal(TX_RD(st, store_record_get(tx, "labs", "rec_b1", &gr)), PV_OK);
	assert_true(gr.deleted_ms == 0 && gr.wrapped_dek != NULL);
	store_record_clear(&gr);
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "visits", "mrn", mac, 0, bidx_found_cb,
	    &found)), PV_OK);
	assert_false(found);
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "labs", "mrn", mac, 0, bidx_found_cb,
	    &found)), PV_OK);
	assert_true(found);
	memset(&cnt, 0, sizeof(cnt));
	assert_int_equal(TX_RD(st, store_subject_counts(tx, REF_A, subj_count_cb, &cnt)), PV_OK);
	assert_int_equal(cnt.k, 0);
	assert_int_equal(subj_census(st, 1), 0);
	assert_int_equal(subj_census(st, 2), 1);
	/* again (a restore applying its tombstone): the first tombstone stays */
	assert_int_equal(TX_WR(st, store_subject_shred(tx, REF_A, 9000, NULL, NULL)), PV_OK);
	assert_int_equal(TX_RD(st, store_subject_tombstone_get(tx, REF_A, &ms)), PV_OK);
	assert_int_equal(ms, 7000);
	memset(&tb, 0, sizeof(tb));
	assert_int_equal(TX_RD(st, store_subject_tombstone_list(tx, "", 0, tomb_cb, &tb)), PV_OK);
	assert_int_equal(tb.n, 1);
	assert_string_equal(tb.ref[0], REF_A);
	/* the scan of subject refs (re-encryption) */
	memset(&tb, 0, sizeof(tb));
	n = 0;
	assert_int_equal(TX_RD(st, store_subject_scan(tx, "", 0, subj_scan_cb, &n)), PV_OK);
	assert_int_equal(n, 1);
}

/* Versioned MAC keys (migration 20): blind-index entries and deterministic
 * tokens carry their MAC version; the census counts them; the re-index ops
 * count and delete a record's older entries. Tokens linked to a subject go
 * with its shred and leave a tombstone. */
static void c_versioned_macs(struct store *st)
{
	struct store_collection c;
	struct store_record r;
	struct store_subject sj;
	struct store_token t, g;
	static uint8_t dek[40], ct[8];
	char coll[STORE_NAME_MAX];
	int64_t n = -1, ms = 0;
	struct names nm;

	coll_init(&c, "visits");
	assert_int_equal(TX_WR(st, store_collection_put(tx, &c)), PV_OK);
	rec_init(&r, "visits", "rec_v1", 1, 1);
	assert_int_equal(TX_WR(st, store_record_put(tx, &r)), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put(tx, "visits", "mrn", MAC_A, "rec_v1")), PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put_version(tx, "visits", "ssn", MAC_B, "rec_v1", 2)),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_bidx_put_version(tx, "visits", "ssn", MAC_B, "rec_v1", 0)),
	    PV_E_INVALID);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "index:visits", 1, &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "index:visits", 2, &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "index:other", 1, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_RD(st, store_bidx_count_below(tx, "visits", "rec_v1", 2, &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(TX_RD(st, store_bidx_count_below(tx, "visits", "rec_v1", 1, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_WR(st, store_bidx_delete_below(tx, "visits", "rec_v1", 2, &n)), PV_OK);
	assert_int_equal(n, 1);
	assert_int_equal(TX_WR(st, store_bidx_delete_below(tx, "visits", "rec_v1", 2, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "index:visits", 1, &n)), PV_OK);
	assert_int_equal(n, 0);
	memset(&nm, 0, sizeof(nm));
	assert_int_equal(TX_RD(st, store_bidx_lookup(tx, "visits", "ssn", MAC_B, 0, names_cb,
	    &nm)), PV_OK);
	assert_string_equal(nm.buf, "rec_v1,");

	/* a deterministic token under tokens v2, linked to a subject */
	subj_init(&sj, REF_A, 1, 0x11);
	assert_int_equal(TX_WR(st, store_subject_put(tx, &sj)), PV_OK);
	memset(&t, 0, sizeof(t));
	snprintf(t.token, sizeof(t.token), "tok_v1");
	snprintf(t.collection, sizeof(t.collection), "visits");
	snprintf(t.field, sizeof(t.field), "mrn");
	snprintf(t.kek_name, sizeof(t.kek_name), "tokens");
	t.kek_version = 1;
	t.mac_version = 2;
	t.deterministic = true;
	memcpy(t.mac, MAC_A, STORE_MAC_LEN);
	t.wrapped_dek = dek;
	t.wrapped_dek_len = sizeof(dek);
	t.ciphertext = ct;
	t.ciphertext_len = sizeof(ct);
	t.created_ms = 1000;
	assert_int_equal(TX_WR(st, store_token_put(tx, &t)), PV_OK);
	assert_int_equal(TX_RD(st, store_token_get(tx, "tok_v1", &g)), PV_OK);
	assert_int_equal(g.mac_version, 2);
	assert_string_equal(g.subject_ref, "");
	store_token_clear(&g);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "tokens", 1, &n)), PV_OK);
	assert_int_equal(n, 1);    /* its DEK */
	assert_int_equal(TX_RD(st, store_kek_census(tx, "tokens", 2, &n)), PV_OK);
	assert_int_equal(n, 1);    /* its lookup MAC */
	assert_int_equal(TX_WR(st, store_token_set_subject(tx, "tok_v1", REF_A)), PV_OK);
	assert_int_equal(TX_WR(st, store_token_set_subject(tx, "tok_v1", REF_B)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_token_set_subject(tx, "tok_none", REF_B)), PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_token_get(tx, "tok_v1", &g)), PV_OK);
	assert_string_equal(g.subject_ref, REF_A);
	store_token_clear(&g);
	assert_int_equal(TX_RD(st, store_token_tombstone_get(tx, "tok_v1", coll, &ms)),
	    PV_E_NOTFOUND);
	/* the shred takes the token and remembers it */
	assert_int_equal(TX_WR(st, store_subject_shred(tx, REF_A, 7000, NULL, NULL)), PV_OK);
	assert_int_equal(TX_RD(st, store_token_get(tx, "tok_v1", &g)), PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_token_tombstone_get(tx, "tok_v1", coll, &ms)), PV_OK);
	assert_string_equal(coll, "visits");
	assert_int_equal(ms, 7000);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "tokens", 1, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_RD(st, store_kek_census(tx, "tokens", 2, &n)), PV_OK);
	assert_int_equal(n, 0);
}

/* ---- oidc: single-use expiring items (a replayed key is a conflict while
 * unexpired, a take deletes, an expired take is refused and deletes), the
 * (iss, sub) link, and the IdP sessions of open sessions only ---- */
static int oidc_count(const char *session_id, const char *user_id, void *arg)
{
	(void)session_id;
	assert_string_equal(user_id, "usr_o");
	(*(int *)arg)++;
	return 0;
}

static void c_oidc(struct store *st)
{
	struct store_oidc_pending p, g;
	struct store_session s;
	struct store_user u;
	char uid[UTIL_ID_MAX];
	int n = 0;

	memset(&p, 0, sizeof(p));
	snprintf(p.key, sizeof(p.key), "k1");
	snprintf(p.kind, sizeof(p.kind), "state");
	snprintf(p.data, sizeof(p.data), "{\"nonce\":\"n\"}");
	p.expires_ms = 5000;
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 1000)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "grant", 1000, &g)),
	    PV_E_NOTFOUND);   /* another kind */
	/* a read leaves it in place */
	assert_int_equal(TX_RD(st, store_oidc_pending_get(tx, "k1", "grant", 1000, &g)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_RD(st, store_oidc_pending_get(tx, "k1", "state", 5000, &g)),
	    PV_E_EXPIRED);
	assert_int_equal(TX_RD(st, store_oidc_pending_get(tx, "k1", "state", 4999, &g)), PV_OK);
	assert_string_equal(g.data, "{\"nonce\":\"n\"}");
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "state", 4999, &g)), PV_OK);
	assert_string_equal(g.data, "{\"nonce\":\"n\"}");
	assert_int_equal(g.expires_ms, 5000);
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "state", 4999, &g)),
	    PV_E_NOTFOUND);   /* single use */
	assert_int_equal(TX_RD(st, store_oidc_pending_get(tx, "k1", "state", 4999, &g)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "state", 5000, &g)),
	    PV_E_EXPIRED);
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "state", 6000, &g)),
	    PV_E_EXPIRED);    /* and stays so until a put purges it */
	snprintf(p.key, sizeof(p.key), "k2");
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 6000)), PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_pending_take(tx, "k1", "state", 1000, &g)),
	    PV_E_NOTFOUND);   /* purged by the later put */
	snprintf(p.key, sizeof(p.key), "k1");
	/* a "seen" guard conflicts until it expires, then a put purges it */
	snprintf(p.kind, sizeof(p.kind), "seen");
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 1000)), PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 4999)), PV_E_CONFLICT);
	assert_int_equal(TX_WR(st, store_oidc_pending_put(tx, &p, 5000)), PV_OK);
	/* identities: (iss, sub) -> user, one link each */
	user_init(&u, "usr_o", "olivia");
	assert_int_equal(TX_WR(st, store_user_put(tx, &u)), PV_OK);
	assert_int_equal(TX_RD(st, store_oidc_identity_get(tx, "https://idp", "s1", uid)),
	    PV_E_NOTFOUND);
	assert_int_equal(TX_WR(st, store_oidc_identity_put(tx, "https://idp", "s1", "usr_o", 1)),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_identity_put(tx, "https://idp", "s1", "usr_o", 1)),
	    PV_E_CONFLICT);
	assert_int_equal(TX_RD(st, store_oidc_identity_get(tx, "https://idp", "s1", uid)), PV_OK);
	assert_string_equal(uid, "usr_o");
	assert_int_equal(TX_RD(st, store_oidc_identity_get(tx, "https://other", "s1", uid)),
	    PV_E_NOTFOUND);
	/* sessions by IdP sid: open ones only */
	session_init(&s, "ses_o1", "tho1", "usr_o");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	session_init(&s, "ses_o2", "tho2", "usr_o");
	assert_int_equal(TX_WR(st, store_session_put(tx, &s)), PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_session_put(tx, "ses_o1", "https://idp", "sid1")),
	    PV_OK);
	assert_int_equal(TX_WR(st, store_oidc_session_put(tx, "ses_o2", "https://idp", "sid1")),
	    PV_OK);
	assert_int_equal(TX_RD(st, store_oidc_session_by_sid(tx, "https://idp", "sid1",
	    oidc_count, &n)), PV_OK);
	assert_int_equal(n, 2);
	assert_int_equal(TX_WR(st, store_session_end(tx, "ses_o2", 9, "logout")), PV_OK);
	n = 0;
	assert_int_equal(TX_RD(st, store_oidc_session_by_sid(tx, "https://idp", "sid1",
	    oidc_count, &n)), PV_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(TX_RD(st, store_oidc_session_by_sid(tx, "https://idp", "sid2",
	    oidc_count, &n)), PV_OK);
	assert_int_equal(n, 0);
	assert_int_equal(TX_RD(st, store_oidc_pending_put(tx, &p, 1)), PV_E_READONLY);
}

static const struct conf_case cases[] = {
	{ "meta", c_meta },
	{ "users_sessions", c_users_sessions },
	{ "roles_groups", c_roles_groups },
	{ "vault", c_vault },
	{ "tokens", c_tokens },
	{ "keys", c_keys },
	{ "census", c_census },
	{ "audit", c_audit },
	{ "jobs", c_jobs },
	{ "apps", c_apps },
	{ "subjects", c_subjects },
	{ "versioned_macs", c_versioned_macs },
	{ "secrets", c_secrets },
	{ "approvals", c_approvals },
	{ "elevations", c_elevations },
	{ "app_certs", c_app_certs },
	{ "webauthn", c_webauthn },
	{ "tx_rollback", c_tx_rollback },
	{ "tx_commit_snapshot", c_tx_commit_snapshot },
	{ "tx_read_refuses_writes", c_tx_read_refuses_writes },
	{ "tx_other_thread", c_tx_other_thread },
	{ "tx_pool_exhausted", c_tx_pool_exhausted },
	{ "tx_savepoint", c_tx_savepoint },
	{ "tx_after_commit", c_tx_after_commit },
	{ "snapshot", c_snapshot },
	{ "tx_writers_serialise", c_tx_writers_serialise },
	{ "fault_injection", c_fault_injection },
	{ "access_epoch", c_access_epoch },
	{ "access_epoch_domains", c_access_epoch_domains },
	{ "audit_subjects", c_audit_subjects },
	{ "oidc", c_oidc },
	{ "breakglass", c_breakglass },
	{ "exports", c_exports },
	{ "campaigns", c_campaigns },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

struct run {
	const struct backend *b;
	const struct conf_case *c;
	char *dir;
	struct store *st;
	char db[32];        /* postgres: this case's database */
	char url[256];
};

static struct run runs[NCASES * NBACKENDS];

static char names[NCASES * NBACKENDS][96];

static int run_setup(void **state)
{
	struct run *r = *state;

	const char *url = r->b->url;

	r->dir = st_tmpdir();
	if (r->dir == NULL)
		return -1;
	if (strcmp(r->b->name, "postgres") == 0) {
		snprintf(r->db, sizeof(r->db), "pvconf_%d", (int)(r - runs));
		if (pg_cluster_dropdb(&pgc, r->db) != 0 || pg_cluster_createdb(&pgc, r->db) != 0)
			return -1;
		url = pg_cluster_url(&pgc, r->db, r->url, sizeof(r->url));
	}
	return store_open(r->dir, r->b->name, url, false, &r->st) == PV_OK ? 0 : -1;
}

static int run_teardown(void **state)
{
	struct run *r = *state;

	store_close(r->st);
	r->st = NULL;
	st_rmtree(r->dir);   /* frees it */
	r->dir = NULL;
	if (r->db[0] != '\0')
		(void)pg_cluster_dropdb(&pgc, r->db);
	r->db[0] = '\0';
	return 0;
}

static void run_case(void **state)
{
	struct run *r = *state;

	r->c->run(r->st);
}

static void cluster_cleanup(void)
{
	pg_cluster_stop(&pgc);
}

int main(void)
{
	struct CMUnitTest tests[NCASES * NBACKENDS];
	size_t n = 0;

	for (size_t b = 0; b < NBACKENDS; b++) {
		for (size_t c = 0; c < NCASES; c++, n++) {
			runs[n] = (struct run){ .b = &backends[b], .c = &cases[c] };
			snprintf(names[n], sizeof(names[n]), "%s/%s", backends[b].name, cases[c].name);
			tests[n] = (struct CMUnitTest){ names[n], run_case, run_setup, run_teardown,
			    &runs[n] };
		}
	}
	char err[512] = "";
	int ret;

	/* The PostgreSQL half needs its cluster: missing PostgreSQL is a
	 * failure, never a skip. */
	if (pg_cluster_start(&pgc, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_conformance: cannot start the PostgreSQL test cluster: %s\n",
		    err);
		pg_cluster_stop(&pgc);
		return 1;
	}
	atexit(cluster_cleanup);   /* also if a case aborts the process */
	ret = _cmocka_run_group_tests("store_conformance", tests, n, NULL, NULL);
	pg_cluster_stop(&pgc);
	return ret;
}
