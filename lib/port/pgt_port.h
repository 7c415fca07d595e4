/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_PORT_H
#define PGT_PORT_H

/**
 * @file
 * Data ports: set-up, names, administrative state, addresses, and the
 * RCU-published view of them that workers read.
 *
 * Every ethdev EAL probed becomes a port named "port<N>" (renamable). Each
 * port gets min(workers, device maximum) RX and TX queues: worker W polls RX
 * queue W and sends on TX queue W when they exist. A worker without its own
 * TX queue on a port (e.g. net_pcap has one) enqueues to the port's handoff
 * ring, which worker 0 (owner of TX queue 0) drains; the management thread
 * uses the same ring for the few packets it originates (ARP requests).
 *
 * Multi-queue ports with RSS get a symmetric Toeplitz key (0x6d5a repeated),
 * so that both directions of a flow hash to the same queue and worker. Ports
 * without RSS still work with several workers: net_tap's kernel side spreads
 * flows over its queues itself (and keeps a flow on one queue).
 *
 * The view (names, state, MTU, MAC, addresses) is immutable once published:
 * the management thread copies it, edits the copy, publishes it with
 * pgt_rcu_publish() and frees the old one after pgt_rcu_synchronize().
 */

#include <stdbool.h>
#include <errno.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "pgt_inet.h"
#include "pgt_rcu.h"

#define PGT_PORT_NAMESIZE	16
#define PGT_PORT_MAX_ADDRS	16
#define PGT_PORT_TX_RING_SIZE	1024
#define PGT_PORT_DEFAULT_MTU	1500
/**
 * Packet buffers that must stay free once a port's receive rings are
 * filled: what bursts, transmit rings and handoffs hold in flight. Many
 * drivers (net_tap, most NICs) take a buffer per RX descriptor when
 * started; a pool they drain leaves nothing to receive, reply or resolve
 * neighbours with, so a port whose rings leave fewer free (or fewer than
 * were free before, in a smaller pool) is refused instead.
 */
#define PGT_PORT_MBUF_RESERVE	1024
/** No port (host_port / host_of unset). */
#define PGT_PORT_NONE		UINT16_MAX

/** An interface address: the address itself and its prefix length. */
struct pgt_port_addr {
	uint32_t addr;	/**< Host order. */
	uint8_t len;
};

/** One port as the workers see it. */
struct pgt_port {
	char name[PGT_PORT_NAMESIZE];
	bool up;		/**< Administrative state (software). */
	uint16_t mtu;		/**< IP MTU used for forwarding. */
	struct rte_ether_addr mac;
	uint16_t nb_rxq;
	uint16_t nb_txq;
	unsigned int nb_addrs;
	struct pgt_port_addr addrs[PGT_PORT_MAX_ADDRS];
	/** The host interface mirroring this data port, or PGT_PORT_NONE. */
	uint16_t host_port;
	/** On a host interface: the data port it mirrors; else PGT_PORT_NONE. */
	uint16_t host_of;
};

/** The published set of ports; indexed by DPDK port id. */
struct pgt_port_view {
	uint16_t nb_ports;
	struct pgt_port port[RTE_MAX_ETHPORTS];
};

/** The current view; workers read it with pgt_port_view_get(). */
extern struct pgt_port_view *pgt_port_view_cur;

/** Handoff TX ring of each port (multi-producer, worker 0 consumes). */
extern struct rte_ring *pgt_port_tx_ring[RTE_MAX_ETHPORTS];

/**
 * Ports whose link pgt_port_poll() last saw down. Workers read it only when
 * a transmit fails, to count the loss as link_down rather than tx_full.
 */
extern bool pgt_port_link_down[RTE_MAX_ETHPORTS];

/** Number of workers the ports were set up for. */
extern unsigned int pgt_port_nb_workers;

/** The current view (worker or management context). */
static inline const struct pgt_port_view *
pgt_port_view_get(void)
{
	return pgt_rcu_dereference(pgt_port_view_cur);
}

/**
 * The address of port @p p to use as source towards @p dst: the first
 * address whose subnet holds @p dst, else the first address.
 *
 * @return 0 with *src set, or -ENOENT if the port has no address.
 */
static inline int
pgt_port_select_src(const struct pgt_port *p, uint32_t dst, uint32_t *src)
{
	unsigned int i;
	uint32_t mask;

	if (p->nb_addrs == 0)
		return -ENOENT;
	for (i = 0; i < p->nb_addrs; i++) {
		mask = p->addrs[i].len == 0 ? 0 :
			UINT32_MAX << (32 - p->addrs[i].len);
		if ((p->addrs[i].addr & mask) == (dst & mask)) {
			*src = p->addrs[i].addr;
			return 0;
		}
	}
	*src = p->addrs[0].addr;
	return 0;
}

