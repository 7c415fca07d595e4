/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NAT as Linux's nf_nat does it: a binding is decided once, for the first
 * packet of a connection, by rewriting the connection's reply tuple; every
 * packet is then translated so that it looks like the inverse of the other
 * direction's tuple. One rule covers both directions and ICMP errors.
 *
 * Port choice. Workers allocate without talking to each other, so two
 * workers must never pick the same free port at the same instant: with more
 * than one worker, a worker only takes ports p with p % workers == its id
 * (when the range has room for that), and checks every table for the
 * resulting tuple. The search is bounded (PGT_NAT_MAX_TRIES probes from a
 * hashed or random start), so a nearly full range costs a bounded time and
 * a counted failure, never a stall.
 */
#include <errno.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_icmp.h>
#include <rte_random.h>

#include "pgt_conntrack_priv.h"
#include "pgt_inet.h"

static inline uint32_t
done_bit(enum pgt_nat_manip manip)
{
	return manip == PGT_NAT_MANIP_SRC ? PGT_CT_S_SRC_NAT_DONE :
		PGT_CT_S_DST_NAT_DONE;
}

/* The new connection a packet owns, or NULL. */
static struct pgt_ct_conn *
own_new_conn(unsigned int w, const struct pgt_pkt_meta *meta)
{
	if (meta->ct == PGT_PKT_CT_NONE ||
			!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED))
		return NULL;
	return &pgt_ct_tables[w].conns[meta->ct];
}

bool
pgt_ct_nat_needs_rules(unsigned int w, const struct rte_mbuf *m,
	enum pgt_nat_manip manip)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);
	const struct pgt_ct_conn *c = own_new_conn(w, meta);

	return c != NULL && !(c->status & done_bit(manip));
}

static bool
has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
		proto == IPPROTO_ICMP;
}

/* The field a manip varies: source port (ICMP: identifier) or dest port. */
static inline uint16_t *
manip_port(struct pgt_ct_tuple *t, enum pgt_nat_manip manip)
{
	return manip == PGT_NAT_MANIP_SRC || t->proto == IPPROTO_ICMP ?
		&t->sport : &t->dport;
}

/* Would a connection whose packets look like @p t clash with one we have?
 * Its replies would look like the inverse. */
static bool
tuple_used(const struct pgt_ct_tuple *t)
{
	struct pgt_ct_tuple reply;

	if (!pgt_ct_tuple_invert(t, &reply))
		return false;
	return pgt_ct_tuple_taken(&reply);
}

/*
 * The port range to search when none is given: Linux keeps ports below 512
 * and below 1024 in their class (some services check the client's port).
 */
static void
default_ports(const struct pgt_ct_tuple *t, enum pgt_nat_manip manip,
	uint16_t *lo, uint16_t *hi)
{
	uint16_t port = *manip_port((struct pgt_ct_tuple *)(uintptr_t)t, manip);

	if (t->proto == IPPROTO_ICMP) {
		*lo = 0;
		*hi = UINT16_MAX;
	} else if (port < 512) {
		*lo = 1;
		*hi = 511;
	} else if (port < 1024) {
		*lo = 600;
		*hi = 1023;
	} else {
		*lo = 1024;
		*hi = UINT16_MAX;
	}
}

/*
 * Make @p t (what the packet will look like) unique for @p manip within
 * @p r. @return 0 or -ENOSPC.
 */
static int
unique_tuple(unsigned int w, struct pgt_ct_tuple *t,
	enum pgt_nat_manip manip, const struct pgt_nat_range *r)
{
	uint32_t n, first, slots, start, i, j, h, nb = pgt_ct_workers;
	uint32_t *addr = manip == PGT_NAT_MANIP_SRC ? &t->src : &t->dst;
	uint16_t *port = manip_port(t, manip);
	uint32_t orig_addr = *addr;
	uint16_t orig_port = *port;
	uint16_t lo, hi;
	bool partition;

