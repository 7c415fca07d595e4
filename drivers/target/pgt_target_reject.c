/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j REJECT --reject-with (libipt_REJECT): drop and answer with an ICMP
 * error, which the pipeline builds and rate-limits like its own errors.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "pgt_ruleset.h"

struct reject_data {
	uint8_t with;	/* index in reject_types, or TCP_RESET */
};

#define TCP_RESET 0xff

static const struct {
	const char *name, *alias;
	uint8_t type, code;
} reject_types[] = {
	{ "icmp-port-unreachable", "port-unreach", 3, 3 },
	{ "icmp-net-unreachable", "net-unreach", 3, 0 },
	{ "icmp-host-unreachable", "host-unreach", 3, 1 },
	{ "icmp-proto-unreachable", "proto-unreach", 3, 2 },
	{ "icmp-net-prohibited", "net-prohib", 3, 9 },
	{ "icmp-host-prohibited", "host-prohib", 3, 10 },
	{ "icmp-admin-prohibited", "admin-prohib", 3, 13 },
};

static int
reject_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct reject_data *d = data;
	unsigned int i;

	for (i = 0; i < RTE_DIM(reject_types); i++)
		if (strcmp(args[0], reject_types[i].name) == 0 ||
				strcmp(args[0], reject_types[i].alias) == 0) {
			d->with = (uint8_t)i;
			return 0;
		}
	if (strcmp(args[0], "tcp-reset") == 0 ||
			strcmp(args[0], "tcp-rst") == 0) {
		d->with = TCP_RESET;
		return 0;
	}
	return pgt_rs_errorf(err, "--reject-with: unknown type '%s'", args[0]);
}

static int
reject_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct reject_data *)data)->with == TCP_RESET &&
			proto != IPPROTO_TCP)
		return pgt_rs_errorf(err,
			"--reject-with tcp-reset needs -p tcp");
	return 0;
}

static const char *
reject_name(const struct reject_data *d)
{
	return d->with == TCP_RESET ? "tcp-reset" : reject_types[d->with].name;
}

static void
reject_print(const void *data, FILE *f)
{
	fprintf(f, " --reject-with %s", reject_name(data));
}

static void
reject_list(const void *data, FILE *f)
{
	fprintf(f, " reject-with %s", reject_name(data));
}

static enum pgt_verdict
reject_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct reject_data *d = data;

	p->reject_tcp_reset = d->with == TCP_RESET;
	if (!p->reject_tcp_reset) {
		p->reject_type = reject_types[d->with].type;
		p->reject_code = reject_types[d->with].code;
	}
	return PGT_VERDICT_REJECT;
}

static const struct pgt_rs_opt reject_opts[] = {
	{ "reject-with", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops reject_ops = {
	.name = "REJECT", .size = sizeof(struct reject_data),
	.opts = reject_opts,
	.tables = (1u << PGT_TABLE_FILTER) | (1u << PGT_TABLE_MANGLE) |
		(1u << PGT_TABLE_RAW) | (1u << PGT_TABLE_SECURITY),
	.parse = reject_parse, .finish = reject_finish, .print = reject_print,
	.list = reject_list,
	.exec = reject_exec,
};
PGT_TARGET_REGISTER(reject_ops);
