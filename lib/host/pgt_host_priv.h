/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_HOST_PRIV_H
#define PGT_HOST_PRIV_H

/* rtnetlink, just what host interfaces need (pgt_host_netlink.c). */

#include <stdbool.h>
#include <stdint.h>

/**
 * Open a NETLINK_ROUTE socket in the calling thread's network namespace;
 * it stays bound to that namespace. Replies are awaited at most 2 s.
 * @return the socket, or a negative errno.
 */
int pgt_host_nl_open(void);

/**
 * Add (@p add) or remove an IPv4 address on interface @p ifindex.
 * @return 0, or the kernel's negative errno (-EEXIST, -EADDRNOTAVAIL...).
 */
int pgt_host_nl_addr(int fd, int ifindex, uint32_t addr, uint8_t len,
	bool add);

/** A route found by pgt_host_nl_routes() (host order). */
struct pgt_host_route {
	uint32_t prefix;
	uint8_t len;
	uint32_t gw;		/**< 0: on-link. */
	uint8_t protocol;	/**< RTPROT_* */
	bool multipath;
};

/**
 * Dump the IPv4 unicast routes of the main table that leave through
 * interface @p ifindex, except the connected routes the kernel made from
 * addresses (RTPROT_KERNEL), calling @p cb for each.
 * @return 0, or a negative errno.
 */
int pgt_host_nl_routes(int fd, int ifindex,
	void (*cb)(const struct pgt_host_route *r, void *arg), void *arg);

#endif /* PGT_HOST_PRIV_H */
