/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_CONNTRACK_H
#define PGT_CONNTRACK_H

/**
 * @file
 * Connection tracking and NAT, as Linux's nf_conntrack and nf_nat do them.
 *
 * Each worker owns one table: a hash of tuples chained through a
 * preallocated array of connections (lock-free readers, one writer: the
 * owner; each connection is on the chains of its two tuples). A connection
 * is in the table of the worker that saw its first packet and is changed by
 * that worker only, so the packet path takes no lock and no atomic. A packet
 * that lands on another worker (a NAT reply, a port without RSS, a
 * reassembled datagram) finds the connection by a read-only lookup in the
 * other tables and is handed to the owner through the owner's handoff ring;
 * the owner resumes it at the conntrack step. See docs/conntrack.md.
 *
 * Hooks (as Linux's priorities): conntrack lookup in PREROUTING and OUTPUT
 * after the raw table; destination NAT after mangle in PREROUTING and
 * OUTPUT; source NAT last in POSTROUTING and INPUT; confirmation after it.
 * A new connection is inserted only when its first packet is confirmed; a
 * packet dropped before releases it.
 *
 * Expiry: a per-worker timer wheel of one-second slots, visited a bounded
 * number of connections per loop. A packet only writes the new expiry time;
 * the wheel moves a connection when it reaches a slot too early.
 *
 * The management thread reads connections directly (their array never moves)
 * under a per-connection sequence count, and changes them only by messages
 * to the owning worker (delete, flush).
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_mbuf.h>

#include "pgt_pkt.h"

/** Directions of a connection. */
enum pgt_ct_dir {
	PGT_CT_DIR_ORIGINAL,
	PGT_CT_DIR_REPLY,
};

/** What conntrack says about a packet (Linux's enum ip_conntrack_info and
 *  the two states that have no connection). */
enum pgt_ct_info {
	PGT_CT_ESTABLISHED = 0,
	PGT_CT_RELATED = 1,
	PGT_CT_NEW = 2,
	PGT_CT_ESTABLISHED_REPLY = 3,
	PGT_CT_RELATED_REPLY = 4,
	PGT_CT_UNTRACKED = 5,	/**< raw table NOTRACK / CT --notrack. */
	PGT_CT_INVALID = 6,	/**< Tracking refused it; no connection. */
	PGT_CT_NONE = 7,	/**< Not looked at (tracking off). */
};

/** Direction of a packet with @p info (valid for the first five). */
static inline enum pgt_ct_dir
pgt_ct_info_dir(uint8_t info)
{
	return info >= PGT_CT_ESTABLISHED_REPLY ? PGT_CT_DIR_REPLY :
		PGT_CT_DIR_ORIGINAL;
}

/** Status bits (Linux's IPS_*, same numbers: --ctstatus and events). */
#define PGT_CT_S_EXPECTED	(1u << 0)
#define PGT_CT_S_SEEN_REPLY	(1u << 1)
#define PGT_CT_S_ASSURED	(1u << 2)
#define PGT_CT_S_CONFIRMED	(1u << 3)
#define PGT_CT_S_SRC_NAT	(1u << 4)
#define PGT_CT_S_DST_NAT	(1u << 5)
#define PGT_CT_S_SRC_NAT_DONE	(1u << 7)
#define PGT_CT_S_DST_NAT_DONE	(1u << 8)
#define PGT_CT_S_NAT_MASK	(PGT_CT_S_SRC_NAT | PGT_CT_S_DST_NAT)
/** Not Linux's (its bits end at 15): a virtual service's connection, whose
 *  state and timeouts lib/ipvs keeps (see pgt_ct_ipvs_register()). */
#define PGT_CT_S_IPVS		(1u << 24)

/** TCP states (Linux's enum tcp_conntrack, same order). */
enum pgt_ct_tcp_state {
	PGT_TCP_NONE,
	PGT_TCP_SYN_SENT,
	PGT_TCP_SYN_RECV,
	PGT_TCP_ESTABLISHED,
	PGT_TCP_FIN_WAIT,
	PGT_TCP_CLOSE_WAIT,
	PGT_TCP_LAST_ACK,
	PGT_TCP_TIME_WAIT,
	PGT_TCP_CLOSE,
	PGT_TCP_SYN_SENT2,
	PGT_TCP_STATE_MAX
};

/**
 * A tuple: the hash key. Host byte order. For ICMP queries, sport holds the
 * identifier (in both directions) and dport the type << 8 | code.
 */