	if (r->flags & PGT_NAT_F_MAP_IPS) {
		if (r->min_addr == r->max_addr) {
			*addr = r->min_addr;
		} else {
			/* Stable per client (and server): some services
			 * want a client to keep its address. */
			h = rte_hash_crc_4byte(t->src, (r->flags &
				PGT_NAT_F_PERSISTENT) ? 0 : t->dst);
			*addr = r->min_addr + (uint32_t)(((uint64_t)h *
				((uint64_t)r->max_addr - r->min_addr + 1)) >> 32);
		}
	}
	if (!has_ports(t->proto))
		return 0;	/* nothing to vary: a clash fails at confirm */
	if (r->flags & PGT_NAT_F_PROTO) {
		lo = r->min_port;
		hi = r->max_port;
	} else if (manip == PGT_NAT_MANIP_DST && t->proto != IPPROTO_ICMP) {
		return 0;	/* DNAT without ports keeps the port */
	} else {
		default_ports(t, manip, &lo, &hi);
	}
	n = (uint32_t)hi - lo + 1;
	partition = nb > 1 && n >= 2 * nb;
	/* Ports this worker may take: lo + first + k * step. */
	first = partition ? (w + nb - lo % nb) % nb : 0;
	slots = partition ? (n - first + nb - 1) / nb : n;
	/* Keep the port if the connection stays unique. Another worker may
	 * keep the same port for another client translated to the same
	 * address at the same instant, so then only this worker's ports are
	 * kept; an unchanged address cannot collide that way (the tuple is
	 * the connection's own). */
	if (!(r->flags & (PGT_NAT_F_RANDOM | PGT_NAT_F_RANDOM_FULLY)) &&
			*port >= lo && *port <= hi &&
			(!partition || *addr == orig_addr || *port % nb == w) &&
			!tuple_used(t))
		return 0;
	if (r->flags & (PGT_NAT_F_RANDOM | PGT_NAT_F_RANDOM_FULLY))
		start = (uint32_t)rte_rand();
	else	/* The same client and server start at the same place;
		 * different clients of one server (whose address and port
		 * the translation just replaced) at different places, or
		 * every one of them would probe the same ports. */
		start = rte_hash_crc_4byte(t->dst, rte_hash_crc_4byte(
			orig_addr, rte_hash_crc_4byte((uint32_t)orig_port <<
			16 | (manip == PGT_NAT_MANIP_SRC ? t->dport : t->sport),
			t->proto)));
	for (i = 0; i < RTE_MIN(slots, (uint32_t)PGT_NAT_MAX_TRIES); i++) {
		j = (start + i) % slots;
		*port = (uint16_t)(lo + first + j * (partition ? nb : 1));
		if (!tuple_used(t))
			return 0;
	}
	return -ENOSPC;
}

int
pgt_ct_nat_setup(unsigned int w, struct rte_mbuf *m,
	enum pgt_nat_manip manip, const struct pgt_nat_range *r)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct pgt_ct_conn *c = own_new_conn(w, meta);
	struct pgt_ct_tuple cur, t;

	if (c == NULL)
		return -EINVAL;
	if (c->status & done_bit(manip))
		return 0;
	/* What the packet looks like after the bindings made so far. */
	if (!pgt_ct_tuple_invert(&c->tuple[PGT_CT_DIR_REPLY], &cur))
		return -EINVAL;
	t = cur;
	if (unique_tuple(w, &t, manip, r) < 0) {
		pgt_ct_tables[w].stat[PGT_CT_STAT_NAT_NO_PORT]++;
		return -ENOSPC;
	}
	ct_seq_begin(c);
	if (memcmp(&t, &cur, sizeof(t)) != 0) {
		pgt_ct_tuple_invert(&t, &c->tuple[PGT_CT_DIR_REPLY]);
		c->status |= manip == PGT_NAT_MANIP_SRC ? PGT_CT_S_SRC_NAT :
			PGT_CT_S_DST_NAT;
	}
	c->status |= done_bit(manip);
	ct_seq_end(c);
	return 0;
}

int
pgt_ct_nat_done(unsigned int w, struct rte_mbuf *m, enum pgt_nat_manip manip)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct pgt_ct_conn *c = own_new_conn(w, meta);
	struct pgt_nat_range r = { .flags = PGT_NAT_F_MAP_IPS };
	struct pgt_ct_tuple cur;

	if (c == NULL || (c->status & done_bit(manip)))
		return 0;
	pgt_ct_tuple_invert(&c->tuple[PGT_CT_DIR_REPLY], &cur);
	r.min_addr = r.max_addr =
		manip == PGT_NAT_MANIP_SRC ? cur.src : cur.dst;
	return pgt_ct_nat_setup(w, m, manip, &r);
}

