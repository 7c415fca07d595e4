/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j CONNMARK (libxt_CONNMARK, revision 2) and -j TCPMSS (libxt_TCPMSS).
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_tcp.h>

#include "pgt_inet.h"
#include "pgt_port.h"
#include "pgt_ruleset.h"

/*
 * CONNMARK changes the mark of the packet's connection (or copies it to
 * and from the packet's mark). A packet without a connection is left alone
 * (XT_CONTINUE), as on Linux. The connection is the worker's own: a plain
 * store, which the management thread reads whole (32 bits).
 */

enum { CM_SET = 1, CM_SAVE, CM_RESTORE };

struct connmark_tg_data {
	uint8_t mode;
	uint32_t ctmark, ctmask, nfmask;
	bool has_masks;
};

static int
cm_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct connmark_tg_data *d = data;
	uint32_t v, m;

	if (strcmp(opt, "mask") == 0 || strcmp(opt, "nfmask") == 0 ||
			strcmp(opt, "ctmask") == 0) {
		if (pgt_rs_parse_u32(args[0], 0, UINT32_MAX, &v) != 0)
			return pgt_rs_errorf(err, "--%s: '%s' is not a mask",
				opt, args[0]);
		if (opt[0] != 'c')
			d->nfmask = v;
		if (opt[0] != 'n')
			d->ctmask = v;
		d->has_masks = true;
		return 0;
	}
	if (d->mode != 0)
		return pgt_rs_errorf(err, "CONNMARK takes one operation");
	if (strcmp(opt, "save-mark") == 0 || strcmp(opt, "restore-mark") == 0) {
		d->mode = opt[0] == 's' ? CM_SAVE : CM_RESTORE;
		return 0;
	}
	d->mode = CM_SET;
	if (strcmp(opt, "set-xmark") == 0 || strcmp(opt, "set-mark") == 0) {
		if (pgt_rs_parse_mark(args[0], &v, &m) != 0)
			goto bad;
		d->ctmark = v;
		d->ctmask = opt[4] == 'x' ? m : (m | v);
		return 0;
	}
	if (pgt_rs_parse_u32(args[0], 0, UINT32_MAX, &v) != 0)
		goto bad;
	if (strcmp(opt, "and-mark") == 0) {
		d->ctmark = 0;
		d->ctmask = ~v;
	} else if (strcmp(opt, "or-mark") == 0) {
		d->ctmark = v;
		d->ctmask = v;
	} else {
		d->ctmark = v;
		d->ctmask = 0;
	}
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not a mark value[/mask]", opt,
		args[0]);
}

static int
cm_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	struct connmark_tg_data *d = data;

	if (d->mode == 0)
		return pgt_rs_errorf(err,
			"CONNMARK needs --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark, --save-mark or --restore-mark");
	if (d->mode == CM_SET && d->has_masks)
		return pgt_rs_errorf(err,
			"CONNMARK: --mask, --nfmask and --ctmask go with --save-mark and --restore-mark");
	if (d->mode != CM_SET && !d->has_masks) {
		d->nfmask = UINT32_MAX;
		d->ctmask = UINT32_MAX;
	}
	return 0;
}

static void
cm_print(const void *data, FILE *f)
{
	const struct connmark_tg_data *d = data;

	if (d->mode == CM_SET)
		fprintf(f, " --set-xmark 0x%x/0x%x", d->ctmark, d->ctmask);
	else
		fprintf(f, " --%s --nfmask 0x%x --ctmask 0x%x",
			d->mode == CM_SAVE ? "save-mark" : "restore-mark",
			d->nfmask, d->ctmask);
}

static void
cm_list(const void *data, FILE *f)
{
	const struct connmark_tg_data *d = data;
	const char *what = d->mode == CM_SAVE ? "save" : "restore";

	if (d->mode == CM_SET) {
		if (d->ctmark == d->ctmask)
			fprintf(f, " CONNMARK or 0x%x", d->ctmark);
		else if (d->ctmark == 0)
			fprintf(f, " CONNMARK and 0x%x", ~d->ctmask);
		else if (d->ctmask == 0)
			fprintf(f, " CONNMARK xor 0x%x", d->ctmark);
		else if (d->ctmask == UINT32_MAX)
			fprintf(f, " CONNMARK set 0x%x", d->ctmark);
		else
			fprintf(f, " CONNMARK xset 0x%x/0x%x", d->ctmark,
				d->ctmask);
	} else if (d->nfmask == UINT32_MAX && d->ctmask == UINT32_MAX) {
		fprintf(f, " CONNMARK %s", what);
	} else if (d->nfmask == d->ctmask) {
		fprintf(f, " CONNMARK %s mask 0x%x", what, d->nfmask);
	} else {
		fprintf(f, " CONNMARK %s nfmask 0x%x ctmask ~0x%x", what,
			d->nfmask, d->ctmask);
	}
}

