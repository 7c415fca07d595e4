/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_PIPELINE_H
#define PGT_PIPELINE_H

/**
 * @file
 * The per-lcore run-to-completion pipeline and the worker loop.
 *
 * Each worker owns RX queue W and TX queue W of every port that has them
 * (see pgt_port.h), and loops:
 *
 *   for each of its RX queues: rx burst -> parse once into metadata ->
 *     ARP answered in place | IPv4: route lookup for the burst ->
 *     local (echo reply) | forward (TTL, MTU/fragment) -> neighbour ->
 *     per-port TX staging
 *   worker 0 also drains the ports' handoff rings (see pgt_port.h)
 *   retry packets parked for ARP resolution when resolutions complete
 *   flush TX staging; report an RCU quiescent state
 *
 * Nothing here locks, allocates from the heap, makes a system call or logs.
 * Everything the workers read that the management thread changes is
 * published by RCU (port view, route next hops, LPM, neighbour entries).
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

/** Worker configuration, fixed at start. */
struct pgt_pipeline_conf {
	unsigned int nb_workers;
	struct rte_mempool *pool;		/**< Packets (and fragment heads). */
	struct rte_mempool *indirect_pool;	/**< Fragment bodies. */
	uint32_t idle_sleep_us;	/**< Sleep when idle (0: poll always). */
	/** Trace every packet received on a data port, as if a TRACE rule
	 *  matched it first (offline mode: every packet explained). */
	bool trace_all;
};

/** Largest number of packets parked per worker waiting for ARP. */
#define PGT_PIPELINE_NEIGH_QUEUE	256
/** Longest wait of a parked packet (resolution itself gives up after 3 s). */
#define PGT_PIPELINE_NEIGH_WAIT_MS	5000

/**
 * Prepare the workers' state (pgt_ct_init() first: workers poll it).
 * @return 0, -EINVAL on a bad configuration, -ENOMEM.
 */
int pgt_pipeline_init(const struct pgt_pipeline_conf *conf);

/** Free the workers' state, and the fragments it holds (workers stopped). */
void pgt_pipeline_fini(void);

/**
 * The worker lcore function (for rte_eal_remote_launch()); @p arg is the
 * worker id cast to a pointer. Returns 0 after pgt_pipeline_stop(), having
 * freed or sent every mbuf it held.
 */
int pgt_pipeline_worker_main(void *arg);

/** Ask every worker to stop (signal handler safe). */
void pgt_pipeline_stop(void);

/**
 * A worker that has not finished a loop for this long is stalled: stuck
 * in a driver, or stopped. Its queues fill and overflow (counted by the
 * NIC as missed), and changes wait for it (pgt_rcu_synchronize()).
 */
#define PGT_PIPELINE_STALL_MS	1000

/** What the watchdog knows of one worker. */
struct pgt_pipeline_health {
	bool stalled;		/**< Stalled now. */
	uint64_t stalls;	/**< Times it stalled since the start. */
	uint64_t stalled_ms;	/**< Time spent stalled, the current stall too. */
};

/**
 * The watchdog: compare each worker's loop counter with what it was
 * and log a worker that stops looping for PGT_PIPELINE_STALL_MS, and
 * when it loops again. Management thread, after the workers were
 * launched, as often as convenient (it is a few loads per worker).
 */
void pgt_pipeline_watch(void);

/** The watchdog's view of worker @p w (0 <= @p w < nb_workers). */
void pgt_pipeline_health(unsigned int w, struct pgt_pipeline_health *h);

#endif /* PGT_PIPELINE_H */
