/*
 * directory/officers.c: the security officers, the approvers of dual
 * control (API.md "phivault officer"; docs/access-control.md "Security
 * officers"). The built-in role security_officer (access.approve,
 * records.shred) is given and taken only here, and only with the seal's
 * authority: the key file's contents or K Shamir shares that rebuild the
 * unseal key of this vault (keys_seal_authority: the candidate must open
 * the wrapped root key, compared in constant time with the unsealed one),
 * as Vault's generate-root needs unseal keys. So neither an administrator
 * nor a stolen administrator session can mint an approver; every other
 * path refuses the role (officer_reserved, dualctl.c).
 *
 * Invariants:
 *  - a wrong or missing authority changes nothing, is recorded
 *    (officer.add / officer.remove denied, reason seal_authority_required)
 *    and counts one failure in the lockout table under the key
 *    "~seal-authority" ([auth] lockout_threshold / window / duration, one
 *    counter for the whole vault): guessing is locked out like passwords;
 *  - nothing here logs or records a key, a share or a password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "directory/directory_int.h"
#include "keys/keys.h"

#define OFFICER_ROLE "security_officer"
#define SEAL_LOCK_KEY "~seal-authority"
#define SEAL_LOCK_KIND "password"

/* ---- the authority, rate limited ---- */

struct fail_job {
	const struct pv_config *cfg;
	int64_t now;
};

static enum pv_rc
fail_fn(struct store_tx *tx, void *arg)
{
	struct fail_job *j = arg;
	struct store_lockout sl;
	struct authn_lockout l;
	enum pv_rc rc;

	if ((rc = store_lockout_get(tx, SEAL_LOCK_KEY, SEAL_LOCK_KIND, &sl)) != PV_OK)
		return rc;
	l.failures = sl.failures;
	l.window_start_ms = sl.window_start_ms;
	l.locked_until_ms = sl.locked_until_ms;
	(void)authn_lockout_fail(&l, j->now, j->cfg->lockout_threshold,
	    j->cfg->lockout_window_s, j->cfg->lockout_duration_s);
	sl.failures = l.failures;
	sl.window_start_ms = l.window_start_ms;
	sl.locked_until_ms = l.locked_until_ms;
	return store_lockout_put(tx, SEAL_LOCK_KEY, SEAL_LOCK_KIND, &sl);
}

/* After the refusal's commit (the failure counted): the refusal, or
 * PV_E_AUDIT when it is not on the record. */
static enum pv_rc
fail_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	(void)s;
	(void)arg;
	if (rc != PV_OK)
		return PV_E_AUDIT;
	return directory_fail(res, PV_E_SEAL_AUTHORITY, "The key file or the unseal shares are "
	    "missing or wrong");
}

static enum pv_rc
authority(struct directory *s, const struct pv_actor *actor, const char *action,
    const char *resource, const struct directory_officer_auth *au, struct directory_result *res)
{
	struct directory_write w = { fail_fn, NULL, NULL, fail_finish, COMMIT_REQUEST };
	struct store_lockout sl;
	struct authn_lockout l;
	struct audit_event ev;
	struct fail_job j = { s->cfg, util_now_ms() }, *job;
	int retry = 0;
	enum pv_rc rc;

	if (s->keys == NULL)
		return directory_fail(res, PV_E_STATE, "officers cannot be changed here");
	STORE_READ(s->st, rc, store_lockout_get(tx, SEAL_LOCK_KEY, SEAL_LOCK_KIND, &sl));
	if (rc != PV_OK)
		return rc;
	l.failures = sl.failures;
	l.window_start_ms = sl.window_start_ms;
	l.locked_until_ms = sl.locked_until_ms;
	if (authn_lockout_check(&l, j.now, &retry) != PV_OK) {
		res->retry_after_s = retry;
		return directory_fail(res, PV_E_LOCKED, "Too many wrong attempts at the seal's "
		    "authority; try again later");
	}
	if (au->pin != NULL)
		rc = keys_seal_authority_pin(s->keys, au->pin);
	else
		rc = keys_seal_authority(s->keys, au->key_file, au->shares, au->nshares);
	if (rc == PV_OK)
		return PV_OK;
	if (rc == PV_E_STATE)   /* the authority of another seal than this vault's */
		rc = PV_E_SEAL_AUTHORITY;
	if (rc != PV_E_SEAL_AUTHORITY)
		return rc;
	directory_event_init(&ev, actor, action, resource);
	ev.outcome = AUDIT_DENIED;
	ev.reason = "seal_authority_required";
	if ((job = malloc(sizeof(*job))) == NULL)
		return PV_E_AUDIT;
	*job = j;
	w.job = job;
	/* with res->done, the refusal is answered from the completion */
	rc = directory_write(s, &ev, &w, res);
	return rc == PV_OK ? PV_E_SEAL_AUTHORITY : rc;
}

