/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_IPVS_H
#define PGT_IPVS_H

/**
 * @file
 * Virtual services, as Linux's IPVS does them: a service (TCP or UDP
 * VIP:port, or a firewall mark) spreads new connections over its real
 * servers with a scheduler, and forwards them by NAT, direct routing,
 * IPIP tunnelling or full-NAT. Its connections are conntrack entries
 * (PGT_CT_S_IPVS) with IPVS's state table and timeouts; see docs/ipvs.md.
 *
 * The management thread owns the model (services, real servers, their
 * order) and publishes an immutable snapshot of it by RCU, as the ruleset
 * is published: a change never stops a worker. What changes per packet
 * lives outside the snapshot, in slots that outlive snapshots:
 *  - each real server has a slot (1..PGT_IPVS_MAX_DESTS-1) with per-worker
 *    counters (active and inactive connections, packets, bytes), each
 *    written only by its worker; lc, wlc, sed and nq add them up;
 *  - each service has a slot with per-worker counters, and per-worker
 *    scheduler state (the rr cursor, wrr's position);
 *  - persistence templates live in one shared table of atomically claimed
 *    entries (see pgt_ipvs.c).
 * A removed real server keeps its slot while connections use it.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "pgt_conntrack.h"

/** Slots (0 means none): up to 16,383 services and 65,534 real servers
 *  (a connection names its real server in 16 bits). */
#define PGT_IPVS_MAX_DESTS	65535
#define PGT_IPVS_MAX_SERVICES	16384
/** Local addresses of a full-NAT service. */
#define PGT_IPVS_MAX_LADDRS	16

/** Forwarding methods (ipvsadm -m, -g, -i, --fullnat). */
enum pgt_ipvs_method {
	PGT_IPVS_MASQ,		/**< NAT: "Masq" */
	PGT_IPVS_ROUTE,		/**< Direct routing: "Route" */
	PGT_IPVS_TUNNEL,	/**< IPIP: "Tunnel" */
	PGT_IPVS_FULLNAT,	/**< Source and destination NAT: "FullNat" */
	PGT_IPVS_METHOD_MAX
};

/** Service flags: persistence, and the schedulers' flags (ipvsadm -b). */
#define PGT_IPVS_SVC_PERSISTENT	0x0001
#define PGT_IPVS_SVC_SCHED1	0x0008	/**< sh-fallback / mh-fallback */
#define PGT_IPVS_SVC_SCHED2	0x0010	/**< sh-port / mh-port */

/** A real server in a snapshot (immutable). */
struct pgt_ipvs_dest {
	uint32_t addr;		/**< Host order */
	uint16_t port;
	uint16_t slot;
	uint32_t weight;	/**< 0: quiescent (no new connections) */
	uint32_t u_threshold;	/**< 0: none */
	uint32_t l_threshold;
	uint8_t method;		/**< enum pgt_ipvs_method */
	/** Failed its health check (weight is then 0): persistence no
	 *  longer sends clients to it either. */
	uint8_t down;
};

/** Scheduler state of one worker for one service. */
struct pgt_ipvs_sched_state {
	uint32_t index;		/**< rr, wrr: the last dest picked */
	int32_t cw;		/**< wrr: the current weight */
} __rte_cache_aligned;

/** A service in a snapshot (immutable but for the per-worker state). */
struct pgt_ipvs_service {
	uint8_t proto;		/**< IPPROTO_TCP/UDP; 0 for a fwmark service */
	uint16_t port;
	uint32_t addr;		/**< Host order */
	uint32_t fwmark;	/**< Non-zero: a fwmark service */
	uint16_t slot;
	uint32_t flags;		/**< PGT_IPVS_SVC_* */
	uint32_t timeout;	/**< Persistence (seconds) */
	uint32_t netmask;	/**< Persistence granularity (host order) */
	const struct pgt_ipvs_sched_ops *sched;
	void *sched_data;	/**< Built by sched->init */
	uint32_t nb_dests;
	struct pgt_ipvs_dest *dests;
	uint32_t nb_laddrs;	/**< Full-NAT source addresses */
	uint32_t laddrs[PGT_IPVS_MAX_LADDRS];
	/** Per worker (pgt_ipvs_init()'s count), written by that worker. */
	struct pgt_ipvs_sched_state *state;
};

/** What a scheduler may look at in a new connection. Host order. */
struct pgt_ipvs_flow {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
};

/**
 * A scheduler (drivers/sched). schedule() runs on a worker, for a new
 * connection, and must not block, allocate or log.
 */
struct pgt_ipvs_sched_ops {
	const char *name;
	/** Build svc->sched_data from svc->dests (management thread; NULL:
	 *  nothing to build). @return 0, -ENOMEM. */
	int (*init)(struct pgt_ipvs_service *svc);
	/** Free svc->sched_data (management thread, after a grace period). */
	void (*fini)(struct pgt_ipvs_service *svc);
	/** @return the index in svc->dests of the pick, or -1 (none usable). */
	int (*schedule)(const struct pgt_ipvs_service *svc,
		struct pgt_ipvs_sched_state *st, const struct pgt_ipvs_flow *f);
	struct pgt_ipvs_sched_ops *next;
};