/* Packet rewriting */

/* Transport fields at any alignment (a quoted header need not be). */
static inline rte_be16_t
get16(const uint8_t *p)
{
	rte_be16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void
put16(uint8_t *p, rte_be16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/*
 * Rewrite the address (and port) @p manip names in the IPv4 packet at
 * @p ip, whose transport header has @p len contiguous bytes (an ICMP
 * error's quote may hold only 8: then a TCP checksum is not there to fix).
 * @p ports false: addresses only (the outer header of an ICMP error).
 */
static void
manip_pkt(struct rte_ipv4_hdr *ip, uint32_t len,
	const struct pgt_ct_tuple *target, enum pgt_nat_manip manip,
	bool ports)
{
	uint8_t *l4 = (uint8_t *)ip + (ip->version_ihl & 0xf) * 4u;
	bool src = manip == PGT_NAT_MANIP_SRC;
	bool first = !(ip->fragment_offset &
		rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK));
	rte_be32_t oa = src ? ip->src_addr : ip->dst_addr;
	rte_be32_t na = rte_cpu_to_be_32(src ? target->src : target->dst);
	rte_be16_t np, op, ck;
	uint8_t *pf, proto = ip->next_proto_id;

	np = rte_cpu_to_be_16(src ? target->sport : target->dport);
	pf = l4 + (src ? 0 : 2);
	if (first && ports && proto == IPPROTO_TCP && len >= 4) {
		op = get16(pf);
		put16(pf, np);
		if (len >= 18)		/* the checksum is at 16 */
			put16(l4 + 16, pgt_inet_cksum_update48(get16(l4 + 16),
				oa, na, op, np));
	} else if (first && ports && proto == IPPROTO_UDP && len >= 8) {
		op = get16(pf);
		put16(pf, np);
		ck = get16(l4 + 6);
		/* 0: no checksum, and it stays so; a computed 0 is sent as
		 * all ones (RFC 768). */
		if (ck != 0) {
			ck = pgt_inet_cksum_update48(ck, oa, na, op, np);
			put16(l4 + 6, ck == 0 ? 0xffff : ck);
		}
	} else if (first && ports && proto == IPPROTO_ICMP && len >= 8 &&
			!pgt_ct_icmp_is_error(l4[0])) {
		/* A query: the identifier is its "port", in both manips;
		 * ICMP has no pseudo-header. */
		np = rte_cpu_to_be_16(target->sport);
		op = get16(l4 + 4);
		put16(l4 + 4, np);
		put16(l4 + 2, pgt_inet_cksum_update16(get16(l4 + 2), op, np));
	}
	ip->hdr_checksum = pgt_inet_cksum_update32(ip->hdr_checksum, oa, na);
	if (src)
		ip->src_addr = na;
	else
		ip->dst_addr = na;
}

/*
 * An ICMP error about a translated connection: the quoted packet gets the
 * opposite manip (it went the other way), the outer header the normal one,
 * and the ICMP checksum is computed again over the changed quote.
 */
static bool
icmp_error_translate(struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
	const struct pgt_ct_conn *c, enum pgt_ct_dir dir,
	enum pgt_nat_manip manip)
{
	uint32_t hlen = (ip->version_ihl & 0xf) * 4u;
	uint32_t total = rte_be_to_cpu_16(ip->total_length) - hlen;
	uint32_t avail = rte_pktmbuf_data_len(m) - pgt_pkt_meta(m)->l3_off -
		hlen;
	struct rte_icmp_hdr *ih = (struct rte_icmp_hdr *)((uint8_t *)ip + hlen);
	struct rte_ipv4_hdr *in = (struct rte_ipv4_hdr *)(ih + 1);
	struct pgt_ct_tuple target;
	uint32_t in_hlen;

	/* pgt_ct_in checked that the quote's header and 8 bytes are here;
	 * an error spread over segments is not translated. */
	if (avail < total)
		return false;
	in_hlen = (in->version_ihl & 0xf) * 4u;
	manip_pkt(in, total - sizeof(*ih) - in_hlen, &c->tuple[!dir],
		manip == PGT_NAT_MANIP_SRC ? PGT_NAT_MANIP_DST :
		PGT_NAT_MANIP_SRC, true);
	ih->icmp_cksum = 0;
	ih->icmp_cksum = (uint16_t)~rte_raw_cksum(ih, total);
	pgt_ct_tuple_invert(&c->tuple[!dir], &target);
	manip_pkt(ip, 0, &target, manip, false);
	return true;
}

bool
pgt_ct_nat_translate(struct rte_mbuf *m, enum pgt_nat_manip manip,
	const struct pgt_ct_conn *c)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	enum pgt_ct_dir dir = pgt_ct_info_dir(meta->ctinfo);
	struct pgt_ct_tuple target;
	struct rte_ipv4_hdr *ip;
	uint32_t hlen, avail;
	bool done;

	ip = pgt_pkt_ipv4(m);
	hlen = (ip->version_ihl & 0xf) * 4u;
	if ((meta->ctinfo == PGT_CT_RELATED ||
			meta->ctinfo == PGT_CT_RELATED_REPLY) &&
			ip->next_proto_id == IPPROTO_ICMP) {
		done = icmp_error_translate(m, ip, c, dir, manip);
	} else {
		avail = rte_pktmbuf_data_len(m) - meta->l3_off;
		pgt_ct_tuple_invert(&c->tuple[!dir], &target);
		manip_pkt(ip, avail > hlen ? avail - hlen : 0, &target, manip,
			true);
		done = true;
	}
	meta->src = rte_be_to_cpu_32(ip->src_addr);
	meta->dst = rte_be_to_cpu_32(ip->dst_addr);
	return done;
}

