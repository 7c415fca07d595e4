/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fo: weighted failover. Every new connection goes to the usable server of
 * the highest weight (the first such in the list on a tie); the others
 * only take over when it is quiescent, down or overloaded.
 */
#include "pgt_ipvs.h"

static int
fo_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	uint32_t i;
	int best = -1;

	RTE_SET_USED(st);
	RTE_SET_USED(f);
	for (i = 0; i < svc->nb_dests; i++) {
		if (!pgt_ipvs_dest_usable(&svc->dests[i]))
			continue;
		if (best < 0 || svc->dests[i].weight > svc->dests[best].weight)
			best = (int)i;
	}
	return best;
}

static struct pgt_ipvs_sched_ops fo_ops = {
	.name = "fo",
	.schedule = fo_schedule,
};

PGT_IPVS_SCHED_REGISTER(fo_ops);