static enum pgt_verdict
cm_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct connmark_tg_data *d = data;
	struct pgt_ct_conn *ct = p->ct;

	if (ct == NULL)
		return PGT_VERDICT_CONTINUE;
	switch (d->mode) {
	case CM_SET:
		ct->mark = (ct->mark & ~d->ctmask) ^ d->ctmark;
		break;
	case CM_SAVE:
		ct->mark = (ct->mark & ~d->ctmask) ^ (p->meta->mark & d->nfmask);
		break;
	default:
		p->meta->mark = (p->meta->mark & ~d->nfmask) ^
			(ct->mark & d->ctmask);
		break;
	}
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt cm_opts[] = {
	{ "set-xmark", 1, false }, { "set-mark", 1, false },
	{ "and-mark", 1, false }, { "or-mark", 1, false },
	{ "xor-mark", 1, false }, { "save-mark", 0, false },
	{ "restore-mark", 0, false }, { "mask", 1, false },
	{ "nfmask", 1, false }, { "ctmask", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops connmark_tg_ops = {
	.name = "CONNMARK", .size = sizeof(struct connmark_tg_data),
	.opts = cm_opts, .tables = 0x1f,
	.parse = cm_parse, .finish = cm_finish, .print = cm_print,
	.list = cm_list, .exec = cm_exec, .conntrack = true,
};
PGT_TARGET_REGISTER(connmark_tg_ops);

/*
 * TCPMSS: lower the MSS option of TCP SYNs, to a value or to what the
 * output port's MTU allows (MTU - 40). A SYN without an MSS option is left
 * as it is (Linux would insert one).
 */

struct tcpmss_data {
	uint16_t mss;		/* 0: clamp to the path MTU */
	bool set;
};

static int
mss_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct tcpmss_data *d = data;
	uint32_t v;

	if (d->set)
		return pgt_rs_errorf(err,
			"TCPMSS takes --set-mss or --clamp-mss-to-pmtu, once");
	d->set = true;
	if (strcmp(opt, "clamp-mss-to-pmtu") == 0)
		return 0;
	if (pgt_rs_parse_u32(args[0], 1, 65535, &v) != 0)
		return pgt_rs_errorf(err, "--set-mss: '%s' is not 1-65535",
			args[0]);
	d->mss = (uint16_t)v;
	return 0;
}

static int
mss_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (proto != IPPROTO_TCP)
		return pgt_rs_errorf(err, "TCPMSS needs -p tcp");
	if (!((struct tcpmss_data *)data)->set)
		return pgt_rs_errorf(err,
			"TCPMSS needs --set-mss or --clamp-mss-to-pmtu");
	return 0;
}

static void
mss_print(const void *data, FILE *f)
{
	const struct tcpmss_data *d = data;

	if (d->mss == 0)
		fputs(" --clamp-mss-to-pmtu", f);
	else
		fprintf(f, " --set-mss %u", d->mss);
}

static void
mss_list(const void *data, FILE *f)
{
	const struct tcpmss_data *d = data;

	if (d->mss == 0)
		fputs(" TCPMSS clamp to PMTU", f);
	else
		fprintf(f, " TCPMSS set %u", d->mss);
}

static enum pgt_verdict
mss_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct tcpmss_data *d = data;
	struct rte_tcp_hdr *th;
	uint8_t *o;
	unsigned int len, i = 0;
	uint16_t want, old;

	if (p->l4 == NULL || p->l4_len < sizeof(*th))
		return PGT_VERDICT_CONTINUE;
	th = (struct rte_tcp_hdr *)(uintptr_t)p->l4;
	if (!(th->tcp_flags & RTE_TCP_SYN_FLAG))
		return PGT_VERDICT_CONTINUE;
	if (d->mss != 0) {
		want = d->mss;
	} else {
		if (p->out_port == PGT_PORT_NONE)
			return PGT_VERDICT_CONTINUE;
		want = (uint16_t)(pgt_port_view_get()->port[p->out_port].mtu -
			sizeof(struct rte_ipv4_hdr) - sizeof(*th));
	}
	len = (th->data_off >> 4) * 4u;
	if (len > p->l4_len || len < sizeof(*th))
		return PGT_VERDICT_CONTINUE;
	o = (uint8_t *)(th + 1);
	len -= sizeof(*th);
	while (i < len) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
			break;
		if (o[i] == 2 && o[i + 1] == 4) {
			old = (uint16_t)((o[i + 2] << 8) | o[i + 3]);
			/* Never raise an MSS, as Linux since 2.6.25. */
			if (old <= want)
				break;
			o[i + 2] = (uint8_t)(want >> 8);
			o[i + 3] = (uint8_t)want;
			/* RFC 1624 works on 16-bit words: a value at an odd
			 * offset adds to the sum byte-swapped. */
			if ((i & 1) == 0)
				th->cksum = pgt_inet_cksum_update16(th->cksum,
					rte_cpu_to_be_16(old),
					rte_cpu_to_be_16(want));
			else
				th->cksum = pgt_inet_cksum_update16(th->cksum,
					rte_bswap16(rte_cpu_to_be_16(old)),
					rte_bswap16(rte_cpu_to_be_16(want)));
			break;
		}
		i += o[i + 1];
	}
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt mss_opts[] = {
	{ "set-mss", 1, false }, { "clamp-mss-to-pmtu", 0, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops tcpmss_ops = {
	.name = "TCPMSS", .size = sizeof(struct tcpmss_data), .opts = mss_opts,
	.tables = 0x1f,
	.parse = mss_parse, .finish = mss_finish, .print = mss_print,
	.list = mss_list, .exec = mss_exec,
};
PGT_TARGET_REGISTER(tcpmss_ops);
