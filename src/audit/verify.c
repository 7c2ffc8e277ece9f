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
 * An outside verifier (audit_verify_with) also brings the key it recorded at
 * init and the last head it saw: a stored key other than the expected one is
 * tampering (a forger re-signs a rewritten chain with his own key and stores
 * it), and entry expect_seq must exist with the expected hash (a tail cut or
 * rewritten after the last checkpoint). A column holding a NUL byte is
 * refused: stored text is exactly what the writer stored, C strings.
 *
 * What it cannot catch from the database alone (documented in
 * docs/internals/audit.md): entries after the last checkpoint rewritten or
 * dropped consistently, and a chain re-signed under a swapped key; the
 * expected key and head close both.
 *
 * The first failure stops the walk and names the first bad seq. Reasons carry
 * seq numbers only, never entry contents (they may be shown to operators and
 * copied into tickets).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit_int.h"
#include "crypto/crypto.h"

struct verify_cp {
	int64_t seq;
	char *hash;
	char *signature;
};

struct verify_ctx {
	const uint8_t *pub_arg;
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
	bool have_pub;
	/* The stored key, read before the scans (a scan callback must not
	 * begin a second store transaction): its rc, used at the first
	 * checkpoint that needs it. */
	uint8_t stored_pub[CRYPTO_ED25519_PUB_LEN];
	enum pv_rc stored_rc;
	bool key_replaced;              /* stored key is not the expected one */
	bool no_key;                    /* ... and only its fingerprint is known */
	int64_t expect_seq;             /* 0: none */
	char expect_hash[65];
	enum pv_rc rc;                  /* a read/alloc failure, not tampering */

	struct verify_cp *cps;
	size_t ncps, cap, next;

	int64_t last_seq;
	char last_hash[65];
	int64_t entries, checkpoints;

