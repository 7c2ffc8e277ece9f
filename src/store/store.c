/*
 * store.c: the public store_* entry points and the fault-injection state.
 * Each entry point
 *   1. rejects NULL pointer arguments, and a transaction handle that is not
 *      open (committed or ended), with PV_E_INVALID,
 *   2. refuses a write op on a STORE_RD transaction with PV_E_READONLY
 *      (WRITE_OP), before the backend sees it,
 *   3. dispatches through tx->st->ops-><domain> to the backend (store_int.h).
 * Fault injection is not checked here (except "open") but in the backend's
 * statement runners, which call store_fault_check(op) before they touch a
 * connection: op is the name of the store function without "store_" for the
 * first statement of an op, and "<op>/<step>" for its later statements (so
 * "n-th next call" counts op calls, an injected failure writes nothing, and a
 * test may also fail a later step, e.g. "record_shred/bidx"). Only functions
 * that return enum pv_rc can be made to fail; store_close,
 * store_schema_version, store_end and store_rollback_savepoint
 * always run (they are the cleanup path of a failure).
 * This file is compiled twice (CMakeLists.txt): into pv_store with
 * store_fault_check a stub returning PV_OK, and as pv_store_fault with
 * PV_FAULT_INJECTION=1 for test binaries only.
 *
 * Fault state (test builds):
 *  - a table of armed ops {name, n}: n > 0 counts down and fires once when it
 *    reaches the call it names; n = -1 fires on every call. Guarded by a
 *    mutex; an atomic count of armed entries keeps the unarmed path to one
 *    load.
 *  - PHIVAULT_FAULT_FILE, read from the environment once (first check): if
 *    set, every call re-reads that file and fails if a line equals the op.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

/* ------------------------------------------------------------------ */
/* fault injection                                                     */
/* ------------------------------------------------------------------ */

#define FAULT_SLOTS 32
#define FAULT_OP_MAX 64
#define FAULT_FILE_MAX 4096

#ifdef PV_FAULT_INJECTION
struct fault_slot {
	char op[FAULT_OP_MAX];
	int n;                 /* 0: free; > 0: calls until it fires; -1: always */
};

static pthread_mutex_t fault_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fault_slot fault_slots[FAULT_SLOTS];
static atomic_int fault_armed;            /* number of slots with n != 0 */
static pthread_once_t fault_env_once = PTHREAD_ONCE_INIT;
static char *fault_file;                  /* PHIVAULT_FAULT_FILE or NULL */

static void fault_env_init(void)
{
	const char *p = getenv("PHIVAULT_FAULT_FILE");

	if (p != NULL && p[0] != '\0') {
		fault_file = strdup(p);
		if (fault_file == NULL)
			log_error("store: fault file path: out of memory");
	}
}

/* True if op is armed in the table; consumes one count. */
static bool fault_table_hit(const char *op)
{
	bool hit = false;

	pthread_mutex_lock(&fault_mu);
	for (size_t i = 0; i < FAULT_SLOTS; i++) {
		struct fault_slot *s = &fault_slots[i];

		if (s->n == 0 || strcmp(s->op, op) != 0)
			continue;
		if (s->n == -1) {
			hit = true;
		} else if (--s->n == 0) {
			hit = true;
			atomic_fetch_sub(&fault_armed, 1);
		}
		break;
	}
	pthread_mutex_unlock(&fault_mu);
	return hit;
}

/* True if the fault file exists and holds op alone on a line. */
static bool fault_file_hit(const char *path, const char *op)
{
	char buf[FAULT_FILE_MAX + 1];
	size_t n, oplen = strlen(op);
	FILE *f = fopen(path, "re");
	bool hit = false;

	if (f == NULL)
		return false;
	n = fread(buf, 1, FAULT_FILE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	for (char *line = buf; line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);

		if (len > 0 && line[len - 1] == '\r')
			len--;
		if (len == oplen && memcmp(line, op, len) == 0) {
			hit = true;
			break;
		}
		line = nl != NULL ? nl + 1 : NULL;
	}
	return hit;
}

/* While the fault file holds "hold:op" on a line, op waits (polling every
 * millisecond): a test holds a commit (hold:tx_commit) at a known point,
 * checks what the server does meanwhile, then removes the line. */
static void fault_file_hold(const char *path, const char *op)
{
	char hold[FAULT_OP_MAX + 8];
	const struct timespec ms = { 0, 1000000 };
	bool logged = false;

	if (snprintf(hold, sizeof(hold), "hold:%s", op) >= (int)sizeof(hold))
		return;
	while (fault_file_hit(path, hold)) {
		if (!logged)
			log_warn("store: injected hold op=%s", op);
		logged = true;
		nanosleep(&ms, NULL);
	}
}

enum pv_rc store_fault_check(const char *op)
{
	bool hit = false;

	if (atomic_load_explicit(&fault_armed, memory_order_acquire) > 0)
		hit = fault_table_hit(op);
	pthread_once(&fault_env_once, fault_env_init);
	if (!hit && fault_file != NULL)
		hit = fault_file_hit(fault_file, op);
	if (!hit && fault_file != NULL)
		fault_file_hold(fault_file, op);
	if (hit) {
		log_warn("store: injected fault op=%s", op);
		return PV_E_IO;
	}
	return PV_OK;
}


void store_fault_set(const char *op, int n)
{
	struct fault_slot *free_slot = NULL;

	if (op == NULL || strlen(op) >= FAULT_OP_MAX || n < -1)
		return;
	pthread_mutex_lock(&fault_mu);
	for (size_t i = 0; i < FAULT_SLOTS; i++) {
		struct fault_slot *s = &fault_slots[i];

		if (s->n != 0 && strcmp(s->op, op) == 0) {
			if (n == 0)
				atomic_fetch_sub(&fault_armed, 1);
			s->n = n;
			goto out;
		}
		if (s->n == 0 && free_slot == NULL)
			free_slot = s;
	}
	if (n == 0)
		goto out;
	if (free_slot == NULL) {
		log_error("store: fault table full, op=%s not armed", op);
		goto out;
	}
	util_strlcpy(free_slot->op, op, sizeof(free_slot->op));
	free_slot->n = n;
	atomic_fetch_add(&fault_armed, 1);
out:
	pthread_mutex_unlock(&fault_mu);
}

void store_fault_clear_all(void)
{
	pthread_mutex_lock(&fault_mu);
	memset(fault_slots, 0, sizeof(fault_slots));
	atomic_store(&fault_armed, 0);
	pthread_mutex_unlock(&fault_mu);
}
#else
enum pv_rc store_fault_check(const char *op)
{
	(void)op;
	return PV_OK;
}

void store_fault_set(const char *op, int n)
{
	(void)op;
	(void)n;
}

void store_fault_clear_all(void)
{
}
#endif /* PV_FAULT_INJECTION */

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */
/* ------------------------------------------------------------------ */

struct backend {
	const char *name;
	/* NULL: known but not compiled in. */
	enum pv_rc (*open)(const char *datadir, const char *url, bool read_only,
	    struct store **out);
};

static enum pv_rc open_sqlite(const char *datadir, const char *url, bool read_only,
    struct store **out)
{
	(void)url;   /* the SQLite file is always DIR/phivault.db */
	if (datadir == NULL)
		return PV_E_INVALID;
	return store_sqlite_open(datadir, read_only, out);
}

static enum pv_rc open_pg(const char *datadir, const char *url, bool read_only,
    struct store **out)
{
	(void)datadir;   /* everything is in the database url names */
	return store_pg_open(url, read_only, out);
}

static const struct backend backends[] = {
	{ "sqlite", open_sqlite },
	{ "postgres", open_pg },   /* postgres.c */
};

enum pv_rc store_open(const char *datadir, const char *backend, const char *url,
    bool read_only, struct store **out)
{
	enum pv_rc frc = store_fault_check("open");

	if (frc != PV_OK)
		return frc;
	if (out == NULL)
		return PV_E_INVALID;
	if (backend == NULL)
		backend = "sqlite";
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strcmp(backends[i].name, backend) != 0)
			continue;
		if (backends[i].open == NULL) {
			log_error("store: %s backend not built yet", backends[i].name);
			return PV_E_CONFIG;
		}
		return backends[i].open(datadir, url, read_only, out);
	}
	log_error("store: unknown backend (expected sqlite or postgres)");
	return PV_E_CONFIG;
}

void store_close(struct store *st)
{
	if (st != NULL)
		st->ops->core->close(st);
}

void store_pool_set(struct store *st, unsigned max_connections, unsigned wait_ms)
{
	if (st != NULL)
		st->ops->core->pool_set(st, max_connections, wait_ms);
}

enum pv_rc store_import_datadir(struct store *st, const char *datadir, bool *moved)
{
	if (st == NULL || datadir == NULL || moved == NULL)
		return PV_E_INVALID;
	*moved = false;
	return st->ops->core->import_datadir(st, datadir, moved);
}

bool store_shared(struct store *st)
{
	return st != NULL && st->shared;
}

int store_schema_version(struct store *st)
{
	return st != NULL ? st->ops->core->schema_version(st) : 0;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */
/* ------------------------------------------------------------------ */

/* A handle an op may run on: begun, not committed or ended. */
static bool tx_ok(const struct store_tx *tx)
{
	return tx != NULL && tx->open;
}

/* A write op on a read transaction is a bug of the caller: refused before
 * the backend sees it, so nothing changes, whatever the backend. */
static enum pv_rc refuse_rd(const char *op)
{
	log_error("store: %s on a read-only transaction refused", op);
	return PV_E_READONLY;
}

#define WRITE_OP(tx, op) do { \
	if ((tx)->mode != STORE_WR) \
		return refuse_rd(op); \
} while (0)

/* After an access-affecting write on a shared store: the access epoch moves
 * in the same transaction (store_cluster.h), so every node re-reads what it
 * cached before its next decision. */
