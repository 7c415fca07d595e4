/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_PKT_H
#define PGT_PKT_H

/**
 * @file
 * Per-packet metadata and the one-time L2/L3 parse.
 *
 * Every packet is parsed once, right after RX, into a struct pgt_pkt_meta in
 * the mbuf's private area; later stages read the metadata and never re-parse.
 * The parse applies RFC 1812 section 5.2.2 checks to IPv4 (version, IHL,
 * total length against the frame, header checksum) and trims Ethernet padding
 * so that pkt_len is the IP datagram's length plus the L2 header.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "pgt_inet.h"
#include "pgt_stats.h"

/** What the parse found. */
enum pgt_pkt_kind {
	PGT_PKT_DROP,	/**< Malformed or not for us; reason in meta->drop. */
	PGT_PKT_ARP,
	PGT_PKT_IPV4,
};

/** Metadata kept in each mbuf's private area. */
struct pgt_pkt_meta {
	uint16_t in_port;	/**< Arrival port, or UINT16_MAX if local. */
	uint16_t out_port;	/**< Set by routing. */
	/** Offset of the IP/ARP header: not 0 while the data starts at an
	 * Ethernet header (from receipt to routing, even if the parse
	 * failed), 0 once routing strips it or for packets made here. */
	uint16_t l3_off;
	uint8_t l3_hlen;	/**< IPv4 header length in bytes. */
	uint8_t l2_bcast;	/**< Received as L2 broadcast. */
	uint32_t src;		/**< IPv4 source, host order. */
	uint32_t dst;		/**< IPv4 destination, host order. */
	uint32_t nexthop;	/**< Neighbour to send to, host order. */
	uint32_t nh_idx;	/**< Route next hop index. */
	uint16_t drop;		/**< enum pgt_drop when kind is DROP. */
	uint8_t proto;		/**< IPv4 protocol. */
	uint8_t frag;		/**< Non-zero if a fragment (MF or offset). */
	uint32_t mark;		/**< Netfilter mark (MARK, -m mark). */
	uint32_t ct;		/**< Connection slot, or PGT_PKT_CT_NONE. */
	uint8_t ctinfo;		/**< enum pgt_ct_info (pgt_conntrack.h). */
	uint8_t ct_flags;	/**< PGT_PKT_CTF_* */
	uint8_t ct_hook;	/**< Hook to resume at after a handoff. */
	/** With PGT_PKT_CTF_HINT: the hash chain (its head's index)
	 *  pgt_ct_lookup_burst() chose for the packet's tuple. */
	uint32_t ct_hint;
	/** TRACE: the packet's trace id (pgt_ruleset.h), 0 if untraced. */
	uint32_t trace;
};

/** No connection. */
#define PGT_PKT_CT_NONE UINT32_MAX
/** ctinfo of a packet conntrack has not seen (PGT_CT_NONE). */
#define PGT_PKT_CTINFO_NONE 7
/** The packet owns its connection, not yet confirmed. */
#define PGT_PKT_CTF_UNCONFIRMED	0x01
/** The connection is another packet's (an answer about it). */
#define PGT_PKT_CTF_ATTACHED	0x02
/** The packet was handed to the worker owning its connection once. */
#define PGT_PKT_CTF_HANDED	0x04
/** ct_hint holds its burst's lookup (pgt_ct_lookup_burst()). */
#define PGT_PKT_CTF_HINT	0x08

/**
 * Private area size to give mbuf pools: whole cache lines, so that the
 * data (after it and the headroom) starts on a line, as the NIC wrote it:
 * a frame's Ethernet and IPv4 headers then share one line instead of
 * straddling two.
 */
#define PGT_PKT_PRIV_SIZE \
	RTE_ALIGN(sizeof(struct pgt_pkt_meta), RTE_CACHE_LINE_SIZE)

static inline struct pgt_pkt_meta *
pgt_pkt_meta(struct rte_mbuf *m)
{
	return (struct pgt_pkt_meta *)rte_mbuf_to_priv(m);
}

static inline struct rte_ipv4_hdr *
pgt_pkt_ipv4(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
		pgt_pkt_meta(m)->l3_off);
}

/**
 * Parse a received frame and fill its metadata.
 *
 * @param port_mac
 *   The MAC of the receiving port: frames to another unicast MAC are not for
 *   this router (a promiscuous NIC or a bridged tap can deliver them). NULL
 *   accepts any unicast destination: frames from a host interface are
 *   addressed to the host's idea of the next hop, which pktgate replaces.
 * @return the kind; for PGT_PKT_DROP, meta->drop holds the reason.
 */