struct pgt_ct_tuple {
	uint32_t src, dst;
	uint16_t sport, dport;
	uint8_t proto;
	uint8_t pad[3];		/**< Zero: part of the key. */
};

/** Window tracking of one direction (Linux's ip_ct_tcp_state). Packed:
 *  18 bytes, not 20, which keeps struct pgt_ct_conn at 136 bytes (x86
 *  reads the unaligned words of the second side at no cost). */
struct __rte_packed pgt_ct_tcp_side {
	uint32_t end;		/**< max(seq + len) sent */
	uint32_t maxend;	/**< max(ack + max(win, 1)) seen */
	uint32_t maxwin;	/**< max(win) */
	uint32_t maxack;	/**< max(ack) sent */
	uint8_t scale;		/**< Window scale factor */
	uint8_t flags;		/**< PGT_CT_TCPF_* */
};

#define PGT_CT_TCPF_WINDOW_SCALE	0x01
#define PGT_CT_TCPF_SACK_PERM		0x02
#define PGT_CT_TCPF_CLOSE_INIT		0x04
#define PGT_CT_TCPF_BE_LIBERAL		0x08
#define PGT_CT_TCPF_DATA_UNACKED	0x10
#define PGT_CT_TCPF_MAXACK_SET		0x20

struct pgt_ct_tcp {
	struct pgt_ct_tcp_side side[2];
	uint32_t last_seq, last_ack, last_end;
	uint16_t last_win;
	uint8_t state;		/**< enum pgt_ct_tcp_state */
	uint8_t last_dir, last_index, last_wscale, last_flags;
	uint8_t retrans;
};

/**
 * A connection. What a packet of an established UDP connection reads and
 * writes comes first, in 64 bytes (the lookup's tuples and links, expiry,
 * status, its wheel slot, the UDP stream time): two cache lines at most
 * whatever its place in the array, both prefetched by the burst's lookup.
 */
struct pgt_ct_conn {
	struct pgt_ct_tuple tuple[2];	/**< ORIGINAL, REPLY */
	/** Next on the hash chain of tuple[d]: (index << 1 | direction), or
	 *  UINT32_MAX. Beside the tuples, in the line a lookup reads. */
	uint32_t hnext[2];
	uint64_t expires;	/**< TSC */
	uint32_t status;	/**< PGT_CT_S_* */
	uint32_t wheel_sec;	/**< Second of the slot it is in */
	union {
		struct pgt_ct_tcp tcp;	/**< TCP */
		uint64_t stream_tsc;	/**< UDP: when replies make a stream */
	};
	uint32_t mark;		/**< connmark */
	uint32_t id;		/**< Unique while it lives (conntrack -o id). */
	/** Even when stable; odd while the owner rewrites tuples or status
	 *  bits a reader must see together (management readers retry). */
	uint32_t seq;
	uint32_t wheel_prev, wheel_next;	/**< Timer wheel links */
	uint32_t ipvs_tmpl;	/**< IPVS: persistence template + 1 (0: none) */
	uint16_t ipvs_dest;	/**< IPVS: real server slot (0: none) */
	uint16_t ipvs_svc;	/**< IPVS: service slot */
	uint8_t in_use;
	uint8_t ipvs_method;	/**< IPVS: enum pgt_ipvs_method */
	uint8_t pad[2];
};

/** Timeouts (seconds), named as Linux's nf_conntrack_*_timeout sysctls. */
#define PGT_CT_TIMEOUT_LIST(X) \
	X(TCP_SYN_SENT, tcp_timeout_syn_sent, 120) \
	X(TCP_SYN_RECV, tcp_timeout_syn_recv, 60) \
	X(TCP_ESTABLISHED, tcp_timeout_established, 432000) \
	X(TCP_FIN_WAIT, tcp_timeout_fin_wait, 120) \
	X(TCP_CLOSE_WAIT, tcp_timeout_close_wait, 60) \
	X(TCP_LAST_ACK, tcp_timeout_last_ack, 30) \
	X(TCP_TIME_WAIT, tcp_timeout_time_wait, 120) \
	X(TCP_CLOSE, tcp_timeout_close, 10) \
	X(TCP_MAX_RETRANS, tcp_timeout_max_retrans, 300) \
	X(TCP_UNACK, tcp_timeout_unacknowledged, 300) \
	X(UDP, udp_timeout, 30) \
	X(UDP_STREAM, udp_timeout_stream, 120) \
	X(ICMP, icmp_timeout, 30) \
	X(GENERIC, generic_timeout, 600)

