/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet stages of a worker: ARP, IPv4 routing, local delivery,
 * forwarding, fragmentation, locally generated packets and the neighbour
 * step. Every function here runs on a worker lcore, for packets that the
 * worker alone owns.
 *
 * Convention: from the routing decision on, an mbuf's data starts at its
 * IPv4 header (meta->l3_off == 0); the Ethernet header is written last, once
 * the neighbour's MAC is known.
 */
/* rte_ip_frag_table_del_expired_entries() is experimental in DPDK 22.11. */
#define ALLOW_EXPERIMENTAL_API 1

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_lpm.h>
#include <rte_prefetch.h>

#include "pgt_inet.h"
#include "pgt_neigh.h"
#include "pgt_pipeline_priv.h"
#include "pgt_route.h"

#define MAX_FRAGMENTS 64
/*
 * How many packets ahead of the one taken a burst's connection is fetched
 * (pgt_ct_lookup_ahead()): several packets' work (a tracked packet is
 * 150-200 cycles) covers a miss to the last level cache or memory.
 */
#define CT_LOOKAHEAD 8

static void ip_output(struct pgt_worker *w, struct rte_mbuf *m);

void __rte_noinline
pgt_pipeline_trace(struct pgt_worker *w, const struct rte_mbuf *m,
	enum pgt_rs_trace_type type, uint8_t hook, uint16_t in, uint16_t out,
	uint32_t arg, bool at_l2)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);
	uint32_t l3 = at_l2 ? sizeof(struct rte_ether_hdr) : meta->l3_off;
	const struct rte_ether_hdr *eth;
	bool arp = false;

	/* Before routing the Ethernet header is still there: it says ARP. */
	if (l3 >= sizeof(*eth) && rte_pktmbuf_data_len(m) >= sizeof(*eth)) {
		eth = rte_pktmbuf_mtod_offset(m, const struct rte_ether_hdr *,
			l3 - sizeof(*eth));
		arp = eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	}
	pgt_ruleset_trace(w->id, m, l3, arp, type, hook, in, out, arg);
}

void
pgt_pipeline_drop_copy(struct pgt_worker *w, const struct rte_mbuf *m,
	enum pgt_drop reason)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);
	struct pgt_rs_nflog_record r;
	uint32_t caplen = RTE_MIN(rte_pktmbuf_pkt_len(m),
		(uint32_t)PGT_RS_NFLOG_SNAP_MAX);
	const void *src;

	/* As it was when dropped: the frame before routing, the IP
	 * packet after (see pgt_pkt_meta.l3_off). */
	src = rte_pktmbuf_read(m, 0, caplen, r.data);
	if (src == NULL)
		return;
	if (src != r.data)
		memcpy(r.data, src, caplen);
	snprintf(r.prefix, sizeof(r.prefix), "%s", pgt_stats_drop_name(reason));
	r.tsc = w->now;
	r.group = 0;
	r.in_port = meta->in_port;
	r.out_port = meta->out_port;
	r.hook = 0;
	r.drop = (uint8_t)(reason + 1);
	r.l2 = meta->l3_off != 0;
	r.caplen = (uint16_t)caplen;
	r.len = (uint16_t)RTE_MIN(rte_pktmbuf_pkt_len(m), (uint32_t)UINT16_MAX);
	pgt_ruleset_nflog_post(w->id, &r);
}

/* ICMP errors */

static void local_output(struct pgt_worker *w, struct rte_mbuf *m);

/*
 * Metadata of a packet pktgate makes: no input port, counted against
 * @p port until routed, no mark (Linux does not reflect marks).
 */
static void
originated(struct rte_mbuf *m, uint16_t port)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	meta->in_port = UINT16_MAX;
	meta->out_port = port;
	meta->mark = 0;
	meta->l2_bcast = 0;
	meta->trace = 0;
	pgt_ct_detach(meta);
}

/*
 * Answers pktgate makes about a packet (ICMP errors, TCP resets) share one
 * token bucket: check it before building anything.
 */
static bool
answer_allowed(struct pgt_worker *w, uint16_t sport)
{
	if (pgt_icmp_allow(&w->icmp, w->now))
		return true;
	PGT_COUNT(w->id, sport, ICMP_RATELIMITED, 1);
	return false;
}

/*
 * Send answer @p m about @p orig (m NULL: none may be sent, or no mbuf was
 * free). It belongs to @p orig's connection, so NAT translates it back.
 */
static void
answer_send(struct pgt_worker *w, struct rte_mbuf *m,
	const struct rte_mbuf *orig, bool no_mbuf, uint16_t sport,
	enum pgt_counter counter)
{
	uint32_t trace;

	if (m == NULL) {
		if (no_mbuf)
			PGT_DROP(w->id, sport, NO_MBUF);
		return;
	}
	originated(m, sport);
	/* An answer about a traced packet is traced as its consequence. */
	trace = pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)orig)->trace;
	if (trace != 0)
		pgt_pkt_meta(m)->trace = PGT_RS_TRACE_DERIVED | trace;
	pgt_ct_attach(m, orig);
	pgt_stats_worker[w->id].port[sport].cnt[counter]++;
	local_output(w, m);
}

/*
 * Send an ICMP error about @p orig, which the caller still owns, from
 * address @p src (host order), or 0 for routing to choose.
 */
static void
icmp_error(struct pgt_worker *w, struct rte_mbuf *orig, uint8_t type,
	uint8_t code, uint32_t info, uint32_t src)
{
	uint16_t sport = pgt_pkt_stat_port(orig);
	struct rte_mbuf *m;
	bool no_mbuf;

	if (!answer_allowed(w, sport))
		return;
	m = pgt_icmp_error(w->pool, orig, type, code, info, &no_mbuf);
	if (m != NULL && src != 0) {
		rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *)->src_addr =
			rte_cpu_to_be_32(src);
		pgt_pkt_meta(m)->src = src;
	}
	answer_send(w, m, orig, no_mbuf, sport, PGT_CNT_ICMP_ERRORS_OUT);
}

/* REJECT --reject-with tcp-reset: answer @p orig, which the caller owns. */
static void
tcp_reset(struct pgt_worker *w, struct rte_mbuf *orig)
{
	uint16_t sport = pgt_pkt_stat_port(orig);
	struct rte_mbuf *m;
	bool no_mbuf;

	if (!answer_allowed(w, sport))
		return;
	m = pgt_icmp_tcp_reset(w->pool, orig, &no_mbuf);
	answer_send(w, m, orig, no_mbuf, sport, PGT_CNT_TCP_RESETS_OUT);
}

/* Drop @p m with @p reason after an ICMP error about it. */
static void
reject(struct pgt_worker *w, struct rte_mbuf *m, uint8_t type, uint8_t code,
	uint32_t info, enum pgt_drop reason)
{
	icmp_error(w, m, type, code, info, 0);
	pgt_drop(w, m, reason);
}

/*
 * What runs at each hook, in Linux's priority order: the tables, and
 * between them connection tracking's steps (lookup at -200, destination NAT
 * at -100, source NAT at 100, confirmation last).
 */
enum {
	STEP_CT = PGT_TABLE_MAX,	/* look up / start the connection */
	STEP_NAT,			/* bind a new one; translate */
	STEP_CONFIRM,			/* insert a new one */
	STEP_IPVS,			/* virtual services (Linux: LOCAL_IN
					 * and LOCAL_OUT, after filter) */
	STEP_END,
};

#define T(x) PGT_TABLE_##x
static const uint8_t hook_steps[PGT_HOOK_MAX][8] = {
	[PGT_HOOK_PREROUTING] = { T(RAW), STEP_CT, T(MANGLE), STEP_NAT,
		STEP_END },
	[PGT_HOOK_INPUT] = { T(MANGLE), T(FILTER), T(SECURITY), STEP_IPVS,
		STEP_NAT, STEP_CONFIRM, STEP_END },
	[PGT_HOOK_FORWARD] = { T(MANGLE), T(FILTER), T(SECURITY), STEP_END },
	[PGT_HOOK_OUTPUT] = { T(RAW), STEP_CT, T(MANGLE), STEP_NAT, T(FILTER),
		T(SECURITY), STEP_IPVS, STEP_END },
	[PGT_HOOK_POSTROUTING] = { T(MANGLE), STEP_NAT, STEP_CONFIRM,
		STEP_END },
};
#undef T

