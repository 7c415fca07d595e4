/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NFLOG's way off the workers and into a capture.
 *
 * As for LOG, a worker copies the packet into a record on its own
 * single-producer ring and goes on; a full ring loses the record, counted.
 * The management thread moves records into one capture buffer, the last
 * CAPTURE_RECORDS packets of every group with a sequence number each, and
 * stamps them with the wall-clock time they matched. Readers (nflog_read,
 * which `pktgatectl capture` polls to write pcapng) keep a cursor; what a
 * slow reader misses because the buffer wrapped is reported to it as lost.
 * The buffer keeps filling with nobody reading, so a capture can also start
 * from the recent past.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_ring_elem.h>

#include "pgt_port.h"
#include "pgt_rpc.h"
#include "pgt_ruleset_log.h"
#include "pgt_ruleset_priv.h"

#define NFLOG_RING_SIZE 256
#define CAPTURE_RECORDS 2048	/* a power of 2 */
#define READ_MAX_DEFAULT 256

_Static_assert(sizeof(struct pgt_rs_nflog_record) % 4 == 0,
	"an NFLOG record is a whole number of ring words");

struct capture_entry {
	uint32_t seq;
	struct timespec when;
	struct pgt_rs_nflog_record r;
};

static struct pgt_rs_record_rings nflog_rings;
static struct capture_entry capture[CAPTURE_RECORDS];
/* Sequence number of the next record; records next-N..next-1 are kept. */
static uint32_t next_seq;
static uint32_t nb_kept;

int
pgt_rs_nflog_init(unsigned int nb_workers)
{
	return pgt_rs_record_rings_init(&nflog_rings, "pgt_nflog",
		sizeof(struct pgt_rs_nflog_record), NFLOG_RING_SIZE,
		nb_workers);
}

void
pgt_ruleset_nflog_post(unsigned int worker,
	const struct pgt_rs_nflog_record *r)
{
	pgt_rs_record_rings_post(&nflog_rings, worker, r, sizeof(*r));
}

unsigned int
pgt_rs_nflog_poll(unsigned int budget)
{
	struct capture_entry *e;
	struct timespec now;
	uint64_t tsc, hz = rte_get_tsc_hz(), ago_ns;
	unsigned int w, done = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	tsc = rte_rdtsc();
	for (w = 0; w < RTE_MAX_LCORE && nflog_rings.ring[w] != NULL; w++) {
		while (done < budget) {
			e = &capture[next_seq & (CAPTURE_RECORDS - 1)];
			if (rte_ring_sc_dequeue_elem(nflog_rings.ring[w], &e->r,
					sizeof(e->r)) != 0)
				break;
			e->seq = next_seq++;
			if (nb_kept < CAPTURE_RECORDS)
				nb_kept++;
			/* Back-date the stamp by the time spent in the ring. */
			ago_ns = tsc > e->r.tsc ?
				(tsc - e->r.tsc) * 1000000000ull / hz : 0;
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

json_t *
pgt_rs_nflog_stats(void)
{
	uint64_t posted, overflow;

	pgt_rs_record_rings_counts(&nflog_rings, &posted, &overflow);
	return json_pack("{s:I, s:I, s:I}", "posted", (json_int_t)posted,
		"ring_full", (json_int_t)overflow,
		"captured", (json_int_t)next_seq);
}

static json_t *
entry_json(const struct pgt_port_view *v, const struct capture_entry *e)
{
	static const char digits[] = "0123456789abcdef";
	char hex[2 * PGT_RS_NFLOG_SNAP_MAX + 1];
	unsigned int i;

	for (i = 0; i < e->r.caplen; i++) {
		hex[2 * i] = digits[e->r.data[i] >> 4];
		hex[2 * i + 1] = digits[e->r.data[i] & 0xf];
	}
	hex[2 * i] = '\0';
	return json_pack("{s:I, s:I, s:i, s:i, s:s, s:s, s:s, s:s, s:i, s:s}",
		"seq", (json_int_t)e->seq,
		"time_s", (json_int_t)e->when.tv_sec,
		"time_ns", (int)e->when.tv_nsec,
		"group", e->r.group,
		"prefix", e->r.prefix,
		"hook", pgt_rs_hook_names[e->r.hook],
		"in", pgt_rs_port_name(v, e->r.in_port),
		"out", pgt_rs_port_name(v, e->r.out_port),
		"len", e->r.len,
		"data", hex);
}

struct nflog_read_args {
	uint32_t cursor;
	bool has_cursor;
	uint32_t group;
	bool has_group;
	uint32_t max;
	bool has_max;
};

static int
rpc_nflog_read(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct nflog_read_args *a = argp;
	const struct pgt_port_view *v = pgt_port_view_get();
	uint32_t oldest = next_seq - nb_kept, seq, lost = 0, behind;
	uint32_t max = a->has_max ? a->max : READ_MAX_DEFAULT;
	const struct capture_entry *e;
	json_t *packets = json_array();

	RTE_SET_USED(err);
	seq = a->has_cursor ? a->cursor : oldest;
	/* Sequence numbers wrap: compare by distance from the newest. */
	behind = next_seq - seq;
	if (behind > nb_kept) {
		if (behind <= UINT32_MAX / 2) {
			lost = behind - nb_kept;
			seq = oldest;
		} else {
			/* A cursor from the future (a restarted daemon). */
			seq = next_seq;
		}
	}
	if (max == 0) {
		seq = next_seq;
		lost = 0;
	}
	for (; seq != next_seq && json_array_size(packets) < max; seq++) {
		e = &capture[seq & (CAPTURE_RECORDS - 1)];
		if (!a->has_group || e->r.group == a->group)
			json_array_append_new(packets, entry_json(v, e));
	}
	*result = json_pack("{s:I, s:I, s:o}", "cursor", (json_int_t)seq,
		"lost", (json_int_t)lost, "packets", packets);
	return 0;
}

static const struct pgt_rpc_param nflog_read_params[] = {
	PGT_RPC_PARAM_U32(struct nflog_read_args, cursor, 0, UINT32_MAX,
		"the cursor a previous call returned (default: the oldest packet kept)"),
	PGT_RPC_PARAM_U32(struct nflog_read_args, group, 0, 65535,
		"only packets of this --nflog-group"),
	PGT_RPC_PARAM_U32(struct nflog_read_args, max, 0, 1024,
		"at most this many packets (default 256); 0 returns no packet and the newest cursor, to read only what comes next"),
};

PGT_RPC_METHOD(nflog_read_method, "nflog_read",
	"Packets copied by NFLOG rules since a cursor (the last 2048 are kept): time, group, prefix, hook, ports and the IP packet in hex; lost counts those overwritten before this read",
	nflog_read_params, struct nflog_read_args, rpc_nflog_read);
