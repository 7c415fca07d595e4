/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DNAT, SNAT, MASQUERADE, REDIRECT (libxt_DNAT, libxt_SNAT,
 * libxt_MASQUERADE, libxt_REDIRECT). The nat table runs for a connection's
 * first packet only: these targets bind the connection (pgt_ct_nat_setup)
 * and conntrack translates every packet of it from then on, both ways.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pgt_conntrack.h"
#include "pgt_inet.h"
#include "pgt_port.h"
#include "pgt_ruleset.h"

#define H(x) (1u << PGT_HOOK_##x)

struct nat_data {
	uint32_t addr[2];
	uint16_t port[2];
	bool has_addr, has_port, has_to;
	bool random, random_fully, persistent;
};

static bool
ports_allowed(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
		proto == 132 || proto == 33;	/* SCTP, DCCP */
}

/* "[a[-b]][:p[-q]]" (addresses) or "p[-q]" (ports only). */
static int
parse_range(struct nat_data *d, const char *s, bool with_addr)
{
	char buf[64], *colon = NULL, *ports = buf, *dash;
	uint32_t lo, hi;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (with_addr) {
		colon = strchr(buf, ':');
		if (colon != NULL)
			*colon = '\0';
		if (buf[0] != '\0') {
			dash = strchr(buf, '-');
			if (dash != NULL)
				*dash = '\0';
			if (pgt_inet_parse_addr(buf, &d->addr[0]) != 0)
				return -EINVAL;
			d->addr[1] = d->addr[0];
			if (dash != NULL &&
					pgt_inet_parse_addr(dash + 1, &d->addr[1]) != 0)
				return -EINVAL;
			if (d->addr[0] > d->addr[1])
				return -EINVAL;
			d->has_addr = true;
		}
		if (colon == NULL)
			return d->has_addr ? 0 : -EINVAL;
		ports = colon + 1;
	}
	dash = strchr(ports, '-');
	if (dash != NULL)
		*dash = '\0';
	if (pgt_rs_parse_u32(ports, 1, 65535, &lo) != 0)
		return -EINVAL;
	hi = lo;
	if (dash != NULL && pgt_rs_parse_u32(dash + 1, 1, 65535, &hi) != 0)
		return -EINVAL;
	if (lo > hi)
		return -EINVAL;
	d->port[0] = (uint16_t)lo;
	d->port[1] = (uint16_t)hi;
	d->has_port = true;
	return 0;
}

static int
nat_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct nat_data *d = data;
	bool with_addr = strcmp(opt, "to-ports") != 0;

	if (strcmp(opt, "random") == 0) {
		d->random = true;
		return 0;
	}
	if (strcmp(opt, "random-fully") == 0) {
		d->random_fully = true;
		return 0;
	}
	if (strcmp(opt, "persistent") == 0) {
		d->persistent = true;
		return 0;
	}
	if (d->has_to)
		return pgt_rs_errorf(err, "--%s given twice", opt);
	if (parse_range(d, args[0], with_addr) != 0)
		return pgt_rs_errorf(err, with_addr ?
			"--%s: '%s' is not [address[-address]][:port[-port]]" :
			"--%s: '%s' is not port[-port]", opt, args[0]);
	d->has_to = true;
	return 0;
}

static int
check_ports(const struct nat_data *d, uint8_t proto, struct pgt_rs_err *err)
{
	if (d->has_port && !ports_allowed(proto))
		return pgt_rs_errorf(err,
			"a port needs -p tcp, udp, sctp or dccp");
	return 0;
}

static int
dnat_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct nat_data *)data)->has_to)
		return pgt_rs_errorf(err, "DNAT needs --to-destination");
	return check_ports(data, proto, err);
}

static int
snat_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct nat_data *)data)->has_to)
		return pgt_rs_errorf(err, "SNAT needs --to-source");
	return check_ports(data, proto, err);
}

static int
ports_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	return check_ports(data, proto, err);
}

static void
print_range(const struct nat_data *d, FILE *f)
{
	char a[PGT_INET_ADDRSTRLEN];

	if (d->has_addr) {
		fputs(pgt_inet_format_addr(d->addr[0], a, sizeof(a)), f);
		if (d->addr[1] != d->addr[0])
			fprintf(f, "-%s",
				pgt_inet_format_addr(d->addr[1], a, sizeof(a)));
	}
	if (d->has_port) {
		if (d->has_addr)
			fputc(':', f);
		fprintf(f, "%u", d->port[0]);
		if (d->port[1] != d->port[0])
			fprintf(f, "-%u", d->port[1]);
	}
}

static void
print_flags(const struct nat_data *d, FILE *f, const char *pre)
{
	if (d->random)
		fprintf(f, " %srandom", pre);
	if (d->random_fully)
		fprintf(f, " %srandom-fully", pre);
	if (d->persistent)
		fprintf(f, " %spersistent", pre);
}

static void
dnat_print(const void *data, FILE *f)
{
	fputs(" --to-destination ", f);
	print_range(data, f);
	print_flags(data, f, "--");
}

static void
snat_print(const void *data, FILE *f)
{
	fputs(" --to-source ", f);
	print_range(data, f);
	print_flags(data, f, "--");
}

static void
ports_print(const void *data, FILE *f)
{
	const struct nat_data *d = data;

	if (d->has_port) {
		fputs(" --to-ports ", f);
		print_range(d, f);
	}
	print_flags(d, f, "--");
}

static void
to_list(const void *data, FILE *f)
{
	fputs(" to:", f);
	print_range(data, f);
	print_flags(data, f, "");
}

static void
masq_list(const void *data, FILE *f)
{
	const struct nat_data *d = data;

	if (d->has_port) {
		fputs(" masq ports: ", f);
		print_range(d, f);
	}
	print_flags(d, f, "");
}