#define PGT_CT_X_ENUM(e, n, d) PGT_CT_TO_##e,
enum pgt_ct_timeout { PGT_CT_TIMEOUT_LIST(PGT_CT_X_ENUM) PGT_CT_TO_MAX };
#undef PGT_CT_X_ENUM

/** Tunables (conntrack_config_set). */
struct pgt_ct_config {
	uint32_t max;			/**< Connections, all workers */
	uint32_t timeout[PGT_CT_TO_MAX];	/**< Seconds */
	bool tcp_be_liberal;		/**< Only out-of-window RSTs invalid */
	bool tcp_loose;			/**< Pick up connections mid-stream */
	uint8_t tcp_max_retrans;
};

/** The configuration in force (read by workers without locking). */
extern struct pgt_ct_config pgt_ct_cfg;

/** Per-worker statistics (conntrack -S), one writer: the worker. */
#define PGT_CT_STAT_LIST(X) \
	X(FOUND, "found") \
	X(INVALID, "invalid") \
	X(INSERT, "insert") \
	X(INSERT_FAILED, "insert_failed") \
	X(DROP, "drop") \
	X(EARLY_DROP, "early_drop") \
	X(EXPIRED, "expired") \
	X(HANDOFF, "handoff") \
	X(HANDOFF_FULL, "handoff_full") \
	X(NAT_NO_PORT, "nat_no_port") \
	X(EVENTS_LOST, "events_lost")

#define PGT_CT_X_ENUM(e, n) PGT_CT_STAT_##e,
enum pgt_ct_stat { PGT_CT_STAT_LIST(PGT_CT_X_ENUM) PGT_CT_STAT_MAX };
#undef PGT_CT_X_ENUM

/* Setup (management thread, before workers start) */

/**
 * Allocate the tables of @p nb_workers workers, each able to hold
 * @p capacity connections (the limit over all workers starts at
 * @p capacity too). Uses the RCU variable of pgt_rcu: a deleted
 * connection is reused once every worker passed a quiescent state.
 * @return 0, -EINVAL (no worker or more than RTE_MAX_LCORE, capacity 0),
 *   -ERANGE (capacity above PGT_CT_MAX_CAPACITY), -ENOMEM.
 */
int pgt_ct_init(unsigned int nb_workers, uint32_t capacity);

/** The largest capacity pgt_ct_init() takes. */
#define PGT_CT_MAX_CAPACITY	(1u << 24)

/** Free everything (after workers stopped). */
void pgt_ct_fini(void);

/* The packet path (worker context; @p w is the worker's id) */

/** Result of a conntrack step. */
enum pgt_ct_verdict {
	PGT_CT_GO,		/**< Go on. */
	PGT_CT_STOLEN,		/**< Handed to the owning worker. */
	PGT_CT_DROP_FULL,	/**< New connection, table full. */
	PGT_CT_DROP_CLASH,	/**< Confirm found the tuple taken. */
	PGT_CT_DROP_HANDOFF,	/**< Owner's handoff ring full. */
};

/**
 * Look up the connection of the packet @p m at hook @p hook
 * (PREROUTING or OUTPUT), update its state, or start a new, unconfirmed
 * one; sets meta->ct and meta->ctinfo. The data of @p m starts anywhere
 * before its IPv4 header (meta->l3_off). A packet whose ctinfo is
 * already UNTRACKED or that carries an attached connection is left alone.
 */
enum pgt_ct_verdict pgt_ct_in(unsigned int w, struct rte_mbuf *m,
	uint8_t hook, uint64_t now);

/**
 * Start the lookups of the connections of @p n IPv4 packets of a burst,
 * just parsed and whole (no fragment): each packet's hash chain is chosen
 * and its head fetched, all of them together so that the misses overlap,
 * and the chain is kept in its metadata (ct_hint). pgt_ct_lookup_ahead()
 * then fetches the chain's first connection a few packets before the
 * packet's conntrack step walks it (pgt_ct_in()), comparing the tuple: a
 * packet rewritten since only misses and is looked up again. Changes no
 * connection.
 */
void pgt_ct_lookup_burst(unsigned int w, struct rte_mbuf **pkts,
	unsigned int n);