/** Add scheduler @p ops (constructor context). */
void pgt_ipvs_sched_register(struct pgt_ipvs_sched_ops *ops);

#define PGT_IPVS_SCHED_REGISTER(ops) \
	RTE_INIT(pgt_ipvs_sched_register_##ops) \
	{ pgt_ipvs_sched_register(&ops); }

/** The scheduler called @p name, or NULL. */
const struct pgt_ipvs_sched_ops *pgt_ipvs_sched_find(const char *name);

/* For schedulers: what a real server carries now (summed over workers). */

/** Active (ESTABLISHED) and inactive connections of dest slot @p slot. */
void pgt_ipvs_dest_conns(uint16_t slot, uint32_t *active,
	uint32_t *inactive);

/**
 * May @p d take a new connection? Not if quiescent (weight 0) or over its
 * upper threshold (until under the lower one, or 3/4 of the
 * upper if none: Linux's hysteresis).
 */
bool pgt_ipvs_dest_usable(const struct pgt_ipvs_dest *d);

/** The gcd of the non-zero weights of @p svc's servers (0 if none). */
uint32_t pgt_ipvs_weight_gcd(const struct pgt_ipvs_service *svc);

/** Linux's overhead for lc and wlc: active * 256 + inactive. */
uint32_t pgt_ipvs_dest_overhead(const struct pgt_ipvs_dest *d);

/* Set-up (management thread) */

/**
 * Allocate the slots for @p nb_workers workers and register with
 * conntrack. @return 0, -EINVAL, -ENOMEM.
 */
int pgt_ipvs_init(unsigned int nb_workers);

/** Free everything (after the workers stopped). */
void pgt_ipvs_fini(void);

/**
 * The management thread's periodic work: rates, freeing unused slots, and
 * the real servers' health checks (docs/ipvs.md), which it runs itself
 * through the host path with non-blocking sockets.
 */
void pgt_ipvs_poll(void);

/* The packet path (worker context) */

/** The snapshot in force; valid until the worker's next quiescent state. */
struct pgt_ipvs_snapshot;
const struct pgt_ipvs_snapshot *pgt_ipvs_get(void);

/** Does @p s have any service? (Connection tracking must then run.) */
bool pgt_ipvs_active(const struct pgt_ipvs_snapshot *s);

/**
 * The service a packet to @p dst:@p dport (@p proto), firewall mark
 * @p mark, belongs to, or NULL: fwmark services first, then VIP:port,
 * then a persistent VIP:0 (Linux's order).
 */
const struct pgt_ipvs_service *pgt_ipvs_lookup(
	const struct pgt_ipvs_snapshot *s, uint8_t proto, uint32_t dst,
	uint16_t dport, uint32_t mark);

/** The address of real server slot @p slot (fixed while the slot lives). */
uint32_t pgt_ipvs_dest_addr(uint16_t slot);

/** Is @p addr a VIP or a full-NAT local address (ARP answers it)? */
bool pgt_ipvs_owns_addr(const struct pgt_ipvs_snapshot *s, uint32_t addr);

/** The outcome of scheduling a new connection. */
enum pgt_ipvs_result {
	PGT_IPVS_OK,		/**< Bound to a real server: forward it */
	PGT_IPVS_PASS,		/**< Not schedulable (a TCP non-SYN): go on */
	PGT_IPVS_NO_DEST,	/**< No usable real server: refuse it */
	PGT_IPVS_NO_PORT,	/**< Full-NAT: no free local port */
};

/**
 * Schedule the new connection of @p m (its own, unconfirmed) for @p svc
 * and bind it (pgt_ct_ipvs_bind()), counting it on the real server.
 */
enum pgt_ipvs_result pgt_ipvs_schedule(unsigned int w,
	const struct pgt_ipvs_snapshot *s, const struct pgt_ipvs_service *svc,
	struct rte_mbuf *m, uint64_t now);

/** Per-worker IPVS counters (pgt_ipvs_stat()). */
enum pgt_ipvs_stat {
	PGT_IPVS_STAT_NO_DEST,		/**< Refused: no usable server */
	PGT_IPVS_STAT_NO_PORT,		/**< Full-NAT port exhaustion */
	PGT_IPVS_STAT_TMPL_FULL,	/**< Persistence table full */
	PGT_IPVS_STAT_MAX
};

/** Count @p s on worker @p w. */
void pgt_ipvs_count(unsigned int w, enum pgt_ipvs_stat s);

/* Tunables (ipvsadm --set, ipvs_config_set) */

struct pgt_ipvs_config {
	uint32_t tcp_timeout;		/**< ESTABLISHED (900 s) */
	uint32_t tcpfin_timeout;	/**< FIN_WAIT (120 s) */
	uint32_t udp_timeout;		/**< UDP (300 s) */
	uint32_t mh_table_size;		/**< Maglev table (prime, 4093) */
	bool reject_tcp_reset;		/**< No server: RST, not ICMP */
};

extern struct pgt_ipvs_config pgt_ipvs_cfg;

#endif /* PGT_IPVS_H */
