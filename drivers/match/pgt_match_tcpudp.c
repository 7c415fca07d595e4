/* SPDX-License-Identifier: BSD-3-Clause */
/* -m tcp and -m udp: ports, TCP flags and options (libxt_tcp, libxt_udp). */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_tcp.h>

#include "pgt_ruleset.h"

#define INV_SPORT	0x01
#define INV_DPORT	0x02
#define INV_FLAGS	0x04
#define INV_OPTION	0x08

struct l4_data {
	uint16_t sport[2], dport[2];
	uint8_t flg_mask, flg_cmp;
	uint8_t option;
	uint8_t inv;
	bool has_sport, has_dport, has_flags, has_option;
};

static const struct {
	const char *name;
	uint8_t bit;
} tcp_flags[] = {
	{ "FIN", 0x01 }, { "SYN", 0x02 }, { "RST", 0x04 }, { "PSH", 0x08 },
	{ "ACK", 0x10 }, { "URG", 0x20 }, { "ALL", 0x3f }, { "NONE", 0 },
};

static int
parse_flags(const char *s, uint8_t *out)
{
	char buf[128], *tok, *save;
	unsigned int i;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	*out = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
			tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < RTE_DIM(tcp_flags); i++)
			if (strcasecmp(tok, tcp_flags[i].name) == 0)
				break;
		if (i == RTE_DIM(tcp_flags))
			return -EINVAL;
		*out |= tcp_flags[i].bit;
	}
	return 0;
}

static void
print_flags(FILE *f, uint8_t flags)
{
	const char *sep = "";
	unsigned int i;

	if (flags == 0) {
		fputs("NONE", f);
		return;
	}
	for (i = 0; i < 6; i++)
		if (flags & tcp_flags[i].bit) {
			fprintf(f, "%s%s", sep, tcp_flags[i].name);
			sep = ",";
		}
}

static int
parse_ports(struct l4_data *d, const char *opt, const char *arg, bool inv,
	struct pgt_rs_err *err)
{
	bool src = strcmp(opt, "sport") == 0 ||
		strcmp(opt, "source-port") == 0;
	uint16_t *range = src ? d->sport : d->dport;

	if ((src && d->has_sport) || (!src && d->has_dport))
		return pgt_rs_errorf(err, "--%s given twice", opt);
	if (pgt_rs_parse_port_range(arg, &range[0], &range[1]) != 0)
		return pgt_rs_errorf(err, "--%s: invalid port or range '%s'",
			opt, arg);
	if (src)
		d->has_sport = true;
	else
		d->has_dport = true;
	d->inv |= inv ? (src ? INV_SPORT : INV_DPORT) : 0;
	return 0;
}

static int
tcp_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct l4_data *d = data;
	uint32_t v;

	if (strcmp(opt, "tcp-flags") == 0 || strcmp(opt, "syn") == 0) {
		if (d->has_flags)
			return pgt_rs_errorf(err, "TCP flags given twice");
		if (opt[0] == 's') {
			d->flg_mask = 0x17;	/* FIN,SYN,RST,ACK */
			d->flg_cmp = 0x02;
		} else if (parse_flags(args[0], &d->flg_mask) != 0 ||
				parse_flags(args[1], &d->flg_cmp) != 0) {
			return pgt_rs_errorf(err,
				"--tcp-flags: invalid flags '%s %s' (FIN,SYN,RST,PSH,ACK,URG,ALL,NONE)",
				args[0], args[1]);
		}
		d->has_flags = true;
		d->inv |= inv ? INV_FLAGS : 0;
		return 0;
	}
	if (strcmp(opt, "tcp-option") == 0) {
		if (pgt_rs_parse_u32(args[0], 1, 255, &v) != 0)
			return pgt_rs_errorf(err,
				"--tcp-option: '%s' is not an option kind 1-255",
				args[0]);
		d->option = (uint8_t)v;
		d->has_option = true;
		d->inv |= inv ? INV_OPTION : 0;
		return 0;
	}
	return parse_ports(d, opt, args[0], inv, err);
}

static int
udp_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	return parse_ports(data, opt, args[0], inv, err);
}

static int
tcp_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (proto != IPPROTO_TCP)
		return pgt_rs_errorf(err, "-m tcp needs -p tcp");
	return 0;
}

static int
udp_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (proto != IPPROTO_UDP)
		return pgt_rs_errorf(err, "-m udp needs -p udp");
	return 0;
}

static void
print_ports(const struct l4_data *d, FILE *f)
{
	if (d->has_sport) {
		fprintf(f, "%s --sport ", (d->inv & INV_SPORT) ? " !" : "");
		pgt_rs_print_port_range(f, d->sport[0], d->sport[1]);
	}
	if (d->has_dport) {
		fprintf(f, "%s --dport ", (d->inv & INV_DPORT) ? " !" : "");
		pgt_rs_print_port_range(f, d->dport[0], d->dport[1]);
	}
}

static void
tcp_print(const void *data, FILE *f)
{
	const struct l4_data *d = data;

	print_ports(d, f);
	if (d->has_option)
		fprintf(f, "%s --tcp-option %u",
			(d->inv & INV_OPTION) ? " !" : "", d->option);
	if (d->has_flags) {
		fprintf(f, "%s --tcp-flags ", (d->inv & INV_FLAGS) ? " !" : "");
		print_flags(f, d->flg_mask);
		fputc(' ', f);
		print_flags(f, d->flg_cmp);
	}
}

