/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sh and dh: source and destination hashing, as Linux's ip_vs_sh and
 * ip_vs_dh. A table of 256 buckets names a real server each; a connection
 * goes to the bucket of its client's address (sh, and its port too with
 * sh-port) or of its destination address (dh, for caches). The table only
 * changes when the list of servers does, so a client stays on its server
 * while that server is usable. sh gives a server as many consecutive
 * buckets as its weight (in turn with the others), dh one bucket per turn.
 * When the bucket's server is not usable: sh-fallback tries the following
 * buckets; otherwise the connection is refused, as in Linux.
 */
#include <errno.h>
#include <stdlib.h>

#include "pgt_ipvs.h"

#define BUCKETS	256u

struct hash_table {
	int16_t dest[BUCKETS];	/* index in svc->dests, -1: none */
};

static int
table_build(struct pgt_ipvs_service *svc, bool weighted)
{
	struct hash_table *t = malloc(sizeof(*t));
	uint32_t b, i = 0, turns = 0, seen = 0;

	if (t == NULL)
		return -ENOMEM;
	for (b = 0; b < BUCKETS; b++) {
		t->dest[b] = -1;
		if (svc->nb_dests == 0)
			continue;
		/* Next server with a weight; a full loop finds none. */
		while (svc->dests[i].weight == 0 && seen < svc->nb_dests) {
			i = (i + 1) % svc->nb_dests;
			seen++;
		}
		if (seen == svc->nb_dests)
			continue;
		seen = 0;
		t->dest[b] = (int16_t)i;
		turns++;
		if (!weighted || turns >= svc->dests[i].weight) {
			turns = 0;
			i = (i + 1) % svc->nb_dests;
		}
	}
	svc->sched_data = t;
	return 0;
}

static int
sh_init(struct pgt_ipvs_service *svc)
{
	return table_build(svc, true);
}

static int
dh_init(struct pgt_ipvs_service *svc)
{
	return table_build(svc, false);
}

static void
hash_fini(struct pgt_ipvs_service *svc)
{
	free(svc->sched_data);
}

/* Knuth's multiplicative hash, as Linux's. */
static inline uint32_t
bucket_of(uint32_t key)
{
	return (key * 2654435761u) >> 24;
}

static int
pick(const struct pgt_ipvs_service *svc, uint32_t key, bool fallback)
{
	const struct hash_table *t = svc->sched_data;
	uint32_t b = bucket_of(key), i;
	int d;

	for (i = 0; i < BUCKETS; i++) {
		d = t->dest[(b + i) % BUCKETS];
		if (d >= 0 && pgt_ipvs_dest_usable(&svc->dests[d]))
			return d;
		if (!fallback)
			return -1;
	}
	return -1;
}

static int
sh_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	uint32_t key = f->src;

	RTE_SET_USED(st);
	if (svc->flags & PGT_IPVS_SVC_SCHED2)	/* sh-port */
		key += f->sport;
	return pick(svc, key, svc->flags & PGT_IPVS_SVC_SCHED1);
}

static int
dh_schedule(const struct pgt_ipvs_service *svc,
	struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f)
{
	RTE_SET_USED(st);
	return pick(svc, f->dst, false);
}

static struct pgt_ipvs_sched_ops sh_ops = {
	.name = "sh", .init = sh_init, .fini = hash_fini,
	.schedule = sh_schedule,
};
static struct pgt_ipvs_sched_ops dh_ops = {
	.name = "dh", .init = dh_init, .fini = hash_fini,
	.schedule = dh_schedule,
};

PGT_IPVS_SCHED_REGISTER(sh_ops);
PGT_IPVS_SCHED_REGISTER(dh_ops);
