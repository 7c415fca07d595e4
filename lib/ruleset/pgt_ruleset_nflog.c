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
#include "pgt_stats.h"

#define NFLOG_RING_SIZE 256
#define CAPTURE_RECORDS 2048	/* a power of 2 */
#define READ_MAX_DEFAULT 256

_Static_assert(sizeof(struct pgt_rs_nflog_record) % 4 == 0,
	"an NFLOG record is a whole number of ring words");

_Static_assert(PGT_DROP_MAX <= 64, "a drop reason is a bit of the watch");

uint64_t pgt_ruleset_drop_watch;

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
	if (r->drop != 0)
		return json_pack("{s:I, s:I, s:i, s:s, s:b, s:s, s:s, s:i, s:s}",
			"seq", (json_int_t)h->seq,
			"time_s", (json_int_t)h->when.tv_sec,
			"time_ns", (int)h->when.tv_nsec,
			"drop", r->prefix,
			"ethernet", r->l2,
			"in", pgt_rs_port_name(v, r->in_port),
			"out", pgt_rs_port_name(v, r->out_port),
			"len", r->len,
			"data", hex);
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
	bool drops;
	bool has_drops;
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
		if (a->has_drops && a->drops != (r->drop != 0))
			continue;
		if (!a->has_group || (r->drop == 0 && r->group == a->group))
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
	PGT_RPC_PARAM_OPT(struct nflog_read_args, drops, PGT_RPC_BOOL,
		"true: only the drops the drop watch copied; false: only NFLOG's copies (default: both)"),
};

PGT_RPC_METHOD(nflog_read_method, "nflog_read",
	"Packets copied by NFLOG rules and by the drop watch since a cursor (the last 2048 are kept): time, group, prefix and hook (or the drop's name), ports and the packet in hex (from its IP header, or its Ethernet header if 'ethernet'); lost counts those overwritten before this read",
	nflog_read_params, struct nflog_read_args, rpc_nflog_read);

/* drop_watch_set / drop_watch_get: which drops are copied for capture. */

static json_t *
watch_json(uint64_t mask)
{
	json_t *names = json_array();
	unsigned int d;

	for (d = 0; d < PGT_DROP_MAX; d++)
		if (mask & (UINT64_C(1) << d))
			json_array_append_new(names,
				json_string(pgt_stats_drop_name(d)));
	return names;
}

struct drop_watch_args {
	const char *reasons;
};

static int
rpc_drop_watch_set(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct drop_watch_args *a = argp;
	const char *p = a->reasons;
	uint64_t mask = 0, old;
	size_t n;
	unsigned int d;

	while (*p != '\0') {
		n = strcspn(p, ", ");
		if (n == 3 && strncmp(p, "all", 3) == 0) {
			mask |= PGT_DROP_MAX == 64 ? UINT64_MAX :
				(UINT64_C(1) << PGT_DROP_MAX) - 1;
		} else if (n > 0) {
			for (d = 0; d < PGT_DROP_MAX; d++)
				if (strlen(pgt_stats_drop_name(d)) == n &&
						strncmp(p, pgt_stats_drop_name(d),
							n) == 0)
					break;
			if (d == PGT_DROP_MAX)
				return pgt_rpc_errorf(err, -EINVAL,
					"no drop reason '%.*s' (port_stats_get names them)",
					(int)n, p);
			mask |= UINT64_C(1) << d;
		}
		p += n;
		p += strspn(p, ", ");
	}
	old = __atomic_exchange_n(&pgt_ruleset_drop_watch, mask,
		__ATOMIC_RELAXED);
	*result = json_pack("{s:o, s:o}", "reasons", watch_json(mask),
		"previous", watch_json(old));
	return 0;
}

static const struct pgt_rpc_param drop_watch_params[] = {
	PGT_RPC_PARAM(struct drop_watch_args, reasons, PGT_RPC_TEXT, true,
		"drop reasons to copy, comma-separated (the names of port_stats_get's drops), \"all\", or \"\" for none"),
};

PGT_RPC_METHOD(drop_watch_set_method, "drop_watch_set",
	"Copy the packets dropped for these reasons into the capture buffer (nflog_read, pktgatectl capture --drops); returns the reasons watched now and before",
	drop_watch_params, struct drop_watch_args, rpc_drop_watch_set);

static int
rpc_drop_watch_get(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	RTE_SET_USED(argp);
	RTE_SET_USED(err);
	*result = json_pack("{s:o}", "reasons", watch_json(__atomic_load_n(
		&pgt_ruleset_drop_watch, __ATOMIC_RELAXED)));
	return 0;
}

PGT_RPC_METHOD_NOARGS(drop_watch_get_method, "drop_watch_get",
	"The drop reasons whose packets are copied for capture",
	rpc_drop_watch_get);
