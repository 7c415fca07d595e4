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

#include <rte_common.h>

#include "pgt_port.h"
#include "pgt_rpc.h"
#include "pgt_ruleset_log.h"
#include "pgt_ruleset_priv.h"

#define NFLOG_RING_SIZE 256
#define CAPTURE_RECORDS 2048	/* a power of 2 */
#define READ_MAX_DEFAULT 256

_Static_assert(sizeof(struct pgt_rs_nflog_record) % 4 == 0,
	"an NFLOG record is a whole number of ring words");

static struct pgt_rs_record_rings nflog_rings;
static struct pgt_rs_capture capture;

int
pgt_rs_nflog_init(unsigned int nb_workers)
{
	int rc;

	rc = pgt_rs_capture_init(&capture, sizeof(struct pgt_rs_nflog_record),
		CAPTURE_RECORDS);
	if (rc != 0)
		return rc;
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
	return pgt_rs_capture_poll(&capture, &nflog_rings, budget);
}

json_t *
pgt_rs_nflog_stats(void)
{
	uint64_t posted, overflow;

	pgt_rs_record_rings_counts(&nflog_rings, &posted, &overflow);
	return json_pack("{s:I, s:I, s:I}", "posted", (json_int_t)posted,
		"ring_full", (json_int_t)overflow,
		"captured", (json_int_t)capture.next_seq);
}

static json_t *
entry_json(const struct pgt_port_view *v, const struct pgt_rs_capture_hdr *h)
{
	const struct pgt_rs_nflog_record *r = pgt_rs_capture_record(h);
	static const char digits[] = "0123456789abcdef";
	char hex[2 * PGT_RS_NFLOG_SNAP_MAX + 1];
	unsigned int i;

	for (i = 0; i < r->caplen; i++) {
		hex[2 * i] = digits[r->data[i] >> 4];
		hex[2 * i + 1] = digits[r->data[i] & 0xf];
	}
	hex[2 * i] = '\0';
	return json_pack("{s:I, s:I, s:i, s:i, s:s, s:s, s:s, s:s, s:i, s:s}",
		"seq", (json_int_t)h->seq,
		"time_s", (json_int_t)h->when.tv_sec,
		"time_ns", (int)h->when.tv_nsec,
		"group", r->group,
		"prefix", r->prefix,
		"hook", pgt_rs_hook_names[r->hook],
		"in", pgt_rs_port_name(v, r->in_port),
		"out", pgt_rs_port_name(v, r->out_port),
		"len", r->len,
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
	uint32_t max = a->has_max ? a->max : READ_MAX_DEFAULT, seq, lost;
	const struct pgt_rs_nflog_record *r;
	const struct pgt_rs_capture_hdr *h;
	json_t *packets = json_array();

	RTE_SET_USED(err);
	seq = pgt_rs_capture_start(&capture, a->has_cursor, a->cursor, max,
		&lost);
	for (; seq != capture.next_seq && json_array_size(packets) < max;
			seq++) {
		h = pgt_rs_capture_entry(&capture, seq);
		r = pgt_rs_capture_record(h);
		if (!a->has_group || r->group == a->group)
			json_array_append_new(packets, entry_json(v, h));
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