static enum pv_rc access_changed(struct store_tx *tx, enum pv_rc rc)
{
	if (rc == PV_OK && tx->st->shared)
		rc = tx->st->ops->cluster->epoch_bump(tx);
	/* PostgreSQL: remember the new value, so COMMIT can wait for this
	 * node's listener to hear it (postgres_listen.c) */
	if (rc == PV_OK && tx->st->shared && tx->st->ops->core->epoch_known != NULL)
		rc = tx->st->ops->cluster->epoch_get(tx, &tx->epoch_bumped);
	return rc;
}

enum pv_rc store_epoch_get(struct store_tx *tx, int64_t *epoch)
{
	if (!tx_ok(tx) || epoch == NULL)
		return PV_E_INVALID;
	return tx->st->ops->cluster->epoch_get(tx, epoch);
}

enum pv_rc store_epoch_current(struct store *st, int64_t *epoch)
{
	enum pv_rc rc;

	if (st == NULL || epoch == NULL)
		return PV_E_INVALID;
	if (st->ops->core->epoch_known != NULL && st->ops->core->epoch_known(st, epoch))
		return PV_OK;
	STORE_READ(st, rc, store_epoch_get(tx, epoch));
	return rc;
}

enum pv_rc store_epoch_listen(struct store *st)
{
	if (st == NULL)
		return PV_E_INVALID;
	return st->ops->core->epoch_listen != NULL ? st->ops->core->epoch_listen(st) : PV_OK;
}

enum pv_rc store_epoch_bump(struct store_tx *tx)
{
	if (!tx_ok(tx))
		return PV_E_INVALID;
	WRITE_OP(tx, "epoch_bump");
	return tx->st->ops->cluster->epoch_bump(tx);
}

enum pv_rc store_begin(struct store *st, enum store_mode mode, struct store_tx **out)
{
	if (st == NULL || out == NULL || (mode != STORE_RD && mode != STORE_WR))
		return PV_E_INVALID;
	return st->ops->core->begin(st, mode, out);
}

enum pv_rc store_commit(struct store_tx *tx)
{
	if (!tx_ok(tx))
		return PV_E_INVALID;
	return tx->st->ops->core->commit(tx);
}

void store_end(struct store_tx *tx)
{
	if (tx != NULL)
		tx->st->ops->core->end(tx);
}

enum pv_rc store_savepoint(struct store_tx *tx)
{
	if (!tx_ok(tx))
		return PV_E_INVALID;
	return tx->st->ops->core->savepoint(tx);
}

enum pv_rc store_release(struct store_tx *tx)
{
	if (!tx_ok(tx))
		return PV_E_INVALID;
	return tx->st->ops->core->release(tx);
}

void store_rollback_savepoint(struct store_tx *tx)
{
	if (tx_ok(tx))
		tx->st->ops->core->rollback_savepoint(tx);
}

struct store *store_tx_store(const struct store_tx *tx)
{
	return tx != NULL ? tx->st : NULL;
}

enum store_mode store_tx_mode(const struct store_tx *tx)
{
	return tx != NULL ? tx->mode : STORE_RD;
}

/* ------------------------------------------------------------------ */
/* meta                                                                */
/* ------------------------------------------------------------------ */

enum pv_rc store_meta_get(struct store_tx *tx, const char *key, uint8_t **val, size_t *len)
{
	if (!tx_ok(tx) || key == NULL || val == NULL || len == NULL)
		return PV_E_INVALID;
	return tx->st->ops->core->meta_get(tx, key, val, len);
}

enum pv_rc store_meta_put(struct store_tx *tx, const char *key, const uint8_t *val, size_t len)
{
	if (!tx_ok(tx) || key == NULL || (val == NULL && len > 0))
		return PV_E_INVALID;
	WRITE_OP(tx, "meta_put");
	return tx->st->ops->core->meta_put(tx, key, val, len);
}

/* ------------------------------------------------------------------ */
/* key-encryption keys                                                 */
/* ------------------------------------------------------------------ */

void store_kek_clear(struct store_kek *k)
{
	if (k == NULL)
		return;
	if (k->wrapped != NULL) {
		explicit_bzero(k->wrapped, k->wrapped_len);
		free(k->wrapped);
	}
	memset(k, 0, sizeof(*k));
}

static bool kek_name_ok(const char *name)
{
	return name != NULL && name[0] != '\0' &&
	    strlen(name) < sizeof(((struct store_kek *)0)->name);
}

static bool kek_state_ok(enum store_kek_state s)
{
	return s == STORE_KEK_ACTIVE || s == STORE_KEK_RETIRED || s == STORE_KEK_REVOKED ||
	    s == STORE_KEK_DISABLED;
}

enum pv_rc store_kek_put(struct store_tx *tx, const struct store_kek *k)
{
	if (!tx_ok(tx) || k == NULL || !kek_name_ok(k->name) || !kek_state_ok(k->state) ||
	    (k->wrapped == NULL && k->wrapped_len > 0))
		return PV_E_INVALID;
	WRITE_OP(tx, "kek_put");
	return tx->st->ops->keys->kek_put(tx, k);
}

enum pv_rc store_kek_get(struct store_tx *tx, const char *name, uint32_t version,
    struct store_kek *out)
{
	if (!tx_ok(tx) || out == NULL || !kek_name_ok(name))
		return PV_E_INVALID;
	return tx->st->ops->keys->kek_get(tx, name, version, out);
}

enum pv_rc store_kek_latest(struct store_tx *tx, const char *name, struct store_kek *out)
{
	if (!tx_ok(tx) || out == NULL || !kek_name_ok(name))
		return PV_E_INVALID;
	return tx->st->ops->keys->kek_latest(tx, name, out);
}

enum pv_rc store_kek_set_state(struct store_tx *tx, const char *name, uint32_t version,
    enum store_kek_state state)
{
	if (!tx_ok(tx) || !kek_name_ok(name) || !kek_state_ok(state))
		return PV_E_INVALID;
	WRITE_OP(tx, "kek_set_state");
	return access_changed(tx, tx->st->ops->keys->kek_set_state(tx, name, version, state));
}

enum pv_rc store_kek_scan(struct store_tx *tx, store_kek_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->keys->kek_scan(tx, cb, arg);
}

enum pv_rc store_kek_census(struct store_tx *tx, const char *name, uint32_t version,
    int64_t *objects)
{
	if (!tx_ok(tx) || objects == NULL || !kek_name_ok(name) || version == 0)
		return PV_E_INVALID;
	if (tx->st->ops->keys->kek_census == NULL)
		return PV_E_INTERNAL;
	return tx->st->ops->keys->kek_census(tx, name, version, objects);
}

enum pv_rc store_kek_destroy(struct store_tx *tx, const char *name, uint32_t version)
{
	if (!tx_ok(tx) || !kek_name_ok(name) || version == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "kek_destroy");
	if (tx->st->ops->keys->kek_destroy == NULL)
		return PV_E_INTERNAL;
	return access_changed(tx, tx->st->ops->keys->kek_destroy(tx, name, version));
}

/* ------------------------------------------------------------------ */
/* audit trail                                                         */
/* ------------------------------------------------------------------ */

enum pv_rc store_audit_append(struct store_tx *tx, const struct store_audit_row *row)
{
	if (!tx_ok(tx) || row == NULL || row->time == NULL || row->actor == NULL ||
	    row->action == NULL || row->resource == NULL || row->purpose_of_use == NULL ||
	    row->outcome == NULL || row->reason == NULL || row->detail == NULL ||
	    row->prev_hash == NULL || row->hash == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "audit_append");
	return tx->st->ops->audit->audit_append(tx, row);
}

enum pv_rc store_audit_head(struct store_tx *tx, int64_t *seq, char hash[65])
{
	if (!tx_ok(tx) || seq == NULL || hash == NULL)
		return PV_E_INVALID;
	return tx->st->ops->audit->audit_head(tx, seq, hash);
}

enum pv_rc store_audit_scan(struct store_tx *tx, const struct store_audit_filter *f,
    store_audit_cb cb, void *arg)
{
	static const struct store_audit_filter all;

	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->audit->audit_scan(tx, f != NULL ? f : &all, cb, arg);
}

