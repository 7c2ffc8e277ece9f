/*
 * store.c: the public store_* entry points. Each one
 *   1. checks the fault-injection hook (only #ifdef PV_FAULT_INJECTION; op
 *      name = the function name without "store_", taken from __func__ so it
 *      cannot drift from the header),
 *   2. rejects NULL pointer arguments with PV_E_INVALID,
 *   3. dispatches through st->ops to the backend (store_int.h).
 * Only functions that return enum pv_rc can be made to fail; store_close,
 * store_schema_version, store_tx_rollback and store_tx_rollback_savepoint
 * always run (they are the cleanup path of a failure).
 *
 * Fault state (test builds):
 *  - a table of armed ops {name, n}: n > 0 counts down and fires once when it
 *    reaches the call it names; n = -1 fires on every call. Guarded by a
 *    mutex; an atomic count of armed entries keeps the unarmed path to one
 *    load.
 *  - PHIVAULT_FAULT_FILE, read from the environment once (first check): if
 *    set, every call re-reads that file and fails if a line equals the op.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static enum pv_rc fault_check(const char *op)
{
	bool hit = false;

	if (atomic_load_explicit(&fault_armed, memory_order_acquire) > 0)
		hit = fault_table_hit(op);
	pthread_once(&fault_env_once, fault_env_init);
	if (!hit && fault_file != NULL)
		hit = fault_file_hit(fault_file, op);
	if (hit) {
		log_warn("store: injected fault op=%s", op);
		return PV_E_IO;
	}
	return PV_OK;
}

/* __func__ is "store_<op>". */
#define STORE_FAULT()                                                          \
	do {                                                                   \
		enum pv_rc frc_ = fault_check(__func__ + sizeof("store_") - 1); \
		if (frc_ != PV_OK)                                             \
			return frc_;                                           \
	} while (0)

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
#define STORE_FAULT() do { } while (0)

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

static const struct backend backends[] = {
	{ "sqlite", open_sqlite },
	{ "postgres", NULL },   /* postgres.c: store_pg_open(url, read_only, out) */
};

enum pv_rc store_open(const char *datadir, const char *backend, const char *url,
    bool read_only, struct store **out)
{
	STORE_FAULT();
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
		st->ops->close(st);
}

int store_schema_version(struct store *st)
{
	return st != NULL ? st->ops->schema_version(st) : 0;
}

/* ------------------------------------------------------------------ */
/* transactions                                                        */
/* ------------------------------------------------------------------ */

enum pv_rc store_tx_begin(struct store *st)
{
	STORE_FAULT();
	if (st == NULL)
		return PV_E_INVALID;
	return st->ops->tx_begin(st);
}

enum pv_rc store_tx_commit(struct store *st)
{
	STORE_FAULT();
	if (st == NULL)
		return PV_E_INVALID;
	return st->ops->tx_commit(st);
}

void store_tx_rollback(struct store *st)
{
	if (st != NULL)
		st->ops->tx_rollback(st);
}

enum pv_rc store_tx_savepoint(struct store *st)
{
	STORE_FAULT();
	if (st == NULL)
		return PV_E_INVALID;
	return st->ops->tx_savepoint(st);
}

enum pv_rc store_tx_release(struct store *st)
{
	STORE_FAULT();
	if (st == NULL)
		return PV_E_INVALID;
	return st->ops->tx_release(st);
}

void store_tx_rollback_savepoint(struct store *st)
{
	if (st != NULL)
		st->ops->tx_rollback_savepoint(st);
}

/* ------------------------------------------------------------------ */
/* meta                                                                */
/* ------------------------------------------------------------------ */

enum pv_rc store_meta_get(struct store *st, const char *key, uint8_t **val, size_t *len)
{
	STORE_FAULT();
	if (st == NULL || key == NULL || val == NULL || len == NULL)
		return PV_E_INVALID;
	return st->ops->meta_get(st, key, val, len);
}

