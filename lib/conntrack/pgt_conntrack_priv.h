/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_CONNTRACK_PRIV_H
#define PGT_CONNTRACK_PRIV_H

/* The tables, and what the files of the module share. */

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include "pgt_conntrack.h"

/* One-second slots; a connection further away waits in the last slot. */
#define CT_WHEEL_SLOTS	4096u
#define CT_WHEEL_MASK	(CT_WHEEL_SLOTS - 1)
#define CT_NIL		UINT32_MAX

/* Deleted connections wait, in a FIFO linked through their wheel_next,
 * until every reader that may still walk their chain links moved on.
 * Deletions up to the @p end-th (counted since start) wait for @p token.
 * When the marks are all in use the newest mark takes the new deletions
 * and a newer token, which is later, so safe for all of them. */
struct ct_grace {
	uint64_t token;
	uint32_t end;
};

#define CT_GRACE_MARKS	256

/* A message from the management thread to a table's owner. */
struct ct_cmd {
	uint32_t type;		/* CT_CMD_* */
	uint32_t idx;
	uint32_t id;
	uint32_t pad;
};

#define CT_CMD_DELETE	1
#define CT_CMD_FLUSH	2

/*
 * A worker's table. The hash is chained through the connections: a chain
 * head holds a reference (index << 1 | direction), each connection links
 * the next reference of its two keys' chains (struct pgt_ct_conn hnext).
 * The owner is the only writer; the other workers read chains without a
 * lock (pgt_ct_tuple_taken(), handoff): a key is published at its chain's
 * head with a release store, and a deleted connection keeps its links and
 * tuples, and is not reused, until every worker passed a quiescent state,
 * so a reader that reached it still walks on to the rest of its chain.
 */
struct ct_table {
	uint32_t *heads;		/* chain heads, CT_NIL when empty */
	struct pgt_ct_conn *conns;
	uint32_t free_head;		/* free connections, via wheel_next */
	uint32_t next_id;
	uint32_t wheel_sec;		/* the next second to visit */
	/* Slots are FIFO lists: the oldest first, for early drop. */
	uint32_t wheel[CT_WHEEL_SLOTS], wheel_tail[CT_WHEEL_SLOTS];
	uint32_t def_first, def_last;	/* deleted, waiting: via wheel_next */
	/* Since start, wrapping; added - freed are waiting. */
	uint32_t def_added, def_freed;
	struct ct_grace grace[CT_GRACE_MARKS];	/* FIFO */
	uint32_t grace_head, grace_count;
	bool flushing;
	uint32_t flush_cursor;
	struct rte_ring *handoff;	/* mbufs: MP (workers), SC (owner) */
	struct rte_ring *cmd;		/* struct ct_cmd: SP, SC */
	struct rte_ring *events;	/* struct pgt_ct_event: SP, SC */
	uint16_t nat_cursor;		/* where the last port search ended */
	uint64_t stat[PGT_CT_STAT_MAX];
} __rte_cache_aligned;

extern struct ct_table *pgt_ct_tables;
extern unsigned int pgt_ct_workers;
extern uint64_t pgt_ct_hz;
extern volatile bool pgt_ct_events_on;

/* A packet as conntrack parses it. */
struct ct_pkt {
	struct rte_ipv4_hdr *ip;
	uint8_t *l4;		/* NULL unless the header is contiguous */
	uint32_t l4_len;	/* contiguous bytes at l4 */
	uint32_t l4_total;	/* IP payload length */
	uint8_t proto;
};

/* What a protocol tracker says about a packet of a connection. */
enum ct_l4_verdict {
	CT_L4_ACCEPT,
	CT_L4_INVALID,		/* counted invalid, no connection */
	CT_L4_REOPEN,		/* TCP: delete the old one, look up again */
};