/* ---- the role ---- */

struct role_list {
	size_t n;
	char v[AUTHN_ROLES_MAX + 1][STORE_ROLE_MAX];
	const char *p[AUTHN_ROLES_MAX + 1];
};

/* The job owns its list of names (l). */
struct roles_job {
	char id[UTIL_ID_MAX];
	struct role_list *l;
	size_t n;
};

static enum pv_rc
roles_fn(struct store_tx *tx, void *arg)
{
	struct roles_job *j = arg;

	return store_user_roles_set(tx, j->id, j->l->p, j->n);
}

static void
roles_free(void *arg)
{
	struct roles_job *j = arg;

	if (j != NULL)
		free(j->l);
	free(j);
}

static enum pv_rc
roles_finish(struct directory *s, enum pv_rc rc, void *arg, struct directory_result *res)
{
	(void)arg;
	(void)res;
	if (rc == PV_OK)
		directory_changed(s);
	return rc;
}


static int
on_role(const char *name, void *arg)
{
	struct role_list *l = arg;

	if (l->n < AUTHN_ROLES_MAX) {
		util_strlcpy(l->v[l->n], name, STORE_ROLE_MAX);
		l->p[l->n] = l->v[l->n];
		l->n++;
	}
	return 0;
}

/* Set (add) or drop the officer role of user id, with its entry (with
 * res->done: answered from the completion). */
static enum pv_rc
role_change(struct directory *s, const struct pv_actor *actor, const char *action,
    const char *id, bool add, bool *changed, struct directory_result *res)
{
	struct directory_write w = { roles_fn, NULL, roles_free, roles_finish, COMMIT_REQUEST };
	struct role_list *l = calloc(1, sizeof(*l));
	struct roles_job *j;
	struct audit_event ev;
	char r[UTIL_ID_MAX + 8];
	size_t i, k = 0;
	bool had = false;
	enum pv_rc rc;

	if (l == NULL)
		return PV_E_NOMEM;
	STORE_READ(s->st, rc, store_user_roles_get(tx, id, on_role, l));
	if (rc != PV_OK)
		goto out;
	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], OFFICER_ROLE) == 0) {
			had = true;
			continue;
		}
		l->p[k++] = l->v[i];
	}
	*changed = add != had;
	if (!*changed) {
		rc = PV_OK;
		goto out;
	}
	if (add)
		l->p[k++] = OFFICER_ROLE;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = PV_E_NOMEM;
		goto out;
	}
	util_strlcpy(j->id, id, sizeof(j->id));
	j->l = l;   /* the job's now */
	l = NULL;
	j->n = k;
	w.job = j;
	snprintf(r, sizeof(r), "users/%s", id);
	directory_event_init(&ev, actor, action, r);
	ev.detail = add ? "{\"role\":\"security_officer\",\"promoted\":true}" :
	    "{\"role\":\"security_officer\"}";
	rc = directory_write(s, &ev, &w, res);
