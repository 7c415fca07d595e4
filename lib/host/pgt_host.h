/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_HOST_H
#define PGT_HOST_H

/**
 * @file
 * Host interfaces: the way between the data ports and the host kernel's
 * network stack, so that programs on the box (sshd, a routing daemon, a
 * proxy) talk through pktgate's ports.
 *
 * A data port may have one host interface: a tap device in a chosen network
 * namespace, with the data port's MAC, MTU and addresses. pktgate runs it as
 * one more ethdev (net_tap, one queue pair per worker), flagged in the port
 * view (struct pgt_port host_port / host_of), so the workers serve it
 * without locks:
 *
 * - punt: a packet addressed to the box that the fast path does not answer
 *   itself (everything but ARP and ICMP echo) leaves, after INPUT, by the
 *   host interface of the port it arrived on; ARP replies for the box's
 *   addresses go there too (after pktgate learned from them), so the host's
 *   own resolutions complete;
 * - inject: a frame the host sends out of its interface enters as locally
 *   generated: IPv4 is routed by pktgate's table (OUTPUT, POSTROUTING) out
 *   of whichever data port the route says; ARP and link-level broadcasts go
 *   out of the mirrored data port unchanged.
 *
 * The management thread keeps the host side in step: addresses added to or
 * removed from the data port are added to or removed from the host interface
 * (netlink), the MTU and the administrative state follow the data port, and
 * pgt_host_route_import() copies the routes the host holds through its
 * interfaces (e.g. from a routing daemon) into pktgate's table.
 */

#include <stdint.h>

/** Largest interface name, as the kernel counts it (IFNAMSIZ - 1). */
#define PGT_HOST_IFNAME_MAX 15

/**
 * Create the host interface of data port @p port (management thread).
 *
 * @param ifname  Kernel interface name.
 * @param netns   Network namespace: a name under /run/netns, an absolute
 *   path, or "" for the daemon's own.
 * @param name    pktgate's name for the interface's port.
 * @return 0; -EEXIST (the port has one, or an interface @p ifname exists in
 *   @p netns); -ENOENT (no such namespace); -EINVAL (a bad name); the
 *   negative errno of the failing device or netlink call.
 */
int pgt_host_iface_add(uint16_t port, const char *ifname, const char *netns,
	const char *name);

/**
 * Open a socket on the host path of data port @p port (management thread):
 * in the network namespace of the port's host interface and bound to that
 * interface (SO_BINDTODEVICE), so that what it sends enters pktgate as the
 * host's traffic (OUTPUT) and leaves by pktgate's routes, whatever else the
 * namespace holds. Non-blocking, close-on-exec. The host kernel chooses the
 * source address and needs a route to the peer: the port's connected
 * subnets are mirrored there; others need a route in that namespace.
 *
 * @param type  SOCK_STREAM or SOCK_DGRAM (IPv4).
 * @return the descriptor (the caller closes it); -ENODEV if @p port has no
 *   host interface; the negative errno of setns(), socket() or
 *   setsockopt().
 */
int pgt_host_socket(uint16_t port, int type);

#endif /* PGT_HOST_H */
