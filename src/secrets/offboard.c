/*
 * secrets/offboard.c: the secrets' part of the destruction at contract end
 * (docs/governance.md "Return and destruction at contract end"). Offline,
 * in the offboarding's one transaction: every live version of every path
 * destroyed (DEK and ciphertext gone, as POST .../versions/{v}/destroy
 * does); then the verification pass tries to open every version left with
 * a keyring of its own. Paths and counts only: never a value.
 */
#include <stdlib.h>
#include <string.h>

#include "secrets/secrets_int.h"

struct heads {
	char (*path)[STORE_SECRET_PATH_MAX];
	uint32_t *current;
	size_t n, cap;
	bool nomem;
};

static int
each_head(const struct store_secret *s, void *arg)
{
	struct heads *x = arg;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		void *np = realloc(x->path, cap * sizeof(*x->path));
		void *nc;

		if (np == NULL) {
			x->nomem = true;
			return 1;
		}
		x->path = np;
		if ((nc = realloc(x->current, cap * sizeof(*x->current))) == NULL) {
			x->nomem = true;
			return 1;
		}
		x->current = nc;
		x->cap = cap;
	}
	util_strlcpy(x->path[x->n], s->path, STORE_SECRET_PATH_MAX);
	x->current[x->n++] = s->current_version;
	return 0;
}

static enum pv_rc
heads(struct store_tx *tx, struct heads *x)
{
	enum pv_rc rc;

	memset(x, 0, sizeof(*x));
	rc = store_secret_list(tx, "", each_head, x);
	if (rc == PV_OK && x->nomem)
		rc = PV_E_NOMEM;
	return rc;
}

static void
heads_free(struct heads *x)
{
	free(x->path);
	free(x->current);
}

enum pv_rc
secrets_offboard_destroy_tx(struct store_tx *tx, int64_t now_ms, int64_t *destroyed)
{
	struct heads x;
	int64_t total = 0;
	enum pv_rc rc;

	if ((rc = heads(tx, &x)) != PV_OK)
		goto out;
	for (size_t i = 0; rc == PV_OK && i < x.n; i++) {
		size_t n = 0;

		/* below current + 1: every version of the path */
		rc = store_secret_versions_prune(tx, x.path[i], x.current[i] + 1, now_ms, &n);
		total += (int64_t)n;
	}
out:
	heads_free(&x);
	if (rc == PV_OK && destroyed != NULL)
		*destroyed = total;
	return rc;
}

enum pv_rc
secrets_offboard_verify(struct store *st, struct keys *k, int64_t *tried, int64_t *opened)
{
	struct heads x;
	int64_t t = 0, o = 0;
	enum pv_rc rc;

	STORE_READ(st, rc, heads(tx, &x));
	for (size_t i = 0; rc == PV_OK && i < x.n; i++) {
		for (uint32_t v = 1; rc == PV_OK && v <= x.current[i]; v++) {
			struct store_secret_version sv;
			struct pv_secret *val = NULL;

			memset(&sv, 0, sizeof(sv));
			STORE_READ(st, rc, store_secret_version_get(tx, x.path[i], v, &sv));
			if (rc == PV_E_NOTFOUND) {
				rc = PV_OK;   /* pruned long ago: nothing to open */
				continue;
			}
			if (rc != PV_OK)
				break;
			t++;
			if (secrets_open(k, &sv, &val) == PV_OK)
				o++;
			crypto_secret_free(val);
			store_secret_version_clear(&sv);
		}
	}
	heads_free(&x);
	if (rc == PV_OK) {
		*tried = t;
		*opened = o;
	}
	return rc;
}