/* A table said drop or reject: do it. */
static void
rule_verdict(struct pgt_worker *w, struct rte_mbuf *m, enum pgt_verdict v,
	const struct pgt_rs_pkt *p)
{
	if (v == PGT_VERDICT_REJECT && p->reject_tcp_reset) {
		tcp_reset(w, m);
		pgt_drop(w, m, PGT_DROP_RULE_REJECT);
	} else if (v == PGT_VERDICT_REJECT) {
		reject(w, m, p->reject_type, p->reject_code, 0,
			PGT_DROP_RULE_REJECT);
	} else {
		pgt_drop(w, m, PGT_DROP_RULE_DROP);
	}
}

static const enum pgt_drop ct_drop_reason[] = {
	[PGT_CT_DROP_FULL] = PGT_DROP_CT_TABLE_FULL,
	[PGT_CT_DROP_CLASH] = PGT_DROP_CT_INSERT_FAILED,
	[PGT_CT_DROP_HANDOFF] = PGT_DROP_CT_HANDOFF_FULL,
};

/* The nat step, for a packet it has work for (not pgt_ct_nat_idle()): a
 * new connection's binding, then the translation. */
static bool
nat_step(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	struct pgt_rs_pkt *p)
{
	enum pgt_nat_manip manip = pgt_hook_manip(hook);
	enum pgt_verdict v;

	if (pgt_ct_nat_needs_rules(w->id, m, manip)) {
		if (pgt_ruleset_table_active(w->rs, PGT_TABLE_NAT, hook)) {
			v = pgt_ruleset_run_table(w->rs, PGT_TABLE_NAT, hook, p);
			if (v != PGT_VERDICT_ACCEPT) {
				pgt_drop(w, m, p->nat_failed ?
					PGT_DROP_NAT_NO_PORT : PGT_DROP_RULE_DROP);
				return false;
			}
		}
		if (pgt_ct_nat_done(w->id, m, manip) != 0) {
			pgt_drop(w, m, PGT_DROP_NAT_NO_PORT);
			return false;
		}
	}
	/* A virtual service's request keeps its VIP until the service
	 * forwards it at INPUT (or the end of OUTPUT), as Linux's IPVS,
	 * which translates it itself, leaves it. */
	if (manip == PGT_NAT_MANIP_DST && p->ct != NULL &&
			(p->ct->status & PGT_CT_S_IPVS) &&
			pgt_ct_info_dir(p->ctinfo) == PGT_CT_DIR_ORIGINAL)
		return true;
	if (pgt_ct_nat_apply(w->id, m, manip)) {
		p->prepared = false;	/* addresses changed: read again */
		if (unlikely(p->meta->trace != 0))
			pgt_pipeline_trace(w, m, PGT_RS_TRACE_NAT,
				(uint8_t)hook, p->in_port, p->out_port,
				manip, false);
	}
	return true;
}

static bool ipvs_step(struct pgt_worker *w, struct rte_mbuf *m);

/* What the hook programs are made of: the ruleset (its serial), whether
 * connections are tracked, whether virtual services are on; the top bit
 * tells a compiled program from a worker's zeroed start. */
static inline uint64_t
hook_key(const struct pgt_worker *w)
{
	uint64_t key = UINT64_C(1) << 63 | pgt_ruleset_flags(w->rs)->serial;

	if (w->tracking)
		key |= UINT64_C(1) << 48;
	if (w->ipvs != NULL)
		key |= UINT64_C(1) << 49;
	return key;
}

/*
 * The programs that have a shorter way than run_hook_steps(): none, only
 * source NAT and confirmation (most packets have nothing for them: every
 * POSTROUTING of a tracking router without mangle rules), the conntrack
 * step and NAT (PREROUTING without raw or mangle rules), one table.
 */
enum {
	SHAPE_STEPS,
	SHAPE_NONE,
	SHAPE_NAT_TAIL,
	SHAPE_CT_NAT,
	SHAPE_TABLE,
};

static uint8_t
hook_shape(const uint8_t *prog)
{
	const uint8_t *step;

	if (prog[0] == STEP_END)
		return SHAPE_NONE;
	if (prog[0] == STEP_CT && prog[1] == STEP_NAT && prog[2] == STEP_END)
		return SHAPE_CT_NAT;
	if (prog[0] < PGT_TABLE_MAX && prog[1] == STEP_END)
		return SHAPE_TABLE;
	for (step = prog; *step != STEP_END; step++)
		if (*step != STEP_NAT && *step != STEP_CONFIRM)
			return SHAPE_STEPS;
	return SHAPE_NAT_TAIL;
}

void
pgt_pipeline_hooks_update(struct pgt_worker *w)
{
	uint64_t key = hook_key(w);
	const uint8_t *step;
	unsigned int tracked, h, n;
	uint8_t *prog;

	if (likely(key == w->hook_key))
		return;
	w->hook_key = key;
	for (tracked = 0; tracked < 2; tracked++) {
		for (h = 0; h < PGT_HOOK_MAX; h++) {
			prog = w->hook_prog[tracked][h];
			n = 0;
			for (step = hook_steps[h]; *step != STEP_END; step++) {
				switch (*step) {
				case STEP_CT:
				case STEP_NAT:
				case STEP_CONFIRM:
					if (!tracked)
						continue;
					break;
				case STEP_IPVS:
					/* It serves connections only. */
					if (!tracked || w->ipvs == NULL)
						continue;
					break;
				default:
					if (!pgt_ruleset_table_active(w->rs,
							*step, h))
						continue;
					break;
				}
				prog[n++] = *step;
			}
			prog[n] = STEP_END;
			w->hook_shape[tracked][h] = hook_shape(prog);
		}
	}
	w->forward_only = !w->tracking && !pgt_pipeline_cfg.trace_all &&
		w->hook_shape[0][PGT_HOOK_PREROUTING] == SHAPE_NONE &&
		w->hook_shape[0][PGT_HOOK_FORWARD] == SHAPE_NONE &&
		w->hook_shape[0][PGT_HOOK_POSTROUTING] == SHAPE_NONE;
	w->ct_forward = w->tracking && !pgt_pipeline_cfg.trace_all &&
		w->hook_shape[1][PGT_HOOK_PREROUTING] == SHAPE_CT_NAT &&
		(w->hook_shape[1][PGT_HOOK_FORWARD] == SHAPE_NONE ||
		 w->hook_shape[1][PGT_HOOK_FORWARD] == SHAPE_TABLE) &&
		(w->hook_shape[1][PGT_HOOK_POSTROUTING] == SHAPE_NONE ||
		 w->hook_shape[1][PGT_HOOK_POSTROUTING] == SHAPE_NAT_TAIL);
	if (w->hook_shape[1][PGT_HOOK_FORWARD] == SHAPE_TABLE) {
		pgt_ruleset_lead(w->rs, w->hook_prog[1][PGT_HOOK_FORWARD][0],
			PGT_HOOK_FORWARD, &w->forward_lead);
	} else {
		/* Nothing to decide: every state passes, counted nowhere. */
		w->forward_lead = (struct pgt_ruleset_lead){
			.state = { 0xff, 0xff }, .verdict = PGT_VERDICT_ACCEPT,
			.counter = UINT32_MAX };
	}
}

/* The conntrack step of @p m at @p hook. @return false when it consumed
 * the packet: handed it to the connection's owner, or dropped it. */
static inline bool
ct_step(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	uint16_t in, uint16_t out)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	enum pgt_ct_verdict cv;

	cv = pgt_ct_in(w->id, m, hook, w->now);
	if (cv == PGT_CT_STOLEN) {
		PGT_COUNT(w->id, pgt_pkt_stat_port(m), CT_HANDOFF, 1);
		return false;
	}
	if (cv != PGT_CT_GO) {
		pgt_drop(w, m, ct_drop_reason[cv]);
		return false;
	}
	if (unlikely(meta->trace != 0))
		pgt_pipeline_trace(w, m, PGT_RS_TRACE_CT, (uint8_t)hook, in,
			out, meta->ct != PGT_PKT_CT_NONE ?
			pgt_ct_get(w->id, meta)->status : 0, false);
	return true;
}

