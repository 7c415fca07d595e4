/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m ipvs (libxt_ipvs): [!] --ipvs, [!] --vproto, [!] --vaddr, [!] --vport,
 * [!] --vdir ORIGINAL|REPLY, [!] --vmethod GATE|IPIP|MASQ.
 *
 * It matches packets of virtual service connections (lib/ipvs), as Linux's
 * xt_ipvs: --ipvs alone says whether the packet is one's; any other option
 * is false for a packet that is not, negated or not (xt_ipvs only looks at
 * the connection of an IPVS packet). Kubernetes' IPVS mode relies on it:
 * -t nat -A POSTROUTING -m ipvs --vaddr VIP --vport P -j MASQUERADE.
 * A full-NAT connection has no --vmethod of Linux's: it matches none.
 */
#include <errno.h>
#include <string.h>

#include "pgt_inet.h"
#include "pgt_ipvs.h"
#include "pgt_ruleset.h"

#define F_IPVS	0x1
#define F_PROTO	0x2
#define F_VADDR	0x4
#define F_VPORT	0x8
#define F_VDIR	0x10
#define F_VMETHOD 0x20

static const char *const method_names[] = {
	[PGT_IPVS_MASQ] = "MASQ", [PGT_IPVS_ROUTE] = "GATE",
	[PGT_IPVS_TUNNEL] = "IPIP",
};

struct ipvs_data {
	uint8_t flags, inv;
	uint8_t proto;
	uint8_t dir;		/* enum pgt_ct_dir */
	uint8_t method;		/* enum pgt_ipvs_method */
	uint16_t vport;
	uint32_t vaddr, vmask;
};

static int
ipvs_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct ipvs_data *d = data;
	char buf[40], *slash;
	uint32_t v;
	uint8_t f;

	if (strcmp(opt, "ipvs") == 0) {
		f = F_IPVS;
	} else if (strcmp(opt, "vproto") == 0) {
		f = F_PROTO;
		if (pgt_rs_parse_u32(args[0], 0, 255, &v) == 0)
			d->proto = (uint8_t)v;
		else if (strcmp(args[0], "tcp") == 0)
			d->proto = IPPROTO_TCP;
		else if (strcmp(args[0], "udp") == 0)
			d->proto = IPPROTO_UDP;
		else
			return pgt_rs_errorf(err,
				"--vproto: '%s' is not a protocol", args[0]);
	} else if (strcmp(opt, "vaddr") == 0) {
		f = F_VADDR;
		if (strlen(args[0]) >= sizeof(buf))
			goto bad_addr;
		strcpy(buf, args[0]);
		slash = strchr(buf, '/');
		if (slash != NULL)
			*slash = '\0';
		if (pgt_inet_parse_addr(buf, &d->vaddr) != 0)
			goto bad_addr;
		d->vmask = UINT32_MAX;
		if (slash != NULL) {
			if (pgt_rs_parse_u32(slash + 1, 0, 32, &v) != 0)
				goto bad_addr;
			d->vmask = pgt_inet_mask((uint8_t)v);
		}
		d->vaddr &= d->vmask;
	} else if (strcmp(opt, "vdir") == 0) {
		f = F_VDIR;
		if (strcmp(args[0], "ORIGINAL") == 0)
			d->dir = PGT_CT_DIR_ORIGINAL;
		else if (strcmp(args[0], "REPLY") == 0)
			d->dir = PGT_CT_DIR_REPLY;
		else
			return pgt_rs_errorf(err,
				"--vdir: '%s' is not ORIGINAL or REPLY", args[0]);
	} else if (strcmp(opt, "vmethod") == 0) {
		f = F_VMETHOD;
		for (v = 0; v < RTE_DIM(method_names); v++)
			if (strcmp(args[0], method_names[v]) == 0)
				break;
		if (v == RTE_DIM(method_names))
			return pgt_rs_errorf(err,
				"--vmethod: '%s' is not GATE, IPIP or MASQ",
				args[0]);
		d->method = (uint8_t)v;
	} else {
		f = F_VPORT;
		if (pgt_rs_parse_port(args[0], &d->vport) != 0)
			return pgt_rs_errorf(err, "--vport: '%s' is not a port",
				args[0]);
	}
	d->flags |= f;
	d->inv |= inv ? f : 0;
	return 0;
