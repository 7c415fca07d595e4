/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_PIPELINE_PRIV_H
#define PGT_PIPELINE_PRIV_H

/* Worker state shared by the packet stages and the worker loop. */

#include <rte_ethdev.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "pgt_conntrack.h"
#include "pgt_neigh.h"
#include "pgt_icmp.h"
#include "pgt_ipvs.h"
#include "pgt_pipeline.h"
#include "pgt_pkt.h"
#include "pgt_port.h"
#include "pgt_ruleset.h"
#include "pgt_stats.h"

#define PGT_BURST 32
/* Longest hook program: the most steps a hook has (INPUT's and OUTPUT's
 * seven), and its end. */
#define PGT_HOOK_PROG_LEN 8

struct pgt_tx_stage {
	uint16_t n;
	/* The bytes of pkts, summed as they are staged: sending takes off
	 * those of the packets the port refuses. */
	uint32_t bytes;
	struct rte_mbuf *pkts[PGT_BURST];
};

struct pgt_parked {
	struct rte_mbuf *m;
	uint64_t deadline;	/* TSC */
};

struct pgt_worker {
	unsigned int id;
	uint64_t now;			/* TSC at the start of the iteration */
	const struct pgt_port_view *view; /* valid until quiescent */
	const struct pgt_ruleset *rs;	/* valid until quiescent */
	/* Virtual services, or NULL if none; valid until quiescent. */
	const struct pgt_ipvs_snapshot *ipvs;
	bool tracking;			/* a rule or a service needs it */
	/*
	 * What each hook runs this iteration, for a packet that is tracked
	 * or not (pgt_pipeline_hooks_update()): its steps less the tables
	 * with nothing to do and the steps of what is off, so that a hook
	 * walks only steps with work. Compiled again when hook_key, what
	 * they are made of, changes.
	 */
	uint64_t hook_key;
	uint8_t hook_prog[2][PGT_HOOK_MAX][PGT_HOOK_PROG_LEN];
	/* What each program is, for the common ones that have a shorter
	 * way than walking it (see pgt_pipeline.c). */
	uint8_t hook_shape[2][PGT_HOOK_MAX];
	/* Nothing runs on forwarded packets: no rule at PREROUTING, FORWARD
	 * or POSTROUTING, nothing tracked, nothing traced. */
	bool forward_only;
	/* Tracked, and the hooks a forwarded packet passes are at most
	 * conntrack, NAT and one FORWARD table, whose lead is forward_lead
	 * (all states pass when FORWARD has none): see ct_forward(). */
	bool ct_forward;
	struct pgt_ruleset_lead forward_lead;
	/* The last destination routed this loop iteration, and its next hop
	 * (route_dst 0: none; no packet is routed to 0.0.0.0/8). */
	uint32_t route_dst;
	int route_nh;
	struct pgt_neigh_cache neigh;	/* valid until quiescent */
	struct rte_mempool *pool;
	struct rte_mempool *indirect_pool;
	struct pgt_icmp_limiter icmp;
	/* Packets waiting for ARP, in arrival order (a ring). */
	uint32_t parked_head, parked_count;
	uint32_t neigh_gen_seen;
	uint64_t next_parked_check;
	uint64_t next_host_poll;		/* TSC */
	uint64_t host_poll_cycles;
	/* Fragments waiting for the rest of their datagram (tracking on). */
	struct rte_ip_frag_tbl *frag_tbl;
	struct rte_ip_frag_death_row death_row;
	struct pgt_parked parked[PGT_PIPELINE_NEIGH_QUEUE];
	struct pgt_tx_stage tx[RTE_MAX_ETHPORTS];
} __rte_cache_aligned;

extern struct pgt_pipeline_conf pgt_pipeline_cfg;

/* Stages (pgt_pipeline.c). */
/* Compile w->hook_prog for w->rs, w->ipvs and w->tracking, if they changed
 * what it holds (once per loop iteration, after reading them). */
void pgt_pipeline_hooks_update(struct pgt_worker *w);
void pgt_pipeline_rx_burst(struct pgt_worker *w, uint16_t port,
	struct rte_mbuf **pkts, uint16_t n);
void pgt_pipeline_host_rx_burst(struct pgt_worker *w, uint16_t hp,
	struct rte_mbuf **pkts, uint16_t n);
void pgt_pipeline_l2_send(struct pgt_worker *w, struct rte_mbuf *m,
	const struct rte_ether_addr *dst);
