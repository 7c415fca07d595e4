/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_lcore.h>
#include <rte_malloc.h>

#include "pgt_log.h"
#include "pgt_rcu.h"

PGT_LOG_REGISTER(rcu);

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
	if (pgt_rcu_qsbr != NULL)
		rte_rcu_qsbr_synchronize(pgt_rcu_qsbr, RTE_QSBR_THRID_INVALID);
}