/* What the tables, NAT and virtual services see of @p m at @p hook. */
static inline void
rs_pkt_init(struct pgt_rs_pkt *p, const struct pgt_worker *w,
	struct rte_mbuf *m, uint16_t in, uint16_t out)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	p->m = m;
	p->meta = meta;
	p->ip = pgt_pkt_ipv4(m);
	p->in_port = in;
	p->out_port = out;
	p->worker = w->id;
	p->now = w->now;
	p->ct = pgt_ct_get(w->id, meta);
	p->ctinfo = meta->ctinfo;
	p->nat_failed = false;
	p->prepared = false;
}

/* The steps of run_hook(), when its program has some. Out of line: a
 * packet of a router without rules or tracking never comes here, and the
 * three hooks it passes cost it one test each. The packet's view for the
 * tables (p) is made by the first step that needs it: the conntrack step
 * and a NAT step with nothing to do do not. */
static bool __rte_noinline
run_hook_steps(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	uint16_t in, uint16_t out, bool resume, const uint8_t *step)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	bool have_p = false;
	struct pgt_rs_pkt p;
	enum pgt_verdict v;

	/* A packet handed over goes on at its conntrack step: after the
	 * raw table, the only step before it. */
	if (resume && *step == PGT_TABLE_RAW)
		step++;
	for (; *step != STEP_END; step++) {
		switch (*step) {
		case STEP_CT:
			if (!ct_step(w, hook, m, in, out))
				return false;
			if (have_p) {
				p.ct = pgt_ct_get(w->id, meta);
				p.ctinfo = meta->ctinfo;
			}
			break;
		case STEP_NAT:
			if (pgt_ct_nat_idle(meta, pgt_ct_get(w->id, meta)))
				break;
			if (!have_p)
				rs_pkt_init(&p, w, m, in, out);
			have_p = true;
			if (!nat_step(w, hook, m, &p))
				return false;
			break;
		case STEP_CONFIRM:
			/* Only a new connection has anything to confirm. */
			if ((meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED) &&
					pgt_ct_confirm(w->id, m) != PGT_CT_GO) {
				pgt_drop(w, m, PGT_DROP_CT_INSERT_FAILED);
				return false;
			}
			break;
		case STEP_IPVS:
			if (meta->ct != PGT_PKT_CT_NONE && ipvs_step(w, m))
				return false;
			break;
		default:
			if (!have_p)
				rs_pkt_init(&p, w, m, in, out);
			have_p = true;
			v = pgt_ruleset_run_table(w->rs, *step, hook, &p);
			if (unlikely(v != PGT_VERDICT_ACCEPT)) {
				rule_verdict(w, m, v, &p);
				return false;
			}
			break;
		}
	}
	return true;
}

/* SHAPE_CT_NAT: the conntrack step, then NAT only if it has work. */
static bool __rte_noinline
run_hook_ct_nat(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	uint16_t in, uint16_t out, const uint8_t *prog)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	if (!ct_step(w, hook, m, in, out))
		return false;
	if (pgt_ct_nat_idle(meta, pgt_ct_get(w->id, meta)))
		return true;
	return run_hook_steps(w, hook, m, in, out, false, prog + 1);
}

/* SHAPE_TABLE: table @p table alone. */
static bool __rte_noinline
run_hook_table(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	uint16_t in, uint16_t out, enum pgt_table table)
{
	struct pgt_rs_pkt p;
	enum pgt_verdict v;

	rs_pkt_init(&p, w, m, in, out);
	v = pgt_ruleset_run_table(w->rs, table, hook, &p);
	if (likely(v == PGT_VERDICT_ACCEPT))
		return true;
	rule_verdict(w, m, v, &p);
	return false;
}

/* Has POSTROUTING nothing to run for @p meta's packet, which is untraced?
 * (No program, or one of source NAT and confirmation with nothing to do:
 * not a new connection, not a translated one.) */
static inline bool
postrouting_idle(const struct pgt_worker *w, const struct pgt_pkt_meta *meta)
{
	const bool unconfirmed = meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED;
	const uint8_t shape =
		w->hook_shape[w->tracking || unconfirmed][PGT_HOOK_POSTROUTING];

	if (unlikely(meta->trace != 0))
		return false;
	return shape == SHAPE_NONE || (shape == SHAPE_NAT_TAIL &&
		!unconfirmed && pgt_ct_nat_idle(meta,
			pgt_ct_get(w->id, meta)));
}

/*
 * Run hook @p hook on @p m, whose metadata locates its IPv4 header, from
 * the start or (@p resume) from its conntrack step. @return true to go
 * on; false when the packet was consumed: dropped or rejected (counted),
 * or handed to the worker that owns its connection.
 */
static inline bool
run_hook(struct pgt_worker *w, enum pgt_hook hook, struct rte_mbuf *m,
	uint16_t in, uint16_t out, bool resume)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	/* A connection of its own is tracked to its confirmation. */
	const unsigned int tracked = w->tracking ||
		(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED);
	const uint8_t *prog = w->hook_prog[tracked][hook];

	if (unlikely(meta->trace != 0))
		pgt_pipeline_trace(w, m, PGT_RS_TRACE_HOOK, (uint8_t)hook, in,
			out, 0, false);
	switch (w->hook_shape[tracked][hook]) {
	case SHAPE_NONE:
		return true;
	case SHAPE_NAT_TAIL:
		/* Not new (nothing to confirm, no binding to make), not
		 * translated. */
		if (!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED) &&
				pgt_ct_nat_idle(meta, pgt_ct_get(w->id, meta)))
			return true;
		break;
	case SHAPE_CT_NAT:
		/* No raw table: resuming starts at the beginning. */
		return run_hook_ct_nat(w, hook, m, in, out, prog);
	case SHAPE_TABLE:
		if (resume && prog[0] == PGT_TABLE_RAW)
			return true;
		return run_hook_table(w, hook, m, in, out, prog[0]);
	default:
		break;
	}
	return run_hook_steps(w, hook, m, in, out, resume, prog);
}

void
pgt_pipeline_neigh_fail(struct pgt_worker *w, struct rte_mbuf *m,
	enum pgt_drop reason)
{
	reject(w, m, PGT_ICMP_DEST_UNREACH, PGT_ICMP_UNREACH_HOST, 0, reason);
}

/* Neighbour step and transmit staging */

void
pgt_pipeline_l2_send(struct pgt_worker *w, struct rte_mbuf *m,
	const struct rte_ether_addr *dst)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ether_hdr *eth;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (eth == NULL) {
		pgt_drop(w, m, PGT_DROP_NO_MBUF);
		return;
	}
	rte_ether_addr_copy(dst, &eth->dst_addr);
	rte_ether_addr_copy(&w->view->port[meta->out_port].mac,
		&eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	pgt_tx_stage(w, meta->out_port, m);
}

static void
neigh_xmit(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct pgt_neigh_msg msg;
	struct rte_ether_addr mac;
	int rc;

	rc = pgt_neigh_lookup_cached(&w->neigh, meta->nexthop, meta->out_port,
		&mac);
	if (likely(rc == 0)) {
		pgt_pipeline_l2_send(w, m, &mac);
		return;
	}
	if (rc == -EHOSTUNREACH) {
		pgt_pipeline_neigh_fail(w, m, PGT_DROP_NEIGH_FAILED);
		return;
	}
	if (rc == -ENOENT) {
		msg = (struct pgt_neigh_msg){ .addr = meta->nexthop,
			.port = meta->out_port,
			.type = PGT_NEIGH_MSG_RESOLVE };
		pgt_neigh_post(w->id, &msg);
	}
	if (!pgt_worker_park(w, m)) {
		pgt_drop(w, m, PGT_DROP_NEIGH_QUEUE_FULL);
		return;
	}
	PGT_COUNT(w->id, pgt_pkt_stat_port(m), NEIGH_QUEUED, 1);
	pgt_trace_event(w, m, PGT_RS_TRACE_QUEUED, 0, meta->nexthop, false);
}