static inline bool
in_range(uint16_t v, const uint16_t *r)
{
	return v >= r[0] && v <= r[1];
}

static bool
ports_match(const struct l4_data *d, const struct pgt_rs_pkt *p)
{
	if (d->has_sport &&
			in_range(p->sport, d->sport) == !!(d->inv & INV_SPORT))
		return false;
	if (d->has_dport &&
			in_range(p->dport, d->dport) == !!(d->inv & INV_DPORT))
		return false;
	return true;
}

/* Walk the options of a TCP header for kind @p kind. */
static bool
has_tcp_option(const struct rte_tcp_hdr *th, uint16_t avail, uint8_t kind)
{
	const uint8_t *o = (const uint8_t *)(th + 1);
	unsigned int len = ((th->data_off >> 4) * 4u);
	unsigned int i = 0;

	if (len < sizeof(*th) || len > avail)
		return false;
	len -= sizeof(*th);
	while (i < len) {
		if (o[i] == kind)
			return true;
		if (o[i] == 0)
			return false;
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2)
			return false;
		i += o[i + 1];
	}
	return false;
}

static bool
tcp_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct l4_data *d = data;
	const struct rte_tcp_hdr *th;

	/* Linux: a non-first fragment or a truncated header never matches. */
	if (p->l4 == NULL || p->l4_len < sizeof(*th))
		return false;
	th = (const struct rte_tcp_hdr *)p->l4;
	if (!ports_match(d, p))
		return false;
	if (d->has_flags && ((th->tcp_flags & d->flg_mask) == d->flg_cmp) ==
			!!(d->inv & INV_FLAGS))
		return false;
	if (d->has_option && has_tcp_option(th, p->l4_len, d->option) ==
			!!(d->inv & INV_OPTION))
		return false;
	return true;
}

static bool
udp_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	if (p->l4 == NULL || p->l4_len < 8)
		return false;
	return ports_match(data, p);
}

/* A --dport range the packet must be in (not negated). */
static bool
l4_dport_range(const void *data, uint16_t *lo, uint16_t *hi)
{
	const struct l4_data *d = data;

	if (!d->has_dport || (d->inv & INV_DPORT))
		return false;
	*lo = d->dport[0];
	*hi = d->dport[1];
	return true;
}

#define PORT_OPTS \
	{ "sport", 1, true }, { "source-port", 1, true }, \
	{ "dport", 1, true }, { "destination-port", 1, true }

static const struct pgt_rs_opt tcp_opts[] = {
	PORT_OPTS,
	{ "tcp-flags", 2, true }, { "syn", 0, true },
	{ "tcp-option", 1, true },
	{ NULL, 0, false },
};

static const struct pgt_rs_opt udp_opts[] = {
	PORT_OPTS,
	{ NULL, 0, false },
};

/* libxt_tcp's -L form: " tcp spt:1 dpts:2:3 option=2 flags:0x17/0x02". */
static void
list_ports(FILE *f, const char *name, const uint16_t *r, bool inv)
{
	if (r[0] == r[1])
		fprintf(f, " %s:%s%u", name, inv ? "!" : "", r[0]);
	else
		fprintf(f, " %ss:%s%u:%u", name, inv ? "!" : "", r[0], r[1]);
}

static void
list_l4(const struct l4_data *d, FILE *f)
{
	if (d->has_sport)
		list_ports(f, "spt", d->sport, d->inv & INV_SPORT);
	if (d->has_dport)
		list_ports(f, "dpt", d->dport, d->inv & INV_DPORT);
}

static void
tcp_list(const void *data, FILE *f)
{
	const struct l4_data *d = data;

	fputs(" tcp", f);
	list_l4(d, f);
	if (d->has_option)
		fprintf(f, " option=%s%u", (d->inv & INV_OPTION) ? "!" : "",
			d->option);
	if (d->has_flags)
		fprintf(f, " flags:%s0x%02X/0x%02X",
			(d->inv & INV_FLAGS) ? "!" : "", d->flg_mask,
			d->flg_cmp);
}

static void
udp_list(const void *data, FILE *f)
{
	fputs(" udp", f);
	list_l4(data, f);
}

static struct pgt_match_ops tcp_ops = {
	.name = "tcp", .size = sizeof(struct l4_data), .opts = tcp_opts,
	.parse = tcp_parse, .finish = tcp_finish, .print = tcp_print,
	.list = tcp_list,
	.match = tcp_match, .dport_range = l4_dport_range,
};
PGT_MATCH_REGISTER(tcp_ops);

static void
udp_print(const void *data, FILE *f)
{
	print_ports(data, f);
}

static struct pgt_match_ops udp_ops = {
	.name = "udp", .size = sizeof(struct l4_data), .opts = udp_opts,
	.parse = udp_parse, .finish = udp_finish, .print = udp_print,
	.list = udp_list,
	.match = udp_match, .dport_range = l4_dport_range,
};
PGT_MATCH_REGISTER(udp_ops);
