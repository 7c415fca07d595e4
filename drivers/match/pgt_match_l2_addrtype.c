/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m mac --mac-source (libxt_mac) and -m addrtype --src-type/--dst-type
 * (libxt_addrtype), the latter answered by pktgate's own routing table as
 * Linux answers it from the FIB.
 */
#include <errno.h>
#include <string.h>

#include <rte_ether.h>

#include "pgt_inet.h"
#include "pgt_route.h"
#include "pgt_ruleset.h"

/* mac */

struct mac_data {
	struct rte_ether_addr mac;
	bool inv;
};

static int
mac_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct mac_data *d = data;

	if (pgt_inet_parse_mac(args[0], &d->mac) != 0)
		return pgt_rs_errorf(err,
			"--mac-source: '%s' is not a MAC address", args[0]);
	d->inv = inv;
	return 0;
}

static void
mac_print(const void *data, FILE *f)
{
	const struct mac_data *d = data;
	char m[RTE_ETHER_ADDR_FMT_SIZE];

	fprintf(f, "%s --mac-source %s", d->inv ? " !" : "",
		pgt_inet_format_mac(&d->mac, m, sizeof(m)));
}

static void
mac_list(const void *data, FILE *f)
{
	const struct mac_data *d = data;
	char m[RTE_ETHER_ADDR_FMT_SIZE];

	fprintf(f, " MAC %s%s", d->inv ? "! " : "",
		pgt_inet_format_mac(&d->mac, m, sizeof(m)));
}

static bool
mac_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct mac_data *d = data;
	const struct rte_ether_hdr *eth;

	/* Only a received frame still has its Ethernet header in front. */
	if (p->in_port == UINT16_MAX ||
			p->meta->l3_off < sizeof(struct rte_ether_hdr))
		return false;
	eth = (const struct rte_ether_hdr *)((const uint8_t *)p->ip -
		sizeof(*eth));
	return rte_is_same_ether_addr(&eth->src_addr, &d->mac) != d->inv;
}

static int
mac_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	struct rte_ether_addr zero = { { 0 } };

	if (rte_is_same_ether_addr(&((struct mac_data *)data)->mac, &zero))
		return pgt_rs_errorf(err, "-m mac needs --mac-source");
	return 0;
}

static const struct pgt_rs_opt mac_opts[] = {
	{ "mac-source", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops mac_ops = {
	.name = "mac", .size = sizeof(struct mac_data), .opts = mac_opts,
	.parse = mac_parse, .finish = mac_finish, .print = mac_print,
	.list = mac_list, .match = mac_match,
};
PGT_MATCH_REGISTER(mac_ops);

/* addrtype: Linux's route types, in its order (rtnetlink RTN_*). */

enum {
	RT_UNSPEC, RT_UNICAST, RT_LOCAL, RT_BROADCAST, RT_ANYCAST,
	RT_MULTICAST, RT_BLACKHOLE, RT_UNREACHABLE, RT_PROHIBIT, RT_THROW,
	RT_NAT, RT_XRESOLVE, RT_MAX
};

static const char *const rt_names[RT_MAX] = {
	"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST",
	"BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE",
};

struct addrtype_data {
	uint16_t src, dst;	/* bit per type; 0: not given */
	bool inv_src, inv_dst;
};

static int
addrtype_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct addrtype_data *d = data;
	bool src = strcmp(opt, "src-type") == 0;
	char buf[160], *tok, *save;
	uint16_t bits = 0;
	unsigned int i;

	if (strlen(args[0]) >= sizeof(buf))
		goto bad;
	strcpy(buf, args[0]);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < RT_MAX; i++)
			if (strcasecmp(tok, rt_names[i]) == 0)
				break;
		if (i == RT_MAX)
			goto bad;
		bits |= 1u << i;
	}
	if (bits == 0)
		goto bad;
	if (src) {
		d->src = bits;
		d->inv_src = inv;
	} else {
		d->dst = bits;
		d->inv_dst = inv;
	}
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not a list of address types",
		opt, args[0]);
}

static int
addrtype_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	const struct addrtype_data *d = data;

	if (d->src == 0 && d->dst == 0)
		return pgt_rs_errorf(err,
			"-m addrtype needs --src-type or --dst-type");
	return 0;
}

static void
print_types(FILE *f, uint16_t bits)
{
	const char *sep = "";
	unsigned int i;

	for (i = 0; i < RT_MAX; i++)
		if (bits & (1u << i)) {
			fprintf(f, "%s%s", sep, rt_names[i]);
			sep = ",";
		}
}

static void
addrtype_print(const void *data, FILE *f)
{
	const struct addrtype_data *d = data;

	if (d->src != 0) {
		fprintf(f, "%s --src-type ", d->inv_src ? " !" : "");
		print_types(f, d->src);
	}
	if (d->dst != 0) {
		fprintf(f, "%s --dst-type ", d->inv_dst ? " !" : "");
		print_types(f, d->dst);
	}
}

static void
addrtype_list(const void *data, FILE *f)
{
	const struct addrtype_data *d = data;

	fputs(" ADDRTYPE match", f);
	if (d->src != 0) {
		fprintf(f, " src-type %s", d->inv_src ? "!" : "");
		print_types(f, d->src);
	}
	if (d->dst != 0) {
		fprintf(f, " dst-type %s", d->inv_dst ? "!" : "");
		print_types(f, d->dst);
	}
}

/* The type Linux's inet_addr_type() gives @p addr, from our table. */
static unsigned int
addr_type(uint32_t addr)
{
	int nh;

	if (pgt_inet_is_multicast(addr))
		return RT_MULTICAST;
	if (addr == UINT32_MAX)
		return RT_BROADCAST;
	nh = pgt_route_lookup(addr);
	if (nh < 0)
		return RT_UNICAST;
	switch (pgt_route_nexthops[nh].type) {
	case PGT_NH_LOCAL:
		return RT_LOCAL;
	case PGT_NH_BROADCAST:
		return RT_BROADCAST;
	case PGT_NH_BLACKHOLE:
		return RT_BLACKHOLE;
	case PGT_NH_UNREACHABLE:
		return RT_UNREACHABLE;
	case PGT_NH_PROHIBIT:
		return RT_PROHIBIT;
	default:
		return RT_UNICAST;
	}
}

static bool
addrtype_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct addrtype_data *d = data;
	bool hit;

	if (d->src != 0) {
		hit = (d->src >> addr_type(p->src)) & 1;
		if (hit == d->inv_src)
			return false;
	}
	if (d->dst != 0) {
		hit = (d->dst >> addr_type(p->dst)) & 1;
		if (hit == d->inv_dst)
			return false;
	}
	return true;
}

static const struct pgt_rs_opt addrtype_opts[] = {
	{ "src-type", 1, true }, { "dst-type", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops addrtype_ops = {
	.name = "addrtype", .size = sizeof(struct addrtype_data),
	.opts = addrtype_opts, .parse = addrtype_parse,
	.finish = addrtype_finish, .print = addrtype_print,
	.list = addrtype_list, .match = addrtype_match,
};
PGT_MATCH_REGISTER(addrtype_ops);