/* Fragment @p m (data at its IPv4 header) to the MTU of its output port. */
static void
fragment(struct pgt_worker *w, struct rte_mbuf *m, uint16_t mtu)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_mbuf *frags[MAX_FRAGMENTS];
	struct rte_ipv4_hdr *ip;
	int n, i;

	n = rte_ipv4_fragment_packet(m, frags, MAX_FRAGMENTS, mtu, w->pool,
		w->indirect_pool);
	if (n < 0) {
		pgt_drop(w, m, n == -ENOMEM ? PGT_DROP_NO_MBUF :
			PGT_DROP_FRAG_FAILED);
		return;
	}
	for (i = 0; i < n; i++) {
		*pgt_pkt_meta(frags[i]) = *meta;
		ip = rte_pktmbuf_mtod(frags[i], struct rte_ipv4_hdr *);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		neigh_xmit(w, frags[i]);
	}
	PGT_COUNT(w->id, meta->out_port, FRAGMENTS_OUT, (uint64_t)n);
	rte_pktmbuf_free(m);
}

/*
 * Hand @p m (data at its Ethernet header) to the host interface of data port
 * @p port: the host kernel takes it from there.
 */
static void
host_punt(struct pgt_worker *w, struct rte_mbuf *m, uint16_t port)
{
	uint16_t hp = w->view->port[port].host_port;

	if (hp == PGT_PORT_NONE) {
		pgt_drop(w, m, PGT_DROP_LOCAL_UNHANDLED);
		return;
	}
	if (unlikely(!w->view->port[hp].up)) {
		pgt_drop(w, m, PGT_DROP_PORT_DOWN);
		return;
	}
	PGT_COUNT(w->id, port, HOST_PUNTED, 1);
	pgt_tx_stage(w, hp, m);
}

/*
 * A packet pktgate itself (or the host) sent to one of its own addresses,
 * data at its IPv4 header with a final checksum: to the host, as if
 * received on @p port.
 */
static void
host_deliver(struct pgt_worker *w, struct rte_mbuf *m, uint16_t port)
{
	const struct pgt_port *p = &w->view->port[port];
	struct rte_ether_hdr *eth;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (eth == NULL) {
		pgt_drop(w, m, PGT_DROP_NO_MBUF);
		return;
	}
	rte_ether_addr_copy(&p->mac, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	host_punt(w, m, port);
}

/* After POSTROUTING: send @p m (data at IPv4 header, out_port and
 * nexthop set) out of its port, fragmented if it must be. */
static void
ip_send(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_port *out = &w->view->port[meta->out_port];
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

	if (unlikely(!out->up)) {
		pgt_drop(w, m, PGT_DROP_PORT_DOWN);
		return;
	}
	if (unlikely(rte_pktmbuf_pkt_len(m) > out->mtu)) {
		if (ip->fragment_offset &
				rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
			reject(w, m, PGT_ICMP_DEST_UNREACH,
				PGT_ICMP_UNREACH_FRAG_NEEDED,
				out->mtu, PGT_DROP_FRAG_NEEDED);
			return;
		}
		fragment(w, m, out->mtu);
		return;
	}
	neigh_xmit(w, m);
}

/* Send @p m (data at IPv4 header, out_port and nexthop set) on its way. */
static void
ip_output(struct pgt_worker *w, struct rte_mbuf *m)
{
	if (run_hook(w, PGT_HOOK_POSTROUTING, m, PGT_PORT_NONE,
			pgt_pkt_meta(m)->out_port, false))
		ip_send(w, m);
}

/*
 * Route a locally generated packet by meta->dst: sets out_port and
 * nexthop. @return PGT_NH_UNICAST or PGT_NH_LOCAL, or -1 when it was
 * dropped (no route, broadcast, blackhole, unreachable).
 */
static int
output_route(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_nexthop *nh;
	int idx;

	idx = pgt_route_lookup(meta->dst);
	if (idx < 0) {
		pgt_drop(w, m, PGT_DROP_NO_ROUTE);
		return -1;
	}
	nh = &pgt_route_nexthops[idx];
	switch (nh->type) {
	case PGT_NH_UNICAST:
	case PGT_NH_LOCAL:
		meta->out_port = nh->port;
		meta->nexthop = nh->gw != 0 ? nh->gw : meta->dst;
		return nh->type;
	case PGT_NH_BROADCAST:
		pgt_drop(w, m, PGT_DROP_LOCAL_UNHANDLED);
		return -1;
	case PGT_NH_BLACKHOLE:
		pgt_drop(w, m, PGT_DROP_BLACKHOLE);
		return -1;
	default:
		pgt_drop(w, m, PGT_DROP_UNREACHABLE);
		return -1;
	}
}

/*
 * OUTPUT, from the start or (@p resume) from its conntrack step; routed
 * again if NAT changed the destination; then out, or to the host if it is
 * for the box itself (a REDIRECT, an ICMP error about the host's own
 * packet), after POSTROUTING as Linux's loopback would run it.
 */
static void
output_hooks(struct pgt_worker *w, struct rte_mbuf *m, int nh_type,
	bool resume)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	uint32_t dst = meta->dst;

	if (!run_hook(w, PGT_HOOK_OUTPUT, m, PGT_PORT_NONE, meta->out_port,
			resume))
		return;
	if (resume || meta->dst != dst) {
		nh_type = output_route(w, m);
		if (nh_type < 0)
			return;
	}
	if (nh_type == PGT_NH_LOCAL) {
		if (!run_hook(w, PGT_HOOK_POSTROUTING, m, PGT_PORT_NONE,
				meta->out_port, false))
			return;
		host_deliver(w, m, meta->out_port);
		return;
	}
	ip_output(w, m);
}

/*
 * A packet pktgate originates (data at its IPv4 header, meta->dst set, IP
 * source 0 unless already chosen): route it, pick its source address, finish
 * its header and send it.
 */
static void
local_output(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	uint32_t src;
	int type;

	meta->l3_off = 0;
	type = output_route(w, m);
	if (type < 0)
		return;
	if (ip->src_addr == 0) {
		if (type == PGT_NH_LOCAL)
			src = meta->dst;
		else if (pgt_port_select_src(&w->view->port[meta->out_port],
				meta->dst, &src) < 0) {
			pgt_drop(w, m, PGT_DROP_NO_ROUTE);
			return;
		}
		ip->src_addr = rte_cpu_to_be_32(src);
		meta->src = src;
	}
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	output_hooks(w, m, type, false);
}

/* One less TTL in @p ip (above 1), its checksum updated. */
static inline void
ttl_decrement_sum(struct rte_ipv4_hdr *ip)
{
	uint32_t sum;

	/* TTL is the high byte of its 16-bit checksum word: one less there
	 * is 0x0100 more in the one's complement sum (RFC 1624), with the
	 * end-around carry, as Linux's ip_decrease_ttl(). */
	ip->time_to_live--;
	sum = (uint32_t)ip->hdr_checksum + rte_cpu_to_be_16(0x0100);
	ip->hdr_checksum = (uint16_t)(sum + (sum >= 0xffff));
}

/*
 * Decrement the TTL of @p m (a forwarded packet), or answer time exceeded
 * and drop it: @return false then.
 */
static inline bool
ttl_decrement(struct pgt_worker *w, struct rte_mbuf *m,
	struct rte_ipv4_hdr *ip)
{
	if (unlikely(ip->time_to_live <= 1)) {
		reject(w, m, PGT_ICMP_TIME_EXCEEDED, 0, 0,
			PGT_DROP_TTL_EXCEEDED);
		return false;
	}
	ttl_decrement_sum(ip);
	return true;
}

/* Virtual services */

/* IPIP (RFC 2003) to real server @p rs: the outer header's source is the
 * output port's address; TOS, TTL and DF are the inner packet's. */
