/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_STATS_H
#define PGT_STATS_H

/**
 * @file
 * Per-lcore, per-port packet counters and the named drop reasons.
 *
 * Each worker owns one cache-aligned block per port and is its only writer,
 * so counting is a plain increment; readers (the management thread) sum the
 * blocks of every worker. A 64-bit aligned load is atomic on every platform
 * DPDK supports, so a reader sees a value at most one burst old.
 *
 * Every packet that pktgate does not forward or deliver is counted in exactly
 * one drop reason, against the port it arrived on (or, for TX failures, the
 * port it was leaving by).
 */

#include <stdint.h>

#include <rte_common.h>
#include <rte_ethdev.h>

/** Packet counters: X(enum suffix, name). */
#define PGT_COUNTER_LIST(X) \
	X(RX_PACKETS, "rx_packets") \
	X(RX_BYTES, "rx_bytes") \
	X(TX_PACKETS, "tx_packets") \
	X(TX_BYTES, "tx_bytes") \
	X(FORWARDED, "forwarded") \
	X(LOCAL_IN, "local_in") \
	X(ARP_REQUESTS_IN, "arp_requests_in") \
	X(ARP_REPLIES_OUT, "arp_replies_out") \
	X(ARP_REPLIES_IN, "arp_replies_in") \
	X(ICMP_ECHO_REPLIES, "icmp_echo_replies") \
	X(ICMP_ERRORS_OUT, "icmp_errors_out") \
	X(ICMP_RATELIMITED, "icmp_ratelimited") \
	X(TCP_RESETS_OUT, "tcp_resets_out") \
	X(FRAGMENTS_OUT, "fragments_out") \
	X(NEIGH_QUEUED, "neigh_queued") \
	X(TX_HANDOFF, "tx_handoff") \
	X(HOST_PUNTED, "host_punted") \
	X(HOST_INJECTED, "host_injected") \
	X(REASSEMBLED, "reassembled") \
	X(CT_HANDOFF, "conntrack_handoff") \
	X(IPVS_FORWARDED, "ipvs_forwarded")

/** Drop reasons: X(enum suffix, name). */
#define PGT_DROP_LIST(X) \
	X(L2_TRUNCATED, "l2_truncated") \
	X(L2_OTHER_HOST, "l2_other_host") \
	X(L2_MULTICAST, "l2_multicast") \
	X(VLAN, "vlan_tagged") \
	X(IPV6, "ipv6") \
	X(ETHERTYPE, "ethertype_unsupported") \
	X(MULTISEG, "multisegment_header") \
	X(ARP_MALFORMED, "arp_malformed") \
	X(ARP_NOT_FOR_US, "arp_not_for_us") \
	X(ARP_OWN_ADDRESS, "arp_from_own_address") \
	X(IP_TRUNCATED, "ip_truncated") \
	X(IP_VERSION, "ip_bad_version") \
	X(IP_IHL, "ip_bad_ihl") \
	X(IP_LENGTH, "ip_bad_length") \
	X(IP_CHECKSUM, "ip_bad_checksum") \
	X(IP_SRC_MARTIAN, "ip_martian_source") \
	X(IP_DST_MARTIAN, "ip_martian_destination") \
	X(IP_MULTICAST, "ip_multicast") \
	X(L2_BCAST_FORWARD, "l2_broadcast_not_forwarded") \
	X(TTL_EXCEEDED, "ttl_exceeded") \
	X(NO_ROUTE, "no_route") \
	X(BLACKHOLE, "route_blackhole") \
	X(UNREACHABLE, "route_unreachable") \
	X(PROHIBITED, "route_prohibit") \
	X(PORT_DOWN, "port_down") \
	X(LINK_DOWN, "link_down") \
	X(FRAG_NEEDED, "frag_needed_df") \
	X(FRAG_FAILED, "fragmentation_failed") \
	X(LOCAL_UNHANDLED, "local_no_handler") \
	X(LOCAL_FRAGMENT, "local_fragment") \
	X(ICMP_MALFORMED, "icmp_malformed") \
	X(NEIGH_FAILED, "neigh_failed") \
	X(NEIGH_QUEUE_FULL, "neigh_queue_full") \
	X(NEIGH_TIMEOUT, "neigh_timeout") \
	X(NO_MBUF, "no_mbuf") \
	X(TX_FULL, "tx_full") \
	X(HANDOFF_FULL, "tx_handoff_full") \
	X(HOST_TX_FAILED, "host_tx_failed") \
	X(HOST_MAC_MISMATCH, "host_mac_mismatch") \
	X(RULE_DROP, "ruleset_drop") \
	X(RULE_REJECT, "ruleset_reject") \
	X(REASSEMBLY, "reassembly_failed") \
	X(CT_TABLE_FULL, "conntrack_table_full") \
	X(CT_INSERT_FAILED, "conntrack_insert_failed") \
	X(CT_HANDOFF_FULL, "conntrack_handoff_full") \
	X(NAT_NO_PORT, "nat_no_port") \
	X(IPVS_NO_DEST, "ipvs_no_dest") \
	X(IPVS_NO_ROUTE, "ipvs_no_route") \
	X(SHUTDOWN, "shutdown")

#define PGT_X_ENUM(e, n) PGT_CNT_##e,
enum pgt_counter { PGT_COUNTER_LIST(PGT_X_ENUM) PGT_CNT_MAX };
#undef PGT_X_ENUM
#define PGT_X_ENUM(e, n) PGT_DROP_##e,
enum pgt_drop { PGT_DROP_LIST(PGT_X_ENUM) PGT_DROP_MAX };
#undef PGT_X_ENUM

/** One worker's counters for one port. */
struct pgt_port_counters {
	uint64_t cnt[PGT_CNT_MAX];
	uint64_t drop[PGT_DROP_MAX];
} __rte_cache_aligned;

/** One worker's counters. */
struct pgt_worker_counters {
	struct pgt_port_counters port[RTE_MAX_ETHPORTS];
	uint64_t loops;		/**< Loop iterations. */
	uint64_t busy_loops;	/**< Iterations that received something. */
	uint64_t idle_sleeps;	/**< Times the worker slept when idle. */
} __rte_cache_aligned;

/** The counters of worker @p w (0..RTE_MAX_LCORE-1). */
extern struct pgt_worker_counters pgt_stats_worker[RTE_MAX_LCORE];

/** Count @p n of counter @p c on port @p p of worker @p w. */
#define PGT_COUNT(w, p, c, n) \
	(pgt_stats_worker[w].port[p].cnt[PGT_CNT_##c] += (n))

/** Count one drop of reason @p r on port @p p of worker @p w. */
#define PGT_DROP(w, p, r) \
	(pgt_stats_worker[w].port[p].drop[PGT_DROP_##r]++)

/** Name of counter @p c / drop reason @p d. */
const char *pgt_stats_counter_name(enum pgt_counter c);
const char *pgt_stats_drop_name(enum pgt_drop d);

/**
 * Sum port @p port's counters over workers 0..nb_workers-1 into @p out.
 */
void pgt_stats_port_sum(uint16_t port, unsigned int nb_workers,
	struct pgt_port_counters *out);

/** Total drops of all reasons in @p c. */
uint64_t pgt_stats_drops_total(const struct pgt_port_counters *c);

#endif /* PGT_STATS_H */
