/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j TTL (libipt_TTL, mangle table) and -j CT --notrack / -j NOTRACK
 * (libxt_CT, raw table).
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include "pgt_inet.h"
#include "pgt_ruleset.h"

/* TTL */

enum ttl_mode { TTL_SET = 1, TTL_DEC, TTL_INC };

struct ttl_tg_data {
	uint8_t mode, value;
};

static int
ttl_tg_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct ttl_tg_data *d = data;
	uint32_t v;

	if (d->mode != 0)
		return pgt_rs_errorf(err, "TTL takes one operation");
	d->mode = strcmp(opt, "ttl-set") == 0 ? TTL_SET :
		strcmp(opt, "ttl-dec") == 0 ? TTL_DEC : TTL_INC;
	if (pgt_rs_parse_u32(args[0], d->mode == TTL_SET ? 0 : 1, 255,
			&v) != 0)
		return pgt_rs_errorf(err, "--%s: '%s' is not a value %s-255",
			opt, args[0], d->mode == TTL_SET ? "0" : "1");
	d->value = (uint8_t)v;
	return 0;
}

static int
ttl_tg_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct ttl_tg_data *)data)->mode == 0)
		return pgt_rs_errorf(err,
			"TTL needs --ttl-set, --ttl-dec or --ttl-inc");
	return 0;
}

static const char *const ttl_opt_names[] = {
	[TTL_SET] = "ttl-set", [TTL_DEC] = "ttl-dec", [TTL_INC] = "ttl-inc",
};

static void
ttl_tg_print(const void *data, FILE *f)
{
	const struct ttl_tg_data *d = data;

	fprintf(f, " --%s %u", ttl_opt_names[d->mode], d->value);
}

static void
ttl_tg_list(const void *data, FILE *f)
{
	static const char *const words[] = {
		[TTL_SET] = "set to", [TTL_DEC] = "decrement by",
		[TTL_INC] = "increment by",
	};
	const struct ttl_tg_data *d = data;

	fprintf(f, " TTL %s %u", words[d->mode], d->value);
}

static enum pgt_verdict
ttl_tg_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct ttl_tg_data *d = data;
	struct rte_ipv4_hdr *ip = p->ip;
	uint8_t old = ip->time_to_live, ttl;

	if (d->mode == TTL_SET)
		ttl = d->value;
	else if (d->mode == TTL_DEC)
		ttl = old > d->value ? (uint8_t)(old - d->value) : 0;
	else
		ttl = old < 255 - d->value ? (uint8_t)(old + d->value) : 255;
	if (ttl != old) {
		/* TTL is the high byte of its 16-bit checksum word. */
		ip->time_to_live = ttl;
		ip->hdr_checksum = pgt_inet_cksum_update16(ip->hdr_checksum,
			rte_cpu_to_be_16((uint16_t)(old << 8)),
			rte_cpu_to_be_16((uint16_t)(ttl << 8)));
	}
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt ttl_tg_opts[] = {
	{ "ttl-set", 1, false }, { "ttl-dec", 1, false },
	{ "ttl-inc", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops ttl_tg_ops = {
	.name = "TTL", .size = sizeof(struct ttl_tg_data), .opts = ttl_tg_opts,
	.tables = 1u << PGT_TABLE_MANGLE,
	.parse = ttl_tg_parse, .finish = ttl_tg_finish, .print = ttl_tg_print,
	.list = ttl_tg_list, .exec = ttl_tg_exec,
};
PGT_TARGET_REGISTER(ttl_tg_ops);

/*
 * CT --notrack and NOTRACK: exempt a packet from connection tracking. The
 * raw table runs before the conntrack lookup, which then leaves the packet
 * UNTRACKED: no state, no NAT.
 */

struct ct_data {
	bool notrack;
};

static int
ct_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	((struct ct_data *)data)->notrack = true;
	return 0;
}

static int
ct_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct ct_data *)data)->notrack)
		return pgt_rs_errorf(err,
			"CT supports --notrack only (zones, helpers and timeouts are not available)");
	return 0;
}

static void
ct_print(const void *data, FILE *f)
{
	fputs(" --notrack", f);
}

static void
ct_list(const void *data, FILE *f)
{
	fputs(" CT notrack", f);
}

static void
notrack_list(const void *data, FILE *f)
{
	fputs(" NOTRACK", f);
}

static enum pgt_verdict
ct_exec(const void *data, struct pgt_rs_pkt *p)
{
	p->meta->ctinfo = PGT_CT_UNTRACKED;
	p->ctinfo = PGT_CT_UNTRACKED;
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt ct_opts[] = {
	{ "notrack", 0, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops ct_ops = {
	.name = "CT", .size = sizeof(struct ct_data), .opts = ct_opts,
	.tables = 1u << PGT_TABLE_RAW,
	.parse = ct_parse, .finish = ct_finish, .print = ct_print,
	.list = ct_list, .exec = ct_exec,
};
PGT_TARGET_REGISTER(ct_ops);

static struct pgt_target_ops notrack_ops = {
	.name = "NOTRACK", .list_name = "CT", .size = 0,
	.tables = 1u << PGT_TABLE_RAW,
	.list = notrack_list, .exec = ct_exec,
};
PGT_TARGET_REGISTER(notrack_ops);
