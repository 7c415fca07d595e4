/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j NFLOG --nflog-group --nflog-prefix --nflog-size (libxt_NFLOG):
 * non-terminating. The worker copies the packet, from its IP header, into a
 * record for the management thread, which keeps the last ones for
 * `pktgatectl capture` (pcapng for tcpdump and Wireshark) and the
 * nflog_read RPC. Put it before a DROP to see what the DROP takes.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_mbuf.h>

#include "pgt_ruleset.h"

struct nflog_data {
	char prefix[PGT_RS_NFLOG_PREFIX_MAX];
	uint16_t group;
	uint16_t size;		/* bytes copied at most */
	bool has_size;
	bool size_is_range;	/* given as the deprecated --nflog-range */
};

static int
nflog_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct nflog_data *d = data;
	uint32_t v;

	if (strcmp(opt, "nflog-prefix") == 0) {
		if (strlen(args[0]) >= PGT_RS_NFLOG_PREFIX_MAX)
			return pgt_rs_errorf(err,
				"--nflog-prefix: longer than %u characters",
				PGT_RS_NFLOG_PREFIX_MAX - 1);
		strcpy(d->prefix, args[0]);
		return 0;
	}
	if (strcmp(opt, "nflog-group") == 0) {
		if (pgt_rs_parse_u32(args[0], 0, 65535, &v) != 0)
			return pgt_rs_errorf(err,
				"--nflog-group: '%s' is not 0-65535", args[0]);
		d->group = (uint16_t)v;
		return 0;
	}
	if (strcmp(opt, "nflog-threshold") == 0)
		return pgt_rs_errorf(err,
			"--nflog-threshold: not supported: records are not batched (they reach the capture buffer within one management poll)");
	if (pgt_rs_parse_u32(args[0], 0, UINT32_MAX, &v) != 0)
		return pgt_rs_errorf(err, "--%s: '%s' is not a number", opt,
			args[0]);
	d->size = (uint16_t)RTE_MIN(v, (uint32_t)UINT16_MAX);
	d->has_size = true;
	d->size_is_range = strcmp(opt, "nflog-range") == 0;
	return 0;
}

static int
nflog_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	struct nflog_data *d = data;

	if (d->has_size && d->size > PGT_RS_NFLOG_SNAP_MAX)
		return pgt_rs_errorf(err,
			"--nflog-%s %u: at most %u bytes of a packet are kept",
			d->size_is_range ? "range" : "size", d->size,
			PGT_RS_NFLOG_SNAP_MAX);
	return 0;
}

/* iptables-save's order and spelling; -L prints the same without "--". */
static void
nflog_words(const struct nflog_data *d, FILE *f, const char *dashes)
{
	if (d->prefix[0] != '\0') {
		fprintf(f, " %snflog-prefix ", dashes);
		pgt_rs_print_quoted(f, d->prefix);
	}
	if (d->group != 0)
		fprintf(f, " %snflog-group %u", dashes, d->group);
	if (d->has_size)
		fprintf(f, " %snflog-%s %u", dashes,
			d->size_is_range ? "range" : "size", d->size);
}

static void
nflog_print(const void *data, FILE *f)
{
	nflog_words(data, f, "--");
}

static void
nflog_list(const void *data, FILE *f)
{
	nflog_words(data, f, "");
}

static enum pgt_verdict
nflog_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct nflog_data *d = data;
	struct pgt_rs_nflog_record r;
	uint32_t off = (uint32_t)((uint8_t *)p->ip -
		rte_pktmbuf_mtod(p->m, uint8_t *));
	uint32_t caplen = RTE_MIN((uint32_t)p->ip_len,
		rte_pktmbuf_pkt_len(p->m) - off);
	const void *src;

	caplen = RTE_MIN(caplen, d->has_size ? d->size :
		(uint32_t)PGT_RS_NFLOG_SNAP_MAX);
	src = rte_pktmbuf_read(p->m, off, caplen, r.data);
	if (src == NULL)
		return PGT_VERDICT_CONTINUE;
	if (src != r.data)
		memcpy(r.data, src, caplen);
	memcpy(r.prefix, d->prefix, sizeof(r.prefix));
	r.tsc = p->now;
	r.group = d->group;
	r.in_port = p->in_port;
	r.out_port = p->out_port;
	r.hook = p->hook;
	r.drop = 0;
	r.l2 = 0;
	r.caplen = (uint16_t)caplen;
	r.len = p->ip_len;
	pgt_ruleset_nflog_post(p->worker, &r);
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt nflog_opts[] = {
	{ "nflog-prefix", 1, false }, { "nflog-group", 1, false },
	{ "nflog-size", 1, false }, { "nflog-range", 1, false },
	{ "nflog-threshold", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops nflog_ops = {
	.name = "NFLOG", .size = sizeof(struct nflog_data), .opts = nflog_opts,
	.tables = 0x1f,
	.parse = nflog_parse, .finish = nflog_finish, .print = nflog_print,
	.list = nflog_list, .exec = nflog_exec,
};
PGT_TARGET_REGISTER(nflog_ops);