static bool
ipip_encap(struct pgt_worker *w, struct rte_mbuf *m, uint32_t rs)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_port *out = &w->view->port[meta->out_port];
	struct rte_ipv4_hdr *in = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	struct rte_ipv4_hdr *ip;
	uint32_t len = rte_pktmbuf_pkt_len(m), src;

	if ((in->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) &&
			len + sizeof(*ip) > out->mtu) {
		reject(w, m, PGT_ICMP_DEST_UNREACH, PGT_ICMP_UNREACH_FRAG_NEEDED,
			out->mtu - (uint32_t)sizeof(*ip),
			PGT_DROP_FRAG_NEEDED);
		return false;
	}
	if (pgt_port_select_src(out, rs, &src) < 0) {
		pgt_drop(w, m, PGT_DROP_IPVS_NO_ROUTE);
		return false;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (ip == NULL) {
		pgt_drop(w, m, PGT_DROP_NO_MBUF);
		return false;
	}
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = in->type_of_service;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len + sizeof(*ip)));
	ip->packet_id = 0;
	ip->fragment_offset = in->fragment_offset &
		rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = in->time_to_live;
	ip->next_proto_id = IPPROTO_IPIP;
	ip->src_addr = rte_cpu_to_be_32(src);
	ip->dst_addr = rte_cpu_to_be_32(rs);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	meta->src = src;
	meta->dst = rs;
	meta->proto = IPPROTO_IPIP;
	meta->l3_hlen = sizeof(*ip);
	return true;
}

/*
 * Send a request of virtual service connection @p c to its real server:
 * NAT and full-NAT translate it; direct routing sends it unchanged to the
 * server's MAC; a tunnel wraps it. Then it leaves as a forwarded packet
 * (TTL, POSTROUTING) does.
 */
static void
ipvs_xmit(struct pgt_worker *w, struct rte_mbuf *m,
	const struct pgt_ct_conn *c)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_nexthop *nh;
	struct rte_ipv4_hdr *ip;
	uint32_t rs;
	int idx;

	if (c->ipvs_method == PGT_IPVS_MASQ ||
			c->ipvs_method == PGT_IPVS_FULLNAT) {
		pgt_ct_nat_apply(w->id, m, PGT_NAT_MANIP_DST);
		pgt_ct_nat_apply(w->id, m, PGT_NAT_MANIP_SRC);
		rs = meta->dst;
	} else {
		rs = pgt_ipvs_dest_addr(c->ipvs_dest);
	}
	idx = pgt_route_lookup(rs);
	nh = idx >= 0 ? &pgt_route_nexthops[idx] : NULL;
	if (nh == NULL || nh->type != PGT_NH_UNICAST) {
		reject(w, m, PGT_ICMP_DEST_UNREACH, PGT_ICMP_UNREACH_HOST, 0,
			PGT_DROP_IPVS_NO_ROUTE);
		return;
	}
	ip = pgt_pkt_ipv4(m);
	if (meta->in_port != PGT_PORT_NONE && !ttl_decrement(w, m, ip))
		return;
	rte_pktmbuf_adj(m, meta->l3_off);
	meta->l3_off = 0;
	meta->out_port = nh->port;
	/* Direct routing and tunnels reach the server itself. */
	meta->nexthop = nh->gw != 0 && c->ipvs_method != PGT_IPVS_ROUTE ?
		nh->gw : rs;
	if (c->ipvs_method == PGT_IPVS_TUNNEL && !ipip_encap(w, m, rs))
		return;
	PGT_COUNT(w->id, pgt_pkt_stat_port(m), IPVS_FORWARDED, 1);
	pgt_trace_event(w, m, PGT_RS_TRACE_IPVS, 0, c->ipvs_method, false);
	ip_output(w, m);
}

/*
 * The virtual services' step: schedule a new connection to a service, or
 * forward a request of one. @return true if the packet was consumed;
 * false to go on (not a service's, or a TCP segment that starts nothing).
 */
static bool
ipvs_step(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_ipvs_service *svc;
	const struct pgt_ct_conn *c = pgt_ct_get(w->id, meta);

	if (c == NULL || meta->frag)
		return false;
	if (c->status & PGT_CT_S_IPVS) {
		if (pgt_ct_info_dir(meta->ctinfo) != PGT_CT_DIR_ORIGINAL)
			return false;
		ipvs_xmit(w, m, c);
		return true;
	}
	if (!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED))
		return false;
	svc = pgt_ipvs_lookup(w->ipvs, meta->proto, meta->dst,
		c->tuple[PGT_CT_DIR_ORIGINAL].dport, meta->mark);
	if (svc == NULL)
		return false;
	switch (pgt_ipvs_schedule(w->id, w->ipvs, svc, m, w->now)) {
	case PGT_IPVS_OK:
		ipvs_xmit(w, m, c);
		return true;
	case PGT_IPVS_NO_DEST:
		/* Linux: port unreachable (or a reset) from the VIP,
		 * rate-limited. */
		if (meta->proto == IPPROTO_TCP && pgt_ipvs_cfg.reject_tcp_reset)
			tcp_reset(w, m);
		else
			icmp_error(w, m, PGT_ICMP_DEST_UNREACH,
				PGT_ICMP_UNREACH_PORT, 0, meta->dst);
		pgt_drop(w, m, PGT_DROP_IPVS_NO_DEST);
		return true;
	case PGT_IPVS_NO_PORT:
		pgt_drop(w, m, PGT_DROP_NAT_NO_PORT);
		return true;
	default:
		return false;
	}
}

/* Local delivery */

static void
local_input(struct pgt_worker *w, struct rte_mbuf *m, uint8_t nh_type)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_icmp_hdr *icmp;

	if (!run_hook(w, PGT_HOOK_INPUT, m, meta->in_port, PGT_PORT_NONE,
			false))
		return;
	/* The fast path's own answers; then the host. */
	PGT_COUNT(w->id, meta->in_port, LOCAL_IN, 1);
	pgt_trace_event(w, m, PGT_RS_TRACE_LOCAL, 0, 0, false);
	if (meta->frag) {
		/* The host reassembles; pktgate answers nothing fragmented. */
		if (w->view->port[meta->in_port].host_port == PGT_PORT_NONE) {
			pgt_drop(w, m, PGT_DROP_LOCAL_FRAGMENT);
			return;
		}
		host_punt(w, m, meta->in_port);
		return;
	}
	if (meta->proto == IPPROTO_ICMP && nh_type == PGT_NH_LOCAL &&
			!meta->l2_bcast &&
			rte_pktmbuf_data_len(m) >= meta->l3_off +
				meta->l3_hlen + sizeof(*icmp)) {
		icmp = rte_pktmbuf_mtod_offset(m, const struct rte_icmp_hdr *,
			meta->l3_off + meta->l3_hlen);
		if (icmp->icmp_type == PGT_ICMP_ECHO_REQUEST &&
				icmp->icmp_code == 0) {
			if (pgt_icmp_echo_reply(m) < 0) {
				pgt_drop(w, m, PGT_DROP_ICMP_MALFORMED);
				return;
			}
			PGT_COUNT(w->id, meta->in_port, ICMP_ECHO_REPLIES, 1);
			if (unlikely(meta->trace != 0)) {
				pgt_pipeline_trace(w, m,
					PGT_RS_TRACE_ANSWERED, 0,
					meta->in_port, PGT_PORT_NONE, 0,
					false);
				meta->trace |= PGT_RS_TRACE_DERIVED;
			}
			/* A new packet now: the request's mark and connection
			 * stay behind (the reply finds its own). */
			meta->mark = 0;
			pgt_ct_detach(meta);
			local_output(w, m);
			return;
		}
	}
	host_punt(w, m, meta->in_port);
}

/* Forwarding */

static void
forward(struct pgt_worker *w, struct rte_mbuf *m, const struct pgt_nexthop *nh)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ipv4_hdr *ip = pgt_pkt_ipv4(m);
	const struct pgt_port *out;
	struct rte_ether_addr mac;
	struct rte_ether_hdr *eth;

	/* RFC 1812 5.3.4: no forwarding of link-layer broadcasts. */
	if (unlikely(meta->l2_bcast)) {
		pgt_drop(w, m, PGT_DROP_L2_BCAST_FORWARD);
		return;
	}
	if (!ttl_decrement(w, m, ip))
		return;

	meta->out_port = nh->port;
	meta->nexthop = nh->gw != 0 ? nh->gw : meta->dst;
	/* As Linux: FORWARD sees the decremented TTL and the output port. */
	if (!run_hook(w, PGT_HOOK_FORWARD, m, meta->in_port, nh->port, false))
		return;
	PGT_COUNT(w->id, meta->in_port, FORWARDED, 1);
	/* The usual packet: POSTROUTING has nothing for it, so nothing sees
	 * it before it leaves, the port is up, it fits, the neighbour is
	 * known. The received frame's Ethernet addresses are rewritten in
	 * place; else the header goes and ip_send() writes a new one. */
	out = &w->view->port[nh->port];
	if (likely(postrouting_idle(w, meta) &&
			meta->l3_off == sizeof(*eth) && out->up &&
			rte_pktmbuf_pkt_len(m) - sizeof(*eth) <= out->mtu &&
			pgt_neigh_lookup_cached(&w->neigh, meta->nexthop,
				nh->port, &mac) == 0)) {
		eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		eth->dst_addr = mac;
		eth->src_addr = out->mac;
		pgt_tx_stage_untraced(w, nh->port, m);
		return;
	}
	rte_pktmbuf_adj(m, meta->l3_off);
	meta->l3_off = 0;
	if (run_hook(w, PGT_HOOK_POSTROUTING, m, PGT_PORT_NONE, nh->port,
			false))
		ip_send(w, m);
}

