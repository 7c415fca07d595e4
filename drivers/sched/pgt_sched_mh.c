/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mh: Maglev hashing (Eisenbud et al., NSDI 2016), as Linux's ip_vs_mh.
 * Each real server has a pseudo-random permutation of the table's M slots
 * (offset and skip from two hashes of its address and port, M prime so
 * every skip walks all slots); servers take turns claiming the next free
 * slot of their permutation, a server of weight w taking w / gcd turns per
 * round. Removing a server only frees its own slots, which the others'
 * permutations then claim: about 1/N of the clients move, and no others.
 * M (ipvs_config_set mh_table_size, default 4093) should be well above
 * the number of servers times their largest weight for even shares.
 * mh-fallback walks to the next slots when the chosen server is not
 * usable; mh-port hashes the client's port as well.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_hash_crc.h>

#include "pgt_ipvs.h"

struct mh_table {
	uint32_t size;
	int16_t dest[];		/* index in svc->dests, -1: none */
};

static int
mh_init(struct pgt_ipvs_service *svc)
{
	uint32_t m = pgt_ipvs_cfg.mh_table_size, n = svc->nb_dests;
	uint32_t *offset, *skip, *next, i, t, turns, filled = 0, g = 0, c, h;
	struct mh_table *tbl;

	tbl = malloc(sizeof(*tbl) + m * sizeof(tbl->dest[0]));
	offset = calloc(n + 1, sizeof(*offset));
	skip = calloc(n + 1, sizeof(*skip));
	next = calloc(n + 1, sizeof(*next));
	if (tbl == NULL || offset == NULL || skip == NULL || next == NULL) {
		free(tbl);
		free(offset);
		free(skip);
		free(next);
		return -ENOMEM;
	}
	tbl->size = m;
	for (i = 0; i < m; i++)
		tbl->dest[i] = -1;
	for (i = 0; i < n; i++) {
		h = rte_hash_crc_4byte(svc->dests[i].addr,
			svc->dests[i].port);
		offset[i] = h % m;
		skip[i] = rte_hash_crc_4byte(h, 0x9e3779b9u) % (m - 1) + 1;
	}
	g = pgt_ipvs_weight_gcd(svc);
	while (g != 0 && filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			turns = svc->dests[i].weight / g;
			for (t = 0; t < turns && filled < m; t++) {
				do {
					c = (uint32_t)(((uint64_t)offset[i] +
						(uint64_t)next[i] * skip[i]) %
						m);
					next[i]++;
				} while (tbl->dest[c] >= 0);
				tbl->dest[c] = (int16_t)i;
				filled++;
			}
		}
	}
	free(offset);
	free(skip);
	free(next);
	svc->sched_data = tbl;
	return 0;
}

static void
mh_fini(struct pgt_ipvs_service *svc)
{
	free(svc->sched_data);
}

static int
mh_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	const struct mh_table *tbl = svc->sched_data;
	uint32_t h, i;
	int d;

	RTE_SET_USED(st);
	h = rte_hash_crc_4byte(f->src, (svc->flags & PGT_IPVS_SVC_SCHED2) ?
		f->sport : 0) % tbl->size;
	for (i = 0; i < tbl->size; i++) {
		d = tbl->dest[(h + i) % tbl->size];
		if (d >= 0 && pgt_ipvs_dest_usable(&svc->dests[d]))
			return d;
		if (!(svc->flags & PGT_IPVS_SVC_SCHED1))
			return -1;
	}
	return -1;
}

static struct pgt_ipvs_sched_ops mh_ops = {
	.name = "mh",
	.init = mh_init,
	.fini = mh_fini,
	.schedule = mh_schedule,
};

PGT_IPVS_SCHED_REGISTER(mh_ops);
