/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "pgt_stats.h"

struct pgt_worker_counters pgt_stats_worker[RTE_MAX_LCORE];

#define PGT_X_NAME(e, n) n,
static const char *const counter_names[] = { PGT_COUNTER_LIST(PGT_X_NAME) };
static const char *const drop_names[] = { PGT_DROP_LIST(PGT_X_NAME) };
#undef PGT_X_NAME

const char *
pgt_stats_counter_name(enum pgt_counter c)
{
	return c < PGT_CNT_MAX ? counter_names[c] : "?";
}

const char *
pgt_stats_drop_name(enum pgt_drop d)
{
	return d < PGT_DROP_MAX ? drop_names[d] : "?";
}

void
pgt_stats_port_sum(uint16_t port, unsigned int nb_workers,
	struct pgt_port_counters *out)
{
	const struct pgt_port_counters *pc;
	unsigned int w, i;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < nb_workers; w++) {
		pc = &pgt_stats_worker[w].port[port];
		for (i = 0; i < PGT_CNT_MAX; i++)
			out->cnt[i] += __atomic_load_n(&pc->cnt[i],
				__ATOMIC_RELAXED);
		for (i = 0; i < PGT_DROP_MAX; i++)
			out->drop[i] += __atomic_load_n(&pc->drop[i],
				__ATOMIC_RELAXED);
	}
}

uint64_t
pgt_stats_drops_total(const struct pgt_port_counters *c)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < PGT_DROP_MAX; i++)
		sum += c->drop[i];
	return sum;
}
