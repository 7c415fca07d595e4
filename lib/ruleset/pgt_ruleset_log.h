/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_LOG_H
#define PGT_RULESET_LOG_H

/*
 * LOG and NFLOG's way off the workers (pgt_ruleset_log.c,
 * pgt_ruleset_nflog.c), for pgt_ruleset_init() and the RPC.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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

/*
 * A capture buffer: the last nb_entries records taken off a set of record
 * rings, each with a sequence number and the wall-clock time its worker
 * posted it (records start with their uint64_t TSC stamp). Readers keep a
 * cursor (the next sequence number they want); what the buffer overwrote
 * before they read it is reported to them as lost.
 */
struct pgt_rs_capture {
	uint8_t *entries;	/* nb_entries of entry_size bytes */
	uint32_t record_size, entry_size, nb_entries;	/* a power of 2 */
	uint32_t next_seq;	/* entries next_seq-nb_kept.. are kept */
	uint32_t nb_kept;
};

/* What precedes each record in a capture buffer. */
struct pgt_rs_capture_hdr {
	uint32_t seq;
	struct timespec when;
};

int pgt_rs_capture_init(struct pgt_rs_capture *c, unsigned int record_size,
	unsigned int nb_entries);

/* Move up to @p budget records from @p r into @p c; returns how many. */
unsigned int pgt_rs_capture_poll(struct pgt_rs_capture *c,
	struct pgt_rs_record_rings *r, unsigned int budget);

/* The entry of sequence number @p seq (kept, or the oldest slot). */
static inline const struct pgt_rs_capture_hdr *
pgt_rs_capture_entry(const struct pgt_rs_capture *c, uint32_t seq)
{
	return (const void *)(c->entries +
		(size_t)(seq & (c->nb_entries - 1)) * c->entry_size);
}

/* The record after entry header @p h. */
static inline const void *
pgt_rs_capture_record(const struct pgt_rs_capture_hdr *h)
{
	return h + 1;
}

/*
 * Where a read from @p cursor (none: the oldest entry kept) starts, and how
 * many entries it missed; @p max 0 skips to the newest (nothing read).
 */
uint32_t pgt_rs_capture_start(const struct pgt_rs_capture *c, bool has_cursor,
	uint32_t cursor, uint32_t max, uint32_t *lost);

/* Name of @p port in @p v, "" for none (a locally generated packet). */
const char *pgt_rs_port_name(const struct pgt_port_view *v, uint16_t port);

int pgt_rs_log_init(unsigned int nb_workers);

int pgt_rs_nflog_init(unsigned int nb_workers);
/* Move up to @p budget records into the capture buffer; returns how many. */
unsigned int pgt_rs_nflog_poll(unsigned int budget);
/* {"posted", "ring_full", "captured"} */
json_t *pgt_rs_nflog_stats(void);

int pgt_rs_trace_init(unsigned int nb_workers);
/* Move up to @p budget events into the trace buffer; returns how many. */
unsigned int pgt_rs_trace_poll(unsigned int budget);
/* {"posted", "ring_full", "kept"} */
json_t *pgt_rs_trace_stats(void);

#endif /* PGT_RULESET_LOG_H */