static bool audit_ref_ok(const char *ref)
{
	if (ref == NULL || strlen(ref) != STORE_AUDIT_SUBJECT_REF_LEN)
		return false;
	for (const char *p = ref; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

enum pv_rc store_audit_subject_put(struct store_tx *tx, int64_t seq, const char *ref)
{
	if (!tx_ok(tx) || seq < 1 || !audit_ref_ok(ref))
		return PV_E_INVALID;
	WRITE_OP(tx, "audit_subject_put");
	return tx->st->ops->audit->audit_subject_put(tx, seq, ref);
}

enum pv_rc store_audit_subject_scan(struct store_tx *tx,
    const struct store_audit_subject_filter *f, store_audit_cb cb, void *arg)
{
	if (!tx_ok(tx) || f == NULL || cb == NULL || !audit_ref_ok(f->subject_ref))
		return PV_E_INVALID;
	return tx->st->ops->audit->audit_subject_scan(tx, f, cb, arg);
}

enum pv_rc store_checkpoint_put(struct store_tx *tx, const struct store_checkpoint *cp)
{
	if (!tx_ok(tx) || cp == NULL || cp->hash == NULL || cp->time == NULL ||
	    cp->signature == NULL || cp->key_id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "checkpoint_put");
	return tx->st->ops->audit->checkpoint_put(tx, cp);
}

enum pv_rc store_checkpoint_scan(struct store_tx *tx, store_checkpoint_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->audit->checkpoint_scan(tx, cb, arg);
}

enum pv_rc store_checkpoint_count(struct store_tx *tx, int64_t *n)
{
	if (!tx_ok(tx) || n == NULL)
		return PV_E_INVALID;
	return tx->st->ops->audit->checkpoint_count(tx, n);
}

/* ---- identity ---- */
/* identity:begin (added by the identity work) */
static bool istr_ok(const char *s, size_t cap)
{
	return s != NULL && s[0] != '\0' && strlen(s) < cap;
}

static bool kind_ok(const char *k)
{
	return k != NULL && (strcmp(k, "password") == 0 || strcmp(k, "mfa") == 0);
}

static bool user_ok(const struct store_user *u)
{
	return u != NULL && istr_ok(u->id, sizeof(u->id)) &&
	    istr_ok(u->username, sizeof(u->username)) &&
	    strlen(u->display_name) < sizeof(u->display_name) &&
	    strlen(u->email) < sizeof(u->email) &&
	    istr_ok(u->password_hash, sizeof(u->password_hash)) &&
	    strlen(u->created_by) < sizeof(u->created_by) &&
	    (u->mfa_secret == NULL) == (u->mfa_env == NULL);
}

enum pv_rc store_user_put(struct store_tx *tx, const struct store_user *u)
{
	if (!tx_ok(tx) || !user_ok(u))
		return PV_E_INVALID;
	WRITE_OP(tx, "user_put");
	return tx->st->ops->identity->user_put(tx, u);
}

enum pv_rc store_user_get(struct store_tx *tx, const char *id, struct store_user *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->user_get(tx, id, out);
}

enum pv_rc store_user_get_by_username(struct store_tx *tx, const char *username,
    struct store_user *out)
{
	if (!tx_ok(tx) || username == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->user_get_by_username(tx, username, out);
}

enum pv_rc store_user_update(struct store_tx *tx, const struct store_user *u)
{
	if (!tx_ok(tx) || !user_ok(u))
		return PV_E_INVALID;
	WRITE_OP(tx, "user_update");
	return access_changed(tx, tx->st->ops->identity->user_update(tx, u));
}

enum pv_rc store_user_list(struct store_tx *tx, store_user_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->user_list(tx, cb, arg);
}

enum pv_rc store_user_roles_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n)
{
	if (!tx_ok(tx) || user_id == NULL || (n > 0 && roles == NULL))
		return PV_E_INVALID;
	WRITE_OP(tx, "user_roles_set");
	return access_changed(tx, tx->st->ops->identity->user_roles_set(tx, user_id, roles, n));
}

enum pv_rc store_user_roles_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || user_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->user_roles_get(tx, user_id, cb, arg);
}

enum pv_rc store_user_groups_set(struct store_tx *tx, const char *user_id,
    const char *const *groups, size_t n)
{
	if (!tx_ok(tx) || user_id == NULL || (n > 0 && groups == NULL))
		return PV_E_INVALID;
	WRITE_OP(tx, "user_groups_set");
	return access_changed(tx, tx->st->ops->identity->user_groups_set(tx, user_id, groups, n));
}

enum pv_rc store_user_groups_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || user_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->user_groups_get(tx, user_id, cb, arg);
}

enum pv_rc store_role_put(struct store_tx *tx, const struct store_role *r)
{
	if (!tx_ok(tx) || r == NULL || !istr_ok(r->name, sizeof(r->name)))
		return PV_E_INVALID;
	WRITE_OP(tx, "role_put");
	return access_changed(tx, tx->st->ops->identity->role_put(tx, r));
}

enum pv_rc store_role_get(struct store_tx *tx, const char *name, struct store_role *out)
{
	if (!tx_ok(tx) || name == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->role_get(tx, name, out);
}

enum pv_rc store_role_list(struct store_tx *tx, store_role_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->role_list(tx, cb, arg);
}

enum pv_rc store_group_put(struct store_tx *tx, const struct store_group *g)
{
	if (!tx_ok(tx) || g == NULL || !istr_ok(g->name, sizeof(g->name)))
		return PV_E_INVALID;
	WRITE_OP(tx, "group_put");
	return access_changed(tx, tx->st->ops->identity->group_put(tx, g));
}

enum pv_rc store_group_get(struct store_tx *tx, const char *name, struct store_group *out)
{
	if (!tx_ok(tx) || name == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->group_get(tx, name, out);
}

enum pv_rc store_group_list(struct store_tx *tx, store_group_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->group_list(tx, cb, arg);
}

enum pv_rc store_session_put(struct store_tx *tx, const struct store_session *s)
{
	if (!tx_ok(tx) || s == NULL || !istr_ok(s->id, sizeof(s->id)) ||
	    !istr_ok(s->token_hash, sizeof(s->token_hash)) ||
	    !istr_ok(s->user_id, sizeof(s->user_id)) || strlen(s->source) >= sizeof(s->source))
		return PV_E_INVALID;
	WRITE_OP(tx, "session_put");
	return tx->st->ops->identity->session_put(tx, s);
}

enum pv_rc store_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_session *out)
{
	if (!tx_ok(tx) || token_hash == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->session_get_by_hash(tx, token_hash, out);
}

enum pv_rc store_session_touch(struct store_tx *tx, const char *id, int64_t last_seen_ms)
{
	if (!tx_ok(tx) || id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_touch");
	return tx->st->ops->identity->session_touch(tx, id, last_seen_ms);
}

enum pv_rc store_session_set_state(struct store_tx *tx, const char *id, unsigned restrict_flags,
    bool mfa_verified, int64_t credential_epoch)
{
	if (!tx_ok(tx) || id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_set_state");
	return access_changed(tx, tx->st->ops->identity->session_set_state(tx, id, restrict_flags, mfa_verified,
	    credential_epoch));
}

enum pv_rc store_session_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *reason)
{
	if (!tx_ok(tx) || id == NULL || reason == NULL || ended_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_end");
	return access_changed(tx, tx->st->ops->identity->session_end(tx, id, ended_ms, reason));
}

enum pv_rc store_session_end_all_for_user(struct store_tx *tx, const char *user_id,
    const char *except_id, int64_t ended_ms, const char *reason, size_t *n)
{
	if (!tx_ok(tx) || user_id == NULL || reason == NULL || ended_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_end_all_for_user");
	return access_changed(tx, tx->st->ops->identity->session_end_all_for_user(tx, user_id, except_id, ended_ms, reason, n));
}

enum pv_rc store_session_count_open(struct store_tx *tx, int64_t now_ms, int64_t idle_after_ms,
    int64_t *n)
{
	if (!tx_ok(tx) || n == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->session_count_open(tx, now_ms, idle_after_ms, n);
}

enum pv_rc store_recovery_set(struct store_tx *tx, const char *user_id,
    const char *const *code_hashes, size_t n, uint32_t mac_version)
{
	if (!tx_ok(tx) || user_id == NULL || (n > 0 && code_hashes == NULL) || mac_version == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "recovery_set");
	return tx->st->ops->identity->recovery_set(tx, user_id, code_hashes, n, mac_version);
}

enum pv_rc store_recovery_version(struct store_tx *tx, const char *user_id,
    uint32_t *mac_version)
{
	if (!tx_ok(tx) || user_id == NULL || mac_version == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->recovery_version(tx, user_id, mac_version);
}

enum pv_rc store_recovery_unused(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || user_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->recovery_unused(tx, user_id, cb, arg);
}

enum pv_rc store_recovery_use(struct store_tx *tx, const char *user_id, const char *code_hash,
    int64_t used_ms)
{
	if (!tx_ok(tx) || user_id == NULL || code_hash == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "recovery_use");
	return tx->st->ops->identity->recovery_use(tx, user_id, code_hash, used_ms);
}

enum pv_rc store_lockout_get(struct store_tx *tx, const char *key, const char *kind,
    struct store_lockout *out)
{
	if (!tx_ok(tx) || key == NULL || !kind_ok(kind) || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->lockout_get(tx, key, kind, out);
}

enum pv_rc store_lockout_put(struct store_tx *tx, const char *key, const char *kind,
    const struct store_lockout *l)
{
	if (!tx_ok(tx) || key == NULL || !kind_ok(kind) || l == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "lockout_put");
	return tx->st->ops->identity->lockout_put(tx, key, kind, l);
}

enum pv_rc store_lockout_clear(struct store_tx *tx, const char *key)
{
	if (!tx_ok(tx) || key == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "lockout_clear");
	return tx->st->ops->identity->lockout_clear(tx, key);
}

enum pv_rc store_mfa_pending_put(struct store_tx *tx, const struct store_mfa_pending *p)
{
	if (!tx_ok(tx) || p == NULL || !istr_ok(p->token_hash, sizeof(p->token_hash)) ||
	    !istr_ok(p->user_id, sizeof(p->user_id)))
		return PV_E_INVALID;
	WRITE_OP(tx, "mfa_pending_put");
	return tx->st->ops->identity->mfa_pending_put(tx, p);
}

enum pv_rc store_mfa_pending_get(struct store_tx *tx, const char *token_hash,
    struct store_mfa_pending *out)
{
	if (!tx_ok(tx) || token_hash == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->identity->mfa_pending_get(tx, token_hash, out);
}

enum pv_rc store_mfa_pending_attempt(struct store_tx *tx, const char *token_hash)
{
	if (!tx_ok(tx) || token_hash == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "mfa_pending_attempt");
	return tx->st->ops->identity->mfa_pending_attempt(tx, token_hash);
}

enum pv_rc store_mfa_pending_delete(struct store_tx *tx, const char *token_hash, int64_t now_ms)
{
	if (!tx_ok(tx) || token_hash == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "mfa_pending_delete");
	return tx->st->ops->identity->mfa_pending_delete(tx, token_hash, now_ms);
}
/* identity:end */

/* ---- vault ---- */
/* vault:begin (added by the records work) */
static bool vname_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STORE_NAME_MAX;
}

static bool vid_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STORE_ID_MAX;
}

static bool vkek_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < sizeof(((struct store_record *)0)->kek_name);
}

static void blob_free(uint8_t **p, size_t *len)
{
	if (*p != NULL) {
		explicit_bzero(*p, *len);
		free(*p);
	}
	*p = NULL;
	*len = 0;
}

void store_collection_clear(struct store_collection *c)
{
	if (c == NULL)
		return;
	free(c->schema);
	memset(c, 0, sizeof(*c));
}

enum pv_rc store_collection_put(struct store_tx *tx, const struct store_collection *c)
{
	if (!tx_ok(tx) || c == NULL || !vname_ok(c->name) || c->schema == NULL ||
	    c->region[0] == '\0' || memchr(c->region, '\0', sizeof(c->region)) == NULL ||
	    !vkek_ok(c->kek_name))
		return PV_E_INVALID;
	WRITE_OP(tx, "collection_put");
	return tx->st->ops->vault->collection_put(tx, c);
}

enum pv_rc store_collection_get(struct store_tx *tx, const char *name, struct store_collection *out)
{
	if (!tx_ok(tx) || out == NULL || !vname_ok(name))
		return PV_E_INVALID;
	return tx->st->ops->vault->collection_get(tx, name, out);
}

enum pv_rc store_collection_list(struct store_tx *tx, store_collection_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->vault->collection_list(tx, cb, arg);
}

void store_record_clear(struct store_record *r)
{
	if (r == NULL)
		return;
	blob_free(&r->wrapped_dek, &r->wrapped_dek_len);
	blob_free(&r->ciphertext, &r->ciphertext_len);
	memset(r, 0, sizeof(*r));
}

/* A live envelope: every field a record row needs. */
static bool record_ok(const struct store_record *r)
{
	return vid_ok(r->id) && vname_ok(r->collection) && r->version >= 1 &&
	    vkek_ok(r->kek_name) && r->kek_version >= 1 &&
	    r->wrapped_dek != NULL && r->wrapped_dek_len > 0 &&
	    r->ciphertext != NULL && r->ciphertext_len > 0;
}

enum pv_rc store_record_put(struct store_tx *tx, const struct store_record *r)
{
	if (!tx_ok(tx) || r == NULL || !record_ok(r))
		return PV_E_INVALID;
	WRITE_OP(tx, "record_put");
	return tx->st->ops->vault->record_put(tx, r);
}

enum pv_rc store_record_get(struct store_tx *tx, const char *collection, const char *id,
    struct store_record *out)
{
	if (!tx_ok(tx) || out == NULL || !vname_ok(collection) || !vid_ok(id))
		return PV_E_INVALID;
	return tx->st->ops->vault->record_get(tx, collection, id, out);
}

enum pv_rc store_record_update(struct store_tx *tx, const struct store_record *r,
    uint32_t expected_version)
{
	if (!tx_ok(tx) || r == NULL || !record_ok(r) || expected_version == 0 ||
	    r->version != expected_version + 1)
		return PV_E_INVALID;
	WRITE_OP(tx, "record_update");
	return tx->st->ops->vault->record_update(tx, r, expected_version);
}

enum pv_rc store_record_shred(struct store_tx *tx, const char *collection, const char *id,
    int64_t deleted_ms)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(id) || deleted_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "record_shred");
	return tx->st->ops->vault->record_shred(tx, collection, id, deleted_ms);
}

enum pv_rc store_bidx_put(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id)
{
	return store_bidx_put_version(tx, collection, field, mac, record_id, 1);
}

enum pv_rc store_bidx_put_version(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], const char *record_id, uint32_t mac_version)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vname_ok(field) || mac == NULL ||
	    !vid_ok(record_id) || mac_version == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "bidx_put");
	return tx->st->ops->vault->bidx_put(tx, collection, field, mac, record_id, mac_version);
}

enum pv_rc store_bidx_delete_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *deleted)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(record_id) || deleted == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "bidx_delete_below");
	return tx->st->ops->vault->bidx_delete_below(tx, collection, record_id, below, deleted);
}

