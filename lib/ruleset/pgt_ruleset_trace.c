/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TRACE's way off the workers, and what the events say.
 *
 * As for LOG and NFLOG, a worker fills a fixed-size record and puts it on
 * its own single-producer ring, never waiting; a full ring loses the event,
 * counted. Untraced packets pay one test of their metadata's trace id where
 * an event could be posted (and none in the rule walk, which is compiled
 * twice). The management thread keeps the last TRACE_EVENTS events with
 * sequence numbers; trace_read hands them out as JSON with everything named
 * (ports, hooks, tables, chains, the rule's iptables-save text, the drop
 * reason, the connection's state) and the packet's headers as they were at
 * that step, so NAT shows as the difference between two events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include "pgt_conntrack.h"
#include "pgt_port.h"
#include "pgt_rpc.h"
#include "pgt_ruleset_log.h"
#include "pgt_ruleset_priv.h"
#include "pgt_stats.h"

#define TRACE_RING_SIZE 1024
#define TRACE_EVENTS 8192	/* a power of 2 */
#define READ_MAX_DEFAULT 256

_Static_assert(sizeof(struct pgt_rs_trace_record) % 4 == 0,
	"a trace record is a whole number of ring words");

static struct pgt_rs_record_rings trace_rings;
static struct pgt_rs_capture events;
static unsigned int trace_workers;

/* Each worker numbers its packets; ids interleave across workers. */
static struct {
	uint32_t next;
} __rte_cache_aligned next_id[RTE_MAX_LCORE];

static const char *const type_names[PGT_RS_TRACE_TYPE_MAX] = {
	[PGT_RS_TRACE_RX] = "rx",
	[PGT_RS_TRACE_START] = "trace",
	[PGT_RS_TRACE_HOOK] = "hook",
	[PGT_RS_TRACE_RULE] = "rule",
	[PGT_RS_TRACE_RETURN] = "return",
	[PGT_RS_TRACE_POLICY] = "policy",
	[PGT_RS_TRACE_CT] = "conntrack",
	[PGT_RS_TRACE_NAT] = "nat",
	[PGT_RS_TRACE_IPVS] = "ipvs",
	[PGT_RS_TRACE_LOCAL] = "local",
	[PGT_RS_TRACE_ANSWERED] = "answered",
	[PGT_RS_TRACE_CONSUMED] = "consumed",
	[PGT_RS_TRACE_QUEUED] = "queued",
	[PGT_RS_TRACE_REASSEMBLY] = "reassembly",
	[PGT_RS_TRACE_OUT] = "out",
	[PGT_RS_TRACE_DROP] = "drop",
};

static const char *const ct_names[] = {
	[PGT_CT_ESTABLISHED] = "established",
	[PGT_CT_RELATED] = "related",
	[PGT_CT_NEW] = "new",
	[PGT_CT_ESTABLISHED_REPLY] = "established",
	[PGT_CT_RELATED_REPLY] = "related",
	[PGT_CT_UNTRACKED] = "untracked",
	[PGT_CT_INVALID] = "invalid",
	[PGT_CT_NONE] = "none",
};

int
pgt_rs_trace_init(unsigned int nb_workers)
{
	int rc;

	trace_workers = nb_workers;
	rc = pgt_rs_capture_init(&events, sizeof(struct pgt_rs_trace_record),
		TRACE_EVENTS);
	if (rc != 0)
		return rc;
	return pgt_rs_record_rings_init(&trace_rings, "pgt_trace",
		sizeof(struct pgt_rs_trace_record), TRACE_RING_SIZE,
		nb_workers);
}

uint32_t
pgt_ruleset_trace_id(unsigned int worker)
{
	uint32_t id;

	/* Worker w's ids are w+1, w+1+n, w+1+2n...: never 0, never with the
	 * derived bit. */
	id = next_id[worker].next++ * trace_workers + worker + 1;
	id &= ~PGT_RS_TRACE_DERIVED;
	if (id == 0)
		id = worker + 1;
	return id;
}

void
pgt_ruleset_trace_post(unsigned int worker, struct pgt_rs_trace_record *r)
{
	r->tsc = rte_rdtsc();
	r->worker = (uint8_t)worker;
	pgt_rs_record_rings_post(&trace_rings, worker, r, sizeof(*r));
}

void __rte_noinline
pgt_ruleset_trace(unsigned int worker, const struct rte_mbuf *m,
	uint32_t l3_off, bool arp, enum pgt_rs_trace_type type, uint8_t hook,
	uint16_t in, uint16_t out, uint32_t arg)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);
	struct pgt_rs_trace_record r;
	uint32_t avail, len;

	memset(&r, 0, sizeof(r));
	r.id = meta->trace;
	r.type = (uint8_t)type;
	r.hook = hook;
	r.in_port = in;
	r.out_port = out;
	r.arg = arg;
	r.mark = meta->mark;
	r.ctinfo = meta->ctinfo;
	r.counter = UINT32_MAX;
	r.arp = arp;
	avail = rte_pktmbuf_data_len(m) > l3_off ?
		rte_pktmbuf_data_len(m) - l3_off : 0;
	len = rte_pktmbuf_pkt_len(m) > l3_off ?
		rte_pktmbuf_pkt_len(m) - l3_off : 0;
	r.len = (uint16_t)RTE_MIN(len, (uint32_t)UINT16_MAX);
	r.caplen = (uint8_t)RTE_MIN(avail, (uint32_t)PGT_RS_TRACE_SNAP);
	memcpy(r.data, rte_pktmbuf_mtod_offset(m, const uint8_t *, l3_off),
		r.caplen);
	pgt_ruleset_trace_post(worker, &r);
}