void pgt_pipeline_neigh_fail(struct pgt_worker *w, struct rte_mbuf *m,
	enum pgt_drop reason);
/* Go on with a packet another worker handed over at its conntrack step. */
void pgt_pipeline_resume(struct pgt_worker *w, struct rte_mbuf *m);
/* Drop fragments that waited too long for the rest of their datagram. */
void pgt_pipeline_frag_expire(struct pgt_worker *w);

/* Worker services (pgt_worker.c). */
void pgt_worker_tx_flush(struct pgt_worker *w, uint16_t port);
bool pgt_worker_park(struct pgt_worker *w, struct rte_mbuf *m);

/* The port a packet's counters belong to: arrival, else departure. */
static inline uint16_t
pgt_pkt_stat_port(const struct rte_mbuf *m)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);

	if (meta->in_port != UINT16_MAX)
		return meta->in_port;
	return meta->out_port != UINT16_MAX ? meta->out_port : 0;
}

/*
 * Post TRACE event @p type about @p m, whose trace id is set, at @p hook
 * with ports @p in and @p out (pgt_pipeline.c). @p at_l2: the data starts
 * at an Ethernet header (else at meta->l3_off).
 */
void pgt_pipeline_trace(struct pgt_worker *w, const struct rte_mbuf *m,
	enum pgt_rs_trace_type type, uint8_t hook, uint16_t in, uint16_t out,
	uint32_t arg, bool at_l2);

/* The same for a packet that may be untraced: one test when it is not. */
static inline void
pgt_trace_event(struct pgt_worker *w, const struct rte_mbuf *m,
	enum pgt_rs_trace_type type, uint8_t hook, uint32_t arg, bool at_l2)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);

	if (unlikely(meta->trace != 0))
		pgt_pipeline_trace(w, m, type, hook, meta->in_port,
			meta->out_port, arg, at_l2);
}

/* Copy dropped @p m into the capture buffer (the drop watch is on). */
void pgt_pipeline_drop_copy(struct pgt_worker *w, const struct rte_mbuf *m,
	enum pgt_drop reason);

/* Drop @p m, counted; a new connection it started goes with it. */
static inline void
pgt_drop(struct pgt_worker *w, struct rte_mbuf *m, enum pgt_drop reason)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	pgt_stats_worker[w->id].port[pgt_pkt_stat_port(m)].drop[reason]++;
	pgt_trace_event(w, m, PGT_RS_TRACE_DROP, 0, reason, false);
	if (unlikely(__atomic_load_n(&pgt_ruleset_drop_watch,
			__ATOMIC_RELAXED) & (UINT64_C(1) << reason)))
		pgt_pipeline_drop_copy(w, m, reason);
	if (unlikely(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED))
		pgt_ct_release(w->id, meta);
	rte_pktmbuf_free(m);
}

/* Stage @p m for sending on @p port, whose trace need not be told (an
 * untraced packet, or one without metadata). */
static inline void
pgt_tx_stage_untraced(struct pgt_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct pgt_tx_stage *t = &w->tx[port];

	t->bytes += rte_pktmbuf_pkt_len(m);
	t->pkts[t->n++] = m;
	if (t->n == PGT_BURST)
		pgt_worker_tx_flush(w, port);
}

/* Stage the @p n untraced packets of @p pkts, @p bytes in all, for sending
 * on @p port (none when @p n is 0, whatever @p port is). */
static inline void
pgt_tx_stage_run(struct pgt_worker *w, uint16_t port, struct rte_mbuf **pkts,
	uint16_t n, uint32_t bytes)
{
	struct pgt_tx_stage *t;
	uint16_t i;

	if (n == 0)
		return;
	t = &w->tx[port];
	if (likely(t->n + n <= PGT_BURST)) {
		memcpy(&t->pkts[t->n], pkts, sizeof(*pkts) * n);
		t->n = (uint16_t)(t->n + n);
		t->bytes += bytes;
		if (t->n == PGT_BURST)
			pgt_worker_tx_flush(w, port);
		return;
	}
	for (i = 0; i < n; i++)
		pgt_tx_stage_untraced(w, port, pkts[i]);
}

static inline void
pgt_tx_stage(struct pgt_worker *w, uint16_t port, struct rte_mbuf *m)
{
	pgt_trace_event(w, m, PGT_RS_TRACE_OUT, 0, 0, true);
	pgt_tx_stage_untraced(w, port, m);
}

#endif /* PGT_PIPELINE_PRIV_H */