enum pv_rc store_token_set_subject(struct store_tx *tx, const char *token, const char *ref)
{
	if (!tx_ok(tx) || !vid_ok(token) || ref == NULL || strlen(ref) != 64)
		return PV_E_INVALID;
	WRITE_OP(tx, "token_set_subject");
	return tx->st->ops->vault->token_set_subject(tx, token, ref);
}

enum pv_rc store_token_tombstone_get(struct store_tx *tx, const char *token,
    char collection[STORE_NAME_MAX], int64_t *shredded_ms)
{
	if (!tx_ok(tx) || !vid_ok(token) || collection == NULL || shredded_ms == NULL)
		return PV_E_INVALID;
	return tx->st->ops->vault->token_tombstone_get(tx, token, collection, shredded_ms);
}

enum pv_rc store_bidx_count_below(struct store_tx *tx, const char *collection,
    const char *record_id, uint32_t below, int64_t *n)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(record_id) || n == NULL)
		return PV_E_INVALID;
	return tx->st->ops->vault->bidx_count_below(tx, collection, record_id, below, n);
}

enum pv_rc store_bidx_delete(struct store_tx *tx, const char *collection, const char *record_id,
    const char *field)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(record_id) ||
	    (field != NULL && !vname_ok(field)))
		return PV_E_INVALID;
	WRITE_OP(tx, "bidx_delete");
	return tx->st->ops->vault->bidx_delete(tx, collection, record_id, field);
}

enum pv_rc store_bidx_lookup(struct store_tx *tx, const char *collection, const char *field,
    const uint8_t mac[STORE_MAC_LEN], size_t limit, store_bidx_cb cb, void *arg)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vname_ok(field) || mac == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->vault->bidx_lookup(tx, collection, field, mac, limit, cb, arg);
}

enum pv_rc store_record_scan(struct store_tx *tx, const char *collection, const char *after_id,
    size_t limit, store_bidx_cb cb, void *arg)
{
	if (!tx_ok(tx) || !vname_ok(collection) || after_id == NULL ||
	    (after_id[0] != '\0' && !vid_ok(after_id)) || cb == NULL)
		return PV_E_INVALID;
	if (tx->st->ops->vault->record_scan == NULL)
		return PV_E_INTERNAL;
	return tx->st->ops->vault->record_scan(tx, collection, after_id, limit, cb, arg);
}

enum pv_rc store_record_rewrap(struct store_tx *tx, const struct store_record *r,
    uint32_t old_kek_version)
{
	/* ciphertext NULL: unchanged (a DEK rewrap leaves the data alone) */
	if (!tx_ok(tx) || r == NULL || old_kek_version == 0 || !vid_ok(r->id) ||
	    !vname_ok(r->collection) || r->version < 1 || !vkek_ok(r->kek_name) ||
	    r->kek_version < 1 || r->wrapped_dek == NULL || r->wrapped_dek_len == 0 ||
	    (r->ciphertext != NULL && r->ciphertext_len == 0))
		return PV_E_INVALID;
	WRITE_OP(tx, "record_rewrap");
	if (tx->st->ops->vault->record_rewrap == NULL)
		return PV_E_INTERNAL;
	return tx->st->ops->vault->record_rewrap(tx, r, old_kek_version);
}

void store_token_clear(struct store_token *t)
{
	if (t == NULL)
		return;
	blob_free(&t->wrapped_dek, &t->wrapped_dek_len);
	blob_free(&t->ciphertext, &t->ciphertext_len);
	memset(t, 0, sizeof(*t));
}

enum pv_rc store_token_put(struct store_tx *tx, const struct store_token *t)
{
	if (!tx_ok(tx) || t == NULL || !vid_ok(t->token) || !vname_ok(t->collection) ||
	    !vname_ok(t->field) || !vkek_ok(t->kek_name) || t->kek_version == 0 ||
	    t->wrapped_dek == NULL || t->wrapped_dek_len == 0 ||
	    t->ciphertext == NULL || t->ciphertext_len == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "token_put");
	return tx->st->ops->vault->token_put(tx, t);
}

enum pv_rc store_token_get(struct store_tx *tx, const char *token, struct store_token *out)
{
	if (!tx_ok(tx) || out == NULL || !vid_ok(token))
		return PV_E_INVALID;
	return tx->st->ops->vault->token_get(tx, token, out);
}

enum pv_rc store_token_scan(struct store_tx *tx, const char *after, size_t limit,
    store_token_cb cb, void *arg)
{
	if (!tx_ok(tx) || after == NULL || cb == NULL || limit == 0 ||
	    (after[0] != '\0' && !vid_ok(after)))
		return PV_E_INVALID;
	return tx->st->ops->vault->token_scan(tx, after, limit, cb, arg);
}

enum pv_rc store_token_rewrap(struct store_tx *tx, const struct store_token *t,
    uint32_t old_kek_version, uint32_t old_mac_version)
{
	if (!tx_ok(tx) || t == NULL || !vid_ok(t->token) || t->kek_name[0] == '\0' ||
	    t->kek_version < 1 || old_kek_version < 1 || t->wrapped_dek == NULL ||
	    t->wrapped_dek_len == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "token_rewrap");
	return tx->st->ops->vault->token_rewrap(tx, t, old_kek_version, old_mac_version);
}