	bool bad;
	bool sig_bad;                   /* the failure is a signature or key, not the chain */
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
	if (c->no_key) {
		snprintf(reason, sizeof reason, "checkpoint signatures do not match the expected "
		    "key (first at seq %lld)", (long long)cp->seq);
		c->sig_bad = true;
		return fail_at(c, cp->seq, reason);
	}
	if (!c->have_pub) {
		if (c->pub_arg) {
			memcpy(c->pub, c->pub_arg, sizeof c->pub);
		} else {
			rc = c->stored_rc;
			memcpy(c->pub, c->stored_pub, sizeof c->pub);
			if (rc != PV_OK) {
				c->rc = rc;
				return 1;
			}
		}
		c->have_pub = true;
	}
	if (c->key_replaced)
		snprintf(reason, sizeof reason, "checkpoint signatures do not match the expected "
		    "key (first at seq %lld)", (long long)cp->seq);
	else
		snprintf(reason, sizeof reason, "checkpoint signature invalid at seq %lld",
		    (long long)cp->seq);
	if (util_b64_decode(cp->signature, sig, &siglen) != 0 || siglen != CRYPTO_ED25519_SIG_LEN) {
		c->sig_bad = true;
		return fail_at(c, cp->seq, reason);
	}
	mlen = audit_checkpoint_message(cp->seq, cp->hash, msg, sizeof msg);
	if (mlen == 0)
		return fail_at(c, cp->seq, reason);
	rc = crypto_ed25519_verify(c->pub, (const uint8_t *)msg, mlen, sig);
	if (rc == PV_E_INTEGRITY) {
		c->sig_bad = true;
		return fail_at(c, cp->seq, reason);
	}
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
	if (row->has_len) {
		const char *col[STORE_AUDIT_TEXT_COLS] = { row->time, row->actor, row->action,
			row->resource, row->purpose_of_use, row->outcome, row->reason, row->detail,
			row->prev_hash, row->hash };

		/* Stored text never holds a NUL (the writer stores C strings): one
		 * there hides bytes from anything that reads the column as a string. */
		for (int i = 0; i < STORE_AUDIT_TEXT_COLS; i++) {
			if (!col[i] || strlen(col[i]) != row->len[i]) {
				snprintf(reason, sizeof reason,
				    "entry at seq %lld holds a NUL byte (entry modified)",
				    (long long)row->seq);
				return fail_at(c, row->seq, reason);
			}
		}
	}
	rc = audit_chain_hash(row, hash);
	if (rc == PV_E_NOMEM || rc == PV_E_CRYPTO) {
		c->rc = rc;
		return 1;
	}
	if (rc != PV_OK || !row->hash || strlen(row->hash) != 64 || strcmp(row->hash, hash) != 0) {
		snprintf(reason, sizeof reason, "hash mismatch at seq %lld (entry modified)",
		    (long long)row->seq);
		return fail_at(c, row->seq, reason);
	}
	if (c->expect_seq == row->seq && strcmp(c->expect_hash, hash) != 0) {
		snprintf(reason, sizeof reason,
		    "entry at seq %lld does not have the expected head hash (rewritten)",
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
	struct audit_verify_opts o = { .pub = pub };

	return audit_verify_with(st, &o, out);
}

static bool hash_hex_ok(const char *h)
{
	if (!h || strlen(h) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

enum pv_rc audit_verify_with(struct store *st, const struct audit_verify_opts *opts,
    struct audit_verify_result *out)
{
	enum pv_rc rc;
	struct verify_ctx c;
	struct store_audit_filter f;
	char reason[160];
	struct store_tx *tx = NULL;

	if (!st || !opts || !out || opts->expect_seq < 0 ||
	    (opts->expect_seq > 0 && !hash_hex_ok(opts->expect_hash)))
		return PV_E_INVALID;
	memset(&c, 0, sizeof c);
	c.pub_arg = opts->pub;
	if (!opts->pub)
		c.stored_rc = keys_audit_public_key(st, c.stored_pub);
	c.expect_seq = opts->expect_seq;
	if (c.expect_seq > 0)
		memcpy(c.expect_hash, opts->expect_hash, sizeof c.expect_hash);
	memcpy(c.last_hash, AUDIT_GENESIS_HASH, sizeof c.last_hash);
	if (opts->pub || opts->fingerprint) {
		uint8_t stored[CRYPTO_ED25519_PUB_LEN];
		char fp[AUDIT_FINGERPRINT_LEN + 1];

		rc = keys_audit_public_key(st, stored);
		if (rc != PV_OK && rc != PV_E_NOTFOUND && rc != PV_E_INTEGRITY)
			goto out;
		if (rc == PV_OK && opts->pub) {
			c.key_replaced = !crypto_memeq(stored, opts->pub, sizeof stored);
		} else if (rc == PV_OK) {
			if ((rc = audit_key_fingerprint(stored, fp)) != PV_OK)
				goto out;
			c.key_replaced = strlen(opts->fingerprint) != AUDIT_FINGERPRINT_LEN ||
			    strncmp(opts->fingerprint, "SHA256:", 7) != 0 ||
			    strcasecmp(opts->fingerprint + 7, fp + 7) != 0;
			/* the stored key is the expected one: check with it */
			c.no_key = c.key_replaced;
		} else {
			c.key_replaced = true;
			c.no_key = !opts->pub;
		}
		rc = PV_OK;
	}

	/* One read transaction: checkpoints and entries from one snapshot, so
	 * a writer appending meanwhile cannot make a checkpoint look missing. */
	if ((rc = store_begin(st, STORE_RD, &tx)) != PV_OK)
		goto out;
	rc = store_checkpoint_scan(tx, collect_cp, &c);
	if (rc == PV_OK)
		rc = c.rc;
	if (rc != PV_OK)
		goto out;
	if (c.ncps > 1)
		qsort(c.cps, c.ncps, sizeof *c.cps, cp_cmp);

	memset(&f, 0, sizeof f);
	/* INT64_MIN, not 0: a forged row with seq <= 0 must be seen, not skipped. */
	f.since_seq = INT64_MIN;
	rc = store_audit_scan(tx, &f, check_entry, &c);
	store_end(tx);
	tx = NULL;
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
	if (!c.bad && c.expect_seq > c.last_seq) {
		snprintf(reason, sizeof reason,
		    "entries after seq %lld are missing (expected head at seq %lld)",
		    (long long)c.last_seq, (long long)c.expect_seq);
		fail_at(&c, c.last_seq + 1, reason);
	}
	if (!c.bad && c.key_replaced) {
		/* Every checkpoint verified with the expected key, yet the stored
		 * key is another: the meta was edited. */
		c.sig_bad = true;
		fail_at(&c, c.ncps > 0 ? c.cps[0].seq : 1,
		    "checkpoint signatures do not match the expected key (the stored public "
		    "key is another)");
	}

	memset(out, 0, sizeof *out);
	out->ok = !c.bad;
	out->entries = c.entries;
	out->checkpoints = c.checkpoints;
	out->first_bad_seq = c.bad ? c.bad_seq : 0;
	memcpy(out->head, c.last_hash, sizeof out->head);
	out->head_seq = c.last_seq;
	util_strlcpy(out->reason, c.bad ? c.reason : "", sizeof out->reason);
	util_strlcpy(out->code, !c.bad ? "" : c.sig_bad ? AUDIT_VERIFY_SIGNATURE_BAD :
	    AUDIT_VERIFY_CHAIN_BROKEN, sizeof out->code);
out:
	store_end(tx);
	for (size_t i = 0; i < c.ncps; i++) {
		free(c.cps[i].hash);
		free(c.cps[i].signature);
	}
	free(c.cps);
	return rc;
}

enum pv_rc audit_verify_record(struct audit *a, const struct pv_actor *actor,
    const struct audit_verify_result *vr)
{
	struct audit_event ev;
	char detail[96];

	if (!a || !actor || !vr)
		return PV_E_INVALID;
	memset(&ev, 0, sizeof ev);
	ev.actor = *actor;
	ev.action = "audit.verify";
	ev.resource = "audit";
	if (vr->ok) {
		ev.outcome = AUDIT_ALLOWED;
		ev.reason = "ok";
		snprintf(detail, sizeof detail, "{\"entries\":%lld}", (long long)vr->entries);
	} else {
		ev.outcome = AUDIT_ERROR;
		ev.reason = vr->code[0] != '\0' ? vr->code : AUDIT_VERIFY_CHAIN_BROKEN;
		snprintf(detail, sizeof detail, "{\"entries\":%lld,\"first_bad_seq\":%lld}",
		    (long long)vr->entries, (long long)vr->first_bad_seq);
	}
	ev.detail = detail;
	/* from a request: held (the answer leaves after the entry's fsync) */
	return audit_record_held(a, &ev, true) == PV_OK ? PV_OK : PV_E_AUDIT;
}
