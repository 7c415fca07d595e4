/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_LOG_H
#define PGT_RULESET_LOG_H

/*
 * LOG and NFLOG's way off the workers (pgt_ruleset_log.c,
 * pgt_ruleset_nflog.c), for pgt_ruleset_init() and the RPC.
 */

#include <stdint.h>

#include <jansson.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "pgt_port.h"

/*
 * One single-producer ring of fixed-size records per worker, and what each
 * worker posted or lost to a full ring (the worker is the only writer).
 */
struct pgt_rs_record_rings {
	struct rte_ring *ring[RTE_MAX_LCORE];	/* NULL past the workers */
	struct {
		uint64_t posted;
		uint64_t overflow;
	} __rte_cache_aligned count[RTE_MAX_LCORE];
};

/* Create @p nb_workers rings "<prefix>_<w>" of @p size records. */
int pgt_rs_record_rings_init(struct pgt_rs_record_rings *r,
	const char *prefix, unsigned int record_size, unsigned int size,
	unsigned int nb_workers);

/* Post a record from worker @p w: never waits, counts a full ring. */
void pgt_rs_record_rings_post(struct pgt_rs_record_rings *r, unsigned int w,
	const void *record, unsigned int record_size);

/* Records posted and lost, summed over workers (management thread). */
void pgt_rs_record_rings_counts(const struct pgt_rs_record_rings *r,
	uint64_t *posted, uint64_t *overflow);

/* Name of @p port in @p v, "" for none (a locally generated packet). */
const char *pgt_rs_port_name(const struct pgt_port_view *v, uint16_t port);

int pgt_rs_log_init(unsigned int nb_workers);

int pgt_rs_nflog_init(unsigned int nb_workers);
/* Move up to @p budget records into the capture buffer; returns how many. */
unsigned int pgt_rs_nflog_poll(unsigned int budget);
/* {"posted", "ring_full", "captured"} */
json_t *pgt_rs_nflog_stats(void);

#endif /* PGT_RULESET_LOG_H */
