/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wrr: weighted round robin as Linux's ip_vs_wrr does it. The current
 * weight cw starts at the largest weight and drops by the weights' gcd at
 * each pass over the list; a pass takes the servers whose weight is at
 * least cw. A server of weight 3 next to one of weight 1 thus gets three
 * of every four connections, interleaved rather than in a burst.
 *
 * Each worker runs its own sequence (its own cursor and cw): the sum of
 * weighted sequences is weighted, and no cache line is shared.
 */
#include <errno.h>
#include <stdlib.h>

#include "pgt_ipvs.h"

struct wrr_data {
	int32_t max_weight;
	int32_t gcd;
};

static int
wrr_init(struct pgt_ipvs_service *svc)
{
	struct wrr_data *d = calloc(1, sizeof(*d));
	uint32_t i, g = 0, mw = 0;

	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < svc->nb_dests; i++)
		mw = RTE_MAX(mw, svc->dests[i].weight);
	g = pgt_ipvs_weight_gcd(svc);
	d->max_weight = (int32_t)RTE_MIN(mw, (uint32_t)INT32_MAX);
	d->gcd = g != 0 ? (int32_t)g : 1;
	svc->sched_data = d;
	return 0;
}

static void
wrr_fini(struct pgt_ipvs_service *svc)
{
	free(svc->sched_data);
}

static int
wrr_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	const struct wrr_data *d = svc->sched_data;
	uint32_t n = svc->nb_dests, i, steps;
	int32_t cw = st->cw;

	RTE_SET_USED(f);
	if (n == 0 || d->max_weight == 0)
		return -1;
	/* Every server is visited once per cw value, and cw takes at most
	 * max/gcd values: past that, none is usable. */
	steps = n * (uint32_t)(d->max_weight / d->gcd + 1);
	/* Fresh state: start at a wrap, so cw starts at the top. */
	i = cw == 0 ? n - 1 : st->index % n;
	while (steps-- > 0) {
		i = (i + 1) % n;
		if (i == 0) {
			cw -= d->gcd;
			if (cw <= 0)
				cw = d->max_weight;
		}
		if (cw > d->max_weight)
			cw = d->max_weight;	/* weights were lowered */
		if ((int64_t)svc->dests[i].weight >= cw &&
				pgt_ipvs_dest_usable(&svc->dests[i])) {
			st->index = i;
			st->cw = cw;
			return (int)i;
		}
	}
	st->cw = cw;
	return -1;
}

static struct pgt_ipvs_sched_ops wrr_ops = {
	.name = "wrr",
	.init = wrr_init,
	.fini = wrr_fini,
	.schedule = wrr_schedule,
};

PGT_IPVS_SCHED_REGISTER(wrr_ops);
