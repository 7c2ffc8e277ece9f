/*
 * fuzz_keys_unseal: the sealed server's side of POST /v1/sys/unseal, share by
 * share: keys_unseal_share with its parse, index and per-share commitment
 * checks, on a real Shamir 3-of-5 keyring (made once, in $TMPDIR).
 *
 * Input: up to 6 lines, each one submission. "#N" (N = 1..5) submits issued
 * share N, "#N+B" issued share N with byte B of its text flipped, anything
 * else is submitted as it is. The keyring is sealed again after every input.
 * Invariants: only the issued shares count (a rejected share leaves the
 * progress as it was, unless K combined shares failed, which restarts it);
 * the keyring unseals only once three distinct issued shares were given.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keys/keys.h"
#include "keys/keys_int.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSHARES 5
#define MAX_LINES 6

static struct store *st;
static struct keys *k;
static char **shares;
static size_t nshares;
static char dir[4096];

static void
cleanup(void)
{
	char path[4200];

	keys_close(k);
	store_close(st);
	keys_shares_free(shares, nshares);
	for (const char *const *s = (const char *const[]){ "phivault.db", "phivault.db-wal",
	    "phivault.db-shm", "phivault.db-journal", NULL }; *s != NULL; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, *s);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct keys_seal_spec spec = { KEYS_SEAL_SHAMIR, 3, NSHARES };

	log_set_level(LOG_LVL_ERROR);   /* rejected shares and bad rows are the point */
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/fuzz-keys-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL || store_open(dir, "sqlite", NULL, false, &st) != PV_OK ||
	    keys_initialize(st, dir, &spec, &shares, &nshares) != PV_OK || nshares != NSHARES ||
	    keys_open(st, dir, &k) != PV_OK)
		abort();
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	bool given[NSHARES + 1] = { false };
	int ndistinct = 0, line;

	if (k == NULL)
		setup();
	for (line = 0; line < MAX_LINES && p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct keys_seal_status before, after;
		char *text = malloc(len + KEYS_SHARE_TEXT_LEN + 2);
		int issued = 0;
		enum pv_rc rc;

		if (text == NULL)
			abort();
		memcpy(text, p, len);
		text[len] = '\0';
		p = nl ? nl + 1 : end;
		if (len >= 2 && text[0] == '#' && text[1] >= '1' && text[1] < '1' + NSHARES) {
			int n = text[1] - '0';
			unsigned flip = 0;
			bool tweak = len > 2 && text[2] == '+';

			if (tweak)
				flip = (unsigned)strtoul(text + 3, NULL, 10);
			snprintf(text, KEYS_SHARE_TEXT_LEN + 2, "%s", shares[n - 1]);
			if (tweak && flip < strlen(text))
				text[flip] ^= 0x01;
			else
				issued = n;
		}
		keys_status(k, &before);
		rc = keys_unseal_share(k, text, &after);
		if (rc == PV_OK) {
			if (!before.sealed)
				;   /* already unsealed: no change */
			else if (issued == 0) {
				/* only an issued share, maybe spelt differently, counts */
				struct keys_share s;
				int j, hit = 0;

				if (keys_share_parse(text, 3, &s) != PV_OK)
					abort();
				for (j = 0; j < NSHARES; j++) {
					struct keys_share t;

					if (keys_share_parse(shares[j], 3, &t) == PV_OK &&
					    memcmp(&s, &t, sizeof s) == 0)
						hit = j + 1;
				}
				if (hit == 0)
					abort();
				issued = hit;
			}
			if (issued > 0 && before.sealed && !given[issued]) {
				given[issued] = true;
				ndistinct++;
			}
		} else {
			keys_status(k, &after);
			if (rc != PV_E_INTEGRITY && after.progress != before.progress)
				abort();   /* a rejected share changes nothing */
			if (rc == PV_E_INTEGRITY) {
				/* progress restarts; what was given no longer counts */
				memset(given, 0, sizeof given);
				ndistinct = 0;
			}
		}
		keys_status(k, &after);
		if (!after.sealed && ndistinct < 3)
			abort();
		if (after.sealed && ndistinct >= 3)
			abort();
		free(text);
		if (!after.sealed)
			break;
	}
	keys_seal(k);
	return 0;
}