/* The next hop of rte_lpm's answer @p hop, the default route's on a miss;
 * -1 when there is none. */
static inline int
hop_nexthop(uint32_t hop)
{
	if (likely(hop & RTE_LPM_LOOKUP_SUCCESS))
		return (int)(hop & 0x00ffffff);
	return pgt_route_default();
}

static void
ip_route(struct pgt_worker *w, struct rte_mbuf *m, uint32_t hop)
{
	const struct pgt_nexthop *nh;
	int idx = hop_nexthop(hop);

	if (idx < 0) {
		reject(w, m, PGT_ICMP_DEST_UNREACH, PGT_ICMP_UNREACH_NET, 0,
			PGT_DROP_NO_ROUTE);
		return;
	}
	nh = &pgt_route_nexthops[idx];
	switch (nh->type) {
	case PGT_NH_UNICAST:
		forward(w, m, nh);
		return;
	case PGT_NH_LOCAL:
	case PGT_NH_BROADCAST:
		local_input(w, m, nh->type);
		return;
	case PGT_NH_BLACKHOLE:
		pgt_drop(w, m, PGT_DROP_BLACKHOLE);
		return;
	case PGT_NH_UNREACHABLE:
		reject(w, m, PGT_ICMP_DEST_UNREACH, PGT_ICMP_UNREACH_HOST, 0,
			PGT_DROP_UNREACHABLE);
		return;
	default:
		reject(w, m, PGT_ICMP_DEST_UNREACH,
			PGT_ICMP_UNREACH_ADMIN, 0,
			PGT_DROP_PROHIBITED);
		return;
	}
}

/* ARP */

static void
arp_input(struct pgt_worker *w, struct rte_mbuf *m, uint16_t port)
{
	const struct pgt_port *p = &w->view->port[port];
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	struct pgt_neigh_msg msg;
	uint32_t sip, tip;

	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, meta->l3_off);
	sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
	tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
	msg = (struct pgt_neigh_msg){ .addr = sip, .port = port,
		.mac = arp->arp_data.arp_sha };

	/* Our own announcement looped back, or another host claiming one of
	 * our addresses: neither may teach us a neighbour. */
	if (rte_is_same_ether_addr(&arp->arp_data.arp_sha, &p->mac) ||
			pgt_port_has_addr(p, sip)) {
		pgt_drop(w, m, PGT_DROP_ARP_OWN_ADDRESS);
		return;
	}
	if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
		PGT_COUNT(w->id, port, ARP_REPLIES_IN, 1);
		msg.type = PGT_NEIGH_MSG_REPLY;
		pgt_neigh_post(w->id, &msg);
		/* The host resolves its own next hops through this port: the
		 * answers to it are the answers to us. */
		if (p->host_port != PGT_PORT_NONE && pgt_port_has_addr(p, tip)) {
			host_punt(w, m, port);
			return;
		}
		pgt_trace_event(w, m, PGT_RS_TRACE_CONSUMED, 0, 0, false);
		rte_pktmbuf_free(m);
		return;
	}
	PGT_COUNT(w->id, port, ARP_REQUESTS_IN, 1);
	/* VIPs and full-NAT local addresses are ours on every port. */
	if (!pgt_port_has_addr(p, tip) && (w->ipvs == NULL ||
			!pgt_ipvs_owns_addr(w->ipvs, tip))) {
		/* A gratuitous ARP refreshes an entry we already have. */
		if (sip == tip && sip != 0) {
			msg.type = PGT_NEIGH_MSG_REPLY;
			pgt_neigh_post(w->id, &msg);
		}
		pgt_drop(w, m, PGT_DROP_ARP_NOT_FOR_US);
		return;
	}
	/* An address probe (RFC 5227) has sender 0: answer, learn nothing. */
	if (sip != 0) {
		msg.type = PGT_NEIGH_MSG_REQUEST;
		pgt_neigh_post(w->id, &msg);
	}
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = p->mac;
	arp->arp_data.arp_sip = rte_cpu_to_be_32(tip);
	eth->dst_addr = arp->arp_data.arp_tha;
	eth->src_addr = p->mac;
	/* Reply frames are 42 bytes; the NIC or the peer pads them. */
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - meta->l3_off -
		(uint16_t)sizeof(*arp));
	PGT_COUNT(w->id, port, ARP_REPLIES_OUT, 1);
	pgt_tx_stage(w, port, m);
}

/* Reassembly (before conntrack, as Linux's defrag at -400) */

/* Count and free what the reassembly gave up: timeouts, overlaps, too
 * many fragments, a full table. */
static void
free_death_row(struct pgt_worker *w)
{
	struct rte_ip_frag_death_row *dr = &w->death_row;
	uint32_t i;

	for (i = 0; i < dr->cnt; i++)
		PGT_DROP(w->id, pgt_pkt_stat_port(dr->row[i]), REASSEMBLY);
	rte_ip_frag_free_death_row(dr, 0);
}

/* Add fragment @p m; @return the whole datagram once complete, or NULL. */
static struct rte_mbuf *
reassemble(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ipv4_hdr *ip;
	struct rte_mbuf *r;

	m->l2_len = meta->l3_off;
	m->l3_len = meta->l3_hlen;
	r = rte_ipv4_frag_reassemble_packet(w->frag_tbl, &w->death_row, m,
		w->now, pgt_pkt_ipv4(m));
	if (w->death_row.cnt > 0)
		free_death_row(w);
	if (r == NULL)
		return NULL;
	meta = pgt_pkt_meta(r);
	ip = pgt_pkt_ipv4(r);
	meta->frag = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	PGT_COUNT(w->id, meta->in_port, REASSEMBLED, 1);
	return r;
}

void
pgt_pipeline_frag_expire(struct pgt_worker *w)
{
	rte_ip_frag_table_del_expired_entries(w->frag_tbl, &w->death_row,
		w->now);
	if (w->death_row.cnt > 0)
		free_death_row(w);
}

/* The received burst */

/*
 * Is @p m a virtual service's (a request of one of its connections, or
 * a new connection to one)? It goes to INPUT then, as in Linux, where the
 * VIP is a local address; here it need not be one.
 */
static bool
for_ipvs(struct pgt_worker *w, struct rte_mbuf *m)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_ct_conn *c = pgt_ct_get(w->id, meta);

	if (c == NULL || meta->frag)
		return false;
	if (c->status & PGT_CT_S_IPVS)
		return pgt_ct_info_dir(meta->ctinfo) == PGT_CT_DIR_ORIGINAL;
	if (!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED))
		return false;
	return pgt_ipvs_lookup(w->ipvs, meta->proto, meta->dst,
		c->tuple[PGT_CT_DIR_ORIGINAL].dport, meta->mark) != NULL;
}

/* After PREROUTING: to the box, or routed. */
static void
prerouting_done(struct pgt_worker *w, struct rte_mbuf *m)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	uint32_t hop;

	if (w->ipvs != NULL && for_ipvs(w, m)) {
		local_input(w, m, PGT_NH_LOCAL);
		return;
	}
	if (meta->dst == UINT32_MAX) {
		local_input(w, m, PGT_NH_BROADCAST);
	} else if (pgt_inet_is_multicast(meta->dst)) {
		pgt_drop(w, m, PGT_DROP_IP_MULTICAST);
	} else {
		if (rte_lpm_lookup(pgt_route_lpm, meta->dst, &hop) == 0)
			hop |= RTE_LPM_LOOKUP_SUCCESS;
		else
			hop = 0;
		ip_route(w, m, hop);
	}
}

