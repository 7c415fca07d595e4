/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_ICMP_H
#define PGT_ICMP_H

/**
 * @file
 * ICMP messages the router originates: echo replies (built in place from the
 * request) and errors (built in a new mbuf), the TCP resets of REJECT, and
 * the token bucket that limits errors and resets.
 *
 * Errors follow RFC 1812 4.3.2.7: none about an ICMP error, a non-first
 * fragment, a packet to a broadcast or multicast address or from an address
 * that does not name one host. The error quotes as much of the offending
 * datagram as fits in 576 bytes.
 *
 * The limit is global (default 1000 errors/s, burst 50, Linux's
 * icmp_msgs_per_sec and icmp_msgs_burst): each of N workers has its own
 * bucket filling at rate/N with burst/N (at least 1), so no state is shared.
 */

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#define PGT_ICMP_ERROR_MAX_LEN	576

/* Types and codes (RFC 792, RFC 1812) the router sends. */
#define PGT_ICMP_ECHO_REPLY		0
#define PGT_ICMP_DEST_UNREACH		3
#define PGT_ICMP_UNREACH_NET		0
#define PGT_ICMP_UNREACH_HOST		1
#define PGT_ICMP_UNREACH_PORT		3
#define PGT_ICMP_UNREACH_FRAG_NEEDED	4
#define PGT_ICMP_UNREACH_ADMIN		13
#define PGT_ICMP_ECHO_REQUEST		8
#define PGT_ICMP_TIME_EXCEEDED		11
#define PGT_ICMP_DEFAULT_RATE	1000
#define PGT_ICMP_DEFAULT_BURST	50

/** One worker's token bucket. */
struct pgt_icmp_limiter {
	uint64_t tokens;	/**< Tokens times the TSC frequency. */
	uint64_t last;		/**< TSC of the last refill. */
	uint32_t generation;	/**< Configuration seen. */
};

/**
 * Take a token for one error at TSC time @p now (worker context).
 * @return true if the error may be sent.
 */
bool pgt_icmp_allow(struct pgt_icmp_limiter *l, uint64_t now);

/** Set the defaults for @p nb_workers workers sharing the limit. */
void pgt_icmp_init(unsigned int nb_workers);

/** Set the global rate (errors per second, 0 = unlimited) and burst. */
void pgt_icmp_set_limit(uint32_t rate, uint32_t burst, unsigned int nb_workers);

/**
 * Build an ICMP error about @p orig (whose metadata points at its IPv4
 * header) into a new mbuf from @p mp.
 *
 * The new mbuf holds the IPv4 header and ICMP message, data starting at the
 * IPv4 header (headroom left for Ethernet); its source address is 0 for the
 * caller to choose, and its IP checksum is not computed. Its metadata has
 * dst set (the offender's source).
 *
 * @param info  The ICMP header's second word (next-hop MTU for code 4).
 * @return the mbuf, or NULL if RFC 1812 forbids an error about @p orig
 *   (*no_mbuf false) or no mbuf was free (*no_mbuf true).
 */
struct rte_mbuf *pgt_icmp_error(struct rte_mempool *mp, struct rte_mbuf *orig,
	uint8_t type, uint8_t code, uint32_t info, bool *no_mbuf);

/**
 * Build the TCP reset that answers @p orig (metadata at its IPv4 header) as
 * Linux's REJECT --reject-with tcp-reset does: from the original
 * destination to its source, DF set, TTL 64; with the ACK of @p orig as
 * sequence if it had one, else acknowledging what it carried. Data starts
 * at the IPv4 header, checksums final; metadata dst set.
 *
 * @return the mbuf, or NULL when none may be sent (not a complete TCP
 *   header, a reset itself, a non-first fragment, a broadcast or multicast
 *   destination; *no_mbuf false) or no mbuf was free (*no_mbuf true).
 */
struct rte_mbuf *pgt_icmp_tcp_reset(struct rte_mempool *mp,
	struct rte_mbuf *orig, bool *no_mbuf);

/**
 * Turn the echo request in @p m into its reply in place: data will start at
 * the IPv4 header; source and destination swapped, TTL 64, ICMP checksum
 * updated, IP checksum not computed.
 *
 * @return 0, or -EINVAL if the request is malformed (short or bad checksum).
 */
int pgt_icmp_echo_reply(struct rte_mbuf *m);

#endif /* PGT_ICMP_H */
