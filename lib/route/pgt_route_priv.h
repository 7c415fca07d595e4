/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_ROUTE_PRIV_H
#define PGT_ROUTE_PRIV_H

/* The management thread's route records, shared by the RPC handlers. */

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>

struct pgt_route_key {
	uint32_t addr;
	uint8_t len;
	uint8_t zero[3];	/* keys are hashed as bytes */
};

struct pgt_route {
	struct pgt_route_key key;
	uint32_t nh;		/* index into pgt_route_nexthops */
	uint8_t proto;		/* enum pgt_route_proto */
	bool installed;		/* present in the LPM */
};

/* Route records keyed by prefix; data is struct pgt_route *. */
extern struct rte_hash *pgt_route_table;

struct pgt_route *pgt_route_find(uint32_t prefix, uint8_t len);

#endif /* PGT_ROUTE_PRIV_H */
