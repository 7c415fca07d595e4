/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_H
#define PGT_RULESET_H

/**
 * @file
 * The ruleset engine: iptables' tables, chains, rules, matches and targets,
 * evaluated by the workers at the five hooks.
 *
 * The management thread owns the model (tables of chains of rules) and edits
 * it only in transactions: a command or a whole iptables-restore works on a
 * copy of the tables it touches; if any step fails nothing changes, else
 * the chains it changed are compiled again (and only those) and the new
 * ruleset is published by RCU. Workers read the published ruleset once per
 * loop iteration and never wait.
 *
 * Matches and targets other than the built-in ones (addresses, protocol,
 * interfaces, fragments; ACCEPT, DROP, RETURN, jump, goto) are plug-ins
 * (drivers/match, drivers/target) registered with pgt_ruleset_register_match()
 * and pgt_ruleset_register_target(), as iptables' extensions are.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "pgt_conntrack.h"
#include "pgt_pkt.h"

/** The hooks, in packet order. */
enum pgt_hook {
	PGT_HOOK_PREROUTING,
	PGT_HOOK_INPUT,
	PGT_HOOK_FORWARD,
	PGT_HOOK_OUTPUT,
	PGT_HOOK_POSTROUTING,
	PGT_HOOK_MAX
};

/** What NAT changes at @p hook: the destination where packets enter
 *  (PREROUTING, OUTPUT), the source where they leave (POSTROUTING, INPUT). */
static inline enum pgt_nat_manip
pgt_hook_manip(enum pgt_hook hook)
{
	return hook == PGT_HOOK_PREROUTING || hook == PGT_HOOK_OUTPUT ?
		PGT_NAT_MANIP_DST : PGT_NAT_MANIP_SRC;
}

/** The tables, in priority order at a hook (raw first). */
enum pgt_table {
	PGT_TABLE_RAW,
	PGT_TABLE_MANGLE,
	PGT_TABLE_NAT,
	PGT_TABLE_FILTER,
	PGT_TABLE_SECURITY,
	PGT_TABLE_MAX
};

/** What a hook decides, or what a target says. */
enum pgt_verdict {
	PGT_VERDICT_ACCEPT,
	PGT_VERDICT_DROP,
	PGT_VERDICT_REJECT,	/**< Drop with the answer in pgt_rs_pkt. */
	PGT_VERDICT_CONTINUE,	/**< Non-terminating target: next rule. */
};

/** Longest chain name (iptables: 28 characters). */
#define PGT_RS_CHAIN_NAMESIZE	29
/** Most matches in one rule. */
#define PGT_RS_MAX_MATCHES	8
/** Deepest nesting of jumps (iptables refuses loops; so do we). */
#define PGT_RS_MAX_DEPTH	32

/** A packet as matches and targets see it (built by the hook). */
struct pgt_rs_pkt {
	struct rte_mbuf *m;
	struct pgt_pkt_meta *meta;
	struct rte_ipv4_hdr *ip;
	/** The transport header, NULL for a non-first fragment or if it is
	 *  not complete in the first segment. */
	const uint8_t *l4;
	uint16_t l4_len;	/**< Bytes of transport header and data. */
	uint32_t src, dst;	/**< IP addresses, host order. */
	uint16_t ip_len;	/**< IP total length (counted in rule bytes). */
	uint16_t sport, dport;	/**< Host order, TCP/UDP only. */
	uint16_t frag_off;	/**< Fragment offset (0: first or whole). */
	uint16_t in_port, out_port;	/**< PGT_PORT_NONE when none. */
	/** Its connection (NULL: none) and enum pgt_ct_info. */
	struct pgt_ct_conn *ct;
	uint8_t ctinfo;
	uint8_t hook;
	/** The fields from src to frag_off (and l4) are read from ip; false
	 *  makes pgt_ruleset_run_table() read them (again, after NAT). */
	bool prepared;
	unsigned int worker;
	uint64_t now;		/**< TSC */
	/** REJECT's answer: an ICMP type/code, or a TCP reset. */
	uint8_t reject_type, reject_code;
	bool reject_tcp_reset;
	/** A NAT target dropped it for want of a free port. */
	bool nat_failed;
};

