/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "pgt_icmp.h"
#include "pgt_pkt.h"
#include "pgt_test.h"

static struct rte_mempool *pool;
static const struct rte_ether_addr port_mac = {{ 2, 0, 0, 0, 0, 1 }};

/* An Ethernet + IPv4 + ICMP echo frame, valid unless a test breaks it. */
static struct rte_mbuf *
make_ipv4(uint16_t payload, uint8_t ttl)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	uint16_t len = (uint16_t)(sizeof(*ip) + sizeof(*icmp) + payload);

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
		(uint16_t)(sizeof(*eth) + len));
	memset(eth, 0, sizeof(*eth) + len);
	eth->dst_addr = port_mac;
	eth->src_addr = (struct rte_ether_addr){{ 2, 0, 0, 0, 0, 2 }};
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = ttl;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = RTE_BE32(0x0a000002);
	ip->dst_addr = RTE_BE32(0x0a000001);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	icmp->icmp_ident = RTE_BE16(0x77);
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp,
		sizeof(*icmp) + payload);
	return m;
}

static struct rte_ipv4_hdr *
iph(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
		sizeof(struct rte_ether_hdr));
}

static void
refresh_cksum(struct rte_mbuf *m)
{
	iph(m)->hdr_checksum = 0;
	iph(m)->hdr_checksum = rte_ipv4_cksum(iph(m));
}

static int
parse_drop(struct rte_mbuf *m)
{
	enum pgt_pkt_kind k = pgt_pkt_parse(m, 0, &port_mac);
	int reason = k == PGT_PKT_DROP ? pgt_pkt_meta(m)->drop : -1;

	/* A frame refused by the parse is still a frame (drop captures). */
	CHECK_EQ(pgt_pkt_meta(m)->l3_off, RTE_ETHER_HDR_LEN);
	rte_pktmbuf_free(m);
	return reason;
}

static void
test_parse_ipv4(void)
{
	struct rte_mbuf *m;
	struct pgt_pkt_meta *meta;

	m = make_ipv4(8, 64);
	/* Ethernet padding beyond the datagram is trimmed. */
	rte_pktmbuf_append(m, 10);
	CHECK_EQ(pgt_pkt_parse(m, 3, &port_mac), PGT_PKT_IPV4);
	meta = pgt_pkt_meta(m);
	CHECK_EQ(meta->in_port, 3);
	CHECK_EQ(meta->src, 0x0a000002);
	CHECK_EQ(meta->dst, 0x0a000001);
	CHECK_EQ(meta->l3_off, 14);
	CHECK_EQ(meta->l3_hlen, 20);
	CHECK_EQ(meta->proto, IPPROTO_ICMP);
	CHECK_EQ(rte_pktmbuf_pkt_len(m), 14 + 20 + 8 + 8);
	rte_pktmbuf_free(m);

	m = make_ipv4(8, 64);
	iph(m)->hdr_checksum ^= 1;
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_CHECKSUM);

	m = make_ipv4(8, 64);
	iph(m)->version_ihl = 0x65;
	refresh_cksum(m);
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_VERSION);

	m = make_ipv4(8, 64);
	iph(m)->version_ihl = 0x44;
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_IHL);

	m = make_ipv4(8, 64);
	iph(m)->version_ihl = 0x4f;	/* 60-byte header in a 36-byte packet */
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_TRUNCATED);

	m = make_ipv4(8, 64);
	iph(m)->total_length = RTE_BE16(200);
	refresh_cksum(m);
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_LENGTH);

	m = make_ipv4(8, 64);
	iph(m)->total_length = RTE_BE16(19);
	refresh_cksum(m);
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_LENGTH);

	m = make_ipv4(8, 64);
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - 20);
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_TRUNCATED);

	m = make_ipv4(8, 64);
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - 10);
	CHECK_EQ(parse_drop(m), PGT_DROP_L2_TRUNCATED);

	m = make_ipv4(8, 64);
	iph(m)->src_addr = RTE_BE32(0x7f000001);
	refresh_cksum(m);
	CHECK_EQ(parse_drop(m), PGT_DROP_IP_SRC_MARTIAN);

	m = make_ipv4(8, 64);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr.addr_bytes[5] = 9;
	CHECK_EQ(parse_drop(m), PGT_DROP_L2_OTHER_HOST);

	m = make_ipv4(8, 64);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr.addr_bytes[0] = 1;
	CHECK_EQ(parse_drop(m), PGT_DROP_L2_MULTICAST);

	m = make_ipv4(8, 64);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type =
		RTE_BE16(RTE_ETHER_TYPE_VLAN);
	CHECK_EQ(parse_drop(m), PGT_DROP_VLAN);

	m = make_ipv4(8, 64);
	rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type =
		RTE_BE16(0x88cc);
	CHECK_EQ(parse_drop(m), PGT_DROP_ETHERTYPE);
}