unsigned int
pgt_rs_trace_poll(unsigned int budget)
{
	return pgt_rs_capture_poll(&events, &trace_rings, budget);
}

json_t *
pgt_rs_trace_stats(void)
{
	uint64_t posted, overflow;

	pgt_rs_record_rings_counts(&trace_rings, &posted, &overflow);
	return json_pack("{s:I, s:I, s:I}", "posted", (json_int_t)posted,
		"ring_full", (json_int_t)overflow,
		"kept", (json_int_t)events.next_seq);
}

/* Rendering (management thread) */

static void
addr_str(const void *be, char *buf, size_t size)
{
	const uint8_t *b = be;

	snprintf(buf, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

static const char *
icmp_type_name(uint8_t type)
{
	switch (type) {
	case 0: return "echo-reply";
	case 3: return "destination-unreachable";
	case 5: return "redirect";
	case 8: return "echo-request";
	case 11: return "time-exceeded";
	case 12: return "parameter-problem";
	default: return NULL;
	}
}

/*
 * The headers an event kept, as fields ("src", "dst", "proto", "sport",
 * "dport", "ttl", "id", "len") and as one line ("packet").
 */
static void
packet_json(json_t *o, const struct pgt_rs_trace_record *r)
{
	const struct rte_ipv4_hdr *ip = (const void *)r->data;
	const struct rte_arp_hdr *arp = (const void *)r->data;
	char src[16], dst[16], line[192], flags[8];
	const uint8_t *l4;
	unsigned int hlen, n = 0;
	uint16_t frag;
	const char *name;

	if (r->arp) {
		if (r->caplen < sizeof(*arp))
			return;
		addr_str(&arp->arp_data.arp_sip, src, sizeof(src));
		addr_str(&arp->arp_data.arp_tip, dst, sizeof(dst));
		if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
			snprintf(line, sizeof(line), "arp who-has %s tell %s",
				dst, src);
		else
			snprintf(line, sizeof(line),
				"arp reply %s is-at " RTE_ETHER_ADDR_PRT_FMT,
				src, RTE_ETHER_ADDR_BYTES(
					&arp->arp_data.arp_sha));
		json_object_set_new(o, "packet", json_string(line));
		return;
	}
	if (r->caplen < sizeof(*ip))
		return;
	hlen = (ip->version_ihl & 0xf) * 4u;
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	addr_str(&ip->src_addr, src, sizeof(src));
	addr_str(&ip->dst_addr, dst, sizeof(dst));
	json_object_set_new(o, "src", json_string(src));
	json_object_set_new(o, "dst", json_string(dst));
	json_object_set_new(o, "proto", json_integer(ip->next_proto_id));
	json_object_set_new(o, "len",
		json_integer(rte_be_to_cpu_16(ip->total_length)));
	json_object_set_new(o, "ttl", json_integer(ip->time_to_live));
	json_object_set_new(o, "ip_id",
		json_integer(rte_be_to_cpu_16(ip->packet_id)));
	l4 = r->data + hlen;
	if ((frag & RTE_IPV4_HDR_OFFSET_MASK) != 0) {
		n = (unsigned int)snprintf(line, sizeof(line),
			"ipproto %u %s > %s frag offset %u",
			ip->next_proto_id, src, dst,
			(frag & RTE_IPV4_HDR_OFFSET_MASK) * 8u);
	} else if ((ip->next_proto_id == IPPROTO_TCP ||
			ip->next_proto_id == IPPROTO_UDP) &&
			hlen + 4 <= r->caplen) {
		uint16_t sport = (uint16_t)((l4[0] << 8) | l4[1]);
		uint16_t dport = (uint16_t)((l4[2] << 8) | l4[3]);

		json_object_set_new(o, "sport", json_integer(sport));
		json_object_set_new(o, "dport", json_integer(dport));
		n = (unsigned int)snprintf(line, sizeof(line),
			"%s %s:%u > %s:%u",
			ip->next_proto_id == IPPROTO_TCP ? "tcp" : "udp",
			src, sport, dst, dport);
		if (ip->next_proto_id == IPPROTO_TCP &&
				hlen + 14 <= r->caplen) {
			unsigned int k = 0;
			uint8_t f = l4[13];

			if (f & 0x02) flags[k++] = 'S';
			if (f & 0x01) flags[k++] = 'F';
			if (f & 0x04) flags[k++] = 'R';
			if (f & 0x08) flags[k++] = 'P';
			if (f & 0x10) flags[k++] = '.';
			if (f & 0x20) flags[k++] = 'U';
			flags[k] = '\0';
			n += (unsigned int)snprintf(line + n, sizeof(line) - n,
				" [%s]", flags);
		}
	} else if (ip->next_proto_id == IPPROTO_ICMP &&
			hlen + 8 <= r->caplen) {
		name = icmp_type_name(l4[0]);
		json_object_set_new(o, "icmp_type", json_integer(l4[0]));
		json_object_set_new(o, "icmp_code", json_integer(l4[1]));
		if (name != NULL)
			n = (unsigned int)snprintf(line, sizeof(line),
				"icmp %s > %s %s", src, dst, name);
		else
			n = (unsigned int)snprintf(line, sizeof(line),
				"icmp %s > %s type %u", src, dst, l4[0]);
		if (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)
			n += (unsigned int)snprintf(line + n, sizeof(line) - n,
				" code %u", l4[1]);
		else if (l4[0] == 0 || l4[0] == 8)
			n += (unsigned int)snprintf(line + n, sizeof(line) - n,
				" id %u seq %u", (l4[4] << 8) | l4[5],
				(l4[6] << 8) | l4[7]);
	} else {
		n = (unsigned int)snprintf(line, sizeof(line),
			"ipproto %u %s > %s", ip->next_proto_id, src, dst);
	}
	if (n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, " len %u ttl %u",
			rte_be_to_cpu_16(ip->total_length), ip->time_to_live);
	json_object_set_new(o, "packet", json_string(line));
}

/* The rule's text as iptables-save writes it, if it is still there. */
static json_t *
rule_text(const struct pgt_rs_trace_record *r)
{
	const struct pgt_rs_mtable *t = pgt_rs_live()->t[r->table];
	const struct pgt_rs_chain *c;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	c = t != NULL ? pgt_rs_chain_find(t, r->chain) : NULL;
	if (c == NULL || r->arg == 0 || r->arg > c->nb_rules ||
			c->rules[r->arg - 1]->counter != r->counter)
		return NULL;
	f = open_memstream(&buf, &size);
	if (f == NULL)
		return NULL;
	pgt_rs_print_rule(f, c->name, c->rules[r->arg - 1], false);
	fclose(f);
	if (size > 0 && buf[size - 1] == '\n')
		buf[size - 1] = '\0';
	json_t *s = json_string(buf);

	free(buf);
	return s;
}

static const char *
kind_name(const struct pgt_rs_trace_record *r)
{
	switch (r->kind) {
	case PGT_RS_ACCEPT: return "ACCEPT";
	case PGT_RS_DROP: return "DROP";
	case PGT_RS_RETURN: return "RETURN";
	case PGT_RS_JUMP: return "jump";
	case PGT_RS_GOTO: return "goto";
	case PGT_RS_TARGET: return r->target->list_name != NULL ?
		r->target->list_name : r->target->name;
	default: return "";
	}
}

static json_t *
event_json(const struct pgt_port_view *v, const struct pgt_rs_capture_hdr *h)
{
	const struct pgt_rs_trace_record *r = pgt_rs_capture_record(h);
	json_t *o, *text;

	o = json_pack("{s:I, s:I, s:i, s:I, s:b, s:i, s:s}",
		"seq", (json_int_t)h->seq,
		"time_s", (json_int_t)h->when.tv_sec,
		"time_ns", (int)h->when.tv_nsec,
		"id", (json_int_t)(r->id & ~PGT_RS_TRACE_DERIVED),
		"derived", (r->id & PGT_RS_TRACE_DERIVED) != 0,
		"worker", r->worker,
		"type", type_names[r->type]);
	if (r->in_port != PGT_PORT_NONE)
		json_object_set_new(o, "in",
			json_string(pgt_rs_port_name(v, r->in_port)));
	if (r->out_port != PGT_PORT_NONE)
		json_object_set_new(o, "out",
			json_string(pgt_rs_port_name(v, r->out_port)));
	if (r->mark != 0)
		json_object_set_new(o, "mark", json_integer(r->mark));
	switch (r->type) {
	case PGT_RS_TRACE_RULE:
	case PGT_RS_TRACE_RETURN:
	case PGT_RS_TRACE_POLICY:
		json_object_set_new(o, "hook",
			json_string(pgt_rs_hook_names[r->hook]));
		json_object_set_new(o, "table",
			json_string(pgt_rs_table_names[r->table]));
		json_object_set_new(o, "chain", json_string(r->chain));
		json_object_set_new(o, "rule", json_integer(r->arg));
		if (r->type != PGT_RS_TRACE_RETURN)
			json_object_set_new(o, "verdict",
				json_string(kind_name(r)));
		text = r->type == PGT_RS_TRACE_POLICY ? NULL : rule_text(r);
		if (text != NULL)
			json_object_set_new(o, "text", text);
		break;
	case PGT_RS_TRACE_START:
	case PGT_RS_TRACE_HOOK:
	case PGT_RS_TRACE_NAT:
		json_object_set_new(o, "hook",
			json_string(pgt_rs_hook_names[r->hook]));
		break;
	case PGT_RS_TRACE_CT:
		json_object_set_new(o, "hook",
			json_string(pgt_rs_hook_names[r->hook]));
		json_object_set_new(o, "ct", json_string(
			r->ctinfo < RTE_DIM(ct_names) ? ct_names[r->ctinfo] :
			"none"));
		if (r->ctinfo <= PGT_CT_RELATED_REPLY)
			json_object_set_new(o, "ct_dir", json_string(
				pgt_ct_info_dir(r->ctinfo) == PGT_CT_DIR_REPLY ?
				"reply" : "original"));
		json_object_set_new(o, "ct_status", json_integer(r->arg));
		break;
	case PGT_RS_TRACE_DROP:
		json_object_set_new(o, "reason",
			json_string(pgt_stats_drop_name(r->arg)));
		break;
	case PGT_RS_TRACE_OUT:
		if (r->arg != 0)
			json_object_set_new(o, "fragment", json_true());
		break;
	default:
		break;
	}
	packet_json(o, r);
	return o;
}

void
pgt_ruleset_trace_read(bool has_cursor, uint32_t cursor, uint32_t max,
	json_t *out, uint32_t *next, uint32_t *lost)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	uint32_t seq;

	seq = pgt_rs_capture_start(&events, has_cursor, cursor, max, lost);
	for (; seq != events.next_seq && json_array_size(out) < max; seq++)
		json_array_append_new(out,
			event_json(v, pgt_rs_capture_entry(&events, seq)));
	*next = seq;
}

struct trace_read_args {
	uint32_t cursor;
	bool has_cursor;
	uint32_t max;
	bool has_max;
};

static int
rpc_trace_read(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct trace_read_args *a = argp;
	json_t *list = json_array();
	uint32_t next, lost;

	RTE_SET_USED(err);
	pgt_ruleset_trace_read(a->has_cursor, a->cursor,
		a->has_max ? a->max : READ_MAX_DEFAULT, list, &next, &lost);
	*result = json_pack("{s:I, s:I, s:o}", "cursor", (json_int_t)next,
		"lost", (json_int_t)lost, "events", list);
	return 0;
}

static const struct pgt_rpc_param trace_read_params[] = {
	PGT_RPC_PARAM_U32(struct trace_read_args, cursor, 0, UINT32_MAX,
		"the cursor a previous call returned (default: the oldest event kept)"),
	PGT_RPC_PARAM_U32(struct trace_read_args, max, 0, 4096,
		"at most this many events (default 256); 0 returns none and the newest cursor, to read only what comes next"),
};

PGT_RPC_METHOD(trace_read_method, "trace_read",
	"Events of packets traced by TRACE rules since a cursor (the last 8192 are kept): packet id, step (rx, trace, hook, rule, return, policy, conntrack, nat, ipvs, local, answered, consumed, queued, reassembly, out, drop), hook, table, chain, rule number and text, verdict, ports, drop reason and the packet's headers at that step; lost counts those overwritten before this read",
	trace_read_params, struct trace_read_args, rpc_trace_read);