enum pgt_pkt_kind pgt_pkt_parse(struct rte_mbuf *m, uint16_t in_port,
	const struct rte_ether_addr *port_mac);

/** @p mac as pgt_pkt_usual_ipv4() compares it: its six bytes in the
 *  first six of a 64-bit word, in memory order. */
static inline uint64_t
pgt_pkt_mac_word(const struct rte_ether_addr *mac)
{
	uint64_t w = 0;

	memcpy(&w, mac, sizeof(*mac));
	return w;
}

/**
 * The IPv4 header of received frame @p m if it is the usual one: unicast
 * to the port whose MAC is @p port_mac (pgt_pkt_mac_word()), IPv4 with a
 * 20-byte header, a right checksum (or one the NIC checked), a total
 * length the frame holds (the padding after it is trimmed), addresses a
 * router takes (no martian). NULL, @p m untouched, for anything else,
 * which pgt_pkt_parse() tells apart. The metadata is not written:
 * pgt_pkt_parse_burst() does that, and a packet that needs none (forwarded
 * as it came) is spared it.
 */
static inline struct rte_ipv4_hdr *
pgt_pkt_usual_ipv4(struct rte_mbuf *m, uint64_t port_mac)
{
	/* The destination MAC's bytes; the EtherType and version/IHL's. */
	static const uint8_t mac_mask[8] = { 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0, 0 };
	static const uint8_t type_mask[4] = { 0xff, 0xff, 0xff, 0 };
	static const uint8_t type_ipv4[4] = { 0x08, 0x00, RTE_IPV4_VHL_DEF, 0 };
	uint64_t dst, mask;
	uint32_t tot, frame, type, tmask, ipv4;
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;

	if (unlikely(rte_pktmbuf_data_len(m) <
			sizeof(*eth) + sizeof(struct rte_ipv4_hdr)))
		return NULL;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	/* Two loads and compares, not six byte tests: the first eight bytes
	 * (destination and two of the source) and bytes 12-15 (EtherType,
	 * version/IHL, TOS). */
	memcpy(&dst, eth, sizeof(dst));
	memcpy(&mask, mac_mask, sizeof(mask));
	memcpy(&type, &eth->ether_type, sizeof(type));
	memcpy(&tmask, type_mask, sizeof(tmask));
	memcpy(&ipv4, type_ipv4, sizeof(ipv4));
	if (((dst ^ port_mac) & mask) != 0 || (type & tmask) != ipv4)
		return NULL;
	frame = rte_pktmbuf_pkt_len(m) - sizeof(*eth);
	tot = rte_be_to_cpu_16(ip->total_length);
	if (tot < sizeof(*ip) || tot > frame)
		return NULL;
	if (!(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_GOOD) &&
			!pgt_inet_ipv4_hdr_sum_ok(ip, sizeof(*ip)))
		return NULL;
	/* The first octets are the first bytes: no byte swap. */
	if (pgt_inet_is_martian_src_octet(*(const uint8_t *)&ip->src_addr) ||
			pgt_inet_is_martian_dst_octet(
				*(const uint8_t *)&ip->dst_addr))
		return NULL;
	if (frame > tot)
		rte_pktmbuf_trim(m, (uint16_t)(frame - tot));
	return ip;
}

/**
 * Parse @p n received frames of data port @p in_port (MAC @p port_mac, not
 * NULL) as pgt_pkt_parse() does each, their kinds in @p kinds. The usual
 * frame (unicast to the port, IPv4 with a 20-byte header) is checked in
 * one pass without calls; any other takes pgt_pkt_parse(): same results,
 * same metadata.
 */
void pgt_pkt_parse_burst(struct rte_mbuf **pkts, uint16_t n,
	uint16_t in_port, const struct rte_ether_addr *port_mac,
	uint8_t *kinds);

/**
 * Validate an IPv4 header at offset @p l3_off of @p m and fill the L3 fields
 * of its metadata (used by the parse and for locally generated packets).
 *
 * @return 0, or the enum pgt_drop reason (> 0) it fails.
 */
int pgt_pkt_parse_ipv4(struct rte_mbuf *m, uint16_t l3_off);

#endif /* PGT_PKT_H */