/* A small deterministic generator (xorshift32): same seed, same frames. */
static uint32_t
next_rand(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* A frame made from @p seed: usually valid, else broken in one or more of
 * the ways the parse must see (addresses, type, header, lengths, sum). */
static struct rte_mbuf *
make_varied(uint32_t seed)
{
	static const uint32_t addrs[] = { 0x0a000002, 0x0a010203, 0x00000001,
		0x7f000001, 0xe0000001, 0xffffffff, 0xf0000001, 0xc0a80001 };
	struct rte_mbuf *m = make_ipv4((uint16_t)(seed % 40), 64);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m,
		struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = iph(m);
	uint32_t r = seed, pick = next_rand(&r);

	if (pick % 8 == 0)
		eth->dst_addr.addr_bytes[next_rand(&r) % 6] ^= 1 +
			(uint8_t)(next_rand(&r) % 255);
	if (pick % 16 == 1)
		eth->dst_addr = (struct rte_ether_addr){{ 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff }};
	if (pick % 16 == 2)
		eth->ether_type = rte_cpu_to_be_16((uint16_t)next_rand(&r));
	if (pick % 12 == 3)
		ip->version_ihl = (uint8_t)next_rand(&r);
	if (pick % 10 == 4)
		ip->total_length = rte_cpu_to_be_16((uint16_t)(
			rte_be_to_cpu_16(ip->total_length) +
			next_rand(&r) % 41 - 20));
	if (pick % 6 == 5)
		rte_pktmbuf_append(m, (uint16_t)(next_rand(&r) % 30));
	if (pick % 7 == 6)
		ip->fragment_offset = rte_cpu_to_be_16((uint16_t)next_rand(&r));
	if (pick % 5 == 2)
		ip->src_addr = rte_cpu_to_be_32(addrs[next_rand(&r) % 8]);
	if (pick % 5 == 3)
		ip->dst_addr = rte_cpu_to_be_32(addrs[next_rand(&r) % 8]);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (pick % 9 == 7)
		ip->hdr_checksum ^= rte_cpu_to_be_16(1 << (next_rand(&r) % 16));
	if (pick % 11 == 8)
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	if (pick % 13 == 9)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) -
			next_rand(&r) % 40));
	return m;
}

/*
 * The burst parse takes the usual frame without calls and every other by
 * pgt_pkt_parse(): for valid and broken frames alike, its kinds, lengths
 * and metadata are pgt_pkt_parse()'s, field by field.
 */
static void
test_parse_burst_same_as_parse(void)
{
	struct rte_mbuf *one[8], *burst[8];
	const struct pgt_pkt_meta *a, *b;
	uint8_t kinds[8];
	uint32_t seed = 1;
	int round, i, ipv4 = 0, dropped = 0, mismatches = 0;

	for (round = 0; round < 500; round++) {
		for (i = 0; i < 8; i++) {
			next_rand(&seed);
			one[i] = make_varied(seed);
			burst[i] = make_varied(seed);
		}
		pgt_pkt_parse_burst(burst, 8, 3, &port_mac, kinds);
		for (i = 0; i < 8; i++) {
			a = pgt_pkt_meta(one[i]);
			b = pgt_pkt_meta(burst[i]);
			if (pgt_pkt_parse(one[i], 3, &port_mac) != kinds[i] ||
					rte_pktmbuf_pkt_len(one[i]) !=
					rte_pktmbuf_pkt_len(burst[i]) ||
					a->in_port != b->in_port ||
					a->out_port != b->out_port ||
					a->l3_off != b->l3_off ||
					a->l2_bcast != b->l2_bcast ||
					a->frag != b->frag || a->mark != b->mark ||
					a->ct != b->ct || a->ctinfo != b->ctinfo ||
					a->ct_flags != b->ct_flags ||
					a->trace != b->trace ||
					(kinds[i] == PGT_PKT_DROP ?
					 a->drop != b->drop :
					 kinds[i] == PGT_PKT_IPV4 &&
					 (a->l3_hlen != b->l3_hlen ||
					  a->src != b->src || a->dst != b->dst ||
					  a->proto != b->proto)))
				mismatches++;
			ipv4 += kinds[i] == PGT_PKT_IPV4;
			dropped += kinds[i] == PGT_PKT_DROP;
			rte_pktmbuf_free(one[i]);
			rte_pktmbuf_free(burst[i]);
		}
	}
	CHECK_EQ(mismatches, 0);
	/* Both outcomes were seen plenty. */
	CHECK(ipv4 > 1000);
	CHECK(dropped > 1000);
}

static void
test_parse_arp(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
		sizeof(*eth) + sizeof(*arp));
	memset(&eth->dst_addr, 0xff, 6);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_ARP);
	CHECK_EQ(pgt_pkt_meta(m)->l2_bcast, 1);
	arp->arp_plen = 16;
	CHECK_EQ(parse_drop(m), PGT_DROP_ARP_MALFORMED);
}