void
pgt_pipeline_resume(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	if (meta->ct_hook == PGT_HOOK_OUTPUT) {
		output_hooks(w, m, PGT_NH_UNICAST, true);
		return;
	}
	if (run_hook(w, PGT_HOOK_PREROUTING, m, meta->in_port, PGT_PORT_NONE,
			true))
		prerouting_done(w, m);
}

/*
 * A whole tracked IPv4 packet while PREROUTING runs conntrack alone (and
 * NAT), FORWARD at most one table and POSTROUTING at most source NAT and
 * confirmation (w->ct_forward): a packet of a confirmed connection (not a
 * virtual service's), routed to a resolved unicast next hop with TTL to
 * spare and room for it, whose FORWARD table's first rule accepts it by
 * its conntrack state (the usual ESTABLISHED accept; or FORWARD has no
 * table), has nothing left to run but its connection's translation: it
 * is translated at PREROUTING and POSTROUTING as the NAT steps would,
 * counted as the rule would count it and forwarded as forward() would,
 * its Ethernet addresses rewritten in place. The checks come before the
 * rest, and any packet that fails one goes on by the general path from
 * the routing decision, untouched since PREROUTING.
 */
static void
ct_forward(struct pgt_worker *w, uint16_t port, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_ruleset_lead *lead = &w->forward_lead;
	const struct pgt_nexthop *nh;
	const struct pgt_port *out;
	const struct pgt_ct_conn *c;
	struct rte_ether_addr mac;
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	uint32_t hop;

	/* PREROUTING: its program is the conntrack step and NAT. */
	if (unlikely(meta->trace != 0)) {
		if (run_hook(w, PGT_HOOK_PREROUTING, m, port, PGT_PORT_NONE,
				false))
			prerouting_done(w, m);
		return;
	}
	if (!ct_step(w, PGT_HOOK_PREROUTING, m, port, PGT_PORT_NONE))
		return;
	c = pgt_ct_get(w->id, meta);
	if (unlikely(c == NULL || (meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED) ||
			(c->status & PGT_CT_S_IPVS))) {
		/* A new connection's binding, a virtual service's. */
		if (pgt_ct_nat_idle(meta, c) || run_hook_steps(w,
				PGT_HOOK_PREROUTING, m, port, PGT_PORT_NONE,
				false, w->hook_prog[1][PGT_HOOK_PREROUTING] + 1))
			prerouting_done(w, m);
		return;
	}
	/* The NAT step of a confirmed connection: its translation, if it
	 * has one (pgt_ct_nat_apply() knows the direction). */
	if (c->status & PGT_CT_S_NAT_MASK)
		pgt_ct_nat_apply(w->id, m, PGT_NAT_MANIP_DST);
	if (unlikely(
			!((lead->state[1] >> meta->ctinfo) & 1) ||
			lead->verdict != PGT_VERDICT_ACCEPT ||
			meta->l2_bcast || meta->l3_off != sizeof(*eth) ||
			meta->dst >= UINT32_C(0xe0000000)))
		goto general;
	/* Consecutive packets to one destination are routed once. */
	if (meta->dst != w->route_dst) {
		w->route_nh = hop_nexthop(rte_lpm_lookup(pgt_route_lpm,
			meta->dst, &hop) == 0 ? hop | RTE_LPM_LOOKUP_SUCCESS : 0);
		w->route_dst = meta->dst;
	}
	if (w->route_nh < 0)
		goto general;
	nh = &pgt_route_nexthops[w->route_nh];
	out = &w->view->port[nh->port];
	ip = pgt_pkt_ipv4(m);
	if (nh->type != PGT_NH_UNICAST || !out->up || ip->time_to_live <= 1 ||
			rte_pktmbuf_pkt_len(m) - sizeof(*eth) > out->mtu)
		goto general;
	meta->out_port = nh->port;
	meta->nexthop = nh->gw != 0 ? nh->gw : meta->dst;
	if (pgt_neigh_lookup_cached(&w->neigh, meta->nexthop, nh->port,
			&mac) != 0)
		goto general;
	if (lead->counter != UINT32_MAX)
		pgt_ruleset_count(w->id, lead->counter,
			rte_be_to_cpu_16(ip->total_length));
	ttl_decrement_sum(ip);
	PGT_COUNT(w->id, port, FORWARDED, 1);
	/* POSTROUTING: source NAT, the only step with work for it. */
	if (c->status & PGT_CT_S_NAT_MASK)
		pgt_ct_nat_apply(w->id, m, PGT_NAT_MANIP_SRC);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = mac;
	eth->src_addr = out->mac;
	pgt_tx_stage_untraced(w, nh->port, m);
	return;
general:
	prerouting_done(w, m);
}

/* Received packet @p m of kind @p kind (its parse done), at @p port. */
static void
rx_packet(struct pgt_worker *w, uint16_t port, struct rte_mbuf *m,
	uint8_t kind)
{
	struct pgt_pkt_meta *meta;

	switch (kind) {
	case PGT_PKT_IPV4:
		meta = pgt_pkt_meta(m);
		if (w->ct_forward && !meta->frag) {
			ct_forward(w, port, m);
			return;
		}
		if (w->tracking && meta->frag) {
			pgt_trace_event(w, m, PGT_RS_TRACE_REASSEMBLY, 0, 0,
				false);
			m = reassemble(w, m);
			if (m == NULL)
				return;
		}
		if (run_hook(w, PGT_HOOK_PREROUTING, m, port, PGT_PORT_NONE,
				false))
			prerouting_done(w, m);
		return;
	case PGT_PKT_ARP:
		arp_input(w, m, port);
		return;
	default:
		pgt_drop(w, m, pgt_pkt_meta(m)->drop);
		return;
	}
}

/*
 * A burst while nothing is to be run on forwarded packets (no rule at
 * PREROUTING, FORWARD or POSTROUTING, nothing tracked or traced): a usual
 * frame (pgt_pkt_usual_ipv4()) routed to a unicast next hop that is up and
 * resolved, that needs no fragmenting and has TTL to spare, only has its
 * TTL and Ethernet addresses rewritten, in place, in one pass, and is
 * staged without metadata (nothing reads it once a packet is sent). Any
 * other packet is parsed and takes the general path at once, in its place
 * in the burst. Consecutive packets mostly share a next hop, and then its
 * checks, its neighbour and their run of packets to stage together.
 */
