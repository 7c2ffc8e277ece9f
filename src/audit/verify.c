/*
 * verify.c: prove from the store alone that the trail was not edited.
 *
 * Pass 1 loads every checkpoint (seq, hash, signature), sorted by seq.
 * Pass 2 walks every entry in seq order and checks, for entry n:
 *   1. seq == previous seq + 1, starting at 1   (a deleted or inserted row)
 *   2. prev_hash == hash of entry n-1 (genesis: 64 '0')
 *   3. hash == hex(SHA-256(prev_hash raw || canonical(entry)))   (an edited row)
 *   4. each checkpoint at n: its hash equals entry n's hash and its Ed25519
 *      signature over audit_checkpoint_message(n, hash) verifies with the
 *      audit public key. This catches an attacker who edits a row and
 *      recomputes every later hash: without the signing key the checkpoints
 *      no longer match.
 * After the walk, a checkpoint beyond the last entry means the tail was cut.
 *
 * What it cannot catch (documented in docs/internals/audit.md): entries after
 * the last checkpoint rewritten or dropped consistently, by someone with
 * write access to the database.
 *
 * The first failure stops the walk and names the first bad seq. Reasons carry
 * seq numbers only, never entry contents (they may be shown to operators and
 * copied into tickets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "crypto/crypto.h"

struct verify_cp {
	int64_t seq;
	char *hash;
	char *signature;
};

struct verify_ctx {
	struct store *st;
	const uint8_t *pub_arg;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	bool have_pub;
	enum pv_rc rc;                  /* a read/alloc failure, not tampering */

	struct verify_cp *cps;
	size_t ncps, cap, next;

	int64_t last_seq;
	char last_hash[65];
	int64_t entries, checkpoints;

	bool bad;
	int64_t bad_seq;
	char reason[160];
};

static int fail_at(struct verify_ctx *c, int64_t seq, const char *reason)
{
	c->bad = true;
	c->bad_seq = seq > 0 ? seq : 1;
	util_strlcpy(c->reason, reason, sizeof c->reason);
	return 1;
}

static int collect_cp(const struct store_checkpoint *cp, void *arg)
{
	struct verify_ctx *c = arg;
	struct verify_cp *v;

	if (c->ncps == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 16;
		struct verify_cp *n = realloc(c->cps, ncap * sizeof *n);

		if (!n) {
			c->rc = PV_E_NOMEM;
			return 1;
		}
		c->cps = n;
		c->cap = ncap;
	}
	v = &c->cps[c->ncps];
	v->seq = cp->seq;
	v->hash = strdup(cp->hash ? cp->hash : "");
	v->signature = strdup(cp->signature ? cp->signature : "");
	if (!v->hash || !v->signature) {
		free(v->hash);
		free(v->signature);
		c->rc = PV_E_NOMEM;
		return 1;
	}
	c->ncps++;
	return 0;
}

