/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PKTGATE_OFFLINE_H
#define PKTGATE_OFFLINE_H

/* The offline mode's parts: pcap files and expectations. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* offline_pcap.c */

/*
 * Read file @p path whole into @p buf (malloc'd, NUL-terminated after
 * @p len bytes). @return 0, -ENOMEM, or the negative errno of fopen().
 */
int pktgate_file_read(const char *path, uint8_t **buf, size_t *len);

struct pktgate_pcap_packet {
	uint64_t ts_ns;
	uint8_t *data;
	uint32_t caplen;	/* bytes captured (in data) */
	uint32_t len;		/* bytes on the wire */
	bool raw_ip;		/* no link header: an IPv4 packet */
	uint16_t port;		/* the port it enters by */
	unsigned int index;	/* its place in its file */
};

/* The packets of one file, all entering by one port. */
struct pktgate_pcap {
	uint16_t port;
	unsigned int nb, cap;
	struct pktgate_pcap_packet *pkts;
};

/*
 * Read pcap or pcapng file @p path (Ethernet or raw IPv4 link types) into
 * @p pc, whose port is set. @return 0; a negative errno with @p err saying
 * what is wrong (-EINVAL: not a readable capture; -ENOMEM).
 */
int pktgate_pcap_read(const char *path, struct pktgate_pcap *pc, char *err,
	size_t errlen);
void pktgate_pcap_free(struct pktgate_pcap *pc);

/* A classic pcap file (Ethernet, nanosecond stamps), header written. */
FILE *pktgate_pcap_create(const char *path);
/* @return 0, -EIO. */
int pktgate_pcap_write(FILE *f, uint64_t ts_ns, const void *data,
	uint32_t len);

/* offline_expect.c */

struct pktgate_expect;

/*
 * Read expectations file @p path: lines "PACKETS [expect:] CHECK...", where
 * PACKETS is N, N-M or *, and each CHECK one of: out [PORT], drop [REASON],
 * local, queued, dnat ADDR[:PORT], snat ADDR[:PORT], rule TABLE:CHAIN:N,
 * policy TABLE:CHAIN, ct STATE; '#' starts a comment.
 * @return the expectations, or NULL with "PATH:LINE: reason" in @p err.
 */
struct pktgate_expect *pktgate_expect_load(const char *path, char *err,
	size_t errlen);

/*
 * Check packet @p n's result @p r (as the trace file has it) against every
 * expectation for it; print each one not met to @p f.
 * @return the number of expectations not met.
 */
unsigned int pktgate_expect_check(const struct pktgate_expect *x,
	unsigned int n, json_t *r, FILE *f);

/*
 * Expectations about packets that never came (a truncated input must not
 * pass for a good one), each printed to @p f. @return how many.
 */
unsigned int pktgate_expect_unused(const struct pktgate_expect *x, FILE *f);

/* Expectations checked in all (after every packet was checked). */
unsigned int pktgate_expect_count(const struct pktgate_expect *x);

void pktgate_expect_free(struct pktgate_expect *x);

#endif /* PKTGATE_OFFLINE_H */
