/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_arp.h>
#include <rte_byteorder.h>

#include "pgt_inet.h"
#include "pgt_pkt.h"

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
	meta->l3_hlen = (uint8_t)hlen;
	meta->src = rte_be_to_cpu_32(ip->src_addr);
	meta->dst = rte_be_to_cpu_32(ip->dst_addr);
	meta->proto = ip->next_proto_id;
	meta->frag = (ip->fragment_offset &
		rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG |
			RTE_IPV4_HDR_OFFSET_MASK)) != 0;
	if (pgt_inet_is_martian_src(meta->src))
		return PGT_DROP_IP_SRC_MARTIAN;
	if ((meta->dst & 0xff000000) == 0 ||
			(meta->dst & 0xff000000) == 0x7f000000)
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

enum pgt_pkt_kind
pgt_pkt_parse(struct rte_mbuf *m, uint16_t in_port,
	const struct rte_ether_addr *port_mac)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_ether_hdr *eth;
	uint16_t type;
	int reason;

	meta->in_port = in_port;
	meta->out_port = UINT16_MAX;
	meta->l2_bcast = 0;
	meta->frag = 0;
	meta->mark = 0;
	meta->ct = PGT_PKT_CT_NONE;
	meta->ctinfo = PGT_PKT_CTINFO_NONE;
	meta->ct_flags = 0;
	meta->trace = 0;
	/* Where the IP or ARP header will be: the data is a frame. */
	meta->l3_off = sizeof(*eth);
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