static int cp_cmp(const void *x, const void *y)
{
	const struct verify_cp *a = x, *b = y;

	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* 0: signature good; 1: stop (bad or error recorded in c). */
static int check_checkpoint(struct verify_ctx *c, const struct verify_cp *cp,
    const char *entry_hash)
{
	enum pv_rc rc;
	char msg[128], reason[160];
	uint8_t sig[CRYPTO_ED25519_SIG_LEN + 4];
	size_t siglen = sizeof sig, mlen;

	if (strcmp(cp->hash, entry_hash) != 0) {
		snprintf(reason, sizeof reason,
		    "entries up to seq %lld do not match the signed checkpoint", (long long)cp->seq);
		return fail_at(c, cp->seq, reason);
	}
	if (!c->have_pub) {
		if (c->pub_arg) {
			memcpy(c->pub, c->pub_arg, sizeof c->pub);
		} else {
			rc = keys_audit_public_key(c->st, c->pub);
			if (rc != PV_OK) {
				c->rc = rc;
				return 1;
			}
		}
		c->have_pub = true;
	}
	snprintf(reason, sizeof reason, "checkpoint signature invalid at seq %lld",
	    (long long)cp->seq);
	if (util_b64_decode(cp->signature, sig, &siglen) != 0 || siglen != CRYPTO_ED25519_SIG_LEN)
		return fail_at(c, cp->seq, reason);
	mlen = audit_checkpoint_message(cp->seq, cp->hash, msg, sizeof msg);
	if (mlen == 0)
		return fail_at(c, cp->seq, reason);
	rc = crypto_ed25519_verify(c->pub, (const uint8_t *)msg, mlen, sig);
	if (rc == PV_E_INTEGRITY)
		return fail_at(c, cp->seq, reason);
	if (rc != PV_OK) {
		c->rc = rc;
		return 1;
	}
	c->checkpoints++;
	return 0;
}

static int check_entry(const struct store_audit_row *row, void *arg)
{
	struct verify_ctx *c = arg;
	int64_t expected = c->last_seq + 1;
	char hash[65], reason[160];
	enum pv_rc rc;

	if (row->seq != expected) {
		snprintf(reason, sizeof reason, "sequence broken at seq %lld (next entry has seq %lld)",
		    (long long)expected, (long long)row->seq);
		return fail_at(c, expected, reason);
	}
	if (!row->prev_hash || strcmp(row->prev_hash, c->last_hash) != 0) {
		snprintf(reason, sizeof reason,
		    "prev_hash at seq %lld does not match the hash of the entry before it",
		    (long long)row->seq);
		return fail_at(c, row->seq, reason);
	}
	rc = audit_chain_hash(row, hash);
	if (rc == PV_E_NOMEM || rc == PV_E_CRYPTO) {
		c->rc = rc;
		return 1;
	}
	if (rc != PV_OK || !row->hash || strcmp(row->hash, hash) != 0) {
		snprintf(reason, sizeof reason, "hash mismatch at seq %lld (entry modified)",
		    (long long)row->seq);
		return fail_at(c, row->seq, reason);
	}
	c->last_seq = row->seq;
	memcpy(c->last_hash, hash, sizeof hash);
	c->entries++;

	while (c->next < c->ncps && c->cps[c->next].seq <= row->seq) {
		const struct verify_cp *cp = &c->cps[c->next++];

		if (cp->seq < row->seq) {
			/* Only reachable for seq <= 0: every other gap failed above. */
			snprintf(reason, sizeof reason, "checkpoint at seq %lld has no entry",
			    (long long)cp->seq);
			return fail_at(c, cp->seq, reason);
		}
		if (check_checkpoint(c, cp, hash) != 0)
			return 1;
	}
	return 0;
}

enum pv_rc audit_verify(struct store *st, const uint8_t *pub, struct audit_verify_result *out)
{
	enum pv_rc rc;
	struct verify_ctx c;
	struct store_audit_filter f;
	char reason[160];

	if (!st || !out)
		return PV_E_INVALID;
	memset(&c, 0, sizeof c);
	c.st = st;
	c.pub_arg = pub;
	memcpy(c.last_hash, AUDIT_GENESIS_HASH, sizeof c.last_hash);

	rc = store_checkpoint_scan(st, collect_cp, &c);
	if (rc == PV_OK)
		rc = c.rc;
	if (rc != PV_OK)
		goto out;
	if (c.ncps > 1)
		qsort(c.cps, c.ncps, sizeof *c.cps, cp_cmp);

	memset(&f, 0, sizeof f);
	/* INT64_MIN, not 0: a forged row with seq <= 0 must be seen, not skipped. */
	f.since_seq = INT64_MIN;
	rc = store_audit_scan(st, &f, check_entry, &c);
	if (rc == PV_OK)
		rc = c.rc;
	if (rc != PV_OK)
		goto out;
	if (!c.bad && c.next < c.ncps) {
		snprintf(reason, sizeof reason,
		    "entries after seq %lld are missing (checkpoint at seq %lld)",
		    (long long)c.last_seq, (long long)c.cps[c.ncps - 1].seq);
		fail_at(&c, c.last_seq + 1, reason);
	}

	memset(out, 0, sizeof *out);
	out->ok = !c.bad;
	out->entries = c.entries;
	out->checkpoints = c.checkpoints;
	out->first_bad_seq = c.bad ? c.bad_seq : 0;
	memcpy(out->head, c.last_hash, sizeof out->head);
	util_strlcpy(out->reason, c.bad ? c.reason : "", sizeof out->reason);
out:
	for (size_t i = 0; i < c.ncps; i++) {
		free(c.cps[i].hash);
		free(c.cps[i].signature);
	}
	free(c.cps);
	return rc;
}
