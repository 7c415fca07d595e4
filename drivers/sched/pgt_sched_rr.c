/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rr: round robin over the usable real servers. Each worker keeps its own
 * cursor: a shared one would be a cache line written by every worker for
 * every new connection. Over many connections the workers together still
 * give each server an equal share.
 */
#include "pgt_ipvs.h"

static int
rr_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	uint32_t n = svc->nb_dests, i, j;

	RTE_SET_USED(f);
	for (i = 0; i < n; i++) {
		j = (st->index + i) % n;
		if (pgt_ipvs_dest_usable(&svc->dests[j])) {
			st->index = j + 1;
			return (int)j;
		}
	}
	return -1;
}

static struct pgt_ipvs_sched_ops rr_ops = {
	.name = "rr",
	.schedule = rr_schedule,
};

PGT_IPVS_SCHED_REGISTER(rr_ops);
