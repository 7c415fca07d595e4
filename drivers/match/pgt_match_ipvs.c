/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m ipvs (libxt_ipvs): [!] --ipvs, [!] --vproto, [!] --vaddr, [!] --vport.
 *
 * It matches packets of IPVS connections. Until pktgate's virtual services
 * exist no packet belongs to one, and the match answers as Linux's xt_ipvs
 * does for such a packet: `--ipvs` alone is false (true when negated); with
 * any other option the answer is false, negated or not.
 */
#include <errno.h>
#include <string.h>

#include "pgt_inet.h"
#include "pgt_ruleset.h"

#define F_IPVS	0x1
#define F_PROTO	0x2
#define F_VADDR	0x4
#define F_VPORT	0x8

struct ipvs_data {
	uint8_t flags, inv;
	uint8_t proto;
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
			"-m ipvs needs --ipvs, --vproto, --vaddr or --vport");
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

static bool
ipvs_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct ipvs_data *d = data;

	/* No packet belongs to an IPVS connection yet. */
	if (d->flags == F_IPVS)
		return (d->inv & F_IPVS) != 0;
	return false;
}

static const struct pgt_rs_opt ipvs_opts[] = {
	{ "ipvs", 0, true }, { "vproto", 1, true }, { "vaddr", 1, true },
	{ "vport", 1, true },
	{ NULL, 0, false },
};

static struct pgt_match_ops ipvs_ops = {
	.name = "ipvs", .size = sizeof(struct ipvs_data), .opts = ipvs_opts,
	.parse = ipvs_parse, .finish = ipvs_finish, .print = ipvs_print,
	.list = ipvs_list, .match = ipvs_match,
};
PGT_MATCH_REGISTER(ipvs_ops);