bad_addr:
	return pgt_rs_errorf(err, "--vaddr: '%s' is not address[/len]",
		args[0]);
}

static int
ipvs_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (((struct ipvs_data *)data)->flags == 0)
		return pgt_rs_errorf(err,
			"-m ipvs needs --ipvs, --vproto, --vaddr, --vport, --vdir or --vmethod");
	return 0;
}

static void
dump(const struct ipvs_data *d, FILE *f, const char *pre)
{
	char a[PGT_INET_ADDRSTRLEN];

	if (d->flags & F_IPVS)
		fprintf(f, "%s %sipvs", (d->inv & F_IPVS) ? " !" : "", pre);
	if (d->flags & F_PROTO)
		fprintf(f, "%s %svproto %u", (d->inv & F_PROTO) ? " !" : "",
			pre, d->proto);
	if (d->flags & F_VADDR)
		fprintf(f, "%s %svaddr %s/%u", (d->inv & F_VADDR) ? " !" : "",
			pre, pgt_inet_format_addr(d->vaddr, a, sizeof(a)),
			(unsigned int)__builtin_popcount(d->vmask));
	if (d->flags & F_VPORT)
		fprintf(f, "%s %svport %u", (d->inv & F_VPORT) ? " !" : "",
			pre, d->vport);
	if (d->flags & F_VDIR)
		fprintf(f, "%s %svdir %s", (d->inv & F_VDIR) ? " !" : "",
			pre, d->dir == PGT_CT_DIR_ORIGINAL ? "ORIGINAL" :
			"REPLY");
	if (d->flags & F_VMETHOD)
		fprintf(f, "%s %svmethod %s", (d->inv & F_VMETHOD) ? " !" : "",
			pre, method_names[d->method]);
}

static void
ipvs_print(const void *data, FILE *f)
{
	dump(data, f, "--");
}

static void
ipvs_list(const void *data, FILE *f)
{
	dump(data, f, "");
}

/* Does test @p f of @p d hold (before its "!")? */
static inline bool
holds(const struct ipvs_data *d, uint8_t f, bool v)
{
	return !(d->flags & f) || (v ^ ((d->inv & f) != 0));
}

static bool
ipvs_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ipvs_data *d = data;
	const struct pgt_ct_conn *c = p->ct;
	bool is_ipvs = c != NULL && (c->status & PGT_CT_S_IPVS) &&
		p->ctinfo <= PGT_CT_RELATED_REPLY;

	RTE_SET_USED(state);
	if (!holds(d, F_IPVS, is_ipvs))
		return false;
	if (d->flags == F_IPVS)
		return true;
	if (!is_ipvs)
		return false;
	return holds(d, F_PROTO, p->meta->proto == d->proto) &&
		holds(d, F_VADDR, (c->tuple[PGT_CT_DIR_ORIGINAL].dst &
			d->vmask) == d->vaddr) &&
		holds(d, F_VPORT,
			c->tuple[PGT_CT_DIR_ORIGINAL].dport == d->vport) &&
		holds(d, F_VDIR, pgt_ct_info_dir(p->ctinfo) == d->dir) &&
		holds(d, F_VMETHOD, c->ipvs_method == d->method);
}

static const struct pgt_rs_opt ipvs_opts[] = {
	{ "ipvs", 0, true }, { "vproto", 1, true }, { "vaddr", 1, true },
	{ "vport", 1, true }, { "vdir", 1, true }, { "vmethod", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops ipvs_ops = {
	.name = "ipvs", .size = sizeof(struct ipvs_data), .opts = ipvs_opts,
	.parse = ipvs_parse, .finish = ipvs_finish, .print = ipvs_print,
	.list = ipvs_list, .match = ipvs_match, .conntrack = true,
};
PGT_MATCH_REGISTER(ipvs_ops);
