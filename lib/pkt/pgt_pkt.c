/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_arp.h>
#include <rte_byteorder.h>

#include "pgt_inet.h"
#include "pgt_pkt.h"

/* The metadata's L3 fields from the checked header @p ip. */
static inline void
ipv4_fields(struct pgt_pkt_meta *meta, const struct rte_ipv4_hdr *ip,
	uint32_t hlen)
{
	meta->l3_hlen = (uint8_t)hlen;
	meta->src = rte_be_to_cpu_32(ip->src_addr);
	meta->dst = rte_be_to_cpu_32(ip->dst_addr);
	meta->proto = ip->next_proto_id;
	meta->frag = (ip->fragment_offset &
		rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
			RTE_IPV4_HDR_OFFSET_MASK)) != 0;
}

int
pgt_pkt_parse_ipv4(struct rte_mbuf *m, uint16_t l3_off)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_ipv4_hdr *ip;
	uint32_t avail, hlen, tot;

	avail = rte_pktmbuf_data_len(m) - l3_off;
	if (rte_pktmbuf_data_len(m) < l3_off ||
			avail < sizeof(struct rte_ipv4_hdr))
		return rte_pktmbuf_pkt_len(m) > rte_pktmbuf_data_len(m) ?
			PGT_DROP_MULTISEG : PGT_DROP_IP_TRUNCATED;
	ip = rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, l3_off);
	if ((ip->version_ihl >> 4) != 4)
		return PGT_DROP_IP_VERSION;
	hlen = (ip->version_ihl & 0xf) * 4u;
	if (hlen < sizeof(struct rte_ipv4_hdr))
		return PGT_DROP_IP_IHL;
	if (hlen > avail)
		return rte_pktmbuf_pkt_len(m) > rte_pktmbuf_data_len(m) ?
			PGT_DROP_MULTISEG : PGT_DROP_IP_TRUNCATED;
	tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < hlen || tot > rte_pktmbuf_pkt_len(m) - l3_off)
		return PGT_DROP_IP_LENGTH;
	if (!(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
			!pgt_inet_ipv4_hdr_sum_ok(ip, hlen))
		return PGT_DROP_IP_CHECKSUM;
	/* Ethernet pads short frames: the datagram ends where IP says. */
	if (rte_pktmbuf_pkt_len(m) > l3_off + tot)
		rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - l3_off - tot);

	meta->l3_off = l3_off;
	ipv4_fields(meta, ip, hlen);
	if (pgt_inet_is_martian_src(meta->src))
		return PGT_DROP_IP_SRC_MARTIAN;
	if (pgt_inet_is_martian_dst(meta->dst))
		return PGT_DROP_IP_DST_MARTIAN;
	return 0;
}

static int
parse_arp(struct rte_mbuf *m, uint16_t l3_off)
{
	const struct rte_arp_hdr *arp;

	if (rte_pktmbuf_data_len(m) < l3_off + sizeof(*arp))
		return PGT_DROP_ARP_MALFORMED;
	arp = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *, l3_off);
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
			arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
			arp->arp_hlen != RTE_ETHER_ADDR_LEN ||
			arp->arp_plen != 4 ||
			(arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) &&
			 arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REPLY)))
		return PGT_DROP_ARP_MALFORMED;
	return 0;
}

/* Every field as a received frame starts; one wide store, not several. */
static inline void
meta_reset(struct pgt_pkt_meta *meta, uint16_t in_port)
{
	*meta = (struct pgt_pkt_meta){
		.in_port = in_port,
		.out_port = UINT16_MAX,
		.l3_off = sizeof(struct rte_ether_hdr),
		.ct = PGT_PKT_CT_NONE,
		.ctinfo = PGT_PKT_CTINFO_NONE,
	};
}

enum pgt_pkt_kind
pgt_pkt_parse(struct rte_mbuf *m, uint16_t in_port,
	const struct rte_ether_addr *port_mac)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_ether_hdr *eth;
	uint16_t type;
	int reason;

	/* Where the IP or ARP header will be: the data is a frame. */
	meta_reset(meta, in_port);
	if (rte_pktmbuf_data_len(m) < sizeof(*eth)) {
		meta->drop = PGT_DROP_L2_TRUNCATED;
		return PGT_PKT_DROP;
	}
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (rte_is_broadcast_ether_addr(&eth->dst_addr)) {
		meta->l2_bcast = 1;
	} else if (rte_is_multicast_ether_addr(&eth->dst_addr)) {
		meta->drop = PGT_DROP_L2_MULTICAST;
		return PGT_PKT_DROP;
	} else if (port_mac != NULL &&
			!rte_is_same_ether_addr(&eth->dst_addr, port_mac)) {
		meta->drop = PGT_DROP_L2_OTHER_HOST;
		return PGT_PKT_DROP;
	}
	type = rte_be_to_cpu_16(eth->ether_type);
	switch (type) {
	case RTE_ETHER_TYPE_IPV4:
		reason = pgt_pkt_parse_ipv4(m, sizeof(*eth));
		if (reason != 0) {
			meta->drop = (uint16_t)reason;
			return PGT_PKT_DROP;
		}
		return PGT_PKT_IPV4;
	case RTE_ETHER_TYPE_ARP:
		reason = parse_arp(m, sizeof(*eth));
		if (reason != 0) {
			meta->drop = (uint16_t)reason;
			return PGT_PKT_DROP;
		}
		meta->l3_off = sizeof(*eth);
		return PGT_PKT_ARP;
	case RTE_ETHER_TYPE_VLAN:
	case RTE_ETHER_TYPE_QINQ:
		meta->drop = PGT_DROP_VLAN;
		return PGT_PKT_DROP;
	case RTE_ETHER_TYPE_IPV6:
		meta->drop = PGT_DROP_IPV6;
		return PGT_PKT_DROP;
	default:
		meta->drop = PGT_DROP_ETHERTYPE;
		return PGT_PKT_DROP;
	}
}

/* The usual received frame (pgt_pkt_usual_ipv4()) with its metadata;
 * @return false, @p m untouched, for anything else. */
static inline bool
parse_usual(struct rte_mbuf *m, uint16_t in_port, uint64_t port_mac)
{
	const struct rte_ipv4_hdr *ip = pgt_pkt_usual_ipv4(m, port_mac);
	struct pgt_pkt_meta *meta;

	if (ip == NULL)
		return false;
	meta = pgt_pkt_meta(m);
	meta_reset(meta, in_port);
	ipv4_fields(meta, ip, sizeof(*ip));
	return true;
}

void
pgt_pkt_parse_burst(struct rte_mbuf **pkts, uint16_t n, uint16_t in_port,
	const struct rte_ether_addr *port_mac, uint8_t *kinds)
{
	const uint64_t mac = pgt_pkt_mac_word(port_mac);
	uint16_t i;

	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		if (likely(parse_usual(pkts[i], in_port, mac)))
			kinds[i] = PGT_PKT_IPV4;
		else
			kinds[i] = (uint8_t)pgt_pkt_parse(pkts[i], in_port,
				port_mac);
	}
}
