/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_NEIGH_H
#define PGT_NEIGH_H

/**
 * @file
 * The ARP neighbour table.
 *
 * One table shared by all workers: an rte_hash in lock-free read mode keyed
 * by (address, port), whose key position indexes an entry array. The
 * management thread is the only writer and runs the state machine (Linux's
 * INCOMPLETE, REACHABLE, STALE, PROBE, FAILED, PERMANENT). Workers only read:
 * each entry's link-layer address and validity are one 64-bit word, stored
 * atomically, so a worker never sees half a MAC. Workers never write the
 * table: what they learn from ARP packets and which next hops they need
 * resolved travels to the management thread as 16-byte messages on one
 * single-producer ring per worker. Deleted positions are reused only after an
 * RCU grace period.
 *
 * Timers (Linux defaults): an entry is REACHABLE for 30 s after a reply;
 * then STALE, still used; a STALE entry that is used is re-probed (3 unicast
 * requests, 1 s apart) and deleted if silent; an unused STALE entry is
 * removed after 60 s. Resolution sends 3 broadcast requests, 1 s apart; a
 * silent neighbour is FAILED for 3 s (packets to it get host unreachable),
 * then forgotten.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mempool.h>

/** Entry states. */
enum pgt_neigh_state {
	PGT_NEIGH_INCOMPLETE,
	PGT_NEIGH_REACHABLE,
	PGT_NEIGH_STALE,
	PGT_NEIGH_PROBE,
	PGT_NEIGH_FAILED,
	PGT_NEIGH_PERMANENT,
};

/** Set in pgt_neigh_entry.lladdr when the MAC is usable. */
#define PGT_NEIGH_VALID		(1ULL << 63)
/** Set in pgt_neigh_entry.lladdr when resolution failed. */
#define PGT_NEIGH_FAILED_BIT	(1ULL << 62)

/** The hash key. */
struct pgt_neigh_key {
	uint32_t addr;	/**< Host order. */
	uint16_t port;
	uint16_t zero;	/**< Always 0: keys are hashed as bytes. */
};

/** One neighbour. */
struct pgt_neigh_entry {
	/** MAC in the low 48 bits, PGT_NEIGH_* flags above. Atomic. */
	uint64_t lladdr;
	/** Set by workers when they send to it; cleared by the manager. */
	uint8_t used;
	/* Management thread only: */
	uint8_t state;
	uint8_t probes;
	uint16_t port;
	uint32_t addr;
	uint64_t deadline;	/**< TSC of the next state timer. */
	uint64_t confirmed;	/**< TSC of the last reply. */
	uint64_t last_used;	/**< TSC the manager last saw `used`. */
} __rte_cache_aligned;

/** Worker-to-manager message types. */
enum pgt_neigh_msg_type {
	PGT_NEIGH_MSG_RESOLVE,	/**< A packet waits for this next hop. */
	PGT_NEIGH_MSG_REPLY,	/**< An ARP reply was received. */
	PGT_NEIGH_MSG_REQUEST,	/**< An ARP request for us was received. */
};

/** A worker-to-manager message (16 bytes, ring element). */
struct pgt_neigh_msg {
	uint32_t addr;
	uint16_t port;
	uint8_t type;
	uint8_t pad;
	struct rte_ether_addr mac;
	uint16_t pad2;
};

extern struct rte_hash *pgt_neigh_hash;
extern struct pgt_neigh_entry *pgt_neigh_entries;
/** Bumped whenever an entry becomes usable or fails: pending packets retry. */
extern uint32_t pgt_neigh_generation;
/** Bumped whenever an entry's address or state changes and at every timer
 *  pass, which takes the entries' used marks: workers' caches start over
 *  (pgt_neigh_cache_sync()). */
extern uint32_t pgt_neigh_epoch;

/**
 * Create the table (@p max_entries), one message ring per worker, and the
 * state the manager needs to send ARP (@p mp for its mbufs).
 *
 * @return 0, -EINVAL on a zero size, -ENOMEM.
 */
int pgt_neigh_init(uint32_t max_entries, unsigned int nb_workers,
	struct rte_mempool *mp);

/** Free everything (after the workers stopped). */
void pgt_neigh_fini(void);

/** Slots of a worker's neighbour cache (a power of two). */
#define PGT_NEIGH_CACHE_SLOTS 16

/**
 * A worker's memory of its recent lookups, by next hop: a router's packets
 * go to a few next hops (the servers, the upstream gateway), and with
 * conversations they alternate between them, which a single remembered
 * entry would miss on every packet. A slot holds the MAC a usable entry
 * had when it was looked up, until pgt_neigh_cache_sync() sees that an
 * entry changed or a timer pass took the used marks (every 100 ms): the
 * worker sees a change at its next loop iteration, as if the packets in
 * between had been sent before it. Direct-mapped: two next hops on one
 * slot only cost lookups, never a wrong answer.
 */
