/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LOG target's way off the workers: a worker copies what the message
 * needs into a fixed-size record on its own single-producer ring and goes
 * on; the management thread formats and writes the messages. A full ring
 * loses the record, counted, and never makes a worker wait.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_ring_elem.h>

#include "pgt_log.h"
#include "pgt_port.h"
#include "pgt_ruleset_priv.h"
#include "pgt_ruleset_log.h"

PGT_LOG_REGISTER(iptables);

#define LOG_RING_SIZE 1024
/* Records handled per management poll: logging must not starve the RPC. */
#define LOG_BUDGET 256

/* rte_ring element sizes are multiples of 4 bytes. */
_Static_assert(sizeof(struct pgt_rs_log_record) % 4 == 0,
	"a LOG record is a whole number of ring words");

static struct pgt_rs_record_rings log_rings;
static uint64_t log_written;

int
pgt_rs_record_rings_init(struct pgt_rs_record_rings *r, const char *prefix,
	unsigned int record_size, unsigned int size, unsigned int nb_workers)
{
	char name[RTE_RING_NAMESIZE];
	unsigned int w;

	for (w = 0; w < nb_workers; w++) {
		snprintf(name, sizeof(name), "%s_%u", prefix, w);
		r->ring[w] = rte_ring_create_elem(name, record_size, size,
			rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (r->ring[w] == NULL)
			return -ENOMEM;
	}
	return 0;
}

void
pgt_rs_record_rings_post(struct pgt_rs_record_rings *r, unsigned int w,
	const void *record, unsigned int record_size)
{
	if (rte_ring_sp_enqueue_elem(r->ring[w], (void *)(uintptr_t)record,
			record_size) == 0)
		r->count[w].posted++;
	else
		r->count[w].overflow++;
}

void
pgt_rs_record_rings_counts(const struct pgt_rs_record_rings *r,
	uint64_t *posted, uint64_t *overflow)
{
	unsigned int w;

	*posted = 0;
	*overflow = 0;
	for (w = 0; w < RTE_MAX_LCORE && r->ring[w] != NULL; w++) {
		*posted += __atomic_load_n(&r->count[w].posted,
			__ATOMIC_RELAXED);
		*overflow += __atomic_load_n(&r->count[w].overflow,
			__ATOMIC_RELAXED);
	}
}

int
pgt_rs_capture_init(struct pgt_rs_capture *c, unsigned int record_size,
	unsigned int nb_entries)
{
	c->record_size = record_size;
	c->entry_size = (uint32_t)RTE_ALIGN(sizeof(struct pgt_rs_capture_hdr) +
		record_size, 8);
	c->nb_entries = nb_entries;
	c->next_seq = 0;
	c->nb_kept = 0;
	c->entries = calloc(nb_entries, c->entry_size);
	return c->entries == NULL ? -ENOMEM : 0;
}

unsigned int
pgt_rs_capture_poll(struct pgt_rs_capture *c, struct pgt_rs_record_rings *r,
	unsigned int budget)
{
	struct pgt_rs_capture_hdr *e;
	struct timespec now;
	uint64_t tsc, stamp, hz = rte_get_tsc_hz(), ago_ns;
	unsigned int w, done = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	tsc = rte_rdtsc();
	for (w = 0; w < RTE_MAX_LCORE && r->ring[w] != NULL; w++) {
		while (done < budget) {
			e = (void *)(uintptr_t)pgt_rs_capture_entry(c,
				c->next_seq);
			if (rte_ring_sc_dequeue_elem(r->ring[w], e + 1,
					c->record_size) != 0)
				break;
			e->seq = c->next_seq++;
			if (c->nb_kept < c->nb_entries)
				c->nb_kept++;
			/* Back-date the stamp by the time spent in the ring. */
			memcpy(&stamp, e + 1, sizeof(stamp));
			ago_ns = tsc > stamp ?
				(tsc - stamp) * 1000000000ull / hz : 0;
			e->when = now;
			e->when.tv_sec -= (time_t)(ago_ns / 1000000000ull);
			e->when.tv_nsec -= (long)(ago_ns % 1000000000ull);
			if (e->when.tv_nsec < 0) {
				e->when.tv_nsec += 1000000000L;
				e->when.tv_sec--;
			}
			done++;
		}
	}
	return done;
}

uint32_t
pgt_rs_capture_start(const struct pgt_rs_capture *c, bool has_cursor,
	uint32_t cursor, uint32_t max, uint32_t *lost)
{
	uint32_t oldest = c->next_seq - c->nb_kept, seq, behind;

	*lost = 0;
	if (max == 0)
		return c->next_seq;
	seq = has_cursor ? cursor : oldest;
	/* Sequence numbers wrap: compare by distance from the newest. */
	behind = c->next_seq - seq;
	if (behind > c->nb_kept) {
		if (behind <= UINT32_MAX / 2) {
			*lost = behind - c->nb_kept;
			seq = oldest;
		} else {
			/* A cursor from the future (a restarted daemon). */
			seq = c->next_seq;
		}
	}
	return seq;
}

const char *
pgt_rs_port_name(const struct pgt_port_view *v, uint16_t port)
{
	if (port == PGT_PORT_NONE || v == NULL || port >= v->nb_ports)
		return "";
	return v->port[port].name;
}

int
pgt_rs_log_init(unsigned int nb_workers)
{
	return pgt_rs_record_rings_init(&log_rings, "pgt_log",
		sizeof(struct pgt_rs_log_record), LOG_RING_SIZE, nb_workers);
}

void
pgt_ruleset_log_post(unsigned int worker, const struct pgt_rs_log_record *r)
{
	pgt_rs_record_rings_post(&log_rings, worker, r, sizeof(*r));
}

void
pgt_ruleset_log_stats(uint64_t *posted, uint64_t *overflow, uint64_t *written)
{
	pgt_rs_record_rings_counts(&log_rings, posted, overflow);
	*written = log_written;
}

/* The message as Linux's nf_log_ipv4 writes it (without MAC=). */
static void
format_record(const struct pgt_rs_log_record *r, char *buf, size_t size)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	const struct rte_ipv4_hdr *ip = (const void *)r->data;
	const uint8_t *l4;
	char src[16], dst[16];
	uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
	unsigned int hlen = (ip->version_ihl & 0xf) * 4u;
	size_t n;

	snprintf(src, sizeof(src), "%u.%u.%u.%u", ((const uint8_t *)&ip->src_addr)[0],
		((const uint8_t *)&ip->src_addr)[1], ((const uint8_t *)&ip->src_addr)[2],
		((const uint8_t *)&ip->src_addr)[3]);
	snprintf(dst, sizeof(dst), "%u.%u.%u.%u", ((const uint8_t *)&ip->dst_addr)[0],
		((const uint8_t *)&ip->dst_addr)[1], ((const uint8_t *)&ip->dst_addr)[2],
		((const uint8_t *)&ip->dst_addr)[3]);
	n = (size_t)snprintf(buf, size,
		"%sIN=%s OUT=%s SRC=%s DST=%s LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u %s%s",
		r->prefix, pgt_rs_port_name(v, r->in_port),
		pgt_rs_port_name(v, r->out_port),
		src, dst, rte_be_to_cpu_16(ip->total_length),
		ip->type_of_service & 0x1f, ip->type_of_service & 0xe0,
		ip->time_to_live, rte_be_to_cpu_16(ip->packet_id),
		(frag & RTE_IPV4_HDR_DF_FLAG) ? "DF " : "",
		(frag & RTE_IPV4_HDR_MF_FLAG) ? "MF " : "");
	if (n >= size)
		return;
	if (frag & RTE_IPV4_HDR_OFFSET_MASK) {
		snprintf(buf + n, size - n, "FRAG:%u PROTO=%u",
			frag & RTE_IPV4_HDR_OFFSET_MASK, ip->next_proto_id);
		return;
	}
	l4 = r->data + hlen;
	if (hlen + 20 <= r->len && ip->next_proto_id == IPPROTO_TCP) {
		uint8_t f = l4[13];

		snprintf(buf + n, size - n,
			"PROTO=TCP SPT=%u DPT=%u WINDOW=%u RES=0x%02X %s%s%s%s%s%sURGP=%u",
			(l4[0] << 8) | l4[1], (l4[2] << 8) | l4[3],
			(l4[14] << 8) | l4[15], (l4[12] & 0x0f) << 2,
			(f & 0x20) ? "URG " : "", (f & 0x10) ? "ACK " : "",
			(f & 0x08) ? "PSH " : "", (f & 0x04) ? "RST " : "",
			(f & 0x02) ? "SYN " : "", (f & 0x01) ? "FIN " : "",
			(l4[18] << 8) | l4[19]);
	} else if (hlen + 8 <= r->len && ip->next_proto_id == IPPROTO_UDP) {
		snprintf(buf + n, size - n, "PROTO=UDP SPT=%u DPT=%u LEN=%u",
			(l4[0] << 8) | l4[1], (l4[2] << 8) | l4[3],
			(l4[4] << 8) | l4[5]);
	} else if (hlen + 8 <= r->len && ip->next_proto_id == IPPROTO_ICMP) {
		n += (size_t)snprintf(buf + n, size - n,
			"PROTO=ICMP TYPE=%u CODE=%u", l4[0], l4[1]);
		if (n < size && (l4[0] == 0 || l4[0] == 8))
			snprintf(buf + n, size - n, " ID=%u SEQ=%u",
				(l4[4] << 8) | l4[5], (l4[6] << 8) | l4[7]);
	} else {
		snprintf(buf + n, size - n, "PROTO=%u", ip->next_proto_id);
	}
}

unsigned int
pgt_ruleset_poll(void)
{
	struct pgt_rs_log_record r;
	unsigned int w, done = 0;
	char msg[512];

	for (w = 0; w < RTE_MAX_LCORE && log_rings.ring[w] != NULL; w++) {
		while (done < LOG_BUDGET && rte_ring_sc_dequeue_elem(
				log_rings.ring[w], &r, sizeof(r)) == 0) {
			format_record(&r, msg, sizeof(msg));
			rte_log(r.level + 1u, pgt_logtype_iptables,
				"%s\n", msg);
			log_written++;
			done++;
		}
	}
	done += pgt_rs_nflog_poll(LOG_BUDGET);
	return done + pgt_rs_trace_poll(4 * LOG_BUDGET);
}
