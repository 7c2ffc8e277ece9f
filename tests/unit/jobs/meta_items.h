/*
 * The job runner tests' items: text values in the meta table, and the move
 * of one item that also appends "<i>\n" to "<prefix>.log" in the same
 * transaction (so a move done twice shows twice, a lost one not at all).
 * test_runner.c and test_runner_ahead.c.
 */
#ifndef PV_TEST_JOBS_META_ITEMS_H
#define PV_TEST_JOBS_META_ITEMS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* The text at key into out (cap bytes with its NUL); "" if absent. */
static inline enum pv_rc
meta_text_get(struct store_tx *tx, const char *key, char *out, size_t cap)
{
	uint8_t *v = NULL;
	size_t len = 0;
	enum pv_rc rc = store_meta_get(tx, key, &v, &len);

	if (rc == PV_E_NOTFOUND) {
		len = 0;
		rc = PV_OK;
	}
	if (rc == PV_OK && len >= cap)
		rc = PV_E_TOOBIG;
	if (rc == PV_OK) {
		if (len > 0)
			memcpy(out, v, len);
		out[len] = '\0';
	}
	free(v);
	return rc;
}

static inline enum pv_rc
meta_text_put(struct store_tx *tx, const char *key, const char *val)
{
	return store_meta_put(tx, key, (const uint8_t *)val, strlen(val));
}

/* Item "<prefix>/<i>" becomes nv, and "<i>\n" is appended to "<prefix>.log". */
static inline enum pv_rc
meta_item_move(struct store_tx *tx, const char *prefix, int i, const char *nv)
{
	char key[32], logkey[32], log[256], line[16];
	enum pv_rc rc;

	snprintf(key, sizeof(key), "%s/%d", prefix, i);
	snprintf(logkey, sizeof(logkey), "%s.log", prefix);
	if ((rc = meta_text_put(tx, key, nv)) != PV_OK || (rc = meta_text_get(tx, logkey, log,
	    sizeof(log) - sizeof(line))) != PV_OK)
		return rc;
	snprintf(line, sizeof(line), "%d\n", i);
	strcat(log, line);
	return meta_text_put(tx, logkey, log);
}

#endif