/**
 * Fetch the first connection of the chain pgt_ct_lookup_burst() chose for
 * @p m (nothing if it chose none), ahead of the packet's conntrack step:
 * by then the chain head has come, and the connection comes while the
 * packets before it are taken.
 */
void pgt_ct_lookup_ahead(unsigned int w, const struct rte_mbuf *m);

/** Each worker's connections, by slot (its table's array; worker context
 *  reads its own): what pgt_ct_get() indexes. */
extern struct pgt_ct_conn *pgt_ct_conns[RTE_MAX_LCORE];

/** The connection of a packet, or NULL (worker context). Inline: every
 *  hook of a tracked packet asks. */
static inline struct pgt_ct_conn *
pgt_ct_get(unsigned int w, const struct pgt_pkt_meta *meta)
{
	if (meta->ct == PGT_PKT_CT_NONE)
		return NULL;
	return &pgt_ct_conns[w][meta->ct];
}

/** What a NAT step changes. */
enum pgt_nat_manip {
	PGT_NAT_MANIP_SRC,	/**< SNAT: POSTROUTING, INPUT */
	PGT_NAT_MANIP_DST,	/**< DNAT: PREROUTING, OUTPUT */
};

/**
 * Has a NAT step nothing to do for the packet of @p meta, whose connection
 * is @p c (NULL: none)? True for most packets: a connection that is not
 * its own new one (no binding to make) and that nothing translates. Then
 * pgt_ct_nat_needs_rules() and pgt_ct_nat_apply() would both say no.
 */
static inline bool
pgt_ct_nat_idle(const struct pgt_pkt_meta *meta, const struct pgt_ct_conn *c)
{
	return c == NULL || (!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED) &&
		!(c->status & PGT_CT_S_NAT_MASK));
}

/**
 * Must the nat table run for @p m? True for the first packet of a new
 * connection until the manip type @p manip is set up.
 */
bool pgt_ct_nat_needs_rules(unsigned int w, const struct rte_mbuf *m,
	enum pgt_nat_manip manip);

/**
 * After the nat table ran: if no rule bound the connection for @p manip,
 * bind it to its own addresses (Linux's null binding), which still changes
 * the port if the tuple would clash with a translated connection.
 * @return 0, or -ENOSPC (no free port; counted nat_no_port: drop it).
 */
int pgt_ct_nat_done(unsigned int w, struct rte_mbuf *m,
	enum pgt_nat_manip manip);

/** pgt_ct_nat_apply() for a packet its connection @p c translates. */
bool pgt_ct_nat_translate(struct rte_mbuf *m, enum pgt_nat_manip manip,
	const struct pgt_ct_conn *c);

/**
 * Translate @p m as its connection says for @p manip, including the inner
 * header of ICMP errors; fixes checksums and meta->src/dst. Inline: most
 * packets have nothing to translate, and the test is one bit.
 * @return true if an address or port changed.
 */
static inline bool
pgt_ct_nat_apply(unsigned int w, struct rte_mbuf *m, enum pgt_nat_manip manip)
{
	const struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct pgt_ct_conn *c;
	uint32_t bit;

	if (meta->ct == PGT_PKT_CT_NONE || meta->ctinfo > PGT_CT_RELATED_REPLY)
		return false;
	c = &pgt_ct_conns[w][meta->ct];
	bit = manip == PGT_NAT_MANIP_SRC ? PGT_CT_S_SRC_NAT : PGT_CT_S_DST_NAT;
	/* A reply undoes the other direction's translation. */
	if (pgt_ct_info_dir(meta->ctinfo) == PGT_CT_DIR_REPLY)
		bit ^= PGT_CT_S_NAT_MASK;
	if (likely(!(c->status & bit)))
		return false;
	return pgt_ct_nat_translate(m, manip, c);
}

/**
 * Insert the new connection of @p m, which must have one of its own
 * (PGT_PKT_CTF_UNCONFIRMED), after the last hook accepted it.
 * @return PGT_CT_GO, or PGT_CT_DROP_CLASH (the tuple is taken: counted
 *   insert_failed, the connection released).
 */
enum pgt_ct_verdict pgt_ct_confirm(unsigned int w, struct rte_mbuf *m);

/** Release the unconfirmed connection of a packet being dropped. */
void pgt_ct_release(unsigned int w, struct pgt_pkt_meta *meta);

/**
 * Attach the connection of @p orig to @p answer, an ICMP error or TCP reset
 * pktgate makes about it (Linux's nf_ct_attach): the answer is RELATED in
 * the other direction and is translated, not tracked. Both are on the same
 * worker and the answer is sent before @p orig is released.
 */