/*
 * The transport part of a tuple of protocol @p proto from the @p len bytes
 * at @p l4, in @p ports: the source port (or an ICMP query's identifier)
 * in bits 0-15, the destination port (the ICMP type and code) in 16-31.
 * @return 0; -EINVAL when the header is too short for them.
 */
static inline int
pgt_ct_key_ports(uint8_t proto, const uint8_t *l4, uint32_t len,
	uint32_t *ports)
{
	switch (proto) {
	case IPPROTO_UDP:
	case IPPROTO_TCP:
	case 132:	/* SCTP */
	case 33:	/* DCCP */
		/* Ports are the first 4 bytes of all four. */
		if (len < 4)
			return -EINVAL;
		*ports = rte_be_to_cpu_16(((const rte_be16_t *)l4)[0]) |
			(uint32_t)rte_be_to_cpu_16(((const rte_be16_t *)l4)[1])
			<< 16;
		return 0;
	case IPPROTO_ICMP:
		if (len < sizeof(struct rte_icmp_hdr))
			return -EINVAL;
		*ports = rte_be_to_cpu_16(
			((const struct rte_icmp_hdr *)l4)->icmp_ident) |
			(uint32_t)(l4[0] << 8 | l4[1]) << 16;
		return 0;
	default:
		*ports = 0;
		return 0;
	}
}

/*
 * Parse @p m, whose metadata locates its IPv4 header, as conntrack sees
 * it, into @p p and its tuple @p key (whole: the hash key). Inline: every
 * conntrack step does it for each packet.
 * @return 0; -EINVAL for a fragment (tracking sees whole datagrams) or a
 *   transport header too short for the tuple's fields.
 */
static inline int
pgt_ct_pkt_key(struct rte_mbuf *m, struct ct_pkt *p, struct pgt_ct_tuple *key)
{
	struct rte_ipv4_hdr *ip = pgt_pkt_ipv4(m);
	uint32_t hlen = (ip->version_ihl & 0xf) * 4u;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	uint32_t avail = RTE_MIN(rte_pktmbuf_data_len(m) -
		(uint32_t)pgt_pkt_meta(m)->l3_off, total);
	uint32_t ports;

	p->ip = ip;
	p->proto = ip->next_proto_id;
	p->l4_total = total > hlen ? total - hlen : 0;
	p->l4 = avail > hlen ? (uint8_t *)ip + hlen : NULL;
	p->l4_len = avail > hlen ? avail - hlen : 0;
	*key = (struct pgt_ct_tuple){
		.src = rte_be_to_cpu_32(ip->src_addr),
		.dst = rte_be_to_cpu_32(ip->dst_addr),
		.proto = p->proto,
	};
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
			RTE_IPV4_HDR_OFFSET_MASK) ||
			pgt_ct_key_ports(p->proto, (const uint8_t *)ip + hlen,
				p->l4_len, &ports) < 0)
		return -EINVAL;
	key->sport = (uint16_t)ports;
	key->dport = (uint16_t)(ports >> 16);
	return 0;
}

/*
 * The tuple of @p m, whole and just parsed (pgt_pkt_parse()), as the two
 * 64-bit words of struct pgt_ct_tuple: its addresses and protocol from the
 * metadata, the rest from the frame. In registers: a tuple written field
 * by field and read back whole would wait for the stores (no forwarding
 * from several small stores to one wide load).
 * @return 0; -EINVAL as pgt_ct_pkt_key().
 */
static inline int
pgt_ct_parsed_key(struct rte_mbuf *m, uint64_t key[2])
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const uint8_t *ip = rte_pktmbuf_mtod_offset(m, const uint8_t *,
		meta->l3_off);
	const uint8_t *l4 = ip + meta->l3_hlen;
	uint32_t avail = RTE_MIN(rte_pktmbuf_data_len(m) -
		(uint32_t)meta->l3_off, (uint32_t)rte_be_to_cpu_16(
			((const struct rte_ipv4_hdr *)ip)->total_length));
	uint32_t len = avail > meta->l3_hlen ? avail - meta->l3_hlen : 0;
	uint32_t ports;

	/* The layout struct pgt_ct_tuple has on a little-endian CPU. */
	RTE_BUILD_BUG_ON(RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN);
	if (pgt_ct_key_ports(meta->proto, l4, len, &ports) < 0)
		return -EINVAL;
	key[0] = (uint64_t)meta->src | (uint64_t)meta->dst << 32;
	key[1] = ports | (uint64_t)meta->proto << 32;
	return 0;
}

