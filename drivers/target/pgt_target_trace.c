/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j TRACE (raw table, as libxt_TRACE): non-terminating. Gives the packet a
 * trace id, so that every later step it takes (the rules that match it in
 * each table it crosses, chain ends, conntrack's state, NAT, its fate) is
 * posted as an event for `pktgatectl trace` and the trace_read RPC. The id
 * stays with the packet to the end; answers about it (ICMP errors, resets)
 * carry it too. A packet already traced keeps its id.
 */
#include <rte_common.h>
#include <rte_mbuf.h>

#include "pgt_ruleset.h"

static enum pgt_verdict
trace_exec(const void *data, struct pgt_rs_pkt *p)
{
	RTE_SET_USED(data);
	if (p->meta->trace != 0)
		return PGT_VERDICT_CONTINUE;
	p->meta->trace = pgt_ruleset_trace_id(p->worker);
	pgt_ruleset_trace(p->worker, p->m,
		(uint32_t)((const uint8_t *)p->ip -
			rte_pktmbuf_mtod(p->m, const uint8_t *)),
		false, PGT_RS_TRACE_START, p->hook, p->in_port, p->out_port,
		0);
	return PGT_VERDICT_CONTINUE;
}

static struct pgt_target_ops trace_ops = {
	.name = "TRACE", .size = 0,
	.tables = 1u << PGT_TABLE_RAW,
	.exec = trace_exec,
};
PGT_TARGET_REGISTER(trace_ops);
