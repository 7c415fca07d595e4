/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_ROUTE_H
#define PGT_ROUTE_H

/**
 * @file
 * Interface addresses, the IPv4 routing table and its next hops.
 *
 * Workers look destinations up in one rte_lpm shared by all of them; its
 * 24-bit result indexes the next hop array. The management thread is the only
 * writer. rte_lpm updates are made in place and are safe for concurrent
 * lookups; the tbl8 groups a delete frees are reclaimed through the RCU
 * domain (rte_lpm_rcu_qsbr_add), so a worker mid-lookup never reads a
 * recycled group. Next hops are immutable while referenced and deduplicated
 * (a thousand routes via one gateway share one); a next hop slot freed by the
 * last route using it is reused only after a grace period.
 *
 * Addresses own their routes, as in Linux: adding A.B.C.D/N to a port adds a
 * local /32 (delivered to pktgate itself), the subnet's directed broadcast
 * /32, and the connected route of the subnet (shared by several addresses of
 * one subnet on one port). Deleting the last address of a subnet removes the
 * connected route and the static routes whose gateway it made reachable.
 * Unicast routes through a port that is administratively down are withdrawn
 * from the LPM (packets fall to a less specific route, or get unreachable)
 * and come back when it is up.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_lpm.h>

/** What a route does with a packet. */
enum pgt_nh_type {
	PGT_NH_UNICAST,		/**< Forward out `port` to `gw` (0: on-link). */
	PGT_NH_LOCAL,		/**< Addressed to pktgate itself. */
	PGT_NH_BROADCAST,	/**< A directed broadcast of a local subnet. */
	PGT_NH_BLACKHOLE,	/**< Drop silently. */
	PGT_NH_UNREACHABLE,	/**< Drop, ICMP host unreachable. */
	PGT_NH_PROHIBIT,	/**< Drop, ICMP administratively prohibited. */
};

/** A next hop, as workers read it. */
struct pgt_nexthop {
	uint32_t gw;		/**< Gateway, host order; 0 for on-link. */
	uint16_t port;
	uint8_t type;		/**< enum pgt_nh_type */
	uint8_t pad;
	uint32_t refcnt;	/**< Routes using it (management thread). */
};

/** Largest number of distinct next hops. */
#define PGT_ROUTE_MAX_NEXTHOPS 65536

extern struct rte_lpm *pgt_route_lpm;
extern struct pgt_nexthop pgt_route_nexthops[PGT_ROUTE_MAX_NEXTHOPS];

/**
 * The default route's next hop, or -1. rte_lpm has no depth 0, so the
 * default route lives here and applies when the LPM misses.
 */
extern int32_t pgt_route_default_nh;

/** The next hop for an LPM miss: the default route's, or -ENETUNREACH. */
static inline int
pgt_route_default(void)
{
	int32_t nh = __atomic_load_n(&pgt_route_default_nh, __ATOMIC_ACQUIRE);

	return nh >= 0 ? nh : -ENETUNREACH;
}

/**
 * Create the routing table for @p max_routes routes. Needs pgt_rcu_init().
 *
 * @return 0, -EINVAL on a zero size, -ENOMEM.
 */
int pgt_route_init(uint32_t max_routes);

/** Free the table (after the workers stopped). */
void pgt_route_fini(void);

/**
 * Look @p addr up as a worker does.
 *
 * @return the next hop index, or -ENETUNREACH when no route matches.
 */
static inline int
pgt_route_lookup(uint32_t addr)
{
	uint32_t nh;

	if (rte_lpm_lookup(pgt_route_lpm, addr, &nh) != 0)
		return pgt_route_default();
	return (int)nh;
}

/** Route origin, as iproute2 shows it. */
enum pgt_route_proto {
	PGT_ROUTE_PROTO_KERNEL,	/**< Connected, made by an address. */
	PGT_ROUTE_PROTO_LOCAL,	/**< Local or broadcast /32 of an address. */
	PGT_ROUTE_PROTO_STATIC,	/**< Added by the operator. */
};

/**
 * Add a route (management thread).
 *
 * @return 0; -EEXIST if the prefix has a route; -ENOSPC if the LPM or the
 *   next hop table is full; -EINVAL on a bad prefix length.
 */
int pgt_route_add(uint32_t prefix, uint8_t len, enum pgt_nh_type type,
	uint32_t gw, uint16_t port, enum pgt_route_proto proto);

/**
 * Add a static route or change the next hop of the one for exactly
 * @p prefix/@p len without withdrawing it (management thread): lookups
 * meet the old next hop or the new one, never none.
 *
 * @return 0; -EPERM if that route belongs to an address; -ENOSPC if the
 *   LPM or the next hop table is full; -EINVAL on a bad prefix length.
 */
int pgt_route_replace(uint32_t prefix, uint8_t len, enum pgt_nh_type type,
	uint32_t gw, uint16_t port);

/**
 * Delete the route for exactly @p prefix/@p len.
 *
 * @return 0, or -ENOENT if there is none.
 */
int pgt_route_del(uint32_t prefix, uint8_t len);

/**
 * Add an address to a port, with its local, broadcast and connected routes,
 * and announce it with a gratuitous ARP.
 *
 * @return 0; -EEXIST (address already on a port, or its subnet connected on
 *   another port); -EINVAL (unusable address or length); -ENOSPC (port
 *   holds PGT_PORT_MAX_ADDRS, or tables full); -ENOMEM.
 */
int pgt_route_addr_add(uint16_t port, uint32_t addr, uint8_t len);

/**
 * Remove an address and the routes it owns.
 *
 * @return 0, or -ENOENT if the port has no such address.
 */
int pgt_route_addr_del(uint16_t port, uint32_t addr, uint8_t len);

#endif /* PGT_ROUTE_H */