out:
	free(l);
	return rc;
}

enum pv_rc
directory_officer_add(struct directory *s, const struct pv_actor *actor, const char *username,
    const struct directory_officer_auth *au, struct directory_result *res)
{
	static const char *const roles[] = { OFFICER_ROLE };
	struct directory_user_spec sp;
	struct store_user u;
	char key[STORE_USERNAME_MAX];
	bool changed = false;
	enum pv_rc rc;

	directory_result_reset(res);
	if (username == NULL || !authn_username_key(username, key))
		return directory_fail(res, PV_E_INVALID,
		    "username must be 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	if ((rc = authority(s, actor, "officer.add", "sys/officers", au, res)) != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_user_get_by_username(tx, key, &u));
	if (rc == PV_OK) {
		/* promote: the user keeps its password; no one-time password */
		util_strlcpy(res->id, u.id, sizeof(res->id));
		util_strlcpy(res->username, u.username, sizeof(res->username));
		store_user_clear(&u);
		return role_change(s, actor, "officer.add", res->id, true, &changed, res);
	}
	if (rc != PV_E_NOTFOUND)
		return rc;
	memset(&sp, 0, sizeof(sp));
	sp.username = key;
	sp.set_roles = true;
	sp.roles = roles;
	sp.nroles = 1;
	return directory_user_create_unchecked(s, actor, &sp, "officer", res);
}

enum pv_rc
directory_officer_remove(struct directory *s, const struct pv_actor *actor,
    const char *username, const struct directory_officer_auth *au,
    struct directory_result *res)
{
	struct store_user u;
	char key[STORE_USERNAME_MAX];
	bool changed = false;
	enum pv_rc rc;

	directory_result_reset(res);
	if (username == NULL || !authn_username_key(username, key))
		return directory_fail(res, PV_E_NOTFOUND, "No such officer");
	if ((rc = authority(s, actor, "officer.remove", "sys/officers", au, res)) != PV_OK)
		return rc;
	STORE_READ(s->st, rc, store_user_get_by_username(tx, key, &u));
	if (rc == PV_E_NOTFOUND)
		return directory_fail(res, rc, "No such officer");
	if (rc != PV_OK)
		return rc;
	util_strlcpy(res->id, u.id, sizeof(res->id));
	util_strlcpy(res->username, u.username, sizeof(res->username));
	store_user_clear(&u);
	if ((rc = role_change(s, actor, "officer.remove", res->id, false, &changed, res)) != PV_OK)
		return rc;   /* PV_PENDING: changed, answered from the completion */
	if (!changed)
		return directory_fail(res, PV_E_NOTFOUND, "No such officer");
	return PV_OK;
}

struct officer_list {
	struct directory_list *l;
};

static int
on_user(const struct store_user *u, void *arg)
{
	struct directory_list *l = arg;
	struct role_list *rl = calloc(1, sizeof(*rl));
	size_t i;
	bool officer = false;

	if (rl == NULL || store_user_roles_get(l->tx, u->id, on_role, rl) != PV_OK) {
		free(rl);
		return directory_list_add(l, NULL);
	}
	for (i = 0; i < rl->n; i++)
		officer = officer || strcmp(rl->v[i], OFFICER_ROLE) == 0;
	free(rl);
	if (!officer)
		return 0;
	return directory_list_add(l, json_pack("{s:s, s:s, s:s}", "user_id", u->id, "username",
	    u->username, "status", u->disabled ? "disabled" : "active"));
}

enum pv_rc
directory_officer_list(struct directory *s, const struct pv_actor *actor, json_t **out,
    struct directory_result *res)
{
	struct directory_list a;
	enum pv_rc rc;

	(void)actor;
	directory_result_reset(res);
	if ((rc = directory_list_begin(s, &a)) != PV_OK)
		return rc;
	rc = store_user_list(a.tx, on_user, &a);
	return directory_list_end(&a, rc, out);
}