struct pgt_neigh_cache {
	/** Slots of another generation are empty: clearing is one add. */
	uint32_t gen;
	/** pgt_neigh_epoch when last synced. */
	uint32_t epoch;
	struct {
		uint32_t addr;
		uint32_t gen;
		uint16_t port;
		struct rte_ether_addr mac;
	} slot[PGT_NEIGH_CACHE_SLOTS];
};

/** Empty @p c. */
static inline void
pgt_neigh_cache_clear(struct pgt_neigh_cache *c)
{
	if (unlikely(++c->gen == 0)) {
		/* Wrapped: a slot of generation 1 might be 2^32 loops old. */
		memset(c->slot, 0, sizeof(c->slot));
		c->gen = 1;
	}
}

/** Empty @p c if the table changed since it last looked (once per loop
 *  iteration, before the worker's lookups). */
static inline void
pgt_neigh_cache_sync(struct pgt_neigh_cache *c)
{
	uint32_t epoch = __atomic_load_n(&pgt_neigh_epoch, __ATOMIC_ACQUIRE);

	if (likely(epoch == c->epoch))
		return;
	c->epoch = epoch;
	pgt_neigh_cache_clear(c);
}

/* The entry of @p pos: 0 with *mac set, or why not. */
static inline int
pgt_neigh_entry_read(int32_t pos, struct rte_ether_addr *mac)
{
	struct pgt_neigh_entry *e = &pgt_neigh_entries[pos];
	uint64_t ll, bytes;

	ll = __atomic_load_n(&e->lladdr, __ATOMIC_ACQUIRE);
	if (!(ll & PGT_NEIGH_VALID))
		return (ll & PGT_NEIGH_FAILED_BIT) ? -EHOSTUNREACH : -EAGAIN;
	/* Avoid dirtying the line on every packet: write only when clear. */
	if (!__atomic_load_n(&e->used, __ATOMIC_RELAXED))
		__atomic_store_n(&e->used, 1, __ATOMIC_RELAXED);
	/* The address's six bytes, first in bits 47..40, in memory order. */
	bytes = rte_cpu_to_be_64(ll << 16);
	memcpy(mac, &bytes, sizeof(*mac));
	return 0;
}

/**
 * Look up the MAC of @p addr on @p port (worker context), remembering a
 * usable entry's in @p c.
 *
 * @return 0 with *mac set; -ENOENT no entry (ask for resolution); -EAGAIN
 *   resolution in progress; -EHOSTUNREACH resolution failed.
 */
static inline int
pgt_neigh_lookup_cached(struct pgt_neigh_cache *c, uint32_t addr,
	uint16_t port, struct rte_ether_addr *mac)
{
	struct pgt_neigh_key key = { .addr = addr, .port = port, .zero = 0 };
	/* Fibonacci hashing: hosts of one subnet spread over the slots. */
	unsigned int i = ((addr ^ port) * 2654435769u) >>
		(32 - __builtin_ctz(PGT_NEIGH_CACHE_SLOTS));
	int32_t pos;
	int rc;

	if (c->slot[i].gen == c->gen && c->slot[i].addr == addr &&
			c->slot[i].port == port) {
		*mac = c->slot[i].mac;
		return 0;
	}
	pos = rte_hash_lookup(pgt_neigh_hash, &key);
	if (pos < 0)
		return -ENOENT;
	rc = pgt_neigh_entry_read(pos, mac);
	if (rc == 0) {
		c->slot[i].addr = addr;
		c->slot[i].port = port;
		c->slot[i].mac = *mac;
		c->slot[i].gen = c->gen;
	}
	return rc;
}

/** Look up without a cache (see pgt_neigh_lookup_cached()). */
static inline int
pgt_neigh_lookup(uint32_t addr, uint16_t port, struct rte_ether_addr *mac)
{
	struct pgt_neigh_key key = { .addr = addr, .port = port, .zero = 0 };
	int32_t pos = rte_hash_lookup(pgt_neigh_hash, &key);

	if (pos < 0)
		return -ENOENT;
	return pgt_neigh_entry_read(pos, mac);
}

/**
 * Send a message to the manager (worker @p worker's ring).
 * @return 0, or -ENOBUFS when the ring is full (the message is lost; the
 *   worker will ask again, the counter neigh_msgs_lost tells).
 */
int pgt_neigh_post(unsigned int worker, const struct pgt_neigh_msg *msg);

/**
 * Manager: drain the workers' messages and run the timers. Call often (every
 * management loop iteration); timers run every 100 ms.
 */
void pgt_neigh_poll(void);

/**
 * Manager: announce @p addr on @p port with a gratuitous ARP request.
 * @return 0, -ENOBUFS (no mbuf or TX ring full).
 */
int pgt_neigh_announce(uint16_t port, uint32_t addr);

/** Manager: forget every non-permanent entry on @p port (UINT16_MAX: all). */
void pgt_neigh_flush(uint16_t port);

#endif /* PGT_NEIGH_H */
