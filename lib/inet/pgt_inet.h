/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_INET_H
#define PGT_INET_H

/**
 * @file
 * IPv4 address, prefix and MAC address text forms, and the Internet
 * checksum helpers the fast path uses.
 *
 * Addresses are kept in host byte order everywhere outside packet headers;
 * the fast path converts once when it reads a header.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

/** Room for "255.255.255.255/32" and its NUL. */
#define PGT_INET_ADDRSTRLEN 19

/** An IPv4 prefix: host-order address with host bits zero, length 0..32. */
struct pgt_prefix {
	uint32_t addr;
	uint8_t len;
};

/** Netmask for prefix length @p len (0..32), host order. */
static inline uint32_t
pgt_inet_mask(uint8_t len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

/**
 * Parse a dotted-quad IPv4 address.
 *
 * @return 0, or -EINVAL if @p s is not exactly four decimal octets 0..255.
 */
int pgt_inet_parse_addr(const char *s, uint32_t *addr);

/**
 * Parse "A.B.C.D/LEN" (or "A.B.C.D", meaning /32).
 *
 * @param host_bits_ok
 *   When false, an address with bits set beyond the prefix length is refused
 *   (a route prefix); when true it is kept as is (an interface address).
 * @return 0, or -EINVAL on a malformed address or length, or on host bits set
 *   while @p host_bits_ok is false.
 */
int pgt_inet_parse_prefix(const char *s, bool host_bits_ok, uint32_t *addr,
	uint8_t *len);

struct sockaddr_in;

/**
 * Parse a listening address "[ADDR:]PORT": an IPv4 address (default
 * 127.0.0.1, so that a bare port never listens beyond the machine) and a
 * port 1..65535.
 *
 * @return 0, or -EINVAL if @p spec is not of that form.
 */
int pgt_inet_parse_listen(const char *spec, struct sockaddr_in *sa);

/** Format @p addr (host order) as dotted quad into @p buf; returns @p buf. */
char *pgt_inet_format_addr(uint32_t addr, char *buf, size_t size);

/** Format "A.B.C.D/LEN" into @p buf; returns @p buf. */
char *pgt_inet_format_prefix(uint32_t addr, uint8_t len, char *buf,
	size_t size);

/**
 * Parse "aa:bb:cc:dd:ee:ff".
 *
 * @return 0, or -EINVAL if @p s is not six colon-separated hex octets.
 */
int pgt_inet_parse_mac(const char *s, struct rte_ether_addr *mac);

/** Format a MAC address as lower-case "aa:bb:cc:dd:ee:ff"; returns @p buf. */
char *pgt_inet_format_mac(const struct rte_ether_addr *mac, char *buf,
	size_t size);

/*
 * The one's complement sum does not care which byte of a 16-bit word is
 * the high one (RFC 1071 2.B): the updates below add the words as they are
 * in memory, with no byte swap, and the result is in network order too.
 */

/* ~sum folded to 16 bits. */
static inline rte_be16_t
pgt_inet_cksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (rte_be16_t)~sum;
}

/**
 * Update a 16-bit one's complement checksum for a 16-bit field changing from
 * @p old to @p new (RFC 1624, eqn. 3). All values in network byte order.
 */
static inline rte_be16_t
pgt_inet_cksum_update16(rte_be16_t cksum, rte_be16_t old, rte_be16_t new)
{
	return pgt_inet_cksum_fold((uint32_t)(uint16_t)~cksum +
		(uint16_t)~old + new);
}

/** As pgt_inet_cksum_update16() for a 32-bit field (e.g. an address). */
static inline rte_be16_t
pgt_inet_cksum_update32(rte_be16_t cksum, rte_be32_t old, rte_be32_t new)
{
	return pgt_inet_cksum_fold((uint32_t)(uint16_t)~cksum +
		(~old >> 16) + (~old & 0xffff) + (new >> 16) + (new & 0xffff));
}

/** As pgt_inet_cksum_update16() for a 32-bit and a 16-bit field at once
 *  (an address and a port). */
static inline rte_be16_t
pgt_inet_cksum_update48(rte_be16_t cksum, rte_be32_t old32, rte_be32_t new32,
	rte_be16_t old16, rte_be16_t new16)
{
	return pgt_inet_cksum_fold((uint32_t)(uint16_t)~cksum +
		(~old32 >> 16) + (~old32 & 0xffff) + (new32 >> 16) +
		(new32 & 0xffff) + (uint16_t)~old16 + new16);
}

/**
 * Is the one's complement sum of the @p hlen-byte IPv4 header at @p hdr all
 * ones, i.e. its checksum right? The usual 20-byte header is added as five
 * 32-bit words in 64 bits and folded once, several times cheaper than the
 * generic loop of rte_raw_cksum() (which longer headers take).
 */
static inline bool
pgt_inet_ipv4_hdr_sum_ok(const void *hdr, uint32_t hlen)
{
	uint64_t a, b, sum;
	uint32_t c;

	if (hlen != 20)
		return rte_raw_cksum(hdr, hlen) == 0xffff;
	/* A 2-byte aligned header, read in registers (memcpy of scalars
	 * compiles to plain loads; an array would go through the stack). */
	memcpy(&a, hdr, sizeof(a));
	memcpy(&b, (const uint8_t *)hdr + 8, sizeof(b));
	memcpy(&c, (const uint8_t *)hdr + 16, sizeof(c));
	sum = (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + c;
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/** True for 224.0.0.0/4. */
static inline bool
pgt_inet_is_multicast(uint32_t addr)
{
	return (addr & 0xf0000000) == 0xe0000000;
}

/** As pgt_inet_is_martian_src() for an address whose first octet is
 *  @p first: 0/8, 127/8, multicast (224/4), 240/4 and the broadcast. */
static inline bool
pgt_inet_is_martian_src_octet(uint8_t first)
{
	return first == 0 || first == 127 || first >= 224;
}

/** True for addresses a router never forwards from or to (RFC 1812 5.3.7). */
static inline bool
pgt_inet_is_martian_src(uint32_t addr)
{
	return pgt_inet_is_martian_src_octet((uint8_t)(addr >> 24));
}

/** As pgt_inet_is_martian_dst() by the first octet. */
static inline bool
pgt_inet_is_martian_dst_octet(uint8_t first)
{
	return first == 0 || first == 127;
}

/** True for destinations a router never forwards to (RFC 1812 5.3.7):
 *  0.0.0.0/8 and 127.0.0.0/8. */
static inline bool
pgt_inet_is_martian_dst(uint32_t addr)
{
	return pgt_inet_is_martian_dst_octet((uint8_t)(addr >> 24));
}

#endif /* PGT_INET_H */