/** True if @p p is a host interface (see pgt_host.h), not a data port. */
static inline bool
pgt_port_is_host(const struct pgt_port *p)
{
	return p->host_of != PGT_PORT_NONE;
}

/** True if @p addr is on one of port @p p's subnets. */
static inline bool
pgt_port_on_link(const struct pgt_port *p, uint32_t addr)
{
	unsigned int i;

	for (i = 0; i < p->nb_addrs; i++)
		if (((p->addrs[i].addr ^ addr) &
				pgt_inet_mask(p->addrs[i].len)) == 0)
			return true;
	return false;
}

/** True if @p addr is one of port @p p's addresses. */
static inline bool
pgt_port_has_addr(const struct pgt_port *p, uint32_t addr)
{
	unsigned int i;

	for (i = 0; i < p->nb_addrs; i++)
		if (p->addrs[i].addr == addr)
			return true;
	return false;
}

/**
 * Configure and start every probed ethdev.
 *
 * @param nb_rxd, nb_txd  Descriptors per queue (clamped to device limits).
 * @return 0, -ENODEV if EAL probed no port, -ENOBUFS if the ports' receive
 *   rings leave fewer than PGT_PORT_MBUF_RESERVE buffers of @p mp free, or
 *   the negative errno of the failing ethdev call (logged with the port).
 */
int pgt_port_init(unsigned int nb_workers, struct rte_mempool *mp,
	uint16_t nb_rxd, uint16_t nb_txd);

/**
 * Hot-plug a virtual device (management thread) and set it up as
 * pgt_port_init() does, without publishing it: the caller fills in and
 * publishes the returned port in a new view. The device is created in the
 * calling thread's network namespace.
 *
 * @param devname  Virtual device (and ethdev) name, e.g. "net_tap_h0".
 * @param args     Its arguments, e.g. "iface=eth9".
 * @param[out] pid  The new port's id.
 * @param[out] p    Its initial state (named "port<pid>", up, default MTU).
 * @return 0; -EEXIST if the device exists; -ENAMETOOLONG; -ENOBUFS if
 *   its receive rings would leave fewer than PGT_PORT_MBUF_RESERVE packet
 *   buffers free; the negative errno of the failing EAL or ethdev call (the
 *   device is removed again).
 */
int pgt_port_attach(const char *devname, const char *args, uint16_t *pid,
	struct pgt_port *p);

/** Stop, close and remove a port that no published view holds. */
void pgt_port_detach(uint16_t pid);

/** Stop and close every port (flushes net_pcap output files). */
void pgt_port_fini(void);

/**
 * Read every port's link, at most every 100 ms (management thread, each
 * loop): log a change, count it (carrier_changes in port_list) and keep
 * pgt_port_link_down. Forwarding does not depend on it: a port whose
 * link is down takes packets until its driver refuses them.
 */
void pgt_port_poll(void);

/**
 * True if @p s can name a port: 1 to PGT_PORT_NAMESIZE - 1 letters, digits,
 * '_', '-' or '.', not starting with a digit.
 */
bool pgt_port_valid_name(const char *s);

/** Find a port by name. @return its id, or -ENOENT. */
int pgt_port_find(const char *name);

/**
 * Copy the current view for editing (management thread).
 * @return the copy, or NULL when out of memory.
 */
struct pgt_port_view *pgt_port_view_copy(void);

/** Publish @p nv, wait for the workers, free the previous view. */
void pgt_port_view_commit(struct pgt_port_view *nv);

/** Discard an edited copy that will not be published. */
void pgt_port_view_discard(struct pgt_port_view *nv);

/** Called after a port changes administrative state. */
typedef void (*pgt_port_state_cb_t)(uint16_t port, bool up);

/** Add a listener for state changes (module initialisation, not threadsafe). */
void pgt_port_on_state_change(pgt_port_state_cb_t cb);

/** Called after a port was renamed or a port appeared. */
typedef void (*pgt_port_rename_cb_t)(void);

/** Add a listener for port names (module initialisation). */
void pgt_port_on_rename(pgt_port_rename_cb_t cb);

/** Tell the name listeners (called by whoever published new names). */
void pgt_port_renamed(void);

/** Called after an address was added to or removed from a port. */
typedef void (*pgt_port_addr_cb_t)(uint16_t port, uint32_t addr, uint8_t len,
	bool added);

/** Add a listener for address changes (module initialisation). */
void pgt_port_on_addr_change(pgt_port_addr_cb_t cb);

/** Tell the address listeners (called by whoever edited the view). */
void pgt_port_addr_changed(uint16_t port, uint32_t addr, uint8_t len,
	bool added);

#endif /* PGT_PORT_H */