void pgt_ct_attach(struct rte_mbuf *answer, const struct rte_mbuf *orig);

/** Forget the connection of @p meta (the mbuf is becoming a new packet). */
static inline void
pgt_ct_detach(struct pgt_pkt_meta *meta)
{
	meta->ct = PGT_PKT_CT_NONE;
	meta->ctinfo = PGT_PKT_CTINFO_NONE;
	meta->ct_flags = 0;
}

/**
 * Periodic work of worker @p w: expire connections, reclaim key slots,
 * run management commands. Bounded work per call.
 */
void pgt_ct_worker_poll(unsigned int w, uint64_t now);

/** Packets other workers handed to @p w; resume them at meta->ct_hook. */
unsigned int pgt_ct_handoff_dequeue(unsigned int w, struct rte_mbuf **pkts,
	unsigned int n);

/* NAT set-up, for the nat table's targets (worker context) */

/** A NAT range (DNAT/SNAT --to-*, MASQUERADE/REDIRECT). */
struct pgt_nat_range {
	uint32_t min_addr, max_addr;	/**< Host order */
	uint16_t min_port, max_port;	/**< Host order */
	uint8_t flags;			/**< PGT_NAT_F_* */
};

#define PGT_NAT_F_MAP_IPS	0x01	/**< Addresses given */
#define PGT_NAT_F_PROTO		0x02	/**< Ports given */
#define PGT_NAT_F_RANDOM	0x04	/**< --random */
#define PGT_NAT_F_PERSISTENT	0x08	/**< --persistent */
#define PGT_NAT_F_RANDOM_FULLY	0x10	/**< --random-fully */

/**
 * Bind the packet's new connection to @p r for @p manip: picks an address
 * of the range by a hash of the client (and server unless --persistent),
 * keeps the port if the resulting tuple is free, else tries at most
 * PGT_NAT_MAX_TRIES ports of the range.
 * @return 0; -ENOSPC if no free tuple was found (counted nat_no_port);
 *   -EINVAL if the packet has no new connection of its own.
 */
int pgt_ct_nat_setup(unsigned int w, struct rte_mbuf *m,
	enum pgt_nat_manip manip, const struct pgt_nat_range *r);

/** Most ports a NAT binding tries before giving up. */
#define PGT_NAT_MAX_TRIES 128

/* Virtual services (lib/ipvs) */

/**
 * What lib/ipvs does for the connections it owns (PGT_CT_S_IPVS): it keeps
 * their TCP state (IPVS's state table, which also works when only the
 * client's half is seen, as with direct routing), their timeouts and the
 * real servers' connection counts. Called by the owning worker.
 */
struct pgt_ct_ipvs_ops {
	/** A packet of @p c in direction @p dir; @p tcp_flags 0 unless TCP;
	 *  @p bytes its IP length. @return seconds until @p c expires. */
	uint32_t (*packet)(unsigned int w, struct pgt_ct_conn *c,
		enum pgt_ct_dir dir, uint8_t tcp_flags, uint32_t bytes);
	/** @p c is being freed (expired, deleted, or never confirmed). */
	void (*gone)(unsigned int w, struct pgt_ct_conn *c);
	/** Is a client's SYN (no ACK, no RST) on TCP connection @p c a new
	 *  connection, to be scheduled again (Linux's conn_reuse_mode)?
	 *  Conntrack then removes @p c and takes the SYN as a first packet. */
	bool (*syn_reopens)(const struct pgt_ct_conn *c);
};

/** Install @p ops (constructor or management thread, before traffic). */
void pgt_ct_ipvs_register(const struct pgt_ct_ipvs_ops *ops);

/** How a virtual service takes over the packet's new connection. */
struct pgt_ct_ipvs_binding {
	bool translate;		/**< NAT / full-NAT: rewrite the destination */
	uint32_t daddr;		/**< Real server (host order) */
	uint16_t dport;
	/** Full-NAT: the local addresses and ports the source becomes. */
	const struct pgt_nat_range *snat;
	uint16_t dest, svc;	/**< Slots (pgt_ct_conn.ipvs_*) */
	uint32_t tmpl;		/**< Template + 1, or 0 */
	uint8_t method;
	uint8_t tcp_state;	/**< enum pgt_ct_tcp_state to start in */
	uint32_t timeout_s;	/**< Until the next packet */
};