/* pgt_conntrack_proto.c */
bool pgt_ct_tuple_invert(const struct pgt_ct_tuple *in,
	struct pgt_ct_tuple *out);
bool pgt_ct_icmp_is_error(uint8_t type);
bool pgt_ct_l4_new(struct pgt_ct_conn *c, const struct ct_pkt *p);
enum ct_l4_verdict pgt_ct_l4_packet(struct ct_table *t,
	struct pgt_ct_conn *c, const struct ct_pkt *p, enum pgt_ct_dir dir,
	uint64_t now, bool *kill);

/* The IPVS callbacks (set before any connection is PGT_CT_S_IPVS). */
extern const struct pgt_ct_ipvs_ops *pgt_ct_ipvs_ops;

/* pgt_conntrack.c */
static inline uint64_t
ct_timeout_tsc(enum pgt_ct_timeout t)
{
	return (uint64_t)pgt_ct_cfg.timeout[t] * pgt_ct_hz;
}

/* Put confirmed @p c in the wheel slot of its expiry time, earlier than
 * the one it is in. */
void pgt_ct_wheel_move(struct ct_table *t, struct pgt_ct_conn *c);

/* Make @p c expire at TSC @p expires. Inline: every packet does it. */
static inline void
pgt_ct_expire_at(struct ct_table *t, struct pgt_ct_conn *c, uint64_t expires)
{
	c->expires = expires;
	/* Later is the common case and costs nothing: the wheel moves the
	 * connection when it reaches its slot. Earlier must move now. */
	if ((c->status & PGT_CT_S_CONFIRMED) &&
			expires < (uint64_t)c->wheel_sec * pgt_ct_hz)
		pgt_ct_wheel_move(t, c);
}

/* @p c is to expire @p to after @p now. */
static inline void
pgt_ct_refresh(struct ct_table *t, struct pgt_ct_conn *c,
	enum pgt_ct_timeout to, uint64_t now)
{
	pgt_ct_expire_at(t, c, now + ct_timeout_tsc(to));
}

/* A UDP packet of @p c, not a virtual service's (Linux's
 * nf_conntrack_udp): its timeout, and whether it became a stream. */
static inline void
pgt_ct_udp_packet(struct ct_table *t, struct pgt_ct_conn *c, uint64_t now)
{
	enum pgt_ct_timeout to = PGT_CT_TO_UDP;

	if (!(c->status & PGT_CT_S_CONFIRMED))
		c->stream_tsc = now + 2 * pgt_ct_hz;
	/* Still talking both ways after two seconds: a stream, worth the
	 * longer timeout and protection from early drop. */
	if ((c->status & PGT_CT_S_SEEN_REPLY) && now > c->stream_tsc) {
		to = PGT_CT_TO_UDP_STREAM;
		c->status |= PGT_CT_S_ASSURED;
	}
	pgt_ct_refresh(t, c, to, now);
}
void pgt_ct_event_post(struct ct_table *t, const struct pgt_ct_conn *c,
	enum pgt_ct_event_type type, uint64_t now);
/* Is @p key taken in any table? */
bool pgt_ct_tuple_taken(const struct pgt_ct_tuple *key);

static inline void
ct_seq_begin(struct pgt_ct_conn *c)
{
	__atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void
ct_seq_end(struct pgt_ct_conn *c)
{
	__atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELEASE);
}

#endif /* PGT_CONNTRACK_PRIV_H */