/* Virtual services */

const struct pgt_ct_ipvs_ops *pgt_ct_ipvs_ops;

void
pgt_ct_ipvs_register(const struct pgt_ct_ipvs_ops *ops)
{
	pgt_ct_ipvs_ops = ops;
}

int
pgt_ct_ipvs_bind(unsigned int w, struct rte_mbuf *m,
	const struct pgt_ct_ipvs_binding *b)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct pgt_ct_conn *c = own_new_conn(w, meta);
	struct ct_table *t = &pgt_ct_tables[w];
	struct pgt_ct_tuple cur, tgt;
	uint32_t status;

	if (c == NULL || pgt_ct_ipvs_ops == NULL)
		return -EINVAL;
	pgt_ct_tuple_invert(&c->tuple[PGT_CT_DIR_REPLY], &cur);
	tgt = cur;
	status = PGT_CT_S_IPVS | PGT_CT_S_DST_NAT_DONE;
	if (b->translate) {
		tgt.dst = b->daddr;
		if (tgt.proto != IPPROTO_ICMP)
			tgt.dport = b->dport;
		if (b->snat != NULL && unique_tuple(w, &tgt,
				PGT_NAT_MANIP_SRC, b->snat) < 0) {
			t->stat[PGT_CT_STAT_NAT_NO_PORT]++;
			return -ENOSPC;
		}
	}
	if (!b->translate || b->snat != NULL)
		status |= PGT_CT_S_SRC_NAT_DONE;
	if (tgt.dst != cur.dst || tgt.dport != cur.dport)
		status |= PGT_CT_S_DST_NAT;
	if (tgt.src != cur.src || tgt.sport != cur.sport)
		status |= PGT_CT_S_SRC_NAT;
	ct_seq_begin(c);
	pgt_ct_tuple_invert(&tgt, &c->tuple[PGT_CT_DIR_REPLY]);
	c->status |= status;
	c->ipvs_dest = b->dest;
	c->ipvs_svc = b->svc;
	c->ipvs_tmpl = b->tmpl;
	c->ipvs_method = b->method;
	if (tgt.proto == IPPROTO_TCP)
		c->tcp.state = b->tcp_state;
	ct_seq_end(c);
	pgt_ct_expire_at(t, c, rte_get_tsc_cycles() +
		(uint64_t)b->timeout_s * pgt_ct_hz);
	return 0;
}
