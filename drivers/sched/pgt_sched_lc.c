/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load-based schedulers of Linux, which compare the real servers'
 * connection counts (summed over the workers: see pgt_ipvs.c):
 *  lc  - least connections: the smallest overhead, active * 256 + inactive
 *        (an inactive connection costs far less than an active one);
 *  wlc - weighted least connections: the smallest overhead / weight;
 *  sed - shortest expected delay: the smallest (active + 1) / weight;
 *  nq  - never queue: an idle server if any, else as sed.
 * Ratios are compared by cross-multiplying, in 64 bits, as Linux does.
 */
#include "pgt_ipvs.h"

/* Which of the usable dests minimizes cost(d) / weight(d)? */
static int
least(const struct pgt_ipvs_service *svc, bool weighted,
	uint64_t (*cost)(const struct pgt_ipvs_dest *d))
{
	uint64_t best_cost = 0, best_w = 1, c, wt;
	uint32_t i;
	int best = -1;

	for (i = 0; i < svc->nb_dests; i++) {
		if (!pgt_ipvs_dest_usable(&svc->dests[i]))
			continue;
		c = cost(&svc->dests[i]);
		wt = weighted ? svc->dests[i].weight : 1;
		if (best < 0 || c * best_w < best_cost * wt) {
			best = (int)i;
			best_cost = c;
			best_w = wt;
		}
	}
	return best;
}

static uint64_t
overhead(const struct pgt_ipvs_dest *d)
{
	return pgt_ipvs_dest_overhead(d);
}

static uint64_t
expected_delay(const struct pgt_ipvs_dest *d)
{
	uint32_t a, i;

	pgt_ipvs_dest_conns(d->slot, &a, &i);
	return (uint64_t)a + 1;
}

static int
lc_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	RTE_SET_USED(st);
	RTE_SET_USED(f);
	return least(svc, false, overhead);
}

static int
wlc_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	RTE_SET_USED(st);
	RTE_SET_USED(f);
	return least(svc, true, overhead);
}

static int
sed_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	RTE_SET_USED(st);
	RTE_SET_USED(f);
	return least(svc, true, expected_delay);
}

static int
nq_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	uint32_t i, a, in;

	for (i = 0; i < svc->nb_dests; i++) {
		if (!pgt_ipvs_dest_usable(&svc->dests[i]))
			continue;
		pgt_ipvs_dest_conns(svc->dests[i].slot, &a, &in);
		if (a == 0)
			return (int)i;
	}
	return sed_schedule(svc, st, f);
}

static struct pgt_ipvs_sched_ops lc_ops = {
	.name = "lc", .schedule = lc_schedule,
};
static struct pgt_ipvs_sched_ops wlc_ops = {
	.name = "wlc", .schedule = wlc_schedule,
};
static struct pgt_ipvs_sched_ops sed_ops = {
	.name = "sed", .schedule = sed_schedule,
};
static struct pgt_ipvs_sched_ops nq_ops = {
	.name = "nq", .schedule = nq_schedule,
};

PGT_IPVS_SCHED_REGISTER(lc_ops);
PGT_IPVS_SCHED_REGISTER(wlc_ops);
PGT_IPVS_SCHED_REGISTER(sed_ops);
PGT_IPVS_SCHED_REGISTER(nq_ops);
