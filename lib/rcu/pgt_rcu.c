/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "pgt_log.h"
#include "pgt_rcu.h"

PGT_LOG_REGISTER(rcu);

/*
 * A worker that has not passed a quiescent state for this long is stuck
 * (in a driver, or stopped by a debugger): the change waiting for it is
 * logged, so an operator whose RPC hangs can see why.
 */
#define SYNC_WARN_MS	1000

struct rte_rcu_qsbr *pgt_rcu_qsbr;

int
pgt_rcu_init(unsigned int nb_workers)
{
	size_t sz;

	if (nb_workers == 0 || nb_workers > RTE_MAX_LCORE)
		return -EINVAL;
	sz = rte_rcu_qsbr_get_memsize(nb_workers);
	pgt_rcu_qsbr = rte_zmalloc("pgt_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (pgt_rcu_qsbr == NULL)
		return -ENOMEM;
	if (rte_rcu_qsbr_init(pgt_rcu_qsbr, nb_workers) != 0) {
		rte_free(pgt_rcu_qsbr);
		pgt_rcu_qsbr = NULL;
		return -EINVAL;
	}
	return 0;
}

void
pgt_rcu_fini(void)
{
	rte_free(pgt_rcu_qsbr);
	pgt_rcu_qsbr = NULL;
}

void
pgt_rcu_worker_start(unsigned int id)
{
	rte_rcu_qsbr_thread_register(pgt_rcu_qsbr, id);
	rte_rcu_qsbr_thread_online(pgt_rcu_qsbr, id);
}

void
pgt_rcu_worker_stop(unsigned int id)
{
	rte_rcu_qsbr_thread_offline(pgt_rcu_qsbr, id);
	rte_rcu_qsbr_thread_unregister(pgt_rcu_qsbr, id);
}

void
pgt_rcu_synchronize(void)
{
	uint64_t token, start, warn_after;
	bool warned = false;

	if (pgt_rcu_qsbr == NULL)
		return;
	token = rte_rcu_qsbr_start(pgt_rcu_qsbr);
	start = rte_get_timer_cycles();
	warn_after = rte_get_timer_hz() / 1000 * SYNC_WARN_MS;
	while (rte_rcu_qsbr_check(pgt_rcu_qsbr, token, false) == 0) {
		if (!warned && rte_get_timer_cycles() - start > warn_after) {
			PGT_LOG(WARNING, rcu,
				"a change has waited %u ms for a worker to pass a quiescent state: a worker is stalled (see system_info)",
				SYNC_WARN_MS);
			warned = true;
		}
		rte_pause();
	}
	if (warned)
		PGT_LOG(NOTICE, rcu, "the change went through after %.1f s",
			(double)(rte_get_timer_cycles() - start) /
			(double)rte_get_timer_hz());
}