/** An error from a parse: a message naming the token and the reason. */
struct pgt_rs_err {
	char msg[256];
};

/** Fill @p err; returns -EINVAL for chaining. */
int pgt_rs_errorf(struct pgt_rs_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** An option of a match or target. */
struct pgt_rs_opt {
	const char *name;	/**< Without the leading "--". */
	uint8_t nargs;		/**< Words it takes (0 to 2). */
	bool invertible;	/**< May be preceded by "!". */
};

/** A match extension (-m NAME). */
struct pgt_match_ops {
	const char *name;
	uint16_t size;			/**< Private data, zeroed before parse. */
	const struct pgt_rs_opt *opts;	/**< Ends with a NULL name. */
	/** Parse one option; @p args holds its opts->nargs words. */
	int (*parse)(void *data, const char *opt, char *const *args, bool inv,
		struct pgt_rs_err *err);
	/** Check the whole match once parsed, knowing the rule's protocol
	 *  (0: any); may be NULL. */
	int (*finish)(void *data, uint8_t proto, struct pgt_rs_err *err);
	/** Print the options in iptables-save's canonical form, each with a
	 *  leading space. */
	void (*print)(const void *data, FILE *f);
	/** Print it as `iptables -L -n` does, with a leading space. */
	void (*list)(const void *data, FILE *f);
	/** Does the packet match? NULL: always (e.g. comment). Worker context:
	 *  writes nothing but @p state, this worker's own state of this match
	 *  (zeroed when the rule is made; NULL if worker_state_size is 0). */
	bool (*match)(const void *data, void *state, struct pgt_rs_pkt *p);
	/** Per-worker state size (e.g. a token bucket), 0 if none. */
	uint16_t worker_state_size;
	/**
	 * Does the match depend on nothing but the packet's conntrack state
	 * (pgt_rs_pkt.ctinfo, and whether it has a connection)? Then fill
	 * @p accept[0] (no connection) and @p accept[1] (a connection) with
	 * a bit per enum pgt_ct_info it matches, and return true: a chain
	 * that starts with such a rule (the usual "--ctstate
	 * ESTABLISHED,RELATED -j ACCEPT") is decided for those packets
	 * without a walk. NULL or false: it looks at more.
	 */
	bool (*state_only)(const void *data, uint8_t accept[2]);
	/** The named set the match refers to, if any (a set in use cannot be
	 *  destroyed). */
	const struct pgt_rs_set *(*uses_set)(const void *data);
	/** It reads connection state: a rule using it turns tracking on. */
	bool conntrack;
	/**
	 * The destination ports the match can accept, if it restricts them:
	 * it must fail for every packet whose pgt_rs_pkt.dport (0 when the
	 * packet has none) is outside [*lo, *hi]. Lets long chains be indexed
	 * by port. NULL or false: no restriction known.
	 */
	bool (*dport_range)(const void *data, uint16_t *lo, uint16_t *hi);
	struct pgt_match_ops *next;
};

/** A target extension (-j NAME). */
struct pgt_target_ops {
	const char *name;
	uint16_t size;
	const struct pgt_rs_opt *opts;
	uint8_t tables;		/**< Bit per enum pgt_table where it is valid. */
	/** Bit per enum pgt_hook whose built-in chains may use it; 0: all. */
	uint8_t hooks;
	/** The name `iptables -L` shows, when not `name` (NOTRACK: CT). */
	const char *list_name;
	int (*parse)(void *data, const char *opt, char *const *args, bool inv,
		struct pgt_rs_err *err);
	/** Fill defaults and check; knows the rule's protocol. May be NULL. */
	int (*finish)(void *data, uint8_t proto, struct pgt_rs_err *err);
	void (*print)(const void *data, FILE *f);
	/** Print its options as `iptables -L -n` does. */
	void (*list)(const void *data, FILE *f);
	/** Act on the packet; PGT_VERDICT_CONTINUE to go on. Worker context. */
	enum pgt_verdict (*exec)(const void *data, struct pgt_rs_pkt *p);
	/** It uses connection state: a rule using it turns tracking on. */
	bool conntrack;
	struct pgt_target_ops *next;
};

/** Register a match (constructor context; names are unique). */
void pgt_ruleset_register_match(struct pgt_match_ops *ops);
/** Register a target (constructor context). */
void pgt_ruleset_register_target(struct pgt_target_ops *ops);

#define PGT_MATCH_REGISTER(ops) \
	RTE_INIT(pgt_match_register_##ops) { pgt_ruleset_register_match(&ops); }
#define PGT_TARGET_REGISTER(ops) \
	RTE_INIT(pgt_target_register_##ops) { pgt_ruleset_register_target(&ops); }

/* Helpers for extensions' parsers. */

/** Number of workers (for per-worker shares of global limits). */
unsigned int pgt_rs_nb_workers(void);

/** Parse an integer in [lo, hi] (decimal or 0x hex). @return 0 or -EINVAL. */
int pgt_rs_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/** Parse "value[/mask]" (mask defaults to all ones). */
int pgt_rs_parse_mark(const char *s, uint32_t *value, uint32_t *mask);

/** Parse a port number or service name. */
int pgt_rs_parse_port(const char *s, uint16_t *port);

/** Parse a port range "a[:b]", ":b", "a:" into [lo, hi]; a > b is
 *  refused, as iptables does. */
int pgt_rs_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);

/** Print a port range as iptables-save does ("22", "1024:65535"). */
void pgt_rs_print_port_range(FILE *f, uint16_t lo, uint16_t hi);

/** Print @p s as iptables-save quotes option values. */
void pgt_rs_print_quoted(FILE *f, const char *s);

/** Longest LOG prefix (iptables: 29 characters). */
#define PGT_RS_LOG_PREFIX_MAX 30

/** What a worker hands over for one LOG message. */
struct pgt_rs_log_record {
	char prefix[PGT_RS_LOG_PREFIX_MAX];
	uint8_t level;		/**< syslog level 0-7 */
	uint8_t hook;
	uint16_t in_port, out_port;
	uint16_t len;		/**< Bytes in data. */
	uint8_t data[90];	/**< The IP header and what follows. */
};

/**
 * Hand a LOG record to the management thread (worker context): never
 * waits; a full ring loses the record and counts it.
 */
void pgt_ruleset_log_post(unsigned int worker,
	const struct pgt_rs_log_record *r);

/** LOG records posted, lost to a full ring, and written (management). */
void pgt_ruleset_log_stats(uint64_t *posted, uint64_t *overflow,
	uint64_t *written);

/**
 * Write pending LOG messages and move NFLOG records into the capture
 * buffer (management thread, from its loop); does at most a bounded amount
 * of work per call.
 * @return the number of records handled.
 */
unsigned int pgt_ruleset_poll(void);

/* NFLOG: packets copied for capture (pgt_ruleset_nflog.c). */

#define PGT_RS_NFLOG_PREFIX_MAX 64	/**< As Linux, with the NUL. */
#define PGT_RS_NFLOG_SNAP_MAX 1600	/**< Bytes of packet kept at most. */

/**
 * What a worker hands over for one NFLOG'ed packet, or for one dropped
 * packet the drop watch copies (pgt_ruleset_drop_watch).
 */
struct pgt_rs_nflog_record {
	uint64_t tsc;		/**< When the rule matched or it was dropped. */
	char prefix[PGT_RS_NFLOG_PREFIX_MAX];	/**< Or the drop's name. */
	uint16_t group;		/**< 0 for drops. */
	uint16_t in_port, out_port;
	uint16_t caplen;	/**< Bytes in data. */
	uint16_t len;		/**< The packet's length from where data starts. */
	uint8_t hook;		/**< NFLOG only. */
	uint8_t drop;		/**< 0: NFLOG; else the enum pgt_drop + 1. */
	uint8_t l2;		/**< data starts at an Ethernet header. */
	uint8_t pad[3];
	uint8_t data[PGT_RS_NFLOG_SNAP_MAX];	/**< Else at the IP header. */
};

/**
 * The drops copied into the capture buffer, a bit per enum pgt_drop (0:
 * none). Set by the drop_watch_set method; workers read it, relaxed, only
 * on their drop path.
 */
extern uint64_t pgt_ruleset_drop_watch;

/**
 * Hand an NFLOG record to the management thread (worker context): never
 * waits; a full ring loses the record and counts it.
 */
void pgt_ruleset_nflog_post(unsigned int worker,
	const struct pgt_rs_nflog_record *r);

/* TRACE: every step of chosen packets (pgt_ruleset_trace.c). */

/**
 * A traced packet carries a trace id in its metadata (pgt_pkt_meta.trace,
 * 0: untraced), given by the raw table's TRACE target or, in offline mode,
 * to every packet received. Each step it takes (hooks, rules that match,
 * chain ends, conntrack, NAT, its fate) is posted as an event, by the worker
 * on its own ring, never waiting (a full ring loses events, counted); the
 * management thread keeps the last events for the trace_read RPC. Packets
 * pktgate makes about a traced packet (an ICMP error, a reset, an echo
 * reply) carry its id with PGT_RS_TRACE_DERIVED set.
 */
#define PGT_RS_TRACE_DERIVED 0x80000000u
/** Bytes of a packet an event keeps, from its IP or ARP header. */
#define PGT_RS_TRACE_SNAP 64

/** What a trace event says happened. */
enum pgt_rs_trace_type {
	PGT_RS_TRACE_RX,	/**< Received (traced from the start). */
	PGT_RS_TRACE_START,	/**< A TRACE rule matched. */
	PGT_RS_TRACE_HOOK,	/**< It enters a hook. */
	PGT_RS_TRACE_RULE,	/**< A rule matched. */
	PGT_RS_TRACE_RETURN,	/**< Fell off the end of a user chain. */
	PGT_RS_TRACE_POLICY,	/**< A built-in chain's policy applied. */
	PGT_RS_TRACE_CT,	/**< Conntrack's state (arg: status bits). */
	PGT_RS_TRACE_NAT,	/**< NAT rewrote it (the new headers). */
	PGT_RS_TRACE_IPVS,	/**< A virtual service sends it to a server. */
	PGT_RS_TRACE_LOCAL,	/**< For the box: INPUT accepted it. */
	PGT_RS_TRACE_ANSWERED,	/**< For the box: the fast path answers it. */
	PGT_RS_TRACE_CONSUMED,	/**< For the box: an ARP answer, learned. */
	PGT_RS_TRACE_QUEUED,	/**< Waits for its next hop's ARP answer. */
	PGT_RS_TRACE_REASSEMBLY,/**< A fragment held until the rest come. */
	PGT_RS_TRACE_OUT,	/**< Sent on a port (arg: 1 if fragmented). */
	PGT_RS_TRACE_DROP,	/**< Dropped (arg: enum pgt_drop). */
	PGT_RS_TRACE_TYPE_MAX
};

/** One trace event, as a worker posts it. */
struct pgt_rs_trace_record {
	uint64_t tsc;		/**< First: the capture buffer's stamp. */
	uint32_t id;		/**< The packet's trace id. */
	uint32_t arg;		/**< Rule number; drop reason; ct status. */
	uint32_t counter;	/**< A rule's counter slot: which rule. */
	uint32_t mark;
	uint16_t in_port, out_port;	/**< PGT_PORT_NONE when none. */
	uint16_t len;		/**< Bytes of the packet from data on. */
	uint8_t type;		/**< enum pgt_rs_trace_type */
	uint8_t hook, table;
	uint8_t kind;		/**< A rule's kind (ACCEPT, jump...). */
	uint8_t worker;
	uint8_t caplen;		/**< Bytes in data. */
	uint8_t arp;		/**< data is an ARP header, not IPv4. */
	uint8_t ctinfo;		/**< enum pgt_ct_info */
	char chain[PGT_RS_CHAIN_NAMESIZE];
	const struct pgt_target_ops *target;	/**< A rule's target. */
	uint8_t data[PGT_RS_TRACE_SNAP];
};

/** A new trace id for a packet of @p worker (worker context). */
uint32_t pgt_ruleset_trace_id(unsigned int worker);

/**
 * Post event @p type about traced packet @p m, whose IPv4 (or, with
 * @p arp, ARP) header is at offset @p l3_off, at @p hook with ports @p in
 * and @p out; @p arg as the type says. Worker context; call it only for
 * packets with a trace id (it is out of line, for the slow path).
 */
void pgt_ruleset_trace(unsigned int worker, const struct rte_mbuf *m,
	uint32_t l3_off, bool arp, enum pgt_rs_trace_type type, uint8_t hook,
	uint16_t in, uint16_t out, uint32_t arg);

/** Post a filled record (worker context). */
void pgt_ruleset_trace_post(unsigned int worker,
	struct pgt_rs_trace_record *r);

/**
 * The trace events kept since @p cursor (none: the oldest kept), at most
 * @p max, as JSON objects appended to @p events (management thread).
 * @param[out] next  The cursor to read on from.
 * @param[out] lost  Events overwritten before this read.
 */
void pgt_ruleset_trace_read(bool has_cursor, uint32_t cursor, uint32_t max,
	json_t *events, uint32_t *next, uint32_t *lost);

/* Named sets (ipset's hash:ip, hash:net, hash:ip,port) */

/** Longest set name, with its NUL (ipset: 31 characters). */
#define PGT_RS_SET_NAMESIZE 32

struct pgt_rs_set;

/** A set by name, or NULL (management thread). */
struct pgt_rs_set *pgt_ruleset_set_find(const char *name);

/** 1 for an address set; 2 for address,port. */
unsigned int pgt_ruleset_set_dim(const struct pgt_rs_set *s);

const char *pgt_ruleset_set_name(const struct pgt_rs_set *s);

/**
 * Is (addr[, proto, port]) a member? Worker context: lock-free, concurrent
 * with the management thread's changes.
 */
bool pgt_ruleset_set_test(const struct pgt_rs_set *s, uint32_t addr,
	uint8_t proto, uint16_t port);

/**
 * Run one ipset command (create, add, del, test, list, save, flush,
 * destroy; a trailing -exist ignores "exists"/"absent" errors). Members
 * change in place in O(1), visible to workers at once; no chain is
 * rebuilt. Output of list/save/test goes to @p out.
 * @return 0; -EINVAL, -ENOENT, -EEXIST, -ENOSPC (set full or too many
 *   sets), -EBUSY (destroying a set a rule uses), -ENOMEM.
 */
int pgt_ruleset_ipset(int argc, char **argv, FILE *out,
	struct pgt_rs_err *err);

/* Workers */

/**
 * Set up the engine for @p nb_workers workers and up to @p max_rules rules
 * (counter slots). Management thread, before workers start.
 * @return 0, -ENOMEM.
 */
int pgt_ruleset_init(unsigned int nb_workers, uint32_t max_rules);

/** What the workers read before running anything: which tables have work
 *  at each hook, and whether connections must be tracked. */
struct pgt_ruleset_flags {
	uint8_t active[PGT_HOOK_MAX];	/**< Bit per enum pgt_table. */
	/** A rule needs connection state, or the nat table has a rule. */
	bool tracking;
	/** One more with each ruleset published: what a worker derived from
	 *  a ruleset holds while its serial is the current one's. */
	uint32_t serial;
};

/** The published ruleset; its flags come first. */
struct pgt_ruleset;

/** The current ruleset (worker: once per loop iteration). */
const struct pgt_ruleset *pgt_ruleset_get(void);

static inline const struct pgt_ruleset_flags *
pgt_ruleset_flags(const struct pgt_ruleset *rs)
{
	return (const struct pgt_ruleset_flags *)rs;
}

/** Does table @p table have a rule or a non-ACCEPT policy at @p hook? */
static inline bool
pgt_ruleset_table_active(const struct pgt_ruleset *rs, enum pgt_table table,
	enum pgt_hook hook)
{
	return (pgt_ruleset_flags(rs)->active[hook] >> table) & 1;
}

/** Any table at @p hook? */
static inline bool
pgt_ruleset_hook_active(const struct pgt_ruleset *rs, enum pgt_hook hook)
{
	return pgt_ruleset_flags(rs)->active[hook] != 0;
}

/**
 * What decides a built-in chain at its first rule by the conntrack state
 * alone (a rule looking at nothing else that ends the walk; see
 * pgt_match_ops.state_only): the states it matches, and what the rule
 * does then, which pgt_ruleset_run_table() would do.
 */
struct pgt_ruleset_lead {
	/** Bit per enum pgt_ct_info, for a packet without and with a
	 *  connection; both 0 when the chain starts with no such rule. */
	uint8_t state[2];
	uint8_t verdict;	/**< enum pgt_verdict: ACCEPT or DROP */
	uint32_t counter;	/**< The rule's counter slot */
};

/** The lead of table @p table's built-in chain of @p hook (worker: for the
 *  ruleset it read this loop iteration). */
void pgt_ruleset_lead(const struct pgt_ruleset *rs, enum pgt_table table,
	enum pgt_hook hook, struct pgt_ruleset_lead *lead);

/** A rule's counter, per worker (its only writer). */
struct pgt_ruleset_counter {
	uint64_t pkts, bytes;
};

/** Each worker's counters, by counter slot. */
extern struct pgt_ruleset_counter *pgt_ruleset_counters[RTE_MAX_LCORE];

/** Count a packet of @p bytes (IP total length) for the rule of counter
 *  @p slot, as its match does (worker @p worker). */
static inline void
pgt_ruleset_count(unsigned int worker, uint32_t slot, uint32_t bytes)
{
	struct pgt_ruleset_counter *c = &pgt_ruleset_counters[worker][slot];

	c->pkts++;
	c->bytes += bytes;
}

/**
 * Run table @p table's built-in chain of @p hook on @p p (m, meta, ip,
 * in_port, out_port, worker, now, ct, ctinfo and prepared set by the
 * caller; the header fields are read here while p->prepared is false).
 * Worker context.
 */
enum pgt_verdict pgt_ruleset_run_table(const struct pgt_ruleset *rs,
	enum pgt_table table, enum pgt_hook hook, struct pgt_rs_pkt *p);

/* Control (management thread) */

/**
 * Run one iptables command given as words (as after "iptables"), e.g.
 * {"-t", "nat", "-A", "PREROUTING", ...}. Listings (-L, -S) are written to
 * @p out (may be NULL for edits).
 *
 * @return 0; -EINVAL (bad command, err says which token and why), -ENOENT
 *   (no such chain or rule), -EEXIST (chain exists), -EBUSY (chain in use
 *   or not empty), -ELOOP (a jump would make a loop), -ENOSPC (no counter
 *   slot left), -ENOMEM. Nothing changes on error.
 */
int pgt_ruleset_command(int argc, char **argv, FILE *out,
	struct pgt_rs_err *err);

/**
 * Apply an iptables-restore document. Each table it names is replaced (or,
 * with @p noflush, edited) atomically together with all others: on any error
 * nothing changes and err says "line N: ...".
 * @param counters  Apply "[pkts:bytes]" prefixes and chain counters (-c).
 */
int pgt_ruleset_restore(const char *text, bool noflush, bool counters,
	struct pgt_rs_err *err);

/**
 * Write the iptables-save form of @p table (or every table that has a chain
 * or rule beyond the defaults, if @p table is -1) to @p f; @p header adds
 * iptables-save's "# Generated by" and "# Completed on" comments.
 */
void pgt_ruleset_save(int table, bool counters, bool header, FILE *f);

/** Table by name ("filter"...), or -1. */
int pgt_ruleset_table_find(const char *name);

/** Sum of a rule counter slot over workers (for printers). */
void pgt_ruleset_counter_read(uint32_t slot, uint64_t *pkts, uint64_t *bytes);

#endif /* PGT_RULESET_H */
