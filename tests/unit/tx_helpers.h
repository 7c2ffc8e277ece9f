/*
 * tests/unit/tx_helpers.h: one store op in a transaction of its own, as an
 * expression (header-only, tests only; GNU statement expressions):
 *   TX_RD(st, store_user_get(tx, id, &u))   read transaction, ended
 *   TX_WR(st, store_user_put(tx, &u))       write transaction, committed
 *                                           when the op returned PV_OK
 * Both yield the begin's rc (PV_E_UNAVAILABLE when the pool stays busy) or
 * the op's. expr names the transaction `tx`. Tests that are about
 * transactions themselves use store_begin/commit/end directly.
 */
#ifndef PV_TX_HELPERS_H
#define PV_TX_HELPERS_H

#include "store/store.h"

#define TX_RD(st, expr) __extension__ ({ \
	struct store_tx *tx = NULL; \
	enum pv_rc tx_rc_ = store_begin((st), STORE_RD, &tx); \
	if (tx_rc_ == PV_OK) { \
		tx_rc_ = (expr); \
		store_end(tx); \
	} \
	tx_rc_; \
})

#define TX_WR(st, expr) __extension__ ({ \
	struct store_tx *tx = NULL; \
	enum pv_rc tx_rc_ = store_begin((st), STORE_WR, &tx); \
	if (tx_rc_ == PV_OK) { \
		tx_rc_ = (expr); \
		if (tx_rc_ == PV_OK) \
			tx_rc_ = store_commit(tx); \
		store_end(tx); \
	} \
	tx_rc_; \
})

#endif /* PV_TX_HELPERS_H */