static void
redir_list(const void *data, FILE *f)
{
	const struct nat_data *d = data;

	if (d->has_port) {
		fputs(" redir ports ", f);
		print_range(d, f);
	}
	print_flags(d, f, "");
}

/* Execution (worker context) */

/* Bind the connection to @p r: ACCEPT ends the nat table for it; no free
 * port drops the packet (the client retries, maybe with another port). */
static enum pgt_verdict
nat_bind(struct pgt_rs_pkt *p, const struct pgt_nat_range *r)
{
	if (pgt_ct_nat_setup(p->worker, p->m, pgt_hook_manip(p->hook), r) ==
			-ENOSPC) {
		p->nat_failed = true;
		return PGT_VERDICT_DROP;
	}
	return PGT_VERDICT_ACCEPT;
}

static void
range_of(const struct nat_data *d, struct pgt_nat_range *r)
{
	*r = (struct pgt_nat_range){ .min_addr = d->addr[0],
		.max_addr = d->addr[1], .min_port = d->port[0],
		.max_port = d->port[1] };
	if (d->has_addr)
		r->flags |= PGT_NAT_F_MAP_IPS;
	if (d->has_port)
		r->flags |= PGT_NAT_F_PROTO;
	if (d->random)
		r->flags |= PGT_NAT_F_RANDOM;
	if (d->random_fully)
		r->flags |= PGT_NAT_F_RANDOM_FULLY;
	if (d->persistent)
		r->flags |= PGT_NAT_F_PERSISTENT;
}

static enum pgt_verdict
to_exec(const void *data, struct pgt_rs_pkt *p)
{
	struct pgt_nat_range r;

	range_of(data, &r);
	return nat_bind(p, &r);
}

/*
 * MASQUERADE: SNAT to the address the output port would use towards the
 * destination, chosen now (a port's addresses may change later; the
 * connection keeps the one it started with, as on Linux).
 */
static enum pgt_verdict
masq_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	struct pgt_nat_range r;
	uint32_t src;

	if (p->out_port == PGT_PORT_NONE || pgt_port_select_src(
			&v->port[p->out_port], p->dst, &src) != 0)
		return PGT_VERDICT_DROP;
	range_of(data, &r);
	r.min_addr = r.max_addr = src;
	r.flags |= PGT_NAT_F_MAP_IPS;
	return nat_bind(p, &r);
}

/*
 * REDIRECT: DNAT to the box itself, the first address of the arrival port
 * (PREROUTING); for the host's own packets (OUTPUT), which pktgate has no
 * loopback for, the address of the port they would leave by. The host
 * interface then delivers them to the listening program.
 */
static enum pgt_verdict
redir_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	uint16_t port = p->hook == PGT_HOOK_PREROUTING ? p->in_port :
		p->out_port;
	struct pgt_nat_range r;
	uint32_t addr;

	if (port == PGT_PORT_NONE || v->port[port].nb_addrs == 0)
		return PGT_VERDICT_DROP;
	if (p->hook == PGT_HOOK_PREROUTING)
		addr = v->port[port].addrs[0].addr;
	else if (pgt_port_select_src(&v->port[port], p->dst, &addr) != 0)
		return PGT_VERDICT_DROP;
	range_of(data, &r);
	r.min_addr = r.max_addr = addr;
	r.flags |= PGT_NAT_F_MAP_IPS;
	return nat_bind(p, &r);
}

static const struct pgt_rs_opt dnat_opts[] = {
	{ "to-destination", 1, false }, { "random", 0, false },
	{ "persistent", 0, false },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt snat_opts[] = {
	{ "to-source", 1, false }, { "random", 0, false },
	{ "random-fully", 0, false }, { "persistent", 0, false },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt masq_opts[] = {
	{ "to-ports", 1, false }, { "random", 0, false },
	{ "random-fully", 0, false },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt redir_opts[] = {
	{ "to-ports", 1, false }, { "random", 0, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops dnat_ops = {
	.name = "DNAT", .size = sizeof(struct nat_data), .opts = dnat_opts,
	.tables = 1u << PGT_TABLE_NAT, .hooks = H(PREROUTING) | H(OUTPUT),
	.parse = nat_parse, .finish = dnat_finish, .print = dnat_print,
	.exec = to_exec, .conntrack = true,
	.list = to_list,
};
PGT_TARGET_REGISTER(dnat_ops);

static struct pgt_target_ops snat_ops = {
	.name = "SNAT", .size = sizeof(struct nat_data), .opts = snat_opts,
	.tables = 1u << PGT_TABLE_NAT, .hooks = H(POSTROUTING) | H(INPUT),
	.parse = nat_parse, .finish = snat_finish, .print = snat_print,
	.exec = to_exec, .conntrack = true,
	.list = to_list,
};
PGT_TARGET_REGISTER(snat_ops);

static struct pgt_target_ops masq_ops = {
	.name = "MASQUERADE", .size = sizeof(struct nat_data),
	.opts = masq_opts,
	.tables = 1u << PGT_TABLE_NAT, .hooks = H(POSTROUTING),
	.parse = nat_parse, .finish = ports_finish, .print = ports_print,
	.list = masq_list, .exec = masq_exec, .conntrack = true,
};
PGT_TARGET_REGISTER(masq_ops);

static struct pgt_target_ops redir_ops = {
	.name = "REDIRECT", .size = sizeof(struct nat_data),
	.opts = redir_opts,
	.tables = 1u << PGT_TABLE_NAT, .hooks = H(PREROUTING) | H(OUTPUT),
	.parse = nat_parse, .finish = ports_finish, .print = ports_print,
	.list = redir_list, .exec = redir_exec, .conntrack = true,
};
PGT_TARGET_REGISTER(redir_ops);
