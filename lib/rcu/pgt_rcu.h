/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RCU_H
#define PGT_RCU_H

/**
 * @file
 * The one quiescent-state-based RCU domain shared by all workers.
 *
 * Control state the workers read (the port view, route next hops, the LPM's
 * tbl8 groups, neighbour entries) is changed only by the management thread:
 * it builds a new object, publishes its pointer with pgt_rcu_publish(), calls
 * pgt_rcu_synchronize() and only then frees the old object. Workers never
 * take a lock: they call pgt_rcu_quiescent() once per loop iteration, at a
 * point where they hold no reference to published state, and go offline
 * while they sleep so that a synchronize never waits for an idle worker.
 */

#include <stdint.h>

#include <rte_rcu_qsbr.h>

/** The QSBR variable; valid after pgt_rcu_init(). */
extern struct rte_rcu_qsbr *pgt_rcu_qsbr;

/**
 * Create the RCU domain for @p nb_workers reader threads (ids 0..n-1).
 *
 * @return 0, -EINVAL if @p nb_workers is 0 or above RTE_MAX_LCORE, -ENOMEM.
 */
int pgt_rcu_init(unsigned int nb_workers);

/** Free the domain at shutdown (after every worker stopped). */
void pgt_rcu_fini(void);

/** Register worker @p id as a reader and put it online. Worker context. */
void pgt_rcu_worker_start(unsigned int id);

/** Put worker @p id offline and unregister it. Worker context. */
void pgt_rcu_worker_stop(unsigned int id);

/**
 * Report that worker @p id holds no reference to published state.
 * Called once per worker loop; cheap (one store).
 */
static inline void
pgt_rcu_quiescent(unsigned int id)
{
	rte_rcu_qsbr_quiescent(pgt_rcu_qsbr, id);
}

/** Mark worker @p id offline before it sleeps (it must hold no reference). */
static inline void
pgt_rcu_offline(unsigned int id)
{
	rte_rcu_qsbr_thread_offline(pgt_rcu_qsbr, id);
}

/** Mark worker @p id online again after a sleep. */
static inline void
pgt_rcu_online(unsigned int id)
{
	rte_rcu_qsbr_thread_online(pgt_rcu_qsbr, id);
}

/**
 * Wait until every online worker has passed a quiescent state, i.e. no worker
 * can still see an object unpublished before this call. Management thread
 * only; returns at once before the workers start. Waits as long as a
 * stalled worker does (freeing sooner would be unsafe); after a second it
 * logs a warning, and when it returns, how long it waited.
 */
void pgt_rcu_synchronize(void);

/**
 * Store pointer @p val into @p slot with release order so a worker that
 * loads the new pointer (with pgt_rcu_dereference()) also sees the object's
 * contents as written before the call.
 */
#define pgt_rcu_publish(slot, val) \
	__atomic_store_n(&(slot), (val), __ATOMIC_RELEASE)

/** Load a published pointer (acquire order pairs with pgt_rcu_publish()). */
#define pgt_rcu_dereference(slot) __atomic_load_n(&(slot), __ATOMIC_ACQUIRE)

#endif /* PGT_RCU_H */
