/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "pgt_inet.h"
#include "pgt_test.h"

static void
test_addr(void)
{
	char buf[PGT_INET_ADDRSTRLEN];
	uint32_t a;
	uint8_t l;

	CHECK_EQ(pgt_inet_parse_addr("10.1.2.3", &a), 0);
	CHECK_EQ(a, 0x0a010203);
	CHECK_STR(pgt_inet_format_addr(a, buf, sizeof(buf)), "10.1.2.3");
	CHECK_EQ(pgt_inet_parse_addr("255.255.255.255", &a), 0);
	CHECK_EQ(a, 0xffffffff);
	CHECK_EQ(pgt_inet_parse_addr("256.1.1.1", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr("1.2.3", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr("1.2.3.4.5", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr("01.2.3.4", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr(" 1.2.3.4", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr("1.2.3.4 ", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr("", &a), -EINVAL);
	CHECK_EQ(pgt_inet_parse_addr(NULL, &a), -EINVAL);

	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.0/8", false, &a, &l), 0);
	CHECK_EQ(a, 0x0a000000);
	CHECK_EQ(l, 8);
	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.1/8", false, &a, &l), -EINVAL);
	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.1/8", true, &a, &l), 0);
	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.1", false, &a, &l), 0);
	CHECK_EQ(l, 32);
	CHECK_EQ(pgt_inet_parse_prefix("0.0.0.0/0", false, &a, &l), 0);
	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.0/33", false, &a, &l), -EINVAL);
	CHECK_EQ(pgt_inet_parse_prefix("10.0.0.0/", false, &a, &l), -EINVAL);
	CHECK_STR(pgt_inet_format_prefix(0x0a000000, 8, buf, sizeof(buf)),
		"10.0.0.0/8");
	CHECK_EQ(pgt_inet_mask(0), 0);
	CHECK_EQ(pgt_inet_mask(24), 0xffffff00);
	CHECK_EQ(pgt_inet_mask(32), 0xffffffff);
}

static void
test_mac(void)
{
	struct rte_ether_addr m;
	char buf[RTE_ETHER_ADDR_FMT_SIZE];

	CHECK_EQ(pgt_inet_parse_mac("02:00:0A:bb:cc:0d", &m), 0);
	CHECK_EQ(m.addr_bytes[2], 0x0a);
	CHECK_STR(pgt_inet_format_mac(&m, buf, sizeof(buf)),
		"02:00:0a:bb:cc:0d");
	CHECK_EQ(pgt_inet_parse_mac("02:00:0a:bb:cc", &m), -EINVAL);
	CHECK_EQ(pgt_inet_parse_mac("02-00-0a-bb-cc-0d", &m), -EINVAL);
	CHECK_EQ(pgt_inet_parse_mac("0g:00:0a:bb:cc:0d", &m), -EINVAL);
}

/* Incremental updates must equal a full recomputation, for every TTL. */
static void
test_cksum(void)
{
	struct rte_ipv4_hdr ip = {
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = RTE_BE16(84),
		.packet_id = RTE_BE16(0x1234),
		.next_proto_id = 17,
		.src_addr = RTE_BE32(0x0a000001),
		.dst_addr = RTE_BE32(0xc0a80101),
	};
	rte_be16_t inc;
	rte_be32_t na;
	int ttl, bad = 0;

	for (ttl = 255; ttl > 0; ttl--) {
		ip.time_to_live = (uint8_t)ttl;
		ip.hdr_checksum = 0;
		ip.hdr_checksum = rte_ipv4_cksum(&ip);
		inc = pgt_inet_cksum_update16(ip.hdr_checksum,
			rte_cpu_to_be_16((uint16_t)(ttl << 8 | 17)),
			rte_cpu_to_be_16((uint16_t)((ttl - 1) << 8 | 17)));
		ip.time_to_live = (uint8_t)(ttl - 1);
		ip.hdr_checksum = 0;
		if (inc != rte_ipv4_cksum(&ip))
			bad++;
	}
	CHECK_EQ(bad, 0);

	ip.hdr_checksum = 0;
	ip.hdr_checksum = rte_ipv4_cksum(&ip);
	na = RTE_BE32(0x64400001);
	inc = pgt_inet_cksum_update32(ip.hdr_checksum, ip.src_addr, na);
	ip.src_addr = na;
	ip.hdr_checksum = 0;
	CHECK_EQ(inc, rte_ipv4_cksum(&ip));
}

/* An address and a port changed at once, in the UDP checksum of random
 * datagrams, equals a recomputation (and the two updates one after the
 * other), carries and all-ones words included. */
static void
test_cksum_update48(void)
{
	struct {
		struct rte_ipv4_hdr ip;
		struct rte_udp_hdr udp;
		uint8_t data[16];
	} __rte_packed d;
	rte_be16_t want, inc, two;
	unsigned int i, j, bad = 0;
	rte_be32_t na;
	rte_be16_t np;

	srand(48);
	for (i = 0; i < 20000; i++) {
		memset(&d, 0, sizeof(d));
		d.ip.version_ihl = RTE_IPV4_VHL_DEF;
		d.ip.next_proto_id = IPPROTO_UDP;
		d.ip.total_length = rte_cpu_to_be_16(sizeof(d));
		d.ip.src_addr = (rte_be32_t)rand() ^ ((rte_be32_t)rand() << 16);
		d.ip.dst_addr = i % 7 == 0 ? UINT32_MAX : (rte_be32_t)rand();
		d.udp.src_port = (rte_be16_t)rand();
		d.udp.dst_port = i % 5 == 0 ? 0xffff : (rte_be16_t)rand();
		d.udp.dgram_len = rte_cpu_to_be_16(sizeof(d) - sizeof(d.ip));
		for (j = 0; j < sizeof(d.data); j++)
			d.data[j] = (uint8_t)rand();
		d.udp.dgram_cksum = rte_ipv4_udptcp_cksum(&d.ip, &d.udp);
		na = i % 3 == 0 ? 0 : (rte_be32_t)rand() << 1;
		np = i % 11 == 0 ? 0xffff : (rte_be16_t)rand();
		inc = pgt_inet_cksum_update48(d.udp.dgram_cksum,
			d.ip.src_addr, na, d.udp.src_port, np);
		two = pgt_inet_cksum_update16(pgt_inet_cksum_update32(
			d.udp.dgram_cksum, d.ip.src_addr, na),
			d.udp.src_port, np);
		d.ip.src_addr = na;
		d.udp.src_port = np;
		d.udp.dgram_cksum = 0;
		want = rte_ipv4_udptcp_cksum(&d.ip, &d.udp);
		/* 0 and all ones are the same one's complement number. */
		if ((inc != want && (uint16_t)(inc ^ want) != 0xffff) ||
				inc != two)
			bad++;
	}
	CHECK_EQ(bad, 0);
}

/* The header check agrees with the generic sum: for right checksums,
 * every single bit flipped, carries out of every position, options. */
static void
test_hdr_sum(void)
{
	uint8_t hdr[60];
	unsigned int i, len, bit, bad = 0, seed = 1;
	uint16_t ck;

	for (len = 20; len <= 60; len += 40) {
		for (i = 0; i < 2000; i++) {
			unsigned int k;

			for (k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				/* Mostly 0xff bytes: sums that carry. */
				hdr[k] = (seed >> 16) % 4 ? 0xff :
					(uint8_t)(seed >> 8);
			}
			hdr[10] = hdr[11] = 0;
			ck = (uint16_t)~rte_raw_cksum(hdr, len);
			memcpy(&hdr[10], &ck, 2);
			if (!pgt_inet_ipv4_hdr_sum_ok(hdr, len))
				bad++;
			bit = seed % (len * 8);
			hdr[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (pgt_inet_ipv4_hdr_sum_ok(hdr, len) !=
					(rte_raw_cksum(hdr, len) == 0xffff))
				bad++;
		}
	}
	CHECK_EQ(bad, 0);
}

static void
test_martian(void)
{
	CHECK(pgt_inet_is_martian_src(0));
	CHECK(pgt_inet_is_martian_src(0x7f000001));
	CHECK(pgt_inet_is_martian_src(0xe0000001));
	CHECK(pgt_inet_is_martian_src(0xffffffff));
	CHECK(!pgt_inet_is_martian_src(0x0a000001));
	CHECK(pgt_inet_is_multicast(0xef000001));
}

int
main(void)
{
	test_addr();
	test_mac();
	test_cksum();
	test_cksum_update48();
	test_hdr_sum();
	test_martian();
	return pgt_test_report("inet");
}