enum pv_rc store_token_get_by_mac(struct store_tx *tx, const uint8_t mac[STORE_MAC_LEN],
    struct store_token *out)
{
	if (!tx_ok(tx) || mac == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->vault->token_get_by_mac(tx, mac, out);
}
/* vault:end */

/* jobs:begin (added by the jobs work) */
static bool job_row_ok(const struct store_job *j)
{
	return j->id[0] != '\0' && j->kind[0] != '\0' && j->state[0] != '\0' &&
	    j->cursor != NULL && j->errors != NULL;
}

void store_job_clear(struct store_job *j)
{
	if (j == NULL)
		return;
	free(j->cursor);
	free(j->params);
	free(j->errors);
	memset(j, 0, sizeof(*j));
}

enum pv_rc store_job_put(struct store_tx *tx, const struct store_job *j)
{
	if (!tx_ok(tx) || j == NULL || !job_row_ok(j) || j->params == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "job_put");
	return tx->st->ops->jobs->job_put(tx, j);
}

enum pv_rc store_job_get(struct store_tx *tx, const char *id, struct store_job *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->jobs->job_get(tx, id, out);
}

enum pv_rc store_job_update(struct store_tx *tx, const struct store_job *j)
{
	if (!tx_ok(tx) || j == NULL || !job_row_ok(j))
		return PV_E_INVALID;
	WRITE_OP(tx, "job_update");
	return tx->st->ops->jobs->job_update(tx, j);
}

enum pv_rc store_job_list(struct store_tx *tx, store_job_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->jobs->job_list(tx, cb, arg);
}

enum pv_rc store_job_runnable(struct store_tx *tx, const char *owner, int64_t now_ms,
    store_job_cb cb, void *arg)
{
	if (!tx_ok(tx) || owner == NULL || owner[0] == '\0' || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->jobs->job_runnable(tx, owner, now_ms, cb, arg);
}
/* jobs:end */

/* sinks:begin (added by the sinks work) */
enum pv_rc store_sink_cursor_get(struct store_tx *tx, const char *name,
    struct store_sink_cursor *out)
{
	if (!tx_ok(tx) || name == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->sinks->sink_cursor_get(tx, name, out);
}

enum pv_rc store_sink_cursor_put(struct store_tx *tx, const struct store_sink_cursor *c)
{
	if (!tx_ok(tx) || c == NULL || c->name[0] == '\0' || c->seq < 0 || c->delivered < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "sink_cursor_put");
	return tx->st->ops->sinks->sink_cursor_put(tx, c);
}
/* sinks:end */
/* detect:begin (added by the detection work) */
static bool alert_row_ok(const struct store_alert *a)
{
	return a->id[0] != '\0' && a->rule[0] != '\0' && a->severity[0] != '\0' &&
	    a->actor[0] != '\0' && a->count >= 1;
}

enum pv_rc store_alert_put(struct store_tx *tx, const struct store_alert *a)
{
	if (!tx_ok(tx) || a == NULL || !alert_row_ok(a))
		return PV_E_INVALID;
	WRITE_OP(tx, "alert_put");
	return tx->st->ops->detect->alert_put(tx, a);
}

enum pv_rc store_alert_get(struct store_tx *tx, const char *id, struct store_alert *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->detect->alert_get(tx, id, out);
}

enum pv_rc store_alert_bump(struct store_tx *tx, const char *id, int64_t add, int64_t last_seen_ms)
{
	if (!tx_ok(tx) || id == NULL || add < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "alert_bump");
	return tx->st->ops->detect->alert_bump(tx, id, add, last_seen_ms);
}

enum pv_rc store_alert_ack(struct store_tx *tx, const char *id, const char *note, const char *by,
    int64_t at_ms)
{
	if (!tx_ok(tx) || id == NULL || note == NULL || by == NULL ||
	    strlen(note) > STORE_ALERT_NOTE_MAX)
		return PV_E_INVALID;
	WRITE_OP(tx, "alert_ack");
	return tx->st->ops->detect->alert_ack(tx, id, note, by, at_ms);
}

enum pv_rc store_alert_list(struct store_tx *tx, const struct store_alert_filter *f,
    store_alert_cb cb, void *arg)
{
	if (!tx_ok(tx) || f == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->detect->alert_list(tx, f, cb, arg);
}

enum pv_rc store_detect_state_get(struct store_tx *tx, const char *key, char **value)
{
	if (!tx_ok(tx) || key == NULL || value == NULL)
		return PV_E_INVALID;
	return tx->st->ops->detect->detect_state_get(tx, key, value);
}

enum pv_rc store_detect_state_put(struct store_tx *tx, const char *key, const char *value,
    int64_t now_ms)
{
	if (!tx_ok(tx) || key == NULL || key[0] == '\0' || value == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "detect_state_put");
	return tx->st->ops->detect->detect_state_put(tx, key, value, now_ms);
}
/* detect:end */
/* policies:begin (added by the policies work) */
void store_policy_clear(struct store_policy *p)
{
	if (p == NULL)
		return;
	free(p->actions);
	free(p->resources);
	free(p->condition);
	memset(p, 0, sizeof(*p));
}

static bool policy_row_ok(const struct store_policy *p)
{
	return p->name[0] != '\0' && p->actions != NULL && p->resources != NULL &&
	    p->condition != NULL && p->version >= 1;
}

enum pv_rc store_policy_put(struct store_tx *tx, const struct store_policy *p)
{
	if (!tx_ok(tx) || p == NULL || !policy_row_ok(p))
		return PV_E_INVALID;
	WRITE_OP(tx, "policy_put");
	return access_changed(tx, tx->st->ops->policy->policy_put(tx, p));
}

enum pv_rc store_policy_get(struct store_tx *tx, const char *name, struct store_policy *out)
{
	if (!tx_ok(tx) || name == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->policy->policy_get(tx, name, out);
}

enum pv_rc store_policy_update(struct store_tx *tx, const struct store_policy *p)
{
	if (!tx_ok(tx) || p == NULL || !policy_row_ok(p) || p->version < 2)
		return PV_E_INVALID;
	WRITE_OP(tx, "policy_update");
	return access_changed(tx, tx->st->ops->policy->policy_update(tx, p));
}

enum pv_rc store_policy_delete(struct store_tx *tx, const char *name)
{
	if (!tx_ok(tx) || name == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "policy_delete");
	return access_changed(tx, tx->st->ops->policy->policy_delete(tx, name));
}

enum pv_rc store_policy_list(struct store_tx *tx, store_policy_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->policy->policy_list(tx, cb, arg);
}
enum pv_rc store_session_set_mfa(struct store_tx *tx, const char *id, int64_t mfa_at_ms)
{
	if (!tx_ok(tx) || id == NULL || mfa_at_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_set_mfa");
	return tx->st->ops->policy->session_set_mfa(tx, id, mfa_at_ms);
}
/* policies:end */

/* apps:begin (added by the apps work) */
enum pv_rc store_app_put(struct store_tx *tx, const struct store_app *a)
{
	if (!tx_ok(tx) || a == NULL || a->id[0] == '\0' || a->name[0] == '\0')
		return PV_E_INVALID;
	WRITE_OP(tx, "app_put");
	return tx->st->ops->apps->app_put(tx, a);
}

enum pv_rc store_app_get(struct store_tx *tx, const char *id, struct store_app *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->apps->app_get(tx, id, out);
}

enum pv_rc store_app_update(struct store_tx *tx, const struct store_app *a)
{
	if (!tx_ok(tx) || a == NULL || a->id[0] == '\0')
		return PV_E_INVALID;
	WRITE_OP(tx, "app_update");
	return access_changed(tx, tx->st->ops->apps->app_update(tx, a));
}

enum pv_rc store_app_list(struct store_tx *tx, store_app_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->apps->app_list(tx, cb, arg);
}

enum pv_rc store_app_secret_put(struct store_tx *tx, const struct store_app_secret *s)
{
	if (!tx_ok(tx) || s == NULL || s->secret_id[0] == '\0' || s->app_id[0] == '\0' ||
	    s->hash[0] == '\0')
		return PV_E_INVALID;
	WRITE_OP(tx, "app_secret_put");
	return tx->st->ops->apps->app_secret_put(tx, s);
}

enum pv_rc store_app_secret_list(struct store_tx *tx, const char *app_id,
    store_app_secret_cb cb, void *arg)
{
	if (!tx_ok(tx) || app_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->apps->app_secret_list(tx, app_id, cb, arg);
}

enum pv_rc store_app_secret_revoke(struct store_tx *tx, const char *app_id,
    const char *secret_id, int64_t now_ms)
{
	if (!tx_ok(tx) || app_id == NULL || secret_id == NULL || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "app_secret_revoke");
	return access_changed(tx, tx->st->ops->apps->app_secret_revoke(tx, app_id, secret_id, now_ms));
}

enum pv_rc store_app_session_put(struct store_tx *tx, const struct store_app_session *s)
{
	if (!tx_ok(tx) || s == NULL || s->id[0] == '\0' || s->token_hash[0] == '\0' ||
	    s->app_id[0] == '\0')
		return PV_E_INVALID;
	WRITE_OP(tx, "app_session_put");
	return tx->st->ops->apps->app_session_put(tx, s);
}

enum pv_rc store_app_session_get_by_hash(struct store_tx *tx, const char *token_hash,
    struct store_app_session *out)
{
	if (!tx_ok(tx) || token_hash == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->apps->app_session_get_by_hash(tx, token_hash, out);
}

enum pv_rc store_app_session_end_all(struct store_tx *tx, const char *app_id, int64_t now_ms,
    const char *reason, size_t *n)
{
	if (!tx_ok(tx) || app_id == NULL || reason == NULL || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "app_session_end_all");
	return access_changed(tx, tx->st->ops->apps->app_session_end_all(tx, app_id, now_ms, reason, n));
}
enum pv_rc store_app_session_end(struct store_tx *tx, const char *id, int64_t now_ms,
    const char *reason)
{
	if (!tx_ok(tx) || id == NULL || reason == NULL || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "app_session_end");
	return access_changed(tx, tx->st->ops->apps->app_session_end(tx, id, now_ms, reason));
}

static bool serial_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n > 0 && n < 48 && strspn(s, "0123456789abcdef") == n;
}

enum pv_rc store_app_cert_revoke(struct store_tx *tx, const char *app_id, const char *serial,
    int64_t now_ms, const char *by)
{
	if (!tx_ok(tx) || app_id == NULL || !serial_ok(serial) || now_ms <= 0 || by == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "app_cert_revoke");
	return access_changed(tx, tx->st->ops->apps->app_cert_revoke(tx, app_id, serial, now_ms,
	    by));
}

enum pv_rc store_app_cert_revoked(struct store_tx *tx, const char *serial, bool *revoked)
{
	if (!tx_ok(tx) || !serial_ok(serial) || revoked == NULL)
		return PV_E_INVALID;
	return tx->st->ops->apps->app_cert_revoked(tx, serial, revoked);
}

enum pv_rc store_app_session_end_cert(struct store_tx *tx, const char *app_id,
    const char *serial, int64_t now_ms, const char *reason, size_t *n)
{
	if (!tx_ok(tx) || app_id == NULL || !serial_ok(serial) || reason == NULL || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "app_session_end_cert");
	return access_changed(tx, tx->st->ops->apps->app_session_end_cert(tx, app_id, serial,
	    now_ms, reason, n));
}
/* apps:end */

/* backup:begin (added by the backup work) */
enum pv_rc store_snapshot(struct store_tx *tx, const struct store_snapshot_sink *sink,
    struct store_snapshot_info *out)
{
	if (!tx_ok(tx) || sink == NULL || sink->write == NULL || out == NULL ||
	    tx->mode != STORE_RD)
		return PV_E_INVALID;
	return tx->st->ops->backup->snapshot(tx, sink, out);
}
/* backup:end */
/* subjects:begin (store_subjects.h) */
static bool sref_ok(const char *ref)
{
	if (ref == NULL || strlen(ref) != STORE_SUBJECT_REF_LEN)
		return false;
	for (const char *p = ref; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void store_subject_clear(struct store_subject *s)
{
	if (s == NULL)
		return;
	blob_free(&s->wrapped_dek, &s->wrapped_dek_len);
	blob_free(&s->ciphertext, &s->ciphertext_len);
	memset(s, 0, sizeof(*s));
}

enum pv_rc store_subject_put(struct store_tx *tx, const struct store_subject *s)
{
	if (!tx_ok(tx) || s == NULL || !sref_ok(s->ref) || !vkek_ok(s->kek_name) ||
	    s->kek_version < 1 || s->wrapped_dek == NULL || s->wrapped_dek_len == 0 ||
	    s->ciphertext == NULL || s->ciphertext_len == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "subject_put");
	return tx->st->ops->subjects->subject_put(tx, s);
}

enum pv_rc store_subject_get(struct store_tx *tx, const char *ref, struct store_subject *out)
{
	if (!tx_ok(tx) || !sref_ok(ref) || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_get(tx, ref, out);
}

enum pv_rc store_subject_hold(struct store_tx *tx, const char *ref, const char *reason,
    const char *by, int64_t now_ms)
{
	if (!tx_ok(tx) || !sref_ok(ref) ||
	    (reason != NULL && (reason[0] == '\0' || strlen(reason) >= STORE_SUBJECT_REASON_MAX)) ||
	    (by != NULL && strlen(by) >= UTIL_ID_MAX))
		return PV_E_INVALID;
	WRITE_OP(tx, "subject_hold");
	return tx->st->ops->subjects->subject_hold(tx, ref, reason, by, now_ms);
}

enum pv_rc store_subject_rewrap(struct store_tx *tx, const struct store_subject *s,
    uint32_t expected_kek_version)
{
	if (!tx_ok(tx) || s == NULL || !sref_ok(s->ref) || !vkek_ok(s->kek_name) ||
	    s->kek_version < 1 || s->wrapped_dek == NULL || s->wrapped_dek_len == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "subject_rewrap");
	return tx->st->ops->subjects->subject_rewrap(tx, s, expected_kek_version);
}

enum pv_rc store_subject_scan(struct store_tx *tx, const char *after_ref, size_t limit,
    store_bidx_cb cb, void *arg)
{
	if (!tx_ok(tx) || after_ref == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_scan(tx, after_ref, limit, cb, arg);
}

enum pv_rc store_subject_link(struct store_tx *tx, const char *collection,
    const char *record_id, const char *ref)
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(record_id) || ref == NULL ||
	    (ref[0] != '\0' && !sref_ok(ref)))
		return PV_E_INVALID;
	WRITE_OP(tx, "subject_link");
	return tx->st->ops->subjects->subject_link(tx, collection, record_id, ref);
}

enum pv_rc store_subject_of_record(struct store_tx *tx, const char *collection,
    const char *record_id, char ref[STORE_SUBJECT_REF_LEN + 1])
{
	if (!tx_ok(tx) || !vname_ok(collection) || !vid_ok(record_id) || ref == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_of_record(tx, collection, record_id, ref);
}

enum pv_rc store_subject_counts(struct store_tx *tx, const char *ref,
    store_subject_count_cb cb, void *arg)
{
	if (!tx_ok(tx) || !sref_ok(ref) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_counts(tx, ref, cb, arg);
}

enum pv_rc store_subject_shred(struct store_tx *tx, const char *ref, int64_t now_ms,
    store_subject_record_cb cb, void *arg)
{
	if (!tx_ok(tx) || !sref_ok(ref) || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "subject_shred");
	return access_changed(tx, tx->st->ops->subjects->subject_shred(tx, ref, now_ms, cb, arg));
}

enum pv_rc store_subject_tombstone_get(struct store_tx *tx, const char *ref,
    int64_t *shredded_ms)
{
	if (!tx_ok(tx) || !sref_ok(ref) || shredded_ms == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_tombstone_get(tx, ref, shredded_ms);
}

enum pv_rc store_subject_tombstone_list(struct store_tx *tx, const char *after_ref,
    size_t limit, store_tombstone_cb cb, void *arg)
{
	if (!tx_ok(tx) || after_ref == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->subjects->subject_tombstone_list(tx, after_ref, limit, cb, arg);
}
/* subjects:end */
/* secrets:begin (added by the secrets work) */
void store_secret_clear(struct store_secret *s)
{
	if (s == NULL)
		return;
	free(s->metadata);
	memset(s, 0, sizeof(*s));
}

void store_secret_version_clear(struct store_secret_version *v)
{
	if (v == NULL)
		return;
	blob_free(&v->wrapped_dek, &v->wrapped_dek_len);
	blob_free(&v->ciphertext, &v->ciphertext_len);
	free(v->metadata);
	memset(v, 0, sizeof(*v));
}

static bool secret_path_ok(const char *path)
{
	return path != NULL && path[0] != '\0' && strlen(path) < STORE_SECRET_PATH_MAX;
}

enum pv_rc store_secret_get(struct store_tx *tx, const char *path, struct store_secret *out)
{
	if (!tx_ok(tx) || !secret_path_ok(path) || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->secrets->secret_get(tx, path, out);
}

enum pv_rc store_secret_write(struct store_tx *tx, const struct store_secret *head,
    const struct store_secret_version *v, uint32_t expected_current)
{
	if (!tx_ok(tx) || head == NULL || v == NULL || !secret_path_ok(v->path) ||
	    strcmp(head->path, v->path) != 0 || v->version < 1 ||
	    head->current_version != v->version || v->kek_name[0] == '\0' ||
	    v->kek_version < 1 || v->wrapped_dek == NULL || v->wrapped_dek_len == 0 ||
	    v->ciphertext == NULL || v->ciphertext_len == 0 || v->created_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "secret_write");
	return tx->st->ops->secrets->secret_write(tx, head, v, expected_current);
}

enum pv_rc store_secret_version_get(struct store_tx *tx, const char *path, uint32_t version,
    struct store_secret_version *out)
{
	if (!tx_ok(tx) || !secret_path_ok(path) || version < 1 || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->secrets->secret_version_get(tx, path, version, out);
}

enum pv_rc store_secret_list(struct store_tx *tx, const char *prefix, store_secret_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || prefix == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->secrets->secret_list(tx, prefix, cb, arg);
}

enum pv_rc store_secret_set_deleted(struct store_tx *tx, const char *path, int64_t deleted_ms)
{
	if (!tx_ok(tx) || !secret_path_ok(path) || deleted_ms < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "secret_set_deleted");
	return tx->st->ops->secrets->secret_set_deleted(tx, path, deleted_ms);
}

enum pv_rc store_secret_version_destroy(struct store_tx *tx, const char *path,
    uint32_t version, int64_t now_ms)
{
	if (!tx_ok(tx) || !secret_path_ok(path) || version < 1 || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "secret_version_destroy");
	return tx->st->ops->secrets->secret_version_destroy(tx, path, version, now_ms);
}

enum pv_rc store_secret_versions_prune(struct store_tx *tx, const char *path, uint32_t below,
    int64_t now_ms, size_t *n)
{
	if (!tx_ok(tx) || !secret_path_ok(path) || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "secret_versions_prune");
	return tx->st->ops->secrets->secret_versions_prune(tx, path, below, now_ms, n);
}

enum pv_rc store_secret_version_scan(struct store_tx *tx, int64_t after_seq, size_t limit,
    store_secret_version_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL || limit == 0 || after_seq < 0)
		return PV_E_INVALID;
	return tx->st->ops->secrets->secret_version_scan(tx, after_seq, limit, cb, arg);
}

enum pv_rc store_secret_version_rewrap(struct store_tx *tx, const struct store_secret_version *v,
    uint32_t old_kek_version)
{
	if (!tx_ok(tx) || v == NULL || !secret_path_ok(v->path) || v->version < 1 ||
	    v->kek_version < 1 || v->wrapped_dek == NULL || v->wrapped_dek_len == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "secret_version_rewrap");
	return tx->st->ops->secrets->secret_version_rewrap(tx, v, old_kek_version);
}
/* secrets:end */
/* approvals:begin (dual control) */
enum pv_rc store_approval_put(struct store_tx *tx, const struct store_approval *a)
{
	if (!tx_ok(tx) || a == NULL || a->id[0] == '\0' || a->kind[0] == '\0' ||
	    a->status[0] == '\0' || a->change == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "approval_put");
	return tx->st->ops->approvals->approval_put(tx, a);
}

enum pv_rc store_approval_get(struct store_tx *tx, const char *id, struct store_approval *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->approvals->approval_get(tx, id, out);
}

enum pv_rc store_approval_list(struct store_tx *tx, const char *status, store_approval_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->approvals->approval_list(tx, status, cb, arg);
}

enum pv_rc store_approval_decide(struct store_tx *tx, const char *id, const char *status,
    const char *decided_by, int64_t decided_ms, const char *note)
{
	if (!tx_ok(tx) || id == NULL || status == NULL || decided_by == NULL ||
	    strcmp(status, "pending") == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "approval_decide");
	return access_changed(tx, tx->st->ops->approvals->approval_decide(tx, id, status,
	    decided_by, decided_ms, note != NULL ? note : ""));
}

enum pv_rc store_approval_applied(struct store_tx *tx, const char *kind, const char *target,
    bool *found)
{
	if (!tx_ok(tx) || kind == NULL || target == NULL || found == NULL)
		return PV_E_INVALID;
	return tx->st->ops->approvals->approval_applied(tx, kind, target, found);
}
/* approvals:end */
/* elevations:begin (JIT elevation) */
static bool elevation_state_ok(const char *s)
{
	return s != NULL && (strcmp(s, "pending") == 0 || strcmp(s, "active") == 0 ||
	    strcmp(s, "denied") == 0 || strcmp(s, "revoked") == 0 || strcmp(s, "expired") == 0);
}

enum pv_rc store_elevation_put(struct store_tx *tx, const struct store_elevation *e)
{
	if (!tx_ok(tx) || e == NULL || e->id[0] == '\0' || e->user_id[0] == '\0' ||
	    e->role[0] == '\0' || !elevation_state_ok(e->status) || e->justification == NULL ||
	    e->duration_s <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "elevation_put");
	return tx->st->ops->elevations->elevation_put(tx, e);
}

enum pv_rc store_elevation_get(struct store_tx *tx, const char *id, struct store_elevation *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->elevations->elevation_get(tx, id, out);
}

enum pv_rc store_elevation_list(struct store_tx *tx, const char *user_id, const char *status,
    store_elevation_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->elevations->elevation_list(tx, user_id, status, cb, arg);
}

enum pv_rc store_elevation_approve(struct store_tx *tx, const char *id, const char *by,
    int64_t starts_ms, int64_t expires_ms)
{
	if (!tx_ok(tx) || id == NULL || by == NULL || by[0] == '\0' || starts_ms <= 0 ||
	    expires_ms <= starts_ms)
		return PV_E_INVALID;
	WRITE_OP(tx, "elevation_approve");
	return access_changed(tx, tx->st->ops->elevations->elevation_approve(tx, id, by,
	    starts_ms, expires_ms));
}

enum pv_rc store_elevation_end(struct store_tx *tx, const char *id, const char *from,
    const char *to, const char *by, int64_t at_ms)
{
	if (!tx_ok(tx) || id == NULL || by == NULL || at_ms <= 0 ||
	    from == NULL || (strcmp(from, "pending") != 0 && strcmp(from, "active") != 0) ||
	    to == NULL || !elevation_state_ok(to) || strcmp(to, "pending") == 0 ||
	    strcmp(to, "active") == 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "elevation_end");
	return access_changed(tx, tx->st->ops->elevations->elevation_end(tx, id, from, to, by,
	    at_ms));
}

enum pv_rc store_eligible_set(struct store_tx *tx, const char *user_id,
    const char *const *roles, size_t n)
{
	size_t i, k;

	if (!tx_ok(tx) || user_id == NULL || (n > 0 && roles == NULL))
		return PV_E_INVALID;
	for (i = 0; i < n; i++) {
		if (roles[i] == NULL || roles[i][0] == '\0')
			return PV_E_INVALID;
		for (k = 0; k < i; k++)
			if (strcmp(roles[i], roles[k]) == 0)
				return PV_E_INVALID;   /* distinct names */
	}
	WRITE_OP(tx, "eligible_set");
	return tx->st->ops->elevations->eligible_set(tx, user_id, roles, n);
}

enum pv_rc store_eligible_get(struct store_tx *tx, const char *user_id, store_name_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || user_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->elevations->eligible_get(tx, user_id, cb, arg);
}
/* elevations:end */
/* campaigns:begin (access review campaigns) */
static bool campaign_word_in(const char *s, const char *const *set)
{
	for (; s != NULL && *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const campaign_scopes[] = { "phi_access", "admins", "apps", NULL };
static const char *const campaign_states[] = { "open", "closed", NULL };
static const char *const campaign_on_due[] = { "remove", "alert", NULL };
static const char *const item_decisions[] = { "keep", "revoke", "removed", "unattested",
	NULL };

enum pv_rc store_campaign_put(struct store_tx *tx, const struct store_campaign *c)
{
	if (!tx_ok(tx) || c == NULL || c->id[0] == '\0' ||
	    !campaign_word_in(c->scope, campaign_scopes) || c->reviewers[0] == '\0' ||
	    !campaign_word_in(c->status, campaign_states) ||
	    !campaign_word_in(c->on_due, campaign_on_due) || c->created_by[0] == '\0' ||
	    c->created_ms <= 0 || c->due_ms < c->created_ms)
		return PV_E_INVALID;
	WRITE_OP(tx, "campaign_put");
	return tx->st->ops->campaigns->campaign_put(tx, c);
}

enum pv_rc store_campaign_get(struct store_tx *tx, const char *id, struct store_campaign *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->campaign_get(tx, id, out);
}

enum pv_rc store_campaign_list(struct store_tx *tx, const char *status, store_campaign_cb cb,
    void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->campaign_list(tx, status, cb, arg);
}

enum pv_rc store_campaign_close(struct store_tx *tx, const char *id, int64_t closed_ms,
    const char *result, const char *signature)
{
	if (!tx_ok(tx) || id == NULL || closed_ms <= 0 || result == NULL || signature == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "campaign_close");
	return tx->st->ops->campaigns->campaign_close(tx, id, closed_ms, result, signature);
}

enum pv_rc store_campaign_item_put(struct store_tx *tx, const struct store_campaign_item *i)
{
	if (!tx_ok(tx) || i == NULL || i->campaign_id[0] == '\0' || i->item_id[0] == '\0' ||
	    (strcmp(i->kind, "user") != 0 && strcmp(i->kind, "app") != 0) ||
	    i->principal_id[0] == '\0' || i->detail == NULL ||
	    (i->decision[0] != '\0' && !campaign_word_in(i->decision, item_decisions)))
		return PV_E_INVALID;
	WRITE_OP(tx, "campaign_item_put");
	return tx->st->ops->campaigns->item_put(tx, i);
}

enum pv_rc store_campaign_item_get(struct store_tx *tx, const char *campaign_id,
    const char *item_id, struct store_campaign_item *out)
{
	if (!tx_ok(tx) || campaign_id == NULL || item_id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->item_get(tx, campaign_id, item_id, out);
}

enum pv_rc store_campaign_items(struct store_tx *tx, const char *campaign_id,
    store_campaign_item_cb cb, void *arg)
{
	if (!tx_ok(tx) || campaign_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->items(tx, campaign_id, cb, arg);
}

enum pv_rc store_campaign_item_decide(struct store_tx *tx, const char *campaign_id,
    const char *item_id, const char *decision, const char *by, int64_t at_ms,
    const char *note)
{
	if (!tx_ok(tx) || campaign_id == NULL || item_id == NULL ||
	    !campaign_word_in(decision, item_decisions) || by == NULL || by[0] == '\0' ||
	    at_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "campaign_item_decide");
	return tx->st->ops->campaigns->item_decide(tx, campaign_id, item_id, decision, by, at_ms,
	    note);
}

enum pv_rc store_campaign_last_use(struct store_tx *tx, const char *kind, const char *id,
    int64_t *ms)
{
	if (!tx_ok(tx) || kind == NULL || (strcmp(kind, "user") != 0 && strcmp(kind, "app") != 0) ||
	    id == NULL || ms == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->last_use(tx, kind, id, ms);
}

enum pv_rc store_campaign_approver(struct store_tx *tx, const char *target,
    char by[UTIL_ID_MAX], int64_t *ms)
{
	if (!tx_ok(tx) || target == NULL || by == NULL || ms == NULL)
		return PV_E_INVALID;
	return tx->st->ops->campaigns->approver(tx, target, by, ms);
}
/* campaigns:end */
/* webauthn:begin (store_webauthn.h) */
enum pv_rc store_webauthn_cred_put(struct store_tx *tx, const struct store_webauthn_cred *c)
{
	if (!tx_ok(tx) || c == NULL || c->id[0] == '\0' || c->user_id[0] == '\0' ||
	    c->public_key == NULL || c->public_key_len == 0 || c->sign_count < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_cred_put");
	return tx->st->ops->webauthn->cred_put(tx, c);
}

enum pv_rc store_webauthn_cred_get(struct store_tx *tx, const char *id,
    struct store_webauthn_cred *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->webauthn->cred_get(tx, id, out);
}

enum pv_rc store_webauthn_cred_list(struct store_tx *tx, const char *user_id,
    store_webauthn_cred_cb cb, void *arg)
{
	if (!tx_ok(tx) || user_id == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->webauthn->cred_list(tx, user_id, cb, arg);
}

enum pv_rc store_webauthn_cred_use(struct store_tx *tx, const char *id, int64_t sign_count,
    int64_t now_ms)
{
	if (!tx_ok(tx) || id == NULL || sign_count < 0 || now_ms <= 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_cred_use");
	return tx->st->ops->webauthn->cred_use(tx, id, sign_count, now_ms);
}

enum pv_rc store_webauthn_cred_delete(struct store_tx *tx, const char *user_id, const char *id)
{
	if (!tx_ok(tx) || user_id == NULL || id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_cred_delete");
	return access_changed(tx, tx->st->ops->webauthn->cred_delete(tx, user_id, id));
}

enum pv_rc store_webauthn_cred_delete_user(struct store_tx *tx, const char *user_id, size_t *n)
{
	if (!tx_ok(tx) || user_id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_cred_delete_user");
	return access_changed(tx, tx->st->ops->webauthn->cred_delete_user(tx, user_id, n));
}

enum pv_rc store_webauthn_handle_get(struct store_tx *tx, const char *user_id,
    char out[STORE_WEBAUTHN_HANDLE_MAX])
{
	if (!tx_ok(tx) || user_id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->webauthn->handle_get(tx, user_id, out);
}

enum pv_rc store_webauthn_handle_put(struct store_tx *tx, const char *user_id,
    const char *handle)
{
	if (!tx_ok(tx) || user_id == NULL || handle == NULL || handle[0] == '\0' ||
	    strlen(handle) >= STORE_WEBAUTHN_HANDLE_MAX)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_handle_put");
	return tx->st->ops->webauthn->handle_put(tx, user_id, handle);
}

enum pv_rc store_webauthn_challenge_put(struct store_tx *tx,
    const struct store_webauthn_challenge *c, int64_t now_ms)
{
	if (!tx_ok(tx) || c == NULL || c->challenge[0] == '\0' || c->kind[0] == '\0' ||
	    c->user_id[0] == '\0')
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_challenge_put");
	return tx->st->ops->webauthn->challenge_put(tx, c, now_ms);
}

enum pv_rc store_webauthn_challenge_take(struct store_tx *tx, const char *challenge,
    int64_t now_ms, struct store_webauthn_challenge *out)
{
	if (!tx_ok(tx) || challenge == NULL || out == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "webauthn_challenge_take");
	return tx->st->ops->webauthn->challenge_take(tx, challenge, now_ms, out);
}

enum pv_rc store_session_set_mfa_method(struct store_tx *tx, const char *session_id,
    const char *method)
{
	if (!tx_ok(tx) || session_id == NULL || method == NULL || strlen(method) >= 16)
		return PV_E_INVALID;
	WRITE_OP(tx, "session_set_mfa_method");
	return access_changed(tx, tx->st->ops->webauthn->session_set_mfa_method(tx, session_id,
	    method));
}
/* webauthn:end */

/* oidc:begin (store_oidc.h) */
static bool oidc_text_ok(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) < max;
}

enum pv_rc store_oidc_pending_put(struct store_tx *tx, const struct store_oidc_pending *p,
    int64_t now_ms)
{
	if (!tx_ok(tx) || p == NULL || !oidc_text_ok(p->key, sizeof(p->key)) ||
	    !oidc_text_ok(p->kind, sizeof(p->kind)) || strlen(p->data) >= sizeof(p->data))
		return PV_E_INVALID;
	WRITE_OP(tx, "oidc_pending_put");
	return tx->st->ops->oidc->pending_put(tx, p, now_ms);
}

enum pv_rc store_oidc_pending_take(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out)
{
	if (!tx_ok(tx) || key == NULL || kind == NULL || out == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "oidc_pending_take");
	return tx->st->ops->oidc->pending_take(tx, key, kind, now_ms, out);
}

enum pv_rc store_oidc_pending_get(struct store_tx *tx, const char *key, const char *kind,
    int64_t now_ms, struct store_oidc_pending *out)
{
	if (!tx_ok(tx) || key == NULL || kind == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->oidc->pending_get(tx, key, kind, now_ms, out);
}

enum pv_rc store_oidc_identity_get(struct store_tx *tx, const char *iss, const char *sub,
    char user_id[UTIL_ID_MAX])
{
	if (!tx_ok(tx) || iss == NULL || sub == NULL || user_id == NULL)
		return PV_E_INVALID;
	return tx->st->ops->oidc->identity_get(tx, iss, sub, user_id);
}

enum pv_rc store_oidc_identity_put(struct store_tx *tx, const char *iss, const char *sub,
    const char *user_id, int64_t now_ms)
{
	if (!tx_ok(tx) || !oidc_text_ok(iss, STORE_OIDC_ISS_MAX) ||
	    !oidc_text_ok(sub, STORE_OIDC_SUB_MAX) || !oidc_text_ok(user_id, UTIL_ID_MAX))
		return PV_E_INVALID;
	WRITE_OP(tx, "oidc_identity_put");
	return tx->st->ops->oidc->identity_put(tx, iss, sub, user_id, now_ms);
}

enum pv_rc store_oidc_session_put(struct store_tx *tx, const char *session_id,
    const char *iss, const char *sid)
{
	if (!tx_ok(tx) || !oidc_text_ok(session_id, UTIL_ID_MAX) ||
	    !oidc_text_ok(iss, STORE_OIDC_ISS_MAX) || !oidc_text_ok(sid, STORE_OIDC_SUB_MAX))
		return PV_E_INVALID;
	WRITE_OP(tx, "oidc_session_put");
	return tx->st->ops->oidc->session_put(tx, session_id, iss, sid);
}

enum pv_rc store_oidc_session_by_sid(struct store_tx *tx, const char *iss, const char *sid,
    store_oidc_session_cb cb, void *arg)
{
	if (!tx_ok(tx) || iss == NULL || sid == NULL || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->oidc->session_by_sid(tx, iss, sid, cb, arg);
}
/* oidc:end */
/* breakglass:begin (store_breakglass.h) */
enum pv_rc store_breakglass_put(struct store_tx *tx, const struct store_breakglass *g)
{
	if (!tx_ok(tx) || g == NULL || g->id[0] == '\0' || g->user_id[0] == '\0' ||
	    strlen(g->subject_ref) != STORE_SUBJECT_REF_LEN || g->review_id[0] == '\0' ||
	    g->justification == NULL || strlen(g->justification) > STORE_BG_JUSTIFICATION_MAX)
		return PV_E_INVALID;
	WRITE_OP(tx, "breakglass_put");
	return access_changed(tx, tx->st->ops->breakglass->bg_put(tx, g));
}

enum pv_rc store_breakglass_get(struct store_tx *tx, const char *id, struct store_breakglass *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->breakglass->bg_get(tx, id, out);
}

enum pv_rc store_breakglass_review_get(struct store_tx *tx, const char *review_id,
    struct store_breakglass *out)
{
	if (!tx_ok(tx) || review_id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->breakglass->bg_review_get(tx, review_id, out);
}

enum pv_rc store_breakglass_active(struct store_tx *tx, const char *user_id, int64_t now_ms,
    struct store_breakglass *out)
{
	if (!tx_ok(tx) || user_id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->breakglass->bg_active(tx, user_id, now_ms, out);
}

enum pv_rc store_breakglass_list(struct store_tx *tx, const char *user_id,
    const char *review_status, store_breakglass_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->breakglass->bg_list(tx, user_id, review_status, cb, arg);
}

enum pv_rc store_breakglass_end(struct store_tx *tx, const char *id, int64_t ended_ms,
    const char *end_reason)
{
	if (!tx_ok(tx) || id == NULL || end_reason == NULL ||
	    (strcmp(end_reason, "ended") != 0 && strcmp(end_reason, "expired") != 0))
		return PV_E_INVALID;
	WRITE_OP(tx, "breakglass_end");
	return access_changed(tx, tx->st->ops->breakglass->bg_end(tx, id, ended_ms, end_reason));
}

enum pv_rc store_breakglass_review_decide(struct store_tx *tx, const char *review_id,
    const char *status, const char *by, int64_t at_ms, const char *note)
{
	if (!tx_ok(tx) || review_id == NULL || status == NULL || by == NULL ||
	    (strcmp(status, "appropriate") != 0 && strcmp(status, "inappropriate") != 0))
		return PV_E_INVALID;
	WRITE_OP(tx, "breakglass_review_decide");
	return tx->st->ops->breakglass->bg_review_decide(tx, review_id, status, by, at_ms,
	    note != NULL ? note : "");
}

enum pv_rc store_breakglass_overdue_mark(struct store_tx *tx, const char *review_id)
{
	if (!tx_ok(tx) || review_id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "breakglass_overdue_mark");
	return tx->st->ops->breakglass->bg_overdue_mark(tx, review_id);
}
/* breakglass:end */
/* exports:begin (de-identified exports, store_exports.h) */
enum pv_rc store_export_put(struct store_tx *tx, const struct store_export *e)
{
	if (!tx_ok(tx) || e == NULL || e->id[0] == '\0' || e->collection[0] == '\0' ||
	    e->state[0] == '\0' || e->rows < 0 || e->chunks < 0 || e->bytes < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "export_put");
	return tx->st->ops->exports->export_put(tx, e);
}

enum pv_rc store_export_get(struct store_tx *tx, const char *id, struct store_export *out)
{
	if (!tx_ok(tx) || id == NULL || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->exports->export_get(tx, id, out);
}

enum pv_rc store_export_update(struct store_tx *tx, const struct store_export *e)
{
	if (!tx_ok(tx) || e == NULL || e->id[0] == '\0' || e->state[0] == '\0' || e->rows < 0 ||
	    e->chunks < 0 || e->bytes < 0)
		return PV_E_INVALID;
	WRITE_OP(tx, "export_update");
	return tx->st->ops->exports->export_update(tx, e);
}

enum pv_rc store_export_list(struct store_tx *tx, store_export_cb cb, void *arg)
{
	if (!tx_ok(tx) || cb == NULL)
		return PV_E_INVALID;
	return tx->st->ops->exports->export_list(tx, cb, arg);
}

enum pv_rc store_export_chunk_put(struct store_tx *tx, const struct store_export_chunk *c)
{
	if (!tx_ok(tx) || c == NULL || c->export_id[0] == '\0' || c->idx < 0 ||
	    c->kek_name[0] == '\0' || c->wrapped_dek == NULL || c->ciphertext == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "export_chunk_put");
	return tx->st->ops->exports->export_chunk_put(tx, c);
}

enum pv_rc store_export_chunk_get(struct store_tx *tx, const char *export_id, int64_t idx,
    struct store_export_chunk *out)
{
	if (!tx_ok(tx) || export_id == NULL || idx < 0 || out == NULL)
		return PV_E_INVALID;
	return tx->st->ops->exports->export_chunk_get(tx, export_id, idx, out);
}

enum pv_rc store_export_chunks_delete(struct store_tx *tx, const char *export_id, int64_t *n)
{
	if (!tx_ok(tx) || export_id == NULL)
		return PV_E_INVALID;
	WRITE_OP(tx, "export_chunks_delete");
	return tx->st->ops->exports->export_chunks_delete(tx, export_id, n);
}
/* exports:end */