static void
test_icmp(void)
{
	struct rte_mbuf *m, *e;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	bool no_mbuf;

	/* Echo reply in place. */
	m = make_ipv4(56, 64);
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_IPV4);
	CHECK_EQ(pgt_icmp_echo_reply(m), 0);
	ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);
	CHECK_EQ(ip->src_addr, RTE_BE32(0x0a000001));
	CHECK_EQ(ip->dst_addr, RTE_BE32(0x0a000002));
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	CHECK_EQ(icmp->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	CHECK_EQ(rte_raw_cksum(icmp, sizeof(*icmp) + 56), 0xffff);
	rte_pktmbuf_free(m);

	/* A corrupt echo request is refused. */
	m = make_ipv4(8, 64);
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_IPV4);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 9)[0] ^= 0xff;
	CHECK_EQ(pgt_icmp_echo_reply(m), -EINVAL);
	rte_pktmbuf_free(m);

	/* An error quotes at most 576 bytes in all. */
	m = make_ipv4(1400, 1);
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_IPV4);
	e = pgt_icmp_error(pool, m, PGT_ICMP_TIME_EXCEEDED, 0, 0, &no_mbuf);
	CHECK(e != NULL);
	if (e != NULL) {
		ip = rte_pktmbuf_mtod(e, struct rte_ipv4_hdr *);
		CHECK_EQ(rte_pktmbuf_pkt_len(e), PGT_ICMP_ERROR_MAX_LEN);
		CHECK_EQ(rte_be_to_cpu_16(ip->total_length),
			PGT_ICMP_ERROR_MAX_LEN);
		CHECK_EQ(ip->dst_addr, RTE_BE32(0x0a000002));
		icmp = (struct rte_icmp_hdr *)(ip + 1);
		CHECK_EQ(icmp->icmp_type, PGT_ICMP_TIME_EXCEEDED);
		CHECK_EQ(rte_raw_cksum(icmp, PGT_ICMP_ERROR_MAX_LEN - 20),
			0xffff);
		rte_pktmbuf_free(e);
	}
	rte_pktmbuf_free(m);

	/* Never an error about an ICMP error. */
	m = make_ipv4(8, 1);
	rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34)->icmp_type = 3;
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_IPV4);
	CHECK(pgt_icmp_error(pool, m, PGT_ICMP_TIME_EXCEEDED, 0, 0,
		&no_mbuf) == NULL);
	CHECK(!no_mbuf);
	rte_pktmbuf_free(m);

	/* Nor about a non-first fragment. */
	m = make_ipv4(8, 1);
	iph(m)->fragment_offset = RTE_BE16(10);
	refresh_cksum(m);
	CHECK_EQ(pgt_pkt_parse(m, 0, &port_mac), PGT_PKT_IPV4);
	CHECK(pgt_pkt_meta(m)->frag);
	CHECK(pgt_icmp_error(pool, m, PGT_ICMP_TIME_EXCEEDED, 0, 0,
		&no_mbuf) == NULL);
	rte_pktmbuf_free(m);
}

static void
test_ratelimit(void)
{
	struct pgt_icmp_limiter l = { 0 };
	uint64_t now = 1000000, hz = rte_get_tsc_hz();
	int i, allowed = 0;

	pgt_icmp_set_limit(100, 10, 2);	/* 50/s, burst 5 for each of 2 */
	for (i = 0; i < 100; i++)
		allowed += pgt_icmp_allow(&l, now);
	CHECK_EQ(allowed, 5);
	/* One second later: 50 more tokens, capped by the burst of 5. */
	allowed = 0;
	for (i = 0; i < 100; i++)
		allowed += pgt_icmp_allow(&l, now + hz);
	CHECK_EQ(allowed, 5);
	/* A tenth of a second refills 5 tokens at 50/s. */
	allowed = 0;
	for (i = 0; i < 100; i++)
		allowed += pgt_icmp_allow(&l, now + hz + hz / 10);
	CHECK_EQ(allowed, 5);
	pgt_icmp_set_limit(0, 1, 2);
	for (i = 0; i < 100; i++)
		allowed += pgt_icmp_allow(&l, now + 2 * hz);
	CHECK_EQ(allowed, 105);
}

int
main(void)
{
	if (pgt_test_eal("pgt_test_pkt", NULL) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test", 1023, 0, PGT_PKT_PRIV_SIZE,
		RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(pool != NULL);
	if (pool == NULL)
		return pgt_test_report("pkt");
	test_parse_ipv4();
	test_parse_burst_same_as_parse();
	test_parse_arp();
	test_icmp();
	test_ratelimit();
	/* Every mbuf the tests took came back. */
	CHECK_EQ(rte_mempool_avail_count(pool), 1023);
	return pgt_test_report("pkt");
}