enum pv_rc store_meta_put(struct store *st, const char *key, const uint8_t *val, size_t len)
{
	STORE_FAULT();
	if (st == NULL || key == NULL || (val == NULL && len > 0))
		return PV_E_INVALID;
	return st->ops->meta_put(st, key, val, len);
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
	return s == STORE_KEK_ACTIVE || s == STORE_KEK_RETIRED || s == STORE_KEK_REVOKED;
}

enum pv_rc store_kek_put(struct store *st, const struct store_kek *k)
{
	STORE_FAULT();
	if (st == NULL || k == NULL || !kek_name_ok(k->name) || !kek_state_ok(k->state) ||
	    (k->wrapped == NULL && k->wrapped_len > 0))
		return PV_E_INVALID;
	return st->ops->kek_put(st, k);
}

enum pv_rc store_kek_get(struct store *st, const char *name, uint32_t version,
    struct store_kek *out)
{
	STORE_FAULT();
	if (st == NULL || out == NULL || !kek_name_ok(name))
		return PV_E_INVALID;
	return st->ops->kek_get(st, name, version, out);
}

enum pv_rc store_kek_latest(struct store *st, const char *name, struct store_kek *out)
{
	STORE_FAULT();
	if (st == NULL || out == NULL || !kek_name_ok(name))
		return PV_E_INVALID;
	return st->ops->kek_latest(st, name, out);
}

enum pv_rc store_kek_set_state(struct store *st, const char *name, uint32_t version,
    enum store_kek_state state)
{
	STORE_FAULT();
	if (st == NULL || !kek_name_ok(name) || !kek_state_ok(state))
		return PV_E_INVALID;
	return st->ops->kek_set_state(st, name, version, state);
}

enum pv_rc store_kek_scan(struct store *st, store_kek_cb cb, void *arg)
{
	STORE_FAULT();
	if (st == NULL || cb == NULL)
		return PV_E_INVALID;
	return st->ops->kek_scan(st, cb, arg);
}

/* ------------------------------------------------------------------ */
/* audit trail                                                         */
/* ------------------------------------------------------------------ */

enum pv_rc store_audit_append(struct store *st, const struct store_audit_row *row)
{
	STORE_FAULT();
	if (st == NULL || row == NULL || row->time == NULL || row->actor == NULL ||
	    row->action == NULL || row->resource == NULL || row->purpose_of_use == NULL ||
	    row->outcome == NULL || row->reason == NULL || row->detail == NULL ||
	    row->prev_hash == NULL || row->hash == NULL)
		return PV_E_INVALID;
	return st->ops->audit_append(st, row);
}

enum pv_rc store_audit_head(struct store *st, int64_t *seq, char hash[65])
{
	STORE_FAULT();
	if (st == NULL || seq == NULL || hash == NULL)
		return PV_E_INVALID;
	return st->ops->audit_head(st, seq, hash);
}

enum pv_rc store_audit_scan(struct store *st, const struct store_audit_filter *f,
    store_audit_cb cb, void *arg)
{
	static const struct store_audit_filter all;

	STORE_FAULT();
	if (st == NULL || cb == NULL)
		return PV_E_INVALID;
	return st->ops->audit_scan(st, f != NULL ? f : &all, cb, arg);
}

enum pv_rc store_checkpoint_put(struct store *st, const struct store_checkpoint *cp)
{
	STORE_FAULT();
	if (st == NULL || cp == NULL || cp->hash == NULL || cp->time == NULL ||
	    cp->signature == NULL || cp->key_id == NULL)
		return PV_E_INVALID;
	return st->ops->checkpoint_put(st, cp);
}

enum pv_rc store_checkpoint_scan(struct store *st, store_checkpoint_cb cb, void *arg)
{
	STORE_FAULT();
	if (st == NULL || cb == NULL)
		return PV_E_INVALID;
	return st->ops->checkpoint_scan(st, cb, arg);
}

enum pv_rc store_checkpoint_count(struct store *st, int64_t *n)
{
	STORE_FAULT();
	if (st == NULL || n == NULL)
		return PV_E_INVALID;
	return st->ops->checkpoint_count(st, n);
}

/* ---- identity ---- */
/* identity:begin (added by the identity work) */
/* identity:end */

/* ---- vault ---- */
/* vault:begin (added by the records work) */
/* vault:end */