static void
forward_burst(struct pgt_worker *w, uint16_t port, struct rte_mbuf **pkts,
	uint16_t n)
{
	const uint64_t mac = pgt_pkt_mac_word(&w->view->port[port].mac);
	/* The run of packets for out_port not staged yet, and its bytes. */
	struct rte_mbuf *run[PGT_BURST];
	uint32_t run_bytes = 0;
	uint16_t nb_run = 0, out_port = PGT_PORT_NONE, nb_general = 0, i;
	const struct pgt_port *out = NULL;
	uint32_t gw = 0, mtu = 0, nexthop, last_nexthop = 0, dst, hop, len;
	uint32_t last_dst = 0;
	uint64_t rx_bytes = 0;
	/* The new Ethernet addresses as the header's first 8 and next 4
	 * bytes. */
	uint64_t l2_first = 0;
	uint32_t l2_next = 0;
	struct rte_ether_addr nmac;
	const struct pgt_nexthop *nh;
	struct rte_ipv4_hdr *ip;
	int nh_idx = -1, last_nh = -1;
	bool resolved = false;
	struct rte_mbuf *m;
	uint8_t *eth;

	for (i = 0; i < n; i++) {
		m = pkts[i];
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		rx_bytes += rte_pktmbuf_pkt_len(m);
		ip = pgt_pkt_usual_ipv4(m, mac);
		if (ip == NULL)
			goto general;
		/* Multicast, 240/4 and the broadcast are not forwarded so. */
		if (*(const uint8_t *)&ip->dst_addr >= 224)
			goto general;
		dst = rte_be_to_cpu_32(ip->dst_addr);
		/* A run to one destination is routed once. */
		if (dst != last_dst || last_nh < 0) {
			nh_idx = hop_nexthop(rte_lpm_lookup(pgt_route_lpm, dst,
				&hop) == 0 ? hop | RTE_LPM_LOOKUP_SUCCESS : 0);
			last_dst = dst;
		}
		if (nh_idx != last_nh) {
			/* Only a unicast next hop by a port that is up. */
			last_nh = -1;
			if (nh_idx < 0)
				goto general;
			nh = &pgt_route_nexthops[nh_idx];
			if (nh->type != PGT_NH_UNICAST ||
					!w->view->port[nh->port].up)
				goto general;
			if (nh->port != out_port) {
				pgt_tx_stage_run(w, out_port, run, nb_run,
					run_bytes);
				nb_run = 0;
				run_bytes = 0;
				out_port = nh->port;
				out = &w->view->port[out_port];
			}
			last_nh = nh_idx;
			gw = nh->gw;
			mtu = out->mtu;
			resolved = false;
		}
		len = rte_pktmbuf_pkt_len(m);
		if (unlikely(ip->time_to_live <= 1 ||
				len - sizeof(struct rte_ether_hdr) > mtu))
			goto general;
		nexthop = gw != 0 ? gw : dst;
		if (!resolved || nexthop != last_nexthop) {
			resolved = pgt_neigh_lookup_cached(&w->neigh, nexthop,
				out_port, &nmac) == 0;
			if (!resolved)
				goto general;
			memcpy(&l2_first, &nmac, sizeof(nmac));
			memcpy((uint8_t *)&l2_first + sizeof(nmac), &out->mac,
				sizeof(l2_first) - sizeof(nmac));
			memcpy(&l2_next, (const uint8_t *)&out->mac +
				sizeof(l2_first) - sizeof(nmac),
				sizeof(l2_next));
			last_nexthop = nexthop;
		}
		ttl_decrement_sum(ip);
		eth = rte_pktmbuf_mtod(m, uint8_t *);
		memcpy(eth, &l2_first, sizeof(l2_first));
		memcpy(eth + sizeof(l2_first), &l2_next, sizeof(l2_next));
		run[nb_run++] = m;
		run_bytes += len;
		continue;
general:
		/* What the general path sends on a port goes after this
		 * run's packets: a flow's order is kept. */
		pgt_tx_stage_run(w, out_port, run, nb_run, run_bytes);
		nb_run = 0;
		run_bytes = 0;
		nb_general++;
		rx_packet(w, port, m, (uint8_t)pgt_pkt_parse(m, port,
			&w->view->port[port].mac));
	}
	pgt_tx_stage_run(w, out_port, run, nb_run, run_bytes);
	PGT_COUNT(w->id, port, RX_BYTES, rx_bytes);
	PGT_COUNT(w->id, port, FORWARDED, n - nb_general);
}

void
pgt_pipeline_rx_burst(struct pgt_worker *w, uint16_t port,
	struct rte_mbuf **pkts, uint16_t n)
{
	const struct pgt_port *p = &w->view->port[port];
	struct rte_mbuf *whole[PGT_BURST];
	uint8_t kinds[PGT_BURST];
	struct pgt_pkt_meta *meta;
	uint64_t bytes = 0;
	uint16_t i, nb_whole = 0;

	PGT_COUNT(w->id, port, RX_PACKETS, n);
	if (w->forward_only && p->up) {
		forward_burst(w, port, pkts, n);
		return;
	}
	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	PGT_COUNT(w->id, port, RX_BYTES, bytes);
	if (unlikely(!p->up)) {
		for (i = 0; i < n; i++) {
			meta = pgt_pkt_meta(pkts[i]);
			meta->in_port = port;
			meta->out_port = UINT16_MAX;
			meta->ct_flags = 0;
			meta->trace = 0;
			pgt_drop(w, pkts[i], PGT_DROP_PORT_DOWN);
		}
		return;
	}
	pgt_pkt_parse_burst(pkts, n, port, &p->mac, kinds);
	for (i = 0; i < n; i++) {
		if (unlikely(pgt_pipeline_cfg.trace_all)) {
			pgt_pkt_meta(pkts[i])->trace =
				pgt_ruleset_trace_id(w->id);
			pgt_pipeline_trace(w, pkts[i], PGT_RS_TRACE_RX, 0,
				port, PGT_PORT_NONE, 0, true);
		}
		if (w->tracking && kinds[i] == PGT_PKT_IPV4 &&
				!pgt_pkt_meta(pkts[i])->frag)
			whole[nb_whole++] = pkts[i];
	}
	if (nb_whole == 0) {
		for (i = 0; i < n; i++)
			rx_packet(w, port, pkts[i], kinds[i]);
		return;
	}
	/* The burst's connection lookups start together, their chain heads'
	 * misses overlapping; each chain's first connection is fetched
	 * CT_LOOKAHEAD packets ahead of the one taken (one at a time: a
	 * connection is confirmed before the next packet looks it up). */
	pgt_ct_lookup_burst(w->id, whole, nb_whole);
	for (i = 0; i < CT_LOOKAHEAD && i < n; i++)
		pgt_ct_lookup_ahead(w->id, pkts[i]);
	for (i = 0; i < n; i++) {
		if (i + CT_LOOKAHEAD < n)
			pgt_ct_lookup_ahead(w->id, pkts[i + CT_LOOKAHEAD]);
		rx_packet(w, port, pkts[i], kinds[i]);
	}
}

/* Frames from a host interface */

/*
 * A frame the host sent out of the host interface of data port @p dp. IPv4
 * to a unicast address is the host's locally generated traffic: pktgate
 * routes it (the host's choice of interface and next hop is only a hint).
 * ARP and link-level broadcasts belong to the link the host chose: they
 * leave by the data port as they are, and must carry the port's MAC or the
 * answers would go astray.
 */
static void
host_inject(struct pgt_worker *w, struct rte_mbuf *m, enum pgt_pkt_kind kind,
	uint16_t hp, uint16_t dp)
{
	const struct pgt_port *p = &w->view->port[dp];
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_ether_hdr *eth;
	const struct rte_arp_hdr *arp;

	if (kind == PGT_PKT_IPV4 && !meta->l2_bcast) {
		PGT_COUNT(w->id, dp, HOST_INJECTED, 1);
		/* Locally generated: no input port; drops count against the
		 * host interface until routing picks the output. */
		meta->in_port = PGT_PORT_NONE;
		meta->out_port = hp;
		rte_pktmbuf_adj(m, meta->l3_off);
		local_output(w, m);
		return;
	}
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eth->src_addr, &p->mac)) {
		pgt_drop(w, m, PGT_DROP_HOST_MAC_MISMATCH);
		return;
	}
	if (kind == PGT_PKT_ARP) {
		arp = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *,
			meta->l3_off);
		if (!rte_is_same_ether_addr(&arp->arp_data.arp_sha, &p->mac)) {
			pgt_drop(w, m, PGT_DROP_HOST_MAC_MISMATCH);
			return;
		}
	}
	if (kind == PGT_PKT_IPV4) {
		meta->in_port = PGT_PORT_NONE;
		meta->out_port = hp;
		if (!run_hook(w, PGT_HOOK_OUTPUT, m, PGT_PORT_NONE, dp,
				false) ||
				!run_hook(w, PGT_HOOK_POSTROUTING, m,
					PGT_PORT_NONE, dp, false))
			return;
	}
	if (unlikely(!p->up)) {
		pgt_drop(w, m, PGT_DROP_PORT_DOWN);
		return;
	}
	PGT_COUNT(w->id, dp, HOST_INJECTED, 1);
	pgt_tx_stage(w, dp, m);
}

void
pgt_pipeline_host_rx_burst(struct pgt_worker *w, uint16_t hp,
	struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t dp = w->view->port[hp].host_of;
	enum pgt_pkt_kind kind;
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	PGT_COUNT(w->id, hp, RX_PACKETS, n);
	PGT_COUNT(w->id, hp, RX_BYTES, bytes);
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		kind = pgt_pkt_parse(pkts[i], hp, NULL);
		if (kind == PGT_PKT_DROP)
			pgt_drop(w, pkts[i], pgt_pkt_meta(pkts[i])->drop);
		else
			host_inject(w, pkts[i], kind, hp, dp);
	}
}