/**
 * Make the packet's new connection a virtual service's: NAT and full-NAT
 * rewrite its reply tuple (real server, local address) as nf_nat would,
 * and pgt_ct_nat_apply() then translates its packets. Only NAT leaves the
 * source binding to POSTROUTING's nat rules (Kubernetes masquerades IPVS
 * traffic there); full-NAT chose its source, and direct routing and
 * tunnelling must leave the client's address alone.
 * @return 0; -EINVAL (the packet has no new connection of its own);
 *   -ENOSPC (full-NAT found no free local port: counted nat_no_port).
 */
int pgt_ct_ipvs_bind(unsigned int w, struct rte_mbuf *m,
	const struct pgt_ct_ipvs_binding *b);

/* Management (management thread) */

/** A consistent copy of a live connection. */
struct pgt_ct_snapshot {
	struct pgt_ct_conn c;
	unsigned int worker;
	uint32_t idx;
	int64_t timeout_s;	/**< Seconds left */
};

/**
 * Copy connection @p idx of worker @p w, if in use and confirmed.
 * @return 0; -ENOENT (free slot or unconfirmed); -EAGAIN (kept changing).
 */
int pgt_ct_snapshot(unsigned int w, uint32_t idx, struct pgt_ct_snapshot *s);

/** The most connections the tables can hold (--conntrack-max at start). */
uint32_t pgt_ct_capacity(void);
/** Connection slots per worker table: the capacity, and room for the
 *  deleted connections waiting for their grace period. The range of
 *  pgt_ct_snapshot()'s @p idx. */
uint32_t pgt_ct_slots(void);
/** The number of workers (of tables). */
unsigned int pgt_ct_nb_workers(void);

/** Connections in all tables now (conntrack -C). */
uint32_t pgt_ct_count(void);

/**
 * Ask the owner to delete connection @p idx if it still has id @p id.
 * @return 0, -ENOBUFS (command ring full, try again).
 */
int pgt_ct_delete(unsigned int w, uint32_t idx, uint32_t id);

/** Ask every worker to delete all its connections. @return 0, -ENOBUFS. */
int pgt_ct_flush(void);

/** Read statistic @p s of worker @p w. */
uint64_t pgt_ct_stat(unsigned int w, enum pgt_ct_stat s);

/** Name of statistic @p s; name of timeout @p t; name of TCP state. */
const char *pgt_ct_stat_name(enum pgt_ct_stat s);
const char *pgt_ct_timeout_name(enum pgt_ct_timeout t);
const char *pgt_ct_tcp_state_name(uint8_t state);

/** Default of timeout @p t (seconds). */
uint32_t pgt_ct_timeout_default(enum pgt_ct_timeout t);

/**
 * The management thread's periodic work (from its loop): moves the
 * workers' events to the listeners' buffer while someone listens.
 */
void pgt_ct_poll(void);

/**
 * Set the connection limit (1 to the capacity given to pgt_ct_init()).
 * @return 0, -ERANGE.
 */
int pgt_ct_set_max(uint32_t max);

/** Events (conntrack -E): what happened to a connection. */
enum pgt_ct_event_type {
	PGT_CT_EVENT_NEW,
	PGT_CT_EVENT_UPDATE,
	PGT_CT_EVENT_DESTROY,
};

struct pgt_ct_event {
	uint8_t type;		/**< enum pgt_ct_event_type */
	uint8_t tcp_state;
	uint16_t pad;
	uint32_t status, mark, id;
	int32_t timeout_s;
	struct pgt_ct_tuple tuple[2];
};

/**
 * Turn event reporting on (a listener is polling) or off. Workers post
 * events only while it is on.
 */
void pgt_ct_events_enable(bool on);

/**
 * Take up to @p n events posted by the workers (management thread).
 * @return the number taken.
 */
unsigned int pgt_ct_events_take(struct pgt_ct_event *ev, unsigned int n);

/**
 * Format one connection as conntrack -L does (no newline).
 * @param extended  Prefix "ipv4     2 " (-o extended).
 * @param with_id   Append " id=N" (-o id).
 */
void pgt_ct_format(FILE *f, const struct pgt_ct_conn *c, int64_t timeout_s,
	bool extended, bool with_id);

/** Parse a protocol name or number as conntrack -p does. @return 0/-EINVAL */
int pgt_ct_parse_proto(const char *s, uint8_t *proto);

#endif /* PGT_CONNTRACK_H */
