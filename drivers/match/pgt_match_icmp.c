/* SPDX-License-Identifier: BSD-3-Clause */
/* -m icmp --icmp-type (libipt_icmp): by name or type[/code]. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>

#include "pgt_ruleset.h"

struct icmp_data {
	uint8_t type;
	uint8_t code[2];
	bool any;	/* "any": every type */
	bool inv;
};

static const struct {
	const char *name;
	uint8_t type, code_lo, code_hi;
} icmp_names[] = {
	{ "any", 0xff, 0, 0xff },
	{ "echo-reply", 0, 0, 0xff },
	{ "destination-unreachable", 3, 0, 0xff },
	{ "network-unreachable", 3, 0, 0 },
	{ "host-unreachable", 3, 1, 1 },
	{ "protocol-unreachable", 3, 2, 2 },
	{ "port-unreachable", 3, 3, 3 },
	{ "fragmentation-needed", 3, 4, 4 },
	{ "source-route-failed", 3, 5, 5 },
	{ "network-unknown", 3, 6, 6 },
	{ "host-unknown", 3, 7, 7 },
	{ "network-prohibited", 3, 9, 9 },
	{ "host-prohibited", 3, 10, 10 },
	{ "communication-prohibited", 3, 13, 13 },
	{ "source-quench", 4, 0, 0xff },
	{ "redirect", 5, 0, 0xff },
	{ "echo-request", 8, 0, 0xff },
	{ "router-advertisement", 9, 0, 0xff },
	{ "router-solicitation", 10, 0, 0xff },
	{ "time-exceeded", 11, 0, 0xff },
	{ "ttl-zero-during-transit", 11, 0, 0 },
	{ "ttl-zero-during-reassembly", 11, 1, 1 },
	{ "parameter-problem", 12, 0, 0xff },
	{ "timestamp-request", 13, 0, 0xff },
	{ "timestamp-reply", 14, 0, 0xff },
	{ "address-mask-request", 17, 0, 0xff },
	{ "address-mask-reply", 18, 0, 0xff },
};

static int
icmp_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct icmp_data *d = data;
	const char *s = args[0];
	unsigned int i, type, code;
	char extra;
	int n;

	d->inv = inv;
	for (i = 0; i < RTE_DIM(icmp_names); i++)
		if (strcmp(icmp_names[i].name, s) == 0) {
			d->type = icmp_names[i].type;
			d->code[0] = icmp_names[i].code_lo;
			d->code[1] = icmp_names[i].code_hi;
			d->any = i == 0;
			return 0;
		}
	n = sscanf(s, "%u/%u%c", &type, &code, &extra);
	if (n == 1 && strchr(s, '/') == NULL && type <= 255) {
		d->type = (uint8_t)type;
		d->code[0] = 0;
		d->code[1] = 0xff;
		return 0;
	}
	if (n == 2 && type <= 255 && code <= 255) {
		d->type = (uint8_t)type;
		d->code[0] = d->code[1] = (uint8_t)code;
		return 0;
	}
	return pgt_rs_errorf(err,
		"--icmp-type: '%s' is not an ICMP type name or type[/code]", s);
}

static int
icmp_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (proto != IPPROTO_ICMP)
		return pgt_rs_errorf(err, "-m icmp needs -p icmp");
	return 0;
}

static void
icmp_print(const void *data, FILE *f)
{
	const struct icmp_data *d = data;

	if (d->any) {
		fprintf(f, "%s --icmp-type any", d->inv ? " !" : "");
		return;
	}
	fprintf(f, "%s --icmp-type %u", d->inv ? " !" : "", d->type);
	if (d->code[0] == d->code[1])
		fprintf(f, "/%u", d->code[0]);
}

static void
icmp_list(const void *data, FILE *f)
{
	const struct icmp_data *d = data;

	fprintf(f, " icmp%stype %u", d->inv ? " !" : "", d->type);
	if (d->code[0] == d->code[1])
		fprintf(f, " code %u", d->code[0]);
	else if (d->code[0] != 0 || d->code[1] != 0xff)
		fprintf(f, " codes %u-%u", d->code[0], d->code[1]);
}

static bool
icmp_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct icmp_data *d = data;
	bool hit;

	if (p->l4 == NULL || p->l4_len < 2)
		return false;
	hit = d->any || (p->l4[0] == d->type && p->l4[1] >= d->code[0] &&
		p->l4[1] <= d->code[1]);
	return hit != d->inv;
}

static const struct pgt_rs_opt icmp_opts[] = {
	{ "icmp-type", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops icmp_ops = {
	.name = "icmp", .size = sizeof(struct icmp_data), .opts = icmp_opts,
	.parse = icmp_parse, .finish = icmp_finish, .print = icmp_print,
	.list = icmp_list,
	.match = icmp_match,
};
PGT_MATCH_REGISTER(icmp_ops);
